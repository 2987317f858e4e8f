//! A service's schema migrations: applied by the `migrate` subcommand (in Kubernetes a Job, with
//! the role that owns the schema), or at start (MIGRATE_ON_START=true, the default: the laptop's
//! one command), or only checked at start (MIGRATE_ON_START=false: the service's role may read
//! and write rows but not change the schema; the service waits for `migrate`).
//!
//! The rule of a rolling upgrade (docs/operations.md, "Upgrade with zero downtime"): a binary
//! needs every migration it knows applied, and accepts migrations it does not know (a newer
//! release's), since a release's migrations only add what the running release ignores
//! (expand/contract).

use std::{collections::HashMap, time::Duration};

use anyhow::Context;
use sqlx::migrate::{Migrate, Migrator};
use tokio_util::sync::CancellationToken;

use crate::{BoxFuture, db::Pool};

mod cli;
mod embedded;
mod owner;

pub use cli::{ServiceSchema, main, run};
pub use embedded::{Embedded, File};
pub use owner::owns;

/// sqlx's table of applied migrations, in the service's schema.
const TABLE: &str = "_sqlx_migrations";

/// The migrations of one service, per backend.
#[derive(Debug, Clone, Copy)]
pub struct Migrations {
    /// For SQLite.
    pub sqlite: &'static Embedded,
    /// For PostgreSQL.
    pub postgres: &'static Embedded,
}

impl Migrations {
    /// Whether both sets equal the files of `dir`'s `sqlite` and `postgres` folders (each
    /// service's tests, with its `migrations` folder: see [`Embedded::check_against`]).
    pub async fn check_against(&self, dir: &std::path::Path) -> Result<(), String> {
        self.sqlite.check_against(&dir.join("sqlite")).await?;
        self.postgres.check_against(&dir.join("postgres")).await
    }

    fn of(&self, pool: &Pool) -> &'static Migrator {
        match pool {
            Pool::Sqlite(_) => self.sqlite.migrator(),
            Pool::Postgres(_) => self.postgres.migrator(),
        }
    }
}

/// Whether a service migrates its schema when it starts.
#[derive(Debug, Clone, clap::Args)]
pub struct MigrationArgs {
    /// Whether each service applies its schema migrations when it starts (safe with replicas:
    /// one applies them, the others wait). `false`: `migrate` applies them (a Job, with the role
    /// that owns the schema), and a starting service waits until its schema has every
    /// migration it knows, up to MIGRATE_WAIT_SECONDS.
    #[arg(
        long = "migrate-on-start",
        env = "MIGRATE_ON_START",
        value_name = "MIGRATE_ON_START",
        default_value_t = true,
        action = clap::ArgAction::Set
    )]
    pub migrate_on_start: bool,
    /// With MIGRATE_ON_START=false: how long a starting service waits for `migrate` to bring
    /// its schema up to date, in seconds, before it exits with an error (0: no wait).
    #[arg(
        long = "migrate-wait-seconds",
        env = "MIGRATE_WAIT_SECONDS",
        value_name = "MIGRATE_WAIT_SECONDS",
        default_value_t = 90,
        value_parser = clap::value_parser!(u64).range(0..=86_400)
    )]
    pub migrate_wait_seconds: u64,
}

impl Default for MigrationArgs {
    fn default() -> Self {
        crate::config::defaults()
    }
}

/// A schema's migrations as far as one binary is concerned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SchemaState {
    /// The highest version applied (0: none).
    pub version: i64,
    /// The binary's migrations not applied yet, oldest first.
    pub pending: Vec<i64>,
    /// Applied migrations the binary does not know (a newer release's), oldest first.
    pub unknown: Vec<i64>,
}

impl SchemaState {
    /// Whether the binary may serve on this schema.
    pub fn is_current(&self) -> bool {
        self.pending.is_empty()
    }

    /// One line for the operator: the version, and what is missing or newer.
    pub fn describe(&self) -> String {
        let mut s = if self.version == 0 {
            "not migrated".to_owned()
        } else {
            format!("at version {}", self.version)
        };
        if !self.pending.is_empty() {
            s += &format!(
                ", {} migration(s) of this release pending (up to {})",
                self.pending.len(),
                self.pending.last().copied().unwrap_or_default()
            );
        }
        if !self.unknown.is_empty() {
            s += &format!(
                ", with {} migration(s) of a newer release (kept)",
                self.unknown.len()
            );
        }
        s
    }
}

