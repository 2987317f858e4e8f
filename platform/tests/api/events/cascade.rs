//! Deletions cascade: removing a member, deleting a group, a project, an organization or one's
//! own account cleans up the other services; a late removal spares what came after it; the
//! periodic reconciliation removes what escaped a cascade.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::{
    LIMIT, personal_credentials, start_consumers, traces_of_group, traces_of_organization,
    traces_of_user, world,
};
use crate::{
    helpers::{Backend, TestApp, count, dual, dual_backend, spawn_app_with, within},
    organizations::{admin_of_new_org, cookie},
    projects::new_project,
};

/// Removing a member, deleting a group, a project and then the organization each clean up the
/// other services (issue #6, item 2).
async fn deletions_cascade_to_the_other_services(app: TestApp) {
    let (admin, org) = admin_of_new_org(&app, "Cascade").await;
    let (member, project, _space, group) = world(&app, &admin).await;
    assert_eq!(traces_of_user(&app, &member.user_uuid).await, 4);
    assert_eq!(traces_of_group(&app, &group).await, 2);
    let adm = cookie(&admin);

    app.send(
        Method::DELETE,
        &format!("/api/v1/org/user/{}", member.user_uuid),
        &adm,
        None,
    )
    .await
    .results();
    within(
        LIMIT,
        "the removed member's grants and credentials go",
        || async { traces_of_user(&app, &member.user_uuid).await == 0 },
    )
    .await;

    app.send(
        Method::DELETE,
        &format!("/api/v1/groups/{group}"),
        &adm,
        None,
    )
    .await
    .results();
    within(LIMIT, "the deleted group's grants go", || async {
        traces_of_group(&app, &group).await == 0
    })
    .await;

    personal_credentials(&app, &admin, &project).await;
    let prefs = "SELECT COUNT(*) FROM credentials_preferences WHERE project_uuid = $1";
    assert_eq!(count(&app.connections_db, prefs, &project).await, 1);
    app.send(
        Method::DELETE,
        &format!("/api/v1/org/projects/{project}"),
        &adm,
        None,
    )
    .await
    .results();
    within(LIMIT, "preferences for the deleted project go", || async {
        count(&app.connections_db, prefs, &project).await == 0
    })
    .await;

    new_project(&app, &admin, "Q").await;
    app.post(
        "/api/v1/connections",
        &adm,
        json!({"provider": "postgresql", "name": "shared", "secrets": {"password": "p"}}),
    )
    .await
    .results();
    assert!(traces_of_organization(&app, &org).await >= 3);
    app.send(Method::DELETE, &format!("/api/v1/org/{org}"), &adm, None)
        .await
        .results();
    within(
        LIMIT,
        "the organization's projects and connections go",
        || async { traces_of_organization(&app, &org).await == 0 },
    )
    .await;
}

/// A user who deletes their account leaves no grant, credential or preference behind.
async fn a_deleted_user_leaves_nothing_behind(app: TestApp) {
    let (admin, _) = admin_of_new_org(&app, "Leaving").await;
    let (member, _, _, _) = world(&app, &admin).await;
    assert_eq!(traces_of_user(&app, &member.user_uuid).await, 4);
    app.send(Method::DELETE, "/api/v1/user/me", &cookie(&member), None)
        .await
        .results();
    within(LIMIT, "the deleted user's traces go", || async {
        traces_of_user(&app, &member.user_uuid).await == 0
    })
    .await;

    // The only member of an organization takes it along: its projects and connections go.
    let (alone, org) = admin_of_new_org(&app, "Alone").await;
    new_project(&app, &alone, "Mine").await;
    app.post(
        "/api/v1/connections",
        &cookie(&alone),
        json!({"provider": "postgresql", "name": "mine", "secrets": {"password": "p"}}),
    )
    .await
    .results();
    assert!(traces_of_organization(&app, &org).await >= 2);
    app.send(Method::DELETE, "/api/v1/user/me", &cookie(&alone), None)
        .await
        .results();
    within(
        LIMIT,
        "the organization of its only member goes with them",
        || async { traces_of_organization(&app, &org).await == 0 },
    )
    .await;
}

