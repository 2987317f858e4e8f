//! The current-user read, the one every authenticated request makes: the user, their
//! membership and the state of the credential their access token names, in one statement.
//!
//! Each backend serves it its fastest way ([`CurrentUserReads`]). On SQLite: on the calling
//! thread ([`InlineReads`], a file database in WAL mode), else on the connections kept for it,
//! else through the pool. On PostgreSQL: on the connections kept for it, else through the pool.
//! Kept connections are lent without sqlx's ping on every return (`HeldConnections`); a kept
//! connection the server dropped fails once, and the read is retried on the pool, which checks
//! its idle connections before lending them.

use chrono::{DateTime, Utc};
use service_kit::db::{HeldConnections, Pool};
use uuid::Uuid;

use super::{
    MembershipRecord, OrganizationRecord, Result, UserRecord, inline::InlineReads, stored_role,
};

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
    /// Whether the membership's account admits calls only from its allowed IPs (false without a
    /// membership).
    pub require_ip_api_access: bool,
}

/// The current-user read: the user, their membership (with the account's
/// `require_ip_api_access`), and the session or personal access token row the caller's JWT names. The credential's rows join on their primary keys; an absent id
/// binds NULL, which matches nothing. `$n` are named parameters on SQLite, bound by name.
pub(super) const CURRENT_USER_SQL: &str = "SELECT u.user_uuid, u.email, u.first_name, u.last_name, u.is_active, \
     u.is_tracking_anonymized, u.is_marketing_opted_in, u.is_setup_complete, u.created_at, u.updated_at, m.role, \
     o.organization_uuid AS org_uuid, o.name AS org_name, o.chart_colors AS org_chart_colors, \
     o.default_project_uuid AS org_default_project_uuid, o.created_at AS org_created_at, \
     o.updated_at AS org_updated_at, s.expires_at AS session_expires_at, \
     p.pat_uuid AS pat_found, p.expires_at AS pat_expires_at, p.rotated_at AS pat_rotated_at, \
     o.require_ip_api_access AS org_require_ip_api_access \
     FROM users u LEFT JOIN memberships m ON m.user_uuid = u.user_uuid \
     LEFT JOIN organizations o ON o.organization_uuid = m.organization_uuid \
     LEFT JOIN sessions s ON s.user_uuid = u.user_uuid AND s.session_uuid = $2 \
     LEFT JOIN personal_access_tokens p ON p.user_uuid = u.user_uuid AND p.pat_uuid = $3 \
     WHERE u.user_uuid = $1";

service_kit::from_row! {
    /// A row of [`CURRENT_USER_SQL`], in its column order.
    #[derive(Debug)]
    pub(super) struct CurrentUserRow {
        #[row(flatten)]
        pub(super) user: UserRecord,
        pub(super) role: Option<String>,
        pub(super) org_uuid: Option<Uuid>,
        pub(super) org_name: Option<String>,
        pub(super) org_chart_colors: Option<String>,
        pub(super) org_default_project_uuid: Option<Uuid>,
        pub(super) org_created_at: Option<DateTime<Utc>>,
        pub(super) org_updated_at: Option<DateTime<Utc>>,
        pub(super) session_expires_at: Option<DateTime<Utc>>,
        pub(super) pat_found: Option<Uuid>,
        pub(super) pat_expires_at: Option<DateTime<Utc>>,
        pub(super) pat_rotated_at: Option<DateTime<Utc>>,
        pub(super) org_require_ip_api_access: Option<bool>,
    }
}

impl CurrentUserRow {
    pub(super) fn into_current_user(self) -> Result<CurrentUser> {
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
                role: stored_role(&role)?,
            }),
            _ => None,
        };
        Ok(CurrentUser {
            user: self.user,
            membership,
            credential: CredentialState {
                session_expires_at: self.session_expires_at,
                pat: self.pat_found.map(|_| PatState {
                    expires_at: self.pat_expires_at,
                    rotated_at: self.pat_rotated_at,
                }),
            },
            require_ip_api_access: self.org_require_ip_api_access.unwrap_or(false),
        })
    }
}

