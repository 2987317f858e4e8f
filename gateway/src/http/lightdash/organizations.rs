//! Organizations and their members (Lightdash's Organizations tag).

use proto::identity::v1 as pb;

use super::prelude::*;

/// `/api/v1/org…`: the organization, its members and its allowed email domains.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/org",
            get(get_organization).put(create).patch(update),
        )
        .route(
            "/api/v1/org/{organizationUuid}",
            delete(delete_organization),
        )
        .route("/api/v1/org/users", get(list_members))
        .route(
            "/api/v1/org/users/{userUuid}",
            get(get_member).patch(update_member),
        )
        .route("/api/v1/org/user/{userUuid}", delete(remove_member))
        .route(
            "/api/v1/org/allowedEmailDomains",
            get(get_domains).patch(set_domains),
        )
}

/// `CreateOrganization`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    name: String,
}

/// `UpdateOrganization`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UpdateBody {
    name: Option<String>,
    chart_colors: Option<Vec<String>>,
    default_project_uuid: Option<String>,
}

/// Query of ListOrganizationMembers.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ListQuery {
    page: Option<u32>,
    page_size: Option<u32>,
    search_query: Option<String>,
    include_groups: Option<f64>,
    project_uuid: Option<String>,
}

/// `OrganizationMemberProfileUpdate`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MemberUpdateBody {
    role: String,
}

fn organization(o: &pb::Organization) -> Value {
    let mut v = json!({ "organizationUuid": o.organization_uuid, "name": o.name, "chartColors": o.chart_colors });
    json::set_some(
        &mut v,
        "defaultProjectUuid",
        o.default_project_uuid.as_ref(),
    );
    v
}

fn member(m: &pb::OrganizationMember) -> Value {
    json!({
        "userUuid": m.user_uuid,
        "email": m.email,
        "firstName": m.first_name,
        "lastName": m.last_name,
        "organizationUuid": m.organization_uuid,
        "role": m.organization_role().as_str(),
        "isActive": m.is_active,
        "isPending": m.is_pending,
        "userCreatedAt": m.user_created_at.as_ref().map(json::time),
        "userUpdatedAt": m.user_updated_at.as_ref().map(json::time),
    })
}

/// PUT /api/v1/org: creates an organization; the caller becomes its admin.
async fn create(caller: Caller, Json(body): Json<CreateBody>) -> Reply {
    let msg = pb::CreateOrganizationRequest { name: body.name };
    caller.identity().create_organization(msg).await?;
    Ok(json::ok_empty())
}

/// GET /api/v1/org
async fn get_organization(caller: Caller) -> Reply {
    let msg = pb::GetMyOrganizationRequest {};
    let org = caller.identity().get_my_organization(msg).await?;
    Ok(json::ok(organization(org.get_ref())))
}

/// PATCH /api/v1/org (admins)
async fn update(caller: Caller, Json(body): Json<UpdateBody>) -> Reply {
    let msg = pb::UpdateMyOrganizationRequest {
        name: body.name,
        set_chart_colors: body.chart_colors.is_some(),
        chart_colors: body.chart_colors.unwrap_or_default(),
        default_project_uuid: body.default_project_uuid,
    };
    caller.identity().update_my_organization(msg).await?;
    Ok(json::ok_empty())
}

/// DELETE /api/v1/org/{organizationUuid} (admins)
async fn delete_organization(caller: Caller, Path(organization_uuid): Id) -> Reply {
    let msg = pb::DeleteOrganizationRequest { organization_uuid };
    caller.identity().delete_organization(msg).await?;
    Ok(json::ok_empty())
}

/// GET /api/v1/org/users: a page of members (`page` from 1, `pageSize` up to 100, `searchQuery`).
async fn list_members(caller: Caller, Query(q): Query<ListQuery>) -> Reply {
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
    let res = caller.identity().list_organization_members(msg).await?;
    let res = res.into_inner();
    let members = json::each(&res.members, member);
    Ok(json::ok(json::page(members, &res)))
}

/// GET /api/v1/org/users/{userUuid}
async fn get_member(caller: Caller, Path(user_uuid): Id) -> Reply {
    let msg = pb::GetOrganizationMemberRequest { user_uuid };
    let res = caller.identity().get_organization_member(msg).await?;
    Ok(json::ok(member(res.get_ref())))
}

/// PATCH /api/v1/org/users/{userUuid} (admins): changes a member's role.
async fn update_member(
    caller: Caller,
    Path(user_uuid): Id,
    Json(body): Json<MemberUpdateBody>,
) -> Reply {
    let msg = pb::UpdateOrganizationMemberRequest {
        user_uuid,
        organization_role: pb::OrganizationRole::parse(&body.role)?.into(),
    };
    let res = caller.identity().update_organization_member(msg).await?;
    Ok(json::ok(member(res.get_ref())))
}

/// DELETE /api/v1/org/user/{userUuid} (admins): removes a member from the organization.
async fn remove_member(caller: Caller, Path(user_uuid): Id) -> Reply {
    let msg = pb::RemoveOrganizationMemberRequest { user_uuid };
    caller.identity().remove_organization_member(msg).await?;
    Ok(json::ok_empty())
}

/// `UpdateAllowedEmailDomains`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DomainsBody {
    role: String,
    email_domains: Vec<String>,
    projects: Vec<Value>,
}

fn allowed_domains(d: &pb::AllowedEmailDomains) -> Value {
    json!({ "organizationUuid": d.organization_uuid, "emailDomains": d.email_domains, "role": d.organization_role().as_str(), "projects": [] })
}

/// GET /api/v1/org/allowedEmailDomains (admins)
async fn get_domains(caller: Caller) -> Reply {
    let msg = pb::GetAllowedEmailDomainsRequest {};
    let res = caller.identity().get_allowed_email_domains(msg).await?;
    Ok(json::ok(allowed_domains(res.get_ref())))
}

/// PATCH /api/v1/org/allowedEmailDomains (admins). Project access granted by domain comes
/// with projects-svc; until then `projects` must be empty.
async fn set_domains(caller: Caller, Json(body): Json<DomainsBody>) -> Reply {
    if !body.projects.is_empty() {
        return Err(ApiError::bad_request(
            "projects are not supported yet: send an empty list",
        ));
    }
    let msg = pb::SetAllowedEmailDomainsRequest {
        email_domains: body.email_domains,
        organization_role: pb::OrganizationRole::parse(&body.role)?.into(),
    };
    let res = caller.identity().set_allowed_email_domains(msg).await?;
    Ok(json::ok(allowed_domains(res.get_ref())))
}
