//! Invitations: a pending user (no password) with their membership, and the codes (stored as
//! hashes) that let them set their password.

use chrono::{DateTime, Utc};
use proto::identity::v1::OrganizationRole;
use service_kit::on_pool;
use uuid::Uuid;

use super::{
    Guard, OutboxEvent, Result, SessionRecord, SqlStore, StoreError, UserRecord, conflict_or_gone,
    guard::{check_guard, lock_organization},
    organizations::{SORT_SEPARATOR, sort_key_of},
    outbox::delete_recording,
    sessions::insert_session,
    users::insert_user,
};

service_kit::from_row! {
    /// A stored invitation (the code itself is never stored).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct InviteRecord {
        pub code_hash: String,
        pub organization_uuid: Uuid,
        pub user_uuid: Uuid,
        pub created_at: DateTime<Utc>,
        pub expires_at: DateTime<Utc>,
    }
}

service_kit::from_row! {
    /// An invitation with the invited user's email.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct InviteView {
        #[row(flatten)]
        pub invite: InviteRecord,
        pub email: String,
    }
}

/// On executor `$executor`: inserts invitation `$i` (an [`InviteRecord`]), only for a user
/// still pending (no password): an invitation never opens an active account.
macro_rules! insert_invite {
    ($executor:expr, $i:expr) => {{
        let i: &InviteRecord = $i;
        sqlx::query(
            "INSERT INTO invite_links (code_hash, organization_uuid, user_uuid, created_at, expires_at) \
             SELECT $1, $2, $3, $4, $5 \
             WHERE EXISTS (SELECT 1 FROM users WHERE user_uuid = $3 AND password_hash IS NULL)",
        )
        .bind(&i.code_hash)
        .bind(i.organization_uuid)
        .bind(i.user_uuid)
        .bind(i.created_at)
        .bind(i.expires_at)
        .execute($executor)
        .await
        .map_err($crate::store::conflict_or_gone)
        .and_then(|r| {
            if r.rows_affected() == 1 {
                Ok(())
            } else {
                Err($crate::store::StoreError::Conflict)
            }
        })
    }};
}

pub(super) use insert_invite;

/// On executor `$executor`: makes user `$u` (a [`UserRecord`], inserted already) a member of
/// organization `$org` with role `$role`, keyed for the member list; the statement's result.
macro_rules! insert_membership {
    ($executor:expr, $u:expr, $org:expr, $role:expr) => {{
        let u: &UserRecord = $u;
        let role: OrganizationRole = $role;
        sqlx::query(concat!(
            "INSERT INTO memberships (user_uuid, organization_uuid, role, created_at, sort_key) \
             VALUES ($1, $2, $3, $4, ",
            $crate::store::organizations::sort_key_of!("$1", "$5"),
            ")"
        ))
        .bind(u.user_uuid)
        .bind($org)
        .bind(role.as_str())
        .bind(u.created_at)
        .bind($crate::store::organizations::SORT_SEPARATOR)
        .execute($executor)
        .await
    }};
}
pub(super) use insert_membership;

const NO_USERS: [Uuid; 0] = [];

/// Inside transaction `$tx`, before an invitation into organization `$org` is written on behalf
/// of `$guard`'s actor: checks the guard (AC-9: the actor still administers; this locks the
/// guard's organization) and locks `$org`'s row, so that neither a demotion nor a close can
/// slip in between; `Gone` from the enclosing function when `$org` no longer exists.
macro_rules! guard_invitation {
    ($tx:expr, $guard:expr, $org:expr) => {{
        check_guard!($tx, $guard, NO_USERS);
        if lock_organization!($tx, "$1", $org).is_none() {
            return Err(StoreError::Gone);
        }
    }};
}

/// Invitations.
#[async_trait::async_trait]
pub trait InviteStore: Send + Sync {
    /// Invites a new pending user: inserts the user (no password), their membership with
    /// `role`, and the invitation, atomically, while `guard` holds (else NotAllowed). Conflict
    /// when the email is taken, Gone when the organization no longer exists.
    async fn invite_new_user(
        &self,
        user: &UserRecord,
        role: OrganizationRole,
        invite: &InviteRecord,
        guard: &Guard,
    ) -> Result<()>;
    /// Adds another invitation for a pending member while `guard` holds (else NotAllowed);
    /// Conflict when they are no longer pending, Gone when the organization no longer exists.
    async fn insert_invite(&self, invite: &InviteRecord, guard: &Guard) -> Result<()>;
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
}

