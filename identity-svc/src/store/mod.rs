//! identity-svc's persistence: one trait, a PostgreSQL and a SQLite implementation.
//!
//! Both implementations are generated from one body of SQL (`sql.rs`): the statements are
//! identical on the two backends, and only the migrations differ. Architecture invariant: no
//! other service reads these tables.

mod inline;
mod sql;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use service_kit::db::Pool;
use uuid::Uuid;

pub use sql::{PgStore, SqliteStore};

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
    /// The database failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// A change made by `actor` in an organization that holds only while the actor has one of
/// `roles` and the users it names are members (checklist AC-9). The store re-checks both in the
/// change's transaction after locking the organization's row, as the membership changes (role
/// changes, removals) do first: so a concurrent demotion or removal either commits first and the
/// change is refused, or waits until the change has committed.
#[derive(Debug, Clone)]
pub struct Guard {
    pub organization_uuid: Uuid,
    pub actor: Uuid,
    /// Roles allowed to make the change (decided by the domain layer).
    pub roles: Vec<&'static str>,
}

/// Shorthand.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A stored user.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UserRecord {
    pub user_uuid: Uuid,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub is_active: bool,
    pub is_tracking_anonymized: bool,
    pub is_marketing_opted_in: bool,
    pub is_setup_complete: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A stored user with their password hash (never leaves the domain layer).
#[derive(sqlx::FromRow)]
pub struct UserCredentials {
    #[sqlx(flatten)]
    pub user: UserRecord,
    pub password_hash: Option<String>,
}

impl std::fmt::Debug for UserCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserCredentials")
            .field("user", &self.user)
            .field("password_hash", &"[REDACTED]")
            .finish()
    }
}

/// A browser session; only the hash of its token is stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SessionRecord {
    pub session_uuid: Uuid,
    pub user_uuid: Uuid,
    pub token_hash: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// What presenting a refresh (session) token did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionRotation {
    /// The session now has the new token.
    Rotated(SessionRecord),
    /// The token was one the session had before: the session was deleted.
    Reused,
    /// No session has or had this token.
    Unknown,
}

/// The session and personal access token an access token was issued for (either may be absent).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CredentialIds {
    /// The session (`sid`).
    pub session: Option<Uuid>,
    /// The personal access token (`pat`).
    pub pat: Option<Uuid>,
}

/// What stands now of the credentials [`CredentialIds`] names: `None` where it names none, or
/// one that no longer exists.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CredentialState {
    /// The session's expiry.
    pub session_expires_at: Option<DateTime<Utc>>,
    /// The personal access token's expiry and last rotation.
    pub pat: Option<PatState>,
}

/// The part of a personal access token that decides whether tokens issued for it still stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PatState {
    /// When it expires, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// When its secret was last replaced.
    pub rotated_at: Option<DateTime<Utc>>,
}

/// A user with their membership and the state of the credential they called with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentUser {
    pub user: UserRecord,
    pub membership: Option<MembershipRecord>,
    pub credential: CredentialState,
}

/// A personal access token; only the hash of its secret is stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PatRecord {
    pub pat_uuid: Uuid,
    pub user_uuid: Uuid,
    pub description: String,
    pub token_hash: String,
    pub auto_generated: bool,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub rotated_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A stored signing key.
#[derive(sqlx::FromRow)]
pub struct SigningKeyRecord {
    pub kid: String,
    pub private_seed: Vec<u8>,
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for SigningKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRecord")
            .field("kid", &self.kid)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// A stored organization.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OrganizationRecord {
    pub organization_uuid: Uuid,
    pub name: String,
    /// JSON array of colors, when set.
    pub chart_colors: Option<String>,
    pub default_project_uuid: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A user's membership: their organization and role there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipRecord {
    pub organization: OrganizationRecord,
    pub role: String,
}

/// A member of an organization, as listed.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct MemberRecord {
    pub user_uuid: Uuid,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub is_active: bool,
    pub organization_uuid: Uuid,
    pub role: String,
    /// Invited, not yet registered (no password).
    pub is_pending: bool,
    pub user_created_at: DateTime<Utc>,
    pub user_updated_at: DateTime<Utc>,
}

