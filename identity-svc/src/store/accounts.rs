//! Accounts: the organization hierarchy (an account is an organization, a sub-account a child
//! organization) and the accounts' access flags (docs/accounts.md); their allowed IPs are in
//! `allowed_ips.rs`.
//!
//! An account's `path` holds the lower-case simple-hex uuids from its top-level account down to
//! itself, joined by '/': "an account and everything below it" is one range of paths
//! ([`PathRange`]) on an index, compared byte by byte on both backends. Paths never change (no
//! account moves), so a range read once stays true.

use chrono::{DateTime, Utc};
use proto::identity::v1::OrganizationRole;
use service_kit::{
    db::{Pool, is_foreign_key_violation},
    on_pool,
};
use uuid::Uuid;

use super::{
    Guard, Result, SqlStore, StoreError, conflict,
    guard::{check_guard, lock_organization},
    is_deadlock,
    outbox::insert_event,
};
use crate::domain::organizations::{organization_deleted, user_deleted};

service_kit::from_row! {
    /// A stored account: an organization with its place in the hierarchy and its access flags.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct AccountRecord {
        pub organization_uuid: Uuid,
        /// None for a top-level account.
        pub parent_uuid: Option<Uuid>,
        pub name: String,
        /// Assigned by the database at creation.
        pub customer_id: i64,
        pub legacy_access: bool,
        pub lrn_access: bool,
        pub mms_access: String,
        pub sms_access: String,
        pub require_ip_api_access: bool,
        pub require_ip_gql_access: bool,
        /// 0 for a top-level account.
        pub depth: i32,
        /// See the module's documentation; [`account_path`].
        pub path: String,
        pub created_at: DateTime<Utc>,
        pub updated_at: DateTime<Utc>,
        /// The account's email address (lower-cased, unique among accounts), if it has one.
        pub email: Option<String>,
    }
}

/// The path of account `id` below the account whose path is `parent` (None: a top-level
/// account).
pub fn account_path(parent: Option<&str>, id: Uuid) -> String {
    let own = id.simple().to_string();
    match parent {
        Some(parent) => format!("{parent}/{own}"),
        None => own,
    }
}

/// The accounts whose paths lie between `low` and `high`, both included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathRange {
    pub low: String,
    pub high: String,
}

impl PathRange {
    /// The account at `path` alone.
    pub fn only(path: &str) -> Self {
        Self {
            low: path.to_owned(),
            high: path.to_owned(),
        }
    }

    /// The account at `path` and every account below it: their paths start with `path` then
    /// '/' then hex digits, and '~' sorts after every hex digit, so they all lie between `path`
    /// and `path/~`; nothing else does, since no path holds a byte below '/'.
    pub fn subtree(path: &str) -> Self {
        Self {
            low: path.to_owned(),
            high: format!("{path}/~"),
        }
    }

    /// Every account: paths hold hex digits and '/', which all sort below '~'.
    pub fn all() -> Self {
        Self {
            low: String::new(),
            high: "~".to_owned(),
        }
    }

    /// Whether `path` lies in the range (as the database compares: byte by byte).
    pub fn contains(&self, path: &str) -> bool {
        self.low.as_str() <= path && path <= self.high.as_str()
    }
}

/// Which accounts a page is taken from: a range of paths, narrowed by the filters that are set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountQuery {
    pub range: PathRange,
    /// A LIKE pattern (lower-case, `\` escapes) the lower-cased name or email matches.
    pub pattern: Option<String>,
    pub organization_uuid: Option<Uuid>,
    /// An exact (lower-cased) email address.
    pub email: Option<String>,
}

impl AccountQuery {
    /// Every account of `range`.
    pub fn of(range: PathRange) -> Self {
        Self {
            range,
            pattern: None,
            organization_uuid: None,
            email: None,
        }
    }
}

/// Where a page of accounts starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageCursor {
    /// The first page.
    First,
    /// The accounts after this uuid.
    After(Uuid),
    /// The accounts just before this uuid.
    Before(Uuid),
}

/// One page of accounts in uuid order, read in one snapshot with the count of the range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountPage {
    pub accounts: Vec<AccountRecord>,
    /// Every account of the range.
    pub total: i64,
    /// Accounts of the range sort before the page's first.
    pub more_before: bool,
    /// Accounts of the range sort after the page's last.
    pub more_after: bool,
}

/// What a guarded change to an account did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountChange<T> {
    Done(T),
    /// The account no longer exists.
    Missing,
    /// Refused by the domain's check or a limit.
    Refused,
}

