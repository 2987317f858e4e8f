//! projects-svc: projects, who may work in them (users and groups) and, later, their spaces.
//!
//! Layers: `grpc` (authenticates the caller, proto types stop here) -> `domain` (the access
//! rules in `domain::access`, the operations in `domain::projects`; users, roles and groups come
//! from identity-svc through `domain::directory::Directory`) -> `store` (SQL).
//! Architecture invariant: only this crate touches the `projects` schema.

pub mod callers;
pub mod config;
pub mod directory;
pub mod domain;
pub mod error;
pub mod grpc;
pub mod store;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use proto::projects::v1::projects_service_server::ProjectsServiceServer;
use service_kit::{
    callers::{AcceptedCallers, CallerLayer},
    db::DbConfig,
    grpc::{
        InternalCredential,
        guard::ScopeGuard,
        tls::{ClientTls, ServerTls},
    },
    host::{Database, ServiceHost},
    identity::{Identity, IdentityJwks},
    jwt::{JwtVerifier, TokenProfile},
};
use tokio_util::sync::CancellationToken;

pub use config::{Cli, Config, Settings};

/// Migrations of each backend.
pub static SQLITE_MIGRATIONS: service_kit::migrate::Embedded = service_kit::embedded_migrations!(
    "migrations/sqlite":
    "20261125000001_baseline.sql",
    "20261125000002_projects.sql",
    "20261125000003_spaces.sql",
    "20261125000004_tags.sql",
    "20261125000005_outbox_sequence.sql",
    "20261125000006_event_cursors.sql",
    "20261125000007_space_grant_times.sql",
    "20261125000008_spaces_version.sql",
    "20261207000020_outbox_traceparent.sql",
);
/// See [`SQLITE_MIGRATIONS`].
pub static POSTGRES_MIGRATIONS: service_kit::migrate::Embedded = service_kit::embedded_migrations!(
    "migrations/postgres":
    "20261125000001_baseline.sql",
    "20261125000002_projects.sql",
    "20261125000003_spaces.sql",
    "20261125000004_tags.sql",
    "20261125000005_outbox_sequence.sql",
    "20261125000006_event_cursors.sql",
    "20261125000007_space_grant_times.sql",
    "20261125000008_spaces_version.sql",
    "20261207000020_outbox_traceparent.sql",
);

/// projects's schema as the `migrate` subcommand names it (`projects-svc migrate`, `platform migrate`).
pub static SCHEMA: service_kit::migrate::ServiceSchema = service_kit::migrate::ServiceSchema {
    binary: "projects-svc",
    name: "projects",
    url: ("PROJECTS_DATABASE_URL", "projects-database-url"),
    schema: ("PROJECTS_DATABASE_SCHEMA", "projects-database-schema"),
    migrations: service_kit::migrate::Migrations {
        sqlite: &SQLITE_MIGRATIONS,
        postgres: &POSTGRES_MIGRATIONS,
    },
    compact: &[],
};

/// A built, not yet running projects-svc.
#[derive(Debug)]
pub struct Application(ServiceHost);

impl Application {
    /// Connects and migrates the database and binds the listener.
    pub fn build(
        config: Config,
        shutdown: CancellationToken,
    ) -> service_kit::BoxFuture<'static, anyhow::Result<Self>> {
        Box::pin(Self::built(config, shutdown))
    }

    async fn built(config: Config, shutdown: CancellationToken) -> anyhow::Result<Self> {
        // First: the recorder must be installed before the request layers are built.
        service_kit::metrics::serve(&config.metrics, shutdown.clone()).await?;
        let db = DbConfig {
            url: config.database_url.clone(),
            schema: config.database_schema.clone(),
            sqlite_file: config.data_dir.join("projects.db"),
            max_connections: config.settings.projects_db_max_connections,
        };
        service_kit::jwt::install_crypto_provider();
        let host = ServiceHost::start(
            "projects-svc",
            config.listen_addr,
            &ServerTls::load(&config.tls, &config.tls_server)?,
            Database {
                config: &db,
                migrations: crate::SCHEMA.migrations,
                on_start: &config.migrations,
            },
            &[proto::FILE_DESCRIPTOR_SET],
            CallerLayer::new(
                AcceptedCallers::parse(&config.service_credentials)?,
                callers::CALLERS,
            ),
            shutdown.clone(),
        )
        .await?;
        let store = store::for_pool(host.pool().clone());
        let credential = InternalCredential::new(config.service_credential.clone())?;
        let tls = ClientTls::load(&config.tls, &config.tls_ca)?;
        let identity = Identity::connect_lazy(&config.identity_url, credential.clone(), &tls)?;
        if config.consumer.consume_events {
            outbox::spawn_consumer(
                outbox::ConsumerSettings {
                    source: "identity",
                    consumer: "projects-svc",
                    max_backoff: Duration::from_secs(5),
                    reconcile_every: Some(Duration::from_secs(
                        config.consumer.events_reconcile_seconds,
                    )),
                },
                identity.channel().clone(),
                credential,
                store::sink_for_pool(host.pool().clone()),
                shutdown.clone(),
            );
        }
        outbox::watch_head("projects", host.pool().clone(), shutdown.clone());
        let events = outbox::server(
            host.pool().clone(),
            outbox::SnapshotQueries {
                projects: Some("SELECT project_uuid FROM projects"),
                ..Default::default()
            },
            Duration::from_secs(config.producer.events_retention_seconds),
            shutdown.clone(),
        );
        let verifier = Arc::new(JwtVerifier::new(
            TokenProfile::default(),
            Arc::new(IdentityJwks(identity.clone())),
        ));
        verifier.spawn_periodic_refresh(config.key_set.refresh_interval(), shutdown);
        tracing::info!(
            rows = config.settings.projects_spaces_cache_rows as usize,
            "spaces cache"
        );
        let projects = Arc::new(domain::projects::Projects::new(
            store,
            Arc::new(directory::IdentityDirectory(identity)),
            config.settings.projects_spaces_cache_rows as usize,
        ));
        let service = grpc::ProjectsGrpc::new(projects, verifier.clone());
        // No method here needs admin, so the recent-login window is never read (scopes.rs).
        let service = ScopeGuard::new(
            ProjectsServiceServer::new(service),
            grpc::scopes::PROJECTS,
            verifier,
            Duration::from_secs(service_kit::scope::DEFAULT_RECENT_LOGIN_SECONDS),
        );
        Ok(Self(host.add_routes(|r| {
            r.add_service(service).add_service(events)
        })))
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.0.local_addr()
    }

    /// Serves until the shutdown token is cancelled.
    pub fn run(self) -> service_kit::BoxFuture<'static, anyhow::Result<()>> {
        self.0.run()
    }
}

#[cfg(test)]
mod embedded_migrations {
    #[tokio::test]
    async fn every_migration_file_is_embedded_as_written() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        super::SCHEMA.migrations.check_against(&dir).await.unwrap();
    }
}
