//! Connections through the gateway: our `/api/v1/connections` (every field of the Luzmo seed),
//! Lightdash's personal warehouse credentials and per-project preference, a project's warehouse
//! connection; secrets are write-only (CR-7, CR-8: canaries in every response and log line);
//! real connection tests against the machine's PostgreSQL and MariaDB and the SSRF policy
//! (AP-8); OAuth2 code exchange and refresh against a token server on loopback; the isolation
//! matrix between roles and organizations (AC-1, AC-2, AC-8).

use std::sync::{Arc, Mutex};

use reqwest::Method;
use serde_json::{Value, json};

use crate::{
    helpers::{Auth, Backend, TestApp, TestUser, dual, dual_backend, log_text, spawn_app_with},
    organizations::{admin_of_new_org, cookie, invite_and_join},
    projects::new_project,
};

const CANARY: &str = "canary-secret-5b1f0c9e";

async fn create(app: &TestApp, user: &TestUser, body: Value) -> Value {
    let r = app.post("/api/v1/connections", &cookie(user), body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.results().clone()
}

async fn patch(app: &TestApp, user: &TestUser, id: &str, body: Value) -> crate::helpers::Reply {
    app.send(
        Method::PATCH,
        &format!("/api/v1/connections/{id}"),
        &cookie(user),
        Some(body),
    )
    .await
}

async fn test(app: &TestApp, user: &TestUser, id: &str) -> Value {
    let r = app
        .post(
            &format!("/api/v1/connections/{id}/test"),
            &cookie(user),
            json!({}),
        )
        .await;
    r.results().clone()
}

fn id(v: &Value) -> String {
    v["connectionUuid"].as_str().unwrap().to_owned()
}

/// Every field of the seed, defaults, changes, validation and deletion.
async fn connections_are_created_read_changed_and_deleted(app: TestApp) {
    let (admin, org) = admin_of_new_org(&app, "Conn").await;
    let c = create(
        &app,
        &admin,
        json!({
            "provider": "postgresql",
            "name": " Demo database connection ",
            "description": {"en": "New Connection description", "fr": "Nouvelle connexion"},
            "host": "new.exampledb.com",
            "port": 5432,
            "identifier": "demo-user",
            "scope": "demo",
            "expiry": "2030-01-13T13:42:05.736Z",
            "active": true,
            "cache": 60,
            "datasets_meta_sync_enabled": false,
            "datasetsMetaSyncInterval": 6,
            "date": "2024-01-13T13:42:05.736Z",
            "options": {"database": "analytics", "schema": "public"},
            "secrets": {"password": CANARY}
        }),
    )
    .await;
    let cid = id(&c);
    assert_eq!(c["organizationUuid"], org);
    assert_eq!(c["ownerUserUuid"], admin.user_uuid);
    assert_eq!(c["provider"], "postgresql");
    assert_eq!(c["name"], "Demo database connection");
    assert_eq!(c["description"]["fr"], "Nouvelle connexion");
    assert_eq!(c["port"], "5432");
    assert_eq!(c["identifier"], "demo-user");
    assert_eq!(c["scope"], "demo");
    assert_eq!(c["expiry"], "2030-01-13T13:42:05.736Z");
    assert_eq!(c["date"], "2024-01-13T13:42:05.736Z");
    assert_eq!(c["active"], true);
    assert_eq!(c["invalid"], false);
    assert_eq!(c["cache"], 60);
    assert_eq!(c["datasetsMetaSyncEnabled"], false);
    assert_eq!(c["datasetsMetaSyncInterval"], 6);
    assert_eq!(c["options"]["database"], "analytics");
    assert_eq!(c["secretFields"], json!(["password"]));
    assert!(c["lastTestedAt"].is_null());

    // Defaults of the seed: active, not invalid, cache 0, sync on every hour, linked now.
    let d = create(
        &app,
        &admin,
        json!({"provider": "googledrive", "name": "Drive"}),
    )
    .await;
    assert_eq!(d["active"], true);
    assert_eq!(d["cache"], 0);
    assert_eq!(d["datasetsMetaSyncEnabled"], true);
    assert_eq!(d["datasetsMetaSyncInterval"], 1);
    assert!(d["date"].is_string());
    assert!(d["expiry"].is_null());
    assert_eq!(d["secretFields"], json!([]));

    let list = app.get("/api/v1/connections", &cookie(&admin)).await;
    assert_eq!(list.results().as_array().unwrap().len(), 2);
    let only = app
        .get("/api/v1/connections?provider=googledrive", &cookie(&admin))
        .await;
    assert_eq!(only.results().as_array().unwrap().len(), 1);
    assert_eq!(only.results()[0]["name"], "Drive");

    // An update that omits the secret keeps it; `expiry: null` clears the expiry.
    let u = patch(
        &app,
        &admin,
        &cid,
        json!({"name": "Renamed", "expiry": null, "active": false, "description": {"en": "x"}}),
    )
    .await;
    let u = u.results();
    assert_eq!(u["name"], "Renamed");
    assert!(u["expiry"].is_null());
    assert_eq!(u["active"], false);
    assert_eq!(u["description"], json!({"en": "x"}));
    assert_eq!(u["host"], "new.exampledb.com");
    assert_eq!(u["secretFields"], json!(["password"]));

    // Pointing stored credentials elsewhere requires sending them again (CR-7, ours).
    patch(&app, &admin, &cid, json!({"host": "attacker.example.com"}))
        .await
        .expect_error(400);
    let moved = patch(
        &app,
        &admin,
        &cid,
        json!({"host": "other.example.com", "secrets": {"password": CANARY}}),
    )
    .await;
    assert_eq!(moved.results()["host"], "other.example.com");
    // Sending some other secret does not carry the stored password along to the new host: what
    // is not sent again is dropped (CR-7).
    let sneaky = patch(
        &app,
        &admin,
        &cid,
        json!({"host": "evil.example.com", "secrets": {"token": "t"}}),
    )
    .await;
    assert_eq!(sneaky.results()["secretFields"], json!(["token"]));
    patch(
        &app,
        &admin,
        &cid,
        json!({"host": "other.example.com", "secrets": {"password": CANARY}}),
    )
    .await
    .results();

    for bad in [
        json!({"name": "x"}),
        json!({"provider": "postgresql"}),
        json!({"provider": "Not A Slug!", "name": "x"}),
        json!({"provider": "p", "name": " "}),
        json!({"provider": "p", "name": "x".repeat(256)}),
        json!({"provider": "p", "name": "x", "port": "0"}),
        json!({"provider": "p", "name": "x", "port": "70000"}),
        json!({"provider": "p", "name": "x", "port": "54a"}),
        json!({"provider": "p", "name": "x", "cache": -1}),
        json!({"provider": "p", "name": "x", "cache": 40_000_000}),
        json!({"provider": "p", "name": "x", "datasetsMetaSyncInterval": 0}),
        json!({"provider": "p", "name": "x", "description": {"english": "x"}}),
        json!({"provider": "p", "name": "x", "options": {"password": "x"}}),
        json!({"provider": "p", "name": "x", "options": {"bad key": "x"}}),
        json!({"provider": "p", "name": "x", "options": {"sslmode": "disable"}}),
        json!({"provider": "p", "name": "x", "options": {"sslmode": "verify-full"}}),
        json!({"provider": "p", "name": "x", "secrets": {"pin": "1"}}),
        json!({"provider": "p", "name": "x", "secrets": {"access_token": "t"}}),
        json!({"provider": "p", "name": "x", "secrets": {"password": ""}}),
        json!({"provider": "p", "name": "x", "secrets": {"password": "x".repeat(70_000)}}),
        json!({"provider": "p", "name": "x", "expiry": "tomorrow"}),
        json!({"provider": "p", "name": "x", "invalid": true}),
        json!({"provider": "p", "name": "x", "code": "abc"}),
        json!({"provider": "p", "name": "x", "owner": "me"}),
        json!(["not", "an", "object"]),
    ] {
        app.post("/api/v1/connections", &cookie(&admin), bad.clone())
            .await
            .expect_error(400);
    }
    patch(&app, &admin, &cid, json!({"invalid": false}))
        .await
        .expect_error(400);
    patch(&app, &admin, &cid, json!({"code": "abc"}))
        .await
        .expect_error(400);
    app.get("/api/v1/connections/not-a-uuid", &cookie(&admin))
        .await
        .expect_error(400);

    let path = format!("/api/v1/connections/{cid}");
    let r = app.send(Method::DELETE, &path, &cookie(&admin), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    app.get(&path, &cookie(&admin)).await.expect_error(404);
    app.send(Method::DELETE, &path, &cookie(&admin), None)
        .await
        .expect_error(404);
}

/// A canary secret never comes back: not in create, get, list, update, test or error
/// responses, nor in any log line (CR-7, CR-8).
async fn secrets_never_leave_the_service(app: TestApp) {
    let (admin, _) = admin_of_new_org(&app, "Canary").await;
    let mut bodies: Vec<String> = Vec::new();
    let auth = cookie(&admin);
    let c = app
        .post(
            "/api/v1/connections",
            &auth,
            json!({"provider": "postgresql", "name": "c", "host": "169.254.169.254", "secrets": {"password": CANARY, "token": format!("{CANARY}-token")}}),
        )
        .await;
    bodies.push(c.body.to_string());
    let cid = id(c.results());
    let path = format!("/api/v1/connections/{cid}");
    bodies.push(app.get(&path, &auth).await.body.to_string());
    bodies.push(app.get("/api/v1/connections", &auth).await.body.to_string());
    bodies.push(
        patch(
            &app,
            &admin,
            &cid,
            json!({"secrets": {"password": format!("{CANARY}-2")}}),
        )
        .await
        .body
        .to_string(),
    );
    // Errors about secrets name the field, never the value.
    for bad in [
        json!({"secrets": CANARY}),
        json!({"secrets": {"password": [CANARY]}}),
        json!({"secrets": {"password": CANARY, "pin": CANARY}}),
        json!({"code": [CANARY]}),
        json!({"host": "x", "cache": CANARY}),
        json!({"host": "x", "cache": format!("{CANARY}\"{CANARY}\\{CANARY}")}),
        json!({"host": "x", "active": format!("\"{CANARY}")}),
    ] {
        let r = patch(&app, &admin, &cid, bad).await;
        assert_eq!(r.status, 400, "{}", r.body);
        bodies.push(r.body.to_string());
    }
    let r = app
        .post(
            "/api/v1/user/warehouseCredentials",
            &auth,
            json!({"name": "w", "credentials": {"type": "postgres", "user": "u", "password": 7, "extra": CANARY}}),
        )
        .await;
    assert_eq!(r.status, 400);
    bodies.push(r.body.to_string());
    for creds in [
        json!({"type": "postgres", "user": "u", "password": CANARY}),
        json!({"type": "bigquery", "keyfileContents": {"private_key": CANARY}}),
        json!({"type": "databricks", "personalAccessToken": CANARY}),
    ] {
        let r = app
            .post(
                "/api/v1/user/warehouseCredentials",
                &auth,
                json!({"name": "w", "credentials": creds}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        bodies.push(r.body.to_string());
    }
    bodies.push(
        app.get("/api/v1/user/warehouseCredentials", &auth)
            .await
            .body
            .to_string(),
    );
    // A test that fails (the address is refused by the default policy) says why, not the secret.
    bodies.push(test(&app, &admin, &cid).await.to_string());
    for b in &bodies {
        assert!(!b.contains(CANARY), "a response carried the secret: {b}");
    }
    assert!(
        !log_text().contains(CANARY),
        "a log line carried the secret"
    );
}

/// Creates beyond the configured limits answer 400; deleting one makes room (API4).
async fn connection_counts_are_limited(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |c| {
        c.connections.connections_max_per_organization = 2;
        c.connections.connections_max_personal_per_user = 1;
    })
    .await
    else {
        return;
    };
    let (admin, _) = admin_of_new_org(&app, "Limits").await;
    let first = create(&app, &admin, json!({"provider": "p", "name": "1"})).await;
    create(&app, &admin, json!({"provider": "p", "name": "2"})).await;
    app.post(
        "/api/v1/connections",
        &cookie(&admin),
        json!({"provider": "p", "name": "3"}),
    )
    .await
    .expect_error(400);
    let creds = "/api/v1/user/warehouseCredentials";
    let body =
        json!({"name": "w", "credentials": {"type": "postgres", "user": "u", "password": "p"}});
    app.post(creds, &cookie(&admin), body.clone())
        .await
        .results();
    app.post(creds, &cookie(&admin), body.clone())
        .await
        .expect_error(400);
    // Personal credentials of another user count apart.
    let other = invite_and_join(&app, &admin, "viewer").await;
    app.post(creds, &cookie(&other), body).await.results();
    app.send(
        Method::DELETE,
        &format!("/api/v1/connections/{}", id(&first)),
        &cookie(&admin),
        None,
    )
    .await
    .results();
    create(&app, &admin, json!({"provider": "p", "name": "3"})).await;
}

// --- real connection tests -----------------------------------------------------------------

const MARIADB_USER: &str = "platform_e2e";
const MARIADB_PASSWORD: &str = "e2e-Password-3c9d";

/// Creates the MariaDB user the tests connect as; false (after a loud message) when there is no
/// MariaDB, which CI=true does not accept.
async fn mariadb_user() -> bool {
    let url = std::env::var("TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".to_owned());
    let connect = sqlx::mysql::MySqlPoolOptions::new()
        .max_connections(1)
        .connect(&url);
    let pool = match tokio::time::timeout(std::time::Duration::from_secs(5), connect).await {
        Ok(Ok(p)) => p,
        _ => {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("MariaDB is not reachable at {url}, and CI=true requires its tests");
            }
            eprintln!(
                "\n!!! SKIPPING a MariaDB test: no MariaDB at {url} (set TEST_MYSQL_URL) !!!\n"
            );
            return false;
        }
    };
    for host in ["%", "localhost"] {
        for sql in [
            format!(
                "CREATE USER IF NOT EXISTS '{MARIADB_USER}'@'{host}' IDENTIFIED BY '{MARIADB_PASSWORD}'"
            ),
            format!("ALTER USER '{MARIADB_USER}'@'{host}' IDENTIFIED BY '{MARIADB_PASSWORD}'"),
            format!("GRANT SELECT ON test.* TO '{MARIADB_USER}'@'{host}'"),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&pool)
                .await
                .unwrap();
        }
    }
    pool.close().await;
    true
}

/// Tests connect for real (PostgreSQL and MariaDB on this machine, loopback allowed by
/// configuration); an authentication failure sets `invalid`, a later success clears it; an
/// update that omits the password keeps the stored one.
async fn connection_tests_really_connect(backend: Backend) {
    if !mariadb_user().await {
        return;
    }
    let Some(app) = spawn_app_with(backend, |c| {
        c.connections.connections_test_allow_loopback = true
    })
    .await
    else {
        return;
    };
    let (admin, _) = admin_of_new_org(&app, "Probe").await;
    let maria = create(
        &app,
        &admin,
        json!({"provider": "mariadb", "name": "m", "host": "127.0.0.1", "port": "3306",
               "identifier": MARIADB_USER, "options": {"database": "test"},
               "secrets": {"password": MARIADB_PASSWORD}}),
    )
    .await;
    let mid = id(&maria);
    let t = test(&app, &admin, &mid).await;
    assert_eq!(t["result"], "connected", "{t}");
    assert_eq!(t["connection"]["invalid"], false);
    assert!(t["connection"]["lastTestedAt"].is_string());

    // The stored password survives an update that does not send it.
    patch(&app, &admin, &mid, json!({"name": "renamed"}))
        .await
        .results();
    assert_eq!(test(&app, &admin, &mid).await["result"], "connected");

    // A wrong password: authentication fails, the connection becomes invalid.
    patch(
        &app,
        &admin,
        &mid,
        json!({"secrets": {"password": "wrong-password"}}),
    )
    .await
    .results();
    let t = test(&app, &admin, &mid).await;
    assert_eq!(t["result"], "authentication_failed", "{t}");
    assert_eq!(t["connection"]["invalid"], true);
    assert!(!t.to_string().contains("wrong-password"));
    let got = app
        .get(&format!("/api/v1/connections/{mid}"), &cookie(&admin))
        .await;
    assert_eq!(got.results()["invalid"], true);

    // The right password again: a success clears `invalid`.
    patch(
        &app,
        &admin,
        &mid,
        json!({"secrets": {"password": MARIADB_PASSWORD}}),
    )
    .await
    .results();
    let t = test(&app, &admin, &mid).await;
    assert_eq!(t["result"], "connected", "{t}");
    assert_eq!(t["connection"]["invalid"], false);

    // PostgreSQL (trust authentication here: a role that does not exist is what fails).
    let pg = create(
        &app,
        &admin,
        json!({"provider": "postgresql", "name": "p", "host": "127.0.0.1", "port": 5432,
               "identifier": "postgres", "options": {"database": "test"},
               "secrets": {"password": "unused"}}),
    )
    .await;
    let t = test(&app, &admin, &id(&pg)).await;
    assert_eq!(t["result"], "connected", "{t}");
    let nobody = create(
        &app,
        &admin,
        json!({"provider": "postgres", "name": "n", "host": "127.0.0.1", "port": 5432,
               "identifier": "no_such_role_e2e", "options": {"database": "test"},
               "secrets": {"password": "unused"}}),
    )
    .await;
    let t = test(&app, &admin, &id(&nobody)).await;
    assert_eq!(t["result"], "authentication_failed", "{t}");
    assert_eq!(t["connection"]["invalid"], true);

    // TLS as the connection asks (`sslmode`): this PostgreSQL offers TLS with a self-signed
    // certificate, this MariaDB none. A TLS failure is not an authentication failure.
    let tls = |host_db: &str, provider: &str, user: &str, mode: &str| {
        json!({"provider": provider, "name": mode, "host": "127.0.0.1", "port": host_db,
               "identifier": user, "options": {"database": "test", "sslmode": mode},
               "secrets": {"password": MARIADB_PASSWORD}})
    };
    let required = create(&app, &admin, tls("5432", "postgres", "postgres", "require")).await;
    assert_eq!(
        test(&app, &admin, &id(&required)).await["result"],
        "connected"
    );
    let verified = create(
        &app,
        &admin,
        tls("5432", "postgres", "postgres", "verify-ca"),
    )
    .await;
    let t = test(&app, &admin, &id(&verified)).await;
    assert_eq!(t["result"], "failed", "{t}");
    assert_eq!(t["connection"]["invalid"], false);
    let no_tls = create(
        &app,
        &admin,
        tls("3306", "mariadb", MARIADB_USER, "require"),
    )
    .await;
    let t = test(&app, &admin, &id(&no_tls)).await;
    assert_eq!(t["result"], "failed", "{t}");
    assert!(!t.to_string().contains(MARIADB_PASSWORD));

    // A provider that cannot be tested says so and changes nothing.
    let drive = create(
        &app,
        &admin,
        json!({"provider": "googledrive", "name": "d"}),
    )
    .await;
    let t = test(&app, &admin, &id(&drive)).await;
    assert_eq!(t["result"], "unsupported");
    assert!(t["connection"]["lastTestedAt"].is_null());
}

/// With the default policy, tests refuse loopback, link-local/metadata and cluster names before
/// connecting, and leave `invalid` alone (AP-8).
async fn connection_tests_refuse_internal_addresses(app: TestApp) {
    let (admin, _) = admin_of_new_org(&app, "Ssrf").await;
    for host in [
        "127.0.0.1",
        "localhost",
        "::1",
        "169.254.169.254",
        "kubernetes.default.svc",
        "metadata.google.internal",
        "10.0.0.5",
    ] {
        let c = create(
            &app,
            &admin,
            json!({"provider": "postgresql", "name": "s", "host": host, "port": 5432,
                   "identifier": "postgres", "secrets": {"password": "p"}}),
        )
        .await;
        let t = test(&app, &admin, &id(&c)).await;
        assert_eq!(t["result"], "refused", "{host}: {t}");
        assert_eq!(t["connection"]["invalid"], false, "{host}");
    }
}

// --- OAuth2 ---------------------------------------------------------------------------------

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

// --- isolation ------------------------------------------------------------------------------

/// Every connection route as the owner, an organization admin, other roles of the same
/// organization, an admin of another organization and no one (AC-1, AC-2, AC-8).
async fn connection_role_matrix_and_isolation(app: TestApp) {
    let (admin, _) = admin_of_new_org(&app, "Matrix").await;
    let (outsider, _) = admin_of_new_org(&app, "Elsewhere").await;
    let owner = invite_and_join(&app, &admin, "developer").await;
    let mut people = vec![
        ("owner (developer)", cookie(&owner)),
        ("org admin", cookie(&admin)),
    ];
    for role in ["developer", "editor", "viewer", "member"] {
        let u = invite_and_join(&app, &admin, role).await;
        people.push((role, cookie(&u)));
    }
    people.push(("other organization", cookie(&outsider)));
    people.push(("no one", Auth::None));

    type Row = (&'static str, [u16; 8]);
    let rows: Vec<Row> = vec![
        ("create", [201, 201, 201, 403, 403, 403, 201, 401]),
        ("get", [200, 200, 200, 200, 200, 200, 404, 401]),
        ("list-contains", [1, 1, 1, 1, 1, 1, 0, 401]),
        ("update", [200, 200, 403, 403, 403, 403, 404, 401]),
        ("test", [200, 200, 403, 403, 403, 403, 404, 401]),
        ("delete", [200, 200, 403, 403, 403, 403, 404, 401]),
    ];
    for (op, expected) in rows {
        for ((who, auth), want) in people.iter().zip(expected) {
            let c = create(
                &app,
                &owner,
                json!({"provider": "googledrive", "name": "M", "secrets": {"token": CANARY}}),
            )
            .await;
            let path = format!("/api/v1/connections/{}", id(&c));
            let reply = match op {
                "create" => {
                    app.post(
                        "/api/v1/connections",
                        auth,
                        json!({"provider": "x", "name": "n"}),
                    )
                    .await
                }
                "get" => app.get(&path, auth).await,
                "list-contains" => app.get("/api/v1/connections", auth).await,
                "update" => {
                    app.send(Method::PATCH, &path, auth, Some(json!({"name": "changed"})))
                        .await
                }
                "test" => app.post(&format!("{path}/test"), auth, json!({})).await,
                "delete" => app.send(Method::DELETE, &path, auth, None).await,
                _ => unreachable!(),
            };
            let got = if op == "list-contains" && reply.status == 200 {
                let ids: Vec<&str> = reply
                    .results()
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c["connectionUuid"].as_str().unwrap())
                    .collect();
                u16::from(ids.contains(&path.rsplit('/').next().unwrap()))
            } else {
                reply.status.as_u16()
            };
            assert_eq!(got, want, "{op} as {who}: {}", reply.body);
            assert!(!reply.body.to_string().contains(CANARY));
            // A refused change changed nothing.
            if matches!(op, "update" | "delete") && want != 200 {
                let after = app.get(&path, &cookie(&owner)).await;
                assert_eq!(after.results()["name"], "M", "{op} as {who}");
            }
        }
    }

    // An owner demoted below developer no longer manages the connection they made (AC-6);
    // an admin still does.
    let c = create(
        &app,
        &owner,
        json!({"provider": "googledrive", "name": "Mine"}),
    )
    .await;
    let path = format!("/api/v1/connections/{}", id(&c));
    app.send(
        Method::PATCH,
        &format!("/api/v1/org/users/{}", owner.user_uuid),
        &cookie(&admin),
        Some(json!({"role": "viewer"})),
    )
    .await
    .results();
    app.send(
        Method::PATCH,
        &path,
        &cookie(&owner),
        Some(json!({"name": "x"})),
    )
    .await
    .expect_error(403);
    app.send(Method::DELETE, &path, &cookie(&owner), None)
        .await
        .expect_error(403);
    app.get(&path, &cookie(&owner)).await.results();
    app.send(
        Method::PATCH,
        &path,
        &cookie(&admin),
        Some(json!({"name": "y"})),
    )
    .await
    .results();

    // Personal credentials are their owner's alone: not even an admin of the same organization
    // sees them, and the shared routes do not reach them.
    let mine = app
        .post(
            "/api/v1/user/warehouseCredentials",
            &cookie(&owner),
            json!({"name": "mine", "credentials": {"type": "postgres", "user": "u", "password": CANARY}}),
        )
        .await;
    let mine = mine.results()["uuid"].as_str().unwrap().to_owned();
    for (who, auth) in &people[1..] {
        let path = format!("/api/v1/user/warehouseCredentials/{mine}");
        let body =
            json!({"name": "x", "credentials": {"type": "postgres", "user": "u", "password": "p"}});
        let r = app.send(Method::PATCH, &path, auth, Some(body)).await;
        assert!(
            matches!(r.status.as_u16(), 404 | 401),
            "patch as {who}: {}",
            r.body
        );
        let r = app.send(Method::DELETE, &path, auth, None).await;
        assert!(
            matches!(r.status.as_u16(), 404 | 401),
            "delete as {who}: {}",
            r.body
        );
        if !matches!(auth, Auth::None) {
            let list = app.get("/api/v1/user/warehouseCredentials", auth).await;
            assert!(!list.body.to_string().contains(&mine), "{who} lists it");
        }
    }
    let shared_path = format!("/api/v1/connections/{mine}");
    app.get(&shared_path, &cookie(&owner))
        .await
        .expect_error(404);
    app.get(&shared_path, &cookie(&admin))
        .await
        .expect_error(404);
    let still = app
        .get("/api/v1/user/warehouseCredentials", &cookie(&owner))
        .await;
    assert_eq!(still.results()[0]["name"], "mine");
}

// --- Lightdash: warehouse credentials, preference, project connection ----------------------

/// Every credential type of the contract: created, listed, changed and deleted with the exact
/// shapes (the contract checks each response); bad bodies answer 400.
async fn warehouse_credentials_follow_the_contract(app: TestApp) {
    let (user, _) = admin_of_new_org(&app, "Wh").await;
    let auth = cookie(&user);
    let bodies = [
        json!({"type": "postgres", "user": "pg_user", "password": "p"}),
        json!({"type": "redshift", "user": "rs_user", "password": "p"}),
        json!({"type": "snowflake", "user": "sf_user", "password": "p"}),
        json!({"type": "snowflake", "user": "sf_keypair"}),
        json!({"type": "trino", "user": "tr_user", "password": "p"}),
        json!({"type": "bigquery", "keyfileContents": {"type": "service_account", "private_key": "k"}}),
        json!({"type": "databricks", "personalAccessToken": "dapi123"}),
    ];
    let mut ids = Vec::new();
    for (i, creds) in bodies.iter().enumerate() {
        let r = app
            .post(
                "/api/v1/user/warehouseCredentials",
                &auth,
                json!({"name": format!("c{i}"), "credentials": creds}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let v = r.results();
        assert_eq!(v["userUuid"], user.user_uuid);
        assert_eq!(v["credentials"]["type"], creds["type"]);
        match creds.get("user") {
            Some(u) => assert_eq!(v["credentials"]["user"], *u),
            None => assert!(v["credentials"].get("user").is_none()),
        }
        assert_eq!(
            v["credentials"].as_object().unwrap().len(),
            1 + usize::from(creds.get("user").is_some())
        );
        ids.push(v["uuid"].as_str().unwrap().to_owned());
    }
    let list = app.get("/api/v1/user/warehouseCredentials", &auth).await;
    assert_eq!(list.results().as_array().unwrap().len(), bodies.len());
    // Personal credentials are not shared connections.
    let shared = app.get("/api/v1/connections", &auth).await;
    assert_eq!(shared.results().as_array().unwrap().len(), 0);

    let path = format!("/api/v1/user/warehouseCredentials/{}", ids[0]);
    let r = app
        .send(
            Method::PATCH,
            &path,
            &auth,
            Some(json!({"name": "renamed", "credentials": {"type": "postgres", "user": "pg_user", "password": "p2"}})),
        )
        .await;
    assert_eq!(r.results()["name"], "renamed");
    // Snowflake may keep its stored password when the user stays.
    let sf = format!("/api/v1/user/warehouseCredentials/{}", ids[2]);
    let r = app
        .send(
            Method::PATCH,
            &sf,
            &auth,
            Some(json!({"name": "sf", "credentials": {"type": "snowflake", "user": "sf_user"}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // ... but a new user without the password is refused (credentials follow their user).
    app.send(
        Method::PATCH,
        &sf,
        &auth,
        Some(json!({"name": "sf", "credentials": {"type": "snowflake", "user": "someone_else"}})),
    )
    .await
    .expect_error(400);

    for bad in [
        json!({"credentials": {"type": "postgres", "user": "u", "password": "p"}}),
        json!({"name": "x"}),
        json!({"name": "x", "credentials": {"type": "excel"}}),
        json!({"name": "x", "credentials": {"type": "postgres", "password": "p"}}),
        json!({"name": "x", "credentials": {"type": "postgres", "user": "u"}}),
        json!({"name": "x", "credentials": {"type": "postgres", "user": "u", "password": "p", "host": "h"}}),
        json!({"name": "x", "credentials": {"type": "bigquery", "keyfileContents": "text"}}),
        json!({"name": "x", "credentials": {"type": "databricks"}}),
        json!({"name": "", "credentials": {"type": "databricks", "personalAccessToken": "t"}}),
        json!({"name": "x", "credentials": {"type": "trino", "user": "u", "password": "p"}, "extra": 1}),
    ] {
        app.post("/api/v1/user/warehouseCredentials", &auth, bad)
            .await
            .expect_error(400);
    }
    for id in &ids {
        let r = app
            .send(
                Method::DELETE,
                &format!("/api/v1/user/warehouseCredentials/{id}"),
                &auth,
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    app.send(Method::DELETE, &path, &auth, None)
        .await
        .expect_error(404);
    let list = app.get("/api/v1/user/warehouseCredentials", &auth).await;
    assert_eq!(list.results(), &json!([]));
}

/// The credentials a user uses in a project: the chosen ones, else the newest of the project's
/// warehouse type; only one's own, of the right type, in a project one can see.
async fn credentials_preference_per_project(app: TestApp) {
    let (admin, _) = admin_of_new_org(&app, "Pref").await;
    let (outsider, _) = admin_of_new_org(&app, "Other").await;
    let auth = cookie(&admin);
    let project = new_project(&app, &admin, "P").await;
    let pref = format!("/api/v1/projects/{project}/user-credentials");
    let none = app.get(&pref, &auth).await;
    assert_eq!(none.status, 200);
    assert!(none.body.get("results").is_none(), "{}", none.body);

    let mut made = Vec::new();
    for (name, t) in [
        ("old", "postgres"),
        ("new", "postgres"),
        ("sf", "snowflake"),
    ] {
        let r = app
            .post(
                "/api/v1/user/warehouseCredentials",
                &auth,
                json!({"name": name, "credentials": {"type": t, "user": "u", "password": "p"}}),
            )
            .await;
        made.push(r.results()["uuid"].as_str().unwrap().to_owned());
    }
    assert_eq!(app.get(&pref, &auth).await.results()["name"], "new");
    let r = app
        .send(Method::PATCH, &format!("{pref}/{}", made[0]), &auth, None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(app.get(&pref, &auth).await.results()["name"], "old");
    // Wrong warehouse type.
    app.send(Method::PATCH, &format!("{pref}/{}", made[2]), &auth, None)
        .await
        .expect_error(400);
    // Someone else's credentials, or a project of another organization.
    let theirs = app
        .post(
            "/api/v1/user/warehouseCredentials",
            &cookie(&outsider),
            json!({"name": "x", "credentials": {"type": "postgres", "user": "u", "password": "p"}}),
        )
        .await;
    let theirs = theirs.results()["uuid"].as_str().unwrap().to_owned();
    app.send(Method::PATCH, &format!("{pref}/{theirs}"), &auth, None)
        .await
        .expect_error(404);
    app.get(&pref, &cookie(&outsider)).await.expect_error(404);
    app.send(
        Method::PATCH,
        &format!("{pref}/{theirs}"),
        &cookie(&outsider),
        None,
    )
    .await
    .expect_error(404);
    // Deleting the chosen credentials falls back to the newest.
    app.send(
        Method::DELETE,
        &format!("/api/v1/user/warehouseCredentials/{}", made[0]),
        &auth,
        None,
    )
    .await
    .results();
    assert_eq!(app.get(&pref, &auth).await.results()["name"], "new");
}

/// A project made on a shared connection shows its non-sensitive fields as
/// `warehouseConnection`; the connection must be a warehouse of the caller's organization.
async fn a_project_shows_its_warehouse_connection(app: TestApp) {
    let (admin, _) = admin_of_new_org(&app, "Proj").await;
    let (outsider, _) = admin_of_new_org(&app, "Other").await;
    let auth = cookie(&admin);
    let c = create(
        &app,
        &admin,
        json!({"provider": "postgresql", "name": "wh", "host": "db.example.com", "port": "6543",
               "identifier": "analyst", "options": {"dbname": "analytics", "schema": "mart", "sslmode": "require"},
               "secrets": {"password": CANARY}}),
    )
    .await;
    let r = app
        .post(
            "/api/v1/org/projects",
            &auth,
            json!({"name": "On wh", "warehouseConnectionUuid": id(&c)}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.results()["warehouseType"], "postgres");
    let project = r.results()["projectUuid"].as_str().unwrap().to_owned();
    let p = app.get(&format!("/api/v1/projects/{project}"), &auth).await;
    let w = &p.results()["warehouseConnection"];
    assert_eq!(
        *w,
        json!({"type": "postgres", "host": "db.example.com", "port": 6543, "dbname": "analytics",
               "schema": "mart", "sslmode": "require"})
    );
    assert!(!p.body.to_string().contains(CANARY));
    assert!(
        !p.body.to_string().contains("analyst"),
        "the user is sensitive in Lightdash"
    );

    let personal = app
        .post(
            "/api/v1/user/warehouseCredentials",
            &auth,
            json!({"name": "mine", "credentials": {"type": "postgres", "user": "u", "password": "p"}}),
        )
        .await;
    let personal = personal.results()["uuid"].as_str().unwrap().to_owned();
    let foreign = create(
        &app,
        &outsider,
        json!({"provider": "postgresql", "name": "theirs"}),
    )
    .await;
    let drive = create(
        &app,
        &admin,
        json!({"provider": "googledrive", "name": "d"}),
    )
    .await;
    for bad in [
        json!({"name": "x", "warehouseConnectionUuid": personal}),
        json!({"name": "x", "warehouseConnectionUuid": id(&foreign)}),
        json!({"name": "x", "warehouseConnectionUuid": id(&drive)}),
        json!({"name": "x", "warehouseConnectionUuid": id(&c), "warehouseType": "snowflake"}),
    ] {
        app.post("/api/v1/org/projects", &auth, bad)
            .await
            .expect_error(400);
    }
    // Once the connection is deleted, the project no longer shows it.
    app.send(
        Method::DELETE,
        &format!("/api/v1/connections/{}", id(&c)),
        &auth,
        None,
    )
    .await
    .results();
    let p = app.get(&format!("/api/v1/projects/{project}"), &auth).await;
    assert!(p.results().get("warehouseConnection").is_none());
}

dual!(
    connections_are_created_read_changed_and_deleted,
    secrets_never_leave_the_service,
    connection_tests_refuse_internal_addresses,
    connection_role_matrix_and_isolation,
    warehouse_credentials_follow_the_contract,
    credentials_preference_per_project,
    a_project_shows_its_warehouse_connection,
);
dual_backend!(
    connection_counts_are_limited,
    connection_tests_really_connect,
    oauth_codes_are_exchanged_and_tokens_refreshed,
    oauth_tokens_are_refreshed_before_they_expire,
);
