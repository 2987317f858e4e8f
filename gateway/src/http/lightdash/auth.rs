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

/// `/api/v1/auth/token`.
pub(super) fn router() -> Router<AppState> {
    Router::new().route("/api/v1/auth/token", post(access_token))
}

/// Body of POST /api/v1/auth/token: empty (or `{}`) to exchange the presented credential, or
/// a grant.
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TokenBody {
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
/// - no body or `{}`: for the caller authenticated by session cookie or personal access token;
/// - `{"grantType":"password","email","password"}`: logs an API client in (the same login,
///   throttling included, as `POST /api/v1/login`) and hands back a refresh token too;
/// - `{"grantType":"refresh_token","refreshToken"}`: a new access token and a new refresh
///   token; the old one stops working, and presenting it again revokes the session.
///
/// `GET /api/v1/logout` with an access token from these grants ends the session: its refresh
/// token and access tokens stop working.
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
    token_response(json!({
        "accessToken": access.access_token,
        "tokenType": "Bearer",
        "expiresAt": time(access.access_token_expires_at.as_ref()),
        "refreshToken": session.session_token,
        "refreshTokenExpiresAt": time(session.session_expires_at.as_ref()),
    }))
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
    Ok(token_response(json!({
        "accessToken": caller.token(),
        "tokenType": "Bearer",
        "expiresAt": expiry(claims.exp),
    })))
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
