//! The producers' Subscribe stream: internal callers only, events carry identifiers only
//! (TK-1); pruning past the retention (item 4) takes a prefix only, a subscriber behind it is
//! told and consumers resynchronize from snapshots; a cursor ahead of its producer comes back.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use service_kit::callers::Caller;
use tokio_util::sync::CancellationToken;

use super::{
    LIMIT, channel, personal_credentials, scalar, start_consumers, traces_of_group,
    traces_of_organization, traces_of_user, world,
};
use crate::{
    helpers::{Backend, TestApp, count, dual, dual_backend, spawn_app_with, within},
    organizations::{admin_of_new_org, cookie, invite_and_join},
    projects::new_project,
};

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
        Some((
            "x-internal-credential",
            &app.credential(Caller::ProjectsSvc),
        )),
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
    let projects_svc = app.credential(Caller::ProjectsSvc);
    let internal = Some(("x-internal-credential", projects_svc.as_str()));
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
        Some((
            "x-internal-credential",
            &app.credential(Caller::ProjectsSvc),
        )),
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

dual!(subscriptions_are_internal_and_events_carry_ids_only);
dual_backend!(
    a_consumer_behind_the_retention_is_told,
    consumers_behind_the_retention_resynchronize,
    pruning_takes_a_prefix_only,
    a_cursor_ahead_of_the_producer_comes_back,
);
