//! My Account: register, log in, log out, the authenticated user.

use axum::{
    extract::State,
    http::{HeaderMap, HeaderValue, header::SET_COOKIE},
};
use proto::identity::v1 as pb;

use super::prelude::*;
use crate::http::extract::{ClientAddress, RequestId, SESSION_COOKIE, session_cookie};
use serde::Serialize;

/// `/api/v1/user`, `/api/v1/login`, `/api/v1/logout`, `/api/v1/user/me` and the login options.
pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_user, register))
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(delete_me))
        .routes(routes!(login_options))
}

/// `RegisterOrActivateUser`: `email` to register, or `inviteCode` to activate an invited
/// user (not both).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = RegisterOrActivateUser)]
struct RegisterBody {
    email: Option<String>,
    password: String,
    first_name: String,
    last_name: String,
    invite_code: Option<String>,
}

/// `LoginRequest`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = LoginRequest)]
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
    let mut res = match grant.user.as_ref() {
        Some(u) => json::ok_direct(json::user(u)),
        None => json::ok(Value::Null),
    };
    res.headers_mut().insert(SET_COOKIE, cookie);
    res
}

/// POST /api/v1/user: registers a user with email and password, or activates an invited one
/// with `inviteCode`, and logs them in.
#[utoipa::path(
    post,
    path = "/api/v1/user",
    tag = "Lightdash: My Account",
    operation_id = "RegisterUser",
    request_body = RegisterBody,
    security(()),
    responses(
        (status = 415, description = json::NOT_JSON, body = LightdashError),
        (status = 200, description = "Registered and logged in: the new user, and the session cookie.",
            body = json::Ok<json::User>,
            headers(("set-cookie" = String, description = "The session cookie: `connect.sid=<session token>; Path=/; HttpOnly; SameSite=Lax; Max-Age=<seconds>` (`; Secure` when the gateway is configured so); send it back as the `session_cookie` credential."))),
        (status = 404, description = "`inviteCode` names no open invitation.", body = LightdashError),
        (status = 409, description = "The email already has an account.", body = LightdashError),
        (status = 429, description = "Too many password checks in progress; `Retry-After` says when to try again.", body = LightdashError),
    ),
)]
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
#[utoipa::path(
    post,
    path = "/api/v1/login",
    tag = "Lightdash: My Account",
    operation_id = "Login",
    request_body = LoginBody,
    security(()),
    responses(
        (status = 415, description = json::NOT_JSON, body = LightdashError),
        (status = 200, description = "Logged in: the user, and the session cookie.",
            body = json::Ok<json::User>,
            headers(("set-cookie" = String, description = "The session cookie: `connect.sid=<session token>; Path=/; HttpOnly; SameSite=Lax; Max-Age=<seconds>` (`; Secure` when the gateway is configured so); send it back as the `session_cookie` credential."))),
        (status = 401, description = "Wrong email or password, or an inactive user.", body = LightdashError),
        (status = 429, description = "Too many failed logins for the account or the client, or too many password checks in progress; `Retry-After` says when to try again.", body = LightdashError),
    ),
)]
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
///
/// With an access token from `POST /api/v1/auth/token`, ends the session it was issued for.
#[utoipa::path(
    get,
    path = "/api/v1/logout",
    tag = "Lightdash: My Account",
    operation_id = "Logout",
    responses(
        (status = 403, description = json::ADDRESS_REFUSED, body = LightdashError),
        (status = 200, description = "Logged out; the session cookie, when sent, is cleared.",
            body = json::OkEmpty,
            headers(("set-cookie" = String, description = "`connect.sid=; …; Max-Age=0`, when the request carried the cookie."))),
    ),
)]
async fn logout(State(state): State<AppState>, headers: HeaderMap, caller: Caller) -> Reply {
    caller.identity().logout(pb::LogoutRequest {}).await?;
    if let Some(token) = session_cookie(&headers) {
        state.identity.forget_session(&token);
    }
    Ok(session_ended(&state, &headers))
}

/// GET /api/v1/user: the authenticated user.
#[utoipa::path(
    get,
    path = "/api/v1/user",
    tag = "Lightdash: My Account",
    operation_id = "GetAuthenticatedUser",
    responses(
        (status = 200, description = "The caller.", body = json::Ok<json::User>),
        (status = 403, description = json::ADDRESS_REFUSED, body = LightdashError),
    ),
)]
async fn get_user(caller: Caller) -> Reply {
    let msg = pb::GetCurrentUserRequest {};
    let user = caller.identity().get_current_user(msg).await?;
    Ok(json::ok_direct(json::user(user.get_ref())))
}

/// DELETE /api/v1/user/me: deletes the caller (the last admin of an organization with other
/// members must hand the role over first).
#[utoipa::path(
    delete,
    path = "/api/v1/user/me",
    tag = "Lightdash: My Account",
    operation_id = "DeleteMe",
    responses(
        (status = 200, description = "Deleted; the session cookie, when sent, is cleared.",
            body = json::OkEmpty,
            headers(("set-cookie" = String, description = "`connect.sid=; …; Max-Age=0`, when the request carried the cookie."))),
        (status = 400, description = "The caller is the last admin of an organization with other members.", body = LightdashError),
        (status = 403, description = "Presented by a token without the `admin` scope, or by a sign-in older than the recent-login window; or the caller's organization requires allowed IPs and the call comes from elsewhere.", body = LightdashError),
    ),
)]
async fn delete_me(State(state): State<AppState>, headers: HeaderMap, caller: Caller) -> Reply {
    caller.identity().delete_me(pb::DeleteMeRequest {}).await?;
    Ok(session_ended(&state, &headers))
}

/// Query of getLoginOptions.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct LoginOptionsQuery {
    /// The email about to log in (the answer is the same for every email).
    #[allow(dead_code)]
    email: Option<String>,
}

/// `LoginOptions`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct LoginOptions {
    /// The ways to log in offered: `email` (email and password).
    show_options: Vec<&'static str>,
    /// Whether the client should go straight to a single sign-on provider: never here.
    force_redirect: bool,
}

/// GET /api/v1/user/login-options: how one may log in here.
///
/// Email and password only: no single sign-on provider is configured in this version, for any
/// email.
#[utoipa::path(
    get,
    path = "/api/v1/user/login-options",
    tag = "Lightdash: My Account",
    operation_id = "getLoginOptions",
    params(LoginOptionsQuery),
    security(()),
    responses((status = 200, description = "How one may log in.", body = json::Ok<LoginOptions>)),
)]
async fn login_options(Query(_query): Query<LoginOptionsQuery>) -> Reply {
    Ok(json::ok(LoginOptions {
        show_options: vec!["email"],
        force_redirect: false,
    }))
}
