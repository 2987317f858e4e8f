//! The whole platform in one process: identity-svc, connections-svc and projects-svc on
//! loopback ports chosen by the OS, and the gateway in front of them. The parts still talk
//! gRPC over loopback, so this exercises the same path as a Kubernetes deployment.
//!
//! Used by `main.rs` (the one command a newcomer runs) and by the end-to-end tests.

mod cli;

pub use cli::{Cli, Command, ConsumeArgs};

use std::{
    net::{Ipv4Addr, SocketAddr},
    path::PathBuf,
};

use secrecy::{ExposeSecret, SecretString};
use service_kit::config::{ConsumerArgs, KeySetArgs, ProducerArgs, parse_secret};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Configuration of the all-in-one process: its own wiring, the settings several services
/// share, and each part's settings, the same types the separate binaries read, so every
/// variable has one meaning in both modes.
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// Address of the public HTTP API.
    #[arg(
        long = "platform-listen-addr",
        env = "PLATFORM_LISTEN_ADDR",
        value_name = "PLATFORM_LISTEN_ADDR",
        default_value = "127.0.0.1:8080"
    )]
    pub listen_addr: SocketAddr,
    /// Directory of the embedded SQLite files (one per service), the mailbox and the key files.
    #[arg(
        long,
        env = "DATA_DIR",
        value_name = "DATA_DIR",
        default_value = "data"
    )]
    pub data_dir: PathBuf,
    /// `postgres://…`: keep each service's schema in that PostgreSQL database instead of
    /// SQLite files. Default: unset (SQLite).
    #[arg(long, env = "DATABASE_URL", value_name = "DATABASE_URL", value_parser = parse_secret, hide_env_values = true)]
    pub database_url: Option<SecretString>,
    /// Prefix of the PostgreSQL schema names (`identity`, `connections`, `projects`).
    #[arg(
        long,
        env = "SCHEMA_PREFIX",
        value_name = "SCHEMA_PREFIX",
        default_value = ""
    )]
    pub schema_prefix: String,
    /// The secret the gateway presents to the services (at least 32 characters). Default:
    /// random per start.
    #[arg(long, env = "INTERNAL_CREDENTIAL", value_name = "INTERNAL_CREDENTIAL", value_parser = parse_secret, hide_env_values = true)]
    pub internal_credential: Option<SecretString>,
    /// How the parts follow identity-svc's signing keys.
    #[command(flatten)]
    pub key_set: KeySetArgs,
    /// The outboxes of identity-svc and projects-svc.
    #[command(flatten)]
    pub producer: ProducerArgs,
    /// How projects-svc and connections-svc follow the other services' events.
    #[command(flatten)]
    pub consumer: ConsumerArgs,
    /// identity-svc's settings.
    #[command(flatten, next_help_heading = "identity-svc")]
    pub identity: identity_svc::Settings,
    /// connections-svc's settings.
    #[command(flatten, next_help_heading = "connections-svc")]
    pub connections: connections_svc::Settings,
    /// projects-svc's settings.
    #[command(flatten, next_help_heading = "projects-svc")]
    pub projects: projects_svc::Settings,
    /// The gateway's settings.
    #[command(flatten, next_help_heading = "gateway")]
    pub gateway: gateway::Settings,
}

impl Config {
    /// The defaults (as with no variable set), with `listen_addr` and `data_dir`.
    pub fn new(listen_addr: SocketAddr, data_dir: PathBuf) -> Self {
        Self {
            listen_addr,
            data_dir,
            ..service_kit::config::defaults()
        }
    }

    /// identity-svc's settings, with `IDENTITY_KEYS` from the key file `$DATA_DIR/identity.keys`
    /// (made on first start) when it is not set, on either backend.
    pub fn identity_settings(&self) -> anyhow::Result<identity_svc::Settings> {
        let mut settings = self.identity.clone();
        if settings.identity_keys.is_none() {
            settings.identity_keys = Some(service_kit::envelope::key_file(
                &self.data_dir.join(identity_svc::config::KEY_FILE),
            )?);
        }
        Ok(settings)
    }

    /// The name of one service's PostgreSQL schema.
    pub fn schema(&self, service: &str) -> String {
        format!("{}{service}", self.schema_prefix)
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

        // One machine: without configured keys, key files beside the data serve SQLite and
        // PostgreSQL alike (never inside the database, CR-6).
        let identity_settings = config.identity_settings()?;
        // Each part's configuration is written out whole: a setting a part gains must be
        // passed here, or this does not compile.
        let identity = identity_svc::Application::build(
            identity_svc::Config {
                listen_addr: loopback,
                database_url: url.clone(),
                database_schema: config.schema("identity"),
                data_dir: config.data_dir.clone(),
                internal_credential: credential.clone(),
                key_set: config.key_set.clone(),
                events: config.producer.clone(),
                settings: identity_settings,
            },
            shutdown.clone(),
        )
        .await?;
        let identity_url = format!("http://{}", identity.local_addr());
        let projects = projects_svc::Application::build(
            projects_svc::Config {
                listen_addr: loopback,
                database_url: url.clone(),
                database_schema: config.schema("projects"),
                data_dir: config.data_dir.clone(),
                identity_url: identity_url.clone(),
                internal_credential: credential.clone(),
                key_set: config.key_set.clone(),
                producer: config.producer.clone(),
                consumer: config.consumer.clone(),
                settings: config.projects.clone(),
            },
            shutdown.clone(),
        )
        .await?;
        let projects_url = format!("http://{}", projects.local_addr());
        let mut connections_settings = config.connections.clone();
        if connections_settings.connections_keys.is_none() {
            connections_settings.connections_keys = Some(connections_svc::key_file(
                &config.data_dir.join("connections.keys"),
            )?);
        }
        let connections = connections_svc::Application::build(
            connections_svc::Config {
                listen_addr: loopback,
                database_url: url,
                database_schema: config.schema("connections"),
                data_dir: config.data_dir.clone(),
                identity_url: identity_url.clone(),
                projects_url: projects_url.clone(),
                internal_credential: credential.clone(),
                key_set: config.key_set.clone(),
                events: config.consumer.clone(),
                settings: connections_settings,
            },
            shutdown.clone(),
        )
        .await?;
        let (identity_addr, connections_addr, projects_addr) = (
            identity.local_addr(),
            connections.local_addr(),
            projects.local_addr(),
        );
        let gateway = gateway::Application::build(
            gateway::Config {
                listen_addr: config.listen_addr,
                identity_url,
                projects_url,
                connections_url: format!("http://{connections_addr}"),
                internal_credential: credential.clone(),
                key_set: config.key_set.clone(),
                settings: config.gateway.clone(),
            },
            shutdown.clone(),
        )
        .await?;
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
