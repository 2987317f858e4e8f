//! Spaces of a project (Lightdash's Spaces tag), with `parentSpaceUuid` and
//! `inheritParentPermissions` added as optional fields (Lightdash's newest nested spaces), and
//! our `GET …/spaces/{spaceUuid}/access/explain`.

use proto::projects::v1 as pb;
use serde::Serialize;

use super::prelude::*;

/// `/api/v1/projects/{projectUuid}/spaces…`.
pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get_space, update, delete_space))
        .routes(routes!(share_user))
        .routes(routes!(revoke_user))
        .routes(routes!(share_group))
        .routes(routes!(revoke_group))
        .routes(routes!(explain))
}

/// `Pick_SpaceShare.userUuid-or-role_`: a user to give a role on the new space.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = SpaceAccessInput)]
struct InitialAccess {
    #[schema(format = Uuid)]
    user_uuid: String,
    #[schema(value_type = SpaceMemberRole)]
    role: String,
}

/// `CreateSpace`, plus the nesting fields.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = CreateSpace)]
struct CreateBody {
    #[schema(example = "Finance")]
    name: String,
    is_private: Option<bool>,
    #[serde(default)]
    access: Vec<InitialAccess>,
    /// The space to nest the new one in.
    #[schema(format = Uuid)]
    parent_space_uuid: Option<String>,
    /// Whether a nested space takes its parent's access.
    inherit_parent_permissions: Option<bool>,
}

/// `UpdateSpace`, plus `inheritParentPermissions`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = UpdateSpace)]
struct UpdateBody {
    name: String,
    is_private: bool,
    inherit_parent_permissions: Option<bool>,
}

/// `AddSpaceUserAccess`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = AddSpaceUserAccess)]
struct UserShareBody {
    #[schema(format = Uuid)]
    user_uuid: String,
    #[schema(value_type = SpaceMemberRole)]
    space_role: String,
}

/// `AddSpaceGroupAccess`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = AddSpaceGroupAccess)]
struct GroupShareBody {
    #[schema(format = Uuid)]
    group_uuid: String,
    #[schema(value_type = SpaceMemberRole)]
    space_role: String,
}

/// Query of the explain endpoint.
#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ExplainQuery {
    /// The member whose access is explained.
    #[param(format = Uuid)]
    user_uuid: String,
}

/// `SpaceMemberRole` (a schema only: the services read and write roles as strings).
#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
enum SpaceMemberRole {
    Viewer,
    Editor,
    Admin,
}

/// Lightdash's `SpaceShare`: a user with access to a space, and how.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct SpaceShare {
    #[schema(format = Uuid)]
    user_uuid: String,
    first_name: String,
    last_name: String,
    email: String,
    #[schema(value_type = SpaceMemberRole)]
    role: String,
    /// Whether the user has a grant on the space itself.
    has_direct_access: bool,
    /// The user's role in the project, when they have one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<super::projects::ProjectMemberRole>)]
    project_role: Option<String>,
    /// Where an access that is not direct comes from: `organization`, `project`, `group` or
    /// `space_group`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "project")]
    inherited_from: Option<String>,
    /// The project role the access comes from, with `inheritedFrom`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<super::projects::ProjectMemberRole>)]
    inherited_role: Option<String>,
}

fn share(a: &pb::SpaceShare) -> SpaceShare {
    let inherited = a.inherited_from.is_some();
    SpaceShare {
        user_uuid: a.user_uuid.clone(),
        first_name: a.first_name.clone(),
        last_name: a.last_name.clone(),
        email: a.email.clone(),
        role: a.role.clone(),
        has_direct_access: a.has_direct_access,
        project_role: a.project_role.clone(),
        inherited_from: a.inherited_from.clone(),
        inherited_role: a.project_role.clone().filter(|_| inherited),
    }
}

/// Lightdash's `SpaceGroup`: a group with access to a space.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct SpaceGroup {
    #[schema(format = Uuid)]
    group_uuid: String,
    group_name: String,
    #[schema(value_type = SpaceMemberRole)]
    space_role: String,
}

/// Lightdash's `Space` (no charts or dashboards live here yet: `queries` and `dashboards` are
/// empty), with the nesting fields.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Space {
    #[schema(format = Uuid)]
    organization_uuid: String,
    #[schema(format = Uuid)]
    project_uuid: String,
    #[schema(format = Uuid)]
    uuid: String,
    name: String,
    slug: String,
    is_private: bool,
    /// Always empty.
    #[schema(value_type = Vec<Object>, max_items = 0)]
    queries: Vec<Value>,
    /// Always empty.
    #[schema(value_type = Vec<Object>, max_items = 0)]
    dashboards: Vec<Value>,
    /// Everyone with access and how.
    access: Vec<SpaceShare>,
    groups_access: Vec<SpaceGroup>,
    /// Always null.
    #[schema(value_type = Option<String>)]
    pinned_list_uuid: Option<()>,
    /// Always null.
    #[schema(value_type = Option<f64>)]
    pinned_list_order: Option<()>,
    /// The space it is nested in; null at the top.
    #[schema(format = Uuid)]
    parent_space_uuid: Option<String>,
    inherit_parent_permissions: bool,
}

