//! The keys that sign access tokens.

use chrono::{DateTime, Utc};
use service_kit::on_pool;

use super::{Result, SqlStore, conflict};

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

/// Signing keys.
#[async_trait::async_trait]
pub trait SigningKeyStore: Send + Sync {
    /// Every signing key, oldest first.
    async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>>;
    /// Deletes a retired signing key.
    async fn delete_signing_key(&self, kid: &str) -> Result<()>;
    /// Stores a signing key.
    async fn insert_signing_key(&self, key: &SigningKeyRecord) -> Result<()>;
}

#[async_trait::async_trait]
impl SigningKeyStore for SqlStore {
    #[tracing::instrument(skip_all)]
    async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>> {
        Ok(on_pool!(&self.pool, |p| {
            sqlx::query_as(
                "SELECT kid, private_seed, created_at FROM signing_keys ORDER BY created_at, kid",
            )
            .fetch_all(p)
            .await
        })?)
    }

    #[tracing::instrument(skip_all)]
    async fn delete_signing_key(&self, kid: &str) -> Result<()> {
        on_pool!(&self.pool, |p| {
            sqlx::query("DELETE FROM signing_keys WHERE kid = $1")
                .bind(kid)
                .execute(p)
                .await
                .map(|_| ())
        })?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    async fn insert_signing_key(&self, k: &SigningKeyRecord) -> Result<()> {
        on_pool!(&self.pool, |p| {
            sqlx::query(
                "INSERT INTO signing_keys (kid, private_seed, created_at) VALUES ($1, $2, $3)",
            )
            .bind(&k.kid)
            .bind(&k.private_seed)
            .bind(k.created_at)
            .execute(p)
            .await
            .map(|_| ())
        })
        .map_err(conflict)?;
        Ok(())
    }
}
