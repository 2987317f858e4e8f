//! Projects and who may work in them: creation, listing (only what the caller may see),
//! settings, and the direct grants of users and groups. Every decision goes through
//! [`super::access`]; users, organization roles and groups come from the [`Directory`].

use std::collections::HashMap;

use chrono::Utc;
use proto::identity::v1::OrganizationRole;
use uuid::Uuid;

use super::{
    access::{self, ProjectFacts, ProjectRole},
    directory::{Caller, Context, Directory, Lookup, Member},
    scene_cache::SpacesCache,
};
use crate::{
    error::{Error, Result, denied},
    store::{GrantRecord, OutboxEvent, ProjectRecord, ProjectsStore, StoreError},
};

/// Longest project name, in characters.
pub const MAX_NAME_CHARS: usize = 255;
/// Warehouse types a project may name (Lightdash's `WarehouseTypes`).
pub const WAREHOUSE_TYPES: [&str; 6] = [
    "bigquery",
    "postgres",
    "redshift",
    "snowflake",
    "databricks",
    "trino",
];

/// A project with the caller's effective role in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectView {
    pub project: ProjectRecord,
    pub caller_role: ProjectRole,
}

/// A user's role in a project, with who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRole {
    pub project_uuid: Uuid,
    pub member: Member,
    pub role: ProjectRole,
}

/// Input of a new project.
#[derive(Debug, Clone, Default)]
pub struct NewProject {
    pub name: String,
    pub warehouse_connection_uuid: Option<String>,
    pub upstream_project_uuid: Option<String>,
    pub warehouse_type: Option<String>,
    pub project_type: Option<String>,
}

/// The projects domain service.
#[derive(Debug)]
pub struct Projects {
    store: std::sync::Arc<dyn ProjectsStore>,
    directory: std::sync::Arc<dyn Directory>,
    spaces_cache: SpacesCache,
}

pub(crate) fn not_found() -> Error {
    Error::NotFound("project not found".into())
}

fn parse_uuid(field: &str, value: &str) -> Result<Uuid> {
    Uuid::parse_str(value.trim())
        .map_err(|_| Error::InvalidArgument(format!("{field} must be a UUID").into()))
}

fn project_role_name(value: &str) -> Result<ProjectRole> {
    ProjectRole::parse(value).map_err(|_| {
        Error::InvalidArgument(
            "role must be viewer, interactive_viewer, editor, developer or admin".into(),
        )
    })
}

fn project_name(value: &str) -> Result<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(Error::InvalidArgument("name is required".into()));
    }
    if v.chars().count() > MAX_NAME_CHARS || v.chars().any(char::is_control) {
        return Err(Error::InvalidArgument(
            format!("name must be at most {MAX_NAME_CHARS} characters, without control characters")
                .into(),
        ));
    }
    Ok(v.to_owned())
}

/// An IANA time zone name, as the tz database spells it.
fn timezone(value: &str) -> Result<String> {
    value
        .trim()
        .parse::<chrono_tz::Tz>()
        .map(|tz| tz.name().to_owned())
        .map_err(|_| Error::InvalidArgument(format!("{value:?} is not an IANA time zone").into()))
}

/// The facts about `member` in one project from the grants read for it.
pub(crate) fn facts(
    member: &Member,
    project: Uuid,
    users: &[GrantRecord],
    groups: &[GrantRecord],
) -> Result<ProjectFacts> {
    let user_grant = users
        .iter()
        .find(|g| g.project_uuid == project && g.grantee_uuid == member.user_uuid)
        .map(|g| project_role_name(&g.role))
        .transpose()?;
    let group_grants = groups
        .iter()
        .filter(|g| g.project_uuid == project && member.groups.contains(&g.grantee_uuid))
        .map(|g| project_role_name(&g.role))
        .collect::<Result<Vec<_>>>()?;
    Ok(ProjectFacts {
        org_role: Some(member.role),
        user_grant,
        group_grants,
    })
}

impl Projects {
    /// Builds the service; its cache of projects' spaces holds at most `spaces_cache_rows`
    /// spaces and grants ([`SpacesCache`]).
    pub fn new(
        store: std::sync::Arc<dyn ProjectsStore>,
        directory: std::sync::Arc<dyn Directory>,
        spaces_cache_rows: usize,
    ) -> Self {
        Self {
            store,
            directory,
            spaces_cache: SpacesCache::new(spaces_cache_rows),
        }
    }

