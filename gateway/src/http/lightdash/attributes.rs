//! User attributes of the caller's organization (Lightdash's User attributes tag; admins).

use proto::identity::v1 as pb;

use super::prelude::*;

/// `/api/v1/org/attributes…`.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/org/attributes", get(list).post(create))
        .route(
            "/api/v1/org/attributes/{userAttributeUuid}",
            put(update).delete(delete),
        )
}

/// `{ "userUuid", "value" }`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UserValue {
    user_uuid: String,
    value: String,
}

/// `{ "groupUuid", "value" }`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct GroupValue {
    group_uuid: String,
    value: String,
}

/// `CreateUserAttribute`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Body {
    name: String,
    description: Option<String>,
    attribute_default: Option<String>,
    users: Vec<UserValue>,
    groups: Vec<GroupValue>,
}

/// Lightdash's `UserAttribute`.
fn attribute(a: &pb::UserAttribute) -> Value {
    let users = json::each(
        &a.users,
        |u| json!({ "userUuid": u.user_uuid, "email": u.email, "value": u.value }),
    );
    let groups = json::each(
        &a.groups,
        |g| json!({ "groupUuid": g.group_uuid, "value": g.value }),
    );
    let mut v = json!({
        "uuid": a.uuid,
        "organizationUuid": a.organization_uuid,
        "name": a.name,
        "attributeDefault": a.attribute_default,
        "createdAt": a.created_at.as_ref().map(json::time),
        "users": users,
        "groups": groups,
    });
    json::set_some(&mut v, "description", a.description.as_ref());
    v
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

/// GET /api/v1/org/attributes
async fn list(caller: Caller) -> Reply {
    let msg = pb::ListUserAttributesRequest {};
    let res = caller
        .identity()
        .list_user_attributes(msg)
        .await?
        .into_inner();
    Ok(json::ok(json::each(&res.attributes, attribute)))
}

/// POST /api/v1/org/attributes
async fn create(caller: Caller, Json(body): Json<Body>) -> Reply {
    let msg = request(None, body);
    let res = caller.identity().save_user_attribute(msg).await?;
    Ok(json::ok(attribute(res.get_ref())))
}

/// PUT /api/v1/org/attributes/{userAttributeUuid}: replaces the attribute and all its values.
async fn update(caller: Caller, Path(uuid): Id, Json(body): Json<Body>) -> Reply {
    let msg = request(Some(uuid), body);
    let res = caller.identity().save_user_attribute(msg).await?;
    Ok(json::ok(attribute(res.get_ref())))
}

/// DELETE /api/v1/org/attributes/{userAttributeUuid}
async fn delete(caller: Caller, Path(attribute_uuid): Id) -> Reply {
    let msg = pb::DeleteUserAttributeRequest { attribute_uuid };
    caller.identity().delete_user_attribute(msg).await?;
    Ok(json::ok_empty())
}
