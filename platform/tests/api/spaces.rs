//! Spaces: Lightdash's access rules end to end (public and private spaces, user and group
//! grants, nested spaces with inheritance, lightdash.md section 2 items 4-8), the explanation of
//! a decision, the role matrix and isolation (AC-1, AC-2, AC-3, AC-8).

use reqwest::Method;
use serde_json::{Value, json};

use crate::groups::new_group;
use crate::{
    helpers::{Auth, TestApp, dual, execute},
    organizations::{admin_of_new_org, cookie, invite_and_join},
    projects::new_project,
};

async fn create_space(app: &TestApp, auth: &Auth, project: &str, body: Value) -> String {
    let r = app
        .post(&format!("/api/v1/projects/{project}/spaces"), auth, body)
        .await;
    r.results()["uuid"].as_str().unwrap().to_owned()
}

fn visible(r: &crate::helpers::Reply) -> Vec<String> {
    r.results()
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["uuid"].as_str().unwrap().to_owned())
        .collect()
}

/// The role `user` has on the space, from the space's resolved access list.
fn role_in(space: &Value, user: &str) -> Option<String> {
    space["access"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["userUuid"] == user)
        .map(|a| a["role"].as_str().unwrap().to_owned())
}

async fn spaces_follow_lightdash_access_rules(app: TestApp) {
    let (admin, _) = admin_of_new_org(&app, "Spaces").await;
    let a = cookie(&admin);
    let project = new_project(&app, &admin, "P").await;
    let base = format!("/api/v1/projects/{project}/spaces");
    let viewer = invite_and_join(&app, &admin, "viewer").await;
    let editor = invite_and_join(&app, &admin, "editor").await;
    let member = invite_and_join(&app, &admin, "member").await;
    let (v, e, m) = (cookie(&viewer), cookie(&editor), cookie(&member));

    // A public space: everyone with a project role, at their mapped role (item 4d).
    let public = create_space(&app, &a, &project, json!({"name": "Public Reports"})).await;
    let got = app
        .get(&format!("{base}/{public}"), &a)
        .await
        .results()
        .clone();
    assert_eq!(got["slug"], "public-reports");
    assert_eq!(got["isPrivate"], false);
    assert_eq!(role_in(&got, &viewer.user_uuid).as_deref(), Some("viewer"));
    assert_eq!(role_in(&got, &editor.user_uuid).as_deref(), Some("editor"));
    assert_eq!(role_in(&got, &admin.user_uuid).as_deref(), Some("admin"));
    assert_eq!(
        role_in(&got, &member.user_uuid),
        None,
        "an org member has no project role"
    );
    app.get(&format!("{base}/{public}"), &m)
        .await
        .expect_error(404);

    // A nested space made private does not inherit; its creator (here an editor) is its admin.
    let corner = create_space(
        &app,
        &e,
        &project,
        json!({"name": "Corner", "parentSpaceUuid": public, "isPrivate": true}),
    )
    .await;
    let got = app
        .get(&format!("{base}/{corner}"), &e)
        .await
        .results()
        .clone();
    assert_eq!(
        (
            got["isPrivate"].clone(),
            got["inheritParentPermissions"].clone()
        ),
        (json!(true), json!(false))
    );
    assert_eq!(role_in(&got, &editor.user_uuid).as_deref(), Some("admin"));
    app.get(&format!("{base}/{corner}"), &v)
        .await
        .expect_error(404);
    app.post(
        &base,
        &a,
        json!({"name": "x", "parentSpaceUuid": public, "isPrivate": true, "inheritParentPermissions": true}),
    )
    .await
    .expect_error(400);

    // A private space: only admins and direct grants (items 4b, 4e, 5).
    let private = create_space(
        &app,
        &a,
        &project,
        json!({"name": "Private", "isPrivate": true}),
    )
    .await;
    app.get(&format!("{base}/{private}"), &v)
        .await
        .expect_error(404);
    app.get(&format!("{base}/{private}"), &e)
        .await
        .expect_error(404);
    assert!(!visible(&app.get(&base, &v).await).contains(&private));
    assert!(visible(&app.get(&base, &v).await).contains(&public));
    // A direct grant decides, even below the project role (item 4c).
    app.post(
        &format!("{base}/{private}/share"),
        &a,
        json!({"userUuid": viewer.user_uuid, "spaceRole": "editor"}),
    )
    .await
    .results();
    let got = app
        .get(&format!("{base}/{private}"), &v)
        .await
        .results()
        .clone();
    let share = got["access"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["userUuid"] == viewer.user_uuid.as_str())
        .unwrap()
        .clone();
    assert_eq!(share["role"], "editor");
    assert_eq!(share["hasDirectAccess"], true);
    app.post(
        &format!("{base}/{private}/share"),
        &a,
        json!({"userUuid": editor.user_uuid, "spaceRole": "viewer"}),
    )
    .await
    .results();
    assert_eq!(
        role_in(
            &app.get(&format!("{base}/{private}"), &a)
                .await
                .results()
                .clone(),
            &editor.user_uuid
        )
        .as_deref(),
        Some("viewer")
    );
    // A group grant on the space counts toward the highest role: it lets in an org member
    // without a project role (item 4a).
    let group = new_group(
        &app,
        &a,
        json!({"name": "Readers", "members": [{"userUuid": member.user_uuid}]}),
    )
    .await;
    app.post(
        &format!("{base}/{private}/group/share"),
        &a,
        json!({"groupUuid": group, "spaceRole": "viewer"}),
    )
    .await
    .results();
    let got = app
        .get(&format!("{base}/{private}"), &m)
        .await
        .results()
        .clone();
    assert_eq!(
        got["groupsAccess"],
        json!([{"groupUuid": group, "groupName": "Readers", "spaceRole": "viewer"}])
    );
    assert_eq!(role_in(&got, &member.user_uuid).as_deref(), Some("viewer"));

    // Nested spaces: a child that inherits takes the parent's grants; one that does not, only
    // its own (item 8).
    let child = create_space(
        &app,
        &a,
        &project,
        json!({"name": "Child", "parentSpaceUuid": private}),
    )
    .await;
    let got = app
        .get(&format!("{base}/{child}"), &v)
        .await
        .results()
        .clone();
    assert_eq!(got["parentSpaceUuid"], private.as_str());
    assert_eq!(got["inheritParentPermissions"], true);
    assert_eq!(role_in(&got, &viewer.user_uuid).as_deref(), Some("editor"));
    let closed = create_space(
        &app,
        &a,
        &project,
        json!({"name": "Closed", "parentSpaceUuid": private, "inheritParentPermissions": false}),
    )
    .await;
    app.get(&format!("{base}/{closed}"), &v)
        .await
        .expect_error(404);
    assert_eq!(
        app.get(&format!("{base}/{closed}"), &a).await.results()["inheritParentPermissions"],
        false
    );
    // The viewer, editor of the parent, may nest a space in it; a mere viewer of a space may not.
    app.post(
        &base,
        &v,
        json!({"name": "Nested by viewer", "parentSpaceUuid": private}),
    )
    .await
    .expect_error(403);

    // Why: the explanation names the grant on the parent.
    let explain = app
        .get(
            &format!(
                "{base}/{child}/access/explain?userUuid={}",
                viewer.user_uuid
            ),
            &a,
        )
        .await;
    let x = explain.body["results"].clone();
    assert_eq!(x["role"], "editor", "{x}");
    let last = x["steps"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["rule"], "direct_space_grant");
    assert_eq!(last["spaceUuid"], private.as_str());
    let none = app
        .get(
            &format!(
                "{base}/{closed}/access/explain?userUuid={}",
                viewer.user_uuid
            ),
            &a,
        )
        .await;
    assert_eq!(none.body["results"]["role"], Value::Null);
    assert_eq!(
        none.body["results"]["steps"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()["rule"],
        "private_no_grant"
    );
    app.get(
        &format!(
            "{base}/{child}/access/explain?userUuid={}",
            viewer.user_uuid
        ),
        &v,
    )
    .await
    .expect_error(403);
    app.get(&format!("{base}/{child}/access/explain"), &a)
        .await
        .expect_error(400);

    // Managing needs space admin: the viewer (space editor) may not.
    app.send(
        Method::PATCH,
        &format!("{base}/{private}"),
        &v,
        Some(json!({"name": "x", "isPrivate": true})),
    )
    .await
    .expect_error(403);
    let renamed = app
        .send(
            Method::PATCH,
            &format!("{base}/{private}"),
            &a,
            Some(json!({"name": "Board Room", "isPrivate": true})),
        )
        .await;
    assert_eq!(renamed.results()["slug"], "board-room");
    // Revoking ends the access on the next request.
    app.send(
        Method::DELETE,
        &format!("{base}/{private}/share/{}", viewer.user_uuid),
        &a,
        None,
    )
    .await
    .results();
    app.get(&format!("{base}/{private}"), &v)
        .await
        .expect_error(404);
    app.get(&format!("{base}/{child}"), &v)
        .await
        .expect_error(404);
    app.send(
        Method::DELETE,
        &format!("{base}/{private}/share/{}", viewer.user_uuid),
        &a,
        None,
    )
    .await
    .expect_error(404);
    app.send(
        Method::DELETE,
        &format!("{base}/{private}/group/share/{group}"),
        &a,
        None,
    )
    .await
    .results();
    app.get(&format!("{base}/{private}"), &m)
        .await
        .expect_error(404);
    // Bad input.
    for bad in [
        json!({"name": ""}),
        json!({"name": "x", "access": [{"userUuid": "nope", "role": "viewer"}]}),
        json!({"name": "x", "access": [{"userUuid": uuid::Uuid::now_v7(), "role": "viewer"}]}),
        json!({"name": "x", "access": [{"userUuid": viewer.user_uuid, "role": "owner"}]}),
        json!({"name": "x", "parentSpaceUuid": uuid::Uuid::now_v7()}),
        json!({"name": "x", "color": "red"}),
    ] {
        app.post(&base, &a, bad).await.expect_error(400);
    }
    // Deleting a space deletes the spaces nested in it.
    let deleted = app
        .send(Method::DELETE, &format!("{base}/{private}"), &a, None)
        .await;
    assert_eq!(deleted.status, 204);
    app.get(&format!("{base}/{child}"), &a)
        .await
        .expect_error(404);
    app.get(&format!("{base}/{closed}"), &a)
        .await
        .expect_error(404);
}

/// Space operations on a public space as each organization role, a user of another
/// organization and no one (AC-1, AC-2, AC-3, AC-8).
async fn space_role_matrix_and_isolation(app: TestApp) {
    let (admin, _) = admin_of_new_org(&app, "Space matrix").await;
    let (outsider, _) = admin_of_new_org(&app, "Away").await;
    let project = new_project(&app, &admin, "P").await;
    let base = format!("/api/v1/projects/{project}/spaces");
    let target = invite_and_join(&app, &admin, "viewer").await;
    let mut people = vec![("org admin".to_owned(), cookie(&admin))];
    for role in [
        "developer",
        "editor",
        "interactive_viewer",
        "viewer",
        "member",
    ] {
        people.push((
            role.to_owned(),
            cookie(&invite_and_join(&app, &admin, role).await),
        ));
    }
    people.push(("other organization".into(), cookie(&outsider)));
    people.push(("no one".into(), Auth::None));
    let a = cookie(&admin);
    let group = new_group(&app, &a, json!({"name": "Space matrix group"})).await;
    let rows: Vec<(&str, [u16; 8])> = vec![
        ("create", [200, 200, 200, 403, 403, 404, 404, 401]),
        ("list", [200, 200, 200, 200, 200, 404, 404, 401]),
        ("get", [200, 200, 200, 200, 200, 404, 404, 401]),
        ("update", [200, 403, 403, 403, 403, 404, 404, 401]),
        ("share", [200, 403, 403, 403, 403, 404, 404, 401]),
        ("explain", [200, 403, 403, 403, 403, 404, 404, 401]),
        ("revoke-share", [200, 403, 403, 403, 403, 404, 404, 401]),
        ("group-share", [200, 403, 403, 403, 403, 404, 404, 401]),
        ("group-revoke", [200, 403, 403, 403, 403, 404, 404, 401]),
        ("delete", [204, 403, 403, 403, 403, 404, 404, 401]),
    ];
    for (op, expected) in rows {
        for ((who, auth), want) in people.iter().zip(expected) {
            let space = create_space(&app, &a, &project, json!({"name": "S"})).await;
            let path = format!("{base}/{space}");
            if op == "revoke-share" {
                let share = json!({"userUuid": target.user_uuid, "spaceRole": "viewer"});
                app.post(&format!("{path}/share"), &a, share)
                    .await
                    .results();
            }
            if op == "group-revoke" {
                let share = json!({"groupUuid": group, "spaceRole": "viewer"});
                app.post(&format!("{path}/group/share"), &a, share)
                    .await
                    .results();
            }
            let r = match op {
                "create" => app.post(&base, auth, json!({"name": "New"})).await,
                "list" => app.get(&base, auth).await,
                "get" => app.get(&path, auth).await,
                "update" => {
                    app.send(
                        Method::PATCH,
                        &path,
                        auth,
                        Some(json!({"name": "T", "isPrivate": false})),
                    )
                    .await
                }
                "share" => {
                    app.post(
                        &format!("{path}/share"),
                        auth,
                        json!({"userUuid": target.user_uuid, "spaceRole": "viewer"}),
                    )
                    .await
                }
                "explain" => {
                    app.get(
                        &format!("{path}/access/explain?userUuid={}", target.user_uuid),
                        auth,
                    )
                    .await
                }
                "delete" => app.send(Method::DELETE, &path, auth, None).await,
                "revoke-share" => {
                    app.send(
                        Method::DELETE,
                        &format!("{path}/share/{}", target.user_uuid),
                        auth,
                        None,
                    )
                    .await
                }
                "group-share" => {
                    app.post(
                        &format!("{path}/group/share"),
                        auth,
                        json!({"groupUuid": group, "spaceRole": "viewer"}),
                    )
                    .await
                }
                "group-revoke" => {
                    app.send(
                        Method::DELETE,
                        &format!("{path}/group/share/{group}"),
                        auth,
                        None,
                    )
                    .await
                }
                _ => unreachable!(),
            };
            assert_eq!(r.status.as_u16(), want, "{op} as {who}: {}", r.body);
        }
    }
    // AC-8: a space of another organization's project and a missing one answer alike.
    let space = create_space(&app, &a, &project, json!({"name": "Mine"})).await;
    let o = cookie(&outsider);
    let theirs = app.get(&format!("{base}/{space}"), &o).await;
    let missing = app
        .get(&format!("{base}/{}", uuid::Uuid::now_v7()), &a)
        .await;
    assert_eq!(
        theirs.expect_error(404)["name"],
        missing.expect_error(404)["name"]
    );
}

/// projects-svc keeps a project's spaces and grants in memory between requests. Another writer
/// (another replica, an event's cascade, an operator) changes them in the database: the next
/// request sees each change, because the database moves the project's `spaces_version` in the
/// same transaction (migration 20261125000008's triggers).
async fn changes_made_elsewhere_show_on_the_next_request(app: TestApp) {
    let (admin, _) = admin_of_new_org(&app, "Cache").await;
    let a = cookie(&admin);
    let project = new_project(&app, &admin, "P").await;
    let base = format!("/api/v1/projects/{project}/spaces");
    let viewer = invite_and_join(&app, &admin, "viewer").await;
    let v = cookie(&viewer);
    let open = create_space(&app, &a, &project, json!({"name": "Open"})).await;
    let closed = create_space(
        &app,
        &a,
        &project,
        json!({"name": "Closed", "isPrivate": true}),
    )
    .await;
    let db = &app.projects_db;
    let listed = |auth| {
        let base = &base;
        let app = &app;
        async move { visible(&app.get(base, auth).await) }
    };
    assert_eq!(listed(&v).await, vec![open.clone()]);
    assert_eq!(
        listed(&v).await,
        vec![open.clone()],
        "served again (cached)"
    );

    // A user grant made, changed and removed elsewhere.
    let grant =
        "INSERT INTO space_user_grants (space_uuid, user_uuid, role) VALUES ($1, $2, 'viewer')";
    assert_eq!(execute(db, grant, &[&closed, &viewer.user_uuid]).await, 1);
    assert_eq!(listed(&v).await, vec![closed.clone(), open.clone()]);
    let space = app.get(&format!("{base}/{closed}"), &v).await;
    assert_eq!(
        role_in(space.results(), &viewer.user_uuid).as_deref(),
        Some("viewer")
    );
    let promote =
        "UPDATE space_user_grants SET role = 'admin' WHERE space_uuid = $1 AND user_uuid = $2";
    assert_eq!(execute(db, promote, &[&closed, &viewer.user_uuid]).await, 1);
    let space = app.get(&format!("{base}/{closed}"), &v).await;
    assert_eq!(
        role_in(space.results(), &viewer.user_uuid).as_deref(),
        Some("admin")
    );
    let revoke = "DELETE FROM space_user_grants WHERE space_uuid = $1 AND user_uuid = $2";
    assert_eq!(execute(db, revoke, &[&closed, &viewer.user_uuid]).await, 1);
    assert_eq!(listed(&v).await, vec![open.clone()]);
    app.get(&format!("{base}/{closed}"), &v)
        .await
        .expect_error(404);

    // A group grant made and removed elsewhere.
    let group = new_group(
        &app,
        &a,
        json!({"name": "Readers", "members": [{"userUuid": viewer.user_uuid}]}),
    )
    .await;
    assert_eq!(listed(&v).await, vec![open.clone()]);
    let grant =
        "INSERT INTO space_group_grants (space_uuid, group_uuid, role) VALUES ($1, $2, 'viewer')";
    assert_eq!(execute(db, grant, &[&closed, &group]).await, 1);
    assert_eq!(listed(&v).await, vec![closed.clone(), open.clone()]);
    let revoke = "DELETE FROM space_group_grants WHERE space_uuid = $1 AND group_uuid = $2";
    assert_eq!(execute(db, revoke, &[&closed, &group]).await, 1);
    assert_eq!(listed(&v).await, vec![open.clone()]);

    // A space changed, made private, added and deleted elsewhere.
    let rename = "UPDATE spaces SET name = 'Opened' WHERE space_uuid = $1";
    assert_eq!(execute(db, rename, &[&open]).await, 1);
    let got = app.get(&base, &v).await;
    assert_eq!(got.results()[0]["name"], "Opened");
    let hide = "UPDATE spaces SET is_private = (1 = 1) WHERE space_uuid = $1";
    assert_eq!(execute(db, hide, &[&open]).await, 1);
    assert_eq!(listed(&v).await, Vec::<String>::new());
    assert_eq!(listed(&a).await, vec![closed.clone(), open.clone()]);
    let copy = uuid::Uuid::now_v7().to_string();
    let add = "INSERT INTO spaces (space_uuid, project_uuid, parent_space_uuid, name, slug, is_private, \
               inherit_parent_permissions, created_by_user_uuid, created_at, updated_at) \
               SELECT $1, project_uuid, NULL, 'Added', 'added', (1 = 0), (1 = 0), NULL, created_at, updated_at \
               FROM spaces WHERE space_uuid = $2";
    assert_eq!(execute(db, add, &[&copy, &open]).await, 1);
    assert_eq!(listed(&v).await, vec![copy.clone()]);
    let remove = "DELETE FROM spaces WHERE space_uuid = $1";
    assert_eq!(execute(db, remove, &[&open]).await, 1);
    assert_eq!(listed(&a).await, vec![copy.clone(), closed.clone()]);
    app.get(&format!("{base}/{open}"), &a)
        .await
        .expect_error(404);
}

dual!(
    spaces_follow_lightdash_access_rules,
    space_role_matrix_and_isolation,
    changes_made_elsewhere_show_on_the_next_request,
);