    pub(crate) fn spaces_cache(&self) -> &SpacesCache {
        &self.spaces_cache
    }

    pub(crate) fn store(&self) -> &dyn ProjectsStore {
        self.store.as_ref()
    }

    pub(crate) fn directory(&self) -> &dyn Directory {
        self.directory.as_ref()
    }

    async fn context(&self, caller: &Caller, lookup: Lookup, groups: bool) -> Result<Context> {
        self.directory.context(caller, lookup, groups).await
    }

    /// `member`'s effective role in `project` (reads the project's grants).
    async fn role_in(&self, member: &Member, project: Uuid) -> Result<Option<ProjectRole>> {
        let users = self.store.user_grants(project).await?;
        let groups = self.store.group_grants(project).await?;
        Ok(access::project_role(&facts(member, project, &users, &groups)?).role)
    }

    /// A project the caller may see, with their role; NOT_FOUND otherwise (AC-8).
    async fn visible(&self, ctx: &Context, project_uuid: &str) -> Result<ProjectView> {
        let id = Uuid::parse_str(project_uuid).map_err(|_| not_found())?;
        let project = self
            .store
            .project(ctx.organization_uuid, id)
            .await?
            .ok_or_else(not_found)?;
        let role = self
            .role_in(&ctx.caller, id)
            .await?
            .filter(|r| access::can_view_project(Some(*r)))
            .ok_or_else(not_found)?;
        Ok(ProjectView {
            project,
            caller_role: role,
        })
    }

    /// A project the caller may manage (project admins).
    async fn managed(&self, ctx: &Context, project_uuid: &str) -> Result<ProjectView> {
        let view = self.visible(ctx, project_uuid).await?;
        if !access::can_manage_project(Some(view.caller_role)) {
            return Err(denied());
        }
        Ok(view)
    }

    /// Creates a project in the caller's organization (organization developers and admins);
    /// the creator gets an admin grant on it.
    pub async fn create(&self, caller: &Caller, input: NewProject) -> Result<ProjectView> {
        let ctx = self.context(caller, Lookup::None, false).await?;
        if ctx.caller.role < OrganizationRole::Developer {
            return Err(denied());
        }
        let name = project_name(&input.name)?;
        let warehouse_type = input.warehouse_type.as_deref().unwrap_or("postgres");
        if !WAREHOUSE_TYPES.contains(&warehouse_type) {
            return Err(Error::InvalidArgument(
                format!(
                    "warehouseType must be one of {}",
                    WAREHOUSE_TYPES.join(", ")
                )
                .into(),
            ));
        }
        let project_type = input.project_type.as_deref().unwrap_or("DEFAULT");
        if !["DEFAULT", "PREVIEW"].contains(&project_type) {
            return Err(Error::InvalidArgument(
                "type must be DEFAULT or PREVIEW".into(),
            ));
        }
        let warehouse_connection_uuid = input
            .warehouse_connection_uuid
            .as_deref()
            .map(|v| parse_uuid("warehouseConnectionUuid", v))
            .transpose()?;
        let upstream = match input.upstream_project_uuid.as_deref() {
            Some(v) => Some(self.upstream(&ctx, v, None).await?),
            None => None,
        };
        let now = Utc::now();
        let project = ProjectRecord {
            project_uuid: Uuid::now_v7(),
            organization_uuid: ctx.organization_uuid,
            name,
            project_type: project_type.to_owned(),
            created_by_user_uuid: Some(caller.user_uuid),
            scheduler_timezone: "UTC".into(),
            upstream_project_uuid: upstream,
            warehouse_connection_uuid,
            warehouse_type: warehouse_type.to_owned(),
            created_at: now,
            updated_at: now,
            spaces_version: 0,
        };
        self.store
            .insert_project(&project, Some(caller.user_uuid))
            .await?;
        tracing::info!(user_uuid = %caller.user_uuid, project_uuid = %project.project_uuid, "project created");
        Ok(ProjectView {
            project,
            caller_role: ProjectRole::Admin,
        })
    }

