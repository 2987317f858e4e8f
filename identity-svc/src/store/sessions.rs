//! Browser sessions and their refresh (the session token is the refresh token).

use chrono::{DateTime, Utc};
use service_kit::on_pool;
use uuid::Uuid;

use super::{Result, SqlStore, conflict};

service_kit::from_row! {
    /// A browser session; only the hash of its token is stored.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct SessionRecord {
        pub session_uuid: Uuid,
        pub user_uuid: Uuid,
        pub token_hash: String,
        pub created_at: DateTime<Utc>,
        pub expires_at: DateTime<Utc>,
    }
}

/// What presenting a refresh (session) token did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionRotation {
    /// The session now has the new token.
    Rotated(SessionRecord),
    /// The token was one the session had before: the session was deleted.
    Reused,
    /// No session has or had this token.
    Unknown,
}

/// On executor `$executor` (a pool or a transaction): inserts session `$s` (a
/// [`SessionRecord`]).
macro_rules! insert_session {
    ($executor:expr, $s:expr) => {{
        let s: &$crate::store::SessionRecord = $s;
        sqlx::query(
            "INSERT INTO sessions (session_uuid, user_uuid, token_hash, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(s.session_uuid)
        .bind(s.user_uuid)
        .bind(&s.token_hash)
        .bind(s.created_at)
        .bind(s.expires_at)
        .execute($executor)
        .await
        .map_err($crate::store::conflict)
        .map(|_| ())
    }};
}
pub(super) use insert_session;

/// Sessions.
#[async_trait::async_trait]
pub trait SessionStore: Send + Sync {
    /// Inserts a session.
    async fn insert_session(&self, session: &SessionRecord) -> Result<()>;
    /// The session whose token has this hash.
    async fn session_by_token_hash(&self, token_hash: &str) -> Result<Option<SessionRecord>>;
    /// Replaces the token of the session whose token hashes to `old_hash` (atomically: of two
    /// refreshes with one token, one wins); a token a session had before revokes it.
    async fn rotate_session(&self, old_hash: &str, new_hash: &str) -> Result<SessionRotation>;
    /// Deletes a session of a user; whether it existed.
    async fn delete_session(&self, user_uuid: Uuid, session_uuid: Uuid) -> Result<bool>;
}

#[async_trait::async_trait]
impl SessionStore for SqlStore {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn insert_session(&self, s: &SessionRecord) -> Result<()> {
        on_pool!(&self.pool, |p| insert_session!(p, s))
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn session_by_token_hash(&self, token_hash: &str) -> Result<Option<SessionRecord>> {
        Ok(on_pool!(&self.pool, |p| {
            sqlx::query_as(
                "SELECT session_uuid, user_uuid, token_hash, created_at, expires_at FROM sessions \
                 WHERE token_hash = $1",
            )
            .bind(token_hash)
            .fetch_optional(p)
            .await
        })?)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn rotate_session(&self, old_hash: &str, new_hash: &str) -> Result<SessionRotation> {
        on_pool!(&self.pool, |p| {
            let mut tx = p.begin().await?;
            let rotated: Option<SessionRecord> = sqlx::query_as(
                "UPDATE sessions SET previous_token_hash = token_hash, token_hash = $2 \
                 WHERE token_hash = $1 \
                 RETURNING session_uuid, user_uuid, token_hash, created_at, expires_at",
            )
            .bind(old_hash)
            .bind(new_hash)
            .fetch_optional(&mut *tx)
            .await
            .map_err(conflict)?;
            let outcome = match rotated {
                Some(s) => SessionRotation::Rotated(s),
                None => {
                    let n = sqlx::query("DELETE FROM sessions WHERE previous_token_hash = $1")
                        .bind(old_hash)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    if n > 0 {
                        SessionRotation::Reused
                    } else {
                        SessionRotation::Unknown
                    }
                }
            };
            tx.commit().await?;
            Ok(outcome)
        })
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn delete_session(&self, user_uuid: Uuid, session_uuid: Uuid) -> Result<bool> {
        let r = on_pool!(&self.pool, |p| {
            sqlx::query("DELETE FROM sessions WHERE user_uuid = $1 AND session_uuid = $2")
                .bind(user_uuid)
                .bind(session_uuid)
                .execute(p)
                .await?
                .rows_affected()
        });
        Ok(r > 0)
    }
}
