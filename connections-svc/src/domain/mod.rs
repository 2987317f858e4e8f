//! The connections domain: validation, who may do what, sealing and opening secrets, connection
//! tests and OAuth2 code exchange. Secrets enter as [`SecretString`], are sealed here before
//! they reach the store, and are opened only to connect or to refresh a token: no value this
//! module returns carries one (CR-7, CR-8).
//!
//! Access: a shared connection is read by every member of its organization, created by
//! developers and admins, and changed, tested or deleted by its owner or an organization admin.
//! Personal credentials are their owner's alone. A connection the caller may not read answers
//! NOT_FOUND, exactly like one that does not exist (AC-8).

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use chrono::{DateTime, Timelike, Utc};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use crate::{
    directory::{Caller, Directory, Membership},
    envelope::{Binding, Keyring},
    error::{Error, Result, denied},
    oauth::{OAuthClient, OAuthError, Tokens},
    probe::{self, EgressPolicy, Engine, Outcome},
    store::{BoundSecret, ConnectionRecord, ConnectionsStore, SecretRecord},
};

/// Shared by an organization, or a user's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Shared,
    Personal,
}

impl Kind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Shared => "shared",
            Kind::Personal => "personal",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        match s {
            "shared" => Ok(Kind::Shared),
            "personal" => Ok(Kind::Personal),
            _ => Err(Error::Internal(anyhow::anyhow!("stored kind {s:?}"))),
        }
    }
}

/// Warehouse types of personal credentials (Lightdash's `WarehouseTypes`).
pub const WAREHOUSE_TYPES: [&str; 6] = [
    "bigquery",
    "databricks",
    "postgres",
    "redshift",
    "snowflake",
    "trino",
];

/// Secret fields a caller may send. `access_token` and `refresh_token` come only from an
/// OAuth2 exchange.
pub const SECRET_FIELDS: [&str; 7] = [
    "password",
    "keyfile_contents",
    "personal_access_token",
    "private_key",
    "private_key_pass",
    "client_secret",
    "token",
];
const ACCESS_TOKEN: &str = "access_token";
const REFRESH_TOKEN: &str = "refresh_token";

/// Largest secret accepted (a BigQuery key file is a few KiB).
pub const MAX_SECRET_BYTES: usize = 64 * 1024;
/// Longest a cache may last: a year, in seconds.
pub const MAX_CACHE_SECONDS: i64 = 365 * 24 * 3600;
/// Longest metadata-sync interval: a year, in hours.
pub const MAX_SYNC_INTERVAL_HOURS: i64 = 365 * 24;
const MAX_MAP_ENTRIES: usize = 50;

/// How many connections one may hold.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Shared connections per organization.
    pub shared_per_organization: i64,
    /// Personal credentials per user.
    pub personal_per_user: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            shared_per_organization: 1000,
            personal_per_user: 100,
        }
    }
}

/// Fields of a create or an update; `None` keeps (update) or defaults (create).
#[derive(Debug, Default, Clone)]
pub struct Fields {
    pub provider: Option<String>,
    pub name: Option<String>,
    pub description: Option<BTreeMap<String, String>>,
    pub host: Option<String>,
    pub port: Option<String>,
    pub identifier: Option<String>,
    pub scope: Option<String>,
    pub expiry: Option<DateTime<Utc>>,
    pub clear_expiry: bool,
    pub active: Option<bool>,
    pub cache: Option<i64>,
    pub datasets_meta_sync_enabled: Option<bool>,
    pub datasets_meta_sync_interval: Option<i64>,
    pub date: Option<DateTime<Utc>>,
    pub options: Option<BTreeMap<String, String>>,
    /// Write-only; Debug shows `[REDACTED]` (CR-8).
    pub secrets: BTreeMap<String, SecretString>,
}

/// A connection as callers see it: no secret values, only which secrets are stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionView {
    pub record: ConnectionRecord,
    pub kind: Kind,
    pub description: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
    pub secret_fields: Vec<String>,
}

/// The result of a connection test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestStatus {
    Connected,
    AuthenticationFailed,
    Refused,
    Failed,
    TimedOut,
    Unsupported,
}

/// A test's status, its sanitized message and the connection afterwards.
#[derive(Debug, Clone)]
pub struct TestReport {
    pub status: TestStatus,
    pub message: String,
    pub connection: ConnectionView,
}

/// What a re-wrap did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RewrapReport {
    /// Secrets moved to the newest key version.
    pub moved: u64,
    /// Secrets that could not be opened (unknown or retired key, tampering): left as they are.
    pub failed: u64,
}

