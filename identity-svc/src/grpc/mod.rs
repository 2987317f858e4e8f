//! The gRPC face of identity-svc: authenticates the caller, converts proto <-> domain, maps
//! errors. Proto types stop here.
//!
//! This module holds the handler, the caller's authentication (every method starts with one
//! of the two checks in `impl IdentityGrpc`) and the table that routes each method of
//! `identity.v1.IdentityService` to the function of the same name in its area's module, where
//! the request is converted, the domain called and the answer converted back. The same handler
//! implements `identity.v1.Accounts` (`accounts.rs`).

mod account_safety;
mod accounts;
mod attributes;
pub mod callers;
mod email;
mod groups;
mod invites;
mod organizations;
mod pats;
pub mod scopes;
mod sessions;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use proto::identity::v1 as pb;
use service_kit::{
    grpc::{authenticate_principal, authenticate_user, client_address},
    jwt::{AccessClaims, JwtVerifier},
    scope::{self, Scope},
};
use tonic::{Request, Response, Status};

use crate::domain::{Identity, keys::StoreJwks};

/// Implements `identity.v1.IdentityService`.
#[derive(Debug, Clone)]
pub struct IdentityGrpc {
    identity: Arc<Identity>,
    verifier: Arc<JwtVerifier>,
    jwks: StoreJwks,
}

impl IdentityGrpc {
    /// Builds the handler.
    pub fn new(identity: Arc<Identity>, verifier: Arc<JwtVerifier>, jwks: StoreJwks) -> Self {
        Self {
            identity,
            verifier,
            jwks,
        }
    }

    /// Authenticates the user a call speaks for, and checks that the session or personal access
    /// token the access token was issued for still stands and that their account admits the
    /// call's address.
    async fn user<T>(&self, req: &Request<T>) -> Result<AccessClaims, Status> {
        let claims = self.token_claims(req).await?;
        self.identity
            .ensure_live(&claims, client_address(req.metadata()))
            .await?;
        Ok(claims)
    }

    /// Authenticates the caller of an account method, a user or an operator (whose every use
    /// is logged here with the `action`, never the token), and checks that the credential
    /// behind the access token still stands and, for a user, that their account admits the
    /// call's address.
    async fn principal<T>(&self, req: &Request<T>, action: &str) -> Result<AccessClaims, Status> {
        let claims = authenticate_principal(&self.verifier, req.metadata()).await?;
        if let Some(id) = &claims.opr {
            tracing::info!(operator_token_uuid = %id, action, "operator action");
        }
        self.identity
            .ensure_live(&claims, client_address(req.metadata()))
            .await?;
        Ok(claims)
    }

    /// The claims of the caller's access token, verified, without checking that its credential
    /// still stands: only for a method that checks it itself.
    async fn token_claims<T>(&self, req: &Request<T>) -> Result<AccessClaims, Status> {
        authenticate_user(&self.verifier, req.metadata()).await
    }

    /// Granting the admin role (an invitation or a promotion) is an admin action, whatever the
    /// method's class: the caller's token needs the admin scope and, for a session, a recent
    /// login (`service_kit::scope`), as the guard asks of admin methods (`scopes.rs`).
    fn admin_grant(
        &self,
        claims: &AccessClaims,
        role: Option<pb::OrganizationRole>,
    ) -> Result<(), Status> {
        if role != Some(pb::OrganizationRole::Admin) {
            return Ok(());
        }
        let recent_login = self.identity.settings.recent_login;
        Ok(scope::authorize(
            claims,
            Scope::Admin,
            recent_login,
            Utc::now().timestamp(),
        )?)
    }

    /// Checks that a part of the platform calls, by its service credential (the
    /// pre-authentication methods; `callers.rs` says which part may call which).
    fn internal_caller<T>(&self, req: &Request<T>) -> Result<(), Status> {
        service_kit::callers::require_caller(req).map(|_| ())
    }
}

/// A timestamp of a request, or InvalidArgument naming `field` when it is out of range.
fn from_ts(
    field: &str,
    t: Option<prost_types::Timestamp>,
) -> Result<Option<DateTime<Utc>>, Status> {
    t.map(|t| {
        DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap_or(0))
            .ok_or_else(|| Status::invalid_argument(format!("{field} is out of range")))
    })
    .transpose()
}

/// The organization role a request carries; UNSPECIFIED or an unknown value answers
/// INVALID_ARGUMENT.
fn role(value: i32) -> Result<pb::OrganizationRole, Status> {
    pb::OrganizationRole::required(value).map_err(|e| crate::error::Error::from(e).into())
}

