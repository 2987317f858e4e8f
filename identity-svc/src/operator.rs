//! `owner-token`: operator tokens on the command line, the same in `identity-svc owner-token`
//! (a deployment) and `platform owner-token` (the all-in-one). It writes to the service's
//! database directly (migrating it first if needed, as the service does at start), so it works
//! while the service runs: SQLite in WAL mode, or PostgreSQL. Rules: `domain::operators`.

use std::{io::Write, path::PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};
use secrecy::{ExposeSecret, SecretString};
use service_kit::{
    config::parse_secret,
    db::{self, DbConfig},
};

use crate::{
    domain::operators::{self, DEFAULT_NAME},
    store::{self, OperatorTokenRecord},
};

/// What `owner-token` does.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum OwnerToken {
    /// Create an operator token (the owner role over every account) and print it as the last
    /// line of the output: it is shown this once.
    Create {
        /// A name that tells the token apart in `list` and in logs.
        #[arg(long, default_value = DEFAULT_NAME)]
        name: String,
    },
    /// List operator tokens: uuid, name, created, last used, revoked (never a secret).
    List,
    /// Revoke an operator token: access tokens issued for it fail on their next request.
    Revoke {
        /// The token's uuid (from `list`).
        uuid: String,
    },
}

/// `identity-svc owner-token`: the service's own database settings.
#[derive(Debug, clap::Parser)]
#[command(
    name = "identity-svc owner-token",
    about = "Create, list and revoke operator tokens in identity-svc's database"
)]
pub struct OwnerTokenCli {
    /// The log filter (logs go to stderr).
    #[command(flatten)]
    pub log: service_kit::config::LogArgs,
    /// identity-svc's database.
    #[command(flatten)]
    pub db: DatabaseArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: OwnerToken,
}

/// identity-svc's database as the operator's subcommands name it (`owner-token`,
/// `rotate-signing-key`, `rewrap-signing-keys`).
#[derive(Debug, clap::Args)]
pub struct DatabaseArgs {
    /// `postgres://…` for PostgreSQL; unset or `sqlite:` for the SQLite file in `DATA_DIR`.
    #[arg(long = "identity-database-url", env = "IDENTITY_DATABASE_URL", value_name = "IDENTITY_DATABASE_URL", value_parser = parse_secret, hide_env_values = true)]
    pub database_url: Option<SecretString>,
    /// PostgreSQL schema identity-svc owns.
    #[arg(
        long = "identity-database-schema",
        env = "IDENTITY_DATABASE_SCHEMA",
        value_name = "IDENTITY_DATABASE_SCHEMA",
        default_value = "identity"
    )]
    pub database_schema: String,
    /// Directory of the embedded SQLite file (and of its key file).
    #[arg(
        long,
        env = "DATA_DIR",
        value_name = "DATA_DIR",
        default_value = "data"
    )]
    pub data_dir: PathBuf,
}

impl DatabaseArgs {
    /// identity-svc's database: the URL, or the SQLite file `identity.db` in `DATA_DIR`.
    pub fn database(&self) -> DbConfig {
        DbConfig {
            url: self.database_url.clone(),
            schema: self.database_schema.clone(),
            sqlite_file: self.data_dir.join("identity.db"),
            max_connections: 2,
        }
    }
}

/// Runs `command` on the database `db`, writing its answer to `out`: `create` ends with the new
/// token alone on the last line.
pub async fn cli(db: &DbConfig, command: OwnerToken, out: &mut dyn Write) -> anyhow::Result<()> {
    let pool = db::connect(db).await?;
    let result = run(&pool, command, out).await;
    pool.close().await;
    result
}

async fn run(pool: &db::Pool, command: OwnerToken, out: &mut dyn Write) -> anyhow::Result<()> {
    pool.migrate(&store::SQLITE_MIGRATIONS, &store::POSTGRES_MIGRATIONS)
        .await?;
    let store = store::for_pool(pool.clone()).await;
    match command {
        OwnerToken::Create { name } => {
            let new = operators::create(store.as_ref(), &name).await?;
            let t = &new.token;
            writeln!(
                out,
                "operator token {} ({}) created; its secret is shown this once:",
                t.operator_token_uuid, t.name
            )?;
            writeln!(out, "{}", new.secret.expose_secret())?;
        }
        OwnerToken::List => {
            writeln!(out, "uuid\tname\tcreated\tlast used\trevoked")?;
            for t in store.operator_tokens().await? {
                writeln!(out, "{}", row(&t))?;
            }
        }
        OwnerToken::Revoke { uuid } => {
            let t = operators::revoke(store.as_ref(), &uuid).await?;
            writeln!(
                out,
                "operator token {} ({}) revoked",
                t.operator_token_uuid, t.name
            )?;
        }
    }
    out.flush()?;
    Ok(())
}

/// A token's line of `list`: tab-separated, `-` for a time not set.
fn row(t: &OperatorTokenRecord) -> String {
    let time = |t: Option<DateTime<Utc>>| {
        t.map_or_else(
            || "-".to_owned(),
            |t| t.to_rfc3339_opts(SecondsFormat::Secs, true),
        )
    };
    format!(
        "{}\t{}\t{}\t{}\t{}",
        t.operator_token_uuid,
        t.name,
        time(Some(t.created_at)),
        time(t.last_used_at),
        time(t.revoked_at)
    )
}
