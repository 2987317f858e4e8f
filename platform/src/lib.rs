//! The whole platform in one process: identity-svc, connections-svc and projects-svc on
//! loopback ports chosen by the OS, and the gateway in front of them. The parts call each other
//! in place (`inproc://` URLs, `service_kit::grpc::local`): the same gRPC calls through the same
//! clients and server stacks as a Kubernetes deployment, without HTTP/2 over loopback between
//! them. The servers still listen, for the tools and tests that call them from outside.
//!
//! Used by `main.rs` (the one command a newcomer runs) and by the end-to-end tests.

mod cli;
pub mod migrate;
pub mod run;
pub mod toolbox;

pub use cli::{Cli, Command, ConsumeArgs};

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    path::PathBuf,
};

use secrecy::{ExposeSecret, SecretString};
use service_kit::{
    callers::{AcceptedCallers, Caller},
    config::{ConsumerArgs, KeySetArgs, ProducerArgs, parse_secret},
    grpc::InternalCredential,
    metrics::MetricsArgs,
};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Where the all-in-one's gRPC servers listen: loopback only, on ports the OS chooses. The parts
/// talk plaintext there (nothing outside the machine reaches it); internal TLS (`GRPC_TLS_*`) is
/// for the separate binaries.
pub const LOOPBACK: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0);

