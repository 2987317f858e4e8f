//! Metrics (issue #20): the all-in-one serves every part's series at `GET /metrics` on
//! `METRICS_LISTEN_ADDR` and nowhere else; each family docs/operations.md names is there with
//! its labels after the traffic that makes it; the Grafana dashboard asks only for metrics the
//! process exports; no secret of the traffic reaches the exposition.

mod text;

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::{
    helpers::{Auth, TestApp, dual, within},
    organizations::{admin_of_new_org, cookie},
    projects::new_project,
};
use text::{Exposition, metric_names};

dual!(the_endpoint_exports_every_family_and_no_secret);

/// The families the processes export, each with labels its series carry.
const FAMILIES: &[(&str, &[&str])] = &[
    ("http_requests_total", &["route", "method", "status"]),
    (
        "http_request_duration_seconds_bucket",
        &["route", "method", "status", "le"],
    ),
    (
        "grpc_server_handled_total",
        &["part", "grpc_service", "grpc_method", "grpc_code"],
    ),
    (
        "grpc_server_handling_seconds_bucket",
        &["part", "grpc_service", "grpc_method", "grpc_code", "le"],
    ),
    ("db_pool_connections", &["part", "backend", "state"]),
    ("db_pool_max_connections", &["part", "backend"]),
    ("password_hashes_waiting", &[]),
    ("password_hashes_running", &[]),
    ("password_hash_concurrency", &[]),
    ("password_hash_threads_holding_memory", &[]),
    ("password_hashes_rejected_total", &[]),
    ("outbox_head_sequence", &["producer"]),
    ("events_consumer_sequence", &["producer", "consumer"]),
    (
        "events_consumer_delay_seconds_bucket",
        &["producer", "consumer", "le"],
    ),
];

async fn scrape(app: &TestApp) -> (String, Exposition) {
    let addr = app.metrics_addr.expect("the harness serves metrics");
    let r = app
        .http
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4"),
        "{:?}",
        r.headers()
    );
    let text = r.text().await.unwrap();
    let parsed = Exposition::parse(&text);
    (text, parsed)
}

/// The last event a consumer applied from `source`, in its own database.
async fn cursor(db: &service_kit::db::Pool, source: &str) -> i64 {
    let sql = "SELECT COALESCE(MAX(sequence), 0) FROM event_cursors WHERE source = $1";
    service_kit::on_pool!(db, |p| sqlx::query_scalar(sql)
        .bind(source)
        .fetch_one(p)
        .await
        .unwrap())
}

/// Who follows whom: (producer, consumer).
const FLOWS: [(&str, &str); 3] = [
    ("identity", "projects-svc"),
    ("identity", "connections-svc"),
    ("projects", "connections-svc"),
];

