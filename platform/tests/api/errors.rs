//! Bad input answers in the Lightdash error envelope with the right status (never a 500).

use reqwest::Method;
use serde_json::json;

use crate::helpers::{Auth, TestApp, dual};

fn register_body() -> serde_json::Value {
    json!({"email": format!("e-{}@example.com", uuid::Uuid::new_v4().simple()), "password": "long enough pw", "firstName": "A", "lastName": "B"})
}

async fn raw(
    app: &TestApp,
    content_type: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> crate::helpers::Reply {
    let mut req = app
        .http
        .post(format!("{}/api/v1/user", app.base))
        .body(body);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    app.finish(Method::POST, "/api/v1/user", req).await
}

async fn malformed_json_is_400(app: TestApp) {
    let r = raw(&app, Some("application/json"), "{\"email\": ").await;
    assert_eq!(r.expect_error(400)["name"], "ParameterError");
}

async fn a_missing_field_is_400(app: TestApp) {
    let mut body = register_body();
    body.as_object_mut().unwrap().remove("password");
    let r = app.post("/api/v1/user", &Auth::None, body).await;
    assert!(
        r.expect_error(400)["message"]
            .as_str()
            .unwrap()
            .contains("password"),
        "{}",
        r.body
    );
}

async fn a_wrong_type_is_400(app: TestApp) {
    let mut body = register_body();
    body["firstName"] = json!(42);
    app.post("/api/v1/user", &Auth::None, body)
        .await
        .expect_error(400);
    let user = app.register().await;
    let r = app
        .post(
            "/api/v1/user/me/personal-access-tokens",
            &Auth::Cookie(user.cookie),
            json!({"description": "x", "expiresAt": "next tuesday"}),
        )
        .await;
    r.expect_error(400);
}

/// A body must be a JSON object: serde would read `[email, password]` as a login's fields in
/// order (found by schemathesis, issue #19); every face refuses it in its own shape.
async fn an_array_body_is_400(app: TestApp) {
    let user = app.register().await;
    let array = json!([user.email, "correct horse battery staple"]);
    let r = app.post("/api/v1/login", &Auth::None, array.clone()).await;
    assert_eq!(
        r.expect_error(400)["message"],
        "The body must be a JSON object"
    );
    let (_, token) = app.create_pat(&user, json!({"description": "array"})).await;
    let r = app
        .post("/account/get", &Auth::Bearer(token), json!([null, null]))
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.body["error"], true);
}

/// AC-4: fields a caller may not set are refused, not silently applied.
async fn an_unknown_field_is_400(app: TestApp) {
    let mut body = register_body();
    body["role"] = json!("admin");
    let r = app.post("/api/v1/user", &Auth::None, body).await;
    assert!(
        r.expect_error(400)["message"]
            .as_str()
            .unwrap()
            .contains("role"),
        "{}",
        r.body
    );
    // AU-5: a password from the common-password list is refused, whatever its case.
    for common in ["password123", "Password123"] {
        let mut body = register_body();
        body["password"] = json!(common);
        let r = app.post("/api/v1/user", &Auth::None, body).await;
        let message = r.expect_error(400)["message"].as_str().unwrap().to_owned();
        assert!(message.contains("too common"), "{message}");
        assert!(!message.contains(common), "the password is not echoed");
    }
    let user = app.register().await;
    app.post(
        "/api/v1/user/me/personal-access-tokens",
        &Auth::Cookie(user.cookie),
        json!({"description": "x", "userUuid": "someone"}),
    )
    .await
    .expect_error(400);
}

async fn a_duplicate_email_is_409(app: TestApp) {
    let user = app.register().await;
    let mut body = register_body();
    body["email"] = json!(user.email.to_uppercase());
    let r = app.post("/api/v1/user", &Auth::None, body).await;
    assert_eq!(r.expect_error(409)["name"], "AlreadyExistsError");
}

async fn invalid_values_are_400(app: TestApp) {
    for (field, value) in [
        ("email", "not-an-email"),
        ("password", "short"),
        ("firstName", "   "),
    ] {
        let mut body = register_body();
        body[field] = json!(value);
        let r = app.post("/api/v1/user", &Auth::None, body).await;
        assert!(
            r.expect_error(400)["message"]
                .as_str()
                .unwrap()
                .contains(field),
            "{field}: {}",
            r.body
        );
    }
    // AU-5: a password from the common-password list is refused, whatever its case.
    for common in ["password123", "Password123"] {
        let mut body = register_body();
        body["password"] = json!(common);
        let r = app.post("/api/v1/user", &Auth::None, body).await;
        let message = r.expect_error(400)["message"].as_str().unwrap().to_owned();
        assert!(message.contains("too common"), "{message}");
        assert!(!message.contains(common), "the password is not echoed");
    }
    let user = app.register().await;
    app.post(
        "/api/v1/user/me/personal-access-tokens",
        &Auth::Cookie(user.cookie),
        json!({"description": "d".repeat(256)}),
    )
    .await
    .expect_error(400);
}

async fn an_unknown_route_is_404_and_a_wrong_method_405(app: TestApp) {
    let r = app.get("/api/v1/no-such-thing", &Auth::None).await;
    assert_eq!(r.expect_error(404)["name"], "NotFoundError");
    let r = app
        .send(Method::PUT, "/api/v1/login", &Auth::None, Some(json!({})))
        .await;
    r.expect_error(405);
}

async fn a_body_over_the_limit_is_413(app: TestApp) {
    let big = format!("{{\"email\":\"{}\"}}", "a".repeat(2 * 1024 * 1024));
    let r = raw(&app, Some("application/json"), big).await;
    assert_eq!(r.expect_error(413)["name"], "PayloadTooLargeError");
}

async fn a_wrong_content_type_is_415(app: TestApp) {
    let body = register_body().to_string();
    raw(&app, Some("text/plain"), body.clone())
        .await
        .expect_error(415);
    raw(&app, None, body).await.expect_error(415);
}

dual!(
    malformed_json_is_400,
    a_missing_field_is_400,
    a_wrong_type_is_400,
    an_array_body_is_400,
    an_unknown_field_is_400,
    a_duplicate_email_is_409,
    invalid_values_are_400,
    an_unknown_route_is_404_and_a_wrong_method_405,
    a_body_over_the_limit_is_413,
    a_wrong_content_type_is_415,
);
