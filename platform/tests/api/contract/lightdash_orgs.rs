//! Lightdash's API, organization steps of `lightdash::every_implemented_operation_is_exercised`:
//! the organization, its members and invitations, user attributes and groups.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{Auth, TestApp, TestUser};

/// Organizations, members, invitations: errors first (no organization yet), then successes.
/// Returns the organization and an invited member.
pub(super) async fn organization_and_members(
    app: &TestApp,
    user: &TestUser,
    missing: uuid::Uuid,
) -> (String, String) {
    let cookie = Auth::Cookie(user.cookie.clone());
    let nobody = Auth::None;
    let missing_user = uuid::Uuid::now_v7();
    app.send(Method::PUT, "/api/v1/org", &cookie, Some(json!({})))
        .await
        .expect_error(400);
    app.get("/api/v1/org", &cookie).await.expect_error(403);
    app.send(
        Method::PATCH,
        "/api/v1/org",
        &cookie,
        Some(json!({"name": "x"})),
    )
    .await
    .expect_error(403);
    app.send(
        Method::DELETE,
        &format!("/api/v1/org/{missing}"),
        &cookie,
        None,
    )
    .await
    .expect_error(403);
    app.get("/api/v1/org/users", &cookie)
        .await
        .expect_error(403);
    app.get(&format!("/api/v1/org/users/{missing_user}"), &cookie)
        .await
        .expect_error(403);
    app.send(
        Method::PATCH,
        &format!("/api/v1/org/users/{missing_user}"),
        &cookie,
        Some(json!({"role": "viewer"})),
    )
    .await
    .expect_error(403);
    app.send(
        Method::DELETE,
        &format!("/api/v1/org/user/{missing_user}"),
        &cookie,
        None,
    )
    .await
    .expect_error(403);
    app.post(
        "/api/v1/invite-links",
        &cookie,
        json!({"email": "x@example.com"}),
    )
    .await
    .expect_error(403);
    app.send(Method::DELETE, "/api/v1/invite-links", &cookie, None)
        .await
        .expect_error(403);
    app.get("/api/v1/invite-links/ldinv_nope", &nobody)
        .await
        .expect_error(404);

    app.send(
        Method::PUT,
        "/api/v1/org",
        &cookie,
        Some(json!({"name": "Contract"})),
    )
    .await
    .results();
    let org = app.get("/api/v1/org", &cookie).await.results()["organizationUuid"]
        .as_str()
        .unwrap()
        .to_owned();
    app.send(
        Method::PATCH,
        "/api/v1/org",
        &cookie,
        Some(json!({"name": "Contract 2"})),
    )
    .await
    .results();
    let invite = app
        .post(
            "/api/v1/invite-links",
            &cookie,
            json!({"email": format!("c-{}@example.com", uuid::Uuid::new_v4().simple())}),
        )
        .await;
    let code = invite.results()["inviteCode"].as_str().unwrap().to_owned();
    let invited = invite.results()["userUuid"].as_str().unwrap().to_owned();
    app.get(&format!("/api/v1/invite-links/{code}"), &nobody)
        .await
        .results();
    app.get("/api/v1/org/users", &cookie).await.results();
    app.get(&format!("/api/v1/org/users/{invited}"), &cookie)
        .await
        .results();
    app.send(
        Method::PATCH,
        &format!("/api/v1/org/users/{invited}"),
        &cookie,
        Some(json!({"role": "editor"})),
    )
    .await
    .results();
    app.send(Method::DELETE, "/api/v1/invite-links", &cookie, None)
        .await
        .results();
    app.get("/api/v1/org/allowedEmailDomains", &cookie)
        .await
        .results();
    app.send(
        Method::PATCH,
        "/api/v1/org/allowedEmailDomains",
        &cookie,
        Some(json!({"role": "viewer", "emailDomains": ["example.com"], "projects": []})),
    )
    .await
    .results();
    app.send(
        Method::PATCH,
        "/api/v1/org/allowedEmailDomains",
        &cookie,
        Some(json!({"role": "admin", "emailDomains": [], "projects": []})),
    )
    .await
    .expect_error(400);
    app.get("/api/v1/org/allowedEmailDomains", &nobody)
        .await
        .expect_error(401);
    (org, invited)
}

