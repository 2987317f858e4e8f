//! Opening and migrating a service's database: embedded SQLite (the default, one file per
//! service) or PostgreSQL (one schema per service, `search_path` set to it).
//!
//! The SQL itself lives in each service's `store` module; this module only knows connections.

use std::{path::PathBuf, str::FromStr, time::Duration};

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use sqlx::{
    PgPool, SqlitePool,
    postgres::{PgConnectOptions, PgPoolOptions},
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

use crate::BoxFuture;

mod row;

/// How a service reaches its database.
#[derive(Debug, Clone)]
pub struct DbConfig {
    /// `postgres://…` for PostgreSQL; absent, empty or `sqlite:` for the embedded default;
    /// `sqlite://PATH` for a given SQLite file.
    pub url: Option<SecretString>,
    /// PostgreSQL schema the service owns (created when missing).
    pub schema: String,
    /// The SQLite file used when no URL is given.
    pub sqlite_file: PathBuf,
    /// Upper bound of pooled connections.
    pub max_connections: u32,
}

/// A service's connection pool on one of the two backends.
#[derive(Debug, Clone)]
pub enum Pool {
    /// Embedded SQLite.
    Sqlite(SqlitePool),
    /// PostgreSQL, with `search_path` set to the service's schema.
    Postgres(PgPool),
}

/// Runs the same code on either backend's pool, with `$p` bound to the concrete pool:
///
/// ```ignore
/// on_pool!(&self.pool, |p| sqlx::query("DELETE FROM t WHERE id = $1").bind(id).execute(p).await)
/// ```
///
/// The body is written once and compiled for each backend (both bind `$n` placeholders and
/// `Uuid` and `DateTime<Utc>` natively), so a store's SQL stays in the method that runs it
/// instead of inside a macro that instantiates a whole store per backend.
#[macro_export]
macro_rules! on_pool {
    ($pool:expr, |$p:ident| $body:expr) => {
        match $pool {
            $crate::db::Pool::Postgres($p) => $body,
            $crate::db::Pool::Sqlite($p) => $body,
        }
    };
}

/// Whether `schema` is a plain lower-case SQL identifier (so quoting is never needed).
pub fn valid_schema_name(schema: &str) -> bool {
    let mut chars = schema.chars();
    matches!(chars.next(), Some('a'..='z' | '_'))
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
        && schema.len() <= 63
}

/// Opens the pool `cfg` describes. For PostgreSQL the schema is created when missing (the
/// migrating paths: `migrate`, MIGRATE_ON_START, the operator's tools).
pub fn connect(cfg: &DbConfig) -> BoxFuture<'_, anyhow::Result<Pool>> {
    Box::pin(open(cfg, true))
}

/// Opens the pool `cfg` describes without creating anything: a service started with
/// MIGRATE_ON_START=false, whose role may not create its schema.
pub fn connect_existing(cfg: &DbConfig) -> BoxFuture<'_, anyhow::Result<Pool>> {
    Box::pin(open(cfg, false))
}

async fn open(cfg: &DbConfig, create_schema: bool) -> anyhow::Result<Pool> {
    let url = cfg
        .url
        .as_ref()
        .map(|u| u.expose_secret().trim())
        .unwrap_or("");
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        anyhow::ensure!(
            valid_schema_name(&cfg.schema),
            "invalid schema name {:?}",
            cfg.schema
        );
        // The URL may hold a password: never put it in an error message.
        let base = PgConnectOptions::from_str(url)
            .map_err(|_| anyhow::anyhow!("DATABASE_URL is not a valid PostgreSQL URL"))?;
        if create_schema {
            let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect_with(&base)
                .await
                .context("cannot connect to PostgreSQL")?;
            let created = create_schema_if_missing(&mut conn, &cfg.schema).await;
            sqlx::Connection::close(conn).await.ok();
            created?;
        }
        let opts = base.options([
            ("search_path", cfg.schema.as_str()),
            ("statement_timeout", "15s"),
            ("idle_in_transaction_session_timeout", "30s"),
        ]);
        let pool = PgPoolOptions::new()
            .max_connections(cfg.max_connections)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(opts)
            .await
            .context("cannot open the PostgreSQL pool")?;
        return Ok(Pool::Postgres(pool));
    }
    let opts = if url.is_empty() || url == "sqlite:" {
        if let Some(dir) = cfg.sqlite_file.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create data directory {}", dir.display()))?;
        }
        SqliteConnectOptions::new().filename(&cfg.sqlite_file)
    } else if url.starts_with("sqlite:") {
        SqliteConnectOptions::from_str(url).context("DATABASE_URL is not a valid SQLite URL")?
    } else {
        anyhow::bail!("DATABASE_URL must start with postgres://, postgresql:// or sqlite:");
    };
    let opts = opts
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(5))
        .foreign_keys(true)
        // Rows a query may buffer ahead of its reader (sqlx's default 50): a listing of 10,000
        // spaces took 98 ms in `fetch_all` with 50 and 21 ms with 4,096, as the worker thread
        // stops waiting for the reader every 50 rows (docs/benchmarks.md, issue #4).
        .row_buffer_size(4096);
    let pool = SqlitePoolOptions::new()
        .max_connections(cfg.max_connections)
        // An SQLite connection is a thread of this process, not a socket that can go stale: the
        // ping sqlx sends before lending each connection is one more thread hand-off per query
        // and checks nothing a query would not (sqlx still pings on release).
        .test_before_acquire(false)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(opts)
        .await
        .context("cannot open the SQLite database")?;
    Ok(Pool::Sqlite(pool))
}