/// The parts this process runs, by their `service.name` in traces: each part's spans go to its
/// own tracer provider (`service_kit::telemetry::init_traced`); the first takes the spans of
/// none.
pub const PARTS: [&str; 4] = ["gateway", "identity-svc", "connections-svc", "projects-svc"];

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
    /// The operator's service credential (at least 32 characters): the services admit it on
    /// their event subscriptions, for `platform consume` and `loadgen events`, which present
    /// it. Default: none (each part's own credential is made at every start).
    #[arg(long, env = "OPERATOR_CREDENTIAL", value_name = "OPERATOR_CREDENTIAL", value_parser = parse_secret, hide_env_values = true)]
    pub operator_credential: Option<SecretString>,
    /// How the parts follow identity-svc's signing keys.
    #[command(flatten)]
    pub key_set: KeySetArgs,
    /// Where the process serves the metrics of all four parts (one endpoint).
    #[command(flatten)]
    pub metrics: MetricsArgs,
    /// The outboxes of identity-svc and projects-svc.
    #[command(flatten)]
    pub producer: ProducerArgs,
    /// How projects-svc and connections-svc follow the other services' events.
    #[command(flatten)]
    pub consumer: ConsumerArgs,
    /// Whether the services migrate their schemas at start (MIGRATE_ON_START).
    #[command(flatten)]
    pub migrations: service_kit::migrate::MigrationArgs,
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
    /// The defaults (as with no variable set), with `listen_addr` and `data_dir`, and no metrics
    /// endpoint (tests start many platforms in one process; they choose one).
    pub fn new(listen_addr: SocketAddr, data_dir: PathBuf) -> Self {
        Self {
            listen_addr,
            data_dir,
            metrics: MetricsArgs::off(),
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

    /// connections-svc's settings, with `CONNECTIONS_KEYS` from the key file
    /// `$DATA_DIR/connections.keys` (made on first start) when it is not set, on either backend.
    pub fn connections_settings(&self) -> anyhow::Result<connections_svc::Settings> {
        let mut settings = self.connections.clone();
        if settings.connections_keys.is_none() {
            settings.connections_keys = Some(connections_svc::key_file(
                &self.data_dir.join("connections.keys"),
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
    /// The metrics endpoint's address (None: `METRICS_LISTEN_ADDR=off`).
    pub metrics_addr: Option<SocketAddr>,
    /// Each part's service credential.
    credentials: Credentials,
    tasks: JoinSet<anyhow::Result<()>>,
    shutdown: CancellationToken,
}

impl Platform {
    /// Builds and starts every part; returns once all of them listen.
    pub async fn start(config: Config, shutdown: CancellationToken) -> anyhow::Result<Self> {
        let credentials = Credentials::generate(config.operator_credential.clone())?;
        // One endpoint for the four parts; first, so that their layers find the recorder.
        let metrics_addr = service_kit::metrics::serve(&config.metrics, shutdown.clone()).await?;
        let loopback = LOOPBACK;
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
                service_credential: credentials.secret(Caller::IdentitySvc),
                service_credentials: credentials.accepted(&[
                    Caller::Gateway,
                    Caller::ProjectsSvc,
                    Caller::ConnectionsSvc,
                    Caller::Operator,
                ]),
                // Plaintext: the parts bind 127.0.0.1 only (`LOOPBACK`); GRPC_TLS_* are the
                // separate binaries' settings.
                tls: Default::default(),
                tls_server: Default::default(),
                key_set: config.key_set.clone(),
                metrics: MetricsArgs::off(),
                events: config.producer.clone(),
                migrations: config.migrations.clone(),
                settings: identity_settings,
            },
            shutdown.clone(),
        )
        .await?;
        let identity_url = in_place(identity.local_addr());
        let projects = projects_svc::Application::build(
            projects_svc::Config {
                listen_addr: loopback,
                database_url: url.clone(),
                database_schema: config.schema("projects"),
                data_dir: config.data_dir.clone(),
                identity_url: identity_url.clone(),
                service_credential: credentials.secret(Caller::ProjectsSvc),
                service_credentials: credentials.accepted(&[
                    Caller::Gateway,
                    Caller::ConnectionsSvc,
                    Caller::Operator,
                ]),
                tls: Default::default(),
                tls_ca: Default::default(),
                tls_server: Default::default(),
                key_set: config.key_set.clone(),
                metrics: MetricsArgs::off(),
                producer: config.producer.clone(),
                consumer: config.consumer.clone(),
                migrations: config.migrations.clone(),
                settings: config.projects.clone(),
            },
            shutdown.clone(),
        )
        .await?;
        let projects_url = in_place(projects.local_addr());
        let connections_settings = config.connections_settings()?;
        let connections = connections_svc::Application::build(
            connections_svc::Config {
                listen_addr: loopback,
                database_url: url,
                database_schema: config.schema("connections"),
                data_dir: config.data_dir.clone(),
                identity_url: identity_url.clone(),
                projects_url: projects_url.clone(),
                service_credential: credentials.secret(Caller::ConnectionsSvc),
                service_credentials: credentials.accepted(&[Caller::Gateway]),
                tls: Default::default(),
                tls_ca: Default::default(),
                tls_server: Default::default(),
                key_set: config.key_set.clone(),
                metrics: MetricsArgs::off(),
                events: config.consumer.clone(),
                migrations: config.migrations.clone(),
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
                connections_url: in_place(connections_addr),
                service_credential: credentials.secret(Caller::Gateway),
                tls: Default::default(),
                tls_ca: Default::default(),
                key_set: config.key_set.clone(),
                metrics: MetricsArgs::off(),
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
            metrics_addr,
            credentials,
            tasks,
            shutdown,
        })
    }

    /// The service credential of `caller` (None: the operator's, when none is configured),
    /// for tests that call the services as one of the parts.
    pub fn credential(&self, caller: Caller) -> Option<&str> {
        self.credentials
            .get(caller)
            .map(ExposeSecret::expose_secret)
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

/// The service credentials of the all-in-one: each part's, random at every start (so it starts
/// with one command and nothing to configure), and the operator's when configured. Debug output
/// names the parts only.
/// The URL by which the other parts call the part listening on `addr`: in place, through the
/// part's own server stack (`service_kit::grpc::local`), not over loopback HTTP/2.
fn in_place(addr: SocketAddr) -> String {
    format!("{}://{addr}", service_kit::grpc::local::SCHEME)
}

#[derive(Clone)]
struct Credentials(Vec<(Caller, SecretString)>);

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(c, _)| c.name()))
            .finish()
    }
}

impl Credentials {
    fn generate(operator: Option<SecretString>) -> anyhow::Result<Self> {
        let mut parts: Vec<(Caller, SecretString)> = [
            Caller::Gateway,
            Caller::IdentitySvc,
            Caller::ProjectsSvc,
            Caller::ConnectionsSvc,
        ]
        .into_iter()
        .map(|c| {
            let secret = service_kit::secret::random_token::<32>("");
            (c, SecretString::from(secret))
        })
        .collect();
        if let Some(secret) = operator {
            InternalCredential::new(secret.clone()).map_err(|_| {
                anyhow::anyhow!(
                    "OPERATOR_CREDENTIAL: must be at least 32 printable ASCII characters"
                )
            })?;
            parts.push((Caller::Operator, secret));
        }
        Ok(Self(parts))
    }

    fn get(&self, caller: Caller) -> Option<&SecretString> {
        self.0.iter().find(|(c, _)| *c == caller).map(|(_, s)| s)
    }

    /// The credential of a part that always has one.
    fn secret(&self, caller: Caller) -> SecretString {
        self.get(caller)
            .expect("every part has a credential")
            .clone()
    }

    /// `SERVICE_CREDENTIALS` of a server accepting `callers` (those that have a credential).
    fn accepted(&self, callers: &[Caller]) -> SecretString {
        let held: Vec<(Caller, InternalCredential)> = self
            .0
            .iter()
            .filter(|(c, _)| callers.contains(c))
            .map(|(c, s)| {
                let credential = InternalCredential::new(s.clone()).expect("checked when made");
                (*c, credential)
            })
            .collect();
        let refs: Vec<(Caller, &InternalCredential)> = held.iter().map(|(c, k)| (*c, k)).collect();
        AcceptedCallers::of(&refs).to_setting()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tk_9_each_part_has_its_own_credential_and_debug_shows_none() {
        let operator = SecretString::from("operator-canary-0123456789abcdefghijklmnop".to_owned());
        let credentials = Credentials::generate(Some(operator)).unwrap();
        let secrets: Vec<&str> = credentials
            .0
            .iter()
            .map(|(_, s)| s.expose_secret())
            .collect();
        assert_eq!(secrets.len(), 5);
        for (i, s) in secrets.iter().enumerate() {
            assert!(!secrets[..i].contains(s), "two parts share a credential");
        }
        let debug = format!("{credentials:?}");
        assert!(debug.contains("projects-svc"), "{debug}");
        for s in &secrets {
            assert!(!debug.contains(s), "{debug}");
        }
        // A short operator credential stops start-up, naming the variable only.
        let short = Credentials::generate(Some(SecretString::from("short-canary".to_owned())));
        let error = short.unwrap_err().to_string();
        assert!(error.starts_with("OPERATOR_CREDENTIAL") && !error.contains("canary"));
    }
}
