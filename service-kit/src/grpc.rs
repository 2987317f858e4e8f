//! How gRPC callers are authenticated, and how every service is served.
//!
//! Two kinds of caller exist (see ARCHITECTURE.md, "Service authentication"):
//! - a **user**, proven by `authorization: Bearer <access JWT>` that [`JwtVerifier`] accepts;
//! - a **part of the platform** (the gateway, a peer service, the operator's tools), proven by
//!   its own service credential in `x-internal-credential`, allowed only on the methods its
//!   service's table names ([`crate::callers`]).

use std::{net::SocketAddr, sync::Arc, time::Duration};

use secrecy::{ExposeSecret, SecretString};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::{
    Request, Status,
    metadata::{AsciiMetadataValue, MetadataMap},
    service::Interceptor,
    transport::server::TcpIncoming,
};

use crate::jwt::{AccessClaims, JwtVerifier};

pub mod guard;
pub mod local;
pub mod tls;

pub use local::GrpcChannel;

/// Metadata key carrying the calling part's own service credential ([`crate::callers`]).
pub const INTERNAL_CREDENTIAL_KEY: &str = "x-internal-credential";
/// Metadata key carrying the request id across services.
pub const REQUEST_ID_KEY: &str = "x-request-id";
/// Metadata key carrying the address of the client a user call comes from, as the gateway
/// trusts it (the peer, or its trusted proxy's `X-Forwarded-For` entry). identity-svc checks
/// it against the caller's account's allowed IPs (docs/accounts.md); projects-svc and
/// connections-svc pass it on. Counted only from a part whose credential the method admits
/// (`crate::callers::CallerLayer` drops it otherwise).
pub const CLIENT_ADDRESS_KEY: &str = "x-client-address";
/// Longest client address a call may carry (an IPv6 address with a zone fits).
const MAX_CLIENT_ADDRESS_LEN: usize = 64;

/// The service credential a part of the platform presents (`SERVICE_CREDENTIAL`). Debug
/// output never shows it.
#[derive(Clone)]
pub struct InternalCredential(Arc<SecretString>);

impl std::fmt::Debug for InternalCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InternalCredential([REDACTED])")
    }
}

impl InternalCredential {
    /// Wraps a configured credential. Refuses one too short to resist guessing, or that a call's
    /// metadata cannot carry.
    pub fn new(secret: SecretString) -> anyhow::Result<Self> {
        anyhow::ensure!(
            secret.expose_secret().len() >= 32,
            "SERVICE_CREDENTIAL: a service credential must be at least 32 characters"
        );
        anyhow::ensure!(
            AsciiMetadataValue::try_from(secret.expose_secret()).is_ok(),
            "SERVICE_CREDENTIAL: a service credential must be printable ASCII"
        );
        Ok(Self(Arc::new(secret)))
    }

    /// A fresh random credential (for a single process that runs every part).
    pub fn generate() -> Self {
        Self(Arc::new(SecretString::from(crate::secret::random_token::<
            32,
        >(""))))
    }

    /// The SHA-256 digest of the credential: how a server knows it (`SERVICE_CREDENTIALS`).
    pub fn digest(&self) -> [u8; 32] {
        use sha2::Digest as _;
        sha2::Sha256::digest(self.0.expose_secret().as_bytes()).into()
    }

    /// The credential itself, for tests.
    #[cfg(test)]
    pub(crate) fn expose_for_tests(&self) -> &str {
        self.0.expose_secret()
    }

    /// The credential as a metadata value (mark it sensitive before sending).
    pub fn header_value(&self) -> AsciiMetadataValue {
        AsciiMetadataValue::try_from(self.0.expose_secret()).expect("credential is ASCII")
    }
}

