//! Organizations and their members: who may see and change what (reference/lightdash.md,
//! section 2.3: every member views the organization and its members; only an admin changes the
//! organization, a member's role, or removes a member), and the rule that an organization always
//! keeps an admin.

use chrono::{DateTime, Utc};
use proto::identity::v1::OrganizationRole;
use service_kit::jwt::AccessClaims;
use uuid::Uuid;

use super::{Identity, caller};
use crate::{
    error::{Error, Result, denied},
    store::{
        Guard, MemberRecord, MembershipChange, MembershipRecord, OrganizationRecord, OutboxEvent,
        StoreError,
    },
};

/// The refusal to remove an organization that has sub-accounts (they would lose their parent;
/// closing an account with everything below it is the account API's).
fn has_sub_accounts() -> Error {
    Error::FailedPrecondition("The organization has sub-accounts: remove them first".into())
}

/// What may be done in an organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrgAction {
    /// See the organization.
    View,
    /// List and see members.
    ViewMembers,
    /// Change the organization's settings.
    Update,
    /// Delete the organization.
    Delete,
    /// Change members' roles and remove members.
    ManageMembers,
}

/// Whether `role` may do `action` in its own organization (UNSPECIFIED, no role, nothing).
pub fn allows(role: OrganizationRole, action: OrgAction) -> bool {
    match action {
        OrgAction::View | OrgAction::ViewMembers => role >= OrganizationRole::Member,
        OrgAction::Update | OrgAction::Delete | OrgAction::ManageMembers => {
            role == OrganizationRole::Admin
        }
    }
}

/// The guard of a change `actor` makes in `organization_uuid` under `action`: the store
/// re-checks, in the change's transaction, that the actor still holds a role allowed to.
pub(crate) fn guard(organization_uuid: Uuid, actor: Uuid, action: OrgAction) -> Guard {
    Guard {
        organization_uuid,
        actor,
        roles: OrganizationRole::ALL
            .into_iter()
            .filter(|r| allows(*r, action))
            .collect(),
        operator: false,
    }
}

/// Largest page of members.
pub const MAX_PAGE_SIZE: u32 = 100;
/// Longest organization name, in characters.
pub const MAX_ORG_NAME_CHARS: usize = 255;
/// Most chart colors an organization keeps.
pub const MAX_CHART_COLORS: usize = 50;

/// Settings to change; `None` keeps the current value.
#[derive(Debug, Default)]
pub struct OrganizationUpdate {
    pub name: Option<String>,
    pub chart_colors: Option<Vec<String>>,
    pub default_project_uuid: Option<String>,
}

/// A page of members.
#[derive(Debug)]
pub struct MemberPage {
    pub members: Vec<MemberRecord>,
    pub page: u32,
    pub page_size: u32,
    pub total: u64,
}

/// A new top-level organization named `name` (already checked by [`org_name`]), with the
/// default settings (the API's creation, `create-admin`).
pub(crate) fn new_organization(name: String, now: DateTime<Utc>) -> OrganizationRecord {
    OrganizationRecord {
        organization_uuid: Uuid::now_v7(),
        name,
        chart_colors: None,
        default_project_uuid: None,
        created_at: now,
        updated_at: now,
    }
}

pub(crate) fn org_name(value: &str) -> Result<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(Error::InvalidArgument("name is required".into()));
    }
    if v.chars().count() > MAX_ORG_NAME_CHARS || v.chars().any(char::is_control) {
        return Err(Error::InvalidArgument(
            format!(
                "name must be at most {MAX_ORG_NAME_CHARS} characters, without control characters"
            )
            .into(),
        ));
    }
    Ok(v.to_owned())
}

/// A validated page request: `page` from 1 (0 means 1), `page_size` 1 to [`MAX_PAGE_SIZE`]
/// (0 means the maximum).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Paging {
    pub(crate) page: u32,
    pub(crate) page_size: u32,
    pub(crate) offset: i64,
}

impl Paging {
    pub(crate) fn new(page: u32, page_size: u32) -> Result<Self> {
        let page = page.max(1);
        let page_size = if page_size == 0 {
            MAX_PAGE_SIZE
        } else {
            page_size
        };
        if page_size > MAX_PAGE_SIZE {
            return Err(Error::InvalidArgument(
                format!("pageSize must be between 1 and {MAX_PAGE_SIZE}").into(),
            ));
        }
        Ok(Self {
            page,
            page_size,
            offset: i64::from(page - 1) * i64::from(page_size),
        })
    }
}

