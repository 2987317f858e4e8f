//! Spaces: nested, private or public, with user and group grants, and who may see and change
//! them, decided by [`super::access::space_access`] on facts gathered once per request: a
//! listing costs a fixed number of queries and one identity-svc call whatever the number of
//! spaces (the chains are walked in memory).

use std::sync::Arc;

use chrono::Utc;
use uuid::Uuid;

use super::{
    access::{self, ProjectFacts, ProjectRole, Rule, SpaceDecision, SpaceFacts, SpaceRole},
    directory::{Caller, Context, Lookup, Member},
    projects::{Projects, facts, not_found as project_not_found},
    scene_cache::Spaces,
};
use crate::{
    error::{Error, Result, denied},
    store::{GrantRecord, ProjectRecord, SpaceGrantRecord, SpaceRecord},
};

/// Longest space name, in characters.
pub const MAX_NAME_CHARS: usize = 255;
/// Deepest nesting of spaces.
pub const MAX_DEPTH: usize = 20;

fn not_found() -> Error {
    Error::NotFound("space not found".into())
}

fn space_role(value: &str) -> Result<SpaceRole> {
    SpaceRole::parse(value)
        .map_err(|_| Error::InvalidArgument("spaceRole must be viewer, editor or admin".into()))
}

fn space_name(value: &str) -> Result<String> {
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

/// A URL slug of a name: lower-case ASCII letters and digits, runs of anything else as one `-`.
fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let s = out.trim_matches('-').to_owned();
    if s.is_empty() { "space".into() } else { s }
}

/// Input of a new space.
#[derive(Debug, Clone, Default)]
pub struct NewSpace {
    pub name: String,
    pub is_private: Option<bool>,
    /// (user uuid, space role) granted at creation.
    pub access: Vec<(String, String)>,
    pub parent_space_uuid: Option<String>,
    pub inherit_parent_permissions: Option<bool>,
}

/// Changes to a space; `None` keeps the value.
#[derive(Debug, Clone, Default)]
pub struct SpaceUpdate {
    pub name: Option<String>,
    pub is_private: Option<bool>,
    pub inherit_parent_permissions: Option<bool>,
}

/// Someone with access to a space, and how they have it (Lightdash's `SpaceShare`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Share {
    pub member: Member,
    pub role: SpaceRole,
    /// A grant of their own on the space or on an ancestor it inherits from.
    pub has_direct_access: bool,
    pub project_role: Option<ProjectRole>,
    /// Where an access without a direct grant comes from: organization, project, group or
    /// space_group.
    pub inherited_from: Option<&'static str>,
}

/// A space as its viewers see it.
#[derive(Debug, Clone)]
pub struct SpaceView {
    pub organization_uuid: Uuid,
    pub space: SpaceRecord,
    pub caller_role: SpaceRole,
    /// Everyone with access.
    pub access: Vec<Share>,
    /// The direct group grants of the space: (group, name, role).
    pub groups_access: Vec<(Uuid, String, SpaceRole)>,
    /// Users with a direct grant on the space.
    pub direct_users: Vec<Uuid>,
}

/// The spaces of a project a caller may see, in the store's order (by name).
#[derive(Debug)]
pub struct SpaceListing {
    pub organization_uuid: Uuid,
    pub project_uuid: Uuid,
    spaces: Arc<Spaces>,
    /// The visible spaces, each with whether project roles do not reach it (`isPrivate`).
    visible: Vec<(Uuid, bool)>,
}

impl SpaceListing {
    /// Each visible space, whether it is private as its chain decides, and its direct user
    /// grants (borrowed: a listing may hold thousands of spaces).
    pub fn iter(&self) -> impl Iterator<Item = (&SpaceRecord, bool, &[SpaceGrantRecord])> {
        self.visible.iter().filter_map(|(id, is_private)| {
            let space = self.spaces.spaces.get(id)?;
            let users = self
                .spaces
                .user_grants
                .get(id)
                .map_or(&[][..], Vec::as_slice);
            Some((space, *is_private, users))
        })
    }

