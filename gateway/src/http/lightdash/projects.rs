//! Projects and their access lists (Lightdash's Projects and Roles & Permissions tags), and our
//! `POST /api/v1/org/projects` and `DELETE /api/v1/org/projects/{projectUuid}`.

use proto::{connections::v1 as connections_pb, projects::v1 as pb};
use serde::{Deserializer, Serialize};

use super::{prelude::*, warehouse};

/// Projects and their access lists: `/api/v1/org/projects…`, `/api/v1/projects/{projectUuid}…`
/// and `/api/v1/groups/{groupUuid}/projects/{projectUuid}`.
pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(delete_project))
        .routes(routes!(get_project))
        .routes(routes!(update_metadata))
        .routes(routes!(update_scheduler))
        .routes(routes!(access_list, grant))
        .routes(routes!(update_access, revoke_access))
        .routes(routes!(member_access))
        .routes(routes!(group_accesses))
        .routes(routes!(add_group, update_group, remove_group))
}

/// Body of `POST /api/v1/org/projects` (ours).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = CreateOrganizationProject)]
struct CreateBody {
    /// The project's name.
    #[schema(example = "Analytics")]
    name: String,
    /// A shared connection of the caller's organization, of a warehouse provider, that the
    /// project queries; its provider gives `warehouseType` when the body names none.
    #[schema(format = Uuid)]
    warehouse_connection_uuid: Option<String>,
    /// The project this one is a preview of.
    #[schema(format = Uuid)]
    upstream_project_uuid: Option<String>,
    /// `bigquery`, `postgres`, `redshift`, `snowflake`, `databricks` or `trino`; must match the
    /// connection's.
    #[schema(value_type = Option<WarehouseTypes>)]
    warehouse_type: Option<String>,
    /// `DEFAULT` (the default) or `PREVIEW`.
    #[serde(rename = "type")]
    #[schema(value_type = Option<ProjectType>)]
    project_type: Option<String>,
}

/// Present-and-null and absent told apart: `Some(None)` is an explicit null.
fn explicit_null<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// `UpdateMetadata`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = UpdateMetadata)]
struct MetadataBody {
    /// The project this one is a preview of; `null` unsets it, absent keeps it.
    #[serde(default, deserialize_with = "explicit_null")]
    #[schema(value_type = Option<String>, format = Uuid)]
    upstream_project_uuid: Option<Option<String>>,
}

/// `UpdateSchedulerSettings`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = UpdateSchedulerSettings)]
struct SchedulerBody {
    /// An IANA time zone name.
    #[schema(example = "Europe/Lisbon")]
    scheduler_timezone: String,
}

/// `CreateProjectMember`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = CreateProjectMember)]
struct GrantBody {
    /// The email of a member of the project's organization.
    #[schema(format = Email)]
    email: String,
    #[schema(value_type = ProjectMemberRole)]
    role: String,
    /// Accepted for compatibility; no email is sent for a project grant.
    #[allow(dead_code)]
    send_email: bool,
}

/// `UpdateProjectMember`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = UpdateProjectMember)]
struct RoleBody {
    #[schema(value_type = ProjectMemberRole)]
    role: String,
}

/// `UpdateDBProjectGroupAccess` (and Lightdash's `Pick_CreateDBProjectGroupAccess.role_`, the
/// same shape): the body of group grants.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = UpdateDBProjectGroupAccess)]
struct GroupRoleBody {
    #[schema(value_type = ProjectMemberRole)]
    role: String,
}

/// `ProjectMemberRole`: a role in a project, lowest first (a schema only: the services read
/// and write roles as strings).
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub(super) enum ProjectMemberRole {
    Viewer,
    InteractiveViewer,
    Editor,
    Developer,
    Admin,
}

/// `WarehouseTypes` (a schema only).
#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
enum WarehouseTypes {
    Bigquery,
    Postgres,
    Redshift,
    Snowflake,
    Databricks,
    Trino,
}

/// `ProjectType` (a schema only).
#[derive(ToSchema)]
#[serde(rename_all = "UPPERCASE")]
#[allow(dead_code)]
enum ProjectType {
    Default,
    Preview,
}

