//! Accounts and sub-accounts (docs/accounts.md): an account is an organization, a sub-account a
//! child organization, at most [`MAX_DEPTH`] levels below a top-level account.
//!
//! Who sees what (checklist AC-8): a member of an account, whatever their role, sees that
//! account; an admin of an account administers it and every account below it without being a
//! member there; nobody sees an account above or beside their own. An account the caller may
//! not see answers NOT_FOUND; one they see but may not change, PERMISSION_DENIED.

use std::net::IpAddr;

use chrono::{DateTime, SubsecRound, Utc};
use ipnet::IpNet;
use service_kit::jwt::AccessClaims;
use uuid::Uuid;

use proto::identity::v1::OrganizationRole as OrgRole;

use super::{
    Identity, caller,
    invites::NewInvite,
    ip_access::{client_ip, covered, uncovers},
    organizations::org_name,
    validate,
};
use crate::{
    error::{Error, Result, denied},
    store::{
        AccountChange, AccountRecord, AllowedIpRecord, ClosedAccounts, Guard, PathRange,
        StoreError, account_path,
    },
};

mod create;
pub(crate) use create::valid_link_base;
mod listing;

pub use listing::{AccountList, PageRequest};

/// Deepest sub-account: a top-level account (depth 0) and at most three levels below it.
pub const MAX_DEPTH: i32 = 3;
/// Most direct sub-accounts of one account.
pub const MAX_SUB_ACCOUNTS: i64 = 1_000;
/// Default page of accounts.
pub const DEFAULT_PAGE_LIMIT: u32 = 25;
/// Largest page of accounts.
pub const MAX_PAGE_LIMIT: u32 = 100;
/// Most allowed IPs per account.
pub const MAX_ALLOWED_IPS: i64 = 100;
/// Longest description of an allowed IP, in characters.
pub const MAX_IP_DESCRIPTION_CHARS: usize = 200;
/// Longest coverage access flag.
pub const MAX_FLAG_CHARS: usize = 32;

/// Whether `role` administers its account and those below. The one place accounts compare
/// roles.
fn is_admin(role: OrgRole) -> bool {
    role == OrgRole::Admin
}

/// A caller of the account API: a member of an account, or an operator (the owner role over
/// every account, docs/accounts.md).
#[derive(Debug, Clone)]
enum Caller {
    /// A user: their membership's account and role there.
    User {
        user: Uuid,
        account: Box<AccountRecord>,
        role: OrgRole,
    },
    /// An operator token: no user, no account of its own.
    Operator(Uuid),
}

impl Caller {
    /// The guard of a change the caller makes to `target` as an admin: the store re-checks,
    /// in the change's transaction, that they still are one (AC-9), or for an operator that
    /// their token still stands.
    fn guard(&self, target: &AccountRecord) -> Guard {
        match self {
            Self::User { user, account, .. } => Guard {
                organization_uuid: account.organization_uuid,
                actor: *user,
                roles: OrgRole::ALL.into_iter().filter(|r| is_admin(*r)).collect(),
                operator: false,
            },
            Self::Operator(id) => Guard {
                organization_uuid: target.organization_uuid,
                actor: *id,
                roles: Vec::new(),
                operator: true,
            },
        }
    }

    /// The accounts the caller may list: their own, and for an admin every account below it;
    /// every account for an operator.
    fn listable(&self) -> PathRange {
        match self {
            Self::User { account, role, .. } if is_admin(*role) => {
                PathRange::subtree(&account.path)
            }
            Self::User { account, .. } => PathRange::only(&account.path),
            Self::Operator(_) => PathRange::all(),
        }
    }

    /// `account` as the caller may be answered it: its `parent_uuid` only when the caller
    /// administers the parent (an operator, or an admin of an account above `account`), since
    /// nobody sees an account above their own (AC-8).
    fn answer(&self, mut account: AccountRecord) -> AccountRecord {
        let sees_parent = match self {
            Self::User {
                account: own, role, ..
            } => {
                is_admin(*role)
                    && account.organization_uuid != own.organization_uuid
                    && PathRange::subtree(&own.path).contains(&account.path)
            }
            Self::Operator(_) => true,
        };
        if !sees_parent {
            account.parent_uuid = None;
        }
        account
    }

    /// The user, for log lines (an operator's use is logged by the gRPC layer).
    fn user(&self) -> Option<Uuid> {
        match self {
            Self::User { user, .. } => Some(*user),
            Self::Operator(_) => None,
        }
    }
}