/// Creates `schema` when missing. Only then: CREATE SCHEMA IF NOT EXISTS needs the CREATE
/// privilege on the database even when the schema exists, which a service's role need not have.
/// Replicas starting at once on an empty database may all find it missing: PostgreSQL's
/// IF NOT EXISTS does not cover a concurrent creation (the loser fails on the catalog's unique
/// index), so a failure is accepted when the schema exists afterwards.
async fn create_schema_if_missing(
    conn: &mut sqlx::PgConnection,
    schema: &str,
) -> anyhow::Result<()> {
    const EXISTS: &str = "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)";
    let exists: bool = sqlx::query_scalar(EXISTS)
        .bind(schema)
        .fetch_one(&mut *conn)
        .await
        .context("cannot look up the service's schema")?;
    if exists {
        return Ok(());
    }
    let created = sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE SCHEMA IF NOT EXISTS {schema}"
    )))
    .execute(&mut *conn)
    .await;
    if let Err(e) = created {
        let exists_now: bool = sqlx::query_scalar(EXISTS)
            .bind(schema)
            .fetch_one(&mut *conn)
            .await
            .unwrap_or(false);
        if !exists_now {
            return Err(anyhow::Error::from(e).context(format!("cannot create schema {schema}")));
        }
    }
    Ok(())
}

impl Pool {
    /// Applies the migrations of the pool's backend, logging each one (`migrate::apply`). On
    /// PostgreSQL an advisory lock makes several processes migrating at once apply them once.
    pub async fn migrate(
        &self,
        sqlite: &'static crate::migrate::Embedded,
        postgres: &'static crate::migrate::Embedded,
    ) -> anyhow::Result<()> {
        let migrations = crate::migrate::Migrations { sqlite, postgres };
        crate::migrate::apply(self, migrations, &mut |line| {
            tracing::info!("migrations: {line}");
        })
        .await?;
        Ok(())
    }

    /// Whether the database answers a trivial query (readiness).
    pub fn ping(&self) -> BoxFuture<'_, bool> {
        Box::pin(self.pinged())
    }

    async fn pinged(&self) -> bool {
        let probe = async {
            match self {
                Pool::Sqlite(p) => sqlx::query("SELECT 1").execute(p).await.is_ok(),
                Pool::Postgres(p) => sqlx::query("SELECT 1").execute(p).await.is_ok(),
            }
        };
        tokio::time::timeout(Duration::from_secs(3), probe)
            .await
            .unwrap_or(false)
    }

    /// `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        match self {
            Pool::Sqlite(_) => "sqlite",
            Pool::Postgres(_) => "postgres",
        }
    }

    /// Closes every connection.
    pub fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            match self {
                Pool::Sqlite(p) => p.close().await,
                Pool::Postgres(p) => p.close().await,
            }
        })
    }
}

/// A few connections opened by a pool and kept apart from it, for a read every request makes.
///
/// A query on a sqlx pool borrows a connection and gives it back, and sqlx pings every connection
/// it gets back (a round trip to the server on PostgreSQL, a hand-off to the connection's thread
/// on SQLite) before another query may use it. A connection kept here is lent without that: the
/// next query is the check. Kept connections are detached from the pool, so they neither count
/// against its size nor hold up its closing (they close when this is dropped); a deployment
/// opens up to `count` connections more than the pool's maximum. A connection whose query failed
/// for a reason of the connection ([`Self::is_broken`]) is dropped, and the next lender opens a
/// new one; the caller retries its read on a connection of the pool ([`Self::pool`]), which pings
/// idle connections before lending them.
#[derive(Debug)]
pub struct HeldConnections<DB: sqlx::Database> {
    pool: sqlx::Pool<DB>,
    slots: Vec<tokio::sync::Mutex<Option<DB::Connection>>>,
    next: std::sync::atomic::AtomicUsize,
}

/// A connection lent by [`HeldConnections`]; it goes back when dropped.
#[derive(Debug)]
pub struct HeldConnection<'a, DB: sqlx::Database>(
    tokio::sync::MutexGuard<'a, Option<DB::Connection>>,
);

