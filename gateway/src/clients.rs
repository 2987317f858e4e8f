//! Typed gRPC clients of the services. Every call goes through [`CallMetadata`], the one place
//! that attaches what a call carries: the request id, the gateway's own service credential
//! (every call: the services admit the gateway by it, and count the client's address only from
//! it), the user's access token on user calls, the address a user calls from and the deadline.
//!
//! A handler asks a client for a generated client bound to its caller and calls a method on it:
//! `state.identity.as_user(&caller).get_current_user(msg).await?`.

use std::{
    marker::PhantomData,
    sync::Arc,
    time::{Duration, Instant},
};

use proto::{
    connections::v1::connections_service_client::ConnectionsServiceClient,
    identity::v1::{
        self as pb, accounts_client::AccountsClient, identity_service_client::IdentityServiceClient,
    },
    projects::v1::projects_service_client::ProjectsServiceClient,
};
use secrecy::SecretString;
use service_kit::{
    digest_cache::{DigestCache, digest},
    grpc::{
        CLIENT_ADDRESS_KEY, GrpcChannel, INTERNAL_CREDENTIAL_KEY, InternalCredential,
        REQUEST_ID_KEY, tls::ClientTls,
    },
    identity::Identity,
};
use tonic::{
    Request, Status,
    metadata::AsciiMetadataValue,
    service::{Interceptor, interceptor::InterceptedService},
};

use crate::http::extract::Caller;

/// How long a service may take to answer one call.
const DEADLINE: Duration = Duration::from_secs(10);
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

/// The metadata every call of a bound client carries. Secrets are marked sensitive: HTTP/2 sends
/// them as never-indexed literals, kept out of the connection's HPACK table (RFC 7541 §7.1.3).
#[derive(Clone)]
pub struct CallMetadata {
    request_id: Option<AsciiMetadataValue>,
    /// `authorization: Bearer <access token>` of a user call.
    authorization: Option<AsciiMetadataValue>,
    /// The gateway's service credential, on every call.
    internal: AsciiMetadataValue,
    /// The client's address of a user call (`x-client-address`), for the account's allowed IPs.
    client_address: Option<AsciiMetadataValue>,
}

impl std::fmt::Debug for CallMetadata {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallMetadata")
            .field("request_id", &self.request_id)
            .field("client_address", &self.client_address)
            .finish_non_exhaustive()
    }
}

impl CallMetadata {
    /// A call for the user whose access token `caller` carries, from the address they call from,
    /// which the gateway's `credential` vouches for.
    fn user(caller: &Caller, credential: &AsciiMetadataValue) -> Self {
        Self {
            request_id: ascii(&caller.request_id),
            authorization: ascii(&format!("Bearer {}", caller.token())).map(sensitive),
            internal: credential.clone(),
            client_address: caller.client_address.as_deref().and_then(ascii),
        }
    }

    /// A call as the gateway alone (pre-authentication methods).
    fn internal(request_id: &str, credential: &AsciiMetadataValue) -> Self {
        Self {
            request_id: ascii(request_id),
            authorization: None,
            internal: credential.clone(),
            client_address: None,
        }
    }
}

fn ascii(value: &str) -> Option<AsciiMetadataValue> {
    AsciiMetadataValue::try_from(value).ok()
}

fn sensitive(mut value: AsciiMetadataValue) -> AsciiMetadataValue {
    value.set_sensitive(true);
    value
}

impl Interceptor for CallMetadata {
    fn call(&mut self, mut req: Request<()>) -> Result<Request<()>, Status> {
        let md = req.metadata_mut();
        if let Some(id) = &self.request_id {
            md.insert(REQUEST_ID_KEY, id.clone());
        }
        if let Some(token) = &self.authorization {
            md.insert("authorization", token.clone());
        }
        md.insert(INTERNAL_CREDENTIAL_KEY, self.internal.clone());
        if let Some(address) = &self.client_address {
            md.insert(CLIENT_ADDRESS_KEY, address.clone());
        }
        service_kit::trace_context::inject(md);
        req.set_timeout(DEADLINE);
        Ok(req)
    }
}

/// The channel under a bound client: every call passes through its [`CallMetadata`].
pub type Bound = InterceptedService<GrpcChannel, CallMetadata>;
/// identity-svc's generated client, bound to a caller.
pub type IdentityRpc = IdentityServiceClient<Bound>;
/// identity-svc's account hierarchy API (`identity.v1.Accounts`), bound to a caller.
pub type AccountsRpc = AccountsClient<Bound>;
/// projects-svc's generated client, bound to a caller.
pub type ProjectsRpc = ProjectsServiceClient<Bound>;
/// connections-svc's generated client, bound to a caller. Its requests carry secrets: they are
/// never logged.
pub type ConnectionsRpc = ConnectionsServiceClient<Bound>;

/// A generated client that can be built over a bound channel.
pub trait Generated {
    /// The client over `channel`.
    fn over(channel: Bound) -> Self;
}

macro_rules! generated {
    ($($client:ident),*) => {$(
        impl Generated for $client<Bound> {
            fn over(channel: Bound) -> Self {
                Self::new(channel)
            }
        }
    )*};
}
generated!(
    IdentityServiceClient,
    AccountsClient,
    ProjectsServiceClient,
    ConnectionsServiceClient
);

