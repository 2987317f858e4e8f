//! The producer's outbox as the events server reads it: the [`Outbox`] trait and its SQL
//! implementation over the tables `outbox_events` (numbered in commit order; see the services'
//! `outbox_sequence` migrations) and `outbox_pruned`.

use chrono::{DateTime, Utc};
use service_kit::{db::Pool, on_pool};

use crate::StoredEvent;

/// A producer's outbox, as the events server reads it.
#[async_trait::async_trait]
pub trait Outbox: Send + Sync + std::fmt::Debug + 'static {
    /// Up to `limit` events after `sequence`, in order.
    async fn events_after(&self, sequence: i64, limit: i64) -> anyhow::Result<Vec<StoredEvent>>;
    /// The highest sequence pruned so far (0 when none was).
    async fn pruned_through(&self) -> anyhow::Result<i64>;
    /// The highest sequence committed (0 when none).
    async fn head(&self) -> anyhow::Result<i64>;
    /// Deletes the events older than `before`; returns how many.
    async fn prune(&self, before: DateTime<Utc>) -> anyhow::Result<u64>;
}

/// The outbox of a producing service, in its own database.
#[derive(Debug, Clone)]
pub struct SqlOutbox(pub Pool);

#[async_trait::async_trait]
impl Outbox for SqlOutbox {
    async fn events_after(&self, sequence: i64, limit: i64) -> anyhow::Result<Vec<StoredEvent>> {
        let sql = "SELECT sequence, event_uuid, event_type, payload, created_at, traceparent \
                   FROM outbox_events WHERE sequence > $1 ORDER BY sequence LIMIT $2";
        Ok(on_pool!(&self.0, |p| {
            sqlx::query_as(sql)
                .bind(sequence)
                .bind(limit)
                .fetch_all(p)
                .await?
        }))
    }

    async fn pruned_through(&self) -> anyhow::Result<i64> {
        let sql = "SELECT through FROM outbox_pruned WHERE id = 1";
        let through: Option<i64> = on_pool!(&self.0, |p| sqlx::query_scalar(sql)
            .fetch_optional(p)
            .await?);
        Ok(through.unwrap_or(0))
    }

    async fn head(&self) -> anyhow::Result<i64> {
        let sql = "SELECT COALESCE(MAX(sequence), 0) FROM outbox_events";
        let head: i64 = on_pool!(&self.0, |p| sqlx::query_scalar(sql).fetch_one(p).await?);
        // Everything may have been pruned: the head is then where pruning reached.
        Ok(head.max(self.pruned_through().await?))
    }

    async fn prune(&self, before: DateTime<Utc>) -> anyhow::Result<u64> {
        Ok(on_pool!(&self.0, |p| {
            let mut tx = p.begin().await?;
            // Only a prefix of the sequence goes: the oldest events up to the first one that is
            // still within the retention. (`created_at` is the writer's clock, not the commit
            // order: pruning by it alone could leave a hole that no reader notices.)
            let first_kept: Option<i64> = sqlx::query_scalar(
                "SELECT MIN(sequence) FROM outbox_events WHERE created_at >= $1",
            )
            .bind(before)
            .fetch_one(&mut *tx)
            .await?;
            let through: Option<i64> = match first_kept {
                Some(kept) => Some(kept - 1),
                None => {
                    sqlx::query_scalar("SELECT MAX(sequence) FROM outbox_events")
                        .fetch_one(&mut *tx)
                        .await?
                }
            };
            let mut gone = 0;
            if let Some(through) = through {
                gone = sqlx::query("DELETE FROM outbox_events WHERE sequence <= $1")
                    .bind(through)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if gone > 0 {
                    sqlx::query(
                        "UPDATE outbox_pruned SET through = $1 WHERE id = 1 AND through < $1",
                    )
                    .bind(through)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            tx.commit().await?;
            gone
        }))
    }
}
