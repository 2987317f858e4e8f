//! The Lightdash dialect's JSON shapes. Serde types stop here: handlers convert proto messages
//! into these by hand.

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
};
use chrono::{DateTime, SecondsFormat, Utc};
use proto::identity::v1 as pb;
use serde::Serialize;
use serde_json::{Value, json};

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
/// totalPageCount}}`.
pub(super) fn page(data: Vec<Value>, of: &impl Paged) -> Value {
    let (page, page_size, total, pages) = of.pagination();
    json!({
        "data": data,
        "pagination": {
            "page": page,
            "pageSize": page_size,
            "totalResults": total,
            "totalPageCount": pages,
        }
    })
}

/// Sets `v[key]` to `value` when there is one.
pub(super) fn set_some(v: &mut Value, key: &str, value: Option<&impl Serialize>) {
    if let Some(value) = value {
        v[key] = json!(value);
    }
}

/// A timestamp as JavaScript's `Date.toJSON()` writes it: `2026-11-25T17:00:00.000Z`.
pub(super) fn time(ts: &prost_types::Timestamp) -> String {
    DateTime::<Utc>::from_timestamp(ts.seconds, u32::try_from(ts.nanos).unwrap_or(0))
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A timestamp as [`time`] writes it, or `null`.
pub(super) fn opt_time(ts: Option<&prost_types::Timestamp>) -> Value {
    ts.map(|t| Value::String(time(t))).unwrap_or(Value::Null)
}

/// `LightdashUser`.
pub(super) fn user(u: &pb::User) -> Value {
    let mut v = json!({
        "userUuid": u.user_uuid,
        "email": u.email,
        "firstName": u.first_name,
        "lastName": u.last_name,
        "isTrackingAnonymized": u.is_tracking_anonymized,
        "isMarketingOptedIn": u.is_marketing_opted_in,
        "isSetupComplete": u.is_setup_complete,
        "createdAt": opt_time(u.created_at.as_ref()),
        "updatedAt": opt_time(u.updated_at.as_ref()),
        "isActive": u.is_active,
        "isPending": false,
    });
    if let Some(m) = &u.membership {
        v["organizationUuid"] = json!(m.organization_uuid);
        v["organizationName"] = json!(m.organization_name);
        v["organizationCreatedAt"] = opt_time(m.organization_created_at.as_ref());
        v["role"] = json!(m.organization_role().as_str());
    }
    v
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
