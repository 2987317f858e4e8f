//! `/api/v1/accounts…`: accounts, sub-accounts, their allowed access IPs and invitations into
//! them.

use axum::{
    extract::{FromRequest, FromRequestParts, Request, State},
    http::{StatusCode, request::Parts},
    response::IntoResponse,
};
use proto::identity::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    Envelope, ErrorBody, Kind, List, One, PageInfo, Reply, Swift, SwiftError, Time, Typed, Ulid,
    time, uuid_of,
};
use crate::http::{
    AppState,
    extract::{Body, Caller, In, Path, Query},
    invited_role,
};

/// The routes of accounts and their allowed IPs.
pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_accounts, create))
        .routes(routes!(get_account, update))
        .routes(routes!(list_allowed_ips, add_allowed_ip))
        .routes(routes!(delete_allowed_ip))
        .routes(routes!(invite))
}

type Authed = In<Swift, Caller>;

/// The `data` of a request body whose envelope must name `T::TYPE`.
struct Data<T>(T);

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

/// 200 with `body`.
fn found(body: impl Serialize) -> Reply {
    Ok(axum::Json(body).into_response())
}

/// 201 with `body`.
fn created(body: impl Serialize) -> Reply {
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
}

/// The request bodies, in their envelopes.
type CreateBody = Envelope<CreateData>;
type UpdateBody = Envelope<UpdateData>;
type AllowedIpBody = Envelope<AllowedIpData>;
type InvitationBody = Envelope<InvitationData>;
/// The answers, in theirs.
type AccountOne = One<Account>;
type AccountList = List<Account>;
type AllowedIpOne = One<AllowedIp>;
type AllowedIpList = List<AllowedIp>;
type InvitationOne = One<Invitation>;

/// `data` of a create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SwiftCreateAccountData)]
struct CreateData {
    /// Trimmed, 1 to 255 characters, no control characters.
    #[schema(example = "Acme EU")]
    name: String,
}

impl Typed for CreateData {
    const TYPE: &'static str = "account";
    const ENVELOPE: &'static str = "SwiftCreateAccount";
}

/// `data` of a change: every field optional; what is absent stays.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SwiftUpdateAccountData)]
struct UpdateData {
    /// Trimmed, 1 to 255 characters, no control characters.
    name: Option<String>,
    legacy_access: Option<bool>,
    lrn_access: Option<bool>,
    /// A coverage access flag.
    #[schema(pattern = "^[A-Z][A-Z0-9_]{0,31}$", example = "NONE")]
    mms_access: Option<String>,
    /// A coverage access flag.
    #[schema(pattern = "^[A-Z][A-Z0-9_]{0,31}$", example = "NONE")]
    sms_access: Option<String>,
    /// Refuse calls by the account's members from outside its allowed IPs. Turning it on is
    /// refused (400) when the caller's own address is outside them.
    require_ip_api_access: Option<bool>,
    /// Stored only: there is no GraphQL API.
    require_ip_gql_access: Option<bool>,
}

impl Typed for UpdateData {
    const TYPE: &'static str = "account";
    const ENVELOPE: &'static str = "SwiftUpdateAccount";
}

/// `data` of a new allowed IP.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SwiftCreateAllowedIpData)]
struct AllowedIpData {
    /// An IPv4 or IPv6 network in canonical form (host bits zero), or a bare address (`/32`,
    /// `/128`).
    #[schema(example = "203.0.113.0/24")]
    cidr: String,
    /// At most 200 characters, no control characters.
    #[serde(default)]
    #[schema(example = "office")]
    description: String,
}

impl Typed for AllowedIpData {
    const TYPE: &'static str = "allowed_ip";
    const ENVELOPE: &'static str = "SwiftCreateAllowedIp";
}

/// `data` of an invitation: the role defaults to member.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SwiftCreateInvitationData)]
struct InvitationData {
    #[schema(example = "new.member@example.com")]
    email: String,
    /// An organization role: `member` (the default), `viewer`, `interactive_viewer`, `editor`,
    /// `developer` or `admin`.
    #[schema(example = "member")]
    role: Option<String>,
}

impl Typed for InvitationData {
    const TYPE: &'static str = "invitation";
    const ENVELOPE: &'static str = "SwiftCreateInvitation";
}

/// The query of a listing.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct Paging {
    /// The page size, 1 to 100; absent or 0: 25.
    #[param(maximum = 100, example = 25)]
    limit: Option<u32>,
    /// An account id (a ULID, a page's `page_info.after`): the page after that account.
    after: Option<String>,
    /// An account id (a ULID, a page's `page_info.before`): the page before that account. Not
    /// with `after`.
    before: Option<String>,
}