/// Compares the applied migrations `(version, checksum, success)` with the binary's.
fn compare(migrator: &Migrator, applied: &[(i64, Vec<u8>, bool)]) -> anyhow::Result<SchemaState> {
    if let Some((v, _, _)) = applied.iter().find(|(_, _, ok)| !ok) {
        anyhow::bail!(
            "migration {v} failed part-way earlier (its row in {TABLE} says success = false): \
             repair the schema by hand, delete that row, then run `migrate` again"
        );
    }
    let by_version: HashMap<i64, &[u8]> =
        applied.iter().map(|(v, c, _)| (*v, c.as_slice())).collect();
    let mut state = SchemaState {
        version: applied.iter().map(|a| a.0).max().unwrap_or(0),
        ..SchemaState::default()
    };
    for m in migrator
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
    {
        match by_version.get(&m.version) {
            Some(checksum) if *checksum != &*m.checksum => anyhow::bail!(
                "migration {} ({}) differs from the one applied to the database: this binary \
                 and the schema disagree",
                m.version,
                m.description
            ),
            Some(_) => {}
            None => state.pending.push(m.version),
        }
    }
    state.unknown = applied
        .iter()
        .map(|a| a.0)
        .filter(|v| !migrator.version_exists(*v))
        .collect();
    state.pending.sort_unstable();
    state.unknown.sort_unstable();
    Ok(state)
}

/// The schema's state for this binary, read only (the service's role may do this).
pub fn state(pool: &Pool, migrations: Migrations) -> BoxFuture<'_, anyhow::Result<SchemaState>> {
    Box::pin(state_of(pool, migrations))
}

async fn state_of(pool: &Pool, migrations: Migrations) -> anyhow::Result<SchemaState> {
    let exists: bool =
        match pool {
            Pool::Postgres(p) => {
                sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
                    .bind(TABLE)
                    .fetch_one(p)
                    .await
            }
            Pool::Sqlite(p) => sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = $1)",
            )
            .bind(TABLE)
            .fetch_one(p)
            .await,
        }
        .context("cannot read the schema's migrations")?;
    let applied: Vec<(i64, Vec<u8>, bool)> = if exists {
        crate::on_pool!(pool, |p| sqlx::query_as(APPLIED).fetch_all(p).await)
            .context("cannot read the schema's migrations")?
    } else {
        Vec::new()
    };
    compare(migrations.of(pool), &applied)
}

const APPLIED: &str = "SELECT version, checksum, success FROM _sqlx_migrations ORDER BY version";

/// Applies the binary's pending migrations on `pool`, telling `report` each step as it goes
/// ("applying …", "applied … in N ms", "up to date: at version N"). On PostgreSQL it holds
/// sqlx's advisory lock (one per database) on a connection of its own without a statement
/// timeout, so replicas or Jobs migrating at once apply each migration once, the others
/// waiting. sqlx takes no lock on SQLite: run one `migrate` at a time on a SQLite file (a
/// second one at once may fail on a migration the first applied; it corrupts nothing, each
/// migration being a transaction, and a rerun finds the schema up to date).
pub fn apply<'a>(
    pool: &'a Pool,
    migrations: Migrations,
    report: &'a mut (dyn FnMut(String) + Send),
) -> BoxFuture<'a, anyhow::Result<SchemaState>> {
    Box::pin(applied(pool, migrations, report))
}

async fn applied(
    pool: &Pool,
    migrations: Migrations,
    report: &mut (dyn FnMut(String) + Send),
) -> anyhow::Result<SchemaState> {
    let migrator = migrations.of(pool);
    // Nothing to do needs no lock and no privilege beyond reading: the operator's tools and a
    // service started with MIGRATE_ON_START=true then work with the service's own role.
    let before = state(pool, migrations).await?;
    if before.is_current() {
        report(format!("up to date: {}", before.describe()));
        return Ok(before);
    }
    let state = match pool {
        Pool::Postgres(p) => {
            let mut conn = p
                .acquire()
                .await
                .context("cannot connect to migrate")?
                .detach();
            let result = async {
                sqlx::query("SET statement_timeout = 0")
                    .execute(&mut conn)
                    .await?;
                apply_locked(&mut conn, migrator, report).await
            }
            .await;
            // Closing the session releases the advisory lock whatever happened.
            sqlx::Connection::close(conn).await.ok();
            result?
        }
        Pool::Sqlite(p) => {
            let mut conn = p.acquire().await.context("cannot open SQLite to migrate")?;
            apply_locked(&mut *conn, migrator, report).await?
        }
    };
    report(format!("up to date: {}", state.describe()));
    Ok(state)
}

