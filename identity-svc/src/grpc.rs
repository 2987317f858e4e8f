//! The gRPC face of identity-svc: authenticates the caller, converts proto <-> domain, maps
//! errors. Proto types stop here.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use proto::identity::v1 as pb;
use secrecy::{ExposeSecret, SecretString};
use service_kit::grpc::timestamp as ts;
use service_kit::{
    grpc::{InternalCredential, authenticate_user},
    jwt::{AccessClaims, JwtVerifier},
};
use tonic::{Request, Response, Status};

use crate::domain::attributes::{AttributeInput, AttributeView};
use crate::domain::email::EmailStatus;
use crate::{
    domain::{
        Identity, Registration, groups::GroupView, keys::StoreJwks,
        organizations::OrganizationUpdate,
    },
    store::{
        GroupMemberRecord, InviteRecord, MemberRecord, MembershipRecord, OrganizationRecord,
        PatRecord, UserRecord,
    },
};

/// Implements `identity.v1.IdentityService`.
#[derive(Debug, Clone)]
pub struct IdentityGrpc {
    identity: Arc<Identity>,
    internal: InternalCredential,
    verifier: Arc<JwtVerifier>,
    jwks: StoreJwks,
}

impl IdentityGrpc {
    /// Builds the handler.
    pub fn new(
        identity: Arc<Identity>,
        internal: InternalCredential,
        verifier: Arc<JwtVerifier>,
        jwks: StoreJwks,
    ) -> Self {
        Self {
            identity,
            internal,
            verifier,
            jwks,
        }
    }

    /// Authenticates the user a call speaks for, and checks that the session or personal access
    /// token the access token was issued for still stands.
    async fn user<T>(&self, req: &Request<T>) -> Result<AccessClaims, Status> {
        let claims = authenticate_user(&self.verifier, req.metadata()).await?;
        self.identity.ensure_live(&claims).await?;
        Ok(claims)
    }
}

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

fn organization_pb(o: OrganizationRecord) -> pb::Organization {
    pb::Organization {
        organization_uuid: o.organization_uuid.to_string(),
        name: o.name,
        chart_colors: o
            .chart_colors
            .and_then(|c| serde_json::from_str(&c).ok())
            .unwrap_or_default(),
        default_project_uuid: o.default_project_uuid.map(|u| u.to_string()),
        created_at: Some(ts(o.created_at)),
    }
}

fn member_pb(m: MemberRecord) -> pb::OrganizationMember {
    pb::OrganizationMember {
        user_uuid: m.user_uuid.to_string(),
        email: m.email,
        first_name: m.first_name,
        last_name: m.last_name,
        organization_uuid: m.organization_uuid.to_string(),
        role: m.role,
        is_active: m.is_active,
        is_pending: m.is_pending,
        user_created_at: Some(ts(m.user_created_at)),
        user_updated_at: Some(ts(m.user_updated_at)),
    }
}

fn group_member_pb(m: GroupMemberRecord) -> pb::GroupMember {
    pb::GroupMember {
        user_uuid: m.user_uuid.to_string(),
        email: m.email,
        first_name: m.first_name,
        last_name: m.last_name,
    }
}

fn group_pb(v: GroupView) -> pb::Group {
    let g = v.group;
    pb::Group {
        uuid: g.group_uuid.to_string(),
        organization_uuid: g.organization_uuid.to_string(),
        name: g.name,
        created_by_user_uuid: g.created_by_user_uuid.map(|u| u.to_string()),
        updated_by_user_uuid: g.updated_by_user_uuid.map(|u| u.to_string()),
        created_at: Some(ts(g.created_at)),
        updated_at: Some(ts(g.updated_at)),
        has_members: v.members.is_some(),
        members: v
            .members
            .unwrap_or_default()
            .into_iter()
            .map(group_member_pb)
            .collect(),
    }
}

