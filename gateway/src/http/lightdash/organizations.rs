//! Organizations and their members (Lightdash's Organizations tag).

use proto::identity::v1 as pb;
use serde::Serialize;

use super::prelude::*;

/// `/api/v1/org…`: the organization, its members and its allowed email domains.
pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_organization, create, update))
        .routes(routes!(delete_organization))
        .routes(routes!(list_members))
        .routes(routes!(get_member, update_member))
        .routes(routes!(remove_member))
        .routes(routes!(get_domains, set_domains))
}

/// What a caller outside the organization, or a member who may not do it, is answered.
const NOT_ALLOWED: &str = "The caller is in no organization, or may not do this (admins \
    only), or the token's scopes do not allow it, or the caller's \
    organization requires allowed IPs and the call comes from elsewhere.";

/// `CreateOrganization`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CreateOrganization)]
struct CreateBody {
    name: String,
}

/// `UpdateOrganization`: the fields to change.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = UpdateOrganization)]
struct UpdateBody {
    name: Option<String>,
    /// The default color palette of the organization's charts.
    chart_colors: Option<Vec<String>>,
    /// The project a member sees first.
    #[schema(format = Uuid)]
    default_project_uuid: Option<String>,
}

/// Query of ListOrganizationMembers.
#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// The page, from 1 (default 1).
    page: Option<u32>,
    /// Members per page, up to 100 (default 100).
    page_size: Option<u32>,
    /// Only members whose name or email contains this.
    search_query: Option<String>,
    /// Not supported yet: 400 when given.
    include_groups: Option<f64>,
    /// Not supported yet: 400 when given.
    project_uuid: Option<String>,
}

/// `OrganizationMemberProfileUpdate`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = OrganizationMemberProfileUpdate)]
struct MemberUpdateBody {
    #[schema(value_type = json::OrganizationMemberRole)]
    role: String,
}

/// `Organization`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Organization)]
struct Organization {
    #[schema(format = Uuid)]
    organization_uuid: String,
    name: String,
    /// The default color palette of the organization's charts.
    chart_colors: Vec<String>,
    /// The project a member sees first, when one is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    default_project_uuid: Option<String>,
}

fn organization(o: &pb::Organization) -> Organization {
    Organization {
        organization_uuid: o.organization_uuid.clone(),
        name: o.name.clone(),
        chart_colors: o.chart_colors.clone(),
        default_project_uuid: o.default_project_uuid.clone(),
    }
}

/// `OrganizationMemberProfile`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = OrganizationMemberProfile)]
struct Member {
    #[schema(format = Uuid)]
    user_uuid: String,
    email: String,
    first_name: String,
    last_name: String,
    #[schema(format = Uuid)]
    organization_uuid: String,
    #[schema(value_type = json::OrganizationMemberRole)]
    role: &'static str,
    /// Whether the user can log in.
    is_active: bool,
    /// Whether the user is invited and has not signed up yet.
    is_pending: bool,
    #[schema(format = DateTime)]
    user_created_at: Option<String>,
    #[schema(format = DateTime)]
    user_updated_at: Option<String>,
}

fn member(m: &pb::OrganizationMember) -> Member {
    Member {
        user_uuid: m.user_uuid.clone(),
        email: m.email.clone(),
        first_name: m.first_name.clone(),
        last_name: m.last_name.clone(),
        organization_uuid: m.organization_uuid.clone(),
        role: m.organization_role().as_str(),
        is_active: m.is_active,
        is_pending: m.is_pending,
        user_created_at: json::some_time(m.user_created_at.as_ref()),
        user_updated_at: json::some_time(m.user_updated_at.as_ref()),
    }
}

/// PUT /api/v1/org: creates an organization; the caller becomes its admin.
#[utoipa::path(
    put,
    path = "/api/v1/org",
    tag = "Lightdash: Organizations",
    operation_id = "CreateOrganization",
    request_body = CreateBody,
    responses(
        (status = 415, description = json::NOT_JSON, body = LightdashError),
        (status = 200, description = "Created.", body = json::OkEmpty),
        (status = 403, description = "The token's scopes do not allow it (`write` needed); or the caller's organization requires allowed IPs and the call comes from elsewhere.", body = LightdashError),
        (status = 409, description = "The caller already belongs to an organization.", body = LightdashError),
    ),
)]
async fn create(caller: Caller, Json(body): Json<CreateBody>) -> Reply {
    let msg = pb::CreateOrganizationRequest { name: body.name };
    caller.identity().create_organization(msg).await?;
    Ok(json::ok_empty())
}

