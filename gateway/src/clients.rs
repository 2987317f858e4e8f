//! gRPC clients of the services, with the metadata every call carries: the request id, and
//! either the user's access token or (pre-authentication methods only) the internal credential.

use std::time::Duration;

use proto::{
    connections::v1::connections_service_client::ConnectionsServiceClient,
    identity::v1::{self as pb, identity_service_client::IdentityServiceClient},
    projects::v1::projects_service_client::ProjectsServiceClient,
};
use service_kit::{
    grpc::{InternalCredential, OutgoingCall},
    identity::Identity,
};
use tonic::{
    Request,
    transport::{Channel, Endpoint},
};

use crate::http::{ApiError, extract::Caller};

/// The identity-svc client.
#[derive(Debug, Clone)]
pub struct IdentityClient(Identity);

impl IdentityClient {
    /// A client of identity-svc at `url`, presenting `credential` on pre-authentication methods.
    pub fn connect_lazy(url: &str, credential: InternalCredential) -> anyhow::Result<Self> {
        Ok(Self(Identity::connect_lazy(url, credential)?))
    }

    /// The shared client underneath.
    pub fn inner(&self) -> &Identity {
        &self.0
    }

    /// The generated client (cheap to clone).
    pub fn rpc(&self) -> IdentityServiceClient<Channel> {
        self.0.rpc()
    }

    /// A request made as the trusted internal caller.
    pub fn internal<T>(&self, msg: T, request_id: &str) -> Request<T> {
        self.0.internal(msg, request_id)
    }

    /// A request made on behalf of `caller`, carrying only their access token.
    pub fn as_user<T>(&self, msg: T, caller: &Caller) -> Request<T> {
        self.0.as_user(msg, &caller.request_id, caller.token())
    }

    /// Whether identity-svc reports SERVING on the gRPC health protocol.
    pub async fn is_serving(&self) -> bool {
        let mut health =
            tonic_health::pb::health_client::HealthClient::new(self.0.channel().clone());
        let mut req = Request::new(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        });
        req.set_timeout(Duration::from_secs(2));
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

/// The projects-svc client: user methods only.
#[derive(Debug, Clone)]
pub struct ProjectsClient {
    client: ProjectsServiceClient<Channel>,
    user: OutgoingCall,
}

/// A channel to a service at `url` that connects on first use.
fn lazy_channel(url: &str) -> anyhow::Result<Channel> {
    Ok(Endpoint::from_shared(url.to_owned())?
        .connect_timeout(Duration::from_secs(5))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .connect_lazy())
}

impl ProjectsClient {
    /// A client of projects-svc at `url` (connects lazily).
    pub fn connect_lazy(url: &str) -> anyhow::Result<Self> {
        Ok(Self {
            client: ProjectsServiceClient::new(lazy_channel(url)?),
            user: OutgoingCall::default(),
        })
    }

    /// The generated client (cheap to clone).
    pub fn rpc(&self) -> ProjectsServiceClient<Channel> {
        self.client.clone()
    }

    /// A request made on behalf of `caller`.
    pub fn as_user<T>(&self, msg: T, caller: &Caller) -> Request<T> {
        self.user
            .request(msg, Some(&caller.request_id), Some(caller.token()))
    }
}

/// The connections-svc client. Its requests carry secrets: they are never logged.
#[derive(Debug, Clone)]
pub struct ConnectionsClient {
    client: ConnectionsServiceClient<Channel>,
    user: OutgoingCall,
}

impl ConnectionsClient {
    /// A client of connections-svc at `url` (connects lazily).
    pub fn connect_lazy(url: &str) -> anyhow::Result<Self> {
        Ok(Self {
            client: ConnectionsServiceClient::new(lazy_channel(url)?),
            user: OutgoingCall::default(),
        })
    }

    /// The generated client (cheap to clone).
    pub fn rpc(&self) -> ConnectionsServiceClient<Channel> {
        self.client.clone()
    }

    /// A request made on behalf of `caller`.
    pub fn as_user<T>(&self, msg: T, caller: &Caller) -> Request<T> {
        self.user
            .request(msg, Some(&caller.request_id), Some(caller.token()))
    }
}
