//! The closed loop: N workers, a warm-up, a measurement window, one merged histogram.

use std::{
    future::Future,
    io::Write,
    time::{Duration, Instant},
};

use hdrhistogram::Histogram;
use serde_json::json;
use tokio::task::JoinSet;

use crate::{RunOpts, sys};

/// How one call ended.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// A successful answer (2xx, or gRPC OK with the expected content).
    Ok,
    /// An answer with an unexpected status.
    Status(u16),
    /// No usable answer: transport error, protocol error, gRPC error status, timeout.
    Error(String),
}

impl Outcome {
    fn describe(&self) -> String {
        match self {
            Outcome::Ok => "ok".into(),
            Outcome::Status(s) => format!("answered status {s}"),
            Outcome::Error(e) => e.clone(),
        }
    }
}

/// One in-flight slot of the closed loop, owning its connection.
pub(crate) trait Call: Send + 'static {
    /// Sends one request and waits for its whole answer.
    fn call(&mut self) -> impl Future<Output = Outcome> + Send;
}

#[derive(Debug, Clone, Copy)]
struct Window {
    measure_from: Instant,
    measure_until: Instant,
    /// Each worker starts a request at most once per this interval (`None`: back to back).
    pace: Option<Duration>,
}

#[derive(Debug)]
struct WorkerStats {
    hist: Histogram<u64>,
    ok: u64,
    bad_status: u64,
    errors: u64,
    warmup_failures: u64,
    first_failure: Option<String>,
}

fn new_hist() -> Histogram<u64> {
    // 1 ns .. 100 s, 3 significant digits.
    Histogram::new_with_bounds(1, 100_000_000_000, 3).expect("valid histogram bounds")
}

