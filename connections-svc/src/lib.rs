//! connections-svc: credentials to customers' databases, warehouses and plugins, with their
//! secrets sealed at rest (envelope encryption, [`envelope`]), really tested ([`probe`]) and
//! refreshed through OAuth2 ([`oauth`]).
//!
//! Layers: `grpc` (authenticates the caller, proto types stop here) -> `domain` (validation,
//! access, sealing; the caller's organization and role come from identity-svc through
//! `directory`) -> `store` (SQL). Architecture invariants: only this crate touches the
//! `connections` schema; a secret is sealed before it reaches the store and no response, log
//! line or error carries one.

pub mod callers;
pub mod config;
pub mod directory;
pub mod domain;
pub mod envelope;
pub mod error;
pub mod grpc;
pub mod oauth;
pub mod probe;
pub mod rewrap_cli;
pub mod store;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use proto::connections::v1::connections_service_server::ConnectionsServiceServer;
use secrecy::ExposeSecret;
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

pub use config::{Cli, Command, Config, Settings, key_file};

/// Migrations of each backend.
pub static SQLITE_MIGRATIONS: service_kit::migrate::Embedded = service_kit::embedded_migrations!(
    "migrations/sqlite":
    "20261125000001_baseline.sql",
    "20261125000002_connections.sql",
    "20261125000003_connection_counts.sql",
    "20261125000004_event_cursors.sql",
    "20261125000005_connection_shares.sql",
    "20261125000006_rate_limits.sql",
);
/// See [`SQLITE_MIGRATIONS`].
pub static POSTGRES_MIGRATIONS: service_kit::migrate::Embedded = service_kit::embedded_migrations!(
    "migrations/postgres":
    "20261125000001_baseline.sql",
    "20261125000002_connections.sql",
    "20261125000003_connection_counts.sql",
    "20261125000004_event_cursors.sql",
    "20261125000005_connection_shares.sql",
    "20261125000006_rate_limits.sql",
);

/// connections's schema as the `migrate` subcommand names it (`connections-svc migrate`, `platform migrate`).
pub static SCHEMA: service_kit::migrate::ServiceSchema = service_kit::migrate::ServiceSchema {
    binary: "connections-svc",
    name: "connections",
    url: ("CONNECTIONS_DATABASE_URL", "connections-database-url"),
    schema: ("CONNECTIONS_DATABASE_SCHEMA", "connections-database-schema"),
    migrations: service_kit::migrate::Migrations {
        sqlite: &SQLITE_MIGRATIONS,
        postgres: &POSTGRES_MIGRATIONS,
    },
    compact: &[],
};

/// A built, not yet running connections-svc.
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
            sqlite_file: config.data_dir.join("connections.db"),
            max_connections: config.settings.connections_db_max_connections,
        };
        let keyring = Arc::new(config.keyring()?);
        let providers = match &config.settings.connections_oauth_providers {
            Some(json) => oauth::Providers::parse(json.expose_secret())
                .map_err(|e| anyhow::anyhow!("CONNECTIONS_OAUTH_PROVIDERS: {e}"))?,
            None => oauth::Providers::default(),
        };
        let oauth = oauth::OAuthClient::new(
            providers,
            Duration::from_secs(config.settings.connections_oauth_timeout_seconds),
        )?;
        service_kit::jwt::install_crypto_provider();
        let host = ServiceHost::start(
            "connections-svc",
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
        if config.events.consume_events {
            let projects = tls.connect_lazy(&config.projects_url)?;
            for (source, channel) in [
                ("identity", identity.channel().clone()),
                ("projects", projects),
            ] {
                outbox::spawn_consumer(
                    outbox::ConsumerSettings {
                        source,
                        consumer: "connections-svc",
                        max_backoff: Duration::from_secs(5),
                        reconcile_every: Some(Duration::from_secs(
                            config.events.events_reconcile_seconds,
                        )),
                    },
                    channel,
                    credential.clone(),
                    store::sink_for_pool(host.pool().clone()),
                    shutdown.clone(),
                );
            }
        }
        let verifier = Arc::new(JwtVerifier::new(
            TokenProfile::default(),
            Arc::new(IdentityJwks(identity.clone())),
        ));
        let refresh_shutdown = shutdown.clone();
        verifier.spawn_periodic_refresh(config.key_set.refresh_interval(), shutdown);
        let connections = Arc::new(domain::Connections::new(
            store,
            Arc::new(directory::IdentityDirectory(identity)),
            keyring,
            oauth,
            domain::TestSettings {
                egress: probe::EgressPolicy {
                    allow_loopback: config.settings.connections_test_allow_loopback,
                    allow_private: config.settings.connections_test_allow_private,
                },
                timeout: Duration::from_secs(config.settings.connections_test_timeout_seconds),
            },
            domain::Limits {
                shared_per_organization: config.settings.connections_max_per_organization,
                personal_per_user: config.settings.connections_max_personal_per_user,
            },
        ));
        connections.spawn_oauth_refresh(
            Duration::from_secs(config.settings.connections_oauth_refresh_interval_seconds),
            refresh_shutdown,
        );
        let service = grpc::ConnectionsGrpc::new(connections, verifier.clone());
        // No method here needs admin, so the recent-login window is never read (scopes.rs).
        let service = ScopeGuard::new(
            ConnectionsServiceServer::new(service),
            grpc::scopes::CONNECTIONS,
            verifier,
            Duration::from_secs(service_kit::scope::DEFAULT_RECENT_LOGIN_SECONDS),
        );
        Ok(Self(host.add_routes(|r| r.add_service(service))))
    }

    /// Moves every stored secret to the newest key version (CR-5), then exits.
    pub async fn rewrap(config: &Config) -> anyhow::Result<domain::RewrapReport> {
        let keyring = config.keyring()?;
        let db = DbConfig {
            url: config.database_url.clone(),
            schema: config.database_schema.clone(),
            sqlite_file: config.data_dir.join("connections.db"),
            max_connections: 2,
        };
        rewrap_database(&db, &keyring, &mut std::io::stderr()).await
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

/// `rewrap` on the database `db` (`connections-svc rewrap`, `platform rewrap`): every secret
/// moved to `keyring`'s newest key version, the counts written to `progress` after each batch
/// (`rewrap: N moved, M failed so far`). Works while the service runs.
pub async fn rewrap_database(
    db: &DbConfig,
    keyring: &envelope::Keyring,
    progress: &mut (dyn std::io::Write + Send),
) -> anyhow::Result<domain::RewrapReport> {
    let pool = service_kit::db::connect(db).await?;
    let result = async {
        pool.migrate(&SQLITE_MIGRATIONS, &POSTGRES_MIGRATIONS)
            .await?;
        let store = store::for_pool(pool.clone());
        let mut show = |r: domain::RewrapReport| {
            // Progress only: a closed terminal does not stop the work.
            let _ = writeln!(
                progress,
                "rewrap: {} moved, {} failed so far",
                r.moved, r.failed
            );
        };
        Ok::<_, anyhow::Error>(
            domain::rewrap_all_reporting(store.as_ref(), keyring, &mut show).await?,
        )
    }
    .await;
    pool.close().await;
    result
}

#[cfg(test)]
mod embedded_migrations {
    #[tokio::test]
    async fn every_migration_file_is_embedded_as_written() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        super::SCHEMA.migrations.check_against(&dir).await.unwrap();
    }
}
