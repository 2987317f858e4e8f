//! Health, reflection and graceful shutdown of every part.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::Duration,
};

use serde_json::json;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

use crate::helpers::{Auth, TestApp, dual};

/// A channel to the server at `addr` over TCP, and its health.
async fn health_over_tcp(addr: std::net::SocketAddr) -> (tonic::transport::Channel, ServingStatus) {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let status = HealthClient::new(channel.clone())
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap_or_else(|e| panic!("{addr}: health check failed: {e}"))
        .into_inner()
        .status();
    (channel, status)
}

async fn every_service_answers_health_and_reflection(app: TestApp) {
    for (name, addr) in [
        ("identity", app.identity_addr),
        ("connections", app.connections_addr),
        ("projects", app.projects_addr),
    ] {
        let (channel, status) = health_over_tcp(addr).await;
        assert_eq!(status, ServingStatus::Serving, "{name}");

        use tonic_reflection::pb::v1::{
            ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
            server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
        };
        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut stream = ServerReflectionClient::new(channel)
            .server_reflection_info(tokio_stream::once(request))
            .await
            .unwrap()
            .into_inner();
        let reply = stream.message().await.unwrap().unwrap();
        let Some(MessageResponse::ListServicesResponse(list)) = reply.message_response else {
            panic!("{name}: unexpected reflection reply")
        };
        let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
        assert!(
            names.contains(&"grpc.health.v1.Health".to_owned()),
            "{name}: {names:?}"
        );
        if name == "identity" {
            assert!(
                names.contains(&"identity.v1.IdentityService".to_owned()),
                "{names:?}"
            );
        }
    }
    let ready = app
        .http
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
}

/// Cancelling the shutdown token (what SIGTERM does) lets a request in flight finish.
async fn in_flight_requests_finish_on_shutdown(app: TestApp) {
    let user = app.register().await;
    let url = format!("{}/api/v1/login", app.base);
    let body = json!({"email": user.email, "password": user.password});
    let in_flight = tokio::spawn(app.http.post(url).json(&body).send());
    tokio::time::sleep(Duration::from_millis(15)).await;
    app.shutdown.cancel();
    let res = in_flight
        .await
        .unwrap()
        .expect("the in-flight login is answered");
    assert_eq!(res.status(), 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = app.http.get(format!("{}/livez", app.base)).send().await;
    assert!(
        after.is_err(),
        "the gateway no longer accepts connections after shutdown"
    );
    let _ = Auth::None;
}

/// Established TCP connections (IPv4) to `addr`'s port on 127.0.0.1, from /proc/net/tcp.
fn connections_to(addr: std::net::SocketAddr) -> usize {
    let table = std::fs::read_to_string("/proc/net/tcp").expect("Linux /proc/net/tcp");
    let remote = format!("0100007F:{:04X}", addr.port());
    table
        .lines()
        .skip(1)
        .filter(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            // remote address and state 01 (ESTABLISHED)
            cols.get(2) == Some(&remote.as_str()) && cols.get(3) == Some(&"01")
        })
        .count()
}

/// The all-in-one's parts call each other in place (issue #21): a user's requests through the
/// gateway, which reach identity-svc, projects-svc and connections-svc, open no connection to
/// their loopback ports, which still answer callers from outside.
async fn the_parts_call_each_other_in_place(app: TestApp) {
    let (user, _) = crate::organizations::admin_of_new_org(&app, "In place").await;
    for path in [
        "/api/v1/user",
        "/api/v1/org/projects",
        "/api/v1/user/warehouseCredentials",
    ] {
        let reply = app.get(path, &Auth::Cookie(user.cookie.clone())).await;
        assert!(reply.status.is_success(), "{path}: {}", reply.status);
    }
    for (name, addr) in [
        ("identity-svc", app.identity_addr),
        ("projects-svc", app.projects_addr),
        ("connections-svc", app.connections_addr),
    ] {
        assert_eq!(connections_to(addr), 0, "{name}: no connection to {addr}");
    }
    // The same server over the network, as a separate gateway would reach it.
    let (_channel, status) = health_over_tcp(app.identity_addr).await;
    assert_eq!(status, ServingStatus::Serving);
    assert!(
        connections_to(app.identity_addr) >= 1,
        "this test's own connection is seen"
    );
}

dual!(
    every_service_answers_health_and_reflection,
    in_flight_requests_finish_on_shutdown,
    the_parts_call_each_other_in_place
);