    pub fn len(&self) -> usize {
        self.visible.len()
    }

    pub fn is_empty(&self) -> bool {
        self.visible.is_empty()
    }
}

/// The facts of one project, read once per request.
struct Scene {
    ctx: Context,
    project: ProjectRecord,
    project_users: Vec<GrantRecord>,
    project_groups: Vec<GrantRecord>,
    /// The project's spaces and all their direct grants (shared with the cache).
    data: Arc<Spaces>,
}

impl Scene {
    /// The space and its ancestors, leaf first.
    fn chain(&self, space: Uuid) -> Vec<&SpaceRecord> {
        let mut chain = Vec::new();
        let mut next = Some(space);
        while let Some(id) = next {
            let Some(s) = self.data.spaces.get(&id) else {
                break;
            };
            chain.push(s);
            if chain.len() > MAX_DEPTH {
                break;
            }
            next = s.parent_space_uuid;
        }
        chain
    }

    /// Whether project roles do not reach the space: a root space that is private, or a chain
    /// that stops at a nested space that does not inherit (what `isPrivate` reports).
    fn is_private(&self, space: Uuid) -> bool {
        for s in self.chain(space) {
            match s.parent_space_uuid {
                None => return s.is_private,
                Some(_) if !s.inherit_parent_permissions => return true,
                Some(_) => {}
            }
        }
        true
    }

    fn project_facts(&self, member: &Member) -> Result<ProjectFacts> {
        facts(
            member,
            self.project.project_uuid,
            &self.project_users,
            &self.project_groups,
        )
    }

    fn decide(&self, member: &Member, space: Uuid) -> Result<(SpaceDecision, ProjectFacts)> {
        let project = self.project_facts(member)?;
        let chain = self.chain_facts(member, space)?;
        Ok((access::space_access(&project, &chain), project))
    }

    /// The facts of `member` along the chain of `space`, leaf first.
    fn chain_facts(&self, member: &Member, space: Uuid) -> Result<Vec<SpaceFacts>> {
        self.chain(space)
            .into_iter()
            .map(|s| {
                let user_grant = self
                    .data
                    .user_grants
                    .get(&s.space_uuid)
                    .and_then(|gs| gs.iter().find(|g| g.grantee_uuid == member.user_uuid))
                    .map(|g| space_role(&g.role))
                    .transpose()?;
                let group_grants = self
                    .data
                    .group_grants
                    .get(&s.space_uuid)
                    .map(|gs| {
                        gs.iter()
                            .filter(|g| member.groups.contains(&g.grantee_uuid))
                            .map(|g| space_role(&g.role))
                            .collect::<Result<Vec<_>>>()
                    })
                    .transpose()?
                    .unwrap_or_default();
                Ok(SpaceFacts {
                    space_uuid: s.space_uuid,
                    is_private: s.is_private,
                    inherit_parent_permissions: s.inherit_parent_permissions,
                    user_grant,
                    group_grants,
                })
            })
            .collect::<Result<Vec<_>>>()
    }

    fn share(&self, member: &Member, space: Uuid) -> Result<Option<Share>> {
        let (decision, project) = self.decide(member, space)?;
        let Some(role) = decision.role else {
            return Ok(None);
        };
        let project_decision = access::project_role(&project);
        let decided_by = decision.steps.last().map(|s| s.rule);
        let has_direct_access = decided_by == Some(Rule::DirectSpaceGrant);
        let inherited_from = match decided_by {
            Some(Rule::DirectSpaceGrant) => None,
            Some(Rule::GroupSpaceGrant) => Some("space_group"),
            _ => project_decision
                .steps
                .iter()
                .rev()
                .find(|s| s.role == project_decision.role.map(ProjectRole::as_str))
                .map(|s| match s.rule {
                    Rule::ProjectGrant => "project",
                    Rule::GroupProjectGrant => "group",
                    Rule::SpaceGroupGrant => "space_group",
                    _ => "organization",
                }),
        };
        Ok(Some(Share {
            member: member.clone(),
            role,
            has_direct_access,
            project_role: project_decision.role,
            inherited_from,
        }))
    }
}

