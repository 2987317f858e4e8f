//! Our `/api/v1/connections` routes: every field of the Luzmo seed created, read, changed and
//! deleted; secrets are write-only (CR-7, CR-8: a canary in no response and no log line);
//! creates beyond the configured limits are refused.

use reqwest::Method;
use serde_json::json;

use super::{CANARY, create, id, patch, test};
use crate::{
    helpers::{Backend, TestApp, dual, dual_backend, log_text, spawn_app_with},
    organizations::{admin_of_new_org, cookie, invite_and_join},
};

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

dual!(
    connections_are_created_read_changed_and_deleted,
    secrets_never_leave_the_service,
);
dual_backend!(connection_counts_are_limited);
