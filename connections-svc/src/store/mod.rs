//! connections-svc's persistence: the [`ConnectionsStore`] trait the domain uses, and
//! [`SqlStore`], its implementation on either backend (`sql.rs`: each statement in the method
//! that runs it; `events.rs`: what other services' events remove here). Architecture invariants: no other
//! service reads these tables; secrets are stored only sealed (`connection_secrets.sealed`), and
//! the key that opens them is never in the database (CR-6).

mod events;
mod shares;
mod sql;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use service_kit::db::Pool;
use uuid::Uuid;

pub use shares::{ShareStore, Shared};
pub use sql::SqlStore;

/// A failure of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// What the row refers to is gone (deleted meanwhile).
    #[error("gone")]
    Gone,
    /// The database failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Shorthand.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

service_kit::from_row! {
    /// A stored connection, without its secrets.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ConnectionRecord {
        pub connection_uuid: Uuid,
        pub organization_uuid: Uuid,
        pub owner_user_uuid: Uuid,
        /// `shared` or `personal`.
        pub kind: String,
        pub provider: String,
        pub name: String,
        /// JSON object: language -> text.
        pub description: String,
        pub host: String,
        pub port: String,
        pub identifier: String,
        pub scope: String,
        pub expiry: Option<DateTime<Utc>>,
        pub active: bool,
        pub invalid: bool,
        pub cache: i64,
        pub datasets_meta_sync_enabled: bool,
        pub datasets_meta_sync_interval: i64,
        pub linked_at: DateTime<Utc>,
        /// JSON object of non-secret provider settings.
        pub options: String,
        pub last_tested_at: Option<DateTime<Utc>>,
        pub created_at: DateTime<Utc>,
        pub updated_at: DateTime<Utc>,
        /// Who reads a shared connection: `organization` or `restricted` (see [`ListFilter`]).
        pub visibility: String,
    }
}

/// Which connections a listing answers: those of `organization_uuid` and `kind` that `reader`
/// may read, optionally of one owner and one provider. A personal connection is its owner's
/// alone; a shared one is every member's when its visibility is `organization`, and when it is
/// `restricted` its owner's, the organization admins' (`reader_is_admin`) and those of the
/// members it is shared with.
#[derive(Debug, Clone)]
pub struct ListFilter<'a> {
    pub organization_uuid: Uuid,
    pub kind: &'a str,
    pub reader: Uuid,
    pub reader_is_admin: bool,
    pub owner: Option<Uuid>,
    pub provider: Option<&'a str>,
}

service_kit::from_row! {
    /// One sealed secret of a connection. `sealed` is ciphertext (it opens only with the key ring
    /// and for this very organization, connection and field), so Debug may show it.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct SecretRecord {
        pub connection_uuid: Uuid,
        pub field: String,
        pub key_version: i32,
        pub sealed: String,
    }
}

service_kit::from_row! {
    /// A sealed secret with the organization it is bound to (for a re-wrap).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct BoundSecret {
        pub organization_uuid: Uuid,
        pub connection_uuid: Uuid,
        pub field: String,
        pub key_version: i32,
        pub sealed: String,
    }
}

