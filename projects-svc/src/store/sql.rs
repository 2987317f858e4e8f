//! The SQL of the projects store, written once and instantiated for both backends.

use chrono::Utc;
use uuid::Uuid;

use super::{GrantRecord, OutboxEvent, ProjectRecord, ProjectsStore, Result, StoreError};

/// The PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PgStore(pub sqlx::PgPool);
/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore(pub sqlx::SqlitePool);

fn conflict(err: sqlx::Error) -> StoreError {
    if service_kit::db::is_unique_violation(&err) {
        StoreError::Conflict
    } else {
        StoreError::Database(err)
    }
}

macro_rules! project_columns {
    () => {
        "project_uuid, organization_uuid, name, project_type, created_by_user_uuid, scheduler_timezone, \
         upstream_project_uuid, warehouse_connection_uuid, warehouse_type, created_at, updated_at"
    };
}

/// The grants (`table`: user or group grants, `column`: the grantee) of `ids` on the projects
/// of `org`.
macro_rules! grants_in_org {
    ($db:ty, $pool:expr, $table:expr, $column:expr, $org:expr, $ids:expr) => {{
        let ids: &[Uuid] = $ids;
        if ids.is_empty() {
            Vec::new()
        } else {
            let mut qb = sqlx::QueryBuilder::<$db>::new(concat!(
                "SELECT g.project_uuid, g.",
                $column,
                " AS grantee_uuid, g.role FROM ",
                $table,
                " g JOIN projects p ON p.project_uuid = g.project_uuid WHERE p.organization_uuid = "
            ));
            qb.push_bind($org)
                .push(concat!(" AND g.", $column, " IN ("));
            let mut list = qb.separated(", ");
            for id in ids {
                list.push_bind(*id);
            }
            qb.push(")");
            qb.build_query_as::<GrantRecord>().fetch_all($pool).await?
        }
    }};
}

/// Inserts or updates a grant in `table` keyed by (`project_uuid`, `column`).
macro_rules! put_grant {
    ($pool:expr, $table:expr, $column:expr, $g:expr, $create:expr) => {{
        let g: &GrantRecord = $g;
        if $create {
            sqlx::query(concat!(
                "INSERT INTO ",
                $table,
                " (project_uuid, ",
                $column,
                ", role, created_at) VALUES ($1, $2, $3, $4)"
            ))
            .bind(g.project_uuid)
            .bind(g.grantee_uuid)
            .bind(&g.role)
            .bind(Utc::now())
            .execute($pool)
            .await
            .map_err(conflict)?;
            Ok(true)
        } else {
            let n = sqlx::query(concat!(
                "UPDATE ",
                $table,
                " SET role = $3 WHERE project_uuid = $1 AND ",
                $column,
                " = $2"
            ))
            .bind(g.project_uuid)
            .bind(g.grantee_uuid)
            .bind(&g.role)
            .execute($pool)
            .await?
            .rows_affected();
            Ok(n > 0)
        }
    }};
}

