//! Email verification, allowed email domains and joining an organization by them.

use proto::identity::v1 as pb;
use service_kit::grpc::timestamp as ts;
use tonic::{Request, Response, Status};

use super::{IdentityGrpc, role};
use crate::domain::email::EmailStatus;

pub(super) async fn get_allowed_email_domains(
    svc: &IdentityGrpc,
    req: Request<pb::GetAllowedEmailDomainsRequest>,
) -> Result<Response<pb::AllowedEmailDomains>, Status> {
    let claims = svc.user(&req).await?;
    let (org, domains, role) = svc.identity.allowed_email_domains(&claims).await?;
    Ok(Response::new(pb::AllowedEmailDomains {
        organization_uuid: org.to_string(),
        email_domains: domains,
        organization_role: role.into(),
    }))
}

pub(super) async fn set_allowed_email_domains(
    svc: &IdentityGrpc,
    req: Request<pb::SetAllowedEmailDomainsRequest>,
) -> Result<Response<pb::AllowedEmailDomains>, Status> {
    let claims = svc.user(&req).await?;
    let r = req.into_inner();
    let role = role(r.organization_role)?;
    let (org, domains, role) = svc
        .identity
        .set_allowed_email_domains(&claims, &r.email_domains, role)
        .await?;
    Ok(Response::new(pb::AllowedEmailDomains {
        organization_uuid: org.to_string(),
        email_domains: domains,
        organization_role: role.into(),
    }))
}

pub(super) async fn get_email_status(
    svc: &IdentityGrpc,
    req: Request<pb::GetEmailStatusRequest>,
) -> Result<Response<pb::EmailStatus>, Status> {
    let claims = svc.user(&req).await?;
    let r = req.into_inner();
    let status = svc
        .identity
        .email_status(&claims, r.passcode.as_deref())
        .await?;
    Ok(Response::new(email_status_pb(status)))
}

pub(super) async fn create_email_passcode(
    svc: &IdentityGrpc,
    req: Request<pb::CreateEmailPasscodeRequest>,
) -> Result<Response<pb::EmailStatus>, Status> {
    let claims = svc.user(&req).await?;
    let status = svc.identity.send_email_passcode(&claims).await?;
    Ok(Response::new(email_status_pb(status)))
}

pub(super) async fn list_allowed_organizations(
    svc: &IdentityGrpc,
    req: Request<pb::ListAllowedOrganizationsRequest>,
) -> Result<Response<pb::ListAllowedOrganizationsResponse>, Status> {
    let claims = svc.user(&req).await?;
    let orgs = svc.identity.allowed_organizations(&claims).await?;
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

pub(super) async fn join_organization(
    svc: &IdentityGrpc,
    req: Request<pb::JoinOrganizationRequest>,
) -> Result<Response<pb::JoinOrganizationResponse>, Status> {
    let claims = svc.user(&req).await?;
    let r = req.into_inner();
    svc.identity
        .join_organization(&claims, &r.organization_uuid)
        .await?;
    Ok(Response::new(pb::JoinOrganizationResponse {}))
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