#[async_trait::async_trait]
impl InviteStore for SqlStore {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn invite_new_user(
        &self,
        u: &UserRecord,
        role: OrganizationRole,
        i: &InviteRecord,
        guard: &Guard,
    ) -> Result<()> {
        on_pool!(&self.pool, |p| {
            let mut tx = p.begin().await?;
            guard_invitation!(tx, guard, i.organization_uuid);
            insert_user!(&mut *tx, u, None::<&str>)?;
            insert_membership!(&mut *tx, u, i.organization_uuid, role).map_err(conflict_or_gone)?;
            insert_invite!(&mut *tx, i)?;
            tx.commit().await?;
            Ok(())
        })
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn insert_invite(&self, i: &InviteRecord, guard: &Guard) -> Result<()> {
        on_pool!(&self.pool, |p| {
            let mut tx = p.begin().await?;
            guard_invitation!(tx, guard, i.organization_uuid);
            insert_invite!(&mut *tx, i)?;
            tx.commit().await?;
            Ok(())
        })
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn invite_by_hash(&self, code_hash: &str) -> Result<Option<InviteView>> {
        Ok(on_pool!(&self.pool, |p| {
            sqlx::query_as(
                "SELECT i.code_hash, i.organization_uuid, i.user_uuid, i.created_at, i.expires_at, \
                 u.email FROM invite_links i JOIN users u ON u.user_uuid = i.user_uuid \
                 WHERE i.code_hash = $1",
            )
            .bind(code_hash)
            .fetch_optional(p)
            .await
        })?)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn invite_expiries(&self, user_uuid: Uuid) -> Result<Vec<DateTime<Utc>>> {
        Ok(on_pool!(&self.pool, |p| {
            sqlx::query_scalar("SELECT expires_at FROM invite_links WHERE user_uuid = $1")
                .bind(user_uuid)
                .fetch_all(p)
                .await
        })?)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn delete_pending_user(&self, user_uuid: Uuid, event: &OutboxEvent) -> Result<bool> {
        on_pool!(&self.pool, |p| delete_recording!(
            p,
            sqlx::query("DELETE FROM users WHERE user_uuid = $1 AND password_hash IS NULL")
                .bind(user_uuid),
            event
        ))
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn delete_invites(&self, org: Uuid) -> Result<u64> {
        Ok(on_pool!(&self.pool, |p| {
            let mut tx = p.begin().await?;
            // The organization's row first (the lock order, ARCHITECTURE.md): a close deletes
            // these invitations too, in another order.
            lock_organization!(tx, "$1", org);
            let n = sqlx::query("DELETE FROM invite_links WHERE organization_uuid = $1")
                .bind(org)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            n
        }))
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn accept_invite(
        &self,
        code_hash: &str,
        u: &UserRecord,
        password_hash: &str,
        s: &SessionRecord,
    ) -> Result<bool> {
        on_pool!(&self.pool, |p| {
            let mut tx = p.begin().await?;
            // The lock order (ARCHITECTURE.md): the invitation's organization's row before the
            // invitation's and the user's rows, as a close takes them: a close waits for the
            // acceptance (and removes the new member), or the acceptance for the close (and
            // finds nothing). None locked: the invitation or its organization is gone.
            let org = lock_organization!(
                tx,
                "(SELECT organization_uuid FROM invite_links WHERE code_hash = $1 AND user_uuid = $2)",
                code_hash,
                u.user_uuid
            );
            if org.is_none() {
                return Ok(false);
            }
            let gone =
                sqlx::query("DELETE FROM invite_links WHERE code_hash = $1 AND user_uuid = $2")
                    .bind(code_hash)
                    .bind(u.user_uuid)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            if gone == 0 {
                return Ok(false);
            }
            sqlx::query("DELETE FROM invite_links WHERE user_uuid = $1")
                .bind(u.user_uuid)
                .execute(&mut *tx)
                .await?;
            let activated = sqlx::query(
                "UPDATE users SET first_name = $2, last_name = $3, password_hash = $4, \
                 is_active = $5, updated_at = $6 WHERE user_uuid = $1 AND password_hash IS NULL",
            )
            .bind(u.user_uuid)
            .bind(&u.first_name)
            .bind(&u.last_name)
            .bind(password_hash)
            .bind(u.is_active)
            .bind(u.updated_at)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            // Only a pending user (no password yet) can be activated by an invitation.
            if activated != 1 {
                return Ok(false);
            }
            // The names are set now: the member list's order follows them.
            sqlx::query(concat!(
                "UPDATE memberships SET sort_key = ",
                sort_key_of!("$1", "$2"),
                " WHERE user_uuid = $1"
            ))
            .bind(u.user_uuid)
            .bind(SORT_SEPARATOR)
            .execute(&mut *tx)
            .await?;
            insert_session!(&mut *tx, s)?;
            tx.commit().await?;
            Ok(true)
        })
    }
}