/// An event for other services, written in the same transaction as the change it reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEvent {
    pub event_uuid: Uuid,
    pub event_type: &'static str,
    /// JSON; identifiers only, never secrets.
    pub payload: String,
    pub created_at: DateTime<Utc>,
}

/// A pending email passcode (only its hash is stored).
#[derive(Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PasscodeRecord {
    pub user_uuid: Uuid,
    /// The address it was sent to.
    pub email: String,
    pub passcode_hash: String,
    /// Attempts made so far.
    pub attempts: i64,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for PasscodeRecord {
    // Six digits are quickly found from their hash: the hash stays out of Debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasscodeRecord")
            .field("user_uuid", &self.user_uuid)
            .field("attempts", &self.attempts)
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// An organization a user may join by email domain.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AllowedOrganization {
    pub organization_uuid: Uuid,
    pub name: String,
    pub members_count: i64,
}

/// Which members [`IdentityStore::access_contexts`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberFilter {
    /// These users (non-members are left out).
    Users(Vec<Uuid>),
    /// The member with this (normalised) email.
    Email(String),
    /// Every member.
    All,
}

/// Members with their groups' ids, and the organization's groups.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessContexts {
    pub members: Vec<(MemberRecord, Vec<Uuid>)>,
    pub groups: Vec<GroupRecord>,
}

/// What joining an organization by email domain did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinOutcome {
    /// The user joined with this role.
    Joined(String),
    /// The organization does not exist or does not allow the user's verified email.
    NotAllowed,
    /// The user belongs to an organization already.
    AlreadyMember,
}

/// A stored invitation (the code itself is never stored).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct InviteRecord {
    pub code_hash: String,
    pub organization_uuid: Uuid,
    pub user_uuid: Uuid,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// An invitation with the invited user's email.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct InviteView {
    #[sqlx(flatten)]
    pub invite: InviteRecord,
    pub email: String,
}

/// A stored group.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct GroupRecord {
    pub group_uuid: Uuid,
    pub organization_uuid: Uuid,
    pub name: String,
    pub created_by_user_uuid: Option<Uuid>,
    pub updated_by_user_uuid: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A member of a group.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct GroupMemberRecord {
    pub group_uuid: Uuid,
    pub user_uuid: Uuid,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
}

/// A stored user attribute.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AttributeRecord {
    pub attribute_uuid: Uuid,
    pub organization_uuid: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub attribute_default: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A user's value of an attribute.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UserValueRecord {
    pub attribute_uuid: Uuid,
    pub user_uuid: Uuid,
    pub email: String,
    pub value: String,
}

/// A group's value of an attribute.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct GroupValueRecord {
    pub attribute_uuid: Uuid,
    pub group_uuid: Uuid,
    pub value: String,
}

/// What a guarded change to a membership did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MembershipChange {
    /// Done.
    Done,
    /// The user is not a member of the organization.
    NotMember,
    /// Refused: the organization would be left without an admin.
    LastAdmin,
    /// Refused: the actor is no longer an admin.
    NotAllowed,
}

/// What identity-svc stores.
#[async_trait::async_trait]
pub trait IdentityStore: Send + Sync + std::fmt::Debug {
    /// Inserts a user with their password hash and their first session, atomically.
    async fn insert_user_with_session(
        &self,
        user: &UserRecord,
        password_hash: &str,
        session: &SessionRecord,
    ) -> Result<()>;
    /// The user with this id.
    async fn user(&self, user_uuid: Uuid) -> Result<Option<UserRecord>>;
    /// The user with this id, their membership and the present state of the credential their
    /// access token was issued for, in one statement (the hot path of every profile read).
    async fn user_with_membership(
        &self,
        user_uuid: Uuid,
        credential: CredentialIds,
    ) -> Result<Option<CurrentUser>>;
    /// The user with this (normalised) email and their password hash.
    async fn credentials_by_email(&self, email: &str) -> Result<Option<UserCredentials>>;

