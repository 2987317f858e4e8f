//! Consistency across services (events.v1): deletions in identity-svc and projects-svc reach
//! projects-svc and connections-svc through the outboxes and their subscriptions; a consumer
//! that was stopped catches up from its cursor; two instances of one consumer apply each event
//! once.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use outbox::{ConsumerSettings, EventSink, spawn_consumer};
use reqwest::Method;
use secrecy::SecretString;
use serde_json::json;
use service_kit::grpc::InternalCredential;
use tokio_util::sync::CancellationToken;

use crate::{
    helpers::{Backend, TestApp, TestUser, count, dual, dual_backend, spawn_app_with, within},
    organizations::{admin_of_new_org, cookie, invite_and_join},
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
async fn traces_of_user(app: &TestApp, user: &str) -> i64 {
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

async fn traces_of_organization(app: &TestApp, org: &str) -> i64 {
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

/// Pruning removes a prefix of the sequence only: an old event behind a newer-stamped one waits
/// (stamps are the writers' clocks, not the commit order), so no reader meets a hole.
async fn pruning_takes_a_prefix_only(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |c| {
        c.consumer.consume_events = false;
        c.producer.events_retention_seconds = 1;
    })
    .await
    else {
        return;
    };
    let now = chrono::Utc::now();
    let sql = "INSERT INTO outbox_events (event_uuid, event_type, payload, created_at) VALUES ($1, 'organization.deleted', $2, $3)";
    let payload = json!({"organizationUuid": uuid::Uuid::now_v7()}).to_string();
    for at in [
        now - chrono::Duration::hours(1),
        now + chrono::Duration::hours(1),
        now - chrono::Duration::hours(2),
    ] {
        match &app.identity_db {
            service_kit::db::Pool::Sqlite(db) => sqlx::query(sql)
                .bind(uuid::Uuid::now_v7())
                .bind(&payload)
                .bind(at)
                .execute(db)
                .await
                .map(|_| ()),
            service_kit::db::Pool::Postgres(db) => sqlx::query(sql)
                .bind(uuid::Uuid::now_v7())
                .bind(&payload)
                .bind(at)
                .execute(db)
                .await
                .map(|_| ()),
        }
        .unwrap();
    }
    let none = "00000000-0000-0000-0000-000000000000";
    let left = "SELECT COUNT(*) FROM outbox_events WHERE event_uuid <> $1";
    within(LIMIT, "the first (old) event is pruned", || async {
        count(&app.identity_db, left, none).await == 2
    })
    .await;
    // Several pruning rounds later, the old third event still waits behind the second.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(count(&app.identity_db, left, none).await, 2);
    let through = scalar(&app.identity_db, "SELECT through FROM outbox_pruned").await;
    let first_left = scalar(&app.identity_db, "SELECT MIN(sequence) FROM outbox_events").await;
    assert_eq!(
        through + 1,
        first_left,
        "pruned exactly up to the first event kept"
    );
}

fn channel(addr: std::net::SocketAddr) -> tonic::transport::Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_lazy()
}

fn credential(app: &TestApp) -> InternalCredential {
    InternalCredential::new(SecretString::from(app.internal_credential.clone())).unwrap()
}

/// Starts the consumers projects-svc and connections-svc run, on their databases.
fn start_consumers(app: &TestApp, shutdown: &CancellationToken) {
    let settings = |source| ConsumerSettings {
        source,
        max_backoff: Duration::from_millis(500),
        reconcile_every: None,
    };
    spawn_consumer(
        settings("identity"),
        channel(app.identity_addr),
        credential(app),
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
            credential(app),
            connections_svc::store::sink_for_pool(app.connections_db.clone()),
            shutdown.clone(),
        );
    }
}

/// Item 3: with the consumers stopped, an organization is deleted; started again, they complete
/// the cascade within 5 seconds.
async fn a_stopped_consumer_catches_up(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |c| c.consumer.consume_events = false).await else {
        return;
    };
    let (admin, org) = admin_of_new_org(&app, "Stopped").await;
    let (member, _, _, _) = world(&app, &admin).await;
    app.send(
        Method::DELETE,
        &format!("/api/v1/org/{org}"),
        &cookie(&admin),
        None,
    )
    .await
    .results();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        traces_of_organization(&app, &org).await > 0,
        "no consumer ran"
    );
    let shutdown = CancellationToken::new();
    start_consumers(&app, &shutdown);
    let took = within(LIMIT, "the cascade completes after the restart", || async {
        traces_of_organization(&app, &org).await == 0
            && traces_of_user(&app, &member.user_uuid).await == 0
    })
    .await;
    shutdown.cancel();
    assert!(took < LIMIT, "{took:?}");
}

