//! Spaces of a project (Lightdash's Spaces tag), with `parentSpaceUuid` and
//! `inheritParentPermissions` added as optional fields (Lightdash's newest nested spaces), and
//! our `GET …/spaces/{spaceUuid}/access/explain`.

use axum::{
    extract::State,
    response::{IntoResponse, Response},
};
use proto::projects::v1 as pb;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{
    ApiResult, AppState,
    extract::{AppJson, AppPath, AppQuery, Caller},
    json,
};

/// `Pick_SpaceShare.userUuid-or-role_`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct InitialAccess {
    user_uuid: String,
    role: String,
}

/// `CreateSpace`, plus the nesting fields.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct CreateBody {
    name: String,
    is_private: Option<bool>,
    #[serde(default)]
    access: Vec<InitialAccess>,
    parent_space_uuid: Option<String>,
    inherit_parent_permissions: Option<bool>,
}

/// `UpdateSpace`, plus `inheritParentPermissions`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct UpdateBody {
    name: String,
    is_private: bool,
    inherit_parent_permissions: Option<bool>,
}

/// `AddSpaceUserAccess`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct UserShareBody {
    user_uuid: String,
    space_role: String,
}

/// `AddSpaceGroupAccess`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct GroupShareBody {
    group_uuid: String,
    space_role: String,
}

/// Query of the explain endpoint.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct ExplainQuery {
    user_uuid: String,
}

/// Lightdash's `SpaceShare`.
fn share(a: &pb::SpaceShare) -> Value {
    let mut v = json!({
        "userUuid": a.user_uuid,
        "firstName": a.first_name,
        "lastName": a.last_name,
        "email": a.email,
        "role": a.role,
        "hasDirectAccess": a.has_direct_access,
    });
    if let Some(r) = &a.project_role {
        v["projectRole"] = json!(r);
    }
    if let Some(f) = &a.inherited_from {
        v["inheritedFrom"] = json!(f);
        if let Some(r) = &a.project_role {
            v["inheritedRole"] = json!(r);
        }
    }
    v
}

/// Lightdash's `Space` (no charts or dashboards live here yet: `queries` and `dashboards` are
/// empty).
fn space(s: &pb::Space) -> Value {
    json!({
        "organizationUuid": s.organization_uuid,
        "projectUuid": s.project_uuid,
        "uuid": s.space_uuid,
        "name": s.name,
        "slug": s.slug,
        "isPrivate": s.is_private,
        "queries": [],
        "dashboards": [],
        "access": s.access.iter().map(share).collect::<Vec<_>>(),
        "groupsAccess": s.groups_access.iter().map(|g| json!({
            "groupUuid": g.group_uuid, "groupName": g.group_name, "spaceRole": g.role,
        })).collect::<Vec<_>>(),
        "pinnedListUuid": null,
        "pinnedListOrder": null,
        "parentSpaceUuid": s.parent_space_uuid,
        "inheritParentPermissions": s.inherit_parent_permissions,
    })
}

/// Lightdash's `SpaceSummary`.
/// Lightdash's `SpaceSummary`, fields in alphabetical order (the order of a `Value` map), written
/// without a `Value` tree in between: a listing can hold thousands.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Summary<'a> {
    access: &'a [String],
    chart_count: u32,
    dashboard_count: u32,
    inherit_parent_permissions: bool,
    is_private: bool,
    name: &'a str,
    organization_uuid: &'a str,
    parent_space_uuid: Option<&'a str>,
    pinned_list_order: Option<()>,
    pinned_list_uuid: Option<()>,
    project_uuid: &'a str,
    slug: &'a str,
    uuid: &'a str,
}

