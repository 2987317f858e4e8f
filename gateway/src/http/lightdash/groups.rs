//! Groups of the caller's organization (Lightdash's User Groups tag).

use proto::identity::v1 as pb;

use super::prelude::*;
use serde::Serialize;

/// `/api/v1/org/groups` and `/api/v1/groups/…`.
pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get_group, update, delete))
        .routes(routes!(members))
        .routes(routes!(add_member, remove_member))
}

/// What a caller outside the organization, or a member who may not do it, is answered.
const NOT_ALLOWED: &str = "The caller is in no organization, or may not do this (admins \
    only), or the token's scopes do not allow it, or the caller's \
    organization requires allowed IPs and the call comes from elsewhere.";

/// `{ "userUuid": … }` in a member list.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = GroupMemberUuid)]
struct MemberRef {
    #[schema(format = Uuid)]
    user_uuid: String,
}

/// `CreateGroup`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CreateGroup)]
struct CreateBody {
    name: String,
    /// The first members (none by default).
    #[serde(default)]
    members: Vec<MemberRef>,
}

/// `UpdateGroupWithMembers`: a new name and/or the new members (replacing them all).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = UpdateGroupWithMembers)]
struct UpdateBody {
    name: Option<String>,
    members: Option<Vec<MemberRef>>,
}

/// Query of ListGroupsInOrganization.
#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// The page, from 1 (default 1).
    page: Option<u32>,
    /// Groups per page, 1 to 100 (default 100).
    page_size: Option<u32>,
    /// How many members of each group to include (none by default).
    include_members: Option<u32>,
    /// Only groups whose name contains this.
    search_query: Option<String>,
}

/// Query of getGroup.
#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct GetQuery {
    /// How many members to include (none by default).
    include_members: Option<u32>,
    /// Members to skip (only with `includeMembers`).
    offset: Option<u32>,
}

/// `GroupMember`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = GroupMember)]
struct Member {
    #[schema(format = Uuid)]
    user_uuid: String,
    email: String,
    first_name: String,
    last_name: String,
}

fn member(m: &pb::GroupMember) -> Member {
    Member {
        user_uuid: m.user_uuid.clone(),
        email: m.email.clone(),
        first_name: m.first_name.clone(),
        last_name: m.last_name.clone(),
    }
}

/// `Group`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Group)]
struct Group {
    #[schema(format = Uuid)]
    uuid: String,
    name: String,
    #[schema(format = Uuid)]
    organization_uuid: String,
    #[schema(format = DateTime)]
    created_at: Option<String>,
    #[schema(format = DateTime)]
    updated_at: Option<String>,
    created_by_user_uuid: Option<String>,
    updated_by_user_uuid: Option<String>,
}

/// `GroupWithMembers`: a group, with its members when they were asked for (`memberUuids` and
/// `members` are both present or both absent).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = GroupWithMembers)]
struct GroupWithMembers {
    #[serde(flatten)]
    group: Group,
    #[serde(skip_serializing_if = "Option::is_none")]
    member_uuids: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    members: Option<Vec<Member>>,
}

/// `Group`, or `GroupWithMembers` (at most `limit` members) when they were asked for.
fn group(g: &pb::Group, limit: Option<usize>) -> GroupWithMembers {
    let members: Option<Vec<&pb::GroupMember>> = g
        .has_members
        .then(|| g.members.iter().take(limit.unwrap_or(usize::MAX)).collect());
    GroupWithMembers {
        group: Group {
            uuid: g.uuid.clone(),
            name: g.name.clone(),
            organization_uuid: g.organization_uuid.clone(),
            created_at: json::some_time(g.created_at.as_ref()),
            updated_at: json::some_time(g.updated_at.as_ref()),
            created_by_user_uuid: g.created_by_user_uuid.clone(),
            updated_by_user_uuid: g.updated_by_user_uuid.clone(),
        },
        member_uuids: members
            .as_ref()
            .map(|ms| ms.iter().map(|m| m.user_uuid.clone()).collect()),
        members: members.map(|ms| ms.into_iter().map(member).collect()),
    }
}

fn uuids(members: Vec<MemberRef>) -> Vec<String> {
    members.into_iter().map(|m| m.user_uuid).collect()
}

