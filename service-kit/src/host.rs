//! The frame every gRPC service runs in: its database (connected, and migrated or checked:
//! `migrate`), health and reflection, a readiness watch on the database, the listener, and a graceful stop.

use std::net::SocketAddr;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::{body::Body, service::Routes, transport::Server};
use tower::{
    Layer, ServiceExt,
    layer::util::{Identity, Stack},
    util::BoxCloneSyncService,
};

use crate::{
    BoxFuture,
    callers::CallerLayer,
    db::{self, DbConfig, Pool},
    grpc::{self, local::Registration, tls::ServerTls},
    metrics::{self, grpc::GrpcMetricsLayer},
    migrate::{self, MigrationArgs},
};

pub use crate::migrate::Migrations;

/// What every call passes before a server's routes: its [`CallerLayer`], measured outside it
/// ([`GrpcMetricsLayer`]).
pub type Guard = Stack<CallerLayer, Stack<GrpcMetricsLayer, Identity>>;

/// A server's gRPC services (health and reflection, then the service's own), served behind
/// its [`Guard`] over the network and in place ([`grpc::local`]).
pub type GuardedRouter = Routes;

/// A service that is built but not yet serving.
#[derive(Debug)]
pub struct ServiceHost {
    name: &'static str,
    listener: TcpListener,
    server: Server<Guard>,
    guard: Guard,
    routes: Routes,
    /// The server as the all-in-one's other parts call it in place (`inproc://<address>`).
    local: Registration,
    shutdown: CancellationToken,
    pool: Pool,
    tls: &'static str,
    /// NOT_SERVING until [`Self::run`] starts the readiness watch.
    reporter: tonic_health::server::HealthReporter,
}

/// A service's database: where it is, its migrations, and whether the service applies them.
#[derive(Debug, Clone, Copy)]
pub struct Database<'a> {
    /// Where it is.
    pub config: &'a DbConfig,
    /// The service's migrations.
    pub migrations: Migrations,
    /// MIGRATE_ON_START and MIGRATE_WAIT_SECONDS.
    pub on_start: &'a MigrationArgs,
}