/// Lightdash's `Project`. No dbt connection is managed here: `dbtConnection` is `none`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Project)]
struct ProjectBody {
    #[schema(format = Uuid)]
    project_uuid: String,
    #[schema(format = Uuid)]
    organization_uuid: String,
    name: String,
    #[serde(rename = "type")]
    #[schema(value_type = ProjectType)]
    project_type: String,
    /// null when the creator is unknown.
    #[schema(format = Uuid)]
    created_by_user_uuid: Option<String>,
    #[schema(example = "UTC")]
    scheduler_timezone: String,
    /// Always `latest`.
    #[schema(example = "latest")]
    dbt_version: &'static str,
    dbt_connection: DbtConnection,
    #[schema(value_type = WarehouseTypes)]
    warehouse_type: String,
    /// Absent when the project is no preview.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = Uuid)]
    upstream_project_uuid: Option<String>,
    /// Ours: the shared connection the project queries; absent when none.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = Uuid)]
    warehouse_connection_uuid: Option<String>,
    /// The connection's non-sensitive fields: absent when the project has no connection, the
    /// caller cannot read it or it was deleted.
    #[serde(skip_serializing_if = "Option::is_none")]
    warehouse_connection: Option<warehouse::WarehouseCredentials>,
}

/// `DbtNoneProjectConfig`: no dbt connection.
#[derive(Serialize, ToSchema)]
#[schema(as = DbtNoneProjectConfig)]
struct DbtConnection {
    /// Always `none`.
    #[serde(rename = "type")]
    #[schema(example = "none")]
    kind: &'static str,
}

fn project(p: &pb::Project) -> ProjectBody {
    ProjectBody {
        project_uuid: p.project_uuid.clone(),
        organization_uuid: p.organization_uuid.clone(),
        name: p.name.clone(),
        project_type: p.project_type.clone(),
        created_by_user_uuid: p.created_by_user_uuid.clone(),
        scheduler_timezone: p.scheduler_timezone.clone(),
        dbt_version: "latest",
        dbt_connection: DbtConnection { kind: "none" },
        warehouse_type: p.warehouse_type.clone(),
        upstream_project_uuid: p.upstream_project_uuid.clone(),
        warehouse_connection_uuid: p.warehouse_connection_uuid.clone(),
        warehouse_connection: None,
    }
}

/// Lightdash's `OrganizationProject`: a summary of a project.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct OrganizationProject {
    #[schema(format = Uuid)]
    project_uuid: String,
    name: String,
    #[serde(rename = "type")]
    #[schema(value_type = ProjectType)]
    project_type: String,
    #[schema(format = Uuid)]
    created_by_user_uuid: Option<String>,
    #[schema(format = Uuid)]
    upstream_project_uuid: Option<String>,
    #[schema(value_type = WarehouseTypes)]
    warehouse_type: String,
    /// Always false.
    require_user_credentials: bool,
}

fn organization_project(p: &pb::Project) -> OrganizationProject {
    OrganizationProject {
        project_uuid: p.project_uuid.clone(),
        name: p.name.clone(),
        project_type: p.project_type.clone(),
        created_by_user_uuid: p.created_by_user_uuid.clone(),
        upstream_project_uuid: p.upstream_project_uuid.clone(),
        warehouse_type: p.warehouse_type.clone(),
        require_user_credentials: false,
    }
}

/// Lightdash's `ProjectMemberProfile`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct ProjectMemberProfile {
    #[schema(format = Uuid)]
    user_uuid: String,
    #[schema(format = Uuid)]
    project_uuid: String,
    #[schema(value_type = ProjectMemberRole)]
    role: String,
    email: String,
    first_name: String,
    last_name: String,
}

fn member(m: &pb::ProjectMember) -> ProjectMemberProfile {
    ProjectMemberProfile {
        user_uuid: m.user_uuid.clone(),
        project_uuid: m.project_uuid.clone(),
        role: m.role.clone(),
        email: m.email.clone(),
        first_name: m.first_name.clone(),
        last_name: m.last_name.clone(),
    }
}

/// Lightdash's `ProjectGroupAccess`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct ProjectGroupAccess {
    #[schema(format = Uuid)]
    project_uuid: String,
    #[schema(format = Uuid)]
    group_uuid: String,
    #[schema(value_type = ProjectMemberRole)]
    role: String,
}

fn group_access(g: &pb::ProjectGroupAccess) -> ProjectGroupAccess {
    ProjectGroupAccess {
        project_uuid: g.project_uuid.clone(),
        group_uuid: g.group_uuid.clone(),
        role: g.role.clone(),
    }
}

