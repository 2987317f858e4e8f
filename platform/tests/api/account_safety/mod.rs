//! Account safety (issue 18, item 7): changing a password, resetting one by mail, signing out
//! everywhere, re-hashing legacy hashes at login (AU-3) and `Secure` cookies behind https.
//! Every test also checks that the passwords and reset codes it used appear in no response
//! and no log line (canaries).

mod password;
mod reset;
mod sessions;

use reqwest::Method;
use serde_json::json;

use crate::helpers::{Auth, Reply, TestApp, TestUser};

/// A password that passes the policy and is unique to one test, so that finding it anywhere
/// is proof it leaked.
fn canary_password(tag: &str) -> String {
    format!("canary {tag} {}", uuid::Uuid::new_v4().simple())
}

/// Asserts that no captured log line holds any of `secrets`.
fn assert_not_logged(secrets: &[&str]) {
    let logs = crate::helpers::log_text();
    for s in secrets {
        assert!(!logs.contains(s), "a secret appears in the logs: {s}");
    }
}

/// Asserts that a reply's body holds none of `secrets`.
fn assert_not_in(reply: &Reply, secrets: &[&str]) {
    for s in secrets {
        assert!(
            !reply.text.contains(s),
            "a secret appears in a response: {}",
            reply.text
        );
    }
}

/// Logs `email` in with `password`: the reply.
async fn login(app: &TestApp, email: &str, password: &str) -> Reply {
    app.post(
        "/api/v1/login",
        &Auth::None,
        json!({"email": email, "password": password}),
    )
    .await
}

/// A second browser session of `user`: its cookie.
async fn second_session(app: &TestApp, user: &TestUser) -> String {
    let r = login(app, &user.email, &user.password).await;
    r.results();
    r.session_cookie().expect("login sets the session cookie")
}

/// An API client's session of `user`: (access JWT, refresh token).
async fn api_session(app: &TestApp, user: &TestUser) -> (String, String) {
    let r = app
        .post(
            "/api/v1/auth/token",
            &Auth::None,
            json!({"grantType": "password", "email": user.email, "password": user.password}),
        )
        .await;
    let t = r.results();
    (
        t["accessToken"].as_str().unwrap().to_owned(),
        t["refreshToken"].as_str().unwrap().to_owned(),
    )
}

/// The status of `GET /api/v1/user` with `auth`.
async fn whoami(app: &TestApp, auth: &Auth) -> u16 {
    app.get("/api/v1/user", auth).await.status.as_u16()
}

/// The status of a refresh with `refresh_token`.
async fn refresh(app: &TestApp, refresh_token: &str) -> u16 {
    app.post(
        "/api/v1/auth/token",
        &Auth::None,
        json!({"grantType": "refresh_token", "refreshToken": refresh_token}),
    )
    .await
    .status
    .as_u16()
}

/// `DELETE /api/v1/user/me/sessions` with `auth`.
async fn end_all_sessions(app: &TestApp, auth: &Auth) -> Reply {
    app.send(Method::DELETE, "/api/v1/user/me/sessions", auth, None)
        .await
}

/// The password hash identity-svc stores for a user.
async fn stored_hash(app: &TestApp, user_uuid: &str) -> String {
    let id = uuid::Uuid::parse_str(user_uuid).unwrap();
    let sql = "SELECT password_hash FROM users WHERE user_uuid = $1";
    match &app.identity_db {
        service_kit::db::Pool::Sqlite(p) => sqlx::query_scalar(sql).bind(id).fetch_one(p).await,
        service_kit::db::Pool::Postgres(p) => sqlx::query_scalar(sql).bind(id).fetch_one(p).await,
    }
    .expect("the user's hash")
}

/// Replaces a user's stored password hash, as a row written by an older version would be.
async fn store_hash(app: &TestApp, user_uuid: &str, hash: &str) {
    let id = uuid::Uuid::parse_str(user_uuid).unwrap();
    let sql = "UPDATE users SET password_hash = $2 WHERE user_uuid = $1";
    let n = match &app.identity_db {
        service_kit::db::Pool::Sqlite(p) => sqlx::query(sql)
            .bind(id)
            .bind(hash)
            .execute(p)
            .await
            .map(|r| r.rows_affected()),
        service_kit::db::Pool::Postgres(p) => sqlx::query(sql)
            .bind(id)
            .bind(hash)
            .execute(p)
            .await
            .map(|r| r.rows_affected()),
    }
    .expect("hash stored");
    assert_eq!(n, 1);
}
