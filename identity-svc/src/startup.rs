//! Builds identity-svc from its configuration and runs it.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use service_kit::{
    db::{self, DbConfig},
    grpc::{self, InternalCredential},
    jwt::{JwtVerifier, TokenProfile, TokenSigner},
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::{
    config::Config,
    domain::{self, Identity, keys::StoreJwks, password::PasswordHasher},
    grpc::IdentityGrpc,
    store,
};

/// A built, not yet running identity-svc.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    router: tonic::transport::server::Router,
    shutdown: CancellationToken,
    pool: db::Pool,
}

impl Application {
    /// Connects and migrates the database, loads the signing keys and binds the listener.
    pub async fn build(config: Config, shutdown: CancellationToken) -> anyhow::Result<Self> {
        service_kit::jwt::install_crypto_provider();
        let internal = InternalCredential::new(config.internal_credential.clone())?;
        let pool = db::connect(&DbConfig {
            url: config.database_url.clone(),
            schema: config.database_schema.clone(),
            sqlite_file: config.data_dir.join("identity.db"),
            max_connections: config.db_max_connections,
        })
        .await?;
        pool.migrate(&store::SQLITE_MIGRATIONS, &store::POSTGRES_MIGRATIONS)
            .await?;
        let store = store::for_pool(pool.clone());

        let profile = TokenProfile {
            ttl: config.access_token_ttl(),
            ..TokenProfile::default()
        };
        let key = domain::keys::load_or_create(store.as_ref()).await?;
        let signer = Arc::new(TokenSigner::new(profile.clone(), key));
        let jwks = StoreJwks(store.clone());
        let verifier = Arc::new(
            JwtVerifier::new(profile, Arc::new(jwks.clone()))
                .with_min_refetch_interval(Duration::from_secs(1)),
        );
        let concurrency = config
            .password_hash_concurrency
            .unwrap_or_else(service_kit::config::available_cpus);
        let hasher = PasswordHasher::new(concurrency, Duration::from_secs(5))?;
        let settings = domain::Settings {
            session_ttl: Duration::from_secs(config.session_ttl_seconds),
        };
        let identity = Arc::new(Identity::new(store, hasher, signer, settings));
        let service = IdentityGrpc::new(identity, internal, verifier, jwks);

        let (reporter, health, reflection) =
            grpc::health_and_reflection(&[proto::FILE_DESCRIPTOR_SET])?;
        reporter
            .set_serving::<proto::identity::v1::identity_service_server::IdentityServiceServer<IdentityGrpc>>()
            .await;
        let probe_pool = pool.clone();
        grpc::watch_readiness(
            reporter,
            move || {
                let p = probe_pool.clone();
                async move { p.ping().await }
            },
            shutdown.clone(),
        );
        let router = grpc::server_builder()
            .add_service(health)
            .add_service(reflection)
            .add_service(
                proto::identity::v1::identity_service_server::IdentityServiceServer::new(service),
            );
        let listener = grpc::bind(config.listen_addr).await?;
        tracing::info!(addr = %listener.local_addr()?, backend = pool.backend(), "identity-svc ready");
        Ok(Self {
            listener,
            router,
            shutdown,
            pool,
        })
    }

    /// The address the server listens on (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("bound listener has an address")
    }

    /// Serves until the shutdown token is cancelled; in-flight calls finish first.
    pub async fn run(self) -> anyhow::Result<()> {
        let result = grpc::serve(self.router, self.listener, self.shutdown).await;
        self.pool.close().await;
        tracing::info!("identity-svc stopped");
        result
    }
}