/// Persistence of connections-svc.
#[async_trait::async_trait]
pub trait ConnectionsStore: ShareStore + Send + Sync + std::fmt::Debug {
    /// Inserts a connection and its sealed secrets, atomically, unless its owner's scope (the
    /// organization's shared connections, or the owner's personal ones) already holds `limit`
    /// connections: false then, and nothing is written.
    async fn insert_within(
        &self,
        c: &ConnectionRecord,
        secrets: &[SecretRecord],
        limit: i64,
    ) -> Result<bool>;
    /// Inserts a connection and its sealed secrets, atomically, without a limit.
    async fn insert(&self, c: &ConnectionRecord, secrets: &[SecretRecord]) -> Result<()> {
        self.insert_within(c, secrets, i64::MAX).await.map(|_| ())
    }
    /// One connection.
    async fn get(&self, connection_uuid: Uuid) -> Result<Option<ConnectionRecord>>;
    /// The connections `filter` names, oldest first.
    async fn list(&self, filter: &ListFilter<'_>) -> Result<Vec<ConnectionRecord>>;
    /// Names of the secrets stored for each of `connections`, as (connection, field) pairs.
    async fn secret_fields(&self, connections: &[Uuid]) -> Result<Vec<(Uuid, String)>>;
    /// The sealed secrets of a connection.
    async fn secrets(&self, connection_uuid: Uuid) -> Result<Vec<SecretRecord>>;
    /// Replaces the connection's row if its `updated_at` is still `seen` (optimistic
    /// concurrency: false when another change came first), deletes the secrets named in
    /// `remove`, then inserts or replaces `secrets`, atomically.
    async fn update(
        &self,
        c: &ConnectionRecord,
        seen: DateTime<Utc>,
        secrets: &[SecretRecord],
        remove: &[String],
    ) -> Result<bool>;
    /// Stores refreshed OAuth2 tokens whatever changed meanwhile (the provider has already
    /// spent the old refresh token): the secrets, `expiry`, `scope` when given, `invalid`
    /// cleared, `updated_at`; deletes the secrets named in `remove`. False when the connection
    /// is gone.
    #[allow(clippy::too_many_arguments)]
    async fn put_tokens(
        &self,
        connection_uuid: Uuid,
        secrets: &[SecretRecord],
        remove: &[String],
        expiry: Option<DateTime<Utc>>,
        scope: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<bool>;
    /// How many connections the scope of `c` (see [`count_scope`]) holds.
    async fn count(&self, organization_uuid: Uuid, scope: &str) -> Result<i64>;
    /// Deletes a connection (its secrets and the preferences naming it go with it).
    async fn delete(&self, connection_uuid: Uuid) -> Result<bool>;
    /// Records a test: `invalid` and when (`updated_at` too, so that an update built from an
    /// older read cannot undo it).
    async fn record_test(
        &self,
        connection_uuid: Uuid,
        invalid: bool,
        at: DateTime<Utc>,
    ) -> Result<()>;
    /// The connection a user chose for a project.
    async fn preference(&self, user_uuid: Uuid, project_uuid: Uuid) -> Result<Option<Uuid>>;
    /// Chooses a connection for a user's project; Gone when the connection was deleted.
    async fn set_preference(
        &self,
        user_uuid: Uuid,
        project_uuid: Uuid,
        connection_uuid: Uuid,
    ) -> Result<()>;
    /// Up to `limit` secrets sealed under a key version other than `version`.
    async fn secrets_not_on(&self, version: i32, limit: i64) -> Result<Vec<BoundSecret>>;
    /// Replaces a sealed secret if it is still `old` (a concurrent update wins); whether it was.
    async fn replace_sealed(&self, old: &BoundSecret, sealed: &str, version: i32) -> Result<bool>;
    /// Up to `limit` valid connections of `providers` holding a refresh token whose expiry is
    /// before `before`, soonest first.
    async fn oauth_due(
        &self,
        before: DateTime<Utc>,
        providers: &[String],
        limit: i64,
    ) -> Result<Vec<ConnectionRecord>>;
    /// How many secrets each key version seals, by version.
    async fn versions(&self) -> Result<Vec<(i32, i64)>>;
    /// Counts a hit of `limit` for `key` at `now` (service_kit::limits).
    async fn limit_hit(
        &self,
        limit: &service_kit::limits::Limit,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<service_kit::limits::Hit>;
}

/// The scope a connection counts in: `shared`, or `personal:<owner>`.
pub fn count_scope(kind: &str, owner: Uuid) -> String {
    if kind == "shared" {
        "shared".to_owned()
    } else {
        format!("personal:{owner}")
    }
}

/// The event consumer's side of the store for `pool`'s backend.
pub fn sink_for_pool(pool: Pool) -> Arc<dyn outbox::EventSink> {
    Arc::new(SqlStore::new(pool))
}

/// The store for `pool`'s backend.
pub fn for_pool(pool: Pool) -> Arc<dyn ConnectionsStore> {
    Arc::new(SqlStore::new(pool))
}
