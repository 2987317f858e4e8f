//! `/api/v1/accounts…`: accounts, sub-accounts, their allowed access IPs and invitations into
//! them.

use axum::{
    Router,
    extract::{FromRequest, FromRequestParts, Request, State},
    http::{StatusCode, request::Parts},
    response::IntoResponse,
    routing::{delete, get, post},
};
use proto::identity::v1 as pb;
use serde::{Deserialize, de::DeserializeOwned};
use serde_json::{Value, json};

use super::{Envelope, Reply, Swift, SwiftError, list, one, time, ulid, uuid_of};
use crate::http::{
    AppState,
    extract::{Body, Caller, In, Path, Query},
    invited_role,
};

/// The routes of accounts and their allowed IPs.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/accounts", get(list_accounts).post(create))
        .route("/api/v1/accounts/{id}", get(get_account).patch(update))
        .route(
            "/api/v1/accounts/{id}/allowed_ips",
            get(list_allowed_ips).post(add_allowed_ip),
        )
        .route(
            "/api/v1/accounts/{id}/allowed_ips/{ipId}",
            delete(delete_allowed_ip),
        )
        .route("/api/v1/accounts/{id}/invitations", post(invite))
}

type Authed = In<Swift, Caller>;

/// The `data` of a request body whose envelope must name `T::TYPE`.
struct Data<T>(T);

/// A request body's `data`, and the `type` its envelope names.
trait Typed: DeserializeOwned {
    const TYPE: &'static str;
}

impl<S: Send + Sync, T: Typed> FromRequest<S> for Data<T> {
    type Rejection = SwiftError;

    async fn from_request(req: Request, state: &S) -> Result<Self, SwiftError> {
        let Body(envelope, ..) = Body::<Swift, Envelope<T>>::from_request(req, state).await?;
        envelope.of(T::TYPE).map(Self)
    }
}

/// The account a path's `{id}` names (a ULID), as the services' uuid: an id that is no ULID
/// names no account (404).
struct AccountId(String);

impl<S: Send + Sync> FromRequestParts<S> for AccountId {
    type Rejection = SwiftError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, SwiftError> {
        let In(Path(params), ..) =
            In::<Swift, Path<std::collections::HashMap<String, String>>>::from_request_parts(
                parts, state,
            )
            .await?;
        let id = params.get("id").map(String::as_str).unwrap_or_default();
        uuid_of(id)
            .map(Self)
            .ok_or_else(|| SwiftError::new(StatusCode::NOT_FOUND, "account not found"))
    }
}

/// 200 with one object of `kind`.
fn found(kind: &str, data: Value) -> Reply {
    Ok(axum::Json(one(kind, data)).into_response())
}

/// 201 with one object of `kind`.
fn created(kind: &str, data: Value) -> Reply {
    Ok((StatusCode::CREATED, axum::Json(one(kind, data))).into_response())
}

/// `data` of a create.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateData {
    name: String,
}

impl Typed for CreateData {
    const TYPE: &'static str = "account";
}

/// `data` of a change: every field optional.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateData {
    name: Option<String>,
    legacy_access: Option<bool>,
    lrn_access: Option<bool>,
    mms_access: Option<String>,
    sms_access: Option<String>,
    require_ip_api_access: Option<bool>,
    require_ip_gql_access: Option<bool>,
}

impl Typed for UpdateData {
    const TYPE: &'static str = "account";
}

/// `data` of a new allowed IP.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AllowedIpData {
    cidr: String,
    #[serde(default)]
    description: String,
}

impl Typed for AllowedIpData {
    const TYPE: &'static str = "allowed_ip";
}

/// `data` of an invitation: the role defaults to member.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InvitationData {
    email: String,
    role: Option<String>,
}

impl Typed for InvitationData {
    const TYPE: &'static str = "invitation";
}

/// The query of a listing.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Paging {
    limit: Option<u32>,
    after: Option<String>,
    before: Option<String>,
}

fn account(a: &pb::Account) -> Value {
    json!({
        "customer_id": a.customer_id,
        "id": ulid(&a.organization_uuid),
        "inserted_at": time(a.created_at.as_ref()),
        "legacy_access": a.legacy_access,
        "lrn_access": a.lrn_access,
        "mms_access": a.mms_access,
        "name": a.name,
        "require_ip_api_access": a.require_ip_api_access,
        "require_ip_gql_access": a.require_ip_gql_access,
        "sms_access": a.sms_access,
        "updated_at": time(a.updated_at.as_ref()),
    })
}

fn allowed_ip(ip: &pb::AllowedIp) -> Value {
    json!({
        "id": ulid(&ip.allowed_ip_uuid),
        "account_id": ulid(&ip.organization_uuid),
        "cidr": ip.cidr,
        "description": ip.description,
        "inserted_at": time(ip.created_at.as_ref()),
    })
}

/// An invitation: what the Lightdash face answers for one, in this face's words (snake_case,
/// ULID ids: `account_id` is the account invited into, `user_id` the invited user).
fn invitation(state: &AppState, i: &pb::InviteLink) -> Value {
    json!({
        "account_id": ulid(&i.organization_uuid),
        "email": i.email,
        "expires_at": time(i.expires_at.as_ref()),
        "invite_code": i.invite_code,
        "invite_url": state.settings.invite_url(&i.invite_code),
        "user_id": ulid(&i.user_uuid),
    })
}

