//! Dialect-neutral routes: key publication and the probes.

use axum::{
    Router,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use proto::identity::v1 as pb;

use super::{ApiResult, AppState, extract::RequestId};

/// `/.well-known/jwks.json`, `/livez` and `/readyz`.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/.well-known/jwks.json", get(jwks))
        .route("/livez", get(live))
        .route("/readyz", get(ready))
}

/// GET /.well-known/jwks.json: the public keys that verify access tokens.
async fn jwks(State(state): State<AppState>, RequestId(rid): RequestId) -> ApiResult<Response> {
    let res = state
        .identity
        .internal(&rid)
        .get_jwks(pb::GetJwksRequest {})
        .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/jwk-set+json"),
            (header::CACHE_CONTROL, "public, max-age=60"),
        ],
        res.into_inner().jwks_json,
    )
        .into_response())
}

/// GET /livez: the process answers.
async fn live() -> StatusCode {
    StatusCode::OK
}

/// GET /readyz: identity-svc answers its health check as SERVING.
async fn ready(State(state): State<AppState>) -> StatusCode {
    if state.identity.is_serving().await {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    }
}
