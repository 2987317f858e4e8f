//! My Account: email verification by one-time passcode, and organizations the caller may join
//! by their verified email's domain.

use proto::identity::v1 as pb;

use super::prelude::*;

/// `/api/v1/user/me/email/…`, `…/allowedOrganizations` and `…/joinOrganization/…`.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/user/me/email/status", get(status))
        .route("/api/v1/user/me/email/otp", put(create_passcode))
        .route(
            "/api/v1/user/me/allowedOrganizations",
            get(allowed_organizations),
        )
        .route(
            "/api/v1/user/me/joinOrganization/{organizationUuid}",
            post(join_organization),
        )
}

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
struct StatusQuery {
    passcode: Option<String>,
}

/// GET /api/v1/user/me/email/status[?passcode=]: the verification status of the caller's
/// primary email, checking a passcode first when one is given.
async fn status(caller: Caller, Query(q): Query<StatusQuery>) -> Reply {
    let msg = pb::GetEmailStatusRequest {
        passcode: q.passcode,
    };
    let s = caller.identity().get_email_status(msg).await?;
    Ok(json::ok(email_status(s.get_ref())))
}

/// PUT /api/v1/user/me/email/otp: mails a new one-time passcode to the caller's primary email.
async fn create_passcode(caller: Caller) -> Reply {
    let msg = pb::CreateEmailPasscodeRequest {};
    let s = caller.identity().create_email_passcode(msg).await?;
    Ok(json::ok(email_status(s.get_ref())))
}

/// GET /api/v1/user/me/allowedOrganizations
async fn allowed_organizations(caller: Caller) -> Reply {
    let msg = pb::ListAllowedOrganizationsRequest {};
    let res = caller.identity().list_allowed_organizations(msg).await?;
    Ok(json::ok(json::each(&res.get_ref().organizations, |o| {
        json!({
            "organizationUuid": o.organization_uuid,
            "name": o.name,
            "membersCount": o.members_count,
        })
    })))
}

/// POST /api/v1/user/me/joinOrganization/{organizationUuid}
async fn join_organization(caller: Caller, Path(organization_uuid): Id) -> Reply {
    let msg = pb::JoinOrganizationRequest { organization_uuid };
    caller.identity().join_organization(msg).await?;
    Ok(json::ok_empty())
}
