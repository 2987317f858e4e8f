//! Invitations: a code adds its member once, re-inviting and revoking spend codes, expiry
//! bounds; a lapsed or revoked invitation does not keep the address.

use reqwest::Method;
use serde_json::json;

use super::{admin_of_new_org, cookie, outbox_types};
use crate::helpers::{Auth, TestApp, TestUser, dual};

async fn invitations_add_members_once(app: TestApp) {
    let (admin, org) = admin_of_new_org(&app, "Invites").await;
    let email = format!("bob-{}@example.com", uuid::Uuid::new_v4().simple());
    let invite = app
        .post(
            "/api/v1/invite-links",
            &cookie(&admin),
            json!({"email": email, "role": "editor"}),
        )
        .await;
    let link = invite.results().clone();
    assert_eq!(link["organizationUuid"], org.as_str());
    assert_eq!(link["email"], email.as_str());
    let code = link["inviteCode"].as_str().unwrap().to_owned();
    assert!(code.starts_with("ldinv_") && link["inviteUrl"].as_str().unwrap().ends_with(&code));
    // The sign-up page reads the invitation without authentication.
    assert_eq!(
        app.get(&format!("/api/v1/invite-links/{code}"), &Auth::None)
            .await
            .results()["email"],
        email.as_str()
    );
    // The pending member is listed as pending and cannot log in.
    let members = app
        .get("/api/v1/org/users", &cookie(&admin))
        .await
        .results()
        .clone();
    let pending = members["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["email"] == email.as_str())
        .unwrap()
        .clone();
    assert_eq!(pending["isPending"], true);
    assert_eq!(pending["role"], "editor");
    app.post(
        "/api/v1/login",
        &Auth::None,
        json!({"email": email, "password": ""}),
    )
    .await
    .expect_error(401);
    // Inviting a registered user is refused; inviting the pending one again gives a new code.
    app.post(
        "/api/v1/invite-links",
        &cookie(&admin),
        json!({"email": admin.email}),
    )
    .await
    .expect_error(409);
    let again = app
        .post(
            "/api/v1/invite-links",
            &cookie(&admin),
            json!({"email": email}),
        )
        .await;
    let code2 = again.results()["inviteCode"].as_str().unwrap().to_owned();
    assert_ne!(code, code2);

    let body = |code: &str| json!({"inviteCode": code, "password": "correct horse battery staple", "firstName": "Bob", "lastName": "B"});
    let joined = app.post("/api/v1/user", &Auth::None, body(&code)).await;
    assert_eq!(joined.results()["email"], email.as_str());
    let bob = Auth::Cookie(joined.session_cookie().unwrap());
    let me = app.get("/api/v1/user", &bob).await.results().clone();
    assert_eq!(
        (me["role"].as_str(), me["organizationUuid"].as_str()),
        (Some("editor"), Some(org.as_str()))
    );
    // Each code works once, and accepting one spends the others.
    app.post("/api/v1/user", &Auth::None, body(&code))
        .await
        .expect_error(404);
    app.post("/api/v1/user", &Auth::None, body(&code2))
        .await
        .expect_error(404);
    app.get(&format!("/api/v1/invite-links/{code}"), &Auth::None)
        .await
        .expect_error(404);
    app.post(
        "/api/v1/login",
        &Auth::None,
        json!({"email": email, "password": "correct horse battery staple"}),
    )
    .await
    .results();
    // Both a code and an email is ambiguous.
    app.post("/api/v1/user", &Auth::None, json!({"inviteCode": code, "email": email, "password": "x", "firstName": "a", "lastName": "b"}))
        .await
        .expect_error(400);

    // Revoking every invitation spends the open ones.
    let carol = app
        .post(
            "/api/v1/invite-links",
            &cookie(&admin),
            json!({"email": format!("carol-{}@example.com", uuid::Uuid::new_v4().simple())}),
        )
        .await;
    let carol_code = carol.results()["inviteCode"].as_str().unwrap().to_owned();
    app.send(
        Method::DELETE,
        "/api/v1/invite-links",
        &cookie(&admin),
        None,
    )
    .await
    .results();
    app.get(&format!("/api/v1/invite-links/{carol_code}"), &Auth::None)
        .await
        .expect_error(404);
    // Expiry bounds.
    for expires in ["2001-01-01T00:00:00Z", "2999-01-01T00:00:00Z"] {
        app.post(
            "/api/v1/invite-links",
            &cookie(&admin),
            json!({"email": "d@example.com", "expiresAt": expires}),
        )
        .await
        .expect_error(400);
    }
    app.post(
        "/api/v1/invite-links",
        &cookie(&admin),
        json!({"email": "e@example.com", "role": "owner"}),
    )
    .await
    .expect_error(400);
}

/// Invites `email` into the admin's organization.
async fn invite(app: &TestApp, admin: &TestUser, email: &str) -> crate::helpers::Reply {
    app.post(
        "/api/v1/invite-links",
        &cookie(admin),
        json!({"email": email}),
    )
    .await
}

/// An invitation that lapsed or was revoked does not keep its address: the person can
/// register, or another organization invite them.
async fn a_lapsed_invitation_does_not_keep_the_address(app: TestApp) {
    let (admin, _) = admin_of_new_org(&app, "Inviter").await;
    let email = format!("lapsed-{}@example.com", uuid::Uuid::new_v4().simple());
    let invited = invite(&app, &admin, &email).await;
    let code = invited.results()["inviteCode"].as_str().unwrap().to_owned();
    let register = json!({"email": email, "password": "correct horse battery staple", "firstName": "A", "lastName": "B"});
    app.post("/api/v1/user", &Auth::None, register.clone())
        .await
        .expect_error(409);
    let sql = "UPDATE invite_links SET expires_at = $1";
    let past = chrono::Utc::now() - chrono::Duration::minutes(1);
    match &app.identity_db {
        service_kit::db::Pool::Sqlite(p) => {
            sqlx::query(sql).bind(past).execute(p).await.map(|_| ())
        }
        service_kit::db::Pool::Postgres(p) => {
            sqlx::query(sql).bind(past).execute(p).await.map(|_| ())
        }
    }
    .unwrap();
    let user = app.post("/api/v1/user", &Auth::None, register).await;
    assert_eq!(user.results()["email"], email.as_str());
    app.get(&format!("/api/v1/invite-links/{code}"), &Auth::None)
        .await
        .expect_error(404);
    let members = app.get("/api/v1/org/users", &cookie(&admin)).await;
    assert!(
        !members.body.to_string().contains(&email),
        "{}",
        members.body
    );
    assert!(
        outbox_types(&app)
            .await
            .contains(&"user.deleted".to_owned())
    );

    // Revoked: another organization may invite the address.
    let other_email = format!("revoked-{}@example.com", uuid::Uuid::new_v4().simple());
    invite(&app, &admin, &other_email).await.results();
    app.send(
        Method::DELETE,
        "/api/v1/invite-links",
        &cookie(&admin),
        None,
    )
    .await
    .results();
    let (second, _) = admin_of_new_org(&app, "Second").await;
    let r = invite(&app, &second, &other_email).await;
    assert_eq!(r.status, 201, "{}", r.body);
    // A live invitation of another organization still holds it.
    let (third, _) = admin_of_new_org(&app, "Third").await;
    invite(&app, &third, &other_email).await.expect_error(409);
}

dual!(
    invitations_add_members_once,
    a_lapsed_invitation_does_not_keep_the_address,
);
