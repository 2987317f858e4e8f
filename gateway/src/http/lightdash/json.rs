//! The Lightdash dialect's JSON shapes. Serde types stop here: handlers convert proto messages
//! into these by hand.

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
};
use chrono::{DateTime, SecondsFormat, Utc};
use proto::identity::v1 as pb;
use serde::Serialize;
use serde_json::json;

/// `{"status":"ok","results":…}`.
pub(super) fn ok(results: impl Serialize) -> Response {
    axum::Json(json!({ "status": "ok", "results": results })).into_response()
}

/// 201 with `{"status":"ok","results":…}`.
pub(super) fn created(results: impl Serialize) -> Response {
    (StatusCode::CREATED, ok(results)).into_response()
}

/// `{"status":"ok","results":…}`: the body of [`ok_direct`] and the schema of every answer
/// with results (`body = json::Ok<T>` in a handler's `#[utoipa::path]`); its keys in
/// alphabetical order.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct Ok<T> {
    pub(super) results: T,
    pub(super) status: OkStatus,
}

/// `{"status":"ok"}`: the schema of [`ok_empty`].
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ApiSuccessEmpty)]
pub(super) struct OkEmpty {
    status: OkStatus,
}

/// The `status` of a success.
#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub(super) enum OkStatus {
    Ok,
}

/// `{"status":"ok","results":…}` written straight from `results`, without a `Value` tree
/// in between (for large answers, such as thousands of spaces). Same bytes as [`ok`] when
/// `results` serializes its keys in alphabetical order, as a `Value` map does.
pub(super) fn ok_direct<T: Serialize>(results: T) -> Response {
    axum::Json(Ok {
        results,
        status: OkStatus::Ok,
    })
    .into_response()
}

/// `{"status":"ok"}` for operations without results.
pub(super) fn ok_empty() -> Response {
    axum::Json(json!({ "status": "ok" })).into_response()
}

/// 204, no body.
pub(super) fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// Each of `items` in its JSON shape.
pub(super) fn each<T, U>(items: &[T], shape: impl FnMut(&T) -> U) -> Vec<U> {
    items.iter().map(shape).collect()
}

/// A paged listing's answer from a service.
pub(super) trait Paged {
    /// The page number (from 1), its size, the number of results and of pages.
    fn pagination(&self) -> (u32, u32, u64, u64);
}

macro_rules! paged {
    ($($response:ty),*) => {$(
        impl Paged for $response {
            fn pagination(&self) -> (u32, u32, u64, u64) {
                (self.page, self.page_size, self.total_results, self.total_page_count)
            }
        }
    )*};
}
paged!(pb::ListGroupsResponse, pb::ListOrganizationMembersResponse);

/// A page of a listing: `{"data":[…],"pagination":{page, pageSize, totalResults,
/// totalPageCount}}` (Lightdash's `KnexPaginatedData`).
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct Page<T> {
    pub(super) data: Vec<T>,
    pub(super) pagination: Pagination,
}

/// Where a page is in its listing.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = LightdashPagination)]
pub(super) struct Pagination {
    /// The page number, from 1.
    page: u32,
    /// The most results a page holds.
    page_size: u32,
    /// The results of the whole listing.
    total_results: u64,
    /// The pages of the whole listing.
    total_page_count: u64,
}

/// A page of a listing.
pub(super) fn page<T>(data: Vec<T>, of: &impl Paged) -> Page<T> {
    let (page, page_size, total_results, total_page_count) = of.pagination();
    Page {
        data,
        pagination: Pagination {
            page,
            page_size,
            total_results,
            total_page_count,
        },
    }
}

/// The 403 of an authenticated operation without another: the caller's organization requires
/// allowed IPs (`require_ip_api_access`) and the call comes from outside them.
pub(super) const ADDRESS_REFUSED: &str = "The caller's organization requires allowed IPs and \
    the call comes from elsewhere.";

/// The 415 of an operation with a JSON body, in its `#[utoipa::path]`.
pub(super) const NOT_JSON: &str = "The body was sent without `Content-Type: application/json`.";

/// A timestamp as JavaScript's `Date.toJSON()` writes it: `2026-11-25T17:00:00.000Z`.
pub(super) fn time(ts: &prost_types::Timestamp) -> String {
    DateTime::<Utc>::from_timestamp(ts.seconds, u32::try_from(ts.nanos).unwrap_or(0))
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// An organization role's wire name (`proto::organization_role`), lowest first: the schema of
/// the `role` strings the handlers write.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // a schema only
pub(super) enum OrganizationMemberRole {
    Member,
    Viewer,
    InteractiveViewer,
    Editor,
    Developer,
    Admin,
}

/// `LightdashUser`: the user, with their organization and role when they have one.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = LightdashUser)]
pub(super) struct User {
    // Fields in the alphabetical order of their JSON names: answered through `ok_direct`, the
    // same bytes as through a `Value` map.
    #[schema(format = DateTime)]
    created_at: Option<String>,
    email: String,
    first_name: String,
    /// Whether the user can log in.
    is_active: bool,
    is_marketing_opted_in: bool,
    /// Always false: every user here has a password.
    is_pending: bool,
    is_setup_complete: bool,
    is_tracking_anonymized: bool,
    last_name: String,
    // Absent without an organization; `null` in one without a creation time.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    organization_created_at: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    organization_name: Option<String>,
    /// The organization's fields: only for a member of one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = Uuid)]
    organization_uuid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<OrganizationMemberRole>)]
    role: Option<String>,
    #[schema(format = DateTime)]
    updated_at: Option<String>,
    #[schema(format = Uuid)]
    user_uuid: String,
}