/// `platform consume` as a child process: projects-svc's consumer of identity-svc's events.
fn consumer_process(app: &TestApp) -> tokio::process::Child {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_platform"));
    cmd.args([
        "consume",
        "--into",
        "projects",
        "--from",
        "identity",
        "--from-url",
        &format!("http://{}", app.identity_addr),
    ])
    .env("DATA_DIR", &app.data_dir)
    .env("INTERNAL_CREDENTIAL", &app.internal_credential)
    .env("RUST_LOG", "warn")
    .env_remove("DATABASE_URL")
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null())
    .kill_on_drop(true);
    if let Some((url, prefix)) = &app.database {
        cmd.env("DATABASE_URL", url).env("SCHEMA_PREFIX", prefix);
    }
    cmd.spawn().expect("platform consume starts")
}

/// Seeds `n` members' grants on `project` (projects-svc) and the `n` events removing them from
/// `org` (identity-svc's outbox), straight into the databases.
async fn seed_removals(app: &TestApp, org: &str, project: &str, n: usize) {
    let org = uuid::Uuid::parse_str(org).unwrap();
    let project = uuid::Uuid::parse_str(project).unwrap();
    let users: Vec<uuid::Uuid> = (0..n).map(|_| uuid::Uuid::now_v7()).collect();
    let now = chrono::Utc::now();
    macro_rules! seed {
        ($db:ty, $projects:expr, $identity:expr) => {{
            for chunk in users.chunks(500) {
                let mut qb = sqlx::QueryBuilder::<$db>::new(
                    "INSERT INTO project_user_grants (project_uuid, user_uuid, role, created_at) ",
                );
                // Granted before they were removed.
                let granted = now - chrono::Duration::seconds(1);
                qb.push_values(chunk, |mut b, u| {
                    b.push_bind(project)
                        .push_bind(*u)
                        .push_bind("viewer")
                        .push_bind(granted);
                });
                qb.build().execute($projects).await.unwrap();
                // One event per statement: the PostgreSQL trigger numbers each row.
                let mut tx = $identity.begin().await.unwrap();
                for u in chunk {
                    sqlx::query(
                        "INSERT INTO outbox_events (event_uuid, event_type, payload, created_at) VALUES ($1, $2, $3, $4)",
                    )
                    .bind(uuid::Uuid::now_v7())
                    .bind("organization.member_removed")
                    .bind(json!({"organizationUuid": org, "userUuid": u}).to_string())
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                }
                tx.commit().await.unwrap();
            }
        }};
    }
    match (&app.projects_db, &app.identity_db) {
        (service_kit::db::Pool::Sqlite(p), service_kit::db::Pool::Sqlite(i)) => {
            seed!(sqlx::Sqlite, p, i)
        }
        (service_kit::db::Pool::Postgres(p), service_kit::db::Pool::Postgres(i)) => {
            seed!(sqlx::Postgres, p, i)
        }
        _ => unreachable!(),
    }
}

async fn scalar(db: &service_kit::db::Pool, sql: &'static str) -> i64 {
    match db {
        service_kit::db::Pool::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await,
        service_kit::db::Pool::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await,
    }
    .unwrap()
}

