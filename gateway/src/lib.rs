//! The gateway: the platform's public REST API. It owns HTTP concerns only (routing, auth
//! header parsing, the JSON shapes of each public dialect) and turns every call into gRPC calls
//! to the services, carrying an access JWT that names the original user.
//!
//! Architecture invariant: no database, no business rule. A decision about who may do what is
//! made by the service that owns the object.

pub mod clients;
pub mod config;
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
pub mod serve;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use service_kit::{
    grpc::{InternalCredential, tls::ClientTls},
    identity::IdentityJwks,
    jwt::{JwtVerifier, TokenProfile},
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use config::{Cli, Config, Settings};

use crate::{
    clients::{ConnectionsClient, IdentityClient, ProjectsClient},
    http::{AppState, HttpSettings},
};

/// A built, not yet running gateway.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    limits: serve::Limits,
    shutdown: CancellationToken,
}

impl Application {
    /// Builds the clients and the router and binds the listener. Services may start later:
    /// channels connect lazily.
    pub fn build(
        config: Config,
        shutdown: CancellationToken,
    ) -> service_kit::BoxFuture<'static, anyhow::Result<Self>> {
        Box::pin(Self::built(config, shutdown))
    }

    async fn built(config: Config, shutdown: CancellationToken) -> anyhow::Result<Self> {
        // First: the recorder must be installed before the request layers are built.
        service_kit::metrics::serve(&config.metrics, shutdown.clone()).await?;
        service_kit::jwt::install_crypto_provider();
        let credential = InternalCredential::new(config.service_credential.clone())?;
        let tls = ClientTls::load(&config.tls, &config.tls_ca)?;
        let identity = Arc::new(IdentityClient::connect_lazy(
            &config.identity_url,
            &credential,
            &tls,
        )?);
        let projects = Arc::new(ProjectsClient::connect_lazy(
            &config.projects_url,
            &credential,
            &tls,
        )?);
        let connections = Arc::new(ConnectionsClient::connect_lazy(
            &config.connections_url,
            &credential,
            &tls,
        )?);
        let listener = TcpListener::bind(config.listen_addr)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen_addr))?;
        let listener_addr = listener.local_addr()?;
        let verifier = Arc::new(JwtVerifier::new(
            TokenProfile::default(),
            Arc::new(IdentityJwks(identity.inner().clone())),
        ));
        verifier.spawn_periodic_refresh(config.key_set.refresh_interval(), shutdown.clone());
        let public_url = config
            .settings
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{listener_addr}"));
        let settings = Arc::new(HttpSettings {
            cookie_secure: http::cookie_secure(config.settings.cookie_secure, &public_url),
            body_limit: config.settings.body_limit_bytes as usize,
            body_read_timeout: Duration::from_secs(config.settings.body_read_timeout_secs),
            trust_forwarded_for: config.settings.trust_forwarded_for,
            public_url,
            ..HttpSettings::default()
        });
        let router = http::router(AppState::new(http::Handles {
            identity,
            projects,
            connections,
            verifier,
            settings,
        }));
        let limits = serve::Limits {
            max_connections: config.settings.max_connections,
            header_read: Duration::from_secs(config.settings.header_read_timeout_secs),
            keep_alive_idle: Duration::from_secs(config.settings.keep_alive_idle_secs),
        };
        tracing::info!(addr = %listener.local_addr()?, ?limits, "gateway ready");
        Ok(Self {
            listener,
            router,
            limits,
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
    pub fn run(self) -> service_kit::BoxFuture<'static, anyhow::Result<()>> {
        Box::pin(self.serve())
    }

    async fn serve(self) -> anyhow::Result<()> {
        serve::serve(self.listener, self.router, self.limits, self.shutdown).await;
        tracing::info!("gateway stopped");
        Ok(())
    }
}
