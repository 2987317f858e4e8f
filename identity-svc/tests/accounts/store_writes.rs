//! The store's guarded writes called directly, for what the API cannot make happen on demand:
//! a guard that stopped holding between the domain's check and the write (AC-9), an account
//! closed meanwhile.

use chrono::{Duration, Utc};
use identity_svc::store::{AccountChange, AccountRecord, AccountStore, account_path};
use identity_svc::store::{Guard, InviteRecord, InviteStore, SqlStore, StoreError, UserRecord};
use identity_svc::store::{MembershipChange, OrganizationStore, OutboxEvent, UserStore};
use proto::identity::v1::OrganizationRole;
use service_kit::on_pool;
use uuid::Uuid;

use crate::harness::{TestService, dual};

dual!(
    an_invitation_needs_a_guard_that_holds,
    an_invitation_into_a_missing_account_is_not_found,
    a_close_of_an_account_removed_meanwhile_is_none,
    an_account_holds_a_bounded_number_of_sub_accounts,
    a_deletion_racing_a_new_sub_account_deletes_nothing,
    the_only_member_leaving_while_a_sub_account_appears_stays,
);

fn pending_user() -> UserRecord {
    let now = Utc::now();
    UserRecord {
        user_uuid: Uuid::now_v7(),
        email: format!("pending-{}@accounts.test", Uuid::new_v4().simple()),
        first_name: String::new(),
        last_name: String::new(),
        is_active: true,
        is_tracking_anonymized: false,
        is_marketing_opted_in: false,
        is_setup_complete: false,
        created_at: now,
        updated_at: now,
    }
}

fn invitation(org: Uuid, user: Uuid) -> InviteRecord {
    let now = Utc::now();
    InviteRecord {
        code_hash: Uuid::new_v4().simple().to_string(),
        organization_uuid: org,
        user_uuid: user,
        created_at: now,
        expires_at: now + Duration::days(1),
    }
}

/// An admin's guard over `org`.
fn admin_guard(org: Uuid, actor: Uuid) -> Guard {
    Guard {
        organization_uuid: org,
        actor,
        roles: vec![OrganizationRole::Admin],
        operator: false,
    }
}

/// A parent "admin" who no longer is one mints nothing into a sub-account, not even an admin
/// invitation: the store re-checks the guard in the write's transaction.
async fn an_invitation_needs_a_guard_that_holds(svc: TestService) {
    let (admin, top) = svc.admin("Top").await;
    let sub = admin.create("Sub", None).await.unwrap().organization_uuid;
    let demoted = svc.member(&top, "editor").await;
    let store = SqlStore::new(svc.db.clone()).await;
    let guard = admin_guard(top.parse().unwrap(), demoted.uuid);
    let user = pending_user();
    let invite = invitation(sub.parse().unwrap(), user.user_uuid);
    let r = store
        .invite_new_user(&user, OrganizationRole::Admin, &invite, &guard)
        .await;
    assert!(matches!(r, Err(StoreError::NotAllowed)), "{r:?}");
    let id = user.user_uuid.to_string();
    assert_eq!(
        svc.count("SELECT COUNT(*) FROM users WHERE user_uuid = $1", &id)
            .await,
        0
    );
    // Nor a fresh code for a pending member.
    let pending = admin.invite(&sub, &user.email, None).await.unwrap();
    let again = invitation(sub.parse().unwrap(), pending.user_uuid.parse().unwrap());
    let r = store.insert_invite(&again, &guard).await;
    assert!(matches!(r, Err(StoreError::NotAllowed)), "{r:?}");
    let sql = "SELECT COUNT(*) FROM invite_links WHERE user_uuid = $1";
    assert_eq!(svc.count(sql, &pending.user_uuid).await, 1);
}

/// An invitation into an account that is gone (closed meanwhile) is Gone (NOT_FOUND), not a
/// database error (INTERNAL).
async fn an_invitation_into_a_missing_account_is_not_found(svc: TestService) {
    let (admin, top) = svc.admin("Top").await;
    let sub = admin.create("Sub", None).await.unwrap().organization_uuid;
    let store = SqlStore::new(svc.db.clone()).await;
    let guard = admin_guard(top.parse().unwrap(), admin.uuid);
    let missing = Uuid::now_v7();
    let user = pending_user();
    let r = store
        .invite_new_user(
            &user,
            OrganizationRole::Member,
            &invitation(missing, user.user_uuid),
            &guard,
        )
        .await;
    assert!(matches!(r, Err(StoreError::Gone)), "{r:?}");
    let pending = admin.invite(&sub, &user.email, None).await.unwrap();
    let r = store
        .insert_invite(
            &invitation(missing, pending.user_uuid.parse().unwrap()),
            &guard,
        )
        .await;
    assert!(matches!(r, Err(StoreError::Gone)), "{r:?}");
}

/// A close that finds its account removed by another transaction once it holds the lock
/// closes nothing and says so (NOT_FOUND), rather than answering an empty success.
async fn a_close_of_an_account_removed_meanwhile_is_none(svc: TestService) {
    let (admin, top) = svc.admin("Top").await;
    let sub: Uuid = admin
        .create("Sub", None)
        .await
        .unwrap()
        .organization_uuid
        .parse()
        .unwrap();
    let store = SqlStore::new(svc.db.clone()).await;
    let guard = admin_guard(top.parse().unwrap(), admin.uuid);
    let closed = on_pool!(&svc.db, |p| {
        // Another transaction removes the account and holds its row (its write lock on
        // SQLite) while the close starts, then commits.
        let mut tx = p.begin().await.unwrap();
        sqlx::query("DELETE FROM organizations WHERE organization_uuid = $1")
            .bind(sub)
            .execute(&mut *tx)
            .await
            .unwrap();
        let remover = async {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            tx.commit().await.unwrap();
        };
        let (closed, ()) = tokio::join!(store.close_account(sub, &guard, Utc::now()), remover);
        closed
    });
    assert_eq!(closed.unwrap(), None);
    let sql = "SELECT COUNT(*) FROM closed_accounts WHERE organization_uuid = $1";
    assert_eq!(svc.count(sql, &sub.to_string()).await, 0);
}