/// An account, in the seed's Account fields.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SwiftAccount)]
struct Account {
    /// The account's serial number: unique, assigned at creation, never handed out again.
    #[schema(example = 1042)]
    customer_id: i64,
    id: Ulid,
    /// When the account was created.
    inserted_at: Option<Time>,
    legacy_access: bool,
    lrn_access: bool,
    /// A coverage access flag.
    #[schema(pattern = "^[A-Z][A-Z0-9_]{0,31}$", example = "NONE")]
    mms_access: String,
    #[schema(example = "Acme EU")]
    name: String,
    /// Whether the account's members are refused outside its allowed IPs.
    require_ip_api_access: bool,
    /// Stored only: there is no GraphQL API.
    require_ip_gql_access: bool,
    /// A coverage access flag.
    #[schema(pattern = "^[A-Z][A-Z0-9_]{0,31}$", example = "NONE")]
    sms_access: String,
    /// The account's last change (its allowed IPs included).
    updated_at: Option<Time>,
}

impl Kind for Account {
    const TYPE: &'static str = "account";
    const ONE: &'static str = "SwiftAccountEnvelope";
    const LIST: &'static str = "SwiftAccountList";
}

/// One of an account's allowed access IPs.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SwiftAllowedIp)]
struct AllowedIp {
    /// The account it belongs to.
    account_id: Ulid,
    /// The network, as printed canonically.
    #[schema(example = "203.0.113.0/24")]
    cidr: String,
    #[schema(example = "office")]
    description: String,
    id: Ulid,
    inserted_at: Option<Time>,
}

impl Kind for AllowedIp {
    const TYPE: &'static str = "allowed_ip";
    const ONE: &'static str = "SwiftAllowedIpEnvelope";
    const LIST: &'static str = "SwiftAllowedIpList";
}

/// An invitation: what the Lightdash face answers for one, in this face's words (snake_case,
/// ULID ids).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SwiftInvitation)]
struct Invitation {
    /// The account invited into.
    account_id: Ulid,
    email: String,
    expires_at: Option<Time>,
    /// The code the invitee registers with (`POST /api/v1/user` with `inviteCode`): in this
    /// answer only.
    invite_code: String,
    /// `<PUBLIC_URL>/invite/<invite_code>`.
    invite_url: String,
    /// The invited user.
    user_id: Ulid,
}

impl Kind for Invitation {
    const TYPE: &'static str = "invitation";
    const ONE: &'static str = "SwiftInvitationEnvelope";
    const LIST: &'static str = "SwiftInvitationList";
}

fn account(a: &pb::Account) -> Account {
    Account {
        customer_id: a.customer_id,
        id: Ulid::of(&a.organization_uuid),
        inserted_at: time(a.created_at.as_ref()),
        legacy_access: a.legacy_access,
        lrn_access: a.lrn_access,
        mms_access: a.mms_access.clone(),
        name: a.name.clone(),
        require_ip_api_access: a.require_ip_api_access,
        require_ip_gql_access: a.require_ip_gql_access,
        sms_access: a.sms_access.clone(),
        updated_at: time(a.updated_at.as_ref()),
    }
}

fn allowed_ip(ip: &pb::AllowedIp) -> AllowedIp {
    AllowedIp {
        account_id: Ulid::of(&ip.organization_uuid),
        cidr: ip.cidr.clone(),
        description: ip.description.clone(),
        id: Ulid::of(&ip.allowed_ip_uuid),
        inserted_at: time(ip.created_at.as_ref()),
    }
}

fn invitation(state: &AppState, i: &pb::InviteLink) -> Invitation {
    Invitation {
        account_id: Ulid::of(&i.organization_uuid),
        email: i.email.clone(),
        expires_at: time(i.expires_at.as_ref()),
        invite_code: i.invite_code.clone(),
        invite_url: state.settings.invite_url(&i.invite_code),
        user_id: Ulid::of(&i.user_uuid),
    }
}

/// A paging cursor: an account id.
fn cursor(name: &str, id: Option<String>) -> Result<Option<String>, SwiftError> {
    id.map(|id| {
        uuid_of(&id).ok_or_else(|| SwiftError::bad_request(format!("{name} must be an account id")))
    })
    .transpose()
}

