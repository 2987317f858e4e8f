//! Groups.

use proto::identity::v1 as pb;
use service_kit::grpc::timestamp as ts;
use tonic::{Request, Response, Status};

use super::IdentityGrpc;
use crate::{domain::groups::GroupView, store::GroupMemberRecord};

pub(super) async fn create_group(
    svc: &IdentityGrpc,
    req: Request<pb::CreateGroupRequest>,
) -> Result<Response<pb::Group>, Status> {
    let claims = svc.user(&req).await?;
    let r = req.into_inner();
    Ok(Response::new(group_pb(
        svc.identity
            .create_group(&claims, &r.name, &r.member_uuids)
            .await?,
    )))
}

pub(super) async fn list_groups(
    svc: &IdentityGrpc,
    req: Request<pb::ListGroupsRequest>,
) -> Result<Response<pb::ListGroupsResponse>, Status> {
    let claims = svc.user(&req).await?;
    let r = req.into_inner();
    let page = svc
        .identity
        .list_groups(
            &claims,
            r.page,
            r.page_size,
            r.search.as_deref(),
            r.include_members,
        )
        .await?;
    let page_size = u64::from(page.page_size);
    Ok(Response::new(pb::ListGroupsResponse {
        groups: page.groups.into_iter().map(group_pb).collect(),
        page: page.page,
        page_size: page.page_size,
        total_results: page.total,
        total_page_count: page.total.div_ceil(page_size),
    }))
}

pub(super) async fn get_group(
    svc: &IdentityGrpc,
    req: Request<pb::GetGroupRequest>,
) -> Result<Response<pb::Group>, Status> {
    let claims = svc.user(&req).await?;
    let r = req.into_inner();
    Ok(Response::new(group_pb(
        svc.identity
            .get_group(&claims, &r.group_uuid, r.include_members)
            .await?,
    )))
}

pub(super) async fn update_group(
    svc: &IdentityGrpc,
    req: Request<pb::UpdateGroupRequest>,
) -> Result<Response<pb::Group>, Status> {
    let claims = svc.user(&req).await?;
    let r = req.into_inner();
    let members = r.set_members.then_some(r.member_uuids.as_slice());
    Ok(Response::new(group_pb(
        svc.identity
            .update_group(&claims, &r.group_uuid, r.name.as_deref(), members)
            .await?,
    )))
}

pub(super) async fn delete_group(
    svc: &IdentityGrpc,
    req: Request<pb::DeleteGroupRequest>,
) -> Result<Response<pb::DeleteGroupResponse>, Status> {
    let claims = svc.user(&req).await?;
    svc.identity
        .delete_group(&claims, &req.get_ref().group_uuid)
        .await?;
    Ok(Response::new(pb::DeleteGroupResponse {}))
}

pub(super) async fn list_group_members(
    svc: &IdentityGrpc,
    req: Request<pb::ListGroupMembersRequest>,
) -> Result<Response<pb::ListGroupMembersResponse>, Status> {
    let claims = svc.user(&req).await?;
    let members = svc
        .identity
        .group_members(&claims, &req.get_ref().group_uuid)
        .await?;
    Ok(Response::new(pb::ListGroupMembersResponse {
        members: members.into_iter().map(group_member_pb).collect(),
    }))
}

pub(super) async fn add_group_member(
    svc: &IdentityGrpc,
    req: Request<pb::AddGroupMemberRequest>,
) -> Result<Response<pb::AddGroupMemberResponse>, Status> {
    let claims = svc.user(&req).await?;
    let r = req.into_inner();
    svc.identity
        .add_group_member(&claims, &r.group_uuid, &r.user_uuid)
        .await?;
    Ok(Response::new(pb::AddGroupMemberResponse {}))
}

pub(super) async fn remove_group_member(
    svc: &IdentityGrpc,
    req: Request<pb::RemoveGroupMemberRequest>,
) -> Result<Response<pb::RemoveGroupMemberResponse>, Status> {
    let claims = svc.user(&req).await?;
    let r = req.into_inner();
    svc.identity
        .remove_group_member(&claims, &r.group_uuid, &r.user_uuid)
        .await?;
    Ok(Response::new(pb::RemoveGroupMemberResponse {}))
}

fn group_member_pb(m: GroupMemberRecord) -> pb::GroupMember {
    pb::GroupMember {
        user_uuid: m.user_uuid.to_string(),
        email: m.email,
        first_name: m.first_name,
        last_name: m.last_name,
    }
}

fn group_pb(v: GroupView) -> pb::Group {
    let g = v.group;
    pb::Group {
        uuid: g.group_uuid.to_string(),
        organization_uuid: g.organization_uuid.to_string(),
        name: g.name,
        created_by_user_uuid: g.created_by_user_uuid.map(|u| u.to_string()),
        updated_by_user_uuid: g.updated_by_user_uuid.map(|u| u.to_string()),
        created_at: Some(ts(g.created_at)),
        updated_at: Some(ts(g.updated_at)),
        has_members: v.members.is_some(),
        members: v
            .members
            .unwrap_or_default()
            .into_iter()
            .map(group_member_pb)
            .collect(),
    }
}