/// The cap on direct sub-accounts is counted in the creation's transaction (here a cap of 2).
async fn an_account_holds_a_bounded_number_of_sub_accounts(svc: TestService) {
    let (admin, top) = svc.admin("Top").await;
    let top_id: Uuid = top.parse().unwrap();
    let store = SqlStore::new(svc.db.clone()).await;
    let guard = admin_guard(top_id, admin.uuid);
    let parent = store.account(top_id).await.unwrap().unwrap();
    let child = |name: &str| {
        let id = Uuid::now_v7();
        AccountRecord {
            organization_uuid: id,
            parent_uuid: Some(top_id),
            name: name.into(),
            depth: 1,
            path: account_path(Some(&parent.path), id),
            ..parent.clone()
        }
    };
    for name in ["One", "Two"] {
        let r = store
            .create_sub_account(&child(name), 2, &guard)
            .await
            .unwrap();
        assert!(matches!(r, AccountChange::Done(_)), "{r:?}");
    }
    let r = store
        .create_sub_account(&child("Three"), 2, &guard)
        .await
        .unwrap();
    assert_eq!(r, AccountChange::Refused);
    let sql = "SELECT COUNT(*) FROM organizations WHERE parent_uuid = $1";
    assert_eq!(svc.count(sql, &top).await, 2);
}

/// Deleting an organization while another transaction creates a sub-account under it deletes
/// nothing and is no error: on PostgreSQL the sub-account's row is not yet visible to the delete's
/// NOT EXISTS, and its foreign key refuses the delete when it commits (before the fix: a
/// database error, answered 500); SQLite runs the delete after the commit.
async fn a_deletion_racing_a_new_sub_account_deletes_nothing(svc: TestService) {
    let (_, top) = svc.admin("Top").await;
    let top: Uuid = top.parse().unwrap();
    let store = SqlStore::new(svc.db.clone()).await;
    let event = OutboxEvent {
        event_uuid: Uuid::now_v7(),
        event_type: "organization.deleted",
        payload: format!("{{\"organizationUuid\":\"{top}\"}}"),
        created_at: Utc::now(),
    };
    let child = Uuid::now_v7();
    let path = account_path(Some(&top.simple().to_string()), child);
    let deleted = on_pool!(&svc.db, |p| {
        let mut tx = p.begin().await.unwrap();
        sqlx::query(
            "INSERT INTO organizations (organization_uuid, parent_uuid, name, depth, path, \
             created_at, updated_at) VALUES ($1, $2, 'Child', 1, $3, $4, $4)",
        )
        .bind(child)
        .bind(top)
        .bind(&path)
        .bind(Utc::now())
        .execute(&mut *tx)
        .await
        .unwrap();
        let creator = async {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            tx.commit().await.unwrap();
        };
        let (deleted, ()) = tokio::join!(store.delete_organization(top, &event), creator);
        deleted
    });
    assert!(!deleted.expect("no error"), "nothing deleted");
    let sql = "SELECT COUNT(*) FROM organizations WHERE organization_uuid = $1";
    assert_eq!(svc.count(sql, &top.to_string()).await, 1);
}

/// The only member of an organization deleting themselves (which takes the organization along)
/// while another transaction creates a sub-account under it: nothing changes, and the answer is
/// the sub-accounts refusal, not a database error (PostgreSQL: the foreign key refuses the
/// organization's deletion when the sub-account commits).
async fn the_only_member_leaving_while_a_sub_account_appears_stays(svc: TestService) {
    let (admin, top) = svc.admin("Top").await;
    let top: Uuid = top.parse().unwrap();
    let store = SqlStore::new(svc.db.clone()).await;
    let event = OutboxEvent {
        event_uuid: Uuid::now_v7(),
        event_type: "user.deleted",
        payload: format!("{{\"userUuid\":\"{}\"}}", admin.uuid),
        created_at: Utc::now(),
    };
    let child = Uuid::now_v7();
    let path = account_path(Some(&top.simple().to_string()), child);
    let left = on_pool!(&svc.db, |p| {
        let mut tx = p.begin().await.unwrap();
        sqlx::query(
            "INSERT INTO organizations (organization_uuid, parent_uuid, name, depth, path, \
             created_at, updated_at) VALUES ($1, $2, 'Child', 1, $3, $4, $4)",
        )
        .bind(child)
        .bind(top)
        .bind(&path)
        .bind(Utc::now())
        .execute(&mut *tx)
        .await
        .unwrap();
        let creator = async {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            tx.commit().await.unwrap();
        };
        let (left, ()) = tokio::join!(store.delete_user(admin.uuid, &event), creator);
        left
    });
    assert_eq!(left.expect("no error"), MembershipChange::HasSubAccounts);
    let sql = "SELECT COUNT(*) FROM users WHERE user_uuid = $1";
    assert_eq!(svc.count(sql, &admin.uuid.to_string()).await, 1);
}