/// Implements the service: each `area::method(Request) -> Response` line answers `method` with
/// the function of that name in module `area`.
macro_rules! routes {
    ($($area:ident::$method:ident($request:ident) -> $response:ident;)*) => {
        #[tonic::async_trait]
        impl pb::identity_service_server::IdentityService for IdentityGrpc {
            $(
                async fn $method(
                    &self,
                    req: Request<pb::$request>,
                ) -> Result<Response<pb::$response>, Status> {
                    $area::$method(self, req).await
                }
            )*
        }
    };
}

routes! {
    sessions::register_user(RegisterUserRequest) -> SessionGrant;
    sessions::login(LoginRequest) -> SessionGrant;
    sessions::authenticate(AuthenticateRequest) -> AuthenticateResponse;
    sessions::refresh_session(RefreshSessionRequest) -> RefreshSessionResponse;
    sessions::get_jwks(GetJwksRequest) -> GetJwksResponse;
    sessions::get_current_user(GetCurrentUserRequest) -> User;
    sessions::logout(LogoutRequest) -> LogoutResponse;
    sessions::delete_me(DeleteMeRequest) -> DeleteMeResponse;

    pats::create_personal_access_token(CreatePersonalAccessTokenRequest) -> PersonalAccessTokenWithSecret;
    pats::list_personal_access_tokens(ListPersonalAccessTokensRequest) -> ListPersonalAccessTokensResponse;
    pats::delete_personal_access_token(DeletePersonalAccessTokenRequest) -> DeletePersonalAccessTokenResponse;
    pats::rotate_personal_access_token(RotatePersonalAccessTokenRequest) -> PersonalAccessTokenWithSecret;

    organizations::create_organization(CreateOrganizationRequest) -> Organization;
    organizations::get_my_organization(GetMyOrganizationRequest) -> Organization;
    organizations::update_my_organization(UpdateMyOrganizationRequest) -> Organization;
    organizations::delete_organization(DeleteOrganizationRequest) -> DeleteOrganizationResponse;
    organizations::list_organization_members(ListOrganizationMembersRequest) -> ListOrganizationMembersResponse;
    organizations::get_organization_member(GetOrganizationMemberRequest) -> OrganizationMember;
    organizations::update_organization_member(UpdateOrganizationMemberRequest) -> OrganizationMember;
    organizations::remove_organization_member(RemoveOrganizationMemberRequest) -> RemoveOrganizationMemberResponse;
    organizations::get_access_contexts(GetAccessContextsRequest) -> GetAccessContextsResponse;

    invites::create_invite_link(CreateInviteLinkRequest) -> InviteLink;
    invites::revoke_all_invite_links(RevokeAllInviteLinksRequest) -> RevokeAllInviteLinksResponse;
    invites::get_invite_link(GetInviteLinkRequest) -> InviteLink;

    groups::create_group(CreateGroupRequest) -> Group;
    groups::list_groups(ListGroupsRequest) -> ListGroupsResponse;
    groups::get_group(GetGroupRequest) -> Group;
    groups::update_group(UpdateGroupRequest) -> Group;
    groups::delete_group(DeleteGroupRequest) -> DeleteGroupResponse;
    groups::list_group_members(ListGroupMembersRequest) -> ListGroupMembersResponse;
    groups::add_group_member(AddGroupMemberRequest) -> AddGroupMemberResponse;
    groups::remove_group_member(RemoveGroupMemberRequest) -> RemoveGroupMemberResponse;

    attributes::list_user_attributes(ListUserAttributesRequest) -> ListUserAttributesResponse;
    attributes::save_user_attribute(SaveUserAttributeRequest) -> UserAttribute;
    attributes::delete_user_attribute(DeleteUserAttributeRequest) -> DeleteUserAttributeResponse;

    email::get_allowed_email_domains(GetAllowedEmailDomainsRequest) -> AllowedEmailDomains;
    email::set_allowed_email_domains(SetAllowedEmailDomainsRequest) -> AllowedEmailDomains;
    email::get_email_status(GetEmailStatusRequest) -> EmailStatus;
    email::create_email_passcode(CreateEmailPasscodeRequest) -> EmailStatus;
    email::list_allowed_organizations(ListAllowedOrganizationsRequest) -> ListAllowedOrganizationsResponse;
    email::join_organization(JoinOrganizationRequest) -> JoinOrganizationResponse;

    account_safety::request_password_reset(RequestPasswordResetRequest) -> RequestPasswordResetResponse;
    account_safety::get_password_reset_link(GetPasswordResetLinkRequest) -> GetPasswordResetLinkResponse;
    account_safety::reset_password(ResetPasswordRequest) -> ResetPasswordResponse;
    account_safety::change_password(ChangePasswordRequest) -> ChangePasswordResponse;
    account_safety::end_all_sessions(EndAllSessionsRequest) -> EndAllSessionsResponse;
}
