//! Lightdash's API, project steps of `lightdash::every_implemented_operation_is_exercised`:
//! projects and their user and group access, tags, spaces and their shares.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{Auth, TestApp, TestUser};

/// Projects and their access; then their tags and spaces.
pub(super) async fn projects_and_their_access(app: &TestApp) {
    let nobody = Auth::None;
    let (padmin, _) = crate::organizations::admin_of_new_org(app, "Contract projects").await;
    let pa = Auth::Cookie(padmin.cookie.clone());
    let viewer = crate::organizations::invite_and_join(app, &padmin, "member").await;
    let project = crate::projects::new_project(app, &padmin, "Contract").await;
    let missing = uuid::Uuid::now_v7();
    let p = format!("/api/v1/projects/{project}");
    let gone = format!("/api/v1/projects/{missing}");
    app.get("/api/v1/org/projects", &pa).await.results();
    app.get("/api/v1/org/projects", &nobody)
        .await
        .expect_error(401);
    app.get(&p, &pa).await.results();
    app.get(&gone, &pa).await.expect_error(404);
    let meta = json!({"upstreamProjectUuid": null});
    app.send(
        Method::PATCH,
        &format!("{p}/metadata"),
        &pa,
        Some(meta.clone()),
    )
    .await
    .results();
    app.send(Method::PATCH, &format!("{gone}/metadata"), &pa, Some(meta))
        .await
        .expect_error(404);
    let tz = json!({"schedulerTimezone": "Europe/Berlin"});
    app.send(
        Method::PATCH,
        &format!("{p}/schedulerSettings"),
        &pa,
        Some(tz),
    )
    .await
    .results();
    app.send(
        Method::PATCH,
        &format!("{p}/schedulerSettings"),
        &pa,
        Some(json!({"schedulerTimezone": "Nowhere/City"})),
    )
    .await
    .expect_error(400);
    let grant = json!({"email": viewer.email, "role": "viewer", "sendEmail": false});
    app.post(&format!("{p}/access"), &pa, grant.clone())
        .await
        .results();
    app.post(&format!("{p}/access"), &pa, grant)
        .await
        .expect_error(409);
    app.get(&format!("{p}/access"), &pa).await.results();
    app.get(&format!("{gone}/access"), &pa)
        .await
        .expect_error(404);
    let ua = format!("{p}/access/{}", viewer.user_uuid);
    app.send(Method::PATCH, &ua, &pa, Some(json!({"role": "editor"})))
        .await
        .results();
    app.send(
        Method::PATCH,
        &format!("{p}/access/{missing}"),
        &pa,
        Some(json!({"role": "editor"})),
    )
    .await
    .expect_error(404);
    app.get(&format!("{p}/user/{}", viewer.user_uuid), &pa)
        .await
        .results();
    app.get(&format!("{p}/user/{missing}"), &pa)
        .await
        .expect_error(404);
    app.send(Method::DELETE, &ua, &pa, None).await.results();
    app.send(Method::DELETE, &ua, &pa, None)
        .await
        .expect_error(404);
    let group = app
        .post("/api/v1/org/groups", &pa, json!({"name": "Contract group"}))
        .await
        .results()["uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    let gp = format!("/api/v1/groups/{group}/projects/{project}");
    app.post(&gp, &pa, json!({"role": "viewer"}))
        .await
        .results();
    app.post(&gp, &pa, json!({"role": "viewer"}))
        .await
        .expect_error(409);
    app.send(Method::PATCH, &gp, &pa, Some(json!({"role": "editor"})))
        .await
        .results();
    app.get(&format!("{p}/groupAccesses"), &pa).await.results();
    app.get(&format!("{gone}/groupAccesses"), &pa)
        .await
        .expect_error(404);
    tags(app, &pa, &p, &gone, missing).await;
    spaces(app, &pa, &p, &gone, missing, &viewer, &group).await;
    app.send(Method::DELETE, &gp, &pa, None).await.results();
    app.send(Method::PATCH, &gp, &pa, Some(json!({"role": "editor"})))
        .await
        .expect_error(404);
    app.send(Method::DELETE, &gp, &pa, None)
        .await
        .expect_error(404);
}

/// A project's tags.
async fn tags(app: &TestApp, pa: &Auth, p: &str, gone: &str, missing: uuid::Uuid) {
    let tg = format!("{p}/tags");
    let tag = app
        .post(&tg, pa, json!({"name": "Contract tag", "color": "#123456"}))
        .await
        .results()["tagUuid"]
        .as_str()
        .unwrap()
        .to_owned();
    app.post(&tg, pa, json!({"name": "Contract tag", "color": "#123456"}))
        .await
        .expect_error(409);
    app.get(&tg, pa).await.results();
    app.get(&format!("{gone}/tags"), pa).await.expect_error(404);
    let yaml = json!([{"name": "Y", "color": "#abcdef", "yamlReference": "y"}]);
    app.send(Method::PUT, &format!("{tg}/yaml"), pa, Some(yaml))
        .await
        .results();
    app.send(
        Method::PUT,
        &format!("{tg}/yaml"),
        pa,
        Some(json!([{"name": "Y"}])),
    )
    .await
    .expect_error(400);
    let t1 = format!("{tg}/{tag}");
    app.send(Method::PATCH, &t1, pa, Some(json!({"color": "#654321"})))
        .await
        .results();
    app.send(
        Method::PATCH,
        &format!("{tg}/{missing}"),
        pa,
        Some(json!({"color": "#654321"})),
    )
    .await
    .expect_error(404);
    assert_eq!(app.send(Method::DELETE, &t1, pa, None).await.status, 204);
    app.send(Method::DELETE, &t1, pa, None)
        .await
        .expect_error(404);
}

/// A project's spaces and their user and group shares.
async fn spaces(
    app: &TestApp,
    pa: &Auth,
    p: &str,
    gone: &str,
    missing: uuid::Uuid,
    viewer: &TestUser,
    group: &str,
) {
    let sp = format!("{p}/spaces");
    let space = app
        .post(
            &sp,
            pa,
            json!({"name": "Contract space", "isPrivate": true}),
        )
        .await
        .results()["uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    app.post(&sp, pa, json!({"name": ""}))
        .await
        .expect_error(400);
    app.get(&sp, pa).await.results();
    app.get(&format!("{gone}/spaces"), pa)
        .await
        .expect_error(404);
    let s1 = format!("{sp}/{space}");
    let s404 = format!("{sp}/{missing}");
    app.get(&s1, pa).await.results();
    app.get(&s404, pa).await.expect_error(404);
    app.send(
        Method::PATCH,
        &s1,
        pa,
        Some(json!({"name": "Renamed", "isPrivate": true})),
    )
    .await
    .results();
    app.send(
        Method::PATCH,
        &s404,
        pa,
        Some(json!({"name": "x", "isPrivate": true})),
    )
    .await
    .expect_error(404);
    let share = json!({"userUuid": viewer.user_uuid, "spaceRole": "viewer"});
    app.post(&format!("{s1}/share"), pa, share.clone())
        .await
        .results();
    app.post(&format!("{s404}/share"), pa, share)
        .await
        .expect_error(404);
    let us = format!("{s1}/share/{}", viewer.user_uuid);
    app.send(Method::DELETE, &us, pa, None).await.results();
    app.send(Method::DELETE, &us, pa, None)
        .await
        .expect_error(404);
    let gshare = json!({"groupUuid": group, "spaceRole": "editor"});
    app.post(&format!("{s1}/group/share"), pa, gshare)
        .await
        .results();
    app.post(
        &format!("{s1}/group/share"),
        pa,
        json!({"groupUuid": missing, "spaceRole": "editor"}),
    )
    .await
    .expect_error(404);
    let gs = format!("{s1}/group/share/{group}");
    app.send(Method::DELETE, &gs, pa, None).await.results();
    app.send(Method::DELETE, &gs, pa, None)
        .await
        .expect_error(404);
    assert_eq!(app.send(Method::DELETE, &s1, pa, None).await.status, 204);
    app.send(Method::DELETE, &s1, pa, None)
        .await
        .expect_error(404);
}
