//! `/api/v1/accounts…`: accounts, sub-accounts, their allowed access IPs and invitations into
//! them.

use axum::{
    Router,
    extract::State,
    http::StatusCode,
    response::IntoResponse,
    routing::{delete, get, post},
};
use proto::identity::v1 as pb;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Envelope, Reply, Swift, SwiftError, list, one, time, ulid, uuid_of};
use crate::http::{
    AppState,
    extract::{Body, Caller, ClientAddress, In, Path, Query},
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

/// `data` of a create.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateData {
    name: String,
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

/// `data` of a new allowed IP.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AllowedIpData {
    cidr: String,
    #[serde(default)]
    description: String,
}

/// `data` of an invitation: the role defaults to member.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InvitationData {
    email: String,
    role: Option<String>,
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

/// The uuid of an account named in a path: an id that is no ULID names no account.
fn account_uuid(id: &str) -> Result<String, SwiftError> {
    uuid_of(id).ok_or_else(|| SwiftError::new(StatusCode::NOT_FOUND, "account not found"))
}

/// A paging cursor: an account id.
fn cursor(name: &str, id: Option<String>) -> Result<Option<String>, SwiftError> {
    id.map(|id| {
        uuid_of(&id).ok_or_else(|| SwiftError::bad_request(format!("{name} must be an account id")))
    })
    .transpose()
}

/// `POST /api/v1/accounts`: a sub-account under the caller's account (201).
async fn create(
    In(caller, ..): Authed,
    Body(body, ..): Body<Swift, Envelope<CreateData>>,
) -> Reply {
    let data = body.of("account")?;
    let msg = pb::CreateSubAccountRequest {
        name: data.name,
        parent_uuid: None,
    };
    let created = caller
        .accounts()
        .create_sub_account(msg)
        .await?
        .into_inner();
    Ok((
        StatusCode::CREATED,
        axum::Json(one("account", account(&created))),
    )
        .into_response())
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
async fn get_account(In(caller, ..): Authed, In(Path(id), ..): In<Swift, Path<String>>) -> Reply {
    let msg = pb::GetAccountRequest {
        organization_uuid: account_uuid(&id)?,
    };
    let found = caller.accounts().get_account(msg).await?.into_inner();
    Ok(axum::Json(one("account", account(&found))).into_response())
}

/// `PATCH /api/v1/accounts/{id}`: the name and the access flags.
async fn update(
    In(caller, ..): Authed,
    In(Path(id), ..): In<Swift, Path<String>>,
    ClientAddress(address): ClientAddress,
    Body(body, ..): Body<Swift, Envelope<UpdateData>>,
) -> Reply {
    let data = body.of("account")?;
    let msg = pb::UpdateAccountRequest {
        organization_uuid: account_uuid(&id)?,
        name: data.name,
        legacy_access: data.legacy_access,
        lrn_access: data.lrn_access,
        mms_access: data.mms_access,
        sms_access: data.sms_access,
        require_ip_api_access: data.require_ip_api_access,
        require_ip_gql_access: data.require_ip_gql_access,
        client_address: address,
    };
    let updated = caller.accounts().update_account(msg).await?.into_inner();
    Ok(axum::Json(one("account", account(&updated))).into_response())
}

/// `GET /api/v1/accounts/{id}/allowed_ips`: every entry (at most 100), as one page.
async fn list_allowed_ips(
    In(caller, ..): Authed,
    In(Path(id), ..): In<Swift, Path<String>>,
) -> Reply {
    let msg = pb::ListAllowedIpsRequest {
        organization_uuid: account_uuid(&id)?,
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
    In(Path(id), ..): In<Swift, Path<String>>,
    Body(body, ..): Body<Swift, Envelope<AllowedIpData>>,
) -> Reply {
    let data = body.of("allowed_ip")?;
    let msg = pb::AddAllowedIpRequest {
        organization_uuid: account_uuid(&id)?,
        cidr: data.cidr,
        description: data.description,
    };
    let added = caller.accounts().add_allowed_ip(msg).await?.into_inner();
    Ok((
        StatusCode::CREATED,
        axum::Json(one("allowed_ip", allowed_ip(&added))),
    )
        .into_response())
}

/// `DELETE /api/v1/accounts/{id}/allowed_ips/{ipId}` (204).
async fn delete_allowed_ip(
    In(caller, ..): Authed,
    In(Path((id, ip_id)), ..): In<Swift, Path<(String, String)>>,
) -> Reply {
    let msg = pb::DeleteAllowedIpRequest {
        organization_uuid: account_uuid(&id)?,
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
    In(Path(id), ..): In<Swift, Path<String>>,
    Body(body, ..): Body<Swift, Envelope<InvitationData>>,
) -> Reply {
    let data = body.of("invitation")?;
    let msg = pb::CreateAccountInvitationRequest {
        organization_uuid: account_uuid(&id)?,
        organization_role: invited_role(data.role.as_deref())?,
        email: data.email,
    };
    let created = caller
        .accounts()
        .create_account_invitation(msg)
        .await?
        .into_inner();
    Ok((
        StatusCode::CREATED,
        axum::Json(one("invitation", invitation(&state, &created))),
    )
        .into_response())
}