/// What a caller may do with an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Access {
    /// Nothing: it answers NOT_FOUND.
    None,
    /// See it.
    View,
    /// See it, change it, manage its allowed IPs, create sub-accounts under it.
    Administer,
}

/// What `caller` may do with `target`.
fn access(caller: &Caller, target: &AccountRecord) -> Access {
    let Caller::User { account, role, .. } = caller else {
        return Access::Administer;
    };
    if is_admin(*role) && PathRange::subtree(&account.path).contains(&target.path) {
        Access::Administer
    } else if target.organization_uuid == account.organization_uuid {
        Access::View
    } else {
        Access::None
    }
}

fn not_found() -> Error {
    Error::NotFound("account not found".into())
}

fn ip_not_found() -> Error {
    Error::NotFound("allowed IP not found".into())
}

fn no_organization() -> Error {
    Error::PermissionDenied("You are not a member of an organization".into())
}

/// Now, as both backends store it (microseconds).
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// A new account `id` below `parent` (None: a top-level account), with the default flags and
/// no allowed IPs, made `at`.
fn new_account(
    id: Uuid,
    parent: Option<&AccountRecord>,
    name: String,
    email: Option<String>,
    at: DateTime<Utc>,
) -> AccountRecord {
    AccountRecord {
        organization_uuid: id,
        parent_uuid: parent.map(|p| p.organization_uuid),
        name,
        customer_id: 0,
        legacy_access: false,
        lrn_access: false,
        mms_access: "NONE".into(),
        sms_access: "NONE".into(),
        require_ip_api_access: false,
        require_ip_gql_access: false,
        depth: parent.map_or(0, |p| p.depth + 1),
        path: account_path(parent.map(|p| p.path.as_str()), id),
        created_at: at,
        updated_at: at,
        email,
    }
}

/// An account as `GetAccount` finds it.
#[derive(Debug)]
pub enum FoundAccount {
    /// An open account.
    Open(AccountRecord),
    /// A closed account's tombstone (answered to operators only): its id.
    Closed(Uuid),
}

/// Changes to an account; `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct AccountUpdate {
    pub name: Option<String>,
    pub legacy_access: Option<bool>,
    pub lrn_access: Option<bool>,
    pub mms_access: Option<String>,
    pub sms_access: Option<String>,
    pub require_ip_api_access: Option<bool>,
    pub require_ip_gql_access: Option<bool>,
    /// The account's email address; "" removes it.
    pub email: Option<String>,
    /// The caller's address (the call's `x-client-address`).
    pub client_address: Option<String>,
}

impl AccountUpdate {
    /// The update with its values validated (names trimmed).
    fn validated(mut self) -> Result<Self> {
        self.name = self.name.as_deref().map(org_name).transpose()?;
        self.mms_access = self
            .mms_access
            .map(|v| coverage_flag("mms_access", v))
            .transpose()?;
        self.sms_access = self
            .sms_access
            .map(|v| coverage_flag("sms_access", v))
            .transpose()?;
        self.email = match self.email.as_deref().map(str::trim) {
            Some("") => Some(String::new()),
            Some(e) => Some(validate::email(e)?),
            None => None,
        };
        Ok(self)
    }

    /// `current` with the update applied at `at`.
    fn apply(&self, current: &AccountRecord, at: DateTime<Utc>) -> AccountRecord {
        let mut a = current.clone();
        if let Some(v) = &self.name {
            a.name.clone_from(v);
        }
        if let Some(v) = &self.mms_access {
            a.mms_access.clone_from(v);
        }
        if let Some(v) = &self.sms_access {
            a.sms_access.clone_from(v);
        }
        if let Some(v) = &self.email {
            a.email = Some(v.clone()).filter(|e| !e.is_empty());
        }
        a.legacy_access = self.legacy_access.unwrap_or(a.legacy_access);
        a.lrn_access = self.lrn_access.unwrap_or(a.lrn_access);
        a.require_ip_api_access = self
            .require_ip_api_access
            .unwrap_or(a.require_ip_api_access);
        a.require_ip_gql_access = self
            .require_ip_gql_access
            .unwrap_or(a.require_ip_gql_access);
        a.updated_at = at;
        a
    }
}

/// A coverage access flag: `^[A-Z][A-Z0-9_]{0,31}$`.
fn coverage_flag(field: &str, value: String) -> Result<String> {
    let mut chars = value.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_uppercase())
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        && value.len() <= MAX_FLAG_CHARS;
    if !ok {
        return Err(Error::InvalidArgument(
            format!(
                "{field} must be an upper-case token of 1 to {MAX_FLAG_CHARS} characters \
             (A-Z, then A-Z, 0-9 or _), such as NONE"
            )
            .into(),
        ));
    }
    Ok(value)
}