    /// Inserts a session.
    async fn insert_session(&self, session: &SessionRecord) -> Result<()>;
    /// The session whose token has this hash.
    async fn session_by_token_hash(&self, token_hash: &str) -> Result<Option<SessionRecord>>;
    /// Replaces the token of the session whose token hashes to `old_hash` (atomically: of two
    /// refreshes with one token, one wins); a token a session had before revokes it.
    async fn rotate_session(&self, old_hash: &str, new_hash: &str) -> Result<SessionRotation>;
    /// A session of a user.
    async fn session(&self, user_uuid: Uuid, session_uuid: Uuid) -> Result<Option<SessionRecord>>;
    /// A personal access token of a user.
    async fn pat(&self, user_uuid: Uuid, pat_uuid: Uuid) -> Result<Option<PatRecord>>;
    /// Deletes a session of a user; whether it existed.
    async fn delete_session(&self, user_uuid: Uuid, session_uuid: Uuid) -> Result<bool>;

    /// Inserts a personal access token.
    async fn insert_pat(&self, pat: &PatRecord) -> Result<()>;
    /// How many tokens a user has.
    async fn count_pats(&self, user_uuid: Uuid) -> Result<i64>;
    /// A user's tokens, newest first.
    async fn pats_of_user(&self, user_uuid: Uuid) -> Result<Vec<PatRecord>>;
    /// The token whose secret has this hash.
    async fn pat_by_token_hash(&self, token_hash: &str) -> Result<Option<PatRecord>>;
    /// Deletes a token of a user; whether it existed.
    async fn delete_pat(&self, user_uuid: Uuid, pat_uuid: Uuid) -> Result<bool>;
    /// Replaces the secret and expiry of a user's token; the updated token, if it existed.
    async fn rotate_pat(
        &self,
        user_uuid: Uuid,
        pat_uuid: Uuid,
        token_hash: &str,
        expires_at: DateTime<Utc>,
        rotated_at: DateTime<Utc>,
    ) -> Result<Option<PatRecord>>;
    /// Records that a token was used.
    async fn touch_pat(&self, pat_uuid: Uuid, at: DateTime<Utc>) -> Result<()>;

    /// Creates an organization with `admin` as its first admin; Conflict when they already
    /// belong to one.
    async fn create_organization(&self, org: &OrganizationRecord, admin: Uuid) -> Result<()>;
    /// The organization and role of a user.
    async fn membership(&self, user_uuid: Uuid) -> Result<Option<MembershipRecord>>;
    /// Replaces an organization's settings.
    async fn update_organization(&self, org: &OrganizationRecord) -> Result<()>;
    /// Deletes an organization (its memberships go with it) and records `event`, atomically.
    async fn delete_organization(
        &self,
        organization_uuid: Uuid,
        event: &OutboxEvent,
    ) -> Result<bool>;
    /// One page of members, filtered by `search` (a LIKE pattern, already escaped), and the total.
    async fn members(
        &self,
        organization_uuid: Uuid,
        search: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<MemberRecord>, i64)>;
    /// One member.
    async fn member(
        &self,
        organization_uuid: Uuid,
        user_uuid: Uuid,
    ) -> Result<Option<MemberRecord>>;
    /// Sets a member's role unless that would leave the organization without an active admin;
    /// `actor` must still be an admin when the change runs.
    async fn set_member_role(
        &self,
        organization_uuid: Uuid,
        actor: Uuid,
        user_uuid: Uuid,
        role: &str,
    ) -> Result<MembershipChange>;
    /// Removes a member unless they are its last active admin; records `event` with the
    /// removal; `actor` must still be an admin when the change runs.
    async fn remove_member(
        &self,
        organization_uuid: Uuid,
        actor: Uuid,
        user_uuid: Uuid,
        event: &OutboxEvent,
    ) -> Result<MembershipChange>;
    /// Invites a new pending user: inserts the user (no password), their membership with
    /// `role`, and the invitation, atomically. Conflict when the email is taken.
    async fn invite_new_user(
        &self,
        user: &UserRecord,
        role: &str,
        invite: &InviteRecord,
    ) -> Result<()>;
    /// Adds another invitation for a pending member; Conflict when they are no longer pending.
    async fn insert_invite(&self, invite: &InviteRecord) -> Result<()>;
    /// The invitation with this code hash, with the invited email.
    async fn invite_by_hash(&self, code_hash: &str) -> Result<Option<InviteView>>;
    /// When the invitations of a user expire.
    async fn invite_expiries(&self, user_uuid: Uuid) -> Result<Vec<DateTime<Utc>>>;
    /// Deletes a user who never activated (no password), with everything of theirs, and
    /// records `event`, atomically; whether they were deleted.
    async fn delete_pending_user(&self, user_uuid: Uuid, event: &OutboxEvent) -> Result<bool>;
    /// Deletes every invitation of an organization; how many.
    async fn delete_invites(&self, organization_uuid: Uuid) -> Result<u64>;
    /// Activates an invited user: sets names and password, deletes their invitations, opens a
    /// session, atomically; false when the invitation is gone.
    async fn accept_invite(
        &self,
        code_hash: &str,
        user: &UserRecord,
        password_hash: &str,
        session: &SessionRecord,
    ) -> Result<bool>;

