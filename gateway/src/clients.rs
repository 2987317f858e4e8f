//! gRPC clients of the services, with the metadata every call carries: the request id, and
//! either the user's access token or (pre-authentication methods only) the internal credential.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use proto::{
    connections::v1::connections_service_client::ConnectionsServiceClient,
    identity::v1::{self as pb, identity_service_client::IdentityServiceClient},
    projects::v1::projects_service_client::ProjectsServiceClient,
};
use secrecy::SecretString;
use service_kit::{
    digest_cache::{DigestCache, digest},
    grpc::{InternalCredential, OutgoingCall},
    identity::Identity,
};
use tonic::{
    Request,
    transport::{Channel, Endpoint},
};

use crate::http::{ApiError, extract::Caller};

/// How long an access token obtained for a personal access token or a session is reused for
/// further requests presenting the same credential. Revocation does not wait for it: every
/// service checks, on every call, that the credential behind an access token still stands
/// (identity-svc's `ensure_live`, which projects-svc and connections-svc reach through
/// `GetAccessContexts`). It bounds how stale a token's last-used time gets (identity-svc keeps it
/// to the minute when it issues a token).
const EXCHANGE_REUSE: Duration = Duration::from_secs(60);
/// An access token is not reused in its last minute, so calls made with it do not outlive it.
const EXCHANGE_MARGIN: Duration = Duration::from_secs(60);
/// How many credentials' access tokens the gateway holds (under a kilobyte each).
const EXCHANGED_TOKENS: usize = 10_000;

/// Which credential an access token was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exchange {
    /// The first request of a credential, or one after its reuse window: ask identity-svc.
    Fresh,
    /// Any request: reuse an access token obtained in the last [`EXCHANGE_REUSE`].
    Reuse,
}

/// The identity-svc client.
#[derive(Debug, Clone)]
pub struct IdentityClient {
    identity: Identity,
    /// Access tokens by the digest of the credential they were issued for; never the
    /// credential itself.
    exchanged: Arc<DigestCache<SecretString>>,
}

impl IdentityClient {
    /// A client of identity-svc at `url`, presenting `credential` on pre-authentication methods.
    pub fn connect_lazy(url: &str, credential: InternalCredential) -> anyhow::Result<Self> {
        Ok(Self {
            identity: Identity::connect_lazy(url, credential)?,
            exchanged: Arc::new(DigestCache::new(EXCHANGED_TOKENS)),
        })
    }

    /// The shared client underneath.
    pub fn inner(&self) -> &Identity {
        &self.identity
    }

    /// The generated client (cheap to clone).
    pub fn rpc(&self) -> IdentityServiceClient<Channel> {
        self.identity.rpc()
    }

    /// A request made as the trusted internal caller.
    pub fn internal<T>(&self, msg: T, request_id: &str) -> Request<T> {
        self.identity.internal(msg, request_id)
    }

    /// A request made on behalf of `caller`, carrying only their access token.
    pub fn as_user<T>(&self, msg: T, caller: &Caller) -> Request<T> {
        self.identity
            .as_user(msg, &caller.request_id, caller.token())
    }

    /// Whether identity-svc reports SERVING on the gRPC health protocol.
    pub async fn is_serving(&self) -> bool {
        let mut health =
            tonic_health::pb::health_client::HealthClient::new(self.identity.channel().clone());
        let mut req = Request::new(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        });
        req.set_timeout(Duration::from_secs(2));
        matches!(
            health.check(req).await.map(|r| r.into_inner().status()),
            Ok(tonic_health::pb::health_check_response::ServingStatus::Serving)
        )
    }

    /// Stops reusing the access token of the session `token` (the caller logged out).
    pub fn forget_session(&self, token: &str) {
        self.exchanged.remove(&exchanged_key(
            &pb::authenticate_request::Credential::SessionToken(token.to_owned()),
        ));
    }

    /// Exchanges a personal access token or a session token for an access token; 401 when
    /// refused.
    pub async fn authenticate(
        &self,
        request_id: &str,
        credential: &pb::authenticate_request::Credential,
        exchange: Exchange,
    ) -> Result<SecretString, ApiError> {
        let key = exchanged_key(credential);
        if exchange == Exchange::Reuse
            && let Some(token) = self.exchanged.get(&key, Instant::now())
        {
            return Ok(token);
        }
        let req = self.internal(
            pb::AuthenticateRequest {
                credential: Some(credential.clone()),
            },
            request_id,
        );
        let granted = match self.rpc().authenticate(req).await {
            Ok(r) => r.into_inner(),
            Err(s) if s.code() == tonic::Code::Unauthenticated => {
                self.exchanged.remove(&key);
                return Err(ApiError::unauthorized());
            }
            Err(s) => return Err(s.into()),
        };
        let token = SecretString::from(granted.access_token);
        let now = Instant::now();
        let left = granted
            .access_token_expires_at
            .and_then(|t| {
                let left = t.seconds - chrono::Utc::now().timestamp();
                u64::try_from(left).ok()
            })
            .map(Duration::from_secs)
            .unwrap_or_default();
        let reuse = EXCHANGE_REUSE.min(left.saturating_sub(EXCHANGE_MARGIN));
        self.exchanged.insert(key, token.clone(), now + reuse, now);
        Ok(token)
    }
}

/// The cache key of a credential: the digest of its kind and its secret.
fn exchanged_key(credential: &pb::authenticate_request::Credential) -> [u8; 32] {
    use pb::authenticate_request::Credential;
    match credential {
        Credential::PersonalAccessToken(t) => digest(&[b"pat", t.as_bytes()]),
        Credential::SessionToken(t) => digest(&[b"session", t.as_bytes()]),
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