/// GET /api/v1/accounts: the caller's account and those below it, a page at a time.
///
/// Ordered by id; an admin sees their account and every account below it, anyone else their
/// account alone.
#[utoipa::path(
    get,
    path = "/api/v1/accounts",
    tag = "Accounts (seed 003)",
    operation_id = "listSwiftAccounts",
    params(Paging),
    responses(
        (status = 200, description = "A page of accounts.", body = AccountList),
        (status = 400, description = "`limit` above 100, `after` or `before` not an account id, or both given; an unknown parameter.", body = ErrorBody),
        (status = 403, description = "The caller belongs to no account, or their address is not among their account's allowed IPs.", body = ErrorBody),
    ),
)]
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
    let page_info = PageInfo {
        after: page.after.as_deref().map(Ulid::of),
        before: page.before.as_deref().map(Ulid::of),
        limit: page.limit.into(),
        total: page.total,
    };
    found(List::new(page.accounts.iter().map(account), page_info))
}

/// POST /api/v1/accounts: creates a sub-account under the caller's account (201).
///
/// The caller must administer their account; accounts nest at most 3 levels below a
/// top-level account, and an account holds at most 1000 direct sub-accounts.
#[utoipa::path(
    post,
    path = "/api/v1/accounts",
    tag = "Accounts (seed 003)",
    operation_id = "createSwiftAccount",
    request_body = CreateBody,
    responses(
        (status = 201, description = "The new sub-account.", body = AccountOne),
        (status = 400, description = "A malformed body or name; past the depth limit (3 levels below a top-level account) or the 1000 direct sub-accounts of an account; an operator token, which has no account of its own to create under.", body = ErrorBody),
        (status = 403, description = "The caller does not administer their account, belongs to none, holds a token without the write scope, or calls from outside their account's allowed IPs.", body = ErrorBody),
        (status = 404, description = "The caller's account was closed meanwhile.", body = ErrorBody),
    ),
)]
async fn create(In(caller, ..): Authed, Data(data): Data<CreateData>) -> Reply {
    let msg = pb::CreateSubAccountRequest {
        name: data.name,
        parent_uuid: None,
    };
    let sub = caller.accounts().create_sub_account(msg).await?;
    created(One::new(account(sub.get_ref())))
}

/// GET /api/v1/accounts/{id}: one account the caller may see.
#[utoipa::path(
    get,
    path = "/api/v1/accounts/{id}",
    tag = "Accounts (seed 003)",
    operation_id = "getSwiftAccount",
    params(("id" = String, Path, description = "The account's id (a ULID).")),
    responses(
        (status = 200, description = "The account.", body = AccountOne),
        (status = 403, description = "The caller's address is not among their account's allowed IPs.", body = ErrorBody),
        (status = 404, description = "No such account for the caller: unknown, closed, above or beside their own, or an id that is no ULID.", body = ErrorBody),
    ),
)]
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
    found(One::new(account(&got)))
}

/// PATCH /api/v1/accounts/{id}: changes the name and the access flags.
///
/// Turning `require_ip_api_access` on is refused while the caller's own address is outside the
/// account's allowed IPs (they would lock themselves out).
#[utoipa::path(
    patch,
    path = "/api/v1/accounts/{id}",
    tag = "Accounts (seed 003)",
    operation_id = "updateSwiftAccount",
    params(("id" = String, Path, description = "The account's id (a ULID).")),
    request_body = UpdateBody,
    responses(
        (status = 200, description = "The account as changed.", body = AccountOne),
        (status = 400, description = "A malformed body, name or coverage flag; turning `require_ip_api_access` on from an address outside the account's allowed IPs.", body = ErrorBody),
        (status = 403, description = "The caller sees the account but does not administer it (a member), holds a token without the write scope, or calls from outside their account's allowed IPs.", body = ErrorBody),
        (status = 404, description = "No such account for the caller (as for `GET`).", body = ErrorBody),
    ),
)]
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
    found(One::new(account(updated.get_ref())))
}

/// GET /api/v1/accounts/{id}/allowed_ips: every allowed IP of an account (at most 100), as one
/// page, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/accounts/{id}/allowed_ips",
    tag = "Accounts (seed 003)",
    operation_id = "listSwiftAllowedIps",
    params(("id" = String, Path, description = "The account's id (a ULID).")),
    responses(
        (status = 200, description = "Every allowed IP of the account, in one page.", body = AllowedIpList),
        (status = 403, description = "The caller sees the account but does not administer it (a member), or calls from outside their account's allowed IPs.", body = ErrorBody),
        (status = 404, description = "No such account for the caller (as for `GET /api/v1/accounts/{id}`).", body = ErrorBody),
    ),
)]
async fn list_allowed_ips(In(caller, ..): Authed, AccountId(id): AccountId) -> Reply {
    let msg = pb::ListAllowedIpsRequest {
        organization_uuid: id,
    };
    let ips = caller.accounts().list_allowed_ips(msg).await?.into_inner();
    let total = u64::try_from(ips.allowed_ips.len()).unwrap_or(u64::MAX);
    let page_info = PageInfo {
        after: None,
        before: None,
        limit: total,
        total,
    };
    found(List::new(ips.allowed_ips.iter().map(allowed_ip), page_info))
}

