//! Projects: creation (ours), listing only what the caller may see, settings, user and group
//! grants, effective roles (lightdash.md section 2, items 1-3), the organization-role matrix
//! and isolation between organizations (AC-1, AC-2, AC-3, AC-6, AC-8).

use reqwest::Method;
use serde_json::{Value, json};

use crate::groups::new_group;
use crate::{
    helpers::{Auth, TestApp, TestUser, dual},
    organizations::{admin_of_new_org, cookie, invite_and_join},
};

/// Creates a project as `user`; returns its uuid.
pub(crate) async fn new_project(app: &TestApp, user: &TestUser, name: &str) -> String {
    let r = app
        .post("/api/v1/org/projects", &cookie(user), json!({"name": name}))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.results()["projectUuid"].as_str().unwrap().to_owned()
}

fn listed(r: &crate::helpers::Reply) -> Vec<String> {
    r.results()
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["projectUuid"].as_str().unwrap().to_owned())
        .collect()
}

async fn projects_are_created_changed_and_deleted(app: TestApp) {
    let (admin, org) = admin_of_new_org(&app, "Projects").await;
    let a = cookie(&admin);
    let created = app
        .post(
            "/api/v1/org/projects",
            &a,
            json!({"name": " Sales ", "warehouseType": "snowflake"}),
        )
        .await;
    assert_eq!(created.status, 201);
    let p = created.results().clone();
    assert_eq!(p["name"], "Sales");
    assert_eq!(p["organizationUuid"], org.as_str());
    assert_eq!(p["createdByUserUuid"], admin.user_uuid.as_str());
    assert_eq!(p["schedulerTimezone"], "UTC");
    let id = p["projectUuid"].as_str().unwrap().to_owned();
    let other = new_project(&app, &admin, "Marketing").await;
    let list = app.get("/api/v1/org/projects", &a).await;
    assert_eq!(listed(&list), vec![other.clone(), id.clone()], "by name");
    assert_eq!(list.results()[1]["warehouseType"], "snowflake");

    for bad in [
        json!({"name": ""}),
        json!({"name": "x".repeat(256)}),
        json!({"name": "x", "warehouseType": "excel"}),
        json!({"name": "x", "type": "OTHER"}),
        json!({"name": "x", "upstreamProjectUuid": "nope"}),
        json!({"name": "x", "upstreamProjectUuid": uuid::Uuid::now_v7().to_string()}),
        json!({"name": "x", "warehouseConnectionUuid": "nope"}),
        json!({"name": "x", "owner": "me"}),
    ] {
        app.post("/api/v1/org/projects", &a, bad)
            .await
            .expect_error(400);
    }

    let path = format!("/api/v1/projects/{id}");
    let meta = format!("{path}/metadata");
    app.send(
        Method::PATCH,
        &meta,
        &a,
        Some(json!({"upstreamProjectUuid": other})),
    )
    .await
    .results();
    assert_eq!(
        app.get(&path, &a).await.results()["upstreamProjectUuid"],
        other.as_str()
    );
    for bad in [
        json!({"upstreamProjectUuid": id}),
        json!({"upstreamProjectUuid": "x"}),
    ] {
        app.send(Method::PATCH, &meta, &a, Some(bad))
            .await
            .expect_error(400);
    }
    app.send(
        Method::PATCH,
        &meta,
        &a,
        Some(json!({"upstreamProjectUuid": null})),
    )
    .await
    .results();
    assert!(
        app.get(&path, &a)
            .await
            .results()
            .get("upstreamProjectUuid")
            .is_none()
    );

    let sched = format!("{path}/schedulerSettings");
    app.send(
        Method::PATCH,
        &sched,
        &a,
        Some(json!({"schedulerTimezone": "Europe/Paris"})),
    )
    .await
    .results();
    assert_eq!(
        app.get(&path, &a).await.results()["schedulerTimezone"],
        "Europe/Paris"
    );
    for bad in [json!({"schedulerTimezone": "Mars/Olympus"}), json!({})] {
        app.send(Method::PATCH, &sched, &a, Some(bad))
            .await
            .expect_error(400);
    }

    app.send(
        Method::DELETE,
        &format!("/api/v1/org/projects/{id}"),
        &a,
        None,
    )
    .await
    .results();
    app.get(&path, &a).await.expect_error(404);
    app.send(
        Method::DELETE,
        &format!("/api/v1/org/projects/{id}"),
        &a,
        None,
    )
    .await
    .expect_error(404);
    assert_eq!(
        listed(&app.get("/api/v1/org/projects", &a).await),
        vec![other]
    );
}

