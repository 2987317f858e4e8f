//! Groups: lifecycle, members limited to the organization, role matrix and isolation.

use reqwest::Method;
use serde_json::json;

use crate::{
    helpers::{Auth, TestApp, dual},
    organizations::{admin_of_new_org, cookie, invite_and_join},
};

/// Creates a group (`body`: its name and members) as `auth`; its uuid.
pub(crate) async fn new_group(app: &TestApp, auth: &Auth, body: serde_json::Value) -> String {
    app.post("/api/v1/org/groups", auth, body).await.results()["uuid"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn groups_hold_members_of_their_organization(app: TestApp) {
    let (admin, org) = admin_of_new_org(&app, "Groups").await;
    let ann = invite_and_join(&app, &admin, "viewer").await;
    let ben = invite_and_join(&app, &admin, "editor").await;
    let (outsider, _) = admin_of_new_org(&app, "Elsewhere").await;
    let a = cookie(&admin);

    let created = app
        .post(
            "/api/v1/org/groups",
            &a,
            json!({"name": "Analysts", "members": [{"userUuid": ann.user_uuid}]}),
        )
        .await;
    let g = created.results().clone();
    assert_eq!(
        (g["name"].as_str(), g["organizationUuid"].as_str()),
        (Some("Analysts"), Some(org.as_str()))
    );
    assert_eq!(g["memberUuids"], json!([ann.user_uuid]));
    assert_eq!(g["createdByUserUuid"], admin.user_uuid.as_str());
    let id = g["uuid"].as_str().unwrap().to_owned();
    app.post("/api/v1/org/groups", &a, json!({"name": "Analysts"}))
        .await
        .expect_error(409);
    app.post(
        "/api/v1/org/groups",
        &a,
        json!({"name": "Bad", "members": [{"userUuid": outsider.user_uuid}]}),
    )
    .await
    .expect_error(400);
    app.post("/api/v1/org/groups", &a, json!({"name": ""}))
        .await
        .expect_error(400);

    let got = app
        .get(&format!("/api/v1/groups/{id}"), &a)
        .await
        .results()
        .clone();
    assert!(got.get("members").is_none(), "members only when asked for");
    let got = app
        .get(&format!("/api/v1/groups/{id}?includeMembers=10"), &a)
        .await
        .results()
        .clone();
    assert_eq!(got["members"][0]["email"], ann.email.as_str());

    let patched = app
        .send(Method::PATCH, &format!("/api/v1/groups/{id}"), &a, Some(json!({"name": "Analytics", "members": [{"userUuid": ann.user_uuid}, {"userUuid": ben.user_uuid}]})))
        .await;
    assert_eq!(
        patched.results()["memberUuids"].as_array().unwrap().len(),
        2
    );
    assert_eq!(patched.results()["name"], "Analytics");
    let listed = app
        .get("/api/v1/org/groups?includeMembers=1&searchQuery=analy", &a)
        .await
        .results()
        .clone();
    assert_eq!(listed["pagination"]["totalResults"], 1);
    assert_eq!(
        listed["data"][0]["members"].as_array().unwrap().len(),
        1,
        "includeMembers caps the members shown"
    );

    app.send(
        Method::PUT,
        &format!("/api/v1/groups/{id}/members/{}", ann.user_uuid),
        &a,
        None,
    )
    .await
    .results();
    app.send(
        Method::PUT,
        &format!("/api/v1/groups/{id}/members/{}", outsider.user_uuid),
        &a,
        None,
    )
    .await
    .expect_error(404);
    app.send(
        Method::DELETE,
        &format!("/api/v1/groups/{id}/members/{}", ben.user_uuid),
        &a,
        None,
    )
    .await
    .results();
    app.send(
        Method::DELETE,
        &format!("/api/v1/groups/{id}/members/{}", ben.user_uuid),
        &a,
        None,
    )
    .await
    .expect_error(404);
    let members = app
        .get(&format!("/api/v1/groups/{id}/members"), &a)
        .await
        .results()
        .clone();
    assert_eq!(
        members,
        json!([{"userUuid": ann.user_uuid, "email": ann.email, "firstName": "Invited", "lastName": "viewer"}])
    );

    // Leaving the organization leaves its groups.
    app.send(
        Method::DELETE,
        &format!("/api/v1/org/user/{}", ann.user_uuid),
        &a,
        None,
    )
    .await
    .results();
    assert_eq!(
        app.get(&format!("/api/v1/groups/{id}/members"), &a)
            .await
            .results(),
        &json!([])
    );

    app.send(Method::DELETE, &format!("/api/v1/groups/{id}"), &a, None)
        .await
        .results();
    app.get(&format!("/api/v1/groups/{id}"), &a)
        .await
        .expect_error(404);
    app.send(Method::DELETE, &format!("/api/v1/groups/{id}"), &a, None)
        .await
        .expect_error(404);
}

/// Every group operation as each role, as another organization's admin, and as no one.
async fn group_role_matrix_and_isolation(app: TestApp) {
    let (admin, _) = admin_of_new_org(&app, "GA").await;
    let (outsider, _) = admin_of_new_org(&app, "GB").await;
    let victim = invite_and_join(&app, &admin, "member").await;
    let id = app
        .post("/api/v1/org/groups", &cookie(&admin), json!({"name": "G"}))
        .await
        .results()["uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut users = Vec::new();
    for role in [
        "developer",
        "editor",
        "interactive_viewer",
        "viewer",
        "member",
    ] {
        users.push((role, invite_and_join(&app, &admin, role).await));
    }
    users.push(("admin", admin.clone()));
    for (role, user) in &users {
        let who = cookie(user);
        let admin = *role == "admin";
        let check = |r: crate::helpers::Reply, allowed: bool, op: &str| {
            if allowed {
                assert!(
                    r.status.is_success(),
                    "{role} {op}: {} {}",
                    r.status,
                    r.body
                );
            } else {
                assert_eq!(r.status.as_u16(), 403, "{role} {op}: {}", r.body);
            }
        };
        check(
            app.get("/api/v1/org/groups", &who).await,
            true,
            "ListGroupsInOrganization",
        );
        check(
            app.get(&format!("/api/v1/groups/{id}"), &who).await,
            true,
            "getGroup",
        );
        check(
            app.get(&format!("/api/v1/groups/{id}/members"), &who).await,
            true,
            "getGroupMembers",
        );
        let name = format!("new-{role}");
        check(
            app.post("/api/v1/org/groups", &who, json!({"name": name}))
                .await,
            admin,
            "CreateGroupInOrganization",
        );
        check(
            app.send(
                Method::PATCH,
                &format!("/api/v1/groups/{id}"),
                &who,
                Some(json!({"name": format!("G-{role}")})),
            )
            .await,
            admin,
            "updateGroup",
        );
        check(
            app.send(
                Method::PUT,
                &format!("/api/v1/groups/{id}/members/{}", victim.user_uuid),
                &who,
                None,
            )
            .await,
            admin,
            "addUserToGroup",
        );
        check(
            app.send(
                Method::DELETE,
                &format!("/api/v1/groups/{id}/members/{}", victim.user_uuid),
                &who,
                None,
            )
            .await,
            admin,
            "removeUserFromGroup",
        );
        if !admin {
            check(
                app.send(Method::DELETE, &format!("/api/v1/groups/{id}"), &who, None)
                    .await,
                false,
                "deleteGroup",
            );
        }
    }
    // Another organization's admin: A's group does not exist for them (AC-1, AC-8); lists hold only B's (AC-2).
    let b = cookie(&outsider);
    let theirs = app.get(&format!("/api/v1/groups/{id}"), &b).await;
    let random = app
        .get(&format!("/api/v1/groups/{}", uuid::Uuid::now_v7()), &b)
        .await;
    assert_eq!(theirs.expect_error(404), random.expect_error(404));
    for (method, path) in [
        (Method::GET, format!("/api/v1/groups/{id}/members")),
        (Method::DELETE, format!("/api/v1/groups/{id}")),
        (
            Method::PUT,
            format!("/api/v1/groups/{id}/members/{}", outsider.user_uuid),
        ),
        (
            Method::DELETE,
            format!("/api/v1/groups/{id}/members/{}", victim.user_uuid),
        ),
    ] {
        app.send(method, &path, &b, None).await.expect_error(404);
    }
    app.send(
        Method::PATCH,
        &format!("/api/v1/groups/{id}"),
        &b,
        Some(json!({"name": "mine"})),
    )
    .await
    .expect_error(404);
    assert_eq!(
        app.get("/api/v1/org/groups", &b).await.results()["data"],
        json!([])
    );
    // No one.
    app.get("/api/v1/org/groups", &Auth::None)
        .await
        .expect_error(401);
    app.get(&format!("/api/v1/groups/{id}"), &Auth::None)
        .await
        .expect_error(401);
    // The admin's delete last.
    app.send(
        Method::DELETE,
        &format!("/api/v1/groups/{id}"),
        &cookie(&admin),
        None,
    )
    .await
    .results();
}

/// AC-9: additions of a member to groups racing with their removal from the organization
/// leave no group membership behind: each addition either lands before the removal (which then
/// takes it away) or is refused after it. And an admin demoted meanwhile adds no one.
async fn ac_9_group_additions_racing_a_removal_leave_nothing_behind(app: TestApp) {
    let (admin, _) = admin_of_new_org(&app, "Race").await;
    let target = invite_and_join(&app, &admin, "viewer").await;
    let mut groups = Vec::new();
    for i in 0..24 {
        let r = app
            .post(
                "/api/v1/org/groups",
                &cookie(&admin),
                json!({"name": format!("g{i}")}),
            )
            .await;
        groups.push(r.results()["uuid"].as_str().unwrap().to_owned());
    }
    let mut tasks = tokio::task::JoinSet::new();
    for (i, g) in groups.iter().enumerate() {
        let (http, base, session) = (app.http.clone(), app.base.clone(), admin.cookie.clone());
        let url = format!("{base}/api/v1/groups/{g}/members/{}", target.user_uuid);
        tasks.spawn(async move {
            // Spread the additions around the removal.
            tokio::time::sleep(std::time::Duration::from_millis(2 * i as u64)).await;
            let r = http
                .put(url)
                .header("cookie", format!("connect.sid={session}"))
                .send()
                .await
                .unwrap();
            r.status().as_u16()
        });
    }
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    app.send(
        Method::DELETE,
        &format!("/api/v1/org/user/{}", target.user_uuid),
        &cookie(&admin),
        None,
    )
    .await
    .results();
    while let Some(status) = tasks.join_next().await {
        let status = status.unwrap();
        assert!(status == 200 || status == 404, "status {status}");
    }
    let sql = "SELECT COUNT(*) FROM group_memberships WHERE user_uuid = $1";
    let user = uuid::Uuid::parse_str(&target.user_uuid).unwrap();
    let left: i64 = match &app.identity_db {
        service_kit::db::Pool::Sqlite(p) => sqlx::query_scalar(sql).bind(user).fetch_one(p).await,
        service_kit::db::Pool::Postgres(p) => sqlx::query_scalar(sql).bind(user).fetch_one(p).await,
    }
    .unwrap();
    assert_eq!(left, 0, "group memberships outlived the removal");
}

dual!(
    groups_hold_members_of_their_organization,
    group_role_matrix_and_isolation,
    ac_9_group_additions_racing_a_removal_leave_nothing_behind,
);
