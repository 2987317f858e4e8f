//! An organization's life: created, changed and deleted; it always keeps an admin (AC-6); its
//! allowed email domains are set by admins only.

use reqwest::Method;
use serde_json::json;

use super::{admin_of_new_org, cookie, invite_and_join, outbox_types};
use crate::helpers::{Auth, TestApp, dual};

async fn an_organization_is_created_changed_and_deleted(app: TestApp) {
    let alice = app.register().await;
    app.get("/api/v1/org", &cookie(&alice))
        .await
        .expect_error(403);
    app.send(
        Method::PUT,
        "/api/v1/org",
        &cookie(&alice),
        Some(json!({"name": "  "})),
    )
    .await
    .expect_error(400);
    app.send(
        Method::PUT,
        "/api/v1/org",
        &cookie(&alice),
        Some(json!({"name": "Acme"})),
    )
    .await
    .results();
    let org = app
        .get("/api/v1/org", &cookie(&alice))
        .await
        .results()
        .clone();
    assert_eq!(org["name"], "Acme");
    let me = app
        .get("/api/v1/user", &cookie(&alice))
        .await
        .results()
        .clone();
    assert_eq!(me["organizationUuid"], org["organizationUuid"]);
    assert_eq!(me["organizationName"], "Acme");
    assert_eq!(me["role"], "admin", "the creator becomes admin");
    app.send(
        Method::PUT,
        "/api/v1/org",
        &cookie(&alice),
        Some(json!({"name": "Second"})),
    )
    .await
    .expect_error(409);

    app.send(
        Method::PATCH,
        "/api/v1/org",
        &cookie(&alice),
        Some(json!({"name": "Acme Inc", "chartColors": ["#000", "#fff"]})),
    )
    .await
    .results();
    let org = app
        .get("/api/v1/org", &cookie(&alice))
        .await
        .results()
        .clone();
    assert_eq!(org["name"], "Acme Inc");
    assert_eq!(org["chartColors"], json!(["#000", "#fff"]));
    app.send(
        Method::PATCH,
        "/api/v1/org",
        &cookie(&alice),
        Some(json!({"organizationUuid": "x"})),
    )
    .await
    .expect_error(400);

    let uuid = org["organizationUuid"].as_str().unwrap();
    let missing = uuid::Uuid::now_v7();
    app.send(
        Method::DELETE,
        &format!("/api/v1/org/{missing}"),
        &cookie(&alice),
        None,
    )
    .await
    .expect_error(404);
    app.send(
        Method::DELETE,
        &format!("/api/v1/org/{uuid}"),
        &cookie(&alice),
        None,
    )
    .await
    .results();
    app.get("/api/v1/org", &cookie(&alice))
        .await
        .expect_error(403);
    assert!(
        app.get("/api/v1/user", &cookie(&alice))
            .await
            .results()
            .get("organizationUuid")
            .is_none()
    );
    assert!(
        outbox_types(&app)
            .await
            .contains(&"organization.deleted".to_owned()),
        "the deletion is recorded for other services"
    );
}

async fn an_organization_always_keeps_an_admin(app: TestApp) {
    let (alice, _) = admin_of_new_org(&app, "Admins").await;
    let me = alice.user_uuid.clone();
    app.send(
        Method::PATCH,
        &format!("/api/v1/org/users/{me}"),
        &cookie(&alice),
        Some(json!({"role": "editor"})),
    )
    .await
    .expect_error(400);
    app.send(
        Method::DELETE,
        &format!("/api/v1/org/user/{me}"),
        &cookie(&alice),
        None,
    )
    .await
    .expect_error(400);
    let bob = invite_and_join(&app, &alice, "viewer").await;
    let promoted = app
        .send(
            Method::PATCH,
            &format!("/api/v1/org/users/{}", bob.user_uuid),
            &cookie(&alice),
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_eq!(promoted.results()["role"], "admin");
    app.send(
        Method::PATCH,
        &format!("/api/v1/org/users/{me}"),
        &cookie(&alice),
        Some(json!({"role": "editor"})),
    )
    .await
    .results();
    // AC-6: the demotion holds on alice's very next request.
    app.send(
        Method::PATCH,
        "/api/v1/org",
        &cookie(&alice),
        Some(json!({"name": "x"})),
    )
    .await
    .expect_error(403);
    app.send(
        Method::DELETE,
        &format!("/api/v1/org/user/{me}"),
        &cookie(&bob),
        None,
    )
    .await
    .results();
    app.get("/api/v1/org", &cookie(&alice))
        .await
        .expect_error(403);
    assert!(
        outbox_types(&app)
            .await
            .contains(&"organization.member_removed".to_owned())
    );
}

async fn allowed_email_domains_are_set_by_admins(app: TestApp) {
    let (admin, org) = admin_of_new_org(&app, "Domains").await;
    let viewer = invite_and_join(&app, &admin, "viewer").await;
    let a = cookie(&admin);
    let initial = app
        .get("/api/v1/org/allowedEmailDomains", &a)
        .await
        .results()
        .clone();
    assert_eq!(
        initial,
        json!({"organizationUuid": org, "emailDomains": [], "role": "viewer", "projects": []})
    );
    let set = app
        .send(Method::PATCH, "/api/v1/org/allowedEmailDomains", &a, Some(json!({"role": "editor", "emailDomains": ["Example.COM", "@corp.example.org", "example.com"], "projects": []})))
        .await;
    assert_eq!(
        set.results()["emailDomains"],
        json!(["corp.example.org", "example.com"])
    );
    assert_eq!(
        app.get("/api/v1/org/allowedEmailDomains", &a)
            .await
            .results()["role"],
        "editor"
    );
    for bad in [
        json!({"role": "admin", "emailDomains": [], "projects": []}),
        json!({"role": "viewer", "emailDomains": ["not a domain"], "projects": []}),
        json!({"role": "viewer", "emailDomains": ["localhost"], "projects": []}),
        json!({"role": "viewer", "emailDomains": [], "projects": [{"projectUuid": "p", "role": "viewer"}]}),
        json!({"role": "viewer", "emailDomains": []}),
    ] {
        app.send(
            Method::PATCH,
            "/api/v1/org/allowedEmailDomains",
            &a,
            Some(bad),
        )
        .await
        .expect_error(400);
    }
    let v = cookie(&viewer);
    app.get("/api/v1/org/allowedEmailDomains", &v)
        .await
        .expect_error(403);
    app.send(
        Method::PATCH,
        "/api/v1/org/allowedEmailDomains",
        &v,
        Some(json!({"role": "viewer", "emailDomains": [], "projects": []})),
    )
    .await
    .expect_error(403);
    app.get("/api/v1/org/allowedEmailDomains", &Auth::None)
        .await
        .expect_error(401);
}

dual!(
    allowed_email_domains_are_set_by_admins,
    an_organization_is_created_changed_and_deleted,
    an_organization_always_keeps_an_admin,
);