fn attribute_pb(v: AttributeView) -> pb::UserAttribute {
    let a = v.attribute;
    pb::UserAttribute {
        uuid: a.attribute_uuid.to_string(),
        organization_uuid: a.organization_uuid.to_string(),
        name: a.name,
        description: a.description,
        attribute_default: a.attribute_default,
        created_at: Some(ts(a.created_at)),
        users: v
            .users
            .into_iter()
            .map(|u| pb::UserAttributeValue {
                user_uuid: u.user_uuid.to_string(),
                email: u.email,
                value: u.value,
            })
            .collect(),
        groups: v
            .groups
            .into_iter()
            .map(|g| pb::GroupAttributeValue {
                group_uuid: g.group_uuid.to_string(),
                value: g.value,
            })
            .collect(),
    }
}

fn invite_pb(code: String, invite: InviteRecord, email: String) -> pb::InviteLink {
    pb::InviteLink {
        invite_code: code,
        organization_uuid: invite.organization_uuid.to_string(),
        user_uuid: invite.user_uuid.to_string(),
        email,
        expires_at: Some(ts(invite.expires_at)),
    }
}

fn membership_pb(m: MembershipRecord) -> pb::Membership {
    pb::Membership {
        organization_uuid: m.organization.organization_uuid.to_string(),
        organization_name: m.organization.name,
        organization_created_at: Some(ts(m.organization.created_at)),
        role: m.role,
    }
}

fn user_pb(u: UserRecord) -> pb::User {
    pb::User {
        user_uuid: u.user_uuid.to_string(),
        email: u.email,
        first_name: u.first_name,
        last_name: u.last_name,
        is_active: u.is_active,
        is_tracking_anonymized: u.is_tracking_anonymized,
        is_marketing_opted_in: u.is_marketing_opted_in,
        is_setup_complete: u.is_setup_complete,
        created_at: Some(ts(u.created_at)),
        updated_at: Some(ts(u.updated_at)),
        membership: None,
    }
}

fn pat_pb(p: PatRecord) -> pb::PersonalAccessToken {
    pb::PersonalAccessToken {
        uuid: p.pat_uuid.to_string(),
        description: p.description,
        created_at: Some(ts(p.created_at)),
        expires_at: p.expires_at.map(ts),
        rotated_at: p.rotated_at.map(ts),
        last_used_at: p.last_used_at.map(ts),
    }
}

fn session_pb(s: crate::domain::NewSession) -> pb::SessionGrant {
    pb::SessionGrant {
        user: Some(user_pb(s.user)),
        session_token: s.token.expose_secret().to_owned(),
        session_expires_at: Some(ts(s.expires_at)),
        access: None,
    }
}

fn access_pb(t: crate::domain::AccessToken) -> pb::AuthenticateResponse {
    pb::AuthenticateResponse {
        user_uuid: t.user_uuid.to_string(),
        access_token: t.token.expose_secret().to_owned(),
        access_token_expires_at: Some(ts(t.expires_at)),
    }
}

#[tonic::async_trait]
impl pb::identity_service_server::IdentityService for IdentityGrpc {
    async fn register_user(
        &self,
        req: Request<pb::RegisterUserRequest>,
    ) -> Result<Response<pb::SessionGrant>, Status> {
        self.internal.check(req.metadata())?;
        let r = req.into_inner();
        if let Some(code) = r.invite_code {
            let password = SecretString::from(r.password);
            let session = self
                .identity
                .register_with_invite(&code, password, &r.first_name, &r.last_name)
                .await?;
            return Ok(Response::new(session_pb(session)));
        }
        let session = self
            .identity
            .register(Registration {
                email: r.email,
                password: SecretString::from(r.password),
                first_name: r.first_name,
                last_name: r.last_name,
            })
            .await?;
        Ok(Response::new(session_pb(session)))
    }

    async fn login(
        &self,
        req: Request<pb::LoginRequest>,
    ) -> Result<Response<pb::SessionGrant>, Status> {
        self.internal.check(req.metadata())?;
        let r = req.into_inner();
        let (session, access) = self
            .identity
            .login(
                &r.email,
                SecretString::from(r.password),
                r.client_address.as_deref(),
                r.api_client,
            )
            .await?;
        let mut grant = session_pb(session);
        grant.access = access.map(access_pb);
        Ok(Response::new(grant))
    }