/// Item 3: a consumer killed with SIGKILL while it applies events loses nothing and applies
/// nothing twice: at the kill, exactly the events up to its cursor have taken effect; restarted,
/// it completes from there.
async fn a_killed_consumer_loses_and_repeats_nothing(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |c| c.consumer.consume_events = false).await else {
        return;
    };
    let (admin, org) = admin_of_new_org(&app, "Killed").await;
    let project = new_project(&app, &admin, "K").await;
    let n = 3000;
    seed_removals(&app, &org, &project, n).await;
    let grants = "SELECT COUNT(*) FROM project_user_grants WHERE project_uuid = $1";
    // The admin's own grant stays: n + 1 before, 1 after.
    assert_eq!(
        count(&app.projects_db, grants, &project).await,
        n as i64 + 1
    );
    let head = scalar(&app.identity_db, "SELECT MAX(sequence) FROM outbox_events").await;

    let mut child = consumer_process(&app);
    within(
        Duration::from_secs(20),
        "the consumer applies some events",
        || async { count(&app.projects_db, grants, &project).await < n as i64 - 100 },
    )
    .await;
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    let remaining = count(&app.projects_db, grants, &project).await - 1;
    let cursor = scalar(
        &app.projects_db,
        "SELECT COALESCE(MAX(sequence), 0) FROM event_cursors WHERE source = 'identity'",
    )
    .await;
    assert!(
        remaining > 0 && cursor < head,
        "killed too late to prove anything: make n larger"
    );
    let applied = match &app.identity_db {
        service_kit::db::Pool::Sqlite(p) => {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM outbox_events WHERE sequence <= $1")
                .bind(cursor)
                .fetch_one(p)
                .await
        }
        service_kit::db::Pool::Postgres(p) => {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM outbox_events WHERE sequence <= $1")
                .bind(cursor)
                .fetch_one(p)
                .await
        }
    }
    .unwrap();
    assert_eq!(
        n as i64 - remaining,
        applied,
        "the effects at the kill are exactly the events up to the cursor"
    );

    let mut child = consumer_process(&app);
    within(
        Duration::from_secs(20),
        "the restarted consumer completes",
        || async { count(&app.projects_db, grants, &project).await == 1 },
    )
    .await;
    child.start_kill().unwrap();
    let cursor = scalar(
        &app.projects_db,
        "SELECT COALESCE(MAX(sequence), 0) FROM event_cursors WHERE source = 'identity'",
    )
    .await;
    assert_eq!(cursor, head);
}

/// Counts, per sequence, the applications that took effect (the real sink underneath).
#[derive(Debug)]
struct Counting {
    inner: Arc<dyn EventSink>,
    applied: Mutex<BTreeMap<i64, u32>>,
}

#[async_trait::async_trait]
impl EventSink for Counting {
    async fn cursor(&self, source: &str) -> anyhow::Result<i64> {
        self.inner.cursor(source).await
    }
    async fn apply(
        &self,
        source: &str,
        after: i64,
        event: &proto::events::v1::Event,
    ) -> anyhow::Result<bool> {
        let took = self.inner.apply(source, after, event).await?;
        if took {
            *self
                .applied
                .lock()
                .unwrap()
                .entry(event.sequence)
                .or_default() += 1;
        }
        Ok(took)
    }
    async fn resync(&self, source: &str, snapshot: &outbox::Snapshot) -> anyhow::Result<()> {
        self.inner.resync(source, snapshot).await
    }
}

/// Item 3: two instances of one consumer at once apply every event exactly once in effect.
async fn two_instances_apply_each_event_once(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |c| c.consumer.consume_events = false).await else {
        return;
    };
    let (admin, org) = admin_of_new_org(&app, "Twice").await;
    let project = new_project(&app, &admin, "T").await;
    // Enough events that the two instances overlap.
    seed_removals(&app, &org, &project, 1500).await;
    let sql = "SELECT sequence FROM outbox_events ORDER BY sequence";
    let stored: Vec<i64> = match &app.identity_db {
        service_kit::db::Pool::Sqlite(p) => sqlx::query_scalar(sql).fetch_all(p).await,
        service_kit::db::Pool::Postgres(p) => sqlx::query_scalar(sql).fetch_all(p).await,
    }
    .unwrap();
    assert!(stored.len() >= 1500);
    let head = *stored.last().unwrap();
    let sink = Arc::new(Counting {
        inner: connections_svc::store::sink_for_pool(app.connections_db.clone()),
        applied: Mutex::default(),
    });
    let shutdown = CancellationToken::new();
    for _ in 0..2 {
        spawn_consumer(
            ConsumerSettings {
                source: "identity",
                max_backoff: Duration::from_millis(200),
                reconcile_every: None,
            },
            channel(app.identity_addr),
            credential(&app),
            sink.clone(),
            shutdown.clone(),
        );
    }
    // A liveness bound, not a speed target: 1,500 events contended by two instances while the
    // rest of the suite loads the same two cores took over 5 s once in CI on PostgreSQL.
    within(BACKLOG_LIMIT, "both instances reach the head", || async {
        sink.cursor("identity").await.unwrap() == head
    })
    .await;
    shutdown.cancel();
    let applied = sink.applied.lock().unwrap().clone();
    let sequences: Vec<i64> = applied.keys().copied().collect();
    assert_eq!(sequences, stored, "every stored event took effect");
    assert!(
        applied.values().all(|n| *n == 1),
        "an event took effect twice: {applied:?}"
    );
}

