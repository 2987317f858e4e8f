//! Key publication, access-token issuance and probes.

use axum::{
    body::Bytes,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use proto::identity::v1 as pb;
use serde::Deserialize;
use serde_json::json;

use crate::clients::Exchange;

use super::{
    ApiError, ApiResult, AppState,
    extract::{AuthMethod, Caller, ClientAddress, RequestId},
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

/// Body of POST /api/v1/auth/token: empty (or `{}`) to exchange the presented credential, or
/// a grant.
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct TokenBody {
    grant_type: Option<GrantType>,
    email: Option<String>,
    password: Option<String>,
    refresh_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum GrantType {
    Password,
    RefreshToken,
}

fn missing(field: &str) -> ApiError {
    ApiError::bad_request(format!("missing field `{field}`"))
}

/// An access token answer; `no-store` as RFC 6749 section 5.1 asks of token responses.
fn token_response(results: serde_json::Value) -> Response {
    let mut res = json::ok(results).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

fn time(t: Option<&prost_types::Timestamp>) -> Option<String> {
    t.map(json::time)
}

/// POST /api/v1/auth/token (ours, not Lightdash's): access JWTs (15 minutes at most) to send as
/// `Authorization: Bearer`.
/// - no body or `{}`: for the caller authenticated by session cookie or personal access token;
/// - `{"grantType":"password","email","password"}`: logs an API client in (the same login,
///   throttling included, as `POST /api/v1/login`) and hands back a refresh token too;
/// - `{"grantType":"refresh_token","refreshToken"}`: a new access token and a new refresh
///   token; the old one stops working, and presenting it again revokes the session.
///
/// `GET /api/v1/logout` with an access token from these grants ends the session: its refresh
/// token and access tokens stop working.
pub(super) async fn access_token(
    State(state): State<AppState>,
    RequestId(rid): RequestId,
    ClientAddress(client_address): ClientAddress,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let body: TokenBody = if body.is_empty() {
        TokenBody::default()
    } else {
        let json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Expected request with `Content-Type: application/json`",
            ));
        }
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::bad_request(format!(
                "Failed to deserialize the JSON body into the target type: {e}"
            ))
        })?
    };
    match body.grant_type {
        None => {
            if body.email.is_some() || body.password.is_some() || body.refresh_token.is_some() {
                return Err(missing("grantType"));
            }
            exchange(&state, &headers).await
        }
        Some(GrantType::Password) => {
            let (Some(email), Some(password)) = (body.email, body.password) else {
                return Err(missing("email` and `password"));
            };
            let req = state.identity.internal(
                pb::LoginRequest {
                    email,
                    password,
                    client_address,
                    api_client: true,
                },
                &rid,
            );
            let grant = state.identity.rpc().login(req).await?.into_inner();
            let access = grant.access.ok_or_else(ApiError::unauthorized)?;
            Ok(token_response(json!({
                "accessToken": access.access_token,
                "tokenType": "Bearer",
                "expiresAt": time(access.access_token_expires_at.as_ref()),
                "refreshToken": grant.session_token,
                "refreshTokenExpiresAt": time(grant.session_expires_at.as_ref()),
            })))
        }
        Some(GrantType::RefreshToken) => {
            let refresh_token = body.refresh_token.ok_or_else(|| missing("refreshToken"))?;
            let req = state
                .identity
                .internal(pb::RefreshSessionRequest { refresh_token }, &rid);
            let r = state
                .identity
                .rpc()
                .refresh_session(req)
                .await?
                .into_inner();
            let (Some(session), Some(access)) = (r.session, r.access) else {
                return Err(ApiError::unauthorized());
            };
            Ok(token_response(json!({
                "accessToken": access.access_token,
                "tokenType": "Bearer",
                "expiresAt": time(access.access_token_expires_at.as_ref()),
                "refreshToken": session.session_token,
                "refreshTokenExpiresAt": time(session.session_expires_at.as_ref()),
            })))
        }
    }
}

fn expiry(exp: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp(exp, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// An access token for a caller authenticated by session or personal access token, issued
/// afresh by identity-svc: a revoked credential gets none, even while the gateway still holds an
/// access token it obtained for it earlier (a token handed out here replaces that one).
async fn exchange(state: &AppState, headers: &HeaderMap) -> ApiResult<Response> {
    let caller = Caller::authenticate(headers, state, Exchange::Fresh).await?;
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
    Ok(token_response(json!({
        "accessToken": caller.token(),
        "tokenType": "Bearer",
        "expiresAt": expiry(claims.exp),
    })))
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