    /// Which of `users` are members of the organization.
    async fn members_among(&self, organization_uuid: Uuid, users: &[Uuid]) -> Result<Vec<Uuid>>;
    /// Creates a group with `members` (already checked to be members of its organization).
    /// Conflict when the name is taken in the organization.
    async fn create_group(
        &self,
        group: &GroupRecord,
        members: &[Uuid],
        guard: &Guard,
    ) -> Result<()>;
    /// One page of an organization's groups, filtered by a LIKE pattern, and the total.
    async fn groups(
        &self,
        organization_uuid: Uuid,
        search: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<GroupRecord>, i64)>;
    /// A group of an organization.
    async fn group(&self, organization_uuid: Uuid, group_uuid: Uuid)
    -> Result<Option<GroupRecord>>;
    /// The members of these groups.
    async fn group_members(&self, groups: &[Uuid]) -> Result<Vec<GroupMemberRecord>>;
    /// Renames a group and, when `members` is given, replaces its members, atomically.
    async fn update_group(
        &self,
        group: &GroupRecord,
        members: Option<&[Uuid]>,
        guard: &Guard,
    ) -> Result<()>;
    /// Deletes a group and records `event`, atomically.
    async fn delete_group(
        &self,
        organization_uuid: Uuid,
        group_uuid: Uuid,
        event: &OutboxEvent,
    ) -> Result<bool>;
    /// Adds a member to a group (no change when they are one already).
    async fn add_group_member(
        &self,
        group_uuid: Uuid,
        user_uuid: Uuid,
        guard: &Guard,
    ) -> Result<()>;
    /// Removes a member from a group; whether they were one.
    async fn remove_group_member(&self, group_uuid: Uuid, user_uuid: Uuid) -> Result<bool>;

    /// Deletes a user and everything of theirs, recording `user_event`, atomically. When they
    /// are the only member of their organization it goes too (recording `organization.deleted`
    /// for the organization read in the transaction); when they are its last admin and others
    /// remain, nothing changes (`LastAdmin`).
    async fn delete_user(
        &self,
        user_uuid: Uuid,
        user_event: &OutboxEvent,
    ) -> Result<MembershipChange>;

