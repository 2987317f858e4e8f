//! What keeps an account safe: replacing a password hash (a change, a reset, a re-hash with
//! current parameters), ending a user's sessions, password reset links and the rate counters
//! that limit their mails.

use chrono::{DateTime, Utc};
use service_kit::on_pool;
use uuid::Uuid;

use super::{Result, SqlStore, UserCredentials};

service_kit::from_row! {
    /// A password reset link; only the hash of its code is stored.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct PasswordResetRecord {
        pub user_uuid: Uuid,
        pub code_hash: String,
        pub created_at: DateTime<Utc>,
        pub expires_at: DateTime<Utc>,
    }
}

/// Which of a user's sessions a password change ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndSessions {
    /// None (a re-hash of the same password).
    None,
    /// Every one but this one (the session the change was made in).
    AllBut(Uuid),
    /// Every one.
    All,
}

/// Passwords, sessions and reset links.
#[async_trait::async_trait]
pub trait AccountSafetyStore: Send + Sync {
    /// The user with this id and their password hash.
    async fn credentials_of(&self, user_uuid: Uuid) -> Result<Option<UserCredentials>>;
    /// Replaces a user's password hash if it is still `old_hash` and ends the sessions `end`
    /// names, atomically; whether it was replaced.
    async fn replace_password_hash(
        &self,
        user_uuid: Uuid,
        old_hash: &str,
        new_hash: &str,
        end: EndSessions,
        at: DateTime<Utc>,
    ) -> Result<bool>;
    /// Deletes every session of a user (refresh tokens are sessions too); how many.
    async fn end_sessions(&self, user_uuid: Uuid) -> Result<u64>;
    /// Stores a user's reset link, replacing any other of theirs.
    async fn put_password_reset(&self, reset: &PasswordResetRecord) -> Result<()>;
    /// The reset link whose code has this hash.
    async fn password_reset(&self, code_hash: &str) -> Result<Option<PasswordResetRecord>>;
    /// Spends the reset link whose code has this hash, if it has not expired at `now`: sets
    /// the password hash of its user (active, with a password) to `new_hash` and ends all
    /// their sessions, atomically. The user, or None when nothing changed.
    async fn use_password_reset(
        &self,
        code_hash: &str,
        new_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Uuid>>;
}

#[async_trait::async_trait]
impl AccountSafetyStore for SqlStore {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn credentials_of(&self, user_uuid: Uuid) -> Result<Option<UserCredentials>> {
        Ok(on_pool!(&self.pool, |p| {
            sqlx::query_as(
                "SELECT user_uuid, email, first_name, last_name, is_active, \
                 is_tracking_anonymized, is_marketing_opted_in, is_setup_complete, created_at, \
                 updated_at, password_hash FROM users WHERE user_uuid = $1",
            )
            .bind(user_uuid)
            .fetch_optional(p)
            .await
        })?)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn replace_password_hash(
        &self,
        user_uuid: Uuid,
        old_hash: &str,
        new_hash: &str,
        end: EndSessions,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        on_pool!(&self.pool, |p| {
            let mut tx = p.begin().await?;
            let n = sqlx::query(
                "UPDATE users SET password_hash = $3, updated_at = $4 \
                 WHERE user_uuid = $1 AND password_hash = $2",
            )
            .bind(user_uuid)
            .bind(old_hash)
            .bind(new_hash)
            .bind(at)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 0 {
                return Ok(false);
            }
            let keep = match end {
                EndSessions::None => None,
                EndSessions::AllBut(s) => Some(Some(s)),
                EndSessions::All => Some(None),
            };
            if let Some(keep) = keep {
                // No session has the nil id: with it, every session goes.
                sqlx::query("DELETE FROM sessions WHERE user_uuid = $1 AND session_uuid <> $2")
                    .bind(user_uuid)
                    .bind(keep.unwrap_or(Uuid::nil()))
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(true)
        })
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn end_sessions(&self, user_uuid: Uuid) -> Result<u64> {
        Ok(on_pool!(&self.pool, |p| {
            sqlx::query("DELETE FROM sessions WHERE user_uuid = $1")
                .bind(user_uuid)
                .execute(p)
                .await?
                .rows_affected()
        }))
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn put_password_reset(&self, r: &PasswordResetRecord) -> Result<()> {
        on_pool!(&self.pool, |p| {
            sqlx::query(
                "INSERT INTO password_resets (user_uuid, code_hash, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (user_uuid) DO UPDATE SET \
                 code_hash = excluded.code_hash, created_at = excluded.created_at, \
                 expires_at = excluded.expires_at",
            )
            .bind(r.user_uuid)
            .bind(&r.code_hash)
            .bind(r.created_at)
            .bind(r.expires_at)
            .execute(p)
            .await
            .map_err(super::conflict)
            .map(drop)
        })
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn password_reset(&self, code_hash: &str) -> Result<Option<PasswordResetRecord>> {
        Ok(on_pool!(&self.pool, |p| {
            sqlx::query_as(
                "SELECT user_uuid, code_hash, created_at, expires_at FROM password_resets \
                 WHERE code_hash = $1",
            )
            .bind(code_hash)
            .fetch_optional(p)
            .await
        })?)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn use_password_reset(
        &self,
        code_hash: &str,
        new_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Uuid>> {
        on_pool!(&self.pool, |p| {
            let mut tx = p.begin().await?;
            // Of two uses of one link, one deletes it; the other finds nothing.
            let user: Option<Uuid> = sqlx::query_scalar(
                "DELETE FROM password_resets WHERE code_hash = $1 AND expires_at > $2 \
                 RETURNING user_uuid",
            )
            .bind(code_hash)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(user) = user else {
                return Ok(None);
            };
            let n = sqlx::query(
                "UPDATE users SET password_hash = $2, updated_at = $3 \
                 WHERE user_uuid = $1 AND is_active AND password_hash IS NOT NULL",
            )
            .bind(user)
            .bind(new_hash)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 0 {
                return Ok(None);
            }
            sqlx::query("DELETE FROM sessions WHERE user_uuid = $1")
                .bind(user)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(Some(user))
        })
    }
}
