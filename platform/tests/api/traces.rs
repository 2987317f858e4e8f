//! Traces (docs/operations.md, "Traces"): one request, through the all-in-one and through the
//! separate binaries, reaches an OTLP receiver on loopback as one trace holding the gateway's
//! span, the service's span below it and a database span below that, each part under its own
//! `service.name`; the log lines of the request carry its trace id. Each process is a child
//! with its own OTEL_* variables, so nothing leaks into the other tests.

mod collector;

use std::{
    io::{BufRead as _, BufReader},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use base64::{Engine as _, engine::general_purpose::STANDARD as BASE64};
use collector::{Collector, Received};
use serde_json::{Value, json};
use sha2::Digest as _;

/// Every variable that could change where or whether a child exports.
const OTEL_VARS: &[&str] = &[
    "OTEL_SDK_DISABLED",
    "OTEL_TRACES_EXPORTER",
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
];

/// A child process whose JSON log lines (stdout) are read as they come.
struct Process {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Process {
    /// Starts `command` exporting to `endpoint` every `delay_ms`.
    fn spawn(mut command: Command, endpoint: &str, protocol: &str, delay_ms: u32) -> Self {
        for var in OTEL_VARS {
            command.env_remove(var);
        }
        let mut child = command
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
            .env("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
            .env("OTEL_BSP_SCHEDULE_DELAY", delay_ms.to_string())
            .env("RUST_LOG", "info")
            // Two binaries at once would both take the default metrics port.
            .env("METRICS_LISTEN_ADDR", "off")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the binary starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Self { child, lines }
    }

    /// The first log line whose message is `message`.
    fn wait_for(&self, message: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self.lines.recv_timeout(left).unwrap_or_else(|_| {
                panic!("no log line {message:?}: the process ended or 60 s passed")
            });
            let v: Value = serde_json::from_str(&line).expect("log lines are JSON");
            if v["message"] == message {
                return v;
            }
        }
    }

    /// Stops the process as Kubernetes does (SIGTERM); it must exit 0 within 30 s.
    fn stop(&mut self) {
        let killed = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "no exit within 30 s of SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(status.success(), "exit status {status:?}");
    }

    /// Whether a line logged within `limit` carries `trace_id`.
    fn logged_in_trace(&self, trace_id: &str, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while let Ok(line) = self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            let v: Value = serde_json::from_str(&line).expect("log lines are JSON");
            if v["trace_id"] == trace_id {
                assert!(v["span_id"].as_str().is_some_and(|s| s.len() == 16), "{v}");
                return true;
            }
        }
        false
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A sibling binary of this workspace, with trace export: built by `cargo test --workspace`, or
/// by `cargo build -p NAME --features service-kit/otlp` before a targeted run (without the
/// feature the binary refuses the OTEL_* settings these tests give it).
fn binary(name: &str) -> Command {
    let dir = std::env::current_exe().unwrap();
    let path = dir.parent().and_then(|d| d.parent()).unwrap().join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build -p {name} --features service-kit/otlp` first",
        path.display()
    );
    Command::new(path)
}

/// The registered users' password: a canary no span may hold.
const PASSWORD: &str = "canary-pw-5e1d-long-enough";

/// No span name or attribute, nor any attribute of a span's events, holds the password or
/// the session cookie.
fn assert_no_secret(collector: &Collector, cookie: &str) {
    let secret = cookie.split_once('=').map_or(cookie, |(_, v)| v);
    for s in collector.spans() {
        let texts = std::iter::once(&s.name).chain(
            s.attributes
                .iter()
                .chain(&s.event_attributes)
                .map(|(_, v)| v),
        );
        for text in texts {
            assert!(
                !text.contains(PASSWORD) && !text.contains(secret),
                "a secret in span {:?}: {text}",
                s.name
            );
        }
    }
}

/// A fresh 256-bit key-encryption key.
fn rand_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    key[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    key[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    key
}

/// Registers a user through the gateway at `base`: the gateway calls identity-svc, which
/// writes the user. Returns the session cookie (`name=value`).
async fn register(base: &str) -> String {
    let res = reqwest::Client::new()
        .post(format!("{base}/api/v1/user"))
        .json(&json!({
            "email": format!("traced-{}@example.com", uuid::Uuid::new_v4().simple()),
            "password": PASSWORD,
            "firstName": "Tra",
            "lastName": "Ced",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let cookie = res.headers()["set-cookie"].to_str().unwrap();
    cookie.split(';').next().unwrap().to_owned()
}

/// Deletes the user of session `cookie`: identity-svc writes a `user.deleted` event, which
/// projects-svc and connections-svc apply.
async fn delete_user(base: &str, cookie: &str) {
    let res = reqwest::Client::new()
        .delete(format!("{base}/api/v1/user/me"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

/// Waits (20 s at most) for a trace that `found` accepts among the gateway spans named
/// `gateway_span`; its trace id.
async fn trace_of(
    collector: &Collector,
    gateway_span: &str,
    found: impl Fn(&[Received], &str) -> bool,
) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let spans = collector.spans();
        if let Some(gateway) = spans
            .iter()
            .filter(|s| s.service == "gateway" && s.name == gateway_span)
            .find(|gateway| found(&spans, &gateway.trace_id))
        {
            return gateway.trace_id.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no complete trace of {gateway_span}; received: {:#?}",
            spans
                .iter()
                .map(|s| (&s.service, &s.name, &s.trace_id))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The ids of the spans of `service` in trace `trace_id`.
fn ids_of<'a>(spans: &'a [Received], trace_id: &str, service: &str) -> Vec<&'a str> {
    spans
        .iter()
        .filter(|s| s.trace_id == trace_id && s.service == service)
        .map(|s| s.span_id.as_str())
        .collect()
}

/// Whether trace `trace_id` holds a span of `service` named by `name`, a child of a span of
/// `parent_service`.
fn has_child(
    spans: &[Received],
    trace_id: &str,
    (service, name): (&str, &dyn Fn(&Received) -> bool),
    parent_service: &str,
) -> bool {
    let parents = ids_of(spans, trace_id, parent_service);
    spans.iter().any(|s| {
        s.trace_id == trace_id
            && s.service == service
            && name(s)
            && parents.contains(&s.parent_span_id.as_str())
    })
}

/// A database span on `system` with its statement's summary.
fn database_span(system: &str) -> impl Fn(&Received) -> bool + '_ {
    move |s| {
        s.name.starts_with("db ")
            && s.attribute("db.system.name") == Some(system)
            && s.attribute("db.query.summary")
                .is_some_and(|q| !q.is_empty())
    }
}

/// The trace of a registration: its gateway span, identity-svc's gRPC span a child of a
/// gateway span, the store method's span (at `debug`, exported whatever the log filter says)
/// and a database span (on `system`) children of identity-svc spans.
async fn registration_trace(collector: &Collector, system: &str) -> String {
    let grpc = |s: &Received| s.name.starts_with("/identity.v1.IdentityService/");
    let store = |s: &Received| s.name == "insert_user_with_session";
    let db = database_span(system);
    trace_of(collector, "POST /api/v1/user", |spans, t| {
        has_child(spans, t, ("identity-svc", &grpc), "gateway")
            && has_child(spans, t, ("identity-svc", &store), "identity-svc")
            && has_child(spans, t, ("identity-svc", &db), "identity-svc")
    })
    .await
}

/// The public edge: a request carrying a client's `traceparent` (sampled flag set) starts a
/// new trace at the gateway, linked to the client's span; no span joins the client's trace.
async fn a_clients_trace_context_is_only_linked(collector: &Collector, base: &str, cookie: &str) {
    let (client_trace, client_span) = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7");
    let res = reqwest::Client::new()
        .get(format!("{base}/api/v1/user"))
        .header("cookie", cookie)
        .header("traceparent", format!("00-{client_trace}-{client_span}-01"))
        .header("tracestate", "vendor=chosen-by-the-client")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let linked = |s: &Received| {
        s.links
            .iter()
            .any(|(t, sp)| t == client_trace && sp == client_span)
    };
    let trace = trace_of(collector, "GET /api/v1/user", |spans, t| {
        spans
            .iter()
            .any(|s| s.trace_id == t && s.service == "gateway" && linked(s))
    })
    .await;
    assert_ne!(trace, client_trace);
    assert!(
        collector.spans().iter().all(|s| s.trace_id != client_trace),
        "a span joined the client's trace"
    );
}

/// An export interval no test outlives (10 minutes): spans leave only on the stop.
const FOR_GOOD: u32 = 600_000;

/// The all-in-one (`platform`, SQLite) exporting over OTLP/gRPC.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_request_is_one_trace_in_the_all_in_one() {
    let collector = Collector::default();
    let addr = collector.grpc().await;
    let dir = std::env::temp_dir().join(format!("traces-{}", uuid::Uuid::new_v4().simple()));
    let mut command = Command::new(env!("CARGO_BIN_EXE_platform"));
    command
        .env("PLATFORM_LISTEN_ADDR", "127.0.0.1:0")
        .env("DATA_DIR", &dir)
        .env_remove("DATABASE_URL");
    // Export every 100 ms rather than every 5 s: the test waits for the spans.
    let platform = Process::spawn(command, &format!("http://{addr}"), "grpc", 100);
    let started = platform.wait_for("platform started");
    let base = started["url"].as_str().unwrap();
    let cookie = register(base).await;
    let trace = registration_trace(&collector, "sqlite").await;
    assert!(
        platform.logged_in_trace(&trace, Duration::from_secs(5)),
        "no log line carries trace_id {trace}"
    );
    a_clients_trace_context_is_only_linked(&collector, base, &cookie).await;
    // Through an event: the deletion's trace goes on in projects-svc's applying of
    // identity-svc's `user.deleted`, below the identity-svc span that wrote it.
    delete_user(base, &cookie).await;
    let apply = |s: &Received| s.name == "apply_event";
    let db = database_span("sqlite");
    trace_of(&collector, "DELETE /api/v1/user/me", |spans, t| {
        has_child(spans, t, ("projects-svc", &apply), "identity-svc")
            && has_child(spans, t, ("projects-svc", &db), "projects-svc")
    })
    .await;
    assert_no_secret(&collector, &cookie);
    drop(platform);
    let _ = std::fs::remove_dir_all(dir);
}

/// The gateway and identity-svc as separate processes (identity-svc on PostgreSQL), exporting
/// over OTLP/HTTP with protobuf bodies, and only when they stop: a graceful stop sends the
/// spans still held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_request_is_one_trace_across_the_separate_binaries() {
    let Some(url) = crate::helpers::reachable_postgres().await else {
        return;
    };
    let collector = Collector::default();
    let endpoint = format!("http://{}", collector.http().await);
    let dir = std::env::temp_dir().join(format!("traces-{}", uuid::Uuid::new_v4().simple()));
    let schema = format!(
        "t{}_identity",
        &uuid::Uuid::new_v4().simple().to_string()[..16]
    );
    let gateway_secret = format!("gw-{}", uuid::Uuid::new_v4().simple());
    let identity_secret = format!("id-{}", uuid::Uuid::new_v4().simple());
    let digest = hex::encode(sha2::Sha256::digest(gateway_secret.as_bytes()));

    let mut command = binary("identity-svc");
    command
        .env("IDENTITY_LISTEN_ADDR", "127.0.0.1:0")
        .env("IDENTITY_DATABASE_URL", &url)
        .env("IDENTITY_DATABASE_SCHEMA", &schema)
        .env("DATA_DIR", &dir)
        .env("SERVICE_CREDENTIAL", &identity_secret)
        .env("SERVICE_CREDENTIALS", format!("gateway:{digest}"))
        .env("IDENTITY_KEYS", format!("1:{}", BASE64.encode(rand_key())));
    let mut identity = Process::spawn(command, &endpoint, "http/protobuf", FOR_GOOD);
    let identity_addr = identity.wait_for("identity-svc ready")["addr"]
        .as_str()
        .unwrap()
        .to_owned();

    let mut command = binary("gateway");
    command
        .env("GATEWAY_LISTEN_ADDR", "127.0.0.1:0")
        .env("IDENTITY_URL", format!("http://{identity_addr}"))
        .env("SERVICE_CREDENTIAL", &gateway_secret);
    let mut gateway = Process::spawn(command, &endpoint, "http/protobuf", FOR_GOOD);
    let gateway_addr = gateway.wait_for("gateway ready")["addr"]
        .as_str()
        .unwrap()
        .to_owned();

    register(&format!("http://{gateway_addr}")).await;
    // Nothing is exported before the processes stop: what arrives was sent on the way out.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(collector.spans().is_empty(), "exported before the stop");
    gateway.stop();
    identity.stop();
    let trace = registration_trace(&collector, "postgresql").await;
    assert!(
        gateway.logged_in_trace(&trace, Duration::from_secs(5)),
        "no gateway log line carries trace_id {trace}"
    );
    assert!(
        identity.logged_in_trace(&trace, Duration::from_secs(5)),
        "no identity-svc log line carries trace_id {trace}"
    );
    drop((gateway, identity));
    crate::helpers::drop_schema(&url, &schema).await;
    let _ = std::fs::remove_dir_all(dir);
}
