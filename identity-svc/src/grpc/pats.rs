//! Personal access tokens.

use proto::identity::v1 as pb;
use secrecy::ExposeSecret;
use service_kit::grpc::timestamp as ts;
use tonic::{Request, Response, Status};

use super::{IdentityGrpc, from_ts};
use crate::store::PatRecord;

pub(super) async fn create_personal_access_token(
    svc: &IdentityGrpc,
    req: Request<pb::CreatePersonalAccessTokenRequest>,
) -> Result<Response<pb::PersonalAccessTokenWithSecret>, Status> {
    let claims = svc.user(&req).await?;
    let r = req.into_inner();
    let expires_at = from_ts("expiresAt", r.expires_at)?;
    let new = svc
        .identity
        .create_pat(
            &claims,
            &r.description,
            expires_at,
            r.auto_generated,
            r.scopes.as_ref().map(|s| s.scopes.as_slice()),
        )
        .await?;
    Ok(Response::new(pb::PersonalAccessTokenWithSecret {
        token: Some(pat_pb(new.pat)),
        secret: new.secret.expose_secret().to_owned(),
    }))
}

pub(super) async fn list_personal_access_tokens(
    svc: &IdentityGrpc,
    req: Request<pb::ListPersonalAccessTokensRequest>,
) -> Result<Response<pb::ListPersonalAccessTokensResponse>, Status> {
    let claims = svc.user(&req).await?;
    let tokens = svc
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

pub(super) async fn delete_personal_access_token(
    svc: &IdentityGrpc,
    req: Request<pb::DeletePersonalAccessTokenRequest>,
) -> Result<Response<pb::DeletePersonalAccessTokenResponse>, Status> {
    let claims = svc.user(&req).await?;
    svc.identity
        .delete_pat(&claims, &req.get_ref().uuid)
        .await?;
    Ok(Response::new(pb::DeletePersonalAccessTokenResponse {}))
}

pub(super) async fn rotate_personal_access_token(
    svc: &IdentityGrpc,
    req: Request<pb::RotatePersonalAccessTokenRequest>,
) -> Result<Response<pb::PersonalAccessTokenWithSecret>, Status> {
    let claims = svc.user(&req).await?;
    let r = req.into_inner();
    let expires_at = from_ts("expiresAt", r.expires_at)?
        .ok_or_else(|| Status::invalid_argument("expiresAt is required"))?;
    let new = svc
        .identity
        .rotate_pat(&claims, &r.uuid, expires_at)
        .await?;
    Ok(Response::new(pb::PersonalAccessTokenWithSecret {
        token: Some(pat_pb(new.pat)),
        secret: new.secret.expose_secret().to_owned(),
    }))
}

fn pat_pb(p: PatRecord) -> pb::PersonalAccessToken {
    pb::PersonalAccessToken {
        uuid: p.pat_uuid.to_string(),
        description: p.description,
        created_at: Some(ts(p.created_at)),
        expires_at: p.expires_at.map(ts),
        rotated_at: p.rotated_at.map(ts),
        last_used_at: p.last_used_at.map(ts),
        scopes: service_kit::scope::split(&p.scopes)
            .into_iter()
            .map(|s| s.name().to_owned())
            .collect(),
    }
}
