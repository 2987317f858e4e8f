//! Invite links (Lightdash's inviteLinksRouter).

use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use proto::identity::v1 as pb;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    ApiResult, AppState,
    extract::{AppJson, AppPath, Caller, RequestId},
    json,
};

/// `CreateInviteLink`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct CreateBody {
    email: String,
    expires_at: Option<DateTime<Utc>>,
    role: Option<String>,
}

fn invite_link(state: &AppState, i: &pb::InviteLink) -> Value {
    json!({
        "inviteCode": i.invite_code,
        "inviteUrl": format!("{}/invite/{}", state.settings.public_url.trim_end_matches('/'), i.invite_code),
        "organizationUuid": i.organization_uuid,
        "userUuid": i.user_uuid,
        "email": i.email,
        "expiresAt": i.expires_at.as_ref().map(json::time),
    })
}

/// POST /api/v1/invite-links (admins): answers 201 with the code, shown this once.
pub(super) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    AppJson(body): AppJson<CreateBody>,
) -> ApiResult<Response> {
    let msg = pb::CreateInviteLinkRequest {
        email: body.email,
        role: body.role,
        expires_at: body.expires_at.map(json::to_proto_time),
    };
    let res = state
        .identity
        .rpc()
        .create_invite_link(state.identity.as_user(msg, &caller))
        .await?;
    Ok((
        StatusCode::CREATED,
        json::ok(invite_link(&state, res.get_ref())),
    )
        .into_response())
}

/// DELETE /api/v1/invite-links (admins): revokes every invitation of the organization.
pub(super) async fn revoke_all(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Response> {
    state
        .identity
        .rpc()
        .revoke_all_invite_links(
            state
                .identity
                .as_user(pb::RevokeAllInviteLinksRequest {}, &caller),
        )
        .await?;
    Ok(json::ok_empty().into_response())
}

/// GET /api/v1/invite-links/{inviteLinkCode} (no authentication: the sign-up page reads it).
pub(super) async fn get(
    State(state): State<AppState>,
    RequestId(rid): RequestId,
    AppPath(code): AppPath<String>,
) -> ApiResult<Response> {
    let res = state
        .identity
        .rpc()
        .get_invite_link(
            state
                .identity
                .internal(pb::GetInviteLinkRequest { invite_code: code }, &rid),
        )
        .await?;
    Ok(json::ok(invite_link(&state, res.get_ref())).into_response())
}