fn space(s: &pb::Space) -> Space {
    Space {
        organization_uuid: s.organization_uuid.clone(),
        project_uuid: s.project_uuid.clone(),
        uuid: s.space_uuid.clone(),
        name: s.name.clone(),
        slug: s.slug.clone(),
        is_private: s.is_private,
        queries: Vec::new(),
        dashboards: Vec::new(),
        access: s.access.iter().map(share).collect(),
        groups_access: s
            .groups_access
            .iter()
            .map(|g| SpaceGroup {
                group_uuid: g.group_uuid.clone(),
                group_name: g.group_name.clone(),
                space_role: g.role.clone(),
            })
            .collect(),
        pinned_list_uuid: None,
        pinned_list_order: None,
        parent_space_uuid: s.parent_space_uuid.clone(),
        inherit_parent_permissions: s.inherit_parent_permissions,
    }
}

/// Lightdash's `SpaceSummary`, fields in alphabetical order (the order of a `Value` map), written
/// without a `Value` tree in between: a listing can hold thousands.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = SpaceSummary)]
struct Summary<'a> {
    /// The users with a grant on the space itself.
    access: &'a [String],
    /// Always 0.
    chart_count: u32,
    /// Always 0.
    dashboard_count: u32,
    inherit_parent_permissions: bool,
    is_private: bool,
    name: &'a str,
    #[schema(format = Uuid)]
    organization_uuid: &'a str,
    /// The space it is nested in; null at the top.
    #[schema(format = Uuid)]
    parent_space_uuid: Option<&'a str>,
    /// Always null.
    #[schema(value_type = Option<f64>)]
    pinned_list_order: Option<()>,
    /// Always null.
    #[schema(value_type = Option<String>)]
    pinned_list_uuid: Option<()>,
    #[schema(format = Uuid)]
    project_uuid: &'a str,
    slug: &'a str,
    #[schema(format = Uuid)]
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

/// Our explanation of a member's access to a space: the decision and the facts behind it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = SpaceAccessExplanation)]
struct Explanation {
    #[schema(format = Uuid)]
    user_uuid: String,
    #[schema(format = Uuid)]
    space_uuid: String,
    /// The member's role on the space; null: no access.
    #[schema(value_type = Option<SpaceMemberRole>)]
    role: Option<String>,
    /// The facts, in the order they were weighed; the last is the decision.
    steps: Vec<ExplanationStep>,
}

/// One fact of an explanation.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = SpaceAccessStep)]
struct ExplanationStep {
    /// `org_role`, `project_grant`, `group_project_grant`, `space_group_grant`,
    /// `inheritance_chain`, `highest_role`, `no_project_role`, `empty_chain`,
    /// `admin_override`, `direct_space_grant`, `group_space_grant`, `inherited_from_project`
    /// or `private_no_grant`.
    #[schema(example = "project_grant")]
    rule: String,
    /// The space the fact is about, if any.
    #[schema(format = Uuid)]
    space_uuid: Option<String>,
    /// The role the fact gives (a project role for project facts, a space role for space
    /// facts), if any.
    role: Option<String>,
    /// The fact, for people.
    detail: String,
}

const PROJECT: &str = "The project's uuid.";
const SPACE: &str = "The space's uuid.";

