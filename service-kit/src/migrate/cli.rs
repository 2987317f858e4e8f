//! `<service> migrate`: a service binary applies its schema's migrations and exits (0 when the
//! schema is up to date, 1 with the reason otherwise), printing each step on stdout. It reads
//! the database settings the service reads (the URL given is the migration role's), and none
//! of the service's other required settings, so a Job needs nothing else.

use std::{ffi::OsString, io::Write, path::PathBuf};

use anyhow::Context;
use clap::{Arg, Command};
use secrecy::SecretString;

use super::{Migrations, SchemaState, apply};
use crate::db::{self, DbConfig};

/// How a service binary names its database: the `migrate` subcommand's settings.
#[derive(Debug, Clone, Copy)]
pub struct ServiceSchema {
    /// The binary (`identity-svc`).
    pub binary: &'static str,
    /// The default PostgreSQL schema and the SQLite file's stem (`identity`).
    pub name: &'static str,
    /// The database URL's variable (`IDENTITY_DATABASE_URL`) and flag (`identity-database-url`).
    pub url: (&'static str, &'static str),
    /// The schema's variable (`IDENTITY_DATABASE_SCHEMA`) and flag (`identity-database-schema`).
    pub schema: (&'static str, &'static str),
    /// The migrations.
    pub migrations: Migrations,
    /// Tables `migrate` rewrites with `VACUUM FULL` when it owns them (PostgreSQL): those whose
    /// old row versions may hold what the service erased (identity's `signing_keys`).
    pub compact: &'static [&'static str],
}

impl ServiceSchema {
    /// The command line of `<binary> migrate`.
    pub fn command(&self) -> Command {
        let (url_env, url_flag) = self.url;
        let (schema_env, schema_flag) = self.schema;
        Command::new("migrate")
            .bin_name(format!("{} migrate", self.binary))
            .about(format!(
                "Apply {}'s schema migrations, printing each one, and exit: 0 when the schema \
                 is up to date. Run it with the role that owns the schema (in Kubernetes: the \
                 Job platform-migrate). On PostgreSQL several at once are safe; on SQLite \
                 run one at a time.",
                self.binary
            ))
            .arg(
                Arg::new("url")
                    .long(url_flag)
                    .env(url_env)
                    .value_name(url_env)
                    .hide_env_values(true)
                    .help(
                        "`postgres://…` as the migration role (owner of the schema); unset or \
                         `sqlite:` for the SQLite file in DATA_DIR",
                    ),
            )
            .arg(
                Arg::new("schema")
                    .long(schema_flag)
                    .env(schema_env)
                    .value_name(schema_env)
                    .default_value(self.name)
                    .help("PostgreSQL schema of the service (created when missing)"),
            )
            .arg(
                Arg::new("data_dir")
                    .long("data-dir")
                    .env("DATA_DIR")
                    .value_name("DATA_DIR")
                    .default_value("data")
                    .value_parser(clap::value_parser!(PathBuf))
                    .help("Directory of the embedded SQLite file"),
            )
            .arg(
                Arg::new("rust_log")
                    .long("rust-log")
                    .env("RUST_LOG")
                    .value_name("RUST_LOG")
                    .default_value("info")
                    .value_parser(crate::config::parse_log_filter)
                    .help("Log filter (logs go to stderr; the steps to stdout)"),
            )
    }

    /// The database `matches` name.
    pub(super) fn database(&self, matches: &clap::ArgMatches) -> DbConfig {
        let data_dir: &PathBuf = matches.get_one("data_dir").expect("has a default");
        DbConfig {
            url: matches
                .get_one::<String>("url")
                .map(|u| SecretString::from(u.clone())),
            schema: matches
                .get_one::<String>("schema")
                .expect("has a default")
                .clone(),
            sqlite_file: data_dir.join(format!("{}.db", self.name)),
            max_connections: 2,
        }
    }
}

/// `<binary> migrate …` (`args` starts with `migrate`): parses the command line (printing help
/// or a usage error and exiting as clap does), migrates, and prints each step on stdout.
pub async fn main(
    service: &ServiceSchema,
    args: impl IntoIterator<Item = OsString>,
) -> anyhow::Result<()> {
    let matches = service
        .command()
        .try_get_matches_from(args)
        .unwrap_or_else(|e| e.exit());
    let rust_log: &String = matches.get_one("rust_log").expect("has a default");
    crate::telemetry::init_with_writer(rust_log, std::io::stderr);
    let db = service.database(&matches);
    run(service, &db, &mut std::io::stdout()).await?;
    Ok(())
}

/// Migrates `service`'s database `db` (creating its PostgreSQL schema when missing), writing
/// each step to `out` as `<name>: …`; then, as the owner of a PostgreSQL schema, makes
/// `_sqlx_migrations` read-only for the other roles and compacts `service.compact`.
pub async fn run(
    service: &ServiceSchema,
    db: &DbConfig,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<SchemaState> {
    let label = service.name;
    let pool = db::connect(db)
        .await
        .with_context(|| format!("{label}: cannot open the database"))?;
    match pool {
        db::Pool::Postgres(_) => {
            writeln!(out, "{label}: migrating schema {} (PostgreSQL)", db.schema)?
        }
        db::Pool::Sqlite(_) => writeln!(out, "{label}: migrating its SQLite database")?,
    }
    // A closed stdout must not stop the migration; the outcome is the exit code.
    let mut report = |line: String| {
        let _ = writeln!(out, "{label}: {line}");
    };
    let result = async {
        let state = apply(&pool, service.migrations, &mut report).await?;
        if let db::Pool::Postgres(pg) = &pool {
            super::owner::finish(pg, service.compact, &mut report).await?;
        }
        anyhow::Ok(state)
    }
    .await
    .with_context(|| format!("{label}: migrations failed"));
    pool.close().await;
    out.flush()?;
    result
}
