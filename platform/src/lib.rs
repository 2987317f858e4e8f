//! The whole platform in one process: identity-svc, connections-svc and projects-svc on
//! loopback ports chosen by the OS, and the gateway in front of them. The parts still talk
//! gRPC over loopback, so this exercises the same path as a Kubernetes deployment.
//!
//! Used by `main.rs` (the one command a newcomer runs) and by the end-to-end tests.

use std::{
    net::{Ipv4Addr, SocketAddr},
    path::PathBuf,
};

use secrecy::{ExposeSecret, SecretString};
use service_kit::config::parse_secret;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Configuration of the all-in-one process.
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// Address of the public HTTP API.
    #[arg(long, env = "PLATFORM_LISTEN_ADDR", default_value = "127.0.0.1:8080")]
    pub listen_addr: SocketAddr,
    /// Directory of the embedded SQLite files (one per service).
    #[arg(long, env = "DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// `postgres://…` to keep every service's schema in one PostgreSQL database instead of SQLite.
    #[arg(long, env = "DATABASE_URL", value_parser = parse_secret)]
    pub database_url: Option<SecretString>,
    /// Prefix of the PostgreSQL schema names (`identity`, `connections`, `projects`).
    #[arg(long, env = "SCHEMA_PREFIX", default_value = "")]
    pub schema_prefix: String,
    /// Age at which identity-svc creates a new signing key, in seconds.
    #[arg(long, env = "SIGNING_KEY_ROTATION_SECONDS", default_value_t = 7 * 24 * 3600)]
    pub signing_key_rotation_seconds: u64,
    /// How long verifiers cache the key set (and how often they refresh it), in seconds.
    #[arg(long, env = "JWKS_CACHE_SECONDS", default_value_t = 60)]
    pub jwks_cache_seconds: u64,
    /// Credential the gateway presents to the services; random per start when unset.
    #[arg(long, env = "INTERNAL_CREDENTIAL", value_parser = parse_secret)]
    pub internal_credential: Option<SecretString>,
    /// Where mail goes (`smtp://…`, `smtps://…` or `file:<dir>`); default: `file:` the
    /// `mail` directory under `DATA_DIR`, one `.eml` file per message.
    #[arg(long, env = "MAIL_URL", value_parser = parse_secret)]
    pub mail_url: Option<SecretString>,
    /// Email verification passcodes one user may request per hour.
    #[arg(long, env = "EMAIL_PASSCODES_PER_HOUR", default_value_t = 5)]
    pub email_passcodes_per_hour: u32,
    /// Invitations one organization may create per hour.
    #[arg(long, env = "INVITATIONS_PER_HOUR", default_value_t = 100)]
    pub invitations_per_hour: u32,
    /// How often identity-svc deletes expired sessions, passcodes and invitations, in seconds.
    #[arg(long, env = "PURGE_INTERVAL_SECONDS", default_value_t = 600)]
    pub purge_interval_seconds: u64,
    /// How long outbox events are kept for subscribers, in seconds.
    #[arg(long, env = "EVENTS_RETENTION_SECONDS", default_value_t = 7 * 24 * 3600)]
    pub events_retention_seconds: u64,
    /// How often projects-svc and connections-svc reconcile with the producers' snapshots, in
    /// seconds.
    #[arg(long, env = "EVENTS_RECONCILE_SECONDS", default_value_t = 3600)]
    pub events_reconcile_seconds: u64,
    /// Whether projects-svc and connections-svc apply the other services' events (cascades). Off
    /// only for tests and maintenance.
    #[arg(long, env = "CONSUME_EVENTS", default_value_t = true, action = clap::ArgAction::Set)]
    pub consume_events: bool,
    /// Key-encryption keys of connection secrets, `1:<base64 of 32 bytes>,…`; default: a key
    /// generated into `$DATA_DIR/connections.keys` on first start.
    #[arg(long, env = "CONNECTIONS_KEYS", value_parser = parse_secret)]
    pub connections_keys: Option<SecretString>,
    /// Key versions below this no longer open.
    #[arg(long, env = "CONNECTIONS_KEY_MIN_DECRYPT_VERSION", default_value_t = 1)]
    pub connections_key_min_decrypt_version: u32,
    /// OAuth2 providers of connections (JSON; see connections-svc).
    #[arg(long, env = "CONNECTIONS_OAUTH_PROVIDERS", value_parser = parse_secret)]
    pub oauth_providers: Option<SecretString>,
    /// How often connections-svc refreshes OAuth2 tokens about to expire, in seconds.
    #[arg(
        long,
        env = "CONNECTIONS_OAUTH_REFRESH_INTERVAL_SECONDS",
        default_value_t = 60
    )]
    pub oauth_refresh_interval_seconds: u64,
    /// Most shared connections one organization may hold.
    #[arg(long, env = "CONNECTIONS_MAX_PER_ORGANIZATION", default_value_t = 1000)]
    pub connections_max_per_organization: i64,
    /// Most personal warehouse credentials one user may hold.
    #[arg(long, env = "CONNECTIONS_MAX_PERSONAL_PER_USER", default_value_t = 100)]
    pub connections_max_personal_per_user: i64,
    /// Timeout of a connection test, in seconds.
    #[arg(long, env = "CONNECTIONS_TEST_TIMEOUT_SECONDS", default_value_t = 10)]
    pub connection_test_timeout_seconds: u64,
    /// Whether connection tests may reach loopback addresses (a database on this machine).
    #[arg(long, env = "CONNECTIONS_TEST_ALLOW_LOOPBACK", default_value_t = false, action = clap::ArgAction::Set)]
    pub connection_test_allow_loopback: bool,
    /// Whether connection tests may reach private network addresses.
    #[arg(long, env = "CONNECTIONS_TEST_ALLOW_PRIVATE", default_value_t = false, action = clap::ArgAction::Set)]
    pub connection_test_allow_private: bool,
}