/// POST /api/v1/org/groups (admins): creates a group.
#[utoipa::path(
    post,
    path = "/api/v1/org/groups",
    tag = "Lightdash: User Groups",
    operation_id = "CreateGroupInOrganization",
    request_body = CreateBody,
    responses(
        (status = 415, description = json::NOT_JSON, body = LightdashError),
        (status = 200, description = "The new group with its members.", body = json::Ok<GroupWithMembers>),
        (status = 403, description = NOT_ALLOWED, body = LightdashError),
        (status = 409, description = "The organization has a group of that name.", body = LightdashError),
    ),
)]
async fn create(caller: Caller, Json(body): Json<CreateBody>) -> Reply {
    let msg = pb::CreateGroupRequest {
        name: body.name,
        member_uuids: uuids(body.members),
    };
    let res = caller.identity().create_group(msg).await?;
    Ok(json::ok(group(res.get_ref(), None)))
}

/// GET /api/v1/org/groups: a page of the organization's groups.
///
/// `page`, `pageSize` (1 to 100), `searchQuery`, `includeMembers` (how many).
#[utoipa::path(
    get,
    path = "/api/v1/org/groups",
    tag = "Lightdash: User Groups",
    operation_id = "ListGroupsInOrganization",
    params(ListQuery),
    responses(
        (status = 200, description = "A page of groups, with members when asked for.", body = json::Ok<json::Page<GroupWithMembers>>),
        (status = 403, description = "The caller is in no organization; or the caller's organization requires allowed IPs and the call comes from elsewhere.", body = LightdashError),
    ),
)]
async fn list(caller: Caller, Query(q): Query<ListQuery>) -> Reply {
    let include = q.include_members.filter(|n| *n > 0);
    let msg = pb::ListGroupsRequest {
        page: q.page.unwrap_or(1),
        page_size: q.page_size.unwrap_or(100),
        search: q.search_query,
        include_members: include.is_some(),
    };
    let res = caller.identity().list_groups(msg).await?.into_inner();
    let limit = include.map(|n| n as usize);
    let groups = json::each(&res.groups, |g| group(g, limit));
    Ok(json::ok(json::page(groups, &res)))
}

/// GET /api/v1/groups/{groupUuid}: a group of the caller's organization.
///
/// `includeMembers` (how many), `offset` into the members.
#[utoipa::path(
    get,
    path = "/api/v1/groups/{groupUuid}",
    tag = "Lightdash: User Groups",
    operation_id = "getGroup",
    params(("groupUuid" = Uuid, Path, description = "The group's uuid."), GetQuery),
    responses(
        (status = 200, description = "The group, with members when asked for.", body = json::Ok<GroupWithMembers>),
        (status = 403, description = "The caller is in no organization; or the caller's organization requires allowed IPs and the call comes from elsewhere.", body = LightdashError),
        (status = 404, description = "No such group in the caller's organization.", body = LightdashError),
    ),
)]
async fn get_group(caller: Caller, Path(group_uuid): Id, Query(q): Query<GetQuery>) -> Reply {
    let include = q.include_members.filter(|n| *n > 0);
    let msg = pb::GetGroupRequest {
        group_uuid,
        include_members: include.is_some(),
    };
    let mut res = caller.identity().get_group(msg).await?.into_inner();
    let offset = q.offset.unwrap_or(0) as usize;
    if offset > 0 {
        if include.is_none() {
            return Err(ApiError::bad_request(
                "offset applies only with includeMembers",
            ));
        }
        res.members = res.members.into_iter().skip(offset).collect();
    }
    Ok(json::ok(group(&res, include.map(|n| n as usize))))
}

/// PATCH /api/v1/groups/{groupUuid} (admins): renames and/or replaces the members.
#[utoipa::path(
    patch,
    path = "/api/v1/groups/{groupUuid}",
    tag = "Lightdash: User Groups",
    operation_id = "updateGroup",
    params(("groupUuid" = Uuid, Path, description = "The group's uuid.")),
    request_body = UpdateBody,
    responses(
        (status = 415, description = json::NOT_JSON, body = LightdashError),
        (status = 200, description = "The group as changed, with its members.", body = json::Ok<GroupWithMembers>),
        (status = 403, description = NOT_ALLOWED, body = LightdashError),
        (status = 404, description = "No such group in the caller's organization.", body = LightdashError),
        (status = 409, description = "The organization has another group of that name.", body = LightdashError),
    ),
)]
async fn update(caller: Caller, Path(group_uuid): Id, Json(body): Json<UpdateBody>) -> Reply {
    let msg = pb::UpdateGroupRequest {
        group_uuid,
        name: body.name,
        set_members: body.members.is_some(),
        member_uuids: uuids(body.members.unwrap_or_default()),
    };
    let res = caller.identity().update_group(msg).await?;
    Ok(json::ok(group(res.get_ref(), None)))
}

