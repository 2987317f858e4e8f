//! Dialect-neutral routes: key publication and the probes.

use axum::{
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use proto::identity::v1 as pb;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{ApiResult, AppState, extract::RequestId};

/// `/.well-known/jwks.json`, `/livez` and `/readyz`.
pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(jwks))
        .routes(routes!(live))
        .routes(routes!(ready))
}

/// A JSON Web Key Set (RFC 7517).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // a schema only: the body comes from identity-svc as JSON text
struct JwkSet {
    /// The public keys: Ed25519 (`kty` `OKP`, `crv` `Ed25519`, `alg` `EdDSA`), each with its
    /// `kid`.
    keys: Vec<Jwk>,
}

/// One public key.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct Jwk {
    #[schema(example = "OKP")]
    kty: String,
    #[schema(example = "Ed25519")]
    crv: String,
    #[schema(example = "EdDSA")]
    alg: Option<String>,
    #[schema(rename = "use", example = "sig")]
    use_: Option<String>,
    /// The key id that a token's header names.
    kid: String,
    /// The public key, base64url.
    x: String,
}

/// GET /.well-known/jwks.json: the public keys that verify access tokens.
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    tag = "Platform",
    operation_id = "getJwks",
    security(()),
    responses((status = 200, description = "The public keys that verify access JWTs; cache for a minute.", content_type = "application/jwk-set+json", body = JwkSet)),
)]
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
#[utoipa::path(
    get,
    path = "/livez",
    tag = "Platform",
    operation_id = "getLivez",
    security(()),
    responses((status = 200, description = "The gateway process answers (no body).")),
)]
async fn live() -> StatusCode {
    StatusCode::OK
}

/// GET /readyz: identity-svc answers its health check as SERVING.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "Platform",
    operation_id = "getReadyz",
    security(()),
    responses(
        (status = 200, description = "Ready: identity-svc is serving (no body)."),
        (status = 503, description = "Not ready: identity-svc does not answer as serving (no body)."),
    ),
)]
async fn ready(State(state): State<AppState>) -> StatusCode {
    if state.identity.is_serving().await {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    }
}