    async fn authenticate(
        &self,
        req: Request<pb::AuthenticateRequest>,
    ) -> Result<Response<pb::AuthenticateResponse>, Status> {
        self.internal.check(req.metadata())?;
        use pb::authenticate_request::Credential;
        let token = match req.into_inner().credential {
            Some(Credential::SessionToken(t)) => self.identity.authenticate_session(&t).await?,
            Some(Credential::PersonalAccessToken(t)) => self.identity.authenticate_pat(&t).await?,
            None => return Err(Status::invalid_argument("a credential is required")),
        };
        Ok(Response::new(access_pb(token)))
    }

    async fn refresh_session(
        &self,
        req: Request<pb::RefreshSessionRequest>,
    ) -> Result<Response<pb::RefreshSessionResponse>, Status> {
        self.internal.check(req.metadata())?;
        let (session, access) = self
            .identity
            .refresh_session(&req.into_inner().refresh_token)
            .await?;
        Ok(Response::new(pb::RefreshSessionResponse {
            access: Some(access_pb(access)),
            session: Some(session_pb(session)),
        }))
    }

    async fn get_jwks(
        &self,
        req: Request<pb::GetJwksRequest>,
    ) -> Result<Response<pb::GetJwksResponse>, Status> {
        self.internal.check(req.metadata())?;
        use service_kit::jwt::JwksSource;
        let jwks_json = self
            .jwks
            .fetch()
            .await
            .map_err(crate::error::Error::Internal)?;
        Ok(Response::new(pb::GetJwksResponse { jwks_json }))
    }

    async fn get_current_user(
        &self,
        req: Request<pb::GetCurrentUserRequest>,
    ) -> Result<Response<pb::User>, Status> {
        // Not `self.user`: `current_user` checks the credential in the same statement.
        let claims = authenticate_user(&self.verifier, req.metadata()).await?;
        let (user, membership) = self.identity.current_user(&claims).await?;
        Ok(Response::new(pb::User {
            membership: membership.map(membership_pb),
            ..user_pb(user)
        }))
    }

    async fn logout(
        &self,
        req: Request<pb::LogoutRequest>,
    ) -> Result<Response<pb::LogoutResponse>, Status> {
        let claims = self.user(&req).await?;
        self.identity.logout(&claims).await?;
        Ok(Response::new(pb::LogoutResponse {}))
    }

    async fn create_personal_access_token(
        &self,
        req: Request<pb::CreatePersonalAccessTokenRequest>,
    ) -> Result<Response<pb::PersonalAccessTokenWithSecret>, Status> {
        let claims = self.user(&req).await?;
        let r = req.into_inner();
        let expires_at = from_ts("expiresAt", r.expires_at)?;
        let new = self
            .identity
            .create_pat(&claims, &r.description, expires_at, r.auto_generated)
            .await?;
        Ok(Response::new(pb::PersonalAccessTokenWithSecret {
            token: Some(pat_pb(new.pat)),
            secret: new.secret.expose_secret().to_owned(),
        }))
    }

    async fn list_personal_access_tokens(
        &self,
        req: Request<pb::ListPersonalAccessTokensRequest>,
    ) -> Result<Response<pb::ListPersonalAccessTokensResponse>, Status> {
        let claims = self.user(&req).await?;
        let tokens = self
            .identity
            .list_pats(&claims)
            .await?
            .into_iter()
            .map(pat_pb)
            .collect();
        Ok(Response::new(pb::ListPersonalAccessTokensResponse {
            tokens,
        }))
    }

    async fn delete_personal_access_token(
        &self,
        req: Request<pb::DeletePersonalAccessTokenRequest>,
    ) -> Result<Response<pb::DeletePersonalAccessTokenResponse>, Status> {
        let claims = self.user(&req).await?;
        self.identity
            .delete_pat(&claims, &req.get_ref().uuid)
            .await?;
        Ok(Response::new(pb::DeletePersonalAccessTokenResponse {}))
    }

