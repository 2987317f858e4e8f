//! User attributes.

use proto::identity::v1 as pb;
use service_kit::grpc::timestamp as ts;
use tonic::{Request, Response, Status};

use super::IdentityGrpc;
use crate::domain::attributes::{AttributeInput, AttributeView};

pub(super) async fn list_user_attributes(
    svc: &IdentityGrpc,
    req: Request<pb::ListUserAttributesRequest>,
) -> Result<Response<pb::ListUserAttributesResponse>, Status> {
    let claims = svc.user(&req).await?;
    let attributes = svc
        .identity
        .list_attributes(&claims)
        .await?
        .into_iter()
        .map(attribute_pb)
        .collect();
    Ok(Response::new(pb::ListUserAttributesResponse { attributes }))
}

pub(super) async fn save_user_attribute(
    svc: &IdentityGrpc,
    req: Request<pb::SaveUserAttributeRequest>,
) -> Result<Response<pb::UserAttribute>, Status> {
    let claims = svc.user(&req).await?;
    let r = req.into_inner();
    let input = AttributeInput {
        name: r.name,
        description: r.description,
        attribute_default: r.attribute_default,
        users: r
            .users
            .into_iter()
            .map(|u| (u.user_uuid, u.value))
            .collect(),
        groups: r
            .groups
            .into_iter()
            .map(|g| (g.group_uuid, g.value))
            .collect(),
    };
    Ok(Response::new(attribute_pb(
        svc.identity
            .save_attribute(&claims, r.attribute_uuid.as_deref(), input)
            .await?,
    )))
}

pub(super) async fn delete_user_attribute(
    svc: &IdentityGrpc,
    req: Request<pb::DeleteUserAttributeRequest>,
) -> Result<Response<pb::DeleteUserAttributeResponse>, Status> {
    let claims = svc.user(&req).await?;
    svc.identity
        .delete_attribute(&claims, &req.get_ref().attribute_uuid)
        .await?;
    Ok(Response::new(pb::DeleteUserAttributeResponse {}))
}

fn attribute_pb(v: AttributeView) -> pb::UserAttribute {
    let a = v.attribute;
    pb::UserAttribute {
        uuid: a.attribute_uuid.to_string(),
        organization_uuid: a.organization_uuid.to_string(),
        name: a.name,
        description: a.description,
        attribute_default: a.attribute_default,
        created_at: Some(ts(a.created_at)),
        users: v
            .users
            .into_iter()
            .map(|u| pb::UserAttributeValue {
                user_uuid: u.user_uuid.to_string(),
                email: u.email,
                value: u.value,
            })
            .collect(),
        groups: v
            .groups
            .into_iter()
            .map(|g| pb::GroupAttributeValue {
                group_uuid: g.group_uuid.to_string(),
                value: g.value,
            })
            .collect(),
    }
}
