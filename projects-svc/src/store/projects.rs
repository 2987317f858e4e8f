//! Projects: their rows, and the outbox event their deletion writes.

use chrono::{DateTime, Utc};
use service_kit::on_pool;
use uuid::Uuid;

use super::{OutboxEvent, ProjectRecord, Result, SqlStore};

/// The columns of a project a caller writes (not `spaces_version`, which triggers move).
macro_rules! project_columns {
    () => {
        "project_uuid, organization_uuid, name, project_type, created_by_user_uuid, \
         scheduler_timezone, upstream_project_uuid, warehouse_connection_uuid, warehouse_type, \
         created_at, updated_at"
    };
}

/// Projects.
#[async_trait::async_trait]
pub trait ProjectStore: Send + Sync {
    /// Inserts a project and its creator's admin grant, atomically.
    async fn insert_project(&self, project: &ProjectRecord, creator: Option<Uuid>) -> Result<()>;
    /// A project of an organization.
    async fn project(
        &self,
        organization_uuid: Uuid,
        project_uuid: Uuid,
    ) -> Result<Option<ProjectRecord>>;
    /// Every project of an organization, by name.
    async fn projects(&self, organization_uuid: Uuid) -> Result<Vec<ProjectRecord>>;
    /// Sets the fields of a project that are `Some` (`upstream`: `Some(None)` clears it),
    /// leaving the others as they are (two concurrent changes of different fields both hold).
    async fn update_project(
        &self,
        organization_uuid: Uuid,
        project_uuid: Uuid,
        upstream: Option<Option<Uuid>>,
        scheduler_timezone: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<()>;
    /// Deletes a project with its grants and records `event`, atomically; whether it existed.
    async fn delete_project(
        &self,
        organization_uuid: Uuid,
        project_uuid: Uuid,
        event: &OutboxEvent,
    ) -> Result<bool>;
    /// Events not yet delivered, oldest first.
    async fn outbox(&self, limit: i64) -> Result<Vec<(Uuid, String, String)>>;
}

#[async_trait::async_trait]
impl ProjectStore for SqlStore {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn insert_project(&self, p: &ProjectRecord, creator: Option<Uuid>) -> Result<()> {
        on_pool!(&self.pool, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(concat!(
                "INSERT INTO projects (",
                project_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
            ))
            .bind(p.project_uuid)
            .bind(p.organization_uuid)
            .bind(&p.name)
            .bind(&p.project_type)
            .bind(p.created_by_user_uuid)
            .bind(&p.scheduler_timezone)
            .bind(p.upstream_project_uuid)
            .bind(p.warehouse_connection_uuid)
            .bind(&p.warehouse_type)
            .bind(p.created_at)
            .bind(p.updated_at)
            .execute(&mut *tx)
            .await?;
            if let Some(user) = creator {
                sqlx::query(
                    "INSERT INTO project_user_grants (project_uuid, user_uuid, role, created_at) \
                     VALUES ($1, $2, 'admin', $3)",
                )
                .bind(p.project_uuid)
                .bind(user)
                .bind(p.created_at)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn project(&self, org: Uuid, project: Uuid) -> Result<Option<ProjectRecord>> {
        let sql = concat!(
            "SELECT ",
            project_columns!(),
            ", spaces_version FROM projects WHERE organization_uuid = $1 AND project_uuid = $2"
        );
        Ok(on_pool!(&self.pool, |p| {
            sqlx::query_as(sql)
                .bind(org)
                .bind(project)
                .fetch_optional(p)
                .await?
        }))
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn projects(&self, org: Uuid) -> Result<Vec<ProjectRecord>> {
        let sql = concat!(
            "SELECT ",
            project_columns!(),
            ", spaces_version FROM projects WHERE organization_uuid = $1 \
             ORDER BY LOWER(name), project_uuid"
        );
        self.rows_by(sql, org).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn update_project(
        &self,
        org: Uuid,
        project: Uuid,
        upstream: Option<Option<Uuid>>,
        tz: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let sql = "UPDATE projects SET \
                   upstream_project_uuid = CASE WHEN $3 THEN $4 ELSE upstream_project_uuid END, \
                   scheduler_timezone = COALESCE($5, scheduler_timezone), updated_at = $6 \
                   WHERE organization_uuid = $1 AND project_uuid = $2";
        on_pool!(&self.pool, |p| {
            sqlx::query(sql)
                .bind(org)
                .bind(project)
                .bind(upstream.is_some())
                .bind(upstream.flatten())
                .bind(tz)
                .bind(at)
                .execute(p)
                .await?;
        });
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn delete_project(&self, org: Uuid, project: Uuid, e: &OutboxEvent) -> Result<bool> {
        Ok(on_pool!(&self.pool, |p| {
            let mut tx = p.begin().await?;
            let n = sqlx::query(
                "DELETE FROM projects WHERE organization_uuid = $1 AND project_uuid = $2",
            )
            .bind(org)
            .bind(project)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n > 0 {
                sqlx::query(
                    "INSERT INTO outbox_events \
                     (event_uuid, event_type, payload, created_at, traceparent) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(e.event_uuid)
                .bind(e.event_type)
                .bind(&e.payload)
                .bind(e.created_at)
                .bind(service_kit::trace_context::current_traceparent())
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
            }
            n > 0
        }))
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn outbox(&self, limit: i64) -> Result<Vec<(Uuid, String, String)>> {
        let sql = "SELECT event_uuid, event_type, payload FROM outbox_events \
                   ORDER BY created_at, event_uuid LIMIT $1";
        Ok(on_pool!(&self.pool, |p| {
            sqlx::query_as(sql).bind(limit).fetch_all(p).await?
        }))
    }
}