impl<DB: sqlx::Database> HeldConnections<DB> {
    /// Keeps up to `count` (at least one) connections opened by `pool`, on first use.
    pub fn new(pool: sqlx::Pool<DB>, count: usize) -> Self {
        Self {
            pool,
            slots: (0..count.max(1))
                .map(|_| tokio::sync::Mutex::new(None))
                .collect(),
            next: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// The pool the connections come from (for a retry).
    pub fn pool(&self) -> &sqlx::Pool<DB> {
        &self.pool
    }

    /// Whether `err` is the connection's failure rather than the query's (the connection is
    /// then dropped, and a read may be retried on another).
    pub fn is_broken(err: &sqlx::Error) -> bool {
        match err {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::WorkerCrashed => true,
            // PostgreSQL ends sessions with SQLSTATE class 08 (connection exception) or 57P
            // (operator intervention: shutdown, idle-session timeout).
            sqlx::Error::Database(db) => db
                .code()
                .is_some_and(|c| c.starts_with("08") || c.starts_with("57P")),
            _ => false,
        }
    }

    /// A free connection, or the next one to come free.
    pub async fn lend(&self) -> Result<HeldConnection<'_, DB>, sqlx::Error> {
        use std::sync::atomic::Ordering;
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let n = self.slots.len();
        let free = (0..n).find_map(|i| self.slots[(start + i) % n].try_lock().ok());
        let mut guard = match free {
            Some(g) => g,
            None => self.slots[start % n].lock().await,
        };
        if guard.is_none() {
            *guard = Some(self.pool.acquire().await?.detach());
        }
        Ok(HeldConnection(guard))
    }
}

impl<DB: sqlx::Database> HeldConnection<'_, DB> {
    /// The connection.
    pub fn conn(&mut self) -> &mut DB::Connection {
        self.0.as_mut().expect("a lent slot holds a connection")
    }

    /// Passes `result` on, first dropping the connection if the error says it is broken.
    pub fn check<T>(&mut self, result: Result<T, sqlx::Error>) -> Result<T, sqlx::Error> {
        if let Err(e) = &result
            && HeldConnections::<DB>::is_broken(e)
        {
            *self.0 = None;
        }
        result
    }
}

/// Whether a database error is a unique-constraint violation (SQLSTATE 23505, SQLite 2067/1555).
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => db.is_unique_violation(),
        _ => false,
    }
}

/// Whether `err` is a foreign-key violation (the row referred to is gone), on either backend.
pub fn is_foreign_key_violation(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => db.is_foreign_key_violation(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether the connection has the temporary table `mark` (each connection has its own).
    async fn marked(conn: &mut sqlx::SqliteConnection) -> bool {
        sqlx::query("SELECT 1 FROM temp.mark")
            .fetch_optional(conn)
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn held_connections_are_lent_one_caller_at_a_time_and_replaced_when_broken() {
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect("sqlite::memory:")
            .await
            .unwrap();
        let held = HeldConnections::new(pool, 2);
        let mut a = held.lend().await.unwrap();
        sqlx::query("CREATE TEMP TABLE mark (x)")
            .execute(a.conn())
            .await
            .unwrap();
        let mut b = held.lend().await.unwrap();
        assert!(
            !marked(b.conn()).await,
            "a second caller gets the other one"
        );
        assert!(
            tokio::time::timeout(Duration::from_millis(50), held.lend())
                .await
                .is_err(),
            "a third waits while both are lent"
        );
        drop(b);
        drop(a);
        // Both come back kept: one of the next two lends is the marked one.
        let mut c = held.lend().await.unwrap();
        let mut d = held.lend().await.unwrap();
        assert!(marked(c.conn()).await != marked(d.conn()).await);
        let (mut marked_one, other) = if marked(c.conn()).await {
            (c, d)
        } else {
            (d, c)
        };
        drop(other);
        // A connection failure drops the connection; the slot then takes a new one.
        let r: Result<(), _> = marked_one.check(Err(sqlx::Error::WorkerCrashed));
        assert!(r.is_err());
        drop(marked_one);
        let mut e = held.lend().await.unwrap();
        let mut f = held.lend().await.unwrap();
        assert!(!marked(e.conn()).await && !marked(f.conn()).await);
        // A failure of the query keeps the connection.
        let err = sqlx::query("SELECT * FROM missing").execute(e.conn()).await;
        assert!(!HeldConnections::<sqlx::Sqlite>::is_broken(
            err.as_ref().unwrap_err()
        ));
        assert!(e.check(err).is_err());
        assert!(e.0.is_some());
    }

    #[test]
    fn schema_names_are_plain_identifiers() {
        assert!(valid_schema_name("identity"));
        assert!(valid_schema_name("t_0123abcd"));
        assert!(!valid_schema_name("Identity"));
        assert!(!valid_schema_name("x; drop schema public"));
        assert!(!valid_schema_name("1abc"));
        assert!(!valid_schema_name(""));
    }
}
