//! Throttling state in identity-svc's database (every replica counts against the same
//! limits, checklist AU-6): the fixed windows of `service_kit::limits`, and the failed logins
//! of each (account, client address) pair with the wait they impose.

use std::time::Duration;

use chrono::{DateTime, Utc};
use service_kit::{
    limits::{Hit, Limit},
    on_pool,
    secret::sha256_hex,
};

use super::{Result, SqlStore};

/// What a login attempt found for its (account, address) pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginAdmission {
    /// Counted as a failure until it succeeds; `failures` including this one.
    Admitted { failures: i64 },
    /// The pair must wait this long.
    Wait(Duration),
}

/// The keys of a login pair as stored.
fn pair(account: &str, address: &str) -> (String, String) {
    (
        sha256_hex(&format!("account\u{1f}{account}")),
        sha256_hex(&format!("address\u{1f}{address}")),
    )
}

/// Throttling state.
#[async_trait::async_trait]
pub trait LimitStore: Send + Sync {
    /// Counts a hit of `limit` for `key`.
    async fn hit(&self, limit: &Limit, key: &str, now: DateTime<Utc>) -> Result<Hit>;
    /// Takes a hit of `limit` for `key` back.
    async fn take_back(&self, limit: &Limit, key: &str) -> Result<()>;
    /// Counts a login attempt of `account` from `address` as a failure in advance, unless the
    /// pair must wait; `delay` gives the wait after a number of failures. Failures older than
    /// `forget_before` no longer count.
    async fn admit_login(
        &self,
        account: &str,
        address: &str,
        now: DateTime<Utc>,
        forget_before: DateTime<Utc>,
        delay: &(dyn Fn(i64) -> Duration + Send + Sync),
    ) -> Result<LoginAdmission>;
    /// Takes an admitted attempt back: it was not judged (the hashing pool was busy).
    async fn login_not_judged(
        &self,
        account: &str,
        address: &str,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// Forgets the pair's failures: the login succeeded.
    async fn login_succeeded(&self, account: &str, address: &str) -> Result<()>;
    /// Deletes windows and failures older than `before`.
    async fn prune_limits(&self, before: DateTime<Utc>) -> Result<u64>;
}

#[async_trait::async_trait]
impl LimitStore for SqlStore {
    async fn hit(&self, limit: &Limit, key: &str, now: DateTime<Utc>) -> Result<Hit> {
        Ok(limit.hit(&self.pool, key, now).await?)
    }

    async fn take_back(&self, limit: &Limit, key: &str) -> Result<()> {
        Ok(limit.take_back(&self.pool, key).await?)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn admit_login(
        &self,
        account: &str,
        address: &str,
        now: DateTime<Utc>,
        forget_before: DateTime<Utc>,
        delay: &(dyn Fn(i64) -> Duration + Send + Sync),
    ) -> Result<LoginAdmission> {
        let (account, address) = pair(account, address);
        on_pool!(&self.pool, |p| {
            let mut tx = p.begin().await?;
            // Counts the failure unless the pair is waiting; the row stays locked (PostgreSQL)
            // or the database written (SQLite) until the wait is set, so a burst of parallel
            // attempts is counted one by one and cannot slip past a wait.
            let counted: Option<i64> = sqlx::query_scalar(
                "INSERT INTO login_failures \
                 (account_hash, address_hash, failures, blocked_until, last_failure_at) \
                 VALUES ($1, $2, 1, $3, $3) ON CONFLICT (account_hash, address_hash) DO UPDATE SET \
                 failures = CASE WHEN login_failures.last_failure_at < $4 THEN 1 \
                 ELSE login_failures.failures + 1 END, last_failure_at = $3 \
                 WHERE login_failures.blocked_until <= $3 RETURNING failures",
            )
            .bind(&account)
            .bind(&address)
            .bind(now)
            .bind(forget_before)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(failures) = counted else {
                let until: DateTime<Utc> = sqlx::query_scalar(
                    "SELECT blocked_until FROM login_failures \
                     WHERE account_hash = $1 AND address_hash = $2",
                )
                .bind(&account)
                .bind(&address)
                .fetch_one(&mut *tx)
                .await?;
                tx.commit().await?;
                return Ok(LoginAdmission::Wait(
                    (until - now).to_std().unwrap_or_default(),
                ));
            };
            let wait = chrono::Duration::from_std(delay(failures)).unwrap_or_default();
            sqlx::query(
                "UPDATE login_failures SET blocked_until = $3 \
                 WHERE account_hash = $1 AND address_hash = $2",
            )
            .bind(&account)
            .bind(&address)
            .bind(now + wait)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(LoginAdmission::Admitted { failures })
        })
    }

    async fn login_not_judged(
        &self,
        account: &str,
        address: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let (account, address) = pair(account, address);
        let sql = "UPDATE login_failures SET failures = failures - 1, blocked_until = $3 \
                   WHERE account_hash = $1 AND address_hash = $2 AND failures > 0";
        on_pool!(&self.pool, |p| {
            sqlx::query(sql)
                .bind(&account)
                .bind(&address)
                .bind(now)
                .execute(p)
                .await?
                .rows_affected()
        });
        Ok(())
    }

    async fn login_succeeded(&self, account: &str, address: &str) -> Result<()> {
        let (account, address) = pair(account, address);
        let sql = "DELETE FROM login_failures WHERE account_hash = $1 AND address_hash = $2";
        on_pool!(&self.pool, |p| {
            sqlx::query(sql)
                .bind(&account)
                .bind(&address)
                .execute(p)
                .await?
                .rows_affected()
        });
        Ok(())
    }

    async fn prune_limits(&self, before: DateTime<Utc>) -> Result<u64> {
        let windows = service_kit::limits::prune(&self.pool, before).await?;
        let sql = "DELETE FROM login_failures WHERE last_failure_at < $1 AND blocked_until < $1";
        let failures = on_pool!(&self.pool, |p| {
            sqlx::query(sql)
                .bind(before)
                .execute(p)
                .await?
                .rows_affected()
        });
        Ok(windows + failures)
    }
}
