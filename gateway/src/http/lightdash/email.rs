//! My Account: email verification by one-time passcode, and organizations the caller may join
//! by their verified email's domain.

use proto::identity::v1 as pb;

use super::prelude::*;
use serde::Serialize;

/// `/api/v1/user/me/email/…`, `…/allowedOrganizations` and `…/joinOrganization/…`.
pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(status))
        .routes(routes!(create_passcode))
        .routes(routes!(allowed_organizations))
        .routes(routes!(join_organization))
}

/// `EmailStatusExpiring`: the verification status of the caller's primary email.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = EmailStatusExpiring)]
struct EmailStatus {
    email: String,
    is_verified: bool,
    /// The current passcode, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    otp: Option<Passcode>,
}

/// `EmailOneTimePasswordExpiring`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = EmailOneTimePasswordExpiring)]
struct Passcode {
    #[schema(format = DateTime)]
    created_at: Option<String>,
    /// Wrong passcodes tried.
    number_of_attempts: i64,
    #[schema(format = DateTime)]
    expires_at: Option<String>,
    is_expired: bool,
    is_max_attempts: bool,
}

/// `EmailStatusExpiring`.
fn email_status(s: &pb::EmailStatus) -> EmailStatus {
    EmailStatus {
        email: s.email.clone(),
        is_verified: s.is_verified,
        otp: s.otp.as_ref().map(|o| Passcode {
            created_at: json::some_time(o.created_at.as_ref()),
            number_of_attempts: o.number_of_attempts,
            expires_at: json::some_time(o.expires_at.as_ref()),
            is_expired: o.is_expired,
            is_max_attempts: o.is_max_attempts,
        }),
    }
}

/// Query of GetEmailVerificationStatus.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct StatusQuery {
    /// A passcode to check first: a right one verifies the email.
    passcode: Option<String>,
}

/// GET /api/v1/user/me/email/status[?passcode=]: the verification status of the caller's
/// primary email, checking a passcode first when one is given.
#[utoipa::path(
    get,
    path = "/api/v1/user/me/email/status",
    tag = "Lightdash: My Account",
    operation_id = "GetEmailVerificationStatus",
    params(StatusQuery),
    responses(
        (status = 403, description = json::ADDRESS_REFUSED, body = LightdashError),
        (status = 200, description = "The status, after checking the passcode.", body = json::Ok<EmailStatus>),
        (status = 429, description = "Too many passcode attempts on the email address; `Retry-After` says when to try again.", body = LightdashError),
    ),
)]
async fn status(caller: Caller, Query(q): Query<StatusQuery>) -> Reply {
    let msg = pb::GetEmailStatusRequest {
        passcode: q.passcode,
    };
    let s = caller.identity().get_email_status(msg).await?;
    Ok(json::ok(email_status(s.get_ref())))
}

/// PUT /api/v1/user/me/email/otp: mails a new one-time passcode to the caller's primary email.
#[utoipa::path(
    put,
    path = "/api/v1/user/me/email/otp",
    tag = "Lightdash: My Account",
    operation_id = "CreateEmailOneTimePasscode",
    responses(
        (status = 200, description = "Mailed: the status with the new passcode's details.", body = json::Ok<EmailStatus>),
        (status = 400, description = "The email is already verified.", body = LightdashError),
        (status = 403, description = "The token's scopes do not allow it (`write` needed); or the caller's organization requires allowed IPs and the call comes from elsewhere.", body = LightdashError),
        (status = 429, description = "Too many passcodes requested this hour; `Retry-After` says when to try again.", body = LightdashError),
    ),
)]
async fn create_passcode(caller: Caller) -> Reply {
    let msg = pb::CreateEmailPasscodeRequest {};
    let s = caller.identity().create_email_passcode(msg).await?;
    Ok(json::ok(email_status(s.get_ref())))
}

/// `UserAllowedOrganization`: an organization the caller may join by their verified email's
/// domain.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = UserAllowedOrganization)]
struct AllowedOrganization {
    #[schema(format = Uuid)]
    organization_uuid: String,
    name: String,
    members_count: i64,
}

/// GET /api/v1/user/me/allowedOrganizations: organizations the caller may join by their
/// verified email's domain.
#[utoipa::path(
    get,
    path = "/api/v1/user/me/allowedOrganizations",
    tag = "Lightdash: My Account",
    operation_id = "ListMyAvailableOrganizations",
    responses(
        (status = 200, description = "The organizations.", body = json::Ok<Vec<AllowedOrganization>>),
        (status = 403, description = json::ADDRESS_REFUSED, body = LightdashError),
    ),
)]
async fn allowed_organizations(caller: Caller) -> Reply {
    let msg = pb::ListAllowedOrganizationsRequest {};
    let res = caller.identity().list_allowed_organizations(msg).await?;
    Ok(json::ok(json::each(&res.get_ref().organizations, |o| {
        AllowedOrganization {
            organization_uuid: o.organization_uuid.clone(),
            name: o.name.clone(),
            members_count: o.members_count,
        }
    })))
}

/// POST /api/v1/user/me/joinOrganization/{organizationUuid}: joins an organization that allows
/// the caller's verified email's domain.
#[utoipa::path(
    post,
    path = "/api/v1/user/me/joinOrganization/{organizationUuid}",
    tag = "Lightdash: My Account",
    operation_id = "JoinOrganization",
    params(("organizationUuid" = Uuid, Path, description = "The organization's uuid.")),
    responses(
        (status = 200, description = "Joined.", body = json::OkEmpty),
        (status = 403, description = "The token's scopes do not allow it (`write` needed); or the caller's organization requires allowed IPs and the call comes from elsewhere.", body = LightdashError),
        (status = 404, description = "No such organization the caller may join.", body = LightdashError),
        (status = 409, description = "The caller is already in an organization.", body = LightdashError),
    ),
)]
async fn join_organization(caller: Caller, Path(organization_uuid): Id) -> Reply {
    let msg = pb::JoinOrganizationRequest { organization_uuid };
    caller.identity().join_organization(msg).await?;
    Ok(json::ok_empty())
}
