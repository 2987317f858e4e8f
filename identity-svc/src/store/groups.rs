//! Groups of an organization's members.

use chrono::{DateTime, Utc};
use service_kit::on_pool;
use uuid::Uuid;

use super::{
    Guard, OutboxEvent, Result, SqlStore, conflict,
    guard::{check_guard, lock_organization},
    outbox::insert_event,
};

service_kit::from_row! {
    /// A stored group.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct GroupRecord {
        pub group_uuid: Uuid,
        pub organization_uuid: Uuid,
        pub name: String,
        pub created_by_user_uuid: Option<Uuid>,
        pub updated_by_user_uuid: Option<Uuid>,
        pub created_at: DateTime<Utc>,
        pub updated_at: DateTime<Utc>,
    }
}

service_kit::from_row! {
    /// A member of a group.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct GroupMemberRecord {
        pub group_uuid: Uuid,
        pub user_uuid: Uuid,
        pub email: String,
        pub first_name: String,
        pub last_name: String,
    }
}

/// The columns of a [`GroupRecord`].
macro_rules! group_columns {
    () => {
        "group_uuid, organization_uuid, name, created_by_user_uuid, updated_by_user_uuid, \
         created_at, updated_at"
    };
}
pub(super) use group_columns;

/// On pool `$p`: which of `$ids` (column `$column` of the table `$select` reads, which has
/// `organization_uuid`) belong to organization `$org`.
macro_rules! ids_in_organization {
    ($p:expr, $select:expr, $column:expr, $org:expr, $ids:expr) => {{
        if $ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut qb = sqlx::QueryBuilder::new($select);
        qb.push_bind($org).push(concat!(" AND ", $column, " IN ("));
        let mut list = qb.separated(", ");
        for id in $ids {
            list.push_bind(*id);
        }
        qb.push(")");
        Ok(qb.build_query_scalar().fetch_all($p).await?)
    }};
}
pub(super) use ids_in_organization;

/// Inside a transaction: adds `$members` to group `$group`.
macro_rules! insert_group_members {
    ($executor:expr, $group:expr, $members:expr) => {{
        if $members.is_empty() {
            Ok(())
        } else {
            let mut qb =
                sqlx::QueryBuilder::new("INSERT INTO group_memberships (group_uuid, user_uuid) ");
            qb.push_values($members.iter(), |mut b, user| {
                b.push_bind($group).push_bind(*user);
            });
            qb.push(" ON CONFLICT DO NOTHING");
            qb.build().execute($executor).await.map(|_| ())
        }
    }};
}

/// Groups.
#[async_trait::async_trait]
pub trait GroupStore: Send + Sync {
    /// Which of `users` are members of the organization.
    async fn members_among(&self, organization_uuid: Uuid, users: &[Uuid]) -> Result<Vec<Uuid>>;
    /// Creates a group with `members` (already checked to be members of its organization).
    /// Conflict when the name is taken in the organization.
    async fn create_group(
        &self,
        group: &GroupRecord,
        members: &[Uuid],
        guard: &Guard,
    ) -> Result<()>;
    /// One page of an organization's groups, filtered by a LIKE pattern, and the total.
    async fn groups(
        &self,
        organization_uuid: Uuid,
        search: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<GroupRecord>, i64)>;
    /// A group of an organization.
    async fn group(&self, organization_uuid: Uuid, group_uuid: Uuid)
    -> Result<Option<GroupRecord>>;
    /// The members of these groups.
    async fn group_members(&self, groups: &[Uuid]) -> Result<Vec<GroupMemberRecord>>;
    /// Renames a group and, when `members` is given, replaces its members, atomically.
    async fn update_group(
        &self,
        group: &GroupRecord,
        members: Option<&[Uuid]>,
        guard: &Guard,
    ) -> Result<()>;
    /// Deletes a group and records `event`, atomically.
    async fn delete_group(
        &self,
        organization_uuid: Uuid,
        group_uuid: Uuid,
        event: &OutboxEvent,
    ) -> Result<bool>;
    /// Adds a member to a group (no change when they are one already).
    async fn add_group_member(
        &self,
        group_uuid: Uuid,
        user_uuid: Uuid,
        guard: &Guard,
    ) -> Result<()>;
    /// Removes a member from a group; whether they were one.
    async fn remove_group_member(&self, group_uuid: Uuid, user_uuid: Uuid) -> Result<bool>;
}

