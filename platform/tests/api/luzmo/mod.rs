//! The connection face of seed 000 (`/0.1.0/account`, docs/luzmo.md): every action
//! under every method Luzmo's clients send, every property of the seed's table, the `find`
//! query, associations, one connection seen from the REST face, bad input (`input.rs`) and who
//! reaches what (`matrix.rs`).

mod input;
mod matrix;

use reqwest::Method;
use serde_json::{Value, json};

use crate::{
    helpers::{Auth, Reply, TestApp, TestUser, dual, log_text},
    organizations::{admin_of_new_org, cookie, invite_and_join},
    swift::sorted_keys,
};

/// A secret that must never come back.
pub(crate) const CANARY: &str = "canary-luzmo-token-8e1d";

/// The fields of an account as the seed answers it, sorted.
const ENTITY_FIELDS: [&str; 23] = [
    "active",
    "cache",
    "created_at",
    "datasets_meta_sync_enabled",
    "datasets_meta_sync_interval",
    "date",
    "description",
    "expiry",
    "host",
    "id",
    "identifier",
    "invalid",
    "name",
    "plugin_id",
    "port",
    "properties",
    "provider",
    "scope",
    "shareable_id",
    "synced",
    "updated_at",
    "user_id",
    "version",
];

/// Luzmo credentials: a personal access token's uuid (`key`) and secret (`token`).
#[derive(Debug, Clone)]
pub(crate) struct Key {
    pub(crate) key: String,
    pub(crate) token: String,
}

impl Key {
    pub(crate) async fn of(app: &TestApp, user: &TestUser) -> Self {
        let (key, token) = app.create_pat(user, json!({"description": "luzmo"})).await;
        Self { key, token }
    }
}

/// `method /0.1.0/account` with `body` and the credentials added.
pub(crate) async fn call(app: &TestApp, method: &str, key: &Key, mut body: Value) -> Reply {
    body["key"] = json!(key.key);
    body["token"] = json!(key.token);
    body["version"] = json!("0.1.0");
    raw(app, method, &body).await
}

/// `method /0.1.0/account` with `body` as it is.
pub(crate) async fn raw(app: &TestApp, method: &str, body: &Value) -> Reply {
    let method = Method::from_bytes(method.as_bytes()).unwrap();
    let req = app
        .http
        .request(method.clone(), format!("{}/0.1.0/account", app.base))
        .json(body);
    let r = app.finish(method, "/0.1.0/account", req).await;
    assert!(!r.text.contains(CANARY), "the secret came back: {}", r.text);
    r
}

/// Asserts the face's error shape with `status`; returns the field at fault, if named.
pub(crate) fn refused(r: &Reply, status: u16) -> Option<String> {
    assert_eq!(r.status.as_u16(), status, "{}", r.body);
    assert!(r.body["message"].is_string(), "{}", r.body);
    let validation = r.body.get("validation")?;
    let fields: Vec<&String> = validation.as_object().unwrap().keys().collect();
    assert_eq!(fields.len(), 1, "{}", r.body);
    assert!(validation[fields[0]][0].is_string(), "{}", r.body);
    Some(fields[0].clone())
}

/// Every property of the seed's table (`invalid` is read-only and `code` update-only).
pub(crate) fn every_property(name: &str) -> Value {
    json!({
        "description": {"en": "Warehouse", "fr": "Entrepôt"},
        "provider": "postgresql",
        "date": "2024-01-13T13:42:05.736Z",
        "expiry": "2030-01-01T00:00:00.000Z",
        "scope": "analytics",
        "host": "db.example.test",
        "name": name,
        "active": true,
        "identifier": "reader",
        "port": "5432",
        "cache": 60,
        "token": CANARY,
        "datasets_meta_sync_enabled": false,
        "datasets_meta_sync_interval": 2,
    })
}

