//! User attributes: an organization's attributes with their values for users and groups.

use chrono::{DateTime, Utc};
use service_kit::on_pool;
use uuid::Uuid;

use super::{
    Guard, Result, SqlStore, conflict,
    groups::ids_in_organization,
    guard::{check_guard, lock_organization},
};

service_kit::from_row! {
    /// A stored user attribute.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct AttributeRecord {
        pub attribute_uuid: Uuid,
        pub organization_uuid: Uuid,
        pub name: String,
        pub description: Option<String>,
        pub attribute_default: Option<String>,
        pub created_at: DateTime<Utc>,
    }
}

service_kit::from_row! {
    /// A user's value of an attribute.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct UserValueRecord {
        pub attribute_uuid: Uuid,
        pub user_uuid: Uuid,
        pub email: String,
        pub value: String,
    }
}

service_kit::from_row! {
    /// A group's value of an attribute.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct GroupValueRecord {
        pub attribute_uuid: Uuid,
        pub group_uuid: Uuid,
        pub value: String,
    }
}

/// An organization's attributes, its users' values and its groups' values.
pub type Attributes = (
    Vec<AttributeRecord>,
    Vec<UserValueRecord>,
    Vec<GroupValueRecord>,
);

/// User attributes.
#[async_trait::async_trait]
pub trait AttributeStore: Send + Sync {
    /// Which of `groups` belong to the organization.
    async fn groups_among(&self, organization_uuid: Uuid, groups: &[Uuid]) -> Result<Vec<Uuid>>;
    /// An organization's attributes with their user and group values.
    async fn attributes(&self, organization_uuid: Uuid) -> Result<Attributes>;
    /// Creates (`create`) or replaces an attribute with its values, atomically; Conflict on a
    /// taken name; false when an attribute to replace is not there.
    async fn save_attribute(
        &self,
        attribute: &AttributeRecord,
        users: &[(Uuid, String)],
        groups: &[(Uuid, String)],
        create: bool,
        guard: &Guard,
    ) -> Result<bool>;
    /// Deletes an attribute of an organization; whether it existed.
    async fn delete_attribute(&self, organization_uuid: Uuid, attribute_uuid: Uuid)
    -> Result<bool>;
}

#[async_trait::async_trait]
impl AttributeStore for SqlStore {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn groups_among(&self, org: Uuid, groups: &[Uuid]) -> Result<Vec<Uuid>> {
        on_pool!(&self.pool, |p| ids_in_organization!(
            p,
            "SELECT group_uuid FROM groups WHERE organization_uuid = ",
            "group_uuid",
            org,
            groups
        ))
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn attributes(&self, org: Uuid) -> Result<Attributes> {
        on_pool!(&self.pool, |p| {
            let attributes = sqlx::query_as(
                "SELECT attribute_uuid, organization_uuid, name, description, attribute_default, \
                 created_at FROM user_attributes WHERE organization_uuid = $1 ORDER BY name",
            )
            .bind(org)
            .fetch_all(p)
            .await?;
            let users = sqlx::query_as(
                "SELECT v.attribute_uuid, v.user_uuid, u.email, v.value FROM user_attribute_values v \
                 JOIN user_attributes a ON a.attribute_uuid = v.attribute_uuid \
                 JOIN users u ON u.user_uuid = v.user_uuid \
                 WHERE a.organization_uuid = $1 ORDER BY u.email",
            )
            .bind(org)
            .fetch_all(p)
            .await?;
            let groups = sqlx::query_as(
                "SELECT v.attribute_uuid, v.group_uuid, v.value FROM group_attribute_values v \
                 JOIN user_attributes a ON a.attribute_uuid = v.attribute_uuid \
                 WHERE a.organization_uuid = $1 ORDER BY v.group_uuid",
            )
            .bind(org)
            .fetch_all(p)
            .await?;
            Ok((attributes, users, groups))
        })
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn save_attribute(
        &self,
        a: &AttributeRecord,
        users: &[(Uuid, String)],
        groups: &[(Uuid, String)],
        create: bool,
        guard: &Guard,
    ) -> Result<bool> {
        let user_ids: Vec<Uuid> = users.iter().map(|(u, _)| *u).collect();
        on_pool!(&self.pool, |p| {
            let mut tx = p.begin().await?;
            check_guard!(tx, guard, user_ids);
            if create {
                sqlx::query(
                    "INSERT INTO user_attributes (attribute_uuid, organization_uuid, name, \
                     description, attribute_default, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(a.attribute_uuid)
                .bind(a.organization_uuid)
                .bind(&a.name)
                .bind(&a.description)
                .bind(&a.attribute_default)
                .bind(a.created_at)
                .execute(&mut *tx)
                .await
                .map_err(conflict)?;
            } else {
                let n = sqlx::query(
                    "UPDATE user_attributes SET name = $3, description = $4, \
                     attribute_default = $5 WHERE organization_uuid = $1 AND attribute_uuid = $2",
                )
                .bind(a.organization_uuid)
                .bind(a.attribute_uuid)
                .bind(&a.name)
                .bind(&a.description)
                .bind(&a.attribute_default)
                .execute(&mut *tx)
                .await
                .map_err(conflict)?
                .rows_affected();
                if n == 0 {
                    return Ok(false);
                }
                for table in [
                    "DELETE FROM user_attribute_values WHERE attribute_uuid = $1",
                    "DELETE FROM group_attribute_values WHERE attribute_uuid = $1",
                ] {
                    sqlx::query(table)
                        .bind(a.attribute_uuid)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            if !users.is_empty() {
                let mut qb = sqlx::QueryBuilder::new(
                    "INSERT INTO user_attribute_values (attribute_uuid, user_uuid, value) ",
                );
                qb.push_values(users.iter(), |mut b, (user, value)| {
                    b.push_bind(a.attribute_uuid)
                        .push_bind(*user)
                        .push_bind(value.clone());
                });
                qb.build().execute(&mut *tx).await?;
            }
            if !groups.is_empty() {
                let mut qb = sqlx::QueryBuilder::new(
                    "INSERT INTO group_attribute_values (attribute_uuid, group_uuid, value) ",
                );
                qb.push_values(groups.iter(), |mut b, (group, value)| {
                    b.push_bind(a.attribute_uuid)
                        .push_bind(*group)
                        .push_bind(value.clone());
                });
                qb.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(true)
        })
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn delete_attribute(&self, org: Uuid, attribute_uuid: Uuid) -> Result<bool> {
        let n = on_pool!(&self.pool, |p| {
            let mut tx = p.begin().await?;
            // The organization's row first (the lock order, ARCHITECTURE.md): a close deletes
            // the members' values before the attribute.
            lock_organization!(tx, "$1", org);
            let n = sqlx::query(
                "DELETE FROM user_attributes WHERE organization_uuid = $1 AND attribute_uuid = $2",
            )
            .bind(org)
            .bind(attribute_uuid)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            tx.commit().await?;
            n
        });
        Ok(n > 0)
    }
}
