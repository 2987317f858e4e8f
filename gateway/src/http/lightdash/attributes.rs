//! User attributes of the caller's organization (Lightdash's User attributes tag; admins).

use proto::identity::v1 as pb;

use super::prelude::*;
use serde::Serialize;

/// `/api/v1/org/attributes…`.
pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(update, delete))
}

/// What a caller outside the organization, or a member who may not do it, is answered.
const NOT_ALLOWED: &str = "The caller is in no organization, or is not its admin, or the \
    token's scopes do not allow it, or the caller's \
    organization requires allowed IPs and the call comes from elsewhere.";

/// `{ "userUuid", "value" }`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = CreateUserAttributeValue)]
struct UserValue {
    #[schema(format = Uuid)]
    user_uuid: String,
    value: String,
}

/// `{ "groupUuid", "value" }`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = CreateGroupAttributeValue)]
struct GroupValue {
    #[schema(format = Uuid)]
    group_uuid: String,
    value: String,
}

/// `CreateUserAttribute`: the attribute and all its values.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = CreateUserAttribute)]
struct Body {
    name: String,
    description: Option<String>,
    /// The value of members without one of their own or from a group.
    attribute_default: Option<String>,
    users: Vec<UserValue>,
    groups: Vec<GroupValue>,
}

/// Lightdash's `UserAttribute`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = UserAttribute)]
struct Attribute {
    #[schema(format = Uuid)]
    uuid: String,
    #[schema(format = Uuid)]
    organization_uuid: String,
    name: String,
    /// Present when the attribute has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    attribute_default: Option<String>,
    #[schema(format = DateTime)]
    created_at: Option<String>,
    users: Vec<MemberValue>,
    groups: Vec<GroupAttributeValue>,
}

/// `UserAttributeValue`: a member's value.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = UserAttributeValue)]
struct MemberValue {
    #[schema(format = Uuid)]
    user_uuid: String,
    email: String,
    value: String,
}

/// `GroupAttributeValue`: the value of a group's members.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct GroupAttributeValue {
    #[schema(format = Uuid)]
    group_uuid: String,
    value: String,
}

/// Lightdash's `UserAttribute`.
fn attribute(a: &pb::UserAttribute) -> Attribute {
    Attribute {
        uuid: a.uuid.clone(),
        organization_uuid: a.organization_uuid.clone(),
        name: a.name.clone(),
        description: a.description.clone(),
        attribute_default: a.attribute_default.clone(),
        created_at: json::some_time(a.created_at.as_ref()),
        users: json::each(&a.users, |u| MemberValue {
            user_uuid: u.user_uuid.clone(),
            email: u.email.clone(),
            value: u.value.clone(),
        }),
        groups: json::each(&a.groups, |g| GroupAttributeValue {
            group_uuid: g.group_uuid.clone(),
            value: g.value.clone(),
        }),
    }
}

fn request(attribute_uuid: Option<String>, b: Body) -> pb::SaveUserAttributeRequest {
    pb::SaveUserAttributeRequest {
        attribute_uuid,
        name: b.name,
        description: b.description,
        attribute_default: b.attribute_default,
        users: b
            .users
            .into_iter()
            .map(|u| pb::UserAttributeValue {
                user_uuid: u.user_uuid,
                email: String::new(),
                value: u.value,
            })
            .collect(),
        groups: b
            .groups
            .into_iter()
            .map(|g| pb::GroupAttributeValue {
                group_uuid: g.group_uuid,
                value: g.value,
            })
            .collect(),
    }
}

/// GET /api/v1/org/attributes (admins): the organization's user attributes with their values.
#[utoipa::path(
    get,
    path = "/api/v1/org/attributes",
    tag = "Lightdash: User Attributes",
    operation_id = "getUserAttributes",
    responses(
        (status = 200, description = "The attributes.", body = json::Ok<Vec<Attribute>>),
        (status = 403, description = NOT_ALLOWED, body = LightdashError),
    ),
)]
async fn list(caller: Caller) -> Reply {
    let msg = pb::ListUserAttributesRequest {};
    let res = caller
        .identity()
        .list_user_attributes(msg)
        .await?
        .into_inner();
    Ok(json::ok(json::each(&res.attributes, attribute)))
}

/// POST /api/v1/org/attributes (admins): creates a user attribute with its values.
#[utoipa::path(
    post,
    path = "/api/v1/org/attributes",
    tag = "Lightdash: User Attributes",
    operation_id = "createUserAttribute",
    request_body = Body,
    responses(
        (status = 415, description = json::NOT_JSON, body = LightdashError),
        (status = 200, description = "The new attribute.", body = json::Ok<Attribute>),
        (status = 403, description = NOT_ALLOWED, body = LightdashError),
        (status = 409, description = "The organization has an attribute of that name.", body = LightdashError),
    ),
)]
async fn create(caller: Caller, Json(body): Json<Body>) -> Reply {
    let msg = request(None, body);
    let res = caller.identity().save_user_attribute(msg).await?;
    Ok(json::ok(attribute(res.get_ref())))
}

/// PUT /api/v1/org/attributes/{userAttributeUuid} (admins): replaces the attribute and all its
/// values.
#[utoipa::path(
    put,
    path = "/api/v1/org/attributes/{userAttributeUuid}",
    tag = "Lightdash: User Attributes",
    operation_id = "updateUserAttribute",
    params(("userAttributeUuid" = Uuid, Path, description = "The attribute's uuid.")),
    request_body = Body,
    responses(
        (status = 415, description = json::NOT_JSON, body = LightdashError),
        (status = 200, description = "The attribute as saved.", body = json::Ok<Attribute>),
        (status = 403, description = NOT_ALLOWED, body = LightdashError),
        (status = 404, description = "No such attribute in the caller's organization.", body = LightdashError),
        (status = 409, description = "The organization has another attribute of that name.", body = LightdashError),
    ),
)]
async fn update(caller: Caller, Path(uuid): Id, Json(body): Json<Body>) -> Reply {
    let msg = request(Some(uuid), body);
    let res = caller.identity().save_user_attribute(msg).await?;
    Ok(json::ok(attribute(res.get_ref())))
}

/// DELETE /api/v1/org/attributes/{userAttributeUuid} (admins): deletes the attribute.
#[utoipa::path(
    delete,
    path = "/api/v1/org/attributes/{userAttributeUuid}",
    tag = "Lightdash: User Attributes",
    operation_id = "removeUserAttribute",
    params(("userAttributeUuid" = Uuid, Path, description = "The attribute's uuid.")),
    responses(
        (status = 200, description = "Deleted.", body = json::OkEmpty),
        (status = 403, description = NOT_ALLOWED, body = LightdashError),
        (status = 404, description = "No such attribute in the caller's organization.", body = LightdashError),
    ),
)]
async fn delete(caller: Caller, Path(attribute_uuid): Id) -> Reply {
    let msg = pb::DeleteUserAttributeRequest { attribute_uuid };
    caller.identity().delete_user_attribute(msg).await?;
    Ok(json::ok_empty())
}
