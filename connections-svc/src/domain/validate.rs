//! Validation of what callers send: each field of a create or an update is trimmed, bounded
//! and checked here before anything reaches the store, and [`apply`] writes the valid fields
//! onto a record. Secrets are only checked (known field, size), never copied.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};

use super::{ACCESS_TOKEN, Kind, REFRESH_TOKEN, invalid};
use crate::{
    error::{Error, Result},
    probe,
    store::ConnectionRecord,
};

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

/// Largest secret accepted (a BigQuery key file is a few KiB).
pub const MAX_SECRET_BYTES: usize = 64 * 1024;
/// Longest a cache may last: a year, in seconds.
pub const MAX_CACHE_SECONDS: i64 = 365 * 24 * 3600;
/// Longest metadata-sync interval: a year, in hours.
pub const MAX_SYNC_INTERVAL_HOURS: i64 = 365 * 24;
const MAX_MAP_ENTRIES: usize = 50;

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

pub(super) fn from_json(field: &str, s: &str) -> Result<BTreeMap<String, String>> {
    serde_json::from_str(s)
        .map_err(|e| Error::Internal(anyhow::anyhow!("stored {field} is not a JSON map: {e}")))
}

/// Applies `f` to `c` (validated), returning whether a field that says where the credentials
/// are sent (provider, host, port, identifier) changed.
pub(super) fn apply(c: &mut ConnectionRecord, kind: Kind, f: Fields) -> Result<bool> {
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
