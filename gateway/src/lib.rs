//! The gateway: the platform's public REST API. It owns HTTP concerns only (routing, auth
//! header parsing, the JSON shapes of each public dialect) and turns every call into gRPC calls
//! to the services, carrying an access JWT that names the original user.
//!
//! Architecture invariant: no database, no business rule. A decision about who may do what is
//! made by the service that owns the object.

pub mod clients;
pub mod http;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use secrecy::SecretString;
use service_kit::{
    config::parse_secret,
    identity::IdentityJwks,
    jwt::{JwtVerifier, TokenProfile},
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::{
    clients::{ConnectionsClient, IdentityClient, ProjectsClient},
    http::{AppState, HttpSettings},
};

/// Configuration of the gateway.
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// Address the HTTP server listens on.
    #[arg(long, env = "GATEWAY_LISTEN_ADDR", default_value = "0.0.0.0:8080")]
    pub listen_addr: SocketAddr,
    /// URL of identity-svc's gRPC endpoint.
    #[arg(long, env = "IDENTITY_URL", default_value = "http://127.0.0.1:50051")]
    pub identity_url: String,
    /// URL of projects-svc's gRPC endpoint.
    #[arg(long, env = "PROJECTS_URL", default_value = "http://127.0.0.1:50053")]
    pub projects_url: String,
    /// URL of connections-svc's gRPC endpoint.
    #[arg(
        long,
        env = "CONNECTIONS_URL",
        default_value = "http://127.0.0.1:50052"
    )]
    pub connections_url: String,
    /// Credential of the trusted internal caller, as configured in the services.
    #[arg(long, env = "INTERNAL_CREDENTIAL", value_parser = parse_secret)]
    pub internal_credential: SecretString,
    /// Send the session cookie only over HTTPS. Turn on behind TLS.
    #[arg(long, env = "COOKIE_SECURE", default_value_t = false)]
    pub cookie_secure: bool,
    /// Public base URL of the API, for links such as invitations (default: the listen address).
    #[arg(long, env = "PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Take the client's address from the last `X-Forwarded-For` entry (set this behind a
    /// proxy or ingress that appends it); otherwise the peer address is used.
    #[arg(long, env = "TRUST_FORWARDED_FOR", default_value_t = false)]
    pub trust_forwarded_for: bool,
    /// How often the key set is refreshed from identity-svc, in seconds (at most identity's
    /// JWKS_CACHE_SECONDS).
    #[arg(long, env = "JWKS_CACHE_SECONDS", default_value_t = 60)]
    pub jwks_cache_seconds: u64,
    /// Largest accepted request body, in bytes.
    #[arg(long, env = "BODY_LIMIT_BYTES", default_value_t = 1024 * 1024)]
    pub body_limit_bytes: usize,
}

impl Config {
    /// The defaults, with these values.
    pub fn new(
        listen_addr: SocketAddr,
        identity_url: String,
        internal_credential: SecretString,
    ) -> Self {
        Self {
            listen_addr,
            identity_url,
            projects_url: "http://127.0.0.1:50053".into(),
            connections_url: "http://127.0.0.1:50052".into(),
            internal_credential,
            cookie_secure: false,
            public_url: None,
            trust_forwarded_for: false,
            jwks_cache_seconds: 60,
            body_limit_bytes: 1024 * 1024,
        }
    }
}

/// A built, not yet running gateway.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    shutdown: CancellationToken,
}

impl Application {
    /// Builds the clients and the router and binds the listener. Services may start later:
    /// channels connect lazily.
    pub async fn build(config: Config, shutdown: CancellationToken) -> anyhow::Result<Self> {
        service_kit::jwt::install_crypto_provider();
        let identity = Arc::new(IdentityClient::connect_lazy(
            &config.identity_url,
            &config.internal_credential,
        )?);
        let projects = Arc::new(ProjectsClient::connect_lazy(&config.projects_url)?);
        let connections = Arc::new(ConnectionsClient::connect_lazy(&config.connections_url)?);
        let listener = TcpListener::bind(config.listen_addr)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen_addr))?;
        let listener_addr = listener.local_addr()?;
        let verifier = Arc::new(JwtVerifier::new(
            TokenProfile::default(),
            Arc::new(IdentityJwks(identity.inner().clone())),
        ));
        verifier.spawn_periodic_refresh(
            Duration::from_secs(config.jwks_cache_seconds.max(1)),
            shutdown.clone(),
        );
        let settings = Arc::new(HttpSettings {
            cookie_secure: config.cookie_secure,
            body_limit: config.body_limit_bytes,
            trust_forwarded_for: config.trust_forwarded_for,
            public_url: config
                .public_url
                .clone()
                .unwrap_or_else(|| format!("http://{listener_addr}")),
            ..HttpSettings::default()
        });
        let router = http::router(AppState {
            identity,
            projects,
            connections,
            verifier,
            settings,
        });
        tracing::info!(addr = %listener.local_addr()?, "gateway ready");
        Ok(Self {
            listener,
            router,
            shutdown,
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("bound listener has an address")
    }

    /// Serves until the shutdown token is cancelled; in-flight requests finish first.
    pub async fn run(self) -> anyhow::Result<()> {
        let app = self
            .router
            .into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(self.listener, app)
            .with_graceful_shutdown(self.shutdown.cancelled_owned())
            .await?;
        tracing::info!("gateway stopped");
        Ok(())
    }
}