/// What serves the current-user read on the store's backend.
#[derive(Debug)]
pub(super) enum CurrentUserReads {
    /// Four kept connections, so four such reads at a time wait on the network rather than on
    /// each other.
    Postgres(HeldConnections<sqlx::Postgres>),
    /// The read on the calling thread when the pool reads a file in WAL mode, and two kept
    /// connections (one per core of the machine it was measured on, docs/benchmarks.md) for an
    /// in-memory database and whenever the inline read cannot answer at once.
    Sqlite {
        inline: Option<InlineReads>,
        held: HeldConnections<sqlx::Sqlite>,
    },
}

/// On kept connections `$held` of backend `$db`: the read, retried once on their pool when the
/// kept connection turned out broken.
macro_rules! read_held {
    ($held:expr, $db:ty, $user:expr, $ids:expr) => {{
        let held = $held;
        let query = || {
            sqlx::query_as(CURRENT_USER_SQL)
                .bind($user)
                .bind($ids.session)
                .bind($ids.pat)
        };
        let mut conn = held.lend().await?;
        let fetched = query().fetch_optional(conn.conn()).await;
        let row: Option<CurrentUserRow> = match conn.check(fetched) {
            Err(e) if HeldConnections::<$db>::is_broken(&e) => {
                drop(conn);
                query().fetch_optional(held.pool()).await?
            }
            other => other?,
        };
        row
    }};
}

impl CurrentUserReads {
    /// What serves the read on `pool`'s backend. On SQLite the inline read opens one connection
    /// per core, the most threads that can make it at once.
    pub(super) async fn for_pool(pool: &Pool) -> Self {
        match pool {
            Pool::Postgres(p) => Self::Postgres(HeldConnections::new(p.clone(), 4)),
            Pool::Sqlite(p) => {
                let cores =
                    std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
                let inline = match pool_file(p).await {
                    Ok(Some(file)) => InlineReads::open(&file, cores),
                    Ok(None) => None,
                    Err(e) => {
                        tracing::warn!(error = %e, "current-user reads go through the pool");
                        None
                    }
                };
                Self::Sqlite {
                    inline,
                    held: HeldConnections::new(p.clone(), 2),
                }
            }
        }
    }

    /// Every read through sqlx (tests compare the two SQLite paths).
    #[cfg(test)]
    pub(super) fn sqlite_without_inline_reads(pool: sqlx::SqlitePool) -> Self {
        Self::Sqlite {
            inline: None,
            held: HeldConnections::new(pool, 1),
        }
    }

    /// The inline reads, on a SQLite file.
    #[cfg(test)]
    pub(super) fn inline(&self) -> Option<&InlineReads> {
        match self {
            Self::Sqlite { inline, .. } => inline.as_ref(),
            Self::Postgres(_) => None,
        }
    }

    /// The read (see the module's documentation).
    pub(super) async fn read(&self, user: Uuid, ids: CredentialIds) -> Result<Option<CurrentUser>> {
        let inline = match self {
            Self::Sqlite {
                inline: Some(inline),
                ..
            } => inline.current_user(user, ids),
            _ => None,
        };
        let row = match inline {
            Some(found) => found,
            None => Box::pin(self.read_held(user, ids)).await?,
        };
        row.map(CurrentUserRow::into_current_user).transpose()
    }

    /// The read on the kept connections. Its future holds sqlx's, some kilobytes: boxed, it is
    /// not part of the future of every read (moved several times per request, 46k of the 209k
    /// instructions of a PAT `GET /api/v1/user` besides SHA-256, docs/benchmarks.md).
    async fn read_held(&self, user: Uuid, ids: CredentialIds) -> Result<Option<CurrentUserRow>> {
        Ok(match self {
            Self::Postgres(held) => read_held!(held, sqlx::Postgres, user, ids),
            Self::Sqlite { held, .. } => read_held!(held, sqlx::Sqlite, user, ids),
        })
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
