//! `POST /account/{create,get,find,updateIdentity,close}`: accounts as the seed 004 face sees
//! them. Ids are the services' uuids; `id` and `email` lookups need the owner role (an
//! operator token), as the seed's role column says.

use axum::{extract::State, http::StatusCode, response::IntoResponse, routing::any};
use proto::identity::v1::{self as pb, OrganizationRole};
use serde::{Deserialize, Serialize};
use utoipa::{
    IntoParams, ToSchema,
    openapi::{RefOr, Required},
};
use utoipa_axum::{
    router::{OpenApiRouter, UtoipaMethodRouter},
    routes,
};

use super::{Args, ErrorBody, Ioto, IotoCaller, IotoError, Reply, Time, time};
use crate::http::{
    AppState,
    extract::{In, Query},
};

/// The routes of the account controller; any other action of it answers 404 in the face's shape.
pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(only_post(routes!(create)))
        .routes(only_post(optional_body(routes!(get))))
        .routes(only_post(optional_body(routes!(find))))
        .routes(only_post(routes!(update_identity)))
        .routes(only_post(optional_body(routes!(close))))
        // Not an operation: any other action, with any method, answers "no such action". The
        // document has no way to say "every other path segment" (issue #19's exception to
        // documenting every route).
        .route(
            "/account/{action}",
            any(|| async { IotoError::new(StatusCode::NOT_FOUND, "Unknown account action") }),
        )
}

/// Every call is a POST: another method answers 405 in the face's shape.
fn only_post(
    (schemas, paths, route): UtoipaMethodRouter<AppState>,
) -> UtoipaMethodRouter<AppState> {
    let route = route.fallback(|| async {
        IotoError::new(StatusCode::METHOD_NOT_ALLOWED, "Use POST for every call")
    });
    (schemas, paths, route)
}

/// The operations of `route` take an optional body: an empty one reads as `{}` ([`Args`]).
/// (An annotation cannot say so but with `Option<T>`, which would also allow a JSON `null`.)
fn optional_body(
    (schemas, mut paths, route): UtoipaMethodRouter<AppState>,
) -> UtoipaMethodRouter<AppState> {
    for item in paths.paths.values_mut() {
        let body = item.post.as_mut().and_then(|op| op.request_body.as_mut());
        if let Some(RefOr::T(body)) = body {
            body.required = Some(Required::False);
        }
    }
    (schemas, paths, route)
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
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = IotoCreateAccount)]
struct CreateArgs {
    /// The account's address and its first user's: unique among accounts and users.
    #[schema(example = "owner@example.com")]
    email: String,
    /// Trimmed, 1 to 255 characters, no control characters.
    #[schema(example = "Acme")]
    name: String,
}

/// `{id?, email?}` of `/account/get` and `/account/find`: either names one account (the owner
/// only); neither, the caller's own (`get`) or every account they may list (`find`).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = IotoLookup)]
struct Lookup {
    /// An account id (a uuid). Owner only.
    id: Option<String>,
    /// An account's address. Owner only.
    email: Option<String>,
}

impl Lookup {
    fn names_one(&self) -> bool {
        self.id.is_some() || self.email.is_some()
    }
}

/// `{id?, email?, name?}` of `/account/updateIdentity`: at least one of `email` and `name`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = IotoUpdateIdentity)]
struct IdentityArgs {
    /// The account to change (a uuid); none: the caller's own.
    id: Option<String>,
    /// The account's new address: unique among accounts and users.
    email: Option<String>,
    /// The account's new name: trimmed, 1 to 255 characters, no control characters.
    name: Option<String>,
}

/// `{id?}` of `/account/close`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = IotoCloseAccount)]
struct CloseArgs {
    /// The account to close (a uuid); none: the caller's own.
    id: Option<String>,
}

/// The seed's database index option: `primary` (by id) or `gs1` (by email). Accepted, and
/// without effect: the service picks its index.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = IotoIndex)]
enum Index {
    Primary,
    Gs1,
}

/// The seed's `exists` option: `true` (the item must exist: it must, here), `false` or `null`
/// (an upsert, which a lookup never does). Accepted, and without effect.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = IotoExists)]
enum Exists {
    True,
    False,
    Null,
}

/// The query string options of `/account/get`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // Accepted for compatibility and validated; they change nothing.
struct GetOptions {
    /// The seed's index option: accepted, without effect.
    #[param(inline)]
    index: Option<Index>,
    /// The seed's `exists` option: accepted, without effect.
    #[param(inline)]
    exists: Option<Exists>,
}