/// A late `MemberRemoved` (the consumer was away) removes what was granted before the removal,
/// not what the member was given after rejoining.
async fn a_late_removal_spares_what_came_after(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |c| c.consumer.consume_events = false).await else {
        return;
    };
    let (admin, _) = admin_of_new_org(&app, "Late").await;
    let (member, project, _, _) = world(&app, &admin).await;
    app.send(
        Method::DELETE,
        &format!("/api/v1/org/user/{}", member.user_uuid),
        &cookie(&admin),
        None,
    )
    .await
    .results();
    // Granted again after the removal (as after a rejoin), straight into the database.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let later = new_project(&app, &admin, "Later").await;
    let (p, u) = (
        uuid::Uuid::parse_str(&later).unwrap(),
        uuid::Uuid::parse_str(&member.user_uuid).unwrap(),
    );
    let sql = "INSERT INTO project_user_grants (project_uuid, user_uuid, role, created_at) VALUES ($1, $2, 'viewer', $3)";
    match &app.projects_db {
        service_kit::db::Pool::Sqlite(db) => sqlx::query(sql)
            .bind(p)
            .bind(u)
            .bind(chrono::Utc::now())
            .execute(db)
            .await
            .map(|_| ()),
        service_kit::db::Pool::Postgres(db) => sqlx::query(sql)
            .bind(p)
            .bind(u)
            .bind(chrono::Utc::now())
            .execute(db)
            .await
            .map(|_| ()),
    }
    .unwrap();
    let shutdown = CancellationToken::new();
    start_consumers(&app, &shutdown);
    let grants = "SELECT COUNT(*) FROM project_user_grants WHERE project_uuid = $1";
    within(LIMIT, "the grant made before the removal goes", || async {
        count(&app.projects_db, grants, &project).await == 1
    })
    .await;
    within(LIMIT, "the consumer reaches the head", || async {
        projects_svc::store::sink_for_pool(app.projects_db.clone())
            .cursor("identity")
            .await
            .unwrap()
            > 0
    })
    .await;
    shutdown.cancel();
    // The admin's grant and the later one stay.
    assert_eq!(count(&app.projects_db, grants, &later).await, 2);
}

/// A row that escaped a cascade (created while its organization's deletion was applied) goes at
/// the next periodic reconciliation; what still has its organization stays.
async fn reconciliation_removes_what_escaped_a_cascade(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |c| c.consumer.events_reconcile_seconds = 1).await
    else {
        return;
    };
    let (admin, org) = admin_of_new_org(&app, "Kept").await;
    let kept = new_project(&app, &admin, "Kept").await;
    let gone_org = uuid::Uuid::now_v7();
    let earlier = chrono::Utc::now() - chrono::Duration::seconds(1);
    let project = projects_svc::store::ProjectRecord {
        project_uuid: uuid::Uuid::now_v7(),
        organization_uuid: gone_org,
        name: "orphan".into(),
        project_type: "DEFAULT".into(),
        created_by_user_uuid: None,
        scheduler_timezone: "UTC".into(),
        upstream_project_uuid: None,
        warehouse_connection_uuid: None,
        warehouse_type: "postgres".into(),
        created_at: earlier,
        updated_at: earlier,
        spaces_version: 0,
    };
    projects_svc::store::for_pool(app.projects_db.clone())
        .insert_project(&project, None)
        .await
        .unwrap();
    let connection = connections_svc::store::ConnectionRecord {
        connection_uuid: uuid::Uuid::now_v7(),
        organization_uuid: gone_org,
        owner_user_uuid: uuid::Uuid::now_v7(),
        kind: "shared".into(),
        provider: "postgresql".into(),
        name: "orphan".into(),
        description: "{}".into(),
        host: String::new(),
        port: String::new(),
        identifier: String::new(),
        scope: String::new(),
        expiry: None,
        active: true,
        invalid: false,
        cache: 0,
        datasets_meta_sync_enabled: true,
        datasets_meta_sync_interval: 1,
        linked_at: earlier,
        options: "{}".into(),
        last_tested_at: None,
        created_at: earlier,
        updated_at: earlier,
        visibility: "organization".into(),
    };
    connections_svc::store::for_pool(app.connections_db.clone())
        .insert(&connection, &[])
        .await
        .unwrap();
    let gone = gone_org.to_string();
    assert_eq!(traces_of_organization(&app, &gone).await, 2);
    within(
        LIMIT,
        "the orphans go at the next reconciliation",
        || async { traces_of_organization(&app, &gone).await == 0 },
    )
    .await;
    assert_eq!(
        count(
            &app.projects_db,
            "SELECT COUNT(*) FROM projects WHERE project_uuid = $1",
            &kept
        )
        .await,
        1
    );
    assert!(traces_of_organization(&app, &org).await >= 1);
}

dual!(
    deletions_cascade_to_the_other_services,
    a_deleted_user_leaves_nothing_behind,
);
dual_backend!(
    a_late_removal_spares_what_came_after,
    reconciliation_removes_what_escaped_a_cascade,
);