impl Projects {
    /// Reads the facts of a project the caller may see: the project's spaces and their grants
    /// come from the cache while the project's `spaces_version` has not moved.
    async fn scene(&self, caller: &Caller, project_uuid: &str, lookup: Lookup) -> Result<Scene> {
        let ctx = self.directory().context(caller, lookup, true).await?;
        let id = Uuid::parse_str(project_uuid).map_err(|_| project_not_found())?;
        // The project row (and its version) first: spaces read after it are at least as new.
        let project = self
            .store()
            .project(ctx.organization_uuid, id)
            .await?
            .ok_or_else(project_not_found)?;
        let project_users = self.store().user_grants(id).await?;
        let project_groups = self.store().group_grants(id).await?;
        // No project role is no reason to stop here: a group grant on a space counts toward
        // the highest role (item 4a), so such a user may see that space.
        let cache = self.spaces_cache();
        let version = project.spaces_version;
        let data = match cache.get(id, version) {
            Some(data) => data,
            None => {
                // One read per project at a time: requests that missed together share it.
                let _loading = cache.loading(id).await;
                match cache.get(id, version) {
                    Some(data) => data,
                    None => {
                        let data = Arc::new(Spaces::new(
                            self.store().spaces(id).await?,
                            self.store().space_user_grants(id).await?,
                            self.store().space_group_grants(id).await?,
                        ));
                        cache.put(id, version, data.clone());
                        data
                    }
                }
            }
        };
        Ok(Scene {
            ctx,
            project,
            project_users,
            project_groups,
            data,
        })
    }

    /// One space with everyone who has access to it.
    fn view(&self, scene: &Scene, space: Uuid, role: SpaceRole) -> Result<SpaceView> {
        let mut record = scene
            .data
            .spaces
            .get(&space)
            .cloned()
            .ok_or_else(not_found)?;
        record.is_private = scene.is_private(space);
        // A space has few group grants: look their names up in place rather than building a
        // map of every group of the organization for each space of a listing.
        let name_of = |group: Uuid| {
            scene
                .ctx
                .groups
                .iter()
                .find(|(id, _)| *id == group)
                .map(|(_, name)| name.as_str())
        };
        let groups_access = scene
            .data
            .group_grants
            .get(&space)
            .map(|gs| {
                gs.iter()
                    .filter_map(|g| name_of(g.grantee_uuid).map(|n| (g, n)))
                    .map(|(g, n)| Ok((g.grantee_uuid, n.to_owned(), space_role(&g.role)?)))
                    .collect::<Result<Vec<_>>>()
            })
            .transpose()?
            .unwrap_or_default();
        let direct_users = scene
            .data
            .user_grants
            .get(&space)
            .map(|gs| gs.iter().map(|g| g.grantee_uuid).collect())
            .unwrap_or_default();
        let mut access = Vec::new();
        for m in std::iter::once(&scene.ctx.caller).chain(&scene.ctx.members) {
            if let Some(share) = scene.share(m, space)? {
                access.push(share);
            }
        }
        access.sort_by(|a, b| a.member.email.cmp(&b.member.email));
        access.dedup_by(|a, b| a.member.user_uuid == b.member.user_uuid);
        Ok(SpaceView {
            organization_uuid: scene.ctx.organization_uuid,
            space: record,
            caller_role: role,
            access,
            groups_access,
            direct_users,
        })
    }

    /// The caller's project role.
    fn project_role_of(scene: &Scene) -> Result<Option<ProjectRole>> {
        Ok(access::project_role(&scene.project_facts(&scene.ctx.caller)?).role)
    }