/// A case-insensitive substring LIKE pattern for `search` (the request's `field`), with `%`,
/// `_` and `\` escaped.
pub(crate) fn like_pattern(field: &str, search: Option<&str>) -> Result<Option<String>> {
    let Some(s) = search.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    if s.len() > 255 {
        return Err(Error::InvalidArgument(
            format!("{field} is too long").into(),
        ));
    }
    // The stored member key separates its fields with a control character: a pattern holding
    // one could match across two fields.
    if s.chars().any(char::is_control) {
        return Err(Error::InvalidArgument(
            format!("{field} must not contain control characters").into(),
        ));
    }
    let escaped = s
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    Ok(Some(format!("%{escaped}%")))
}

/// Most allowed email domains per organization.
pub const MAX_EMAIL_DOMAINS: usize = 50;

/// A lower-cased DNS host name with at least one dot.
pub(crate) fn email_domain(value: &str) -> Result<String> {
    let d = value.trim().trim_start_matches('@').to_lowercase();
    let labels_ok = d.split('.').all(|l| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    });
    if d.len() > 253 || !d.contains('.') || !labels_ok {
        return Err(Error::InvalidArgument(
            format!("{value:?} is not an email domain").into(),
        ));
    }
    Ok(d)
}

fn not_found() -> Error {
    Error::NotFound("organization member not found".into())
}

/// An outbox event of `event_type` with identifiers only.
pub(crate) fn event(event_type: &'static str, payload: serde_json::Value) -> OutboxEvent {
    OutboxEvent {
        event_uuid: Uuid::now_v7(),
        event_type,
        payload: payload.to_string(),
        created_at: Utc::now(),
    }
}

/// `organization.deleted`, as every removal of an organization writes it (deleting it, its
/// only member leaving, closing an account).
pub(crate) fn organization_deleted(organization_uuid: Uuid) -> OutboxEvent {
    event(
        "organization.deleted",
        serde_json::json!({ "organizationUuid": organization_uuid }),
    )
}

/// `user.deleted`, as every removal of a user writes it.
pub(crate) fn user_deleted(user_uuid: Uuid) -> OutboxEvent {
    event("user.deleted", serde_json::json!({ "userUuid": user_uuid }))
}

impl Identity {
    /// The caller's membership, or PERMISSION_DENIED when they belong to no organization.
    async fn my_membership(
        &self,
        claims: &AccessClaims,
    ) -> Result<(Uuid, MembershipRecord, OrganizationRole)> {
        let user = caller(claims)?;
        let m = self.store.membership(user).await?.ok_or_else(|| {
            Error::PermissionDenied("You are not a member of an organization".into())
        })?;
        let role = m.role;
        Ok((user, m, role))
    }

    pub(crate) async fn authorize(
        &self,
        claims: &AccessClaims,
        action: OrgAction,
    ) -> Result<(Uuid, MembershipRecord, OrganizationRole)> {
        let (user, m, role) = self.my_membership(claims).await?;
        if !allows(role, action) {
            tracing::info!(user_uuid = %user, organization_uuid = %m.organization.organization_uuid, ?action, role = role.as_str(), "denied");
            return Err(denied());
        }
        Ok((user, m, role))
    }

    /// Creates an organization; the caller becomes its admin. A user belongs to one at most.
    pub async fn create_organization(
        &self,
        claims: &AccessClaims,
        name: &str,
    ) -> Result<OrganizationRecord> {
        let user = caller(claims)?;
        let name = org_name(name)?;
        let org = new_organization(name, Utc::now());
        match self.store.create_organization(&org, user).await {
            Ok(()) => {}
            Err(StoreError::Conflict) => {
                return Err(Error::AlreadyExists(
                    "You already belong to an organization".into(),
                ));
            }
            Err(e) => return Err(e.into()),
        }
        tracing::info!(user_uuid = %user, organization_uuid = %org.organization_uuid, "organization created");
        Ok(org)
    }

    /// The caller's organization.
    pub async fn my_organization(&self, claims: &AccessClaims) -> Result<OrganizationRecord> {
        Ok(self
            .authorize(claims, OrgAction::View)
            .await?
            .1
            .organization)
    }

    /// Changes the caller's organization (admins only).
    pub async fn update_organization(
        &self,
        claims: &AccessClaims,
        update: OrganizationUpdate,
    ) -> Result<OrganizationRecord> {
        let (_, m, _) = self.authorize(claims, OrgAction::Update).await?;
        let mut org = m.organization;
        if let Some(name) = update.name {
            org.name = org_name(&name)?;
        }
        if let Some(colors) = update.chart_colors {
            if colors.len() > MAX_CHART_COLORS
                || colors.iter().any(|c| c.is_empty() || c.len() > 64)
            {
                return Err(Error::InvalidArgument(format!(
                    "chartColors must hold at most {MAX_CHART_COLORS} colors of 1 to 64 characters"
                ).into()));
            }
            org.chart_colors =
                Some(serde_json::to_string(&colors).map_err(|e| Error::Internal(e.into()))?);
        }
        if let Some(project) = update.default_project_uuid {
            let id = Uuid::parse_str(&project)
                .map_err(|_| Error::InvalidArgument("defaultProjectUuid must be a UUID".into()))?;
            org.default_project_uuid = Some(id);
        }
        org.updated_at = Utc::now();
        self.store.update_organization(&org).await?;
        Ok(org)
    }

