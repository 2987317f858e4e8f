//! A top-level account made by an operator together with its first user: the account, a pending
//! admin (no password) and the invitation that lets them set one, in one transaction; or, by
//! `create-admin` on the command line, an organization with its first admin and their password.

use proto::identity::v1::OrganizationRole;
use service_kit::on_pool;
use uuid::Uuid;

use super::{
    AccountRecord, Guard, InviteRecord, Result, SqlStore, UserRecord,
    accounts::insert_account,
    conflict,
    guard::check_guard,
    invites::{insert_invite, insert_membership},
    organizations::{OrganizationRecord, insert_organization_with_admin, sort_key_of},
    users::insert_user,
};

const NO_USERS: [Uuid; 0] = [];

/// Accounts made with their first user.
#[async_trait::async_trait]
pub trait NewAccountStore: Send + Sync {
    /// Inserts top-level `account` (its `customer_id` assigned here), pending `user` as its
    /// `role` member and `invite` for them, atomically, while `guard` holds (else NotAllowed);
    /// Conflict when the account's or the user's email is taken. Answers the account as stored.
    async fn create_account_with_user(
        &self,
        account: &AccountRecord,
        user: &UserRecord,
        role: OrganizationRole,
        invite: &InviteRecord,
        guard: &Guard,
    ) -> Result<AccountRecord>;
    /// Inserts `user` with `password_hash` and top-level `organization` with them as its
    /// admin, atomically (what registering and then creating an organization leave, without a
    /// session); Conflict when the email is taken.
    async fn create_user_with_organization(
        &self,
        user: &UserRecord,
        password_hash: &str,
        organization: &OrganizationRecord,
    ) -> Result<()>;
}

#[async_trait::async_trait]
impl NewAccountStore for SqlStore {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn create_account_with_user(
        &self,
        a: &AccountRecord,
        u: &UserRecord,
        role: OrganizationRole,
        i: &InviteRecord,
        guard: &Guard,
    ) -> Result<AccountRecord> {
        on_pool!(&self.pool, |p| {
            let mut tx = p.begin().await?;
            check_guard!(tx, guard, NO_USERS);
            insert_account!(&mut *tx, a).map_err(conflict)?;
            insert_user!(&mut *tx, u, None::<&str>)?;
            insert_membership!(&mut *tx, u, a.organization_uuid, role)?;
            insert_invite!(&mut *tx, i)?;
            // Read back for the customer id the database assigned.
            let stored = sqlx::query_as(super::accounts::ACCOUNT)
                .bind(a.organization_uuid)
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(stored)
        })
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn create_user_with_organization(
        &self,
        u: &UserRecord,
        password_hash: &str,
        o: &OrganizationRecord,
    ) -> Result<()> {
        on_pool!(&self.pool, |p| {
            let mut tx = p.begin().await?;
            insert_user!(&mut *tx, u, Some(password_hash))?;
            insert_organization_with_admin!(&mut *tx, o, u.user_uuid)?;
            tx.commit().await?;
            Ok(())
        })
    }
}