    /// The caller's role in a space of the scene; NOT_FOUND when they may not see it (AC-8).
    fn caller_role(scene: &Scene, space_uuid: &str) -> Result<(Uuid, SpaceRole)> {
        let id = Uuid::parse_str(space_uuid)
            .ok()
            .filter(|id| scene.data.spaces.contains_key(id));
        let Some(id) = id else {
            return Err(if Self::project_role_of(scene)?.is_none() {
                project_not_found()
            } else {
                not_found()
            });
        };
        let (decision, project) = scene.decide(&scene.ctx.caller, id)?;
        match decision.role.filter(|r| access::can_view_space(Some(*r))) {
            Some(role) => Ok((id, role)),
            // Someone without a project role learns nothing of the project's spaces: the same
            // answer as for a project that is not there (AC-8).
            None if access::project_role(&project).role.is_none() => Err(project_not_found()),
            None => Err(not_found()),
        }
    }

    /// A space the caller may manage (space admins, project and organization admins).
    fn managed_space(scene: &Scene, space_uuid: &str) -> Result<Uuid> {
        let (id, role) = Self::caller_role(scene, space_uuid)?;
        if !access::can_manage_space(Some(role)) {
            return Err(denied());
        }
        Ok(id)
    }

    /// The spaces of a project the caller may see.
    pub async fn list_spaces(&self, caller: &Caller, project_uuid: &str) -> Result<SpaceListing> {
        let scene = self.scene(caller, project_uuid, Lookup::None).await?;
        // Thousands of decisions: the role only (access::space_role), no explanations built.
        let project = scene.project_facts(&scene.ctx.caller)?;
        let mut visible = Vec::new();
        for &id in &scene.data.order {
            let chain = scene.chain_facts(&scene.ctx.caller, id)?;
            if access::space_role(&project, &chain).is_some() {
                visible.push((id, scene.is_private(id)));
            }
        }
        if visible.is_empty() && Self::project_role_of(&scene)?.is_none() {
            return Err(project_not_found());
        }
        Ok(SpaceListing {
            organization_uuid: scene.ctx.organization_uuid,
            project_uuid: scene.project.project_uuid,
            spaces: scene.data,
            visible,
        })
    }

    /// One space the caller may see, with everyone who has access.
    pub async fn get_space(
        &self,
        caller: &Caller,
        project_uuid: &str,
        space_uuid: &str,
    ) -> Result<SpaceView> {
        let scene = self.scene(caller, project_uuid, Lookup::All).await?;
        let (id, role) = Self::caller_role(&scene, space_uuid)?;
        self.view(&scene, id, role)
    }

    /// Creates a space (project editors and above; in a parent space, its editors and above
    /// too), with its first user grants; the creator of a private space gets admin on it.
    pub async fn create_space(
        &self,
        caller: &Caller,
        project_uuid: &str,
        input: NewSpace,
    ) -> Result<SpaceView> {
        let name = space_name(&input.name)?;
        let mut grants: Vec<(Uuid, SpaceRole)> = Vec::new();
        for (user, role) in &input.access {
            let user = Uuid::parse_str(user).map_err(|_| {
                Error::InvalidArgument(format!("{user:?} is not a user uuid").into())
            })?;
            grants.push((user, space_role(role)?));
        }
        let ids: Vec<Uuid> = grants.iter().map(|(u, _)| *u).collect();
        let scene = self
            .scene(caller, project_uuid, Lookup::Users(ids.clone()))
            .await?;
        let project_role = Self::project_role_of(&scene)?;
        if project_role.is_none() {
            return Err(project_not_found());
        }
        if !access::can_create_space(project_role) {
            return Err(denied());
        }
        if let Some(missing) = ids.iter().find(|u| scene.ctx.member(**u).is_none()) {
            return Err(Error::InvalidArgument(
                format!("user {missing} is not a member of the organization").into(),
            ));
        }
        let parent = match input.parent_space_uuid.as_deref() {
            None => None,
            Some(p) => {
                let (id, role) = Self::caller_role(&scene, p)
                    .map_err(|_| Error::InvalidArgument("parentSpaceUuid: no such space".into()))?;
                if !access::can_edit_space_content(Some(role)) {
                    return Err(denied());
                }
                if scene.chain(id).len() >= MAX_DEPTH {
                    return Err(Error::InvalidArgument(
                        format!("spaces nest at most {MAX_DEPTH} deep").into(),
                    ));
                }
                Some(id)
            }
        };
        // A nested space is private by not inheriting its parent's permissions (Lightdash's
        // newest rule): `isPrivate` on a nested space means exactly that.
        let is_private = input.is_private.unwrap_or(false);
        let inherit = match (parent, input.inherit_parent_permissions) {
            (None, _) => false,
            (Some(_), Some(true)) if input.is_private == Some(true) => {
                return Err(Error::InvalidArgument(
                    "a private nested space cannot inherit its parent's permissions".into(),
                ));
            }
            (Some(_), Some(i)) => i,
            (Some(_), None) => !is_private,
        };
        let now = Utc::now();
        let space = SpaceRecord {
            space_uuid: Uuid::now_v7(),
            project_uuid: scene.project.project_uuid,
            parent_space_uuid: parent,
            slug: slug(&name),
            name,
            is_private,
            inherit_parent_permissions: inherit,
            created_by_user_uuid: Some(caller.user_uuid),
            created_at: now,
            updated_at: now,
        };
        // The creator of a space that project roles do not reach is its admin (they could not
        // see it otherwise).
        let closed = if parent.is_none() {
            is_private
        } else {
            !inherit
        };
        if closed && !grants.iter().any(|(u, _)| *u == caller.user_uuid) {
            grants.push((caller.user_uuid, SpaceRole::Admin));
        }
        let records: Vec<SpaceGrantRecord> = grants
            .iter()
            .map(|(u, r)| SpaceGrantRecord {
                space_uuid: space.space_uuid,
                grantee_uuid: *u,
                role: r.as_str().to_owned(),
            })
            .collect();
        self.store().insert_space(&space, &records).await?;
        tracing::info!(user_uuid = %caller.user_uuid, space_uuid = %space.space_uuid, "space created");
        self.get_space(caller, project_uuid, &space.space_uuid.to_string())
            .await
    }

