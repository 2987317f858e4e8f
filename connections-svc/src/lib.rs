//! connections-svc: credentials to customers' databases, warehouses and plugins, with their
//! secrets sealed at rest (envelope encryption, [`envelope`]), really tested ([`probe`]) and
//! refreshed through OAuth2 ([`oauth`]).
//!
//! Layers: `grpc` (authenticates the caller, proto types stop here) -> `domain` (validation,
//! access, sealing; the caller's organization and role come from identity-svc through
//! `directory`) -> `store` (SQL). Architecture invariants: only this crate touches the
//! `connections` schema; a secret is sealed before it reaches the store and no response, log
//! line or error carries one.

pub mod directory;
pub mod domain;
pub mod envelope;
pub mod error;
pub mod grpc;
pub mod oauth;
pub mod probe;
pub mod store;

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use proto::connections::v1::connections_service_server::ConnectionsServiceServer;
use secrecy::{ExposeSecret, SecretString};
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
    /// URL of identity-svc's gRPC endpoint (memberships; the signing keys).
    #[arg(long, env = "IDENTITY_URL", default_value = "http://127.0.0.1:50051")]
    pub identity_url: String,
    /// Credential of the trusted internal caller (to fetch the signing keys); at least 32
    /// characters.
    #[arg(long, env = "INTERNAL_CREDENTIAL", value_parser = parse_secret)]
    pub internal_credential: SecretString,
    /// URL of projects-svc's gRPC endpoint (its events: deleted projects).
    #[arg(long, env = "PROJECTS_URL", default_value = "http://127.0.0.1:50053")]
    pub projects_url: String,
    /// How often this process reconciles with the producers' snapshots besides following their
    /// events (removes what a deletion could not reach while it raced a creation), in seconds.
    #[arg(long, env = "EVENTS_RECONCILE_SECONDS", default_value_t = 3600)]
    pub events_reconcile_seconds: u64,
    /// Whether this process applies identity-svc's and projects-svc's events (deletions remove
    /// connections, credentials and preferences here). Off only for tests and maintenance.
    #[arg(long, env = "CONNECTIONS_CONSUME_EVENTS", default_value_t = true, action = clap::ArgAction::Set)]
    pub consume_events: bool,
    /// How often the key set is refreshed from identity-svc, in seconds.
    #[arg(long, env = "JWKS_CACHE_SECONDS", default_value_t = 60)]
    pub jwks_cache_seconds: u64,
    /// Key-encryption keys, `1:<base64 of 32 bytes>,2:<…>`; new secrets use the highest
    /// version. Required with PostgreSQL; on embedded SQLite a key is generated into
    /// `$DATA_DIR/connections.keys` when unset.
    #[arg(long, env = "CONNECTIONS_KEYS", value_parser = parse_secret)]
    pub keys: Option<SecretString>,
    /// Key versions below this no longer open (set after `rewrap` moved every secret).
    #[arg(long, env = "CONNECTIONS_KEY_MIN_DECRYPT_VERSION", default_value_t = 1)]
    pub key_min_decrypt_version: u32,
    /// OAuth2 providers: JSON `{"<provider>": {"tokenUrl", "clientId", "clientSecret",
    /// "redirectUri"?}}`.
    #[arg(long, env = "CONNECTIONS_OAUTH_PROVIDERS", value_parser = parse_secret)]
    pub oauth_providers: Option<SecretString>,
    /// How often OAuth2 tokens about to expire are refreshed, in seconds.
    #[arg(
        long,
        env = "CONNECTIONS_OAUTH_REFRESH_INTERVAL_SECONDS",
        default_value_t = 60
    )]
    pub oauth_refresh_interval_seconds: u64,
    /// Timeout of a call to an OAuth2 token endpoint, in seconds.
    #[arg(long, env = "CONNECTIONS_OAUTH_TIMEOUT_SECONDS", default_value_t = 10)]
    pub oauth_timeout_seconds: u64,
    /// Most shared connections one organization may hold.
    #[arg(long, env = "CONNECTIONS_MAX_PER_ORGANIZATION", default_value_t = 1000)]
    pub max_per_organization: i64,
    /// Most personal warehouse credentials one user may hold.
    #[arg(long, env = "CONNECTIONS_MAX_PERSONAL_PER_USER", default_value_t = 100)]
    pub max_personal_per_user: i64,
    /// Timeout of a connection test (resolve, connect, query), in seconds.
    #[arg(long, env = "CONNECTIONS_TEST_TIMEOUT_SECONDS", default_value_t = 10)]
    pub test_timeout_seconds: u64,
    /// Whether connection tests may reach loopback addresses (a laptop's own database).
    #[arg(long, env = "CONNECTIONS_TEST_ALLOW_LOOPBACK", default_value_t = false, action = clap::ArgAction::Set)]
    pub test_allow_loopback: bool,
    /// Whether connection tests may reach private addresses (10/8, 172.16/12, 192.168/16,
    /// 100.64/10, fc00::/7): warehouses inside the company's network.
    #[arg(long, env = "CONNECTIONS_TEST_ALLOW_PRIVATE", default_value_t = false, action = clap::ArgAction::Set)]
    pub test_allow_private: bool,
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
            database_schema: "connections".into(),
            data_dir,
            db_max_connections: 10,
            identity_url,
            internal_credential,
            jwks_cache_seconds: 60,
            projects_url: "http://127.0.0.1:50053".into(),
            consume_events: true,
            events_reconcile_seconds: 3600,
            keys: None,
            key_min_decrypt_version: 1,
            oauth_providers: None,
            oauth_timeout_seconds: 10,
            oauth_refresh_interval_seconds: 60,
            max_per_organization: 1000,
            max_personal_per_user: 100,
            test_timeout_seconds: 10,
            test_allow_loopback: false,
            test_allow_private: false,
        }
    }

    /// The key ring: from `CONNECTIONS_KEYS`, or on embedded SQLite from the key file (made on
    /// first start). The key never goes into the database (CR-6).
    pub fn keyring(&self) -> anyhow::Result<envelope::Keyring> {
        let spec = match (&self.keys, &self.database_url) {
            (Some(k), _) => k.clone(),
            (None, Some(url)) if url.expose_secret().starts_with("postgres") => anyhow::bail!(
                "CONNECTIONS_KEYS is required with PostgreSQL (e.g. 1:$(openssl rand -base64 32))"
            ),
            (None, _) => key_file(&self.data_dir.join("connections.keys"))?,
        };
        envelope::Keyring::parse(spec.expose_secret(), self.key_min_decrypt_version)
            .map_err(|e| anyhow::anyhow!("CONNECTIONS_KEYS: {e}"))
    }
}

