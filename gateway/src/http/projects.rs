//! Projects and their access lists (Lightdash's Projects and Roles & Permissions tags), and our
//! `POST /api/v1/org/projects` and `DELETE /api/v1/org/projects/{projectUuid}`.

use axum::{
    extract::State,
    response::{IntoResponse, Response},
};
use proto::{connections::v1 as connections_pb, projects::v1 as pb};
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};

use super::{
    ApiError, ApiResult, AppState, connections,
    extract::{AppJson, AppPath, Caller},
    json,
};

/// Body of `POST /api/v1/org/projects` (ours).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct CreateBody {
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
pub(super) struct MetadataBody {
    #[serde(default, deserialize_with = "explicit_null")]
    upstream_project_uuid: Option<Option<String>>,
}

/// `UpdateSchedulerSettings`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct SchedulerBody {
    scheduler_timezone: String,
}

/// `CreateProjectMember`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct GrantBody {
    email: String,
    role: String,
    /// Accepted for compatibility; no email is sent for a project grant.
    #[allow(dead_code)]
    send_email: bool,
}

/// `UpdateProjectMember`, and the body of group grants.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RoleBody {
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
    if let Some(u) = &p.upstream_project_uuid {
        v["upstreamProjectUuid"] = json!(u);
    }
    if let Some(c) = &p.warehouse_connection_uuid {
        v["warehouseConnectionUuid"] = json!(c);
    }
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

/// POST /api/v1/org/projects (ours): creates a project; the caller becomes its admin.
pub(super) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    AppJson(body): AppJson<CreateBody>,
) -> ApiResult<Response> {
    let mut warehouse_type = body.warehouse_type;
    if let Some(id) = &body.warehouse_connection_uuid {
        // The connection must be a shared connection of the caller's organization, of the
        // project's warehouse type (which it gives when the body names none).
        let msg = connections_pb::GetConnectionRequest {
            connection_uuid: id.clone(),
            kind: connections_pb::Kind::Shared as i32,
        };
        let c = match state
            .connections
            .rpc()
            .get_connection(state.connections.as_user(msg, &caller))
            .await
        {
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
        let Some(t) = connections::warehouse_type(&c.provider) else {
            return Err(ApiError::bad_request(format!(
                "connection provider {:?} is not a warehouse",
                c.provider
            )));
        };
        match &warehouse_type {
            Some(w) if w != t => {
                return Err(ApiError::bad_request(format!(
                    "warehouseType {w} does not match the connection's type {t}"
                )));
            }
            Some(_) => {}
            None => warehouse_type = Some(t.to_owned()),
        }
    }
    let msg = pb::CreateProjectRequest {
        name: body.name,
        warehouse_connection_uuid: body.warehouse_connection_uuid,
        upstream_project_uuid: body.upstream_project_uuid,
        warehouse_type,
        project_type: body.project_type,
    };
    let p = state
        .projects
        .rpc()
        .create_project(state.projects.as_user(msg, &caller))
        .await?;
    Ok((
        axum::http::StatusCode::CREATED,
        json::ok(project(p.get_ref())),
    )
        .into_response())
}

/// GET /api/v1/org/projects: the projects the caller may see.
pub(super) async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    let res = state
        .projects
        .rpc()
        .list_projects(state.projects.as_user(pb::ListProjectsRequest {}, &caller))
        .await?;
    let list: Vec<Value> = res
        .get_ref()
        .projects
        .iter()
        .map(organization_project)
        .collect();
    Ok(json::ok(list).into_response())
}

/// GET /api/v1/projects/{projectUuid}
pub(super) async fn get(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(project_uuid): AppPath<String>,
) -> ApiResult<Response> {
    let p = state
        .projects
        .rpc()
        .get_project(
            state
                .projects
                .as_user(pb::GetProjectRequest { project_uuid }, &caller),
        )
        .await?;
    let mut v = project(p.get_ref());
    if let Some(id) = &p.get_ref().warehouse_connection_uuid {
        // The connection's non-sensitive fields; left out when the caller cannot read it or
        // it was deleted.
        let msg = connections_pb::GetConnectionRequest {
            connection_uuid: id.clone(),
            kind: connections_pb::Kind::Shared as i32,
        };
        match state
            .connections
            .rpc()
            .get_connection(state.connections.as_user(msg, &caller))
            .await
        {
            Ok(c) => {
                if let Some(w) = connections::warehouse_credentials(c.get_ref()) {
                    v["warehouseConnection"] = w;
                }
            }
            Err(s) if s.code() == tonic::Code::NotFound => {}
            Err(s) => return Err(s.into()),
        }
    }
    Ok(json::ok(v).into_response())
}

/// DELETE /api/v1/org/projects/{projectUuid} (Lightdash's path; not in the contract subset)
pub(super) async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(project_uuid): AppPath<String>,
) -> ApiResult<Response> {
    state
        .projects
        .rpc()
        .delete_project(
            state
                .projects
                .as_user(pb::DeleteProjectRequest { project_uuid }, &caller),
        )
        .await?;
    Ok(json::ok_empty().into_response())
}

/// PATCH /api/v1/projects/{projectUuid}/metadata
pub(super) async fn update_metadata(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(project_uuid): AppPath<String>,
    AppJson(body): AppJson<MetadataBody>,
) -> ApiResult<Response> {
    let msg = pb::UpdateProjectMetadataRequest {
        project_uuid,
        upstream_project_uuid: body.upstream_project_uuid.map(Option::unwrap_or_default),
    };
    state
        .projects
        .rpc()
        .update_project_metadata(state.projects.as_user(msg, &caller))
        .await?;
    Ok(json::ok_empty().into_response())
}

