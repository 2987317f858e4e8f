//! Connections through the gateway: our `/api/v1/connections` (every field of the Luzmo seed),
//! Lightdash's personal warehouse credentials and per-project preference, a project's warehouse
//! connection; secrets are write-only (CR-7, CR-8: canaries in every response and log line);
//! real connection tests against the machine's PostgreSQL and MariaDB and the SSRF policy
//! (AP-8); OAuth2 code exchange and refresh against a token server on loopback; the isolation
//! matrix between roles and organizations (AC-1, AC-2, AC-8). This module holds the request
//! helpers the areas share.

pub(crate) mod connection_tests;
mod isolation;
mod oauth;
mod routes;
mod warehouse;

use reqwest::Method;
use serde_json::{Value, json};

use crate::{
    helpers::{TestApp, TestUser},
    organizations::cookie,
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
