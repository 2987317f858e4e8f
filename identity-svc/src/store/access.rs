//! Access contexts: the members of an organization with their groups, as the other services
//! ask for them to decide access.

use std::collections::HashMap;

use service_kit::on_pool;
use uuid::Uuid;

use super::{
    GroupRecord, MemberRecord, Result, SqlStore, groups::group_columns,
    organizations::member_columns,
};

/// Which members [`AccessContextStore::access_contexts`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberFilter {
    /// These users (non-members are left out).
    Users(Vec<Uuid>),
    /// The member with this (normalised) email.
    Email(String),
    /// Every member.
    All,
}

/// Members with their groups' ids, and the organization's groups.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessContexts {
    pub members: Vec<(MemberRecord, Vec<Uuid>)>,
    pub groups: Vec<GroupRecord>,
}

/// Access contexts.
#[async_trait::async_trait]
pub trait AccessContextStore: Send + Sync {
    /// Members of an organization chosen by `filter`, with the organization's groups each
    /// belongs to, and (when `with_groups`) every group of the organization.
    async fn access_contexts(
        &self,
        organization_uuid: Uuid,
        filter: &MemberFilter,
        with_groups: bool,
    ) -> Result<AccessContexts>;
}

#[async_trait::async_trait]
impl AccessContextStore for SqlStore {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn access_contexts(
        &self,
        org: Uuid,
        filter: &MemberFilter,
        with_groups: bool,
    ) -> Result<AccessContexts> {
        let (members, memberships, groups) = on_pool!(&self.pool, |p| {
            let mut qb = sqlx::QueryBuilder::new(concat!(
                "SELECT ",
                member_columns!(),
                " FROM memberships m JOIN users u ON u.user_uuid = m.user_uuid \
                 WHERE m.organization_uuid = "
            ));
            qb.push_bind(org);
            match filter {
                MemberFilter::Users(ids) if ids.is_empty() => {
                    qb.push(" AND 1 = 0");
                }
                MemberFilter::Users(ids) => {
                    qb.push(" AND m.user_uuid IN (");
                    let mut list = qb.separated(", ");
                    for id in ids {
                        list.push_bind(*id);
                    }
                    qb.push(")");
                }
                MemberFilter::Email(email) => {
                    qb.push(" AND u.email = ").push_bind(email.clone());
                }
                MemberFilter::All => {}
            }
            qb.push(" ORDER BY u.user_uuid");
            let members: Vec<MemberRecord> = qb.build_query_as().fetch_all(p).await?;
            let mut memberships: Vec<(Uuid, Uuid)> = Vec::new();
            if !members.is_empty() {
                let mut qb = sqlx::QueryBuilder::new(
                    "SELECT gm.user_uuid, gm.group_uuid FROM group_memberships gm \
                     JOIN groups g ON g.group_uuid = gm.group_uuid WHERE g.organization_uuid = ",
                );
                qb.push_bind(org);
                if !matches!(filter, MemberFilter::All) {
                    qb.push(" AND gm.user_uuid IN (");
                    let mut list = qb.separated(", ");
                    for m in &members {
                        list.push_bind(m.user_uuid);
                    }
                    qb.push(")");
                }
                memberships = qb.build_query_as().fetch_all(p).await?;
            }
            let groups: Vec<GroupRecord> = if with_groups {
                sqlx::query_as(concat!(
                    "SELECT ",
                    group_columns!(),
                    " FROM groups WHERE organization_uuid = $1 ORDER BY LOWER(name), group_uuid"
                ))
                .bind(org)
                .fetch_all(p)
                .await?
            } else {
                Vec::new()
            };
            (members, memberships, groups)
        });
        let mut by_user: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
        for (user, group) in memberships {
            by_user.entry(user).or_default().push(group);
        }
        Ok(AccessContexts {
            members: members
                .into_iter()
                .map(|m| {
                    let groups = by_user.remove(&m.user_uuid).unwrap_or_default();
                    (m, groups)
                })
                .collect(),
            groups,
        })
    }
}
