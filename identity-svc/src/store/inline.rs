//! The current-user read on SQLite, on the calling thread.
//!
//! sqlx runs each SQLite connection on a thread of its own, so every query is two thread
//! hand-offs: the task wakes the connection's thread, which wakes the task with the rows. On the
//! hottest read of the platform (every authenticated request reads the current user) those
//! hand-offs cost more than the query, a point read by primary key of a few microseconds. This
//! module runs that one read on the caller's thread instead, with rusqlite over the same SQLite
//! library and file.
//!
//! It does not wait on locks: a connection is taken only if free (`try_lock`), the busy timeout is
//! zero, and any error, a busy database or a value it cannot decode is reported as `None`, on which
//! the store reads through sqlx as before. So the caller's thread is held for the query itself:
//! microseconds from SQLite's page cache, a file read after a write elsewhere emptied that cache,
//! and, rarely, a short retry inside SQLite while a writer updates the WAL index. The connections
//! refuse writes (`query_only`; opened read-write because WAL readers may need to create the
//! `-shm` file), and every read is its own transaction: it sees every write committed before it
//! began, so a revoked credential is refused on the next request.
//!
//! The store opens these connections only on the file its pool reads, and only in WAL mode, where
//! readers never wait on writers (`CurrentUserReads::for_pool`). Replacing that file while the process runs
//! is not supported (the pool's kept connections would not follow either): stop it first.

use std::{
    path::{Path, PathBuf},
    sync::{
        Mutex, TryLockError,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use chrono::{DateTime, Utc};
use rusqlite::{OpenFlags, types::ValueRef};
use uuid::Uuid;

use super::{
    CredentialIds, UserRecord,
    current_user::{CURRENT_USER_SQL, CurrentUserRow},
};

/// Connections for reads on the calling thread.
pub(super) struct InlineReads {
    path: PathBuf,
    connections: Vec<Mutex<rusqlite::Connection>>,
    /// Whether a read has fallen back for a reason other than a busy moment yet (the first one is
    /// logged at warn).
    warned: AtomicBool,
}

impl std::fmt::Debug for InlineReads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InlineReads")
            .field("path", &self.path)
            .field("connections", &self.connections.len())
            .finish()
    }
}

/// Why a read was left to the pool (the pool's read reports real errors).
#[derive(Debug)]
enum Unanswered {
    Sqlite(rusqlite::Error),
    Decode(&'static str),
}

impl std::fmt::Display for Unanswered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite(e) => write!(f, "{e}"),
            Self::Decode(what) => write!(f, "cannot decode {what}"),
        }
    }
}

impl Unanswered {
    /// A writer held the database for a moment: expected now and then, and no sign of a fault.
    fn is_busy(&self) -> bool {
        matches!(
            self,
            Self::Sqlite(rusqlite::Error::SqliteFailure(e, _))
                if matches!(e.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
        )
    }
}

impl From<rusqlite::Error> for Unanswered {
    fn from(e: rusqlite::Error) -> Self {
        Self::Sqlite(e)
    }
}

impl InlineReads {
    /// `count` connections that refuse writes to the existing database file at `path`; `None`
    /// (reads go through the pool) for an in-memory or URI name, or a file that cannot be opened.
    pub(super) fn open(path: &Path, count: usize) -> Option<Self> {
        let name = path.to_str()?;
        if name.is_empty() || name.starts_with(':') || name.starts_with("file:") {
            return None;
        }
        let connections = (0..count.max(1))
            .map(|_| Self::connect(path).map(Mutex::new))
            .collect::<rusqlite::Result<Vec<_>>>();
        match connections {
            Ok(connections) => Some(Self {
                path: path.to_owned(),
                connections,
                warned: AtomicBool::new(false),
            }),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "current-user reads go through the pool");
                None
            }
        }
    }

    fn connect(path: &Path) -> rusqlite::Result<rusqlite::Connection> {
        // Not SQLITE_OPEN_CREATE: the pool has created and migrated the file. NO_MUTEX: each
        // connection is used under its own lock.
        let conn = rusqlite::Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(Duration::ZERO)?;
        conn.pragma_update(None, "query_only", true)?;
        Ok(conn)
    }

    /// The current-user row, if it could be read without waiting: `Some(None)` when there is no
    /// such user, `None` when the read is left to the pool.
    pub(super) fn current_user(
        &self,
        user_uuid: Uuid,
        ids: CredentialIds,
    ) -> Option<Option<CurrentUserRow>> {
        let conn = self.connections.iter().find_map(|c| match c.try_lock() {
            Ok(conn) => Some(conn),
            // A panic while reading left nothing half-done: the statement resets when dropped.
            Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        })?;
        match read_current_user(&conn, user_uuid, ids) {
            Ok(found) => Some(found),
            Err(e) => {
                // A busy moment is quiet. The first other failure of a process is told, as one
                // that repeats would take the read off this path for good.
                if e.is_busy() || self.warned.swap(true, Ordering::Relaxed) {
                    tracing::debug!(reason = %e, "current-user read left to the pool");
                } else {
                    tracing::warn!(reason = %e, "current-user read left to the pool (first time; later ones are logged at debug)");
                }
                None
            }
        }
    }
}