impl Config {
    /// Defaults for `listen_addr` and `data_dir`, embedded SQLite.
    pub fn new(listen_addr: SocketAddr, data_dir: PathBuf) -> Self {
        Self {
            listen_addr,
            data_dir,
            database_url: None,
            schema_prefix: String::new(),
            signing_key_rotation_seconds: 7 * 24 * 3600,
            jwks_cache_seconds: 60,
            internal_credential: None,
            mail_url: None,
            email_passcodes_per_hour: 5,
            invitations_per_hour: 100,
            purge_interval_seconds: 600,
            events_retention_seconds: 7 * 24 * 3600,
            consume_events: true,
            events_reconcile_seconds: 3600,
            connections_keys: None,
            connections_key_min_decrypt_version: 1,
            oauth_providers: None,
            oauth_refresh_interval_seconds: 60,
            connections_max_per_organization: 1000,
            connections_max_personal_per_user: 100,
            connection_test_timeout_seconds: 10,
            connection_test_allow_loopback: false,
            connection_test_allow_private: false,
        }
    }
}

/// A running platform.
#[derive(Debug)]
pub struct Platform {
    /// The gateway's address.
    pub gateway_addr: SocketAddr,
    /// identity-svc's gRPC address.
    pub identity_addr: SocketAddr,
    /// connections-svc's gRPC address.
    pub connections_addr: SocketAddr,
    /// projects-svc's gRPC address.
    pub projects_addr: SocketAddr,
    /// The internal caller credential in use.
    pub internal_credential: SecretString,
    tasks: JoinSet<anyhow::Result<()>>,
    shutdown: CancellationToken,
}

