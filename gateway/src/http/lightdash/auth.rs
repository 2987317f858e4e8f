//! Access tokens for API clients: `POST /api/v1/auth/token` (ours, in the Lightdash envelope).

use axum::{
    body::Bytes,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
};
use proto::identity::v1 as pb;

use super::prelude::*;
use crate::{
    clients::Exchange,
    http::{
        error::without_strings,
        extract::{AuthMethod, ClientAddress, RequestId},
    },
};
use serde::Serialize;

/// `/api/v1/auth/token`.
pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(access_token))
}

/// Body of POST /api/v1/auth/token: empty (or `{}`) to exchange the presented credential, or
/// a grant.
#[derive(Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = AccessTokenRequest)]
struct TokenBody {
    /// Absent: exchange the presented credential (then no other field).
    grant_type: Option<GrantType>,
    /// With `password`.
    email: Option<String>,
    /// With `password`.
    password: Option<String>,
    /// With `refresh_token`.
    refresh_token: Option<String>,
}

/// How the access token is granted.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = AccessTokenGrantType)]
enum GrantType {
    Password,
    RefreshToken,
}

fn missing(field: &str) -> ApiError {
    ApiError::bad_request(format!("missing field `{field}`"))
}

/// An access token, with the refresh token of the API client's session when one was opened or
/// refreshed.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = AccessTokenGrant)]
struct AccessToken {
    /// The access JWT, to send as `Authorization: Bearer`.
    access_token: String,
    /// Always `Bearer`.
    token_type: TokenType,
    /// When the access token stops working (15 minutes at most).
    #[schema(format = DateTime)]
    expires_at: Option<String>,
    /// The refresh token (grants only): in this answer only.
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    // Present with `refreshToken`, `null` when the session has no expiry.
    /// When the refresh token stops working (grants only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    refresh_token_expires_at: Option<Option<String>>,
}

/// The `tokenType` of an access token.
#[derive(Serialize, ToSchema)]
#[schema(as = AccessTokenType)]
enum TokenType {
    Bearer,
}

/// An access token answer; `no-store` as RFC 6749 section 5.1 asks of token responses.
fn token_response(results: AccessToken) -> Response {
    let mut res = json::ok(results);
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

fn time(t: Option<&prost_types::Timestamp>) -> Option<String> {
    t.map(json::time)
}

/// POST /api/v1/auth/token (ours, not Lightdash's): access JWTs (15 minutes at most) to send as
/// `Authorization: Bearer`.
///
/// - no body or `{}`: for the caller authenticated by session cookie or personal access token;
/// - `{"grantType":"password","email","password"}`: logs an API client in (the same login,
///   throttling included, as `POST /api/v1/login`) and hands back a refresh token too;
/// - `{"grantType":"refresh_token","refreshToken"}`: a new access token and a new refresh
///   token; the old one stops working, and presenting it again revokes the session.
///
/// `GET /api/v1/logout` with an access token from these grants ends the session: its refresh
/// token and access tokens stop working.
///
/// Public for the grants; the exchange (no body or `{}`) takes the caller's session cookie or
/// personal access token.
#[utoipa::path(
    post,
    path = "/api/v1/auth/token",
    tag = "Access tokens",
    operation_id = "createAccessToken",
    request_body(content = Option<TokenBody>, description = "Empty or `{}` for an exchange; a grant otherwise."),
    security((), ("api_key" = []), ("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "An access token (with a refresh token for a grant); `Cache-Control: no-store`.",
            body = json::Ok<AccessToken>,
            headers(("cache-control" = String, description = "`no-store`."))),
        (status = 401, description = "Wrong email or password, an unknown, used or expired refresh token, or (exchange) no valid credentials.", body = LightdashError),
        (status = 403, description = "An exchange presented an access token, or the caller's organization requires allowed IPs and the exchange comes from elsewhere.", body = LightdashError),
        (status = 415, description = json::NOT_JSON, body = LightdashError),
        (status = 429, description = "Too many failed logins for the account or the client, or too many password checks in progress; `Retry-After` says when to try again.", body = LightdashError),
    ),
)]
async fn access_token(
    State(state): State<AppState>,
    RequestId(rid): RequestId,
    ClientAddress(client_address): ClientAddress,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    let body = token_body(&headers, &body)?;
    match body.grant_type {
        None => {
            if body.email.is_some() || body.password.is_some() || body.refresh_token.is_some() {
                return Err(missing("grantType"));
            }
            exchange(&state, &headers, client_address).await
        }
        Some(GrantType::Password) => {
            let (Some(email), Some(password)) = (body.email, body.password) else {
                return Err(missing("email` and `password"));
            };
            let msg = pb::LoginRequest {
                email,
                password,
                client_address,
                api_client: true,
            };
            let grant = state.identity.internal(&rid).login(msg).await?.into_inner();
            let access = grant.access.as_ref().ok_or_else(ApiError::unauthorized)?;
            Ok(granted(access, &grant))
        }
        Some(GrantType::RefreshToken) => {
            let refresh_token = body.refresh_token.ok_or_else(|| missing("refreshToken"))?;
            let msg = pb::RefreshSessionRequest { refresh_token };
            let r = state.identity.internal(&rid).refresh_session(msg).await?;
            let r = r.into_inner();
            let (Some(session), Some(access)) = (r.session, r.access) else {
                return Err(ApiError::unauthorized());
            };
            Ok(granted(&access, &session))
        }
    }
}

