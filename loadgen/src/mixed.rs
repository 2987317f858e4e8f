//! Logins that saturate identity-svc's password-hashing pool and, at the same time, probe
//! clients sending cheap authenticated requests, each scenario in its own closed loop with its
//! own histogram, all over the same window.
//!
//! `--logins 0` runs the probes alone (the baseline to compare their latency with); no
//! `--probe`, the logins alone. `--probe-rate` paces the probes: a light, steady client whose
//! own load does not slow the logins down.

use std::time::Duration;

use reqwest::Url;

use crate::{RunOpts, driver, http};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Base URL of the gateway, e.g. http://127.0.0.1:8080.
    #[arg(long)]
    gateway: String,
    /// Login clients, each with one `POST /api/v1/login` in flight; 0: the probes alone.
    #[arg(long, default_value_t = 8)]
    logins: usize,
    /// Email to log in with.
    #[arg(long)]
    email: Option<String>,
    /// Password to log in with (or env LOADGEN_PASSWORD).
    #[arg(long, env = "LOADGEN_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// A probe, `NAME=PATH` (e.g. `user=/api/v1/user`): GET with `Authorization: ApiKey <PAT>`,
    /// recorded under the label `<label>-<NAME>`. Repeatable.
    #[arg(long = "probe")]
    probes: Vec<String>,
    /// Connections (requests in flight) of each probe.
    #[arg(long, default_value_t = 1)]
    probe_connections: usize,
    /// Requests per second each probe connection sends at most (0: back to back). A light,
    /// steady client: back to back, the probes would take CPU from the logins themselves.
    #[arg(long, default_value_t = 0.0)]
    probe_rate: f64,
    /// The personal access token of the probes (or env LOADGEN_PAT).
    #[arg(long, env = "LOADGEN_PAT", hide_env_values = true)]
    pat: String,
    /// `--label` is the prefix of the labels: `<label>-login`, `<label>-<NAME>`.
    #[command(flatten)]
    run: RunOpts,
}

impl Args {
    pub(crate) fn threads(&self) -> usize {
        self.run.threads
    }
}

fn parse_probe(p: &str) -> anyhow::Result<(&str, &str)> {
    let (name, path) = p
        .split_once('=')
        .ok_or_else(|| anyhow::anyhow!("--probe takes NAME=PATH, not {p:?}"))?;
    anyhow::ensure!(
        !name.is_empty() && path.starts_with('/'),
        "--probe takes NAME=/path, not {p:?}"
    );
    Ok((name, path))
}

pub(crate) async fn main(args: Args) -> anyhow::Result<()> {
    let base = Url::parse(&args.gateway)?;
    let addr = http::resolve(&base).await?;
    let accept = ("Accept".to_owned(), "application/json".to_owned());
    // Build every worker (and open every connection) before any load starts.
    anyhow::ensure!(
        args.logins > 0 || !args.probes.is_empty(),
        "nothing to run: give --logins N and/or --probe NAME=PATH"
    );
    let pace = (args.probe_rate > 0.0).then(|| Duration::from_secs_f64(1.0 / args.probe_rate));
    let mut runs: Vec<(RunOpts, Vec<http::RawCall>, Option<Duration>)> = Vec::new();
    if args.logins > 0 {
        let (Some(email), Some(password)) = (&args.email, &args.password) else {
            anyhow::bail!("logins need --email and --password (or LOADGEN_PASSWORD)");
        };
        let body = serde_json::json!({ "email": email, "password": password }).to_string();
        let headers = [
            accept.clone(),
            ("Content-Type".to_owned(), "application/json".to_owned()),
        ];
        let url = base.join("/api/v1/login")?;
        let calls =
            http::raw_calls(addr, "POST", &url, &headers, Some(&body), args.logins, None).await?;
        let mut opts = args.run.clone();
        opts.label = format!("{}-login", args.run.label);
        runs.push((opts, calls, None));
    }
    for p in &args.probes {
        let (name, path) = parse_probe(p)?;
        let headers = [
            accept.clone(),
            ("Authorization".to_owned(), format!("ApiKey {}", args.pat)),
        ];
        let url = base.join(path)?;
        let calls = http::raw_calls(
            addr,
            "GET",
            &url,
            &headers,
            None,
            args.probe_connections.max(1),
            None,
        )
        .await?;
        let mut opts = args.run.clone();
        opts.label = format!("{}-{name}", args.run.label);
        runs.push((opts, calls, pace));
    }
    // All loops start now, so their warm-ups and windows coincide (within microseconds).
    let mut set = tokio::task::JoinSet::new();
    for (i, (opts, calls, pace)) in runs.into_iter().enumerate() {
        set.spawn(async move {
            let s = driver::run_paced(calls, &opts, pace).await;
            (i, opts, s)
        });
    }
    let mut done = Vec::new();
    while let Some(joined) = set.join_next().await {
        done.push(joined?);
    }
    done.sort_by_key(|(i, _, _)| *i);
    for (_, opts, summary) in done {
        let summary = summary?;
        summary.report(&opts)?;
        anyhow::ensure!(summary.ok > 0, "{}: no successful request", opts.label);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_are_name_equals_path() {
        assert_eq!(
            parse_probe("user=/api/v1/user").unwrap(),
            ("user", "/api/v1/user")
        );
        assert!(parse_probe("/api/v1/user").is_err());
        assert!(parse_probe("=/x").is_err());
        assert!(parse_probe("x=api").is_err());
    }
}
