//! connections-svc's configuration: flags or environment variables (12-factor).
//!
//! [`Settings`] holds what the service does (keys, OAuth2 providers, limits, the egress policy
//! of connection tests); [`Config`] adds where it runs. The separate binary parses [`Config`];
//! the all-in-one `platform` flattens the same [`Settings`] into its own configuration.
//! Conventions: `service_kit::config`.

use std::{net::SocketAddr, path::PathBuf};

use secrecy::{ExposeSecret, SecretString};
use service_kit::{
    config::{ConsumerArgs, KeySetArgs, parse_secret},
    grpc::tls::{CaArgs, CertificateArgs, ServerTlsArgs},
};

pub use service_kit::envelope::key_file;

use crate::envelope;

/// connections-svc's process: the wiring of one deployment and the service's settings.
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// Address the gRPC server listens on.
    #[arg(
        long = "connections-listen-addr",
        env = "CONNECTIONS_LISTEN_ADDR",
        value_name = "CONNECTIONS_LISTEN_ADDR",
        default_value = "0.0.0.0:50052"
    )]
    pub listen_addr: SocketAddr,
    /// `postgres://…` for PostgreSQL; unset or `sqlite:` for an embedded SQLite file in
    /// `DATA_DIR`.
    #[arg(long = "connections-database-url", env = "CONNECTIONS_DATABASE_URL", value_name = "CONNECTIONS_DATABASE_URL", value_parser = parse_secret, hide_env_values = true)]
    pub database_url: Option<SecretString>,
    /// PostgreSQL schema this service owns.
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
    /// URL of identity-svc's gRPC endpoint (memberships, the signing keys, its events).
    #[arg(
        long,
        env = "IDENTITY_URL",
        value_name = "IDENTITY_URL",
        default_value = "http://127.0.0.1:50051"
    )]
    pub identity_url: String,
    /// URL of projects-svc's gRPC endpoint (its events: deleted projects).
    #[arg(
        long,
        env = "PROJECTS_URL",
        value_name = "PROJECTS_URL",
        default_value = "http://127.0.0.1:50053"
    )]
    pub projects_url: String,
    /// This service's own credential (at least 32 characters), which it presents to identity-svc
    /// (signing keys, users' access contexts, events) and projects-svc (events).
    #[arg(long, env = "SERVICE_CREDENTIAL", value_name = "SERVICE_CREDENTIAL", value_parser = parse_secret, hide_env_values = true)]
    pub service_credential: SecretString,
    /// The parts that may call this service, by the SHA-256 of each one's credential:
    /// `gateway:<hex>`; which method each may call is fixed in `callers.rs`.
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
    /// How it follows the other services' events.
    #[command(flatten)]
    pub events: ConsumerArgs,
    /// Whether it migrates its schema at start, or waits for `migrate`.
    #[command(flatten)]
    pub migrations: service_kit::migrate::MigrationArgs,
    /// What the service does.
    #[command(flatten)]
    pub settings: Settings,
}