impl Platform {
    /// Builds and starts every part; returns once all of them listen.
    pub async fn start(config: Config, shutdown: CancellationToken) -> anyhow::Result<Self> {
        let credential = config
            .internal_credential
            .clone()
            .unwrap_or_else(|| SecretString::from(service_kit::secret::random_token::<32>("")));
        let loopback = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let url = config.database_url.clone();

        let mut identity_cfg = identity_svc::Config::new(
            loopback,
            url.clone(),
            config.data_dir.clone(),
            credential.clone(),
        );
        identity_cfg.database_schema = format!("{}identity", config.schema_prefix);
        identity_cfg.signing_key_rotation_seconds = config.signing_key_rotation_seconds;
        identity_cfg.jwks_cache_seconds = config.jwks_cache_seconds;
        identity_cfg.mail_url = config.mail_url.clone();
        identity_cfg.email_passcodes_per_hour = config.email_passcodes_per_hour;
        identity_cfg.invitations_per_hour = config.invitations_per_hour;
        identity_cfg.purge_interval_seconds = config.purge_interval_seconds;
        identity_cfg.events_retention_seconds = config.events_retention_seconds;
        let identity = identity_svc::Application::build(identity_cfg, shutdown.clone()).await?;
        let identity_url = format!("http://{}", identity.local_addr());
        let mut connections_cfg = connections_svc::Config::new(
            loopback,
            url.clone(),
            config.data_dir.clone(),
            identity_url.clone(),
            credential.clone(),
        );
        connections_cfg.database_schema = format!("{}connections", config.schema_prefix);
        connections_cfg.jwks_cache_seconds = config.jwks_cache_seconds;
        // One machine: without configured keys, the key file beside the data serves SQLite and
        // PostgreSQL alike (never inside the database, CR-6).
        connections_cfg.keys = match &config.connections_keys {
            Some(k) => Some(k.clone()),
            None => Some(connections_svc::key_file(
                &config.data_dir.join("connections.keys"),
            )?),
        };
        connections_cfg.key_min_decrypt_version = config.connections_key_min_decrypt_version;
        connections_cfg.oauth_providers = config.oauth_providers.clone();
        connections_cfg.oauth_refresh_interval_seconds = config.oauth_refresh_interval_seconds;
        connections_cfg.test_timeout_seconds = config.connection_test_timeout_seconds;
        connections_cfg.max_per_organization = config.connections_max_per_organization;
        connections_cfg.max_personal_per_user = config.connections_max_personal_per_user;
        connections_cfg.test_allow_loopback = config.connection_test_allow_loopback;
        connections_cfg.test_allow_private = config.connection_test_allow_private;
        let mut projects_cfg = projects_svc::Config::new(
            loopback,
            url,
            config.data_dir.clone(),
            identity_url.clone(),
            credential.clone(),
        );
        projects_cfg.database_schema = format!("{}projects", config.schema_prefix);
        projects_cfg.jwks_cache_seconds = config.jwks_cache_seconds;
        projects_cfg.consume_events = config.consume_events;
        projects_cfg.events_reconcile_seconds = config.events_reconcile_seconds;
        projects_cfg.events_retention_seconds = config.events_retention_seconds;
        let projects = projects_svc::Application::build(projects_cfg, shutdown.clone()).await?;
        connections_cfg.projects_url = format!("http://{}", projects.local_addr());
        connections_cfg.consume_events = config.consume_events;
        connections_cfg.events_reconcile_seconds = config.events_reconcile_seconds;
        let connections =
            connections_svc::Application::build(connections_cfg, shutdown.clone()).await?;
        let (identity_addr, connections_addr, projects_addr) = (
            identity.local_addr(),
            connections.local_addr(),
            projects.local_addr(),
        );

        let mut gateway_cfg =
            gateway::Config::new(config.listen_addr, identity_url, credential.clone());
        gateway_cfg.projects_url = format!("http://{projects_addr}");
        gateway_cfg.connections_url = format!("http://{connections_addr}");
        gateway_cfg.jwks_cache_seconds = config.jwks_cache_seconds;
        let gateway = gateway::Application::build(gateway_cfg, shutdown.clone()).await?;
        let gateway_addr = gateway.local_addr();

        let mut tasks = JoinSet::new();
        tasks.spawn(identity.run());
        tasks.spawn(connections.run());
        tasks.spawn(projects.run());
        tasks.spawn(gateway.run());
        Ok(Self {
            gateway_addr,
            identity_addr,
            connections_addr,
            projects_addr,
            internal_credential: credential,
            tasks,
            shutdown,
        })
    }

    /// The credential, for tests that call the services as the internal caller.
    pub fn internal_credential(&self) -> &str {
        self.internal_credential.expose_secret()
    }

    /// Waits until every part has stopped (after the shutdown token is cancelled), or until one
    /// fails, which stops the others.
    pub async fn wait(mut self) -> anyhow::Result<()> {
        let mut result = Ok(());
        while let Some(joined) = self.tasks.join_next().await {
            let outcome = joined.map_err(anyhow::Error::from).and_then(|r| r);
            if let Err(e) = outcome {
                tracing::error!(error = ?e, "a part of the platform failed; stopping");
                self.shutdown.cancel();
                if result.is_ok() {
                    result = Err(e);
                }
            }
        }
        result
    }
}
