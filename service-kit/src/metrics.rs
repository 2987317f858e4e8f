//! Prometheus metrics: one recorder per process, served as text at `GET /metrics` on a listener
//! of its own (`METRICS_LISTEN_ADDR`), never on a public or gRPC port. docs/operations.md,
//! "Metrics", lists every metric and the questions it answers.
//!
//! - [`MetricsArgs`]: the setting, flattened into every binary (the all-in-one serves the one
//!   endpoint of its four parts);
//! - [`install`]: the process's recorder (histogram buckets, descriptions); until it is
//!   installed every handle is a no-op, and the request layers pass requests straight through;
//! - [`serve`]: the endpoint; [`on_scrape`]: gauges sampled when Prometheus scrapes (pools,
//!   outbox heads), so nothing is read while nobody looks;
//! - [`grpc::GrpcMetricsLayer`]: calls by part, gRPC service, method and code.
//!
//! Label values are bounded sets written by the code (routes, methods, codes, part names), never
//! taken from a request: no identifier, address or secret reaches a series.

pub mod grpc;

use std::{
    future::Future,
    net::SocketAddr,
    pin::Pin,
    sync::{Arc, Mutex, OnceLock},
    time::Duration,
};

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio_util::sync::CancellationToken;

use crate::db::Pool;

/// Where a process serves its metrics.
#[derive(Debug, Clone, clap::Args)]
pub struct MetricsArgs {
    /// Address of the Prometheus endpoint (`GET /metrics`, plain text), apart from the API and
    /// gRPC ports; `off` (or empty) serves none. In a container set `0.0.0.0:9464`.
    #[arg(
        long = "metrics-listen-addr",
        env = "METRICS_LISTEN_ADDR",
        value_name = "METRICS_LISTEN_ADDR",
        default_value = "127.0.0.1:9464",
        value_parser = parse_listen
    )]
    pub metrics_listen_addr: MetricsListen,
}

impl MetricsArgs {
    /// No endpoint (a part inside the all-in-one, whose process serves one for all).
    pub fn off() -> Self {
        Self {
            metrics_listen_addr: MetricsListen(None),
        }
    }

    /// An endpoint on `addr`.
    pub fn on(addr: SocketAddr) -> Self {
        Self {
            metrics_listen_addr: MetricsListen(Some(addr)),
        }
    }
}

/// `METRICS_LISTEN_ADDR`: an address, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsListen(pub Option<SocketAddr>);

fn parse_listen(value: &str) -> Result<MetricsListen, String> {
    let value = value.trim();
    if value.is_empty() || value.eq_ignore_ascii_case("off") {
        return Ok(MetricsListen(None));
    }
    value
        .parse()
        .map(|a| MetricsListen(Some(a)))
        .map_err(|_| "expected host:port (such as 127.0.0.1:9464) or `off`".to_owned())
}

/// Latency buckets of requests and calls, in seconds (1 ms to 30 s, the request timeout).
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// Buckets of the delay between an event's writing and its application, in seconds (10 ms to
/// an hour; a consumer that was down or resynchronizing lands in the top buckets).
const DELAY_BUCKETS: &[f64] = &[
    0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
];

/// The name of the consumer delay histogram (its own buckets).
pub const CONSUMER_DELAY: &str = "events_consumer_delay_seconds";

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process's recorder once (later calls return the same handle). Fails when
/// another recorder was installed first.
pub fn install() -> anyhow::Result<PrometheusHandle> {
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    static INSTALLING: Mutex<()> = Mutex::new(());
    let _one = INSTALLING.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(CONSUMER_DELAY.to_owned()), DELAY_BUCKETS)?
        .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), LATENCY_BUCKETS)?
        .install_recorder()
        .map_err(|e| anyhow::anyhow!("cannot install the metrics recorder: {e}"))?;
    describe();
    // Histogram samples wait in per-series buffers until drained; a scrape drains them too, but
    // nothing may grow while nobody scrapes. A thread, not a task: tests start and stop many
    // runtimes in one process.
    let upkeep = handle.clone();
    std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(Duration::from_secs(5));
                upkeep.run_upkeep();
            }
        })?;
    let _ = HANDLE.set(handle.clone());
    Ok(handle)
}

/// Whether a recorder is installed (request layers record only then).
pub fn enabled() -> bool {
    HANDLE.get().is_some()
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "http_requests_total",
        "HTTP requests answered by the gateway, by route template, method and status"
    );
    describe_histogram!(
        "http_request_duration_seconds",
        Unit::Seconds,
        "Time from a request's arrival to its answer's head, by route, method and status"
    );
    describe_counter!(
        "grpc_server_handled_total",
        "gRPC calls completed by a service, by part, gRPC service, method and code"
    );
    describe_histogram!(
        "grpc_server_handling_seconds",
        Unit::Seconds,
        "Time from a call's arrival to its status (streams: their whole life)"
    );
    describe_gauge!(
        "db_pool_connections",
        "Connections of a part's database pool, by state (idle, used)"
    );
    describe_gauge!(
        "db_pool_max_connections",
        "Most connections a part's database pool opens"
    );
    describe_gauge!(
        "password_hashes_waiting",
        "Password hashes and checks waiting for a hashing thread"
    );
    describe_gauge!(
        "password_hashes_running",
        "Password hashes and checks running on the hashing threads"
    );
    describe_gauge!(
        "password_hash_concurrency",
        "Hashing threads (PASSWORD_HASH_CONCURRENCY)"
    );
    describe_gauge!(
        "password_hash_threads_holding_memory",
        "Hashing threads holding their Argon2 buffer (19 MiB each); 0 once idle for 100 ms"
    );
    describe_counter!(
        "password_hashes_rejected_total",
        "Password hashes and checks refused after waiting too long (answered 429)"
    );
    describe_gauge!(
        "outbox_head_sequence",
        "Number of a producer's newest outbox event"
    );
    describe_gauge!(
        "events_consumer_sequence",
        "Number of the last event a consumer applied from a producer (its cursor)"
    );
    describe_histogram!(
        CONSUMER_DELAY,
        Unit::Seconds,
        "Time from an event's writing (producer's clock) to its application by a consumer"
    );
}