    async fn rotate_personal_access_token(
        &self,
        req: Request<pb::RotatePersonalAccessTokenRequest>,
    ) -> Result<Response<pb::PersonalAccessTokenWithSecret>, Status> {
        let claims = self.user(&req).await?;
        let r = req.into_inner();
        let expires_at = from_ts("expiresAt", r.expires_at)?
            .ok_or_else(|| Status::invalid_argument("expiresAt is required"))?;
        let new = self
            .identity
            .rotate_pat(&claims, &r.uuid, expires_at)
            .await?;
        Ok(Response::new(pb::PersonalAccessTokenWithSecret {
            token: Some(pat_pb(new.pat)),
            secret: new.secret.expose_secret().to_owned(),
        }))
    }

    async fn create_organization(
        &self,
        req: Request<pb::CreateOrganizationRequest>,
    ) -> Result<Response<pb::Organization>, Status> {
        let claims = self.user(&req).await?;
        Ok(Response::new(organization_pb(
            self.identity
                .create_organization(&claims, &req.get_ref().name)
                .await?,
        )))
    }

    async fn get_my_organization(
        &self,
        req: Request<pb::GetMyOrganizationRequest>,
    ) -> Result<Response<pb::Organization>, Status> {
        let claims = self.user(&req).await?;
        Ok(Response::new(organization_pb(
            self.identity.my_organization(&claims).await?,
        )))
    }

    async fn update_my_organization(
        &self,
        req: Request<pb::UpdateMyOrganizationRequest>,
    ) -> Result<Response<pb::Organization>, Status> {
        let claims = self.user(&req).await?;
        let r = req.into_inner();
        let update = OrganizationUpdate {
            name: r.name,
            chart_colors: r.set_chart_colors.then_some(r.chart_colors),
            default_project_uuid: r.default_project_uuid,
        };
        Ok(Response::new(organization_pb(
            self.identity.update_organization(&claims, update).await?,
        )))
    }

    async fn delete_organization(
        &self,
        req: Request<pb::DeleteOrganizationRequest>,
    ) -> Result<Response<pb::DeleteOrganizationResponse>, Status> {
        let claims = self.user(&req).await?;
        self.identity
            .delete_organization(&claims, &req.get_ref().organization_uuid)
            .await?;
        Ok(Response::new(pb::DeleteOrganizationResponse {}))
    }

    async fn list_organization_members(
        &self,
        req: Request<pb::ListOrganizationMembersRequest>,
    ) -> Result<Response<pb::ListOrganizationMembersResponse>, Status> {
        let claims = self.user(&req).await?;
        let r = req.into_inner();
        let page = self
            .identity
            .list_members(&claims, r.page, r.page_size, r.search.as_deref())
            .await?;
        let page_size = u64::from(page.page_size);
        Ok(Response::new(pb::ListOrganizationMembersResponse {
            members: page.members.into_iter().map(member_pb).collect(),
            page: page.page,
            page_size: page.page_size,
            total_results: page.total,
            total_page_count: page.total.div_ceil(page_size),
        }))
    }

    async fn get_organization_member(
        &self,
        req: Request<pb::GetOrganizationMemberRequest>,
    ) -> Result<Response<pb::OrganizationMember>, Status> {
        let claims = self.user(&req).await?;
        Ok(Response::new(member_pb(
            self.identity
                .get_member(&claims, &req.get_ref().user_uuid)
                .await?,
        )))
    }

    async fn update_organization_member(
        &self,
        req: Request<pb::UpdateOrganizationMemberRequest>,
    ) -> Result<Response<pb::OrganizationMember>, Status> {
        let claims = self.user(&req).await?;
        let r = req.into_inner();
        Ok(Response::new(member_pb(
            self.identity
                .update_member_role(&claims, &r.user_uuid, &r.role)
                .await?,
        )))
    }

