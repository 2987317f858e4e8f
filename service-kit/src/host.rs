//! The frame every gRPC service runs in: its database (connected, and migrated or checked:
//! `migrate`), health and reflection, a readiness watch on the database, the listener, and a graceful stop.

use std::net::SocketAddr;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::transport::server::Router;
use tower::layer::util::{Identity, Stack};

use crate::{
    callers::CallerLayer,
    db::{self, DbConfig, Pool},
    grpc,
    migrate::{self, MigrationArgs},
};

pub use crate::migrate::Migrations;

/// A server's routes behind its [`CallerLayer`].
pub type GuardedRouter = Router<Stack<CallerLayer, Identity>>;

/// A service that is built but not yet serving.
#[derive(Debug)]
pub struct ServiceHost {
    name: &'static str,
    listener: TcpListener,
    router: GuardedRouter,
    shutdown: CancellationToken,
    pool: Pool,
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
    /// prepares health (NOT_SERVING while the database
    /// does not answer) and reflection over `descriptor_sets`, and binds `addr`. Every call
    /// passes `callers` first: the service's rules of who may call what.
    pub async fn start(
        name: &'static str,
        addr: SocketAddr,
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
        let (reporter, health, reflection) = grpc::health_and_reflection(descriptor_sets)?;
        let probe_pool = pool.clone();
        grpc::watch_readiness(
            reporter,
            move || {
                let p = probe_pool.clone();
                async move { p.ping().await }
            },
            shutdown.clone(),
        );
        tracing::info!(accepted = ?callers, "{name}: service callers");
        let router = grpc::server_builder()
            .layer(callers)
            .add_service(health)
            .add_service(reflection);
        let listener = grpc::bind(addr).await?;
        Ok(Self {
            name,
            listener,
            router,
            shutdown,
            pool,
        })
    }

    /// The service's database.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Adds the service's own gRPC services.
    pub fn add_routes(mut self, add: impl FnOnce(GuardedRouter) -> GuardedRouter) -> Self {
        self.router = add(self.router);
        self
    }

    /// The address the server listens on (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("bound listener has an address")
    }

    /// Serves until the shutdown token is cancelled; in-flight calls finish first.
    pub async fn run(self) -> anyhow::Result<()> {
        tracing::info!(addr = %self.local_addr(), backend = self.pool.backend(), "{} ready", self.name);
        let incoming =
            tonic::transport::server::TcpIncoming::from(self.listener).with_nodelay(Some(true));
        let result = self
            .router
            .serve_with_incoming_shutdown(incoming, self.shutdown.cancelled_owned())
            .await
            .map_err(anyhow::Error::from);
        self.pool.close().await;
        tracing::info!("{} stopped", self.name);
        result
    }
}
