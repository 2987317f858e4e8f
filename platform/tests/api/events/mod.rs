//! Consistency across services (events.v1): deletions in identity-svc and projects-svc reach
//! projects-svc and connections-svc through the outboxes and their subscriptions; a consumer
//! that was stopped catches up from its cursor; two instances of one consumer apply each event
//! once. This module holds the shared set-up: a member's world of grants, what the other
//! services keep about a user, group or organization, and consumers started by the test.

mod cascade;
mod consumers;
mod subscriptions;

use std::time::Duration;

use outbox::{ConsumerSettings, spawn_consumer};
use reqwest::Method;
use secrecy::SecretString;
use serde_json::json;
use service_kit::{callers::Caller, grpc::InternalCredential};
use tokio_util::sync::CancellationToken;

use crate::{
    helpers::{TestApp, TestUser, count},
    organizations::{cookie, invite_and_join},
    projects::new_project,
};

const LIMIT: Duration = Duration::from_secs(5);
/// How long a consumer may take to apply a seeded backlog of a thousand events or more.
const BACKLOG_LIMIT: Duration = Duration::from_secs(30);

async fn personal_credentials(app: &TestApp, user: &TestUser, project: &str) -> String {
    let r = app
        .post(
            "/api/v1/user/warehouseCredentials",
            &cookie(user),
            json!({"name": "mine", "credentials": {"type": "postgres", "user": "u", "password": "p"}}),
        )
        .await;
    let id = r.results()["uuid"].as_str().unwrap().to_owned();
    let r = app
        .send(
            Method::PATCH,
            &format!("/api/v1/projects/{project}/user-credentials/{id}"),
            &cookie(user),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    id
}

/// A member with a project grant, a space grant, personal credentials chosen for the project;
/// a group with project and space grants. Returns (member, project, space, group).
async fn world(app: &TestApp, admin: &TestUser) -> (TestUser, String, String, String) {
    let member = invite_and_join(app, admin, "member").await;
    let project = new_project(app, admin, "P").await;
    let adm = cookie(admin);
    app.post(
        &format!("/api/v1/projects/{project}/access"),
        &adm,
        json!({"email": member.email, "role": "viewer", "sendEmail": false}),
    )
    .await
    .results();
    let space = app
        .post(
            &format!("/api/v1/projects/{project}/spaces"),
            &adm,
            json!({"name": "S", "isPrivate": true, "access": [{"userUuid": member.user_uuid, "role": "viewer"}]}),
        )
        .await;
    let space = space.results()["uuid"].as_str().unwrap().to_owned();
    let group = app
        .post("/api/v1/org/groups", &adm, json!({"name": "G"}))
        .await;
    let group = group.results()["uuid"].as_str().unwrap().to_owned();
    app.post(
        &format!("/api/v1/groups/{group}/projects/{project}"),
        &adm,
        json!({"role": "viewer"}),
    )
    .await
    .results();
    app.post(
        &format!("/api/v1/projects/{project}/spaces/{space}/group/share"),
        &adm,
        json!({"groupUuid": group, "spaceRole": "viewer"}),
    )
    .await
    .results();
    personal_credentials(app, &member, &project).await;
    (member, project, space, group)
}

/// Everything the platform keeps about `user` outside identity-svc.
pub(crate) async fn traces_of_user(app: &TestApp, user: &str) -> i64 {
    count(
        &app.projects_db,
        "SELECT COUNT(*) FROM project_user_grants WHERE user_uuid = $1",
        user,
    )
    .await
        + count(
            &app.projects_db,
            "SELECT COUNT(*) FROM space_user_grants WHERE user_uuid = $1",
            user,
        )
        .await
        + count(
            &app.connections_db,
            "SELECT COUNT(*) FROM connections WHERE owner_user_uuid = $1",
            user,
        )
        .await
        + count(
            &app.connections_db,
            "SELECT COUNT(*) FROM credentials_preferences WHERE user_uuid = $1",
            user,
        )
        .await
}

async fn traces_of_group(app: &TestApp, group: &str) -> i64 {
    count(
        &app.projects_db,
        "SELECT COUNT(*) FROM project_group_grants WHERE group_uuid = $1",
        group,
    )
    .await
        + count(
            &app.projects_db,
            "SELECT COUNT(*) FROM space_group_grants WHERE group_uuid = $1",
            group,
        )
        .await
}

pub(crate) async fn traces_of_organization(app: &TestApp, org: &str) -> i64 {
    count(
        &app.projects_db,
        "SELECT COUNT(*) FROM projects WHERE organization_uuid = $1",
        org,
    )
    .await
        + count(
            &app.connections_db,
            "SELECT COUNT(*) FROM connections WHERE organization_uuid = $1",
            org,
        )
        .await
}

fn channel(addr: std::net::SocketAddr) -> tonic::transport::Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_lazy()
}

/// The service credential of `caller`, as its consumers present it.
fn credential(app: &TestApp, caller: Caller) -> InternalCredential {
    InternalCredential::new(SecretString::from(app.credential(caller))).unwrap()
}

/// Starts the consumers projects-svc and connections-svc run, on their databases.
pub(crate) fn start_consumers(app: &TestApp, shutdown: &CancellationToken) {
    let settings = |source| ConsumerSettings {
        source,
        consumer: "test",
        max_backoff: Duration::from_millis(500),
        reconcile_every: None,
    };
    spawn_consumer(
        settings("identity"),
        channel(app.identity_addr),
        credential(app, Caller::ProjectsSvc),
        projects_svc::store::sink_for_pool(app.projects_db.clone()),
        shutdown.clone(),
    );
    for (source, addr) in [
        ("identity", app.identity_addr),
        ("projects", app.projects_addr),
    ] {
        spawn_consumer(
            settings(source),
            channel(addr),
            credential(app, Caller::ConnectionsSvc),
            connections_svc::store::sink_for_pool(app.connections_db.clone()),
            shutdown.clone(),
        );
    }
}

async fn scalar(db: &service_kit::db::Pool, sql: &'static str) -> i64 {
    match db {
        service_kit::db::Pool::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await,
        service_kit::db::Pool::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await,
    }
    .unwrap()
}
