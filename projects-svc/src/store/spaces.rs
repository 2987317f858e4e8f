//! Spaces and the direct grants of users and groups on them (`spaces`, `space_user_grants`,
//! `space_group_grants`). Every write here moves the project's `spaces_version` through the
//! database's triggers (migration `…000008_spaces_version`), never through this code.

use chrono::Utc;
use service_kit::on_pool;
use uuid::Uuid;

use super::{Result, SpaceGrantRecord, SpaceRecord, SqlStore, conflict};

/// The columns of a space.
macro_rules! space_columns {
    () => {
        "space_uuid, project_uuid, parent_space_uuid, name, slug, is_private, \
         inherit_parent_permissions, created_by_user_uuid, created_at, updated_at"
    };
}

const PUT_SPACE_USER_GRANT: &str = "INSERT INTO space_user_grants \
     (space_uuid, user_uuid, role, created_at) VALUES ($1, $2, $3, $4) \
     ON CONFLICT (space_uuid, user_uuid) \
     DO UPDATE SET role = excluded.role, created_at = excluded.created_at";

const PUT_SPACE_GROUP_GRANT: &str = "INSERT INTO space_group_grants \
     (space_uuid, group_uuid, role, created_at) VALUES ($1, $2, $3, $4) \
     ON CONFLICT (space_uuid, group_uuid) \
     DO UPDATE SET role = excluded.role, created_at = excluded.created_at";

/// Runs `$sql`, one of the `PUT_SPACE_*_GRANT` statements, for the grant `$g` on `$executor`
/// (the pool, or the transaction that creates the space).
macro_rules! put_space_grant {
    ($executor:expr, $sql:expr, $g:expr) => {{
        let g: &SpaceGrantRecord = $g;
        sqlx::query($sql)
            .bind(g.space_uuid)
            .bind(g.grantee_uuid)
            .bind(&g.role)
            .bind(Utc::now())
            .execute($executor)
            .await
            .map_err(conflict)?;
    }};
}

/// Spaces and their grants.
#[async_trait::async_trait]
pub trait SpaceStore: Send + Sync {
    /// Inserts a space with its first user grants, atomically.
    async fn insert_space(&self, space: &SpaceRecord, grants: &[SpaceGrantRecord]) -> Result<()>;
    /// A space of a project.
    async fn space(&self, project_uuid: Uuid, space_uuid: Uuid) -> Result<Option<SpaceRecord>>;
    /// Every space of a project (one query, whatever their number).
    async fn spaces(&self, project_uuid: Uuid) -> Result<Vec<SpaceRecord>>;
    /// Replaces a space's name, privacy and inheritance.
    async fn update_space(&self, space: &SpaceRecord) -> Result<()>;
    /// Deletes a space with its descendants and grants; whether it existed.
    async fn delete_space(&self, project_uuid: Uuid, space_uuid: Uuid) -> Result<bool>;
    /// Every user grant on the spaces of a project.
    async fn space_user_grants(&self, project_uuid: Uuid) -> Result<Vec<SpaceGrantRecord>>;
    /// Every group grant on the spaces of a project.
    async fn space_group_grants(&self, project_uuid: Uuid) -> Result<Vec<SpaceGrantRecord>>;
    /// Inserts or replaces a user's grant on a space.
    async fn put_space_user_grant(&self, grant: &SpaceGrantRecord) -> Result<()>;
    /// Deletes a user's grant on a space; whether it existed.
    async fn delete_space_user_grant(&self, space_uuid: Uuid, user_uuid: Uuid) -> Result<bool>;
    /// Inserts or replaces a group's grant on a space.
    async fn put_space_group_grant(&self, grant: &SpaceGrantRecord) -> Result<()>;
    /// Deletes a group's grant on a space; whether it existed.
    async fn delete_space_group_grant(&self, space_uuid: Uuid, group_uuid: Uuid) -> Result<bool>;
}