fn summary<'a>(list: &'a pb::ListSpaceSummariesResponse, s: &'a pb::SpaceSummary) -> Summary<'a> {
    Summary {
        access: &s.direct_user_uuids,
        chart_count: 0,
        dashboard_count: 0,
        inherit_parent_permissions: s.inherit_parent_permissions,
        is_private: s.is_private,
        name: &s.name,
        organization_uuid: &list.organization_uuid,
        parent_space_uuid: s.parent_space_uuid.as_deref(),
        pinned_list_order: None,
        pinned_list_uuid: None,
        project_uuid: &list.project_uuid,
        slug: &s.slug,
        uuid: &s.space_uuid,
    }
}

/// POST /api/v1/projects/{projectUuid}/spaces
pub(super) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(project_uuid): AppPath<String>,
    AppJson(body): AppJson<CreateBody>,
) -> ApiResult<Response> {
    let msg = pb::CreateSpaceRequest {
        project_uuid,
        name: body.name,
        is_private: body.is_private,
        access: body
            .access
            .into_iter()
            .map(|a| pb::SpaceGrant {
                user_uuid: a.user_uuid,
                role: a.role,
            })
            .collect(),
        parent_space_uuid: body.parent_space_uuid,
        inherit_parent_permissions: body.inherit_parent_permissions,
    };
    let s = state
        .projects
        .rpc()
        .create_space(state.projects.as_user(msg, &caller))
        .await?;
    Ok(json::ok(space(s.get_ref())).into_response())
}

/// GET /api/v1/projects/{projectUuid}/spaces: the spaces the caller may see.
pub(super) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(project_uuid): AppPath<String>,
) -> ApiResult<Response> {
    let res = state
        .projects
        .rpc()
        .list_space_summaries(
            state
                .projects
                .as_user(pb::ListSpaceSummariesRequest { project_uuid }, &caller),
        )
        .await?;
    let res = res.get_ref();
    let list: Vec<Summary<'_>> = res.spaces.iter().map(|s| summary(res, s)).collect();
    Ok(json::ok_direct(list).into_response())
}

/// GET /api/v1/projects/{projectUuid}/spaces/{spaceUuid}
pub(super) async fn get(
    State(state): State<AppState>,
    caller: Caller,
    AppPath((project_uuid, space_uuid)): AppPath<(String, String)>,
) -> ApiResult<Response> {
    let msg = pb::GetSpaceRequest {
        project_uuid,
        space_uuid,
    };
    let s = state
        .projects
        .rpc()
        .get_space(state.projects.as_user(msg, &caller))
        .await?;
    Ok(json::ok(space(s.get_ref())).into_response())
}

/// PATCH /api/v1/projects/{projectUuid}/spaces/{spaceUuid}
pub(super) async fn update(
    State(state): State<AppState>,
    caller: Caller,
    AppPath((project_uuid, space_uuid)): AppPath<(String, String)>,
    AppJson(body): AppJson<UpdateBody>,
) -> ApiResult<Response> {
    let msg = pb::UpdateSpaceRequest {
        project_uuid,
        space_uuid,
        name: Some(body.name),
        is_private: Some(body.is_private),
        inherit_parent_permissions: body.inherit_parent_permissions,
    };
    let s = state
        .projects
        .rpc()
        .update_space(state.projects.as_user(msg, &caller))
        .await?;
    Ok(json::ok(space(s.get_ref())).into_response())
}

/// DELETE /api/v1/projects/{projectUuid}/spaces/{spaceUuid}: with the spaces nested in it;
/// 204 as Lightdash answers.
pub(super) async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    AppPath((project_uuid, space_uuid)): AppPath<(String, String)>,
) -> ApiResult<Response> {
    let msg = pb::DeleteSpaceRequest {
        project_uuid,
        space_uuid,
    };
    state
        .projects
        .rpc()
        .delete_space(state.projects.as_user(msg, &caller))
        .await?;
    Ok(axum::http::StatusCode::NO_CONTENT.into_response())
}

