//! Groups of the caller's organization (Lightdash's User Groups tag).

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

/// `{ "userUuid": … }` in a member list.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct MemberRef {
    user_uuid: String,
}

/// `CreateGroup`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateBody {
    name: String,
    #[serde(default)]
    members: Vec<MemberRef>,
}

/// `UpdateGroupWithMembers`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct UpdateBody {
    name: Option<String>,
    members: Option<Vec<MemberRef>>,
}

/// Query of ListGroupsInOrganization.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct ListQuery {
    page: Option<u32>,
    page_size: Option<u32>,
    include_members: Option<u32>,
    search_query: Option<String>,
}

/// Query of getGroup.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct GetQuery {
    include_members: Option<u32>,
    offset: Option<u32>,
}

fn member(m: &pb::GroupMember) -> Value {
    json!({ "userUuid": m.user_uuid, "email": m.email, "firstName": m.first_name, "lastName": m.last_name })
}

/// `Group`, or `GroupWithMembers` (at most `limit` members) when they were asked for.
fn group(g: &pb::Group, limit: Option<usize>) -> Value {
    let mut v = json!({
        "uuid": g.uuid,
        "name": g.name,
        "organizationUuid": g.organization_uuid,
        "createdAt": g.created_at.as_ref().map(json::time),
        "updatedAt": g.updated_at.as_ref().map(json::time),
        "createdByUserUuid": g.created_by_user_uuid,
        "updatedByUserUuid": g.updated_by_user_uuid,
    });
    if g.has_members {
        let members: Vec<&pb::GroupMember> =
            g.members.iter().take(limit.unwrap_or(usize::MAX)).collect();
        v["memberUuids"] = json!(members.iter().map(|m| &m.user_uuid).collect::<Vec<_>>());
        v["members"] = json!(members.iter().map(|m| member(m)).collect::<Vec<_>>());
    }
    v
}

fn uuids(members: Vec<MemberRef>) -> Vec<String> {
    members.into_iter().map(|m| m.user_uuid).collect()
}

/// POST /api/v1/org/groups (admins)
pub(super) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    AppJson(body): AppJson<CreateBody>,
) -> ApiResult<Response> {
    let msg = pb::CreateGroupRequest {
        name: body.name,
        member_uuids: uuids(body.members),
    };
    let res = state
        .identity
        .rpc()
        .create_group(state.identity.as_user(msg, &caller))
        .await?;
    Ok(json::ok(group(res.get_ref(), None)).into_response())
}

/// GET /api/v1/org/groups: `page`, `pageSize` (1 to 100), `searchQuery`, `includeMembers` (how many).
pub(super) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    AppQuery(q): AppQuery<ListQuery>,
) -> ApiResult<Response> {
    let include = q.include_members.filter(|n| *n > 0);
    let msg = pb::ListGroupsRequest {
        page: q.page.unwrap_or(1),
        page_size: q.page_size.unwrap_or(100),
        search: q.search_query,
        include_members: include.is_some(),
    };
    let res = state
        .identity
        .rpc()
        .list_groups(state.identity.as_user(msg, &caller))
        .await?
        .into_inner();
    let limit = include.map(|n| n as usize);
    Ok(json::ok(json!({
        "data": res.groups.iter().map(|g| group(g, limit)).collect::<Vec<_>>(),
        "pagination": {
            "page": res.page,
            "pageSize": res.page_size,
            "totalResults": res.total_results,
            "totalPageCount": res.total_page_count,
        }
    }))
    .into_response())
}

/// GET /api/v1/groups/{groupUuid}: `includeMembers` (how many), `offset` into the members.
pub(super) async fn get(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(group_uuid): AppPath<String>,
    AppQuery(q): AppQuery<GetQuery>,
) -> ApiResult<Response> {
    let include = q.include_members.filter(|n| *n > 0);
    let msg = pb::GetGroupRequest {
        group_uuid,
        include_members: include.is_some(),
    };
    let mut res = state
        .identity
        .rpc()
        .get_group(state.identity.as_user(msg, &caller))
        .await?
        .into_inner();
    let offset = q.offset.unwrap_or(0) as usize;
    if offset > 0 {
        if include.is_none() {
            return Err(ApiError::bad_request(
                "offset applies only with includeMembers",
            ));
        }
        res.members = res.members.into_iter().skip(offset).collect();
    }
    Ok(json::ok(group(&res, include.map(|n| n as usize))).into_response())
}

/// PATCH /api/v1/groups/{groupUuid} (admins): renames and/or replaces the members.
pub(super) async fn update(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(group_uuid): AppPath<String>,
    AppJson(body): AppJson<UpdateBody>,
) -> ApiResult<Response> {
    let msg = pb::UpdateGroupRequest {
        group_uuid,
        name: body.name,
        set_members: body.members.is_some(),
        member_uuids: uuids(body.members.unwrap_or_default()),
    };
    let res = state
        .identity
        .rpc()
        .update_group(state.identity.as_user(msg, &caller))
        .await?;
    Ok(json::ok(group(res.get_ref(), None)).into_response())
}

/// DELETE /api/v1/groups/{groupUuid} (admins)
pub(super) async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(group_uuid): AppPath<String>,
) -> ApiResult<Response> {
    state
        .identity
        .rpc()
        .delete_group(
            state
                .identity
                .as_user(pb::DeleteGroupRequest { group_uuid }, &caller),
        )
        .await?;
    Ok(json::ok_empty().into_response())
}

/// GET /api/v1/groups/{groupUuid}/members
pub(super) async fn members(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(group_uuid): AppPath<String>,
) -> ApiResult<Response> {
    let res = state
        .identity
        .rpc()
        .list_group_members(
            state
                .identity
                .as_user(pb::ListGroupMembersRequest { group_uuid }, &caller),
        )
        .await?;
    Ok(json::ok(res.get_ref().members.iter().map(member).collect::<Vec<_>>()).into_response())
}

/// PUT /api/v1/groups/{groupUuid}/members/{userUuid} (admins)
pub(super) async fn add_member(
    State(state): State<AppState>,
    caller: Caller,
    AppPath((group_uuid, user_uuid)): AppPath<(String, String)>,
) -> ApiResult<Response> {
    let msg = pb::AddGroupMemberRequest {
        group_uuid,
        user_uuid,
    };
    state
        .identity
        .rpc()
        .add_group_member(state.identity.as_user(msg, &caller))
        .await?;
    Ok(json::ok_empty().into_response())
}

/// DELETE /api/v1/groups/{groupUuid}/members/{userUuid} (admins)
pub(super) async fn remove_member(
    State(state): State<AppState>,
    caller: Caller,
    AppPath((group_uuid, user_uuid)): AppPath<(String, String)>,
) -> ApiResult<Response> {
    let msg = pb::RemoveGroupMemberRequest {
        group_uuid,
        user_uuid,
    };
    state
        .identity
        .rpc()
        .remove_group_member(state.identity.as_user(msg, &caller))
        .await?;
    Ok(json::ok_empty().into_response())
}
