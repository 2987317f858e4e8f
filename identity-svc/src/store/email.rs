//! Email verification (passcodes, stored as hashes) and joining an organization by the
//! domain of a verified email.

use chrono::{DateTime, Utc};
use proto::identity::v1::OrganizationRole;
use service_kit::on_pool;
use uuid::Uuid;

use super::{
    Result, SqlStore, StoreError, conflict_or_gone,
    organizations::{SORT_SEPARATOR, sort_key_of},
    stored_role,
};

service_kit::from_row! {
    /// A pending email passcode (only its hash is stored).
    #[derive(Clone, PartialEq, Eq)]
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

service_kit::from_row! {
    /// An organization a user may join by email domain.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct AllowedOrganization {
        pub organization_uuid: Uuid,
        pub name: String,
        pub members_count: i64,
    }
}

/// What joining an organization by email domain did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinOutcome {
    /// The user joined with this role.
    Joined(OrganizationRole),
    /// The organization does not exist or does not allow the user's verified email.
    NotAllowed,
    /// The user belongs to an organization already.
    AlreadyMember,
}

/// A LIKE pattern matching a JSON array of domains that holds `domain` exactly. The domain
/// layer passes only valid host names (letters, digits, `-` and `.`), which JSON does not
/// escape; the LIKE wildcards are escaped all the same.
fn domain_pattern(domain: &str) -> String {
    let escaped = domain
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%\"{escaped}\"%")
}