/// DELETE /api/v1/groups/{groupUuid} (admins): deletes a group.
#[utoipa::path(
    delete,
    path = "/api/v1/groups/{groupUuid}",
    tag = "Lightdash: User Groups",
    operation_id = "deleteGroup",
    params(("groupUuid" = Uuid, Path, description = "The group's uuid.")),
    responses(
        (status = 200, description = "Deleted.", body = json::OkEmpty),
        (status = 403, description = NOT_ALLOWED, body = LightdashError),
        (status = 404, description = "No such group in the caller's organization.", body = LightdashError),
    ),
)]
async fn delete(caller: Caller, Path(group_uuid): Id) -> Reply {
    let msg = pb::DeleteGroupRequest { group_uuid };
    caller.identity().delete_group(msg).await?;
    Ok(json::ok_empty())
}

/// GET /api/v1/groups/{groupUuid}/members: the group's members.
#[utoipa::path(
    get,
    path = "/api/v1/groups/{groupUuid}/members",
    tag = "Lightdash: User Groups",
    operation_id = "getGroupMembers",
    params(("groupUuid" = Uuid, Path, description = "The group's uuid.")),
    responses(
        (status = 200, description = "The members.", body = json::Ok<Vec<Member>>),
        (status = 403, description = "The caller is in no organization; or the caller's organization requires allowed IPs and the call comes from elsewhere.", body = LightdashError),
        (status = 404, description = "No such group in the caller's organization.", body = LightdashError),
    ),
)]
async fn members(caller: Caller, Path(group_uuid): Id) -> Reply {
    let msg = pb::ListGroupMembersRequest { group_uuid };
    let res = caller.identity().list_group_members(msg).await?;
    Ok(json::ok(json::each(&res.get_ref().members, member)))
}

/// PUT /api/v1/groups/{groupUuid}/members/{userUuid} (admins): adds a member to the group.
#[utoipa::path(
    put,
    path = "/api/v1/groups/{groupUuid}/members/{userUuid}",
    tag = "Lightdash: User Groups",
    operation_id = "addUserToGroup",
    params(
        ("groupUuid" = Uuid, Path, description = "The group's uuid."),
        ("userUuid" = Uuid, Path, description = "The member's user uuid."),
    ),
    responses(
        (status = 200, description = "Added (or already there).", body = json::OkEmpty),
        (status = 403, description = NOT_ALLOWED, body = LightdashError),
        (status = 404, description = "No such group, or no such member, in the caller's organization.", body = LightdashError),
    ),
)]
async fn add_member(caller: Caller, Path((group_uuid, user_uuid)): Ids) -> Reply {
    let msg = pb::AddGroupMemberRequest {
        group_uuid,
        user_uuid,
    };
    caller.identity().add_group_member(msg).await?;
    Ok(json::ok_empty())
}

/// DELETE /api/v1/groups/{groupUuid}/members/{userUuid} (admins): removes a member from the
/// group.
#[utoipa::path(
    delete,
    path = "/api/v1/groups/{groupUuid}/members/{userUuid}",
    tag = "Lightdash: User Groups",
    operation_id = "removeUserFromGroup",
    params(
        ("groupUuid" = Uuid, Path, description = "The group's uuid."),
        ("userUuid" = Uuid, Path, description = "The member's user uuid."),
    ),
    responses(
        (status = 200, description = "Removed.", body = json::OkEmpty),
        (status = 403, description = NOT_ALLOWED, body = LightdashError),
        (status = 404, description = "No such group in the caller's organization, or the user is not in it.", body = LightdashError),
    ),
)]
async fn remove_member(caller: Caller, Path((group_uuid, user_uuid)): Ids) -> Reply {
    let msg = pb::RemoveGroupMemberRequest {
        group_uuid,
        user_uuid,
    };
    caller.identity().remove_group_member(msg).await?;
    Ok(json::ok_empty())
}
