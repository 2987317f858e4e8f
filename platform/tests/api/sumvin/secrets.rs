//! `auth_data` is secret (CR-6, CR-7): a canary sent through every route of the face never
//! comes back in a response, never reaches a log line, and is stored only sealed: no column of
//! any service's database holds it (`crate::stored`).

use reqwest::Method;
use serde_json::json;

use super::{call, jwt, ok, pat, pat_of};
use crate::{
    helpers::{TestApp, dual, log_text},
    organizations::admin_of_new_org,
    stored::assert_sealed_only,
};

const SECRET: &str = "canary-sumvin-secret-8c2f4d10";

async fn cr_7_auth_data_never_leaves_sealed(app: TestApp) {
    let (admin, _) = admin_of_new_org(&app, "Secrets").await;
    let token = pat_of(&app, &admin).await;
    let creds = pat(&token);
    let mut bodies = Vec::new();
    let mut send = async |method: Method, path: &str, body: Option<serde_json::Value>| {
        let r = call(&app, method, path, &creds, body).await;
        bodies.push(r.text.clone());
        r
    };
    let r = send(
        Method::POST,
        "/v0/user/connectors/",
        Some(json!({"connector_id": 1, "auth_data": {"user": "ada", "password": SECRET}})),
    )
    .await;
    let id = ok(&r, 201)["user_connector"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let href = format!("/v0/user/connectors/{id}");
    let keyfile = json!({"type": "service_account", "private_key": format!("{SECRET}-key")});
    send(
        Method::POST,
        "/v0/user/connectors/",
        Some(json!({"connector_id": 5, "auth_data": {"keyfile_contents": keyfile}})),
    )
    .await;
    send(Method::GET, &href, None).await;
    send(Method::GET, "/v0/user/connectors/", None).await;
    send(Method::GET, "/v0/connectors/", None).await;
    let r = send(
        Method::PATCH,
        &href,
        Some(json!({"auth_data": {"password": format!("{SECRET}-2")}})),
    )
    .await;
    ok(&r, 200);
    // Refusals that carry the secret in the wrong place.
    send(
        Method::PATCH,
        &href,
        Some(json!({"is_active": SECRET, "auth_data": {"password": [SECRET]}})),
    )
    .await;
    send(
        Method::POST,
        "/v0/user/connectors/",
        Some(json!({"connector_id": SECRET, "auth_data": {"user": SECRET}})),
    )
    .await;
    // And the same read with the JWT.
    let r = call(
        &app,
        Method::GET,
        &href,
        &jwt(&app.access_token(&token).await),
        None,
    )
    .await;
    bodies.push(r.text);

    for body in &bodies {
        assert!(
            !body.contains(SECRET),
            "a response holds the secret: {body}"
        );
    }
    assert!(!log_text().contains(SECRET), "a log line holds the secret");
    // The password and the key file.
    assert_sealed_only(&app, SECRET, 2).await;
}

dual!(cr_7_auth_data_never_leaves_sealed);