/// A protobuf timestamp of a UTC time.
pub fn timestamp(t: chrono::DateTime<chrono::Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

/// The bearer token of a call, if any.
pub fn bearer_token(metadata: &MetadataMap) -> Option<&str> {
    let value = metadata.get("authorization")?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Authenticates the user a call speaks for: the bearer JWT must verify.
/// Every failure answers the same UNAUTHENTICATED; the reason is logged. An operator's token
/// (no user) answers PERMISSION_DENIED ([`operator_refused`]).
pub async fn authenticate_user(
    verifier: &JwtVerifier,
    metadata: &MetadataMap,
) -> Result<AccessClaims, Status> {
    let claims = authenticate_principal(verifier, metadata).await?;
    if claims.is_operator() {
        tracing::info!(operator_token_uuid = ?claims.opr, "operator token refused: not a user");
        return Err(operator_refused());
    }
    Ok(claims)
}

/// The answer to an operator's token where a user is needed: PERMISSION_DENIED (an operator
/// acts on accounts only, docs/accounts.md).
pub fn operator_refused() -> Status {
    Status::permission_denied("an operator token acts on accounts only; it is no user")
}

/// Verifies the caller's access token, a user's or an operator's (see
/// `AccessClaims::opr`): only for methods that serve operators (identity-svc's accounts).
pub async fn authenticate_principal(
    verifier: &JwtVerifier,
    metadata: &MetadataMap,
) -> Result<AccessClaims, Status> {
    let token =
        bearer_token(metadata).ok_or_else(|| Status::unauthenticated("access token required"))?;
    verifier.verify(token).await.map_err(|e| {
        tracing::info!(reason = %e, "access token refused");
        match e {
            crate::jwt::VerifyError::KeySetUnavailable(_) => {
                Status::unavailable("signing keys unavailable")
            }
            _ => Status::unauthenticated("invalid access token"),
        }
    })
}

/// A verified user call: the user, the access token they presented (to ask other services about
/// them as them, which authorizes them again there), the request id and the client's address.
#[derive(Debug, Clone)]
pub struct UserCall {
    pub user_uuid: uuid::Uuid,
    pub access_token: secrecy::SecretString,
    pub request_id: String,
    /// The call's [`CLIENT_ADDRESS_KEY`], passed on to identity-svc.
    pub client_address: Option<String>,
}

/// The client address a call carries ([`CLIENT_ADDRESS_KEY`]), as sent; None when absent, not
/// text or longer than any address.
pub fn client_address(metadata: &MetadataMap) -> Option<&str> {
    metadata
        .get(CLIENT_ADDRESS_KEY)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= MAX_CLIENT_ADDRESS_LEN)
}

/// Verifies the caller's access token ([`authenticate_user`]) and keeps what a service needs to
/// act for them.
pub async fn user_call<T>(
    verifier: &JwtVerifier,
    req: &tonic::Request<T>,
) -> Result<UserCall, Status> {
    let claims = authenticate_user(verifier, req.metadata()).await?;
    let user_uuid = claims
        .user_uuid()
        .map_err(|_| Status::unauthenticated("invalid access token"))?;
    let token = bearer_token(req.metadata())
        .ok_or_else(|| Status::unauthenticated("access token required"))?;
    let request_id = req
        .metadata()
        .get(REQUEST_ID_KEY)
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() <= 128)
        .unwrap_or_default()
        .to_owned();
    Ok(UserCall {
        user_uuid,
        access_token: secrecy::SecretString::from(token.to_owned()),
        request_id,
        client_address: client_address(req.metadata()).map(str::to_owned),
    })
}

/// Adds the request id and credentials to every outgoing call of a client.
#[derive(Debug, Clone, Default)]
pub struct OutgoingCall {
    internal: Option<InternalCredential>,
}

impl OutgoingCall {
    /// Calls that present this part's own service credential.
    pub fn internal(credential: InternalCredential) -> Self {
        Self {
            internal: Some(credential),
        }
    }

    /// Builds a request carrying `msg`, the request id, the internal credential when this is
    /// an internal client, and `access_token` when given.
    pub fn request<T>(
        &self,
        msg: T,
        request_id: Option<&str>,
        access_token: Option<&str>,
    ) -> Request<T> {
        let mut req = Request::new(msg);
        let md = req.metadata_mut();
        // Secrets are marked sensitive: HTTP/2 sends them as never-indexed literals, kept out of
        // the connection's HPACK table (RFC 7541 §7.1.3).
        if let Some(id) = request_id.and_then(|id| AsciiMetadataValue::try_from(id).ok()) {
            md.insert(REQUEST_ID_KEY, id);
        }
        if let Some(mut token) =
            access_token.and_then(|t| AsciiMetadataValue::try_from(format!("Bearer {t}")).ok())
        {
            token.set_sensitive(true);
            md.insert("authorization", token);
        }
        if let Some(cred) = &self.internal {
            let mut value = cred.header_value();
            value.set_sensitive(true);
            md.insert(INTERNAL_CREDENTIAL_KEY, value);
        }
        crate::trace_context::inject(md);
        req.set_timeout(Duration::from_secs(10));
        req
    }
}

impl Interceptor for OutgoingCall {
    fn call(&mut self, mut req: Request<()>) -> Result<Request<()>, Status> {
        if let Some(cred) = &self.internal {
            req.metadata_mut()
                .insert(INTERNAL_CREDENTIAL_KEY, cred.header_value());
        }
        crate::trace_context::inject(req.metadata_mut());
        Ok(req)
    }
}

/// Whether an incoming call to `path` gets a span. Not health checks (kubelet probes every few
/// seconds per pod: each would be a root trace) nor reflection (an operator's grpcurl).
/// `events.v1.EventsService/Subscribe` keeps its span: tonic ends a call's span when the
/// handler returns its response, so the span covers the cursor checks, not the hours-long
/// stream (sent by a task spawned outside it); each event's work on the consumer continues the
/// outbox row's traceparent instead.
fn traced(path: &str) -> bool {
    !(path.starts_with("/grpc.health.v1.") || path.starts_with("/grpc.reflection."))
}

/// The span every incoming gRPC call runs in: method and the caller's request id (none for
/// health checks and reflection, see [`traced`]).
pub fn request_span(req: &http::Request<()>) -> tracing::Span {
    if !traced(req.uri().path()) {
        return tracing::Span::none();
    }
    let request_id = req
        .headers()
        .get(REQUEST_ID_KEY)
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() <= 128)
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    tracing::info_span!(
        "grpc",
        method = %req.uri().path(),
        request_id = %request_id,
        otel.name = tracing::field::Empty,
        otel.kind = tracing::field::Empty,
    )
}