/// What closing an account removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosedAccounts {
    /// The account and every account that was below it, in uuid order.
    pub organizations: Vec<Uuid>,
    /// Their members, in uuid order.
    pub users: Vec<Uuid>,
}

/// The domain's edit of an account: from the account as it is (its row locked) and its allowed
/// CIDRs, the account as it will be, or None to refuse the change.
pub type AccountEdit<'a> =
    &'a (dyn Fn(&AccountRecord, &[String]) -> Option<AccountRecord> + Send + Sync);

/// The columns of an [`AccountRecord`], from `organizations`.
macro_rules! account_columns {
    () => {
        "organization_uuid, parent_uuid, name, customer_id, legacy_access, lrn_access, \
         mms_access, sms_access, require_ip_api_access, require_ip_gql_access, depth, path, \
         created_at, updated_at, email"
    };
}

pub(super) const ACCOUNT: &str = concat!(
    "SELECT ",
    account_columns!(),
    " FROM organizations WHERE organization_uuid = $1"
);

const CALLER_ACCOUNT: &str = concat!(
    "SELECT m.role, a.* FROM memberships m JOIN (SELECT ",
    account_columns!(),
    " FROM organizations) a ON a.organization_uuid = m.organization_uuid WHERE m.user_uuid = $1"
);

/// The accounts of an [`AccountQuery`]: paths in `$1..=$2`, then the filters `$5` (a LIKE
/// pattern on the name or the email), `$6` (an id) and `$7` (an email), each NULL when unset.
macro_rules! page_of {
    () => {
        " FROM organizations WHERE path >= $1 AND path <= $2 \
         AND ($5 IS NULL OR LOWER(name) LIKE $5 ESCAPE '\\' \
              OR LOWER(COALESCE(email, '')) LIKE $5 ESCAPE '\\') \
         AND ($6 IS NULL OR organization_uuid = $6) AND ($7 IS NULL OR email = $7)"
    };
}

/// The count of the query's accounts, of those up to `$3` and of those from `$4` on.
const PAGE_COUNTS: &str = concat!(
    "SELECT COUNT(*), COUNT(CASE WHEN organization_uuid <= $3 THEN 1 END), \
     COUNT(CASE WHEN organization_uuid >= $4 THEN 1 END)",
    page_of!()
);

/// The query's first `$4` accounts after `$3` (NULL: from the start).
const PAGE_FORWARD: &str = concat!(
    "SELECT ",
    account_columns!(),
    page_of!(),
    " AND ($3 IS NULL OR organization_uuid > $3) ORDER BY organization_uuid LIMIT $4"
);

/// The query's last `$4` accounts before `$3`, last first.
const PAGE_BACKWARD: &str = concat!(
    "SELECT ",
    account_columns!(),
    page_of!(),
    " AND organization_uuid < $3 ORDER BY organization_uuid DESC LIMIT $4"
);

