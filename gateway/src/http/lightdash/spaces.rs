//! Spaces of a project (Lightdash's Spaces tag), with `parentSpaceUuid` and
//! `inheritParentPermissions` added as optional fields (Lightdash's newest nested spaces), and
//! our `GET …/spaces/{spaceUuid}/access/explain`.

use proto::projects::v1 as pb;
use serde::Serialize;

use super::prelude::*;

/// `/api/v1/projects/{projectUuid}/spaces…`.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/projects/{projectUuid}/spaces",
            get(list).post(create),
        )
        .route(
            "/api/v1/projects/{projectUuid}/spaces/{spaceUuid}",
            get(get_space).patch(update).delete(delete_space),
        )
        .route(
            "/api/v1/projects/{projectUuid}/spaces/{spaceUuid}/share",
            post(share_user),
        )
        .route(
            "/api/v1/projects/{projectUuid}/spaces/{spaceUuid}/share/{userUuid}",
            delete(revoke_user),
        )
        .route(
            "/api/v1/projects/{projectUuid}/spaces/{spaceUuid}/group/share",
            post(share_group),
        )
        .route(
            "/api/v1/projects/{projectUuid}/spaces/{spaceUuid}/group/share/{groupUuid}",
            delete(revoke_group),
        )
        .route(
            "/api/v1/projects/{projectUuid}/spaces/{spaceUuid}/access/explain",
            get(explain),
        )
}

/// `Pick_SpaceShare.userUuid-or-role_`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct InitialAccess {
    user_uuid: String,
    role: String,
}

/// `CreateSpace`, plus the nesting fields.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateBody {
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
struct UpdateBody {
    name: String,
    is_private: bool,
    inherit_parent_permissions: Option<bool>,
}

/// `AddSpaceUserAccess`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UserShareBody {
    user_uuid: String,
    space_role: String,
}

/// `AddSpaceGroupAccess`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct GroupShareBody {
    group_uuid: String,
    space_role: String,
}

