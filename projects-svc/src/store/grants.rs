//! Direct grants of users and groups on projects (`project_user_grants`,
//! `project_group_grants`).

use chrono::Utc;
use service_kit::on_pool;
use uuid::Uuid;

use super::{GrantRecord, Result, SqlStore, conflict};

/// Whose grant: a user's or a group's (each has its own tables).
#[derive(Debug, Clone, Copy)]
enum Grantee {
    User,
    Group,
}

/// Grants on projects.
#[async_trait::async_trait]
pub trait GrantStore: Send + Sync {
    /// The grants of `user` and of `groups` on the projects of an organization (one query
    /// each, whatever the number of projects): (user grants, group grants).
    async fn grants_of(
        &self,
        organization_uuid: Uuid,
        user: Uuid,
        groups: &[Uuid],
    ) -> Result<(Vec<GrantRecord>, Vec<GrantRecord>)>;
    /// Every user grant of a project.
    async fn user_grants(&self, project_uuid: Uuid) -> Result<Vec<GrantRecord>>;
    /// Every group grant of a project.
    async fn group_grants(&self, project_uuid: Uuid) -> Result<Vec<GrantRecord>>;
    /// Inserts (`create`: Conflict when it exists) or updates (false when it does not exist)
    /// a user's grant.
    async fn put_user_grant(&self, grant: &GrantRecord, create: bool) -> Result<bool>;
    /// Deletes a user's grant; whether it existed.
    async fn delete_user_grant(&self, project_uuid: Uuid, user_uuid: Uuid) -> Result<bool>;
    /// As [`Self::put_user_grant`], for a group.
    async fn put_group_grant(&self, grant: &GrantRecord, create: bool) -> Result<bool>;
    /// Deletes a group's grant; whether it existed.
    async fn delete_group_grant(&self, project_uuid: Uuid, group_uuid: Uuid) -> Result<bool>;
}

#[async_trait::async_trait]
impl GrantStore for SqlStore {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn grants_of(
        &self,
        org: Uuid,
        user: Uuid,
        groups: &[Uuid],
    ) -> Result<(Vec<GrantRecord>, Vec<GrantRecord>)> {
        let users = self.grants_in_org(Grantee::User, org, &[user]).await?;
        let groups = self.grants_in_org(Grantee::Group, org, groups).await?;
        Ok((users, groups))
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn user_grants(&self, project: Uuid) -> Result<Vec<GrantRecord>> {
        let sql = "SELECT project_uuid, user_uuid AS grantee_uuid, role FROM project_user_grants \
                   WHERE project_uuid = $1 ORDER BY created_at, user_uuid";
        self.rows_by(sql, project).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn group_grants(&self, project: Uuid) -> Result<Vec<GrantRecord>> {
        let sql = "SELECT project_uuid, group_uuid AS grantee_uuid, role FROM project_group_grants \
                   WHERE project_uuid = $1 ORDER BY created_at, group_uuid";
        self.rows_by(sql, project).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn put_user_grant(&self, g: &GrantRecord, create: bool) -> Result<bool> {
        self.put_grant(Grantee::User, g, create).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn delete_user_grant(&self, project: Uuid, user: Uuid) -> Result<bool> {
        let sql = "DELETE FROM project_user_grants WHERE project_uuid = $1 AND user_uuid = $2";
        self.delete_keyed(sql, project, user).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn put_group_grant(&self, g: &GrantRecord, create: bool) -> Result<bool> {
        self.put_grant(Grantee::Group, g, create).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn delete_group_grant(&self, project: Uuid, group: Uuid) -> Result<bool> {
        let sql = "DELETE FROM project_group_grants WHERE project_uuid = $1 AND group_uuid = $2";
        self.delete_keyed(sql, project, group).await
    }
}

impl SqlStore {
    /// The grants of the `ids` (users or groups) on the projects of `org`.
    async fn grants_in_org(
        &self,
        grantee: Grantee,
        org: Uuid,
        ids: &[Uuid],
    ) -> Result<Vec<GrantRecord>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let (select, column_in) = match grantee {
            Grantee::User => (
                "SELECT g.project_uuid, g.user_uuid AS grantee_uuid, g.role \
                 FROM project_user_grants g JOIN projects p ON p.project_uuid = g.project_uuid \
                 WHERE p.organization_uuid = ",
                " AND g.user_uuid IN (",
            ),
            Grantee::Group => (
                "SELECT g.project_uuid, g.group_uuid AS grantee_uuid, g.role \
                 FROM project_group_grants g JOIN projects p ON p.project_uuid = g.project_uuid \
                 WHERE p.organization_uuid = ",
                " AND g.group_uuid IN (",
            ),
        };
        Ok(on_pool!(&self.pool, |p| {
            let mut qb = sqlx::QueryBuilder::new(select);
            qb.push_bind(org).push(column_in);
            let mut list = qb.separated(", ");
            for id in ids {
                list.push_bind(*id);
            }
            qb.push(")");
            qb.build_query_as::<GrantRecord>().fetch_all(p).await?
        }))
    }

    /// Inserts (`create`) or updates a grant.
    async fn put_grant(&self, grantee: Grantee, g: &GrantRecord, create: bool) -> Result<bool> {
        if create {
            let sql = match grantee {
                Grantee::User => {
                    "INSERT INTO project_user_grants (project_uuid, user_uuid, role, created_at) \
                     VALUES ($1, $2, $3, $4)"
                }
                Grantee::Group => {
                    "INSERT INTO project_group_grants (project_uuid, group_uuid, role, created_at) \
                     VALUES ($1, $2, $3, $4)"
                }
            };
            on_pool!(&self.pool, |p| {
                sqlx::query(sql)
                    .bind(g.project_uuid)
                    .bind(g.grantee_uuid)
                    .bind(&g.role)
                    .bind(Utc::now())
                    .execute(p)
                    .await
                    .map_err(conflict)?;
            });
            Ok(true)
        } else {
            let sql = match grantee {
                Grantee::User => {
                    "UPDATE project_user_grants SET role = $3 \
                     WHERE project_uuid = $1 AND user_uuid = $2"
                }
                Grantee::Group => {
                    "UPDATE project_group_grants SET role = $3 \
                     WHERE project_uuid = $1 AND group_uuid = $2"
                }
            };
            let n = on_pool!(&self.pool, |p| {
                sqlx::query(sql)
                    .bind(g.project_uuid)
                    .bind(g.grantee_uuid)
                    .bind(&g.role)
                    .execute(p)
                    .await?
                    .rows_affected()
            });
            Ok(n > 0)
        }
    }
}