    async fn remove_organization_member(
        &self,
        req: Request<pb::RemoveOrganizationMemberRequest>,
    ) -> Result<Response<pb::RemoveOrganizationMemberResponse>, Status> {
        let claims = self.user(&req).await?;
        self.identity
            .remove_member(&claims, &req.get_ref().user_uuid)
            .await?;
        Ok(Response::new(pb::RemoveOrganizationMemberResponse {}))
    }

    async fn create_invite_link(
        &self,
        req: Request<pb::CreateInviteLinkRequest>,
    ) -> Result<Response<pb::InviteLink>, Status> {
        let claims = self.user(&req).await?;
        let r = req.into_inner();
        let expires_at = from_ts("expiresAt", r.expires_at)?;
        let new = self
            .identity
            .create_invite(&claims, &r.email, r.role.as_deref(), expires_at)
            .await?;
        Ok(Response::new(invite_pb(
            new.code.expose_secret().to_owned(),
            new.invite,
            new.email,
        )))
    }

    async fn revoke_all_invite_links(
        &self,
        req: Request<pb::RevokeAllInviteLinksRequest>,
    ) -> Result<Response<pb::RevokeAllInviteLinksResponse>, Status> {
        let claims = self.user(&req).await?;
        self.identity.revoke_invites(&claims).await?;
        Ok(Response::new(pb::RevokeAllInviteLinksResponse {}))
    }

    async fn get_invite_link(
        &self,
        req: Request<pb::GetInviteLinkRequest>,
    ) -> Result<Response<pb::InviteLink>, Status> {
        self.internal.check(req.metadata())?;
        let code = req.into_inner().invite_code;
        let view = self.identity.invite_by_code(&code).await?;
        Ok(Response::new(invite_pb(code, view.invite, view.email)))
    }

    async fn create_group(
        &self,
        req: Request<pb::CreateGroupRequest>,
    ) -> Result<Response<pb::Group>, Status> {
        let claims = self.user(&req).await?;
        let r = req.into_inner();
        Ok(Response::new(group_pb(
            self.identity
                .create_group(&claims, &r.name, &r.member_uuids)
                .await?,
        )))
    }

    async fn list_groups(
        &self,
        req: Request<pb::ListGroupsRequest>,
    ) -> Result<Response<pb::ListGroupsResponse>, Status> {
        let claims = self.user(&req).await?;
        let r = req.into_inner();
        let page = self
            .identity
            .list_groups(
                &claims,
                r.page,
                r.page_size,
                r.search.as_deref(),
                r.include_members,
            )
            .await?;
        let page_size = u64::from(page.page_size);
        Ok(Response::new(pb::ListGroupsResponse {
            groups: page.groups.into_iter().map(group_pb).collect(),
            page: page.page,
            page_size: page.page_size,
            total_results: page.total,
            total_page_count: page.total.div_ceil(page_size),
        }))
    }

    async fn get_group(
        &self,
        req: Request<pb::GetGroupRequest>,
    ) -> Result<Response<pb::Group>, Status> {
        let claims = self.user(&req).await?;
        let r = req.into_inner();
        Ok(Response::new(group_pb(
            self.identity
                .get_group(&claims, &r.group_uuid, r.include_members)
                .await?,
        )))
    }

    async fn update_group(
        &self,
        req: Request<pb::UpdateGroupRequest>,
    ) -> Result<Response<pb::Group>, Status> {
        let claims = self.user(&req).await?;
        let r = req.into_inner();
        let members = r.set_members.then_some(r.member_uuids.as_slice());
        Ok(Response::new(group_pb(
            self.identity
                .update_group(&claims, &r.group_uuid, r.name.as_deref(), members)
                .await?,
        )))
    }

    async fn delete_group(
        &self,
        req: Request<pb::DeleteGroupRequest>,
    ) -> Result<Response<pb::DeleteGroupResponse>, Status> {
        let claims = self.user(&req).await?;
        self.identity
            .delete_group(&claims, &req.get_ref().group_uuid)
            .await?;
        Ok(Response::new(pb::DeleteGroupResponse {}))
    }