type Sample = Pin<Box<dyn Future<Output = ()> + Send>>;
type Sampler = Box<dyn Fn() -> Sample + Send + Sync>;

/// Samplers run at each scrape, each until its part's shutdown.
static SAMPLERS: Mutex<Vec<(CancellationToken, Arc<Sampler>)>> = Mutex::new(Vec::new());

/// Runs `sample` at every scrape of this process's endpoint until `shutdown` (gauges of what a
/// part holds: its pool, its outbox). A sample that takes longer than two seconds is abandoned.
/// Nothing is kept while no recorder is installed.
pub fn on_scrape<F, Fut>(shutdown: CancellationToken, sample: F)
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    if !enabled() {
        return;
    }
    let sampler: Sampler = Box::new(move || Box::pin(sample()));
    SAMPLERS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((shutdown, Arc::new(sampler)));
}

async fn run_samplers() {
    let due: Vec<Arc<Sampler>> = {
        let mut samplers = SAMPLERS.lock().unwrap_or_else(|e| e.into_inner());
        samplers.retain(|(shutdown, _)| !shutdown.is_cancelled());
        samplers.iter().map(|(_, s)| s.clone()).collect()
    };
    // Concurrently; dropping the set at the deadline aborts what is left.
    let mut set = tokio::task::JoinSet::new();
    for sample in &due {
        set.spawn(sample());
    }
    let all = async { while set.join_next().await.is_some() {} };
    let _ = tokio::time::timeout(Duration::from_secs(2), all).await;
}

/// Gauges of `pool` (connections used, idle, and its maximum) under `part`, sampled at each
/// scrape until `shutdown`.
pub fn watch_pool(part: &'static str, pool: Pool, shutdown: CancellationToken) {
    let backend = pool.backend();
    let labels = move |state: Option<&'static str>| {
        let mut l = vec![
            metrics::Label::new("part", part),
            metrics::Label::new("backend", backend),
        ];
        if let Some(state) = state {
            l.push(metrics::Label::new("state", state));
        }
        l
    };
    let idle = metrics::gauge!("db_pool_connections", labels(Some("idle")));
    let used = metrics::gauge!("db_pool_connections", labels(Some("used")));
    let max = metrics::gauge!("db_pool_max_connections", labels(None));
    on_scrape(shutdown, move || {
        let (size, num_idle, most) = crate::on_pool!(&pool, |p| (
            p.size(),
            p.num_idle(),
            p.options().get_max_connections()
        ));
        idle.set(num_idle as f64);
        used.set((size as usize).saturating_sub(num_idle) as f64);
        max.set(f64::from(most));
        std::future::ready(())
    });
}

/// The content type of the Prometheus text format.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Serves `GET /metrics` on `settings`' address until `shutdown`, installing the recorder first;
/// returns the bound address (None: metrics are off). Any other path answers 404.
pub fn serve(
    settings: &MetricsArgs,
    shutdown: CancellationToken,
) -> crate::BoxFuture<'_, anyhow::Result<Option<SocketAddr>>> {
    Box::pin(served(settings, shutdown))
}

async fn served(
    settings: &MetricsArgs,
    shutdown: CancellationToken,
) -> anyhow::Result<Option<SocketAddr>> {
    let Some(addr) = settings.metrics_listen_addr.0 else {
        return Ok(None);
    };
    let handle = install()?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("METRICS_LISTEN_ADDR: cannot listen on {addr}: {e}"))?;
    let local = listener.local_addr()?;
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let handle = handle.clone();
            async move {
                run_samplers().await;
                (
                    [(axum::http::header::CONTENT_TYPE, TEXT_FORMAT)],
                    handle.render(),
                )
            }
        }),
    );
    tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "the metrics endpoint stopped");
        }
    });
    tracing::info!(addr = %local, "metrics endpoint ready (GET /metrics)");
    Ok(Some(local))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listen_address_is_an_address_or_off() {
        assert_eq!(parse_listen("off"), Ok(MetricsListen(None)));
        assert_eq!(parse_listen(""), Ok(MetricsListen(None)));
        assert_eq!(
            parse_listen("0.0.0.0:9464"),
            Ok(MetricsListen(Some("0.0.0.0:9464".parse().unwrap())))
        );
        assert!(parse_listen("localhost").is_err());
        let defaults: MetricsArgs = crate::config::defaults();
        assert_eq!(
            defaults.metrics_listen_addr,
            MetricsListen(Some("127.0.0.1:9464".parse().unwrap()))
        );
    }
}
