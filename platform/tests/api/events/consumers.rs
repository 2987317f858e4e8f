//! Consumers (item 3): a stopped consumer catches up from its cursor; one killed with SIGKILL
//! (`platform consume` as a child process) loses and repeats nothing; two instances of one
//! consumer apply each event once.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use outbox::{ConsumerSettings, EventSink, spawn_consumer};
use reqwest::Method;
use serde_json::json;
use service_kit::callers::Caller;
use tokio_util::sync::CancellationToken;

use super::{
    BACKLOG_LIMIT, LIMIT, channel, credential, scalar, start_consumers, traces_of_organization,
    traces_of_user, world,
};
use crate::{
    helpers::{Backend, TestApp, count, dual_backend, spawn_app_with, within},
    organizations::{admin_of_new_org, cookie},
    projects::new_project,
};

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
    .env("OPERATOR_CREDENTIAL", app.credential(Caller::Operator))
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
                consumer: "connections-svc",
                max_backoff: Duration::from_millis(200),
                reconcile_every: None,
            },
            channel(app.identity_addr),
            credential(&app, Caller::ConnectionsSvc),
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

dual_backend!(
    a_stopped_consumer_catches_up,
    two_instances_apply_each_event_once,
    a_killed_consumer_loses_and_repeats_nothing,
);
