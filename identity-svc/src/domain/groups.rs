//! Groups of an organization's members. Every member may see them; only an admin creates,
//! changes or deletes a group or its membership (reference/lightdash.md, section 2.3). A group
//! holds only members of its organization; another organization's group answers NOT_FOUND.

use std::collections::{BTreeSet, HashMap};

use chrono::Utc;
use service_kit::jwt::AccessClaims;
use uuid::Uuid;

use super::{
    Identity,
    organizations::{OrgAction, Paging, event, guard, like_pattern},
};
use crate::{
    error::{Error, Result},
    store::{GroupMemberRecord, GroupRecord, StoreError},
};

/// Most members one request may set.
pub const MAX_MEMBERS_PER_REQUEST: usize = 1000;
/// Longest group name, in characters.
pub const MAX_GROUP_NAME_CHARS: usize = 255;

/// A group and, when asked for, its members.
#[derive(Debug)]
pub struct GroupView {
    pub group: GroupRecord,
    pub members: Option<Vec<GroupMemberRecord>>,
}

/// A page of groups.
#[derive(Debug)]
pub struct GroupPage {
    pub groups: Vec<GroupView>,
    pub page: u32,
    pub page_size: u32,
    pub total: u64,
}

fn not_found() -> Error {
    Error::NotFound("group not found".into())
}

fn group_name(value: &str) -> Result<String> {
    let v = value.trim();
    if v.is_empty() || v.chars().count() > MAX_GROUP_NAME_CHARS || v.chars().any(char::is_control) {
        return Err(Error::InvalidArgument(
            format!(
                "name must be 1 to {MAX_GROUP_NAME_CHARS} characters, without control characters"
            )
            .into(),
        ));
    }
    Ok(v.to_owned())
}

fn parse_uuid(value: &str) -> Result<Uuid> {
    Uuid::parse_str(value).map_err(|_| not_found())
}

impl Identity {
    /// Parses and checks that every user is a member of `org`; returns them deduplicated.
    async fn organization_members(&self, org: Uuid, users: &[String]) -> Result<Vec<Uuid>> {
        if users.len() > MAX_MEMBERS_PER_REQUEST {
            return Err(Error::InvalidArgument(
                format!("at most {MAX_MEMBERS_PER_REQUEST} members at once").into(),
            ));
        }
        let wanted: BTreeSet<Uuid> = users
            .iter()
            .map(|u| {
                Uuid::parse_str(u)
                    .map_err(|_| Error::InvalidArgument(format!("{u:?} is not a user UUID").into()))
            })
            .collect::<Result<_>>()?;
        let wanted: Vec<Uuid> = wanted.into_iter().collect();
        let found: BTreeSet<Uuid> = self
            .store
            .members_among(org, &wanted)
            .await?
            .into_iter()
            .collect();
        if let Some(missing) = wanted.iter().find(|u| !found.contains(u)) {
            return Err(Error::InvalidArgument(
                format!("user {missing} is not a member of the organization").into(),
            ));
        }
        Ok(wanted)
    }

    async fn with_members(
        &self,
        groups: Vec<GroupRecord>,
        include: bool,
    ) -> Result<Vec<GroupView>> {
        if !include {
            return Ok(groups
                .into_iter()
                .map(|group| GroupView {
                    group,
                    members: None,
                })
                .collect());
        }
        let ids: Vec<Uuid> = groups.iter().map(|g| g.group_uuid).collect();
        let mut by_group: HashMap<Uuid, Vec<GroupMemberRecord>> = HashMap::new();
        for m in self.store.group_members(&ids).await? {
            by_group.entry(m.group_uuid).or_default().push(m);
        }
        Ok(groups
            .into_iter()
            .map(|group| {
                let members = by_group.remove(&group.group_uuid).unwrap_or_default();
                GroupView {
                    group,
                    members: Some(members),
                }
            })
            .collect())
    }

    /// Creates a group in the caller's organization (admins only).
    pub async fn create_group(
        &self,
        claims: &AccessClaims,
        name: &str,
        members: &[String],
    ) -> Result<GroupView> {
        let (user, m, _) = self.authorize(claims, OrgAction::ManageMembers).await?;
        let org = m.organization.organization_uuid;
        let name = group_name(name)?;
        let members = self.organization_members(org, members).await?;
        let now = Utc::now();
        let group = GroupRecord {
            group_uuid: Uuid::now_v7(),
            organization_uuid: org,
            name,
            created_by_user_uuid: Some(user),
            updated_by_user_uuid: Some(user),
            created_at: now,
            updated_at: now,
        };
        let guard = guard(org, user, OrgAction::ManageMembers);
        match self.store.create_group(&group, &members, &guard).await {
            Ok(()) => {}
            Err(StoreError::Conflict) => {
                return Err(Error::AlreadyExists(
                    "A group with this name already exists".into(),
                ));
            }
            Err(e) => return Err(e.into()),
        }
        tracing::info!(user_uuid = %user, organization_uuid = %org, group_uuid = %group.group_uuid, "group created");
        Ok(self.with_members(vec![group], true).await?.remove(0))
    }

