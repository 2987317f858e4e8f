//! The HTTP face of the platform: the state every handler reaches, the middleware, and the
//! top-level router merging each dialect's routers (`lightdash/`, `swift/`, `ioto/`, `sumvin/`)
//! and the dialect-neutral routes (`wellknown.rs`). `error.rs` maps gRPC to each dialect's error shape; `extract.rs`
//! holds the extractors, the caller's authentication among them.

mod docs;
pub mod error;
pub mod extract;
pub mod ioto;
pub mod lightdash;
pub mod limits;
pub mod luzmo;
pub mod metrics;
pub mod openapi;
#[cfg(test)]
pub(crate) mod proptest_support;
pub mod sumvin;
pub mod swift;
mod trace_span;
mod wellknown;

use std::{sync::Arc, time::Duration};

use axum::{
    Router,
    extract::DefaultBodyLimit,
    http::{HeaderName, Request, StatusCode},
    response::IntoResponse,
};
use service_kit::jwt::JwtVerifier;
use tower::ServiceBuilder;
use tower_http::{
    catch_panic::CatchPanicLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    sensitive_headers::SetSensitiveRequestHeadersLayer,
    timeout::TimeoutLayer,
    trace::TraceLayer,
};

pub use lightdash::{ApiError, ApiResult};

use crate::clients::{ConnectionsClient, IdentityClient, ProjectsClient};

/// What every handler can reach. No database: the gateway owns HTTP concerns only. One `Arc`:
/// axum clones the state for each request, more than once (one reference count instead of
/// five, docs/benchmarks.md, issue #21).
#[derive(Debug, Clone)]
pub struct AppState(Arc<Handles>);

impl AppState {
    /// The state holding `handles`.
    pub fn new(handles: Handles) -> Self {
        Self(Arc::new(handles))
    }
}

impl std::ops::Deref for AppState {
    type Target = Handles;

    fn deref(&self) -> &Handles {
        &self.0
    }
}

/// The clients and settings of [`AppState`].
#[derive(Debug)]
pub struct Handles {
    /// identity-svc.
    pub identity: Arc<IdentityClient>,
    /// projects-svc.
    pub projects: Arc<ProjectsClient>,
    /// connections-svc.
    pub connections: Arc<ConnectionsClient>,
    /// Verifies access JWTs presented by API clients.
    pub verifier: Arc<JwtVerifier>,
    /// HTTP settings.
    pub settings: Arc<HttpSettings>,
}

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Mark the session cookie `Secure` (only sent over HTTPS): `COOKIE_SECURE`, or a `PUBLIC_URL`
    /// that is `https://` ([`cookie_secure`]).
    pub cookie_secure: bool,
    /// Largest accepted request body, in bytes (routes that take small bodies accept
    /// at most [`limits::SMALL_BODY_BYTES`]).
    pub body_limit: usize,
    /// Time a request's body has to arrive whole before the request answers 408.
    pub body_read_timeout: Duration,
    /// Take the client address from `X-Forwarded-For` (behind a trusted proxy).
    pub trust_forwarded_for: bool,
    /// The public base URL of the API (for links such as invitations).
    pub public_url: String,
    /// Time a request may take before it answers 504.
    pub request_timeout: Duration,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            cookie_secure: false,
            body_limit: 1024 * 1024,
            body_read_timeout: Duration::from_secs(15),
            public_url: "http://127.0.0.1:8080".to_owned(),
            trust_forwarded_for: false,
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// Whether session cookies are `Secure`: when asked to be, and whenever the API's public URL is
/// `https://` (a browser that reached the API over TLS must never send the cookie in clear).
pub fn cookie_secure(asked: bool, public_url: &str) -> bool {
    asked
        || public_url
            .get(..8)
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://"))
}

impl HttpSettings {
    /// The sign-up link of an invitation code (every face answers the same one).
    pub fn invite_url(&self, code: &str) -> String {
        format!("{}/invite/{code}", self.public_url.trim_end_matches('/'))
    }
}

/// The organization role field of an invitation request, from the role's name in a body; no
/// name is UNSPECIFIED, which identity-svc reads as its default (every face invites alike).
pub fn invited_role(
    name: Option<&str>,
) -> Result<i32, proto::identity::v1::UnknownOrganizationRole> {
    let role = name
        .map(proto::identity::v1::OrganizationRole::parse)
        .transpose()?;
    Ok(role.unwrap_or_default().into())
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole router with its middleware.
pub fn router(state: AppState) -> Router {
    let settings = state.settings.clone();
    let (api, _document) = openapi::routes().split_for_parts();
    let api = api
        .fallback(|| async { ApiError::route_not_found() })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed")
        })
        .with_state(state);

    let middleware = ServiceBuilder::new()
        // Outermost: the time of everything below (metrics.rs).
        .layer(metrics::HttpMetricsLayer::new())
        .layer(SetSensitiveRequestHeadersLayer::new([
            axum::http::header::AUTHORIZATION,
            axum::http::header::COOKIE,
        ]))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request<_>| {
                    let request_id = req.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("");
                    // The route template, never the raw path: paths can carry secrets (invite codes).
                    let route = req
                        .extensions()
                        .get::<axum::extract::MatchedPath>()
                        .map(|p| p.as_str().to_owned())
                        .unwrap_or_else(|| "unmatched".to_owned());
                    let span = tracing::info_span!("http", method = %req.method(), route = %route, request_id = %request_id, otel.name = tracing::field::Empty, otel.kind = tracing::field::Empty);
                    trace_span::continue_request(&span, req, &route);
                    span
                })
                .on_request(())
                .on_response(log_response)
                .on_failure(()),
        )
        .layer(tower::util::MapResponseLayer::new(limits::close_after_refused_body))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::internal().into_response()
        }))
        .layer(TimeoutLayer::with_status_code(StatusCode::GATEWAY_TIMEOUT, settings.request_timeout))
        // Bodies are read only by each face's body extractor, which answers 413 (too large) and
        // 408 (too slow) in the face's shape (limits.rs).
        .layer(DefaultBodyLimit::max(settings.body_limit))
        .layer(axum::Extension(limits::BodyLimit(settings.body_limit)))
        .layer(limits::RequestBodyDeadlineLayer::new(settings.body_read_timeout));
    api.layer(middleware)
}

fn log_response<B>(res: &axum::http::Response<B>, latency: Duration, _: &tracing::Span) {
    tracing::info!(
        status = res.status().as_u16(),
        latency_ms = latency.as_secs_f64() * 1000.0,
        "request finished"
    );
}
