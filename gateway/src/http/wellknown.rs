//! Key publication, access-token issuance and probes.

use axum::{
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use proto::identity::v1 as pb;
use serde_json::json;

use super::{
    ApiError, ApiResult, AppState,
    extract::{AuthMethod, Caller, RequestId},
    json,
};

/// GET /.well-known/jwks.json: the public keys that verify access tokens.
pub(super) async fn jwks(
    State(state): State<AppState>,
    RequestId(rid): RequestId,
) -> ApiResult<Response> {
    let res = state
        .identity
        .rpc()
        .get_jwks(state.identity.internal(pb::GetJwksRequest {}, &rid))
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

/// POST /api/v1/auth/token (ours, not Lightdash's): a short-lived access JWT for the caller
/// authenticated by session cookie or personal access token, to send as `Authorization: Bearer`.
pub(super) async fn access_token(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Response> {
    if caller.method == AuthMethod::AccessToken {
        return Err(ApiError::forbidden(
            "An access token cannot be exchanged for another; use a session or a personal access token",
        ));
    }
    let claims = state
        .verifier
        .verify(caller.token())
        .await
        .map_err(|_| ApiError::unauthorized())?;
    let expires_at =
        chrono::DateTime::<chrono::Utc>::from_timestamp(claims.exp, 0).unwrap_or_default();
    Ok(json::ok(json!({
        "accessToken": caller.token(),
        "tokenType": "Bearer",
        "expiresAt": expires_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    }))
    .into_response())
}

/// GET /livez: the process answers.
pub(super) async fn live() -> StatusCode {
    StatusCode::OK
}

/// GET /readyz: identity-svc answers its health check as SERVING.
pub(super) async fn ready(State(state): State<AppState>) -> StatusCode {
    if state.identity.is_serving().await {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    }
}
