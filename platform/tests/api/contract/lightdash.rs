//! Lightdash's API: every operation this build implements is exercised with a success and an
//! error answer, each validated against the contract as it arrives. The steps run in order on
//! one platform: users and tokens, an organization (`lightdash_orgs`), projects
//! (`lightdash_projects`), email verification, warehouse credentials.

use reqwest::Method;
use serde_json::json;

use super::{LIGHTDASH, lightdash_orgs, lightdash_projects};
use crate::helpers::{Auth, TestApp, TestUser, dual};

/// The Lightdash operations this build implements: each must be exercised with a success and
/// an error answer, both validated.
const IMPLEMENTED: &[(&str, &str)] = &[
    ("POST", "/api/v1/user"),
    ("GET", "/api/v1/user"),
    ("POST", "/api/v1/login"),
    ("GET", "/api/v1/logout"),
    ("GET", "/api/v1/user/me/personal-access-tokens"),
    ("POST", "/api/v1/user/me/personal-access-tokens"),
    (
        "DELETE",
        "/api/v1/user/me/personal-access-tokens/{personalAccessTokenUuid}",
    ),
    (
        "PATCH",
        "/api/v1/user/me/personal-access-tokens/{personalAccessTokenUuid}/rotate",
    ),
    ("PUT", "/api/v1/org"),
    ("GET", "/api/v1/org"),
    ("PATCH", "/api/v1/org"),
    ("DELETE", "/api/v1/org/{organizationUuid}"),
    ("GET", "/api/v1/org/users"),
    ("GET", "/api/v1/org/users/{userUuid}"),
    ("PATCH", "/api/v1/org/users/{userUuid}"),
    ("DELETE", "/api/v1/org/user/{userUuid}"),
    ("POST", "/api/v1/invite-links"),
    ("DELETE", "/api/v1/invite-links"),
    ("GET", "/api/v1/invite-links/{inviteLinkCode}"),
    ("DELETE", "/api/v1/user/me"),
    ("GET", "/api/v1/user/login-options"),
    ("GET", "/api/v1/org/projects"),
    ("GET", "/api/v1/projects/{projectUuid}"),
    ("PATCH", "/api/v1/projects/{projectUuid}/metadata"),
    ("PATCH", "/api/v1/projects/{projectUuid}/schedulerSettings"),
    ("GET", "/api/v1/projects/{projectUuid}/access"),
    ("POST", "/api/v1/projects/{projectUuid}/access"),
    ("PATCH", "/api/v1/projects/{projectUuid}/access/{userUuid}"),
    ("DELETE", "/api/v1/projects/{projectUuid}/access/{userUuid}"),
    ("GET", "/api/v1/projects/{projectUuid}/user/{userUuid}"),
    ("GET", "/api/v1/projects/{projectUuid}/groupAccesses"),
    ("POST", "/api/v1/groups/{groupUuid}/projects/{projectUuid}"),
    ("PATCH", "/api/v1/groups/{groupUuid}/projects/{projectUuid}"),
    (
        "DELETE",
        "/api/v1/groups/{groupUuid}/projects/{projectUuid}",
    ),
    ("POST", "/api/v1/projects/{projectUuid}/spaces"),
    ("GET", "/api/v1/projects/{projectUuid}/spaces"),
    ("GET", "/api/v1/projects/{projectUuid}/spaces/{spaceUuid}"),
    ("PATCH", "/api/v1/projects/{projectUuid}/spaces/{spaceUuid}"),
    (
        "DELETE",
        "/api/v1/projects/{projectUuid}/spaces/{spaceUuid}",
    ),
    (
        "POST",
        "/api/v1/projects/{projectUuid}/spaces/{spaceUuid}/share",
    ),
    (
        "DELETE",
        "/api/v1/projects/{projectUuid}/spaces/{spaceUuid}/share/{userUuid}",
    ),
    (
        "POST",
        "/api/v1/projects/{projectUuid}/spaces/{spaceUuid}/group/share",
    ),
    (
        "DELETE",
        "/api/v1/projects/{projectUuid}/spaces/{spaceUuid}/group/share/{groupUuid}",
    ),
    ("POST", "/api/v1/projects/{projectUuid}/tags"),
    ("GET", "/api/v1/projects/{projectUuid}/tags"),
    ("PUT", "/api/v1/projects/{projectUuid}/tags/yaml"),
    ("PATCH", "/api/v1/projects/{projectUuid}/tags/{tagUuid}"),
    ("DELETE", "/api/v1/projects/{projectUuid}/tags/{tagUuid}"),
    ("GET", "/api/v1/user/me/email/status"),
    ("PUT", "/api/v1/user/me/email/otp"),
    ("GET", "/api/v1/user/me/allowedOrganizations"),
    (
        "POST",
        "/api/v1/user/me/joinOrganization/{organizationUuid}",
    ),
    ("GET", "/api/v1/org/allowedEmailDomains"),
    ("PATCH", "/api/v1/org/allowedEmailDomains"),
    ("GET", "/api/v1/org/attributes"),
    ("POST", "/api/v1/org/attributes"),
    ("PUT", "/api/v1/org/attributes/{userAttributeUuid}"),
    ("DELETE", "/api/v1/org/attributes/{userAttributeUuid}"),
    ("POST", "/api/v1/org/groups"),
    ("GET", "/api/v1/org/groups"),
    ("GET", "/api/v1/groups/{groupUuid}"),
    ("PATCH", "/api/v1/groups/{groupUuid}"),
    ("DELETE", "/api/v1/groups/{groupUuid}"),
    ("GET", "/api/v1/groups/{groupUuid}/members"),
    ("PUT", "/api/v1/groups/{groupUuid}/members/{userUuid}"),
    ("DELETE", "/api/v1/groups/{groupUuid}/members/{userUuid}"),
    ("GET", "/api/v1/user/warehouseCredentials"),
    ("POST", "/api/v1/user/warehouseCredentials"),
    ("PATCH", "/api/v1/user/warehouseCredentials/{uuid}"),
    ("DELETE", "/api/v1/user/warehouseCredentials/{uuid}"),
    ("GET", "/api/v1/projects/{projectUuid}/user-credentials"),
    (
        "PATCH",
        "/api/v1/projects/{projectUuid}/user-credentials/{userWarehouseCredentialsUuid}",
    ),
];