/// The real binary: starts on an empty data directory, answers, and exits 0 on SIGTERM while a
/// request is in flight, which still gets its answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_stops_gracefully_on_sigterm() {
    let dir = std::env::temp_dir().join(format!("platform-bin-{}", uuid::Uuid::new_v4().simple()));
    let mut child = Command::new(env!("CARGO_BIN_EXE_platform"))
        .env("PLATFORM_LISTEN_ADDR", "127.0.0.1:0")
        .env("METRICS_LISTEN_ADDR", "127.0.0.1:0")
        .env("DATA_DIR", &dir)
        .env_remove("DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let base = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the platform logs its start");
        let v: serde_json::Value = serde_json::from_str(&line).expect("log lines are JSON");
        if v["message"] == "platform started" {
            break v["url"].as_str().unwrap().to_owned();
        }
    };
    let http = reqwest::Client::new();
    let email = "sigterm@example.com";
    let reg = http
        .post(format!("{base}/api/v1/user"))
        .json(&json!({"email": email, "password": "long enough pw", "firstName": "A", "lastName": "B"}))
        .send()
        .await
        .unwrap();
    assert_eq!(reg.status(), 200);
    let in_flight = tokio::spawn(
        http.post(format!("{base}/api/v1/login"))
            .json(&json!({"email": email, "password": "long enough pw"}))
            .send(),
    );
    tokio::time::sleep(Duration::from_millis(15)).await;
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let res = in_flight
        .await
        .unwrap()
        .expect("the in-flight request is answered");
    assert_eq!(res.status(), 200);
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "exit status {status:?}");
    let stopped = std::iter::from_fn(|| rx.recv_timeout(Duration::from_secs(5)).ok())
        .any(|l| l.contains("gateway stopped"));
    assert!(stopped, "the gateway logs its stop");
    let _ = std::fs::remove_dir_all(dir);
}

/// In PostgreSQL a service runs as its own role, granted only its own schema (which exists, and
/// which the role owns): it starts and migrates without any privilege on the database, and
/// cannot read another service's schema.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_runs_as_its_own_role_confined_to_its_schema() {
    let admin_url = std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let Ok(admin) = sqlx::PgPool::connect(&admin_url).await else {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "PostgreSQL is required under CI=true"
        );
        eprintln!("\n!!! SKIPPING a PostgreSQL test: no PostgreSQL at {admin_url} !!!\n");
        return;
    };
    let id = &uuid::Uuid::new_v4().simple().to_string()[..12];
    let (role, schema, other) = (
        format!("r{id}"),
        format!("s{id}_identity"),
        format!("s{id}_other"),
    );
    for sql in [
        format!("CREATE ROLE {role} LOGIN"),
        format!("CREATE SCHEMA {schema} AUTHORIZATION {role}"),
        format!("CREATE SCHEMA {other}"),
        format!("CREATE TABLE {other}.secrets (v text)"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&admin)
            .await
            .unwrap();
    }
    let mut url = reqwest::Url::parse(&admin_url).unwrap();
    url.set_username(&role).unwrap();
    url.set_password(None).unwrap();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let mut config = identity_svc::Config::new(
        "127.0.0.1:0".parse().unwrap(),
        Some(secrecy::SecretString::from(url.to_string())),
        std::env::temp_dir(),
        secrecy::SecretString::from("c".repeat(32)),
        service_kit::callers::AcceptedCallers::of(&[(
            service_kit::callers::Caller::Gateway,
            &service_kit::grpc::InternalCredential::generate(),
        )])
        .to_setting(),
    );
    config.database_schema = schema.clone();
    config.settings.identity_keys = Some(secrecy::SecretString::from(
        service_kit::envelope::Keyring::generate_spec(1),
    ));
    let started = identity_svc::Application::build(config, shutdown.clone()).await;
    let as_role = sqlx::PgPool::connect(url.as_str()).await.unwrap();
    let foreign = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT v FROM {other}.secrets"
    )))
    .fetch_all(&as_role)
    .await;
    let tables: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pg_tables WHERE schemaname = $1")
        .bind(&schema)
        .fetch_one(&admin)
        .await
        .unwrap();
    as_role.close().await;
    shutdown.cancel();
    let start_error = started.as_ref().err().map(|e| format!("{e:#}"));
    drop(started);
    for sql in [
        format!("DROP SCHEMA {schema} CASCADE"),
        format!("DROP SCHEMA {other} CASCADE"),
        format!("DROP ROLE {role}"),
    ] {
        let _ = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&admin).await;
    }
    assert_eq!(
        start_error, None,
        "the service did not start as its own role"
    );
    assert!(
        tables >= 4,
        "the migrations ran in the service's schema ({tables} tables)"
    );
    assert!(foreign.is_err(), "the service's role read another schema");
}
