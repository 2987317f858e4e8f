//! Logs: structured JSON, a request id on every line written inside a request, and no secret
//! (a canary password, session and token) in any line (checklist AP-5, TK-8, CR-8 spirit).

use serde_json::json;

use crate::helpers::{Auth, TestApp, dual, log_lines, log_text};

async fn canary_secrets_never_reach_the_logs(app: TestApp) {
    let canary_password = format!("canary-password-{}", uuid::Uuid::new_v4().simple());
    let email = format!("canary-{}@example.com", uuid::Uuid::new_v4().simple());
    let user = app.register_with(&email, &canary_password).await;
    let login = app
        .post(
            "/api/v1/login",
            &Auth::None,
            json!({"email": email, "password": canary_password}),
        )
        .await;
    let session = login.session_cookie().unwrap();
    app.post(
        "/api/v1/login",
        &Auth::None,
        json!({"email": email, "password": format!("{canary_password}-wrong")}),
    )
    .await;
    let (_, pat) = app
        .create_pat(&user, json!({"description": "canary"}))
        .await;
    app.get("/api/v1/user", &Auth::ApiKey(pat.clone()))
        .await
        .results();
    let jwt = app.access_token(&pat).await;
    app.get("/api/v1/user", &Auth::Bearer(jwt.clone()))
        .await
        .results();
    app.get("/api/v1/user", &Auth::Bearer(format!("{jwt}x")))
        .await;
    app.get("/api/v1/user", &Auth::Cookie(session.clone()))
        .await;

    // An invitation code travels in a path: it must not be logged either.
    app.send(
        reqwest::Method::PUT,
        "/api/v1/org",
        &Auth::Cookie(session.clone()),
        Some(json!({"name": "Canary"})),
    )
    .await
    .results();
    let invite = app
        .post(
            "/api/v1/invite-links",
            &Auth::Cookie(session.clone()),
            json!({"email": format!("inv-{}@example.com", uuid::Uuid::new_v4().simple())}),
        )
        .await;
    let code = invite.results()["inviteCode"].as_str().unwrap().to_owned();
    app.get(&format!("/api/v1/invite-links/{code}"), &Auth::None)
        .await
        .results();
    let logs = log_text();
    assert!(logs.contains(&user.user_uuid), "the flow was logged at all");
    for (name, secret) in [
        ("password", canary_password.as_str()),
        ("session", session.as_str()),
        ("pat", pat.as_str()),
        ("jwt", jwt.as_str()),
    ] {
        assert!(!logs.contains(secret), "the {name} appears in the logs");
    }
    assert!(
        !logs.contains(&pat[6..]),
        "part of the token appears in the logs"
    );
}

async fn every_line_of_a_request_carries_its_request_id(app: TestApp) {
    let user = app.register().await;
    let request_id = format!("req-{}", uuid::Uuid::new_v4().simple());
    let res = app
        .http
        .post(format!("{}/api/v1/login", app.base))
        .header("x-request-id", &request_id)
        .json(&json!({"email": user.email, "password": user.password}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.headers()["x-request-id"],
        request_id.as_str(),
        "the id is echoed to the client"
    );
    let lines = log_lines();
    let ours: Vec<_> = lines
        .iter()
        .filter(|l| l.to_string().contains(&request_id))
        .collect();
    assert!(
        ours.iter()
            .any(|l| l["message"] == "request finished" && l["target"] == "gateway::http"),
        "the gateway's line"
    );
    assert!(
        ours.iter().any(|l| l["message"] == "login"
            && l["target"].as_str().unwrap().starts_with("identity_svc")),
        "identity-svc's line"
    );
    // Every line written inside a request span, anywhere, names its request.
    for line in &lines {
        if let Some(spans) = line["spans"].as_array().filter(|s| !s.is_empty()) {
            let root = &spans[0];
            assert!(
                matches!(root["name"].as_str(), Some("http" | "grpc")),
                "a line outside a request span: {line}"
            );
            assert!(
                root["request_id"].as_str().is_some_and(|id| !id.is_empty()),
                "a line without request id: {line}"
            );
        }
    }
}

dual!(
    canary_secrets_never_reach_the_logs,
    every_line_of_a_request_carries_its_request_id
);
