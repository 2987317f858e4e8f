//! My Account: register, log in, log out, the authenticated user.

use axum::{
    extract::State,
    http::{HeaderMap, HeaderValue, header::SET_COOKIE},
};
use proto::identity::v1 as pb;

use super::prelude::*;
use crate::http::extract::{ClientAddress, RequestId, SESSION_COOKIE, session_cookie};

/// `/api/v1/user`, `/api/v1/login`, `/api/v1/logout`, `/api/v1/user/me` and the login options.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/user", get(get_user).post(register))
        .route("/api/v1/login", post(login))
        .route("/api/v1/logout", get(logout))
        .route("/api/v1/user/me", delete(delete_me))
        .route("/api/v1/user/login-options", get(login_options))
}

/// `RegisterOrActivateUser` (the email/password form, `CreateUserArgs`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RegisterBody {
    email: Option<String>,
    password: String,
    first_name: String,
    last_name: String,
    invite_code: Option<String>,
}

/// `LoginRequest`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    email: String,
    password: String,
}

fn session_cookie_header(state: &AppState, grant: &pb::SessionGrant) -> HeaderValue {
    let max_age = grant
        .session_expires_at
        .as_ref()
        .map(|t| (t.seconds - chrono::Utc::now().timestamp()).max(0))
        .unwrap_or(0);
    let secure = if state.settings.cookie_secure {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}",
        grant.session_token
    ))
    .expect("session tokens are cookie-safe")
}

fn signed_in(state: &AppState, grant: pb::SessionGrant) -> Response {
    let cookie = session_cookie_header(state, &grant);
    let user = grant.user.as_ref().map(json::user).unwrap_or_default();
    let mut res = json::ok(user);
    res.headers_mut().insert(SET_COOKIE, cookie);
    res
}

/// POST /api/v1/user: registers a user with email and password, or activates an invited one
/// with `inviteCode`, and logs them in.
async fn register(
    State(state): State<AppState>,
    RequestId(rid): RequestId,
    ClientAddress(client_address): ClientAddress,
    Json(body): Json<RegisterBody>,
) -> Reply {
    let email = match (&body.invite_code, body.email) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "give either inviteCode or email, not both",
            ));
        }
        (None, None) => return Err(ApiError::bad_request("missing field `email`")),
        (_, email) => email.unwrap_or_default(),
    };
    let msg = pb::RegisterUserRequest {
        email,
        password: body.password,
        first_name: body.first_name,
        last_name: body.last_name,
        invite_code: body.invite_code,
        client_address,
    };
    let grant = state.identity.internal(&rid).register_user(msg).await?;
    let grant = grant.into_inner();
    Ok(signed_in(&state, grant))
}

/// POST /api/v1/login: checks email and password and sets the session cookie.
async fn login(
    State(state): State<AppState>,
    RequestId(rid): RequestId,
    ClientAddress(client_address): ClientAddress,
    Json(body): Json<LoginBody>,
) -> Reply {
    let msg = pb::LoginRequest {
        email: body.email,
        password: body.password,
        client_address,
        api_client: false,
    };
    let grant = state.identity.internal(&rid).login(msg).await?.into_inner();
    Ok(signed_in(&state, grant))
}

/// `{"status":"ok"}`, clearing the session cookie when the request carried one.
pub(super) fn session_ended(state: &AppState, headers: &HeaderMap) -> Response {
    let mut res = json::ok_empty();
    if session_cookie(headers).is_some() {
        let cleared = if state.settings.cookie_secure {
            "connect.sid=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; Secure"
        } else {
            "connect.sid=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"
        };
        res.headers_mut()
            .insert(SET_COOKIE, HeaderValue::from_static(cleared));
    }
    res
}

/// GET /api/v1/logout: ends the session and clears the cookie.
async fn logout(State(state): State<AppState>, headers: HeaderMap, caller: Caller) -> Reply {
    caller.identity().logout(pb::LogoutRequest {}).await?;
    if let Some(token) = session_cookie(&headers) {
        state.identity.forget_session(&token);
    }
    Ok(session_ended(&state, &headers))
}

/// GET /api/v1/user: the authenticated user.
async fn get_user(caller: Caller) -> Reply {
    let msg = pb::GetCurrentUserRequest {};
    let user = caller.identity().get_current_user(msg).await?;
    Ok(json::ok(json::user(user.get_ref())))
}

/// DELETE /api/v1/user/me: deletes the caller (the last admin of an organization with other
/// members must hand the role over first).
async fn delete_me(State(state): State<AppState>, headers: HeaderMap, caller: Caller) -> Reply {
    caller.identity().delete_me(pb::DeleteMeRequest {}).await?;
    Ok(session_ended(&state, &headers))
}

/// Query of getLoginOptions.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginOptionsQuery {
    #[allow(dead_code)]
    email: Option<String>,
}

/// GET /api/v1/user/login-options: how one may log in here. Email and password only: no
/// single sign-on provider is configured in this version, for any email.
async fn login_options(Query(_): Query<LoginOptionsQuery>) -> Reply {
    let options = serde_json::json!({ "showOptions": ["email"], "forceRedirect": false });
    Ok(json::ok(options))
}