    /// An upstream project: another project of the organization.
    async fn upstream(&self, ctx: &Context, value: &str, this: Option<Uuid>) -> Result<Uuid> {
        let id = parse_uuid("upstreamProjectUuid", value)?;
        if Some(id) == this {
            return Err(Error::InvalidArgument(
                "a project cannot be its own upstream".into(),
            ));
        }
        // Only a project the caller may see (else its existence would leak, AC-8).
        let seen = match self.store.project(ctx.organization_uuid, id).await? {
            Some(_) => self.role_in(&ctx.caller, id).await?.is_some(),
            None => false,
        };
        if !seen {
            return Err(Error::InvalidArgument(
                "upstreamProjectUuid: no such project".into(),
            ));
        }
        Ok(id)
    }

    /// The projects of the caller's organization that the caller may see, with their role.
    /// Three queries whatever the number of projects.
    pub async fn list(&self, caller: &Caller) -> Result<Vec<ProjectView>> {
        let ctx = self.context(caller, Lookup::None, false).await?;
        let projects = self.store.projects(ctx.organization_uuid).await?;
        let (users, groups) = self
            .store
            .grants_of(
                ctx.organization_uuid,
                ctx.caller.user_uuid,
                &ctx.caller.groups,
            )
            .await?;
        let mut out = Vec::new();
        for project in projects {
            let decision =
                access::project_role(&facts(&ctx.caller, project.project_uuid, &users, &groups)?);
            if let Some(role) = decision.role.filter(|r| access::can_view_project(Some(*r))) {
                out.push(ProjectView {
                    project,
                    caller_role: role,
                });
            }
        }
        Ok(out)
    }

    /// One project the caller may see.
    pub async fn get(&self, caller: &Caller, project_uuid: &str) -> Result<ProjectView> {
        let ctx = self.context(caller, Lookup::None, false).await?;
        self.visible(&ctx, project_uuid).await
    }

    /// Deletes a project (project admins); other services learn of it from the outbox.
    pub async fn delete(&self, caller: &Caller, project_uuid: &str) -> Result<()> {
        let ctx = self.context(caller, Lookup::None, false).await?;
        let view = self.managed(&ctx, project_uuid).await?;
        let id = view.project.project_uuid;
        let event = OutboxEvent {
            event_uuid: Uuid::now_v7(),
            event_type: "project.deleted",
            payload: serde_json::json!({
                "projectUuid": id,
                "organizationUuid": ctx.organization_uuid,
            })
            .to_string(),
            created_at: Utc::now(),
        };
        if !self
            .store
            .delete_project(ctx.organization_uuid, id, &event)
            .await?
        {
            return Err(not_found());
        }
        tracing::info!(user_uuid = %caller.user_uuid, project_uuid = %id, "project deleted");
        Ok(())
    }

    /// Sets or clears (empty string) the upstream project (project editors and above).
    pub async fn update_metadata(
        &self,
        caller: &Caller,
        project_uuid: &str,
        upstream: Option<&str>,
    ) -> Result<ProjectView> {
        let ctx = self.context(caller, Lookup::None, false).await?;
        let mut view = self.visible(&ctx, project_uuid).await?;
        if !access::can_update_project(Some(view.caller_role)) {
            return Err(denied());
        }
        let change = match upstream.map(str::trim) {
            None => None,
            Some("") => Some(None),
            Some(v) => Some(Some(
                self.upstream(&ctx, v, Some(view.project.project_uuid))
                    .await?,
            )),
        };
        if let Some(u) = change {
            view.project.upstream_project_uuid = u;
        }
        view.project.updated_at = Utc::now();
        self.store
            .update_project(
                ctx.organization_uuid,
                view.project.project_uuid,
                change,
                None,
                view.project.updated_at,
            )
            .await?;
        Ok(view)
    }

    /// Sets the scheduler's time zone, checked against the IANA database (project editors and
    /// above).
    pub async fn update_scheduler(
        &self,
        caller: &Caller,
        project_uuid: &str,
        tz: &str,
    ) -> Result<ProjectView> {
        let ctx = self.context(caller, Lookup::None, false).await?;
        let mut view = self.visible(&ctx, project_uuid).await?;
        if !access::can_update_project(Some(view.caller_role)) {
            return Err(denied());
        }
        view.project.scheduler_timezone = timezone(tz)?;
        view.project.updated_at = Utc::now();
        self.store
            .update_project(
                ctx.organization_uuid,
                view.project.project_uuid,
                None,
                Some(&view.project.scheduler_timezone),
                view.project.updated_at,
            )
            .await?;
        Ok(view)
    }

