//! Projects and their access lists (Lightdash's Projects and Roles & Permissions tags), and our
//! `POST /api/v1/org/projects` and `DELETE /api/v1/org/projects/{projectUuid}`.

use proto::{connections::v1 as connections_pb, projects::v1 as pb};
use serde::Deserializer;

use super::{prelude::*, warehouse};

/// Projects and their access lists: `/api/v1/org/projects…`, `/api/v1/projects/{projectUuid}…`
/// and `/api/v1/groups/{groupUuid}/projects/{projectUuid}`.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/org/projects", get(list).post(create))
        .route("/api/v1/org/projects/{projectUuid}", delete(delete_project))
        .route("/api/v1/projects/{projectUuid}", get(get_project))
        .route(
            "/api/v1/projects/{projectUuid}/metadata",
            patch(update_metadata),
        )
        .route(
            "/api/v1/projects/{projectUuid}/schedulerSettings",
            patch(update_scheduler),
        )
        .route(
            "/api/v1/projects/{projectUuid}/access",
            get(access_list).post(grant),
        )
        .route(
            "/api/v1/projects/{projectUuid}/access/{userUuid}",
            patch(update_access).delete(revoke_access),
        )
        .route(
            "/api/v1/projects/{projectUuid}/user/{userUuid}",
            get(member_access),
        )
        .route(
            "/api/v1/projects/{projectUuid}/groupAccesses",
            get(group_accesses),
        )
        .route(
            "/api/v1/groups/{groupUuid}/projects/{projectUuid}",
            post(add_group).patch(update_group).delete(remove_group),
        )
}

/// Body of `POST /api/v1/org/projects` (ours).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateBody {
    name: String,
    warehouse_connection_uuid: Option<String>,
    upstream_project_uuid: Option<String>,
    warehouse_type: Option<String>,
    #[serde(rename = "type")]
    project_type: Option<String>,
}

/// Present-and-null and absent told apart: `Some(None)` is an explicit null.
fn explicit_null<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// `UpdateMetadata`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct MetadataBody {
    #[serde(default, deserialize_with = "explicit_null")]
    upstream_project_uuid: Option<Option<String>>,
}

/// `UpdateSchedulerSettings`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SchedulerBody {
    scheduler_timezone: String,
}

/// `CreateProjectMember`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct GrantBody {
    email: String,
    role: String,
    /// Accepted for compatibility; no email is sent for a project grant.
    #[allow(dead_code)]
    send_email: bool,
}

/// `UpdateProjectMember`, and the body of group grants.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleBody {
    role: String,
}

/// Lightdash's `Project`. No dbt connection is managed here: `dbtConnection` is `none`.
fn project(p: &pb::Project) -> Value {
    let mut v = json!({
        "projectUuid": p.project_uuid,
        "organizationUuid": p.organization_uuid,
        "name": p.name,
        "type": p.project_type,
        "createdByUserUuid": p.created_by_user_uuid,
        "schedulerTimezone": p.scheduler_timezone,
        "dbtVersion": "latest",
        "dbtConnection": { "type": "none" },
        "warehouseType": p.warehouse_type,
    });
    json::set_some(
        &mut v,
        "upstreamProjectUuid",
        p.upstream_project_uuid.as_ref(),
    );
    let connection = p.warehouse_connection_uuid.as_ref();
    json::set_some(&mut v, "warehouseConnectionUuid", connection);
    v
}

/// Lightdash's `OrganizationProject`.
fn organization_project(p: &pb::Project) -> Value {
    json!({
        "projectUuid": p.project_uuid,
        "name": p.name,
        "type": p.project_type,
        "createdByUserUuid": p.created_by_user_uuid,
        "upstreamProjectUuid": p.upstream_project_uuid,
        "warehouseType": p.warehouse_type,
        "requireUserCredentials": false,
    })
}

/// Lightdash's `ProjectMemberProfile`.
fn member(m: &pb::ProjectMember) -> Value {
    json!({
        "userUuid": m.user_uuid,
        "projectUuid": m.project_uuid,
        "role": m.role,
        "email": m.email,
        "firstName": m.first_name,
        "lastName": m.last_name,
    })
}