/// GET /api/v1/org: the caller's organization.
#[utoipa::path(
    get,
    path = "/api/v1/org",
    tag = "Lightdash: Organizations",
    operation_id = "GetMyOrganization",
    responses(
        (status = 200, description = "The organization.", body = json::Ok<Organization>),
        (status = 403, description = "The caller is in no organization; or the caller's organization requires allowed IPs and the call comes from elsewhere.", body = LightdashError),
    ),
)]
async fn get_organization(caller: Caller) -> Reply {
    let msg = pb::GetMyOrganizationRequest {};
    let org = caller.identity().get_my_organization(msg).await?;
    Ok(json::ok(organization(org.get_ref())))
}

/// PATCH /api/v1/org (admins): changes the organization's name, colors or default project.
#[utoipa::path(
    patch,
    path = "/api/v1/org",
    tag = "Lightdash: Organizations",
    operation_id = "UpdateMyOrganization",
    request_body = UpdateBody,
    responses(
        (status = 415, description = json::NOT_JSON, body = LightdashError),
        (status = 200, description = "Changed.", body = json::OkEmpty),
        (status = 403, description = NOT_ALLOWED, body = LightdashError),
    ),
)]
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

/// DELETE /api/v1/org/{organizationUuid} (admins): deletes the caller's organization.
#[utoipa::path(
    delete,
    path = "/api/v1/org/{organizationUuid}",
    tag = "Lightdash: Organizations",
    operation_id = "DeleteMyOrganization",
    params(("organizationUuid" = Uuid, Path, description = "The caller's organization's uuid.")),
    responses(
        (status = 200, description = "Deleted, with everything in it.", body = json::OkEmpty),
        (status = 403, description = "The caller is in no organization, is not its admin, or signed in longer ago than the recent-login window, or the token lacks the `admin` scope; or the caller's organization requires allowed IPs and the call comes from elsewhere.", body = LightdashError),
        (status = 404, description = "Not the caller's organization.", body = LightdashError),
    ),
)]
async fn delete_organization(caller: Caller, Path(organization_uuid): Id) -> Reply {
    let msg = pb::DeleteOrganizationRequest { organization_uuid };
    caller.identity().delete_organization(msg).await?;
    Ok(json::ok_empty())
}

/// GET /api/v1/org/users: a page of members (`page` from 1, `pageSize` up to 100, `searchQuery`).
#[utoipa::path(
    get,
    path = "/api/v1/org/users",
    tag = "Lightdash: Organizations",
    operation_id = "ListOrganizationMembers",
    params(ListQuery),
    responses(
        (status = 200, description = "A page of members.", body = json::Ok<json::Page<Member>>),
        (status = 403, description = "The caller is in no organization; or the caller's organization requires allowed IPs and the call comes from elsewhere.", body = LightdashError),
    ),
)]
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

/// GET /api/v1/org/users/{userUuid}: a member of the caller's organization.
#[utoipa::path(
    get,
    path = "/api/v1/org/users/{userUuid}",
    tag = "Lightdash: Organizations",
    operation_id = "GetOrganizationMemberByUuid",
    params(("userUuid" = Uuid, Path, description = "The member's user uuid.")),
    responses(
        (status = 200, description = "The member.", body = json::Ok<Member>),
        (status = 403, description = "The caller is in no organization; or the caller's organization requires allowed IPs and the call comes from elsewhere.", body = LightdashError),
        (status = 404, description = "No such member of the caller's organization.", body = LightdashError),
    ),
)]
async fn get_member(caller: Caller, Path(user_uuid): Id) -> Reply {
    let msg = pb::GetOrganizationMemberRequest { user_uuid };
    let res = caller.identity().get_organization_member(msg).await?;
    Ok(json::ok(member(res.get_ref())))
}