/// A client of one service: its channel, from which clients bound to a caller are made, and
/// the gateway's credential, as sent (Debug never shows it).
pub struct Service<C> {
    channel: GrpcChannel,
    credential: AsciiMetadataValue,
    client: PhantomData<fn() -> C>,
}

impl<C> std::fmt::Debug for Service<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

impl<C> Clone for Service<C> {
    fn clone(&self) -> Self {
        Self::over(self.channel.clone(), self.credential.clone())
    }
}

impl<C> Service<C> {
    fn over(channel: GrpcChannel, credential: AsciiMetadataValue) -> Self {
        Self {
            channel,
            credential,
            client: PhantomData,
        }
    }
}

/// The gateway's credential as sent: marked sensitive.
fn credential_value(credential: &InternalCredential) -> AsciiMetadataValue {
    sensitive(credential.header_value())
}

impl<C: Generated> Service<C> {
    /// A client of the service at `url` (connects lazily: it may start later), presenting
    /// `credential` on every call.
    pub fn connect_lazy(
        url: &str,
        credential: &InternalCredential,
        tls: &ClientTls,
    ) -> anyhow::Result<Self> {
        Ok(Self::over(
            tls.connect_lazy(url)?,
            credential_value(credential),
        ))
    }

    /// The generated client for calls on behalf of `caller`: their access token, vouched for by
    /// the gateway's credential.
    pub fn as_user(&self, caller: &Caller) -> C {
        self.bound(CallMetadata::user(caller, &self.credential))
    }

    fn bound(&self, metadata: CallMetadata) -> C {
        self.bound_as(metadata)
    }
}

impl<C> Service<C> {
    /// Another gRPC service's generated client on the same channel (a second service of the
    /// same server).
    fn bound_as<D: Generated>(&self, metadata: CallMetadata) -> D {
        D::over(InterceptedService::new(self.channel.clone(), metadata))
    }
}

/// The projects-svc client: user methods only.
pub type ProjectsClient = Service<ProjectsRpc>;
/// The connections-svc client: user methods only.
pub type ConnectionsClient = Service<ConnectionsRpc>;

/// Which credential an access token was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exchange {
    /// The first request of a credential, or one after its reuse window: ask identity-svc.
    Fresh,
    /// Any request: reuse an access token obtained in the last [`EXCHANGE_REUSE`].
    Reuse,
}

/// The identity-svc client: user methods, pre-authentication methods as the gateway alone,
/// and the access tokens recently obtained for credentials.
#[derive(Debug, Clone)]
pub struct IdentityClient {
    service: Service<IdentityRpc>,
    /// The key set's source, on the same channel.
    identity: Identity,
    /// Access tokens by the digest of the credential they were issued for; never the
    /// credential itself.
    exchanged: Arc<DigestCache<SecretString>>,
}

impl IdentityClient {
    /// A client of identity-svc at `url`, presenting `credential` on every call.
    pub fn connect_lazy(
        url: &str,
        credential: &InternalCredential,
        tls: &ClientTls,
    ) -> anyhow::Result<Self> {
        let identity = Identity::connect_lazy(url, credential.clone(), tls)?;
        Ok(Self {
            service: Service::over(identity.channel().clone(), credential_value(credential)),
            identity,
            exchanged: Arc::new(DigestCache::new(EXCHANGED_TOKENS)),
        })
    }

    /// The shared client underneath (the key set's source).
    pub fn inner(&self) -> &Identity {
        &self.identity
    }

    /// The generated client for calls on behalf of `caller`.
    pub fn as_user(&self, caller: &Caller) -> IdentityRpc {
        self.service.as_user(caller)
    }

    /// The account hierarchy API, for calls on behalf of `caller`.
    pub fn accounts_as_user(&self, caller: &Caller) -> AccountsRpc {
        self.service
            .bound_as(CallMetadata::user(caller, &self.service.credential))
    }

    /// The generated client for calls as the gateway alone (pre-authentication methods).
    pub fn internal(&self, request_id: &str) -> IdentityRpc {
        self.service
            .bound(CallMetadata::internal(request_id, &self.service.credential))
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

    /// Exchanges a personal access token or a session token for an access token. A refusal
    /// (UNAUTHENTICATED) also forgets the token held for the credential.
    pub async fn authenticate(
        &self,
        request_id: &str,
        credential: &pb::authenticate_request::Credential,
        exchange: Exchange,
    ) -> Result<SecretString, Status> {
        let key = exchanged_key(credential);
        if exchange == Exchange::Reuse
            && let Some(token) = self.exchanged.get(&key, Instant::now())
        {
            return Ok(token);
        }
        let msg = pb::AuthenticateRequest {
            credential: Some(credential.clone()),
        };
        let granted = match self.internal(request_id).authenticate(msg).await {
            Ok(r) => r.into_inner(),
            Err(s) => {
                if s.code() == tonic::Code::Unauthenticated {
                    self.exchanged.remove(&key);
                }
                return Err(s);
            }
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
        Credential::OperatorToken(t) => digest(&[b"operator", t.as_bytes()]),
    }
}
