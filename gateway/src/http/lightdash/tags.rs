//! Tags of a project (Lightdash's Projects tag).

use proto::projects::v1 as pb;

use super::prelude::*;

/// `/api/v1/projects/{projectUuid}/tags…`.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/projects/{projectUuid}/tags",
            get(list).post(create),
        )
        .route(
            "/api/v1/projects/{projectUuid}/tags/yaml",
            put(replace_yaml),
        )
        .route(
            "/api/v1/projects/{projectUuid}/tags/{tagUuid}",
            patch(update).delete(delete),
        )
}

/// `Pick_Tag.name-or-color_`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    name: String,
    color: String,
}

/// `DbTagUpdate`: either or both.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateBody {
    name: Option<String>,
    color: Option<String>,
}

/// One entry of the YAML replacement.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct YamlTag {
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
async fn list(caller: Caller, Path(project_uuid): Id) -> Reply {
    let msg = pb::ListTagsRequest { project_uuid };
    let res = caller.projects().list_tags(msg).await?;
    Ok(json::ok(json::each(&res.get_ref().tags, tag)))
}

/// POST /api/v1/projects/{projectUuid}/tags: 201 with the new tag's uuid.
async fn create(caller: Caller, Path(project_uuid): Id, Json(body): Json<CreateBody>) -> Reply {
    let msg = pb::CreateTagRequest {
        project_uuid,
        name: body.name,
        color: body.color,
    };
    let r = caller.projects().create_tag(msg).await?;
    Ok(json::created(json!({ "tagUuid": r.get_ref().tag_uuid })))
}

/// PATCH /api/v1/projects/{projectUuid}/tags/{tagUuid}
async fn update(
    caller: Caller,
    Path((project_uuid, tag_uuid)): Ids,
    Json(body): Json<UpdateBody>,
) -> Reply {
    let msg = pb::UpdateTagRequest {
        project_uuid,
        tag_uuid,
        name: body.name,
        color: body.color,
    };
    caller.projects().update_tag(msg).await?;
    Ok(json::ok_empty())
}

/// DELETE /api/v1/projects/{projectUuid}/tags/{tagUuid}: 204.
async fn delete(caller: Caller, Path((project_uuid, tag_uuid)): Ids) -> Reply {
    let msg = pb::DeleteTagRequest {
        project_uuid,
        tag_uuid,
    };
    caller.projects().delete_tag(msg).await?;
    Ok(json::no_content())
}

/// PUT /api/v1/projects/{projectUuid}/tags/yaml: replaces the tags from the project's YAML.
async fn replace_yaml(
    caller: Caller,
    Path(project_uuid): Id,
    Json(body): Json<Vec<YamlTag>>,
) -> Reply {
    let tags = body.into_iter().map(|t| pb::YamlTag {
        name: t.name,
        color: t.color,
        yaml_reference: t.yaml_reference,
    });
    let msg = pb::ReplaceYamlTagsRequest {
        project_uuid,
        tags: tags.collect(),
    };
    caller.projects().replace_yaml_tags(msg).await?;
    Ok(json::ok_empty())
}
