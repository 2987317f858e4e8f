//! Personal access tokens of the authenticated user.

use chrono::{DateTime, Utc};
use proto::identity::v1 as pb;

use super::prelude::*;

/// `/api/v1/user/me/personal-access-tokens…`.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/user/me/personal-access-tokens",
            get(list).post(create),
        )
        .route(
            "/api/v1/user/me/personal-access-tokens/{personalAccessTokenUuid}",
            delete(delete_token),
        )
        .route(
            "/api/v1/user/me/personal-access-tokens/{personalAccessTokenUuid}/rotate",
            patch(rotate),
        )
}

/// `CreatePersonalAccessToken`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateBody {
    description: String,
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
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RotateBody {
    expires_at: DateTime<Utc>,
}

/// GET /api/v1/user/me/personal-access-tokens
async fn list(caller: Caller) -> Reply {
    let msg = pb::ListPersonalAccessTokensRequest {};
    let res = caller.identity().list_personal_access_tokens(msg).await?;
    Ok(json::ok(json::each(
        &res.get_ref().tokens,
        json::personal_access_token,
    )))
}

/// POST /api/v1/user/me/personal-access-tokens: the secret is in this answer only.
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

/// DELETE /api/v1/user/me/personal-access-tokens/{personalAccessTokenUuid}
async fn delete_token(caller: Caller, Path(uuid): Id) -> Reply {
    let msg = pb::DeletePersonalAccessTokenRequest { uuid };
    caller.identity().delete_personal_access_token(msg).await?;
    Ok(json::ok_empty())
}

/// PATCH /api/v1/user/me/personal-access-tokens/{personalAccessTokenUuid}/rotate
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
