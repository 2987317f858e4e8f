//! projects-svc's configuration: flags or environment variables (12-factor).
//!
//! [`Settings`] holds what the service does; [`Config`] adds where it runs. The separate binary
//! parses [`Config`]; the all-in-one `platform` flattens the same [`Settings`] into its own
//! configuration. Conventions: `service_kit::config`.

use std::{net::SocketAddr, path::PathBuf};

use secrecy::SecretString;
use service_kit::{
    config::{ConsumerArgs, KeySetArgs, ProducerArgs, parse_secret},
    grpc::tls::{CaArgs, CertificateArgs, ServerTlsArgs},
};

/// projects-svc's process: the wiring of one deployment and the service's settings.
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// Address the gRPC server listens on.
    #[arg(
        long = "projects-listen-addr",
        env = "PROJECTS_LISTEN_ADDR",
        value_name = "PROJECTS_LISTEN_ADDR",
        default_value = "0.0.0.0:50053"
    )]
    pub listen_addr: SocketAddr,
    /// `postgres://…` for PostgreSQL; unset or `sqlite:` for an embedded SQLite file in
    /// `DATA_DIR`.
    #[arg(long = "projects-database-url", env = "PROJECTS_DATABASE_URL", value_name = "PROJECTS_DATABASE_URL", value_parser = parse_secret, hide_env_values = true)]
    pub database_url: Option<SecretString>,
    /// PostgreSQL schema this service owns.
    #[arg(
        long = "projects-database-schema",
        env = "PROJECTS_DATABASE_SCHEMA",
        value_name = "PROJECTS_DATABASE_SCHEMA",
        default_value = "projects"
    )]
    pub database_schema: String,
    /// Directory of the embedded SQLite file.
    #[arg(
        long,
        env = "DATA_DIR",
        value_name = "DATA_DIR",
        default_value = "data"
    )]
    pub data_dir: PathBuf,
    /// URL of identity-svc's gRPC endpoint (users, roles and groups; the signing keys; its
    /// events).
    #[arg(
        long,
        env = "IDENTITY_URL",
        value_name = "IDENTITY_URL",
        default_value = "http://127.0.0.1:50051"
    )]
    pub identity_url: String,
    /// This service's own credential (at least 32 characters), which it presents to identity-svc
    /// (signing keys, users' access contexts, events).
    #[arg(long, env = "SERVICE_CREDENTIAL", value_name = "SERVICE_CREDENTIAL", value_parser = parse_secret, hide_env_values = true)]
    pub service_credential: SecretString,
    /// The parts that may call this service, by the SHA-256 of each one's credential:
    /// `gateway:<hex>,connections-svc:<hex>[,operator:<hex>]`; which method each may call is fixed in `callers.rs`.
    #[arg(long, env = "SERVICE_CREDENTIALS", value_name = "SERVICE_CREDENTIALS", value_parser = parse_secret, hide_env_values = true)]
    pub service_credentials: SecretString,
    /// This part's certificate (internal gRPC over TLS).
    #[command(flatten)]
    pub tls: CertificateArgs,
    /// The CA of the services it calls (internal gRPC over TLS).
    #[command(flatten)]
    pub tls_ca: CaArgs,
    /// The client certificates its gRPC server requires (mutual TLS).
    #[command(flatten)]
    pub tls_server: ServerTlsArgs,
    /// How the service follows identity-svc's signing keys.
    #[command(flatten)]
    pub key_set: KeySetArgs,
    /// Where the process serves its Prometheus metrics.
    #[command(flatten)]
    pub metrics: service_kit::metrics::MetricsArgs,
    /// Its outbox of events (project.deleted).
    #[command(flatten)]
    pub producer: ProducerArgs,
    /// How it follows identity-svc's events.
    #[command(flatten)]
    pub consumer: ConsumerArgs,
    /// Whether it migrates its schema at start, or waits for `migrate`.
    #[command(flatten)]
    pub migrations: service_kit::migrate::MigrationArgs,
    /// What the service does.
    #[command(flatten)]
    pub settings: Settings,
}

/// What projects-svc does, the same in the separate binary and in the all-in-one.
#[derive(Debug, Clone, clap::Args)]
#[group(id = "projects-settings")]
pub struct Settings {
    /// Largest number of pooled database connections.
    #[arg(long, env = "PROJECTS_DB_MAX_CONNECTIONS", value_name = "PROJECTS_DB_MAX_CONNECTIONS", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub projects_db_max_connections: u32,
    /// Spaces and space grants kept in memory between requests, over all projects (about 200
    /// bytes each; least recently used projects go first; any change, by any replica, shows on
    /// the next request); 0 reads them for every request.
    #[arg(long, env = "PROJECTS_SPACES_CACHE_ROWS", value_name = "PROJECTS_SPACES_CACHE_ROWS", default_value_t = 100_000, value_parser = clap::value_parser!(u32).range(0..=100_000_000))]
    pub projects_spaces_cache_rows: u32,
}

impl Default for Settings {
    fn default() -> Self {
        service_kit::config::defaults()
    }
}

impl Config {
    /// The defaults, with these values (tests).
    pub fn new(
        listen_addr: SocketAddr,
        database_url: Option<SecretString>,
        data_dir: PathBuf,
        identity_url: String,
        service_credential: SecretString,
        service_credentials: SecretString,
    ) -> Self {
        Self {
            listen_addr,
            database_url,
            database_schema: "projects".into(),
            data_dir,
            identity_url,
            service_credential,
            service_credentials,
            tls: Default::default(),
            tls_ca: Default::default(),
            tls_server: Default::default(),
            key_set: service_kit::config::defaults(),
            // Tests start many in one process: no endpoint, no port taken.
            metrics: service_kit::metrics::MetricsArgs::off(),
            producer: service_kit::config::defaults(),
            consumer: service_kit::config::defaults(),
            migrations: service_kit::migrate::MigrationArgs::default(),
            settings: Settings::default(),
        }
    }
}

/// projects-svc's command line.
#[derive(Debug, clap::Parser)]
#[command(
    name = "projects-svc",
    about = "The platform's projects service (gRPC): projects, spaces and who may work in them"
)]
pub struct Cli {
    /// The log filter.
    #[command(flatten)]
    pub log: service_kit::config::LogArgs,
    /// The service's configuration.
    #[command(flatten)]
    pub config: Config,
}
