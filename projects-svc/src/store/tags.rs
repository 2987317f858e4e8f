//! Tags of projects (`tags`), made in the API or listed in the project's YAML.

use service_kit::on_pool;
use uuid::Uuid;

use super::{Result, SqlStore, TagRecord, conflict};

/// Inserts the tag `$t` on `$executor` (the pool, or the transaction that replaces the YAML
/// tags); a taken name is a conflict.
macro_rules! insert_tag {
    ($executor:expr, $t:expr) => {{
        let t: &TagRecord = $t;
        sqlx::query(
            "INSERT INTO tags (tag_uuid, project_uuid, name, color, yaml_reference, \
             created_by_user_uuid, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
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
        .map_err(conflict)?;
    }};
}

/// Tags.
#[async_trait::async_trait]
pub trait TagStore: Send + Sync {
    /// The tags of a project, by name.
    async fn tags(&self, project_uuid: Uuid) -> Result<Vec<TagRecord>>;
    /// Inserts a tag; Conflict on a taken name.
    async fn insert_tag(&self, tag: &TagRecord) -> Result<()>;
    /// Renames or recolours a tag of a project; false when it is not there; Conflict on a taken
    /// name.
    async fn update_tag(
        &self,
        project_uuid: Uuid,
        tag_uuid: Uuid,
        name: Option<&str>,
        color: Option<&str>,
    ) -> Result<bool>;
    /// Deletes a tag of a project; whether it existed.
    async fn delete_tag(&self, project_uuid: Uuid, tag_uuid: Uuid) -> Result<bool>;
    /// Replaces every YAML tag of a project with `tags`, atomically; Conflict when a name is
    /// taken by a tag made in the API (nothing changes then).
    async fn replace_yaml_tags(&self, project_uuid: Uuid, tags: &[TagRecord]) -> Result<()>;
}

#[async_trait::async_trait]
impl TagStore for SqlStore {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn tags(&self, project: Uuid) -> Result<Vec<TagRecord>> {
        let sql = "SELECT tag_uuid, project_uuid, name, color, yaml_reference, \
                   created_by_user_uuid, created_at \
                   FROM tags WHERE project_uuid = $1 ORDER BY LOWER(name), tag_uuid";
        self.rows_by(sql, project).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn insert_tag(&self, t: &TagRecord) -> Result<()> {
        on_pool!(&self.pool, |p| insert_tag!(p, t));
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn update_tag(
        &self,
        project: Uuid,
        tag: Uuid,
        name: Option<&str>,
        color: Option<&str>,
    ) -> Result<bool> {
        let sql = "UPDATE tags SET name = COALESCE($3, name), color = COALESCE($4, color) \
                   WHERE project_uuid = $1 AND tag_uuid = $2";
        let n = on_pool!(&self.pool, |p| {
            sqlx::query(sql)
                .bind(project)
                .bind(tag)
                .bind(name)
                .bind(color)
                .execute(p)
                .await
                .map_err(conflict)?
                .rows_affected()
        });
        Ok(n > 0)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn delete_tag(&self, project: Uuid, tag: Uuid) -> Result<bool> {
        let sql = "DELETE FROM tags WHERE project_uuid = $1 AND tag_uuid = $2";
        self.delete_keyed(sql, project, tag).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn replace_yaml_tags(&self, project: Uuid, tags: &[TagRecord]) -> Result<()> {
        on_pool!(&self.pool, |p| {
            let mut tx = p.begin().await?;
            sqlx::query("DELETE FROM tags WHERE project_uuid = $1 AND yaml_reference IS NOT NULL")
                .bind(project)
                .execute(&mut *tx)
                .await?;
            for t in tags {
                insert_tag!(&mut *tx, t);
            }
            tx.commit().await?;
        });
        Ok(())
    }
}
