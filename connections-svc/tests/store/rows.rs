//! The store's rules on rows: optimistic updates, cascading deletes, preferences that see
//! deletions, and limits that hold under concurrent creates (API4).

use connections_svc::store::{ListFilter, StoreError};
use uuid::Uuid;

use crate::{fixtures::*, harness::*};

both_backends!(
    update_is_optimistic_delete_cascades_and_preferences_see_deletions,
    limits_hold_under_concurrent_inserts_and_deletes_free_places,
);

/// Optimistic `update` refuses a writer that read an older `updated_at` (and writes none of its
/// secrets); `delete` takes the connection's secrets and the preferences naming it along, and
/// leaves other connections alone; `set_preference` on a deleted connection is `Gone`.
async fn update_is_optimistic_delete_cascades_and_preferences_see_deletions(db: &TestDb) {
    let ring = Keys::new().v12();
    let org = Uuid::new_v4();
    let c = record(org, 0);
    let other = record(org, 1);
    db.store
        .insert(
            &c,
            &[
                seal(&ring, &c, "password", "pw-1"),
                seal(&ring, &c, "token", "tk-1"),
            ],
        )
        .await
        .unwrap();
    db.store
        .insert(&other, &[seal(&ring, &other, "password", "other-pw")])
        .await
        .unwrap();

    let mut c1 = c.clone();
    c1.name = "renamed".into();
    c1.updated_at = at(100);
    assert!(
        db.store
            .update(
                &c1,
                c.updated_at,
                &[seal(&ring, &c, "password", "pw-2")],
                &[]
            )
            .await
            .unwrap()
    );
    assert_eq!(
        db.store.get(c.connection_uuid).await.unwrap(),
        Some(c1.clone())
    );

    // A writer that read the connection before that change loses, and writes nothing.
    let mut stale = c.clone();
    stale.name = "stale".into();
    stale.updated_at = at(200);
    let stale_secrets = [
        seal(&ring, &c, "password", "stale-pw"),
        seal(&ring, &c, "newField", "stale-new"),
    ];
    for seen in [c.updated_at, at(99), at(101)] {
        assert!(
            !db.store
                .update(&stale, seen, &stale_secrets, &[])
                .await
                .unwrap(),
            "seen {seen}"
        );
    }
    assert_eq!(
        db.store.get(c.connection_uuid).await.unwrap(),
        Some(c1.clone())
    );
    let fields: Vec<String> = db
        .store
        .secrets(c.connection_uuid)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.field)
        .collect();
    assert_eq!(fields, ["password", "token"]);
    let pw = db.stored(c.connection_uuid, "password").await;
    assert_eq!(open(&ring, &c, "password", &pw.sealed).unwrap(), "pw-2");

    // Preferences naming both connections.
    let (user, other_user) = (Uuid::new_v4(), Uuid::new_v4());
    let (project, project2) = (Uuid::new_v4(), Uuid::new_v4());
    db.store
        .set_preference(user, project, c.connection_uuid)
        .await
        .unwrap();
    db.store
        .set_preference(other_user, project, c.connection_uuid)
        .await
        .unwrap();
    db.store
        .set_preference(user, project2, other.connection_uuid)
        .await
        .unwrap();
    assert_eq!(
        db.store.preference(user, project).await.unwrap(),
        Some(c.connection_uuid)
    );
    assert_eq!(
        db.count_rows("credentials_preferences", c.connection_uuid)
            .await,
        2
    );
    assert_eq!(
        db.count_rows("connection_secrets", c.connection_uuid).await,
        2
    );

    // Delete: the secrets and preferences go with it; the other connection's stay.
    assert!(db.store.delete(c.connection_uuid).await.unwrap());
    assert!(
        !db.store.delete(c.connection_uuid).await.unwrap(),
        "already gone"
    );
    assert_eq!(db.store.get(c.connection_uuid).await.unwrap(), None);
    assert!(
        db.store
            .secrets(c.connection_uuid)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        db.store
            .secret_fields(&[c.connection_uuid])
            .await
            .unwrap()
            .is_empty()
    );
    for table in [
        "connections",
        "connection_secrets",
        "credentials_preferences",
    ] {
        assert_eq!(db.count_rows(table, c.connection_uuid).await, 0, "{table}");
    }
    assert_eq!(db.store.preference(user, project).await.unwrap(), None);
    assert_eq!(
        db.store.preference(other_user, project).await.unwrap(),
        None
    );
    assert_eq!(
        db.store.preference(user, project2).await.unwrap(),
        Some(other.connection_uuid)
    );
    assert_eq!(
        db.store.secrets(other.connection_uuid).await.unwrap().len(),
        1
    );

    // Choosing the deleted connection: Gone, and nothing is stored.
    assert!(matches!(
        db.store
            .set_preference(user, project, c.connection_uuid)
            .await,
        Err(StoreError::Gone)
    ));
    assert!(matches!(
        db.store
            .set_preference(user, project2, c.connection_uuid)
            .await,
        Err(StoreError::Gone)
    ));
    assert_eq!(db.store.preference(user, project).await.unwrap(), None);
    assert_eq!(
        db.store.preference(user, project2).await.unwrap(),
        Some(other.connection_uuid)
    );
    // Nor can an update bring it or its secrets back.
    let mut c2 = c1.clone();
    c2.updated_at = at(300);
    assert!(
        !db.store
            .update(
                &c2,
                c1.updated_at,
                &[seal(&ring, &c, "password", "pw-3")],
                &[]
            )
            .await
            .unwrap()
    );
    assert_eq!(
        db.count_rows("connection_secrets", c.connection_uuid).await,
        0
    );
}

