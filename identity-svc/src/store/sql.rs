//! The SQL of the identity store, written once and instantiated for both backends: `$n`
//! placeholders, `uuid::Uuid` and `chrono::DateTime<Utc>` bind and decode natively on both.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use service_kit::db::HeldConnections;
use uuid::Uuid;

use super::{
    AccessContexts, AllowedOrganization, AttributeRecord, CredentialIds, CredentialState,
    CurrentUser, GroupMemberRecord, GroupRecord, GroupValueRecord, IdentityStore, InviteRecord,
    InviteView, JoinOutcome, MemberFilter, MemberRecord, MembershipChange, MembershipRecord,
    OrganizationRecord, OutboxEvent, PasscodeRecord, PatRecord, PatState, Result, SessionRecord,
    SessionRotation, SigningKeyRecord, StoreError, UserCredentials, UserRecord, UserValueRecord,
    inline::InlineReads,
};

/// The PostgreSQL store: the pool, and the connections kept for the current-user read.
#[derive(Debug, Clone)]
pub struct PgStore(pub sqlx::PgPool, Arc<HeldConnections<sqlx::Postgres>>);
/// The SQLite store: the pool, the connections kept for the current-user read, and the
/// connections that make that read on the calling thread when they can (file databases only).
#[derive(Debug, Clone)]
pub struct SqliteStore(
    pub sqlx::SqlitePool,
    Arc<HeldConnections<sqlx::Sqlite>>,
    pub(super) Option<Arc<InlineReads>>,
);

impl PgStore {
    /// The store over `pool`. Four connections are kept for the current-user read, so four such
    /// reads at a time wait on the network rather than on each other.
    pub fn new(pool: sqlx::PgPool) -> Self {
        Self(pool.clone(), Arc::new(HeldConnections::new(pool, 4)))
    }

    /// Every read goes through the pool on PostgreSQL.
    #[allow(clippy::unused_self)]
    fn read_inline(&self, _: Uuid, _: CredentialIds) -> Option<Option<CurrentUserRow>> {
        None
    }
}

impl SqliteStore {
    /// The store over `pool`. Two connections are kept for the current-user read, one per core
    /// of the machine it was measured on (docs/benchmarks.md).
    ///
    /// The current-user read runs on the calling thread ([`InlineReads`]) over one connection per
    /// core, the most threads that can make it at once, when the pool reads a file in WAL mode;
    /// the kept connections serve it otherwise (an in-memory database) and whenever the inline
    /// read cannot answer at once.
    pub async fn new(pool: sqlx::SqlitePool) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
        let inline = match pool_file(&pool).await {
            Ok(Some(file)) => InlineReads::open(&file, cores).map(Arc::new),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(error = %e, "current-user reads go through the pool");
                None
            }
        };
        Self(
            pool.clone(),
            Arc::new(HeldConnections::new(pool, 2)),
            inline,
        )
    }

    /// The store without [`InlineReads`]: every read through sqlx (tests compare the two).
    #[cfg(test)]
    pub(super) fn without_inline_reads(pool: sqlx::SqlitePool) -> Self {
        Self(pool.clone(), Arc::new(HeldConnections::new(pool, 1)), None)
    }

    fn read_inline(&self, user: Uuid, ids: CredentialIds) -> Option<Option<CurrentUserRow>> {
        self.2.as_ref()?.current_user(user, ids)
    }
}

/// The file the pool's connections read, as SQLite names it, if it is one in WAL mode: not for an
/// in-memory database, whatever its URL says, nor for another journal mode, whose readers wait
/// on writers.
async fn pool_file(pool: &sqlx::SqlitePool) -> Result<Option<std::path::PathBuf>, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let file: Option<String> =
        sqlx::query_scalar("SELECT file FROM pragma_database_list WHERE name = 'main'")
            .fetch_optional(&mut *conn)
            .await?;
    let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut *conn)
        .await?;
    Ok(file
        .filter(|f| !f.is_empty() && journal.eq_ignore_ascii_case("wal"))
        .map(std::path::PathBuf::from))
}