async fn worker<C: Call>(mut c: C, w: Window, timeout: Duration) -> WorkerStats {
    let mut s = WorkerStats {
        hist: new_hist(),
        ok: 0,
        bad_status: 0,
        errors: 0,
        warmup_failures: 0,
        first_failure: None,
    };
    let mut ticks = w.pace.map(|p| {
        let mut t = tokio::time::interval(p);
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        t
    });
    loop {
        if let Some(t) = ticks.as_mut() {
            t.tick().await;
        }
        let t0 = Instant::now();
        if t0 >= w.measure_until {
            break;
        }
        let outcome = match tokio::time::timeout(timeout, c.call()).await {
            Ok(o) => o,
            Err(_) => Outcome::Error(format!("no answer within {timeout:?}")),
        };
        let t1 = Instant::now();
        let failed = !matches!(outcome, Outcome::Ok);
        let transport_error = matches!(outcome, Outcome::Error(_));
        if failed && s.first_failure.is_none() {
            s.first_failure = Some(outcome.describe());
        }
        if t0 >= w.measure_from && t1 <= w.measure_until {
            match outcome {
                Outcome::Ok => {
                    let ns = u64::try_from((t1 - t0).as_nanos()).unwrap_or(u64::MAX);
                    s.hist.saturating_record(ns.max(1));
                    s.ok += 1;
                }
                Outcome::Status(_) => s.bad_status += 1,
                Outcome::Error(_) => s.errors += 1,
            }
        } else if failed {
            s.warmup_failures += 1;
        }
        if transport_error {
            // Do not spin on a refused connection.
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    s
}

/// The result of one scenario.
#[derive(Debug)]
pub(crate) struct Summary {
    pub(crate) label: String,
    pub(crate) concurrency: usize,
    pub(crate) window: Duration,
    pub(crate) ok: u64,
    pub(crate) bad_status: u64,
    pub(crate) errors: u64,
    pub(crate) warmup_failures: u64,
    pub(crate) first_failure: Option<String>,
    pub(crate) hist: Histogram<u64>,
    pub(crate) client_cpu: Option<Duration>,
    pub(crate) server_cpu: Option<Duration>,
    pub(crate) other_cpu: Option<Duration>,
    pub(crate) client_threads: usize,
}

impl Summary {
    pub(crate) fn rate(&self) -> f64 {
        self.ok as f64 / self.window.as_secs_f64()
    }

    fn ms(&self, q: f64) -> f64 {
        self.hist.value_at_quantile(q) as f64 / 1e6
    }

    /// CPU cores used on average over the window.
    fn cores(&self, cpu: Option<Duration>) -> Option<f64> {
        cpu.map(|c| c.as_secs_f64() / self.window.as_secs_f64())
    }

    fn failures(&self) -> u64 {
        self.bad_status + self.errors
    }

    /// Answers per second of server CPU time (requests per core-second).
    fn per_server_core(&self) -> Option<f64> {
        self.server_cpu
            .filter(|c| !c.is_zero())
            .map(|c| self.ok as f64 / c.as_secs_f64())
    }

    pub(crate) fn markdown_header() -> &'static str {
        "| scenario | in flight | req/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | failed | server CPU (cores) | req/s per server core | client CPU (cores) | other CPU (cores) |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    }

    pub(crate) fn markdown_row(&self) -> String {
        crate::report::load_row(&self.to_json(), &self.label)
    }

    pub(crate) fn to_json(&self) -> serde_json::Value {
        json!({
            "label": self.label,
            "concurrency": self.concurrency,
            "window_s": self.window.as_secs_f64(),
            "ok": self.ok,
            "rps": self.rate(),
            "p50_ms": self.ms(0.5),
            "p90_ms": self.ms(0.9),
            "p99_ms": self.ms(0.99),
            "p999_ms": self.ms(0.999),
            "max_ms": self.hist.max() as f64 / 1e6,
            "mean_ms": self.hist.mean() / 1e6,
            "bad_status": self.bad_status,
            "errors": self.errors,
            "warmup_failures": self.warmup_failures,
            "first_failure": self.first_failure,
            "server_cpu_cores": self.cores(self.server_cpu),
            "rps_per_server_core": self.per_server_core(),
            "client_cpu_cores": self.cores(self.client_cpu),
            "other_cpu_cores": self.cores(self.other_cpu),
            "client_threads": self.client_threads,
        })
    }

    /// Prints the human summary on stderr, and the markdown row / JSON line as asked.
    pub(crate) fn report(&self, opts: &RunOpts) -> anyhow::Result<()> {
        eprintln!(
            "{}: {} in flight, {:.1} s window: {} ok ({:.0}/s), p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, p99.9 {:.3} ms, max {:.3} ms; {} failed ({} bad status, {} errors; {} failures outside the window){}",
            self.label,
            self.concurrency,
            self.window.as_secs_f64(),
            self.ok,
            self.rate(),
            self.ms(0.5),
            self.ms(0.9),
            self.ms(0.99),
            self.ms(0.999),
            self.hist.max() as f64 / 1e6,
            self.failures(),
            self.bad_status,
            self.errors,
            self.warmup_failures,
            self.first_failure
                .as_deref()
                .map(|f| format!("; first failure: {f}"))
                .unwrap_or_default(),
        );
        if let Some(c) = self.cores(self.server_cpu) {
            eprintln!("  server CPU {c:.2} cores");
        }
        if let Some(c) = self.cores(self.client_cpu) {
            eprintln!(
                "  client CPU {c:.2} cores ({} thread(s))",
                self.client_threads
            );
        }
        if opts.md {
            println!("{}", self.markdown_row());
        }
        if let Some(path) = &opts.json {
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?;
            writeln!(f, "{}", self.to_json())?;
        }
        Ok(())
    }
}

/// Runs `calls` (one per in-flight slot) as a closed loop: warm-up, then the measured window.
pub(crate) async fn run<C: Call>(calls: Vec<C>, opts: &RunOpts) -> anyhow::Result<Summary> {
    run_paced(calls, opts, None).await
}

/// Like [`run`], but with `pace` each worker starts a request at most once per `pace` (a light,
/// steady client rather than one that sends as fast as it can; latency is still measured
/// from the request's actual start).
pub(crate) async fn run_paced<C: Call>(
    calls: Vec<C>,
    opts: &RunOpts,
    pace: Option<Duration>,
) -> anyhow::Result<Summary> {
    let concurrency = calls.len();
    anyhow::ensure!(concurrency > 0, "at least one connection is needed");
    let start = Instant::now();
    let w = Window {
        measure_from: start + opts.warmup(),
        measure_until: start + opts.warmup() + opts.duration(),
        pace,
    };
    let server_pid = opts.server_pid;
    if let Some(pid) = server_pid {
        anyhow::ensure!(
            sys::cpu_time(Some(pid)).is_some(),
            "no process {pid} to measure"
        );
    }
    let also = opts.also_pids.clone();
    // CPU time of both processes (and of the server's helpers, each) and of the whole machine
    // at both edges of the window.
    let sample = move || {
        (
            sys::cpu_time(None),
            server_pid.and_then(|p| sys::cpu_time(Some(p))),
            sys::machine_busy(),
            also.iter()
                .map(|p| sys::cpu_time(Some(*p)))
                .collect::<Vec<_>>(),
        )
    };
    let sampler = tokio::spawn(async move {
        tokio::time::sleep_until(w.measure_from.into()).await;
        let a = sample();
        tokio::time::sleep_until(w.measure_until.into()).await;
        let b = sample();
        let diff = |x: Option<Duration>, y: Option<Duration>| Some(y?.saturating_sub(x?));
        let helpers: Duration = a.3.iter().zip(&b.3).filter_map(|(x, y)| diff(*x, *y)).sum();
        let server = diff(a.1, b.1).map(|s| s + helpers);
        (diff(a.0, b.0), server, diff(a.2, b.2))
    });
    let mut set = JoinSet::new();
    for c in calls {
        set.spawn(worker(c, w, opts.timeout()));
    }
    let mut summary = Summary {
        label: opts.label.clone(),
        concurrency,
        window: opts.duration(),
        ok: 0,
        bad_status: 0,
        errors: 0,
        warmup_failures: 0,
        first_failure: None,
        hist: new_hist(),
        client_cpu: None,
        server_cpu: None,
        other_cpu: None,
        client_threads: opts.threads.max(1),
    };
    while let Some(joined) = set.join_next().await {
        let s = joined?;
        summary.hist.add(&s.hist)?;
        summary.ok += s.ok;
        summary.bad_status += s.bad_status;
        summary.errors += s.errors;
        summary.warmup_failures += s.warmup_failures;
        if summary.first_failure.is_none() {
            summary.first_failure = s.first_failure;
        }
    }
    let (client_cpu, server_cpu, machine) = sampler.await?;
    summary.client_cpu = client_cpu;
    summary.server_cpu = server_cpu;
    // Whatever else ran on the machine meanwhile (other processes: noise in the figures).
    summary.other_cpu = machine.map(|m| {
        m.saturating_sub(client_cpu.unwrap_or_default())
            .saturating_sub(server_cpu.unwrap_or_default())
    });
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Sleepy(Duration);

    impl Call for Sleepy {
        async fn call(&mut self) -> Outcome {
            tokio::time::sleep(self.0).await;
            Outcome::Ok
        }
    }

    #[tokio::test]
    async fn a_closed_loop_completes_about_concurrency_over_latency_per_second() {
        let opts = RunOpts {
            label: "sleepy".into(),
            warmup: 0.05,
            duration: 0.5,
            timeout: 1.0,
            threads: 1,
            server_pid: None,
            also_pids: Vec::new(),
            md: false,
            json: None,
        };
        let calls = (0..4).map(|_| Sleepy(Duration::from_millis(10))).collect();
        let s = run(calls, &opts).await.unwrap();
        // 4 slots x ~10 ms each over 0.5 s: at most 200, and well above half of that.
        assert!(s.ok > 100 && s.ok <= 200, "{}", s.ok);
        assert!(s.ms(0.5) >= 10.0);
        assert_eq!(s.failures(), 0);
        assert!(s.markdown_row().starts_with("| sleepy | 4 |"));
    }

    #[tokio::test]
    async fn a_paced_worker_starts_at_most_one_request_per_interval() {
        let opts = RunOpts {
            label: "paced".into(),
            warmup: 0.0,
            duration: 0.5,
            timeout: 1.0,
            threads: 1,
            server_pid: None,
            also_pids: Vec::new(),
            md: false,
            json: None,
        };
        let calls = vec![Sleepy(Duration::from_millis(1))];
        let s = run_paced(calls, &opts, Some(Duration::from_millis(50)))
            .await
            .unwrap();
        // One request every 50 ms over 0.5 s (back to back it would be ~400).
        assert!((9..=11).contains(&s.ok), "{}", s.ok);
    }
}