    /// The direct user grants of a project, for the members of the organization (anyone who
    /// may see the project).
    pub async fn user_access(
        &self,
        caller: &Caller,
        project_uuid: &str,
    ) -> Result<Vec<MemberRole>> {
        let ctx = self.context(caller, Lookup::None, false).await?;
        let view = self.visible(&ctx, project_uuid).await?;
        let grants = self.store.user_grants(view.project.project_uuid).await?;
        let ids = grants.iter().map(|g| g.grantee_uuid).collect();
        let people = self.context(caller, Lookup::Users(ids), false).await?;
        let by_id: HashMap<Uuid, &Member> = std::iter::once(&people.caller)
            .chain(&people.members)
            .map(|m| (m.user_uuid, m))
            .collect();
        // A grant of someone who left the organization is not shown (and gives nothing).
        grants
            .iter()
            .filter_map(|g| by_id.get(&g.grantee_uuid).map(|m| (g, *m)))
            .map(|(g, m)| {
                Ok(MemberRole {
                    project_uuid: g.project_uuid,
                    member: m.clone(),
                    role: project_role_name(&g.role)?,
                })
            })
            .collect()
    }

    /// Grants a member of the organization, named by email, a role in the project (project
    /// admins). ALREADY_EXISTS when they have a grant.
    pub async fn grant_user(
        &self,
        caller: &Caller,
        project_uuid: &str,
        email: &str,
        role: &str,
    ) -> Result<MemberRole> {
        let role = project_role_name(role)?;
        let email = email.trim().to_lowercase();
        if email.is_empty() || email.len() > 254 {
            return Err(Error::InvalidArgument("email is required".into()));
        }
        let ctx = self.context(caller, Lookup::Email(email), false).await?;
        let view = self.managed(&ctx, project_uuid).await?;
        let member = ctx.members.first().cloned().ok_or(Error::NotFound(
            "no member of the organization has this email".into(),
        ))?;
        let grant = GrantRecord {
            project_uuid: view.project.project_uuid,
            grantee_uuid: member.user_uuid,
            role: role.as_str().to_owned(),
        };
        match self.store.put_user_grant(&grant, true).await {
            Ok(_) => {}
            Err(StoreError::Conflict) => {
                return Err(Error::AlreadyExists(
                    "This user already has access to the project".into(),
                ));
            }
            Err(e) => return Err(e.into()),
        }
        tracing::info!(user_uuid = %caller.user_uuid, project_uuid = %grant.project_uuid, grantee = %member.user_uuid, role = role.as_str(), "project access granted");
        Ok(MemberRole {
            project_uuid: grant.project_uuid,
            member,
            role,
        })
    }

    /// Changes a user's direct grant (project admins); NOT_FOUND when they have none.
    pub async fn update_user(
        &self,
        caller: &Caller,
        project_uuid: &str,
        user_uuid: &str,
        role: &str,
    ) -> Result<MemberRole> {
        let role = project_role_name(role)?;
        let user =
            Uuid::parse_str(user_uuid).map_err(|_| Error::NotFound("user not found".into()))?;
        let ctx = self
            .context(caller, Lookup::Users(vec![user]), false)
            .await?;
        let view = self.managed(&ctx, project_uuid).await?;
        let member = ctx
            .member(user)
            .cloned()
            .ok_or(Error::NotFound("user not found".into()))?;
        let grant = GrantRecord {
            project_uuid: view.project.project_uuid,
            grantee_uuid: user,
            role: role.as_str().to_owned(),
        };
        if !self.store.put_user_grant(&grant, false).await? {
            return Err(Error::NotFound(
                "this user has no access of their own to the project".into(),
            ));
        }
        Ok(MemberRole {
            project_uuid: grant.project_uuid,
            member,
            role,
        })
    }

