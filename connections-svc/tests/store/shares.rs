//! Shares of restricted connections: idempotent, bounded, gone with their connection; the
//! listing's visibility rule; and identity-svc's events taking a member's shares away.

use chrono::Utc;
use connections_svc::store::{ListFilter, Shared, StoreError};
use proto::events::v1::{self as pb, event::Payload};
use uuid::Uuid;

use crate::{fixtures::*, harness::*};

both_backends!(
    shares_are_idempotent_bounded_and_go_with_their_connection,
    restricted_connections_are_listed_to_their_readers_only,
    leaving_or_deleted_members_lose_their_shares,
);

async fn shares_are_idempotent_bounded_and_go_with_their_connection(db: &TestDb) {
    let org = Uuid::now_v7();
    let c = record(org, 1);
    db.store.insert(&c, &[]).await.unwrap();
    let id = c.connection_uuid;
    let (a, b, d) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let now = Utc::now();
    assert_eq!(db.store.share(id, a, now, 2).await.unwrap(), Shared::Done);
    assert_eq!(db.store.share(id, a, now, 2).await.unwrap(), Shared::Done);
    assert_eq!(db.store.share(id, b, now, 2).await.unwrap(), Shared::Done);
    assert_eq!(db.store.share(id, d, now, 2).await.unwrap(), Shared::Full);
    assert!(db.store.is_shared_with(id, a).await.unwrap());
    assert!(!db.store.is_shared_with(id, d).await.unwrap());
    let mut expected = vec![(id, a), (id, b)];
    expected.sort();
    assert_eq!(db.store.shares_of(&[id]).await.unwrap(), expected);
    assert!(db.store.unshare(id, a).await.unwrap());
    assert!(!db.store.unshare(id, a).await.unwrap());
    assert!(db.store.delete(id).await.unwrap());
    assert!(db.store.shares_of(&[id]).await.unwrap().is_empty());
    assert!(matches!(
        db.store.share(id, a, now, 2).await,
        Err(StoreError::Gone)
    ));
}

async fn restricted_connections_are_listed_to_their_readers_only(db: &TestDb) {
    let org = Uuid::now_v7();
    let open = record(org, 1);
    let mut closed = record(org, 2);
    closed.visibility = "restricted".into();
    db.store.insert(&open, &[]).await.unwrap();
    db.store.insert(&closed, &[]).await.unwrap();
    let reader = Uuid::now_v7();
    db.store
        .share(closed.connection_uuid, reader, Utc::now(), 10)
        .await
        .unwrap();
    let listed = |who: Uuid, admin: bool| {
        let store = db.store.clone();
        async move {
            let f = ListFilter {
                organization_uuid: org,
                kind: "shared",
                reader: who,
                reader_is_admin: admin,
                owner: None,
                provider: None,
            };
            let rows = store.list(&f).await.unwrap();
            rows.into_iter()
                .map(|c| c.connection_uuid)
                .collect::<Vec<_>>()
        }
    };
    let both = vec![open.connection_uuid, closed.connection_uuid];
    assert_eq!(listed(closed.owner_user_uuid, false).await, both);
    assert_eq!(listed(reader, false).await, both);
    assert_eq!(listed(Uuid::now_v7(), true).await, both);
    assert_eq!(
        listed(Uuid::now_v7(), false).await,
        vec![open.connection_uuid]
    );
}

fn event(sequence: i64, payload: Payload) -> pb::Event {
    pb::Event {
        traceparent: String::new(),
        sequence,
        event_uuid: Uuid::now_v7().to_string(),
        occurred_at: Some(prost_types::Timestamp {
            seconds: Utc::now().timestamp() + 60,
            nanos: 0,
        }),
        payload: Some(payload),
    }
}

async fn leaving_or_deleted_members_lose_their_shares(db: &TestDb) {
    let org = Uuid::now_v7();
    let mut c = record(org, 1);
    c.visibility = "restricted".into();
    db.store.insert(&c, &[]).await.unwrap();
    let other_org = record(Uuid::now_v7(), 2);
    db.store.insert(&other_org, &[]).await.unwrap();
    let (leaver, deleted) = (Uuid::now_v7(), Uuid::now_v7());
    let now = Utc::now();
    for id in [c.connection_uuid, other_org.connection_uuid] {
        for user in [leaver, deleted] {
            db.store.share(id, user, now, 10).await.unwrap();
        }
    }
    let sink = connections_svc::store::sink_for_pool(db.pool.clone());
    let removed = Payload::MemberRemoved(pb::MemberRemoved {
        organization_uuid: org.to_string(),
        user_uuid: leaver.to_string(),
    });
    assert!(sink.apply("identity", 0, &event(1, removed)).await.unwrap());
    // Leaving one organization takes that organization's shares only.
    assert!(
        !db.store
            .is_shared_with(c.connection_uuid, leaver)
            .await
            .unwrap()
    );
    let kept = other_org.connection_uuid;
    assert!(db.store.is_shared_with(kept, leaver).await.unwrap());
    let gone = Payload::UserDeleted(pb::UserDeleted {
        user_uuid: deleted.to_string(),
    });
    assert!(sink.apply("identity", 1, &event(2, gone)).await.unwrap());
    for id in [c.connection_uuid, kept] {
        assert!(!db.store.is_shared_with(id, deleted).await.unwrap());
    }
}
