//! Operator tokens: the owner role over every account, made on the command line
//! (`owner-token`). Only the hash of a token's secret is stored.

use chrono::{DateTime, Utc};
use service_kit::on_pool;
use uuid::Uuid;

use super::{Result, SqlStore, conflict};

service_kit::from_row! {
    /// An operator token; only the hash of its secret is stored.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct OperatorTokenRecord {
        pub operator_token_uuid: Uuid,
        pub name: String,
        pub token_hash: String,
        pub created_at: DateTime<Utc>,
        pub last_used_at: Option<DateTime<Utc>>,
        pub revoked_at: Option<DateTime<Utc>>,
    }
}

/// The columns of an [`OperatorTokenRecord`].
macro_rules! operator_columns {
    () => {
        "operator_token_uuid, name, token_hash, created_at, last_used_at, revoked_at"
    };
}

/// Operator tokens.
#[async_trait::async_trait]
pub trait OperatorTokenStore: Send + Sync {
    /// Inserts an operator token.
    async fn insert_operator_token(&self, token: &OperatorTokenRecord) -> Result<()>;
    /// Every operator token, revoked ones included, oldest first.
    async fn operator_tokens(&self) -> Result<Vec<OperatorTokenRecord>>;
    /// One operator token.
    async fn operator_token(&self, id: Uuid) -> Result<Option<OperatorTokenRecord>>;
    /// The token whose secret has this hash.
    async fn operator_token_by_hash(&self, token_hash: &str)
    -> Result<Option<OperatorTokenRecord>>;
    /// Revokes a token at `at` (a revoked one keeps its first revocation time); whether it
    /// exists.
    async fn revoke_operator_token(&self, id: Uuid, at: DateTime<Utc>) -> Result<bool>;
    /// Records that a token was used.
    async fn touch_operator_token(&self, id: Uuid, at: DateTime<Utc>) -> Result<()>;
}

#[async_trait::async_trait]
impl OperatorTokenStore for SqlStore {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn insert_operator_token(&self, t: &OperatorTokenRecord) -> Result<()> {
        on_pool!(&self.pool, |p| {
            sqlx::query(concat!(
                "INSERT INTO operator_tokens (",
                operator_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6)"
            ))
            .bind(t.operator_token_uuid)
            .bind(&t.name)
            .bind(&t.token_hash)
            .bind(t.created_at)
            .bind(t.last_used_at)
            .bind(t.revoked_at)
            .execute(p)
            .await
            .map(|_| ())
        })
        .map_err(conflict)?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn operator_tokens(&self) -> Result<Vec<OperatorTokenRecord>> {
        Ok(on_pool!(&self.pool, |p| {
            sqlx::query_as(concat!(
                "SELECT ",
                operator_columns!(),
                " FROM operator_tokens ORDER BY operator_token_uuid"
            ))
            .fetch_all(p)
            .await
        })?)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn operator_token(&self, id: Uuid) -> Result<Option<OperatorTokenRecord>> {
        Ok(on_pool!(&self.pool, |p| {
            sqlx::query_as(concat!(
                "SELECT ",
                operator_columns!(),
                " FROM operator_tokens WHERE operator_token_uuid = $1"
            ))
            .bind(id)
            .fetch_optional(p)
            .await
        })?)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn operator_token_by_hash(
        &self,
        token_hash: &str,
    ) -> Result<Option<OperatorTokenRecord>> {
        Ok(on_pool!(&self.pool, |p| {
            sqlx::query_as(concat!(
                "SELECT ",
                operator_columns!(),
                " FROM operator_tokens WHERE token_hash = $1"
            ))
            .bind(token_hash)
            .fetch_optional(p)
            .await
        })?)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn revoke_operator_token(&self, id: Uuid, at: DateTime<Utc>) -> Result<bool> {
        let found = on_pool!(&self.pool, |p| {
            sqlx::query(
                "UPDATE operator_tokens SET revoked_at = COALESCE(revoked_at, $1) \
                 WHERE operator_token_uuid = $2",
            )
            .bind(at)
            .bind(id)
            .execute(p)
            .await
            .map(|r| r.rows_affected() > 0)
        })?;
        Ok(found)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn touch_operator_token(&self, id: Uuid, at: DateTime<Utc>) -> Result<()> {
        on_pool!(&self.pool, |p| {
            sqlx::query(
                "UPDATE operator_tokens SET last_used_at = $1 WHERE operator_token_uuid = $2",
            )
            .bind(at)
            .bind(id)
            .execute(p)
            .await
            .map(|_| ())
        })?;
        Ok(())
    }
}
