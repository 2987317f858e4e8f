//! The HTTP face of the platform: routing, middleware, and the Lightdash dialect's handlers.

mod attributes;
mod connections;
mod docs;
mod email;
pub mod error;
pub mod extract;
mod groups;
mod invites;
mod json;
mod organizations;
mod projects;
mod spaces;
mod tags;
mod tokens;
mod user;
mod wellknown;

use std::{sync::Arc, time::Duration};

use axum::{
    Router,
    extract::DefaultBodyLimit,
    http::{HeaderName, Request, StatusCode},
    response::IntoResponse,
    routing::{delete, get, patch, post, put},
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

pub use error::{ApiError, ApiResult};

use crate::clients::{ConnectionsClient, IdentityClient, ProjectsClient};

/// What every handler can reach. No database: the gateway owns HTTP concerns only.
#[derive(Debug, Clone)]
pub struct AppState {
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
    /// Mark the session cookie `Secure` (only sent over HTTPS). On for any deployment behind TLS.
    pub cookie_secure: bool,
    /// Largest accepted request body, in bytes.
    pub body_limit: usize,
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
            public_url: "http://127.0.0.1:8080".to_owned(),
            trust_forwarded_for: false,
            request_timeout: Duration::from_secs(30),
        }
    }
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole router with its middleware.
pub fn router(state: AppState) -> Router {
    let settings = state.settings.clone();
    let api = Router::new()
        .route("/api/v1/user", get(user::get_user).post(user::register))
        .route("/api/v1/login", post(user::login))
        .route("/api/v1/logout", get(user::logout))
        .route("/api/v1/user/me", delete(user::delete_me))
        .route("/api/v1/user/login-options", get(user::login_options))
        .route("/api/v1/user/me/email/status", get(email::status))
        .route("/api/v1/user/me/email/otp", put(email::create_passcode))
        .route(
            "/api/v1/user/me/allowedOrganizations",
            get(email::allowed_organizations),
        )
        .route(
            "/api/v1/user/me/joinOrganization/{organizationUuid}",
            post(email::join_organization),
        )
        .route(
            "/api/v1/user/me/personal-access-tokens",
            get(tokens::list).post(tokens::create),
        )
        .route(
            "/api/v1/user/me/personal-access-tokens/{personalAccessTokenUuid}",
            delete(tokens::delete),
        )
        .route(
            "/api/v1/user/me/personal-access-tokens/{personalAccessTokenUuid}/rotate",
            patch(tokens::rotate),
        )
        .route(
            "/api/v1/org",
            get(organizations::get)
                .put(organizations::create)
                .patch(organizations::update),
        )
        .route(
            "/api/v1/org/{organizationUuid}",
            delete(organizations::delete),
        )
        .route("/api/v1/org/users", get(organizations::list_members))
        .route(
            "/api/v1/org/users/{userUuid}",
            get(organizations::get_member).patch(organizations::update_member),
        )
        .route(
            "/api/v1/org/user/{userUuid}",
            delete(organizations::remove_member),
        )
        .route(
            "/api/v1/invite-links",
            post(invites::create).delete(invites::revoke_all),
        )
        .route("/api/v1/invite-links/{inviteLinkCode}", get(invites::get))
        .route(
            "/api/v1/org/allowedEmailDomains",
            get(organizations::get_domains).patch(organizations::set_domains),
        )
        .route(
            "/api/v1/org/attributes",
            get(attributes::list).post(attributes::create),
        )
        .route(
            "/api/v1/org/attributes/{userAttributeUuid}",
            put(attributes::update).delete(attributes::delete),
        )
        .route("/api/v1/org/groups", get(groups::list).post(groups::create))
        .route(
            "/api/v1/groups/{groupUuid}",
            get(groups::get)
                .patch(groups::update)
                .delete(groups::delete),
        )
        .route("/api/v1/groups/{groupUuid}/members", get(groups::members))
        .route(
            "/api/v1/groups/{groupUuid}/members/{userUuid}",
            put(groups::add_member).delete(groups::remove_member),
        )
        .route(
            "/api/v1/org/projects",
            get(projects::list).post(projects::create),
        )
        .route(
            "/api/v1/org/projects/{projectUuid}",
            delete(projects::delete),
        )
        .route("/api/v1/projects/{projectUuid}", get(projects::get))
        .route(
            "/api/v1/projects/{projectUuid}/metadata",
            patch(projects::update_metadata),
        )
        .route(
            "/api/v1/projects/{projectUuid}/schedulerSettings",
            patch(projects::update_scheduler),
        )
        .route(
            "/api/v1/projects/{projectUuid}/access",
            get(projects::access_list).post(projects::grant),
        )
        .route(
            "/api/v1/projects/{projectUuid}/access/{userUuid}",
            patch(projects::update_access).delete(projects::revoke_access),
        )
        .route(
            "/api/v1/projects/{projectUuid}/user/{userUuid}",
            get(projects::member_access),
        )
        .route(
            "/api/v1/projects/{projectUuid}/groupAccesses",
            get(projects::group_accesses),
        )
        .route(
            "/api/v1/groups/{groupUuid}/projects/{projectUuid}",
            post(projects::add_group)
                .patch(projects::update_group)
                .delete(projects::remove_group),
        )
        .route(
            "/api/v1/projects/{projectUuid}/spaces",
            get(spaces::list).post(spaces::create),
        )
        .route(
            "/api/v1/projects/{projectUuid}/spaces/{spaceUuid}",
            get(spaces::get)
                .patch(spaces::update)
                .delete(spaces::delete),
        )
        .route(
            "/api/v1/projects/{projectUuid}/spaces/{spaceUuid}/share",
            post(spaces::share_user),
        )
        .route(
            "/api/v1/projects/{projectUuid}/spaces/{spaceUuid}/share/{userUuid}",
            delete(spaces::revoke_user),
        )
        .route(
            "/api/v1/projects/{projectUuid}/spaces/{spaceUuid}/group/share",
            post(spaces::share_group),
        )
        .route(
            "/api/v1/projects/{projectUuid}/spaces/{spaceUuid}/group/share/{groupUuid}",
            delete(spaces::revoke_group),
        )
        .route(
            "/api/v1/projects/{projectUuid}/spaces/{spaceUuid}/access/explain",
            get(spaces::explain),
        )
        .route(
            "/api/v1/projects/{projectUuid}/tags",
            get(tags::list).post(tags::create),
        )
        .route(
            "/api/v1/projects/{projectUuid}/tags/yaml",
            put(tags::replace_yaml),
        )
        .route(
            "/api/v1/projects/{projectUuid}/tags/{tagUuid}",
            patch(tags::update).delete(tags::delete),
        )
        .route(
            "/api/v1/connections",
            get(connections::list).post(connections::create),
        )
        .route(
            "/api/v1/connections/{connectionUuid}",
            get(connections::get)
                .patch(connections::update)
                .delete(connections::delete),
        )
        .route(
            "/api/v1/connections/{connectionUuid}/test",
            post(connections::test),
        )
        .route(
            "/api/v1/user/warehouseCredentials",
            get(connections::list_user_credentials).post(connections::create_user_credentials),
        )
        .route(
            "/api/v1/user/warehouseCredentials/{uuid}",
            patch(connections::update_user_credentials)
                .delete(connections::delete_user_credentials),
        )
        .route(
            "/api/v1/projects/{projectUuid}/user-credentials",
            get(connections::get_preference),
        )
        .route(
            "/api/v1/projects/{projectUuid}/user-credentials/{userWarehouseCredentialsUuid}",
            patch(connections::set_preference),
        )
        .route("/api/v1/openapi/connections.json", get(docs::connections))
        .route("/api/v1/auth/token", post(wellknown::access_token))
        .route("/.well-known/jwks.json", get(wellknown::jwks))
        .route("/livez", get(wellknown::live))
        .route("/readyz", get(wellknown::ready))
        .fallback(|| async { ApiError::route_not_found() })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed")
        })
        .with_state(state);

    let middleware = ServiceBuilder::new()
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
                    tracing::info_span!("http", method = %req.method(), route = %route, request_id = %request_id)
                })
                .on_request(())
                .on_response(log_response)
                .on_failure(()),
        )
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong").into_response()
        }))
        .layer(TimeoutLayer::with_status_code(StatusCode::GATEWAY_TIMEOUT, settings.request_timeout))
        // Bodies are read only by the JSON extractor, whose rejection answers 413 in our envelope.
        .layer(DefaultBodyLimit::max(settings.body_limit));
    api.layer(middleware)
}

fn log_response<B>(res: &axum::http::Response<B>, latency: Duration, _: &tracing::Span) {
    tracing::info!(
        status = res.status().as_u16(),
        latency_ms = latency.as_secs_f64() * 1000.0,
        "request finished"
    );
}