    async fn list_group_members(
        &self,
        req: Request<pb::ListGroupMembersRequest>,
    ) -> Result<Response<pb::ListGroupMembersResponse>, Status> {
        let claims = self.user(&req).await?;
        let members = self
            .identity
            .group_members(&claims, &req.get_ref().group_uuid)
            .await?;
        Ok(Response::new(pb::ListGroupMembersResponse {
            members: members.into_iter().map(group_member_pb).collect(),
        }))
    }

    async fn add_group_member(
        &self,
        req: Request<pb::AddGroupMemberRequest>,
    ) -> Result<Response<pb::AddGroupMemberResponse>, Status> {
        let claims = self.user(&req).await?;
        let r = req.into_inner();
        self.identity
            .add_group_member(&claims, &r.group_uuid, &r.user_uuid)
            .await?;
        Ok(Response::new(pb::AddGroupMemberResponse {}))
    }

    async fn remove_group_member(
        &self,
        req: Request<pb::RemoveGroupMemberRequest>,
    ) -> Result<Response<pb::RemoveGroupMemberResponse>, Status> {
        let claims = self.user(&req).await?;
        let r = req.into_inner();
        self.identity
            .remove_group_member(&claims, &r.group_uuid, &r.user_uuid)
            .await?;
        Ok(Response::new(pb::RemoveGroupMemberResponse {}))
    }

    async fn delete_me(
        &self,
        req: Request<pb::DeleteMeRequest>,
    ) -> Result<Response<pb::DeleteMeResponse>, Status> {
        let claims = self.user(&req).await?;
        self.identity.delete_me(&claims).await?;
        Ok(Response::new(pb::DeleteMeResponse {}))
    }

    async fn list_user_attributes(
        &self,
        req: Request<pb::ListUserAttributesRequest>,
    ) -> Result<Response<pb::ListUserAttributesResponse>, Status> {
        let claims = self.user(&req).await?;
        let attributes = self
            .identity
            .list_attributes(&claims)
            .await?
            .into_iter()
            .map(attribute_pb)
            .collect();
        Ok(Response::new(pb::ListUserAttributesResponse { attributes }))
    }

    async fn save_user_attribute(
        &self,
        req: Request<pb::SaveUserAttributeRequest>,
    ) -> Result<Response<pb::UserAttribute>, Status> {
        let claims = self.user(&req).await?;
        let r = req.into_inner();
        let input = AttributeInput {
            name: r.name,
            description: r.description,
            attribute_default: r.attribute_default,
            users: r
                .users
                .into_iter()
                .map(|u| (u.user_uuid, u.value))
                .collect(),
            groups: r
                .groups
                .into_iter()
                .map(|g| (g.group_uuid, g.value))
                .collect(),
        };
        Ok(Response::new(attribute_pb(
            self.identity
                .save_attribute(&claims, r.attribute_uuid.as_deref(), input)
                .await?,
        )))
    }

    async fn delete_user_attribute(
        &self,
        req: Request<pb::DeleteUserAttributeRequest>,
    ) -> Result<Response<pb::DeleteUserAttributeResponse>, Status> {
        let claims = self.user(&req).await?;
        self.identity
            .delete_attribute(&claims, &req.get_ref().attribute_uuid)
            .await?;
        Ok(Response::new(pb::DeleteUserAttributeResponse {}))
    }

    async fn get_allowed_email_domains(
        &self,
        req: Request<pb::GetAllowedEmailDomainsRequest>,
    ) -> Result<Response<pb::AllowedEmailDomains>, Status> {
        let claims = self.user(&req).await?;
        let (org, domains, role) = self.identity.allowed_email_domains(&claims).await?;
        Ok(Response::new(pb::AllowedEmailDomains {
            organization_uuid: org.to_string(),
            email_domains: domains,
            role: role.as_str().to_owned(),
        }))
    }