async fn the_endpoint_exports_every_family_and_no_secret(app: TestApp) {
    // Traffic: sign-up and login with a canary password, connections and projects listed, a
    // project created, read and deleted (an event of projects-svc that connections-svc
    // applies), a user who deletes themselves (an event of identity-svc that projects-svc and
    // connections-svc apply), a route nobody serves.
    let canary = format!("metrics-canary-{}", uuid::Uuid::new_v4().simple());
    let email = format!("metrics-{}@example.com", uuid::Uuid::new_v4().simple());
    let user = app.register_with(&email, &canary).await;
    let login = app
        .post(
            "/api/v1/login",
            &Auth::None,
            json!({"email": email, "password": canary}),
        )
        .await;
    login.results();
    let (admin, _) = admin_of_new_org(&app, "Metrics").await;
    let project = new_project(&app, &admin, "Measured").await;
    app.get("/api/v1/org/projects", &cookie(&admin))
        .await
        .results();
    app.get("/api/v1/connections", &cookie(&admin))
        .await
        .results();
    let path = format!("/api/v1/projects/{project}");
    app.get(&path, &cookie(&admin)).await.results();
    app.send(
        Method::DELETE,
        &format!("/api/v1/org/projects/{project}"),
        &cookie(&admin),
        None,
    )
    .await
    .results();
    app.get(&path, &cookie(&admin)).await.expect_error(404);
    app.send(Method::DELETE, "/api/v1/user/me", &cookie(&user), None)
        .await
        .results();
    for (producer, consumer) in FLOWS {
        let db = if consumer == "projects-svc" {
            &app.projects_db
        } else {
            &app.connections_db
        };
        within(
            Duration::from_secs(20),
            "the deletions are applied",
            || async { cursor(db, producer).await > 0 },
        )
        .await;
    }

    // Only on its own address: the public port answers /metrics as any route nobody serves.
    let unknown = app.get("/no-such-route", &Auth::None).await;
    let public = app.get("/metrics", &Auth::None).await;
    assert_eq!(
        (public.status, &public.body),
        (unknown.status, &unknown.body)
    );
    assert!(!public.text.contains("http_requests_total"));
    // … nor on a service's gRPC port (HTTP/2, as gRPC speaks it).
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let grpc = h2
        .get(format!("http://{}/metrics", app.identity_addr))
        .send()
        .await
        .unwrap();
    assert!(!grpc.text().await.unwrap().contains("http_requests_total"));
    let elsewhere = app
        .http
        .get(format!("http://{}/", app.metrics_addr.unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), 404);

    let (text, scraped) = scrape(&app).await;
    for (family, labels) in FAMILIES {
        let samples = scraped.find(family, &[]);
        assert!(!samples.is_empty(), "no {family} in\n{text}");
        assert!(
            samples
                .iter()
                .any(|s| labels.iter().all(|l| s.labels.contains_key(*l))),
            "{family} without the labels {labels:?}"
        );
    }
    let backend = if app.database.is_some() {
        "postgres"
    } else {
        "sqlite"
    };
    for part in ["identity-svc", "projects-svc", "connections-svc"] {
        let ok = [("part", part), ("grpc_code", "OK")];
        assert!(
            !scraped.find("grpc_server_handled_total", &ok).is_empty(),
            "{part}"
        );
        let pool = [("part", part), ("backend", backend), ("state", "used")];
        assert!(
            !scraped.find("db_pool_connections", &pool).is_empty(),
            "{part}"
        );
    }
    // Routes are templates; what no route matched is one series; statuses are the answers'.
    let listed = [
        ("route", "/api/v1/org/projects"),
        ("method", "GET"),
        ("status", "200"),
    ];
    assert!(!scraped.find("http_requests_total", &listed).is_empty());
    let gone = [
        ("route", "/api/v1/projects/{projectUuid}"),
        ("status", "404"),
    ];
    assert!(!scraped.find("http_requests_total", &gone).is_empty());
    let unmatched = [("route", "unmatched"), ("status", "404")];
    assert!(!scraped.find("http_requests_total", &unmatched).is_empty());
    assert!(
        !scraped
            .find("grpc_server_handled_total", &[("grpc_code", "NOT_FOUND")])
            .is_empty()
    );
    // (Gauges such as the outbox heads are shared by the platforms other tests run in this
    // process, the last sampled wins: only counts are summed, so only they are compared here.)
    for (producer, consumer) in FLOWS {
        let applied = [
            ("producer", producer),
            ("consumer", consumer),
            ("le", "+Inf"),
        ];
        let delays = scraped.find("events_consumer_delay_seconds_bucket", &applied);
        assert!(
            delays.iter().any(|s| s.value >= 1.0),
            "{producer} → {consumer}: {delays:?}"
        );
    }

    // No secret, identifier or raw path: not the password, the session, the project's id.
    for secret in [
        canary.as_str(),
        &user.cookie,
        &admin.cookie,
        &project,
        &email,
    ] {
        assert!(!text.contains(secret), "the exposition shows {secret}");
    }

    // Every metric the dashboard's queries name is exported.
    let dashboard: Value =
        serde_json::from_str(include_str!("../../../../deploy/grafana/platform.json")).unwrap();
    let mut exprs = Vec::new();
    collect_exprs(&dashboard, &mut exprs);
    assert!(exprs.len() >= 10, "{exprs:?}");
    for expr in exprs {
        let names = metric_names(&expr);
        assert!(!names.is_empty(), "no metric in {expr}");
        for name in names {
            assert!(
                scraped.knows(&name),
                "the dashboard asks for {name}, not exported: {expr}"
            );
        }
    }
}

/// Every `expr` string of a Grafana dashboard, wherever it sits.
fn collect_exprs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("expr", Value::String(e)) => out.push(e.clone()),
                    _ => collect_exprs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_exprs(v, out)),
        _ => {}
    }
}
