//! OAuth2 against a token server on loopback: a code is exchanged for tokens stored sealed,
//! tokens are refreshed before they expire, a refused refresh marks the connection invalid; the
//! Luzmo face's `update` takes a `code` the same way.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::{CANARY, create, id, patch, test};
use crate::{
    helpers::{Backend, TestApp, TestUser, dual_backend, log_text, spawn_app_with},
    luzmo,
    organizations::{admin_of_new_org, cookie},
};

/// A token endpoint on loopback (RFC 6749 §4.1.3 and §6): code `good-code` and refresh token
/// `refresh-1` are accepted from client `platform` / `client-secret`.
#[derive(Default)]
struct TokenServer {
    grants: Mutex<Vec<String>>,
    /// Refuse every refresh (`invalid_grant`), as after a revocation.
    refuse_refresh: std::sync::atomic::AtomicBool,
}

async fn token_endpoint(
    axum::extract::State(s): axum::extract::State<Arc<TokenServer>>,
    headers: axum::http::HeaderMap,
    body: String,
) -> (axum::http::StatusCode, axum::Json<Value>) {
    use base64::Engine;
    let form: std::collections::HashMap<String, String> = body
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.replace('+', " ")))
        .collect();
    let basic = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .map(|b| String::from_utf8_lossy(&b).into_owned());
    if basic.as_deref() != Some("platform:client-secret") {
        return (
            axum::http::StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": "invalid_client"})),
        );
    }
    let grant = form.get("grant_type").cloned().unwrap_or_default();
    s.grants.lock().unwrap().push(grant.clone());
    let ok = match grant.as_str() {
        "authorization_code" => form.get("code").map(String::as_str) == Some("good-code"),
        "refresh_token" => {
            form.get("refresh_token").map(String::as_str) == Some("refresh-1")
                && !s.refuse_refresh.load(std::sync::atomic::Ordering::SeqCst)
        }
        _ => false,
    };
    if !ok {
        return (
            axum::http::StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "invalid_grant", "error_description": "bad code"})),
        );
    }
    // The first grant expires at once (within the refresh margin), the refreshed one in an hour.
    let expires_in = if grant == "authorization_code" {
        10
    } else {
        3600
    };
    (
        axum::http::StatusCode::OK,
        axum::Json(json!({
            "access_token": format!("{CANARY}-access-{grant}"),
            "token_type": "Bearer",
            "expires_in": expires_in,
            "refresh_token": "refresh-1",
            "scope": "drive.readonly"
        })),
    )
}

