//! Registration, login, sessions and the access tokens issued for them, the public signing
//! keys, the current user and deleting one's own account.

use proto::identity::v1 as pb;
use secrecy::{ExposeSecret, SecretString};
use service_kit::grpc::timestamp as ts;
use tonic::{Request, Response, Status};

use super::IdentityGrpc;
use crate::{
    domain::{AccessToken, NewSession, Registration},
    store::{MembershipRecord, UserRecord},
};

pub(super) async fn register_user(
    svc: &IdentityGrpc,
    req: Request<pb::RegisterUserRequest>,
) -> Result<Response<pb::SessionGrant>, Status> {
    svc.internal_caller(&req)?;
    let client_address =
        service_kit::callers::gateway_address(&req, req.get_ref().client_address.clone());
    let r = req.into_inner();
    if let Some(code) = r.invite_code {
        let password = SecretString::from(r.password);
        let session = svc
            .identity
            .register_with_invite(&code, password, &r.first_name, &r.last_name)
            .await?;
        return Ok(Response::new(session_pb(session)));
    }
    let session = svc
        .identity
        .register(Registration {
            email: r.email,
            password: SecretString::from(r.password),
            first_name: r.first_name,
            last_name: r.last_name,
            client_address,
        })
        .await?;
    Ok(Response::new(session_pb(session)))
}

pub(super) async fn login(
    svc: &IdentityGrpc,
    req: Request<pb::LoginRequest>,
) -> Result<Response<pb::SessionGrant>, Status> {
    svc.internal_caller(&req)?;
    let client_address =
        service_kit::callers::gateway_address(&req, req.get_ref().client_address.clone());
    let r = req.into_inner();
    let (session, access) = svc
        .identity
        .login(
            &r.email,
            SecretString::from(r.password),
            client_address.as_deref(),
            r.api_client,
        )
        .await?;
    let mut grant = session_pb(session);
    grant.access = access.map(access_pb);
    Ok(Response::new(grant))
}

pub(super) async fn authenticate(
    svc: &IdentityGrpc,
    req: Request<pb::AuthenticateRequest>,
) -> Result<Response<pb::AuthenticateResponse>, Status> {
    svc.internal_caller(&req)?;
    use pb::authenticate_request::Credential;
    let token = match req.into_inner().credential {
        Some(Credential::SessionToken(t)) => svc.identity.authenticate_session(&t).await?,
        Some(Credential::PersonalAccessToken(t)) => svc.identity.authenticate_pat(&t).await?,
        Some(Credential::OperatorToken(t)) => {
            let token = svc.identity.authenticate_operator(&t).await?;
            // An operator is no user.
            return Ok(Response::new(pb::AuthenticateResponse {
                user_uuid: String::new(),
                ..access_pb(token)
            }));
        }
        None => return Err(Status::invalid_argument("a credential is required")),
    };
    Ok(Response::new(access_pb(token)))
}

pub(super) async fn refresh_session(
    svc: &IdentityGrpc,
    req: Request<pb::RefreshSessionRequest>,
) -> Result<Response<pb::RefreshSessionResponse>, Status> {
    svc.internal_caller(&req)?;
    let (session, access) = svc
        .identity
        .refresh_session(&req.into_inner().refresh_token)
        .await?;
    Ok(Response::new(pb::RefreshSessionResponse {
        access: Some(access_pb(access)),
        session: Some(session_pb(session)),
    }))
}

pub(super) async fn get_jwks(
    svc: &IdentityGrpc,
    req: Request<pb::GetJwksRequest>,
) -> Result<Response<pb::GetJwksResponse>, Status> {
    svc.internal_caller(&req)?;
    use service_kit::jwt::JwksSource;
    let jwks_json = svc
        .jwks
        .fetch()
        .await
        .map_err(crate::error::Error::Internal)?;
    Ok(Response::new(pb::GetJwksResponse { jwks_json }))
}

pub(super) async fn get_current_user(
    svc: &IdentityGrpc,
    req: Request<pb::GetCurrentUserRequest>,
) -> Result<Response<pb::User>, Status> {
    // Not `svc.user`: `current_user` checks the credential in the same statement.
    let claims = svc.token_claims(&req).await?;
    let client = service_kit::grpc::client_address(req.metadata());
    let (user, membership) = svc.identity.current_user(&claims, client).await?;
    Ok(Response::new(pb::User {
        membership: membership.map(membership_pb),
        ..user_pb(user)
    }))
}

pub(super) async fn logout(
    svc: &IdentityGrpc,
    req: Request<pb::LogoutRequest>,
) -> Result<Response<pb::LogoutResponse>, Status> {
    let claims = svc.user(&req).await?;
    svc.identity.logout(&claims).await?;
    Ok(Response::new(pb::LogoutResponse {}))
}

pub(super) async fn delete_me(
    svc: &IdentityGrpc,
    req: Request<pb::DeleteMeRequest>,
) -> Result<Response<pb::DeleteMeResponse>, Status> {
    let claims = svc.user(&req).await?;
    svc.identity.delete_me(&claims).await?;
    Ok(Response::new(pb::DeleteMeResponse {}))
}

fn membership_pb(m: MembershipRecord) -> pb::Membership {
    pb::Membership {
        organization_uuid: m.organization.organization_uuid.to_string(),
        organization_name: m.organization.name,
        organization_created_at: Some(ts(m.organization.created_at)),
        organization_role: m.role.into(),
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

fn session_pb(s: NewSession) -> pb::SessionGrant {
    pb::SessionGrant {
        user: Some(user_pb(s.user)),
        session_token: s.token.expose_secret().to_owned(),
        session_expires_at: Some(ts(s.expires_at)),
        access: None,
    }
}

fn access_pb(t: AccessToken) -> pb::AuthenticateResponse {
    pb::AuthenticateResponse {
        user_uuid: t.user_uuid.to_string(),
        access_token: t.token.expose_secret().to_owned(),
        access_token_expires_at: Some(ts(t.expires_at)),
    }
}
