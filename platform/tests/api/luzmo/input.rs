//! Bad input on the Luzmo face: every property, every request field, the `find` query, the
//! credentials. Each is a 4xx in the face's shape naming the field at fault where there is one,
//! never a 500, and nothing is written.

use serde_json::{Value, json};

use super::{CANARY, Key, call, create, every_property, found, raw, refused};
use crate::{
    helpers::{TestApp, dual, execute},
    organizations::admin_of_new_org,
};

async fn every_bad_field_is_named(app: TestApp) {
    let (admin, _) = admin_of_new_org(&app, "Inputs").await;
    let key = Key::of(&app, &admin).await;
    let made = create(&app, &key, "Kept").await;
    let id = made["id"].as_str().unwrap().to_owned();

    // Each property with a value of the wrong kind, on create and on update.
    for (field, bad) in [
        ("description", json!("text")),
        ("description", json!({"en": 5})),
        ("description", json!({"not a language": "x"})),
        ("provider", json!(7)),
        ("provider", json!("no spaces allowed")),
        ("date", json!("yesterday")),
        ("expiry", json!(5)),
        ("scope", json!(false)),
        ("host", json!(["a"])),
        ("name", json!(null)),
        ("name", json!("")),
        ("active", json!("yes")),
        ("identifier", json!({})),
        ("port", json!("http")),
        ("port", json!(70000)),
        ("cache", json!(-1)),
        ("cache", json!(1.5)),
        ("token", json!(5)),
        ("token", json!("")),
        ("datasets_meta_sync_enabled", json!(1)),
        ("datasets_meta_sync_interval", json!(0)),
        ("invalid", json!(true)),
        ("password", json!("x")),
    ] {
        let mut props = every_property("Bad");
        props[field] = bad.clone();
        let r = call(
            &app,
            "POST",
            &key,
            json!({"action": "create", "properties": props}),
        )
        .await;
        assert_eq!(
            refused(&r, 400).as_deref(),
            Some(field),
            "create {field}={bad}"
        );
        if field != "name" {
            let body = json!({"action": "update", "id": id, "properties": {field: bad}});
            let r = call(&app, "PATCH", &key, body).await;
            assert_eq!(
                refused(&r, 400).as_deref(),
                Some(field),
                "update {field}={bad}"
            );
        }
    }
    // Required on create; `code` is update-only; associations come after create.
    let mut props = every_property("X");
    props.as_object_mut().unwrap().remove("provider");
    refused(
        &call(
            &app,
            "POST",
            &key,
            json!({"action": "create", "properties": props}),
        )
        .await,
        400,
    );
    let mut props = every_property("X");
    props["code"] = json!("oauth-code");
    let r = call(
        &app,
        "POST",
        &key,
        json!({"action": "create", "properties": props}),
    )
    .await;
    assert_eq!(refused(&r, 400).as_deref(), Some("code"));
    let body = json!({"action": "create", "properties": every_property("X"), "associations": {"role": "User"}});
    assert_eq!(
        refused(&call(&app, "POST", &key, body).await, 400).as_deref(),
        Some("associations")
    );

    // Request fields.
    for (body, field) in [
        (json!({}), "action"),
        (json!({"action": "explode"}), "action"),
        (json!({"action": "get", "extra": 1}), "extra"),
        (json!({"action": "get", "id": id}), "id"),
        (json!({"action": "update", "properties": {}}), "id"),
        (json!({"action": "delete"}), "id"),
        (json!({"action": "associate", "id": id}), "resource"),
        (
            json!({"action": "associate", "id": id, "resource": {"role": "Dataset", "id": id}}),
            "resource",
        ),
        (json!({"action": "create"}), "properties"),
        (
            json!({"action": "delete", "id": id, "properties": {"name": "x"}}),
            "properties",
        ),
    ] {
        let r = call(&app, "POST", &key, body.clone()).await;
        assert_eq!(refused(&r, 400).as_deref(), Some(field), "{body}");
    }
    let mut body = json!({"action": "get"});
    body["key"] = json!(key.key);
    body["token"] = json!(key.token);
    body["version"] = json!("0.2.0");
    assert_eq!(
        refused(&raw(&app, "POST", &body).await, 400).as_deref(),
        Some("version")
    );
    for body in [json!([1]), json!("get"), Value::Null] {
        refused(&raw(&app, "POST", &body).await, 400);
    }
    // An id that names nothing.
    let r = call(
        &app,
        "PATCH",
        &key,
        json!({"action": "update", "id": "nope", "properties": {}}),
    )
    .await;
    refused(&r, 404);

    // find.
    for find in [
        json!("all"),
        json!({"where": {"token": CANARY}}),
        json!({"where": {"name": {"regexp": "x"}}}),
        json!({"order": [["name", "up"]]}),
        json!({"attributes": ["password"]}),
        json!({"limit": -1}),
        json!({"include": [{"model": "Dataset"}]}),
    ] {
        let r = call(&app, "SEARCH", &key, json!({"action": "get", "find": find})).await;
        assert_eq!(refused(&r, 400).as_deref(), Some("find"), "{}", r.body);
    }

    // Nothing above was written: one account, as made.
    let (count, ids) = found(&app, &key, json!({})).await;
    assert_eq!((count, ids), (1, vec![id]));
}

