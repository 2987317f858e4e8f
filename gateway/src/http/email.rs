//! My Account: email verification by one-time passcode, and organizations the caller may join
//! by their verified email's domain.

use axum::{
    extract::State,
    response::{IntoResponse, Response},
};
use proto::identity::v1 as pb;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    ApiResult, AppState,
    extract::{AppPath, AppQuery, Caller},
    json,
};

/// `EmailStatusExpiring`.
fn email_status(s: &pb::EmailStatus) -> Value {
    let mut v = json!({ "email": s.email, "isVerified": s.is_verified });
    if let Some(o) = &s.otp {
        v["otp"] = json!({
            "createdAt": o.created_at.as_ref().map(json::time),
            "numberOfAttempts": o.number_of_attempts,
            "expiresAt": o.expires_at.as_ref().map(json::time),
            "isExpired": o.is_expired,
            "isMaxAttempts": o.is_max_attempts,
        });
    }
    v
}

/// Query of GetEmailVerificationStatus.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StatusQuery {
    passcode: Option<String>,
}

/// GET /api/v1/user/me/email/status[?passcode=]: the verification status of the caller's
/// primary email, checking a passcode first when one is given.
pub(super) async fn status(
    State(state): State<AppState>,
    caller: Caller,
    AppQuery(q): AppQuery<StatusQuery>,
) -> ApiResult<Response> {
    let msg = pb::GetEmailStatusRequest {
        passcode: q.passcode,
    };
    let s = state
        .identity
        .rpc()
        .get_email_status(state.identity.as_user(msg, &caller))
        .await?;
    Ok(json::ok(email_status(s.get_ref())).into_response())
}

/// PUT /api/v1/user/me/email/otp: mails a new one-time passcode to the caller's primary email.
pub(super) async fn create_passcode(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Response> {
    let s = state
        .identity
        .rpc()
        .create_email_passcode(
            state
                .identity
                .as_user(pb::CreateEmailPasscodeRequest {}, &caller),
        )
        .await?;
    Ok(json::ok(email_status(s.get_ref())).into_response())
}

/// GET /api/v1/user/me/allowedOrganizations
pub(super) async fn allowed_organizations(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Response> {
    let res = state
        .identity
        .rpc()
        .list_allowed_organizations(
            state
                .identity
                .as_user(pb::ListAllowedOrganizationsRequest {}, &caller),
        )
        .await?;
    let orgs: Vec<Value> = res
        .get_ref()
        .organizations
        .iter()
        .map(|o| {
            json!({
                "organizationUuid": o.organization_uuid,
                "name": o.name,
                "membersCount": o.members_count,
            })
        })
        .collect();
    Ok(json::ok(orgs).into_response())
}

/// POST /api/v1/user/me/joinOrganization/{organizationUuid}
pub(super) async fn join_organization(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(organization_uuid): AppPath<String>,
) -> ApiResult<Response> {
    let msg = pb::JoinOrganizationRequest { organization_uuid };
    state
        .identity
        .rpc()
        .join_organization(state.identity.as_user(msg, &caller))
        .await?;
    Ok(json::ok_empty().into_response())
}