/// The shared connection a project is to use, checked: the caller's organization's, of the
/// project's warehouse type (which it gives when the body names none).
async fn checked_warehouse(
    caller: &Caller,
    connection_uuid: &str,
    warehouse_type: Option<String>,
) -> ApiResult<Option<String>> {
    let msg = connections_pb::GetConnectionRequest {
        connection_uuid: connection_uuid.to_owned(),
        kind: connections_pb::Kind::Shared as i32,
    };
    let c = match caller.connections().get_connection(msg).await {
        Ok(c) => c.into_inner(),
        Err(s)
            if matches!(
                s.code(),
                tonic::Code::NotFound | tonic::Code::InvalidArgument
            ) =>
        {
            return Err(ApiError::bad_request(
                "warehouseConnectionUuid is not a connection of your organization",
            ));
        }
        Err(s) => return Err(s.into()),
    };
    let Some(t) = warehouse::warehouse_type(&c.provider) else {
        return Err(ApiError::bad_request(format!(
            "connection provider {:?} is not a warehouse",
            c.provider
        )));
    };
    match warehouse_type {
        Some(w) if w != t => Err(ApiError::bad_request(format!(
            "warehouseType {w} does not match the connection's type {t}"
        ))),
        Some(w) => Ok(Some(w)),
        None => Ok(Some(t.to_owned())),
    }
}

const PROJECT: &str = "The project's uuid.";

/// POST /api/v1/org/projects (ours): creates a project; the caller becomes its admin.
#[utoipa::path(
    post,
    path = "/api/v1/org/projects",
    tag = "Lightdash: Projects",
    operation_id = "createOrganizationProject",
    request_body = CreateBody,
    responses(
        (status = 201, description = "The project created.", body = json::Ok<ProjectBody>),
        (status = 403, description = "The caller is not a developer or an admin of an organization.", body = LightdashError),
    ),
)]
async fn create(caller: Caller, Json(body): Json<CreateBody>) -> Reply {
    let mut warehouse_type = body.warehouse_type;
    if let Some(id) = &body.warehouse_connection_uuid {
        warehouse_type = checked_warehouse(&caller, id, warehouse_type).await?;
    }
    let msg = pb::CreateProjectRequest {
        name: body.name,
        warehouse_connection_uuid: body.warehouse_connection_uuid,
        upstream_project_uuid: body.upstream_project_uuid,
        warehouse_type,
        project_type: body.project_type,
    };
    let p = caller.projects().create_project(msg).await?;
    Ok(json::created(project(p.get_ref())))
}

/// GET /api/v1/org/projects: the projects the caller may see.
#[utoipa::path(
    get,
    path = "/api/v1/org/projects",
    tag = "Lightdash: Projects",
    operation_id = "ListOrganizationProjects",
    responses(
        (status = 200, description = "The projects.", body = json::Ok<Vec<OrganizationProject>>),
        (status = 403, description = "The caller belongs to no organization.", body = LightdashError),
    ),
)]
async fn list(caller: Caller) -> Reply {
    let res = caller
        .projects()
        .list_projects(pb::ListProjectsRequest {})
        .await?;
    Ok(json::ok(json::each(
        &res.get_ref().projects,
        organization_project,
    )))
}

/// GET /api/v1/projects/{projectUuid}: a project, with its warehouse connection's
/// non-sensitive fields.
#[utoipa::path(
    get,
    path = "/api/v1/projects/{projectUuid}",
    tag = "Lightdash: Projects",
    operation_id = "GetProject",
    params(("projectUuid" = Uuid, Path, description = PROJECT)),
    responses(
        (status = 200, description = "The project.", body = json::Ok<ProjectBody>),
        (status = 403, description = "The caller belongs to no organization.", body = LightdashError),
        (status = 404, description = "No such project, or one the caller may not see.", body = LightdashError),
    ),
)]
async fn get_project(caller: Caller, Path(project_uuid): Id) -> Reply {
    let msg = pb::GetProjectRequest { project_uuid };
    let p = caller.projects().get_project(msg).await?.into_inner();
    let mut v = project(&p);
    if let Some(connection_uuid) = p.warehouse_connection_uuid {
        // The connection's non-sensitive fields; left out when the caller cannot read it or
        // it was deleted.
        let msg = connections_pb::GetConnectionRequest {
            connection_uuid,
            kind: connections_pb::Kind::Shared as i32,
        };
        match caller.connections().get_connection(msg).await {
            Ok(c) => v.warehouse_connection = warehouse::warehouse_credentials(c.get_ref()),
            Err(s) if s.code() == tonic::Code::NotFound => {}
            Err(s) => return Err(s.into()),
        }
    }
    Ok(json::ok(v))
}