/// Users and groups get access by grants; the effective role is the highest of organization,
/// user and group roles; a grant or group membership taken away stops working on the next
/// request (AC-6).
async fn grants_give_access_and_their_removal_takes_it_away(app: TestApp) {
    let (admin, _) = admin_of_new_org(&app, "Grants").await;
    let a = cookie(&admin);
    let project = new_project(&app, &admin, "P").await;
    let path = format!("/api/v1/projects/{project}");
    let member = invite_and_join(&app, &admin, "member").await;
    let m = cookie(&member);
    // An organization `member` sees nothing without a grant, as for a project that is not there.
    app.get(&path, &m).await.expect_error(404);
    assert!(listed(&app.get("/api/v1/org/projects", &m).await).is_empty());

    let access = format!("{path}/access");
    let grant = |email: &str, role: &str| json!({"email": email, "role": role, "sendEmail": false});
    app.post(&access, &a, grant(&member.email, "viewer"))
        .await
        .results();
    app.post(&access, &a, grant(&member.email, "editor"))
        .await
        .expect_error(409);
    app.post(&access, &a, grant("nobody@example.com", "viewer"))
        .await
        .expect_error(404);
    app.post(&access, &a, grant(&member.email, "owner"))
        .await
        .expect_error(400);
    assert_eq!(app.get(&path, &m).await.status, 200);
    let me = format!("{path}/user/{}", member.user_uuid);
    assert_eq!(app.get(&me, &m).await.results()["role"], "viewer");
    let list = app.get(&access, &a).await;
    let roles: Vec<(String, String)> = list
        .results()
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["email"].as_str().unwrap().to_owned(),
                x["role"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        roles.contains(&(member.email.clone(), "viewer".into())),
        "{roles:?}"
    );
    // A viewer may not manage the project.
    app.post(&access, &m, grant(&admin.email, "viewer"))
        .await
        .expect_error(403);
    app.send(
        Method::PATCH,
        &format!("{path}/metadata"),
        &m,
        Some(json!({"upstreamProjectUuid": null})),
    )
    .await
    .expect_error(403);

    // Raise, then revoke: access ends on the next request.
    let user_access = format!("{access}/{}", member.user_uuid);
    app.send(
        Method::PATCH,
        &user_access,
        &a,
        Some(json!({"role": "developer"})),
    )
    .await
    .results();
    assert_eq!(app.get(&me, &m).await.results()["role"], "developer");
    app.send(Method::DELETE, &user_access, &a, None)
        .await
        .results();
    app.get(&path, &m).await.expect_error(404);
    app.send(Method::DELETE, &user_access, &a, None)
        .await
        .expect_error(404);
    app.send(
        Method::PATCH,
        &user_access,
        &a,
        Some(json!({"role": "viewer"})),
    )
    .await
    .expect_error(404);

    // A group grant reaches the group's members.
    let group = new_group(
        &app,
        &a,
        json!({"name": "Analysts", "members": [{"userUuid": member.user_uuid}]}),
    )
    .await;
    let group_path = format!("/api/v1/groups/{group}/projects/{project}");
    let g = app.post(&group_path, &a, json!({"role": "editor"})).await;
    assert_eq!(
        g.results(),
        &json!({"projectUuid": project, "groupUuid": group, "role": "editor"})
    );
    app.post(&group_path, &a, json!({"role": "viewer"}))
        .await
        .expect_error(409);
    assert_eq!(app.get(&me, &m).await.results()["role"], "editor");
    app.send(
        Method::PATCH,
        &group_path,
        &a,
        Some(json!({"role": "interactive_viewer"})),
    )
    .await
    .results();
    assert_eq!(
        app.get(&me, &m).await.results()["role"],
        "interactive_viewer"
    );
    let accesses = app.get(&format!("{path}/groupAccesses"), &m).await;
    assert_eq!(accesses.results().as_array().unwrap().len(), 1);
    // Leaving the group ends the access on the next request (AC-6).
    app.send(
        Method::DELETE,
        &format!("/api/v1/groups/{group}/members/{}", member.user_uuid),
        &a,
        None,
    )
    .await
    .results();
    app.get(&path, &m).await.expect_error(404);
    app.send(Method::DELETE, &group_path, &a, None)
        .await
        .results();
    app.send(Method::DELETE, &group_path, &a, None)
        .await
        .expect_error(404);
    app.send(
        Method::PATCH,
        &group_path,
        &a,
        Some(json!({"role": "viewer"})),
    )
    .await
    .expect_error(404);
    // A group of another organization cannot be granted.
    let (other_admin, _) = admin_of_new_org(&app, "Other").await;
    let foreign = app
        .post(
            "/api/v1/org/groups",
            &cookie(&other_admin),
            json!({"name": "Foreign"}),
        )
        .await
        .results()["uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    app.post(
        &format!("/api/v1/groups/{foreign}/projects/{project}"),
        &a,
        json!({"role": "viewer"}),
    )
    .await
    .expect_error(404);

    // An organization role change holds on the next request too.
    app.send(
        Method::PATCH,
        &format!("/api/v1/org/users/{}", member.user_uuid),
        &a,
        Some(json!({"role": "viewer"})),
    )
    .await
    .results();
    assert_eq!(app.get(&me, &m).await.results()["role"], "viewer");
}

