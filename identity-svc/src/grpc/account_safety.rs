//! Account safety: password changes and resets, signing out everywhere.

use proto::identity::v1 as pb;
use secrecy::SecretString;
use service_kit::grpc::client_address;
use tonic::{Request, Response, Status};

use super::IdentityGrpc;

pub(super) async fn request_password_reset(
    svc: &IdentityGrpc,
    req: Request<pb::RequestPasswordResetRequest>,
) -> Result<Response<pb::RequestPasswordResetResponse>, Status> {
    svc.internal_caller(&req)?;
    let client_address =
        service_kit::callers::gateway_address(&req, req.get_ref().client_address.clone());
    let r = req.into_inner();
    svc.identity
        .request_password_reset(&r.email, client_address.as_deref(), &r.link_base)
        .await?;
    Ok(Response::new(pb::RequestPasswordResetResponse {}))
}

pub(super) async fn get_password_reset_link(
    svc: &IdentityGrpc,
    req: Request<pb::GetPasswordResetLinkRequest>,
) -> Result<Response<pb::GetPasswordResetLinkResponse>, Status> {
    svc.internal_caller(&req)?;
    svc.identity
        .check_password_reset(&req.into_inner().code)
        .await?;
    Ok(Response::new(pb::GetPasswordResetLinkResponse {}))
}

pub(super) async fn reset_password(
    svc: &IdentityGrpc,
    req: Request<pb::ResetPasswordRequest>,
) -> Result<Response<pb::ResetPasswordResponse>, Status> {
    svc.internal_caller(&req)?;
    let r = req.into_inner();
    svc.identity
        .reset_password(&r.code, SecretString::from(r.new_password))
        .await?;
    Ok(Response::new(pb::ResetPasswordResponse {}))
}

pub(super) async fn change_password(
    svc: &IdentityGrpc,
    req: Request<pb::ChangePasswordRequest>,
) -> Result<Response<pb::ChangePasswordResponse>, Status> {
    let claims = svc.user(&req).await?;
    let client = client_address(req.metadata()).map(str::to_owned);
    let r = req.into_inner();
    svc.identity
        .change_password(
            &claims,
            SecretString::from(r.current_password),
            SecretString::from(r.new_password),
            client.as_deref(),
        )
        .await?;
    Ok(Response::new(pb::ChangePasswordResponse {}))
}

pub(super) async fn end_all_sessions(
    svc: &IdentityGrpc,
    req: Request<pb::EndAllSessionsRequest>,
) -> Result<Response<pb::EndAllSessionsResponse>, Status> {
    let claims = svc.user(&req).await?;
    let sessions_ended = svc.identity.end_all_sessions(&claims).await?;
    Ok(Response::new(pb::EndAllSessionsResponse { sessions_ended }))
}