/// What connections-svc does, the same in the separate binary and in the all-in-one.
#[derive(Debug, Clone, clap::Args)]
#[group(id = "connections-settings")]
pub struct Settings {
    /// Largest number of pooled database connections.
    #[arg(long, env = "CONNECTIONS_DB_MAX_CONNECTIONS", value_name = "CONNECTIONS_DB_MAX_CONNECTIONS", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub connections_db_max_connections: u32,
    /// Key-encryption keys of connection secrets, `1:<base64 of 32 bytes>,2:…`; new secrets
    /// use the highest version. Default: a key generated into `$DATA_DIR/connections.keys`
    /// (required when connections-svc runs apart on PostgreSQL). Rotate: add a version,
    /// restart, run `connections-svc rewrap`, then raise CONNECTIONS_KEY_MIN_DECRYPT_VERSION.
    #[arg(long, env = "CONNECTIONS_KEYS", value_name = "CONNECTIONS_KEYS", value_parser = parse_secret, hide_env_values = true)]
    pub connections_keys: Option<SecretString>,
    /// Key versions below this no longer open (raise it after `rewrap` moved every secret).
    #[arg(long, env = "CONNECTIONS_KEY_MIN_DECRYPT_VERSION", value_name = "CONNECTIONS_KEY_MIN_DECRYPT_VERSION", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub connections_key_min_decrypt_version: u32,
    /// OAuth2 token endpoints per provider: JSON `{"googledrive": {"tokenUrl", "clientId",
    /// "clientSecret", "redirectUri"}}` (https, or http on loopback). Default: none.
    #[arg(long, env = "CONNECTIONS_OAUTH_PROVIDERS", value_name = "CONNECTIONS_OAUTH_PROVIDERS", value_parser = parse_secret, hide_env_values = true)]
    pub connections_oauth_providers: Option<SecretString>,
    /// How often OAuth2 tokens that expire within twice this plus a minute are refreshed, in
    /// seconds (a refused refresh marks the connection invalid).
    #[arg(long, env = "CONNECTIONS_OAUTH_REFRESH_INTERVAL_SECONDS", value_name = "CONNECTIONS_OAUTH_REFRESH_INTERVAL_SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub connections_oauth_refresh_interval_seconds: u64,
    /// Timeout of a call to an OAuth2 token endpoint, in seconds.
    #[arg(long, env = "CONNECTIONS_OAUTH_TIMEOUT_SECONDS", value_name = "CONNECTIONS_OAUTH_TIMEOUT_SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=300))]
    pub connections_oauth_timeout_seconds: u64,
    /// Shared connections one organization may hold; a create beyond answers 400.
    #[arg(long, env = "CONNECTIONS_MAX_PER_ORGANIZATION", value_name = "CONNECTIONS_MAX_PER_ORGANIZATION", default_value_t = 1000, value_parser = clap::value_parser!(i64).range(1..))]
    pub connections_max_per_organization: i64,
    /// Personal warehouse credentials one user may hold; a create beyond answers 400.
    #[arg(long, env = "CONNECTIONS_MAX_PERSONAL_PER_USER", value_name = "CONNECTIONS_MAX_PERSONAL_PER_USER", default_value_t = 100, value_parser = clap::value_parser!(i64).range(1..))]
    pub connections_max_personal_per_user: i64,
    /// Limit of a connection test (resolve, connect, query), in seconds.
    #[arg(long, env = "CONNECTIONS_TEST_TIMEOUT_SECONDS", value_name = "CONNECTIONS_TEST_TIMEOUT_SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=300))]
    pub connections_test_timeout_seconds: u64,
    /// Let connection tests reach loopback addresses (a database on this machine).
    #[arg(long, env = "CONNECTIONS_TEST_ALLOW_LOOPBACK", value_name = "CONNECTIONS_TEST_ALLOW_LOOPBACK", default_value_t = false, action = clap::ArgAction::Set)]
    pub connections_test_allow_loopback: bool,
    /// Let connection tests reach private networks (10/8, 172.16/12, 192.168/16, 100.64/10,
    /// fc00::/7); link-local and metadata addresses are always refused.
    #[arg(long, env = "CONNECTIONS_TEST_ALLOW_PRIVATE", value_name = "CONNECTIONS_TEST_ALLOW_PRIVATE", default_value_t = false, action = clap::ArgAction::Set)]
    pub connections_test_allow_private: bool,
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
            database_schema: "connections".into(),
            data_dir,
            identity_url,
            projects_url: "http://127.0.0.1:50053".into(),
            service_credential,
            service_credentials,
            tls: Default::default(),
            tls_ca: Default::default(),
            tls_server: Default::default(),
            key_set: service_kit::config::defaults(),
            // Tests start many in one process: no endpoint, no port taken.
            metrics: service_kit::metrics::MetricsArgs::off(),
            events: service_kit::config::defaults(),
            migrations: service_kit::migrate::MigrationArgs::default(),
            settings: Settings::default(),
        }
    }

    /// The key ring: from `CONNECTIONS_KEYS`, or on embedded SQLite from the key file (made on
    /// first start). The key never goes into the database (CR-6).
    pub fn keyring(&self) -> anyhow::Result<envelope::Keyring> {
        keyring(&self.settings, self.database_url.as_ref(), &self.data_dir)
    }
}

/// The key ring of `settings` for a service on `database_url` with `data_dir`: from
/// `CONNECTIONS_KEYS`, or on embedded SQLite from the key file in `data_dir`.
pub fn keyring(
    settings: &Settings,
    database_url: Option<&SecretString>,
    data_dir: &std::path::Path,
) -> anyhow::Result<envelope::Keyring> {
    let spec = match (&settings.connections_keys, database_url) {
        (Some(k), _) => k.clone(),
        (None, Some(url)) if url.expose_secret().starts_with("postgres") => anyhow::bail!(
            "CONNECTIONS_KEYS is required with PostgreSQL (e.g. 1:$(openssl rand -base64 32))"
        ),
        (None, _) => key_file(&data_dir.join("connections.keys"))?,
    };
    envelope::Keyring::parse(
        spec.expose_secret(),
        settings.connections_key_min_decrypt_version,
    )
    .map_err(|e| anyhow::anyhow!("CONNECTIONS_KEYS: {e}"))
}

/// connections-svc's command line.
#[derive(Debug, clap::Parser)]
#[command(
    name = "connections-svc",
    about = "The platform's connections service (gRPC): credentials with sealed secrets"
)]
pub struct Cli {
    /// The log filter.
    #[command(flatten)]
    pub log: service_kit::config::LogArgs,
    /// What to do; serving is the default.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The service's configuration.
    #[command(flatten)]
    pub config: Config,
}

/// connections-svc's subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Serve gRPC (the default).
    Serve,
    /// Re-wrap every connection secret's data key under the newest version of CONNECTIONS_KEYS,
    /// then exit (no secret is decrypted). Run it after adding a key version and restarting,
    /// then raise CONNECTIONS_KEY_MIN_DECRYPT_VERSION. Needs the database settings and
    /// CONNECTIONS_KEYS; works while the service runs. Counts on stderr after each batch of
    /// 500; the last line on stdout is `{"moved":N,"failed":M}`; exit 1 when any failed.
    Rewrap,
}