async fn apply_locked<C: Migrate + Send>(
    conn: &mut C,
    migrator: &Migrator,
    report: &mut (dyn FnMut(String) + Send),
) -> anyhow::Result<SchemaState> {
    conn.lock()
        .await
        .context("cannot take the migration lock")?;
    conn.ensure_migrations_table(TABLE)
        .await
        .with_context(|| format!("cannot create {TABLE} (does this role own the schema?)"))?;
    let dirty = conn.dirty_version(TABLE).await?;
    let applied: Vec<(i64, Vec<u8>, bool)> = conn
        .list_applied_migrations(TABLE)
        .await?
        .into_iter()
        .map(|a| (a.version, a.checksum.into_owned(), Some(a.version) != dirty))
        .collect();
    let mut state = compare(migrator, &applied)?;
    let pending = std::mem::take(&mut state.pending);
    for m in migrator.iter().filter(|m| pending.contains(&m.version)) {
        report(format!("applying {} {}", m.version, m.description));
        let took = conn
            .apply(TABLE, m)
            .await
            .with_context(|| format!("migration {} ({}) failed", m.version, m.description))?;
        report(format!("applied {} in {} ms", m.version, took.as_millis()));
        state.version = state.version.max(m.version);
    }
    conn.unlock().await.ok();
    Ok(state)
}

/// Waits until the schema has every migration this binary knows (a `migrate` Job is running
/// or about to), checking every 2 s and logging every 10 s, for at most `wait`; an error names
/// what is missing. Stops early when `shutdown` is cancelled.
pub async fn wait_until_current(
    pool: &Pool,
    migrations: Migrations,
    name: &str,
    wait: Duration,
    shutdown: &CancellationToken,
) -> anyhow::Result<SchemaState> {
    let start = tokio::time::Instant::now();
    let mut logged: Option<tokio::time::Instant> = None;
    loop {
        let state = state(pool, migrations).await?;
        if state.is_current() {
            tracing::info!("{name}: schema {}", state.describe());
            return Ok(state);
        }
        let waited = start.elapsed();
        anyhow::ensure!(
            waited < wait,
            "{name}: the schema is {} and MIGRATE_ON_START=false: run `{name} migrate` (in \
             Kubernetes the Job platform-migrate) with the role that owns the schema, then \
             start the service again (waited {} s, MIGRATE_WAIT_SECONDS)",
            state.describe(),
            waited.as_secs()
        );
        if logged.is_none_or(|at| at.elapsed() >= Duration::from_secs(10)) {
            tracing::warn!(
                "{name}: waiting for `migrate`: the schema is {}",
                state.describe()
            );
            logged = Some(tokio::time::Instant::now());
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(2).min(wait - waited)) => {}
            () = shutdown.cancelled() => anyhow::bail!("{name}: stopped while waiting for `migrate`"),
        }
    }
}

/// Brings `pool`'s schema to what the binary needs, as `args` say: migrate, or wait for
/// `migrate`.
pub fn on_start<'a>(
    pool: &'a Pool,
    migrations: Migrations,
    args: &'a MigrationArgs,
    name: &'a str,
    shutdown: &'a CancellationToken,
) -> BoxFuture<'a, anyhow::Result<SchemaState>> {
    Box::pin(started(pool, migrations, args, name, shutdown))
}

async fn started(
    pool: &Pool,
    migrations: Migrations,
    args: &MigrationArgs,
    name: &str,
    shutdown: &CancellationToken,
) -> anyhow::Result<SchemaState> {
    if args.migrate_on_start {
        apply(pool, migrations, &mut |line| {
            tracing::info!("{name}: migrations: {line}");
        })
        .await
        .with_context(|| format!("{name}: migrations failed"))
    } else {
        let wait = Duration::from_secs(args.migrate_wait_seconds);
        wait_until_current(pool, migrations, name, wait, shutdown).await
    }
}

#[cfg(test)]
mod tests;
