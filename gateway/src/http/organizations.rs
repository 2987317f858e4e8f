//! Organizations and their members (Lightdash's Organizations tag).

use axum::{
    extract::State,
    response::{IntoResponse, Response},
};
use proto::identity::v1 as pb;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    ApiError, ApiResult, AppState,
    extract::{AppJson, AppPath, AppQuery, Caller},
    json,
};

/// `CreateOrganization`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateBody {
    name: String,
}

/// `UpdateOrganization`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct UpdateBody {
    name: Option<String>,
    chart_colors: Option<Vec<String>>,
    default_project_uuid: Option<String>,
}

/// Query of ListOrganizationMembers.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct ListQuery {
    page: Option<u32>,
    page_size: Option<u32>,
    search_query: Option<String>,
    include_groups: Option<f64>,
    project_uuid: Option<String>,
}

/// `OrganizationMemberProfileUpdate`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MemberUpdateBody {
    role: String,
}

fn organization(o: &pb::Organization) -> Value {
    let mut v = json!({ "organizationUuid": o.organization_uuid, "name": o.name, "chartColors": o.chart_colors });
    if let Some(p) = &o.default_project_uuid {
        v["defaultProjectUuid"] = json!(p);
    }
    v
}

fn member(m: &pb::OrganizationMember) -> Value {
    json!({
        "userUuid": m.user_uuid,
        "email": m.email,
        "firstName": m.first_name,
        "lastName": m.last_name,
        "organizationUuid": m.organization_uuid,
        "role": m.role,
        "isActive": m.is_active,
        "isPending": m.is_pending,
        "userCreatedAt": m.user_created_at.as_ref().map(json::time),
        "userUpdatedAt": m.user_updated_at.as_ref().map(json::time),
    })
}

/// PUT /api/v1/org: creates an organization; the caller becomes its admin.
pub(super) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    AppJson(body): AppJson<CreateBody>,
) -> ApiResult<Response> {
    let msg = pb::CreateOrganizationRequest { name: body.name };
    state
        .identity
        .rpc()
        .create_organization(state.identity.as_user(msg, &caller))
        .await?;
    Ok(json::ok_empty().into_response())
}

/// GET /api/v1/org
pub(super) async fn get(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    let org = state
        .identity
        .rpc()
        .get_my_organization(
            state
                .identity
                .as_user(pb::GetMyOrganizationRequest {}, &caller),
        )
        .await?;
    Ok(json::ok(organization(org.get_ref())).into_response())
}

/// PATCH /api/v1/org (admins)
pub(super) async fn update(
    State(state): State<AppState>,
    caller: Caller,
    AppJson(body): AppJson<UpdateBody>,
) -> ApiResult<Response> {
    let msg = pb::UpdateMyOrganizationRequest {
        name: body.name,
        set_chart_colors: body.chart_colors.is_some(),
        chart_colors: body.chart_colors.unwrap_or_default(),
        default_project_uuid: body.default_project_uuid,
    };
    state
        .identity
        .rpc()
        .update_my_organization(state.identity.as_user(msg, &caller))
        .await?;
    Ok(json::ok_empty().into_response())
}

/// DELETE /api/v1/org/{organizationUuid} (admins)
pub(super) async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(organization_uuid): AppPath<String>,
) -> ApiResult<Response> {
    let msg = pb::DeleteOrganizationRequest { organization_uuid };
    state
        .identity
        .rpc()
        .delete_organization(state.identity.as_user(msg, &caller))
        .await?;
    Ok(json::ok_empty().into_response())
}

/// GET /api/v1/org/users: a page of members (`page` from 1, `pageSize` up to 100, `searchQuery`).
pub(super) async fn list_members(
    State(state): State<AppState>,
    caller: Caller,
    AppQuery(q): AppQuery<ListQuery>,
) -> ApiResult<Response> {
    if q.include_groups.is_some() || q.project_uuid.is_some() {
        return Err(ApiError::bad_request(
            "includeGroups and projectUuid are not supported yet",
        ));
    }
    let msg = pb::ListOrganizationMembersRequest {
        page: q.page.unwrap_or(1),
        page_size: q.page_size.unwrap_or(100),
        search: q.search_query,
    };
    let res = state
        .identity
        .rpc()
        .list_organization_members(state.identity.as_user(msg, &caller))
        .await?
        .into_inner();
    Ok(json::ok(json!({
        "data": res.members.iter().map(member).collect::<Vec<_>>(),
        "pagination": {
            "page": res.page,
            "pageSize": res.page_size,
            "totalResults": res.total_results,
            "totalPageCount": res.total_page_count,
        }
    }))
    .into_response())
}

/// GET /api/v1/org/users/{userUuid}
pub(super) async fn get_member(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(user_uuid): AppPath<String>,
) -> ApiResult<Response> {
    let msg = pb::GetOrganizationMemberRequest { user_uuid };
    let res = state
        .identity
        .rpc()
        .get_organization_member(state.identity.as_user(msg, &caller))
        .await?;
    Ok(json::ok(member(res.get_ref())).into_response())
}

/// PATCH /api/v1/org/users/{userUuid} (admins): changes a member's role.
pub(super) async fn update_member(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(user_uuid): AppPath<String>,
    AppJson(body): AppJson<MemberUpdateBody>,
) -> ApiResult<Response> {
    let msg = pb::UpdateOrganizationMemberRequest {
        user_uuid,
        role: body.role,
    };
    let res = state
        .identity
        .rpc()
        .update_organization_member(state.identity.as_user(msg, &caller))
        .await?;
    Ok(json::ok(member(res.get_ref())).into_response())
}

/// DELETE /api/v1/org/user/{userUuid} (admins): removes a member from the organization.
pub(super) async fn remove_member(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(user_uuid): AppPath<String>,
) -> ApiResult<Response> {
    let msg = pb::RemoveOrganizationMemberRequest { user_uuid };
    state
        .identity
        .rpc()
        .remove_organization_member(state.identity.as_user(msg, &caller))
        .await?;
    Ok(json::ok_empty().into_response())
}

/// `UpdateAllowedEmailDomains`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct DomainsBody {
    role: String,
    email_domains: Vec<String>,
    projects: Vec<Value>,
}

fn allowed_domains(d: &pb::AllowedEmailDomains) -> Value {
    json!({ "organizationUuid": d.organization_uuid, "emailDomains": d.email_domains, "role": d.role, "projects": [] })
}

/// GET /api/v1/org/allowedEmailDomains (admins)
pub(super) async fn get_domains(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Response> {
    let res = state
        .identity
        .rpc()
        .get_allowed_email_domains(
            state
                .identity
                .as_user(pb::GetAllowedEmailDomainsRequest {}, &caller),
        )
        .await?;
    Ok(json::ok(allowed_domains(res.get_ref())).into_response())
}

/// PATCH /api/v1/org/allowedEmailDomains (admins). Project access granted by domain comes
/// with projects-svc; until then `projects` must be empty.
pub(super) async fn set_domains(
    State(state): State<AppState>,
    caller: Caller,
    AppJson(body): AppJson<DomainsBody>,
) -> ApiResult<Response> {
    if !body.projects.is_empty() {
        return Err(ApiError::bad_request(
            "projects are not supported yet: send an empty list",
        ));
    }
    let msg = pb::SetAllowedEmailDomainsRequest {
        email_domains: body.email_domains,
        role: body.role,
    };
    let res = state
        .identity
        .rpc()
        .set_allowed_email_domains(state.identity.as_user(msg, &caller))
        .await?;
    Ok(json::ok(allowed_domains(res.get_ref())).into_response())
}