    /// Renames a space, or changes its privacy or inheritance (space admins).
    pub async fn update_space(
        &self,
        caller: &Caller,
        project_uuid: &str,
        space_uuid: &str,
        update: SpaceUpdate,
    ) -> Result<SpaceView> {
        let scene = self.scene(caller, project_uuid, Lookup::None).await?;
        let id = Self::managed_space(&scene, space_uuid)?;
        let mut space = scene.data.spaces.get(&id).cloned().ok_or_else(not_found)?;
        if let Some(name) = update.name {
            space.name = space_name(&name)?;
            space.slug = slug(&space.name);
        }
        if space.parent_space_uuid.is_none() {
            if let Some(p) = update.is_private {
                space.is_private = p;
            }
        } else if let Some(i) = update.inherit_parent_permissions {
            space.inherit_parent_permissions = i;
        } else if let Some(p) = update.is_private {
            // On a nested space, private means: not inheriting the parent's permissions.
            space.inherit_parent_permissions = !p;
        }
        space.updated_at = Utc::now();
        self.store().update_space(&space).await?;
        self.get_space(caller, project_uuid, space_uuid).await
    }

    /// Deletes a space and the spaces nested in it (space admins).
    pub async fn delete_space(
        &self,
        caller: &Caller,
        project_uuid: &str,
        space_uuid: &str,
    ) -> Result<()> {
        let scene = self.scene(caller, project_uuid, Lookup::None).await?;
        let id = Self::managed_space(&scene, space_uuid)?;
        if !self
            .store()
            .delete_space(scene.project.project_uuid, id)
            .await?
        {
            return Err(not_found());
        }
        tracing::info!(user_uuid = %caller.user_uuid, space_uuid = %id, "space deleted");
        Ok(())
    }

    /// Grants a member of the organization a role on a space (space admins).
    pub async fn share_with_user(
        &self,
        caller: &Caller,
        project_uuid: &str,
        space_uuid: &str,
        user_uuid: &str,
        role: &str,
    ) -> Result<()> {
        let role = space_role(role)?;
        let user =
            Uuid::parse_str(user_uuid).map_err(|_| Error::NotFound("user not found".into()))?;
        let scene = self
            .scene(caller, project_uuid, Lookup::Users(vec![user]))
            .await?;
        let id = Self::managed_space(&scene, space_uuid)?;
        if scene.ctx.member(user).is_none() {
            return Err(Error::NotFound("user not found".into()));
        }
        self.store()
            .put_space_user_grant(&SpaceGrantRecord {
                space_uuid: id,
                grantee_uuid: user,
                role: role.as_str().to_owned(),
            })
            .await?;
        Ok(())
    }

