//! Bad input of every field answers FastAPI's 422 with each failure's `loc` (or the problem of
//! its status: 415, 413), never a 500, and writes nothing.

use reqwest::Method;
use serde_json::{Value, json};

use super::{CANARY, call, create, invalid, listed, ok, pat, pat_of, problem};
use crate::{
    helpers::{TestApp, count, dual},
    organizations::admin_of_new_org,
};

async fn bad_input_answers_422_and_writes_nothing(app: TestApp) {
    let (admin, org) = admin_of_new_org(&app, "Input").await;
    let creds = pat(&pat_of(&app, &admin).await);
    let long = "x".repeat(256);
    let huge = "s".repeat(64 * 1024 + 1);
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (
            json!({}),
            vec!["body.connector_id:missing", "body.auth_data:missing"],
        ),
        (json!([1]), vec!["body:model_attributes_type"]),
        (json!("text"), vec!["body:model_attributes_type"]),
        (json!({"connector_id": 1}), vec!["body.auth_data:missing"]),
        (json!({"auth_data": {}}), vec!["body.connector_id:missing"]),
        (
            json!({"connector_id": CANARY, "auth_data": {"user": "u", "password": "p"}}),
            vec!["body.connector_id:int_type"],
        ),
        (
            json!({"connector_id": 1.5, "auth_data": {"user": "u", "password": "p"}}),
            vec!["body.connector_id:int_type"],
        ),
        (
            json!({"connector_id": -1, "auth_data": {"user": "u", "password": "p"}}),
            vec!["body.connector_id:int_type"],
        ),
        (
            json!({"connector_id": 99, "auth_data": {"user": "u", "password": "p"}}),
            vec!["body.connector_id:value_error"],
        ),
        (
            json!({"connector_id": 1, "auth_data": CANARY}),
            vec!["body.auth_data:dict_type"],
        ),
        (
            json!({"connector_id": 1, "auth_data": null}),
            vec!["body.auth_data:dict_type"],
        ),
        (
            json!({"connector_id": 1, "auth_data": {"user": "u"}}),
            vec!["body.auth_data.password:missing"],
        ),
        (
            json!({"connector_id": 1, "auth_data": {"password": CANARY}}),
            vec!["body.auth_data.user:missing"],
        ),
        (
            json!({"connector_id": 1, "auth_data": {"user": "u", "password": "p", "host": "h"}}),
            vec!["body.auth_data.host:extra_forbidden"],
        ),
        (
            json!({"connector_id": 1, "auth_data": {"user": 7, "password": [CANARY]}}),
            vec![
                "body.auth_data.user:string_type",
                "body.auth_data.password:string_type",
            ],
        ),
        (
            json!({"connector_id": 1, "auth_data": {"user": " ", "password": ""}}),
            vec![
                "body.auth_data.user:string_too_short",
                "body.auth_data.password:string_too_short",
            ],
        ),
        (
            json!({"connector_id": 1, "auth_data": {"user": long, "password": huge}}),
            vec![
                "body.auth_data.user:string_too_long",
                "body.auth_data.password:string_too_long",
            ],
        ),
        (
            json!({"connector_id": 5, "auth_data": {"keyfile_contents": CANARY}}),
            vec!["body.auth_data.keyfile_contents:dict_type"],
        ),
        (
            json!({"connector_id": 5, "auth_data": {"keyfile_contents": {"a": 1}}}),
            vec!["body.auth_data.keyfile_contents:dict_type"],
        ),
        (
            json!({"connector_id": 1, "auth_data": {"user": "u", "password": "p"}, "name": "n"}),
            vec!["body.name:extra_forbidden"],
        ),
        (
            json!({"connector_id": 1, "auth_data": {"user": "u", "password": "p"}, "is_active": false}),
            vec!["body.is_active:extra_forbidden"],
        ),
    ];
    for (body, want) in cases {
        let r = call(
            &app,
            Method::POST,
            "/v0/user/connectors/",
            &creds,
            Some(body.clone()),
        )
        .await;
        assert_eq!(invalid(&r), want, "{body}");
        assert!(!r.text.contains(CANARY), "{}", r.text);
    }

    // Bodies that are not JSON objects.
    let raw = |content_type: &'static str, text: &'static str| {
        app.http
            .post(format!("{}/v0/user/connectors/", app.base))
            .header("x-sumvin-pat", &creds[0].1)
            .header("content-type", content_type)
            .body(text)
    };
    let path = "/v0/user/connectors/";
    let r = app
        .finish(Method::POST, path, raw("text/plain", "{}"))
        .await;
    problem(&r, 415, "CON-415-001");
    let r = app
        .finish(Method::POST, path, raw("application/json", "{\"a\":"))
        .await;
    assert_eq!(invalid(&r), ["body:json_invalid"]);
    let r = app
        .finish(Method::POST, path, raw("application/json", ""))
        .await;
    assert_eq!(invalid(&r), ["body:missing"]);
    let big = app
        .http
        .post(format!("{}{path}", app.base))
        .header("x-sumvin-pat", &creds[0].1)
        .json(&json!({"connector_id": 1, "auth_data": {"password": "p".repeat(2 * 1024 * 1024)}}));
    let r = app.finish(Method::POST, path, big).await;
    problem(&r, 413, "CON-413-001");

    // Nothing was written.
    assert!(listed(&app, &creds).await.is_empty());
    let stored = count(
        &app.connections_db,
        "SELECT COUNT(*) FROM connections WHERE organization_uuid = $1",
        &org,
    )
    .await;
    assert_eq!(stored, 0);

    // Updates.
    let uc = create(&app, &creds, CANARY).await;
    let href = format!("/v0/user/connectors/{}", uc["id"].as_str().unwrap());
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (
            json!({"is_active": "yes"}),
            vec!["body.is_active:bool_type"],
        ),
        (json!({"is_active": 1}), vec!["body.is_active:bool_type"]),
        (
            json!({"auth_data": [CANARY]}),
            vec!["body.auth_data:dict_type"],
        ),
        (
            json!({"auth_data": {"token": CANARY}}),
            vec!["body.auth_data.token:extra_forbidden"],
        ),
        (
            json!({"auth_data": {"password": 5}}),
            vec!["body.auth_data.password:string_type"],
        ),
        (
            json!({"auth_data": {"password": ""}}),
            vec!["body.auth_data.password:string_too_short"],
        ),
        (
            json!({"is_active": false, "connector_id": 2}),
            vec!["body.connector_id:extra_forbidden"],
        ),
        (json!([]), vec!["body:model_attributes_type"]),
    ];
    for (body, want) in cases {
        let r = call(&app, Method::PATCH, &href, &creds, Some(body.clone())).await;
        assert_eq!(invalid(&r), want, "{body}");
        assert!(!r.text.contains(CANARY), "{}", r.text);
    }
    let r = call(&app, Method::GET, &href, &creds, None).await;
    let now = &ok(&r, 200)["user_connector"];
    assert_eq!(now["is_active"], true);
    assert_eq!(
        now["updated_at"], uc["updated_at"],
        "a refused update changed nothing"
    );
}

dual!(bad_input_answers_422_and_writes_nothing);
