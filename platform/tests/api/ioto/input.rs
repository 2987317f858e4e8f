//! Bad input on the seed 004 face: every field, the body, the query options, the methods, the
//! credentials; each answered in the face's error shape with the right status, never a 5xx.

use reqwest::Method;
use serde_json::json;

use super::{call, created_account, operator, refused};
use crate::helpers::{TestApp, dual};

async fn bad_input_answers_in_the_face_shape(app: TestApp) {
    let op = operator(&app);
    let (account, _, pat) = created_account(&app, &op, "Inputs").await;
    let id = account["id"].as_str().unwrap();

    // Credentials: none, empty, another scheme, an unknown token.
    for auth in [
        None,
        Some(""),
        Some("Bearer"),
        Some("ApiKey x"),
        Some("ldpat_nope"),
    ] {
        let r = call(&app, "get", auth, json!({})).await;
        refused(&r, 401);
    }

    // create: each field missing, empty or malformed; unknown fields; a user is no owner.
    for body in [
        json!({"name": "A"}),
        json!({"email": "a@example.com"}),
        json!({"email": "not an address", "name": "A"}),
        json!({"email": "a@example.com", "name": ""}),
        json!({"email": "a@example.com", "name": "x".repeat(300)}),
        json!({"email": 7, "name": "A"}),
        json!({"email": "a@example.com", "name": "A", "role": "owner"}),
        json!([]),
    ] {
        refused(&call(&app, "create", Some(&op), body.clone()).await, 400);
    }
    let r = call(
        &app,
        "create",
        Some(&pat),
        json!({"email": "b@example.com", "name": "B"}),
    )
    .await;
    refused(&r, 403);

    // get and find: id and email are the owner's; bad ids, emails and options.
    for action in ["get", "find"] {
        for body in [json!({"id": id}), json!({"email": "a@example.com"})] {
            refused(&call(&app, action, Some(&pat), body).await, 403);
        }
        refused(
            &call(&app, action, Some(&pat), json!({"other": 1})).await,
            400,
        );
    }
    refused(
        &call(&app, "get", Some(&op), json!({"id": "nope"})).await,
        404,
    );
    refused(
        &call(&app, "get", Some(&op), json!({"email": "nope"})).await,
        400,
    );
    refused(&call(&app, "get", Some(&op), json!({})).await, 400);
    refused(
        &call(&app, "find", Some(&op), json!({"id": "nope"})).await,
        400,
    );
    for query in [
        "limit=0",
        "limit=101",
        "limit=abc",
        "next=garbage",
        "prev=garbage",
        "index=gs2",
        "exists=maybe",
        "unknown=1",
        "filter=%01",
    ] {
        let path = format!("/account/find?{query}");
        let req = app
            .http
            .post(format!("{}{path}", app.base))
            .header("authorization", &op)
            .json(&json!({}));
        refused(&app.finish(Method::POST, &path, req).await, 400);
    }
    let path = "/account/get?index=gs1&exists=true";
    let req = app
        .http
        .post(format!("{}{path}", app.base))
        .header("authorization", &pat)
        .json(&json!({}));
    assert_eq!(app.finish(Method::POST, path, req).await.status, 200);

    // updateIdentity and close.
    for body in [
        json!({}),
        json!({"name": ""}),
        json!({"email": "not an address"}),
        json!({"name": 5}),
        json!({"name": "A", "closed": true}),
    ] {
        refused(&call(&app, "updateIdentity", Some(&pat), body).await, 400);
    }
    let r = call(
        &app,
        "updateIdentity",
        Some(&pat),
        json!({"id": "nope", "name": "A"}),
    )
    .await;
    refused(&r, 404);
    refused(
        &call(&app, "close", Some(&pat), json!({"id": "nope"})).await,
        404,
    );
    refused(
        &call(&app, "close", Some(&pat), json!({"id": 1})).await,
        400,
    );
    refused(&call(&app, "close", Some(&op), json!({})).await, 400);

    // The body: not JSON, malformed, empty (an empty body reads as {}).
    let send = |body: &'static str, content_type: &'static str| {
        app.http
            .post(format!("{}/account/get", app.base))
            .header("authorization", &pat)
            .header("content-type", content_type)
            .body(body)
    };
    let r = app
        .finish(Method::POST, "/account/get", send("{}", "text/plain"))
        .await;
    refused(&r, 415);
    let r = app
        .finish(Method::POST, "/account/get", send("{", "application/json"))
        .await;
    refused(&r, 400);
    let r = app
        .finish(Method::POST, "/account/get", send("", "text/plain"))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    // Unknown actions and other methods.
    refused(&call(&app, "delete", Some(&pat), json!({})).await, 404);
    let req = app
        .http
        .get(format!("{}/account/get", app.base))
        .header("authorization", &pat);
    refused(&app.finish(Method::GET, "/account/get", req).await, 405);

    // Nothing above changed the account.
    let got = call(&app, "get", Some(&pat), json!({})).await;
    assert_eq!(got.body["name"], "Inputs", "{}", got.body);
}

dual!(bad_input_answers_in_the_face_shape);
