//! User attributes of the caller's organization (Lightdash's User attributes tag; admins).

use axum::{
    extract::State,
    response::{IntoResponse, Response},
};
use proto::identity::v1 as pb;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    ApiResult, AppState,
    extract::{AppJson, AppPath, Caller},
    json,
};

/// `{ "userUuid", "value" }`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct UserValue {
    user_uuid: String,
    value: String,
}

/// `{ "groupUuid", "value" }`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct GroupValue {
    group_uuid: String,
    value: String,
}

/// `CreateUserAttribute`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct Body {
    name: String,
    description: Option<String>,
    attribute_default: Option<String>,
    users: Vec<UserValue>,
    groups: Vec<GroupValue>,
}

fn attribute(a: &pb::UserAttribute) -> Value {
    let mut v = json!({
        "uuid": a.uuid,
        "organizationUuid": a.organization_uuid,
        "name": a.name,
        "attributeDefault": a.attribute_default,
        "createdAt": a.created_at.as_ref().map(json::time),
        "users": a.users.iter().map(|u| json!({"userUuid": u.user_uuid, "email": u.email, "value": u.value})).collect::<Vec<_>>(),
        "groups": a.groups.iter().map(|g| json!({"groupUuid": g.group_uuid, "value": g.value})).collect::<Vec<_>>(),
    });
    if let Some(d) = &a.description {
        v["description"] = json!(d);
    }
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
pub(super) async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    let res = state
        .identity
        .rpc()
        .list_user_attributes(
            state
                .identity
                .as_user(pb::ListUserAttributesRequest {}, &caller),
        )
        .await?;
    Ok(json::ok(
        res.get_ref()
            .attributes
            .iter()
            .map(attribute)
            .collect::<Vec<_>>(),
    )
    .into_response())
}

/// POST /api/v1/org/attributes
pub(super) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    AppJson(body): AppJson<Body>,
) -> ApiResult<Response> {
    let res = state
        .identity
        .rpc()
        .save_user_attribute(state.identity.as_user(request(None, body), &caller))
        .await?;
    Ok(json::ok(attribute(res.get_ref())).into_response())
}

/// PUT /api/v1/org/attributes/{userAttributeUuid}: replaces the attribute and all its values.
pub(super) async fn update(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(uuid): AppPath<String>,
    AppJson(body): AppJson<Body>,
) -> ApiResult<Response> {
    let res = state
        .identity
        .rpc()
        .save_user_attribute(state.identity.as_user(request(Some(uuid), body), &caller))
        .await?;
    Ok(json::ok(attribute(res.get_ref())).into_response())
}

/// DELETE /api/v1/org/attributes/{userAttributeUuid}
pub(super) async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(attribute_uuid): AppPath<String>,
) -> ApiResult<Response> {
    state
        .identity
        .rpc()
        .delete_user_attribute(
            state
                .identity
                .as_user(pb::DeleteUserAttributeRequest { attribute_uuid }, &caller),
        )
        .await?;
    Ok(json::ok_empty().into_response())
}
