//! The isolation matrix: every connection route as the owner, an organization admin, the
//! other roles of the same organization, an admin of another organization and no one (AC-1,
//! AC-2, AC-6, AC-8).

use reqwest::Method;
use serde_json::json;

use super::{CANARY, create, id};
use crate::{
    helpers::{Auth, TestApp, dual},
    organizations::{admin_of_new_org, cookie, invite_and_join},
};

/// Every connection route as the owner, an organization admin, other roles of the same
/// organization, an admin of another organization and no one (AC-1, AC-2, AC-8).
async fn connection_role_matrix_and_isolation(app: TestApp) {
    let (admin, _) = admin_of_new_org(&app, "Matrix").await;
    let (outsider, _) = admin_of_new_org(&app, "Elsewhere").await;
    let owner = invite_and_join(&app, &admin, "developer").await;
    let mut people = vec![
        ("owner (developer)", cookie(&owner)),
        ("org admin", cookie(&admin)),
    ];
    for role in ["developer", "editor", "viewer", "member"] {
        let u = invite_and_join(&app, &admin, role).await;
        people.push((role, cookie(&u)));
    }
    people.push(("other organization", cookie(&outsider)));
    people.push(("no one", Auth::None));

    type Row = (&'static str, [u16; 8]);
    let rows: Vec<Row> = vec![
        ("create", [201, 201, 201, 403, 403, 403, 201, 401]),
        ("get", [200, 200, 200, 200, 200, 200, 404, 401]),
        ("list-contains", [1, 1, 1, 1, 1, 1, 0, 401]),
        ("update", [200, 200, 403, 403, 403, 403, 404, 401]),
        ("test", [200, 200, 403, 403, 403, 403, 404, 401]),
        ("delete", [200, 200, 403, 403, 403, 403, 404, 401]),
    ];
    for (op, expected) in rows {
        for ((who, auth), want) in people.iter().zip(expected) {
            let c = create(
                &app,
                &owner,
                json!({"provider": "googledrive", "name": "M", "secrets": {"token": CANARY}}),
            )
            .await;
            let path = format!("/api/v1/connections/{}", id(&c));
            let reply = match op {
                "create" => {
                    app.post(
                        "/api/v1/connections",
                        auth,
                        json!({"provider": "x", "name": "n"}),
                    )
                    .await
                }
                "get" => app.get(&path, auth).await,
                "list-contains" => app.get("/api/v1/connections", auth).await,
                "update" => {
                    app.send(Method::PATCH, &path, auth, Some(json!({"name": "changed"})))
                        .await
                }
                "test" => app.post(&format!("{path}/test"), auth, json!({})).await,
                "delete" => app.send(Method::DELETE, &path, auth, None).await,
                _ => unreachable!(),
            };
            let got = if op == "list-contains" && reply.status == 200 {
                let ids: Vec<&str> = reply
                    .results()
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c["connectionUuid"].as_str().unwrap())
                    .collect();
                u16::from(ids.contains(&path.rsplit('/').next().unwrap()))
            } else {
                reply.status.as_u16()
            };
            assert_eq!(got, want, "{op} as {who}: {}", reply.body);
            assert!(!reply.body.to_string().contains(CANARY));
            // A refused change changed nothing.
            if matches!(op, "update" | "delete") && want != 200 {
                let after = app.get(&path, &cookie(&owner)).await;
                assert_eq!(after.results()["name"], "M", "{op} as {who}");
            }
        }
    }

    // An owner demoted below developer no longer manages the connection they made (AC-6);
    // an admin still does.
    let c = create(
        &app,
        &owner,
        json!({"provider": "googledrive", "name": "Mine"}),
    )
    .await;
    let path = format!("/api/v1/connections/{}", id(&c));
    app.send(
        Method::PATCH,
        &format!("/api/v1/org/users/{}", owner.user_uuid),
        &cookie(&admin),
        Some(json!({"role": "viewer"})),
    )
    .await
    .results();
    app.send(
        Method::PATCH,
        &path,
        &cookie(&owner),
        Some(json!({"name": "x"})),
    )
    .await
    .expect_error(403);
    app.send(Method::DELETE, &path, &cookie(&owner), None)
        .await
        .expect_error(403);
    app.get(&path, &cookie(&owner)).await.results();
    app.send(
        Method::PATCH,
        &path,
        &cookie(&admin),
        Some(json!({"name": "y"})),
    )
    .await
    .results();

    // Personal credentials are their owner's alone: not even an admin of the same organization
    // sees them, and the shared routes do not reach them.
    let mine = app
        .post(
            "/api/v1/user/warehouseCredentials",
            &cookie(&owner),
            json!({"name": "mine", "credentials": {"type": "postgres", "user": "u", "password": CANARY}}),
        )
        .await;
    let mine = mine.results()["uuid"].as_str().unwrap().to_owned();
    for (who, auth) in &people[1..] {
        let path = format!("/api/v1/user/warehouseCredentials/{mine}");
        let body =
            json!({"name": "x", "credentials": {"type": "postgres", "user": "u", "password": "p"}});
        let r = app.send(Method::PATCH, &path, auth, Some(body)).await;
        assert!(
            matches!(r.status.as_u16(), 404 | 401),
            "patch as {who}: {}",
            r.body
        );
        let r = app.send(Method::DELETE, &path, auth, None).await;
        assert!(
            matches!(r.status.as_u16(), 404 | 401),
            "delete as {who}: {}",
            r.body
        );
        if !matches!(auth, Auth::None) {
            let list = app.get("/api/v1/user/warehouseCredentials", auth).await;
            assert!(!list.body.to_string().contains(&mine), "{who} lists it");
        }
    }
    let shared_path = format!("/api/v1/connections/{mine}");
    app.get(&shared_path, &cookie(&owner))
        .await
        .expect_error(404);
    app.get(&shared_path, &cookie(&admin))
        .await
        .expect_error(404);
    let still = app
        .get("/api/v1/user/warehouseCredentials", &cookie(&owner))
        .await;
    assert_eq!(still.results()[0]["name"], "mine");
}

dual!(connection_role_matrix_and_isolation);