    /// Deletes the caller's organization (admins only). Another organization's id answers
    /// NOT_FOUND, like one that does not exist. Other services learn of it from the outbox.
    pub async fn delete_organization(
        &self,
        claims: &AccessClaims,
        organization_uuid: &str,
    ) -> Result<()> {
        let (user, m, role) = self.my_membership(claims).await?;
        let target = Uuid::parse_str(organization_uuid).ok();
        if target != Some(m.organization.organization_uuid) {
            return Err(Error::NotFound("organization not found".into()));
        }
        if !allows(role, OrgAction::Delete) {
            return Err(denied());
        }
        let org = m.organization.organization_uuid;
        if self.store.has_sub_accounts(org).await? {
            return Err(has_sub_accounts());
        }
        let ev = organization_deleted(org);
        if !self.store.delete_organization(org, &ev).await? {
            // Gone meanwhile, or a sub-account appeared meanwhile.
            if self.store.has_sub_accounts(org).await? {
                return Err(has_sub_accounts());
            }
            return Err(Error::NotFound("organization not found".into()));
        }
        tracing::info!(user_uuid = %user, organization_uuid = %org, "organization deleted");
        Ok(())
    }

    /// A page of the caller's organization's members, optionally filtered.
    pub async fn list_members(
        &self,
        claims: &AccessClaims,
        page: u32,
        page_size: u32,
        search: Option<&str>,
    ) -> Result<MemberPage> {
        let (_, m, _) = self.authorize(claims, OrgAction::ViewMembers).await?;
        let Paging {
            page,
            page_size,
            offset,
        } = Paging::new(page, page_size)?;
        let pattern = like_pattern("searchQuery", search)?;
        let (members, total) = self
            .store
            .members(
                m.organization.organization_uuid,
                pattern.as_deref(),
                i64::from(page_size),
                offset,
            )
            .await?;
        Ok(MemberPage {
            members,
            page,
            page_size,
            total: u64::try_from(total).unwrap_or(0),
        })
    }

    /// Deletes the caller and all of identity's data about them, in one transaction. The only
    /// member of an organization takes it along; its last admin must first hand the role over.
    pub async fn delete_me(&self, claims: &AccessClaims) -> Result<()> {
        let user = caller(claims)?;
        // The store writes `organization.deleted` itself when the user takes their organization
        // along: it knows which one inside its transaction.
        let user_event = user_deleted(user);
        match self.store.delete_user(user, &user_event).await? {
            MembershipChange::Done => {
                tracing::info!(user_uuid = %user, "user deleted");
                Ok(())
            }
            MembershipChange::NotMember | MembershipChange::NotAllowed => {
                Err(Error::Unauthenticated("user not found or inactive".into()))
            }
            MembershipChange::LastAdmin => Err(Error::FailedPrecondition(
                "You are the last admin of your organization: make another member admin first"
                    .into(),
            )),
            MembershipChange::HasSubAccounts => Err(has_sub_accounts()),
        }
    }

    /// The caller's organization's allowed email domains and the role they grant (admins).
    pub async fn allowed_email_domains(
        &self,
        claims: &AccessClaims,
    ) -> Result<(Uuid, Vec<String>, OrganizationRole)> {
        let (_, m, _) = self.authorize(claims, OrgAction::Update).await?;
        let org = m.organization.organization_uuid;
        Ok(match self.store.allowed_email_domains(org).await? {
            Some((domains, role)) => (
                org,
                serde_json::from_str(&domains).map_err(|e| Error::Internal(e.into()))?,
                role,
            ),
            None => (org, Vec::new(), OrganizationRole::Viewer),
        })
    }

    /// Sets the allowed email domains (admins). Domains are lower-cased host names; the role is
    /// at most editor (a domain never grants developer or admin).
    pub async fn set_allowed_email_domains(
        &self,
        claims: &AccessClaims,
        domains: &[String],
        role: OrganizationRole,
    ) -> Result<(Uuid, Vec<String>, OrganizationRole)> {
        let (user, m, _) = self.authorize(claims, OrgAction::Update).await?;
        if !(OrganizationRole::Member..=OrganizationRole::Editor).contains(&role) {
            return Err(Error::InvalidArgument(
                "role must be member, viewer, interactive_viewer or editor".into(),
            ));
        }
        if domains.len() > MAX_EMAIL_DOMAINS {
            return Err(Error::InvalidArgument(
                format!("at most {MAX_EMAIL_DOMAINS} email domains").into(),
            ));
        }
        let mut clean: Vec<String> = domains
            .iter()
            .map(|d| email_domain(d))
            .collect::<Result<_>>()?;
        clean.sort();
        clean.dedup();
        let json = serde_json::to_string(&clean).map_err(|e| Error::Internal(e.into()))?;
        self.store
            .set_allowed_email_domains(m.organization.organization_uuid, &json, role)
            .await?;
        tracing::info!(user_uuid = %user, organization_uuid = %m.organization.organization_uuid, "allowed email domains set");
        Ok((m.organization.organization_uuid, clean, role))
    }

