//! The lock order (ARCHITECTURE.md: an organization's row before its members' rows, accounts
//! top-down) where it matters, made to happen on demand: a third transaction holds a row so
//! that a close and another change queue up behind it, the close first, in the interleaving
//! that deadlocked on PostgreSQL when the other change locked a user's rows before the
//! organization's (SQLSTATE 40P01, answered INTERNAL). On SQLite (one writer) the two run one
//! after the other in either order; the outcome holds all the same.

use std::{future::Future, time::Duration};

use chrono::Utc;
use identity_svc::store::{
    AccountStore, ClosedAccounts, Guard, InviteStore, MembershipChange, OutboxEvent, SessionRecord,
    SqlStore, UserStore,
};
use proto::identity::v1::OrganizationRole;
use service_kit::{
    db::{DbConfig, Pool},
    on_pool,
    secret::sha256_hex,
};
use uuid::Uuid;

use crate::harness::{TestService, dual};

dual!(
    an_invitee_registering_behind_a_close_finds_nothing,
    a_member_leaving_behind_a_close_is_removed_once,
);

/// How long each step waits for the one before to be queued on its lock.
const QUEUE: Duration = Duration::from_millis(300);

/// A store on a pool of its own: the holder, the close and the other change each need a
/// connection at once (the test's pool has two).
async fn racing_store(svc: &TestService) -> SqlStore {
    let config = DbConfig {
        max_connections: 4,
        ..svc.db_config.clone()
    };
    SqlStore::new(service_kit::db::connect(&config).await.unwrap()).await
}

/// Runs `holder` (a statement binding `id` that locks a row) in a transaction, starts `first`,
/// then `second`, each once the one before had time to queue on the lock, then commits the
/// holder; both answers.
async fn behind_a_held_row<A, B>(
    svc: &TestService,
    holder: &'static str,
    id: Uuid,
    first: A,
    second: B,
) -> (A::Output, B::Output)
where
    A: Future + Send + 'static,
    A::Output: Send + 'static,
    B: Future + Send + 'static,
    B::Output: Send + 'static,
{
    on_pool!(&svc.db, |p| {
        let mut tx = p.begin().await.unwrap();
        sqlx::query(holder)
            .bind(id)
            .execute(&mut *tx)
            .await
            .unwrap();
        let first = tokio::spawn(first);
        tokio::time::sleep(QUEUE).await;
        let second = tokio::spawn(second);
        tokio::time::sleep(QUEUE).await;
        tx.commit().await.unwrap();
        (first.await.unwrap(), second.await.unwrap())
    })
}

/// A top-level account's admin, a sub-account of it, and the admin's guard.
async fn account_with_sub(svc: &TestService) -> (crate::harness::User, Uuid, Guard) {
    let (admin, top) = svc.admin("Top").await;
    let sub = admin.create("Sub", None).await.unwrap().organization_uuid;
    let guard = Guard {
        organization_uuid: top.parse().unwrap(),
        actor: admin.uuid,
        roles: vec![OrganizationRole::Admin],
        operator: false,
    };
    (admin, sub.parse().unwrap(), guard)
}

fn close(
    store: &SqlStore,
    sub: Uuid,
    guard: &Guard,
) -> impl Future<Output = identity_svc::store::Result<Option<ClosedAccounts>>> + use<> {
    let (store, guard) = (store.clone(), guard.clone());
    async move { store.close_account(sub, &guard, Utc::now()).await }
}

/// The close holds the account's row and waits for the invitee's (held); their acceptance
/// waits for the account's row, then finds the invitation gone. Before, the acceptance took
/// the invitation's and the user's rows first: a deadlock once the close reached them.
async fn an_invitee_registering_behind_a_close_finds_nothing(svc: TestService) {
    let (admin, sub, guard) = account_with_sub(&svc).await;
    let address = format!("queued-{}@accounts.test", Uuid::new_v4().simple());
    let invitation = admin
        .invite(&sub.to_string(), &address, None)
        .await
        .unwrap();
    let invitee: Uuid = invitation.user_uuid.parse().unwrap();
    let store = racing_store(&svc).await;
    let mut user = store.user(invitee).await.unwrap().unwrap();
    user.first_name = "Queued".into();
    user.last_name = "Invitee".into();
    let session = SessionRecord {
        session_uuid: Uuid::now_v7(),
        user_uuid: invitee,
        token_hash: sha256_hex(&Uuid::new_v4().to_string()),
        created_at: Utc::now(),
        expires_at: Utc::now() + chrono::Duration::days(1),
    };
    let accept = {
        let (store, code) = (store.clone(), sha256_hex(&invitation.invite_code));
        async move {
            let password = "$argon2id$v=19$m=19456,t=2,p=1$not-a-real-hash";
            store.accept_invite(&code, &user, password, &session).await
        }
    };
    let (closed, accepted) = behind_a_held_row(
        &svc,
        "UPDATE users SET updated_at = updated_at WHERE user_uuid = $1",
        invitee,
        close(&store, sub, &guard),
        accept,
    )
    .await;
    let closed = closed.expect("the close succeeds").expect("it closed");
    assert_eq!(closed.users, [invitee], "the invitee goes with the account");
    let accepted = accepted.expect("the acceptance answers");
    if matches!(svc.db, Pool::Postgres(_)) {
        assert!(!accepted, "queued behind the close: nothing to accept");
    }
    let sql = "SELECT COUNT(*) FROM users WHERE user_uuid = $1";
    assert_eq!(svc.count(sql, &invitation.user_uuid).await, 0);
}

/// The close holds the account's row first; the member leaving waits for it (before: they
/// locked their own row first, which the close then waited for: a deadlock), then finds
/// themselves gone. One removal, one event.
async fn a_member_leaving_behind_a_close_is_removed_once(svc: TestService) {
    let (_, sub, guard) = account_with_sub(&svc).await;
    // Not the only member: leaving does not take the account along.
    let stays = svc.member(&sub.to_string(), "admin").await.uuid;
    let member = svc.member(&sub.to_string(), "editor").await.uuid;
    let store = racing_store(&svc).await;
    let leave = {
        let store = store.clone();
        let event = OutboxEvent {
            event_uuid: Uuid::now_v7(),
            event_type: "user.deleted",
            payload: format!("{{\"userUuid\":\"{member}\"}}"),
            created_at: Utc::now(),
        };
        async move { store.delete_user(member, &event).await }
    };
    let (closed, left) = behind_a_held_row(
        &svc,
        "UPDATE organizations SET updated_at = updated_at WHERE organization_uuid = $1",
        sub,
        close(&store, sub, &guard),
        leave,
    )
    .await;
    let closed = closed.expect("the close succeeds").expect("it closed");
    let left = left.expect("the deletion answers");
    if matches!(svc.db, Pool::Postgres(_)) {
        assert_eq!(left, MembershipChange::NotMember, "queued behind the close");
    }
    let mut expected = vec![stays];
    if left != MembershipChange::Done {
        expected.push(member);
        expected.sort_unstable();
    }
    assert_eq!(closed.users, expected, "removed once, by one of the two");
    let removed = svc
        .events()
        .await
        .iter()
        .filter(|(t, p)| t == "user.deleted" && p["userUuid"] == member.to_string())
        .count();
    assert_eq!(removed, 1, "one user.deleted");
}
