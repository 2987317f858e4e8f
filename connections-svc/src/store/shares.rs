//! The members a restricted connection is shared with (`connection_shares`; Luzmo's associate
//! with a User). A share names a user by id only: identity-svc's events remove a member's
//! shares when they leave (`events.rs`).

use chrono::{DateTime, Utc};
use service_kit::on_pool;
use uuid::Uuid;

use super::{Result, SqlStore, StoreError};

/// What a share did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shared {
    /// It is shared with the user now (or was already).
    Done,
    /// The connection holds `max` shares already.
    Full,
}

/// Shares of connections.
#[async_trait::async_trait]
pub trait ShareStore: Send + Sync {
    /// Shares a connection with a user unless it holds `max` shares (with its row locked, so
    /// concurrent shares count one after the other); Gone when the connection no longer exists.
    async fn share(
        &self,
        connection_uuid: Uuid,
        user_uuid: Uuid,
        at: DateTime<Utc>,
        max: i64,
    ) -> Result<Shared>;
    /// Takes a share back; whether there was one.
    async fn unshare(&self, connection_uuid: Uuid, user_uuid: Uuid) -> Result<bool>;
    /// Whether a connection is shared with a user.
    async fn is_shared_with(&self, connection_uuid: Uuid, user_uuid: Uuid) -> Result<bool>;
    /// The users each of `connections` is shared with, as (connection, user) pairs in user
    /// order.
    async fn shares_of(&self, connections: &[Uuid]) -> Result<Vec<(Uuid, Uuid)>>;
}

#[async_trait::async_trait]
impl ShareStore for SqlStore {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn share(
        &self,
        connection: Uuid,
        user: Uuid,
        at: DateTime<Utc>,
        max: i64,
    ) -> Result<Shared> {
        on_pool!(&self.pool, |p| {
            let mut tx = p.begin().await?;
            let locked = sqlx::query(
                "UPDATE connections SET updated_at = updated_at WHERE connection_uuid = $1",
            )
            .bind(connection)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if locked == 0 {
                return Err(StoreError::Gone);
            }
            let (held, already): (i64, i64) = sqlx::query_as(
                "SELECT COUNT(*), COUNT(CASE WHEN user_uuid = $2 THEN 1 END) \
                 FROM connection_shares WHERE connection_uuid = $1",
            )
            .bind(connection)
            .bind(user)
            .fetch_one(&mut *tx)
            .await?;
            if already > 0 {
                return Ok(Shared::Done);
            }
            if held >= max {
                return Ok(Shared::Full);
            }
            sqlx::query(
                "INSERT INTO connection_shares (connection_uuid, user_uuid, created_at) \
                 VALUES ($1, $2, $3)",
            )
            .bind(connection)
            .bind(user)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(Shared::Done)
        })
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn unshare(&self, connection: Uuid, user: Uuid) -> Result<bool> {
        let sql = "DELETE FROM connection_shares WHERE connection_uuid = $1 AND user_uuid = $2";
        Ok(on_pool!(&self.pool, |p| {
            sqlx::query(sql)
                .bind(connection)
                .bind(user)
                .execute(p)
                .await?
                .rows_affected()
                > 0
        }))
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn is_shared_with(&self, connection: Uuid, user: Uuid) -> Result<bool> {
        let sql = "SELECT COUNT(*) FROM connection_shares \
                   WHERE connection_uuid = $1 AND user_uuid = $2";
        let n: i64 = on_pool!(&self.pool, |p| {
            sqlx::query_scalar(sql)
                .bind(connection)
                .bind(user)
                .fetch_one(p)
                .await?
        });
        Ok(n > 0)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn shares_of(&self, connections: &[Uuid]) -> Result<Vec<(Uuid, Uuid)>> {
        let mut out = Vec::new();
        // Bounded IN lists, as `secret_fields`.
        for chunk in connections.chunks(1000) {
            on_pool!(&self.pool, |p| {
                let mut qb = sqlx::QueryBuilder::new(
                    "SELECT connection_uuid, user_uuid FROM connection_shares \
                     WHERE connection_uuid IN (",
                );
                let mut list = qb.separated(", ");
                for id in chunk {
                    list.push_bind(*id);
                }
                qb.push(") ORDER BY connection_uuid, user_uuid");
                let rows: Vec<(Uuid, Uuid)> = qb.build_query_as().fetch_all(p).await?;
                out.extend(rows);
            });
        }
        Ok(out)
    }
}
