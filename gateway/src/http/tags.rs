//! Tags of a project (Lightdash's Projects tag).

use axum::{
    extract::State,
    response::{IntoResponse, Response},
};
use proto::projects::v1 as pb;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    ApiResult, AppState,
    extract::{AppJson, AppPath, Caller},
    json,
};

/// `Pick_Tag.name-or-color_`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateBody {
    name: String,
    color: String,
}

/// `DbTagUpdate`: either or both.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct UpdateBody {
    name: Option<String>,
    color: Option<String>,
}

/// One entry of the YAML replacement.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct YamlTag {
    name: String,
    color: String,
    yaml_reference: String,
}

/// Lightdash's `Tag`.
fn tag(t: &pb::Tag) -> Value {
    json!({
        "tagUuid": t.tag_uuid,
        "projectUuid": t.project_uuid,
        "name": t.name,
        "color": t.color,
        "yamlReference": t.yaml_reference,
        "createdAt": t.created_at.as_ref().map(json::time),
        "createdBy": t.created_by.as_ref().map(|c| json!({
            "userUuid": c.user_uuid, "firstName": c.first_name, "lastName": c.last_name,
        })),
    })
}

/// GET /api/v1/projects/{projectUuid}/tags
pub(super) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(project_uuid): AppPath<String>,
) -> ApiResult<Response> {
    let res = state
        .projects
        .rpc()
        .list_tags(
            state
                .projects
                .as_user(pb::ListTagsRequest { project_uuid }, &caller),
        )
        .await?;
    let list: Vec<Value> = res.get_ref().tags.iter().map(tag).collect();
    Ok(json::ok(list).into_response())
}

/// POST /api/v1/projects/{projectUuid}/tags: 201 with the new tag's uuid.
pub(super) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(project_uuid): AppPath<String>,
    AppJson(body): AppJson<CreateBody>,
) -> ApiResult<Response> {
    let msg = pb::CreateTagRequest {
        project_uuid,
        name: body.name,
        color: body.color,
    };
    let r = state
        .projects
        .rpc()
        .create_tag(state.projects.as_user(msg, &caller))
        .await?;
    Ok((
        axum::http::StatusCode::CREATED,
        json::ok(json!({ "tagUuid": r.get_ref().tag_uuid })),
    )
        .into_response())
}

/// PATCH /api/v1/projects/{projectUuid}/tags/{tagUuid}
pub(super) async fn update(
    State(state): State<AppState>,
    caller: Caller,
    AppPath((project_uuid, tag_uuid)): AppPath<(String, String)>,
    AppJson(body): AppJson<UpdateBody>,
) -> ApiResult<Response> {
    let msg = pb::UpdateTagRequest {
        project_uuid,
        tag_uuid,
        name: body.name,
        color: body.color,
    };
    state
        .projects
        .rpc()
        .update_tag(state.projects.as_user(msg, &caller))
        .await?;
    Ok(json::ok_empty().into_response())
}

/// DELETE /api/v1/projects/{projectUuid}/tags/{tagUuid}: 204.
pub(super) async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    AppPath((project_uuid, tag_uuid)): AppPath<(String, String)>,
) -> ApiResult<Response> {
    let msg = pb::DeleteTagRequest {
        project_uuid,
        tag_uuid,
    };
    state
        .projects
        .rpc()
        .delete_tag(state.projects.as_user(msg, &caller))
        .await?;
    Ok(axum::http::StatusCode::NO_CONTENT.into_response())
}

/// PUT /api/v1/projects/{projectUuid}/tags/yaml: replaces the tags from the project's YAML.
pub(super) async fn replace_yaml(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(project_uuid): AppPath<String>,
    AppJson(body): AppJson<Vec<YamlTag>>,
) -> ApiResult<Response> {
    let msg = pb::ReplaceYamlTagsRequest {
        project_uuid,
        tags: body
            .into_iter()
            .map(|t| pb::YamlTag {
                name: t.name,
                color: t.color,
                yaml_reference: t.yaml_reference,
            })
            .collect(),
    };
    state
        .projects
        .rpc()
        .replace_yaml_tags(state.projects.as_user(msg, &caller))
        .await?;
    Ok(json::ok_empty().into_response())
}