async fn every_implemented_operation_is_exercised(app: TestApp) {
    let user = app.register().await;
    let missing = uuid::Uuid::now_v7();
    users_and_tokens(&app, &user, missing).await;
    let (org, invited) = lightdash_orgs::organization_and_members(&app, &user, missing).await;
    lightdash_orgs::attributes(&app, &user, missing, &invited).await;
    lightdash_orgs::groups(&app, &user, missing, &invited).await;
    lightdash_orgs::remove_the_organization(&app, &user, &org, &invited).await;

    let nobody = Auth::None;
    app.get("/api/v1/user/login-options", &nobody)
        .await
        .results();
    app.get("/api/v1/user/login-options?x=1", &nobody)
        .await
        .expect_error(400);
    lightdash_projects::projects_and_their_access(&app).await;
    email_verification_and_joining_by_domain(&app).await;
    warehouse_credentials(&app, missing).await;

    let seen = LIGHTDASH.seen.lock().unwrap().clone();
    for (method, template) in IMPLEMENTED {
        for outcome in ["success", "error"] {
            let key = format!("{method} {template} {outcome}");
            assert!(
                seen.contains(&key),
                "not exercised against the contract: {key}"
            );
        }
    }
}

dual!(every_implemented_operation_is_exercised);

/// Users, sessions and personal access tokens: error answers, then success answers.
async fn users_and_tokens(app: &TestApp, user: &TestUser, missing: uuid::Uuid) {
    let cookie = Auth::Cookie(user.cookie.clone());
    let nobody = Auth::None;
    // Error answers of each operation.
    app.post("/api/v1/user", &nobody, json!({"email": user.email, "password": "whatever it is", "firstName": "A", "lastName": "B"}))
        .await
        .expect_error(409);
    app.get("/api/v1/user", &nobody).await.expect_error(401);
    app.post(
        "/api/v1/login",
        &nobody,
        json!({"email": user.email, "password": "wrong password!"}),
    )
    .await
    .expect_error(401);
    app.get("/api/v1/logout", &nobody).await.expect_error(401);
    app.get("/api/v1/user/me/personal-access-tokens", &nobody)
        .await
        .expect_error(401);
    app.post("/api/v1/user/me/personal-access-tokens", &cookie, json!({}))
        .await
        .expect_error(400);
    app.send(
        Method::DELETE,
        &format!("/api/v1/user/me/personal-access-tokens/{missing}"),
        &cookie,
        None,
    )
    .await
    .expect_error(404);
    app.send(
        Method::PATCH,
        &format!("/api/v1/user/me/personal-access-tokens/{missing}/rotate"),
        &cookie,
        Some(json!({"expiresAt": "2099-01-01T00:00:00Z"})),
    )
    .await
    .expect_error(404);
    // Success answers.
    app.get("/api/v1/user", &cookie).await.results();
    let login = app
        .post(
            "/api/v1/login",
            &nobody,
            json!({"email": user.email, "password": user.password}),
        )
        .await;
    login.results();
    let (uuid, _) = app
        .create_pat(
            user,
            json!({"description": "contract", "expiresAt": "2099-01-01T00:00:00.000Z"}),
        )
        .await;
    app.get("/api/v1/user/me/personal-access-tokens", &cookie)
        .await
        .results();
    app.send(
        Method::PATCH,
        &format!("/api/v1/user/me/personal-access-tokens/{uuid}/rotate"),
        &cookie,
        Some(json!({"expiresAt": "2099-06-01T00:00:00.000Z"})),
    )
    .await
    .results();
    app.send(
        Method::DELETE,
        &format!("/api/v1/user/me/personal-access-tokens/{uuid}"),
        &cookie,
        None,
    )
    .await;
}

