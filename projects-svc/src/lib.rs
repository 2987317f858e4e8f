//! projects-svc: projects, who may work in them (users and groups) and, later, their spaces.
//!
//! Layers: `grpc` (authenticates the caller, proto types stop here) -> `domain` (the access
//! rules in `domain::access`, the operations in `domain::projects`; users, roles and groups come
//! from identity-svc through `domain::directory::Directory`) -> `store` (SQL).
//! Architecture invariant: only this crate touches the `projects` schema.

pub mod directory;
pub mod domain;
pub mod error;
pub mod grpc;
pub mod store;

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use proto::projects::v1::projects_service_server::ProjectsServiceServer;
use secrecy::SecretString;
use service_kit::{
    config::parse_secret,
    db::DbConfig,
    grpc::InternalCredential,
    host::{Migrations, ServiceHost},
    identity::{Identity, IdentityJwks},
    jwt::{JwtVerifier, TokenProfile},
};
use tokio_util::sync::CancellationToken;

/// Migrations of each backend.
pub static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
/// See [`SQLITE_MIGRATIONS`].
pub static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Configuration of projects-svc.
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// Address the gRPC server listens on.
    #[arg(long, env = "PROJECTS_LISTEN_ADDR", default_value = "0.0.0.0:50053")]
    pub listen_addr: SocketAddr,
    /// `postgres://…` for PostgreSQL; unset or `sqlite:` for an embedded SQLite file in `data_dir`.
    #[arg(long, env = "PROJECTS_DATABASE_URL", value_parser = parse_secret)]
    pub database_url: Option<SecretString>,
    /// PostgreSQL schema this service owns.
    #[arg(long, env = "PROJECTS_DATABASE_SCHEMA", default_value = "projects")]
    pub database_schema: String,
    /// Directory of the embedded SQLite file.
    #[arg(long, env = "DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// Largest number of pooled database connections.
    #[arg(long, env = "PROJECTS_DB_MAX_CONNECTIONS", default_value_t = 10)]
    pub db_max_connections: u32,
    /// URL of identity-svc's gRPC endpoint (users, roles and groups; the signing keys).
    #[arg(long, env = "IDENTITY_URL", default_value = "http://127.0.0.1:50051")]
    pub identity_url: String,
    /// Credential of the trusted internal caller (to fetch the signing keys); at least 32
    /// characters.
    #[arg(long, env = "INTERNAL_CREDENTIAL", value_parser = parse_secret)]
    pub internal_credential: SecretString,
    /// How often the key set is refreshed from identity-svc, in seconds.
    #[arg(long, env = "JWKS_CACHE_SECONDS", default_value_t = 60)]
    pub jwks_cache_seconds: u64,
    /// How long outbox events (project.deleted) are kept for subscribers, in seconds.
    #[arg(long, env = "EVENTS_RETENTION_SECONDS", default_value_t = 7 * 24 * 3600)]
    pub events_retention_seconds: u64,
    /// How often this process reconciles with the producers' snapshots besides following their
    /// events (removes what a deletion could not reach while it raced a creation), in seconds.
    #[arg(long, env = "EVENTS_RECONCILE_SECONDS", default_value_t = 3600)]
    pub events_reconcile_seconds: u64,
    /// Whether this process applies identity-svc's events (organization, user, member and group
    /// deletions remove their projects and grants here). Off only for tests and maintenance.
    #[arg(long, env = "PROJECTS_CONSUME_EVENTS", default_value_t = true, action = clap::ArgAction::Set)]
    pub consume_events: bool,
    /// How many spaces and space grants this process keeps in memory between requests, over all
    /// projects (least recently used projects go first; a change to a project's spaces, made by
    /// any replica, is seen on the next request). 0 reads them for every request.
    #[arg(long, env = "PROJECTS_SPACES_CACHE_ROWS", default_value_t = 100_000)]
    pub spaces_cache_rows: usize,
}

impl Config {
    /// The defaults, with these values.
    pub fn new(
        listen_addr: SocketAddr,
        database_url: Option<SecretString>,
        data_dir: PathBuf,
        identity_url: String,
        internal_credential: SecretString,
    ) -> Self {
        Self {
            listen_addr,
            database_url,
            database_schema: "projects".into(),
            data_dir,
            db_max_connections: 10,
            identity_url,
            internal_credential,
            jwks_cache_seconds: 60,
            events_retention_seconds: 7 * 24 * 3600,
            consume_events: true,
            events_reconcile_seconds: 3600,
            spaces_cache_rows: 100_000,
        }
    }
}

/// A built, not yet running projects-svc.
#[derive(Debug)]
pub struct Application(ServiceHost);

impl Application {
    /// Connects and migrates the database and binds the listener.
    pub async fn build(config: Config, shutdown: CancellationToken) -> anyhow::Result<Self> {
        let db = DbConfig {
            url: config.database_url.clone(),
            schema: config.database_schema.clone(),
            sqlite_file: config.data_dir.join("projects.db"),
            max_connections: config.db_max_connections,
        };
        let migrations = Migrations {
            sqlite: &SQLITE_MIGRATIONS,
            postgres: &POSTGRES_MIGRATIONS,
        };
        service_kit::jwt::install_crypto_provider();
        let host = ServiceHost::start(
            "projects-svc",
            config.listen_addr,
            &db,
            migrations,
            &[proto::FILE_DESCRIPTOR_SET],
            shutdown.clone(),
        )
        .await?;
        let store = store::for_pool(host.pool().clone());
        let credential = InternalCredential::new(config.internal_credential.clone())?;
        let identity = Identity::connect_lazy(&config.identity_url, credential.clone())?;
        if config.consume_events {
            outbox::spawn_consumer(
                outbox::ConsumerSettings {
                    source: "identity",
                    max_backoff: Duration::from_secs(5),
                    reconcile_every: Some(Duration::from_secs(
                        config.events_reconcile_seconds.max(1),
                    )),
                },
                identity.channel().clone(),
                credential.clone(),
                store::sink_for_pool(host.pool().clone()),
                shutdown.clone(),
            );
        }
        let events = outbox::server(
            host.pool().clone(),
            outbox::SnapshotQueries {
                projects: Some("SELECT project_uuid FROM projects"),
                ..Default::default()
            },
            credential,
            Duration::from_secs(config.events_retention_seconds.max(1)),
            shutdown.clone(),
        );
        let verifier = Arc::new(JwtVerifier::new(
            TokenProfile::default(),
            Arc::new(IdentityJwks(identity.clone())),
        ));
        verifier.spawn_periodic_refresh(
            Duration::from_secs(config.jwks_cache_seconds.max(1)),
            shutdown,
        );
        let projects = Arc::new(domain::projects::Projects::new(
            store,
            Arc::new(directory::IdentityDirectory(identity)),
            config.spaces_cache_rows,
        ));
        let service = grpc::ProjectsGrpc::new(projects, verifier);
        Ok(Self(host.add_routes(|r| {
            r.add_service(ProjectsServiceServer::new(service))
                .add_service(events)
        })))
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
