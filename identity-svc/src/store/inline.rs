//! The current-user read on SQLite, on the calling thread.
//!
//! sqlx runs each SQLite connection on a thread of its own, so every query is two thread
//! hand-offs: the task wakes the connection's thread, which wakes the task with the rows. On the
//! hottest read of the platform (every authenticated request reads the current user) those
//! hand-offs cost more than the query, a point read by primary key of a few microseconds. This
//! module runs that one read on the caller's thread instead, with rusqlite over the same SQLite
//! library and file.
//!
//! It never waits: a connection is taken only if free (`try_lock`), the busy timeout is zero, and
//! any error, a busy database or a value it cannot decode is reported as `None`, on which the
//! store reads through sqlx as before. So the caller's thread is held for the query alone. The
//! connections are read-only (`query_only`), and every read is its own transaction: it sees every
//! write committed before it began, so a revoked credential is refused on the next request.

use std::{
    path::{Path, PathBuf},
    sync::Mutex,
    time::Duration,
};

use chrono::{DateTime, Utc};
use rusqlite::{OpenFlags, types::ValueRef};
use uuid::Uuid;

use super::{
    CredentialIds, UserRecord,
    sql::{CURRENT_USER_SQL, CurrentUserRow},
};

/// Connections for reads on the calling thread.
pub(super) struct InlineReads {
    path: PathBuf,
    connections: Vec<Mutex<rusqlite::Connection>>,
}

impl std::fmt::Debug for InlineReads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InlineReads")
            .field("path", &self.path)
            .field("connections", &self.connections.len())
            .finish()
    }
}

/// Why a read was left to the pool (logged at debug; the pool's read reports real errors).
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

impl From<rusqlite::Error> for Unanswered {
    fn from(e: rusqlite::Error) -> Self {
        Self::Sqlite(e)
    }
}