    async fn set_allowed_email_domains(
        &self,
        req: Request<pb::SetAllowedEmailDomainsRequest>,
    ) -> Result<Response<pb::AllowedEmailDomains>, Status> {
        let claims = self.user(&req).await?;
        let r = req.into_inner();
        let (org, domains, role) = self
            .identity
            .set_allowed_email_domains(&claims, &r.email_domains, &r.role)
            .await?;
        Ok(Response::new(pb::AllowedEmailDomains {
            organization_uuid: org.to_string(),
            email_domains: domains,
            role: role.as_str().to_owned(),
        }))
    }

    async fn get_email_status(
        &self,
        req: Request<pb::GetEmailStatusRequest>,
    ) -> Result<Response<pb::EmailStatus>, Status> {
        let claims = self.user(&req).await?;
        let r = req.into_inner();
        let status = self
            .identity
            .email_status(&claims, r.passcode.as_deref())
            .await?;
        Ok(Response::new(email_status_pb(status)))
    }

    async fn create_email_passcode(
        &self,
        req: Request<pb::CreateEmailPasscodeRequest>,
    ) -> Result<Response<pb::EmailStatus>, Status> {
        let claims = self.user(&req).await?;
        let status = self.identity.send_email_passcode(&claims).await?;
        Ok(Response::new(email_status_pb(status)))
    }

    async fn list_allowed_organizations(
        &self,
        req: Request<pb::ListAllowedOrganizationsRequest>,
    ) -> Result<Response<pb::ListAllowedOrganizationsResponse>, Status> {
        let claims = self.user(&req).await?;
        let orgs = self.identity.allowed_organizations(&claims).await?;
        Ok(Response::new(pb::ListAllowedOrganizationsResponse {
            organizations: orgs
                .into_iter()
                .map(|o| pb::AllowedOrganization {
                    organization_uuid: o.organization_uuid.to_string(),
                    name: o.name,
                    members_count: o.members_count,
                })
                .collect(),
        }))
    }

    async fn join_organization(
        &self,
        req: Request<pb::JoinOrganizationRequest>,
    ) -> Result<Response<pb::JoinOrganizationResponse>, Status> {
        let claims = self.user(&req).await?;
        let r = req.into_inner();
        self.identity
            .join_organization(&claims, &r.organization_uuid)
            .await?;
        Ok(Response::new(pb::JoinOrganizationResponse {}))
    }

    async fn get_access_contexts(
        &self,
        req: Request<pb::GetAccessContextsRequest>,
    ) -> Result<Response<pb::GetAccessContextsResponse>, Status> {
        let claims = self.user(&req).await?;
        let r = req.into_inner();
        let answer = self
            .identity
            .access_contexts(
                &claims,
                crate::domain::context::ContextQuery {
                    user_uuids: r.user_uuids,
                    email: r.email,
                    all_members: r.all_members,
                    include_groups: r.include_groups,
                },
            )
            .await?;
        Ok(Response::new(pb::GetAccessContextsResponse {
            organization_uuid: answer.organization_uuid.to_string(),
            caller: Some(access_context_pb(answer.caller)),
            members: answer.members.into_iter().map(access_context_pb).collect(),
            groups: answer
                .groups
                .into_iter()
                .map(|g| pb::OrganizationGroup {
                    group_uuid: g.group_uuid.to_string(),
                    name: g.name,
                })
                .collect(),
        }))
    }
}

fn email_status_pb(s: EmailStatus) -> pb::EmailStatus {
    pb::EmailStatus {
        email: s.email,
        is_verified: s.is_verified,
        otp: s.otp.map(|o| pb::EmailPasscode {
            created_at: Some(ts(o.created_at)),
            expires_at: Some(ts(o.expires_at)),
            number_of_attempts: o.attempts,
            is_expired: o.is_expired,
            is_max_attempts: o.is_max_attempts,
        }),
    }
}

fn access_context_pb((m, groups): (MemberRecord, Vec<uuid::Uuid>)) -> pb::AccessContext {
    pb::AccessContext {
        user_uuid: m.user_uuid.to_string(),
        email: m.email,
        first_name: m.first_name,
        last_name: m.last_name,
        role: m.role,
        group_uuids: groups.iter().map(ToString::to_string).collect(),
        is_pending: m.is_pending,
    }
}
