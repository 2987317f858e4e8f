//! Organizations, members and invitations: flows, the role matrix (lightdash.md section 2.3),
//! and isolation between two organizations (AC-1, AC-2, AC-3, AC-8). This module holds the
//! helpers other test modules use to set up an organization and its members.

mod invitations;
mod lifecycle;
mod members;

use reqwest::Method;
use serde_json::json;

use crate::helpers::{Auth, TestApp, TestUser};

pub(crate) fn cookie(u: &TestUser) -> Auth {
    Auth::Cookie(u.cookie.clone())
}

/// Registers a user and makes them the admin of a new organization; returns (user, org uuid).
pub(crate) async fn admin_of_new_org(app: &TestApp, name: &str) -> (TestUser, String) {
    let admin = app.register().await;
    app.send(
        Method::PUT,
        "/api/v1/org",
        &cookie(&admin),
        Some(json!({"name": name})),
    )
    .await
    .results();
    let org = app.get("/api/v1/org", &cookie(&admin)).await.results()["organizationUuid"]
        .as_str()
        .unwrap()
        .to_owned();
    (admin, org)
}

/// Invites a fresh email with `role` and registers through the invitation.
pub(crate) async fn invite_and_join(app: &TestApp, admin: &TestUser, role: &str) -> TestUser {
    let email = format!("{role}-{}@example.com", uuid::Uuid::new_v4().simple());
    let invite = app
        .post(
            "/api/v1/invite-links",
            &cookie(admin),
            json!({"email": email, "role": role}),
        )
        .await;
    assert_eq!(invite.status, 201, "{}", invite.body);
    let code = invite.results()["inviteCode"].as_str().unwrap().to_owned();
    register_invited(app, &code, &email, role).await
}

/// Registers the user invited at `email` with the invitation's `code`, named "Invited
/// `last_name`".
pub(crate) async fn register_invited(
    app: &TestApp,
    code: &str,
    email: &str,
    last_name: &str,
) -> TestUser {
    let password = "correct horse battery staple";
    let r = app
        .post("/api/v1/user", &Auth::None, json!({"inviteCode": code, "password": password, "firstName": "Invited", "lastName": last_name}))
        .await;
    let user_uuid = r.results()["userUuid"].as_str().unwrap().to_owned();
    TestUser {
        email: email.to_owned(),
        password: password.into(),
        cookie: r.session_cookie().unwrap(),
        user_uuid,
    }
}

async fn outbox_types(app: &TestApp) -> Vec<String> {
    match &app.identity_db {
        service_kit::db::Pool::Sqlite(p) => {
            sqlx::query_scalar("SELECT event_type FROM outbox_events")
                .fetch_all(p)
                .await
        }
        service_kit::db::Pool::Postgres(p) => {
            sqlx::query_scalar("SELECT event_type FROM outbox_events")
                .fetch_all(p)
                .await
        }
    }
    .unwrap()
}
