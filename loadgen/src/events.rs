//! Issue #6's benchmark: events through identity-svc's outbox and subscription into projects-svc's
//! consumer, on a running platform started with `CONSUME_EVENTS=false` (so that this process is
//! the only consumer) and a known `OPERATOR_CREDENTIAL`, which this process presents.
//!
//! 1. Backlog: inserts `--backlog` events into identity-svc's outbox (500 per transaction, each
//!    numbered by the outbox as in production) and reports that rate; then starts the real
//!    consumer (`outbox::spawn_consumer` over projects-svc's own sink) and reports
//!    how fast it applies them all (subscription, transport, one transaction per event).
//! 2. Delay: with the consumer caught up, commits one event at a time at `--rate` per second for
//!    `--duration` seconds and records, for each, the time from its commit to the commit of its
//!    effect in projects-svc's database (p50, p99, max).
//!
//! The events are `organization.member_removed` of fresh users in a fresh organization: their
//! effect (deleting grants that are not there) costs what a real one costs.

use std::{
    collections::HashMap,
    io::Write,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use hdrhistogram::Histogram;
use outbox::{ConsumerSettings, EventSink, Snapshot, spawn_consumer};
use proto::events::v1 as pb;
use secrecy::SecretString;
use serde_json::json;
use service_kit::{
    db::{DbConfig, Pool},
    grpc::InternalCredential,
};
use tokio_util::sync::CancellationToken;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// identity-svc's gRPC URL (the platform logs it).
    #[arg(long)]
    identity_url: String,
    /// The platform's data directory (SQLite), or with --database-url its schema prefix.
    #[arg(long)]
    data_dir: std::path::PathBuf,
    /// PostgreSQL of the platform, when it runs on PostgreSQL.
    #[arg(long)]
    database_url: Option<String>,
    /// The platform's SCHEMA_PREFIX (PostgreSQL).
    #[arg(long, default_value = "")]
    schema_prefix: String,
    /// The platform's OPERATOR_CREDENTIAL (or env LOADGEN_OPERATOR_CREDENTIAL): identity-svc
    /// admits the operator on its event subscription.
    #[arg(long, env = "LOADGEN_OPERATOR_CREDENTIAL", hide_env_values = true)]
    operator_credential: String,
    /// Events of the backlog phase.
    #[arg(long, default_value_t = 20_000)]
    backlog: usize,
    /// Events per second of the delay phase.
    #[arg(long, default_value_t = 100.0)]
    rate: f64,
    /// Seconds of the delay phase.
    #[arg(long, default_value_t = 15.0)]
    duration: f64,
    /// Label of the JSON line.
    #[arg(long, default_value = "events")]
    label: String,
    /// Append the figures as one JSON line to this file.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
    /// Print markdown table rows on stdout.
    #[arg(long)]
    md: bool,
}

/// projects-svc's sink, recording when each event's effect committed.
#[derive(Debug)]
struct Timed {
    inner: Arc<dyn EventSink>,
    done: Mutex<HashMap<i64, Instant>>,
    applied: std::sync::atomic::AtomicU64,
}