/// How connection tests behave.
#[derive(Debug, Clone, Copy)]
pub struct TestSettings {
    pub egress: EgressPolicy,
    pub timeout: Duration,
}

/// The connections domain.
#[derive(Debug)]
pub struct Connections {
    store: Arc<dyn ConnectionsStore>,
    directory: Arc<dyn Directory>,
    keyring: Arc<Keyring>,
    oauth: OAuthClient,
    tests: TestSettings,
    limits: Limits,
}

/// The current time at the store's precision (microseconds), so that a time read back compares
/// equal to the one written.
fn now() -> DateTime<Utc> {
    let n = Utc::now();
    n.with_nanosecond(n.nanosecond() / 1000 * 1000).unwrap_or(n)
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::InvalidArgument(msg.into())
}

fn not_found() -> Error {
    Error::NotFound("Connection not found")
}

fn text(field: &str, value: String, max: usize, required: bool) -> Result<String> {
    let v = value.trim().to_owned();
    if required && v.is_empty() {
        return Err(invalid(format!("{field} must not be empty")));
    }
    if v.chars().count() > max {
        return Err(invalid(format!("{field} is longer than {max} characters")));
    }
    if v.chars().any(char::is_control) {
        return Err(invalid(format!(
            "{field} must not contain control characters"
        )));
    }
    Ok(v)
}

fn provider(value: String, kind: Kind) -> Result<String> {
    let p = value.trim().to_ascii_lowercase();
    let ok = !p.is_empty()
        && p.len() <= 64
        && p.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if !ok {
        return Err(invalid(
            "provider must be a slug of 1 to 64 letters, digits, '-' or '_'",
        ));
    }
    if kind == Kind::Personal && !WAREHOUSE_TYPES.contains(&p.as_str()) {
        return Err(invalid(format!(
            "personal credentials must be one of the warehouse types: {}",
            WAREHOUSE_TYPES.join(", ")
        )));
    }
    Ok(p)
}

fn port(value: String) -> Result<String> {
    let p = value.trim().to_owned();
    if p.is_empty() {
        return Ok(p);
    }
    match p.parse::<u16>() {
        Ok(n) if n > 0 && p.bytes().all(|b| b.is_ascii_digit()) => Ok(n.to_string()),
        _ => Err(invalid("port must be a number from 1 to 65535")),
    }
}