impl ServiceHost {
    /// Connects the database and migrates it, or waits until `migrate` has (MIGRATE_ON_START),
    /// prepares health (NOT_SERVING until [`Self::run`], then while the database does not
    /// answer) and reflection over `descriptor_sets`, and binds `addr`. Every call
    /// passes `callers` first: the service's rules of who may call what. `tls` says how
    /// connections are accepted (TLS only once a certificate is configured). Calls and the
    /// pool are measured under `name` (`crate::metrics`).
    #[allow(clippy::too_many_arguments)]
    pub fn start<'a>(
        name: &'static str,
        addr: SocketAddr,
        tls: &'a ServerTls,
        db: Database<'a>,
        descriptor_sets: &'a [&'static [u8]],
        callers: CallerLayer,
        shutdown: CancellationToken,
    ) -> BoxFuture<'a, anyhow::Result<Self>> {
        Box::pin(Self::started(
            name,
            addr,
            tls,
            db,
            descriptor_sets,
            callers,
            shutdown,
        ))
    }

    #[allow(clippy::too_many_arguments)]
    async fn started(
        name: &'static str,
        addr: SocketAddr,
        tls: &ServerTls,
        db: Database<'_>,
        descriptor_sets: &[&'static [u8]],
        callers: CallerLayer,
        shutdown: CancellationToken,
    ) -> anyhow::Result<Self> {
        // With migrations off the role may not create the schema: nothing is created.
        let pool = if db.on_start.migrate_on_start {
            db::connect(db.config).await?
        } else {
            db::connect_existing(db.config).await?
        };
        migrate::on_start(&pool, db.migrations, db.on_start, name, &shutdown).await?;
        let (reporter, health, reflection) = grpc::health_and_reflection(descriptor_sets).await?;
        if let Some(addr) = tls.health_addr() {
            serve_health(name, health.clone(), addr, shutdown.clone()).await?;
        }
        tracing::info!(accepted = ?callers, "{name}: service callers");
        metrics::watch_pool(name, pool.clone(), shutdown.clone());
        crate::telemetry::record_backend(name, pool.backend());
        let metrics = GrpcMetricsLayer::new(name, callers.methods());
        let guard = Stack::new(
            callers.clone(),
            Stack::new(metrics.clone(), Identity::new()),
        );
        let server = tls
            .apply(grpc::server_builder())?
            .trace_fn(move |req| grpc::part_request_span(name, req))
            .layer(metrics)
            .layer(callers);
        let routes = Routes::new(health).add_service(reflection);
        let listener = grpc::bind(addr).await?;
        let local = Registration::new(name, listener.local_addr()?);
        Ok(Self {
            name,
            listener,
            server,
            guard,
            routes,
            local,
            shutdown,
            pool,
            tls: tls.mode(),
            reporter,
        })
    }

    /// The service's database.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Adds the service's own gRPC services.
    pub fn add_routes(mut self, add: impl FnOnce(GuardedRouter) -> GuardedRouter) -> Self {
        self.routes = add(self.routes);
        self
    }

    /// The address the server listens on (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("bound listener has an address")
    }

    /// Serves until the shutdown token is cancelled; in-flight calls finish first. Health says
    /// SERVING from now on while the database answers (NOT_SERVING before: the service may
    /// still be preparing, as identity-svc sealing its keys).
    pub fn run(self) -> BoxFuture<'static, anyhow::Result<()>> {
        Box::pin(self.serve())
    }

    async fn serve(self) -> anyhow::Result<()> {
        // Before the first call is served, so a caller of the main port never meets the
        // NOT_SERVING of the preparation; the watch then keeps it up to date.
        let ready = if self.pool.ping().await {
            tonic_health::ServingStatus::Serving
        } else {
            tonic_health::ServingStatus::NotServing
        };
        self.reporter.set_service_status("", ready).await;
        let probe_pool = self.pool.clone();
        grpc::watch_readiness(
            self.reporter.clone(),
            move || {
                let p = probe_pool.clone();
                async move { p.ping().await }
            },
            self.shutdown.clone(),
        );
        tracing::info!(addr = %self.local_addr(), backend = self.pool.backend(), tls = self.tls, "{} ready", self.name);
        let routes = self.routes.prepare();
        self.local.serve(in_place(&self.guard, routes.clone()));
        let incoming =
            tonic::transport::server::TcpIncoming::from(self.listener).with_nodelay(Some(true));
        let mut server = self.server;
        let result = server
            .add_routes(routes)
            .serve_with_incoming_shutdown(incoming, self.shutdown.cancelled_owned())
            .await
            .map_err(anyhow::Error::from);
        // Calls in place stop with the network server, and finish before the database closes.
        self.local.stop().await;
        self.pool.close().await;
        tracing::info!("{} stopped", self.name);
        result
    }
}

/// `routes` behind `guard`, as a service called in place.
fn in_place(guard: &Guard, routes: Routes) -> grpc::local::LocalService {
    BoxCloneSyncService::new(ServiceExt::<http::Request<Body>>::map_response(
        guard.layer(routes),
        |response| response.map(Body::new),
    ))
}

/// Serves `grpc.health.v1` alone, plaintext, on `addr` (kubelet's gRPC probes, which speak no
/// TLS), until `shutdown`.
async fn serve_health(
    name: &'static str,
    health: tonic_health::pb::health_server::HealthServer<
        impl tonic_health::pb::health_server::Health,
    >,
    addr: SocketAddr,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let listener = grpc::bind(addr).await?;
    tracing::info!(addr = %listener.local_addr()?, "{name}: plaintext health server");
    let router = grpc::server_builder().add_service(health);
    tokio::spawn(async move {
        if let Err(e) = grpc::serve(router, listener, shutdown).await {
            tracing::error!(error = %e, "{name}: the health server stopped");
        }
    });
    Ok(())
}
