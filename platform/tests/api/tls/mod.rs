//! Internal gRPC over TLS (issue #20, item 3): the parts started apart with a certificate each
//! and mutual TLS answer a user's requests through the gateway, and refuse a plaintext caller,
//! a caller trusting another CA, a caller without a client certificate and a URL naming another
//! host; the all-in-one stays on plaintext loopback.
//!
//! SQLite only: TLS sits under gRPC, the same whatever a service stores its data in.

mod stack;

use serde_json::json;
use service_kit::grpc::tls::{CaArgs, CertificateArgs, ClientTls};
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

use std::time::Duration;

use crate::helpers::{Backend, spawn_app, within};
use stack::{Pki, TlsStack};

/// The whole chain of causes of a failed call, where rustls names the reason.
fn causes(status: &tonic::Status) -> String {
    let mut text = format!("{status}");
    let mut source = std::error::Error::source(status);
    while let Some(e) = source {
        text.push_str(&format!(": {e}"));
        source = e.source();
    }
    text
}

/// A health check of the server at `url` through `tls`: Ok when it answers.
async fn health(tls: &ClientTls, url: &str) -> Result<(), String> {
    let channel = tls.connect_lazy(url).map_err(|e| e.to_string())?;
    HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .map(|_| ())
        .map_err(|status| causes(&status))
}

