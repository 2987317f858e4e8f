//! Starts the all-in-one binary on a fresh, empty data directory and measures the time from
//! `spawn` to the first `GET /livez` answering 200 (the gateway listens, which happens only
//! after every service has migrated its database and bound its port) and to the first
//! `GET /readyz` answering 200 (identity-svc reports SERVING over gRPC); then, after some
//! seconds idle, the resident set size (VmRSS) and its peak (VmHWM).

use std::{
    io::Write,
    net::{Ipv4Addr, SocketAddr},
    path::PathBuf,
    process::Stdio,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use serde_json::json;

use crate::{rawhttp, sys};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The all-in-one binary (target/release/platform).
    #[arg(long)]
    platform_bin: PathBuf,
    /// Starts to make, each on a new empty data directory.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Seconds to stay idle after readiness before reading the RSS.
    #[arg(long, default_value_t = 5.0)]
    idle: f64,
    /// Give up on a start after this many seconds.
    #[arg(long, default_value_t = 30.0)]
    max_wait: f64,
    /// Print markdown table rows on stdout.
    #[arg(long)]
    md: bool,
    /// Append the result as one JSON line to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(Debug)]
struct Sample {
    live: Duration,
    ready: Duration,
    rss_kib: u64,
    hwm_kib: u64,
}

fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(l.local_addr()?.port())
}

/// Polls `path` until it answers 200; returns the time since `t0`.
async fn first_200(
    addr: SocketAddr,
    path: &str,
    t0: Instant,
    max_wait: Duration,
    child: &mut tokio::process::Child,
) -> anyhow::Result<Duration> {
    let req = rawhttp::build_request("GET", &addr.to_string(), path, &[], None);
    let mut conn = rawhttp::Connection::new(addr);
    loop {
        if let Ok(Ok(200)) = tokio::time::timeout(Duration::from_secs(2), conn.send(&req)).await {
            return Ok(t0.elapsed());
        }
        if let Some(status) = child.try_wait()? {
            anyhow::bail!("the platform exited during startup: {status}");
        }
        anyhow::ensure!(
            t0.elapsed() < max_wait,
            "no 200 from {path} within {max_wait:?}"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

async fn stop(child: &mut tokio::process::Child) {
    if let Some(pid) = child.id() {
        let _ = tokio::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await;
    }
    if tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .is_err()
    {
        let _ = child.start_kill();
        let _ = child.wait().await;
    }
}

async fn one(args: &Args, i: usize) -> anyhow::Result<Sample> {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos();
    let dir = std::env::temp_dir().join(format!(
        "loadgen-startup-{}-{i}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir(&dir)?;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()?));
    let t0 = Instant::now();
    let mut child = tokio::process::Command::new(&args.platform_bin)
        .env("PLATFORM_LISTEN_ADDR", addr.to_string())
        // On, as in production, on a port of its own (another platform may hold 9464).
        .env("METRICS_LISTEN_ADDR", "127.0.0.1:0")
        .env("DATA_DIR", &dir)
        .env_remove("DATABASE_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let pid = child.id().unwrap_or(0);
    let max_wait = Duration::from_secs_f64(args.max_wait);
    let result = async {
        let live = first_200(addr, "/livez", t0, max_wait, &mut child).await?;
        let ready = first_200(addr, "/readyz", t0, max_wait, &mut child).await?;
        tokio::time::sleep(Duration::from_secs_f64(args.idle.max(0.0))).await;
        let rss_kib = sys::status_kib(pid, "VmRSS")
            .ok_or_else(|| anyhow::anyhow!("cannot read VmRSS of {pid}"))?;
        let hwm_kib = sys::status_kib(pid, "VmHWM").unwrap_or(0);
        anyhow::Ok(Sample {
            live,
            ready,
            rss_kib,
            hwm_kib,
        })
    }
    .await;
    stop(&mut child).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn spread(v: &[f64]) -> (f64, f64, f64) {
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (median(v.to_vec()), min, max)
}

pub(crate) async fn main(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(args.runs > 0, "--runs must be at least 1");
    let mut samples = Vec::new();
    for i in 0..args.runs {
        let s = one(&args, i).await?;
        eprintln!(
            "start {}: /livez 200 after {:.1} ms, /readyz 200 after {:.1} ms; after {:.0} s idle VmRSS {:.1} MiB (peak {:.1} MiB)",
            i + 1,
            s.live.as_secs_f64() * 1e3,
            s.ready.as_secs_f64() * 1e3,
            args.idle,
            s.rss_kib as f64 / 1024.0,
            s.hwm_kib as f64 / 1024.0
        );
        samples.push(s);
    }
    let ms = |f: fn(&Sample) -> Duration| -> Vec<f64> {
        samples.iter().map(|s| f(s).as_secs_f64() * 1e3).collect()
    };
    let mib = |f: fn(&Sample) -> u64| -> Vec<f64> {
        samples.iter().map(|s| f(s) as f64 / 1024.0).collect()
    };
    let live = spread(&ms(|s| s.live));
    let ready = spread(&ms(|s| s.ready));
    let rss = spread(&mib(|s| s.rss_kib));
    let hwm = spread(&mib(|s| s.hwm_kib));
    let n = args.runs;
    if args.md {
        println!(
            "| start to first `GET /livez` 200, empty data dir (median of {n}, min–max) | {:.1} ms ({:.1}–{:.1}) |",
            live.0, live.1, live.2
        );
        println!(
            "| start to first `GET /readyz` 200, empty data dir (median of {n}, min–max) | {:.1} ms ({:.1}–{:.1}) |",
            ready.0, ready.1, ready.2
        );
        println!(
            "| idle RSS (VmRSS) {:.0} s after ready (median of {n}, min–max) | {:.1} MiB ({:.1}–{:.1}) |",
            args.idle, rss.0, rss.1, rss.2
        );
        println!(
            "| peak RSS (VmHWM) until then (median of {n}, min–max) | {:.1} MiB ({:.1}–{:.1}) |",
            hwm.0, hwm.1, hwm.2
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
                "label": "startup",
                "runs": n,
                "livez_ms": ms(|s| s.live),
                "readyz_ms": ms(|s| s.ready),
                "idle_s": args.idle,
                "vmrss_mib": mib(|s| s.rss_kib),
                "vmhwm_mib": mib(|s| s.hwm_kib),
            })
        )?;
    }
    Ok(())
}
