//! My Account: register, log in, log out, the authenticated user.

use axum::{
    extract::State,
    http::{HeaderMap, HeaderValue, header::SET_COOKIE},
    response::{IntoResponse, Response},
};
use proto::identity::v1 as pb;
use serde::Deserialize;

use super::{
    ApiError, ApiResult, AppState,
    extract::{
        AppJson, AppQuery, Caller, ClientAddress, RequestId, SESSION_COOKIE, session_cookie,
    },
    json,
};

/// `RegisterOrActivateUser` (the email/password form, `CreateUserArgs`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct RegisterBody {
    email: Option<String>,
    password: String,
    first_name: String,
    last_name: String,
    invite_code: Option<String>,
}

/// `LoginRequest`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LoginBody {
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
    let mut res = json::ok(user).into_response();
    res.headers_mut().insert(SET_COOKIE, cookie);
    res
}

/// POST /api/v1/user: registers a user with email and password, or activates an invited one
/// with `inviteCode`, and logs them in.
pub(super) async fn register(
    State(state): State<AppState>,
    RequestId(rid): RequestId,
    AppJson(body): AppJson<RegisterBody>,
) -> ApiResult<Response> {
    let email = match (&body.invite_code, body.email) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "give either inviteCode or email, not both",
            ));
        }
        (None, None) => return Err(ApiError::bad_request("missing field `email`")),
        (_, email) => email.unwrap_or_default(),
    };
    let req = state.identity.internal(
        pb::RegisterUserRequest {
            email,
            password: body.password,
            first_name: body.first_name,
            last_name: body.last_name,
            invite_code: body.invite_code,
        },
        &rid,
    );
    let grant = state.identity.rpc().register_user(req).await?.into_inner();
    Ok(signed_in(&state, grant))
}

/// POST /api/v1/login: checks email and password and sets the session cookie.
pub(super) async fn login(
    State(state): State<AppState>,
    RequestId(rid): RequestId,
    ClientAddress(client_address): ClientAddress,
    AppJson(body): AppJson<LoginBody>,
) -> ApiResult<Response> {
    let req = state.identity.internal(
        pb::LoginRequest {
            email: body.email,
            password: body.password,
            client_address,
            api_client: false,
        },
        &rid,
    );
    let grant = state.identity.rpc().login(req).await?.into_inner();
    Ok(signed_in(&state, grant))
}

/// `{"status":"ok"}`, clearing the session cookie when the request carried one.
fn session_ended(headers: &HeaderMap) -> Response {
    let mut res = json::ok_empty().into_response();
    if session_cookie(headers).is_some() {
        res.headers_mut().insert(
            SET_COOKIE,
            HeaderValue::from_static("connect.sid=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"),
        );
    }
    res
}

/// GET /api/v1/logout: ends the session and clears the cookie.
pub(super) async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
) -> ApiResult<Response> {
    state
        .identity
        .rpc()
        .logout(state.identity.as_user(pb::LogoutRequest {}, &caller))
        .await?;
    if let Some(token) = session_cookie(&headers) {
        state.identity.forget_session(&token);
    }
    Ok(session_ended(&headers))
}

/// GET /api/v1/user: the authenticated user.
pub(super) async fn get_user(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    let user = state
        .identity
        .rpc()
        .get_current_user(
            state
                .identity
                .as_user(pb::GetCurrentUserRequest {}, &caller),
        )
        .await?;
    Ok(json::ok(json::user(user.get_ref())).into_response())
}

/// DELETE /api/v1/user/me: deletes the caller (the last admin of an organization with other
/// members must hand the role over first).
pub(super) async fn delete_me(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
) -> ApiResult<Response> {
    state
        .identity
        .rpc()
        .delete_me(state.identity.as_user(pb::DeleteMeRequest {}, &caller))
        .await?;
    Ok(session_ended(&headers))
}

/// Query of getLoginOptions.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LoginOptionsQuery {
    #[allow(dead_code)]
    email: Option<String>,
}

/// GET /api/v1/user/login-options: how one may log in here. Email and password only: no
/// single sign-on provider is configured in this version, for any email.
pub(super) async fn login_options(AppQuery(_): AppQuery<LoginOptionsQuery>) -> ApiResult<Response> {
    Ok(
        json::ok(serde_json::json!({ "showOptions": ["email"], "forceRedirect": false }))
            .into_response(),
    )
}
