//! Users and their credentials (the password hash), and deleting a user with what is theirs.

use chrono::{DateTime, Utc};
use proto::identity::v1::OrganizationRole;
use service_kit::on_pool;
use uuid::Uuid;

use super::{
    CredentialIds, CurrentUser, MembershipChange, OutboxEvent, Result, SessionRecord, SqlStore,
    guard::lock_organization, organizations::lock_and_count, outbox::insert_event,
    sessions::insert_session,
};

service_kit::from_row! {
    /// A stored user.
    #[derive(Debug, Clone, PartialEq, Eq)]
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
}

service_kit::from_row! {
    /// A stored user with their password hash (never leaves the domain layer).
    pub struct UserCredentials {
        #[row(flatten)]
        pub user: UserRecord,
        pub password_hash: Option<String>,
    }
}

impl std::fmt::Debug for UserCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserCredentials")
            .field("user", &self.user)
            .field("password_hash", &"[REDACTED]")
            .finish()
    }
}

/// The columns of a [`UserRecord`].
macro_rules! user_columns {
    () => {
        "user_uuid, email, first_name, last_name, is_active, is_tracking_anonymized, \
         is_marketing_opted_in, is_setup_complete, created_at, updated_at"
    };
}

/// Inside a transaction: inserts user `$u` (a [`UserRecord`]) with `$password_hash` (none for
/// an invited user); Conflict when the email is taken.
macro_rules! insert_user {
    ($executor:expr, $u:expr, $password_hash:expr) => {{
        let u: &$crate::store::UserRecord = $u;
        sqlx::query(
            "INSERT INTO users (user_uuid, email, first_name, last_name, password_hash, is_active, \
             is_tracking_anonymized, is_marketing_opted_in, is_setup_complete, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(u.user_uuid)
        .bind(&u.email)
        .bind(&u.first_name)
        .bind(&u.last_name)
        .bind($password_hash)
        .bind(u.is_active)
        .bind(u.is_tracking_anonymized)
        .bind(u.is_marketing_opted_in)
        .bind(u.is_setup_complete)
        .bind(u.created_at)
        .bind(u.updated_at)
        .execute($executor)
        .await
        .map_err($crate::store::conflict)
        .map(|_| ())
    }};
}
pub(super) use insert_user;

/// Users.
#[async_trait::async_trait]
pub trait UserStore: Send + Sync {
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
    /// access token was issued for, in one statement (the hot path of every profile read; each
    /// backend makes it its fastest way, see `current_user.rs`).
    async fn user_with_membership(
        &self,
        user_uuid: Uuid,
        credential: CredentialIds,
    ) -> Result<Option<CurrentUser>>;
    /// The user with this (normalised) email and their password hash.
    async fn credentials_by_email(&self, email: &str) -> Result<Option<UserCredentials>>;
    /// Deletes a user and everything of theirs, recording `user_event`, atomically. When they
    /// are the only member of their organization it goes too (recording `organization.deleted`
    /// for the organization read in the transaction); when they are its last admin and others
    /// remain, nothing changes (`LastAdmin`).
    async fn delete_user(
        &self,
        user_uuid: Uuid,
        user_event: &OutboxEvent,
    ) -> Result<MembershipChange>;
}

#[async_trait::async_trait]
impl UserStore for SqlStore {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn insert_user_with_session(
        &self,
        u: &UserRecord,
        password_hash: &str,
        s: &SessionRecord,
    ) -> Result<()> {
        on_pool!(&self.pool, |p| {
            let mut tx = p.begin().await?;
            insert_user!(&mut *tx, u, Some(password_hash))?;
            insert_session!(&mut *tx, s)?;
            tx.commit().await?;
            Ok(())
        })
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn user(&self, user_uuid: Uuid) -> Result<Option<UserRecord>> {
        Ok(on_pool!(&self.pool, |p| {
            sqlx::query_as(concat!(
                "SELECT ",
                user_columns!(),
                " FROM users WHERE user_uuid = $1"
            ))
            .bind(user_uuid)
            .fetch_optional(p)
            .await
        })?)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn user_with_membership(
        &self,
        user_uuid: Uuid,
        credential: CredentialIds,
    ) -> Result<Option<CurrentUser>> {
        self.current_user.read(user_uuid, credential).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn credentials_by_email(&self, email: &str) -> Result<Option<UserCredentials>> {
        Ok(on_pool!(&self.pool, |p| {
            sqlx::query_as(concat!(
                "SELECT ",
                user_columns!(),
                ", password_hash FROM users WHERE email = $1"
            ))
            .bind(email)
            .fetch_optional(p)
            .await
        })?)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn delete_user(
        &self,
        user_uuid: Uuid,
        user_event: &OutboxEvent,
    ) -> Result<MembershipChange> {
        on_pool!(&self.pool, |p| {
            let mut tx = p.begin().await?;
            // The lock order (ARCHITECTURE.md): the user's organization's row before the user's
            // rows, as a close and a removal take them, so that neither waits for the other in
            // a cycle (PostgreSQL: a deadlock). A write, so SQLite takes its write lock before
            // this transaction reads. None: a member of no organization (one they join meanwhile
            // loses the membership with the user).
            let org = lock_organization!(
                tx,
                "(SELECT organization_uuid FROM memberships WHERE user_uuid = $1)",
                user_uuid
            );
            // The organization that goes with its only member.
            let mut org_deleted = None;
            if let Some(org) = org {
                let (target, _, admins) = lock_and_count!(tx, org, user_uuid, user_uuid);
                let members: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM memberships WHERE organization_uuid = $1",
                )
                .bind(org)
                .fetch_one(&mut *tx)
                .await?;
                let last_admin = target.as_ref().is_some_and(|(role, active)| {
                    role == OrganizationRole::Admin.as_str() && *active
                });
                if target.is_none() {
                    // Removed from the organization meanwhile: nothing of it to take along.
                } else if members <= 1 {
                    let below: bool = sqlx::query_scalar(
                        "SELECT EXISTS (SELECT 1 FROM organizations WHERE parent_uuid = $1)",
                    )
                    .bind(org)
                    .fetch_one(&mut *tx)
                    .await?;
                    if below {
                        return Ok(MembershipChange::HasSubAccounts);
                    }
                    let deleted =
                        sqlx::query("DELETE FROM organizations WHERE organization_uuid = $1")
                            .bind(org)
                            .execute(&mut *tx)
                            .await;
                    // A sub-account committed meanwhile (PostgreSQL: after the EXISTS above
                    // read) holds the organization by its foreign key.
                    match deleted {
                        Err(e) if service_kit::db::is_foreign_key_violation(&e) => {
                            return Ok(MembershipChange::HasSubAccounts);
                        }
                        other => {
                            other?;
                        }
                    }
                    org_deleted = Some(org);
                } else if last_admin && admins <= 1 {
                    return Ok(MembershipChange::LastAdmin);
                }
            }
            let n = sqlx::query("DELETE FROM users WHERE user_uuid = $1")
                .bind(user_uuid)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n == 0 {
                return Ok(MembershipChange::NotMember);
            }
            // The events last: recording one serialises on the outbox's lock, which must never
            // be held while a row lock is awaited.
            if let Some(org) = org_deleted {
                // The organization read in this transaction is the one that goes.
                let e = crate::domain::organizations::organization_deleted(org);
                insert_event!(&mut *tx, &e)?;
            }
            insert_event!(&mut *tx, user_event)?;
            tx.commit().await?;
            Ok(MembershipChange::Done)
        })
    }
}
