//! gRPC clients of the services, with the metadata every call carries: the request id, and
//! either the user's access token or (pre-authentication methods only) the internal credential.

use std::sync::Arc;

use proto::identity::v1::{self as pb, identity_service_client::IdentityServiceClient};
use service_kit::{
    grpc::{InternalCredential, OutgoingCall},
    jwt::JwksSource,
};
use tonic::{Request, transport::Channel};

use crate::http::{ApiError, extract::Caller};

/// The identity-svc client.
#[derive(Debug, Clone)]
pub struct IdentityClient {
    channel: Channel,
    client: IdentityServiceClient<Channel>,
    internal: OutgoingCall,
    user: OutgoingCall,
}

impl IdentityClient {
    /// A client over `channel`, presenting `credential` on pre-authentication methods.
    pub fn new(channel: Channel, credential: InternalCredential) -> Self {
        Self {
            client: IdentityServiceClient::new(channel.clone()),
            channel,
            internal: OutgoingCall::internal(credential),
            user: OutgoingCall::default(),
        }
    }

    /// The generated client (cheap to clone).
    pub fn rpc(&self) -> IdentityServiceClient<Channel> {
        self.client.clone()
    }

    /// A request made as the trusted internal caller.
    pub fn internal<T>(&self, msg: T, request_id: &str) -> Request<T> {
        self.internal.request(msg, Some(request_id), None)
    }

    /// A request made on behalf of `caller`, carrying only their access token.
    pub fn as_user<T>(&self, msg: T, caller: &Caller) -> Request<T> {
        self.user
            .request(msg, Some(&caller.request_id), Some(caller.token()))
    }

    /// Whether identity-svc reports SERVING on the gRPC health protocol.
    pub async fn is_serving(&self) -> bool {
        let mut health = tonic_health::pb::health_client::HealthClient::new(self.channel.clone());
        let mut req = Request::new(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        });
        req.set_timeout(std::time::Duration::from_secs(2));
        matches!(
            health.check(req).await.map(|r| r.into_inner().status()),
            Ok(tonic_health::pb::health_check_response::ServingStatus::Serving)
        )
    }

    /// Exchanges a personal access token for an access token; 401 when refused.
    pub async fn authenticate_pat(
        &self,
        request_id: &str,
        token: String,
    ) -> Result<String, ApiError> {
        self.authenticate(
            request_id,
            pb::authenticate_request::Credential::PersonalAccessToken(token),
        )
        .await
    }

    /// Exchanges a session token for an access token; 401 when refused.
    pub async fn authenticate_session(
        &self,
        request_id: &str,
        token: String,
    ) -> Result<String, ApiError> {
        self.authenticate(
            request_id,
            pb::authenticate_request::Credential::SessionToken(token),
        )
        .await
    }

    async fn authenticate(
        &self,
        request_id: &str,
        credential: pb::authenticate_request::Credential,
    ) -> Result<String, ApiError> {
        let req = self.internal(
            pb::AuthenticateRequest {
                credential: Some(credential),
            },
            request_id,
        );
        match self.rpc().authenticate(req).await {
            Ok(r) => Ok(r.into_inner().access_token),
            Err(s) if s.code() == tonic::Code::Unauthenticated => Err(ApiError::unauthorized()),
            Err(s) => Err(s.into()),
        }
    }
}

/// The key set, fetched from identity-svc over gRPC.
#[derive(Debug, Clone)]
pub struct GrpcJwks(pub Arc<IdentityClient>);

#[async_trait::async_trait]
impl JwksSource for GrpcJwks {
    async fn fetch(&self) -> anyhow::Result<String> {
        let req = self.0.internal(pb::GetJwksRequest {}, "jwks-refresh");
        Ok(self.0.rpc().get_jwks(req).await?.into_inner().jwks_json)
    }
}