impl InlineReads {
    /// `count` read-only connections to the existing database file at `path`; `None` (reads go
    /// through the pool) for an in-memory or URI database, or a file that cannot be opened.
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
        let conn = self.connections.iter().find_map(|c| c.try_lock().ok())?;
        match read_current_user(&conn, user_uuid, ids) {
            Ok(found) => Some(found),
            Err(e) => {
                tracing::debug!(reason = %e, "current-user read left to the pool");
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
    use chrono::{Duration as Days, Utc};
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};

    use super::*;
    use crate::store::{
        CurrentUser, IdentityStore, OrganizationRecord, PatRecord, SQLITE_MIGRATIONS,
        SessionRecord, SqliteStore,
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

    /// A migrated identity database in a file, opened as the platform opens it.
    async fn temp_db() -> TempDb {
        let dir = std::env::temp_dir().join(format!("identity-inline-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
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
        SQLITE_MIGRATIONS.run(&pool).await.unwrap();
        TempDb { dir, path, pool }
    }

    /// A user with their first session, stored.
    async fn registered(store: &SqliteStore, email: &str) -> (UserRecord, SessionRecord) {
        let now = Utc::now();
        let user = UserRecord {
            user_uuid: Uuid::now_v7(),
            email: email.to_owned(),
            first_name: "Ada".to_owned(),
            last_name: "Lovelace".to_owned(),
            is_active: true,
            is_tracking_anonymized: false,
            is_marketing_opted_in: true,
            is_setup_complete: false,
            created_at: now,
            updated_at: now,
        };
        let session = SessionRecord {
            session_uuid: Uuid::now_v7(),
            user_uuid: user.user_uuid,
            token_hash: Uuid::new_v4().to_string(),
            created_at: now,
            expires_at: now + Days::days(30),
        };
        store
            .insert_user_with_session(&user, "hash", &session)
            .await
            .unwrap();
        (user, session)
    }

    fn ids(session: Option<Uuid>, pat: Option<Uuid>) -> CredentialIds {
        CredentialIds { session, pat }
    }

    fn inline_read(reads: &InlineReads, user: Uuid, ids: CredentialIds) -> Option<CurrentUser> {
        reads
            .current_user(user, ids)
            .expect("answered on the calling thread")
            .map(CurrentUserRow::into_current_user)
    }

    #[tokio::test]
    async fn the_inline_read_answers_as_the_pool_read_does() {
        let db = temp_db().await;
        let reads = InlineReads::open(&db.path, 2).expect("a file database is read inline");
        let pooled = SqliteStore::without_inline_reads(db.pool.clone());

        // A member with a session and a personal access token that expires and was rotated.
        let (member, member_session) = registered(&pooled, "member@example.com").await;
        let now = Utc::now();
        let org = OrganizationRecord {
            organization_uuid: Uuid::now_v7(),
            name: "Acme".to_owned(),
            chart_colors: Some(r##"["#111111"]"##.to_owned()),
            default_project_uuid: Some(Uuid::now_v7()),
            created_at: now,
            updated_at: now,
        };
        pooled
            .create_organization(&org, member.user_uuid)
            .await
            .unwrap();
        let pat = PatRecord {
            pat_uuid: Uuid::now_v7(),
            user_uuid: member.user_uuid,
            description: "ci".to_owned(),
            token_hash: Uuid::new_v4().to_string(),
            auto_generated: false,
            created_at: now,
            expires_at: Some(now + Days::days(7)),
            rotated_at: Some(now),
            last_used_at: None,
        };
        pooled.insert_pat(&pat).await.unwrap();
        // A user with no organization and a token that never expires nor was rotated.
        let (loner, loner_session) = registered(&pooled, "loner@example.com").await;
        let loner_pat = PatRecord {
            pat_uuid: Uuid::now_v7(),
            user_uuid: loner.user_uuid,
            expires_at: None,
            rotated_at: None,
            token_hash: Uuid::new_v4().to_string(),
            ..pat.clone()
        };
        pooled.insert_pat(&loner_pat).await.unwrap();

        let cases = [
            (member.user_uuid, ids(None, None)),
            (
                member.user_uuid,
                ids(Some(member_session.session_uuid), None),
            ),
            (member.user_uuid, ids(None, Some(pat.pat_uuid))),
            (
                member.user_uuid,
                ids(Some(member_session.session_uuid), Some(pat.pat_uuid)),
            ),
            // Another user's credentials match nothing.
            (
                member.user_uuid,
                ids(Some(loner_session.session_uuid), Some(loner_pat.pat_uuid)),
            ),
            (
                loner.user_uuid,
                ids(Some(loner_session.session_uuid), Some(loner_pat.pat_uuid)),
            ),
            (Uuid::now_v7(), ids(None, Some(pat.pat_uuid))),
        ];
        for (who, credential) in cases {
            let expected = pooled.user_with_membership(who, credential).await.unwrap();
            assert_eq!(
                inline_read(&reads, who, credential),
                expected,
                "{who} {credential:?}"
            );
        }
        let found = inline_read(&reads, member.user_uuid, ids(None, Some(pat.pat_uuid))).unwrap();
        assert_eq!(found.user, member);
        assert_eq!(found.membership.unwrap().organization, org);
        assert_eq!(found.credential.pat.unwrap().rotated_at, pat.rotated_at);
        assert!(inline_read(&reads, Uuid::now_v7(), ids(None, None)).is_none());

        // A write committed through the pool is seen by the next inline read (revocation).
        assert!(
            pooled
                .delete_pat(member.user_uuid, pat.pat_uuid)
                .await
                .unwrap()
        );
        assert!(
            pooled
                .delete_session(member.user_uuid, member_session.session_uuid)
                .await
                .unwrap()
        );
        let after = inline_read(
            &reads,
            member.user_uuid,
            ids(Some(member_session.session_uuid), Some(pat.pat_uuid)),
        )
        .unwrap();
        assert_eq!(after.credential, Default::default());
    }

    #[tokio::test]
    async fn the_store_reads_inline_and_falls_back_to_the_pool() {
        let db = temp_db().await;
        let store = SqliteStore::new(db.pool.clone());
        let (someone, s) = registered(&store, "someone@example.com").await;
        let reads = store
            .2
            .clone()
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
        let inline = inline_read(&reads, someone.user_uuid, ids(Some(s.session_uuid), None));
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
    async fn a_database_without_a_file_is_read_through_the_pool() {
        for name in [":memory:", "file:sqlx-in-memory-1", ""] {
            assert!(InlineReads::open(Path::new(name), 1).is_none(), "{name}");
        }
        // A file that does not exist is not created.
        let missing = std::env::temp_dir().join(format!("missing-{}.db", Uuid::new_v4()));
        assert!(InlineReads::open(&missing, 1).is_none());
        assert!(!missing.exists());
        let pool = SqlitePoolOptions::new()
            .connect("sqlite::memory:")
            .await
            .unwrap();
        assert!(SqliteStore::new(pool).2.is_none());
    }

    #[test]
    fn the_connections_cannot_write() {
        let dir = std::env::temp_dir().join(format!("identity-inline-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
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
        };
        assert_eq!(
            format!("{reads:?}"),
            r#"InlineReads { path: "/data/identity.db", connections: 1 }"#
        );
    }
}