async fn subscribe(
    addr: std::net::SocketAddr,
    who: Option<(&'static str, &str)>,
    after: i64,
) -> Result<tonic::Streaming<proto::events::v1::Event>, tonic::Status> {
    let mut client =
        proto::events::v1::events_service_client::EventsServiceClient::new(channel(addr));
    let mut req = tonic::Request::new(proto::events::v1::SubscribeRequest {
        after_sequence: after,
    });
    if let Some((k, v)) = who {
        req.metadata_mut().insert(k, v.parse().unwrap());
    }
    client.subscribe(req).await.map(tonic::Response::into_inner)
}

/// Subscribe is for the internal caller only, on every producer (TK-1): no credential or a
/// user's access token is refused; events carry identifiers only.
async fn subscriptions_are_internal_and_events_carry_ids_only(app: TestApp) {
    let (admin, org) = admin_of_new_org(&app, "Subscribe").await;
    let (_, pat) = app
        .create_pat(&admin, json!({"description": "events"}))
        .await;
    let jwt = app.access_token(&pat).await;
    let bearer = format!("Bearer {jwt}");
    for addr in [app.identity_addr, app.projects_addr] {
        for who in [None, Some(("authorization", bearer.as_str()))] {
            let refused = subscribe(addr, who, 0).await.unwrap_err();
            assert_eq!(refused.code(), tonic::Code::Unauthenticated, "{addr}");
            let mut client =
                proto::events::v1::events_service_client::EventsServiceClient::new(channel(addr));
            let mut req = tonic::Request::new(proto::events::v1::SnapshotRequest {});
            if let Some((k, v)) = who {
                req.metadata_mut().insert(k, v.parse().unwrap());
            }
            let refused = client.snapshot(req).await.unwrap_err();
            assert_eq!(refused.code(), tonic::Code::Unauthenticated, "{addr}");
        }
    }
    app.send(
        Method::DELETE,
        &format!("/api/v1/org/{org}"),
        &cookie(&admin),
        None,
    )
    .await
    .results();
    let mut stream = subscribe(
        app.identity_addr,
        Some(("x-internal-credential", &app.internal_credential)),
        0,
    )
    .await
    .unwrap();
    let event = tokio::time::timeout(LIMIT, stream.message())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(event.sequence > 0);
    match event.payload {
        Some(proto::events::v1::event::Payload::OrganizationDeleted(e)) => {
            assert_eq!(e.organization_uuid, org)
        }
        other => panic!("{other:?}"),
    }
}

/// Item 4: events older than the retention are pruned; a subscriber whose cursor is behind
/// them gets OUT_OF_RANGE with a way out, one that is not behind carries on.
async fn a_consumer_behind_the_retention_is_told(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |c| {
        c.consumer.consume_events = false;
        c.producer.events_retention_seconds = 1;
    })
    .await
    else {
        return;
    };
    let (admin, org) = admin_of_new_org(&app, "Pruned").await;
    app.send(
        Method::DELETE,
        &format!("/api/v1/org/{org}"),
        &cookie(&admin),
        None,
    )
    .await
    .results();
    let internal = Some(("x-internal-credential", app.internal_credential.as_str()));
    within(LIMIT, "the event is pruned", || async {
        count(
            &app.identity_db,
            "SELECT COUNT(*) FROM outbox_events WHERE event_uuid <> $1",
            "00000000-0000-0000-0000-000000000000",
        )
        .await
            == 0
    })
    .await;
    let behind = subscribe(app.identity_addr, internal, 0).await.unwrap_err();
    assert_eq!(behind.code(), tonic::Code::OutOfRange, "{behind:?}");
    assert!(behind.message().contains("resynchronize"), "{behind:?}");
    // A cursor at the pruned head is not behind.
    subscribe(app.identity_addr, internal, 1).await.unwrap();
}

