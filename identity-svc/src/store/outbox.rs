//! The outbox (events for other services, written in the transaction of the change they
//! report) and the purge of expired rows.

use chrono::{DateTime, Utc};
use service_kit::on_pool;
use uuid::Uuid;

use super::{Result, SqlStore};

/// An event for other services, written in the same transaction as the change it reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEvent {
    pub event_uuid: Uuid,
    pub event_type: &'static str,
    /// JSON; identifiers only, never secrets.
    pub payload: String,
    pub created_at: DateTime<Utc>,
}

/// Inside a transaction: records `$e` (an [`OutboxEvent`]).
macro_rules! insert_event {
    ($executor:expr, $e:expr) => {{
        let e: &$crate::store::OutboxEvent = $e;
        sqlx::query(
            "INSERT INTO outbox_events (event_uuid, event_type, payload, created_at, traceparent) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(e.event_uuid)
        .bind(e.event_type)
        .bind(&e.payload)
        .bind(e.created_at)
        .bind(service_kit::trace_context::current_traceparent())
        .execute($executor)
        .await
        .map(|_| ())
    }};
}
pub(super) use insert_event;

/// On pool `$p`: runs a DELETE and, when it removed anything, records `$event` in the same
/// transaction; whether anything was removed.
macro_rules! delete_recording {
    ($p:expr, $query:expr, $event:expr) => {{
        let mut tx = $p.begin().await?;
        let n = $query.execute(&mut *tx).await?.rows_affected();
        if n > 0 {
            $crate::store::outbox::insert_event!(&mut *tx, $event)?;
            tx.commit().await?;
        }
        Ok(n > 0)
    }};
}
pub(super) use delete_recording;

/// The outbox and the purge.
#[async_trait::async_trait]
pub trait OutboxStore: Send + Sync {
    /// Events not yet delivered, oldest first.
    async fn outbox(&self, limit: i64) -> Result<Vec<(Uuid, String, String)>>;
    /// Deletes sessions, email passcodes, invitations and password reset links that expired
    /// before `now`, and stale rate counters; how many rows in all.
    async fn purge_expired(&self, now: DateTime<Utc>) -> Result<u64>;
}

#[async_trait::async_trait]
impl OutboxStore for SqlStore {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn outbox(&self, limit: i64) -> Result<Vec<(Uuid, String, String)>> {
        Ok(on_pool!(&self.pool, |p| {
            sqlx::query_as(
                "SELECT event_uuid, event_type, payload FROM outbox_events \
                 ORDER BY created_at, event_uuid LIMIT $1",
            )
            .bind(limit)
            .fetch_all(p)
            .await
        })?)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn purge_expired(&self, now: DateTime<Utc>) -> Result<u64> {
        // Times are compared in SQL here: both backends order them correctly (SQLite keeps
        // UTC RFC 3339 text of one shape, which sorts as the instants do).
        let mut n = 0;
        // A passcode row also keeps the hour's send count: it goes once that hour is over
        // too (its passcode expired more than an hour ago, so it was created before).
        let hour_ago = now - chrono::Duration::hours(1);
        for (table, column, cutoff) in [
            ("sessions", "expires_at", now),
            ("email_passcodes", "expires_at", hour_ago),
            ("invite_links", "expires_at", now),
            ("password_resets", "expires_at", now),
        ] {
            let sql = format!("DELETE FROM {table} WHERE {column} < $1");
            n += on_pool!(&self.pool, |p| {
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(cutoff)
                    .execute(p)
                    .await?
                    .rows_affected()
            });
        }
        Ok(n)
    }
}