/// On executor `$executor`: inserts account `$a` (an [`AccountRecord`]; its `customer_id` is
/// assigned by the database); the statement's result.
macro_rules! insert_account {
    ($executor:expr, $a:expr) => {{
        let a: &AccountRecord = $a;
        sqlx::query(
            "INSERT INTO organizations (organization_uuid, parent_uuid, name, depth, path, \
             legacy_access, lrn_access, mms_access, sms_access, require_ip_api_access, \
             require_ip_gql_access, created_at, updated_at, email) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(a.organization_uuid)
        .bind(a.parent_uuid)
        .bind(&a.name)
        .bind(a.depth)
        .bind(&a.path)
        .bind(a.legacy_access)
        .bind(a.lrn_access)
        .bind(&a.mms_access)
        .bind(&a.sms_access)
        .bind(a.require_ip_api_access)
        .bind(a.require_ip_gql_access)
        .bind(a.created_at)
        .bind(a.updated_at)
        .bind(a.email.as_deref())
        .execute($executor)
        .await
    }};
}
pub(super) use insert_account;

/// The accounts of the range `$1..=$2`, parents first (the order their rows are locked in).
macro_rules! subtree {
    () => {
        "SELECT organization_uuid FROM organizations WHERE path >= $1 AND path <= $2 ORDER BY path"
    };
}

const NO_USERS: [Uuid; 0] = [];

/// Rounds of locking an account's subtree before a close: one per level an account can have
/// below it (3, the depth limit), one for itself, one to see nothing new.
const CLOSE_LOCK_ROUNDS: usize = 5;

/// Attempts at a close that PostgreSQL aborted to break a deadlock (see `close_account`).
const CLOSE_ATTEMPTS: u32 = 3;

/// Accounts.
#[async_trait::async_trait]
pub trait AccountStore: Send + Sync {
    /// The account of a user's membership and their role there.
    async fn caller_account(
        &self,
        user_uuid: Uuid,
    ) -> Result<Option<(AccountRecord, OrganizationRole)>>;
    /// One account.
    async fn account(&self, organization_uuid: Uuid) -> Result<Option<AccountRecord>>;
    /// Whether an account has sub-accounts.
    async fn has_sub_accounts(&self, organization_uuid: Uuid) -> Result<bool>;
    /// Creates a sub-account (its `customer_id` is assigned here) and answers it as stored;
    /// Missing when its parent no longer exists, Refused when the parent holds `max` direct
    /// sub-accounts already (counted with the parent's row locked).
    async fn create_sub_account(
        &self,
        account: &AccountRecord,
        max: i64,
        guard: &Guard,
    ) -> Result<AccountChange<AccountRecord>>;
    /// A page of the accounts `query` names, ordered by uuid, of at most `limit` accounts.
    async fn accounts_page(
        &self,
        query: &AccountQuery,
        cursor: PageCursor,
        limit: i64,
    ) -> Result<AccountPage>;
    /// Applies `edit` to an account with its row locked and stores the result.
    async fn update_account(
        &self,
        organization_uuid: Uuid,
        guard: &Guard,
        edit: AccountEdit<'_>,
    ) -> Result<AccountChange<AccountRecord>>;
    /// Closes an account and every account below it, atomically: removes their members (the
    /// users, with everything of theirs), then the accounts (with their invitations, groups,
    /// attributes and allowed IPs), records `organization.deleted` for each account and
    /// `user.deleted` for each user, and a tombstone for each account closed `at`. None when the
    /// account no longer exists.
    async fn close_account(
        &self,
        organization_uuid: Uuid,
        guard: &Guard,
        at: DateTime<Utc>,
    ) -> Result<Option<ClosedAccounts>>;
    /// When an account was closed, if it was (its tombstone).
    async fn closed_at(&self, organization_uuid: Uuid) -> Result<Option<DateTime<Utc>>>;
}

#[async_trait::async_trait]
impl AccountStore for SqlStore {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn caller_account(
        &self,
        user: Uuid,
    ) -> Result<Option<(AccountRecord, OrganizationRole)>> {
        service_kit::from_row! {
            struct Row {
                role: String,
                #[row(flatten)]
                account: AccountRecord,
            }
        }
        let row: Option<Row> = on_pool!(&self.pool, |p| sqlx::query_as(CALLER_ACCOUNT)
            .bind(user)
            .fetch_optional(p)
            .await)?;
        row.map(|r| Ok((r.account, super::stored_role(&r.role)?)))
            .transpose()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn account(&self, org: Uuid) -> Result<Option<AccountRecord>> {
        Ok(on_pool!(&self.pool, |p| sqlx::query_as(ACCOUNT)
            .bind(org)
            .fetch_optional(p)
            .await)?)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn has_sub_accounts(&self, org: Uuid) -> Result<bool> {
        Ok(on_pool!(&self.pool, |p| sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM organizations WHERE parent_uuid = $1)"
        )
        .bind(org)
        .fetch_one(p)
        .await)?)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn create_sub_account(
        &self,
        a: &AccountRecord,
        max: i64,
        guard: &Guard,
    ) -> Result<AccountChange<AccountRecord>> {
        on_pool!(&self.pool, |p| {
            let mut tx = p.begin().await?;
            check_guard!(tx, guard, NO_USERS);
            // The parent's row locked: two creations under it count one after the other.
            if lock_organization!(tx, "$1", a.parent_uuid).is_none() {
                return Ok(AccountChange::Missing);
            }
            let held: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM organizations WHERE parent_uuid = $1")
                    .bind(a.parent_uuid)
                    .fetch_one(&mut *tx)
                    .await?;
            if held >= max {
                return Ok(AccountChange::Refused);
            }
            match insert_account!(&mut *tx, a) {
                Err(e) if is_foreign_key_violation(&e) => return Ok(AccountChange::Missing),
                other => other.map_err(conflict)?,
            };
            // Read back for the customer id the database assigned.
            let stored = sqlx::query_as(ACCOUNT)
                .bind(a.organization_uuid)
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(AccountChange::Done(stored))
        })
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn accounts_page(
        &self,
        query: &AccountQuery,
        cursor: PageCursor,
        limit: i64,
    ) -> Result<AccountPage> {
        let range = &query.range;
        let (after, before) = match cursor {
            PageCursor::First => (None, None),
            PageCursor::After(id) => (Some(id), None),
            PageCursor::Before(id) => (None, Some(id)),
        };
        let (sql, at) = match before {
            Some(id) => (PAGE_BACKWARD, Some(id)),
            None => (PAGE_FORWARD, after),
        };
        // The count and the page come from one snapshot: a read transaction on SQLite (WAL),
        // a repeatable-read one on PostgreSQL (where each statement of a read-committed
        // transaction would see what committed before it).
        let begin = match &self.pool {
            Pool::Postgres(_) => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
            Pool::Sqlite(_) => "BEGIN",
        };
        let ((total, up_to_after, from_before), mut accounts): ((i64, i64, i64), Vec<_>) =
            on_pool!(&self.pool, |p| {
                let mut tx = p.begin_with(begin).await?;
                let counts = sqlx::query_as(PAGE_COUNTS)
                    .bind(&range.low)
                    .bind(&range.high)
                    .bind(after)
                    .bind(before)
                    .bind(query.pattern.as_deref())
                    .bind(query.organization_uuid)
                    .bind(query.email.as_deref())
                    .fetch_one(&mut *tx)
                    .await?;
                // One more than asked: whether another page follows in the reading direction.
                let rows = sqlx::query_as(sql)
                    .bind(&range.low)
                    .bind(&range.high)
                    .bind(at)
                    .bind(limit.saturating_add(1))
                    .bind(query.pattern.as_deref())
                    .bind(query.organization_uuid)
                    .bind(query.email.as_deref())
                    .fetch_all(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok::<_, StoreError>((counts, rows))
            })?;
        let further = accounts.len() > usize::try_from(limit).unwrap_or(0);
        accounts.truncate(usize::try_from(limit).unwrap_or(0));
        let (more_before, more_after) = if before.is_some() {
            accounts.reverse();
            (further, from_before > 0)
        } else {
            (up_to_after > 0, further)
        };
        Ok(AccountPage {
            accounts,
            total,
            more_before,
            more_after,
        })
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn update_account(
        &self,
        org: Uuid,
        guard: &Guard,
        edit: AccountEdit<'_>,
    ) -> Result<AccountChange<AccountRecord>> {
        on_pool!(&self.pool, |p| {
            let mut tx = p.begin().await?;
            check_guard!(tx, guard, NO_USERS);
            // Locks the row before reading what the edit depends on, without writing a row
            // version first (the lock order: guard.rs, `lock_organization!`).
            if lock_organization!(tx, "$1", org).is_none() {
                return Ok(AccountChange::Missing);
            }
            let current: AccountRecord = sqlx::query_as(ACCOUNT)
                .bind(org)
                .fetch_one(&mut *tx)
                .await?;
            let cidrs: Vec<String> = sqlx::query_scalar(
                "SELECT cidr FROM account_allowed_ips WHERE organization_uuid = $1",
            )
            .bind(org)
            .fetch_all(&mut *tx)
            .await?;
            let Some(a) = edit(&current, &cidrs) else {
                return Ok(AccountChange::Refused);
            };
            sqlx::query(
                "UPDATE organizations SET name = $2, legacy_access = $3, lrn_access = $4, \
                 mms_access = $5, sms_access = $6, require_ip_api_access = $7, \
                 require_ip_gql_access = $8, updated_at = $9, email = $10 \
                 WHERE organization_uuid = $1",
            )
            .bind(org)
            .bind(&a.name)
            .bind(a.legacy_access)
            .bind(a.lrn_access)
            .bind(&a.mms_access)
            .bind(&a.sms_access)
            .bind(a.require_ip_api_access)
            .bind(a.require_ip_gql_access)
            .bind(a.updated_at)
            .bind(a.email.as_deref())
            .execute(&mut *tx)
            .await
            .map_err(conflict)?;
            tx.commit().await?;
            Ok(AccountChange::Done(a))
        })
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn close_account(
        &self,
        org: Uuid,
        guard: &Guard,
        at: DateTime<Utc>,
    ) -> Result<Option<ClosedAccounts>> {
        // Every change to an account or its members takes the locks in the close's order
        // (ARCHITECTURE.md), but the purge of expired sessions and invitations deletes rows of
        // many users at once, in its own order: PostgreSQL may break a deadlock with it by
        // aborting the close, which then runs again (it was rolled back whole).
        let mut attempt = 1;
        loop {
            match self.close_account_once(org, guard, at).await {
                Err(e) if is_deadlock(&e) && attempt < CLOSE_ATTEMPTS => {
                    tracing::warn!(attempt, "account close broke a deadlock; running it again");
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn closed_at(&self, org: Uuid) -> Result<Option<DateTime<Utc>>> {
        Ok(on_pool!(&self.pool, |p| sqlx::query_scalar(
            "SELECT closed_at FROM closed_accounts WHERE organization_uuid = $1"
        )
        .bind(org)
        .fetch_optional(p)
        .await)?)
    }
}

impl SqlStore {
    /// One attempt of [`AccountStore::close_account`], in one transaction.
    async fn close_account_once(
        &self,
        org: Uuid,
        guard: &Guard,
        at: DateTime<Utc>,
    ) -> Result<Option<ClosedAccounts>> {
        // On PostgreSQL the accounts' rows are locked FOR UPDATE first: that waits for, then
        // holds off, every transaction adding a member, an invitation or a sub-account to one
        // of them (their foreign keys take KEY SHARE locks), so nobody joins an account while
        // it closes. SQLite has one writer, and the guard's write made this transaction it.
        let lock = match &self.pool {
            Pool::Postgres(_) => concat!(subtree!(), " FOR UPDATE"),
            Pool::Sqlite(_) => subtree!(),
        };
        let closed = on_pool!(&self.pool, |p| {
            let mut tx = p.begin().await?;
            check_guard!(tx, guard, NO_USERS);
            let path: Option<String> =
                sqlx::query_scalar("SELECT path FROM organizations WHERE organization_uuid = $1")
                    .bind(org)
                    .fetch_optional(&mut *tx)
                    .await?;
            let Some(path) = path else {
                return Ok(None);
            };
            let range = PathRange::subtree(&path);
            // A sub-account committed while the lock waited is not in that statement's snapshot,
            // so it escaped the lock (and a member could join it before the deletes): lock again
            // until nothing new appears. Each round locks the parents of what could appear next,
            // so the levels below an account (at most 3) bound the rounds.
            let mut locked: Vec<Uuid> = Vec::new();
            for _ in 0..CLOSE_LOCK_ROUNDS {
                let again: Vec<Uuid> = sqlx::query_scalar(lock)
                    .bind(&range.low)
                    .bind(&range.high)
                    .fetch_all(&mut *tx)
                    .await?;
                if again == locked {
                    break;
                }
                locked = again;
            }
            // Closed by another transaction between the read and the lock: nothing to close
            // (dropping the transaction rolls it back).
            if !locked.contains(&org) {
                return Ok(None);
            }
            // A user belongs to one organization at most: every member goes (their sessions,
            // tokens, memberships, invitations and group memberships with them).
            let mut users: Vec<Uuid> = sqlx::query_scalar(
                "DELETE FROM users WHERE user_uuid IN (SELECT m.user_uuid FROM memberships m \
                 JOIN organizations o ON o.organization_uuid = m.organization_uuid \
                 WHERE o.path >= $1 AND o.path <= $2) RETURNING user_uuid",
            )
            .bind(&range.low)
            .bind(&range.high)
            .fetch_all(&mut *tx)
            .await?;
            // One statement: the parent links among them hold at its end.
            let mut organizations: Vec<Uuid> = sqlx::query_scalar(
                "DELETE FROM organizations WHERE path >= $1 AND path <= $2 \
                 RETURNING organization_uuid",
            )
            .bind(&range.low)
            .bind(&range.high)
            .fetch_all(&mut *tx)
            .await?;
            users.sort_unstable();
            organizations.sort_unstable();
            for o in &organizations {
                sqlx::query(
                    "INSERT INTO closed_accounts (organization_uuid, closed_at) VALUES ($1, $2)",
                )
                .bind(o)
                .bind(at)
                .execute(&mut *tx)
                .await?;
            }
            // The events last: recording one serialises on the outbox's lock, which must never
            // be held while a row lock is awaited.
            for o in &organizations {
                insert_event!(&mut *tx, &organization_deleted(*o))?;
            }
            for u in &users {
                insert_event!(&mut *tx, &user_deleted(*u))?;
            }
            tx.commit().await?;
            Ok::<_, StoreError>(Some(ClosedAccounts {
                organizations,
                users,
            }))
        })?;
        Ok(closed)
    }
}