fn language_code(code: &str) -> bool {
    // BCP 47 in the simple forms used for descriptions: "en", "fr", "pt-BR", "zh-Hant".
    let mut parts = code.split('-');
    let primary = parts.next().unwrap_or_default();
    (2..=3).contains(&primary.len())
        && primary.bytes().all(|b| b.is_ascii_lowercase())
        && parts.all(|p| (2..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

fn description(map: BTreeMap<String, String>) -> Result<BTreeMap<String, String>> {
    if map.len() > MAX_MAP_ENTRIES {
        return Err(invalid(format!(
            "description has more than {MAX_MAP_ENTRIES} languages"
        )));
    }
    map.into_iter()
        .map(|(k, v)| {
            if !language_code(&k) {
                return Err(invalid(format!(
                    "description key {k:?} is not a language code such as \"en\" or \"pt-BR\""
                )));
            }
            let v = text(&format!("description.{k}"), v, 2000, false)?;
            Ok((k, v))
        })
        .collect()
}

fn looks_secret(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["password", "secret", "token", "key", "credential", "cert"]
        .iter()
        .any(|w| k.contains(w))
}

fn options(map: BTreeMap<String, String>) -> Result<BTreeMap<String, String>> {
    if map.len() > MAX_MAP_ENTRIES {
        return Err(invalid(format!(
            "options has more than {MAX_MAP_ENTRIES} entries"
        )));
    }
    map.into_iter()
        .map(|(k, v)| {
            let ok = !k.is_empty()
                && k.len() <= 64
                && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !ok {
                return Err(invalid(format!(
                    "option name {k:?} must be 1 to 64 letters, digits or '_'"
                )));
            }
            if looks_secret(&k) {
                return Err(invalid(format!(
                    "option {k:?} looks like a secret: send it among the secrets, which are never returned"
                )));
            }
            let v = text(&format!("options.{k}"), v, 1000, false)?;
            if k == "sslmode" && probe::Tls::parse(&v).is_none() {
                return Err(invalid(format!(
                    "options.sslmode must be one of {} (tests connect to the checked address, so \
                     the certificate's name cannot be verified)",
                    probe::Tls::NAMES.join(", ")
                )));
            }
            Ok((k, v))
        })
        .collect()
}

fn secrets(map: &BTreeMap<String, SecretString>) -> Result<()> {
    for (field, value) in map {
        if field == ACCESS_TOKEN || field == REFRESH_TOKEN {
            return Err(invalid(format!(
                "secret {field:?} is set by the OAuth2 exchange: send `code` instead"
            )));
        }
        if !SECRET_FIELDS.contains(&field.as_str()) {
            return Err(invalid(format!(
                "unknown secret field {field:?}; expected one of {}",
                SECRET_FIELDS.join(", ")
            )));
        }
        let v = value.expose_secret();
        if v.is_empty() {
            return Err(invalid(format!("secret {field:?} must not be empty")));
        }
        if v.len() > MAX_SECRET_BYTES {
            return Err(invalid(format!(
                "secret {field:?} is larger than {MAX_SECRET_BYTES} bytes"
            )));
        }
    }
    Ok(())
}

fn cache(v: i64) -> Result<i64> {
    if (0..=MAX_CACHE_SECONDS).contains(&v) {
        Ok(v)
    } else {
        Err(invalid(format!(
            "cache must be from 0 to {MAX_CACHE_SECONDS} seconds"
        )))
    }
}

fn sync_interval(v: i64) -> Result<i64> {
    if (1..=MAX_SYNC_INTERVAL_HOURS).contains(&v) {
        Ok(v)
    } else {
        Err(invalid(format!(
            "datasets_meta_sync_interval must be from 1 to {MAX_SYNC_INTERVAL_HOURS} hours"
        )))
    }
}

fn to_json(map: &BTreeMap<String, String>) -> Result<String> {
    serde_json::to_string(map).map_err(|e| Error::Internal(e.into()))
}

fn from_json(field: &str, s: &str) -> Result<BTreeMap<String, String>> {
    serde_json::from_str(s)
        .map_err(|e| Error::Internal(anyhow::anyhow!("stored {field} is not a JSON map: {e}")))
}

/// Applies `f` to `c` (validated), returning whether a field that says where the credentials
/// are sent (provider, host, port, identifier) changed.
fn apply(c: &mut ConnectionRecord, kind: Kind, f: Fields) -> Result<bool> {
    let before = (
        c.provider.clone(),
        c.host.clone(),
        c.port.clone(),
        c.identifier.clone(),
    );
    if let Some(v) = f.provider {
        c.provider = provider(v, kind)?;
    }
    if let Some(v) = f.name {
        c.name = text("name", v, 255, true)?;
    }
    if let Some(v) = f.description {
        c.description = to_json(&description(v)?)?;
    }
    if let Some(v) = f.host {
        c.host = text("host", v, 255, false)?;
    }
    if let Some(v) = f.port {
        c.port = port(v)?;
    }
    if let Some(v) = f.identifier {
        c.identifier = text("identifier", v, 255, false)?;
    }
    if let Some(v) = f.scope {
        c.scope = text("scope", v, 1000, false)?;
    }
    if f.clear_expiry && f.expiry.is_some() {
        return Err(invalid("expiry cannot be both set and cleared"));
    }
    if f.clear_expiry {
        c.expiry = None;
    }
    if let Some(v) = f.expiry {
        c.expiry = Some(v);
    }
    if let Some(v) = f.active {
        c.active = v;
    }
    if let Some(v) = f.cache {
        c.cache = cache(v)?;
    }
    if let Some(v) = f.datasets_meta_sync_enabled {
        c.datasets_meta_sync_enabled = v;
    }
    if let Some(v) = f.datasets_meta_sync_interval {
        c.datasets_meta_sync_interval = sync_interval(v)?;
    }
    if let Some(v) = f.date {
        c.linked_at = v;
    }
    if let Some(v) = f.options {
        c.options = to_json(&options(v)?)?;
    }
    secrets(&f.secrets)?;
    Ok(before
        != (
            c.provider.clone(),
            c.host.clone(),
            c.port.clone(),
            c.identifier.clone(),
        ))
}

impl Connections {
    /// The domain over its store, the directory of memberships, the key ring, the OAuth2
    /// providers, the test settings and the limits.
    pub fn new(
        store: Arc<dyn ConnectionsStore>,
        directory: Arc<dyn Directory>,
        keyring: Arc<Keyring>,
        oauth: OAuthClient,
        tests: TestSettings,
        limits: Limits,
    ) -> Self {
        Self {
            store,
            directory,
            keyring,
            oauth,
            tests,
            limits,
        }
    }

    fn seal(&self, c: &ConnectionRecord, field: &str, value: &SecretString) -> SecretRecord {
        let binding = Binding {
            organization_uuid: c.organization_uuid,
            connection_uuid: c.connection_uuid,
            field,
        };
        SecretRecord {
            connection_uuid: c.connection_uuid,
            field: field.to_owned(),
            key_version: i32::try_from(self.keyring.current_version()).unwrap_or(i32::MAX),
            sealed: self
                .keyring
                .seal(value.expose_secret().as_bytes(), &binding),
        }
    }

    fn open(&self, c: &ConnectionRecord, s: &SecretRecord) -> Result<SecretString> {
        let binding = Binding {
            organization_uuid: c.organization_uuid,
            connection_uuid: c.connection_uuid,
            field: &s.field,
        };
        let bytes = self.keyring.open(&s.sealed, &binding).map_err(|e| {
            Error::Internal(anyhow::anyhow!(
                "secret {:?} of connection {} does not open: {e}",
                s.field,
                c.connection_uuid
            ))
        })?;
        let text = String::from_utf8(bytes.expose_secret().to_vec())
            .map_err(|_| Error::Internal(anyhow::anyhow!("a secret is not UTF-8")))?;
        Ok(SecretString::from(text))
    }

    async fn views(&self, records: Vec<ConnectionRecord>) -> Result<Vec<ConnectionView>> {
        let ids: Vec<Uuid> = records.iter().map(|r| r.connection_uuid).collect();
        let mut fields: BTreeMap<Uuid, Vec<String>> = BTreeMap::new();
        for (id, field) in self.store.secret_fields(&ids).await? {
            fields.entry(id).or_default().push(field);
        }
        records
            .into_iter()
            .map(|record| {
                Ok(ConnectionView {
                    kind: Kind::parse(&record.kind)?,
                    description: from_json("description", &record.description)?,
                    options: from_json("options", &record.options)?,
                    secret_fields: fields.remove(&record.connection_uuid).unwrap_or_default(),
                    record,
                })
            })
            .collect()
    }

    async fn view(&self, record: ConnectionRecord) -> Result<ConnectionView> {
        self.views(vec![record])
            .await?
            .pop()
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("no view")))
    }

    /// The connection if the caller may read it; NOT_FOUND otherwise (AC-8).
    async fn readable(
        &self,
        caller: &Caller,
        m: &Membership,
        id: Uuid,
        kind: Option<Kind>,
    ) -> Result<ConnectionRecord> {
        let c = self.store.get(id).await?.ok_or_else(not_found)?;
        let visible = c.organization_uuid == m.organization_uuid
            && kind.is_none_or(|k| c.kind == k.as_str())
            && (c.kind == Kind::Shared.as_str() || c.owner_user_uuid == caller.user_uuid);
        if visible { Ok(c) } else { Err(not_found()) }
    }

    /// The connection if the caller may change it: its owner, or an admin of its organization
    /// for a shared one.
    async fn writable(
        &self,
        caller: &Caller,
        m: &Membership,
        id: Uuid,
        kind: Option<Kind>,
    ) -> Result<ConnectionRecord> {
        let c = self.readable(caller, m, id, kind).await?;
        let personal = c.kind == Kind::Personal.as_str();
        // The owner of a shared connection keeps it only while their role could create one: a
        // demoted owner loses it (AC-6).
        let owner = c.owner_user_uuid == caller.user_uuid && (personal || m.may_create_shared());
        if owner || (!personal && m.is_admin()) {
            Ok(c)
        } else {
            Err(denied())
        }
    }

    /// Creates a connection owned by the caller.
    pub async fn create(&self, caller: &Caller, kind: Kind, f: Fields) -> Result<ConnectionView> {
        let m = self.directory.membership(caller).await?;
        if kind == Kind::Shared && !m.may_create_shared() {
            return Err(denied());
        }
        if f.provider.is_none() {
            return Err(invalid("provider is required"));
        }
        if f.name.is_none() {
            return Err(invalid("name is required"));
        }
        let at = now();
        let mut c = ConnectionRecord {
            connection_uuid: Uuid::now_v7(),
            organization_uuid: m.organization_uuid,
            owner_user_uuid: caller.user_uuid,
            kind: kind.as_str().to_owned(),
            provider: String::new(),
            name: String::new(),
            description: "{}".into(),
            host: String::new(),
            port: String::new(),
            identifier: String::new(),
            scope: String::new(),
            expiry: None,
            active: true,
            invalid: false,
            cache: 0,
            datasets_meta_sync_enabled: true,
            datasets_meta_sync_interval: 1,
            linked_at: at,
            options: "{}".into(),
            last_tested_at: None,
            created_at: at,
            updated_at: at,
        };
        let secrets = f.secrets.clone();
        apply(&mut c, kind, f)?;
        let sealed: Vec<SecretRecord> = secrets
            .iter()
            .map(|(field, value)| self.seal(&c, field, value))
            .collect();
        let limit = match kind {
            Kind::Shared => self.limits.shared_per_organization,
            Kind::Personal => self.limits.personal_per_user,
        };
        if !self.store.insert_within(&c, &sealed, limit).await? {
            return Err(Error::FailedPrecondition(format!(
                "at most {limit} {} connections: delete one first",
                kind.as_str()
            )));
        }
        tracing::info!(connection = %c.connection_uuid, provider = %c.provider, kind = %c.kind, "connection created");
        self.view(c).await
    }

    /// One connection the caller may read.
    pub async fn get(
        &self,
        caller: &Caller,
        id: Uuid,
        kind: Option<Kind>,
    ) -> Result<ConnectionView> {
        let m = self.directory.membership(caller).await?;
        let c = self.readable(caller, &m, id, kind).await?;
        self.view(c).await
    }

    /// Shared connections of the caller's organization, or the caller's personal credentials.
    pub async fn list(
        &self,
        caller: &Caller,
        kind: Kind,
        provider: Option<&str>,
    ) -> Result<Vec<ConnectionView>> {
        let m = self.directory.membership(caller).await?;
        let owner = (kind == Kind::Personal).then_some(caller.user_uuid);
        let records = self
            .store
            .list(m.organization_uuid, kind.as_str(), owner, provider)
            .await?;
        self.views(records).await
    }

    /// Changes a connection; secrets the update omits are kept. A `code` is exchanged for
    /// OAuth2 tokens at the provider first: nothing changes when the exchange fails.
    pub async fn update(
        &self,
        caller: &Caller,
        id: Uuid,
        kind: Option<Kind>,
        f: Fields,
        code: Option<SecretString>,
    ) -> Result<ConnectionView> {
        let m = self.directory.membership(caller).await?;
        let current = self.writable(caller, &m, id, kind).await?;
        let kind = Kind::parse(&current.kind)?;
        let mut c = current.clone();
        let new_secrets = f.secrets.clone();
        let moved = apply(&mut c, kind, f)?;
        let stored = self.store.secrets(id).await?;
        // Credentials follow their destination: pointing stored credentials at another host,
        // port, user or provider requires sending them again, and every stored secret not sent
        // again is dropped, so none ever reaches a destination it was not given for (CR-7).
        let mut remove: Vec<String> = Vec::new();
        if moved && !stored.is_empty() {
            if new_secrets.is_empty() && code.is_none() {
                return Err(invalid(
                    "changing provider, host, port or identifier requires sending the secrets again",
                ));
            }
            remove = stored
                .iter()
                .map(|s| s.field.clone())
                .filter(|f| !new_secrets.contains_key(f))
                .collect();
        }
        let mut sealed: Vec<SecretRecord> = new_secrets
            .iter()
            .map(|(field, value)| self.seal(&c, field, value))
            .collect();
        if let Some(code) = code {
            let code = code.expose_secret().trim().to_owned();
            if code.is_empty() || code.len() > 2048 {
                return Err(invalid("code must be 1 to 2048 characters"));
            }
            if !self.oauth.supports(&c.provider) {
                return Err(invalid(format!(
                    "provider {:?} has no OAuth2 configuration",
                    c.provider
                )));
            }
            let tokens = self
                .oauth
                .exchange_code(&c.provider, &code)
                .await
                .map_err(oauth_error)?;
            sealed.extend(self.seal_tokens(&mut c, &tokens));
            // A grant without a refresh token replaces the previous grant's too: an old refresh
            // token would bring the old authorization back at the next refresh.
            if tokens.refresh_token.is_none() {
                remove.push(REFRESH_TOKEN.to_owned());
            }
            remove.retain(|f| !sealed.iter().any(|s| &s.field == f));
            c.invalid = false;
        }
        c.updated_at = now();
        if !self
            .store
            .update(&c, current.updated_at, &sealed, &remove)
            .await?
        {
            return Err(Error::FailedPrecondition(
                "the connection changed meanwhile; read it again and retry".into(),
            ));
        }
        tracing::info!(connection = %id, secrets = sealed.len(), "connection updated");
        self.view(c).await
    }

    fn seal_tokens(&self, c: &mut ConnectionRecord, t: &Tokens) -> Vec<SecretRecord> {
        let mut out = vec![self.seal(c, ACCESS_TOKEN, &t.access_token)];
        if let Some(r) = &t.refresh_token {
            out.push(self.seal(c, REFRESH_TOKEN, r));
        }
        c.expiry = t.expires_at;
        if let Some(scope) = &t.scope {
            c.scope = scope
                .chars()
                .filter(|ch| !ch.is_control())
                .take(1000)
                .collect();
        }
        out
    }

    /// Deletes a connection with its secrets.
    pub async fn delete(&self, caller: &Caller, id: Uuid, kind: Option<Kind>) -> Result<()> {
        let m = self.directory.membership(caller).await?;
        self.writable(caller, &m, id, kind).await?;
        if !self.store.delete(id).await? {
            return Err(not_found());
        }
        tracing::info!(connection = %id, "connection deleted");
        Ok(())
    }

    /// Tests a connection with its stored credentials.
    pub async fn test(&self, caller: &Caller, id: Uuid, kind: Option<Kind>) -> Result<TestReport> {
        let m = self.directory.membership(caller).await?;
        let c = self.writable(caller, &m, id, kind).await?;
        let stored = self.store.secrets(id).await?;
        // The row and its secrets must be one version: a change committed between the two reads
        // could pair an old host with a new password.
        let again = self.store.get(id).await?.ok_or_else(not_found)?;
        if again.updated_at != c.updated_at {
            return Err(Error::FailedPrecondition(
                "the connection changed meanwhile; test it again".into(),
            ));
        }
        let (status, message) = if let Some(engine) = Engine::from_provider(&c.provider) {
            self.probe(&c, engine, &stored).await?
        } else if self.oauth.supports(&c.provider) {
            self.refresh(c.clone(), &stored, chrono::Duration::seconds(60))
                .await?
        } else {
            (
                TestStatus::Unsupported,
                format!("connections of provider {:?} cannot be tested", c.provider),
            )
        };
        let invalid = match status {
            TestStatus::Connected => false,
            TestStatus::AuthenticationFailed => true,
            _ => c.invalid,
        };
        if status != TestStatus::Unsupported {
            self.store.record_test(id, invalid, now()).await?;
        }
        tracing::info!(connection = %id, status = ?status, "connection tested");
        let c = self.store.get(id).await?.ok_or_else(not_found)?;
        Ok(TestReport {
            status,
            message,
            connection: self.view(c).await?,
        })
    }

    async fn probe(
        &self,
        c: &ConnectionRecord,
        engine: Engine,
        stored: &[SecretRecord],
    ) -> Result<(TestStatus, String)> {
        if c.host.is_empty() {
            return Err(invalid("the connection has no host to test"));
        }
        let default_port = match engine {
            Engine::Postgres => 5432,
            Engine::MySql => 3306,
        };
        let port = if c.port.is_empty() {
            default_port
        } else {
            c.port
                .parse()
                .map_err(|_| Error::Internal(anyhow::anyhow!("stored port {:?}", c.port)))?
        };
        let password = match stored.iter().find(|s| s.field == "password") {
            Some(s) => Some(self.open(c, s)?),
            None => None,
        };
        let options = from_json("options", &c.options)?;
        let database = options
            .get("database")
            .or_else(|| options.get("dbname"))
            .cloned();
        let target = probe::Target {
            engine,
            host: c.host.clone(),
            port,
            user: c.identifier.clone(),
            password,
            database,
            tls: options
                .get("sslmode")
                .and_then(|m| probe::Tls::parse(m))
                .unwrap_or_default(),
        };
        Ok(
            match probe::test_connection(&self.tests.egress, &target, self.tests.timeout).await {
                Outcome::Connected => (TestStatus::Connected, "connected".into()),
                Outcome::AuthenticationFailed { message } => {
                    (TestStatus::AuthenticationFailed, message)
                }
                Outcome::Refused { reason } => (TestStatus::Refused, reason),
                Outcome::Failed { message } => (TestStatus::Failed, message),
                Outcome::TimedOut => (
                    TestStatus::TimedOut,
                    format!(
                        "no answer within {} seconds",
                        self.tests.timeout.as_secs_f64()
                    ),
                ),
            },
        )
    }

    /// An OAuth2 connection: refreshes its access token when it has expired (or is about to).
    async fn refresh(
        &self,
        mut c: ConnectionRecord,
        stored: &[SecretRecord],
        margin: chrono::Duration,
    ) -> Result<(TestStatus, String)> {
        if !stored.iter().any(|s| s.field == ACCESS_TOKEN) {
            return Ok((
                TestStatus::Failed,
                "no OAuth2 token yet: update the connection with an authorization code".into(),
            ));
        }
        let fresh = c.expiry.is_none_or(|e| e > Utc::now() + margin);
        if fresh {
            return Ok((TestStatus::Connected, "the access token is valid".into()));
        }
        let Some(refresh) = stored.iter().find(|s| s.field == REFRESH_TOKEN) else {
            return Ok((
                TestStatus::AuthenticationFailed,
                "the access token expired and there is no refresh token".into(),
            ));
        };
        let refresh = match self.open(&c, refresh) {
            Ok(r) => r,
            Err(e) => {
                // A retired key or a damaged row: the token is unusable for good.
                tracing::error!(error = %e, "a stored refresh token cannot be opened");
                return Ok((
                    TestStatus::AuthenticationFailed,
                    "the stored refresh token cannot be opened; authorize again with a code".into(),
                ));
            }
        };
        // Claim the row first: of several replicas (or a test and the periodic refresh), one
        // spends the refresh token; a provider that rotates refresh tokens may revoke them all
        // when a spent one comes back.
        let seen = c.updated_at;
        c.updated_at = now();
        if !self.store.update(&c, seen, &[], &[]).await? {
            return Err(Error::FailedPrecondition(
                "the connection changed meanwhile; retry".into(),
            ));
        }
        match self.oauth.refresh(&c.provider, &refresh).await {
            Ok(tokens) => {
                // The provider spent the old refresh token: the new ones are stored whatever
                // changed meanwhile.
                let sealed = self.seal_tokens(&mut c, &tokens);
                let scope = tokens.scope.as_ref().map(|_| c.scope.as_str());
                if !self
                    .store
                    .put_tokens(c.connection_uuid, &sealed, &[], c.expiry, scope, now())
                    .await?
                {
                    return Err(not_found());
                }
                Ok((
                    TestStatus::Connected,
                    "the access token was refreshed".into(),
                ))
            }
            Err(OAuthError::Rejected { error, .. }) => Ok((
                TestStatus::AuthenticationFailed,
                format!("the provider refused to refresh the token ({error})"),
            )),
            Err(OAuthError::Unreachable(_)) => Ok((
                TestStatus::Failed,
                "the provider's token endpoint did not answer".into(),
            )),
            Err(e) => Err(oauth_error(e)),
        }
    }

    /// Refreshes the OAuth2 tokens that expire within `margin`, of the providers configured
    /// here; a refused refresh marks its connection invalid. Returns (refreshed, failed).
    pub async fn refresh_due(&self, margin: chrono::Duration) -> Result<(u64, u64)> {
        let providers = self.oauth.providers();
        if providers.is_empty() {
            return Ok((0, 0));
        }
        let due = self
            .store
            .oauth_due(Utc::now() + margin, &providers, 100)
            .await?;
        let (mut refreshed, mut failed) = (0, 0);
        for c in due {
            let id = c.connection_uuid;
            let stored = self.store.secrets(id).await?;
            match self.refresh(c, &stored, margin).await {
                Ok((TestStatus::Connected, _)) => refreshed += 1,
                Ok((TestStatus::AuthenticationFailed, message)) => {
                    failed += 1;
                    tracing::warn!(connection = %id, reason = %message, "OAuth2 refresh refused; the connection is now invalid");
                    self.store.record_test(id, true, now()).await?;
                }
                Ok((_, message)) => {
                    failed += 1;
                    tracing::warn!(connection = %id, reason = %message, "OAuth2 refresh failed; will retry");
                }
                Err(e) => {
                    failed += 1;
                    tracing::warn!(connection = %id, error = %e, "OAuth2 refresh failed; will retry");
                }
            }
        }
        Ok((refreshed, failed))
    }

    /// Refreshes due OAuth2 tokens every `interval` until `shutdown`: tokens are renewed
    /// before they expire (within twice the interval plus a minute).
    pub fn spawn_oauth_refresh(
        self: &Arc<Self>,
        interval: Duration,
        shutdown: tokio_util::sync::CancellationToken,
    ) {
        let this = Arc::clone(self);
        let margin = chrono::Duration::from_std(interval * 2).unwrap_or(chrono::Duration::MAX)
            + chrono::Duration::seconds(60);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    _ = tick.tick() => {}
                }
                match this.refresh_due(margin).await {
                    Ok((0, 0)) => {}
                    Ok((refreshed, failed)) => {
                        tracing::info!(refreshed, failed, "OAuth2 tokens refreshed");
                    }
                    Err(e) => tracing::warn!(error = %e, "OAuth2 refresh sweep failed"),
                }
            }
        });
    }

    /// The caller's personal credentials for a project: the ones chosen, or else the newest of
    /// the project's warehouse type.
    pub async fn preference(
        &self,
        caller: &Caller,
        project: Uuid,
        warehouse_type: &str,
    ) -> Result<ConnectionView> {
        let m = self.directory.membership(caller).await?;
        if let Some(id) = self.store.preference(caller.user_uuid, project).await?
            && let Some(c) = self.store.get(id).await?
            && c.owner_user_uuid == caller.user_uuid
            && c.organization_uuid == m.organization_uuid
            && c.kind == Kind::Personal.as_str()
            && c.provider == warehouse_type
        {
            return self.view(c).await;
        }
        let mut all = self
            .store
            .list(
                m.organization_uuid,
                Kind::Personal.as_str(),
                Some(caller.user_uuid),
                Some(warehouse_type),
            )
            .await?;
        let newest = all.pop().ok_or(Error::NotFound(
            "You have no credentials of this project's warehouse type",
        ))?;
        self.view(newest).await
    }

    /// Chooses the caller's personal credentials `id` for a project of `warehouse_type`.
    pub async fn set_preference(
        &self,
        caller: &Caller,
        project: Uuid,
        warehouse_type: &str,
        id: Uuid,
    ) -> Result<()> {
        let m = self.directory.membership(caller).await?;
        let c = self.readable(caller, &m, id, Some(Kind::Personal)).await?;
        if c.owner_user_uuid != caller.user_uuid {
            return Err(not_found());
        }
        if c.provider != warehouse_type {
            return Err(invalid(format!(
                "these credentials are for {}, the project's warehouse is {warehouse_type}",
                c.provider
            )));
        }
        self.store
            .set_preference(caller.user_uuid, project, id)
            .await?;
        Ok(())
    }
}

