//! Account safety, on Lightdash's routes: change one's password, reset a forgotten one by
//! mail, and (ours, in the same style) sign out everywhere.

use axum::{extract::State, http::HeaderMap};
use proto::identity::v1 as pb;

use super::{prelude::*, user::session_ended};
use crate::http::extract::{ClientAddress, RequestId, session_cookie};

/// `/api/v1/user/password`, `/api/v1/password-reset`, `/api/v1/user/password/reset` and
/// `/api/v1/user/me/sessions`.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/user/password", post(change_password))
        .route("/api/v1/password-reset", post(request_reset))
        .route("/api/v1/password-reset/{code}", get(check_reset))
        .route("/api/v1/user/password/reset", post(reset_password))
        .route("/api/v1/user/me/sessions", delete(end_all_sessions))
}

/// Lightdash's `UpdateUserPassword`: the current password and the new one.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ChangePasswordBody {
    password: String,
    new_password: String,
}

/// Lightdash's `CreatePasswordResetLink`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResetRequestBody {
    email: String,
}

/// Lightdash's `PasswordReset`: the code of the mailed link and the new password.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ResetBody {
    code: String,
    new_password: String,
}

/// POST /api/v1/user/password: changes the caller's password, given the current one (a wrong
/// one answers 403 and counts as a failed login). The caller's other sessions end; this one
/// stays.
async fn change_password(caller: Caller, Json(body): Json<ChangePasswordBody>) -> Reply {
    let msg = pb::ChangePasswordRequest {
        current_password: body.password,
        new_password: body.new_password,
    };
    caller.identity().change_password(msg).await?;
    Ok(json::ok_empty())
}

/// POST /api/v1/password-reset: mails a link to reset the password to `email` if it has an
/// account; the answer is the same either way. Limited per address and per client (429).
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

/// POST /api/v1/user/password/reset: sets a new password with the mailed link's code; every
/// session of the user ends (the request's session cookie, if any, is cleared).
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

/// DELETE /api/v1/user/me/sessions (ours): signs the caller out everywhere: every session,
/// refresh token and access token issued for one is refused from the next request. Personal
/// access tokens stay (they are not sessions; delete them one by one).
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
