//! `loadgen`: the closed-loop load generator behind `docs/benchmarks.md`.
//!
//! Closed loop: each of N workers sends one request, waits for the whole answer, records the
//! latency and sends the next one, so at most N requests are in flight. Throughput is the
//! number of answers completed inside the measurement window divided by its length; latencies
//! go into an HDR histogram (nanosecond resolution, 3 significant digits).
//!
//! The load generator runs as its own process, with a small tokio runtime (`--threads 1`, the
//! default, is a current-thread runtime), so that the server under test keeps its own runtime
//! and the two only share the machine's cores. Both processes' CPU time over the window is
//! reported, so a reader can see how much of the machine the client itself took.
//!
//! Targets are refused unless they are on loopback: this tool is for the local benchmark only.
//!
//! `loadgen/bench.sh` runs every scenario; see `docs/benchmarks.md`.

mod argon;
mod driver;
mod envelope;
mod events;
mod grpc;
mod http;
mod mixed;
mod rawhttp;
mod reference;
mod report;
mod seed;
mod setup;
mod spaces;
mod startup;
mod sys;

use std::time::Duration;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "loadgen",
    about = "Closed-loop load generator for docs/benchmarks.md"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the reference: a minimal axum endpoint `GET /` answering `{"status":"ok"}`.
    ReferenceServer(reference::Args),
    /// Register a fresh user on a running gateway and create a personal access token;
    /// prints `EMAIL=`, `PASSWORD=` and `PAT=` lines (and `ORG=` with `--org NAME`).
    Setup(setup::Args),
    /// Closed-loop HTTP/1.1 load: N keep-alive connections, one request in flight on each.
    Http(http::Args),
    /// Closed-loop gRPC load: `identity.v1.IdentityService/GetCurrentUser`, N calls in flight.
    Grpc(grpc::Args),
    /// Logins saturating the password-hashing pool while probe clients measure cheap
    /// authenticated GETs, each with its own histogram, over the same window.
    Mixed(mixed::Args),
    /// Print SQL that adds N members to an organization straight into identity-svc's database
    /// (pipe it into sqlite3 or psql while the platform is stopped).
    SeedMembers(seed::Args),
    /// Prepare a running platform for issue #4's benchmark: an admin with an organization and
    /// a project, and a viewer member; prints `KEY=value` lines (ADMIN_PAT=, PROJECT=, ...).
    SetupSpaces(spaces::SetupArgs),
    /// Print SQL that seeds users and groups (`--part identity`) or spaces and their grants
    /// (`--part projects`) into a stopped platform's SQLite files, or the spaces the member and
    /// the admin must then see (`--part expected`).
    SeedSpaces(spaces::SeedArgs),
    /// Events through identity-svc's outbox and subscription into projects-svc's consumer: the
    /// backlog rate and the delay from commit to applied (issue #6).
    Events(events::Args),
    /// Seal and open rates of connections-svc's envelope encryption on one thread.
    Envelope(envelope::Args),
    /// Raw Argon2id hash rate (argon2 crate defaults: m=19456 KiB, t=2, p=1) on N threads.
    Argon2(argon::Args),
    /// Start the all-in-one binary on an empty data dir: time to first answer, idle RSS.
    Startup(startup::Args),
    /// Print the markdown tables and target checks of a results file written by bench.sh.
    Report(report::Args),
    /// Record the resident set size of a running process as a JSON line.
    Rss(RssArgs),
    /// Print the header of the markdown table that `http --md` and `grpc --md` rows belong to.
    TableHeader,
}