fn oauth_error(e: OAuthError) -> Error {
    match e {
        OAuthError::UnknownProvider => invalid("this provider has no OAuth2 configuration"),
        OAuthError::Rejected { error, description } => invalid(match description {
            Some(d) => format!("the provider rejected the authorization: {error}: {d}"),
            None => format!("the provider rejected the authorization: {error}"),
        }),
        OAuthError::Unreachable(_) => {
            Error::Unavailable("the provider's token endpoint did not answer; try again".into())
        }
        OAuthError::InvalidResponse(m) => {
            tracing::warn!(reason = %m, "unexpected answer from an OAuth2 token endpoint");
            Error::Unavailable("the provider's token endpoint answered unexpectedly".into())
        }
    }
}

/// Moves every secret to the key ring's newest key version by re-sealing data keys only: no
/// secret is decrypted (CR-5). Safe to run while the service serves: a row changed meanwhile
/// keeps its newer value.
pub async fn rewrap_all(store: &dyn ConnectionsStore, keyring: &Keyring) -> Result<RewrapReport> {
    let current = i32::try_from(keyring.current_version()).unwrap_or(i32::MAX);
    let mut report = RewrapReport::default();
    let mut failed: std::collections::HashSet<(Uuid, String)> = Default::default();
    loop {
        let batch: Vec<BoundSecret> = store
            .secrets_not_on(current, 500 + failed.len() as i64)
            .await?
            .into_iter()
            .filter(|s| !failed.contains(&(s.connection_uuid, s.field.clone())))
            .collect();
        if batch.is_empty() {
            break;
        }
        for s in batch {
            let binding = Binding {
                organization_uuid: s.organization_uuid,
                connection_uuid: s.connection_uuid,
                field: &s.field,
            };
            match keyring.rewrap(&s.sealed, &binding) {
                Ok(sealed) => {
                    if store.replace_sealed(&s, &sealed, current).await? {
                        report.moved += 1;
                    }
                }
                Err(e) => {
                    tracing::error!(connection = %s.connection_uuid, field = %s.field, error = %e, "secret cannot be re-wrapped");
                    report.failed += 1;
                    failed.insert((s.connection_uuid, s.field.clone()));
                }
            }
        }
    }
    Ok(report)
}
