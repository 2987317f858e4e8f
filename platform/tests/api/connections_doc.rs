//! The `/api/v1/connections` operations of the generated OpenAPI document (`docs/openapi.json`):
//! every one is exercised through the gateway with each documented status the platform can be
//! made to answer, every answer validated against the document (`contract::check`); the gateway
//! serves their part of the document at `GET /api/v1/openapi/connections.json`. No answer and no
//! log line carries a secret value sent.

use reqwest::Method;
use serde_json::{Value, json};

use crate::{
    contract::{PLATFORM, assert_covered},
    helpers::{Auth, Reply, TestApp, dual, log_text},
    organizations::{admin_of_new_org, cookie, invite_and_join},
};

/// The connections operations' part of the document.
const PREFIX: &str = "/api/v1/connections";

/// The statuses every operation may answer that no test can provoke on demand: a body that
/// arrives too slowly (408, `slow_clients`), a fault, a service down or too slow; and one an
/// application of its own provokes (the test limit, configured low in
/// `throttling::au_6_connection_tests_are_limited_per_user`).
const UNPROVOKED: [&str; 5] = [
    "408",
    "500",
    "503",
    "504",
    "POST /api/v1/connections/{connectionUuid}/test 429",
];

/// Secret values unique to this run: none may come back.
struct Secrets(Vec<String>);

impl Secrets {
    fn new() -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        Self(
            [
                "password",
                "keyfile_contents",
                "personal_access_token",
                "private_key",
                "private_key_pass",
                "client_secret",
                "token",
            ]
            .iter()
            .map(|f| format!("{f}-{id}"))
            .collect(),
        )
    }

    /// `secrets` with every allowed field.
    fn body(&self) -> Value {
        let mut m = serde_json::Map::new();
        for v in &self.0 {
            let (field, _) = v.rsplit_once('-').unwrap();
            m.insert(field.to_owned(), json!(v));
        }
        Value::Object(m)
    }

    /// Panics when `text` holds one of the values.
    fn assert_absent(&self, what: &str, text: &str) {
        for v in &self.0 {
            assert!(!text.contains(v.as_str()), "{what} holds a secret: {text}");
        }
    }
}