fn read_current_user(
    conn: &rusqlite::Connection,
    user_uuid: Uuid,
    ids: CredentialIds,
) -> Result<Option<CurrentUserRow>, Unanswered> {
    let mut statement = conn.prepare_cached(CURRENT_USER_SQL)?;
    let mut rows = statement.query(rusqlite::named_params! {
        "$1": user_uuid.as_bytes().as_slice(),
        "$2": ids.session.as_ref().map(|u| u.as_bytes().as_slice()),
        "$3": ids.pat.as_ref().map(|u| u.as_bytes().as_slice()),
    })?;
    let Some(row) = rows.next()? else {
        return Ok(None);
    };
    let col = |i: usize| row.get_ref(i);
    let found = CurrentUserRow {
        user: UserRecord {
            user_uuid: uuid(col(0)?)?.ok_or(Unanswered::Decode("user_uuid"))?,
            email: text(col(1)?)?.ok_or(Unanswered::Decode("email"))?,
            first_name: text(col(2)?)?.ok_or(Unanswered::Decode("first_name"))?,
            last_name: text(col(3)?)?.ok_or(Unanswered::Decode("last_name"))?,
            is_active: boolean(col(4)?)?,
            is_tracking_anonymized: boolean(col(5)?)?,
            is_marketing_opted_in: boolean(col(6)?)?,
            is_setup_complete: boolean(col(7)?)?,
            created_at: datetime(col(8)?)?.ok_or(Unanswered::Decode("created_at"))?,
            updated_at: datetime(col(9)?)?.ok_or(Unanswered::Decode("updated_at"))?,
        },
        role: text(col(10)?)?,
        org_uuid: uuid(col(11)?)?,
        org_name: text(col(12)?)?,
        org_chart_colors: text(col(13)?)?,
        org_default_project_uuid: uuid(col(14)?)?,
        org_created_at: datetime(col(15)?)?,
        org_updated_at: datetime(col(16)?)?,
        session_expires_at: datetime(col(17)?)?,
        pat_found: uuid(col(18)?)?,
        pat_expires_at: datetime(col(19)?)?,
        pat_rotated_at: datetime(col(20)?)?,
        org_require_ip_api_access: match col(21)? {
            ValueRef::Null => None,
            v => Some(boolean(v)?),
        },
    };
    // The first row, as the pool's `fetch_optional` takes (a user has one membership).
    Ok(Some(found))
}

/// A UUID as sqlx stores it on SQLite: 16 bytes.
fn uuid(v: ValueRef<'_>) -> Result<Option<Uuid>, Unanswered> {
    match v {
        ValueRef::Null => Ok(None),
        ValueRef::Blob(b) => Uuid::from_slice(b)
            .map(Some)
            .map_err(|_| Unanswered::Decode("uuid")),
        _ => Err(Unanswered::Decode("uuid")),
    }
}

fn text(v: ValueRef<'_>) -> Result<Option<String>, Unanswered> {
    match v {
        ValueRef::Null => Ok(None),
        ValueRef::Text(t) => std::str::from_utf8(t)
            .map(|s| Some(s.to_owned()))
            .map_err(|_| Unanswered::Decode("text")),
        _ => Err(Unanswered::Decode("text")),
    }
}

