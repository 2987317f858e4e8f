//! identity-svc's persistence: one trait, a PostgreSQL and a SQLite implementation.
//!
//! Both implementations are generated from one body of SQL (`sql.rs`): the statements are
//! identical on the two backends, and only the migrations differ. Architecture invariant: no
//! other service reads these tables.

mod sql;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use service_kit::db::Pool;
use uuid::Uuid;

pub use sql::{PgStore, SqliteStore};

/// A failure of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint was violated (for example a duplicate email).
    #[error("already exists")]
    Conflict,
    /// The database failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Shorthand.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A stored user.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UserRecord {
    pub user_uuid: Uuid,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub is_active: bool,
    pub is_tracking_anonymized: bool,
    pub is_marketing_opted_in: bool,
    pub is_setup_complete: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A stored user with their password hash (never leaves the domain layer).
#[derive(sqlx::FromRow)]
pub struct UserCredentials {
    #[sqlx(flatten)]
    pub user: UserRecord,
    pub password_hash: Option<String>,
}

impl std::fmt::Debug for UserCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserCredentials")
            .field("user", &self.user)
            .field("password_hash", &"[REDACTED]")
            .finish()
    }
}

/// A browser session; only the hash of its token is stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SessionRecord {
    pub session_uuid: Uuid,
    pub user_uuid: Uuid,
    pub token_hash: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A personal access token; only the hash of its secret is stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PatRecord {
    pub pat_uuid: Uuid,
    pub user_uuid: Uuid,
    pub description: String,
    pub token_hash: String,
    pub auto_generated: bool,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub rotated_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A stored signing key.
#[derive(sqlx::FromRow)]
pub struct SigningKeyRecord {
    pub kid: String,
    pub private_seed: Vec<u8>,
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for SigningKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRecord")
            .field("kid", &self.kid)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// What identity-svc stores.
#[async_trait::async_trait]
pub trait IdentityStore: Send + Sync + std::fmt::Debug {
    /// Inserts a user with their password hash and their first session, atomically.
    async fn insert_user_with_session(
        &self,
        user: &UserRecord,
        password_hash: &str,
        session: &SessionRecord,
    ) -> Result<()>;
    /// The user with this id.
    async fn user(&self, user_uuid: Uuid) -> Result<Option<UserRecord>>;
    /// The user with this (normalised) email and their password hash.
    async fn credentials_by_email(&self, email: &str) -> Result<Option<UserCredentials>>;

    /// Inserts a session.
    async fn insert_session(&self, session: &SessionRecord) -> Result<()>;
    /// The session whose token has this hash.
    async fn session_by_token_hash(&self, token_hash: &str) -> Result<Option<SessionRecord>>;
    /// Deletes a session of a user; whether it existed.
    async fn delete_session(&self, user_uuid: Uuid, session_uuid: Uuid) -> Result<bool>;

    /// Inserts a personal access token.
    async fn insert_pat(&self, pat: &PatRecord) -> Result<()>;
    /// How many tokens a user has.
    async fn count_pats(&self, user_uuid: Uuid) -> Result<i64>;
    /// A user's tokens, newest first.
    async fn pats_of_user(&self, user_uuid: Uuid) -> Result<Vec<PatRecord>>;
    /// The token whose secret has this hash.
    async fn pat_by_token_hash(&self, token_hash: &str) -> Result<Option<PatRecord>>;
    /// Deletes a token of a user; whether it existed.
    async fn delete_pat(&self, user_uuid: Uuid, pat_uuid: Uuid) -> Result<bool>;
    /// Replaces the secret and expiry of a user's token; the updated token, if it existed.
    async fn rotate_pat(
        &self,
        user_uuid: Uuid,
        pat_uuid: Uuid,
        token_hash: &str,
        expires_at: DateTime<Utc>,
        rotated_at: DateTime<Utc>,
    ) -> Result<Option<PatRecord>>;
    /// Records that a token was used.
    async fn touch_pat(&self, pat_uuid: Uuid, at: DateTime<Utc>) -> Result<()>;

    /// Every signing key, oldest first.
    async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>>;
    /// Stores a signing key.
    async fn insert_signing_key(&self, key: &SigningKeyRecord) -> Result<()>;
}

/// The store for `pool`'s backend.
pub fn for_pool(pool: Pool) -> Arc<dyn IdentityStore> {
    match pool {
        Pool::Sqlite(p) => Arc::new(SqliteStore(p)),
        Pool::Postgres(p) => Arc::new(PgStore(p)),
    }
}

/// The migrations of each backend.
pub static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
/// See [`SQLITE_MIGRATIONS`].
pub static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");
