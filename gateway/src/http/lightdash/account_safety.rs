//! Account safety, on Lightdash's routes: change one's password, reset a forgotten one by
//! mail, and (ours, in the same style) sign out everywhere.

use axum::{extract::State, http::HeaderMap};
use proto::identity::v1 as pb;

use super::{prelude::*, user::session_ended};
use crate::http::extract::{ClientAddress, RequestId, session_cookie};

/// `/api/v1/user/password`, `/api/v1/password-reset`, `/api/v1/user/password/reset` and
/// `/api/v1/user/me/sessions`.
pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(change_password))
        .routes(routes!(request_reset))
        .routes(routes!(check_reset))
        .routes(routes!(reset_password))
        .routes(routes!(end_all_sessions))
}

/// Lightdash's `UpdateUserPassword`: the current password and the new one.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = UpdateUserPassword)]
struct ChangePasswordBody {
    /// The current password.
    password: String,
    new_password: String,
}

/// Lightdash's `CreatePasswordResetLink`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CreatePasswordResetLink)]
struct ResetRequestBody {
    email: String,
}

/// Lightdash's `PasswordReset`: the code of the mailed link and the new password.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = PasswordReset)]
struct ResetBody {
    code: String,
    new_password: String,
}

/// POST /api/v1/user/password: changes the caller's password, given the current one.
///
/// A wrong current password answers 403 and counts as a failed login. The caller's other
/// sessions end; this one stays.
#[utoipa::path(
    post,
    path = "/api/v1/user/password",
    tag = "Lightdash: My Account",
    operation_id = "updatePassword",
    request_body = ChangePasswordBody,
    responses(
        (status = 415, description = json::NOT_JSON, body = LightdashError),
        (status = 200, description = "Changed.", body = json::OkEmpty),
        (status = 403, description = "The current password is wrong, or the token's scopes do not allow it; or the caller's organization requires allowed IPs and the call comes from elsewhere.", body = LightdashError),
        (status = 429, description = "Too many failed logins for the account, or too many password checks in progress; `Retry-After` says when to try again.", body = LightdashError),
    ),
)]
async fn change_password(caller: Caller, Json(body): Json<ChangePasswordBody>) -> Reply {
    let msg = pb::ChangePasswordRequest {
        current_password: body.password,
        new_password: body.new_password,
    };
    caller.identity().change_password(msg).await?;
    Ok(json::ok_empty())
}

/// POST /api/v1/password-reset: mails a password reset link to `email` if it has an account.
///
/// The answer is the same either way. Limited per address and per client (429).
#[utoipa::path(
    post,
    path = "/api/v1/password-reset",
    tag = "Lightdash: My Account",
    operation_id = "createPasswordResetLink",
    request_body = ResetRequestBody,
    security(()),
    responses(
        (status = 415, description = json::NOT_JSON, body = LightdashError),
        (status = 200, description = "Mailed, if the email has an account.", body = json::OkEmpty),
        (status = 429, description = "Too many reset requests for the email or from the client; `Retry-After` says when to try again.", body = LightdashError),
    ),
)]
async fn request_reset(
    State(state): State<AppState>,
    RequestId(rid): RequestId,
    ClientAddress(client_address): ClientAddress,
    Json(body): Json<ResetRequestBody>,
) -> Reply {
    let msg = pb::RequestPasswordResetRequest {
        email: body.email,
        client_address,
        link_base: state.settings.public_url.clone(),
    };
    let mut identity = state.identity.internal(&rid);
    identity.request_password_reset(msg).await?;
    Ok(json::ok_empty())
}

/// GET /api/v1/password-reset/{code}: whether the link still works (404 once used or
/// expired).
#[utoipa::path(
    get,
    path = "/api/v1/password-reset/{code}",
    tag = "Lightdash: My Account",
    operation_id = "getPasswordResetLink",
    params(("code" = String, Path, description = "The code of the mailed link.")),
    security(()),
    responses(
        (status = 200, description = "The link works.", body = json::OkEmpty),
        (status = 404, description = "No such link, or used or expired.", body = LightdashError),
    ),
)]
async fn check_reset(
    State(state): State<AppState>,
    RequestId(rid): RequestId,
    Path(code): Path<String>,
) -> Reply {
    let msg = pb::GetPasswordResetLinkRequest { code };
    let mut identity = state.identity.internal(&rid);
    identity.get_password_reset_link(msg).await?;
    Ok(json::ok_empty())
}

/// POST /api/v1/user/password/reset: sets a new password with the mailed link's code.
///
/// Every session of the user ends (the request's session cookie, if any, is cleared).
#[utoipa::path(
    post,
    path = "/api/v1/user/password/reset",
    tag = "Lightdash: My Account",
    operation_id = "resetPassword",
    request_body = ResetBody,
    security(()),
    responses(
        (status = 415, description = json::NOT_JSON, body = LightdashError),
        (status = 200, description = "The password is set; the session cookie, when sent, is cleared.",
            body = json::OkEmpty,
            headers(("set-cookie" = String, description = "`connect.sid=; …; Max-Age=0`, when the request carried the cookie."))),
        (status = 404, description = "No such link, or used or expired.", body = LightdashError),
        (status = 429, description = "Too many password checks in progress; `Retry-After` says when to try again.", body = LightdashError),
    ),
)]
async fn reset_password(
    State(state): State<AppState>,
    RequestId(rid): RequestId,
    headers: HeaderMap,
    Json(body): Json<ResetBody>,
) -> Reply {
    let msg = pb::ResetPasswordRequest {
        code: body.code,
        new_password: body.new_password,
    };
    let mut identity = state.identity.internal(&rid);
    identity.reset_password(msg).await?;
    Ok(session_ended(&state, &headers))
}

/// DELETE /api/v1/user/me/sessions (ours): signs the caller out everywhere.
///
/// Every session, refresh token and access token issued for one is refused from the next
/// request. Personal access tokens stay (they are not sessions; delete them one by one).
#[utoipa::path(
    delete,
    path = "/api/v1/user/me/sessions",
    tag = "Lightdash: My Account",
    operation_id = "deleteAllSessions",
    responses(
        (status = 200, description = "Signed out everywhere; the session cookie, when sent, is cleared.",
            body = json::OkEmpty,
            headers(("set-cookie" = String, description = "`connect.sid=; …; Max-Age=0`, when the request carried the cookie."))),
        (status = 403, description = "The token's scopes do not allow it (`write` needed); or the caller's organization requires allowed IPs and the call comes from elsewhere.", body = LightdashError),
    ),
)]
async fn end_all_sessions(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
) -> Reply {
    caller
        .identity()
        .end_all_sessions(pb::EndAllSessionsRequest {})
        .await?;
    if let Some(token) = session_cookie(&headers) {
        state.identity.forget_session(&token);
    }
    Ok(session_ended(&state, &headers))
}
