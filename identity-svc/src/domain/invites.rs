//! Invitations: an admin invites an email address with a role; a pending user (no password)
//! joins the organization at once and activates by registering with the code. Codes carry 256
//! random bits, are stored only as SHA-256, expire, and work once.

use chrono::{DateTime, Utc};
use proto::identity::v1::OrganizationRole;
use secrecy::SecretString;
use service_kit::{
    jwt::AccessClaims,
    secret::{random_token, sha256_hex},
};
use uuid::Uuid;

use super::{
    Identity, NewSession,
    organizations::{OrgAction, guard, user_deleted},
    password, validate,
};
use crate::{
    error::{Error, Result},
    store::{Guard, InviteRecord, InviteView, StoreError, UserRecord},
};

/// Prefix of invitation codes.
pub const INVITE_PREFIX: &str = "ldinv_";
/// Lifetime of an invitation when none is asked for.
pub const DEFAULT_INVITE_TTL: chrono::Duration = chrono::Duration::days(3);
/// Longest lifetime of an invitation.
pub const MAX_INVITE_TTL: chrono::Duration = chrono::Duration::days(30);

/// A new invitation with its code, shown once.
#[derive(Debug)]
pub struct NewInvite {
    pub invite: InviteRecord,
    pub email: String,
    pub code: SecretString,
}

fn not_found() -> Error {
    Error::NotFound("invite link not found or expired".into())
}

/// A user invited at `email` who has not set a password yet (no names either: they give them
/// when they register with their code).
pub(crate) fn pending_user(user_uuid: Uuid, email: &str, at: DateTime<Utc>) -> UserRecord {
    UserRecord {
        user_uuid,
        email: email.to_owned(),
        first_name: String::new(),
        last_name: String::new(),
        is_active: true,
        is_tracking_anonymized: false,
        is_marketing_opted_in: false,
        is_setup_complete: false,
        created_at: at,
        updated_at: at,
    }
}

impl Identity {
    async fn is_member_of(&self, user: Uuid, org: Uuid) -> Result<bool> {
        Ok(self
            .store
            .membership(user)
            .await?
            .is_some_and(|m| m.organization.organization_uuid == org))
    }

    /// Frees an email held by an invited user who never activated and whose invitations have
    /// all expired or been revoked, so that the address can register or be invited again (an
    /// invitation must not squat an address for good). Whether it was freed.
    pub(crate) async fn reclaim_stale_invitee(&self, email: &str) -> Result<bool> {
        let Some(existing) = self.store.credentials_by_email(email).await? else {
            return Ok(false);
        };
        if existing.password_hash.is_some() {
            return Ok(false);
        }
        let user = existing.user.user_uuid;
        let now = Utc::now();
        if self
            .store
            .invite_expiries(user)
            .await?
            .iter()
            .any(|e| *e > now)
        {
            return Ok(false);
        }
        let ev = user_deleted(user);
        let freed = self.store.delete_pending_user(user, &ev).await?;
        if freed {
            tracing::info!(user_uuid = %user, "stale invited user removed");
        }
        Ok(freed)
    }

