//! Invitations.

use proto::identity::v1 as pb;
use secrecy::ExposeSecret;
use service_kit::grpc::timestamp as ts;
use tonic::{Request, Response, Status};

use super::{IdentityGrpc, from_ts, role};
use crate::store::InviteRecord;

pub(super) async fn create_invite_link(
    svc: &IdentityGrpc,
    req: Request<pb::CreateInviteLinkRequest>,
) -> Result<Response<pb::InviteLink>, Status> {
    let claims = svc.user(&req).await?;
    let r = req.into_inner();
    let expires_at = from_ts("expiresAt", r.expires_at)?;
    let role = invited_role(r.organization_role)?;
    svc.admin_grant(&claims, role)?;
    let new = svc
        .identity
        .create_invite(&claims, &r.email, role, expires_at)
        .await?;
    Ok(Response::new(invite_pb(
        new.code.expose_secret().to_owned(),
        new.invite,
        new.email,
    )))
}

pub(super) async fn revoke_all_invite_links(
    svc: &IdentityGrpc,
    req: Request<pb::RevokeAllInviteLinksRequest>,
) -> Result<Response<pb::RevokeAllInviteLinksResponse>, Status> {
    let claims = svc.user(&req).await?;
    svc.identity.revoke_invites(&claims).await?;
    Ok(Response::new(pb::RevokeAllInviteLinksResponse {}))
}

pub(super) async fn get_invite_link(
    svc: &IdentityGrpc,
    req: Request<pb::GetInviteLinkRequest>,
) -> Result<Response<pb::InviteLink>, Status> {
    svc.internal_caller(&req)?;
    let code = req.into_inner().invite_code;
    let view = svc.identity.invite_by_code(&code).await?;
    Ok(Response::new(invite_pb(code, view.invite, view.email)))
}

/// The role an invitation asks for: None (the default) for UNSPECIFIED.
pub(super) fn invited_role(value: i32) -> Result<Option<pb::OrganizationRole>, Status> {
    if value == pb::OrganizationRole::Unspecified as i32 {
        Ok(None)
    } else {
        role(value).map(Some)
    }
}

/// An invitation as answered, with its code.
pub(super) fn invite_pb(code: String, invite: InviteRecord, email: String) -> pb::InviteLink {
    pb::InviteLink {
        invite_code: code,
        organization_uuid: invite.organization_uuid.to_string(),
        user_uuid: invite.user_uuid.to_string(),
        email,
        expires_at: Some(ts(invite.expires_at)),
    }
}
