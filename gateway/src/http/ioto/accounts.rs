//! `POST /account/{create,get,find,updateIdentity,close}`: accounts as the seed 004 face sees
//! them. Ids are the services' uuids; `id` and `email` lookups need the owner role (an
//! operator token), as the seed's role column says.

use axum::{
    Router,
    extract::State,
    http::StatusCode,
    response::IntoResponse,
    routing::{MethodRouter, any, post},
};
use proto::identity::v1::{self as pb, OrganizationRole};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Args, Ioto, IotoCaller, IotoError, Reply, time};
use crate::http::{
    AppState,
    extract::{In, Query},
};

/// The routes of the account controller; any other action of it answers 404 in the face's shape.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/account/create", only_post(post(create)))
        .route("/account/get", only_post(post(get)))
        .route("/account/find", only_post(post(find)))
        .route("/account/updateIdentity", only_post(post(update_identity)))
        .route("/account/close", only_post(post(close)))
        .route(
            "/account/{action}",
            any(|| async { IotoError::new(StatusCode::NOT_FOUND, "Unknown account action") }),
        )
}

/// Every call is a POST: another method answers 405 in the face's shape.
fn only_post(route: MethodRouter<AppState>) -> MethodRouter<AppState> {
    route.fallback(|| async {
        IotoError::new(StatusCode::METHOD_NOT_ALLOWED, "Use POST for every call")
    })
}

fn owner_only() -> IotoError {
    IotoError::forbidden("id and email need the owner role")
}

fn not_found() -> IotoError {
    IotoError::new(StatusCode::NOT_FOUND, "account not found")
}

/// An account id of a request: a uuid, or an account that cannot exist (404).
fn account_id(id: Option<String>) -> Result<String, IotoError> {
    match id {
        None => Ok(String::new()),
        Some(id) => uuid::Uuid::parse_str(id.trim())
            .map(|u| u.to_string())
            .map_err(|_| not_found()),
    }
}

/// `{email, name}` of `/account/create`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateArgs {
    email: String,
    name: String,
}

/// `{id?, email?}` of `/account/get` and `/account/find`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Lookup {
    id: Option<String>,
    email: Option<String>,
}

impl Lookup {
    fn names_one(&self) -> bool {
        self.id.is_some() || self.email.is_some()
    }
}

/// `{id?, email?, name?}` of `/account/updateIdentity`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct IdentityArgs {
    id: Option<String>,
    email: Option<String>,
    name: Option<String>,
}

/// `{id?}` of `/account/close`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CloseArgs {
    id: Option<String>,
}

/// The seed's database index option: `primary` (by id) or `gs1` (by email). Accepted, and
/// without effect: the service picks its index.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Index {
    Primary,
    Gs1,
}

/// The seed's `exists` option: `true` (the item must exist: it must, here), `false` or `null`
/// (an upsert, which a lookup never does). Accepted, and without effect.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Exists {
    True,
    False,
    Null,
}

/// The query string options of `/account/get`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // Accepted for compatibility and validated; they change nothing.
struct GetOptions {
    index: Option<Index>,
    exists: Option<Exists>,
}

/// The query string options of `/account/find`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FindOptions {
    filter: Option<String>,
    limit: Option<u32>,
    next: Option<String>,
    prev: Option<String>,
    #[allow(dead_code)] // Accepted for compatibility and validated; it changes nothing.
    index: Option<Index>,
    #[allow(dead_code)]
    exists: Option<Exists>,
}

/// An account in the seed's fields. `activity` is the time of its last change; `cloudId` is
/// always null: this platform has no device clouds.
fn account(a: &pb::Account) -> Value {
    json!({
        "activity": time(a.updated_at.as_ref()),
        "closed": a.closed,
        "cloudId": null,
        "created": time(a.created_at.as_ref()),
        "email": a.email,
        "id": a.organization_uuid,
        "name": a.name,
    })
}

/// A user in the seed's fields: `role` is `admin` for an organization admin, `user` for every
/// other role.
fn user(u: &pb::AccountUser) -> Value {
    let role = match OrganizationRole::try_from(u.organization_role) {
        Ok(OrganizationRole::Admin) => "admin",
        _ => "user",
    };
    json!({
        "accountId": u.organization_uuid,
        "activity": time(u.updated_at.as_ref()),
        "cloudId": null,
        "email": u.email,
        "first": u.first_name,
        "id": u.user_uuid,
        "last": u.last_name,
        "role": role,
    })
}

fn ok(body: Value) -> Reply {
    Ok(axum::Json(body).into_response())
}