macro_rules! projects_store {
    ($store:ident, $db:ty) => {
        #[async_trait::async_trait]
        impl ProjectsStore for $store {
            #[tracing::instrument(skip_all)]
            async fn insert_project(&self, p: &ProjectRecord, creator: Option<Uuid>) -> Result<()> {
                let mut tx = self.0.begin().await?;
                sqlx::query(concat!(
                    "INSERT INTO projects (", project_columns!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
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
                        "INSERT INTO project_user_grants (project_uuid, user_uuid, role, created_at) VALUES ($1, $2, 'admin', $3)",
                    )
                    .bind(p.project_uuid)
                    .bind(user)
                    .bind(p.created_at)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            #[tracing::instrument(skip_all)]
            async fn project(&self, org: Uuid, project: Uuid) -> Result<Option<ProjectRecord>> {
                Ok(sqlx::query_as(concat!(
                    "SELECT ", project_columns!(), " FROM projects WHERE organization_uuid = $1 AND project_uuid = $2"
                ))
                .bind(org)
                .bind(project)
                .fetch_optional(&self.0)
                .await?)
            }

            #[tracing::instrument(skip_all)]
            async fn projects(&self, org: Uuid) -> Result<Vec<ProjectRecord>> {
                Ok(sqlx::query_as(concat!(
                    "SELECT ", project_columns!(), " FROM projects WHERE organization_uuid = $1 ORDER BY LOWER(name), project_uuid"
                ))
                .bind(org)
                .fetch_all(&self.0)
                .await?)
            }

            #[tracing::instrument(skip_all)]
            async fn update_project(&self, p: &ProjectRecord) -> Result<()> {
                sqlx::query(
                    "UPDATE projects SET name = $3, upstream_project_uuid = $4, scheduler_timezone = $5, updated_at = $6 \
                     WHERE organization_uuid = $1 AND project_uuid = $2",
                )
                .bind(p.organization_uuid)
                .bind(p.project_uuid)
                .bind(&p.name)
                .bind(p.upstream_project_uuid)
                .bind(&p.scheduler_timezone)
                .bind(p.updated_at)
                .execute(&self.0)
                .await?;
                Ok(())
            }

            #[tracing::instrument(skip_all)]
            async fn delete_project(&self, org: Uuid, project: Uuid, e: &OutboxEvent) -> Result<bool> {
                let mut tx = self.0.begin().await?;
                let n = sqlx::query("DELETE FROM projects WHERE organization_uuid = $1 AND project_uuid = $2")
                    .bind(org)
                    .bind(project)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if n > 0 {
                    sqlx::query("INSERT INTO outbox_events (event_uuid, event_type, payload, created_at) VALUES ($1, $2, $3, $4)")
                        .bind(e.event_uuid)
                        .bind(e.event_type)
                        .bind(&e.payload)
                        .bind(e.created_at)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                }
                Ok(n > 0)
            }

            #[tracing::instrument(skip_all)]
            async fn grants_of(&self, org: Uuid, user: Uuid, groups: &[Uuid]) -> Result<(Vec<GrantRecord>, Vec<GrantRecord>)> {
                let users = grants_in_org!($db, &self.0, "project_user_grants", "user_uuid", org, &[user]);
                let groups = grants_in_org!($db, &self.0, "project_group_grants", "group_uuid", org, groups);
                Ok((users, groups))
            }

            #[tracing::instrument(skip_all)]
            async fn user_grants(&self, project: Uuid) -> Result<Vec<GrantRecord>> {
                Ok(sqlx::query_as(
                    "SELECT project_uuid, user_uuid AS grantee_uuid, role FROM project_user_grants WHERE project_uuid = $1 \
                     ORDER BY created_at, user_uuid",
                )
                .bind(project)
                .fetch_all(&self.0)
                .await?)
            }

            #[tracing::instrument(skip_all)]
            async fn group_grants(&self, project: Uuid) -> Result<Vec<GrantRecord>> {
                Ok(sqlx::query_as(
                    "SELECT project_uuid, group_uuid AS grantee_uuid, role FROM project_group_grants WHERE project_uuid = $1 \
                     ORDER BY created_at, group_uuid",
                )
                .bind(project)
                .fetch_all(&self.0)
                .await?)
            }

            #[tracing::instrument(skip_all)]
            async fn put_user_grant(&self, g: &GrantRecord, create: bool) -> Result<bool> {
                put_grant!(&self.0, "project_user_grants", "user_uuid", g, create)
            }

            #[tracing::instrument(skip_all)]
            async fn delete_user_grant(&self, project: Uuid, user: Uuid) -> Result<bool> {
                let n = sqlx::query("DELETE FROM project_user_grants WHERE project_uuid = $1 AND user_uuid = $2")
                    .bind(project)
                    .bind(user)
                    .execute(&self.0)
                    .await?
                    .rows_affected();
                Ok(n > 0)
            }

            #[tracing::instrument(skip_all)]
            async fn put_group_grant(&self, g: &GrantRecord, create: bool) -> Result<bool> {
                put_grant!(&self.0, "project_group_grants", "group_uuid", g, create)
            }

            #[tracing::instrument(skip_all)]
            async fn delete_group_grant(&self, project: Uuid, group: Uuid) -> Result<bool> {
                let n = sqlx::query("DELETE FROM project_group_grants WHERE project_uuid = $1 AND group_uuid = $2")
                    .bind(project)
                    .bind(group)
                    .execute(&self.0)
                    .await?
                    .rows_affected();
                Ok(n > 0)
            }

            #[tracing::instrument(skip_all)]
            async fn outbox(&self, limit: i64) -> Result<Vec<(Uuid, String, String)>> {
                Ok(sqlx::query_as("SELECT event_uuid, event_type, payload FROM outbox_events ORDER BY created_at, event_uuid LIMIT $1")
                    .bind(limit)
                    .fetch_all(&self.0)
                    .await?)
            }
        }
    };
}

projects_store!(PgStore, sqlx::Postgres);
projects_store!(SqliteStore, sqlx::Sqlite);