    /// A page of the caller's organization's groups.
    pub async fn list_groups(
        &self,
        claims: &AccessClaims,
        page: u32,
        page_size: u32,
        search: Option<&str>,
        include_members: bool,
    ) -> Result<GroupPage> {
        let (_, m, _) = self.authorize(claims, OrgAction::ViewMembers).await?;
        let Paging {
            page,
            page_size,
            offset,
        } = Paging::new(page, page_size)?;
        let pattern = like_pattern("searchQuery", search)?;
        let (groups, total) = self
            .store
            .groups(
                m.organization.organization_uuid,
                pattern.as_deref(),
                i64::from(page_size),
                offset,
            )
            .await?;
        let groups = self.with_members(groups, include_members).await?;
        Ok(GroupPage {
            groups,
            page,
            page_size,
            total: u64::try_from(total).unwrap_or(0),
        })
    }

    async fn my_group(
        &self,
        claims: &AccessClaims,
        action: OrgAction,
        group_uuid: &str,
    ) -> Result<(Uuid, GroupRecord)> {
        let (user, m, _) = self.authorize(claims, action).await?;
        let group = self
            .store
            .group(m.organization.organization_uuid, parse_uuid(group_uuid)?)
            .await?
            .ok_or_else(not_found)?;
        Ok((user, group))
    }

    /// One group of the caller's organization.
    pub async fn get_group(
        &self,
        claims: &AccessClaims,
        group_uuid: &str,
        include_members: bool,
    ) -> Result<GroupView> {
        let (_, group) = self
            .my_group(claims, OrgAction::ViewMembers, group_uuid)
            .await?;
        Ok(self
            .with_members(vec![group], include_members)
            .await?
            .remove(0))
    }

    /// The members of one group.
    pub async fn group_members(
        &self,
        claims: &AccessClaims,
        group_uuid: &str,
    ) -> Result<Vec<GroupMemberRecord>> {
        let (_, group) = self
            .my_group(claims, OrgAction::ViewMembers, group_uuid)
            .await?;
        Ok(self.store.group_members(&[group.group_uuid]).await?)
    }

    /// Renames a group and/or replaces its members (admins only).
    pub async fn update_group(
        &self,
        claims: &AccessClaims,
        group_uuid: &str,
        name: Option<&str>,
        members: Option<&[String]>,
    ) -> Result<GroupView> {
        let (user, mut group) = self
            .my_group(claims, OrgAction::ManageMembers, group_uuid)
            .await?;
        if let Some(name) = name {
            group.name = group_name(name)?;
        }
        let members = match members {
            Some(m) => Some(
                self.organization_members(group.organization_uuid, m)
                    .await?,
            ),
            None => None,
        };
        group.updated_by_user_uuid = Some(user);
        group.updated_at = Utc::now();
        let guard = guard(group.organization_uuid, user, OrgAction::ManageMembers);
        match self
            .store
            .update_group(&group, members.as_deref(), &guard)
            .await
        {
            Ok(()) => {}
            Err(StoreError::Conflict) => {
                return Err(Error::AlreadyExists(
                    "A group with this name already exists".into(),
                ));
            }
            Err(e) => return Err(e.into()),
        }
        Ok(self.with_members(vec![group], true).await?.remove(0))
    }

    /// Deletes a group (admins only); other services learn of it from the outbox.
    pub async fn delete_group(&self, claims: &AccessClaims, group_uuid: &str) -> Result<()> {
        let (user, group) = self
            .my_group(claims, OrgAction::ManageMembers, group_uuid)
            .await?;
        let event = event(
            "group.deleted",
            serde_json::json!({ "organizationUuid": group.organization_uuid, "groupUuid": group.group_uuid }),
        );
        if !self
            .store
            .delete_group(group.organization_uuid, group.group_uuid, &event)
            .await?
        {
            return Err(not_found());
        }
        tracing::info!(user_uuid = %user, group_uuid = %group.group_uuid, "group deleted");
        Ok(())
    }

    /// Adds a member of the organization to a group (admins only).
    pub async fn add_group_member(
        &self,
        claims: &AccessClaims,
        group_uuid: &str,
        user_uuid: &str,
    ) -> Result<()> {
        let (user, group) = self
            .my_group(claims, OrgAction::ManageMembers, group_uuid)
            .await?;
        let target =
            Uuid::parse_str(user_uuid).map_err(|_| Error::NotFound("user not found".into()))?;
        // The store checks that the target is a member, in the same transaction as the insert.
        let guard = guard(group.organization_uuid, user, OrgAction::ManageMembers);
        self.store
            .add_group_member(group.group_uuid, target, &guard)
            .await?;
        Ok(())
    }

    /// Removes a member from a group (admins only).
    pub async fn remove_group_member(
        &self,
        claims: &AccessClaims,
        group_uuid: &str,
        user_uuid: &str,
    ) -> Result<()> {
        let (_, group) = self
            .my_group(claims, OrgAction::ManageMembers, group_uuid)
            .await?;
        let target =
            Uuid::parse_str(user_uuid).map_err(|_| Error::NotFound("user not found".into()))?;
        if !self
            .store
            .remove_group_member(group.group_uuid, target)
            .await?
        {
            return Err(Error::NotFound("user is not a member of the group".into()));
        }
        Ok(())
    }
}