/// PATCH /api/v1/org/users/{userUuid} (admins): changes a member's role.
///
/// The last admin cannot be demoted (400).
#[utoipa::path(
    patch,
    path = "/api/v1/org/users/{userUuid}",
    tag = "Lightdash: Organizations",
    operation_id = "UpdateOrganizationMember",
    params(("userUuid" = Uuid, Path, description = "The member's user uuid.")),
    request_body = MemberUpdateBody,
    responses(
        (status = 415, description = json::NOT_JSON, body = LightdashError),
        (status = 200, description = "The member with their new role.", body = json::Ok<Member>),
        (status = 403, description = NOT_ALLOWED, body = LightdashError),
        (status = 404, description = "No such member of the caller's organization.", body = LightdashError),
    ),
)]
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
///
/// The last admin cannot be removed (400).
#[utoipa::path(
    delete,
    path = "/api/v1/org/user/{userUuid}",
    tag = "Lightdash: Organizations",
    operation_id = "DeleteOrganizationMember",
    params(("userUuid" = Uuid, Path, description = "The member's user uuid.")),
    responses(
        (status = 200, description = "Removed.", body = json::OkEmpty),
        (status = 403, description = NOT_ALLOWED, body = LightdashError),
        (status = 404, description = "No such member of the caller's organization.", body = LightdashError),
    ),
)]
async fn remove_member(caller: Caller, Path(user_uuid): Id) -> Reply {
    let msg = pb::RemoveOrganizationMemberRequest { user_uuid };
    caller.identity().remove_organization_member(msg).await?;
    Ok(json::ok_empty())
}

/// `UpdateAllowedEmailDomains`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = UpdateAllowedEmailDomains)]
struct DomainsBody {
    /// The role of a user who joins by one of the domains.
    #[schema(value_type = json::OrganizationMemberRole)]
    role: String,
    email_domains: Vec<String>,
    /// Project access granted by domain: not supported yet, must be empty.
    #[schema(value_type = Vec<Object>)]
    projects: Vec<Value>,
}

/// `AllowedEmailDomains`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = AllowedEmailDomains)]
struct AllowedDomains {
    #[schema(format = Uuid)]
    organization_uuid: String,
    /// Users with a verified email in one of these may join.
    email_domains: Vec<String>,
    /// The role of a user who joins by domain.
    #[schema(value_type = json::OrganizationMemberRole)]
    role: &'static str,
    /// Project access granted by domain: always empty in this version.
    #[schema(value_type = Vec<Object>)]
    projects: [Value; 0],
}

fn allowed_domains(d: &pb::AllowedEmailDomains) -> AllowedDomains {
    AllowedDomains {
        organization_uuid: d.organization_uuid.clone(),
        email_domains: d.email_domains.clone(),
        role: d.organization_role().as_str(),
        projects: [],
    }
}

/// GET /api/v1/org/allowedEmailDomains (admins): the email domains whose users may join.
#[utoipa::path(
    get,
    path = "/api/v1/org/allowedEmailDomains",
    tag = "Lightdash: Organizations",
    operation_id = "ListOrganizationEmailDomains",
    responses(
        (status = 200, description = "The allowed domains.", body = json::Ok<AllowedDomains>),
        (status = 403, description = NOT_ALLOWED, body = LightdashError),
    ),
)]
async fn get_domains(caller: Caller) -> Reply {
    let msg = pb::GetAllowedEmailDomainsRequest {};
    let res = caller.identity().get_allowed_email_domains(msg).await?;
    Ok(json::ok(allowed_domains(res.get_ref())))
}

/// PATCH /api/v1/org/allowedEmailDomains (admins): sets the email domains whose users may join.
///
/// Project access granted by domain comes with projects-svc; until then `projects` must be
/// empty.
#[utoipa::path(
    patch,
    path = "/api/v1/org/allowedEmailDomains",
    tag = "Lightdash: Organizations",
    operation_id = "UpdateOrganizationEmailDomains",
    request_body = DomainsBody,
    responses(
        (status = 415, description = json::NOT_JSON, body = LightdashError),
        (status = 200, description = "The allowed domains as set.", body = json::Ok<AllowedDomains>),
        (status = 403, description = NOT_ALLOWED, body = LightdashError),
    ),
)]
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