/// POST /api/v1/projects/{projectUuid}/spaces: creates a space, nested in another or not.
#[utoipa::path(
    post,
    path = "/api/v1/projects/{projectUuid}/spaces",
    tag = "Lightdash: Spaces",
    operation_id = "CreateSpaceInProject",
    params(
        ("projectUuid" = Uuid, Path, description = PROJECT),
    ),
    request_body = CreateBody,
    responses(
        (status = 200, description = "The space created.", body = json::Ok<Space>),
        (status = 403, description = "The caller may not create spaces in the project, or in the parent space.", body = LightdashError),
        (status = 404, description = "No such project or parent space, or one the caller may not see.", body = LightdashError),
    ),
)]
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
#[utoipa::path(
    get,
    path = "/api/v1/projects/{projectUuid}/spaces",
    tag = "Lightdash: Spaces",
    operation_id = "ListSpacesInProject",
    params(
        ("projectUuid" = Uuid, Path, description = PROJECT),
    ),
    responses(
        (status = 200, description = "The spaces.", body = json::Ok<Vec<Summary<'static>>>),
        (status = 403, description = "The caller belongs to no organization.", body = LightdashError),
        (status = 404, description = "No such project, or one the caller may not see.", body = LightdashError),
    ),
)]
async fn list(caller: Caller, Path(project_uuid): Id) -> Reply {
    let msg = pb::ListSpaceSummariesRequest { project_uuid };
    let res = caller.projects().list_space_summaries(msg).await?;
    let res = res.get_ref();
    let list: Vec<Summary<'_>> = res.spaces.iter().map(|s| summary(res, s)).collect();
    Ok(json::ok_direct(list))
}

/// GET /api/v1/projects/{projectUuid}/spaces/{spaceUuid}: a space and who may reach it.
#[utoipa::path(
    get,
    path = "/api/v1/projects/{projectUuid}/spaces/{spaceUuid}",
    tag = "Lightdash: Spaces",
    operation_id = "GetSpace",
    params(
        ("projectUuid" = Uuid, Path, description = PROJECT),
        ("spaceUuid" = Uuid, Path, description = SPACE),
    ),
    responses(
        (status = 200, description = "The space.", body = json::Ok<Space>),
        (status = 403, description = "The caller belongs to no organization.", body = LightdashError),
        (status = 404, description = "No such project or space, or one the caller may not see.", body = LightdashError),
    ),
)]
async fn get_space(caller: Caller, Path((project_uuid, space_uuid)): Ids) -> Reply {
    let msg = pb::GetSpaceRequest {
        project_uuid,
        space_uuid,
    };
    let s = caller.projects().get_space(msg).await?;
    Ok(json::ok(space(s.get_ref())))
}

/// PATCH /api/v1/projects/{projectUuid}/spaces/{spaceUuid}: renames a space or changes its privacy.
#[utoipa::path(
    patch,
    path = "/api/v1/projects/{projectUuid}/spaces/{spaceUuid}",
    tag = "Lightdash: Spaces",
    operation_id = "UpdateSpace",
    params(
        ("projectUuid" = Uuid, Path, description = PROJECT),
        ("spaceUuid" = Uuid, Path, description = SPACE),
    ),
    request_body = UpdateBody,
    responses(
        (status = 200, description = "The space changed.", body = json::Ok<Space>),
        (status = 403, description = "The caller may not manage the space.", body = LightdashError),
        (status = 404, description = "No such project or space, or one the caller may not see.", body = LightdashError),
    ),
)]
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

/// DELETE /api/v1/projects/{projectUuid}/spaces/{spaceUuid}: deletes a space with the spaces
/// nested in it; 204 as Lightdash answers.
#[utoipa::path(
    delete,
    path = "/api/v1/projects/{projectUuid}/spaces/{spaceUuid}",
    tag = "Lightdash: Spaces",
    operation_id = "DeleteSpace",
    params(
        ("projectUuid" = Uuid, Path, description = PROJECT),
        ("spaceUuid" = Uuid, Path, description = SPACE),
    ),
    responses(
        (status = 204, description = "Deleted."),
        (status = 403, description = "The caller may not manage the space.", body = LightdashError),
        (status = 404, description = "No such project or space, or one the caller may not see.", body = LightdashError),
    ),
)]
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

/// POST /api/v1/projects/{projectUuid}/spaces/{spaceUuid}/share: gives a user a role on a space.
#[utoipa::path(
    post,
    path = "/api/v1/projects/{projectUuid}/spaces/{spaceUuid}/share",
    tag = "Lightdash: Spaces",
    operation_id = "AddSpaceUserAccess",
    params(
        ("projectUuid" = Uuid, Path, description = PROJECT),
        ("spaceUuid" = Uuid, Path, description = SPACE),
    ),
    request_body = UserShareBody,
    responses(
        (status = 200, description = "Shared.", body = json::OkEmpty),
        (status = 403, description = "The caller may not manage the space.", body = LightdashError),
        (status = 404, description = "No such project, space or user, or one the caller may not see.", body = LightdashError),
    ),
)]
async fn share_user(caller: Caller, Path(ids): Ids, Json(body): Json<UserShareBody>) -> Reply {
    let grantee = pb::share_space_request::Grantee::UserUuid(body.user_uuid);
    share_space(caller, ids, grantee, body.space_role).await
}