/// The query string options of `/account/find`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct FindOptions {
    /// A case-insensitive substring of the name or the email.
    filter: Option<String>,
    /// The page size, 1 to 100 (25 by default).
    #[param(minimum = 1, maximum = 100, example = 25)]
    limit: Option<u32>,
    /// A previous answer's `next`: the page after it.
    next: Option<String>,
    /// A previous answer's `prev`: the page before it. Not with `next`.
    prev: Option<String>,
    /// The seed's index option: accepted, without effect.
    #[allow(dead_code)] // Accepted for compatibility and validated; it changes nothing.
    #[param(inline)]
    index: Option<Index>,
    /// The seed's `exists` option: accepted, without effect.
    #[allow(dead_code)]
    #[param(inline)]
    exists: Option<Exists>,
}

/// An account in the seed's fields.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = IotoAccount)]
struct Account {
    /// The time of the account's last change.
    activity: Option<Time>,
    /// Always `false`: a closed account is answered as `IotoClosedAccount`.
    closed: bool,
    /// Always null: this platform has no device clouds.
    cloud_id: Option<String>,
    created: Option<Time>,
    /// Null for an account made without one (a Lightdash organization, a seed 003
    /// sub-account).
    #[schema(example = "owner@example.com")]
    email: Option<String>,
    #[schema(format = Uuid)]
    id: String,
    #[schema(example = "Acme")]
    name: String,
}

/// A closed account, as `/account/close` answers it and `/account/get` answers the owner: its
/// id, and nothing else remains.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = IotoClosedAccount)]
struct Closed {
    #[schema(format = Uuid)]
    id: String,
    /// Always `true`.
    #[schema(schema_with = super::always_true)]
    closed: bool,
}

impl Closed {
    fn new(id: String) -> Self {
        Self { id, closed: true }
    }
}

/// What `/account/get` answers: the account, or to the owner a closed one's tombstone.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
#[schema(as = IotoGetAccount)]
enum Got {
    Open(Account),
    Closed(Closed),
}

/// The role of a user in the seed's words: `admin` for an organization admin, `user` for
/// every other role.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = IotoRole)]
enum Role {
    Admin,
    User,
}

/// A user in the seed's fields.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = IotoUser)]
struct User {
    #[schema(format = Uuid)]
    account_id: String,
    /// The time of the user's last change.
    activity: Option<Time>,
    /// Always null: this platform has no device clouds.
    cloud_id: Option<String>,
    #[schema(example = "owner@example.com")]
    email: String,
    first: String,
    #[schema(format = Uuid)]
    id: String,
    last: String,
    role: Role,
}

/// What `/account/create` answers.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = IotoNewAccount)]
struct Created {
    account: Account,
    /// The account's first user, its admin, who was mailed an invitation to set a password.
    user: User,
}

/// A page of `/account/find`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = IotoAccountPage)]
struct Found {
    data: Vec<Account>,
    /// Pass as the `next` option for the page after this one; null when there is none.
    #[schema(format = Uuid)]
    next: Option<String>,
    /// Pass as the `prev` option for the page before this one; null when there is none.
    #[schema(format = Uuid)]
    prev: Option<String>,
}

/// An account in the seed's fields. `activity` is the time of its last change; `cloudId` is
/// always null: this platform has no device clouds.
fn account(a: &pb::Account) -> Account {
    Account {
        activity: time(a.updated_at.as_ref()),
        closed: a.closed,
        cloud_id: None,
        created: time(a.created_at.as_ref()),
        email: a.email.clone(),
        id: a.organization_uuid.clone(),
        name: a.name.clone(),
    }
}

/// A user in the seed's fields: `role` is `admin` for an organization admin, `user` for every
/// other role.
fn user(u: &pb::AccountUser) -> User {
    let role = match OrganizationRole::try_from(u.organization_role) {
        Ok(OrganizationRole::Admin) => Role::Admin,
        _ => Role::User,
    };
    User {
        account_id: u.organization_uuid.clone(),
        activity: time(u.updated_at.as_ref()),
        cloud_id: None,
        email: u.email.clone(),
        first: u.first_name.clone(),
        id: u.user_uuid.clone(),
        last: u.last_name.clone(),
        role,
    }
}

fn ok(body: impl Serialize) -> Reply {
    Ok(axum::Json(body).into_response())
}

/// POST /account/create: creates a top-level account and its first user (owner only).
///
/// In one transaction: the account with the email, a user with that email and no password who
/// is its admin, and an invitation mailed to them to set a password. If the mail cannot be
/// handed over, the account is closed again and the answer is 503.
#[utoipa::path(
    post,
    path = "/account/create",
    tag = "Accounts (Ioto)",
    operation_id = "createIotoAccount",
    request_body = CreateArgs,
    responses(
        (status = 200, description = "The new account and its first user.", body = Created),
        (status = 403, description = "The caller is not the owner (holds no operator token).", body = ErrorBody),
        (status = 409, description = "The email belongs to another account or to a user.", body = ErrorBody),
        (status = 415, description = "The body is not sent as JSON (`Content-Type: application/json`).", body = ErrorBody),
    ),
)]
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
    ok(Created {
        account: account(&a),
        user: user(&u),
    })
}