    /// Invites `email` to the caller's organization (admins only) with `role`, member by
    /// default.
    pub async fn create_invite(
        &self,
        claims: &AccessClaims,
        email: &str,
        role: Option<OrganizationRole>,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<NewInvite> {
        let (user, m, _) = self.authorize(claims, OrgAction::ManageMembers).await?;
        let org = m.organization.organization_uuid;
        let guard = guard(org, user, OrgAction::ManageMembers);
        self.invite(Some(user), &guard, org, email, role, expires_at)
            .await
    }

    /// Invites `email` to organization `org` with `role` (default member) on behalf of
    /// `inviter`, whom the caller has found allowed to: the one way in for invitations, into
    /// one's own organization or (accounts) into an account one administers. The store
    /// re-checks `guard` when it writes (AC-9).
    pub(crate) async fn invite(
        &self,
        inviter: Option<Uuid>,
        guard: &Guard,
        org: Uuid,
        email: &str,
        role: Option<OrganizationRole>,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<NewInvite> {
        let email = validate::email(email)?;
        let role = role.unwrap_or(OrganizationRole::Member);
        let now = Utc::now();
        let expires_at = expires_at.unwrap_or(now + DEFAULT_INVITE_TTL);
        validate::future("expiresAt", expires_at, now)?;
        if expires_at > now + MAX_INVITE_TTL {
            return Err(Error::InvalidArgument(
                "expiresAt must be within 30 days".into(),
            ));
        }
        // Checked last: a refused request does not use up the allowance. It is the inviting
        // organization's (the guard's), shared by every account it administers, so creating
        // sub-accounts multiplies nothing; an operator's counts for the account invited into.
        let allowance = if guard.operator {
            org
        } else {
            guard.organization_uuid
        };
        self.limit(
            &self.throttles.invitations,
            &allowance.to_string(),
            "Too many invitations from this organization; try again later",
        )
        .await?;
        let code = random_token::<32>(INVITE_PREFIX);
        let mut invite = InviteRecord {
            code_hash: sha256_hex(&code),
            organization_uuid: org,
            user_uuid: Uuid::now_v7(),
            created_at: now,
            expires_at,
        };
        let mut existing = self.store.credentials_by_email(&email).await?;
        // An invitee of another organization who never came and holds no live invitation
        // does not keep the address.
        if let Some(e) = &existing
            && e.password_hash.is_none()
            && !self.is_member_of(e.user.user_uuid, org).await?
            && self.reclaim_stale_invitee(&email).await?
        {
            existing = None;
        }
        match existing {
            None => {
                let pending = pending_user(invite.user_uuid, &email, now);
                match self
                    .store
                    .invite_new_user(&pending, role, &invite, guard)
                    .await
                {
                    Ok(()) => {}
                    Err(StoreError::Conflict) => {
                        return Err(Error::AlreadyExists(
                            "A user with this email already exists".into(),
                        ));
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            // A pending member of this organization gets a fresh code.
            Some(existing) if existing.password_hash.is_none() => {
                if !self.is_member_of(existing.user.user_uuid, org).await? {
                    return Err(Error::AlreadyExists(
                        "A user with this email already exists".into(),
                    ));
                }
                invite.user_uuid = existing.user.user_uuid;
                match self.store.insert_invite(&invite, guard).await {
                    Ok(()) => {}
                    // Activated meanwhile: an invitation never opens an active account.
                    Err(StoreError::Conflict) => {
                        return Err(Error::AlreadyExists(
                            "A user with this email already exists".into(),
                        ));
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            Some(_) => {
                return Err(Error::AlreadyExists(
                    "A user with this email already exists".into(),
                ));
            }
        }
        tracing::info!(user_uuid = inviter.map(tracing::field::display), organization_uuid = %org, invited_uuid = %invite.user_uuid, "invitation created");
        Ok(NewInvite {
            invite,
            email,
            code: SecretString::from(code),
        })
    }

    /// The invitation behind a code, while it is valid.
    pub async fn invite_by_code(&self, code: &str) -> Result<InviteView> {
        if !code.starts_with(INVITE_PREFIX) || code.len() > 128 {
            return Err(not_found());
        }
        let view = self
            .store
            .invite_by_hash(&sha256_hex(code))
            .await?
            .ok_or_else(not_found)?;
        if view.invite.expires_at <= Utc::now() {
            return Err(not_found());
        }
        Ok(view)
    }

    /// Revokes every invitation of the caller's organization (admins only).
    pub async fn revoke_invites(&self, claims: &AccessClaims) -> Result<()> {
        let (user, m, _) = self.authorize(claims, OrgAction::ManageMembers).await?;
        let n = self
            .store
            .delete_invites(m.organization.organization_uuid)
            .await?;
        tracing::info!(user_uuid = %user, organization_uuid = %m.organization.organization_uuid, revoked = n, "invitations revoked");
        Ok(())
    }

    /// Activates an invited user with their password and names, and opens their first session.
    pub async fn register_with_invite(
        &self,
        code: &str,
        password: SecretString,
        first_name: &str,
        last_name: &str,
    ) -> Result<NewSession> {
        let first_name = validate::name("firstName", first_name)?;
        let last_name = validate::name("lastName", last_name)?;
        password::check_policy(&password)?;
        let view = self.invite_by_code(code).await?;
        let hash = self.hasher.hash(password).await?;
        let mut user = self
            .store
            .user(view.invite.user_uuid)
            .await?
            .ok_or_else(not_found)?;
        let now = Utc::now();
        user.first_name = first_name;
        user.last_name = last_name;
        user.is_active = true;
        user.is_setup_complete = true;
        user.updated_at = now;
        let (session, token) = self.new_session(user.user_uuid, now);
        if !self
            .store
            .accept_invite(&view.invite.code_hash, &user, &hash, &session)
            .await?
        {
            return Err(not_found());
        }
        tracing::info!(user_uuid = %user.user_uuid, organization_uuid = %view.invite.organization_uuid, "invitation accepted");
        Ok(NewSession {
            user,
            token,
            expires_at: session.expires_at,
        })
    }
}