/// A paging cursor: an account id.
fn cursor(name: &str, id: Option<String>) -> Result<Option<String>, SwiftError> {
    id.map(|id| {
        uuid_of(&id).ok_or_else(|| SwiftError::bad_request(format!("{name} must be an account id")))
    })
    .transpose()
}

/// `POST /api/v1/accounts`: a sub-account under the caller's account (201).
async fn create(In(caller, ..): Authed, Data(data): Data<CreateData>) -> Reply {
    let msg = pb::CreateSubAccountRequest {
        name: data.name,
        parent_uuid: None,
    };
    let sub = caller.accounts().create_sub_account(msg).await?;
    created("account", account(sub.get_ref()))
}

/// `GET /api/v1/accounts`: the caller's account and those below it, a page at a time.
async fn list_accounts(
    In(caller, ..): Authed,
    In(Query(q), ..): In<Swift, Query<Paging>>,
) -> Reply {
    let msg = pb::ListAccountsRequest {
        limit: q.limit.unwrap_or(0),
        after: cursor("after", q.after)?,
        before: cursor("before", q.before)?,
        ..pb::ListAccountsRequest::default()
    };
    let page = caller.accounts().list_accounts(msg).await?.into_inner();
    let page_info = json!({
        "after": page.after.as_deref().map(ulid),
        "before": page.before.as_deref().map(ulid),
        "limit": page.limit,
        "total": page.total,
    });
    let items = page.accounts.iter().map(account).collect();
    Ok(axum::Json(list("account", items, page_info)).into_response())
}

/// `GET /api/v1/accounts/{id}`.
async fn get_account(In(caller, ..): Authed, AccountId(id): AccountId) -> Reply {
    let msg = pb::GetAccountRequest {
        organization_uuid: id,
        email: None,
    };
    let got = caller.accounts().get_account(msg).await?.into_inner();
    // Only an operator learns that an account was closed; this face has no way to say it, and
    // a closed account is gone: as for anyone else, it is not found.
    if got.closed {
        return Err(SwiftError::new(StatusCode::NOT_FOUND, "account not found"));
    }
    found("account", account(&got))
}

/// `PATCH /api/v1/accounts/{id}`: the name and the access flags.
async fn update(
    In(caller, ..): Authed,
    AccountId(id): AccountId,
    Data(data): Data<UpdateData>,
) -> Reply {
    let msg = pb::UpdateAccountRequest {
        organization_uuid: id,
        name: data.name,
        legacy_access: data.legacy_access,
        lrn_access: data.lrn_access,
        mms_access: data.mms_access,
        sms_access: data.sms_access,
        require_ip_api_access: data.require_ip_api_access,
        require_ip_gql_access: data.require_ip_gql_access,
        email: None,
    };
    let updated = caller.accounts().update_account(msg).await?;
    found("account", account(updated.get_ref()))
}

/// `GET /api/v1/accounts/{id}/allowed_ips`: every entry (at most 100), as one page.
async fn list_allowed_ips(In(caller, ..): Authed, AccountId(id): AccountId) -> Reply {
    let msg = pb::ListAllowedIpsRequest {
        organization_uuid: id,
    };
    let ips = caller.accounts().list_allowed_ips(msg).await?.into_inner();
    let total = ips.allowed_ips.len();
    let items = ips.allowed_ips.iter().map(allowed_ip).collect();
    let page_info = json!({ "after": null, "before": null, "limit": total, "total": total });
    Ok(axum::Json(list("allowed_ip", items, page_info)).into_response())
}

/// `POST /api/v1/accounts/{id}/allowed_ips` (201).
async fn add_allowed_ip(
    In(caller, ..): Authed,
    AccountId(id): AccountId,
    Data(data): Data<AllowedIpData>,
) -> Reply {
    let msg = pb::AddAllowedIpRequest {
        organization_uuid: id,
        cidr: data.cidr,
        description: data.description,
    };
    let added = caller.accounts().add_allowed_ip(msg).await?;
    created("allowed_ip", allowed_ip(added.get_ref()))
}

/// `DELETE /api/v1/accounts/{id}/allowed_ips/{ipId}` (204).
async fn delete_allowed_ip(
    In(caller, ..): Authed,
    AccountId(id): AccountId,
    In(Path((_, ip_id)), ..): In<Swift, Path<(String, String)>>,
) -> Reply {
    let msg = pb::DeleteAllowedIpRequest {
        organization_uuid: id,
        allowed_ip_uuid: uuid_of(&ip_id)
            .ok_or_else(|| SwiftError::new(StatusCode::NOT_FOUND, "allowed IP not found"))?,
    };
    caller.accounts().delete_allowed_ip(msg).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /api/v1/accounts/{id}/invitations` (201): invites an email address into an account the
/// caller administers; the answer holds the invitation code, shown this once.
async fn invite(
    State(state): State<AppState>,
    In(caller, ..): Authed,
    AccountId(id): AccountId,
    Data(data): Data<InvitationData>,
) -> Reply {
    let msg = pb::CreateAccountInvitationRequest {
        organization_uuid: id,
        organization_role: invited_role(data.role.as_deref())?,
        email: data.email,
    };
    let invited = caller.accounts().create_account_invitation(msg).await?;
    created("invitation", invitation(&state, invited.get_ref()))
}

pub(crate) mod fuzz;
#[cfg(test)]
mod proptests;