fn client(certificate: &CertificateArgs, ca: std::path::PathBuf) -> ClientTls {
    ClientTls::load(certificate, &CaArgs { ca_file: Some(ca) }).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_cross_the_parts_over_mutual_tls() {
    let stack = TlsStack::start().await;
    let http = reqwest::Client::new();
    // gateway -> identity-svc.
    let email = format!("tls-{}@example.com", uuid::Uuid::new_v4().simple());
    let registered = http
        .post(format!("{}/api/v1/user", stack.gateway))
        .json(
            &json!({"email": email, "password": "correct horse battery staple",
            "firstName": "Ada", "lastName": "Lovelace"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        registered.status(),
        200,
        "{}",
        registered.text().await.unwrap()
    );
    let cookie = registered
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next())
        .collect::<Vec<_>>()
        .join("; ");
    let send = |method: reqwest::Method, path: &str| {
        http.request(method, format!("{}{path}", stack.gateway))
            .header("cookie", &cookie)
    };
    let org = send(reqwest::Method::PUT, "/api/v1/org")
        .json(&json!({"name": "Over TLS"}))
        .send()
        .await
        .unwrap();
    assert_eq!(org.status(), 200, "{}", org.text().await.unwrap());
    // gateway -> projects-svc -> identity-svc (the caller's access context).
    let project = send(reqwest::Method::POST, "/api/v1/org/projects")
        .json(&json!({"name": "Encrypted"}))
        .send()
        .await
        .unwrap();
    assert_eq!(project.status(), 201);
    let project: serde_json::Value = project.json().await.unwrap();
    let project_uuid = project["results"]["projectUuid"]
        .as_str()
        .unwrap()
        .to_owned();
    let listed = send(reqwest::Method::GET, "/api/v1/org/projects")
        .send()
        .await
        .unwrap();
    let listed: serde_json::Value = listed.json().await.unwrap();
    assert_eq!(listed["results"][0]["name"], "Encrypted", "{listed}");
    // gateway -> connections-svc -> identity-svc.
    let connections = send(reqwest::Method::GET, "/api/v1/connections")
        .send()
        .await
        .unwrap();
    assert_eq!(connections.status(), 200);

    // The event consumers, over TLS too: a deleted project reaches connections-svc
    // (projects-svc's events), a deleted organization projects-svc and connections-svc
    // (identity-svc's); each consumer's cursor moves only when it applies an event.
    let deleted = send(
        reqwest::Method::DELETE,
        &format!("/api/v1/org/projects/{project_uuid}"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(deleted.status(), 200, "{}", deleted.text().await.unwrap());
    let org: serde_json::Value = send(reqwest::Method::GET, "/api/v1/org")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let org_uuid = org["results"]["organizationUuid"].as_str().unwrap();
    let deleted = send(reqwest::Method::DELETE, &format!("/api/v1/org/{org_uuid}"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200, "{}", deleted.text().await.unwrap());
    let cursor = |source| match source {
        "projects" => {
            "SELECT COALESCE(MAX(sequence), 0) FROM event_cursors WHERE source = 'projects'"
        }
        _ => "SELECT COALESCE(MAX(sequence), 0) FROM event_cursors WHERE source = 'identity'",
    };
    within(Duration::from_secs(30), "events cross over TLS", || async {
        stack.scalar("connections", cursor("projects")).await > 0
            && stack.scalar("connections", cursor("identity")).await > 0
            && stack.scalar("projects", cursor("identity")).await > 0
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_server_refuses_whoever_it_cannot_trust_or_who_cannot_trust_it() {
    let stack = TlsStack::start().await;
    let url = format!("https://{}", stack.identity_addr);
    // The gateway's own certificate and CA: answered (what every refusal below departs from).
    let trusted = client(&stack.gateway_certificate, stack.pki.ca());
    health(&trusted, &url)
        .await
        .expect("a trusted client is answered");

    // Plaintext.
    let plaintext = format!("http://{}", stack.identity_addr);
    let refused = health(&ClientTls::plaintext(), &plaintext).await;
    assert!(refused.is_err(), "a plaintext client is answered");

    // A client trusting another CA, with a valid client certificate of the right one: it
    // refuses the server's certificate.
    let other = Pki::new(&stack.dir().join("other"), "other");
    let wrong_trust = client(&stack.gateway_certificate, other.ca());
    let e = health(&wrong_trust, &url).await.unwrap_err();
    assert!(e.contains("UnknownIssuer"), "{e}");

    // Mutual TLS: no client certificate, or one of another CA. The server ends the handshake
    // (with TLS 1.3 the client sees the connection closed); `trusted` differs only by its
    // certificate.
    let anonymous = client(&CertificateArgs::default(), stack.pki.ca());
    assert!(health(&anonymous, &url).await.is_err());
    let stranger = client(&other.issue("stranger", &["gateway"]), stack.pki.ca());
    assert!(health(&stranger, &url).await.is_err());

    // The server's name is the URL's host: identity-svc's certificate does not name
    // `localhost`.
    let by_name = format!("https://localhost:{}", stack.identity_addr.port());
    let e = health(&trusted, &by_name).await.unwrap_err();
    assert!(e.contains("NotValidForName"), "{e}");

    // The refusals did not stop the server.
    health(&trusted, &url).await.expect("still answering");
}

/// Kubelet's gRPC probes speak no TLS: GRPC_HEALTH_LISTEN_ADDR answers them plaintext, and
/// nothing but health is served there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plaintext_health_server_answers_health_alone() {
    let stack = TlsStack::start().await;
    let url = format!("http://{}", stack.identity_health_addr);
    health(&ClientTls::plaintext(), &url)
        .await
        .expect("plaintext health answers");
    let channel = ClientTls::plaintext().connect_lazy(&url).unwrap();
    let users = proto::identity::v1::identity_service_client::IdentityServiceClient::new(channel)
        .get_jwks(proto::identity::v1::GetJwksRequest {})
        .await
        .unwrap_err();
    assert_eq!(users.code(), tonic::Code::Unimplemented, "{users:?}");
}

/// The plaintext health server starts with the service but says NOT_SERVING until the
/// service serves (`run`): identity-svc still prepares between the two.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_says_serving_only_once_the_service_serves() {
    use tonic_health::pb::health_check_response::ServingStatus;
    let dir = std::env::temp_dir().join(format!("health-{}", uuid::Uuid::new_v4().simple()));
    let loopback: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
    let health_addr = std::net::TcpListener::bind(loopback)
        .and_then(|l| l.local_addr())
        .unwrap();
    let credentials = stack::Credentials::new();
    let mut config = identity_svc::Config::new(
        loopback,
        None,
        dir.clone(),
        credentials.of(service_kit::callers::Caller::IdentitySvc),
        credentials.accepted(&[service_kit::callers::Caller::Gateway]),
    );
    config.tls_server.health_listen_addr = Some(health_addr);
    let shutdown = tokio_util::sync::CancellationToken::new();
    let app = identity_svc::Application::build(config, shutdown.clone())
        .await
        .unwrap();
    let url = format!("http://{health_addr}");
    let status = || async {
        let channel = ClientTls::plaintext().connect_lazy(&url).unwrap();
        HealthClient::new(channel)
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await
            .unwrap()
            .into_inner()
            .status()
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(status().await, ServingStatus::NotServing, "before run");
    tokio::spawn(app.run());
    within(
        Duration::from_secs(10),
        "SERVING once it serves",
        || async { status().await == ServingStatus::Serving },
    )
    .await;
    shutdown.cancel();
    let _ = std::fs::remove_dir_all(dir);
}

/// The all-in-one keeps its gRPC servers on loopback and speaks plaintext there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_all_in_one_talks_plaintext_on_loopback_only() {
    let Some(app) = spawn_app(Backend::Sqlite).await else {
        return;
    };
    assert!(platform::LOOPBACK.ip().is_loopback());
    for addr in [app.identity_addr, app.connections_addr, app.projects_addr] {
        assert!(addr.ip().is_loopback(), "{addr}");
        health(&ClientTls::plaintext(), &format!("http://{addr}"))
            .await
            .expect("plaintext on loopback");
    }
}