/// What one cell of the matrix expects: a status.
async fn status(
    app: &TestApp,
    method: Method,
    path: &str,
    auth: &Auth,
    body: Option<Value>,
) -> u16 {
    app.send(method, path, auth, body).await.status.as_u16()
}

/// Every project operation as each organization role, a user of another organization and no
/// one (AC-1, AC-2, AC-3, AC-8).
async fn project_role_matrix_and_isolation(app: TestApp) {
    let (admin, _) = admin_of_new_org(&app, "Matrix").await;
    let (outsider, _) = admin_of_new_org(&app, "Elsewhere").await;
    let roles = [
        "admin",
        "developer",
        "editor",
        "interactive_viewer",
        "viewer",
        "member",
    ];
    let mut people = vec![("org admin".to_owned(), cookie(&admin))];
    for role in &roles[1..] {
        let u = invite_and_join(&app, &admin, role).await;
        people.push((role.to_string(), cookie(&u)));
    }
    people.push(("other organization".into(), cookie(&outsider)));
    people.push(("no one".into(), Auth::None));
    let target = invite_and_join(&app, &admin, "viewer").await;

    // Expected status per person, in the order of `people`.
    type Row = (&'static str, [u16; 8]);
    let rows: Vec<Row> = vec![
        ("create", [201, 201, 403, 403, 403, 403, 201, 401]),
        ("get", [200, 200, 200, 200, 200, 404, 404, 401]),
        ("list-contains", [1, 1, 1, 1, 1, 0, 0, 401]),
        ("metadata", [200, 200, 200, 403, 403, 404, 404, 401]),
        ("scheduler", [200, 200, 200, 403, 403, 404, 404, 401]),
        ("access-list", [200, 200, 200, 200, 200, 404, 404, 401]),
        ("grant", [200, 403, 403, 403, 403, 404, 404, 401]),
        ("member-access", [200, 403, 403, 403, 403, 404, 404, 401]),
        ("group-accesses", [200, 200, 200, 200, 200, 404, 404, 401]),
        ("update-access", [200, 403, 403, 403, 403, 404, 404, 401]),
        ("revoke-access", [200, 403, 403, 403, 403, 404, 404, 401]),
        ("group-add", [200, 403, 403, 403, 403, 404, 404, 401]),
        ("group-update", [200, 403, 403, 403, 403, 404, 404, 401]),
        ("group-revoke", [200, 403, 403, 403, 403, 404, 404, 401]),
        ("tags-list", [200, 200, 200, 200, 200, 404, 404, 401]),
        ("tag-create", [201, 201, 201, 403, 403, 404, 404, 401]),
        ("tag-update", [200, 200, 200, 403, 403, 404, 404, 401]),
        ("tag-delete", [204, 204, 204, 403, 403, 404, 404, 401]),
        ("tags-yaml", [200, 200, 200, 403, 403, 404, 404, 401]),
        ("delete", [200, 403, 403, 403, 403, 404, 404, 401]),
    ];
    let group = app
        .post(
            "/api/v1/org/groups",
            &cookie(&admin),
            json!({"name": "Matrix group"}),
        )
        .await
        .results()["uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    for (op, expected) in rows {
        for ((who, auth), want) in people.iter().zip(expected) {
            let project = new_project(&app, &admin, "M").await;
            let path = format!("/api/v1/projects/{project}");
            let adm = cookie(&admin);
            let user_access = format!("{path}/access/{}", target.user_uuid);
            let group_access = format!("/api/v1/groups/{group}/projects/{project}");
            if matches!(op, "update-access" | "revoke-access") {
                let g = json!({"email": target.email, "role": "viewer", "sendEmail": false});
                app.post(&format!("{path}/access"), &adm, g).await.results();
            }
            if matches!(op, "group-update" | "group-revoke") {
                app.post(&group_access, &adm, json!({"role": "viewer"}))
                    .await
                    .results();
            }
            let tag = if matches!(op, "tag-update" | "tag-delete") {
                app.post(
                    &format!("{path}/tags"),
                    &adm,
                    json!({"name": "t", "color": "#000"}),
                )
                .await
                .results()["tagUuid"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            } else {
                String::new()
            };
            let role = Some(json!({"role": "editor"}));
            let got = match op {
                "create" => {
                    status(
                        &app,
                        Method::POST,
                        "/api/v1/org/projects",
                        auth,
                        Some(json!({"name": "x"})),
                    )
                    .await
                }
                "get" => status(&app, Method::GET, &path, auth, None).await,
                "list-contains" => {
                    let r = app.get("/api/v1/org/projects", auth).await;
                    if r.status == 401 {
                        401
                    } else {
                        u16::from(listed(&r).contains(&project))
                    }
                }
                "metadata" => {
                    status(
                        &app,
                        Method::PATCH,
                        &format!("{path}/metadata"),
                        auth,
                        Some(json!({"upstreamProjectUuid": null})),
                    )
                    .await
                }
                "scheduler" => {
                    status(
                        &app,
                        Method::PATCH,
                        &format!("{path}/schedulerSettings"),
                        auth,
                        Some(json!({"schedulerTimezone": "UTC"})),
                    )
                    .await
                }
                "access-list" => {
                    status(&app, Method::GET, &format!("{path}/access"), auth, None).await
                }
                "grant" => {
                    status(
                        &app,
                        Method::POST,
                        &format!("{path}/access"),
                        auth,
                        Some(json!({"email": target.email, "role": "viewer", "sendEmail": false})),
                    )
                    .await
                }
                "member-access" => {
                    status(
                        &app,
                        Method::GET,
                        &format!("{path}/user/{}", target.user_uuid),
                        auth,
                        None,
                    )
                    .await
                }
                "group-accesses" => {
                    status(
                        &app,
                        Method::GET,
                        &format!("{path}/groupAccesses"),
                        auth,
                        None,
                    )
                    .await
                }
                "update-access" => status(&app, Method::PATCH, &user_access, auth, role).await,
                "revoke-access" => status(&app, Method::DELETE, &user_access, auth, None).await,
                "group-add" => status(&app, Method::POST, &group_access, auth, role).await,
                "group-update" => status(&app, Method::PATCH, &group_access, auth, role).await,
                "group-revoke" => status(&app, Method::DELETE, &group_access, auth, None).await,
                "tags-list" => status(&app, Method::GET, &format!("{path}/tags"), auth, None).await,
                "tag-create" => {
                    status(
                        &app,
                        Method::POST,
                        &format!("{path}/tags"),
                        auth,
                        Some(json!({"name": "n", "color": "#fff"})),
                    )
                    .await
                }
                "tag-update" => {
                    status(
                        &app,
                        Method::PATCH,
                        &format!("{path}/tags/{tag}"),
                        auth,
                        Some(json!({"color": "#fff"})),
                    )
                    .await
                }
                "tag-delete" => {
                    status(
                        &app,
                        Method::DELETE,
                        &format!("{path}/tags/{tag}"),
                        auth,
                        None,
                    )
                    .await
                }
                "tags-yaml" => {
                    status(
                        &app,
                        Method::PUT,
                        &format!("{path}/tags/yaml"),
                        auth,
                        Some(json!([])),
                    )
                    .await
                }
                "delete" => {
                    status(
                        &app,
                        Method::DELETE,
                        &format!("/api/v1/org/projects/{project}"),
                        auth,
                        None,
                    )
                    .await
                }
                _ => unreachable!(),
            };
            // member-access of a user without access answers 404 even to an admin: give the
            // target access first where the cell expects success.
            let got = if op == "member-access" && want == 200 && got == 404 {
                app.post(
                    &format!("{path}/access"),
                    &cookie(&admin),
                    json!({"email": target.email, "role": "viewer", "sendEmail": false}),
                )
                .await
                .results();
                status(
                    &app,
                    Method::GET,
                    &format!("{path}/user/{}", target.user_uuid),
                    auth,
                    None,
                )
                .await
            } else {
                got
            };
            assert_eq!(got, want, "{op} as {who}");
        }
    }
    // AC-8: a project of another organization and one that does not exist answer alike.
    let project = new_project(&app, &admin, "Mine").await;
    let theirs = app
        .get(&format!("/api/v1/projects/{project}"), &cookie(&outsider))
        .await;
    let missing = app
        .get(
            &format!("/api/v1/projects/{}", uuid::Uuid::now_v7()),
            &cookie(&outsider),
        )
        .await;
    assert_eq!(theirs.expect_error(404), missing.expect_error(404));
}

/// Tags: project editors and above manage them, viewers read them; the YAML set is replaced
/// as a whole and leaves API tags alone; names are unique in a project.
async fn tags_are_kept_per_project(app: TestApp) {
    let (admin, _) = admin_of_new_org(&app, "Tags").await;
    let a = cookie(&admin);
    let project = new_project(&app, &admin, "Tagged").await;
    let tags = format!("/api/v1/projects/{project}/tags");
    let viewer = invite_and_join(&app, &admin, "viewer").await;
    let v = cookie(&viewer);
    let created = app
        .post(&tags, &a, json!({"name": "Finance", "color": "#4F46E5"}))
        .await;
    assert_eq!(created.status, 201);
    let finance = created.results()["tagUuid"].as_str().unwrap().to_owned();
    app.post(&tags, &a, json!({"name": "Finance", "color": "#000000"}))
        .await
        .expect_error(409);
    for bad in [
        json!({"name": "", "color": "#000"}),
        json!({"name": "x", "color": "blue"}),
        json!({"name": "x"}),
    ] {
        app.post(&tags, &a, bad).await.expect_error(400);
    }
    app.post(&tags, &v, json!({"name": "Mine", "color": "#000"}))
        .await
        .expect_error(403);
    let listed = app.get(&tags, &v).await.results().clone();
    assert_eq!(listed[0]["name"], "Finance");
    assert_eq!(listed[0]["color"], "#4f46e5");
    assert_eq!(listed[0]["yamlReference"], Value::Null);
    assert_eq!(listed[0]["createdBy"]["userUuid"], admin.user_uuid.as_str());

    let one = format!("{tags}/{finance}");
    app.send(Method::PATCH, &one, &a, Some(json!({"name": "Money"})))
        .await
        .results();
    app.send(Method::PATCH, &one, &v, Some(json!({"name": "Mine"})))
        .await
        .expect_error(403);
    app.send(
        Method::PATCH,
        &format!("{tags}/{}", uuid::Uuid::now_v7()),
        &a,
        Some(json!({"color": "#fff"})),
    )
    .await
    .expect_error(404);

    let yaml = format!("{tags}/yaml");
    let set = json!([
        {"name": "Ops", "color": "#111111", "yamlReference": "ops"},
        {"name": "Sales", "color": "#222222", "yamlReference": "sales"},
    ]);
    app.send(Method::PUT, &yaml, &a, Some(set)).await.results();
    app.send(
        Method::PUT,
        &yaml,
        &a,
        Some(json!([{"name": "Ops", "color": "#111111", "yamlReference": "ops"}])),
    )
    .await
    .results();
    let names: Vec<String> = app
        .get(&tags, &a)
        .await
        .results()
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        names,
        vec!["Money".to_owned(), "Ops".to_owned()],
        "the YAML set replaced, the API tag kept"
    );
    // A YAML tag named like an API tag changes nothing.
    app.send(
        Method::PUT,
        &yaml,
        &a,
        Some(json!([{"name": "Money", "color": "#111111", "yamlReference": "m"}])),
    )
    .await
    .expect_error(409);
    app.send(
        Method::PUT,
        &yaml,
        &a,
        Some(json!([{"name": "A", "color": "#111111", "yamlReference": ""}])),
    )
    .await
    .expect_error(400);
    assert_eq!(
        app.get(&tags, &a).await.results().as_array().unwrap().len(),
        2
    );

    assert_eq!(app.send(Method::DELETE, &one, &a, None).await.status, 204);
    app.send(Method::DELETE, &one, &a, None)
        .await
        .expect_error(404);
    // Another organization sees nothing of them.
    let (outsider, _) = admin_of_new_org(&app, "Out").await;
    app.get(&tags, &cookie(&outsider)).await.expect_error(404);
}

dual!(
    projects_are_created_changed_and_deleted,
    grants_give_access_and_their_removal_takes_it_away,
    project_role_matrix_and_isolation,
    tags_are_kept_per_project,
);