/// User attributes: errors, then successes.
pub(super) async fn attributes(app: &TestApp, user: &TestUser, missing: uuid::Uuid, invited: &str) {
    let cookie = Auth::Cookie(user.cookie.clone());
    let nobody = Auth::None;
    let attr = json!({"name": "region", "attributeDefault": "eu", "users": [{"userUuid": invited, "value": "us"}], "groups": []});
    let at = format!("/api/v1/org/attributes/{missing}");
    app.post(
        "/api/v1/org/attributes",
        &cookie,
        json!({"name": "Bad Name", "attributeDefault": null, "users": [], "groups": []}),
    )
    .await
    .expect_error(400);
    app.send(Method::PUT, &at, &cookie, Some(attr.clone()))
        .await
        .expect_error(404);
    app.send(Method::DELETE, &at, &cookie, None)
        .await
        .expect_error(404);
    let created = app
        .post("/api/v1/org/attributes", &cookie, attr.clone())
        .await;
    let at = format!(
        "/api/v1/org/attributes/{}",
        created.results()["uuid"].as_str().unwrap()
    );
    app.get("/api/v1/org/attributes", &cookie).await.results();
    app.send(Method::PUT, &at, &cookie, Some(attr))
        .await
        .results();
    app.send(Method::DELETE, &at, &cookie, None).await.results();
    app.get("/api/v1/org/attributes", &nobody)
        .await
        .expect_error(401);
}

/// Groups: errors, then successes.
pub(super) async fn groups(app: &TestApp, user: &TestUser, missing: uuid::Uuid, invited: &str) {
    let cookie = Auth::Cookie(user.cookie.clone());
    let g = format!("/api/v1/groups/{missing}");
    app.post("/api/v1/org/groups", &cookie, json!({"name": ""}))
        .await
        .expect_error(400);
    app.get("/api/v1/org/groups?pageSize=0.5", &cookie)
        .await
        .expect_error(400);
    app.get(&g, &cookie).await.expect_error(404);
    app.send(Method::PATCH, &g, &cookie, Some(json!({"name": "x"})))
        .await
        .expect_error(404);
    app.send(Method::DELETE, &g, &cookie, None)
        .await
        .expect_error(404);
    app.get(&format!("{g}/members"), &cookie)
        .await
        .expect_error(404);
    app.send(
        Method::PUT,
        &format!("{g}/members/{invited}"),
        &cookie,
        None,
    )
    .await
    .expect_error(404);
    app.send(
        Method::DELETE,
        &format!("{g}/members/{invited}"),
        &cookie,
        None,
    )
    .await
    .expect_error(404);
    let created = app
        .post(
            "/api/v1/org/groups",
            &cookie,
            json!({"name": "Contract", "members": [{"userUuid": invited}]}),
        )
        .await;
    let g = format!(
        "/api/v1/groups/{}",
        created.results()["uuid"].as_str().unwrap()
    );
    app.get("/api/v1/org/groups?includeMembers=5", &cookie)
        .await
        .results();
    app.get("/api/v1/org/groups", &cookie).await.results();
    app.get(&format!("{g}?includeMembers=5"), &cookie)
        .await
        .results();
    app.get(&g, &cookie).await.results();
    app.send(
        Method::PATCH,
        &g,
        &cookie,
        Some(json!({"name": "Contract 2"})),
    )
    .await
    .results();
    app.get(&format!("{g}/members"), &cookie).await.results();
    app.send(
        Method::DELETE,
        &format!("{g}/members/{invited}"),
        &cookie,
        None,
    )
    .await
    .results();
    app.send(
        Method::PUT,
        &format!("{g}/members/{invited}"),
        &cookie,
        None,
    )
    .await
    .results();
    app.send(Method::DELETE, &g, &cookie, None).await.results();
}

/// The member and then the organization are removed (their success answers); the user logs out.
pub(super) async fn remove_the_organization(
    app: &TestApp,
    user: &TestUser,
    org: &str,
    invited: &str,
) {
    let cookie = Auth::Cookie(user.cookie.clone());
    app.send(
        Method::DELETE,
        &format!("/api/v1/org/user/{invited}"),
        &cookie,
        None,
    )
    .await
    .results();
    app.send(Method::DELETE, &format!("/api/v1/org/{org}"), &cookie, None)
        .await
        .results();
    app.get("/api/v1/logout", &cookie).await;
}