/// Starts the token server; returns it and the `CONNECTIONS_OAUTH_PROVIDERS` value naming it.
async fn token_server() -> (Arc<TokenServer>, secrecy::SecretString) {
    let server = Arc::new(TokenServer::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = axum::Router::new()
        .route("/token", axum::routing::post(token_endpoint))
        .with_state(server.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let providers = json!({"googledrive": {
        "tokenUrl": format!("http://{addr}/token"),
        "clientId": "platform",
        "clientSecret": "client-secret",
        "redirectUri": "https://app.example.com/oauth/callback"
    }});
    (server, secrecy::SecretString::from(providers.to_string()))
}

/// Polls a connection until `done` holds (at most 20 s; the sweep runs every second).
async fn eventually(
    app: &TestApp,
    user: &TestUser,
    id: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let c = app
            .get(&format!("/api/v1/connections/{id}"), &cookie(user))
            .await
            .results()
            .clone();
        if done(&c) {
            return c;
        }
        assert!(std::time::Instant::now() < deadline, "never happened: {c}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// connections-svc refreshes tokens before they expire without anyone asking; a refused
/// refresh marks the connection invalid.
async fn oauth_tokens_are_refreshed_before_they_expire(backend: Backend) {
    let (server, providers) = token_server().await;
    let Some(app) = spawn_app_with(backend, |c| {
        c.connections.connections_oauth_providers = Some(providers);
        c.connections.connections_oauth_refresh_interval_seconds = 1;
    })
    .await
    else {
        return;
    };
    let (admin, _) = admin_of_new_org(&app, "Sweep").await;
    let a = create(
        &app,
        &admin,
        json!({"provider": "googledrive", "name": "A"}),
    )
    .await;
    patch(&app, &admin, &id(&a), json!({"code": "good-code"}))
        .await
        .results();
    let later = chrono::Utc::now() + chrono::Duration::minutes(50);
    let c = eventually(&app, &admin, &id(&a), |c| {
        c["expiry"]
            .as_str()
            .and_then(|e| e.parse::<chrono::DateTime<chrono::Utc>>().ok())
            .is_some_and(|e| e > later)
    })
    .await;
    assert_eq!(c["invalid"], false);
    assert!(
        server
            .grants
            .lock()
            .unwrap()
            .contains(&"refresh_token".to_owned())
    );

    server
        .refuse_refresh
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let b = create(
        &app,
        &admin,
        json!({"provider": "googledrive", "name": "B"}),
    )
    .await;
    patch(&app, &admin, &id(&b), json!({"code": "good-code"}))
        .await
        .results();
    eventually(&app, &admin, &id(&b), |c| c["invalid"] == true).await;
    // The refreshed connection is left alone (its token is fresh).
    let a = app
        .get(&format!("/api/v1/connections/{}", id(&a)), &cookie(&admin))
        .await;
    assert_eq!(a.results()["invalid"], false);
    assert!(!log_text().contains(CANARY), "a token reached a log line");
}

/// `code` is exchanged at the provider's token endpoint; the tokens are stored sealed with
/// their expiry, and an expired token is refreshed by a test.
async fn oauth_codes_are_exchanged_and_tokens_refreshed(backend: Backend) {
    let (server, providers) = token_server().await;
    let Some(app) = spawn_app_with(backend, |c| {
        c.connections.connections_oauth_providers = Some(providers);
        // Far apart: this test triggers the refresh itself.
        c.connections.connections_oauth_refresh_interval_seconds = 3600;
    })
    .await
    else {
        return;
    };
    let (admin, _) = admin_of_new_org(&app, "OAuth").await;
    let c = create(
        &app,
        &admin,
        json!({"provider": "googledrive", "name": "Drive"}),
    )
    .await;
    let cid = id(&c);
    // No token yet: the test says how to get one.
    assert_eq!(test(&app, &admin, &cid).await["result"], "failed");

    // A refused code changes nothing.
    patch(&app, &admin, &cid, json!({"code": "bad-code"}))
        .await
        .expect_error(400);
    let unchanged = app
        .get(&format!("/api/v1/connections/{cid}"), &cookie(&admin))
        .await;
    assert_eq!(unchanged.results()["secretFields"], json!([]));

    let before = chrono::Utc::now();
    let u = patch(&app, &admin, &cid, json!({"code": "good-code"})).await;
    let u = u.results().clone();
    assert_eq!(u["secretFields"], json!(["access_token", "refresh_token"]));
    assert_eq!(u["scope"], "drive.readonly");
    let expiry: chrono::DateTime<chrono::Utc> = u["expiry"].as_str().unwrap().parse().unwrap();
    assert!(expiry > before && expiry < before + chrono::Duration::seconds(60));
    assert_eq!(
        *server.grants.lock().unwrap(),
        vec!["authorization_code", "authorization_code"]
    );

    // The token expires within the margin: a test refreshes it.
    let t = test(&app, &admin, &cid).await;
    assert_eq!(t["result"], "connected", "{t}");
    let expiry: chrono::DateTime<chrono::Utc> =
        t["connection"]["expiry"].as_str().unwrap().parse().unwrap();
    assert!(expiry > chrono::Utc::now() + chrono::Duration::minutes(50));
    assert_eq!(
        server.grants.lock().unwrap().last().unwrap(),
        "refresh_token"
    );
    // Fresh now: the next test does not call the provider.
    let calls = server.grants.lock().unwrap().len();
    assert_eq!(test(&app, &admin, &cid).await["result"], "connected");
    assert_eq!(server.grants.lock().unwrap().len(), calls);

    // A provider without configuration cannot take a code.
    let other = create(&app, &admin, json!({"provider": "salesforce", "name": "S"})).await;
    patch(&app, &admin, &id(&other), json!({"code": "good-code"}))
        .await
        .expect_error(400);
    assert!(!log_text().contains(CANARY), "a token reached a log line");
    assert!(!log_text().contains("client-secret"));
}

/// The Luzmo face's `update` with `properties.code` exchanges it as the REST face does: a
/// refused code is a 400 in the face's shape and changes nothing; a good one stores the tokens
/// sealed (never answered) with their scope and expiry.
async fn luzmo_update_exchanges_a_code(backend: Backend) {
    let (server, providers) = token_server().await;
    let Some(app) = spawn_app_with(backend, |c| {
        c.connections.connections_oauth_providers = Some(providers);
        c.connections.connections_oauth_refresh_interval_seconds = 3600;
    })
    .await
    else {
        return;
    };
    let (admin, _) = admin_of_new_org(&app, "Luzmo OAuth").await;
    let key = luzmo::Key::of(&app, &admin).await;
    let body =
        json!({"action": "create", "properties": {"provider": "googledrive", "name": "Drive"}});
    let r = luzmo::call(&app, "POST", &key, body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let cid = r.body["id"].as_str().unwrap().to_owned();
    let update = |code: &str| json!({"action": "update", "id": cid, "properties": {"code": code}});

    let r = luzmo::call(&app, "PATCH", &key, update("bad-code")).await;
    luzmo::refused(&r, 400);
    let rest = format!("/api/v1/connections/{cid}");
    let unchanged = app.get(&rest, &cookie(&admin)).await;
    assert_eq!(unchanged.results()["secretFields"], json!([]));

    let before = chrono::Utc::now();
    let r = luzmo::call(&app, "PATCH", &key, update("good-code")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(!r.text.contains(CANARY), "a token came back: {}", r.text);
    assert_eq!(r.body["scope"], "drive.readonly");
    let expiry: chrono::DateTime<chrono::Utc> = r.body["expiry"].as_str().unwrap().parse().unwrap();
    assert!(expiry > before && expiry < before + chrono::Duration::seconds(60));
    assert_eq!(
        *server.grants.lock().unwrap(),
        vec!["authorization_code", "authorization_code"]
    );
    let stored = app.get(&rest, &cookie(&admin)).await;
    assert_eq!(
        stored.results()["secretFields"],
        json!(["access_token", "refresh_token"])
    );
    // The refresh token is live: a test refreshes the expiring access token with it.
    assert_eq!(test(&app, &admin, &cid).await["result"], "connected");
    assert_eq!(
        server.grants.lock().unwrap().last().unwrap(),
        "refresh_token"
    );
    assert!(!log_text().contains(CANARY), "a token reached a log line");
}

dual_backend!(
    oauth_codes_are_exchanged_and_tokens_refreshed,
    oauth_tokens_are_refreshed_before_they_expire,
    luzmo_update_exchanges_a_code,
);