/// The body of a token request: empty, or JSON.
fn token_body(headers: &HeaderMap, body: &[u8]) -> ApiResult<TokenBody> {
    if body.is_empty() {
        return Ok(TokenBody::default());
    }
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
    // A refresh token or password sent in the wrong field must not come back (CR-7).
    serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!(
            "Failed to deserialize the JSON body into the target type: {}",
            without_strings(&e.to_string())
        ))
    })
}

/// An access token with the refresh token of the API client's session.
fn granted(access: &pb::AuthenticateResponse, session: &pb::SessionGrant) -> Response {
    token_response(AccessToken {
        access_token: access.access_token.clone(),
        token_type: TokenType::Bearer,
        expires_at: time(access.access_token_expires_at.as_ref()),
        refresh_token: Some(session.session_token.clone()),
        refresh_token_expires_at: Some(time(session.session_expires_at.as_ref())),
    })
}

fn expiry(exp: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp(exp, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// An access token for a caller authenticated by session or personal access token, issued
/// afresh by identity-svc: a revoked credential gets none, even while the gateway still holds an
/// access token it obtained for it earlier (a token handed out here replaces that one).
async fn exchange(state: &AppState, headers: &HeaderMap, client_address: Option<String>) -> Reply {
    let caller = Caller::authenticate(headers, client_address, state, Exchange::Fresh).await?;
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
    Ok(token_response(AccessToken {
        access_token: caller.token().to_owned(),
        token_type: TokenType::Bearer,
        expires_at: Some(expiry(claims.exp)),
        refresh_token: None,
        refresh_token_expires_at: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CR-7: a refresh token sent as the grant type does not come back in the refusal.
    #[test]
    fn cr_7_a_token_in_the_wrong_field_is_not_quoted_back() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        for body in [
            r#"{"grantType": "ldrt_5ecret"}"#,
            r#"{"grantType": "password", "email": "a@example.com", "password": ["ldrt_5ecret"]}"#,
            r#"{"refreshToken": {"ldrt_5ecret": 1}}"#,
        ] {
            let Err(e) = token_body(&headers, body.as_bytes()) else {
                panic!("accepted {body}");
            };
            assert_eq!(e.status, StatusCode::BAD_REQUEST);
            assert!(!e.message.contains("5ecret"), "{}", e.message);
        }
    }
}