/// Query of the explain endpoint.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ExplainQuery {
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
    json::set_some(&mut v, "projectRole", a.project_role.as_ref());
    if a.inherited_from.is_some() {
        json::set_some(&mut v, "inheritedFrom", a.inherited_from.as_ref());
        json::set_some(&mut v, "inheritedRole", a.project_role.as_ref());
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
async fn create(caller: Caller, Path(project_uuid): Id, Json(body): Json<CreateBody>) -> Reply {
    let access = body.access.into_iter().map(|a| pb::SpaceGrant {
        user_uuid: a.user_uuid,
        role: a.role,
    });
    let msg = pb::CreateSpaceRequest {
        project_uuid,
        name: body.name,
        is_private: body.is_private,
        access: access.collect(),
        parent_space_uuid: body.parent_space_uuid,
        inherit_parent_permissions: body.inherit_parent_permissions,
    };
    let s = caller.projects().create_space(msg).await?;
    Ok(json::ok(space(s.get_ref())))
}

/// GET /api/v1/projects/{projectUuid}/spaces: the spaces the caller may see.
async fn list(caller: Caller, Path(project_uuid): Id) -> Reply {
    let msg = pb::ListSpaceSummariesRequest { project_uuid };
    let res = caller.projects().list_space_summaries(msg).await?;
    let res = res.get_ref();
    let list: Vec<Summary<'_>> = res.spaces.iter().map(|s| summary(res, s)).collect();
    Ok(json::ok_direct(list))
}

/// GET /api/v1/projects/{projectUuid}/spaces/{spaceUuid}
async fn get_space(caller: Caller, Path((project_uuid, space_uuid)): Ids) -> Reply {
    let msg = pb::GetSpaceRequest {
        project_uuid,
        space_uuid,
    };
    let s = caller.projects().get_space(msg).await?;
    Ok(json::ok(space(s.get_ref())))
}

/// PATCH /api/v1/projects/{projectUuid}/spaces/{spaceUuid}
async fn update(
    caller: Caller,
    Path((project_uuid, space_uuid)): Ids,
    Json(body): Json<UpdateBody>,
) -> Reply {
    let msg = pb::UpdateSpaceRequest {
        project_uuid,
        space_uuid,
        name: Some(body.name),
        is_private: Some(body.is_private),
        inherit_parent_permissions: body.inherit_parent_permissions,
    };
    let s = caller.projects().update_space(msg).await?;
    Ok(json::ok(space(s.get_ref())))
}

/// DELETE /api/v1/projects/{projectUuid}/spaces/{spaceUuid}: with the spaces nested in it;
/// 204 as Lightdash answers.
async fn delete_space(caller: Caller, Path((project_uuid, space_uuid)): Ids) -> Reply {
    let msg = pb::DeleteSpaceRequest {
        project_uuid,
        space_uuid,
    };
    caller.projects().delete_space(msg).await?;
    Ok(json::no_content())
}

/// Shares a space with `grantee`.
async fn share_space(
    caller: Caller,
    (project_uuid, space_uuid): (String, String),
    grantee: pb::share_space_request::Grantee,
    role: String,
) -> Reply {
    let msg = pb::ShareSpaceRequest {
        project_uuid,
        space_uuid,
        grantee: Some(grantee),
        role,
    };
    caller.projects().share_space(msg).await?;
    Ok(json::ok_empty())
}

/// Takes a space back from `grantee`.
async fn revoke_share(
    caller: Caller,
    (project_uuid, space_uuid): (String, String),
    grantee: pb::revoke_space_share_request::Grantee,
) -> Reply {
    let msg = pb::RevokeSpaceShareRequest {
        project_uuid,
        space_uuid,
        grantee: Some(grantee),
    };
    caller.projects().revoke_space_share(msg).await?;
    Ok(json::ok_empty())
}

/// POST /api/v1/projects/{projectUuid}/spaces/{spaceUuid}/share
async fn share_user(caller: Caller, Path(ids): Ids, Json(body): Json<UserShareBody>) -> Reply {
    let grantee = pb::share_space_request::Grantee::UserUuid(body.user_uuid);
    share_space(caller, ids, grantee, body.space_role).await
}

/// DELETE /api/v1/projects/{projectUuid}/spaces/{spaceUuid}/share/{userUuid}
async fn revoke_user(
    caller: Caller,
    Path((project, space, user)): Path<(String, String, String)>,
) -> Reply {
    let grantee = pb::revoke_space_share_request::Grantee::UserUuid(user);
    revoke_share(caller, (project, space), grantee).await
}

/// POST /api/v1/projects/{projectUuid}/spaces/{spaceUuid}/group/share
async fn share_group(caller: Caller, Path(ids): Ids, Json(body): Json<GroupShareBody>) -> Reply {
    let grantee = pb::share_space_request::Grantee::GroupUuid(body.group_uuid);
    share_space(caller, ids, grantee, body.space_role).await
}

/// DELETE /api/v1/projects/{projectUuid}/spaces/{spaceUuid}/group/share/{groupUuid}
async fn revoke_group(
    caller: Caller,
    Path((project, space, group)): Path<(String, String, String)>,
) -> Reply {
    let grantee = pb::revoke_space_share_request::Grantee::GroupUuid(group);
    revoke_share(caller, (project, space), grantee).await
}

/// GET /api/v1/projects/{projectUuid}/spaces/{spaceUuid}/access/explain?userUuid= (ours):
/// the decision and the facts that produced it (project admins).
async fn explain(
    caller: Caller,
    Path((project_uuid, space_uuid)): Ids,
    Query(q): Query<ExplainQuery>,
) -> Reply {
    let msg = pb::ExplainSpaceAccessRequest {
        project_uuid,
        space_uuid,
        user_uuid: q.user_uuid,
    };
    let e = caller.projects().explain_space_access(msg).await?;
    let e = e.get_ref();
    Ok(json::ok(json!({
        "userUuid": e.user_uuid,
        "spaceUuid": e.space_uuid,
        "role": e.role,
        "steps": json::each(&e.steps, |s| json!({
            "rule": s.rule, "spaceUuid": s.space_uuid, "role": s.role, "detail": s.detail,
        })),
    })))
}
