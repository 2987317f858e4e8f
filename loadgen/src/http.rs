//! HTTP scenarios: N workers, each with its own HTTP/1.1 keep-alive connection.

use std::net::SocketAddr;

use clap::ValueEnum;
use reqwest::{Method, Url, header};

use crate::{
    RunOpts,
    driver::{self, Call, Outcome},
    rawhttp::{self, Connection},
    setup,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Auth {
    /// No credential.
    None,
    /// `Authorization: ApiKey <personal access token>`.
    Pat,
    /// `Authorization: Bearer <access JWT>`, exchanged for the PAT once before the run.
    Jwt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Client {
    /// loadgen's minimal HTTP/1.1 client (least client CPU).
    Raw,
    /// reqwest, one `Client` (one pooled connection) per worker.
    Reqwest,
}

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// URL to load, e.g. http://127.0.0.1:8080/api/v1/user.
    #[arg(long)]
    url: String,
    /// Concurrent connections, each with one request in flight.
    #[arg(long, short = 'c', default_value_t = 32)]
    connections: usize,
    /// HTTP method.
    #[arg(long, default_value = "GET")]
    method: String,
    /// Request body (sent as application/json).
    #[arg(long)]
    body: Option<String>,
    /// How requests authenticate.
    #[arg(long, value_enum, default_value_t = Auth::None)]
    auth: Auth,
    /// The personal access token for `--auth pat|jwt` (or env LOADGEN_PAT).
    #[arg(long, env = "LOADGEN_PAT", hide_env_values = true)]
    pat: Option<String>,
    /// Which HTTP client the workers use.
    #[arg(long, value_enum, default_value_t = Client::Raw)]
    client: Client,
    /// Answers with this status count as successes (default: any 2xx).
    #[arg(long)]
    expect_status: Option<u16>,
    #[command(flatten)]
    pub(crate) run: RunOpts,
}

/// A worker on loadgen's raw client.
#[derive(Debug)]
pub(crate) struct RawCall {
    conn: Connection,
    request: std::sync::Arc<[u8]>,
    expect: Option<u16>,
}

fn judge(status: u16, expect: Option<u16>) -> Outcome {
    let ok = match expect {
        Some(e) => status == e,
        None => (200..300).contains(&status),
    };
    if ok {
        Outcome::Ok
    } else {
        Outcome::Status(status)
    }
}

impl Call for RawCall {
    async fn call(&mut self) -> Outcome {
        match self.conn.send(&self.request).await {
            Ok(status) => judge(status, self.expect),
            Err(e) => Outcome::Error(e.to_string()),
        }
    }
}

/// A worker on reqwest.
#[derive(Debug)]
struct ReqwestCall {
    client: reqwest::Client,
    method: Method,
    url: Url,
    headers: header::HeaderMap,
    body: Option<String>,
    expect: Option<u16>,
}

impl Call for ReqwestCall {
    async fn call(&mut self) -> Outcome {
        let mut req = self
            .client
            .request(self.method.clone(), self.url.clone())
            .headers(self.headers.clone());
        if let Some(b) = &self.body {
            req = req.body(b.clone());
        }
        let res = match req.send().await {
            Ok(r) => r,
            Err(e) => return Outcome::Error(format!("{e:#}")),
        };
        let status = res.status().as_u16();
        match res.bytes().await {
            Ok(_) => judge(status, self.expect),
            Err(e) => Outcome::Error(format!("{e:#}")),
        }
    }
}

pub(crate) async fn resolve(url: &Url) -> anyhow::Result<SocketAddr> {
    anyhow::ensure!(url.scheme() == "http", "only http:// URLs are supported");
    let host = url
        .host_str()
        .ok_or_else(|| anyhow::anyhow!("URL has no host"))?;
    crate::ensure_loopback(host)?;
    let port = url.port_or_known_default().unwrap_or(80);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    tokio::net::lookup_host((host, port))
        .await?
        .find(|a| a.ip().is_loopback())
        .ok_or_else(|| anyhow::anyhow!("{host} does not resolve to a loopback address"))
}

/// `n` workers on loadgen's raw client, each with its own connection (opened now), all sending
/// the same request.
pub(crate) async fn raw_calls(
    addr: SocketAddr,
    method: &str,
    url: &Url,
    headers: &[(String, String)],
    body: Option<&str>,
    n: usize,
    expect: Option<u16>,
) -> anyhow::Result<Vec<RawCall>> {
    let host = match url.port() {
        Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_owned(),
    };
    let mut path = url.path().to_owned();
    if let Some(q) = url.query() {
        path = format!("{path}?{q}");
    }
    let request: std::sync::Arc<[u8]> =
        rawhttp::build_request(method, &host, &path, headers, body.map(str::as_bytes)).into();
    let mut calls = Vec::with_capacity(n);
    for _ in 0..n {
        let mut conn = Connection::new(addr);
        conn.connect().await?;
        calls.push(RawCall {
            conn,
            request: request.clone(),
            expect,
        });
    }
    Ok(calls)
}

pub(crate) async fn main(args: Args) -> anyhow::Result<()> {
    let url = Url::parse(&args.url)?;
    let addr = resolve(&url).await?;
    let mut headers: Vec<(String, String)> = vec![("Accept".into(), "application/json".into())];
    match args.auth {
        Auth::None => {}
        Auth::Pat | Auth::Jwt => {
            let pat = args
                .pat
                .clone()
                .ok_or_else(|| anyhow::anyhow!("--auth pat|jwt needs --pat or LOADGEN_PAT"))?;
            let value = if args.auth == Auth::Pat {
                format!("ApiKey {pat}")
            } else {
                let origin = url.origin().ascii_serialization();
                format!("Bearer {}", setup::access_token(&origin, &pat).await?)
            };
            headers.push(("Authorization".into(), value));
        }
    }
    if args.body.is_some() {
        headers.push(("Content-Type".into(), "application/json".into()));
    }
    let method = args.method.to_ascii_uppercase();

    let summary = match args.client {
        Client::Raw => {
            let calls = raw_calls(
                addr,
                &method,
                &url,
                &headers,
                args.body.as_deref(),
                args.connections,
                args.expect_status,
            )
            .await?;
            driver::run(calls, &args.run).await?
        }
        Client::Reqwest => {
            let mut map = header::HeaderMap::new();
            for (k, v) in &headers {
                map.insert(
                    header::HeaderName::from_bytes(k.as_bytes())?,
                    header::HeaderValue::from_str(v)?,
                );
            }
            let method = Method::from_bytes(method.as_bytes())?;
            let calls = (0..args.connections)
                .map(|_| {
                    Ok(ReqwestCall {
                        client: reqwest::Client::builder()
                            .http1_only()
                            .pool_max_idle_per_host(1)
                            .no_proxy()
                            .tcp_nodelay(true)
                            .build()?,
                        method: method.clone(),
                        url: url.clone(),
                        headers: map.clone(),
                        body: args.body.clone(),
                        expect: args.expect_status,
                    })
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            driver::run(calls, &args.run).await?
        }
    };
    summary.report(&args.run)?;
    anyhow::ensure!(summary.ok > 0, "no successful request in the window");
    Ok(())
}