/// `/account/create` (owner): a top-level account and its first user, an admin mailed an
/// invitation to set a password.
async fn create(
    State(state): State<AppState>,
    caller: IotoCaller,
    Args(args): Args<CreateArgs>,
) -> Reply {
    let msg = pb::CreateAccountRequest {
        name: args.name,
        email: args.email,
        invitation_link_base: state.settings.public_url.clone(),
    };
    let made = caller.0.accounts().create_account(msg).await?.into_inner();
    let (Some(a), Some(u)) = (made.account, made.user) else {
        return Err(IotoError::internal());
    };
    ok(json!({ "account": account(&a), "user": user(&u) }))
}

/// `/account/get`: the caller's account, or (owner) the account with `id` or `email`; a closed
/// account answers the owner `{id, closed: true}` and nothing else.
async fn get(
    caller: IotoCaller,
    In(Query(_options), ..): In<Ioto, Query<GetOptions>>,
    Args(args): Args<Lookup>,
) -> Reply {
    if args.names_one() && !caller.is_owner() {
        return Err(owner_only());
    }
    let msg = pb::GetAccountRequest {
        organization_uuid: account_id(args.id)?,
        email: args.email,
    };
    let got = caller.0.accounts().get_account(msg).await?.into_inner();
    if got.closed {
        return ok(json!({ "id": got.organization_uuid, "closed": true }));
    }
    ok(account(&got))
}

/// A paging cursor handed out by a previous `/account/find`: an account id.
fn cursor(name: &str, value: Option<String>) -> Result<Option<String>, IotoError> {
    value
        .map(|v| {
            uuid::Uuid::parse_str(&v)
                .map(|u| u.to_string())
                .map_err(|_| {
                    IotoError::bad_request(format!(
                        "{name} must be a cursor from a previous answer"
                    ))
                })
        })
        .transpose()
}

/// `/account/find`: a page of the accounts the caller may list (an owner: every account; an
/// admin: theirs and those below it; a member: theirs), narrowed by `filter` and (owner)
/// `id` or `email`. `{data, next, prev}`: pass `next` or `prev` back as the query option of
/// the same name.
async fn find(
    caller: IotoCaller,
    In(Query(o), ..): In<Ioto, Query<FindOptions>>,
    Args(args): Args<Lookup>,
) -> Reply {
    if args.names_one() && !caller.is_owner() {
        return Err(owner_only());
    }
    let id = args
        .id
        .map(|id| {
            uuid::Uuid::parse_str(id.trim())
                .map(|u| u.to_string())
                .map_err(|_| IotoError::bad_request("id must be an account id"))
        })
        .transpose()?;
    let msg = pb::ListAccountsRequest {
        limit: match o.limit {
            Some(0) => return Err(IotoError::bad_request("limit must be between 1 and 100")),
            l => l.unwrap_or(0),
        },
        after: cursor("next", o.next)?,
        before: cursor("prev", o.prev)?,
        filter: o.filter,
        organization_uuid: id,
        email: args.email,
    };
    let page = caller.0.accounts().list_accounts(msg).await?.into_inner();
    let data: Vec<Value> = page.accounts.iter().map(account).collect();
    ok(json!({ "data": data, "next": page.after, "prev": page.before }))
}

/// `/account/updateIdentity`: the name and email of the caller's account, or of the account
/// `id` names (one they administer; an owner: any).
async fn update_identity(caller: IotoCaller, Args(args): Args<IdentityArgs>) -> Reply {
    if args.email.is_none() && args.name.is_none() {
        return Err(IotoError::bad_request("give email or name to change"));
    }
    let msg = pb::UpdateAccountRequest {
        organization_uuid: account_id(args.id)?,
        name: args.name,
        email: args.email,
        ..pb::UpdateAccountRequest::default()
    };
    let updated = caller.0.accounts().update_account(msg).await?.into_inner();
    ok(account(&updated))
}

/// `/account/close`: closes the caller's account, or the one `id` names (one they administer;
/// an owner: any), with everything below it, for good: `{id, closed: true}`.
async fn close(caller: IotoCaller, Args(args): Args<CloseArgs>) -> Reply {
    let id = match account_id(args.id)? {
        id if id.is_empty() => {
            let own = pb::GetAccountRequest::default();
            let got = caller.0.accounts().get_account(own).await?.into_inner();
            got.organization_uuid
        }
        id => id,
    };
    let msg = pb::CloseAccountRequest {
        organization_uuid: id.clone(),
    };
    caller.0.accounts().close_account(msg).await?;
    ok(json!({ "id": id, "closed": true }))
}

pub(crate) mod fuzz;
#[cfg(test)]
mod proptests;