/// API4: a limit holds when creates race for the last places (one conditional upsert per
/// insert), counts are per organization and per owner, and a delete frees a place.
async fn limits_hold_under_concurrent_inserts_and_deletes_free_places(db: &TestDb) {
    use connections_svc::store::count_scope;
    let org = Uuid::now_v7();
    let limit = 5;
    let tasks: Vec<_> = (0..20)
        .map(|n| {
            let store = db.store.clone();
            tokio::spawn(async move {
                let mut c = record(org, n);
                c.kind = "shared".into();
                store.insert_within(&c, &[], limit).await.unwrap()
            })
        })
        .collect();
    let mut taken = 0;
    for t in tasks {
        taken += i64::from(t.await.unwrap());
    }
    assert_eq!(taken, limit, "exactly the limit was taken");
    assert_eq!(db.store.count(org, "shared").await.unwrap(), limit);
    let every = ListFilter {
        organization_uuid: org,
        kind: "shared",
        reader: Uuid::now_v7(),
        reader_is_admin: true,
        owner: None,
        provider: None,
    };
    let listed = db.store.list(&every).await.unwrap();
    assert_eq!(listed.len() as i64, limit);

    // Personal credentials count per owner, apart from the shared ones.
    let owner = Uuid::now_v7();
    let mut mine = record(org, 100);
    mine.kind = "personal".into();
    mine.owner_user_uuid = owner;
    assert!(db.store.insert_within(&mine, &[], 1).await.unwrap());
    let mut again = record(org, 101);
    again.kind = "personal".into();
    again.owner_user_uuid = owner;
    assert!(!db.store.insert_within(&again, &[], 1).await.unwrap());
    assert!(db.store.get(again.connection_uuid).await.unwrap().is_none());
    assert_eq!(
        db.store
            .count(org, &count_scope("personal", owner))
            .await
            .unwrap(),
        1
    );
    // Another organization has its own count.
    assert!(
        db.store
            .insert_within(&record(Uuid::now_v7(), 200), &[], 1)
            .await
            .unwrap()
    );

    // A delete frees a place; deleting twice frees one.
    let first = listed[0].connection_uuid;
    assert!(db.store.delete(first).await.unwrap());
    assert!(!db.store.delete(first).await.unwrap());
    assert_eq!(db.store.count(org, "shared").await.unwrap(), limit - 1);
    assert!(
        db.store
            .insert_within(&record(org, 300), &[], limit)
            .await
            .unwrap()
    );
    assert!(
        !db.store
            .insert_within(&record(org, 301), &[], limit)
            .await
            .unwrap()
    );
}
