//! Personal access tokens of the authenticated user.

use axum::{
    extract::State,
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use proto::identity::v1 as pb;
use serde::Deserialize;

use super::{
    ApiResult, AppState,
    extract::{AppJson, AppPath, Caller},
    json,
};

/// `CreatePersonalAccessToken`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct CreateBody {
    description: String,
    #[serde(default)]
    expires_at: Option<DateTime<Utc>>,
    #[serde(default)]
    auto_generated: Option<bool>,
}

/// The body of a rotation.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct RotateBody {
    expires_at: DateTime<Utc>,
}

/// GET /api/v1/user/me/personal-access-tokens
pub(super) async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    let res = state
        .identity
        .rpc()
        .list_personal_access_tokens(
            state
                .identity
                .as_user(pb::ListPersonalAccessTokensRequest {}, &caller),
        )
        .await?
        .into_inner();
    let tokens: Vec<_> = res.tokens.iter().map(json::personal_access_token).collect();
    Ok(json::ok(tokens).into_response())
}

/// POST /api/v1/user/me/personal-access-tokens: the secret is in this answer only.
pub(super) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    AppJson(body): AppJson<CreateBody>,
) -> ApiResult<Response> {
    let msg = pb::CreatePersonalAccessTokenRequest {
        description: body.description,
        expires_at: body.expires_at.map(json::to_proto_time),
        auto_generated: body.auto_generated.unwrap_or(false),
    };
    let res = state
        .identity
        .rpc()
        .create_personal_access_token(state.identity.as_user(msg, &caller))
        .await?;
    Ok(json::ok(json::personal_access_token_with_secret(res.get_ref())).into_response())
}

/// DELETE /api/v1/user/me/personal-access-tokens/{personalAccessTokenUuid}
pub(super) async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(uuid): AppPath<String>,
) -> ApiResult<Response> {
    let msg = pb::DeletePersonalAccessTokenRequest { uuid };
    state
        .identity
        .rpc()
        .delete_personal_access_token(state.identity.as_user(msg, &caller))
        .await?;
    Ok(json::ok_empty().into_response())
}

/// PATCH /api/v1/user/me/personal-access-tokens/{personalAccessTokenUuid}/rotate
pub(super) async fn rotate(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(uuid): AppPath<String>,
    AppJson(body): AppJson<RotateBody>,
) -> ApiResult<Response> {
    let msg = pb::RotatePersonalAccessTokenRequest {
        uuid,
        expires_at: Some(json::to_proto_time(body.expires_at)),
    };
    let res = state
        .identity
        .rpc()
        .rotate_personal_access_token(state.identity.as_user(msg, &caller))
        .await?;
    Ok(json::ok(json::personal_access_token_with_secret(res.get_ref())).into_response())
}
