//! Members: the paginated, searchable list; the role matrix of every organization operation
//! (lightdash.md section 2.3) and isolation between two organizations (AC-1, AC-2, AC-3, AC-8).

use reqwest::Method;
use serde_json::{Value, json};

use super::{admin_of_new_org, cookie, invite_and_join};
use crate::helpers::{Auth, TestApp, TestUser, dual};

const ROLES: [&str; 6] = [
    "admin",
    "developer",
    "editor",
    "interactive_viewer",
    "viewer",
    "member",
];

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

dual!(
    members_are_paginated_and_searchable,
    role_matrix_and_isolation
);