    /// One member of the caller's organization; anyone else answers NOT_FOUND.
    pub async fn get_member(&self, claims: &AccessClaims, user_uuid: &str) -> Result<MemberRecord> {
        let (_, m, _) = self.authorize(claims, OrgAction::ViewMembers).await?;
        let target = Uuid::parse_str(user_uuid).map_err(|_| not_found())?;
        self.store
            .member(m.organization.organization_uuid, target)
            .await?
            .ok_or_else(not_found)
    }

    /// Changes a member's role (admins only); the last admin keeps theirs.
    pub async fn update_member_role(
        &self,
        claims: &AccessClaims,
        user_uuid: &str,
        role: OrganizationRole,
    ) -> Result<MemberRecord> {
        let (user, m, _) = self.authorize(claims, OrgAction::ManageMembers).await?;
        let org = m.organization.organization_uuid;
        let target = Uuid::parse_str(user_uuid).map_err(|_| not_found())?;
        match self.store.set_member_role(org, user, target, role).await? {
            MembershipChange::Done => {}
            MembershipChange::NotMember => return Err(not_found()),
            MembershipChange::NotAllowed => {
                return Err(denied());
            }
            MembershipChange::LastAdmin => {
                return Err(Error::FailedPrecondition(
                    "An organization must keep at least one admin".into(),
                ));
            }
            MembershipChange::HasSubAccounts => return Err(has_sub_accounts()),
        }
        tracing::info!(user_uuid = %user, target_uuid = %target, organization_uuid = %org, role = role.as_str(), "member role changed");
        self.store.member(org, target).await?.ok_or_else(not_found)
    }

    /// Removes a member from the caller's organization (admins only); the last admin stays.
    pub async fn remove_member(&self, claims: &AccessClaims, user_uuid: &str) -> Result<()> {
        let (user, m, _) = self.authorize(claims, OrgAction::ManageMembers).await?;
        let org = m.organization.organization_uuid;
        let target = Uuid::parse_str(user_uuid).map_err(|_| not_found())?;
        let ev = event(
            "organization.member_removed",
            serde_json::json!({ "organizationUuid": org, "userUuid": target }),
        );
        match self.store.remove_member(org, user, target, &ev).await? {
            MembershipChange::Done => {}
            MembershipChange::NotMember => return Err(not_found()),
            MembershipChange::NotAllowed => {
                return Err(denied());
            }
            MembershipChange::LastAdmin => {
                return Err(Error::FailedPrecondition(
                    "An organization must keep at least one admin".into(),
                ));
            }
            MembershipChange::HasSubAccounts => return Err(has_sub_accounts()),
        }
        tracing::info!(user_uuid = %user, target_uuid = %target, organization_uuid = %org, "member removed");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use OrganizationRole as OrgRole;

    #[test]
    fn roles_parse_and_order() {
        for r in OrgRole::ALL {
            assert_eq!(OrgRole::parse(r.as_str()).unwrap(), r);
        }
        assert!(OrgRole::parse("owner").is_err());
        assert!(OrgRole::Member < OrgRole::Viewer && OrgRole::Developer < OrgRole::Admin);
    }

    #[test]
    fn only_admins_manage_every_member_views() {
        for r in OrgRole::ALL {
            assert!(allows(r, OrgAction::View) && allows(r, OrgAction::ViewMembers));
            for a in [
                OrgAction::Update,
                OrgAction::Delete,
                OrgAction::ManageMembers,
            ] {
                assert_eq!(allows(r, a), r == OrgRole::Admin, "{r:?} {a:?}");
            }
        }
    }

    #[test]
    fn unspecified_is_allowed_nothing() {
        for a in [
            OrgAction::View,
            OrgAction::ViewMembers,
            OrgAction::Update,
            OrgAction::Delete,
            OrgAction::ManageMembers,
        ] {
            assert!(!allows(OrganizationRole::Unspecified, a), "{a:?}");
        }
        let guard = guard(Uuid::now_v7(), Uuid::now_v7(), OrgAction::View);
        assert_eq!(guard.roles, OrganizationRole::ALL);
    }
}
