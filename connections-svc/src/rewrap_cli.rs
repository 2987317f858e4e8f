//! `connections-svc rewrap` on its own command line: the database and the key settings only,
//! not the service's credentials (a Job or a shell that re-wraps needs no part's secret).

use std::path::PathBuf;

use secrecy::SecretString;
use service_kit::{config::parse_secret, db::DbConfig};

use crate::Settings;

/// `connections-svc rewrap`.
#[derive(Debug, clap::Parser)]
#[command(
    name = "connections-svc rewrap",
    bin_name = "connections-svc rewrap",
    about = "Re-wrap every connection secret under the newest version of CONNECTIONS_KEYS",
    long_about = "Re-wrap every connection secret under the newest version of CONNECTIONS_KEYS: \
        each data key is re-sealed, no secret is decrypted. Run it after adding a key version \
        and restarting the service, then raise CONNECTIONS_KEY_MIN_DECRYPT_VERSION. Needs the \
        service's database and CONNECTIONS_KEYS; works while the service runs. Counts on stderr \
        after each batch of 500; the last line on stdout is {\"moved\":N,\"failed\":M}; exit 1 \
        when any secret could not be re-wrapped."
)]
pub struct RewrapCli {
    /// The log filter (logs go to stderr).
    #[command(flatten)]
    pub log: service_kit::config::LogArgs,
    /// `postgres://…` for PostgreSQL; unset or `sqlite:` for the SQLite file in `DATA_DIR`.
    #[arg(long = "connections-database-url", env = "CONNECTIONS_DATABASE_URL", value_name = "CONNECTIONS_DATABASE_URL", value_parser = parse_secret, hide_env_values = true)]
    pub database_url: Option<SecretString>,
    /// PostgreSQL schema connections-svc owns.
    #[arg(
        long = "connections-database-schema",
        env = "CONNECTIONS_DATABASE_SCHEMA",
        value_name = "CONNECTIONS_DATABASE_SCHEMA",
        default_value = "connections"
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
    /// The service's settings (CONNECTIONS_KEYS, CONNECTIONS_KEY_MIN_DECRYPT_VERSION are read).
    #[command(flatten)]
    pub settings: Settings,
}

impl RewrapCli {
    /// Re-wraps every secret, progress on stderr; answers the counts.
    pub async fn run(&self) -> anyhow::Result<crate::domain::RewrapReport> {
        let keyring =
            crate::config::keyring(&self.settings, self.database_url.as_ref(), &self.data_dir)?;
        let db = DbConfig {
            url: self.database_url.clone(),
            schema: self.database_schema.clone(),
            sqlite_file: self.data_dir.join("connections.db"),
            max_connections: 2,
        };
        crate::rewrap_database(&db, &keyring, &mut std::io::stderr()).await
    }
}