fn conflict(err: sqlx::Error) -> StoreError {
    if service_kit::db::is_unique_violation(&err) {
        StoreError::Conflict
    } else {
        StoreError::Database(err)
    }
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

/// Separates the lower-cased first name, last name and email in `memberships.sort_key` (below
/// every printable character, so the key orders as the names do). A search pattern never holds
/// it (`like_pattern` refuses control characters), so a match lies within one of the three.
const SORT_SEPARATOR: &str = "\u{1f}";

/// The member-list sort and search key of user `$user`, from their names and email (`$sep`
/// binds [`SORT_SEPARATOR`]; migration 20261125000012).
macro_rules! sort_key_of {
    ($user:literal, $sep:literal) => {
        concat!(
            "(SELECT LOWER(su.first_name) || ",
            $sep,
            " || LOWER(su.last_name) || ",
            $sep,
            " || LOWER(su.email) FROM users su WHERE su.user_uuid = ",
            $user,
            ")"
        )
    };
}

macro_rules! user_columns {
    () => {
        "user_uuid, email, first_name, last_name, is_active, is_tracking_anonymized, \
         is_marketing_opted_in, is_setup_complete, created_at, updated_at"
    };
}
macro_rules! pat_columns {
    () => {
        "pat_uuid, user_uuid, description, token_hash, auto_generated, created_at, expires_at, rotated_at, last_used_at"
    };
}
macro_rules! member_columns {
    () => {
        "u.user_uuid, u.email, u.first_name, u.last_name, u.is_active, m.organization_uuid, m.role, \
         (u.password_hash IS NULL) AS is_pending, \
         u.created_at AS user_created_at, u.updated_at AS user_updated_at"
    };
}
/// The members of organization `$1` matching `$2` (a lower-cased LIKE pattern or NULL), tested
/// on the stored key alone: the memberships' index answers it without reading the users.
macro_rules! member_filter {
    () => {
        "m.organization_uuid = $1 AND ($2 IS NULL OR m.sort_key LIKE $2 ESCAPE '\\')"
    };
}
macro_rules! org_columns {
    () => {
        "o.organization_uuid, o.name, o.chart_colors, o.default_project_uuid, o.created_at, o.updated_at"
    };
}
macro_rules! insert_event {
    ($executor:expr, $e:expr) => {{
        let e = $e;
        sqlx::query("INSERT INTO outbox_events (event_uuid, event_type, payload, created_at) VALUES ($1, $2, $3, $4)")
            .bind(e.event_uuid)
            .bind(e.event_type)
            .bind(&e.payload)
            .bind(e.created_at)
            .execute($executor)
            .await
            .map(|_| ())
    }};
}
/// Runs a DELETE and, when it removed anything, records `event` in the same transaction;
/// whether anything was removed.
macro_rules! delete_recording {
    ($pool:expr, $query:expr, $event:expr) => {{
        let mut tx = $pool.begin().await?;
        let n = $query.execute(&mut *tx).await?.rows_affected();
        if n > 0 {
            insert_event!(&mut *tx, $event)?;
            tx.commit().await?;
        }
        Ok(n > 0)
    }};
}
/// Inside a transaction: locks the organization row (so guarded membership changes of one
/// organization run one at a time on PostgreSQL; SQLite serialises writers anyway), then reads
/// the target's role and whether they are active (have a password), the actor's role, and the
/// number of active admins.
macro_rules! lock_and_count {
    ($tx:expr, $org:expr, $user:expr, $actor:expr) => {{
        sqlx::query(
            "UPDATE organizations SET updated_at = updated_at WHERE organization_uuid = $1",
        )
        .bind($org)
        .execute(&mut *$tx)
        .await?;
        let target: Option<(String, bool)> = sqlx::query_as(
            "SELECT m.role, (u.password_hash IS NOT NULL) FROM memberships m JOIN users u ON u.user_uuid = m.user_uuid \
             WHERE m.organization_uuid = $1 AND m.user_uuid = $2",
        )
        .bind($org)
        .bind($user)
        .fetch_optional(&mut *$tx)
        .await?;
        let actor: Option<String> = sqlx::query_scalar(
            "SELECT role FROM memberships WHERE organization_uuid = $1 AND user_uuid = $2",
        )
        .bind($org)
        .bind($actor)
        .fetch_optional(&mut *$tx)
        .await?;
        let admins: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM memberships m JOIN users u ON u.user_uuid = m.user_uuid \
             WHERE m.organization_uuid = $1 AND m.role = 'admin' AND u.password_hash IS NOT NULL",
        )
        .bind($org)
        .fetch_one(&mut *$tx)
        .await?;
        (target, actor, admins)
    }};
}
macro_rules! insert_invite {
    ($executor:expr, $i:expr) => {{
        let i = $i;
        // Only for a user still pending (no password): an invitation never opens an active account.
        sqlx::query(
            "INSERT INTO invite_links (code_hash, organization_uuid, user_uuid, created_at, expires_at) \
             SELECT $1, $2, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM users WHERE user_uuid = $3 AND password_hash IS NULL)",
        )
        .bind(&i.code_hash)
        .bind(i.organization_uuid)
        .bind(i.user_uuid)
        .bind(i.created_at)
        .bind(i.expires_at)
        .execute($executor)
        .await
        .map_err(conflict)
        .and_then(|r| if r.rows_affected() == 1 { Ok(()) } else { Err(StoreError::Conflict) })
    }};
}
macro_rules! insert_user {
    ($executor:expr, $u:expr, $password_hash:expr) => {{
        let u = $u;
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
        .map_err(conflict)
        .map(|_| ())
    }};
}
macro_rules! insert_session {
    ($executor:expr, $s:expr) => {{
        let s = $s;
        sqlx::query(
            "INSERT INTO sessions (session_uuid, user_uuid, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(s.session_uuid)
        .bind(s.user_uuid)
        .bind(&s.token_hash)
        .bind(s.created_at)
        .bind(s.expires_at)
        .execute($executor)
        .await
        .map_err(conflict)
        .map(|_| ())
    }};
}

macro_rules! group_columns {
    () => {
        "group_uuid, organization_uuid, name, created_by_user_uuid, updated_by_user_uuid, created_at, updated_at"
    };
}
macro_rules! insert_group_members {
    ($db:ty, $executor:expr, $group:expr, $members:expr) => {{
        if $members.is_empty() {
            Ok(())
        } else {
            let mut qb = sqlx::QueryBuilder::<$db>::new(
                "INSERT INTO group_memberships (group_uuid, user_uuid) ",
            );
            qb.push_values($members.iter(), |mut b, user| {
                b.push_bind($group).push_bind(*user);
            });
            qb.push(" ON CONFLICT DO NOTHING");
            qb.build().execute($executor).await.map(|_| ())
        }
    }};
}
/// Which of `ids` (a column of a table with `organization_uuid`) belong to the organization.
macro_rules! ids_in_organization {
    ($db:ty, $pool:expr, $select:expr, $column:expr, $org:expr, $ids:expr) => {{
        if $ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut qb = sqlx::QueryBuilder::<$db>::new($select);
        qb.push_bind($org).push(concat!(" AND ", $column, " IN ("));
        let mut list = qb.separated(", ");
        for id in $ids {
            list.push_bind(*id);
        }
        qb.push(")");
        Ok(qb.build_query_scalar().fetch_all($pool).await?)
    }};
}
/// Inside a transaction: locks the organization's row, then checks that the guard's actor
/// still has an allowed role and that `users` are all members ([`super::Guard`]).
macro_rules! guard {
    ($db:ty, $tx:expr, $guard:expr, $users:expr) => {{
        let g: &super::Guard = $guard;
        sqlx::query(
            "UPDATE organizations SET updated_at = updated_at WHERE organization_uuid = $1",
        )
        .bind(g.organization_uuid)
        .execute(&mut *$tx)
        .await?;
        let role: Option<String> = sqlx::query_scalar(
            "SELECT role FROM memberships WHERE organization_uuid = $1 AND user_uuid = $2",
        )
        .bind(g.organization_uuid)
        .bind(g.actor)
        .fetch_optional(&mut *$tx)
        .await?;
        if !role.is_some_and(|r| g.roles.contains(&r.as_str())) {
            return Err(StoreError::NotAllowed);
        }
        let users: std::collections::BTreeSet<Uuid> = $users.iter().copied().collect();
        if !users.is_empty() {
            let mut qb = sqlx::QueryBuilder::<$db>::new(
                "SELECT COUNT(*) FROM memberships WHERE organization_uuid = ",
            );
            qb.push_bind(g.organization_uuid)
                .push(" AND user_uuid IN (");
            let mut list = qb.separated(", ");
            for id in &users {
                list.push_bind(*id);
            }
            qb.push(")");
            let n: i64 = qb.build_query_scalar().fetch_one(&mut *$tx).await?;
            if usize::try_from(n).ok() != Some(users.len()) {
                return Err(StoreError::NotMember);
            }
        }
    }};
}
/// The current-user read: the user, their membership, and the session or personal access token
/// row the caller's JWT names. The credential's rows join on their primary keys; an absent id
/// binds NULL, which matches nothing. `$n` are named parameters on SQLite, bound by name.
pub(super) const CURRENT_USER_SQL: &str = "SELECT u.user_uuid, u.email, u.first_name, u.last_name, u.is_active, \
     u.is_tracking_anonymized, u.is_marketing_opted_in, u.is_setup_complete, u.created_at, u.updated_at, m.role, \
     o.organization_uuid AS org_uuid, o.name AS org_name, o.chart_colors AS org_chart_colors, \
     o.default_project_uuid AS org_default_project_uuid, o.created_at AS org_created_at, \
     o.updated_at AS org_updated_at, s.expires_at AS session_expires_at, \
     p.pat_uuid AS pat_found, p.expires_at AS pat_expires_at, p.rotated_at AS pat_rotated_at \
     FROM users u LEFT JOIN memberships m ON m.user_uuid = u.user_uuid \
     LEFT JOIN organizations o ON o.organization_uuid = m.organization_uuid \
     LEFT JOIN sessions s ON s.user_uuid = u.user_uuid AND s.session_uuid = $2 \
     LEFT JOIN personal_access_tokens p ON p.user_uuid = u.user_uuid AND p.pat_uuid = $3 \
     WHERE u.user_uuid = $1";

/// A row of [`CURRENT_USER_SQL`], in its column order.
#[derive(Debug, sqlx::FromRow)]
pub(super) struct CurrentUserRow {
    #[sqlx(flatten)]
    pub user: UserRecord,
    pub role: Option<String>,
    pub org_uuid: Option<Uuid>,
    pub org_name: Option<String>,
    pub org_chart_colors: Option<String>,
    pub org_default_project_uuid: Option<Uuid>,
    pub org_created_at: Option<DateTime<Utc>>,
    pub org_updated_at: Option<DateTime<Utc>>,
    pub session_expires_at: Option<DateTime<Utc>>,
    pub pat_found: Option<Uuid>,
    pub pat_expires_at: Option<DateTime<Utc>>,
    pub pat_rotated_at: Option<DateTime<Utc>>,
}

impl CurrentUserRow {
    pub(super) fn into_current_user(self) -> CurrentUser {
        let membership = match (
            self.role,
            self.org_uuid,
            self.org_name,
            self.org_created_at,
            self.org_updated_at,
        ) {
            (
                Some(role),
                Some(organization_uuid),
                Some(name),
                Some(created_at),
                Some(updated_at),
            ) => Some(MembershipRecord {
                organization: OrganizationRecord {
                    organization_uuid,
                    name,
                    chart_colors: self.org_chart_colors,
                    default_project_uuid: self.org_default_project_uuid,
                    created_at,
                    updated_at,
                },
                role,
            }),
            _ => None,
        };
        CurrentUser {
            user: self.user,
            membership,
            credential: CredentialState {
                session_expires_at: self.session_expires_at,
                pat: self.pat_found.map(|_| PatState {
                    expires_at: self.pat_expires_at,
                    rotated_at: self.pat_rotated_at,
                }),
            },
        }
    }
}

macro_rules! identity_store {
    ($store:ident, $db:ty) => {
        #[async_trait::async_trait]
        impl IdentityStore for $store {
            #[tracing::instrument(skip_all)]
            async fn insert_user_with_session(&self, u: &UserRecord, password_hash: &str, s: &SessionRecord) -> Result<()> {
                let mut tx = self.0.begin().await?;
                insert_user!(&mut *tx, u, Some(password_hash))?;
                insert_session!(&mut *tx, s)?;
                tx.commit().await?;
                Ok(())
            }

            #[tracing::instrument(skip_all)]
            async fn user(&self, user_uuid: Uuid) -> Result<Option<UserRecord>> {
                Ok(sqlx::query_as(concat!("SELECT ", user_columns!(), " FROM users WHERE user_uuid = $1"))
                .bind(user_uuid)
                .fetch_optional(&self.0)
                .await?)
            }

            #[tracing::instrument(skip_all)]
            async fn user_with_membership(&self, user_uuid: Uuid, credential: CredentialIds) -> Result<Option<CurrentUser>> {
                if let Some(found) = self.read_inline(user_uuid, credential) {
                    return Ok(found.map(CurrentUserRow::into_current_user));
                }
                let query = || {
                    sqlx::query_as(CURRENT_USER_SQL)
                        .bind(user_uuid)
                        .bind(credential.session)
                        .bind(credential.pat)
                };
                // A kept connection the server dropped fails once; the read is retried on the pool, which
                // checks its idle connections before lending them.
                let mut held = self.1.lend().await?;
                let fetched = query().fetch_optional(held.conn()).await;
                let row: Option<CurrentUserRow> = match held.check(fetched) {
                    Err(e) if HeldConnections::<$db>::is_broken(&e) => {
                        drop(held);
                        query().fetch_optional(self.1.pool()).await?
                    }
                    other => other?,
                };
                Ok(row.map(CurrentUserRow::into_current_user))
            }

            #[tracing::instrument(skip_all)]
            async fn credentials_by_email(&self, email: &str) -> Result<Option<UserCredentials>> {
                Ok(sqlx::query_as(concat!("SELECT ", user_columns!(), ", password_hash FROM users WHERE email = $1"))
                    .bind(email)
                    .fetch_optional(&self.0)
                    .await?)
            }

            #[tracing::instrument(skip_all)]
            async fn insert_session(&self, s: &SessionRecord) -> Result<()> {
                insert_session!(&self.0, s)
            }

            #[tracing::instrument(skip_all)]
            async fn session_by_token_hash(&self, token_hash: &str) -> Result<Option<SessionRecord>> {
                Ok(sqlx::query_as(
                    "SELECT session_uuid, user_uuid, token_hash, created_at, expires_at FROM sessions WHERE token_hash = $1",
                )
                .bind(token_hash)
                .fetch_optional(&self.0)
                .await?)
            }

            #[tracing::instrument(skip_all)]
            async fn rotate_session(&self, old_hash: &str, new_hash: &str) -> Result<SessionRotation> {
                let mut tx = self.0.begin().await?;
                let rotated: Option<SessionRecord> = sqlx::query_as(
                    "UPDATE sessions SET previous_token_hash = token_hash, token_hash = $2 WHERE token_hash = $1 \
                     RETURNING session_uuid, user_uuid, token_hash, created_at, expires_at",
                )
                .bind(old_hash)
                .bind(new_hash)
                .fetch_optional(&mut *tx)
                .await
                .map_err(conflict)?;
                let outcome = match rotated {
                    Some(s) => SessionRotation::Rotated(s),
                    None => {
                        let n = sqlx::query("DELETE FROM sessions WHERE previous_token_hash = $1")
                            .bind(old_hash)
                            .execute(&mut *tx)
                            .await?
                            .rows_affected();
                        if n > 0 { SessionRotation::Reused } else { SessionRotation::Unknown }
                    }
                };
                tx.commit().await?;
                Ok(outcome)
            }

            #[tracing::instrument(skip_all)]
            async fn session(&self, user_uuid: Uuid, session_uuid: Uuid) -> Result<Option<SessionRecord>> {
                Ok(sqlx::query_as(
                    "SELECT session_uuid, user_uuid, token_hash, created_at, expires_at FROM sessions \
                     WHERE user_uuid = $1 AND session_uuid = $2",
                )
                .bind(user_uuid)
                .bind(session_uuid)
                .fetch_optional(&self.0)
                .await?)
            }

            #[tracing::instrument(skip_all)]
            async fn pat(&self, user_uuid: Uuid, pat_uuid: Uuid) -> Result<Option<PatRecord>> {
                Ok(sqlx::query_as(concat!(
                    "SELECT ", pat_columns!(), " FROM personal_access_tokens WHERE user_uuid = $1 AND pat_uuid = $2"
                ))
                .bind(user_uuid)
                .bind(pat_uuid)
                .fetch_optional(&self.0)
                .await?)
            }

            #[tracing::instrument(skip_all)]
            async fn delete_session(&self, user_uuid: Uuid, session_uuid: Uuid) -> Result<bool> {
                let r = sqlx::query("DELETE FROM sessions WHERE user_uuid = $1 AND session_uuid = $2")
                    .bind(user_uuid)
                    .bind(session_uuid)
                    .execute(&self.0)
                    .await?;
                Ok(r.rows_affected() > 0)
            }

            #[tracing::instrument(skip_all)]
            async fn insert_pat(&self, p: &PatRecord) -> Result<()> {
                sqlx::query(
                    "INSERT INTO personal_access_tokens (pat_uuid, user_uuid, description, token_hash, auto_generated, \
                     created_at, expires_at, rotated_at, last_used_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(p.pat_uuid)
                .bind(p.user_uuid)
                .bind(&p.description)
                .bind(&p.token_hash)
                .bind(p.auto_generated)
                .bind(p.created_at)
                .bind(p.expires_at)
                .bind(p.rotated_at)
                .bind(p.last_used_at)
                .execute(&self.0)
                .await
                .map_err(conflict)?;
                Ok(())
            }

            #[tracing::instrument(skip_all)]
            async fn count_pats(&self, user_uuid: Uuid) -> Result<i64> {
                Ok(sqlx::query_scalar("SELECT COUNT(*) FROM personal_access_tokens WHERE user_uuid = $1")
                    .bind(user_uuid)
                    .fetch_one(&self.0)
                    .await?)
            }

            #[tracing::instrument(skip_all)]
            async fn pats_of_user(&self, user_uuid: Uuid) -> Result<Vec<PatRecord>> {
                Ok(sqlx::query_as(concat!(
                    "SELECT ", pat_columns!(), " FROM personal_access_tokens WHERE user_uuid = $1 ORDER BY created_at DESC, pat_uuid DESC"
                )).bind(user_uuid).fetch_all(&self.0).await?)
            }

            #[tracing::instrument(skip_all)]
            async fn pat_by_token_hash(&self, token_hash: &str) -> Result<Option<PatRecord>> {
                Ok(sqlx::query_as(concat!("SELECT ", pat_columns!(), " FROM personal_access_tokens WHERE token_hash = $1")).bind(token_hash).fetch_optional(&self.0).await?)
            }

            #[tracing::instrument(skip_all)]
            async fn delete_pat(&self, user_uuid: Uuid, pat_uuid: Uuid) -> Result<bool> {
                let r = sqlx::query("DELETE FROM personal_access_tokens WHERE user_uuid = $1 AND pat_uuid = $2")
                    .bind(user_uuid)
                    .bind(pat_uuid)
                    .execute(&self.0)
                    .await?;
                Ok(r.rows_affected() > 0)
            }

            #[tracing::instrument(skip_all)]
            async fn rotate_pat(
                &self,
                user_uuid: Uuid,
                pat_uuid: Uuid,
                token_hash: &str,
                expires_at: DateTime<Utc>,
                rotated_at: DateTime<Utc>,
            ) -> Result<Option<PatRecord>> {
                Ok(sqlx::query_as(concat!(
                    "UPDATE personal_access_tokens SET token_hash = $1, expires_at = $2, rotated_at = $3 \
                     WHERE user_uuid = $4 AND pat_uuid = $5 RETURNING ", pat_columns!()
                ))
                    .bind(token_hash)
                    .bind(expires_at)
                    .bind(rotated_at)
                    .bind(user_uuid)
                    .bind(pat_uuid)
                    .fetch_optional(&self.0)
                    .await
                    .map_err(conflict)?)
            }

            #[tracing::instrument(skip_all)]
            async fn touch_pat(&self, pat_uuid: Uuid, at: DateTime<Utc>) -> Result<()> {
                sqlx::query("UPDATE personal_access_tokens SET last_used_at = $1 WHERE pat_uuid = $2")
                    .bind(at)
                    .bind(pat_uuid)
                    .execute(&self.0)
                    .await?;
                Ok(())
            }

            #[tracing::instrument(skip_all)]
            async fn create_organization(&self, o: &OrganizationRecord, admin: Uuid) -> Result<()> {
                let mut tx = self.0.begin().await?;
                sqlx::query(
                    "INSERT INTO organizations (organization_uuid, name, chart_colors, default_project_uuid, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(o.organization_uuid)
                .bind(&o.name)
                .bind(&o.chart_colors)
                .bind(o.default_project_uuid)
                .bind(o.created_at)
                .bind(o.updated_at)
                .execute(&mut *tx)
                .await?;
                sqlx::query(concat!(
                    "INSERT INTO memberships (user_uuid, organization_uuid, role, created_at, sort_key) \
                     VALUES ($1, $2, 'admin', $3, ", sort_key_of!("$1", "$4"), ")"
                ))
                    .bind(admin)
                    .bind(o.organization_uuid)
                    .bind(o.created_at)
                    .bind(SORT_SEPARATOR)
                    .execute(&mut *tx)
                    .await
                    .map_err(conflict)?;
                tx.commit().await?;
                Ok(())
            }

            #[tracing::instrument(skip_all)]
            async fn membership(&self, user_uuid: Uuid) -> Result<Option<MembershipRecord>> {
                #[derive(sqlx::FromRow)]
                struct Row {
                    #[sqlx(flatten)]
                    organization: OrganizationRecord,
                    role: String,
                }
                let row: Option<Row> = sqlx::query_as(concat!(
                    "SELECT ", org_columns!(), ", m.role FROM memberships m \
                     JOIN organizations o ON o.organization_uuid = m.organization_uuid WHERE m.user_uuid = $1"
                ))
                .bind(user_uuid)
                .fetch_optional(&self.0)
                .await?;
                Ok(row.map(|r| MembershipRecord { organization: r.organization, role: r.role }))
            }

            #[tracing::instrument(skip_all)]
            async fn update_organization(&self, o: &OrganizationRecord) -> Result<()> {
                sqlx::query(
                    "UPDATE organizations SET name = $2, chart_colors = $3, default_project_uuid = $4, updated_at = $5 \
                     WHERE organization_uuid = $1",
                )
                .bind(o.organization_uuid)
                .bind(&o.name)
                .bind(&o.chart_colors)
                .bind(o.default_project_uuid)
                .bind(o.updated_at)
                .execute(&self.0)
                .await?;
                Ok(())
            }

            #[tracing::instrument(skip_all)]
            async fn delete_organization(&self, organization_uuid: Uuid, event: &OutboxEvent) -> Result<bool> {
                delete_recording!(
                    self.0,
                    sqlx::query("DELETE FROM organizations WHERE organization_uuid = $1").bind(organization_uuid),
                    event
                )
            }

            #[tracing::instrument(skip_all)]
            async fn members(&self, org: Uuid, search: Option<&str>, limit: i64, offset: i64) -> Result<(Vec<MemberRecord>, i64)> {
                // The page is found in the memberships' index alone (the order and a search are
                // on its key): the members skipped by the offset are never looked up; only the
                // page's rows are joined (a deferred join).
                let rows = sqlx::query_as(concat!(
                    "SELECT ", member_columns!(), " FROM (SELECT m.user_uuid, m.sort_key FROM memberships m WHERE ",
                    member_filter!(),
                    " ORDER BY m.sort_key, m.user_uuid LIMIT $3 OFFSET $4) p \
                     JOIN memberships m ON m.user_uuid = p.user_uuid AND m.organization_uuid = $1 \
                     JOIN users u ON u.user_uuid = p.user_uuid \
                     ORDER BY p.sort_key, p.user_uuid"
                ))
                .bind(org)
                .bind(search)
                .bind(limit)
                .bind(offset)
                .fetch_all(&self.0)
                .await?;
                // The count reads the memberships' index only, with or without a search.
                let total: i64 = sqlx::query_scalar(concat!("SELECT COUNT(*) FROM memberships m WHERE ", member_filter!()))
                    .bind(org)
                    .bind(search)
                    .fetch_one(&self.0)
                    .await?;
                Ok((rows, total))
            }

            #[tracing::instrument(skip_all)]
            async fn member(&self, org: Uuid, user_uuid: Uuid) -> Result<Option<MemberRecord>> {
                Ok(sqlx::query_as(concat!(
                    "SELECT ", member_columns!(), " FROM memberships m JOIN users u ON u.user_uuid = m.user_uuid \
                     WHERE m.organization_uuid = $1 AND m.user_uuid = $2"
                ))
                .bind(org)
                .bind(user_uuid)
                .fetch_optional(&self.0)
                .await?)
            }

            #[tracing::instrument(skip_all)]
            async fn set_member_role(&self, org: Uuid, actor: Uuid, user_uuid: Uuid, role: &str) -> Result<MembershipChange> {
                let mut tx = self.0.begin().await?;
                let (target, actor, admins) = lock_and_count!(tx, org, user_uuid, actor);
                if actor.as_deref() != Some("admin") {
                    return Ok(MembershipChange::NotAllowed);
                }
                let Some((current, active)) = target else { return Ok(MembershipChange::NotMember) };
                if current == "admin" && active && role != "admin" && admins <= 1 {
                    return Ok(MembershipChange::LastAdmin);
                }
                sqlx::query("UPDATE memberships SET role = $3 WHERE organization_uuid = $1 AND user_uuid = $2")
                    .bind(org)
                    .bind(user_uuid)
                    .bind(role)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(MembershipChange::Done)
            }

            #[tracing::instrument(skip_all)]
            async fn remove_member(&self, org: Uuid, actor: Uuid, user_uuid: Uuid, event: &OutboxEvent) -> Result<MembershipChange> {
                let mut tx = self.0.begin().await?;
                let (target, actor, admins) = lock_and_count!(tx, org, user_uuid, actor);
                if actor.as_deref() != Some("admin") {
                    return Ok(MembershipChange::NotAllowed);
                }
                let Some((current, active)) = target else { return Ok(MembershipChange::NotMember) };
                if current == "admin" && active && admins <= 1 {
                    return Ok(MembershipChange::LastAdmin);
                }
                sqlx::query(
                    "DELETE FROM group_memberships WHERE user_uuid = $2 \
                     AND group_uuid IN (SELECT group_uuid FROM groups WHERE organization_uuid = $1)",
                )
                .bind(org)
                .bind(user_uuid)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "DELETE FROM user_attribute_values WHERE user_uuid = $2 \
                     AND attribute_uuid IN (SELECT attribute_uuid FROM user_attributes WHERE organization_uuid = $1)",
                )
                .bind(org)
                .bind(user_uuid)
                .execute(&mut *tx)
                .await?;
                sqlx::query("DELETE FROM memberships WHERE organization_uuid = $1 AND user_uuid = $2")
                    .bind(org)
                    .bind(user_uuid)
                    .execute(&mut *tx)
                    .await?;
                insert_event!(&mut *tx, event)?;
                tx.commit().await?;
                Ok(MembershipChange::Done)
            }

            #[tracing::instrument(skip_all)]
            async fn invite_new_user(&self, u: &UserRecord, role: &str, i: &InviteRecord) -> Result<()> {
                let mut tx = self.0.begin().await?;
                insert_user!(&mut *tx, u, None::<&str>)?;
                sqlx::query(concat!(
                    "INSERT INTO memberships (user_uuid, organization_uuid, role, created_at, sort_key) \
                     VALUES ($1, $2, $3, $4, ", sort_key_of!("$1", "$5"), ")"
                ))
                    .bind(u.user_uuid)
                    .bind(i.organization_uuid)
                    .bind(role)
                    .bind(u.created_at)
                    .bind(SORT_SEPARATOR)
                    .execute(&mut *tx)
                    .await
                    .map_err(conflict)?;
                insert_invite!(&mut *tx, i)?;
                tx.commit().await?;
                Ok(())
            }

            #[tracing::instrument(skip_all)]
            async fn insert_invite(&self, i: &InviteRecord) -> Result<()> {
                insert_invite!(&self.0, i)
            }

            #[tracing::instrument(skip_all)]
            async fn invite_by_hash(&self, code_hash: &str) -> Result<Option<InviteView>> {
                Ok(sqlx::query_as(
                    "SELECT i.code_hash, i.organization_uuid, i.user_uuid, i.created_at, i.expires_at, u.email \
                     FROM invite_links i JOIN users u ON u.user_uuid = i.user_uuid WHERE i.code_hash = $1",
                )
                .bind(code_hash)
                .fetch_optional(&self.0)
                .await?)
            }

            #[tracing::instrument(skip_all)]
            async fn invite_expiries(&self, user_uuid: Uuid) -> Result<Vec<DateTime<Utc>>> {
                Ok(sqlx::query_scalar("SELECT expires_at FROM invite_links WHERE user_uuid = $1")
                    .bind(user_uuid)
                    .fetch_all(&self.0)
                    .await?)
            }

            #[tracing::instrument(skip_all)]
            async fn delete_pending_user(&self, user_uuid: Uuid, event: &OutboxEvent) -> Result<bool> {
                delete_recording!(
                    self.0,
                    sqlx::query("DELETE FROM users WHERE user_uuid = $1 AND password_hash IS NULL").bind(user_uuid),
                    event
                )
            }

            #[tracing::instrument(skip_all)]
            async fn delete_invites(&self, org: Uuid) -> Result<u64> {
                Ok(sqlx::query("DELETE FROM invite_links WHERE organization_uuid = $1").bind(org).execute(&self.0).await?.rows_affected())
            }

            #[tracing::instrument(skip_all)]
            async fn accept_invite(&self, code_hash: &str, u: &UserRecord, password_hash: &str, s: &SessionRecord) -> Result<bool> {
                let mut tx = self.0.begin().await?;
                let gone = sqlx::query("DELETE FROM invite_links WHERE code_hash = $1 AND user_uuid = $2")
                    .bind(code_hash)
                    .bind(u.user_uuid)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if gone == 0 {
                    return Ok(false);
                }
                sqlx::query("DELETE FROM invite_links WHERE user_uuid = $1").bind(u.user_uuid).execute(&mut *tx).await?;
                let activated = sqlx::query(
                    "UPDATE users SET first_name = $2, last_name = $3, password_hash = $4, is_active = $5, updated_at = $6 \
                     WHERE user_uuid = $1 AND password_hash IS NULL",
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
                sqlx::query(concat!("UPDATE memberships SET sort_key = ", sort_key_of!("$1", "$2"), " WHERE user_uuid = $1"))
                    .bind(u.user_uuid)
                    .bind(SORT_SEPARATOR)
                    .execute(&mut *tx)
                    .await?;
                insert_session!(&mut *tx, s)?;
                tx.commit().await?;
                Ok(true)
            }

            #[tracing::instrument(skip_all)]
            async fn members_among(&self, org: Uuid, users: &[Uuid]) -> Result<Vec<Uuid>> {
                ids_in_organization!($db, &self.0, "SELECT user_uuid FROM memberships WHERE organization_uuid = ", "user_uuid", org, users)
            }

            #[tracing::instrument(skip_all)]
            async fn create_group(&self, g: &GroupRecord, members: &[Uuid], guard: &super::Guard) -> Result<()> {
                let mut tx = self.0.begin().await?;
                guard!($db, tx, guard, members);
                sqlx::query(concat!("INSERT INTO groups (", group_columns!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7)"))
                    .bind(g.group_uuid)
                    .bind(g.organization_uuid)
                    .bind(&g.name)
                    .bind(g.created_by_user_uuid)
                    .bind(g.updated_by_user_uuid)
                    .bind(g.created_at)
                    .bind(g.updated_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(conflict)?;
                insert_group_members!($db, &mut *tx, g.group_uuid, members)?;
                tx.commit().await?;
                Ok(())
            }

            #[tracing::instrument(skip_all)]
            async fn groups(&self, org: Uuid, search: Option<&str>, limit: i64, offset: i64) -> Result<(Vec<GroupRecord>, i64)> {
                let rows = sqlx::query_as(concat!(
                    "SELECT ", group_columns!(), " FROM groups WHERE organization_uuid = $1 \
                     AND ($2 IS NULL OR LOWER(name) LIKE $2 ESCAPE '\\') ORDER BY LOWER(name), group_uuid LIMIT $3 OFFSET $4"
                ))
                .bind(org)
                .bind(search)
                .bind(limit)
                .bind(offset)
                .fetch_all(&self.0)
                .await?;
                let total: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM groups WHERE organization_uuid = $1 AND ($2 IS NULL OR LOWER(name) LIKE $2 ESCAPE '\\')",
                )
                .bind(org)
                .bind(search)
                .fetch_one(&self.0)
                .await?;
                Ok((rows, total))
            }

            #[tracing::instrument(skip_all)]
            async fn group(&self, org: Uuid, group_uuid: Uuid) -> Result<Option<GroupRecord>> {
                Ok(sqlx::query_as(concat!("SELECT ", group_columns!(), " FROM groups WHERE organization_uuid = $1 AND group_uuid = $2"))
                    .bind(org)
                    .bind(group_uuid)
                    .fetch_optional(&self.0)
                    .await?)
            }

            #[tracing::instrument(skip_all)]
            async fn group_members(&self, groups: &[Uuid]) -> Result<Vec<GroupMemberRecord>> {
                if groups.is_empty() {
                    return Ok(Vec::new());
                }
                let mut qb = sqlx::QueryBuilder::<$db>::new(
                    "SELECT gm.group_uuid, u.user_uuid, u.email, u.first_name, u.last_name FROM group_memberships gm \
                     JOIN users u ON u.user_uuid = gm.user_uuid WHERE gm.group_uuid IN (",
                );
                let mut list = qb.separated(", ");
                for g in groups {
                    list.push_bind(*g);
                }
                qb.push(") ORDER BY LOWER(u.first_name), LOWER(u.last_name), u.user_uuid");
                Ok(qb.build_query_as().fetch_all(&self.0).await?)
            }

            #[tracing::instrument(skip_all)]
            async fn update_group(&self, g: &GroupRecord, members: Option<&[Uuid]>, guard: &super::Guard) -> Result<()> {
                let mut tx = self.0.begin().await?;
                guard!($db, tx, guard, members.unwrap_or_default());
                sqlx::query("UPDATE groups SET name = $2, updated_by_user_uuid = $3, updated_at = $4 WHERE group_uuid = $1")
                    .bind(g.group_uuid)
                    .bind(&g.name)
                    .bind(g.updated_by_user_uuid)
                    .bind(g.updated_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(conflict)?;
                if let Some(members) = members {
                    sqlx::query("DELETE FROM group_memberships WHERE group_uuid = $1").bind(g.group_uuid).execute(&mut *tx).await?;
                    insert_group_members!($db, &mut *tx, g.group_uuid, members)?;
                }
                tx.commit().await?;
                Ok(())
            }

            #[tracing::instrument(skip_all)]
            async fn delete_group(&self, org: Uuid, group_uuid: Uuid, event: &OutboxEvent) -> Result<bool> {
                delete_recording!(
                    self.0,
                    sqlx::query("DELETE FROM groups WHERE organization_uuid = $1 AND group_uuid = $2")
                        .bind(org)
                        .bind(group_uuid),
                    event
                )
            }

            #[tracing::instrument(skip_all)]
            async fn add_group_member(&self, group_uuid: Uuid, user_uuid: Uuid, guard: &super::Guard) -> Result<()> {
                let mut tx = self.0.begin().await?;
                guard!($db, tx, guard, [user_uuid]);
                sqlx::query("INSERT INTO group_memberships (group_uuid, user_uuid) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                    .bind(group_uuid)
                    .bind(user_uuid)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            #[tracing::instrument(skip_all)]
            async fn remove_group_member(&self, group_uuid: Uuid, user_uuid: Uuid) -> Result<bool> {
                let n = sqlx::query("DELETE FROM group_memberships WHERE group_uuid = $1 AND user_uuid = $2")
                    .bind(group_uuid)
                    .bind(user_uuid)
                    .execute(&self.0)
                    .await?
                    .rows_affected();
                Ok(n > 0)
            }

            #[tracing::instrument(skip_all)]
            async fn delete_user(&self, user_uuid: Uuid, user_event: &OutboxEvent) -> Result<MembershipChange> {
                let mut tx = self.0.begin().await?;
                // Write first, so SQLite takes its write lock before this transaction reads.
                sqlx::query("UPDATE users SET updated_at = updated_at WHERE user_uuid = $1").bind(user_uuid).execute(&mut *tx).await?;
                let org: Option<Uuid> = sqlx::query_scalar("SELECT organization_uuid FROM memberships WHERE user_uuid = $1")
                    .bind(user_uuid)
                    .fetch_optional(&mut *tx)
                    .await?;
                if let Some(org) = org {
                    let (target, _, admins) = lock_and_count!(tx, org, user_uuid, user_uuid);
                    let members: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM memberships WHERE organization_uuid = $1")
                        .bind(org)
                        .fetch_one(&mut *tx)
                        .await?;
                    if target.is_none() {
                        // Removed from the organization meanwhile: nothing of it to take along.
                    } else if members <= 1 {
                        sqlx::query("DELETE FROM organizations WHERE organization_uuid = $1").bind(org).execute(&mut *tx).await?;
                        // The organization read in this transaction is the one that goes.
                        let e = crate::domain::organizations::event(
                            "organization.deleted",
                            serde_json::json!({ "organizationUuid": org }),
                        );
                        insert_event!(&mut *tx, &e)?;
                    } else if target.as_ref().is_some_and(|(role, active)| role == "admin" && *active) && admins <= 1 {
                        return Ok(MembershipChange::LastAdmin);
                    }
                }
                let n = sqlx::query("DELETE FROM users WHERE user_uuid = $1").bind(user_uuid).execute(&mut *tx).await?.rows_affected();
                if n == 0 {
                    return Ok(MembershipChange::NotMember);
                }
                insert_event!(&mut *tx, user_event)?;
                tx.commit().await?;
                Ok(MembershipChange::Done)
            }

            #[tracing::instrument(skip_all)]
            async fn groups_among(&self, org: Uuid, groups: &[Uuid]) -> Result<Vec<Uuid>> {
                ids_in_organization!($db, &self.0, "SELECT group_uuid FROM groups WHERE organization_uuid = ", "group_uuid", org, groups)
            }

            #[tracing::instrument(skip_all)]
            async fn attributes(&self, org: Uuid) -> Result<(Vec<AttributeRecord>, Vec<UserValueRecord>, Vec<GroupValueRecord>)> {
                let attributes = sqlx::query_as(
                    "SELECT attribute_uuid, organization_uuid, name, description, attribute_default, created_at \
                     FROM user_attributes WHERE organization_uuid = $1 ORDER BY name",
                )
                .bind(org)
                .fetch_all(&self.0)
                .await?;
                let users = sqlx::query_as(
                    "SELECT v.attribute_uuid, v.user_uuid, u.email, v.value FROM user_attribute_values v \
                     JOIN user_attributes a ON a.attribute_uuid = v.attribute_uuid JOIN users u ON u.user_uuid = v.user_uuid \
                     WHERE a.organization_uuid = $1 ORDER BY u.email",
                )
                .bind(org)
                .fetch_all(&self.0)
                .await?;
                let groups = sqlx::query_as(
                    "SELECT v.attribute_uuid, v.group_uuid, v.value FROM group_attribute_values v \
                     JOIN user_attributes a ON a.attribute_uuid = v.attribute_uuid WHERE a.organization_uuid = $1 ORDER BY v.group_uuid",
                )
                .bind(org)
                .fetch_all(&self.0)
                .await?;
                Ok((attributes, users, groups))
            }

            #[tracing::instrument(skip_all)]
            async fn save_attribute(&self, a: &AttributeRecord, users: &[(Uuid, String)], groups: &[(Uuid, String)], create: bool, guard: &super::Guard) -> Result<bool> {
                let mut tx = self.0.begin().await?;
                let user_ids: Vec<Uuid> = users.iter().map(|(u, _)| *u).collect();
                guard!($db, tx, guard, user_ids);
                if create {
                    sqlx::query(
                        "INSERT INTO user_attributes (attribute_uuid, organization_uuid, name, description, attribute_default, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(a.attribute_uuid)
                    .bind(a.organization_uuid)
                    .bind(&a.name)
                    .bind(&a.description)
                    .bind(&a.attribute_default)
                    .bind(a.created_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(conflict)?;
                } else {
                    let n = sqlx::query(
                        "UPDATE user_attributes SET name = $3, description = $4, attribute_default = $5 \
                         WHERE organization_uuid = $1 AND attribute_uuid = $2",
                    )
                    .bind(a.organization_uuid)
                    .bind(a.attribute_uuid)
                    .bind(&a.name)
                    .bind(&a.description)
                    .bind(&a.attribute_default)
                    .execute(&mut *tx)
                    .await
                    .map_err(conflict)?
                    .rows_affected();
                    if n == 0 {
                        return Ok(false);
                    }
                    for table in ["DELETE FROM user_attribute_values WHERE attribute_uuid = $1", "DELETE FROM group_attribute_values WHERE attribute_uuid = $1"] {
                        sqlx::query(table).bind(a.attribute_uuid).execute(&mut *tx).await?;
                    }
                }
                if !users.is_empty() {
                    let mut qb = sqlx::QueryBuilder::<$db>::new("INSERT INTO user_attribute_values (attribute_uuid, user_uuid, value) ");
                    qb.push_values(users.iter(), |mut b, (user, value)| {
                        b.push_bind(a.attribute_uuid).push_bind(*user).push_bind(value.clone());
                    });
                    qb.build().execute(&mut *tx).await?;
                }
                if !groups.is_empty() {
                    let mut qb = sqlx::QueryBuilder::<$db>::new("INSERT INTO group_attribute_values (attribute_uuid, group_uuid, value) ");
                    qb.push_values(groups.iter(), |mut b, (group, value)| {
                        b.push_bind(a.attribute_uuid).push_bind(*group).push_bind(value.clone());
                    });
                    qb.build().execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(true)
            }

            #[tracing::instrument(skip_all)]
            async fn delete_attribute(&self, org: Uuid, attribute_uuid: Uuid) -> Result<bool> {
                let n = sqlx::query("DELETE FROM user_attributes WHERE organization_uuid = $1 AND attribute_uuid = $2")
                    .bind(org)
                    .bind(attribute_uuid)
                    .execute(&self.0)
                    .await?
                    .rows_affected();
                Ok(n > 0)
            }

            #[tracing::instrument(skip_all)]
            async fn allowed_email_domains(&self, org: Uuid) -> Result<Option<(String, String)>> {
                Ok(sqlx::query_as("SELECT email_domains, role FROM allowed_email_domains WHERE organization_uuid = $1")
                    .bind(org)
                    .fetch_optional(&self.0)
                    .await?)
            }

            #[tracing::instrument(skip_all)]
            async fn set_allowed_email_domains(&self, org: Uuid, domains: &str, role: &str) -> Result<()> {
                sqlx::query(
                    "INSERT INTO allowed_email_domains (organization_uuid, email_domains, role) VALUES ($1, $2, $3) \
                     ON CONFLICT (organization_uuid) DO UPDATE SET email_domains = excluded.email_domains, role = excluded.role",
                )
                .bind(org)
                .bind(domains)
                .bind(role)
                .execute(&self.0)
                .await?;
                Ok(())
            }

            #[tracing::instrument(skip_all)]
            async fn email_status(
                &self,
                user_uuid: Uuid,
            ) -> Result<Option<(String, Option<String>, Option<PasscodeRecord>)>> {
                #[derive(sqlx::FromRow)]
                struct Row {
                    email: String,
                    verified_email: Option<String>,
                    p_email: Option<String>,
                    passcode_hash: Option<String>,
                    attempts: Option<i64>,
                    created_at: Option<DateTime<Utc>>,
                    expires_at: Option<DateTime<Utc>>,
                }
                let row: Option<Row> = sqlx::query_as(
                    "SELECT u.email, u.verified_email, p.email AS p_email, p.passcode_hash, p.attempts, \
                     p.created_at, p.expires_at FROM users u \
                     LEFT JOIN email_passcodes p ON p.user_uuid = u.user_uuid \
                     WHERE u.user_uuid = $1 AND u.is_active",
                )
                .bind(user_uuid)
                .fetch_optional(&self.0)
                .await?;
                Ok(row.map(|r| {
                    let passcode = match (r.p_email, r.passcode_hash, r.attempts, r.created_at, r.expires_at) {
                        (Some(email), Some(passcode_hash), Some(attempts), Some(created_at), Some(expires_at)) => {
                            Some(PasscodeRecord { user_uuid, email, passcode_hash, attempts, created_at, expires_at })
                        }
                        _ => None,
                    };
                    (r.email, r.verified_email, passcode)
                }))
            }

            #[tracing::instrument(skip_all)]
            async fn put_passcode(&self, p: &PasscodeRecord, limit: i64, window_start: DateTime<Utc>) -> Result<bool> {
                // A new hour starts a new count; within the hour, the limit refuses (no row changes).
                let n = sqlx::query(
                    "INSERT INTO email_passcodes (user_uuid, email, passcode_hash, attempts, created_at, expires_at, sends, window_started_at) \
                     VALUES ($1, $2, $3, 0, $4, $5, 1, $4) ON CONFLICT (user_uuid) DO UPDATE SET \
                     email = excluded.email, passcode_hash = excluded.passcode_hash, attempts = 0, \
                     created_at = excluded.created_at, expires_at = excluded.expires_at, \
                     sends = CASE WHEN email_passcodes.window_started_at < $6 THEN 1 ELSE email_passcodes.sends + 1 END, \
                     window_started_at = CASE WHEN email_passcodes.window_started_at < $6 THEN excluded.created_at \
                                              ELSE email_passcodes.window_started_at END \
                     WHERE email_passcodes.window_started_at < $6 OR email_passcodes.sends < $7",
                )
                .bind(p.user_uuid)
                .bind(&p.email)
                .bind(&p.passcode_hash)
                .bind(p.created_at)
                .bind(p.expires_at)
                .bind(window_start)
                .bind(limit)
                .execute(&self.0)
                .await?
                .rows_affected();
                Ok(n > 0)
            }

            #[tracing::instrument(skip_all)]
            async fn attempt_passcode(
                &self,
                user_uuid: Uuid,
                now: DateTime<Utc>,
                max_attempts: i64,
            ) -> Result<Option<PasscodeRecord>> {
                let p: Option<PasscodeRecord> = sqlx::query_as(
                    "UPDATE email_passcodes SET attempts = attempts + 1 WHERE user_uuid = $1 AND attempts < $2 \
                     RETURNING user_uuid, email, passcode_hash, attempts, created_at, expires_at",
                )
                .bind(user_uuid)
                .bind(max_attempts)
                .fetch_optional(&self.0)
                .await?;
                // Expiry is compared here rather than in SQL (SQLite keeps times as text).
                Ok(p.filter(|p| p.expires_at > now))
            }

            #[tracing::instrument(skip_all)]
            async fn verify_email(&self, user_uuid: Uuid, email: &str) -> Result<bool> {
                let mut tx = self.0.begin().await?;
                let n = sqlx::query("UPDATE users SET verified_email = email WHERE user_uuid = $1 AND email = $2")
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
            }

            #[tracing::instrument(skip_all)]
            async fn allowed_organizations(&self, domain: &str) -> Result<Vec<AllowedOrganization>> {
                Ok(sqlx::query_as(
                    "SELECT o.organization_uuid, o.name, \
                     (SELECT COUNT(*) FROM memberships m WHERE m.organization_uuid = o.organization_uuid) AS members_count \
                     FROM allowed_email_domains a JOIN organizations o ON o.organization_uuid = a.organization_uuid \
                     WHERE a.email_domains LIKE $1 ESCAPE '\\' ORDER BY o.name, o.organization_uuid LIMIT 100",
                )
                .bind(domain_pattern(domain))
                .fetch_all(&self.0)
                .await?)
            }

            #[tracing::instrument(skip_all)]
            async fn join_organization(
                &self,
                user_uuid: Uuid,
                organization_uuid: Uuid,
                email: &str,
                domain: &str,
                at: DateTime<Utc>,
            ) -> Result<JoinOutcome> {
                let role: std::result::Result<Option<String>, sqlx::Error> = sqlx::query_scalar(
                    concat!(
                    "INSERT INTO memberships (user_uuid, organization_uuid, role, created_at, sort_key) \
                     SELECT $1, a.organization_uuid, a.role, $5, ", sort_key_of!("$1", "$6"), " FROM allowed_email_domains a \
                     WHERE a.organization_uuid = $2 AND a.email_domains LIKE $4 ESCAPE '\\' \
                     AND EXISTS (SELECT 1 FROM users u WHERE u.user_uuid = $1 AND u.is_active \
                                 AND u.email = $3 AND u.verified_email = $3) \
                     RETURNING role"),
                )
                .bind(user_uuid)
                .bind(organization_uuid)
                .bind(email)
                .bind(domain_pattern(domain))
                .bind(at)
                .bind(SORT_SEPARATOR)
                .fetch_optional(&self.0)
                .await;
                match role.map_err(conflict) {
                    Ok(Some(role)) => Ok(JoinOutcome::Joined(role)),
                    Ok(None) => Ok(JoinOutcome::NotAllowed),
                    Err(StoreError::Conflict) => Ok(JoinOutcome::AlreadyMember),
                    Err(e) => Err(e),
                }
            }

            #[tracing::instrument(skip_all)]
            async fn access_contexts(&self, org: Uuid, filter: &MemberFilter, with_groups: bool) -> Result<AccessContexts> {
                let mut qb = sqlx::QueryBuilder::<$db>::new(concat!(
                    "SELECT ", member_columns!(), " FROM memberships m JOIN users u ON u.user_uuid = m.user_uuid \
                     WHERE m.organization_uuid = "
                ));
                qb.push_bind(org);
                match filter {
                    MemberFilter::Users(ids) if ids.is_empty() => {
                        qb.push(" AND 1 = 0");
                    }
                    MemberFilter::Users(ids) => {
                        qb.push(" AND m.user_uuid IN (");
                        let mut list = qb.separated(", ");
                        for id in ids {
                            list.push_bind(*id);
                        }
                        qb.push(")");
                    }
                    MemberFilter::Email(email) => {
                        qb.push(" AND u.email = ").push_bind(email.clone());
                    }
                    MemberFilter::All => {}
                }
                qb.push(" ORDER BY u.user_uuid");
                let members: Vec<MemberRecord> = qb.build_query_as().fetch_all(&self.0).await?;
                let mut by_user: std::collections::HashMap<Uuid, Vec<Uuid>> = std::collections::HashMap::new();
                if !members.is_empty() {
                    let mut qb = sqlx::QueryBuilder::<$db>::new(
                        "SELECT gm.user_uuid, gm.group_uuid FROM group_memberships gm \
                         JOIN groups g ON g.group_uuid = gm.group_uuid WHERE g.organization_uuid = ",
                    );
                    qb.push_bind(org);
                    if !matches!(filter, MemberFilter::All) {
                        qb.push(" AND gm.user_uuid IN (");
                        let mut list = qb.separated(", ");
                        for m in &members {
                            list.push_bind(m.user_uuid);
                        }
                        qb.push(")");
                    }
                    let rows: Vec<(Uuid, Uuid)> = qb.build_query_as().fetch_all(&self.0).await?;
                    for (user, group) in rows {
                        by_user.entry(user).or_default().push(group);
                    }
                }
                let groups = if with_groups {
                    sqlx::query_as(concat!("SELECT ", group_columns!(), " FROM groups WHERE organization_uuid = $1 ORDER BY LOWER(name), group_uuid"))
                        .bind(org)
                        .fetch_all(&self.0)
                        .await?
                } else {
                    Vec::new()
                };
                Ok(AccessContexts {
                    members: members
                        .into_iter()
                        .map(|m| {
                            let groups = by_user.remove(&m.user_uuid).unwrap_or_default();
                            (m, groups)
                        })
                        .collect(),
                    groups,
                })
            }

            #[tracing::instrument(skip_all)]
            async fn purge_expired(&self, now: DateTime<Utc>) -> Result<u64> {
                // Times are compared in SQL here: both backends order them correctly (SQLite keeps
                // UTC RFC 3339 text of one shape, which sorts as the instants do).
                let mut n = 0;
                // A passcode row also keeps the hour's send count: it goes once that hour is over
                // too (its passcode expired more than an hour ago, so it was created before).
                let hour_ago = now - chrono::Duration::hours(1);
                for (table, cutoff) in [("sessions", now), ("email_passcodes", hour_ago), ("invite_links", now)] {
                    let sql = format!("DELETE FROM {table} WHERE expires_at < $1");
                    n += sqlx::query(sqlx::AssertSqlSafe(sql))
                        .bind(cutoff)
                        .execute(&self.0)
                        .await?
                        .rows_affected();
                }
                Ok(n)
            }

            #[tracing::instrument(skip_all)]
            async fn outbox(&self, limit: i64) -> Result<Vec<(Uuid, String, String)>> {
                Ok(sqlx::query_as("SELECT event_uuid, event_type, payload FROM outbox_events ORDER BY created_at, event_uuid LIMIT $1")
                    .bind(limit)
                    .fetch_all(&self.0)
                    .await?)
            }

            #[tracing::instrument(skip_all)]
            async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>> {
                Ok(sqlx::query_as("SELECT kid, private_seed, created_at FROM signing_keys ORDER BY created_at, kid")
                    .fetch_all(&self.0)
                    .await?)
            }

            #[tracing::instrument(skip_all)]
            async fn delete_signing_key(&self, kid: &str) -> Result<()> {
                sqlx::query("DELETE FROM signing_keys WHERE kid = $1").bind(kid).execute(&self.0).await?;
                Ok(())
            }

            #[tracing::instrument(skip_all)]
            async fn insert_signing_key(&self, k: &SigningKeyRecord) -> Result<()> {
                sqlx::query("INSERT INTO signing_keys (kid, private_seed, created_at) VALUES ($1, $2, $3)")
                    .bind(&k.kid)
                    .bind(&k.private_seed)
                    .bind(k.created_at)
                    .execute(&self.0)
                    .await
                    .map_err(conflict)?;
                Ok(())
            }
        }
    };
}

identity_store!(PgStore, sqlx::Postgres);
identity_store!(SqliteStore, sqlx::Sqlite);
