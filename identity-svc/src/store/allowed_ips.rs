//! The addresses (ranges) an account's callers may come from (docs/accounts.md, "Allowed IPs").
//! A change to an account's allowed IPs locks the account's row and moves its `updated_at`.

use chrono::{DateTime, Utc};
use service_kit::on_pool;
use uuid::Uuid;

use super::{AccountChange, Guard, Result, SqlStore, conflict, guard::check_guard};

service_kit::from_row! {
    /// An address (range) an account's callers may come from.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct AllowedIpRecord {
        pub allowed_ip_uuid: Uuid,
        pub organization_uuid: Uuid,
        /// Canonical network form, e.g. "203.0.113.0/24".
        pub cidr: String,
        pub description: String,
        pub created_at: DateTime<Utc>,
    }
}

/// The domain's check of an allowed IP's deletion, made with the account's row locked: from the
/// deleted CIDR and the CIDRs that remain, whether it may go. Asked only while the account's
/// `require_ip_api_access` is on.
pub type IpDeletionCheck<'a> = &'a (dyn Fn(&str, &[String]) -> bool + Send + Sync);

/// Locks an account's row and bumps its `updated_at` (a change to its allowed IPs changes it).
const TOUCH: &str = "UPDATE organizations SET updated_at = $2 WHERE organization_uuid = $1";

const ALLOWED_IPS: &str = "SELECT allowed_ip_uuid, organization_uuid, cidr, description, \
     created_at FROM account_allowed_ips WHERE organization_uuid = $1 \
     ORDER BY created_at, allowed_ip_uuid";

const NO_USERS: [Uuid; 0] = [];

/// Allowed IPs of accounts.
#[async_trait::async_trait]
pub trait AllowedIpStore: Send + Sync {
    /// An account's allowed IPs, oldest first (the same order on both backends, unlike text
    /// collations).
    async fn allowed_ips(&self, organization_uuid: Uuid) -> Result<Vec<AllowedIpRecord>>;
    /// Adds an allowed IP unless the account holds `max` already (Refused); Conflict when the
    /// account allows that CIDR already.
    async fn add_allowed_ip(
        &self,
        ip: &AllowedIpRecord,
        max: i64,
        guard: &Guard,
    ) -> Result<AccountChange<()>>;
    /// Deletes one allowed IP of an account: Missing when it is not there, Refused when the
    /// account's `require_ip_api_access` is on and `check` refuses it (in the transaction that
    /// locks the account's row, as turning the flag on does, so the two cannot both pass).
    async fn delete_allowed_ip(
        &self,
        organization_uuid: Uuid,
        allowed_ip_uuid: Uuid,
        at: DateTime<Utc>,
        guard: &Guard,
        check: IpDeletionCheck<'_>,
    ) -> Result<AccountChange<()>>;
}

#[async_trait::async_trait]
impl AllowedIpStore for SqlStore {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn allowed_ips(&self, org: Uuid) -> Result<Vec<AllowedIpRecord>> {
        Ok(on_pool!(&self.pool, |p| sqlx::query_as(ALLOWED_IPS)
            .bind(org)
            .fetch_all(p)
            .await)?)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn add_allowed_ip(
        &self,
        ip: &AllowedIpRecord,
        max: i64,
        guard: &Guard,
    ) -> Result<AccountChange<()>> {
        on_pool!(&self.pool, |p| {
            let mut tx = p.begin().await?;
            check_guard!(tx, guard, NO_USERS);
            let touched = sqlx::query(TOUCH)
                .bind(ip.organization_uuid)
                .bind(ip.created_at)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if touched == 0 {
                return Ok(AccountChange::Missing);
            }
            let held: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM account_allowed_ips WHERE organization_uuid = $1",
            )
            .bind(ip.organization_uuid)
            .fetch_one(&mut *tx)
            .await?;
            if held >= max {
                return Ok(AccountChange::Refused);
            }
            sqlx::query(
                "INSERT INTO account_allowed_ips (allowed_ip_uuid, organization_uuid, cidr, \
                 description, created_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(ip.allowed_ip_uuid)
            .bind(ip.organization_uuid)
            .bind(&ip.cidr)
            .bind(&ip.description)
            .bind(ip.created_at)
            .execute(&mut *tx)
            .await
            .map_err(conflict)?;
            tx.commit().await?;
            Ok(AccountChange::Done(()))
        })
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn delete_allowed_ip(
        &self,
        org: Uuid,
        id: Uuid,
        at: DateTime<Utc>,
        guard: &Guard,
        check: IpDeletionCheck<'_>,
    ) -> Result<AccountChange<()>> {
        on_pool!(&self.pool, |p| {
            let mut tx = p.begin().await?;
            check_guard!(tx, guard, NO_USERS);
            // The account's row first, as every change to its allowed IPs locks it, and as
            // turning `require_ip_api_access` on does: whichever of the two comes second sees
            // the other's outcome.
            let required: Option<bool> = sqlx::query_scalar(
                "UPDATE organizations SET updated_at = $2 WHERE organization_uuid = $1 \
                 RETURNING require_ip_api_access",
            )
            .bind(org)
            .bind(at)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(required) = required else {
                return Ok(AccountChange::Missing);
            };
            // Nothing deleted: dropping the transaction rolls the touch back.
            let Some(cidr): Option<String> = sqlx::query_scalar(
                "DELETE FROM account_allowed_ips WHERE organization_uuid = $1 \
                 AND allowed_ip_uuid = $2 RETURNING cidr",
            )
            .bind(org)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            else {
                return Ok(AccountChange::Missing);
            };
            if required {
                let rest: Vec<String> = sqlx::query_scalar(
                    "SELECT cidr FROM account_allowed_ips WHERE organization_uuid = $1",
                )
                .bind(org)
                .fetch_all(&mut *tx)
                .await?;
                if !check(&cidr, &rest) {
                    return Ok(AccountChange::Refused);
                }
            }
            tx.commit().await?;
            Ok(AccountChange::Done(()))
        })
    }
}