/// PATCH /api/v1/projects/{projectUuid}/schedulerSettings
pub(super) async fn update_scheduler(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(project_uuid): AppPath<String>,
    AppJson(body): AppJson<SchedulerBody>,
) -> ApiResult<Response> {
    let msg = pb::UpdateSchedulerSettingsRequest {
        project_uuid,
        scheduler_timezone: body.scheduler_timezone,
    };
    state
        .projects
        .rpc()
        .update_scheduler_settings(state.projects.as_user(msg, &caller))
        .await?;
    Ok(json::ok_empty().into_response())
}

/// GET /api/v1/projects/{projectUuid}/access
pub(super) async fn access_list(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(project_uuid): AppPath<String>,
) -> ApiResult<Response> {
    let res = state
        .projects
        .rpc()
        .list_project_access(
            state
                .projects
                .as_user(pb::ListProjectAccessRequest { project_uuid }, &caller),
        )
        .await?;
    let list: Vec<Value> = res.get_ref().members.iter().map(member).collect();
    Ok(json::ok(list).into_response())
}

/// POST /api/v1/projects/{projectUuid}/access: grants a member, named by email, a role.
pub(super) async fn grant(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(project_uuid): AppPath<String>,
    AppJson(body): AppJson<GrantBody>,
) -> ApiResult<Response> {
    let msg = pb::GrantProjectAccessRequest {
        project_uuid,
        email: body.email,
        role: body.role,
    };
    state
        .projects
        .rpc()
        .grant_project_access(state.projects.as_user(msg, &caller))
        .await?;
    Ok(json::ok_empty().into_response())
}

/// PATCH /api/v1/projects/{projectUuid}/access/{userUuid}
pub(super) async fn update_access(
    State(state): State<AppState>,
    caller: Caller,
    AppPath((project_uuid, user_uuid)): AppPath<(String, String)>,
    AppJson(body): AppJson<RoleBody>,
) -> ApiResult<Response> {
    let msg = pb::UpdateProjectAccessRequest {
        project_uuid,
        user_uuid,
        role: body.role,
    };
    state
        .projects
        .rpc()
        .update_project_access(state.projects.as_user(msg, &caller))
        .await?;
    Ok(json::ok_empty().into_response())
}

/// DELETE /api/v1/projects/{projectUuid}/access/{userUuid}
pub(super) async fn revoke_access(
    State(state): State<AppState>,
    caller: Caller,
    AppPath((project_uuid, user_uuid)): AppPath<(String, String)>,
) -> ApiResult<Response> {
    let msg = pb::RevokeProjectAccessRequest {
        project_uuid,
        user_uuid,
    };
    state
        .projects
        .rpc()
        .revoke_project_access(state.projects.as_user(msg, &caller))
        .await?;
    Ok(json::ok_empty().into_response())
}

/// GET /api/v1/projects/{projectUuid}/user/{userUuid}: the member's effective role.
pub(super) async fn member_access(
    State(state): State<AppState>,
    caller: Caller,
    AppPath((project_uuid, user_uuid)): AppPath<(String, String)>,
) -> ApiResult<Response> {
    let msg = pb::GetProjectMemberAccessRequest {
        project_uuid,
        user_uuid,
    };
    let m = state
        .projects
        .rpc()
        .get_project_member_access(state.projects.as_user(msg, &caller))
        .await?;
    Ok(json::ok(member(m.get_ref())).into_response())
}

/// GET /api/v1/projects/{projectUuid}/groupAccesses
pub(super) async fn group_accesses(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(project_uuid): AppPath<String>,
) -> ApiResult<Response> {
    let res = state
        .projects
        .rpc()
        .list_project_group_access(
            state
                .projects
                .as_user(pb::ListProjectGroupAccessRequest { project_uuid }, &caller),
        )
        .await?;
    let list: Vec<Value> = res.get_ref().groups.iter().map(group_access).collect();
    Ok(json::ok(list).into_response())
}

async fn set_group(
    state: AppState,
    caller: Caller,
    (group_uuid, project_uuid): (String, String),
    role: String,
    create: bool,
) -> ApiResult<Response> {
    let msg = pb::SetProjectGroupAccessRequest {
        project_uuid,
        group_uuid,
        role,
        create,
    };
    let g = state
        .projects
        .rpc()
        .set_project_group_access(state.projects.as_user(msg, &caller))
        .await?;
    Ok(json::ok(group_access(g.get_ref())).into_response())
}

/// POST /api/v1/groups/{groupUuid}/projects/{projectUuid}
pub(super) async fn add_group(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(ids): AppPath<(String, String)>,
    AppJson(body): AppJson<RoleBody>,
) -> ApiResult<Response> {
    set_group(state, caller, ids, body.role, true).await
}

/// PATCH /api/v1/groups/{groupUuid}/projects/{projectUuid}
pub(super) async fn update_group(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(ids): AppPath<(String, String)>,
    AppJson(body): AppJson<RoleBody>,
) -> ApiResult<Response> {
    set_group(state, caller, ids, body.role, false).await
}

/// DELETE /api/v1/groups/{groupUuid}/projects/{projectUuid}
pub(super) async fn remove_group(
    State(state): State<AppState>,
    caller: Caller,
    AppPath((group_uuid, project_uuid)): AppPath<(String, String)>,
) -> ApiResult<Response> {
    let msg = pb::RevokeProjectGroupAccessRequest {
        project_uuid,
        group_uuid,
    };
    state
        .projects
        .rpc()
        .revoke_project_group_access(state.projects.as_user(msg, &caller))
        .await?;
    Ok(json::ok_empty().into_response())
}