/// Lightdash's `ProjectGroupAccess`.
fn group_access(g: &pb::ProjectGroupAccess) -> Value {
    json!({ "projectUuid": g.project_uuid, "groupUuid": g.group_uuid, "role": g.role })
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

/// POST /api/v1/org/projects (ours): creates a project; the caller becomes its admin.
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

/// GET /api/v1/projects/{projectUuid}
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
            Ok(c) => {
                if let Some(w) = warehouse::warehouse_credentials(c.get_ref()) {
                    v["warehouseConnection"] = w;
                }
            }
            Err(s) if s.code() == tonic::Code::NotFound => {}
            Err(s) => return Err(s.into()),
        }
    }
    Ok(json::ok(v))
}

/// DELETE /api/v1/org/projects/{projectUuid} (Lightdash's path; not in the contract subset)
async fn delete_project(caller: Caller, Path(project_uuid): Id) -> Reply {
    let msg = pb::DeleteProjectRequest { project_uuid };
    caller.projects().delete_project(msg).await?;
    Ok(json::ok_empty())
}

/// PATCH /api/v1/projects/{projectUuid}/metadata
async fn update_metadata(
    caller: Caller,
    Path(project_uuid): Id,
    Json(body): Json<MetadataBody>,
) -> Reply {
    let msg = pb::UpdateProjectMetadataRequest {
        project_uuid,
        upstream_project_uuid: body.upstream_project_uuid.map(Option::unwrap_or_default),
    };
    caller.projects().update_project_metadata(msg).await?;
    Ok(json::ok_empty())
}

/// PATCH /api/v1/projects/{projectUuid}/schedulerSettings
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

/// GET /api/v1/projects/{projectUuid}/access
async fn access_list(caller: Caller, Path(project_uuid): Id) -> Reply {
    let msg = pb::ListProjectAccessRequest { project_uuid };
    let res = caller.projects().list_project_access(msg).await?;
    Ok(json::ok(json::each(&res.get_ref().members, member)))
}

/// POST /api/v1/projects/{projectUuid}/access: grants a member, named by email, a role.
async fn grant(caller: Caller, Path(project_uuid): Id, Json(body): Json<GrantBody>) -> Reply {
    let msg = pb::GrantProjectAccessRequest {
        project_uuid,
        email: body.email,
        role: body.role,
    };
    caller.projects().grant_project_access(msg).await?;
    Ok(json::ok_empty())
}

/// PATCH /api/v1/projects/{projectUuid}/access/{userUuid}
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

/// DELETE /api/v1/projects/{projectUuid}/access/{userUuid}
async fn revoke_access(caller: Caller, Path((project_uuid, user_uuid)): Ids) -> Reply {
    let msg = pb::RevokeProjectAccessRequest {
        project_uuid,
        user_uuid,
    };
    caller.projects().revoke_project_access(msg).await?;
    Ok(json::ok_empty())
}

/// GET /api/v1/projects/{projectUuid}/user/{userUuid}: the member's effective role.
async fn member_access(caller: Caller, Path((project_uuid, user_uuid)): Ids) -> Reply {
    let msg = pb::GetProjectMemberAccessRequest {
        project_uuid,
        user_uuid,
    };
    let m = caller.projects().get_project_member_access(msg).await?;
    Ok(json::ok(member(m.get_ref())))
}

/// GET /api/v1/projects/{projectUuid}/groupAccesses
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

/// POST /api/v1/groups/{groupUuid}/projects/{projectUuid}
async fn add_group(caller: Caller, Path(ids): Ids, Json(body): Json<RoleBody>) -> Reply {
    set_group(caller, ids, body.role, true).await
}

/// PATCH /api/v1/groups/{groupUuid}/projects/{projectUuid}
async fn update_group(caller: Caller, Path(ids): Ids, Json(body): Json<RoleBody>) -> Reply {
    set_group(caller, ids, body.role, false).await
}

/// DELETE /api/v1/groups/{groupUuid}/projects/{projectUuid}
async fn remove_group(caller: Caller, Path((group_uuid, project_uuid)): Ids) -> Reply {
    let msg = pb::RevokeProjectGroupAccessRequest {
        project_uuid,
        group_uuid,
    };
    caller.projects().revoke_project_group_access(msg).await?;
    Ok(json::ok_empty())
}