/// DELETE /api/v1/org/projects/{projectUuid}: deletes a project (Lightdash's path; not in the
/// contract subset).
#[utoipa::path(
    delete,
    path = "/api/v1/org/projects/{projectUuid}",
    tag = "Lightdash: Projects",
    operation_id = "deleteOrganizationProject",
    params(("projectUuid" = Uuid, Path, description = PROJECT)),
    responses(
        (status = 200, description = "Deleted.", body = json::OkEmpty),
        (status = 403, description = "The caller is not an admin of the project.", body = LightdashError),
        (status = 404, description = "No such project, or one the caller may not see.", body = LightdashError),
    ),
)]
async fn delete_project(caller: Caller, Path(project_uuid): Id) -> Reply {
    let msg = pb::DeleteProjectRequest { project_uuid };
    caller.projects().delete_project(msg).await?;
    Ok(json::ok_empty())
}

/// PATCH /api/v1/projects/{projectUuid}/metadata: sets or unsets the upstream project.
#[utoipa::path(
    patch,
    path = "/api/v1/projects/{projectUuid}/metadata",
    tag = "Lightdash: Projects",
    operation_id = "updateProjectMetadata",
    params(("projectUuid" = Uuid, Path, description = PROJECT)),
    request_body = MetadataBody,
    responses(
        (status = 200, description = "Changed.", body = json::OkEmpty),
        (status = 403, description = "The caller is not an admin of the project.", body = LightdashError),
        (status = 404, description = "No such project, or one the caller may not see.", body = LightdashError),
    ),
)]
async fn update_metadata(
    caller: Caller,
    Path(project_uuid): Id,
    Json(body): Json<MetadataBody>,
) -> Reply {
    if let Some(Some(upstream)) = &body.upstream_project_uuid
        && uuid::Uuid::parse_str(upstream).is_err()
    {
        return Err(ApiError::bad_request(
            "upstreamProjectUuid must be a UUID, or null to unset it",
        ));
    }
    let msg = pb::UpdateProjectMetadataRequest {
        project_uuid,
        upstream_project_uuid: body.upstream_project_uuid.map(Option::unwrap_or_default),
    };
    caller.projects().update_project_metadata(msg).await?;
    Ok(json::ok_empty())
}

/// PATCH /api/v1/projects/{projectUuid}/schedulerSettings: sets the scheduler's time zone.
#[utoipa::path(
    patch,
    path = "/api/v1/projects/{projectUuid}/schedulerSettings",
    tag = "Lightdash: Projects",
    operation_id = "updateSchedulerSettings",
    params(("projectUuid" = Uuid, Path, description = PROJECT)),
    request_body = SchedulerBody,
    responses(
        (status = 200, description = "Changed.", body = json::OkEmpty),
        (status = 403, description = "The caller is not an admin of the project.", body = LightdashError),
        (status = 404, description = "No such project, or one the caller may not see.", body = LightdashError),
    ),
)]
async fn update_scheduler(
    caller: Caller,
    Path(project_uuid): Id,
    Json(body): Json<SchedulerBody>,
) -> Reply {
    let msg = pb::UpdateSchedulerSettingsRequest {
        project_uuid,
        scheduler_timezone: body.scheduler_timezone,
    };
    caller.projects().update_scheduler_settings(msg).await?;
    Ok(json::ok_empty())
}

/// GET /api/v1/projects/{projectUuid}/access: the project's members and their roles.
#[utoipa::path(
    get,
    path = "/api/v1/projects/{projectUuid}/access",
    tag = "Lightdash: Projects",
    operation_id = "GetProjectAccessList",
    params(("projectUuid" = Uuid, Path, description = PROJECT)),
    responses(
        (status = 200, description = "The members.", body = json::Ok<Vec<ProjectMemberProfile>>),
        (status = 403, description = "The caller may not list the project's members.", body = LightdashError),
        (status = 404, description = "No such project, or one the caller may not see.", body = LightdashError),
    ),
)]
async fn access_list(caller: Caller, Path(project_uuid): Id) -> Reply {
    let msg = pb::ListProjectAccessRequest { project_uuid };
    let res = caller.projects().list_project_access(msg).await?;
    Ok(json::ok(json::each(&res.get_ref().members, member)))
}