async fn every_operation_of_the_document_is_exercised(app: TestApp) {
    let (admin, org) = admin_of_new_org(&app, "Connections document").await;
    let a = cookie(&admin);
    let member = cookie(&invite_and_join(&app, &admin, "member").await);
    let (stranger, _) = admin_of_new_org(&app, "Another organization").await;
    let stranger = cookie(&stranger);
    let loner = cookie(&app.register().await);
    let nobody = Auth::None;
    let secrets = Secrets::new();
    let mut replies: Vec<Reply> = Vec::new();
    let missing = uuid::Uuid::new_v4();
    let gone = format!("/api/v1/connections/{missing}");
    let bad = "/api/v1/connections/not-a-uuid";

    // Create: every field, the seed's name for one of them, a numeric port, every secret.
    let create = json!({
        "provider": "googledrive",
        "name": "Drive of the team",
        "description": {"en": "Shared drive", "pt-BR": "Drive compartilhado"},
        "host": "www.googleapis.com",
        "port": 443,
        "identifier": "team@example.com",
        "scope": "drive.readonly",
        "expiry": "2030-01-01T00:00:00Z",
        "active": false,
        "cache": 3600,
        "datasets_meta_sync_enabled": false,
        "datasetsMetaSyncInterval": 24,
        "date": "2024-01-13T13:42:05.736Z",
        "options": {"folder": "reports"},
        "secrets": secrets.body(),
    });
    let r = app.post("/api/v1/connections", &a, create.clone()).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let c = r.results().clone();
    replies.push(r);
    let id = c["connectionUuid"].as_str().unwrap().to_owned();
    let one = format!("/api/v1/connections/{id}");
    assert_eq!(c["organizationUuid"], org.as_str());
    assert_eq!(c["ownerUserUuid"], admin.user_uuid.as_str());
    for field in [
        "provider",
        "name",
        "description",
        "host",
        "identifier",
        "scope",
    ] {
        assert_eq!(c[field], create[field], "{field}");
    }
    assert_eq!(c["port"], "443");
    assert_eq!(c["expiry"], "2030-01-01T00:00:00.000Z");
    assert_eq!(c["active"], false);
    assert_eq!(c["invalid"], false);
    assert_eq!(c["cache"], 3600);
    assert_eq!(c["datasetsMetaSyncEnabled"], false);
    assert_eq!(c["datasetsMetaSyncInterval"], 24);
    assert_eq!(c["date"], "2024-01-13T13:42:05.736Z");
    assert_eq!(c["options"], create["options"]);
    assert_eq!(c["lastTestedAt"], Value::Null);
    let mut fields: Vec<&str> = c["secretFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    fields.sort_unstable();
    let mut sent: Vec<&str> = create["secrets"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    sent.sort_unstable();
    assert_eq!(fields, sent);

    // Create: errors.
    let mut refused = create.clone();
    refused["invalid"] = json!(true);
    let r = app.post("/api/v1/connections", &a, refused).await;
    r.expect_error(400);
    replies.push(r);
    let r = app
        .post(
            "/api/v1/connections",
            &a,
            json!({"provider": "googledrive", "name": "x", "secrets": {"api_key": secrets.0[0]}}),
        )
        .await;
    r.expect_error(400);
    replies.push(r);
    let r = app
        .post("/api/v1/connections", &nobody, create.clone())
        .await;
    r.expect_error(401);
    replies.push(r);
    let r = app
        .post("/api/v1/connections", &member, create.clone())
        .await;
    r.expect_error(403);
    replies.push(r);
    let r = app.post("/api/v1/connections", &a, huge()).await;
    r.expect_error(413);
    replies.push(r);
    let r = not_json(&app, Method::POST, "/api/v1/connections", &a).await;
    r.expect_error(415);
    replies.push(r);

    // List and get: any member; another organization sees nothing.
    for (path, auth) in [
        ("/api/v1/connections", &a),
        ("/api/v1/connections?provider=GoogleDrive", &member),
    ] {
        let r = app.get(path, auth).await;
        let ids: Vec<&Value> = r
            .results()
            .as_array()
            .unwrap()
            .iter()
            .map(|c| &c["connectionUuid"])
            .collect();
        assert_eq!(ids, [&json!(id)], "{path}");
        replies.push(r);
    }
    for (path, auth) in [
        ("/api/v1/connections?provider=postgresql", &a),
        ("/api/v1/connections", &stranger),
    ] {
        let r = app.get(path, auth).await;
        assert_eq!(r.results(), &json!([]), "{path}");
        replies.push(r);
    }
    for (path, auth, status) in [
        ("/api/v1/connections?page=1", &a, 400),
        ("/api/v1/connections", &nobody, 401),
        ("/api/v1/connections", &loner, 403),
    ] {
        let r = app.get(path, auth).await;
        r.expect_error(status);
        replies.push(r);
    }
    let r = app.get(&one, &member).await;
    assert_eq!(r.results(), &c);
    replies.push(r);
    for (path, auth, status) in [
        (bad, &a, 400),
        (one.as_str(), &nobody, 401),
        (one.as_str(), &loner, 403),
        (gone.as_str(), &a, 404),
        (one.as_str(), &stranger, 404),
    ] {
        let r = app.get(path, auth).await;
        r.expect_error(status);
        replies.push(r);
    }

    // Update: `expiry: null` clears; the seed's name again; omitted secrets are kept.
    let patch = json!({"name": "Renamed", "expiry": null, "datasets_meta_sync_interval": 48, "active": true});
    let r = app.send(Method::PATCH, &one, &a, Some(patch.clone())).await;
    let u = r.results().clone();
    replies.push(r);
    assert_eq!(u["name"], "Renamed");
    assert_eq!(u["expiry"], Value::Null);
    assert_eq!(u["datasetsMetaSyncInterval"], 48);
    assert_eq!(u["active"], true);
    assert_eq!(u["secretFields"].as_array().unwrap().len(), sent.len());
    assert_eq!(u["createdAt"], c["createdAt"]);
    for (path, auth, body, status) in [
        (one.as_str(), &a, json!({"invalid": false}), 400),
        (one.as_str(), &nobody, patch.clone(), 401),
        (one.as_str(), &member, patch.clone(), 403),
        (gone.as_str(), &a, patch.clone(), 404),
        (one.as_str(), &stranger, patch.clone(), 404),
        (one.as_str(), &a, huge(), 413),
    ] {
        let r = app.send(Method::PATCH, path, auth, Some(body)).await;
        r.expect_error(status);
        replies.push(r);
    }
    let r = not_json(&app, Method::PATCH, &one, &a).await;
    r.expect_error(415);
    replies.push(r);

    // Test: a Google Drive connection cannot be tested here (no OAuth2 configuration): nothing
    // is recorded, and nothing is contacted.
    let test = format!("{one}/test");
    let r = app.send(Method::POST, &test, &a, None).await;
    let t = r.results().clone();
    replies.push(r);
    assert_eq!(t["result"], "unsupported", "{t}");
    assert!(t["message"].is_string());
    assert_eq!(t["connection"]["connectionUuid"], json!(id));
    assert_eq!(t["connection"]["lastTestedAt"], Value::Null);
    for (path, auth, status) in [
        (format!("{bad}/test"), &a, 400),
        (test.clone(), &nobody, 401),
        (test.clone(), &member, 403),
        (format!("{gone}/test"), &a, 404),
        (test.clone(), &stranger, 404),
    ] {
        let r = app.send(Method::POST, &path, auth, None).await;
        r.expect_error(status);
        replies.push(r);
    }

    // Delete: errors first, then the owner deletes it; it is gone.
    for (path, auth, status) in [
        (bad, &a, 400),
        (one.as_str(), &nobody, 401),
        (one.as_str(), &member, 403),
        (gone.as_str(), &a, 404),
        (one.as_str(), &stranger, 404),
    ] {
        let r = app.send(Method::DELETE, path, auth, None).await;
        r.expect_error(status);
        replies.push(r);
    }
    let r = app.send(Method::DELETE, &one, &a, None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, json!({"status": "ok"}));
    replies.push(r);
    let r = app.get(&one, &a).await;
    r.expect_error(404);
    replies.push(r);

    for r in &replies {
        secrets.assert_absent("an answer", &r.text);
    }
    secrets.assert_absent("the logs", &log_text());
    assert_covered(&PLATFORM, PREFIX, &UNPROVOKED);
}

/// `method path` with a body that is not sent as JSON (415).
async fn not_json(app: &TestApp, method: Method, path: &str, auth: &Auth) -> Reply {
    let req = app
        .http
        .request(method.clone(), format!("{}{path}", app.base))
        .header("content-type", "text/plain")
        .body(r#"{"name": "x"}"#);
    app.finish(method, path, auth.apply(req)).await
}

/// A body over the default limit (1 MiB).
fn huge() -> Value {
    json!({"provider": "googledrive", "name": "x".repeat(1_100_000)})
}

/// `GET /api/v1/openapi/connections.json`: the connections operations of the generated
/// document, with every component they refer to, JSON, without authentication.
async fn the_gateway_serves_the_document(app: TestApp) {
    let res = app
        .http
        .get(format!("{}/api/v1/openapi/connections.json", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/json");
    let doc: Value = res.json().await.unwrap();
    let whole = &PLATFORM.doc;
    assert_eq!(doc["openapi"], whole["openapi"]);
    let paths = doc["paths"].as_object().unwrap();
    let expected: Vec<&String> = whole["paths"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|p| *p == PREFIX || p.starts_with(&format!("{PREFIX}/")))
        .collect();
    assert_eq!(paths.keys().collect::<Vec<_>>(), expected);
    for (path, item) in paths {
        assert_eq!(item, &whole["paths"][path], "{path}");
    }
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for (name, schema) in schemas {
        assert_eq!(schema, &whole["components"]["schemas"][name], "{name}");
    }
    // Every reference resolves within the document.
    let text = doc.to_string();
    for part in text.split("\"#/components/schemas/").skip(1) {
        let name = part.split('"').next().unwrap();
        assert!(
            schemas.contains_key(name),
            "{name} is referred to but absent"
        );
    }
    for name in ["Connection", "CreateConnection", "UpdateConnection"] {
        assert!(schemas.contains_key(name), "{name}");
    }
    assert_eq!(
        doc["components"]["securitySchemes"],
        whole["components"]["securitySchemes"]
    );
    assert_eq!(doc["tags"][0]["name"], "Connections");
}

dual!(
    every_operation_of_the_document_is_exercised,
    the_gateway_serves_the_document
);
