//! Invite links (Lightdash's inviteLinksRouter).

use axum::extract::State;
use chrono::{DateTime, Utc};
use proto::identity::v1 as pb;

use super::prelude::*;
use crate::http::{extract::RequestId, invited_role};
use serde::Serialize;

/// `/api/v1/invite-links…`.
pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, revoke_all))
        .routes(routes!(get_invite))
}

/// `CreateInviteLink`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = CreateInviteLink)]
struct CreateBody {
    email: String,
    /// When the invitation stops working; none: the default validity.
    expires_at: Option<DateTime<Utc>>,
    /// The organization role the invited user gets; none: `member`.
    #[schema(value_type = Option<json::OrganizationMemberRole>)]
    role: Option<String>,
}

/// `InviteLink`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = InviteLink)]
struct InviteLink {
    /// The secret code: the whole answer of the creation only.
    invite_code: String,
    /// The sign-up page's address with the code.
    invite_url: String,
    #[schema(format = Uuid)]
    organization_uuid: String,
    /// The invited user's uuid.
    #[schema(format = Uuid)]
    user_uuid: String,
    email: String,
    #[schema(format = DateTime)]
    expires_at: Option<String>,
}

fn invite_link(state: &AppState, i: &pb::InviteLink) -> InviteLink {
    InviteLink {
        invite_code: i.invite_code.clone(),
        invite_url: state.settings.invite_url(&i.invite_code),
        organization_uuid: i.organization_uuid.clone(),
        user_uuid: i.user_uuid.clone(),
        email: i.email.clone(),
        expires_at: json::some_time(i.expires_at.as_ref()),
    }
}

/// POST /api/v1/invite-links (admins): answers 201 with the code, shown this once.
#[utoipa::path(
    post,
    path = "/api/v1/invite-links",
    tag = "Lightdash: Organizations",
    operation_id = "CreateInviteLink",
    request_body = CreateBody,
    responses(
        (status = 415, description = json::NOT_JSON, body = LightdashError),
        (status = 201, description = "The invitation with its code.", body = json::Ok<InviteLink>),
        (status = 403, description = "The caller is not an admin of the organization, or the token's scopes do not allow it; or the caller's organization requires allowed IPs and the call comes from elsewhere.", body = LightdashError),
        (status = 409, description = "The email already belongs to an active user.", body = LightdashError),
        (status = 429, description = "Too many invitations from the organization; `Retry-After` says when to try again.", body = LightdashError),
    ),
)]
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
#[utoipa::path(
    delete,
    path = "/api/v1/invite-links",
    tag = "Lightdash: Organizations",
    operation_id = "RevokeAllInviteLinks",
    responses(
        (status = 200, description = "Revoked.", body = json::OkEmpty),
        (status = 403, description = "The caller is not an admin of the organization, or the token's scopes do not allow it; or the caller's organization requires allowed IPs and the call comes from elsewhere.", body = LightdashError),
    ),
)]
async fn revoke_all(caller: Caller) -> Reply {
    let msg = pb::RevokeAllInviteLinksRequest {};
    caller.identity().revoke_all_invite_links(msg).await?;
    Ok(json::ok_empty())
}

/// GET /api/v1/invite-links/{inviteLinkCode}: the invitation (no authentication: the sign-up
/// page reads it).
#[utoipa::path(
    get,
    path = "/api/v1/invite-links/{inviteLinkCode}",
    tag = "Lightdash: Organizations",
    operation_id = "GetInviteLink",
    params(("inviteLinkCode" = String, Path, description = "The invitation's code.")),
    security(()),
    responses(
        (status = 200, description = "The invitation.", body = json::Ok<InviteLink>),
        (status = 404, description = "No such invitation, or used, revoked or expired.", body = LightdashError),
    ),
)]
async fn get_invite(
    State(state): State<AppState>,
    RequestId(rid): RequestId,
    Path(invite_code): Id,
) -> Reply {
    let msg = pb::GetInviteLinkRequest { invite_code };
    let res = state.identity.internal(&rid).get_invite_link(msg).await?;
    Ok(json::ok(invite_link(&state, res.get_ref())))
}