/// POST /api/v1/projects/{projectUuid}/access: grants a member, named by email, a role.
#[utoipa::path(
    post,
    path = "/api/v1/projects/{projectUuid}/access",
    tag = "Lightdash: Projects",
    operation_id = "GrantProjectAccessToUser",
    params(("projectUuid" = Uuid, Path, description = PROJECT)),
    request_body = GrantBody,
    responses(
        (status = 200, description = "Granted.", body = json::OkEmpty),
        (status = 403, description = "The caller is not an admin of the project.", body = LightdashError),
        (status = 404, description = "No such project, or no member of the organization has this email.", body = LightdashError),
        (status = 409, description = "The user already has access to the project.", body = LightdashError),
    ),
)]
async fn grant(caller: Caller, Path(project_uuid): Id, Json(body): Json<GrantBody>) -> Reply {
    let msg = pb::GrantProjectAccessRequest {
        project_uuid,
        email: body.email,
        role: body.role,
    };
    caller.projects().grant_project_access(msg).await?;
    Ok(json::ok_empty())
}

/// PATCH /api/v1/projects/{projectUuid}/access/{userUuid}: changes a member's role.
#[utoipa::path(
    patch,
    path = "/api/v1/projects/{projectUuid}/access/{userUuid}",
    tag = "Lightdash: Projects",
    operation_id = "UpdateProjectAccessForUser",
    params(
        ("projectUuid" = Uuid, Path, description = PROJECT),
        ("userUuid" = Uuid, Path, description = "The member's uuid."),
    ),
    request_body = RoleBody,
    responses(
        (status = 200, description = "Changed.", body = json::OkEmpty),
        (status = 403, description = "The caller is not an admin of the project.", body = LightdashError),
        (status = 404, description = "No such project, or the user has no access to it.", body = LightdashError),
    ),
)]
async fn update_access(
    caller: Caller,
    Path((project_uuid, user_uuid)): Ids,
    Json(body): Json<RoleBody>,
) -> Reply {
    let msg = pb::UpdateProjectAccessRequest {
        project_uuid,
        user_uuid,
        role: body.role,
    };
    caller.projects().update_project_access(msg).await?;
    Ok(json::ok_empty())
}

/// DELETE /api/v1/projects/{projectUuid}/access/{userUuid}: takes a member's access away.
#[utoipa::path(
    delete,
    path = "/api/v1/projects/{projectUuid}/access/{userUuid}",
    tag = "Lightdash: Projects",
    operation_id = "RevokeProjectAccessForUser",
    params(
        ("projectUuid" = Uuid, Path, description = PROJECT),
        ("userUuid" = Uuid, Path, description = "The member's uuid."),
    ),
    responses(
        (status = 200, description = "Revoked.", body = json::OkEmpty),
        (status = 403, description = "The caller is not an admin of the project.", body = LightdashError),
        (status = 404, description = "No such project, or the user has no access to it.", body = LightdashError),
    ),
)]
async fn revoke_access(caller: Caller, Path((project_uuid, user_uuid)): Ids) -> Reply {
    let msg = pb::RevokeProjectAccessRequest {
        project_uuid,
        user_uuid,
    };
    caller.projects().revoke_project_access(msg).await?;
    Ok(json::ok_empty())
}

/// GET /api/v1/projects/{projectUuid}/user/{userUuid}: the member's effective role.
#[utoipa::path(
    get,
    path = "/api/v1/projects/{projectUuid}/user/{userUuid}",
    tag = "Lightdash: Projects",
    operation_id = "GetProjectMemberAccess",
    params(
        ("projectUuid" = Uuid, Path, description = PROJECT),
        ("userUuid" = Uuid, Path, description = "The member's uuid."),
    ),
    responses(
        (status = 200, description = "The member with their effective role.", body = json::Ok<ProjectMemberProfile>),
        (status = 403, description = "The caller may not read other members' access.", body = LightdashError),
        (status = 404, description = "No such project, or the user has no access to it.", body = LightdashError),
    ),
)]
async fn member_access(caller: Caller, Path((project_uuid, user_uuid)): Ids) -> Reply {
    let msg = pb::GetProjectMemberAccessRequest {
        project_uuid,
        user_uuid,
    };
    let m = caller.projects().get_project_member_access(msg).await?;
    Ok(json::ok(member(m.get_ref())))
}