    /// Which of `groups` belong to the organization.
    async fn groups_among(&self, organization_uuid: Uuid, groups: &[Uuid]) -> Result<Vec<Uuid>>;
    /// An organization's attributes with their user and group values.
    async fn attributes(
        &self,
        organization_uuid: Uuid,
    ) -> Result<(
        Vec<AttributeRecord>,
        Vec<UserValueRecord>,
        Vec<GroupValueRecord>,
    )>;
    /// Creates (`create`) or replaces an attribute with its values, atomically; Conflict on a
    /// taken name; false when an attribute to replace is not there.
    async fn save_attribute(
        &self,
        attribute: &AttributeRecord,
        users: &[(Uuid, String)],
        groups: &[(Uuid, String)],
        create: bool,
        guard: &Guard,
    ) -> Result<bool>;
    /// Deletes an attribute of an organization; whether it existed.
    async fn delete_attribute(&self, organization_uuid: Uuid, attribute_uuid: Uuid)
    -> Result<bool>;

    /// An organization's allowed email domains (JSON array) and role, if set.
    async fn allowed_email_domains(
        &self,
        organization_uuid: Uuid,
    ) -> Result<Option<(String, String)>>;
    /// Sets an organization's allowed email domains (JSON array) and role.
    async fn set_allowed_email_domains(
        &self,
        organization_uuid: Uuid,
        domains: &str,
        role: &str,
    ) -> Result<()>;

    /// A user's email, the email they verified (if any) and their pending passcode; None for
    /// an unknown or inactive user.
    async fn email_status(
        &self,
        user_uuid: Uuid,
    ) -> Result<Option<(String, Option<String>, Option<PasscodeRecord>)>>;
    /// Stores a user's passcode, replacing any other, unless `limit` passcodes were sent to
    /// them since `window_start` (the count lives on the row: it holds across replicas);
    /// whether it was stored.
    async fn put_passcode(
        &self,
        passcode: &PasscodeRecord,
        limit: i64,
        window_start: DateTime<Utc>,
    ) -> Result<bool>;
    /// Counts one attempt on a user's passcode and returns it, if it has fewer than
    /// `max_attempts` attempts (atomically: parallel guesses cannot exceed the bound).
    async fn attempt_passcode(
        &self,
        user_uuid: Uuid,
        now: DateTime<Utc>,
        max_attempts: i64,
    ) -> Result<Option<PasscodeRecord>>;
    /// Marks `email` verified if it is still the user's email and deletes their passcode,
    /// atomically; whether it was.
    async fn verify_email(&self, user_uuid: Uuid, email: &str) -> Result<bool>;
    /// Organizations whose allowed email domains include `domain` (at most 100, by name).
    async fn allowed_organizations(&self, domain: &str) -> Result<Vec<AllowedOrganization>>;
    /// Adds an active user whose verified email is `email` to an organization that allows
    /// `domain`, with the role it grants, in one statement.
    async fn join_organization(
        &self,
        user_uuid: Uuid,
        organization_uuid: Uuid,
        email: &str,
        domain: &str,
        at: DateTime<Utc>,
    ) -> Result<JoinOutcome>;

    /// Members of an organization chosen by `filter`, with the organization's groups each
    /// belongs to, and (when `with_groups`) every group of the organization.
    async fn access_contexts(
        &self,
        organization_uuid: Uuid,
        filter: &MemberFilter,
        with_groups: bool,
    ) -> Result<AccessContexts>;

    /// Deletes sessions, email passcodes and invitations that expired before `now`; how many
    /// rows in all.
    async fn purge_expired(&self, now: DateTime<Utc>) -> Result<u64>;

    /// Events not yet delivered, oldest first.
    async fn outbox(&self, limit: i64) -> Result<Vec<(Uuid, String, String)>>;

    /// Every signing key, oldest first.
    async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>>;
    /// Deletes a retired signing key.
    async fn delete_signing_key(&self, kid: &str) -> Result<()>;
    /// Stores a signing key.
    async fn insert_signing_key(&self, key: &SigningKeyRecord) -> Result<()>;
}

/// The store for `pool`'s backend.
pub async fn for_pool(pool: Pool) -> Arc<dyn IdentityStore> {
    match pool {
        Pool::Sqlite(p) => Arc::new(SqliteStore::new(p).await),
        Pool::Postgres(p) => Arc::new(PgStore::new(p)),
    }
}

/// The migrations of each backend.
pub static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
/// See [`SQLITE_MIGRATIONS`].
pub static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");
