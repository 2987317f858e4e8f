//! Groups of the caller's organization (Lightdash's User Groups tag).

use proto::identity::v1 as pb;

use super::prelude::*;

/// `/api/v1/org/groups` and `/api/v1/groups/…`.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/org/groups", get(list).post(create))
        .route(
            "/api/v1/groups/{groupUuid}",
            get(get_group).patch(update).delete(delete),
        )
        .route("/api/v1/groups/{groupUuid}/members", get(members))
        .route(
            "/api/v1/groups/{groupUuid}/members/{userUuid}",
            put(add_member).delete(remove_member),
        )
}

/// `{ "userUuid": … }` in a member list.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct MemberRef {
    user_uuid: String,
}

/// `CreateGroup`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    name: String,
    #[serde(default)]
    members: Vec<MemberRef>,
}

/// `UpdateGroupWithMembers`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateBody {
    name: Option<String>,
    members: Option<Vec<MemberRef>>,
}

/// Query of ListGroupsInOrganization.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ListQuery {
    page: Option<u32>,
    page_size: Option<u32>,
    include_members: Option<u32>,
    search_query: Option<String>,
}

/// Query of getGroup.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct GetQuery {
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
async fn create(caller: Caller, Json(body): Json<CreateBody>) -> Reply {
    let msg = pb::CreateGroupRequest {
        name: body.name,
        member_uuids: uuids(body.members),
    };
    let res = caller.identity().create_group(msg).await?;
    Ok(json::ok(group(res.get_ref(), None)))
}

/// GET /api/v1/org/groups: `page`, `pageSize` (1 to 100), `searchQuery`, `includeMembers` (how many).
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

/// GET /api/v1/groups/{groupUuid}: `includeMembers` (how many), `offset` into the members.
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

/// DELETE /api/v1/groups/{groupUuid} (admins)
async fn delete(caller: Caller, Path(group_uuid): Id) -> Reply {
    let msg = pb::DeleteGroupRequest { group_uuid };
    caller.identity().delete_group(msg).await?;
    Ok(json::ok_empty())
}

/// GET /api/v1/groups/{groupUuid}/members
async fn members(caller: Caller, Path(group_uuid): Id) -> Reply {
    let msg = pb::ListGroupMembersRequest { group_uuid };
    let res = caller.identity().list_group_members(msg).await?;
    Ok(json::ok(json::each(&res.get_ref().members, member)))
}

/// PUT /api/v1/groups/{groupUuid}/members/{userUuid} (admins)
async fn add_member(caller: Caller, Path((group_uuid, user_uuid)): Ids) -> Reply {
    let msg = pb::AddGroupMemberRequest {
        group_uuid,
        user_uuid,
    };
    caller.identity().add_group_member(msg).await?;
    Ok(json::ok_empty())
}

/// DELETE /api/v1/groups/{groupUuid}/members/{userUuid} (admins)
async fn remove_member(caller: Caller, Path((group_uuid, user_uuid)): Ids) -> Reply {
    let msg = pb::RemoveGroupMemberRequest {
        group_uuid,
        user_uuid,
    };
    caller.identity().remove_group_member(msg).await?;
    Ok(json::ok_empty())
}