/// Email passcodes and allowed email domains.
#[async_trait::async_trait]
pub trait EmailStore: Send + Sync {
    /// An organization's allowed email domains (JSON array) and role, if set.
    async fn allowed_email_domains(
        &self,
        organization_uuid: Uuid,
    ) -> Result<Option<(String, OrganizationRole)>>;
    /// Sets an organization's allowed email domains (JSON array) and role; Gone when the
    /// organization no longer exists.
    async fn set_allowed_email_domains(
        &self,
        organization_uuid: Uuid,
        domains: &str,
        role: OrganizationRole,
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
}

#[async_trait::async_trait]
impl EmailStore for SqlStore {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn allowed_email_domains(&self, org: Uuid) -> Result<Option<(String, OrganizationRole)>> {
        let row: Option<(String, String)> = on_pool!(&self.pool, |p| {
            sqlx::query_as(
                "SELECT email_domains, role FROM allowed_email_domains WHERE organization_uuid = $1",
            )
            .bind(org)
            .fetch_optional(p)
            .await
        })?;
        row.map(|(domains, role)| Ok((domains, stored_role(&role)?)))
            .transpose()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn set_allowed_email_domains(
        &self,
        org: Uuid,
        domains: &str,
        role: OrganizationRole,
    ) -> Result<()> {
        on_pool!(&self.pool, |p| {
            sqlx::query(
                "INSERT INTO allowed_email_domains (organization_uuid, email_domains, role) \
                 VALUES ($1, $2, $3) ON CONFLICT (organization_uuid) DO UPDATE \
                 SET email_domains = excluded.email_domains, role = excluded.role",
            )
            .bind(org)
            .bind(domains)
            .bind(role.as_str())
            .execute(p)
            .await
            .map(|_| ())
        })
        // Gone: the organization was closed or deleted after the caller's check.
        .map_err(conflict_or_gone)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn email_status(
        &self,
        user_uuid: Uuid,
    ) -> Result<Option<(String, Option<String>, Option<PasscodeRecord>)>> {
        service_kit::from_row! {
            struct Row {
                email: String,
                verified_email: Option<String>,
                p_email: Option<String>,
                passcode_hash: Option<String>,
                attempts: Option<i64>,
                created_at: Option<DateTime<Utc>>,
                expires_at: Option<DateTime<Utc>>,
            }
        }
        let row: Option<Row> = on_pool!(&self.pool, |p| {
            sqlx::query_as(
                "SELECT u.email, u.verified_email, p.email AS p_email, p.passcode_hash, \
                 p.attempts, p.created_at, p.expires_at FROM users u \
                 LEFT JOIN email_passcodes p ON p.user_uuid = u.user_uuid \
                 WHERE u.user_uuid = $1 AND u.is_active",
            )
            .bind(user_uuid)
            .fetch_optional(p)
            .await
        })?;
        Ok(row.map(|r| {
            let passcode = match (
                r.p_email,
                r.passcode_hash,
                r.attempts,
                r.created_at,
                r.expires_at,
            ) {
                (
                    Some(email),
                    Some(passcode_hash),
                    Some(attempts),
                    Some(created_at),
                    Some(expires_at),
                ) => Some(PasscodeRecord {
                    user_uuid,
                    email,
                    passcode_hash,
                    attempts,
                    created_at,
                    expires_at,
                }),
                _ => None,
            };
            (r.email, r.verified_email, passcode)
        }))
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn put_passcode(
        &self,
        pc: &PasscodeRecord,
        limit: i64,
        window_start: DateTime<Utc>,
    ) -> Result<bool> {
        // A new hour starts a new count; within the hour, the limit refuses (no row changes).
        let n = on_pool!(&self.pool, |p| {
            sqlx::query(
                "INSERT INTO email_passcodes (user_uuid, email, passcode_hash, attempts, \
                 created_at, expires_at, sends, window_started_at) \
                 VALUES ($1, $2, $3, 0, $4, $5, 1, $4) ON CONFLICT (user_uuid) DO UPDATE SET \
                 email = excluded.email, passcode_hash = excluded.passcode_hash, attempts = 0, \
                 created_at = excluded.created_at, expires_at = excluded.expires_at, \
                 sends = CASE WHEN email_passcodes.window_started_at < $6 THEN 1 \
                              ELSE email_passcodes.sends + 1 END, \
                 window_started_at = CASE WHEN email_passcodes.window_started_at < $6 \
                                          THEN excluded.created_at \
                                          ELSE email_passcodes.window_started_at END \
                 WHERE email_passcodes.window_started_at < $6 OR email_passcodes.sends < $7",
            )
            .bind(pc.user_uuid)
            .bind(&pc.email)
            .bind(&pc.passcode_hash)
            .bind(pc.created_at)
            .bind(pc.expires_at)
            .bind(window_start)
            .bind(limit)
            .execute(p)
            .await?
            .rows_affected()
        });
        Ok(n > 0)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn attempt_passcode(
        &self,
        user_uuid: Uuid,
        now: DateTime<Utc>,
        max_attempts: i64,
    ) -> Result<Option<PasscodeRecord>> {
        let found: Option<PasscodeRecord> = on_pool!(&self.pool, |p| {
            sqlx::query_as(
                "UPDATE email_passcodes SET attempts = attempts + 1 \
                 WHERE user_uuid = $1 AND attempts < $2 \
                 RETURNING user_uuid, email, passcode_hash, attempts, created_at, expires_at",
            )
            .bind(user_uuid)
            .bind(max_attempts)
            .fetch_optional(p)
            .await
        })?;
        // Expiry is compared here rather than in SQL (SQLite keeps times as text).
        Ok(found.filter(|pc| pc.expires_at > now))
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn verify_email(&self, user_uuid: Uuid, email: &str) -> Result<bool> {
        on_pool!(&self.pool, |p| {
            let mut tx = p.begin().await?;
            let n = sqlx::query(
                "UPDATE users SET verified_email = email WHERE user_uuid = $1 AND email = $2",
            )
            .bind(user_uuid)
            .bind(email)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            sqlx::query("DELETE FROM email_passcodes WHERE user_uuid = $1")
                .bind(user_uuid)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(n == 1)
        })
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn allowed_organizations(&self, domain: &str) -> Result<Vec<AllowedOrganization>> {
        Ok(on_pool!(&self.pool, |p| {
            sqlx::query_as(
                "SELECT o.organization_uuid, o.name, (SELECT COUNT(*) FROM memberships m \
                 WHERE m.organization_uuid = o.organization_uuid) AS members_count \
                 FROM allowed_email_domains a \
                 JOIN organizations o ON o.organization_uuid = a.organization_uuid \
                 WHERE a.email_domains LIKE $1 ESCAPE '\\' \
                 ORDER BY o.name, o.organization_uuid LIMIT 100",
            )
            .bind(domain_pattern(domain))
            .fetch_all(p)
            .await
        })?)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn join_organization(
        &self,
        user_uuid: Uuid,
        organization_uuid: Uuid,
        email: &str,
        domain: &str,
        at: DateTime<Utc>,
    ) -> Result<JoinOutcome> {
        let role: std::result::Result<Option<String>, sqlx::Error> = on_pool!(&self.pool, |p| {
            sqlx::query_scalar(concat!(
                "INSERT INTO memberships (user_uuid, organization_uuid, role, created_at, sort_key) \
                 SELECT $1, a.organization_uuid, a.role, $5, ",
                sort_key_of!("$1", "$6"),
                " FROM allowed_email_domains a \
                 WHERE a.organization_uuid = $2 AND a.email_domains LIKE $4 ESCAPE '\\' \
                 AND EXISTS (SELECT 1 FROM users u WHERE u.user_uuid = $1 AND u.is_active \
                             AND u.email = $3 AND u.verified_email = $3) \
                 RETURNING role"
            ))
            .bind(user_uuid)
            .bind(organization_uuid)
            .bind(email)
            .bind(domain_pattern(domain))
            .bind(at)
            .bind(SORT_SEPARATOR)
            .fetch_optional(p)
            .await
        });
        match role.map_err(conflict_or_gone) {
            Ok(Some(role)) => Ok(JoinOutcome::Joined(stored_role(&role)?)),
            // Gone: the organization was removed after the allowed domains were read.
            Ok(None) | Err(StoreError::Gone) => Ok(JoinOutcome::NotAllowed),
            Err(StoreError::Conflict) => Ok(JoinOutcome::AlreadyMember),
            Err(e) => Err(e),
        }
    }
}
