//! User attributes: values per user and per group, limited to the organization; admins only;
//! isolated between organizations.

use reqwest::Method;
use serde_json::json;

use crate::groups::new_group;
use crate::{
    helpers::{Auth, TestApp, dual},
    organizations::{admin_of_new_org, cookie, invite_and_join},
};

async fn attributes_hold_values_of_their_organization(app: TestApp) {
    let (admin, org) = admin_of_new_org(&app, "Attrs").await;
    let member = invite_and_join(&app, &admin, "viewer").await;
    let (outsider, _) = admin_of_new_org(&app, "Other").await;
    let a = cookie(&admin);
    let group = new_group(
        &app,
        &a,
        json!({"name": "EU", "members": [{"userUuid": member.user_uuid}]}),
    )
    .await;
    let body = json!({
        "name": "region", "description": "Sales region", "attributeDefault": "eu",
        "users": [{"userUuid": member.user_uuid, "value": "us"}], "groups": [{"groupUuid": group, "value": "apac"}]
    });
    let created = app
        .post("/api/v1/org/attributes", &a, body.clone())
        .await
        .results()
        .clone();
    assert_eq!(created["organizationUuid"], org.as_str());
    assert_eq!(
        created["users"],
        json!([{"userUuid": member.user_uuid, "email": member.email, "value": "us"}])
    );
    assert_eq!(
        created["groups"],
        json!([{"groupUuid": group, "value": "apac"}])
    );
    let id = created["uuid"].as_str().unwrap().to_owned();
    app.post("/api/v1/org/attributes", &a, body.clone())
        .await
        .expect_error(409);
    for bad in [
        json!({"name": "Region!", "attributeDefault": null, "users": [], "groups": []}),
        json!({"name": "x1", "attributeDefault": null, "users": [{"userUuid": outsider.user_uuid, "value": "v"}], "groups": []}),
        json!({"name": "x2", "attributeDefault": null, "users": [], "groups": [{"groupUuid": uuid::Uuid::now_v7(), "value": "v"}]}),
        json!({"name": "x3", "attributeDefault": null, "users": [{"userUuid": member.user_uuid, "value": "a"}, {"userUuid": member.user_uuid, "value": "b"}], "groups": []}),
        json!({"name": "x4", "attributeDefault": null}),
    ] {
        app.post("/api/v1/org/attributes", &a, bad)
            .await
            .expect_error(400);
    }
    let replaced = app
        .send(Method::PUT, &format!("/api/v1/org/attributes/{id}"), &a, Some(json!({"name": "sales_region", "attributeDefault": null, "users": [], "groups": [{"groupUuid": group, "value": "emea"}]})))
        .await;
    let replaced = replaced.results().clone();
    assert_eq!(
        (
            replaced["name"].as_str(),
            replaced["attributeDefault"].is_null()
        ),
        (Some("sales_region"), true)
    );
    assert_eq!(replaced["users"], json!([]));
    let listed = app
        .get("/api/v1/org/attributes", &a)
        .await
        .results()
        .clone();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    // Leaving the organization removes a member's values.
    app.send(Method::PUT, &format!("/api/v1/org/attributes/{id}"), &a, Some(json!({"name": "sales_region", "attributeDefault": null, "users": [{"userUuid": member.user_uuid, "value": "us"}], "groups": []})))
        .await
        .results();
    app.send(
        Method::DELETE,
        &format!("/api/v1/org/user/{}", member.user_uuid),
        &a,
        None,
    )
    .await
    .results();
    assert_eq!(
        app.get("/api/v1/org/attributes", &a).await.results()[0]["users"],
        json!([])
    );
    app.send(
        Method::DELETE,
        &format!("/api/v1/org/attributes/{id}"),
        &a,
        None,
    )
    .await
    .results();
    app.send(
        Method::DELETE,
        &format!("/api/v1/org/attributes/{id}"),
        &a,
        None,
    )
    .await
    .expect_error(404);
}

async fn attribute_role_matrix_and_isolation(app: TestApp) {
    let (admin, _) = admin_of_new_org(&app, "AA").await;
    let (outsider, _) = admin_of_new_org(&app, "AB").await;
    let body = json!({"name": "team", "attributeDefault": "x", "users": [], "groups": []});
    let id = app
        .post("/api/v1/org/attributes", &cookie(&admin), body.clone())
        .await
        .results()["uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    for role in [
        "developer",
        "editor",
        "interactive_viewer",
        "viewer",
        "member",
    ] {
        let who = cookie(&invite_and_join(&app, &admin, role).await);
        app.get("/api/v1/org/attributes", &who)
            .await
            .expect_error(403);
        app.post(
            "/api/v1/org/attributes",
            &who,
            json!({"name": "mine", "attributeDefault": null, "users": [], "groups": []}),
        )
        .await
        .expect_error(403);
        app.send(
            Method::PUT,
            &format!("/api/v1/org/attributes/{id}"),
            &who,
            Some(body.clone()),
        )
        .await
        .expect_error(403);
        app.send(
            Method::DELETE,
            &format!("/api/v1/org/attributes/{id}"),
            &who,
            None,
        )
        .await
        .expect_error(403);
    }
    let b = cookie(&outsider);
    assert_eq!(
        app.get("/api/v1/org/attributes", &b).await.results(),
        &json!([])
    );
    let theirs = app
        .send(
            Method::PUT,
            &format!("/api/v1/org/attributes/{id}"),
            &b,
            Some(body.clone()),
        )
        .await;
    let random = app
        .send(
            Method::PUT,
            &format!("/api/v1/org/attributes/{}", uuid::Uuid::now_v7()),
            &b,
            Some(body.clone()),
        )
        .await;
    assert_eq!(theirs.expect_error(404), random.expect_error(404));
    app.send(
        Method::DELETE,
        &format!("/api/v1/org/attributes/{id}"),
        &b,
        None,
    )
    .await
    .expect_error(404);
    app.get("/api/v1/org/attributes", &Auth::None)
        .await
        .expect_error(401);
    assert_eq!(
        app.get("/api/v1/org/attributes", &cookie(&admin))
            .await
            .results()[0]["attributeDefault"],
        "x",
        "unchanged"
    );
}

dual!(
    attributes_hold_values_of_their_organization,
    attribute_role_matrix_and_isolation
);