/// Item 4: consumers that were away longer than the retention resynchronize from the
/// producers' snapshots (what refers to deleted objects goes) and follow from their heads.
async fn consumers_behind_the_retention_resynchronize(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |c| {
        c.consumer.consume_events = false;
        c.producer.events_retention_seconds = 1;
    })
    .await
    else {
        return;
    };
    let (admin, org) = admin_of_new_org(&app, "Resync").await;
    let (member, project, _, group) = world(&app, &admin).await;
    personal_credentials(&app, &admin, &project).await;
    let (other_admin, other_org) = admin_of_new_org(&app, "Gone").await;
    new_project(&app, &other_admin, "Gone").await;
    let adm = cookie(&admin);
    app.send(
        Method::DELETE,
        &format!("/api/v1/org/user/{}", member.user_uuid),
        &adm,
        None,
    )
    .await
    .results();
    app.send(
        Method::DELETE,
        &format!("/api/v1/groups/{group}"),
        &adm,
        None,
    )
    .await
    .results();
    app.send(
        Method::DELETE,
        &format!("/api/v1/org/projects/{project}"),
        &adm,
        None,
    )
    .await
    .results();
    app.send(
        Method::DELETE,
        &format!("/api/v1/org/{other_org}"),
        &cookie(&other_admin),
        None,
    )
    .await
    .results();
    let none = "00000000-0000-0000-0000-000000000000";
    let left = "SELECT COUNT(*) FROM outbox_events WHERE event_uuid <> $1";
    within(Duration::from_secs(10), "every event is pruned", || async {
        count(&app.identity_db, left, none).await == 0
            && count(&app.projects_db, left, none).await == 0
    })
    .await;
    assert!(traces_of_user(&app, &member.user_uuid).await > 0);
    let shutdown = CancellationToken::new();
    start_consumers(&app, &shutdown);
    let prefs = "SELECT COUNT(*) FROM credentials_preferences WHERE project_uuid = $1";
    within(
        LIMIT,
        "the resynchronized consumers removed every trace",
        || async {
            traces_of_user(&app, &member.user_uuid).await == 0
                && traces_of_group(&app, &group).await == 0
                && count(&app.connections_db, prefs, &project).await == 0
                && traces_of_organization(&app, &other_org).await == 0
        },
    )
    .await;
    // What still exists stays.
    assert!(traces_of_organization(&app, &org).await > 0);
    // And they follow new events from the snapshot's head.
    let next = invite_and_join(&app, &admin, "viewer").await;
    let p2 = new_project(&app, &admin, "Next").await;
    app.post(
        &format!("/api/v1/projects/{p2}/access"),
        &adm,
        json!({"email": next.email, "role": "viewer", "sendEmail": false}),
    )
    .await
    .results();
    app.send(
        Method::DELETE,
        &format!("/api/v1/org/user/{}", next.user_uuid),
        &adm,
        None,
    )
    .await
    .results();
    within(LIMIT, "a new event is applied after the resync", || async {
        traces_of_user(&app, &next.user_uuid).await == 0
    })
    .await;
    shutdown.cancel();
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

/// A consumer whose cursor is ahead of its producer (the producer restored from a backup) is
/// told, resynchronizes, and its cursor comes back to the producer's head.
async fn a_cursor_ahead_of_the_producer_comes_back(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |c| c.consumer.consume_events = false).await else {
        return;
    };
    let (admin, org) = admin_of_new_org(&app, "Restored").await;
    new_project(&app, &admin, "P").await;
    app.send(
        Method::DELETE,
        &format!("/api/v1/org/{org}"),
        &cookie(&admin),
        None,
    )
    .await
    .results();
    let sql = "INSERT INTO event_cursors (source, sequence) VALUES ('identity', 1000000)";
    match &app.projects_db {
        service_kit::db::Pool::Sqlite(db) => sqlx::query(sql).execute(db).await.map(|_| ()),
        service_kit::db::Pool::Postgres(db) => sqlx::query(sql).execute(db).await.map(|_| ()),
    }
    .unwrap();
    let refused = subscribe(
        app.identity_addr,
        Some(("x-internal-credential", &app.internal_credential)),
        1_000_000,
    )
    .await
    .unwrap_err();
    assert_eq!(
        refused.code(),
        tonic::Code::FailedPrecondition,
        "{refused:?}"
    );
    let head = scalar(&app.identity_db, "SELECT MAX(sequence) FROM outbox_events").await;
    let shutdown = CancellationToken::new();
    start_consumers(&app, &shutdown);
    within(
        LIMIT,
        "the cascade happens and the cursor comes back",
        || async {
            traces_of_organization(&app, &org).await == 0
                && scalar(
                    &app.projects_db,
                    "SELECT sequence FROM event_cursors WHERE source = 'identity'",
                )
                .await
                    == head
        },
    )
    .await;
    shutdown.cancel();
}

dual!(
    deletions_cascade_to_the_other_services,
    a_deleted_user_leaves_nothing_behind,
    subscriptions_are_internal_and_events_carry_ids_only,
);
dual_backend!(
    a_stopped_consumer_catches_up,
    two_instances_apply_each_event_once,
    a_consumer_behind_the_retention_is_told,
    consumers_behind_the_retention_resynchronize,
    a_killed_consumer_loses_and_repeats_nothing,
    a_late_removal_spares_what_came_after,
    pruning_takes_a_prefix_only,
    reconciliation_removes_what_escaped_a_cascade,
    a_cursor_ahead_of_the_producer_comes_back,
);
