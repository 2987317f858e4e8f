//! Tags of a project (Lightdash's Projects tag).

use proto::projects::v1 as pb;
use serde::Serialize;

use super::prelude::*;

/// `/api/v1/projects/{projectUuid}/tags…`.
pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(replace_yaml))
        .routes(routes!(update, delete))
}

/// `Pick_Tag.name-or-color_`: a new tag.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CreateTag)]
struct CreateBody {
    #[schema(example = "finance")]
    name: String,
    #[schema(example = "#00ff00")]
    color: String,
}

/// `DbTagUpdate`: either or both.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = DbTagUpdate)]
struct UpdateBody {
    name: Option<String>,
    color: Option<String>,
}

/// One entry of the YAML replacement.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = YamlTag)]
struct YamlTag {
    name: String,
    color: String,
    /// The tag's name in the project's YAML.
    yaml_reference: String,
}

/// Lightdash's `Tag`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Tag {
    #[schema(format = Uuid)]
    tag_uuid: String,
    #[schema(format = Uuid)]
    project_uuid: String,
    name: String,
    color: String,
    /// Set for tags from the project's YAML; null for the others.
    yaml_reference: Option<String>,
    #[schema(format = DateTime)]
    created_at: Option<String>,
    /// null when the creator is unknown or no longer a member.
    created_by: Option<TagCreator>,
}

/// Lightdash's `Pick_LightdashUser.userUuid-or-firstName-or-lastName_`: who created a tag.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct TagCreator {
    #[schema(format = Uuid)]
    user_uuid: String,
    first_name: String,
    last_name: String,
}

fn tag(t: &pb::Tag) -> Tag {
    Tag {
        tag_uuid: t.tag_uuid.clone(),
        project_uuid: t.project_uuid.clone(),
        name: t.name.clone(),
        color: t.color.clone(),
        yaml_reference: t.yaml_reference.clone(),
        created_at: json::some_time(t.created_at.as_ref()),
        created_by: t.created_by.as_ref().map(|c| TagCreator {
            user_uuid: c.user_uuid.clone(),
            first_name: c.first_name.clone(),
            last_name: c.last_name.clone(),
        }),
    }
}

/// The new tag's uuid.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CreatedTag)]
struct Created {
    #[schema(format = Uuid)]
    tag_uuid: String,
}

const PROJECT: &str = "The project's uuid.";
const TAG: &str = "The tag's uuid.";

/// GET /api/v1/projects/{projectUuid}/tags: the project's tags.
#[utoipa::path(
    get,
    path = "/api/v1/projects/{projectUuid}/tags",
    tag = "Lightdash: Tags",
    operation_id = "getTags",
    params(("projectUuid" = Uuid, Path, description = PROJECT)),
    responses(
        (status = 200, description = "The tags.", body = json::Ok<Vec<Tag>>),
        (status = 403, description = "The caller belongs to no organization.", body = LightdashError),
        (status = 404, description = "No such project, or one the caller may not see.", body = LightdashError),
    ),
)]
async fn list(caller: Caller, Path(project_uuid): Id) -> Reply {
    let msg = pb::ListTagsRequest { project_uuid };
    let res = caller.projects().list_tags(msg).await?;
    Ok(json::ok(json::each(&res.get_ref().tags, tag)))
}

/// POST /api/v1/projects/{projectUuid}/tags: creates a tag; 201 with its uuid.
#[utoipa::path(
    post,
    path = "/api/v1/projects/{projectUuid}/tags",
    tag = "Lightdash: Tags",
    operation_id = "createTag",
    params(("projectUuid" = Uuid, Path, description = PROJECT)),
    request_body = CreateBody,
    responses(
        (status = 201, description = "The new tag's uuid.", body = json::Ok<Created>),
        (status = 403, description = "The caller may not manage the project's tags.", body = LightdashError),
        (status = 404, description = "No such project, or one the caller may not see.", body = LightdashError),
        (status = 409, description = "A tag with this name exists in the project.", body = LightdashError),
    ),
)]
async fn create(caller: Caller, Path(project_uuid): Id, Json(body): Json<CreateBody>) -> Reply {
    let msg = pb::CreateTagRequest {
        project_uuid,
        name: body.name,
        color: body.color,
    };
    let r = caller.projects().create_tag(msg).await?;
    Ok(json::created(Created {
        tag_uuid: r.into_inner().tag_uuid,
    }))
}

/// PATCH /api/v1/projects/{projectUuid}/tags/{tagUuid}: renames or recolours a tag.
#[utoipa::path(
    patch,
    path = "/api/v1/projects/{projectUuid}/tags/{tagUuid}",
    tag = "Lightdash: Tags",
    operation_id = "updateTag",
    params(
        ("projectUuid" = Uuid, Path, description = PROJECT),
        ("tagUuid" = Uuid, Path, description = TAG),
    ),
    request_body = UpdateBody,
    responses(
        (status = 200, description = "Changed.", body = json::OkEmpty),
        (status = 403, description = "The caller may not manage the project's tags.", body = LightdashError),
        (status = 404, description = "No such project or tag, or one the caller may not see.", body = LightdashError),
        (status = 409, description = "A tag with this name exists in the project.", body = LightdashError),
    ),
)]
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

/// DELETE /api/v1/projects/{projectUuid}/tags/{tagUuid}: deletes a tag; 204.
#[utoipa::path(
    delete,
    path = "/api/v1/projects/{projectUuid}/tags/{tagUuid}",
    tag = "Lightdash: Tags",
    operation_id = "deleteTag",
    params(
        ("projectUuid" = Uuid, Path, description = PROJECT),
        ("tagUuid" = Uuid, Path, description = TAG),
    ),
    responses(
        (status = 204, description = "Deleted."),
        (status = 403, description = "The caller may not manage the project's tags.", body = LightdashError),
        (status = 404, description = "No such project or tag, or one the caller may not see.", body = LightdashError),
    ),
)]
async fn delete(caller: Caller, Path((project_uuid, tag_uuid)): Ids) -> Reply {
    let msg = pb::DeleteTagRequest {
        project_uuid,
        tag_uuid,
    };
    caller.projects().delete_tag(msg).await?;
    Ok(json::no_content())
}

/// PUT /api/v1/projects/{projectUuid}/tags/yaml: replaces the tags from the project's YAML.
#[utoipa::path(
    put,
    path = "/api/v1/projects/{projectUuid}/tags/yaml",
    tag = "Lightdash: Tags",
    operation_id = "replaceYamlTags",
    params(("projectUuid" = Uuid, Path, description = PROJECT)),
    request_body = Vec<YamlTag>,
    responses(
        (status = 200, description = "Replaced.", body = json::OkEmpty),
        (status = 403, description = "The caller may not manage the project's tags.", body = LightdashError),
        (status = 404, description = "No such project, or one the caller may not see.", body = LightdashError),
        (status = 409, description = "A name is taken by a tag not from the YAML, or given twice.", body = LightdashError),
    ),
)]
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
