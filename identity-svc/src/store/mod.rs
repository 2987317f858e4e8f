//! identity-svc's persistence: one store over the service's pool, its methods grouped by area
//! behind small traits.
//!
//! Each area's file holds its records, its trait and the trait's implementation for
//! [`SqlStore`], with each statement in the method that runs it: `service_kit::on_pool!`
//! compiles a method's body once per backend (the statements are identical on PostgreSQL and
//! SQLite; only the migrations differ). Statements that several transactions share (recording
//! an outbox event, locking an organization's row) are small macros next to their area. The
//! domain layer holds one `Arc<dyn IdentityStore>`, the sum of the areas.
//!
//! - `users`: users and their password hashes, deleting a user;
//! - `current_user`: the current-user read, each backend its fastest way (`inline` on SQLite);
//! - `sessions`, `pats`: browser sessions and personal access tokens;
//! - `account_safety`: password changes and resets, ending a user's sessions, rate counters;
//! - `operators`: operator tokens (the owner role over every account, `owner-token`);
//! - `keys`: signing keys;
//! - `organizations`: organizations, members and roles (the last-admin rule);
//! - `accounts`: the organization hierarchy (accounts and sub-accounts), allowed IPs, closing
//!   an account with everything below it;
//! - `invites`, `email`: invitations; email passcodes and joining by email domain;
//! - `groups`, `attributes`, `guard`: groups, user attributes, and the guard of an admin's
//!   change to them;
//! - `access`: members with their groups, for the other services' access decisions;
//! - `outbox`: events for other services and the purge of expired rows.
//!
//! Architecture invariant: no other service reads these tables.

mod access;
mod account_safety;
mod accounts;
mod allowed_ips;
mod attributes;
mod current_user;
mod email;
mod groups;
mod guard;
mod inline;
mod invites;
mod keys;
mod limits;
mod new_account;
mod operators;
mod organizations;
mod outbox;
mod pats;
mod sessions;
mod users;

use std::sync::Arc;

use proto::identity::v1::OrganizationRole;
use service_kit::db::Pool;

pub use access::{AccessContextStore, AccessContexts, MemberFilter};
pub use account_safety::{AccountSafetyStore, EndSessions, PasswordResetRecord};
pub use accounts::{
    AccountChange, AccountEdit, AccountPage, AccountQuery, AccountRecord, AccountStore,
    ClosedAccounts, PageCursor, PathRange, account_path,
};
pub use allowed_ips::{AllowedIpRecord, AllowedIpStore, IpDeletionCheck};
pub use attributes::{
    AttributeRecord, AttributeStore, Attributes, GroupValueRecord, UserValueRecord,
};
pub use current_user::{CredentialIds, CredentialState, CurrentUser, PatState};
pub use email::{AllowedOrganization, EmailStore, JoinOutcome, PasscodeRecord};
pub use groups::{GroupMemberRecord, GroupRecord, GroupStore};
pub use guard::Guard;
pub use invites::{InviteRecord, InviteStore, InviteView};
pub use keys::{ClearSigningKey, SigningKeyRecord, SigningKeyStore};
pub use limits::{LimitStore, LoginAdmission};
pub use new_account::NewAccountStore;
pub use operators::{OperatorTokenRecord, OperatorTokenStore};
pub use organizations::{
    MemberRecord, MembershipChange, MembershipRecord, OrganizationRecord, OrganizationStore,
};
pub use outbox::{OutboxEvent, OutboxStore};
pub use pats::{PatRecord, PatStore};
pub use sessions::{SessionRecord, SessionRotation, SessionStore};
pub use users::{UserCredentials, UserRecord, UserStore};

use current_user::CurrentUserReads;

/// A failure of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint was violated (for example a duplicate email).
    #[error("already exists")]
    Conflict,
    /// A guarded change found the actor no longer allowed to make it (see [`Guard`]).
    #[error("not allowed")]
    NotAllowed,
    /// A guarded change names a user who is no longer a member of the organization.
    #[error("not a member")]
    NotMember,
    /// The organization a change is made in no longer exists.
    #[error("organization gone")]
    Gone,
    /// The database failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Shorthand.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A unique-constraint violation as [`StoreError::Conflict`], any other error as itself.
fn conflict(err: sqlx::Error) -> StoreError {
    if service_kit::db::is_unique_violation(&err) {
        StoreError::Conflict
    } else {
        StoreError::Database(err)
    }
}

/// As [`conflict`], with a foreign-key violation as [`StoreError::Gone`]: for a write into an
/// organization, which a concurrent close may have removed.
pub(crate) fn conflict_or_gone(err: sqlx::Error) -> StoreError {
    if service_kit::db::is_foreign_key_violation(&err) {
        StoreError::Gone
    } else {
        conflict(err)
    }
}

/// Whether PostgreSQL broke a deadlock by aborting this transaction (SQLSTATE 40P01): it was
/// rolled back whole and may run again.
fn is_deadlock(err: &StoreError) -> bool {
    matches!(err, StoreError::Database(sqlx::Error::Database(db)) if db.code().as_deref() == Some("40P01"))
}

