//! Personal access tokens of the authenticated user.

use chrono::{DateTime, Utc};
use proto::identity::v1 as pb;

use super::prelude::*;

/// `/api/v1/user/me/personal-access-tokens…`.
pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(delete_token))
        .routes(routes!(rotate))
}

/// `CreatePersonalAccessToken`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = CreatePersonalAccessToken)]
struct CreateBody {
    description: String,
    /// When the token stops working; none: never.
    #[serde(default)]
    expires_at: Option<DateTime<Utc>>,
    #[serde(default)]
    auto_generated: Option<bool>,
    /// Ours (issue #18): `read`, `write`, `admin`; absent or null: `admin`. identity-svc
    /// validates the names (400 for an unknown one or an empty list).
    #[serde(default)]
    scopes: Option<Vec<String>>,
}

/// The body of a rotation.
#[derive(Deserialize, ToSchema)]
#[schema(as = RotatePersonalAccessToken)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RotateBody {
    expires_at: DateTime<Utc>,
}

/// GET /api/v1/user/me/personal-access-tokens: the caller's tokens, without their secrets.
#[utoipa::path(
    get,
    path = "/api/v1/user/me/personal-access-tokens",
    tag = "Lightdash: Personal Access Tokens",
    operation_id = "ListPersonalAccessTokens",
    responses((status = 200, description = "The caller's tokens.", body = json::Ok<Vec<json::PersonalAccessToken>>)),
)]
async fn list(caller: Caller) -> Reply {
    let msg = pb::ListPersonalAccessTokensRequest {};
    let res = caller.identity().list_personal_access_tokens(msg).await?;
    Ok(json::ok(json::each(
        &res.get_ref().tokens,
        json::personal_access_token,
    )))
}

/// POST /api/v1/user/me/personal-access-tokens: creates a token; its secret is in this answer
/// only. A token cannot create tokens (a session or an access JWT from a password can).
#[utoipa::path(
    post,
    path = "/api/v1/user/me/personal-access-tokens",
    tag = "Lightdash: Personal Access Tokens",
    operation_id = "CreatePersonalAccessToken",
    // A personal access token never manages tokens (403), whatever its scopes.
    security(("bearer" = []), ("session_cookie" = [])),
    request_body = CreateBody,
    responses(
        (status = 200, description = "The new token with its secret.", body = json::Ok<json::PersonalAccessTokenWithToken>),
        (status = 403, description = "Presented by a token, or by a sign-in older than the recent-login window.", body = LightdashError),
        (status = 429, description = "Too many tokens created; `Retry-After` says when to try again.", body = LightdashError),
    ),
)]
async fn create(caller: Caller, Json(body): Json<CreateBody>) -> Reply {
    let msg = pb::CreatePersonalAccessTokenRequest {
        description: body.description,
        expires_at: body.expires_at.map(json::to_proto_time),
        auto_generated: body.auto_generated.unwrap_or(false),
        scopes: body.scopes.map(|scopes| pb::TokenScopes { scopes }),
    };
    let res = caller.identity().create_personal_access_token(msg).await?;
    Ok(json::ok(json::personal_access_token_with_secret(
        res.get_ref(),
    )))
}

/// DELETE /api/v1/user/me/personal-access-tokens/{personalAccessTokenUuid}: revokes a token.
#[utoipa::path(
    delete,
    path = "/api/v1/user/me/personal-access-tokens/{personalAccessTokenUuid}",
    tag = "Lightdash: Personal Access Tokens",
    operation_id = "DeletePersonalAccessToken",
    // A personal access token never manages tokens (403), whatever its scopes.
    security(("bearer" = []), ("session_cookie" = [])),
    params(("personalAccessTokenUuid" = Uuid, Path, description = "The token's uuid.")),
    responses(
        (status = 200, description = "Revoked.", body = json::OkEmpty),
        (status = 403, description = "Presented by a token, or by a sign-in older than the recent-login window.", body = LightdashError),
        (status = 404, description = "The caller has no such token.", body = LightdashError),
    ),
)]
async fn delete_token(caller: Caller, Path(uuid): Id) -> Reply {
    let msg = pb::DeletePersonalAccessTokenRequest { uuid };
    caller.identity().delete_personal_access_token(msg).await?;
    Ok(json::ok_empty())
}

/// PATCH /api/v1/user/me/personal-access-tokens/{personalAccessTokenUuid}/rotate: a new secret
/// for the token; the old one stops working.
#[utoipa::path(
    patch,
    path = "/api/v1/user/me/personal-access-tokens/{personalAccessTokenUuid}/rotate",
    tag = "Lightdash: Personal Access Tokens",
    operation_id = "RotatePersonalAccessToken",
    // A personal access token never manages tokens (403), whatever its scopes.
    security(("bearer" = []), ("session_cookie" = [])),
    params(("personalAccessTokenUuid" = Uuid, Path, description = "The token's uuid.")),
    request_body = RotateBody,
    responses(
        (status = 200, description = "The token with its new secret.", body = json::Ok<json::PersonalAccessTokenWithToken>),
        (status = 403, description = "Presented by a token, or by a sign-in older than the recent-login window.", body = LightdashError),
        (status = 404, description = "The caller has no such token.", body = LightdashError),
    ),
)]
async fn rotate(caller: Caller, Path(uuid): Id, Json(body): Json<RotateBody>) -> Reply {
    let msg = pb::RotatePersonalAccessTokenRequest {
        uuid,
        expires_at: Some(json::to_proto_time(body.expires_at)),
    };
    let res = caller.identity().rotate_personal_access_token(msg).await?;
    Ok(json::ok(json::personal_access_token_with_secret(
        res.get_ref(),
    )))
}