/// Creates an account; its entity.
pub(crate) async fn create(app: &TestApp, key: &Key, name: &str) -> Value {
    let body = json!({"action": "create", "properties": every_property(name), "associations": {}});
    let r = call(app, "POST", key, body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body.clone()
}

/// The ids `get` answers (SEARCH, as the Node client sends it) with `find`.
pub(crate) async fn found(app: &TestApp, key: &Key, find: Value) -> (u64, Vec<String>) {
    let r = call(app, "SEARCH", key, json!({"action": "get", "find": find})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let ids = r.body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["id"].as_str().unwrap().to_owned())
        .collect();
    (r.body["count"].as_u64().unwrap(), ids)
}

async fn every_action_under_every_method(app: TestApp) {
    let (admin, _) = admin_of_new_org(&app, "Luzmo").await;
    let owner = invite_and_join(&app, &admin, "viewer").await;
    let key = Key::of(&app, &owner).await;
    // Any member creates one (it is theirs and restricted until shared).
    let a = create(&app, &key, "Sales").await;
    assert_eq!(sorted_keys(&a), ENTITY_FIELDS);
    let expected = json!({
        "description": {"en": "Warehouse", "fr": "Entrepôt"},
        "provider": "postgresql", "date": "2024-01-13T13:42:05.736Z",
        "expiry": "2030-01-01T00:00:00.000Z", "scope": "analytics", "host": "db.example.test",
        "name": "Sales", "active": true, "identifier": "reader", "port": "5432", "cache": 60,
        "datasets_meta_sync_enabled": false, "datasets_meta_sync_interval": 2,
        "invalid": false, "synced": false, "version": null, "properties": null,
        "plugin_id": null, "shareable_id": null, "user_id": owner.user_uuid,
    });
    for (field, value) in expected.as_object().unwrap() {
        assert_eq!(&a[field], value, "{field}");
    }
    let id = a["id"].as_str().unwrap().to_owned();
    let b = create(&app, &key, "Ops").await;
    let b_id = b["id"].as_str().unwrap().to_owned();

    // get: where, attributes, order, limit, offset; POST and SEARCH alike.
    assert_eq!(
        found(&app, &key, json!({"where": {"name": "Sales"}})).await,
        (1, vec![id.clone()])
    );
    let paged = json!({"order": [["name", "asc"]], "limit": 1, "offset": 1});
    assert_eq!(found(&app, &key, paged).await, (2, vec![id.clone()]));
    let r = call(
        &app,
        "POST",
        &key,
        json!({"action": "get", "find": {"where": {"id": id}, "attributes": ["id", "port"]}}),
    )
    .await;
    assert_eq!(
        r.body,
        json!({"count": 1, "rows": [{"id": id, "port": "5432"}]})
    );

    // update (PATCH): a new host needs the secret again; `expiry: null` clears.
    let r = call(
        &app,
        "PATCH",
        &key,
        json!({"action": "update", "id": id, "properties": {"host": "db2.example.test"}}),
    )
    .await;
    assert_eq!(refused(&r, 400), None);
    let props =
        json!({"host": "db2.example.test", "token": CANARY, "expiry": null, "active": false});
    let r = call(
        &app,
        "PATCH",
        &key,
        json!({"action": "update", "id": id, "properties": props}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (&r.body["host"], &r.body["expiry"], &r.body["active"]),
        (&json!("db2.example.test"), &Value::Null, &json!(false))
    );

    // associate (LINK) shares it with another member, dissociate (UNLINK) takes it back.
    let reader = invite_and_join(&app, &admin, "editor").await;
    let reader_key = Key::of(&app, &reader).await;
    assert_eq!(found(&app, &reader_key, json!({})).await.0, 0);
    let link = json!({"action": "associate", "id": id, "resource": {"role": "Users", "id": reader.user_uuid}});
    assert_eq!(call(&app, "LINK", &key, link).await.status, 200);
    assert_eq!(
        found(&app, &reader_key, json!({})).await,
        (1, vec![id.clone()])
    );
    // A reader may not change it.
    let r = call(
        &app,
        "PATCH",
        &reader_key,
        json!({"action": "update", "id": id, "properties": {"name": "Mine"}}),
    )
    .await;
    refused(&r, 403);
    let unlink = json!({"action": "dissociate", "id": id, "resource": {"role": "Users", "id": reader.user_uuid}});
    assert_eq!(call(&app, "UNLINK", &key, unlink.clone()).await.status, 200);
    assert_eq!(found(&app, &reader_key, json!({})).await.0, 0);
    refused(&call(&app, "UNLINK", &key, unlink).await, 404);

    // delete (DELETE), with the `properties: {}` Luzmo's Python client sends.
    let r = call(
        &app,
        "DELETE",
        &key,
        json!({"action": "delete", "id": b_id, "properties": {}}),
    )
    .await;
    assert_eq!((r.status.as_u16(), &r.body), (200, &json!({})));
    assert_eq!(found(&app, &key, json!({})).await, (1, vec![id.clone()]));
    refused(
        &call(
            &app,
            "DELETE",
            &key,
            json!({"action": "delete", "id": b_id}),
        )
        .await,
        404,
    );

    // The secret is in no log line.
    assert!(!log_text().contains(CANARY));
}

/// One connection, whichever face: made on this face it is listed on the REST face to those
/// who may read it, and a change on either shows on the next read of the other.
async fn one_connection_on_every_face(app: TestApp) {
    let (admin, _) = admin_of_new_org(&app, "Faces").await;
    let key = Key::of(&app, &admin).await;
    let made = create(&app, &key, "Shared").await;
    let id = made["id"].as_str().unwrap().to_owned();
    let rest = format!("/api/v1/connections/{id}");
    let r = app.get(&rest, &cookie(&admin)).await;
    assert_eq!(r.results()["name"], "Shared");
    let listed = app.get("/api/v1/connections", &cookie(&admin)).await;
    let ids: Vec<&str> = listed
        .results()
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["connectionUuid"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [id.as_str()]);
    let r = app
        .send(
            Method::PATCH,
            &rest,
            &Auth::Cookie(admin.cookie.clone()),
            Some(json!({"name": "Renamed"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let renamed = found(&app, &key, json!({"where": {"name": "Renamed"}})).await;
    assert_eq!(renamed.1, [id.as_str()]);
    let r = call(
        &app,
        "POST",
        &key,
        json!({"action": "update", "id": id, "properties": {"cache": 5}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(app.get(&rest, &cookie(&admin)).await.results()["cache"], 5);
    // It is the admin's own: a user connector of theirs on the Sumvin face too (Luzmo's
    // `postgresql` is the catalog's PostgreSQL: connector 1).
    let listed = app
        .http
        .get(format!("{}/v0/user/connectors/", app.base))
        .header("x-sumvin-pat", &key.token);
    let listed = app
        .finish(Method::GET, "/v0/user/connectors/", listed)
        .await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    let ids: Vec<&str> = listed.body["user_connectors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [id.as_str()]);
    assert_eq!(listed.body["user_connectors"][0]["connector"]["id"], "1");
    // A member who may not read it sees it on neither face.
    let other = invite_and_join(&app, &admin, "developer").await;
    app.get(&rest, &cookie(&other)).await.expect_error(404);
    let other_key = Key::of(&app, &other).await;
    assert_eq!(found(&app, &other_key, json!({})).await.0, 0);
}

dual!(
    every_action_under_every_method,
    one_connection_on_every_face
);