    /// Removes a user's grant on a space (space admins).
    pub async fn revoke_space_user(
        &self,
        caller: &Caller,
        project_uuid: &str,
        space_uuid: &str,
        user_uuid: &str,
    ) -> Result<()> {
        let scene = self.scene(caller, project_uuid, Lookup::None).await?;
        let id = Self::managed_space(&scene, space_uuid)?;
        let user =
            Uuid::parse_str(user_uuid).map_err(|_| Error::NotFound("user not found".into()))?;
        if !self.store().delete_space_user_grant(id, user).await? {
            return Err(Error::NotFound(
                "this user has no access of their own to the space".into(),
            ));
        }
        Ok(())
    }

    /// Grants a group of the organization a role on a space (space admins).
    pub async fn share_with_group(
        &self,
        caller: &Caller,
        project_uuid: &str,
        space_uuid: &str,
        group_uuid: &str,
        role: &str,
    ) -> Result<()> {
        let role = space_role(role)?;
        let scene = self.scene(caller, project_uuid, Lookup::None).await?;
        let id = Self::managed_space(&scene, space_uuid)?;
        let group =
            Uuid::parse_str(group_uuid).map_err(|_| Error::NotFound("group not found".into()))?;
        if !scene.ctx.groups.iter().any(|(g, _)| *g == group) {
            return Err(Error::NotFound("group not found".into()));
        }
        self.store()
            .put_space_group_grant(&SpaceGrantRecord {
                space_uuid: id,
                grantee_uuid: group,
                role: role.as_str().to_owned(),
            })
            .await?;
        Ok(())
    }

    /// Removes a group's grant on a space (space admins).
    pub async fn revoke_space_group(
        &self,
        caller: &Caller,
        project_uuid: &str,
        space_uuid: &str,
        group_uuid: &str,
    ) -> Result<()> {
        let scene = self.scene(caller, project_uuid, Lookup::None).await?;
        let id = Self::managed_space(&scene, space_uuid)?;
        let group =
            Uuid::parse_str(group_uuid).map_err(|_| Error::NotFound("group not found".into()))?;
        if !self.store().delete_space_group_grant(id, group).await? {
            return Err(Error::NotFound(
                "this group has no access to the space".into(),
            ));
        }
        Ok(())
    }

    /// Why `user_uuid` has the access they have to a space: the decision and the chain of facts
    /// (project admins only).
    pub async fn explain(
        &self,
        caller: &Caller,
        project_uuid: &str,
        space_uuid: &str,
        user_uuid: &str,
    ) -> Result<(Member, SpaceDecision)> {
        let user =
            Uuid::parse_str(user_uuid).map_err(|_| Error::NotFound("user not found".into()))?;
        let scene = self
            .scene(caller, project_uuid, Lookup::Users(vec![user]))
            .await?;
        let caller_role = Self::project_role_of(&scene)?;
        if caller_role.is_none() {
            return Err(project_not_found());
        }
        if !access::can_manage_project(caller_role) {
            return Err(denied());
        }
        let id = Uuid::parse_str(space_uuid).map_err(|_| not_found())?;
        if !scene.data.spaces.contains_key(&id) {
            return Err(not_found());
        }
        let member = scene
            .ctx
            .member(user)
            .cloned()
            .ok_or(Error::NotFound("user not found".into()))?;
        let (decision, _) = scene.decide(&member, id)?;
        Ok((member, decision))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_url_safe() {
        assert_eq!(slug("Sales & Marketing 2026"), "sales-marketing-2026");
        assert_eq!(slug("  --  "), "space");
        assert_eq!(slug("Ünïcode"), "n-code");
    }
}