    /// Removes a user's direct grant (project admins).
    pub async fn revoke_user(
        &self,
        caller: &Caller,
        project_uuid: &str,
        user_uuid: &str,
    ) -> Result<()> {
        let ctx = self.context(caller, Lookup::None, false).await?;
        let view = self.managed(&ctx, project_uuid).await?;
        let user =
            Uuid::parse_str(user_uuid).map_err(|_| Error::NotFound("user not found".into()))?;
        if !self
            .store
            .delete_user_grant(view.project.project_uuid, user)
            .await?
        {
            return Err(Error::NotFound(
                "this user has no access of their own to the project".into(),
            ));
        }
        Ok(())
    }

    /// A member's effective role in the project (project admins, or the member themselves);
    /// NOT_FOUND when they have none.
    pub async fn member_access(
        &self,
        caller: &Caller,
        project_uuid: &str,
        user_uuid: &str,
    ) -> Result<MemberRole> {
        let user =
            Uuid::parse_str(user_uuid).map_err(|_| Error::NotFound("user not found".into()))?;
        let ctx = self
            .context(caller, Lookup::Users(vec![user]), false)
            .await?;
        let view = self.visible(&ctx, project_uuid).await?;
        if user != caller.user_uuid && !access::can_manage_project(Some(view.caller_role)) {
            return Err(denied());
        }
        let member = ctx
            .member(user)
            .cloned()
            .ok_or(Error::NotFound("user not found".into()))?;
        let role = self
            .role_in(&member, view.project.project_uuid)
            .await?
            .ok_or(Error::NotFound(
                "this user has no access to the project".into(),
            ))?;
        Ok(MemberRole {
            project_uuid: view.project.project_uuid,
            member,
            role,
        })
    }

    /// The group grants of a project (anyone who may see it).
    pub async fn group_access(
        &self,
        caller: &Caller,
        project_uuid: &str,
    ) -> Result<Vec<GrantRecord>> {
        let ctx = self.context(caller, Lookup::None, false).await?;
        let view = self.visible(&ctx, project_uuid).await?;
        Ok(self.store.group_grants(view.project.project_uuid).await?)
    }

    /// Grants (`create`) or changes a group's role in the project (project admins); the group
    /// must be one of the organization's.
    pub async fn set_group(
        &self,
        caller: &Caller,
        project_uuid: &str,
        group_uuid: &str,
        role: &str,
        create: bool,
    ) -> Result<GrantRecord> {
        let role = project_role_name(role)?;
        let ctx = self.context(caller, Lookup::None, true).await?;
        let view = self.managed(&ctx, project_uuid).await?;
        let group =
            Uuid::parse_str(group_uuid).map_err(|_| Error::NotFound("group not found".into()))?;
        if !ctx.groups.iter().any(|(g, _)| *g == group) {
            return Err(Error::NotFound("group not found".into()));
        }
        let grant = GrantRecord {
            project_uuid: view.project.project_uuid,
            grantee_uuid: group,
            role: role.as_str().to_owned(),
        };
        match self.store.put_group_grant(&grant, create).await {
            Ok(true) => Ok(grant),
            Ok(false) => Err(Error::NotFound(
                "this group has no access to the project".into(),
            )),
            Err(StoreError::Conflict) => Err(Error::AlreadyExists(
                "This group already has access to the project".into(),
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes a group's grant (project admins).
    pub async fn revoke_group(
        &self,
        caller: &Caller,
        project_uuid: &str,
        group_uuid: &str,
    ) -> Result<()> {
        let ctx = self.context(caller, Lookup::None, false).await?;
        let view = self.managed(&ctx, project_uuid).await?;
        let group =
            Uuid::parse_str(group_uuid).map_err(|_| Error::NotFound("group not found".into()))?;
        if !self
            .store
            .delete_group_grant(view.project.project_uuid, group)
            .await?
        {
            return Err(Error::NotFound(
                "this group has no access to the project".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_zones_come_from_the_iana_database() {
        assert_eq!(timezone("Europe/Paris").unwrap(), "Europe/Paris");
        assert_eq!(timezone(" UTC ").unwrap(), "UTC");
        assert!(timezone("Mars/Olympus_Mons").is_err());
        assert!(timezone("").is_err());
    }

    #[test]
    fn names_are_bounded() {
        assert!(project_name("  ").is_err());
        assert!(project_name(&"x".repeat(256)).is_err());
        assert_eq!(project_name(" Sales ").unwrap(), "Sales");
    }
}