/// An allowed IP's network: `a.b.c.d/n` or an IPv6 network, with the host bits zero; a bare
/// address is a network of one (/32 or /128).
pub fn canonical_cidr(value: &str) -> Result<IpNet> {
    let v = value.trim();
    let parsed = if v.contains('/') {
        v.parse::<IpNet>().ok()
    } else {
        v.parse::<IpAddr>().ok().map(IpNet::from)
    };
    let net = parsed.ok_or_else(|| {
        Error::InvalidArgument(
            "cidr must be an IPv4 or IPv6 address or network, e.g. 203.0.113.0/24 or \
             2001:db8::/32"
                .into(),
        )
    })?;
    let net = ipv4_if_mapped(net);
    if net.trunc() != net {
        return Err(Error::InvalidArgument(
            format!("cidr must be a network address: {}", net.trunc()).into(),
        ));
    }
    Ok(net)
}

/// An IPv4-mapped IPv6 network (`::ffff:a.b.c.d/n`, n >= 96) as the IPv4 network it covers:
/// callers' addresses are compared as IPv4 ([`client_ip`]), which such a network as stored
/// would never contain.
fn ipv4_if_mapped(net: IpNet) -> IpNet {
    match net {
        IpNet::V6(v6) if v6.prefix_len() >= 96 => v6
            .addr()
            .to_ipv4_mapped()
            .and_then(|v4| ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96).ok())
            .map_or(net, IpNet::V4),
        other => other,
    }
}

fn ip_description(value: &str) -> Result<String> {
    let v = value.trim();
    if v.chars().count() > MAX_IP_DESCRIPTION_CHARS || v.chars().any(char::is_control) {
        return Err(Error::InvalidArgument(format!(
            "description must be at most {MAX_IP_DESCRIPTION_CHARS} characters, without control \
             characters"
        ).into()));
    }
    Ok(v.to_owned())
}

/// Whether turning on `require_ip_api_access` (from off, in `next`) would lock out a caller at
/// `client` (None: unknown), given the account's allowed `cidrs`.
fn locks_out(
    current: &AccountRecord,
    next: &AccountRecord,
    client: Option<IpAddr>,
    cidrs: &[String],
) -> bool {
    if current.require_ip_api_access || !next.require_ip_api_access {
        return false;
    }
    !client.is_some_and(|ip| covered(ip, cidrs.iter().map(String::as_str)))
}

impl Identity {
    /// The caller: an operator, or a user with their account and role (None when they belong
    /// to no organization).
    async fn account_caller(&self, claims: &AccessClaims) -> Result<Option<Caller>> {
        if let Some(id) = claims.operator_uuid() {
            return Ok(Some(Caller::Operator(id)));
        }
        let user = caller(claims)?;
        let Some((account, role)) = self.store.caller_account(user).await? else {
            return Ok(None);
        };
        Ok(Some(Caller::User {
            user,
            account: Box::new(account),
            role,
        }))
    }

    /// The account `id` names (None: the caller's own) when the caller has `need` on it;
    /// NOT_FOUND when they may not see it, PERMISSION_DENIED when they see it only. An
    /// operator has no account of its own: without `id`, INVALID_ARGUMENT.
    async fn account_for(
        &self,
        claims: &AccessClaims,
        id: Option<&str>,
        need: Access,
    ) -> Result<(Caller, AccountRecord)> {
        let caller = self.account_caller(claims).await?;
        let own = match &caller {
            Some(Caller::User { account, .. }) => Some(account),
            _ => None,
        };
        let target = match (id, own) {
            (None, Some(own)) => own.as_ref().clone(),
            (None, None) if matches!(caller, Some(Caller::Operator(_))) => {
                return Err(Error::InvalidArgument(
                    "an operator has no account of its own: name the account".into(),
                ));
            }
            (None, None) => return Err(no_organization()),
            (Some(id), own) => {
                let id = Uuid::parse_str(id).map_err(|_| not_found())?;
                if caller.is_none() {
                    return Err(not_found());
                }
                match own {
                    Some(own) if own.organization_uuid == id => own.as_ref().clone(),
                    _ => self.store.account(id).await?.ok_or_else(not_found)?,
                }
            }
        };
        let caller = caller.ok_or_else(not_found)?;
        match access(&caller, &target) {
            Access::None => Err(not_found()),
            a if a < need => Err(denied()),
            _ => Ok((caller, target)),
        }
    }