/// `LightdashUser`.
pub(super) fn user(u: &pb::User) -> User {
    let m = u.membership.as_ref();
    User {
        user_uuid: u.user_uuid.clone(),
        email: u.email.clone(),
        first_name: u.first_name.clone(),
        last_name: u.last_name.clone(),
        is_tracking_anonymized: u.is_tracking_anonymized,
        is_marketing_opted_in: u.is_marketing_opted_in,
        is_setup_complete: u.is_setup_complete,
        created_at: some_time(u.created_at.as_ref()),
        updated_at: some_time(u.updated_at.as_ref()),
        is_active: u.is_active,
        is_pending: false,
        organization_uuid: m.map(|m| m.organization_uuid.clone()),
        organization_name: m.map(|m| m.organization_name.clone()),
        organization_created_at: m.map(|m| some_time(m.organization_created_at.as_ref())),
        role: m.map(|m| m.organization_role().as_str().to_owned()),
    }
}

/// A timestamp as [`time`] writes it, when there is one (`null` when not).
pub(super) fn some_time(ts: Option<&prost_types::Timestamp>) -> Option<String> {
    ts.map(time)
}

/// `PersonalAccessToken`.
#[derive(Default, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct PersonalAccessToken {
    #[schema(format = Uuid)]
    uuid: String,
    description: String,
    #[schema(format = DateTime)]
    created_at: Option<String>,
    #[schema(format = DateTime)]
    expires_at: Option<String>,
    #[schema(format = DateTime)]
    rotated_at: Option<String>,
    #[schema(format = DateTime)]
    last_used_at: Option<String>,
    /// Ours (issue #18): what the token may do (`read`, `write`, `admin`), lowest first.
    scopes: Vec<String>,
}

/// `PersonalAccessToken`.
pub(super) fn personal_access_token(t: &pb::PersonalAccessToken) -> PersonalAccessToken {
    PersonalAccessToken {
        uuid: t.uuid.clone(),
        description: t.description.clone(),
        created_at: some_time(t.created_at.as_ref()),
        expires_at: some_time(t.expires_at.as_ref()),
        rotated_at: some_time(t.rotated_at.as_ref()),
        last_used_at: some_time(t.last_used_at.as_ref()),
        scopes: t.scopes.clone(),
    }
}

/// `PersonalAccessTokenWithToken`: the token and, this once, its secret.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct PersonalAccessTokenWithToken {
    #[serde(flatten)]
    details: PersonalAccessToken,
    /// The secret (`ldpat_…`): in this answer only.
    #[serde(rename = "token")]
    #[schema(example = "ldpat_0123456789abcdef")]
    secret: String,
}

/// `PersonalAccessTokenWithToken`: the token and, this once, its secret.
pub(super) fn personal_access_token_with_secret(
    t: &pb::PersonalAccessTokenWithSecret,
) -> PersonalAccessTokenWithToken {
    PersonalAccessTokenWithToken {
        details: t
            .token
            .as_ref()
            .map(personal_access_token)
            .unwrap_or_default(),
        secret: t.secret.clone(),
    }
}

/// A request timestamp for a proto message.
pub(super) use service_kit::grpc::timestamp as to_proto_time;

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(res: Response) -> Vec<u8> {
        axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .expect("a whole body")
            .to_vec()
    }

    /// `User` is answered through `ok_direct`: the same bytes as through `ok`'s `Value` map
    /// only while its fields stay in the alphabetical order of their JSON names.
    #[tokio::test]
    async fn a_user_answered_directly_has_the_bytes_of_a_value_map() {
        let at = Some(prost_types::Timestamp {
            seconds: 1_700_000_000,
            nanos: 0,
        });
        let mut u = pb::User {
            user_uuid: "0190d1b4-0000-7000-8000-000000000001".into(),
            email: "a@example.com".into(),
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
            is_active: true,
            is_tracking_anonymized: true,
            is_marketing_opted_in: false,
            is_setup_complete: true,
            created_at: at,
            updated_at: None,
            membership: Some(pb::Membership {
                organization_uuid: "0190d1b4-0000-7000-8000-000000000002".into(),
                organization_name: "Analytical Engines".into(),
                organization_created_at: None,
                organization_role: pb::OrganizationRole::Admin as i32,
            }),
        };
        for membership in [true, false] {
            if !membership {
                u.membership = None;
            }
            let direct = body(ok_direct(user(&u))).await;
            assert_eq!(direct, body(ok(user(&u))).await);
            let text = String::from_utf8(direct).expect("UTF-8");
            assert_eq!(text.contains("\"role\":\"admin\""), membership, "{text}");
        }
    }
}