/// POST /api/v1/accounts/{id}/allowed_ips: adds an allowed IP to an account (201).
#[utoipa::path(
    post,
    path = "/api/v1/accounts/{id}/allowed_ips",
    tag = "Accounts (seed 003)",
    operation_id = "createSwiftAllowedIp",
    params(("id" = String, Path, description = "The account's id (a ULID).")),
    request_body = AllowedIpBody,
    responses(
        (status = 201, description = "The new allowed IP.", body = AllowedIpOne),
        (status = 400, description = "A malformed body, a network that is not canonical (host bits set) or a bad description; the account already holds 100 allowed IPs.", body = ErrorBody),
        (status = 403, description = "The caller sees the account but does not administer it (a member), holds a token without the write scope, or calls from outside their account's allowed IPs.", body = ErrorBody),
        (status = 404, description = "No such account for the caller (as for `GET /api/v1/accounts/{id}`).", body = ErrorBody),
        (status = 409, description = "The network is already an allowed IP of the account.", body = ErrorBody),
    ),
)]
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
    created(One::new(allowed_ip(added.get_ref())))
}

/// DELETE /api/v1/accounts/{id}/allowed_ips/{ipId}: deletes an allowed IP of an account (204).
///
/// While the account requires allowed IPs, deleting the last entry that covers the caller's
/// address is refused (they would lock themselves out).
#[utoipa::path(
    delete,
    path = "/api/v1/accounts/{id}/allowed_ips/{ipId}",
    tag = "Accounts (seed 003)",
    operation_id = "deleteSwiftAllowedIp",
    params(
        ("id" = String, Path, description = "The account's id (a ULID)."),
        ("ipId" = String, Path, description = "The allowed IP's id (a ULID)."),
    ),
    responses(
        (status = 204, description = "Deleted."),
        (status = 400, description = "The entry is the last that covers the caller's address while the account requires allowed IPs.", body = ErrorBody),
        (status = 403, description = "The caller sees the account but does not administer it (a member), holds a token without the write scope, or calls from outside their account's allowed IPs.", body = ErrorBody),
        (status = 404, description = "No such account for the caller, or no such allowed IP in it (an id that is no ULID included).", body = ErrorBody),
    ),
)]
async fn delete_allowed_ip(
    In(caller, ..): Authed,
    AccountId(id): AccountId,
    In(Path(ids), ..): In<Swift, Path<(String, String)>>,
) -> Reply {
    let (_, ip_id) = ids;
    let msg = pb::DeleteAllowedIpRequest {
        organization_uuid: id,
        allowed_ip_uuid: uuid_of(&ip_id)
            .ok_or_else(|| SwiftError::new(StatusCode::NOT_FOUND, "allowed IP not found"))?,
    };
    caller.accounts().delete_allowed_ip(msg).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// POST /api/v1/accounts/{id}/invitations: invites an email address into an account the
/// caller administers (201).
///
/// The answer holds the invitation code, shown this once; the invitee registers with it and
/// becomes a member of that account alone. No mail is sent.
#[utoipa::path(
    post,
    path = "/api/v1/accounts/{id}/invitations",
    tag = "Accounts (seed 003)",
    operation_id = "createSwiftInvitation",
    params(("id" = String, Path, description = "The account's id (a ULID).")),
    request_body = InvitationBody,
    responses(
        (status = 201, description = "The invitation, with its code.", body = InvitationOne),
        (status = 400, description = "A malformed body or email address, or an unknown role.", body = ErrorBody),
        (status = 403, description = "The caller sees the account but does not administer it (a member), holds a token without the write scope (inviting an `admin`: the admin scope, and from a session a recent login), or calls from outside their account's allowed IPs.", body = ErrorBody),
        (status = 404, description = "No such account for the caller (as for `GET /api/v1/accounts/{id}`), or it was closed meanwhile.", body = ErrorBody),
        (status = 409, description = "The address belongs to a user already (or to a pending invitee of another account).", body = ErrorBody),
        (status = 429, description = "The inviting admin's account used its hourly allowance of invitations; `Retry-After` says when to try again.", body = ErrorBody),
    ),
)]
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
    created(One::new(invitation(&state, invited.get_ref())))
}

pub(crate) mod fuzz;
#[cfg(test)]
mod proptests;
