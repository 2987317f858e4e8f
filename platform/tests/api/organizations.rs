//! Organizations, members and invitations: flows, the role matrix (lightdash.md section 2.3),
//! and isolation between two organizations (AC-1, AC-2, AC-3, AC-8).

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Auth, TestApp, TestUser, dual};

const ROLES: [&str; 6] = [
    "admin",
    "developer",
    "editor",
    "interactive_viewer",
    "viewer",
    "member",
];

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
    let password = "correct horse battery staple";
    let r = app
        .post("/api/v1/user", &Auth::None, json!({"inviteCode": code, "password": password, "firstName": "Invited", "lastName": role}))
        .await;
    let user_uuid = r.results()["userUuid"].as_str().unwrap().to_owned();
    TestUser {
        email,
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

async fn members_are_paginated_and_searchable(app: TestApp) {
    let (admin, _) = admin_of_new_org(&app, "Paging").await;
    for i in 0..5 {
        app.post(
            "/api/v1/invite-links",
            &cookie(&admin),
            json!({"email": format!("person{i}-{}@example.com", uuid::Uuid::new_v4().simple())}),
        )
        .await
        .results();
    }
    let mut seen = Vec::new();
    for page in 1..=3 {
        let r = app
            .get(
                &format!("/api/v1/org/users?page={page}&pageSize=2"),
                &cookie(&admin),
            )
            .await;
        let res = r.results().clone();
        assert_eq!(
            res["pagination"],
            json!({"page": page, "pageSize": 2, "totalResults": 6, "totalPageCount": 3})
        );
        seen.extend(
            res["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["userUuid"].as_str().unwrap().to_owned()),
        );
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 6, "pages neither overlap nor skip");
    let found = app
        .get("/api/v1/org/users?searchQuery=PERSON3", &cookie(&admin))
        .await
        .results()
        .clone();
    assert_eq!(found["data"].as_array().unwrap().len(), 1);
    assert_eq!(found["pagination"]["totalResults"], json!(1));
    // The last name and the email match, case-insensitively; a match never spans two fields
    // (they are one stored key inside). No hex digit in these, so no random email matches.
    for (query, hits) in [
        ("LOVEL", 1),
        ("person", 5),
        ("lovelaceuser", 0),
        ("lovelace user", 0),
    ] {
        let found = app
            .get(
                &format!(
                    "/api/v1/org/users?searchQuery={}",
                    query.replace(' ', "%20")
                ),
                &cookie(&admin),
            )
            .await
            .results()
            .clone();
        assert_eq!(found["pagination"]["totalResults"], json!(hits), "{query}");
    }
    app.get(
        "/api/v1/org/users?searchQuery=ada%1Flovelace",
        &cookie(&admin),
    )
    .await
    .expect_error(400);
    let none = app
        .get("/api/v1/org/users?searchQuery=%25", &cookie(&admin))
        .await
        .results()
        .clone();
    assert_eq!(
        none["data"].as_array().unwrap().len(),
        0,
        "LIKE wildcards in the search are literal"
    );
    app.get("/api/v1/org/users?pageSize=1000", &cookie(&admin))
        .await
        .expect_error(400);
    app.get("/api/v1/org/users?pageSize=abc", &cookie(&admin))
        .await
        .expect_error(400);
    app.get("/api/v1/org/users?unknown=1", &cookie(&admin))
        .await
        .expect_error(400);
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

/// What one cell of the matrix expects.
fn expect(reply: &crate::helpers::Reply, allowed: bool, cell: &str) {
    if allowed {
        assert!(
            reply.status.is_success(),
            "{cell}: expected success, got {} {}",
            reply.status,
            reply.body
        );
    } else {
        assert_eq!(
            reply.status.as_u16(),
            403,
            "{cell}: expected 403, got {}",
            reply.body
        );
    }
}

/// Every organization operation as each role, as a user of another organization, and as no one.
async fn role_matrix_and_isolation(app: TestApp) {
    let (admin, org_a) = admin_of_new_org(&app, "A").await;
    let (outsider, org_b) = admin_of_new_org(&app, "B").await;
    let mut users: Vec<(&str, TestUser)> = vec![("admin", admin.clone())];
    for role in &ROLES[1..] {
        users.push((role, invite_and_join(&app, &admin, role).await));
    }
    let victim = invite_and_join(&app, &admin, "member").await;
    for (role, user) in &users {
        let who = cookie(user);
        let is_admin = *role == "admin";
        let cell = |op: &str| format!("{role} {op}");
        expect(
            &app.get("/api/v1/org", &who).await,
            true,
            &cell("GetMyOrganization"),
        );
        expect(
            &app.get("/api/v1/org/users", &who).await,
            true,
            &cell("ListOrganizationMembers"),
        );
        expect(
            &app.get(&format!("/api/v1/org/users/{}", victim.user_uuid), &who)
                .await,
            true,
            &cell("GetOrganizationMember"),
        );
        expect(
            &app.send(
                Method::PATCH,
                "/api/v1/org",
                &who,
                Some(json!({"name": "A"})),
            )
            .await,
            is_admin,
            &cell("UpdateMyOrganization"),
        );
        let role_change = app
            .send(
                Method::PATCH,
                &format!("/api/v1/org/users/{}", victim.user_uuid),
                &who,
                Some(json!({"role": "viewer"})),
            )
            .await;
        expect(&role_change, is_admin, &cell("UpdateOrganizationMember"));
        let invite = app
            .post(
                "/api/v1/invite-links",
                &who,
                json!({"email": format!("m-{}@example.com", uuid::Uuid::new_v4().simple())}),
            )
            .await;
        expect(&invite, is_admin, &cell("CreateInviteLink"));
        expect(
            &app.send(Method::DELETE, "/api/v1/invite-links", &who, None)
                .await,
            is_admin,
            &cell("RevokeAllInviteLinks"),
        );
        if !is_admin {
            expect(
                &app.send(
                    Method::DELETE,
                    &format!("/api/v1/org/user/{}", victim.user_uuid),
                    &who,
                    None,
                )
                .await,
                false,
                &cell("DeleteOrganizationMember"),
            );
            expect(
                &app.send(Method::DELETE, &format!("/api/v1/org/{org_a}"), &who, None)
                    .await,
                false,
                &cell("DeleteMyOrganization"),
            );
        }
    }

    // A user of organization B: A's objects do not exist for them (AC-1, AC-8), lists hold only B (AC-2).
    let b = cookie(&outsider);
    let not_found = app
        .get(&format!("/api/v1/org/users/{}", victim.user_uuid), &b)
        .await;
    let random = app
        .get(&format!("/api/v1/org/users/{}", uuid::Uuid::now_v7()), &b)
        .await;
    assert_eq!(
        not_found.expect_error(404),
        random.expect_error(404),
        "not yours and not found answer alike"
    );
    app.send(
        Method::PATCH,
        &format!("/api/v1/org/users/{}", victim.user_uuid),
        &b,
        Some(json!({"role": "admin"})),
    )
    .await
    .expect_error(404);
    app.send(
        Method::DELETE,
        &format!("/api/v1/org/user/{}", victim.user_uuid),
        &b,
        None,
    )
    .await
    .expect_error(404);
    app.send(Method::DELETE, &format!("/api/v1/org/{org_a}"), &b, None)
        .await
        .expect_error(404);
    let b_members = app.get("/api/v1/org/users", &b).await.results().clone();
    let ids: Vec<&Value> = b_members["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["userUuid"])
        .collect();
    assert_eq!(
        ids,
        vec![&json!(outsider.user_uuid)],
        "B sees only B's members"
    );
    assert_eq!(
        app.get("/api/v1/org", &b).await.results()["organizationUuid"],
        org_b.as_str()
    );
    let a_members = app
        .get("/api/v1/org/users?pageSize=100", &cookie(&admin))
        .await
        .results()
        .clone();
    assert!(
        !a_members.to_string().contains(&outsider.user_uuid),
        "A's list holds no B member"
    );

    // No one: 401 everywhere.
    for (method, path) in [
        (Method::GET, "/api/v1/org".to_owned()),
        (Method::PATCH, "/api/v1/org".to_owned()),
        (Method::GET, "/api/v1/org/users".to_owned()),
        (
            Method::GET,
            format!("/api/v1/org/users/{}", victim.user_uuid),
        ),
        (
            Method::DELETE,
            format!("/api/v1/org/user/{}", victim.user_uuid),
        ),
        (Method::DELETE, format!("/api/v1/org/{org_a}")),
        (Method::DELETE, "/api/v1/invite-links".to_owned()),
    ] {
        let body = (method == Method::PATCH).then(|| json!({"name": "x"}));
        app.send(method.clone(), &path, &Auth::None, body)
            .await
            .expect_error(401);
    }

    // The admin's destructive cells last.
    app.send(
        Method::DELETE,
        &format!("/api/v1/org/user/{}", victim.user_uuid),
        &cookie(&admin),
        None,
    )
    .await
    .results();
    app.send(
        Method::DELETE,
        &format!("/api/v1/org/{org_a}"),
        &cookie(&admin),
        None,
    )
    .await
    .results();
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
    allowed_email_domains_are_set_by_admins,
    an_organization_is_created_changed_and_deleted,
    invitations_add_members_once,
    members_are_paginated_and_searchable,
    an_organization_always_keeps_an_admin,
    role_matrix_and_isolation,
    a_lapsed_invitation_does_not_keep_the_address,
);