    /// Creates a sub-account under `parent_uuid` (None: the caller's account), which the caller
    /// administers.
    pub async fn create_sub_account(
        &self,
        claims: &AccessClaims,
        name: &str,
        parent_uuid: Option<&str>,
    ) -> Result<AccountRecord> {
        let (caller, parent) = self
            .account_for(claims, parent_uuid, Access::Administer)
            .await?;
        let name = org_name(name)?;
        if parent.depth + 1 > MAX_DEPTH {
            return Err(Error::InvalidArgument(
                format!("sub-accounts can be nested at most {MAX_DEPTH} levels deep").into(),
            ));
        }
        let id = Uuid::now_v7();
        let account = new_account(id, Some(&parent), name, None, now());
        let stored = match self
            .store
            .create_sub_account(&account, MAX_SUB_ACCOUNTS, &caller.guard(&parent))
            .await?
        {
            AccountChange::Done(a) => a,
            AccountChange::Missing => return Err(not_found()),
            AccountChange::Refused => {
                return Err(Error::FailedPrecondition(
                    format!("an account holds at most {MAX_SUB_ACCOUNTS} direct sub-accounts")
                        .into(),
                ));
            }
        };
        tracing::info!(user_uuid = caller.user().map(tracing::field::display), organization_uuid = %id, parent_uuid = %parent.organization_uuid, "sub-account created");
        Ok(stored)
    }

    /// One account the caller may see. A closed account is gone: NOT_FOUND, as for an id that
    /// never existed, but to an operator, who is answered its tombstone.
    pub async fn get_account(
        &self,
        claims: &AccessClaims,
        id: Option<&str>,
    ) -> Result<FoundAccount> {
        match self.account_for(claims, id, Access::View).await {
            Ok((caller, account)) => Ok(FoundAccount::Open(caller.answer(account))),
            Err(Error::NotFound(m)) if claims.operator_uuid().is_some() => {
                let closed = match Uuid::parse_str(id.unwrap_or_default()) {
                    Ok(uuid) => self.store.closed_at(uuid).await?.map(|_| uuid),
                    Err(_) => None,
                };
                closed.map(FoundAccount::Closed).ok_or(Error::NotFound(m))
            }
            Err(e) => Err(e),
        }
    }

    /// Invites `email` into an account the caller administers (its admins and those above, who
    /// do not become members of it), exactly as an admin invites into their own organization.
    pub async fn create_account_invitation(
        &self,
        claims: &AccessClaims,
        id: &str,
        email: &str,
        role: Option<OrgRole>,
    ) -> Result<NewInvite> {
        let (caller, target) = self
            .account_for(claims, Some(id), Access::Administer)
            .await?;
        let guard = caller.guard(&target);
        let org = target.organization_uuid;
        // The account closed meanwhile: as for any account that is gone.
        match self
            .invite(caller.user(), &guard, org, email, role, None)
            .await
        {
            Err(Error::NotFound(_)) => Err(not_found()),
            other => other,
        }
    }

    /// Closes an account and every account below it, irreversibly (its admins and those above;
    /// an admin may close their own account, and goes with it). The account above is untouched.
    pub async fn close_account(
        &self,
        claims: &AccessClaims,
        id: Option<&str>,
    ) -> Result<ClosedAccounts> {
        let (caller, target) = self.account_for(claims, id, Access::Administer).await?;
        let org = target.organization_uuid;
        let closed = self
            .store
            .close_account(org, &caller.guard(&target), now())
            .await?
            .ok_or_else(not_found)?;
        tracing::info!(
            user_uuid = caller.user().map(tracing::field::display),
            organization_uuid = %org,
            accounts = closed.organizations.len(),
            users = closed.users.len(),
            "account closed"
        );
        Ok(closed)
    }

