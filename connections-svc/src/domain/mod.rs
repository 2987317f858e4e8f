//! The connections domain: what callers may do with connections and how. Secrets enter as
//! [`SecretString`](secrecy::SecretString), are sealed before they reach the store, and are
//! opened only to connect or to refresh a token: no value this module returns carries one
//! (CR-7, CR-8).
//!
//! One model, two kinds ([`Kind`]): an organization's shared connections and a user's personal
//! warehouse credentials. By area:
//!
//! - `validate`: checking and applying the fields callers send ([`Fields`]);
//! - `access`: who may read and who may change a connection;
//! - `lifecycle`: create, read, list, update and delete;
//! - `shares`: sharing a restricted connection with members and taking it back;
//! - `owned`: the caller's own connections, of either kind;
//! - `catalog`: the providers whose credentials the service takes ([`CATALOG`]);
//! - `sealing`: sealing secrets under the key ring and opening them;
//! - `preferences`: the personal credentials a user chose for a project;
//! - `connection_test`: testing a connection ([`TestReport`]);
//! - `oauth`: OAuth2 code exchange, refresh and the periodic refresh sweep;
//! - `rewrap`: moving every secret to the newest key version ([`rewrap_all`]).
//!
//! The domain reaches the outside through [`ConnectionsStore`] (persistence), [`Directory`]
//! (the caller's organization and role), [`Keyring`], [`OAuthClient`] and
//! [`probe`](crate::probe) (connection tests).

mod access;
mod catalog;
mod connection_test;
mod lifecycle;
mod oauth;
mod owned;
mod preferences;
mod rewrap;
mod sealing;
mod shares;
mod validate;

use std::{collections::BTreeMap, sync::Arc};

use chrono::{DateTime, Timelike, Utc};
use uuid::Uuid;

pub use catalog::{CATALOG, Format, Provider, ProviderField, Target};
pub use connection_test::{TESTS_PER_USER, TestReport, TestSettings, TestStatus};
pub use rewrap::{RewrapReport, rewrap_all, rewrap_all_reporting};
pub use shares::MAX_SHARES;
pub use validate::{
    Fields, MAX_CACHE_SECONDS, MAX_SECRET_BYTES, MAX_SYNC_INTERVAL_HOURS, SECRET_FIELDS,
    WAREHOUSE_TYPES,
};

use crate::{
    directory::Directory,
    envelope::Keyring,
    error::{Error, Result},
    oauth::OAuthClient,
    store::{ConnectionRecord, ConnectionsStore},
};
use validate::from_json;

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

/// Who reads a shared connection (a personal one is its owner's alone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Visibility {
    /// Every member of its organization.
    #[default]
    Organization,
    /// Its owner, the organization's admins and the members it is shared with.
    Restricted,
}

impl Visibility {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Organization => "organization",
            Visibility::Restricted => "restricted",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        match s {
            "organization" => Ok(Visibility::Organization),
            "restricted" => Ok(Visibility::Restricted),
            _ => Err(Error::Internal(anyhow::anyhow!("stored visibility {s:?}"))),
        }
    }
}

/// The secret fields only an OAuth2 exchange or refresh writes.
const ACCESS_TOKEN: &str = "access_token";
const REFRESH_TOKEN: &str = "refresh_token";

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

/// A connection as callers see it: no secret values, only which secrets are stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionView {
    pub record: ConnectionRecord,
    pub kind: Kind,
    pub visibility: Visibility,
    /// The members a restricted connection is shared with, in uuid order.
    pub shared_with: Vec<Uuid>,
    pub description: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
    pub secret_fields: Vec<String>,
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

/// INVALID_ARGUMENT with `msg`.
fn invalid(msg: impl Into<service_kit::error::Message>) -> Error {
    Error::InvalidArgument(msg.into())
}

/// NOT_FOUND, the same for a connection that does not exist and one the caller may not see.
fn not_found() -> Error {
    Error::NotFound("Connection not found".into())
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

    /// What callers see of `records`: the stored JSON maps parsed and the names of the
    /// secrets each holds.
    async fn views(&self, records: Vec<ConnectionRecord>) -> Result<Vec<ConnectionView>> {
        let ids: Vec<Uuid> = records.iter().map(|r| r.connection_uuid).collect();
        let mut fields: BTreeMap<Uuid, Vec<String>> = BTreeMap::new();
        for (id, field) in self.store.secret_fields(&ids).await? {
            fields.entry(id).or_default().push(field);
        }
        let mut shares: BTreeMap<Uuid, Vec<Uuid>> = BTreeMap::new();
        for (id, user) in self.store.shares_of(&ids).await? {
            shares.entry(id).or_default().push(user);
        }
        records
            .into_iter()
            .map(|record| {
                Ok(ConnectionView {
                    kind: Kind::parse(&record.kind)?,
                    visibility: Visibility::parse(&record.visibility)?,
                    shared_with: shares.remove(&record.connection_uuid).unwrap_or_default(),
                    description: from_json("description", &record.description)?,
                    options: from_json("options", &record.options)?,
                    secret_fields: fields.remove(&record.connection_uuid).unwrap_or_default(),
                    record,
                })
            })
            .collect()
    }

    /// [`Connections::views`] of one record.
    async fn view(&self, record: ConnectionRecord) -> Result<ConnectionView> {
        self.views(vec![record])
            .await?
            .pop()
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("no view")))
    }
}