/// DELETE /api/v1/projects/{projectUuid}/spaces/{spaceUuid}/share/{userUuid}: takes a user's
/// grant on a space away.
#[utoipa::path(
    delete,
    path = "/api/v1/projects/{projectUuid}/spaces/{spaceUuid}/share/{userUuid}",
    tag = "Lightdash: Spaces",
    operation_id = "RevokeSpaceAccessForUser",
    params(
        ("projectUuid" = Uuid, Path, description = PROJECT),
        ("spaceUuid" = Uuid, Path, description = SPACE),
        ("userUuid" = Uuid, Path, description = "The user's uuid."),
    ),
    responses(
        (status = 200, description = "Revoked.", body = json::OkEmpty),
        (status = 403, description = "The caller may not manage the space.", body = LightdashError),
        (status = 404, description = "No such project or space, or the user has no grant on it.", body = LightdashError),
    ),
)]
async fn revoke_user(
    caller: Caller,
    Path((project, space, user)): Path<(String, String, String)>,
) -> Reply {
    let grantee = pb::revoke_space_share_request::Grantee::UserUuid(user);
    revoke_share(caller, (project, space), grantee).await
}

/// POST /api/v1/projects/{projectUuid}/spaces/{spaceUuid}/group/share: gives a group a role on
/// a space.
#[utoipa::path(
    post,
    path = "/api/v1/projects/{projectUuid}/spaces/{spaceUuid}/group/share",
    tag = "Lightdash: Spaces",
    operation_id = "AddSpaceGroupAccess",
    params(
        ("projectUuid" = Uuid, Path, description = PROJECT),
        ("spaceUuid" = Uuid, Path, description = SPACE),
    ),
    request_body = GroupShareBody,
    responses(
        (status = 200, description = "Shared.", body = json::OkEmpty),
        (status = 403, description = "The caller may not manage the space.", body = LightdashError),
        (status = 404, description = "No such project, space or group, or one the caller may not see.", body = LightdashError),
    ),
)]
async fn share_group(caller: Caller, Path(ids): Ids, Json(body): Json<GroupShareBody>) -> Reply {
    let grantee = pb::share_space_request::Grantee::GroupUuid(body.group_uuid);
    share_space(caller, ids, grantee, body.space_role).await
}

/// DELETE /api/v1/projects/{projectUuid}/spaces/{spaceUuid}/group/share/{groupUuid}: takes a
/// group's grant on a space away.
#[utoipa::path(
    delete,
    path = "/api/v1/projects/{projectUuid}/spaces/{spaceUuid}/group/share/{groupUuid}",
    tag = "Lightdash: Spaces",
    operation_id = "RevokeGroupSpaceAccess",
    params(
        ("projectUuid" = Uuid, Path, description = PROJECT),
        ("spaceUuid" = Uuid, Path, description = SPACE),
        ("groupUuid" = Uuid, Path, description = "The group's uuid."),
    ),
    responses(
        (status = 200, description = "Revoked.", body = json::OkEmpty),
        (status = 403, description = "The caller may not manage the space.", body = LightdashError),
        (status = 404, description = "No such project or space, or the group has no grant on it.", body = LightdashError),
    ),
)]
async fn revoke_group(
    caller: Caller,
    Path((project, space, group)): Path<(String, String, String)>,
) -> Reply {
    let grantee = pb::revoke_space_share_request::Grantee::GroupUuid(group);
    revoke_share(caller, (project, space), grantee).await
}

/// GET /api/v1/projects/{projectUuid}/spaces/{spaceUuid}/access/explain: why a member may or
/// may not reach a space (ours; project admins).
///
/// The decision and the facts that produced it.
#[utoipa::path(
    get,
    path = "/api/v1/projects/{projectUuid}/spaces/{spaceUuid}/access/explain",
    tag = "Lightdash: Spaces",
    operation_id = "explainSpaceAccess",
    params(
        ("projectUuid" = Uuid, Path, description = PROJECT),
        ("spaceUuid" = Uuid, Path, description = SPACE),
        ExplainQuery,
    ),
    responses(
        (status = 200, description = "The decision and its facts.", body = json::Ok<Explanation>),
        (status = 403, description = "The caller is not an admin of the project.", body = LightdashError),
        (status = 404, description = "No such project, space or user, or one the caller may not see.", body = LightdashError),
    ),
)]
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
    let e = e.into_inner();
    Ok(json::ok(Explanation {
        user_uuid: e.user_uuid,
        space_uuid: e.space_uuid,
        role: e.role,
        steps: e
            .steps
            .into_iter()
            .map(|s| ExplanationStep {
                rule: s.rule,
                space_uuid: s.space_uuid,
                role: s.role,
                detail: s.detail,
            })
            .collect(),
    }))
}
