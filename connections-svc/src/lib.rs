//! connections-svc: owns the `connections` schema. It starts, applies its own migrations, answers gRPC health
//! and reflection, and shuts down gracefully; its API arrives with issue #5, whose envelope
//! encryption of secrets ([`envelope`]) and the OAuth2 token client of the providers ([`oauth`])
//! are in place.
//! Architecture invariant: only this crate touches the `connections` schema.

pub mod envelope;
pub mod oauth;
pub mod probe;

use std::{net::SocketAddr, path::PathBuf};

use secrecy::SecretString;
use service_kit::{
    config::parse_secret,
    db::DbConfig,
    host::{Migrations, ServiceHost},
};
use tokio_util::sync::CancellationToken;

/// Migrations of each backend.
pub static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
/// See [`SQLITE_MIGRATIONS`].
pub static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Configuration of connections-svc.
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// Address the gRPC server listens on.
    #[arg(long, env = "CONNECTIONS_LISTEN_ADDR", default_value = "0.0.0.0:50052")]
    pub listen_addr: SocketAddr,
    /// `postgres://…` for PostgreSQL; unset or `sqlite:` for an embedded SQLite file in `data_dir`.
    #[arg(long, env = "CONNECTIONS_DATABASE_URL", value_parser = parse_secret)]
    pub database_url: Option<SecretString>,
    /// PostgreSQL schema this service owns.
    #[arg(
        long,
        env = "CONNECTIONS_DATABASE_SCHEMA",
        default_value = "connections"
    )]
    pub database_schema: String,
    /// Directory of the embedded SQLite file.
    #[arg(long, env = "DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// Largest number of pooled database connections.
    #[arg(long, env = "CONNECTIONS_DB_MAX_CONNECTIONS", default_value_t = 10)]
    pub db_max_connections: u32,
}

impl Config {
    /// The defaults, with these values.
    pub fn new(
        listen_addr: SocketAddr,
        database_url: Option<SecretString>,
        data_dir: PathBuf,
    ) -> Self {
        Self {
            listen_addr,
            database_url,
            database_schema: "connections".into(),
            data_dir,
            db_max_connections: 10,
        }
    }
}

/// A built, not yet running connections-svc.
#[derive(Debug)]
pub struct Application(ServiceHost);

impl Application {
    /// Connects and migrates the database and binds the listener.
    pub async fn build(config: Config, shutdown: CancellationToken) -> anyhow::Result<Self> {
        let db = DbConfig {
            url: config.database_url.clone(),
            schema: config.database_schema.clone(),
            sqlite_file: config.data_dir.join("connections.db"),
            max_connections: config.db_max_connections,
        };
        let migrations = Migrations {
            sqlite: &SQLITE_MIGRATIONS,
            postgres: &POSTGRES_MIGRATIONS,
        };
        Ok(Self(
            ServiceHost::start(
                "connections-svc",
                config.listen_addr,
                &db,
                migrations,
                &[],
                shutdown,
            )
            .await?,
        ))
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.0.local_addr()
    }

    /// Serves until the shutdown token is cancelled.
    pub async fn run(self) -> anyhow::Result<()> {
        self.0.run().await
    }
}
