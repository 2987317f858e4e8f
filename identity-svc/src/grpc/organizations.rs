//! Organizations, their members and roles, and the access contexts other services ask for.

use proto::identity::v1 as pb;
use service_kit::grpc::timestamp as ts;
use tonic::{Request, Response, Status};

use super::{IdentityGrpc, role};
use crate::{
    domain::{context::ContextQuery, organizations::OrganizationUpdate},
    store::{MemberRecord, OrganizationRecord},
};

pub(super) async fn create_organization(
    svc: &IdentityGrpc,
    req: Request<pb::CreateOrganizationRequest>,
) -> Result<Response<pb::Organization>, Status> {
    let claims = svc.user(&req).await?;
    Ok(Response::new(organization_pb(
        svc.identity
            .create_organization(&claims, &req.get_ref().name)
            .await?,
    )))
}

pub(super) async fn get_my_organization(
    svc: &IdentityGrpc,
    req: Request<pb::GetMyOrganizationRequest>,
) -> Result<Response<pb::Organization>, Status> {
    let claims = svc.user(&req).await?;
    Ok(Response::new(organization_pb(
        svc.identity.my_organization(&claims).await?,
    )))
}

pub(super) async fn update_my_organization(
    svc: &IdentityGrpc,
    req: Request<pb::UpdateMyOrganizationRequest>,
) -> Result<Response<pb::Organization>, Status> {
    let claims = svc.user(&req).await?;
    let r = req.into_inner();
    let update = OrganizationUpdate {
        name: r.name,
        chart_colors: r.set_chart_colors.then_some(r.chart_colors),
        default_project_uuid: r.default_project_uuid,
    };
    Ok(Response::new(organization_pb(
        svc.identity.update_organization(&claims, update).await?,
    )))
}

pub(super) async fn delete_organization(
    svc: &IdentityGrpc,
    req: Request<pb::DeleteOrganizationRequest>,
) -> Result<Response<pb::DeleteOrganizationResponse>, Status> {
    let claims = svc.user(&req).await?;
    svc.identity
        .delete_organization(&claims, &req.get_ref().organization_uuid)
        .await?;
    Ok(Response::new(pb::DeleteOrganizationResponse {}))
}

pub(super) async fn list_organization_members(
    svc: &IdentityGrpc,
    req: Request<pb::ListOrganizationMembersRequest>,
) -> Result<Response<pb::ListOrganizationMembersResponse>, Status> {
    let claims = svc.user(&req).await?;
    let r = req.into_inner();
    let page = svc
        .identity
        .list_members(&claims, r.page, r.page_size, r.search.as_deref())
        .await?;
    let page_size = u64::from(page.page_size);
    Ok(Response::new(pb::ListOrganizationMembersResponse {
        members: page.members.into_iter().map(member_pb).collect(),
        page: page.page,
        page_size: page.page_size,
        total_results: page.total,
        total_page_count: page.total.div_ceil(page_size),
    }))
}

pub(super) async fn get_organization_member(
    svc: &IdentityGrpc,
    req: Request<pb::GetOrganizationMemberRequest>,
) -> Result<Response<pb::OrganizationMember>, Status> {
    let claims = svc.user(&req).await?;
    Ok(Response::new(member_pb(
        svc.identity
            .get_member(&claims, &req.get_ref().user_uuid)
            .await?,
    )))
}

pub(super) async fn update_organization_member(
    svc: &IdentityGrpc,
    req: Request<pb::UpdateOrganizationMemberRequest>,
) -> Result<Response<pb::OrganizationMember>, Status> {
    let claims = svc.user(&req).await?;
    let r = req.into_inner();
    let role = role(r.organization_role)?;
    svc.admin_grant(&claims, Some(role))?;
    Ok(Response::new(member_pb(
        svc.identity
            .update_member_role(&claims, &r.user_uuid, role)
            .await?,
    )))
}

pub(super) async fn remove_organization_member(
    svc: &IdentityGrpc,
    req: Request<pb::RemoveOrganizationMemberRequest>,
) -> Result<Response<pb::RemoveOrganizationMemberResponse>, Status> {
    let claims = svc.user(&req).await?;
    svc.identity
        .remove_member(&claims, &req.get_ref().user_uuid)
        .await?;
    Ok(Response::new(pb::RemoveOrganizationMemberResponse {}))
}

pub(super) async fn get_access_contexts(
    svc: &IdentityGrpc,
    req: Request<pb::GetAccessContextsRequest>,
) -> Result<Response<pb::GetAccessContextsResponse>, Status> {
    let claims = svc.user(&req).await?;
    let r = req.into_inner();
    let answer = svc
        .identity
        .access_contexts(
            &claims,
            ContextQuery {
                user_uuids: r.user_uuids,
                email: r.email,
                all_members: r.all_members,
                include_groups: r.include_groups,
            },
        )
        .await?;
    Ok(Response::new(pb::GetAccessContextsResponse {
        organization_uuid: answer.organization_uuid.to_string(),
        caller: Some(access_context_pb(answer.caller)),
        members: answer.members.into_iter().map(access_context_pb).collect(),
        groups: answer
            .groups
            .into_iter()
            .map(|g| pb::OrganizationGroup {
                group_uuid: g.group_uuid.to_string(),
                name: g.name,
            })
            .collect(),
    }))
}

fn organization_pb(o: OrganizationRecord) -> pb::Organization {
    pb::Organization {
        organization_uuid: o.organization_uuid.to_string(),
        name: o.name,
        chart_colors: o
            .chart_colors
            .and_then(|c| serde_json::from_str(&c).ok())
            .unwrap_or_default(),
        default_project_uuid: o.default_project_uuid.map(|u| u.to_string()),
        created_at: Some(ts(o.created_at)),
    }
}

fn member_pb(m: MemberRecord) -> pb::OrganizationMember {
    pb::OrganizationMember {
        user_uuid: m.user_uuid.to_string(),
        email: m.email,
        first_name: m.first_name,
        last_name: m.last_name,
        organization_uuid: m.organization_uuid.to_string(),
        organization_role: m.role.into(),
        is_active: m.is_active,
        is_pending: m.is_pending,
        user_created_at: Some(ts(m.user_created_at)),
        user_updated_at: Some(ts(m.user_updated_at)),
    }
}

fn access_context_pb((m, groups): (MemberRecord, Vec<uuid::Uuid>)) -> pb::AccessContext {
    pb::AccessContext {
        user_uuid: m.user_uuid.to_string(),
        email: m.email,
        first_name: m.first_name,
        last_name: m.last_name,
        organization_role: m.role.into(),
        group_uuids: groups.iter().map(ToString::to_string).collect(),
        is_pending: m.is_pending,
    }
}
