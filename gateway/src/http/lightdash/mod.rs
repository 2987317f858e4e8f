//! The Lightdash dialect (`/api/v1/…`): its error envelope, its JSON shapes (`json.rs`) and one
//! module per area of routes, each with its own `router()`.

mod account_safety;
mod attributes;
mod auth;
mod connections;
mod docs;
mod email;
mod groups;
mod invites;
mod json;
mod organizations;
mod projects;
mod spaces;
mod tags;
mod tokens;
mod user;
mod warehouse;

use super::{AppState, error::Dialect};
use axum::{http::StatusCode, response::Response};
use utoipa_axum::router::OpenApiRouter;

/// Lightdash's error envelope:
/// `{"status":"error","error":{"statusCode","name","message"}}`.
#[derive(Debug, Clone, Copy)]
pub enum Lightdash {}

impl Dialect for Lightdash {
    fn error_body(status: StatusCode, message: &str) -> serde_json::Value {
        serde_json::to_value(ErrorBody {
            status: ErrorStatus::Error,
            error: ErrorDetail {
                status_code: status.as_u16(),
                name: error_name(status).to_owned(),
                message: message.to_owned(),
            },
        })
        .expect("an error body serializes")
    }
}

/// Lightdash's error envelope, every error of the Lightdash face.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[schema(as = LightdashError)]
pub struct ErrorBody {
    /// Always `error`.
    status: ErrorStatus,
    error: ErrorDetail,
}

/// The `status` of an error envelope.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
enum ErrorStatus {
    Error,
}

/// What went wrong.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = LightdashErrorDetail)]
struct ErrorDetail {
    /// The HTTP status.
    #[schema(example = 404)]
    status_code: u16,
    /// The error's name (`NotFoundError`, `ForbiddenError`, ...).
    #[schema(example = "NotFoundError")]
    name: String,
    /// What went wrong, safe to show.
    #[schema(example = "Project not found")]
    message: String,
}

/// An error answered in the Lightdash envelope.
pub type ApiError = super::error::Error<Lightdash>;
/// Shorthand for handler results.
pub type ApiResult<T> = Result<T, ApiError>;
/// What a handler answers.
pub type Reply = ApiResult<Response>;

/// What every area module uses.
mod prelude {
    #[allow(unused_imports)] // areas moved to `OpenApiRouter` (issue #19) use fewer of these
    pub(super) use axum::{
        Router,
        response::Response,
        routing::{delete, get, patch, post, put},
    };
    pub(super) use serde::Deserialize;
    pub(super) use serde_json::Value;
    #[allow(unused_imports)] // the areas' query types derive IntoParams
    pub(super) use utoipa::{IntoParams, ToSchema};
    pub(super) use utoipa_axum::{router::OpenApiRouter, routes};

    /// The error body of every Lightdash answer (`body = LightdashError` in a
    /// `#[utoipa::path]`).
    pub(super) use super::ErrorBody as LightdashError;

    pub(super) use super::{ApiError, ApiResult, Reply, json};
    pub(super) use crate::http::{
        AppState,
        extract::{Caller, Id, Ids, Json, Path, Query},
    };
}

/// Lightdash's error name for a status.
pub fn error_name(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "ParameterError",
        401 => "AuthorizationError",
        403 => "ForbiddenError",
        404 => "NotFoundError",
        405 => "MethodNotAllowedError",
        408 => "RequestTimeoutError",
        409 => "AlreadyExistsError",
        413 => "PayloadTooLargeError",
        415 => "UnsupportedMediaTypeError",
        429 => "TooManyRequestsError",
        503 => "ServiceUnavailableError",
        504 => "GatewayTimeoutError",
        _ => "UnexpectedServerError",
    }
}

/// The routers of the areas, merged.
macro_rules! merged {
    ($($area:ident),* $(,)?) => {
        OpenApiRouter::new()$(.merge($area::router()))*
    };
}

/// Every route of the dialect.
pub fn router() -> OpenApiRouter<AppState> {
    // Credentials, names and invitations take small bodies (AP-2); the rest the configured
    // limit.
    let small = merged! { user, account_safety, email, tokens, auth, organizations, invites };
    let rest = merged! { attributes, groups, projects, spaces, tags, connections, warehouse };
    crate::http::limits::small_bodies(small).merge(rest)
}