fn boolean(v: ValueRef<'_>) -> Result<bool, Unanswered> {
    match v {
        ValueRef::Integer(i) => Ok(i != 0),
        _ => Err(Unanswered::Decode("boolean")),
    }
}

/// A timestamp as sqlx writes it on SQLite (RFC 3339). Any other form sqlx would also accept
/// is left to the pool's read, which decodes it.
fn datetime(v: ValueRef<'_>) -> Result<Option<DateTime<Utc>>, Unanswered> {
    match v {
        ValueRef::Null => Ok(None),
        ValueRef::Text(t) => std::str::from_utf8(t)
            .ok()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|d| Some(d.with_timezone(&Utc)))
            .ok_or(Unanswered::Decode("timestamp")),
        _ => Err(Unanswered::Decode("timestamp")),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration as Span, Utc};
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};

    use super::*;
    use service_kit::db::Pool;

    use crate::store::{
        CredentialState, CurrentUser, OrganizationRecord, OrganizationStore, PatRecord, PatState,
        PatStore, SQLITE_MIGRATIONS, SessionRecord, SessionStore, SqlStore, UserStore,
    };

    struct TempDb {
        dir: PathBuf,
        path: PathBuf,
        pool: sqlx::SqlitePool,
    }

    impl Drop for TempDb {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    fn temp_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("identity-inline-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// A migrated identity database in a file, opened as the platform opens it.
    async fn temp_db() -> TempDb {
        let dir = temp_dir();
        let path = dir.join("identity.db");
        let pool = SqlitePoolOptions::new()
            .connect_with(
                SqliteConnectOptions::new()
                    .filename(&path)
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .foreign_keys(true),
            )
            .await
            .unwrap();
        SQLITE_MIGRATIONS.migrator().run(&pool).await.unwrap();
        TempDb { dir, path, pool }
    }

    /// A user with their first session, stored; `flags` are `is_active`,
    /// `is_tracking_anonymized`, `is_marketing_opted_in`, `is_setup_complete`. Every timestamp
    /// differs from the others, so a swapped column shows.
    async fn registered(
        store: &SqlStore,
        email: &str,
        flags: [bool; 4],
    ) -> (UserRecord, SessionRecord) {
        let now = Utc::now();
        let user = UserRecord {
            user_uuid: Uuid::now_v7(),
            email: email.to_owned(),
            first_name: format!("First {email}"),
            last_name: format!("Last {email}"),
            is_active: flags[0],
            is_tracking_anonymized: flags[1],
            is_marketing_opted_in: flags[2],
            is_setup_complete: flags[3],
            created_at: now - Span::days(3),
            updated_at: now - Span::hours(5),
        };
        let session = SessionRecord {
            session_uuid: Uuid::now_v7(),
            user_uuid: user.user_uuid,
            token_hash: Uuid::new_v4().to_string(),
            created_at: now - Span::hours(4),
            expires_at: now + Span::days(30),
        };
        store
            .insert_user_with_session(&user, "hash", &session)
            .await
            .unwrap();
        (user, session)
    }

    fn organization(name: &str, optional_fields: bool) -> OrganizationRecord {
        let now = Utc::now();
        OrganizationRecord {
            organization_uuid: Uuid::now_v7(),
            name: name.to_owned(),
            chart_colors: optional_fields.then(|| r##"["#111111"]"##.to_owned()),
            default_project_uuid: optional_fields.then(Uuid::now_v7),
            created_at: now - Span::days(2),
            updated_at: now - Span::minutes(7),
        }
    }

    fn pat_of(user: &UserRecord, expires: bool, rotated: bool) -> PatRecord {
        let now = Utc::now();
        PatRecord {
            pat_uuid: Uuid::now_v7(),
            user_uuid: user.user_uuid,
            description: "ci".to_owned(),
            token_hash: Uuid::new_v4().to_string(),
            auto_generated: false,
            created_at: now - Span::hours(3),
            expires_at: expires.then(|| now + Span::days(7)),
            rotated_at: rotated.then(|| now - Span::hours(1)),
            last_used_at: None,
            scopes: "admin".to_owned(),
        }
    }

    fn ids(session: Option<Uuid>, pat: Option<Uuid>) -> CredentialIds {
        CredentialIds { session, pat }
    }

    fn inline_read(reads: &InlineReads, user: Uuid, ids: CredentialIds) -> Option<CurrentUser> {
        reads
            .current_user(user, ids)
            .expect("answered on the calling thread")
            .map(|row| row.into_current_user().expect("a known role"))
    }

    #[test]
    fn the_statement_has_the_columns_the_decoder_reads_in_order() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE users (user_uuid, email, first_name, last_name, is_active, \
             is_tracking_anonymized, is_marketing_opted_in, is_setup_complete, created_at, updated_at); \
             CREATE TABLE memberships (user_uuid, organization_uuid, role); \
             CREATE TABLE organizations (organization_uuid, name, chart_colors, default_project_uuid, \
             created_at, updated_at, require_ip_api_access); \
             CREATE TABLE sessions (session_uuid, user_uuid, expires_at); \
             CREATE TABLE personal_access_tokens (pat_uuid, user_uuid, expires_at, rotated_at);",
        )
        .unwrap();
        let statement = conn.prepare(CURRENT_USER_SQL).unwrap();
        assert_eq!(
            statement.column_names(),
            [
                "user_uuid",
                "email",
                "first_name",
                "last_name",
                "is_active",
                "is_tracking_anonymized",
                "is_marketing_opted_in",
                "is_setup_complete",
                "created_at",
                "updated_at",
                "role",
                "org_uuid",
                "org_name",
                "org_chart_colors",
                "org_default_project_uuid",
                "org_created_at",
                "org_updated_at",
                "session_expires_at",
                "pat_found",
                "pat_expires_at",
                "pat_rotated_at",
                "org_require_ip_api_access",
            ]
        );
    }

    #[tokio::test]
    async fn the_inline_read_answers_as_the_pool_read_does() {
        let db = temp_db().await;
        let reads = InlineReads::open(&db.path, 2).expect("a file database is read inline");
        let pooled = SqlStore::without_inline_reads(db.pool.clone());

        // An admin with a session and a token that expires and was rotated, in an organization
        // with every optional field set.
        let (admin, admin_session) =
            registered(&pooled, "admin@example.com", [true, false, true, false]).await;
        let org = organization("Acme", true);
        pooled
            .create_organization(&org, admin.user_uuid)
            .await
            .unwrap();
        let admin_pat = pat_of(&admin, true, true);
        pooled.insert_pat(&admin_pat).await.unwrap();
        // Another admin, of an organization with no optional field, the other flags.
        let (other, other_session) =
            registered(&pooled, "other@example.com", [false, true, false, true]).await;
        let bare = organization("Bare", false);
        pooled
            .create_organization(&bare, other.user_uuid)
            .await
            .unwrap();
        // A user with no organization and a token that never expires nor was rotated.
        let (loner, loner_session) =
            registered(&pooled, "loner@example.com", [true, true, false, false]).await;
        let loner_pat = pat_of(&loner, false, false);
        pooled.insert_pat(&loner_pat).await.unwrap();

        let cases = [
            (admin.user_uuid, ids(None, None)),
            (admin.user_uuid, ids(Some(admin_session.session_uuid), None)),
            (admin.user_uuid, ids(None, Some(admin_pat.pat_uuid))),
            (
                admin.user_uuid,
                ids(Some(admin_session.session_uuid), Some(admin_pat.pat_uuid)),
            ),
            // Another user's credentials match nothing.
            (
                admin.user_uuid,
                ids(Some(loner_session.session_uuid), Some(loner_pat.pat_uuid)),
            ),
            (other.user_uuid, ids(Some(other_session.session_uuid), None)),
            (
                loner.user_uuid,
                ids(Some(loner_session.session_uuid), Some(loner_pat.pat_uuid)),
            ),
            (Uuid::now_v7(), ids(None, Some(admin_pat.pat_uuid))),
        ];
        for (who, credential) in cases {
            let expected = pooled.user_with_membership(who, credential).await.unwrap();
            assert_eq!(
                inline_read(&reads, who, credential),
                expected,
                "{who} {credential:?}"
            );
        }
        // And the values are the stored ones, not merely the same on both paths.
        let found =
            inline_read(&reads, admin.user_uuid, ids(None, Some(admin_pat.pat_uuid))).unwrap();
        assert_eq!(found.user, admin);
        let membership = found.membership.unwrap();
        assert_eq!(
            (membership.organization, membership.role.as_str()),
            (org.clone(), "admin")
        );
        assert_eq!(
            found.credential.pat,
            Some(PatState {
                expires_at: admin_pat.expires_at,
                rotated_at: admin_pat.rotated_at
            })
        );
        let found = inline_read(
            &reads,
            other.user_uuid,
            ids(Some(other_session.session_uuid), None),
        )
        .unwrap();
        assert_eq!(found.user, other);
        assert_eq!(found.membership.unwrap().organization, bare);
        assert_eq!(
            found.credential.session_expires_at,
            Some(other_session.expires_at)
        );
        let found =
            inline_read(&reads, loner.user_uuid, ids(None, Some(loner_pat.pat_uuid))).unwrap();
        assert_eq!((found.user, found.membership), (loner.clone(), None));
        assert_eq!(
            found.credential.pat,
            Some(PatState {
                expires_at: None,
                rotated_at: None
            })
        );

        // The account's flag, off and on, read alike (and false without a membership).
        assert!(!found.require_ip_api_access);
        sqlx::query(
            "UPDATE organizations SET require_ip_api_access = TRUE WHERE organization_uuid = $1",
        )
        .bind(org.organization_uuid)
        .execute(&db.pool)
        .await
        .unwrap();
        for (who, credential) in [
            (admin.user_uuid, ids(Some(admin_session.session_uuid), None)),
            (loner.user_uuid, ids(None, None)),
        ] {
            let expected = pooled.user_with_membership(who, credential).await.unwrap();
            let inline = inline_read(&reads, who, credential);
            assert_eq!(inline, expected);
            assert_eq!(
                inline.unwrap().require_ip_api_access,
                who == admin.user_uuid
            );
        }

        // A write committed through the pool is seen by the next inline read (revocation).
        assert!(
            pooled
                .delete_pat(admin.user_uuid, admin_pat.pat_uuid)
                .await
                .unwrap()
        );
        assert!(
            pooled
                .delete_session(admin.user_uuid, admin_session.session_uuid)
                .await
                .unwrap()
        );
        let after = inline_read(
            &reads,
            admin.user_uuid,
            ids(Some(admin_session.session_uuid), Some(admin_pat.pat_uuid)),
        )
        .unwrap();
        assert_eq!(after.credential, CredentialState::default());
    }

    #[tokio::test]
    async fn a_delete_is_seen_when_it_commits_and_a_read_holds_no_transaction() {
        let db = temp_db().await;
        let store = SqlStore::new(Pool::Sqlite(db.pool.clone())).await;
        let (user, session) = registered(&store, "someone@example.com", [true; 4]).await;
        let reads = store
            .inline_reads()
            .expect("the store reads its file inline");
        let credential = ids(Some(session.session_uuid), None);
        let live = |c: CurrentUser| c.credential.session_expires_at.is_some();

        // A writer mid-transaction does not hold the read up, nor show it the uncommitted delete.
        let mut tx = db.pool.begin().await.unwrap();
        sqlx::query("DELETE FROM sessions WHERE session_uuid = $1")
            .bind(session.session_uuid)
            .execute(&mut *tx)
            .await
            .unwrap();
        assert!(live(
            inline_read(reads, user.user_uuid, credential).unwrap()
        ));
        tx.commit().await.unwrap();
        assert!(!live(
            inline_read(reads, user.user_uuid, credential).unwrap()
        ));

        // No read transaction outlives a read: a full checkpoint is not kept waiting by it.
        let (busy, _, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
            .fetch_one(&db.pool)
            .await
            .unwrap();
        assert_eq!(busy, 0, "a reader held the WAL");
    }

    #[tokio::test]
    async fn the_store_reads_inline_and_falls_back_to_the_pool() {
        let db = temp_db().await;
        let store = SqlStore::new(Pool::Sqlite(db.pool.clone())).await;
        let (someone, s) = registered(&store, "someone@example.com", [true; 4]).await;
        let reads = store
            .inline_reads()
            .expect("the store reads a file database inline");

        // Every connection busy: the read is left to the pool, which answers the same.
        let held: Vec<_> = reads
            .connections
            .iter()
            .map(|c| c.lock().unwrap())
            .collect();
        assert!(
            reads
                .current_user(someone.user_uuid, ids(None, None))
                .is_none()
        );
        let via_pool = store
            .user_with_membership(someone.user_uuid, ids(Some(s.session_uuid), None))
            .await
            .unwrap()
            .expect("the pool reads it");
        drop(held);
        let inline = inline_read(reads, someone.user_uuid, ids(Some(s.session_uuid), None));
        assert_eq!(inline, Some(via_pool));

        // A value the inline read cannot decode is left to the pool, too.
        sqlx::query("UPDATE users SET created_at = '2026-11-26 08:00:00' WHERE user_uuid = $1")
            .bind(someone.user_uuid)
            .execute(&db.pool)
            .await
            .unwrap();
        assert!(
            reads
                .current_user(someone.user_uuid, ids(None, None))
                .is_none()
        );
        let decoded = store
            .user_with_membership(someone.user_uuid, ids(None, None))
            .await
            .unwrap()
            .expect("sqlx decodes SQLite's own timestamp form");
        assert_eq!(
            decoded.user.created_at.to_rfc3339(),
            "2026-11-26T08:00:00+00:00"
        );
    }

    #[tokio::test]
    async fn only_a_file_the_pool_reads_in_wal_mode_is_read_inline() {
        for name in [":memory:", "file:sqlx-in-memory-1", ""] {
            assert!(InlineReads::open(Path::new(name), 1).is_none(), "{name}");
        }
        // A file that does not exist is not created.
        let missing = std::env::temp_dir().join(format!("missing-{}.db", Uuid::new_v4()));
        assert!(InlineReads::open(&missing, 1).is_none());
        assert!(!missing.exists());

        let memory = SqlitePoolOptions::new()
            .connect("sqlite::memory:")
            .await
            .unwrap();
        assert!(
            SqlStore::new(Pool::Sqlite(memory))
                .await
                .inline_reads()
                .is_none()
        );
        // An in-memory URL naming a file that exists: the pool reads memory, so must this store.
        let db = temp_db().await;
        let url = format!("sqlite://{}?mode=memory", db.path.display());
        let named_memory = SqlitePoolOptions::new().connect(&url).await.unwrap();
        assert!(
            SqlStore::new(Pool::Sqlite(named_memory))
                .await
                .inline_reads()
                .is_none()
        );
        // A file in another journal mode, where readers wait on writers.
        let dir = temp_dir();
        let rollback = SqlitePoolOptions::new()
            .connect_with(
                SqliteConnectOptions::new()
                    .filename(dir.join("rollback.db"))
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Delete),
            )
            .await
            .unwrap();
        assert!(
            SqlStore::new(Pool::Sqlite(rollback))
                .await
                .inline_reads()
                .is_none()
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn only_a_busy_database_counts_as_a_busy_moment() {
        let failure = |code| {
            Unanswered::Sqlite(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(code),
                None,
            ))
        };
        assert!(failure(rusqlite::ffi::SQLITE_BUSY).is_busy());
        assert!(failure(rusqlite::ffi::SQLITE_LOCKED).is_busy());
        assert!(!failure(rusqlite::ffi::SQLITE_CORRUPT).is_busy());
        assert!(!Unanswered::Decode("timestamp").is_busy());
    }

    #[test]
    fn the_connections_cannot_write() {
        let dir = temp_dir();
        let path = dir.join("t.db");
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE t (x INTEGER)")
            .unwrap();
        let reads = InlineReads::open(&path, 1).unwrap();
        let conn = reads.connections[0].lock().unwrap();
        assert!(conn.execute("INSERT INTO t VALUES (1)", []).is_err());
        drop(conn);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn debug_names_the_file_only() {
        let reads = InlineReads {
            path: PathBuf::from("/data/identity.db"),
            connections: vec![Mutex::new(rusqlite::Connection::open_in_memory().unwrap())],
            warned: AtomicBool::new(false),
        };
        assert_eq!(
            format!("{reads:?}"),
            r#"InlineReads { path: "/data/identity.db", connections: 1 }"#
        );
    }
}