/// The span of an incoming call to `part` (`identity-svc`, …): [`request_span`], continuing
/// the caller's trace when traces are exported ([`crate::trace_context`]).
pub fn part_request_span(part: &'static str, req: &http::Request<()>) -> tracing::Span {
    let span = request_span(req);
    if !span.is_none() && crate::trace_context::enabled() {
        span.record("otel.name", req.uri().path());
        span.record("otel.kind", "server");
        crate::trace_context::continue_from_headers(&span, part, req.headers());
    }
    span
}

/// A `tonic` server builder with the platform's defaults: a span per call, timeouts.
pub fn server_builder() -> tonic::transport::Server {
    tonic::transport::Server::builder()
        .trace_fn(request_span)
        .timeout(Duration::from_secs(30))
        .tcp_nodelay(true)
}

/// Health (`grpc.health.v1`) and reflection services for a server exposing `descriptor_sets`.
pub async fn health_and_reflection(
    descriptor_sets: &[&'static [u8]],
) -> anyhow::Result<(
    tonic_health::server::HealthReporter,
    tonic_health::pb::health_server::HealthServer<impl tonic_health::pb::health_server::Health>,
    tonic_reflection::server::v1::ServerReflectionServer<
        impl tonic_reflection::server::v1::ServerReflection,
    >,
)> {
    let (reporter, health) = tonic_health::server::health_reporter();
    // tonic-health starts the server's status ("") at SERVING: not before the service serves.
    reporter
        .set_service_status("", tonic_health::ServingStatus::NotServing)
        .await;
    let mut builder = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET);
    for set in descriptor_sets {
        builder = builder.register_encoded_file_descriptor_set(set);
    }
    Ok((reporter, health, builder.build_v1()?))
}

/// Serves `router` on `listener` until `shutdown` is cancelled; in-flight calls finish first.
pub async fn serve(
    router: tonic::transport::server::Router,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    router
        .serve_with_incoming_shutdown(incoming, shutdown.cancelled_owned())
        .await?;
    Ok(())
}

/// Binds a listener for a server.
pub async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))
}

/// Marks the server NOT_SERVING while `probe` fails, SERVING when it succeeds (readiness).
pub fn watch_readiness<F, Fut>(
    reporter: tonic_health::server::HealthReporter,
    probe: F,
    shutdown: CancellationToken,
) where
    F: Fn() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    tokio::spawn(async move {
        loop {
            let status = if probe().await {
                tonic_health::ServingStatus::Serving
            } else {
                tonic_health::ServingStatus::NotServing
            };
            reporter.set_service_status("", status).await;
            tokio::select! {
                () = shutdown.cancelled() => {
                    reporter.set_service_status("", tonic_health::ServingStatus::NotServing).await;
                    return;
                }
                () = tokio::time::sleep(Duration::from_secs(5)) => {}
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outgoing_secrets_are_never_indexed_by_hpack() {
        let req = OutgoingCall::internal(InternalCredential::generate()).request(
            (),
            Some("0b7a4b5e-6c1d-4a57-9a64-1c8f4f3f2a10"),
            Some("header.claims.signature"),
        );
        let md = req.metadata();
        assert!(md.get("authorization").unwrap().is_sensitive());
        assert!(md.get(INTERNAL_CREDENTIAL_KEY).unwrap().is_sensitive());
        assert!(!md.get(REQUEST_ID_KEY).unwrap().is_sensitive());
    }

    #[test]
    fn credentials_never_show_in_debug() {
        let cred = InternalCredential::generate();
        assert!(!format!("{cred:?}").contains(cred.0.expose_secret()));
    }

    #[test]
    fn health_checks_and_reflection_get_no_span() {
        let subscriber = tracing_subscriber::registry();
        tracing::subscriber::with_default(subscriber, || {
            let span = |path: &str| {
                let req = http::Request::builder().uri(path).body(()).unwrap();
                part_request_span("x-svc", &req)
            };
            for path in [
                "/grpc.health.v1.Health/Check",
                "/grpc.health.v1.Health/Watch",
                "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
                "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
            ] {
                assert!(span(path).is_none(), "{path}");
            }
            for path in [
                "/events.v1.EventsService/Subscribe",
                "/identity.v1.IdentityService/Authenticate",
            ] {
                assert!(!span(path).is_none(), "{path}");
            }
        });
    }

    #[test]
    fn short_credentials_are_refused() {
        assert!(InternalCredential::new(SecretString::from("short")).is_err());
    }

    #[test]
    fn bearer_token_parses_the_scheme_case_insensitively() {
        let mut md = MetadataMap::new();
        md.insert("authorization", "bearer abc".parse().unwrap());
        assert_eq!(bearer_token(&md), Some("abc"));
        md.insert("authorization", "Basic abc".parse().unwrap());
        assert_eq!(bearer_token(&md), None);
    }
}
