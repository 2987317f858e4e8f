//! Our own OpenAPI documents, served as they are in the repository (`docs/openapi/`), embedded
//! at compile time.

use axum::{
    http::header,
    response::{IntoResponse, Response},
};

/// The document of `/api/v1/connections` (OpenAPI 3.0.3).
const CONNECTIONS: &str = include_str!("../../../../docs/openapi/connections.openapi.json");

/// GET /api/v1/openapi/connections.json (ours): the OpenAPI document of `/api/v1/connections`;
/// no authentication.
pub(super) async fn connections() -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        CONNECTIONS,
    )
        .into_response()
}
