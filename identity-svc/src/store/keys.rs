//! The keys that sign access tokens, stored sealed (`domain::keys` seals and opens them).

use chrono::{DateTime, Utc};
use service_kit::{db::Pool, on_pool};

use super::{Result, SqlStore, conflict};

service_kit::from_row! {
    /// A stored signing key: its private seed sealed under the key ring (never in clear).
    pub struct SigningKeyRecord {
        pub kid: String,
        pub sealed_seed: String,
        pub created_at: DateTime<Utc>,
    }
}

impl std::fmt::Debug for SigningKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRecord")
            .field("kid", &self.kid)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

service_kit::from_row! {
    /// A signing key stored in clear by a version before the keys were sealed.
    pub struct ClearSigningKey {
        pub kid: String,
        pub private_seed: Vec<u8>,
    }
}

impl std::fmt::Debug for ClearSigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClearSigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// Signing keys.
#[async_trait::async_trait]
pub trait SigningKeyStore: Send + Sync {
    /// Every sealed signing key, oldest first.
    async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>>;
    /// Deletes a retired signing key.
    async fn delete_signing_key(&self, kid: &str) -> Result<()>;
    /// Stores a signing key.
    async fn insert_signing_key(&self, key: &SigningKeyRecord) -> Result<()>;
    /// Keys still held in clear (written before keys were sealed).
    async fn clear_signing_keys(&self) -> Result<Vec<ClearSigningKey>>;
    /// Stores `sealed` as `kid`'s seed and erases its clear copy: overwritten in the database
    /// file on SQLite (`secure_delete`, then a checkpoint that empties the write-ahead log), the
    /// table rewritten on PostgreSQL (`VACUUM FULL`, once, after the last one).
    async fn seal_clear_signing_key(&self, kid: &str, sealed: &str) -> Result<()>;
    /// Rewrites the table's file without the dead row versions that held clear seeds
    /// (PostgreSQL); a checkpoint that empties the write-ahead log (SQLite). False when it
    /// could not: on PostgreSQL a role that does not own the table (the runtime role of
    /// deploy/k8s) may not rewrite it, and the server would skip `VACUUM FULL` with a mere
    /// warning; the owner does it (`migrate`).
    async fn compact_signing_keys(&self) -> Result<bool>;
    /// Replaces `kid`'s sealed seed `old` by `new` (a re-wrap); false when it changed meanwhile.
    async fn replace_sealed_signing_key(&self, kid: &str, old: &str, new: &str) -> Result<bool>;
}

#[async_trait::async_trait]
impl SigningKeyStore for SqlStore {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>> {
        Ok(on_pool!(&self.pool, |p| {
            sqlx::query_as(
                "SELECT kid, sealed_seed, created_at FROM signing_keys \
                 WHERE sealed_seed IS NOT NULL ORDER BY created_at, kid",
            )
            .fetch_all(p)
            .await
        })?)
    }

    #[tracing::instrument(level = "debug", skip_all)]
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

    #[tracing::instrument(level = "debug", skip_all)]
    async fn insert_signing_key(&self, k: &SigningKeyRecord) -> Result<()> {
        // `private_seed` (NOT NULL since the first migration) is written empty: the seed is
        // only ever stored sealed.
        on_pool!(&self.pool, |p| {
            sqlx::query(
                "INSERT INTO signing_keys (kid, private_seed, sealed_seed, created_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(&k.kid)
            .bind(Vec::<u8>::new())
            .bind(&k.sealed_seed)
            .bind(k.created_at)
            .execute(p)
            .await
            .map(|_| ())
        })
        .map_err(conflict)?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn clear_signing_keys(&self) -> Result<Vec<ClearSigningKey>> {
        Ok(on_pool!(&self.pool, |p| {
            sqlx::query_as(
                "SELECT kid, private_seed FROM signing_keys \
                 WHERE length(private_seed) > 0 ORDER BY created_at, kid",
            )
            .fetch_all(p)
            .await
        })?)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn seal_clear_signing_key(&self, kid: &str, sealed: &str) -> Result<()> {
        const SEAL: &str =
            "UPDATE signing_keys SET sealed_seed = $1, private_seed = $2 WHERE kid = $3";
        match &self.pool {
            Pool::Sqlite(p) => {
                // secure_delete overwrites the freed bytes of the old row with zeros, in the
                // page the change writes; without it they stay in the page's free space.
                let mut c = p.acquire().await?;
                sqlx::query("PRAGMA secure_delete = ON")
                    .execute(&mut *c)
                    .await?;
                let done = sqlx::query(SEAL)
                    .bind(sealed)
                    .bind(Vec::<u8>::new())
                    .bind(kid)
                    .execute(&mut *c)
                    .await;
                sqlx::query("PRAGMA secure_delete = OFF")
                    .execute(&mut *c)
                    .await?;
                done?;
            }
            Pool::Postgres(p) => {
                sqlx::query(SEAL)
                    .bind(sealed)
                    .bind(Vec::<u8>::new())
                    .bind(kid)
                    .execute(p)
                    .await?;
            }
        }
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn compact_signing_keys(&self) -> Result<bool> {
        match &self.pool {
            // Copies the pages written since into the database file and truncates the log,
            // whose older frames may still hold the page as it was before.
            Pool::Sqlite(p) => {
                sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                    .execute(p)
                    .await?;
            }
            // The old row versions stay in the table's file (dead tuples, then free space)
            // until it is rewritten: VACUUM FULL writes a new file with the live rows only.
            Pool::Postgres(p) => {
                if !service_kit::migrate::owns(p, "signing_keys").await? {
                    return Ok(false);
                }
                sqlx::raw_sql("VACUUM FULL signing_keys").execute(p).await?;
            }
        }
        Ok(true)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn replace_sealed_signing_key(&self, kid: &str, old: &str, new: &str) -> Result<bool> {
        Ok(on_pool!(&self.pool, |p| {
            sqlx::query(
                "UPDATE signing_keys SET sealed_seed = $1 WHERE kid = $2 AND sealed_seed = $3",
            )
            .bind(new)
            .bind(kid)
            .bind(old)
            .execute(p)
            .await
            .map(|r| r.rows_affected() == 1)
        })?)
    }
}