/// Reads a key file (the embedded stack's keys), or creates it (owner-only) with one random key.
pub fn key_file(path: &Path) -> anyhow::Result<SecretString> {
    use std::io::Write;
    match std::fs::read_to_string(path) {
        Ok(s) => return Ok(SecretString::from(s.trim().to_owned())),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(anyhow::anyhow!("reading {}: {e}", path.display()));
        }
        Err(_) => {}
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let spec = SecretString::from(envelope::Keyring::generate_spec(1));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut f) => {
            f.write_all(spec.expose_secret().as_bytes())?;
            f.sync_all()?;
            tracing::info!(path = %path.display(), "generated the key-encryption key of the embedded stack");
            Ok(spec)
        }
        // Another process made it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(SecretString::from(
            std::fs::read_to_string(path)?.trim().to_owned(),
        )),
        Err(e) => Err(anyhow::anyhow!("creating {}: {e}", path.display())),
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
        let keyring = Arc::new(config.keyring()?);
        let providers = match &config.oauth_providers {
            Some(json) => oauth::Providers::parse(json.expose_secret())
                .map_err(|e| anyhow::anyhow!("CONNECTIONS_OAUTH_PROVIDERS: {e}"))?,
            None => oauth::Providers::default(),
        };
        let oauth = oauth::OAuthClient::new(
            providers,
            Duration::from_secs(config.oauth_timeout_seconds.max(1)),
        )?;
        service_kit::jwt::install_crypto_provider();
        let host = ServiceHost::start(
            "connections-svc",
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
            let projects = tonic::transport::Endpoint::from_shared(config.projects_url.clone())?
                .connect_timeout(Duration::from_secs(5))
                .connect_lazy();
            for (source, channel) in [
                ("identity", identity.channel().clone()),
                ("projects", projects),
            ] {
                outbox::spawn_consumer(
                    outbox::ConsumerSettings {
                        source,
                        max_backoff: Duration::from_secs(5),
                        reconcile_every: Some(Duration::from_secs(
                            config.events_reconcile_seconds.max(1),
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
        verifier.spawn_periodic_refresh(
            Duration::from_secs(config.jwks_cache_seconds.max(1)),
            shutdown,
        );
        let connections = Arc::new(domain::Connections::new(
            store,
            Arc::new(directory::IdentityDirectory(identity)),
            keyring,
            oauth,
            domain::TestSettings {
                egress: probe::EgressPolicy {
                    allow_loopback: config.test_allow_loopback,
                    allow_private: config.test_allow_private,
                },
                timeout: Duration::from_secs(config.test_timeout_seconds.max(1)),
            },
            domain::Limits {
                shared_per_organization: config.max_per_organization.max(1),
                personal_per_user: config.max_personal_per_user.max(1),
            },
        ));
        connections.spawn_oauth_refresh(
            Duration::from_secs(config.oauth_refresh_interval_seconds.max(1)),
            refresh_shutdown,
        );
        let service = grpc::ConnectionsGrpc::new(connections, verifier);
        Ok(Self(host.add_routes(|r| {
            r.add_service(ConnectionsServiceServer::new(service))
        })))
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
        let pool = service_kit::db::connect(&db).await?;
        pool.migrate(&SQLITE_MIGRATIONS, &POSTGRES_MIGRATIONS)
            .await?;
        let store = store::for_pool(pool.clone());
        let report = domain::rewrap_all(store.as_ref(), &keyring).await;
        pool.close().await;
        Ok(report?)
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
