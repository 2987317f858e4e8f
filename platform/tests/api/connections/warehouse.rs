//! Lightdash's warehouse credentials: personal credentials of every type, the credentials a
//! user uses in a project, and a project's warehouse connection.

use reqwest::Method;
use serde_json::json;

use super::{CANARY, create, id};
use crate::{
    helpers::{TestApp, dual},
    organizations::{admin_of_new_org, cookie},
    projects::new_project,
};

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
    warehouse_credentials_follow_the_contract,
    credentials_preference_per_project,
    a_project_shows_its_warehouse_connection,
);