/// The organization role a `role` column holds: its wire name, read here and written with
/// [`OrganizationRole::as_str`]. An unknown name is a decoding error of the database.
fn stored_role(name: &str) -> Result<OrganizationRole> {
    OrganizationRole::parse(name).map_err(|_| {
        StoreError::Database(sqlx::Error::Decode(
            format!("unknown organization role {name:?}").into(),
        ))
    })
}

/// What identity-svc stores: every area's trait, so the domain layer holds one store.
pub trait IdentityStore:
    UserStore
    + SessionStore
    + AccountSafetyStore
    + PatStore
    + OperatorTokenStore
    + SigningKeyStore
    + OrganizationStore
    + AccountStore
    + AllowedIpStore
    + NewAccountStore
    + InviteStore
    + EmailStore
    + GroupStore
    + AttributeStore
    + AccessContextStore
    + OutboxStore
    + LimitStore
    + std::fmt::Debug
{
}

impl<T> IdentityStore for T where
    T: UserStore
        + SessionStore
        + AccountSafetyStore
        + PatStore
        + OperatorTokenStore
        + SigningKeyStore
        + OrganizationStore
        + AccountStore
        + AllowedIpStore
        + NewAccountStore
        + InviteStore
        + EmailStore
        + GroupStore
        + AttributeStore
        + AccessContextStore
        + OutboxStore
        + LimitStore
        + std::fmt::Debug
{
}

/// The store on either backend: the service's pool, and what serves the current-user read on
/// that backend (`current_user.rs`).
#[derive(Debug, Clone)]
pub struct SqlStore {
    pool: Pool,
    current_user: Arc<CurrentUserReads>,
}

impl SqlStore {
    /// The store over `pool`.
    pub async fn new(pool: Pool) -> Self {
        let current_user = Arc::new(CurrentUserReads::for_pool(&pool).await);
        Self { pool, current_user }
    }

    /// The store on SQLite without the inline read: every read through sqlx (tests compare the
    /// two).
    #[cfg(test)]
    fn without_inline_reads(pool: sqlx::SqlitePool) -> Self {
        let reads = CurrentUserReads::sqlite_without_inline_reads(pool.clone());
        Self {
            pool: Pool::Sqlite(pool),
            current_user: Arc::new(reads),
        }
    }

    /// The connections that make the current-user read on the calling thread, if any.
    #[cfg(test)]
    fn inline_reads(&self) -> Option<&inline::InlineReads> {
        self.current_user.inline()
    }
}

/// The store for `pool`'s backend.
pub async fn for_pool(pool: Pool) -> Arc<dyn IdentityStore> {
    Arc::new(SqlStore::new(pool).await)
}

/// The migrations of each backend.
pub static SQLITE_MIGRATIONS: service_kit::migrate::Embedded = service_kit::embedded_migrations!(
    "migrations/sqlite":
    "20261125000001_identity.sql",
    "20261125000002_organizations.sql",
    "20261125000003_invite_links.sql",
    "20261125000004_groups.sql",
    "20261125000005_user_attributes.sql",
    "20261125000006_allowed_email_domains.sql",
    "20261125000007_email_verification.sql",
    "20261125000008_session_refresh.sql",
    "20261125000009_passcode_sends.sql",
    "20261125000010_member_sort_key.sql",
    "20261125000011_outbox_sequence.sql",
    "20261125000012_member_search_key.sql",
    "20261125000013_accounts.sql",
    "20261125000014_closed_accounts.sql",
    "20261125000015_operator_tokens.sql",
    "20261125000016_customer_id_counter.sql",
    "20261125000017_account_email.sql",
    "20261125000018_rate_limits.sql",
    "20261126000001_account_safety.sql",
    "20261126000040_sealed_signing_keys.sql",
    "20261126000060_pat_scopes.sql",
    "20261207000020_outbox_traceparent.sql",
);
/// See [`SQLITE_MIGRATIONS`].
pub static POSTGRES_MIGRATIONS: service_kit::migrate::Embedded = service_kit::embedded_migrations!(
    "migrations/postgres":
    "20261125000001_identity.sql",
    "20261125000002_organizations.sql",
    "20261125000003_invite_links.sql",
    "20261125000004_groups.sql",
    "20261125000005_user_attributes.sql",
    "20261125000006_allowed_email_domains.sql",
    "20261125000007_email_verification.sql",
    "20261125000008_session_refresh.sql",
    "20261125000009_passcode_sends.sql",
    "20261125000010_member_sort_key.sql",
    "20261125000011_outbox_sequence.sql",
    "20261125000012_member_search_key.sql",
    "20261125000013_accounts.sql",
    "20261125000014_closed_accounts.sql",
    "20261125000015_operator_tokens.sql",
    "20261125000016_customer_id_counter.sql",
    "20261125000017_account_email.sql",
    "20261125000018_rate_limits.sql",
    "20261126000001_account_safety.sql",
    "20261126000040_sealed_signing_keys.sql",
    "20261126000060_pat_scopes.sql",
    "20261207000020_outbox_traceparent.sql",
);

#[cfg(test)]
mod embedded_migrations {
    #[tokio::test]
    async fn every_migration_file_is_embedded_as_written() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        crate::SCHEMA.migrations.check_against(&dir).await.unwrap();
    }
}