/// GET /api/v1/projects/{projectUuid}/groupAccesses: the groups granted a role on the project.
#[utoipa::path(
    get,
    path = "/api/v1/projects/{projectUuid}/groupAccesses",
    tag = "Lightdash: Projects",
    operation_id = "GetProjectGroupAccesses",
    params(("projectUuid" = Uuid, Path, description = PROJECT)),
    responses(
        (status = 200, description = "The groups and their roles.", body = json::Ok<Vec<ProjectGroupAccess>>),
        (status = 403, description = "The caller may not list the project's groups.", body = LightdashError),
        (status = 404, description = "No such project, or one the caller may not see.", body = LightdashError),
    ),
)]
async fn group_accesses(caller: Caller, Path(project_uuid): Id) -> Reply {
    let msg = pb::ListProjectGroupAccessRequest { project_uuid };
    let res = caller.projects().list_project_group_access(msg).await?;
    Ok(json::ok(json::each(&res.get_ref().groups, group_access)))
}

/// Grants a group a role on a project (`create`), or changes the role it has.
async fn set_group(
    caller: Caller,
    (group_uuid, project_uuid): (String, String),
    role: String,
    create: bool,
) -> Reply {
    let msg = pb::SetProjectGroupAccessRequest {
        project_uuid,
        group_uuid,
        role,
        create,
    };
    let g = caller.projects().set_project_group_access(msg).await?;
    Ok(json::ok(group_access(g.get_ref())))
}

/// POST /api/v1/groups/{groupUuid}/projects/{projectUuid}: grants a group a role on a project.
#[utoipa::path(
    post,
    path = "/api/v1/groups/{groupUuid}/projects/{projectUuid}",
    tag = "Lightdash: Projects",
    operation_id = "addProjectAccessToGroup",
    params(
        ("groupUuid" = Uuid, Path, description = "The group's uuid."),
        ("projectUuid" = Uuid, Path, description = PROJECT),
    ),
    request_body = GroupRoleBody,
    responses(
        (status = 200, description = "The grant.", body = json::Ok<ProjectGroupAccess>),
        (status = 403, description = "The caller is not an admin of the project.", body = LightdashError),
        (status = 404, description = "No such project or group, or one the caller may not see.", body = LightdashError),
        (status = 409, description = "The group already has access to the project.", body = LightdashError),
    ),
)]
async fn add_group(caller: Caller, Path(ids): Ids, Json(body): Json<GroupRoleBody>) -> Reply {
    set_group(caller, ids, body.role, true).await
}

/// PATCH /api/v1/groups/{groupUuid}/projects/{projectUuid}: changes a group's role.
#[utoipa::path(
    patch,
    path = "/api/v1/groups/{groupUuid}/projects/{projectUuid}",
    tag = "Lightdash: Projects",
    operation_id = "updateProjectAccessForGroup",
    params(
        ("groupUuid" = Uuid, Path, description = "The group's uuid."),
        ("projectUuid" = Uuid, Path, description = PROJECT),
    ),
    request_body = GroupRoleBody,
    responses(
        (status = 200, description = "The grant.", body = json::Ok<ProjectGroupAccess>),
        (status = 403, description = "The caller is not an admin of the project.", body = LightdashError),
        (status = 404, description = "No such project or group, or the group has no access to it.", body = LightdashError),
    ),
)]
async fn update_group(caller: Caller, Path(ids): Ids, Json(body): Json<GroupRoleBody>) -> Reply {
    set_group(caller, ids, body.role, false).await
}

/// DELETE /api/v1/groups/{groupUuid}/projects/{projectUuid}: takes a group's access away.
#[utoipa::path(
    delete,
    path = "/api/v1/groups/{groupUuid}/projects/{projectUuid}",
    tag = "Lightdash: Projects",
    operation_id = "removeProjectAccessFromGroup",
    params(
        ("groupUuid" = Uuid, Path, description = "The group's uuid."),
        ("projectUuid" = Uuid, Path, description = PROJECT),
    ),
    responses(
        (status = 200, description = "Revoked.", body = json::OkEmpty),
        (status = 403, description = "The caller is not an admin of the project.", body = LightdashError),
        (status = 404, description = "No such project or group, or the group has no access to it.", body = LightdashError),
    ),
)]
async fn remove_group(caller: Caller, Path((group_uuid, project_uuid)): Ids) -> Reply {
    let msg = pb::RevokeProjectGroupAccessRequest {
        project_uuid,
        group_uuid,
    };
    caller.projects().revoke_project_group_access(msg).await?;
    Ok(json::ok_empty())
}