#[async_trait::async_trait]
impl SpaceStore for SqlStore {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn insert_space(&self, sp: &SpaceRecord, grants: &[SpaceGrantRecord]) -> Result<()> {
        let sql = concat!(
            "INSERT INTO spaces (",
            space_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        );
        on_pool!(&self.pool, |p| {
            let mut tx = p.begin().await?;
            sqlx::query(sql)
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
                put_space_grant!(&mut *tx, PUT_SPACE_USER_GRANT, g);
            }
            tx.commit().await?;
        });
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn space(&self, project: Uuid, space: Uuid) -> Result<Option<SpaceRecord>> {
        let sql = concat!(
            "SELECT ",
            space_columns!(),
            " FROM spaces WHERE project_uuid = $1 AND space_uuid = $2"
        );
        Ok(on_pool!(&self.pool, |p| {
            sqlx::query_as(sql)
                .bind(project)
                .bind(space)
                .fetch_optional(p)
                .await?
        }))
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn spaces(&self, project: Uuid) -> Result<Vec<SpaceRecord>> {
        let sql = concat!(
            "SELECT ",
            space_columns!(),
            " FROM spaces WHERE project_uuid = $1 ORDER BY LOWER(name), space_uuid"
        );
        self.rows_by(sql, project).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn update_space(&self, sp: &SpaceRecord) -> Result<()> {
        let sql = "UPDATE spaces SET name = $3, slug = $4, is_private = $5, \
                   inherit_parent_permissions = $6, updated_at = $7 \
                   WHERE project_uuid = $1 AND space_uuid = $2";
        on_pool!(&self.pool, |p| {
            sqlx::query(sql)
                .bind(sp.project_uuid)
                .bind(sp.space_uuid)
                .bind(&sp.name)
                .bind(&sp.slug)
                .bind(sp.is_private)
                .bind(sp.inherit_parent_permissions)
                .bind(sp.updated_at)
                .execute(p)
                .await?;
        });
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn delete_space(&self, project: Uuid, space: Uuid) -> Result<bool> {
        let sql = "DELETE FROM spaces WHERE project_uuid = $1 AND space_uuid = $2";
        self.delete_keyed(sql, project, space).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn space_user_grants(&self, project: Uuid) -> Result<Vec<SpaceGrantRecord>> {
        let sql = "SELECT g.space_uuid, g.user_uuid AS grantee_uuid, g.role FROM space_user_grants g \
                   JOIN spaces s ON s.space_uuid = g.space_uuid WHERE s.project_uuid = $1";
        self.rows_by(sql, project).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn space_group_grants(&self, project: Uuid) -> Result<Vec<SpaceGrantRecord>> {
        let sql = "SELECT g.space_uuid, g.group_uuid AS grantee_uuid, g.role FROM space_group_grants g \
                   JOIN spaces s ON s.space_uuid = g.space_uuid WHERE s.project_uuid = $1";
        self.rows_by(sql, project).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn put_space_user_grant(&self, g: &SpaceGrantRecord) -> Result<()> {
        on_pool!(&self.pool, |p| put_space_grant!(p, PUT_SPACE_USER_GRANT, g));
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn delete_space_user_grant(&self, space: Uuid, user: Uuid) -> Result<bool> {
        let sql = "DELETE FROM space_user_grants WHERE space_uuid = $1 AND user_uuid = $2";
        self.delete_keyed(sql, space, user).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn put_space_group_grant(&self, g: &SpaceGrantRecord) -> Result<()> {
        on_pool!(&self.pool, |p| put_space_grant!(
            p,
            PUT_SPACE_GROUP_GRANT,
            g
        ));
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn delete_space_group_grant(&self, space: Uuid, group: Uuid) -> Result<bool> {
        let sql = "DELETE FROM space_group_grants WHERE space_uuid = $1 AND group_uuid = $2";
        self.delete_keyed(sql, space, group).await
    }
}