/// Options shared by the load scenarios.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct RunOpts {
    /// Name of the scenario in the output.
    #[arg(long, default_value = "run")]
    pub(crate) label: String,
    /// Seconds of load before the measurement window (not recorded).
    #[arg(long, default_value_t = 2.0)]
    pub(crate) warmup: f64,
    /// Seconds of the measurement window.
    #[arg(long, default_value_t = 15.0)]
    pub(crate) duration: f64,
    /// Longest a single request may take before it counts as an error, in seconds.
    #[arg(long, default_value_t = 10.0)]
    pub(crate) timeout: f64,
    /// Worker threads of loadgen's own runtime; 1 means a current-thread runtime.
    #[arg(long, default_value_t = 1)]
    pub(crate) threads: usize,
    /// PID of the server under test, to report its CPU time over the window.
    #[arg(long)]
    pub(crate) server_pid: Option<u32>,
    /// More processes whose CPU counts as the server's (e.g. the PostgreSQL backends serving
    /// its connections), comma-separated; a process that is gone at either edge of the window
    /// is left out.
    #[arg(long, env = "LOADGEN_ALSO_PIDS", value_delimiter = ',')]
    pub(crate) also_pids: Vec<u32>,
    /// Print the result as a markdown table row on stdout (the human summary goes to stderr).
    #[arg(long)]
    pub(crate) md: bool,
    /// Append the result as one JSON line to this file.
    #[arg(long)]
    pub(crate) json: Option<std::path::PathBuf>,
}

impl RunOpts {
    pub(crate) fn warmup(&self) -> Duration {
        Duration::from_secs_f64(self.warmup.max(0.0))
    }
    pub(crate) fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.duration.max(0.1))
    }
    pub(crate) fn timeout(&self) -> Duration {
        Duration::from_secs_f64(self.timeout.max(0.001))
    }
}

#[derive(Debug, clap::Args)]
struct RssArgs {
    /// The process.
    #[arg(long)]
    pid: u32,
    /// Label of the JSON line.
    #[arg(long, default_value = "rss")]
    label: String,
    /// Append the figures as one JSON line to this file.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
}

fn rss(a: RssArgs) -> anyhow::Result<()> {
    use std::io::Write;
    let kib = |key| sys::status_kib(a.pid, key).map(|k| k as f64 / 1024.0);
    let rss = kib("VmRSS").ok_or_else(|| anyhow::anyhow!("no process {}", a.pid))?;
    let hwm = kib("VmHWM");
    eprintln!(
        "{}: VmRSS {rss:.1} MiB, VmHWM {:.1} MiB",
        a.label,
        hwm.unwrap_or(0.0)
    );
    if let Some(path) = &a.json {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        writeln!(
            f,
            "{}",
            serde_json::json!({ "label": a.label, "vmrss_mib": rss, "vmhwm_mib": hwm })
        )?;
    }
    Ok(())
}

/// A tokio runtime of `threads` workers; 1 gives a current-thread runtime.
pub(crate) fn runtime(threads: usize) -> anyhow::Result<tokio::runtime::Runtime> {
    let rt = if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()?
    };
    Ok(rt)
}

/// Refuses a host that is not loopback.
pub(crate) fn ensure_loopback(host: &str) -> anyhow::Result<()> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let ok = bare.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    anyhow::ensure!(
        ok,
        "refusing non-loopback target {host:?}: loadgen only drives local benchmarks"
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::ReferenceServer(a) => reference::main(a),
        Command::Setup(a) => runtime(1)?.block_on(setup::main(a)),
        Command::Http(a) => runtime(a.run.threads)?.block_on(http::main(a)),
        Command::Grpc(a) => runtime(a.run.threads)?.block_on(grpc::main(a)),
        Command::Mixed(a) => runtime(a.threads())?.block_on(mixed::main(a)),
        Command::SeedMembers(a) => seed::main(a),
        Command::SetupSpaces(a) => runtime(1)?.block_on(spaces::setup(a)),
        Command::SeedSpaces(a) => spaces::seed(a),
        Command::Argon2(a) => argon::main(a),
        Command::Envelope(a) => envelope::main(a),
        Command::Events(a) => runtime(2)?.block_on(events::main(a)),
        Command::Startup(a) => runtime(1)?.block_on(startup::main(a)),
        Command::Report(a) => report::main(a),
        Command::Rss(a) => rss(a),
        Command::TableHeader => {
            println!("{}", driver::Summary::markdown_header());
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_targets_are_accepted() {
        assert!(ensure_loopback("127.0.0.1").is_ok());
        assert!(ensure_loopback("127.8.0.1").is_ok());
        assert!(ensure_loopback("[::1]").is_ok());
        assert!(ensure_loopback("localhost").is_ok());
        assert!(ensure_loopback("10.0.0.1").is_err());
        assert!(ensure_loopback("example.com").is_err());
    }
}
