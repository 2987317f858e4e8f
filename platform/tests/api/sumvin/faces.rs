//! Item 4 of issue 17: a connection is one thing whichever face made it. The caller's
//! connection made on the REST face is one of their user connectors here, and a change on
//! either face shows on the next read on the other; personal credentials made here are
//! Lightdash's warehouse credentials too; a PostgreSQL account made on the Luzmo face
//! (`postgresql` there) is the catalog's PostgreSQL here (connector 1, `postgres`).

use reqwest::Method;
use serde_json::json;

use super::{CANARY, call, create, listed, ok, pat, pat_of, problem, read, set_active};
use crate::{
    helpers::{TestApp, dual},
    luzmo::{self, Key},
    organizations::{admin_of_new_org, cookie, invite_and_join},
    stored::sealed_values,
};

async fn one_connection_on_every_face(app: TestApp) {
    let (admin, _) = admin_of_new_org(&app, "Faces").await;
    let dev = invite_and_join(&app, &admin, "developer").await;
    let creds = pat(&pat_of(&app, &dev).await);

    // Made on the REST face by the caller: listed here, with a connector outside the catalog.
    let r = app
        .post(
            "/api/v1/connections",
            &cookie(&dev),
            json!({"provider": "googledrive", "name": "Drive", "secrets": {"token": CANARY}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let rest_id = r.results()["connectionUuid"].as_str().unwrap().to_owned();
    // Someone else's shared connection, which the caller reads on the REST face, is not theirs.
    let r = app
        .post(
            "/api/v1/connections",
            &cookie(&admin),
            json!({"provider": "postgres", "name": "Admin's"}),
        )
        .await;
    let admins = r.results()["connectionUuid"].as_str().unwrap().to_owned();
    app.get(&format!("/api/v1/connections/{admins}"), &cookie(&dev))
        .await
        .results();
    assert_eq!(listed(&app, &creds).await, std::slice::from_ref(&rest_id));
    let here = format!("/v0/user/connectors/{rest_id}");
    let r = call(&app, Method::GET, &here, &creds, None).await;
    let uc = &ok(&r, 200)["user_connector"];
    assert_eq!(uc["connector"]["id"], "0");
    assert_eq!(uc["connector"]["name"], "googledrive");
    assert_eq!(uc["is_active"], true);
    let r = read(&app, &creds, &admins).await;
    problem(&r, 404, "CON-404-001");

    // A change here shows on the REST face's next read, and the other way round.
    let rest = format!("/api/v1/connections/{rest_id}");
    set_active(&app, &creds, &here, false).await;
    assert_eq!(
        app.get(&rest, &cookie(&dev)).await.results()["active"],
        false
    );
    app.send(
        Method::PATCH,
        &rest,
        &cookie(&dev),
        Some(json!({"active": true})),
    )
    .await
    .results();
    let r = call(&app, Method::GET, &here, &creds, None).await;
    assert_eq!(ok(&r, 200)["user_connector"]["is_active"], true);
    // Its credentials are not the catalog's: they change on the REST face only.
    let body = json!({"auth_data": {"token": "t"}});
    let r = call(&app, Method::PATCH, &here, &creds, Some(body)).await;
    assert_eq!(super::invalid(&r), ["body.auth_data:value_error"]);

    // Made here: Lightdash's personal warehouse credentials, with the user name.
    let uc = create(&app, &creds, CANARY).await;
    let id = uc["id"].as_str().unwrap().to_owned();
    let mine = app
        .get("/api/v1/user/warehouseCredentials", &cookie(&dev))
        .await;
    let mine = mine.results().as_array().unwrap().clone();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["uuid"], id);
    assert_eq!(
        mine[0]["credentials"],
        json!({"type": "postgres", "user": "ada"})
    );
    // Changed there, read here; deleted on the REST face, gone here.
    let path = format!("/api/v1/user/warehouseCredentials/{id}");
    let body =
        json!({"name": "x", "credentials": {"type": "postgres", "user": "bob", "password": "p"}});
    app.send(Method::PATCH, &path, &cookie(&dev), Some(body))
        .await
        .results();
    let r = read(&app, &creds, &id).await;
    let after = &ok(&r, 200)["user_connector"];
    assert!(after["updated_at"].as_i64() > uc["updated_at"].as_i64());
    app.send(Method::DELETE, &rest, &cookie(&dev), None)
        .await
        .results();
    let r = call(&app, Method::GET, &here, &creds, None).await;
    problem(&r, 404, "CON-404-001");
    assert_eq!(listed(&app, &creds).await, [id]);
}

/// Luzmo's `postgresql` is the platform's `postgres`: an account made on the Luzmo face is the
/// catalog's PostgreSQL here (its `auth_data` takes the catalog's fields), Luzmo's clients
/// still read their own name, and a change on either face shows on the other's next read.
async fn a_luzmo_postgresql_account_is_connector_1(app: TestApp) {
    let (admin, _) = admin_of_new_org(&app, "Postgres").await;
    let dev = invite_and_join(&app, &admin, "developer").await;
    let key = Key::of(&app, &dev).await;
    let creds = pat(&key.token);
    let made = luzmo::create(&app, &key, "Warehouse").await;
    assert_eq!(made["provider"], "postgresql");
    let id = made["id"].as_str().unwrap().to_owned();
    let here = format!("/v0/user/connectors/{id}");
    let r = read(&app, &creds, &id).await;
    let uc = &ok(&r, 200)["user_connector"];
    assert_eq!(uc["connector"]["id"], "1", "{uc}");
    assert_eq!(uc["connector"]["name"], "PostgreSQL");
    assert_eq!(uc["is_active"], true);
    // One provider on every face: the REST face says the platform's name.
    let rest = format!("/api/v1/connections/{id}");
    assert_eq!(
        app.get(&rest, &cookie(&dev)).await.results()["provider"],
        "postgres"
    );

    // Changed here (the catalog's auth_data: the user and its password), read on Luzmo.
    let before = sealed_values(&app).await;
    let body = json!({"is_active": false, "auth_data": {"user": "grace", "password": "new"}});
    let r = call(&app, Method::PATCH, &here, &creds, Some(body)).await;
    let uc = &ok(&r, 200)["user_connector"];
    assert_eq!(
        (&uc["connector"]["id"], &uc["is_active"]),
        (&json!("1"), &json!(false))
    );
    let after = sealed_values(&app).await;
    assert_eq!((before.len(), after.len()), (1, 1));
    assert_ne!(before, after, "the password was sealed anew");
    let get = json!({"action": "get", "find": {"where": {"provider": "postgresql"}}});
    let r = luzmo::call(&app, "SEARCH", &key, get.clone()).await;
    assert_eq!(r.body["count"], 1, "{}", r.body);
    let row = &r.body["rows"][0];
    assert_eq!(row["id"], id.as_str());
    assert_eq!(
        (&row["active"], &row["identifier"], &row["provider"]),
        (&json!(false), &json!("grace"), &json!("postgresql"))
    );

    // Changed on Luzmo (naming its provider again is no change of provider: no token needed),
    // read here.
    let props = json!({"active": true, "provider": "PostgreSQL", "name": "Renamed"});
    let update = json!({"action": "update", "id": id, "properties": props});
    let r = luzmo::call(&app, "PATCH", &key, update).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["provider"], "postgresql");
    let r = read(&app, &creds, &id).await;
    let uc = &ok(&r, 200)["user_connector"];
    assert_eq!(
        (&uc["connector"]["id"], &uc["is_active"]),
        (&json!("1"), &json!(true))
    );
    assert_eq!(listed(&app, &creds).await, [id]);
}

dual!(
    one_connection_on_every_face,
    a_luzmo_postgresql_account_is_connector_1
);