/// POST /account/get: the caller's account, or (owner) the account with `id` or `email`.
///
/// A closed account answers the owner `{id, closed: true}` and nothing else; anyone else is
/// answered 404, as for an account that never existed. An empty body reads as `{}`.
#[utoipa::path(
    post,
    path = "/account/get",
    tag = "Accounts (Ioto)",
    operation_id = "getIotoAccount",
    params(GetOptions),
    request_body(content = Lookup, description = "Optional: an empty body reads as `{}`."),
    responses(
        (status = 200, description = "The account; to the owner, a closed account's tombstone.", body = Got),
        (status = 400, description = "A malformed body or option; both `id` and `email`; the owner naming neither (an operator has no account of its own).", body = ErrorBody),
        (status = 403, description = "`id` or `email` from a caller who is not the owner; a caller who belongs to no account or calls from outside their account's allowed IPs.", body = ErrorBody),
        (status = 404, description = "No such account for the caller: unknown, closed, out of their sight, or an `id` that is no uuid.", body = ErrorBody),
        (status = 415, description = "A body not sent as JSON (`Content-Type: application/json`).", body = ErrorBody),
    ),
)]
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
        return ok(Got::Closed(Closed::new(got.organization_uuid)));
    }
    ok(Got::Open(account(&got)))
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

/// POST /account/find: a page of the accounts the caller may list, narrowed by `filter` and
/// (owner) `id` or `email`.
///
/// The owner lists every account, an admin theirs and those below it, a member theirs. Pass
/// the answer's `next` or `prev` back as the query option of the same name. An empty body
/// reads as `{}`.
#[utoipa::path(
    post,
    path = "/account/find",
    tag = "Accounts (Ioto)",
    operation_id = "findIotoAccounts",
    params(FindOptions),
    request_body(content = Lookup, description = "Optional: an empty body reads as `{}`."),
    responses(
        (status = 200, description = "A page of accounts.", body = Found),
        (status = 400, description = "A malformed body or option: `limit` outside 1 to 100, a cursor not from a previous answer, both `next` and `prev`, an `id` that is no uuid or an invalid `email`.", body = ErrorBody),
        (status = 403, description = "`id` or `email` from a caller who is not the owner; a caller who belongs to no account or calls from outside their account's allowed IPs.", body = ErrorBody),
        (status = 415, description = "A body not sent as JSON (`Content-Type: application/json`).", body = ErrorBody),
    ),
)]
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
    ok(Found {
        data: page.accounts.iter().map(account).collect(),
        next: page.after,
        prev: page.before,
    })
}

/// POST /account/updateIdentity: changes the name and email of the caller's account, or of the
/// account `id` names.
///
/// The account's admins and those above it may; the owner any.
#[utoipa::path(
    post,
    path = "/account/updateIdentity",
    tag = "Accounts (Ioto)",
    operation_id = "updateIotoAccountIdentity",
    request_body = IdentityArgs,
    responses(
        (status = 200, description = "The account as changed.", body = Account),
        (status = 400, description = "A malformed body, neither `email` nor `name`, an invalid name or email; the owner naming no account.", body = ErrorBody),
        (status = 403, description = "The caller sees the account but does not administer it (a member), holds a token without the write scope, or calls from outside their account's allowed IPs.", body = ErrorBody),
        (status = 404, description = "No such account for the caller: unknown, closed, out of their sight, or an `id` that is no uuid.", body = ErrorBody),
        (status = 409, description = "The email belongs to another account.", body = ErrorBody),
        (status = 415, description = "A body not sent as JSON (`Content-Type: application/json`).", body = ErrorBody),
    ),
)]
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

/// POST /account/close: closes the caller's account, or the one `id` names, with everything
/// below it, for good.
///
/// The account's admins and those above it may; the owner any. Its members are removed with
/// it. An empty body reads as `{}`.
#[utoipa::path(
    post,
    path = "/account/close",
    tag = "Accounts (Ioto)",
    operation_id = "closeIotoAccount",
    request_body(content = CloseArgs, description = "Optional: an empty body reads as `{}`."),
    responses(
        (status = 200, description = "Closed.", body = Closed),
        (status = 400, description = "A malformed body; the owner naming no account.", body = ErrorBody),
        (status = 403, description = "The caller sees the account but does not administer it (a member), holds a token without the admin scope (or a session's without a recent login), or calls from outside their account's allowed IPs.", body = ErrorBody),
        (status = 404, description = "No such account for the caller: unknown, closed already, out of their sight, or an `id` that is no uuid.", body = ErrorBody),
        (status = 415, description = "A body not sent as JSON (`Content-Type: application/json`).", body = ErrorBody),
    ),
)]
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
    ok(Closed::new(id))
}

pub(crate) mod fuzz;
#[cfg(test)]
mod proptests;
