//! The SQL of the projects store, written once and instantiated for both backends.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    GrantRecord, OutboxEvent, ProjectRecord, ProjectsStore, Result, SpaceGrantRecord, SpaceRecord,
    StoreError, TagRecord,
};

/// The PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PgStore(pub sqlx::PgPool);
/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore(pub sqlx::SqlitePool);

fn conflict(err: sqlx::Error) -> StoreError {
    if service_kit::db::is_unique_violation(&err) {
        StoreError::Conflict
    } else if service_kit::db::is_foreign_key_violation(&err) {
        StoreError::Gone
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

macro_rules! space_columns {
    () => {
        "space_uuid, project_uuid, parent_space_uuid, name, slug, is_private, inherit_parent_permissions, \
         created_by_user_uuid, created_at, updated_at"
    };
}

/// Inserts or replaces a grant in `table` keyed by (`space_uuid`, `column`).
macro_rules! put_space_grant {
    ($pool:expr, $table:expr, $column:expr, $g:expr) => {{
        let g: &SpaceGrantRecord = $g;
        sqlx::query(concat!(
            "INSERT INTO ",
            $table,
            " (space_uuid, ",
            $column,
            ", role, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (space_uuid, ",
            $column,
            ") DO UPDATE SET role = excluded.role, created_at = excluded.created_at"
        ))
        .bind(g.space_uuid)
        .bind(g.grantee_uuid)
        .bind(&g.role)
        .bind(Utc::now())
        .execute($pool)
        .await
        .map_err(conflict)?;
        Ok(())
    }};
}

/// Deletes the grant of `grantee` on `space` from `table`; whether it existed.
macro_rules! delete_space_grant {
    ($pool:expr, $table:expr, $column:expr, $space:expr, $grantee:expr) => {{
        let n = sqlx::query(concat!(
            "DELETE FROM ",
            $table,
            " WHERE space_uuid = $1 AND ",
            $column,
            " = $2"
        ))
        .bind($space)
        .bind($grantee)
        .execute($pool)
        .await?
        .rows_affected();
        Ok(n > 0)
    }};
}

macro_rules! insert_tag {
    ($executor:expr, $t:expr) => {{
        let t: &TagRecord = $t;
        sqlx::query(
            "INSERT INTO tags (tag_uuid, project_uuid, name, color, yaml_reference, created_by_user_uuid, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(t.tag_uuid)
        .bind(t.project_uuid)
        .bind(&t.name)
        .bind(&t.color)
        .bind(&t.yaml_reference)
        .bind(t.created_by_user_uuid)
        .bind(t.created_at)
        .execute($executor)
        .await
        .map_err(conflict)
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
                    "SELECT ", project_columns!(), ", spaces_version FROM projects WHERE organization_uuid = $1 AND project_uuid = $2"
                ))
                .bind(org)
                .bind(project)
                .fetch_optional(&self.0)
                .await?)
            }

            #[tracing::instrument(skip_all)]
            async fn projects(&self, org: Uuid) -> Result<Vec<ProjectRecord>> {
                Ok(sqlx::query_as(concat!(
                    "SELECT ", project_columns!(), ", spaces_version FROM projects WHERE organization_uuid = $1 ORDER BY LOWER(name), project_uuid"
                ))
                .bind(org)
                .fetch_all(&self.0)
                .await?)
            }

            #[tracing::instrument(skip_all)]
            async fn update_project(
                &self,
                org: Uuid,
                project: Uuid,
                upstream: Option<Option<Uuid>>,
                tz: Option<&str>,
                at: DateTime<Utc>,
            ) -> Result<()> {
                sqlx::query(
                    "UPDATE projects SET \
                     upstream_project_uuid = CASE WHEN $3 THEN $4 ELSE upstream_project_uuid END, \
                     scheduler_timezone = COALESCE($5, scheduler_timezone), updated_at = $6 \
                     WHERE organization_uuid = $1 AND project_uuid = $2",
                )
                .bind(org)
                .bind(project)
                .bind(upstream.is_some())
                .bind(upstream.flatten())
                .bind(tz)
                .bind(at)
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
            async fn insert_space(&self, sp: &SpaceRecord, grants: &[SpaceGrantRecord]) -> Result<()> {
                let mut tx = self.0.begin().await?;
                sqlx::query(concat!("INSERT INTO spaces (", space_columns!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"))
                    .bind(sp.space_uuid)
                    .bind(sp.project_uuid)
                    .bind(sp.parent_space_uuid)
                    .bind(&sp.name)
                    .bind(&sp.slug)
                    .bind(sp.is_private)
                    .bind(sp.inherit_parent_permissions)
                    .bind(sp.created_by_user_uuid)
                    .bind(sp.created_at)
                    .bind(sp.updated_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(conflict)?;
                for g in grants {
                    put_space_grant!(&mut *tx, "space_user_grants", "user_uuid", g).map_err(|e: StoreError| e)?;
                }
                tx.commit().await?;
                Ok(())
            }

            #[tracing::instrument(skip_all)]
            async fn space(&self, project: Uuid, space: Uuid) -> Result<Option<SpaceRecord>> {
                Ok(sqlx::query_as(concat!("SELECT ", space_columns!(), " FROM spaces WHERE project_uuid = $1 AND space_uuid = $2"))
                    .bind(project)
                    .bind(space)
                    .fetch_optional(&self.0)
                    .await?)
            }

            #[tracing::instrument(skip_all)]
            async fn spaces(&self, project: Uuid) -> Result<Vec<SpaceRecord>> {
                Ok(sqlx::query_as(concat!("SELECT ", space_columns!(), " FROM spaces WHERE project_uuid = $1 ORDER BY LOWER(name), space_uuid"))
                    .bind(project)
                    .fetch_all(&self.0)
                    .await?)
            }

            #[tracing::instrument(skip_all)]
            async fn update_space(&self, sp: &SpaceRecord) -> Result<()> {
                sqlx::query(
                    "UPDATE spaces SET name = $3, slug = $4, is_private = $5, inherit_parent_permissions = $6, updated_at = $7 \
                     WHERE project_uuid = $1 AND space_uuid = $2",
                )
                .bind(sp.project_uuid)
                .bind(sp.space_uuid)
                .bind(&sp.name)
                .bind(&sp.slug)
                .bind(sp.is_private)
                .bind(sp.inherit_parent_permissions)
                .bind(sp.updated_at)
                .execute(&self.0)
                .await?;
                Ok(())
            }

            #[tracing::instrument(skip_all)]
            async fn delete_space(&self, project: Uuid, space: Uuid) -> Result<bool> {
                let n = sqlx::query("DELETE FROM spaces WHERE project_uuid = $1 AND space_uuid = $2")
                    .bind(project)
                    .bind(space)
                    .execute(&self.0)
                    .await?
                    .rows_affected();
                Ok(n > 0)
            }

            #[tracing::instrument(skip_all)]
            async fn space_user_grants(&self, project: Uuid) -> Result<Vec<SpaceGrantRecord>> {
                Ok(sqlx::query_as(
                    "SELECT g.space_uuid, g.user_uuid AS grantee_uuid, g.role FROM space_user_grants g \
                     JOIN spaces s ON s.space_uuid = g.space_uuid WHERE s.project_uuid = $1",
                )
                .bind(project)
                .fetch_all(&self.0)
                .await?)
            }

            #[tracing::instrument(skip_all)]
            async fn space_group_grants(&self, project: Uuid) -> Result<Vec<SpaceGrantRecord>> {
                Ok(sqlx::query_as(
                    "SELECT g.space_uuid, g.group_uuid AS grantee_uuid, g.role FROM space_group_grants g \
                     JOIN spaces s ON s.space_uuid = g.space_uuid WHERE s.project_uuid = $1",
                )
                .bind(project)
                .fetch_all(&self.0)
                .await?)
            }

            #[tracing::instrument(skip_all)]
            async fn put_space_user_grant(&self, g: &SpaceGrantRecord) -> Result<()> {
                put_space_grant!(&self.0, "space_user_grants", "user_uuid", g)
            }

            #[tracing::instrument(skip_all)]
            async fn delete_space_user_grant(&self, space: Uuid, user: Uuid) -> Result<bool> {
                delete_space_grant!(&self.0, "space_user_grants", "user_uuid", space, user)
            }

            #[tracing::instrument(skip_all)]
            async fn put_space_group_grant(&self, g: &SpaceGrantRecord) -> Result<()> {
                put_space_grant!(&self.0, "space_group_grants", "group_uuid", g)
            }

            #[tracing::instrument(skip_all)]
            async fn delete_space_group_grant(&self, space: Uuid, group: Uuid) -> Result<bool> {
                delete_space_grant!(&self.0, "space_group_grants", "group_uuid", space, group)
            }

            #[tracing::instrument(skip_all)]
            async fn tags(&self, project: Uuid) -> Result<Vec<TagRecord>> {
                Ok(sqlx::query_as(
                    "SELECT tag_uuid, project_uuid, name, color, yaml_reference, created_by_user_uuid, created_at \
                     FROM tags WHERE project_uuid = $1 ORDER BY LOWER(name), tag_uuid",
                )
                .bind(project)
                .fetch_all(&self.0)
                .await?)
            }

            #[tracing::instrument(skip_all)]
            async fn insert_tag(&self, t: &TagRecord) -> Result<()> {
                insert_tag!(&self.0, t)?;
                Ok(())
            }

            #[tracing::instrument(skip_all)]
            async fn update_tag(&self, project: Uuid, tag: Uuid, name: Option<&str>, color: Option<&str>) -> Result<bool> {
                let n = sqlx::query(
                    "UPDATE tags SET name = COALESCE($3, name), color = COALESCE($4, color) \
                     WHERE project_uuid = $1 AND tag_uuid = $2",
                )
                .bind(project)
                .bind(tag)
                .bind(name)
                .bind(color)
                .execute(&self.0)
                .await
                .map_err(conflict)?
                .rows_affected();
                Ok(n > 0)
            }

            #[tracing::instrument(skip_all)]
            async fn delete_tag(&self, project: Uuid, tag: Uuid) -> Result<bool> {
                let n = sqlx::query("DELETE FROM tags WHERE project_uuid = $1 AND tag_uuid = $2")
                    .bind(project)
                    .bind(tag)
                    .execute(&self.0)
                    .await?
                    .rows_affected();
                Ok(n > 0)
            }

            #[tracing::instrument(skip_all)]
            async fn replace_yaml_tags(&self, project: Uuid, tags: &[TagRecord]) -> Result<()> {
                let mut tx = self.0.begin().await?;
                sqlx::query("DELETE FROM tags WHERE project_uuid = $1 AND yaml_reference IS NOT NULL")
                    .bind(project)
                    .execute(&mut *tx)
                    .await?;
                for t in tags {
                    insert_tag!(&mut *tx, t)?;
                }
                tx.commit().await?;
                Ok(())
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
