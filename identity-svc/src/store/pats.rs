//! Personal access tokens.

use chrono::{DateTime, Utc};
use service_kit::on_pool;
use uuid::Uuid;

use super::{Result, SqlStore, conflict};

service_kit::from_row! {
    /// A personal access token; only the hash of its secret is stored.
    #[derive(Debug, Clone, PartialEq, Eq)]
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
        /// What the token may do: space-separated scopes, lowest first (`service_kit::scope`).
        pub scopes: String,
    }
}

/// The columns of a [`PatRecord`].
macro_rules! pat_columns {
    () => {
        "pat_uuid, user_uuid, description, token_hash, auto_generated, created_at, expires_at, \
         rotated_at, last_used_at, scopes"
    };
}

/// Personal access tokens.
#[async_trait::async_trait]
pub trait PatStore: Send + Sync {
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
}

#[async_trait::async_trait]
impl PatStore for SqlStore {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn insert_pat(&self, t: &PatRecord) -> Result<()> {
        on_pool!(&self.pool, |p| {
            sqlx::query(concat!(
                "INSERT INTO personal_access_tokens (",
                pat_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
            ))
            .bind(t.pat_uuid)
            .bind(t.user_uuid)
            .bind(&t.description)
            .bind(&t.token_hash)
            .bind(t.auto_generated)
            .bind(t.created_at)
            .bind(t.expires_at)
            .bind(t.rotated_at)
            .bind(t.last_used_at)
            .bind(&t.scopes)
            .execute(p)
            .await
            .map(|_| ())
        })
        .map_err(conflict)?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn count_pats(&self, user_uuid: Uuid) -> Result<i64> {
        Ok(on_pool!(&self.pool, |p| {
            sqlx::query_scalar("SELECT COUNT(*) FROM personal_access_tokens WHERE user_uuid = $1")
                .bind(user_uuid)
                .fetch_one(p)
                .await
        })?)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn pats_of_user(&self, user_uuid: Uuid) -> Result<Vec<PatRecord>> {
        Ok(on_pool!(&self.pool, |p| {
            sqlx::query_as(concat!(
                "SELECT ",
                pat_columns!(),
                " FROM personal_access_tokens WHERE user_uuid = $1 \
                 ORDER BY created_at DESC, pat_uuid DESC"
            ))
            .bind(user_uuid)
            .fetch_all(p)
            .await
        })?)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn pat_by_token_hash(&self, token_hash: &str) -> Result<Option<PatRecord>> {
        Ok(on_pool!(&self.pool, |p| {
            sqlx::query_as(concat!(
                "SELECT ",
                pat_columns!(),
                " FROM personal_access_tokens WHERE token_hash = $1"
            ))
            .bind(token_hash)
            .fetch_optional(p)
            .await
        })?)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn delete_pat(&self, user_uuid: Uuid, pat_uuid: Uuid) -> Result<bool> {
        let n = on_pool!(&self.pool, |p| {
            sqlx::query("DELETE FROM personal_access_tokens WHERE user_uuid = $1 AND pat_uuid = $2")
                .bind(user_uuid)
                .bind(pat_uuid)
                .execute(p)
                .await?
                .rows_affected()
        });
        Ok(n > 0)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn rotate_pat(
        &self,
        user_uuid: Uuid,
        pat_uuid: Uuid,
        token_hash: &str,
        expires_at: DateTime<Utc>,
        rotated_at: DateTime<Utc>,
    ) -> Result<Option<PatRecord>> {
        on_pool!(&self.pool, |p| {
            sqlx::query_as(concat!(
                "UPDATE personal_access_tokens SET token_hash = $1, expires_at = $2, \
                 rotated_at = $3 WHERE user_uuid = $4 AND pat_uuid = $5 RETURNING ",
                pat_columns!()
            ))
            .bind(token_hash)
            .bind(expires_at)
            .bind(rotated_at)
            .bind(user_uuid)
            .bind(pat_uuid)
            .fetch_optional(p)
            .await
        })
        .map_err(conflict)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn touch_pat(&self, pat_uuid: Uuid, at: DateTime<Utc>) -> Result<()> {
        on_pool!(&self.pool, |p| {
            sqlx::query("UPDATE personal_access_tokens SET last_used_at = $1 WHERE pat_uuid = $2")
                .bind(at)
                .bind(pat_uuid)
                .execute(p)
                .await
                .map(|_| ())
        })?;
        Ok(())
    }
}