#[async_trait::async_trait]
impl GroupStore for SqlStore {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn members_among(&self, org: Uuid, users: &[Uuid]) -> Result<Vec<Uuid>> {
        on_pool!(&self.pool, |p| ids_in_organization!(
            p,
            "SELECT user_uuid FROM memberships WHERE organization_uuid = ",
            "user_uuid",
            org,
            users
        ))
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn create_group(&self, g: &GroupRecord, members: &[Uuid], guard: &Guard) -> Result<()> {
        on_pool!(&self.pool, |p| {
            let mut tx = p.begin().await?;
            check_guard!(tx, guard, members);
            sqlx::query(concat!(
                "INSERT INTO groups (",
                group_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7)"
            ))
            .bind(g.group_uuid)
            .bind(g.organization_uuid)
            .bind(&g.name)
            .bind(g.created_by_user_uuid)
            .bind(g.updated_by_user_uuid)
            .bind(g.created_at)
            .bind(g.updated_at)
            .execute(&mut *tx)
            .await
            .map_err(conflict)?;
            insert_group_members!(&mut *tx, g.group_uuid, members)?;
            tx.commit().await?;
            Ok(())
        })
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn groups(
        &self,
        org: Uuid,
        search: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<GroupRecord>, i64)> {
        on_pool!(&self.pool, |p| {
            let rows = sqlx::query_as(concat!(
                "SELECT ",
                group_columns!(),
                " FROM groups WHERE organization_uuid = $1 \
                 AND ($2 IS NULL OR LOWER(name) LIKE $2 ESCAPE '\\') \
                 ORDER BY LOWER(name), group_uuid LIMIT $3 OFFSET $4"
            ))
            .bind(org)
            .bind(search)
            .bind(limit)
            .bind(offset)
            .fetch_all(p)
            .await?;
            let total: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM groups WHERE organization_uuid = $1 \
                 AND ($2 IS NULL OR LOWER(name) LIKE $2 ESCAPE '\\')",
            )
            .bind(org)
            .bind(search)
            .fetch_one(p)
            .await?;
            Ok((rows, total))
        })
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn group(&self, org: Uuid, group_uuid: Uuid) -> Result<Option<GroupRecord>> {
        Ok(on_pool!(&self.pool, |p| {
            sqlx::query_as(concat!(
                "SELECT ",
                group_columns!(),
                " FROM groups WHERE organization_uuid = $1 AND group_uuid = $2"
            ))
            .bind(org)
            .bind(group_uuid)
            .fetch_optional(p)
            .await
        })?)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn group_members(&self, groups: &[Uuid]) -> Result<Vec<GroupMemberRecord>> {
        if groups.is_empty() {
            return Ok(Vec::new());
        }
        Ok(on_pool!(&self.pool, |p| {
            let mut qb = sqlx::QueryBuilder::new(
                "SELECT gm.group_uuid, u.user_uuid, u.email, u.first_name, u.last_name \
                 FROM group_memberships gm JOIN users u ON u.user_uuid = gm.user_uuid \
                 WHERE gm.group_uuid IN (",
            );
            let mut list = qb.separated(", ");
            for g in groups {
                list.push_bind(*g);
            }
            qb.push(") ORDER BY LOWER(u.first_name), LOWER(u.last_name), u.user_uuid");
            qb.build_query_as().fetch_all(p).await
        })?)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn update_group(
        &self,
        g: &GroupRecord,
        members: Option<&[Uuid]>,
        guard: &Guard,
    ) -> Result<()> {
        on_pool!(&self.pool, |p| {
            let mut tx = p.begin().await?;
            check_guard!(tx, guard, members.unwrap_or_default());
            sqlx::query(
                "UPDATE groups SET name = $2, updated_by_user_uuid = $3, updated_at = $4 \
                 WHERE group_uuid = $1",
            )
            .bind(g.group_uuid)
            .bind(&g.name)
            .bind(g.updated_by_user_uuid)
            .bind(g.updated_at)
            .execute(&mut *tx)
            .await
            .map_err(conflict)?;
            if let Some(members) = members {
                sqlx::query("DELETE FROM group_memberships WHERE group_uuid = $1")
                    .bind(g.group_uuid)
                    .execute(&mut *tx)
                    .await?;
                insert_group_members!(&mut *tx, g.group_uuid, members)?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn delete_group(&self, org: Uuid, group_uuid: Uuid, event: &OutboxEvent) -> Result<bool> {
        on_pool!(&self.pool, |p| {
            let mut tx = p.begin().await?;
            // The organization's row first (the lock order, ARCHITECTURE.md): a close deletes
            // the members' group memberships before the group.
            lock_organization!(tx, "$1", org);
            let n =
                sqlx::query("DELETE FROM groups WHERE organization_uuid = $1 AND group_uuid = $2")
                    .bind(org)
                    .bind(group_uuid)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            if n > 0 {
                insert_event!(&mut *tx, event)?;
                tx.commit().await?;
            }
            Ok(n > 0)
        })
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn add_group_member(
        &self,
        group_uuid: Uuid,
        user_uuid: Uuid,
        guard: &Guard,
    ) -> Result<()> {
        on_pool!(&self.pool, |p| {
            let mut tx = p.begin().await?;
            check_guard!(tx, guard, [user_uuid]);
            sqlx::query(
                "INSERT INTO group_memberships (group_uuid, user_uuid) VALUES ($1, $2) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(group_uuid)
            .bind(user_uuid)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn remove_group_member(&self, group_uuid: Uuid, user_uuid: Uuid) -> Result<bool> {
        let n = on_pool!(&self.pool, |p| {
            sqlx::query("DELETE FROM group_memberships WHERE group_uuid = $1 AND user_uuid = $2")
                .bind(group_uuid)
                .bind(user_uuid)
                .execute(p)
                .await?
                .rows_affected()
        });
        Ok(n > 0)
    }
}