#[async_trait::async_trait]
impl EventSink for Timed {
    async fn cursor(&self, source: &str) -> anyhow::Result<i64> {
        self.inner.cursor(source).await
    }
    async fn apply(&self, source: &str, after: i64, event: &pb::Event) -> anyhow::Result<bool> {
        let took = self.inner.apply(source, after, event).await?;
        if took {
            self.done
                .lock()
                .map_err(|_| anyhow::anyhow!("poisoned"))?
                .insert(event.sequence, Instant::now());
            self.applied
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(took)
    }
    async fn resync(&self, source: &str, snapshot: &Snapshot) -> anyhow::Result<()> {
        self.inner.resync(source, snapshot).await
    }
}

async fn pool(args: &Args, name: &str) -> anyhow::Result<Pool> {
    service_kit::db::connect(&DbConfig {
        url: args.database_url.clone().map(SecretString::from),
        schema: format!("{}{name}", args.schema_prefix),
        sqlite_file: args.data_dir.join(format!("{name}.db")),
        max_connections: 4,
    })
    .await
}

const INSERT: &str = "INSERT INTO outbox_events (event_uuid, event_type, payload, created_at) VALUES ($1, $2, $3, $4) RETURNING sequence";

/// Commits `n` events in one transaction; returns their sequences.
async fn commit_events(identity: &Pool, org: uuid::Uuid, n: usize) -> anyhow::Result<Vec<i64>> {
    macro_rules! insert {
        ($p:expr) => {{
            let mut tx = $p.begin().await?;
            let mut out = Vec::with_capacity(n);
            for _ in 0..n {
                let payload =
                    json!({"organizationUuid": org, "userUuid": uuid::Uuid::now_v7()}).to_string();
                let seq: i64 = sqlx::query_scalar(INSERT)
                    .bind(uuid::Uuid::now_v7())
                    .bind("organization.member_removed")
                    .bind(payload)
                    .bind(chrono::Utc::now())
                    .fetch_one(&mut *tx)
                    .await?;
                out.push(seq);
            }
            tx.commit().await?;
            out
        }};
    }
    Ok(match identity {
        Pool::Postgres(p) => insert!(p),
        Pool::Sqlite(p) => insert!(p),
    })
}

pub(crate) async fn main(args: Args) -> anyhow::Result<()> {
    let identity = pool(&args, "identity").await?;
    let projects = pool(&args, "projects").await?;
    let org = uuid::Uuid::now_v7();
    let sink = Arc::new(Timed {
        inner: projects_svc::store::sink_for_pool(projects.clone()),
        done: Mutex::default(),
        applied: Default::default(),
    });

    // 1. Backlog.
    let start = Instant::now();
    let mut last = 0;
    for chunk in (0..args.backlog).collect::<Vec<_>>().chunks(500) {
        last = *commit_events(&identity, org, chunk.len())
            .await?
            .last()
            .unwrap_or(&last);
    }
    let insert_secs = start.elapsed().as_secs_f64();
    let insert_rate = args.backlog as f64 / insert_secs;
    let shutdown = CancellationToken::new();
    let channel = tonic::transport::Endpoint::from_shared(args.identity_url.clone())?
        .tcp_nodelay(true)
        .connect_lazy();
    let credential = InternalCredential::new(SecretString::from(args.operator_credential.clone()))?;
    let start = Instant::now();
    let before = sink.cursor("identity").await?;
    spawn_consumer(
        ConsumerSettings {
            source: "identity",
            consumer: "loadgen",
            max_backoff: Duration::from_secs(1),
            reconcile_every: None,
        },
        channel,
        credential,
        sink.clone(),
        shutdown.clone(),
    );
    while sink.cursor("identity").await? < last {
        tokio::time::sleep(Duration::from_millis(5)).await;
        anyhow::ensure!(
            start.elapsed() < Duration::from_secs(600),
            "the consumer did not catch up"
        );
    }
    let apply_secs = start.elapsed().as_secs_f64();
    let applied = sink.cursor("identity").await? - before;
    let apply_rate = args.backlog as f64 / apply_secs;
    eprintln!(
        "backlog: {} events committed at {insert_rate:.0}/s; applied by the consumer at {apply_rate:.0}/s ({applied} sequences in {apply_secs:.2} s)",
        args.backlog
    );

    // 2. Delay at a steady rate.
    let mut delays = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let interval = Duration::from_secs_f64(1.0 / args.rate.max(0.1));
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let end = Instant::now() + Duration::from_secs_f64(args.duration.max(1.0));
    let mut committed: Vec<(i64, Instant)> = Vec::new();
    while Instant::now() < end {
        tick.tick().await;
        let seq = commit_events(&identity, org, 1).await?;
        committed.push((seq[0], Instant::now()));
    }
    let wait = Instant::now();
    while sink.cursor("identity").await? < committed.last().map_or(0, |c| c.0) {
        tokio::time::sleep(Duration::from_millis(5)).await;
        anyhow::ensure!(
            wait.elapsed() < Duration::from_secs(60),
            "the consumer fell behind"
        );
    }
    shutdown.cancel();
    let done = sink
        .done
        .lock()
        .map_err(|_| anyhow::anyhow!("poisoned"))?
        .clone();
    for (seq, at) in &committed {
        let applied_at = done
            .get(seq)
            .ok_or_else(|| anyhow::anyhow!("event {seq} was never applied"))?;
        let micros = applied_at.saturating_duration_since(*at).as_micros();
        delays.record(u64::try_from(micros).unwrap_or(u64::MAX).max(1))?;
    }
    let ms = |q: f64| delays.value_at_quantile(q) as f64 / 1000.0;
    eprintln!(
        "delay commit -> applied at {:.0} events/s over {:.0} s ({} events): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        args.rate,
        args.duration,
        committed.len(),
        ms(0.5),
        ms(0.99),
        delays.max() as f64 / 1000.0
    );
    if args.md {
        println!(
            "| {} | {} | {insert_rate:.0} | {apply_rate:.0} | {:.0} | {} | {:.1} | {:.1} | {:.1} |",
            args.label,
            args.backlog,
            args.rate,
            committed.len(),
            ms(0.5),
            ms(0.99),
            delays.max() as f64 / 1000.0
        );
    }
    if let Some(path) = &args.json {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        writeln!(
            f,
            "{}",
            json!({
                "label": args.label, "backlog": args.backlog, "insert_per_sec": insert_rate,
                "apply_per_sec": apply_rate, "rate": args.rate, "events": committed.len(),
                "delay_p50_ms": ms(0.5), "delay_p99_ms": ms(0.99), "delay_max_ms": delays.max() as f64 / 1000.0,
            })
        )?;
    }
    Ok(())
}
