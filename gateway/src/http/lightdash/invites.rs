//! Invite links (Lightdash's inviteLinksRouter).

use axum::extract::State;
use chrono::{DateTime, Utc};
use proto::identity::v1 as pb;

use super::prelude::*;
use crate::http::{extract::RequestId, invited_role};

/// `/api/v1/invite-links…`.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/invite-links", post(create).delete(revoke_all))
        .route("/api/v1/invite-links/{inviteLinkCode}", get(get_invite))
}

/// `CreateInviteLink`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateBody {
    email: String,
    expires_at: Option<DateTime<Utc>>,
    role: Option<String>,
}

fn invite_link(state: &AppState, i: &pb::InviteLink) -> Value {
    json!({
        "inviteCode": i.invite_code,
        "inviteUrl": state.settings.invite_url(&i.invite_code),
        "organizationUuid": i.organization_uuid,
        "userUuid": i.user_uuid,
        "email": i.email,
        "expiresAt": i.expires_at.as_ref().map(json::time),
    })
}

/// POST /api/v1/invite-links (admins): answers 201 with the code, shown this once.
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<CreateBody>,
) -> Reply {
    let msg = pb::CreateInviteLinkRequest {
        organization_role: invited_role(body.role.as_deref())?,
        email: body.email,
        expires_at: body.expires_at.map(json::to_proto_time),
    };
    let res = caller.identity().create_invite_link(msg).await?;
    Ok(json::created(invite_link(&state, res.get_ref())))
}

/// DELETE /api/v1/invite-links (admins): revokes every invitation of the organization.
async fn revoke_all(caller: Caller) -> Reply {
    let msg = pb::RevokeAllInviteLinksRequest {};
    caller.identity().revoke_all_invite_links(msg).await?;
    Ok(json::ok_empty())
}

/// GET /api/v1/invite-links/{inviteLinkCode} (no authentication: the sign-up page reads it).
async fn get_invite(
    State(state): State<AppState>,
    RequestId(rid): RequestId,
    Path(invite_code): Id,
) -> Reply {
    let msg = pb::GetInviteLinkRequest { invite_code };
    let res = state.identity.internal(&rid).get_invite_link(msg).await?;
    Ok(json::ok(invite_link(&state, res.get_ref())))
}
