//! The gRPC face of identity-svc: authenticates the caller, converts proto <-> domain, maps
//! errors. Proto types stop here.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use proto::identity::v1 as pb;
use secrecy::{ExposeSecret, SecretString};
use service_kit::{
    grpc::{InternalCredential, authenticate_user},
    jwt::{AccessClaims, JwtVerifier},
};
use tonic::{Request, Response, Status};

use crate::{
    domain::{Identity, Registration, keys::StoreJwks},
    store::{PatRecord, UserRecord},
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

    async fn user<T>(&self, req: &Request<T>) -> Result<AccessClaims, Status> {
        authenticate_user(&self.verifier, req.metadata()).await
    }
}

fn ts(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
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
        let session = self
            .identity
            .login(&r.email, SecretString::from(r.password))
            .await?;
        Ok(Response::new(session_pb(session)))
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
        Ok(Response::new(pb::AuthenticateResponse {
            user_uuid: token.user_uuid.to_string(),
            access_token: token.token.expose_secret().to_owned(),
            access_token_expires_at: Some(ts(token.expires_at)),
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
        let claims = self.user(&req).await?;
        Ok(Response::new(user_pb(
            self.identity.current_user(&claims).await?,
        )))
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
}