/// Only a live personal access token, its uuid as the key, authenticates.
async fn only_a_live_token_and_its_key_authenticate(app: TestApp) {
    let (admin, _) = admin_of_new_org(&app, "Keys").await;
    let key = Key::of(&app, &admin).await;
    let other = Key::of(&app, &admin).await;
    let jwt = app.access_token(&key.token).await;
    let get = |key: &str, token: &str| json!({"action": "get", "key": key, "token": token});
    for body in [
        json!({"action": "get"}),
        json!({"action": "get", "key": key.key}),
        json!({"action": "get", "token": key.token}),
        get(&other.key, &key.token),
        get("not-a-uuid", &key.token),
        get(&key.key, "ldpat_wrong"),
        get(&key.key, &jwt),
        get(&key.key, &format!("Bearer {}", key.token)),
    ] {
        refused(&raw(&app, "POST", &body).await, 401);
    }
    // A session cookie alone does not authenticate either.
    let req = app
        .http
        .post(format!("{}/0.1.0/account", app.base))
        .header("cookie", format!("connect.sid={}", admin.cookie))
        .json(&json!({"action": "get"}));
    refused(
        &app.finish(reqwest::Method::POST, "/0.1.0/account", req)
            .await,
        401,
    );
    assert_eq!(
        raw(&app, "POST", &get(&key.key, &key.token)).await.status,
        200
    );
    // Revoked: refused on the very next call.
    app.delete_pat(&admin, &key.key).await;
    refused(&raw(&app, "POST", &get(&key.key, &key.token)).await, 401);
    // Whatever the method, the action decides: GET (with a body) and PUT are served as POST;
    // a method the document does not name is not.
    for method in ["GET", "PUT"] {
        assert_eq!(
            raw(&app, method, &get(&other.key, &other.token))
                .await
                .status,
            200,
            "{method}"
        );
    }
    for method in ["OPTIONS", "QUERY", "PROPFIND"] {
        refused(
            &raw(&app, method, &get(&other.key, &other.token)).await,
            405,
        );
    }
    // Another resource is not served here.
    let req = app
        .http
        .post(format!("{}/0.1.0/dataset", app.base))
        .json(&get(&other.key, &other.token));
    refused(
        &app.finish(reqwest::Method::POST, "/0.1.0/dataset", req)
            .await,
        404,
    );
}

/// An expired personal access token is refused (401 in the face's shape) from the first call
/// after its expiry, though the gateway has just exchanged it: one made to expire in two
/// seconds, and one whose expiry another writer moved into the past.
async fn an_expired_token_is_refused(app: TestApp) {
    let (admin, _) = admin_of_new_org(&app, "Expiry").await;
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
    let (key, token) = app
        .create_pat(&admin, json!({"description": "short", "expiresAt": soon}))
        .await;
    let short = Key { key, token };
    let moved = Key::of(&app, &admin).await;
    let get = json!({"action": "get"});
    for key in [&short, &moved] {
        assert_eq!(call(&app, "SEARCH", key, get.clone()).await.status, 200);
    }
    let sql = "UPDATE personal_access_tokens SET expires_at = created_at WHERE pat_uuid = $1";
    assert_eq!(execute(&app.identity_db, sql, &[&moved.key]).await, 1);
    refused(&call(&app, "SEARCH", &moved, get.clone()).await, 401);
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    for method in ["SEARCH", "POST"] {
        refused(&call(&app, method, &short, get.clone()).await, 401);
    }
    let r = call(
        &app,
        "POST",
        &short,
        json!({"action": "create", "properties": every_property("Late")}),
    )
    .await;
    refused(&r, 401);
    // Nothing was written.
    let live = Key::of(&app, &admin).await;
    assert_eq!(found(&app, &live, json!({})).await.0, 0);
}

dual!(
    every_bad_field_is_named,
    only_a_live_token_and_its_key_authenticate,
    an_expired_token_is_refused
);