/// Email verification, joining an organization by email domain, deleting one's account.
async fn email_verification_and_joining_by_domain(app: &TestApp) {
    let nobody = Auth::None;
    let (owner, domain_org) = crate::organizations::admin_of_new_org(app, "By domain").await;
    app.send(
        Method::PATCH,
        "/api/v1/org/allowedEmailDomains",
        &Auth::Cookie(owner.cookie.clone()),
        Some(json!({"role": "viewer", "emailDomains": ["contract.example"], "projects": []})),
    )
    .await
    .results();
    let joiner = app
        .register_with(
            &format!("j-{}@contract.example", uuid::Uuid::new_v4().simple()),
            "correct horse battery staple",
        )
        .await;
    let j = Auth::Cookie(joiner.cookie.clone());
    let join = format!("/api/v1/user/me/joinOrganization/{domain_org}");
    app.get("/api/v1/user/me/email/status", &nobody)
        .await
        .expect_error(401);
    app.send(Method::PUT, "/api/v1/user/me/email/otp", &nobody, None)
        .await
        .expect_error(401);
    app.get("/api/v1/user/me/allowedOrganizations", &nobody)
        .await
        .expect_error(401);
    app.post(&join, &j, json!({})).await.expect_error(403);
    app.get("/api/v1/user/me/email/status", &j).await.results();
    app.verify_email(&joiner).await;
    app.get("/api/v1/user/me/allowedOrganizations", &j)
        .await
        .results();
    app.post(&join, &j, json!({})).await.results();

    let leaving = app.register().await;
    app.send(Method::DELETE, "/api/v1/user/me", &nobody, None)
        .await
        .expect_error(401);
    app.send(
        Method::DELETE,
        "/api/v1/user/me",
        &Auth::Cookie(leaving.cookie),
        None,
    )
    .await
    .results();
}

/// Personal warehouse credentials and the per-project preference.
async fn warehouse_credentials(app: &TestApp, missing: uuid::Uuid) {
    let nobody = Auth::None;
    let analyst = app.register().await;
    let an = Auth::Cookie(analyst.cookie.clone());
    app.send(Method::PUT, "/api/v1/org", &an, Some(json!({"name": "Wh"})))
        .await
        .results();
    let project = app
        .post("/api/v1/org/projects", &an, json!({"name": "Wh"}))
        .await
        .results()["projectUuid"]
        .as_str()
        .unwrap()
        .to_owned();
    let creds = "/api/v1/user/warehouseCredentials";
    let body =
        json!({"name": "mine", "credentials": {"type": "postgres", "user": "u", "password": "p"}});
    app.get(creds, &nobody).await.expect_error(401);
    app.post(creds, &an, json!({"name": "x"}))
        .await
        .expect_error(400);
    let made = app.post(creds, &an, body.clone()).await;
    let made = made.results()["uuid"].as_str().unwrap().to_owned();
    app.get(creds, &an).await.results();
    let one = format!("{creds}/{made}");
    let other = format!("{creds}/{missing}");
    app.send(Method::PATCH, &other, &an, Some(body.clone()))
        .await
        .expect_error(404);
    app.send(Method::PATCH, &one, &an, Some(body))
        .await
        .results();
    let pref = format!("/api/v1/projects/{project}/user-credentials");
    app.get(&pref, &nobody).await.expect_error(401);
    app.get(&pref, &an).await.results();
    app.send(Method::PATCH, &format!("{pref}/{missing}"), &an, None)
        .await
        .expect_error(404);
    app.send(Method::PATCH, &format!("{pref}/{made}"), &an, None)
        .await;
    app.send(Method::DELETE, &other, &an, None)
        .await
        .expect_error(404);
    app.send(Method::DELETE, &one, &an, None).await;
}
