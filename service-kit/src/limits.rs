//! Fixed-window rate limits kept in a service's own database, so that every replica counts
//! against the same limit (checklist AU-6, API4). Each service that uses them migrates the
//! table `rate_limits (scope, key_hash, window_start, hits)`; the keys (addresses, emails,
//! user ids) are stored as SHA-256 only.
//!
//! A hit is one upsert: a window that has ended starts again at the hit, so nothing needs
//! resetting, and a table of stale windows is pruned by [`prune`] without forgetting a live one.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::{db::Pool, on_pool, secret::sha256_hex};

/// One kind of limit: at most `limit` hits per key within `window`.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    /// The kind's name, part of every key (`"register_address"`).
    pub scope: &'static str,
    pub limit: i64,
    pub window: Duration,
}

/// What a hit found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hit {
    /// Counted, within the limit.
    Admitted,
    /// Over the limit: the window ends after this wait.
    Refused(Duration),
}

const HIT: &str = "INSERT INTO rate_limits (scope, key_hash, window_start, hits) \
     VALUES ($1, $2, $3, 1) ON CONFLICT (scope, key_hash) DO UPDATE SET \
     hits = CASE WHEN rate_limits.window_start <= $4 THEN 1 ELSE rate_limits.hits + 1 END, \
     window_start = CASE WHEN rate_limits.window_start <= $4 THEN $3 \
     ELSE rate_limits.window_start END \
     RETURNING hits, window_start";

fn hash(scope: &str, key: &str) -> String {
    sha256_hex(&format!("{scope}\u{1f}{key}"))
}

impl Limit {
    /// Counts a hit for `key` at `now`: admitted while the window holds at most `limit` hits
    /// (refused hits count too, so hammering does not shorten the wait).
    pub async fn hit(&self, pool: &Pool, key: &str, now: DateTime<Utc>) -> sqlx::Result<Hit> {
        let window = chrono::Duration::from_std(self.window).unwrap_or(chrono::Duration::MAX);
        let ended = now - window;
        let (hits, start): (i64, DateTime<Utc>) = on_pool!(pool, |p| {
            sqlx::query_as(HIT)
                .bind(self.scope)
                .bind(hash(self.scope, key))
                .bind(now)
                .bind(ended)
                .fetch_one(p)
                .await?
        });
        if hits <= self.limit {
            return Ok(Hit::Admitted);
        }
        let wait = (start + window - now).to_std().unwrap_or(Duration::ZERO);
        Ok(Hit::Refused(wait))
    }

    /// Takes one hit of `key` back (a success that should not count).
    pub async fn take_back(&self, pool: &Pool, key: &str) -> sqlx::Result<()> {
        let sql = "UPDATE rate_limits SET hits = hits - 1 \
                   WHERE scope = $1 AND key_hash = $2 AND hits > 0";
        on_pool!(pool, |p| {
            sqlx::query(sql)
                .bind(self.scope)
                .bind(hash(self.scope, key))
                .execute(p)
                .await?
                .rows_affected()
        });
        Ok(())
    }
}

/// Deletes the windows that started before `before` (pass now minus the longest window).
pub async fn prune(pool: &Pool, before: DateTime<Utc>) -> sqlx::Result<u64> {
    let sql = "DELETE FROM rate_limits WHERE window_start < $1";
    Ok(on_pool!(pool, |p| {
        sqlx::query(sql)
            .bind(before)
            .execute(p)
            .await?
            .rows_affected()
    }))
}
