//! The connector face of seed 001 (`/v0`, docs/sumvin.md): the catalog and the caller's
//! connectors with every route, HAL links and both time formats (here); one connection seen
//! from every face (`faces.rs`); bad input of every field (`input.rs`); authentication and who
//! reaches what (`matrix.rs`); the canary secret (`secrets.rs`).

mod faces;
mod input;
mod matrix;
mod secrets;

use reqwest::Method;
use serde_json::{Value, json};

use crate::{
    helpers::{Reply, TestApp, TestUser, dual},
    organizations::admin_of_new_org,
    swift::sorted_keys,
};

const CANARY: &str = "canary-sumvin-3e9d51a7";

/// A request's credential headers.
pub(crate) type Creds = Vec<(&'static str, String)>;

/// `x-sumvin-pat: <pat>`.
pub(crate) fn pat(token: &str) -> Creds {
    vec![("x-sumvin-pat", token.to_owned())]
}

/// `x-juno-jwt: <jwt>`.
pub(crate) fn jwt(token: &str) -> Creds {
    vec![("x-juno-jwt", token.to_owned())]
}

/// A fresh personal access token of `user`.
pub(crate) async fn pat_of(app: &TestApp, user: &TestUser) -> String {
    app.create_pat(user, json!({"description": "sumvin"}))
        .await
        .1
}

/// A request to the face with `headers` and an optional JSON body.
pub(crate) async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    headers: &[(&'static str, String)],
    body: Option<Value>,
) -> Reply {
    let mut req = app
        .http
        .request(method.clone(), format!("{}{path}", app.base));
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    app.finish(method, path, req).await
}

/// Asserts a success with `status` and HAL links (each with `href` and `method`).
pub(crate) fn ok(r: &Reply, status: u16) -> &Value {
    assert_eq!(r.status.as_u16(), status, "{}", r.body);
    let links = r.body["_links"]
        .as_object()
        .unwrap_or_else(|| panic!("no _links: {}", r.body));
    assert!(!links.is_empty(), "{}", r.body);
    for (rel, l) in links {
        assert!(
            l["href"].as_str().is_some_and(|h| h.starts_with("/v0/")),
            "{rel}: {l}"
        );
        assert!(l["method"].is_string(), "{rel}: {l}");
    }
    &r.body
}

/// Asserts an RFC 7807 problem with `status` and `code`; returns its detail.
pub(crate) fn problem(r: &Reply, status: u16, code: &str) -> String {
    assert_eq!(r.status.as_u16(), status, "{}", r.body);
    assert_eq!(
        r.headers["content-type"], "application/problem+json",
        "{}",
        r.body
    );
    assert_eq!(
        sorted_keys(&r.body),
        [
            "detail",
            "error_code",
            "instance",
            "status",
            "title",
            "trace_id",
            "type"
        ],
        "{}",
        r.body
    );
    assert_eq!(r.body["error_code"], code, "{}", r.body);
    assert_eq!(r.body["status"], status);
    assert_eq!(r.body["type"], format!("/v0/errors/{code}"));
    assert!(r.body["instance"].as_str().unwrap().starts_with("/v0/"));
    let request_id = r.headers["x-request-id"].to_str().unwrap();
    assert_eq!(r.body["trace_id"], request_id, "{}", r.body);
    r.body["detail"].as_str().unwrap().to_owned()
}

/// Asserts FastAPI's 422; returns each failure as "loc.joined:type".
pub(crate) fn invalid(r: &Reply) -> Vec<String> {
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(sorted_keys(&r.body), ["detail"], "{}", r.body);
    r.body["detail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            assert_eq!(sorted_keys(d), ["loc", "msg", "type"], "{d}");
            let loc: Vec<String> = d["loc"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_str().unwrap().to_owned())
                .collect();
            format!("{}:{}", loc.join("."), d["type"].as_str().unwrap())
        })
        .collect()
}

/// `POST /v0/user/connectors/` with `body`.
pub(crate) async fn post(app: &TestApp, creds: &Creds, body: Value) -> Reply {
    call(app, Method::POST, "/v0/user/connectors/", creds, Some(body)).await
}

/// `GET /v0/user/connectors/<id>`.
pub(crate) async fn read(app: &TestApp, creds: &Creds, id: &str) -> Reply {
    let path = format!("/v0/user/connectors/{id}");
    call(app, Method::GET, &path, creds, None).await
}

/// `PATCH <path>` with `{"is_active": active}`; returns the answer's `user_connector`.
pub(crate) async fn set_active(app: &TestApp, creds: &Creds, path: &str, active: bool) -> Value {
    let body = json!({ "is_active": active });
    let r = call(app, Method::PATCH, path, creds, Some(body)).await;
    let uc = ok(&r, 200)["user_connector"].clone();
    assert_eq!(uc["is_active"], active, "{uc}");
    uc
}

/// Creates a postgres user connector; returns the answer's `user_connector`.
pub(crate) async fn create(app: &TestApp, creds: &Creds, password: &str) -> Value {
    let body = json!({"connector_id": 1, "auth_data": {"user": "ada", "password": password}});
    let r = post(app, creds, body).await;
    ok(&r, 201)["user_connector"].clone()
}

/// The ids of the caller's user connectors.
pub(crate) async fn listed(app: &TestApp, creds: &Creds) -> Vec<String> {
    let r = call(app, Method::GET, "/v0/user/connectors/", creds, None).await;
    ok(&r, 200)["user_connectors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn the_catalog_is_connections_svc_providers(app: TestApp) {
    let (admin, _) = admin_of_new_org(&app, "Catalog").await;
    let token = pat_of(&app, &admin).await;
    let access = app.access_token(&token).await;
    for creds in [pat(&token), jwt(&access)] {
        for path in ["/v0/connectors/", "/v0/connectors"] {
            let r = call(&app, Method::GET, path, &creds, None).await;
            let body = ok(&r, 200);
            assert_eq!(body["_links"]["self"]["href"], "/v0/connectors/");
            let connectors = body["connectors"].as_array().unwrap();
            let ids: Vec<i64> = connectors
                .iter()
                .map(|c| c["id"].as_i64().unwrap())
                .collect();
            assert_eq!(ids, [1, 2, 3, 4, 5, 6]);
            for c in connectors {
                assert_eq!(
                    sorted_keys(c),
                    [
                        "_links",
                        "auth_fields",
                        "auth_type",
                        "description",
                        "icon_url",
                        "id",
                        "name"
                    ]
                );
                assert_eq!(c["_links"]["connect"]["method"], "POST");
                assert!(!c["auth_fields"].as_array().unwrap().is_empty());
            }
        }
    }
    let r = call(&app, Method::GET, "/v0/connectors/5", &pat(&token), None).await;
    let bq = &ok(&r, 200)["connector"];
    assert_eq!(bq["name"], "Google BigQuery");
    assert_eq!(bq["auth_type"], "service_account");
    assert_eq!(
        bq["auth_fields"],
        json!([{"name": "keyfile_contents", "description": "The service account's JSON key file, as an object", "required": true, "secret": true, "type": "object"}])
    );
    let r = call(&app, Method::GET, "/v0/connectors/1", &pat(&token), None).await;
    let fields = &ok(&r, 200)["connector"]["auth_fields"];
    assert_eq!(fields[0]["name"], "user");
    assert_eq!(fields[0]["secret"], false);
    assert_eq!(fields[1]["name"], "password");
    assert_eq!(fields[1]["secret"], true);

    for missing in ["0", "7", "-1", "99999999999"] {
        let r = call(
            &app,
            Method::GET,
            &format!("/v0/connectors/{missing}"),
            &pat(&token),
            None,
        )
        .await;
        problem(&r, 404, "CON-404-002");
    }
    let r = call(&app, Method::GET, "/v0/connectors/abc", &pat(&token), None).await;
    assert_eq!(invalid(&r), ["path.connector_id:int_parsing"]);
    let r = call(&app, Method::GET, "/v0/nothing/here", &pat(&token), None).await;
    problem(&r, 404, "CON-404-003");
    let r = call(&app, Method::DELETE, "/v0/connectors/", &pat(&token), None).await;
    problem(&r, 405, "CON-405-001");
    // Every problem's type says what its code means.
    let r = call(&app, Method::GET, "/v0/errors/CON-404-001", &[], None).await;
    assert_eq!(ok(&r, 200)["status"], 404);
    let r = call(&app, Method::GET, "/v0/errors/CON-999-001", &[], None).await;
    problem(&r, 404, "CON-404-004");
}

async fn user_connectors_are_created_read_changed_and_deleted(app: TestApp) {
    let (admin, _) = admin_of_new_org(&app, "Mine").await;
    let creds = pat(&pat_of(&app, &admin).await);
    assert!(listed(&app, &creds).await.is_empty());

    let before = chrono::Utc::now().timestamp_millis();
    let body = json!({"connector_id": 1, "auth_data": {"user": "ada", "password": CANARY}});
    let r = post(&app, &creds, body).await;
    let created = ok(&r, 201);
    let uc = &created["user_connector"];
    let id = uc["id"].as_str().unwrap().to_owned();
    let href = format!("/v0/user/connectors/{id}");
    assert_eq!(
        sorted_keys(uc),
        ["connector", "created_at", "id", "is_active", "updated_at"]
    );
    assert_eq!(
        uc["connector"],
        json!({"id": "1", "name": "PostgreSQL", "description": "A PostgreSQL database, signed in as a user with a password", "icon_url": "", "auth_type": "basic"})
    );
    assert_eq!(uc["is_active"], true);
    let at = uc["created_at"].as_i64().expect("epoch milliseconds");
    assert!(
        at >= before - 1000 && at <= chrono::Utc::now().timestamp_millis(),
        "{at}"
    );
    assert_eq!(
        created["_links"]["self"],
        json!({"href": href, "method": "GET"})
    );
    assert_eq!(
        created["_links"]["update"],
        json!({"href": href, "method": "PATCH"})
    );
    assert_eq!(
        created["_links"]["delete"],
        json!({"href": href, "method": "DELETE"})
    );

    let r = call(&app, Method::GET, &href, &creds, None).await;
    assert_eq!(ok(&r, 200)["user_connector"], *uc);
    let r = call(&app, Method::GET, "/v0/user/connectors", &creds, None).await;
    let list = ok(&r, 200);
    assert_eq!(list["_links"]["connect"]["method"], "POST");
    assert_eq!(list["user_connectors"][0]["id"], id);
    assert_eq!(list["user_connectors"][0]["_links"]["delete"]["href"], href);

    // Times: ISO 8601 to the second on request, milliseconds for any other value.
    let mut iso = creds.clone();
    iso.push(("x-timestamp-format", "ISO8601".into()));
    let r = call(&app, Method::GET, &href, &iso, None).await;
    let t = ok(&r, 200)["user_connector"]["created_at"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(t.len(), 20, "{t}");
    let parsed = chrono::DateTime::parse_from_rfc3339(&t).unwrap();
    assert_eq!(parsed.timestamp(), at.div_euclid(1000));
    let r = call(&app, Method::GET, "/v0/user/connectors/", &iso, None).await;
    assert!(ok(&r, 200)["user_connectors"][0]["updated_at"].is_string());
    let mut other = creds.clone();
    other.push(("x-timestamp-format", "rfc2822".into()));
    let r = call(&app, Method::GET, &href, &other, None).await;
    assert!(ok(&r, 200)["user_connector"]["updated_at"].is_i64());

    // Update: is_active, then the credentials (the user name with its password again).
    let changed = set_active(&app, &creds, &href, false).await;
    assert!(changed["updated_at"].as_i64().unwrap() >= at);
    let body = json!({"is_active": null, "auth_data": {"user": "grace", "password": "new"}});
    let r = call(&app, Method::PATCH, &href, &creds, Some(body)).await;
    assert_eq!(ok(&r, 200)["user_connector"]["is_active"], false);
    let r = call(&app, Method::PATCH, &href, &creds, Some(json!({}))).await;
    assert_eq!(ok(&r, 200)["user_connector"]["id"], id);
    // A new user name without its password would carry the stored one elsewhere: refused.
    let body = json!({"auth_data": {"user": "eve"}});
    let r = call(&app, Method::PATCH, &href, &creds, Some(body)).await;
    assert_eq!(invalid(&r), ["body:value_error"]);

    // The other connectors of the catalog, each with its own credentials.
    for (n, auth) in [
        (2, json!({"user": "u", "password": "p"})),
        (
            3,
            json!({"user": "u", "private_key": "-----BEGIN PRIVATE KEY-----"}),
        ),
        (4, json!({"user": "u", "password": "p"})),
        (
            5,
            json!({"keyfile_contents": {"type": "service_account", "private_key": "k"}}),
        ),
        (6, json!({"personal_access_token": "dapi123"})),
    ] {
        let body = json!({"connector_id": n, "auth_data": auth});
        let r = post(&app, &creds, body).await;
        assert_eq!(
            ok(&r, 201)["user_connector"]["connector"]["id"],
            n.to_string()
        );
    }
    assert_eq!(listed(&app, &creds).await.len(), 6);

    let r = call(&app, Method::DELETE, &href, &creds, None).await;
    assert_eq!(
        ok(&r, 200)["_links"]["user_connectors"]["href"],
        "/v0/user/connectors/"
    );
    let r = call(&app, Method::GET, &href, &creds, None).await;
    problem(&r, 404, "CON-404-001");
    let r = call(&app, Method::DELETE, &href, &creds, None).await;
    problem(&r, 404, "CON-404-001");
    assert_eq!(listed(&app, &creds).await.len(), 5);
    let r = call(
        &app,
        Method::GET,
        "/v0/user/connectors/not-a-uuid",
        &creds,
        None,
    )
    .await;
    problem(&r, 404, "CON-404-001");
    let r = call(&app, Method::PUT, &href, &creds, None).await;
    problem(&r, 405, "CON-405-001");
}

dual!(
    the_catalog_is_connections_svc_providers,
    user_connectors_are_created_read_changed_and_deleted
);