    /// Changes an account's name and access flags (its admins and those above). Turning on
    /// `require_ip_api_access` from an address outside the account's allowed IPs is refused:
    /// the caller would lock themselves out.
    pub async fn update_account(
        &self,
        claims: &AccessClaims,
        id: Option<&str>,
        update: AccountUpdate,
    ) -> Result<AccountRecord> {
        let (caller, target) = self.account_for(claims, id, Access::Administer).await?;
        let update = update.validated()?;
        let client = client_ip(update.client_address.as_deref());
        let at = now();
        let edit = |current: &AccountRecord, cidrs: &[String]| {
            let next = update.apply(current, at);
            (!locks_out(current, &next, client, cidrs)).then_some(next)
        };
        let org = target.organization_uuid;
        let changed = match self
            .store
            .update_account(org, &caller.guard(&target), &edit)
            .await
        {
            Err(StoreError::Conflict) => {
                return Err(Error::AlreadyExists(
                    "An account with this email already exists".into(),
                ));
            }
            other => other?,
        };
        match changed {
            AccountChange::Done(a) => {
                tracing::info!(user_uuid = caller.user().map(tracing::field::display), organization_uuid = %org, "account updated");
                Ok(caller.answer(a))
            }
            AccountChange::Missing => Err(not_found()),
            AccountChange::Refused => Err(Error::FailedPrecondition(
                format!(
                    "your address {} is not in the account's allowed IPs; add it first",
                    shown(client)
                )
                .into(),
            )),
        }
    }

    /// An account's allowed IPs (its admins and those above).
    pub async fn list_allowed_ips(
        &self,
        claims: &AccessClaims,
        id: &str,
    ) -> Result<Vec<AllowedIpRecord>> {
        let (_, target) = self
            .account_for(claims, Some(id), Access::Administer)
            .await?;
        Ok(self.store.allowed_ips(target.organization_uuid).await?)
    }

    /// Adds an allowed IP to an account (its admins and those above).
    pub async fn add_allowed_ip(
        &self,
        claims: &AccessClaims,
        id: &str,
        cidr: &str,
        description: &str,
    ) -> Result<AllowedIpRecord> {
        let (caller, target) = self
            .account_for(claims, Some(id), Access::Administer)
            .await?;
        let net = canonical_cidr(cidr)?;
        let ip = AllowedIpRecord {
            allowed_ip_uuid: Uuid::now_v7(),
            organization_uuid: target.organization_uuid,
            cidr: net.to_string(),
            description: ip_description(description)?,
            created_at: now(),
        };
        match self
            .store
            .add_allowed_ip(&ip, MAX_ALLOWED_IPS, &caller.guard(&target))
            .await
        {
            Ok(AccountChange::Done(())) => {}
            Ok(AccountChange::Missing) => return Err(not_found()),
            Ok(AccountChange::Refused) => {
                return Err(Error::FailedPrecondition(
                    format!("an account holds at most {MAX_ALLOWED_IPS} allowed IPs").into(),
                ));
            }
            Err(StoreError::Conflict) => {
                return Err(Error::AlreadyExists(
                    format!("{} is already an allowed IP of this account", ip.cidr).into(),
                ));
            }
            Err(e) => return Err(e.into()),
        }
        tracing::info!(user_uuid = caller.user().map(tracing::field::display), organization_uuid = %ip.organization_uuid, allowed_ip_uuid = %ip.allowed_ip_uuid, "allowed IP added");
        Ok(ip)
    }

    /// Deletes one of an account's allowed IPs (its admins and those above). While the account's
    /// `require_ip_api_access` is on, deleting the last entry that covers the caller's address
    /// `client` (or any, when it is unknown) is refused: the caller would lock themselves out.
    pub async fn delete_allowed_ip(
        &self,
        claims: &AccessClaims,
        id: &str,
        allowed_ip_uuid: &str,
        client: Option<&str>,
    ) -> Result<()> {
        let (caller, target) = self
            .account_for(claims, Some(id), Access::Administer)
            .await?;
        let ip = Uuid::parse_str(allowed_ip_uuid).map_err(|_| ip_not_found())?;
        let org = target.organization_uuid;
        let client = client_ip(client);
        let check = |deleted: &str, rest: &[String]| !uncovers(client, deleted, rest);
        match self
            .store
            .delete_allowed_ip(org, ip, now(), &caller.guard(&target), &check)
            .await?
        {
            AccountChange::Done(()) => {}
            AccountChange::Missing => return Err(ip_not_found()),
            AccountChange::Refused => {
                return Err(Error::FailedPrecondition(
                    format!(
                        "this allowed IP is the last that covers your address {} while the \
                         account requires allowed IPs; add another or turn that off first",
                        shown(client)
                    )
                    .into(),
                ));
            }
        }
        tracing::info!(user_uuid = caller.user().map(tracing::field::display), organization_uuid = %org, allowed_ip_uuid = %ip, "allowed IP deleted");
        Ok(())
    }
}

/// A caller's address in a message.
fn shown(client: Option<IpAddr>) -> String {
    client.map_or_else(|| "(unknown)".to_owned(), |ip| ip.to_string())
}

#[cfg(test)]
mod tests;