async fn share_space(
    state: AppState,
    caller: Caller,
    (project_uuid, space_uuid): (String, String),
    grantee: pb::share_space_request::Grantee,
    role: String,
) -> ApiResult<Response> {
    let msg = pb::ShareSpaceRequest {
        project_uuid,
        space_uuid,
        grantee: Some(grantee),
        role,
    };
    state
        .projects
        .rpc()
        .share_space(state.projects.as_user(msg, &caller))
        .await?;
    Ok(json::ok_empty().into_response())
}

async fn revoke_share(
    state: AppState,
    caller: Caller,
    (project_uuid, space_uuid): (String, String),
    grantee: pb::revoke_space_share_request::Grantee,
) -> ApiResult<Response> {
    let msg = pb::RevokeSpaceShareRequest {
        project_uuid,
        space_uuid,
        grantee: Some(grantee),
    };
    state
        .projects
        .rpc()
        .revoke_space_share(state.projects.as_user(msg, &caller))
        .await?;
    Ok(json::ok_empty().into_response())
}

/// POST /api/v1/projects/{projectUuid}/spaces/{spaceUuid}/share
pub(super) async fn share_user(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(ids): AppPath<(String, String)>,
    AppJson(body): AppJson<UserShareBody>,
) -> ApiResult<Response> {
    let grantee = pb::share_space_request::Grantee::UserUuid(body.user_uuid);
    share_space(state, caller, ids, grantee, body.space_role).await
}

/// DELETE /api/v1/projects/{projectUuid}/spaces/{spaceUuid}/share/{userUuid}
pub(super) async fn revoke_user(
    State(state): State<AppState>,
    caller: Caller,
    AppPath((project_uuid, space_uuid, user_uuid)): AppPath<(String, String, String)>,
) -> ApiResult<Response> {
    let grantee = pb::revoke_space_share_request::Grantee::UserUuid(user_uuid);
    revoke_share(state, caller, (project_uuid, space_uuid), grantee).await
}

/// POST /api/v1/projects/{projectUuid}/spaces/{spaceUuid}/group/share
pub(super) async fn share_group(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(ids): AppPath<(String, String)>,
    AppJson(body): AppJson<GroupShareBody>,
) -> ApiResult<Response> {
    let grantee = pb::share_space_request::Grantee::GroupUuid(body.group_uuid);
    share_space(state, caller, ids, grantee, body.space_role).await
}

/// DELETE /api/v1/projects/{projectUuid}/spaces/{spaceUuid}/group/share/{groupUuid}
pub(super) async fn revoke_group(
    State(state): State<AppState>,
    caller: Caller,
    AppPath((project_uuid, space_uuid, group_uuid)): AppPath<(String, String, String)>,
) -> ApiResult<Response> {
    let grantee = pb::revoke_space_share_request::Grantee::GroupUuid(group_uuid);
    revoke_share(state, caller, (project_uuid, space_uuid), grantee).await
}

/// GET /api/v1/projects/{projectUuid}/spaces/{spaceUuid}/access/explain?userUuid= (ours):
/// the decision and the facts that produced it (project admins).
pub(super) async fn explain(
    State(state): State<AppState>,
    caller: Caller,
    AppPath((project_uuid, space_uuid)): AppPath<(String, String)>,
    AppQuery(q): AppQuery<ExplainQuery>,
) -> ApiResult<Response> {
    let msg = pb::ExplainSpaceAccessRequest {
        project_uuid,
        space_uuid,
        user_uuid: q.user_uuid,
    };
    let e = state
        .projects
        .rpc()
        .explain_space_access(state.projects.as_user(msg, &caller))
        .await?
        .into_inner();
    Ok(json::ok(json!({
        "userUuid": e.user_uuid,
        "spaceUuid": e.space_uuid,
        "role": e.role,
        "steps": e.steps.iter().map(|s| json!({
            "rule": s.rule, "spaceUuid": s.space_uuid, "role": s.role, "detail": s.detail,
        })).collect::<Vec<_>>(),
    }))
    .into_response())
}
