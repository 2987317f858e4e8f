//! Closing an account while someone changes it (issue #16 review): each test starts the close
//! and one other call as two tokio tasks released together, round after round, on both
//! backends. Whichever goes first, nothing is left pointing at a closed account (no member, no
//! invitation, no sub-account), every removed account and user has its one deletion event, and
//! the call that loses is answered plainly: NOT_FOUND, FAILED_PRECONDITION, or UNAUTHENTICATED /
//! PERMISSION_DENIED when the close removed the caller themselves; never INTERNAL (which a
//! PostgreSQL deadlock, SQLSTATE 40P01, or a foreign-key violation would be).

use std::{collections::BTreeSet, future::Future, sync::Arc};

use proto::identity::v1::{
    self as pb, OrganizationRole, identity_service_client::IdentityServiceClient,
};
use serde_json::json;
use service_kit::on_pool;
use tokio::sync::Barrier;
use tonic::{
    Code::{self, NotFound as NF, Ok as OK, PermissionDenied as PD, Unauthenticated as UNAUTH},
    Status,
};
use uuid::Uuid;

use crate::harness::{TestService, User, code, dual, register_invitee};

dual!(
    close_races_an_invitation,
    close_races_the_invitee_registering,
    close_races_a_join_by_email_domain,
    close_races_a_new_sub_account,
    close_races_a_member_leaving,
    close_races_the_only_member_leaving,
    close_races_an_admin_removing_a_member,
    close_races_a_role_change,
    close_races_setting_allowed_email_domains,
);

/// Rounds per race: enough for both orders to come up on two cores.
const ROUNDS: usize = 10;

/// Runs `a` and `b` as two tokio tasks released at the same moment.
async fn together<A, B>(a: A, b: B) -> (A::Output, B::Output)
where
    A: Future + Send + 'static,
    A::Output: Send + 'static,
    B: Future + Send + 'static,
    B::Output: Send + 'static,
{
    let start = Arc::new(Barrier::new(2));
    let (sa, sb) = (start.clone(), start);
    let a = tokio::spawn(async move {
        sa.wait().await;
        a.await
    });
    let b = tokio::spawn(async move {
        sb.wait().await;
        b.await
    });
    (a.await.expect("task a"), b.await.expect("task b"))
}

/// The close of `id` by `by`, as a task's future.
fn close(
    by: &User,
    id: &str,
) -> impl Future<Output = Result<pb::CloseAccountResponse, Status>> + use<> {
    let (by, id) = (by.clone(), id.to_owned());
    async move { by.close(&id).await }
}

/// Asserts that `r` is one of `allowed`: never INTERNAL or UNKNOWN.
#[track_caller]
fn assert_answer<T: std::fmt::Debug>(r: &Result<T, Status>, allowed: &[Code], what: &str) {
    assert!(
        allowed.contains(&code(r)),
        "{what}: {r:?} is not one of {allowed:?}"
    );
}

/// A new sub-account of `admin`'s account for round `round`.
async fn fresh_sub(admin: &User, round: usize) -> String {
    let sub = admin.create(&format!("Sub {round}"), None).await.unwrap();
    sub.organization_uuid
}

/// Asserts that every `SELECT COUNT(*)` of `sqls` counts nothing for `id`.
async fn assert_none(svc: &TestService, sqls: &[&'static str], id: &str) {
    for sql in sqls {
        assert_eq!(svc.count(sql, id).await, 0, "{sql} for {id}");
    }
}

fn email() -> String {
    format!("racing-{}@accounts.test", Uuid::new_v4().simple())
}

/// How many outbox events of type `kind` carry `payload`.
async fn events_of(svc: &TestService, kind: &str, payload: serde_json::Value) -> usize {
    svc.events()
        .await
        .iter()
        .filter(|(t, p)| t == kind && *p == payload)
        .count()
}

/// Account `id` is closed: nothing of it remains but its tombstone, and it was announced once.
async fn assert_closed(svc: &TestService, id: &str) {
    let tombstone = "SELECT COUNT(*) FROM closed_accounts WHERE organization_uuid = $1";
    assert_eq!(svc.count(tombstone, id).await, 1, "tombstone of {id}");
    assert_account_removed(svc, id).await;
}

/// Account `id` is gone (closed, or deleted with its only member), announced once.
async fn assert_account_removed(svc: &TestService, id: &str) {
    let traces = [
        "SELECT COUNT(*) FROM organizations WHERE organization_uuid = $1",
        "SELECT COUNT(*) FROM organizations WHERE parent_uuid = $1",
        "SELECT COUNT(*) FROM memberships WHERE organization_uuid = $1",
        "SELECT COUNT(*) FROM invite_links WHERE organization_uuid = $1",
        "SELECT COUNT(*) FROM allowed_email_domains WHERE organization_uuid = $1",
    ];
    assert_none(svc, &traces, id).await;
    let announced = json!({ "organizationUuid": id });
    assert_eq!(
        events_of(svc, "organization.deleted", announced).await,
        1,
        "organization.deleted for {id}"
    );
}

/// User `id` is gone with everything of theirs, announced once.
async fn assert_user_removed(svc: &TestService, id: &str) {
    let traces = [
        "SELECT COUNT(*) FROM users WHERE user_uuid = $1",
        "SELECT COUNT(*) FROM memberships WHERE user_uuid = $1",
        "SELECT COUNT(*) FROM invite_links WHERE user_uuid = $1",
        "SELECT COUNT(*) FROM sessions WHERE user_uuid = $1",
    ];
    assert_none(svc, &traces, id).await;
    let announced = json!({ "userUuid": id });
    assert_eq!(
        events_of(svc, "user.deleted", announced).await,
        1,
        "user.deleted for {id}"
    );
}

/// User `id` stands, a member of no organization, never announced deleted.
async fn assert_user_stays_alone(svc: &TestService, id: &str) {
    let user = "SELECT COUNT(*) FROM users WHERE user_uuid = $1";
    assert_eq!(svc.count(user, id).await, 1, "user {id} stands");
    let member = "SELECT COUNT(*) FROM memberships WHERE user_uuid = $1";
    assert_eq!(svc.count(member, id).await, 0, "user {id} belongs nowhere");
    let announced = json!({ "userUuid": id });
    assert_eq!(events_of(svc, "user.deleted", announced).await, 0);
}

/// Nothing anywhere names a closed account: no account, sub-account, member, invitation,
/// group, attribute, allowed domain or allowed IP.
async fn assert_nothing_points_at_closed_accounts(svc: &TestService) {
    for sql in [
        "SELECT COUNT(*) FROM organizations WHERE organization_uuid IN (SELECT organization_uuid FROM closed_accounts) OR parent_uuid IN (SELECT organization_uuid FROM closed_accounts)",
        "SELECT COUNT(*) FROM memberships WHERE organization_uuid IN (SELECT organization_uuid FROM closed_accounts)",
        "SELECT COUNT(*) FROM invite_links WHERE organization_uuid IN (SELECT organization_uuid FROM closed_accounts)",
        "SELECT COUNT(*) FROM groups WHERE organization_uuid IN (SELECT organization_uuid FROM closed_accounts)",
        "SELECT COUNT(*) FROM user_attributes WHERE organization_uuid IN (SELECT organization_uuid FROM closed_accounts)",
        "SELECT COUNT(*) FROM allowed_email_domains WHERE organization_uuid IN (SELECT organization_uuid FROM closed_accounts)",
        "SELECT COUNT(*) FROM account_allowed_ips WHERE organization_uuid IN (SELECT organization_uuid FROM closed_accounts)",
    ] {
        let n: i64 =
            on_pool!(&svc.db, |p| sqlx::query_scalar(sql).fetch_one(p).await).expect("count");
        assert_eq!(n, 0, "{sql}");
    }
}

/// Runs `sql` binding `id` as `$1` (fixtures the API offers only through email or more users).
async fn execute(svc: &TestService, sql: &'static str, id: &str) {
    let id: Uuid = id.parse().unwrap();
    on_pool!(&svc.db, |p| sqlx::query(sql)
        .bind(id)
        .execute(p)
        .await
        .map(|_| ()))
    .expect("fixture written");
}

/// A client of the organizations API speaking for `user`.
fn identity(user: &User) -> IdentityServiceClient<tonic::transport::Channel> {
    IdentityServiceClient::new(user.channel())
}

/// An admin of a top-level account closes a fresh sub-account of theirs while the account's
/// operator invites a new user into it (the two lock the account's row from different guards).
async fn close_races_an_invitation(svc: TestService) {
    let (admin, _) = svc.admin("Top").await;
    let (_, operator) = svc.operator("racing inviter").await;
    for round in 0..ROUNDS {
        let sub = fresh_sub(&admin, round).await;
        let address = email();
        let invite = {
            let (op, sub, address) = (operator.clone(), sub.clone(), address.clone());
            async move { op.invite(&sub, &address, None).await }
        };
        let (closed, invited) = together(close(&admin, &sub), invite).await;
        let closed = closed.expect("the close succeeds");
        assert_answer(&invited, &[OK, NF], "invitation");
        assert_closed(&svc, &sub).await;
        match invited {
            // Invited first: the close removed the invitee with the account.
            Ok(invitation) => {
                assert_eq!(closed.users_removed, 1);
                assert_user_removed(&svc, &invitation.user_uuid).await;
            }
            Err(_) => {
                assert_eq!(closed.users_removed, 0);
                let sql = "SELECT COUNT(*) FROM users WHERE email = $1";
                let n: i64 = on_pool!(&svc.db, |p| sqlx::query_scalar(sql)
                    .bind(&address)
                    .fetch_one(p)
                    .await)
                .unwrap();
                assert_eq!(n, 0, "no invitee without an account");
            }
        }
    }
    assert_nothing_points_at_closed_accounts(&svc).await;
}

/// The account closes while its invitee registers with their code: they either became a
/// member first and went with the account, or find the invitation gone (NOT_FOUND).
async fn close_races_the_invitee_registering(svc: TestService) {
    let (admin, _) = svc.admin("Top").await;
    for round in 0..ROUNDS {
        let sub = fresh_sub(&admin, round).await;
        let invitation = admin.invite(&sub, &email(), None).await.unwrap();
        let register = register_invitee(
            svc.channel(),
            invitation.email.clone(),
            invitation.invite_code.clone(),
        );
        let (closed, registered) = together(close(&admin, &sub), register).await;
        let closed = closed.expect("the close succeeds");
        assert_answer(&registered, &[OK, NF], "registration with the code");
        assert_closed(&svc, &sub).await;
        assert_eq!(closed.users_removed, 1, "the invitee, registered or not");
        assert_user_removed(&svc, &invitation.user_uuid).await;
    }
    assert_nothing_points_at_closed_accounts(&svc).await;
}

/// The account closes while a user with a verified address of a domain it allows joins it.
async fn close_races_a_join_by_email_domain(svc: TestService) {
    let (admin, _) = svc.admin("Top").await;
    for round in 0..ROUNDS {
        let sub = fresh_sub(&admin, round).await;
        execute(
            &svc,
            "INSERT INTO allowed_email_domains (organization_uuid, email_domains, role) \
             VALUES ($1, '[\"accounts.test\"]', 'viewer')",
            &sub,
        )
        .await;
        let joiner = svc.user().await;
        let joiner_id = joiner.uuid.to_string();
        execute(
            &svc,
            "UPDATE users SET verified_email = email WHERE user_uuid = $1",
            &joiner_id,
        )
        .await;
        let join = {
            let (joiner, sub) = (joiner.clone(), sub.clone());
            async move {
                let msg = pb::JoinOrganizationRequest {
                    organization_uuid: sub,
                };
                identity(&joiner).join_organization(joiner.req(msg)).await
            }
        };
        let (closed, joined) = together(close(&admin, &sub), join).await;
        let closed = closed.expect("the close succeeds");
        assert_answer(&joined, &[OK, NF], "join by email domain");
        assert_closed(&svc, &sub).await;
        if joined.is_ok() {
            assert_eq!(closed.users_removed, 1, "joined first: went with it");
            assert_user_removed(&svc, &joiner_id).await;
        } else {
            assert_eq!(closed.users_removed, 0);
            assert_user_stays_alone(&svc, &joiner_id).await;
        }
    }
    assert_nothing_points_at_closed_accounts(&svc).await;
}

/// The account closes while the operator creates a sub-account in it, directly below it or
/// one level further down: a sub-account created first is closed with it, never left behind.
async fn close_races_a_new_sub_account(svc: TestService) {
    let (admin, _) = svc.admin("Top").await;
    let (_, operator) = svc.operator("racing creator").await;
    for round in 0..ROUNDS {
        let sub = fresh_sub(&admin, round).await;
        let child = admin.create("Child", Some(&sub)).await.unwrap();
        let child = child.organization_uuid;
        let parent = if round % 2 == 0 { &sub } else { &child };
        let create = {
            let (op, parent) = (operator.clone(), parent.clone());
            async move { op.create("Racing", Some(&parent)).await }
        };
        let (closed, created) = together(close(&admin, &sub), create).await;
        let closed = closed.expect("the close succeeds");
        assert_answer(&created, &[OK, NF], "sub-account creation");
        let mut expected: BTreeSet<String> = [sub.clone(), child.clone()].into();
        if let Ok(created) = &created {
            expected.insert(created.organization_uuid.clone());
        }
        let listed: BTreeSet<String> = closed.organization_uuids.iter().cloned().collect();
        assert_eq!(listed, expected, "everything below closes, nothing more");
        for id in &expected {
            assert_closed(&svc, id).await;
        }
    }
    assert_nothing_points_at_closed_accounts(&svc).await;
}

/// The account closes while one of its members deletes themselves: they are removed once,
/// by whichever commits first; the other's answer names what happened.
async fn close_races_a_member_leaving(svc: TestService) {
    let (admin, _) = svc.admin("Top").await;
    for round in 0..ROUNDS {
        let sub = fresh_sub(&admin, round).await;
        let stays = svc.member(&sub, "admin").await;
        let leaver = svc.member(&sub, "editor").await;
        let leave = {
            let leaver = leaver.clone();
            async move {
                let msg = pb::DeleteMeRequest {};
                identity(&leaver).delete_me(leaver.req(msg)).await
            }
        };
        let (closed, left) = together(close(&admin, &sub), leave).await;
        let closed = closed.expect("the close succeeds");
        // Closed first: the leaver's token names a user who is no more.
        assert_answer(&left, &[OK, UNAUTH], "deleting oneself");
        assert_closed(&svc, &sub).await;
        let expected = if left.is_ok() { 1 } else { 2 };
        assert_eq!(closed.users_removed, expected);
        assert_user_removed(&svc, &leaver.uuid.to_string()).await;
        assert_user_removed(&svc, &stays.uuid.to_string()).await;
    }
    assert_nothing_points_at_closed_accounts(&svc).await;
}

/// The account closes while its only member deletes themselves, which takes the account
/// along: exactly one of the two removes it (the close finds nothing: NOT_FOUND).
async fn close_races_the_only_member_leaving(svc: TestService) {
    let (admin, _) = svc.admin("Top").await;
    for round in 0..ROUNDS {
        let sub = fresh_sub(&admin, round).await;
        let only = svc.member(&sub, "admin").await;
        let leave = {
            let only = only.clone();
            async move {
                let msg = pb::DeleteMeRequest {};
                identity(&only).delete_me(only.req(msg)).await
            }
        };
        let (closed, left) = together(close(&admin, &sub), leave).await;
        assert_answer(&closed, &[OK, NF], "close");
        assert_answer(&left, &[OK, UNAUTH], "the only member deleting themselves");
        assert_ne!(
            closed.is_ok(),
            left.is_ok(),
            "exactly one of them: {closed:?} {left:?}"
        );
        if closed.is_ok() {
            assert_closed(&svc, &sub).await;
        } else {
            assert_account_removed(&svc, &sub).await;
        }
        assert_user_removed(&svc, &only.uuid.to_string()).await;
    }
    assert_nothing_points_at_closed_accounts(&svc).await;
}

/// The account closes while its admin removes a member: a member removed first stays a user
/// (of no organization); otherwise both go with the account, and the admin, removed, is told
/// so (UNAUTHENTICATED, or the refusal of an actor who is no longer an admin there).
async fn close_races_an_admin_removing_a_member(svc: TestService) {
    let (admin, _) = svc.admin("Top").await;
    for round in 0..ROUNDS {
        let sub = fresh_sub(&admin, round).await;
        let sub_admin = svc.member(&sub, "admin").await;
        let member = svc.member(&sub, "viewer").await;
        let member_id = member.uuid.to_string();
        let remove = {
            let (sub_admin, member_id) = (sub_admin.clone(), member_id.clone());
            async move {
                let msg = pb::RemoveOrganizationMemberRequest {
                    user_uuid: member_id,
                };
                identity(&sub_admin)
                    .remove_organization_member(sub_admin.req(msg))
                    .await
            }
        };
        let (closed, removed) = together(close(&admin, &sub), remove).await;
        let closed = closed.expect("the close succeeds");
        assert_answer(&removed, &[OK, UNAUTH, PD, NF], "removing a member");
        assert_closed(&svc, &sub).await;
        assert_user_removed(&svc, &sub_admin.uuid.to_string()).await;
        if removed.is_ok() {
            assert_eq!(closed.users_removed, 1);
            assert_user_stays_alone(&svc, &member_id).await;
            let announced = json!({ "organizationUuid": sub, "userUuid": member_id });
            let n = events_of(&svc, "organization.member_removed", announced).await;
            assert_eq!(n, 1);
        } else {
            assert_eq!(closed.users_removed, 2);
            assert_user_removed(&svc, &member_id).await;
        }
    }
    assert_nothing_points_at_closed_accounts(&svc).await;
}

/// The account closes while its admin changes a member's role: both go with the account
/// whichever commits first.
async fn close_races_a_role_change(svc: TestService) {
    let (admin, _) = svc.admin("Top").await;
    for round in 0..ROUNDS {
        let sub = fresh_sub(&admin, round).await;
        let sub_admin = svc.member(&sub, "admin").await;
        let member = svc.member(&sub, "viewer").await;
        let change = {
            let (sub_admin, member_id) = (sub_admin.clone(), member.uuid.to_string());
            async move {
                let msg = pb::UpdateOrganizationMemberRequest {
                    user_uuid: member_id,
                    organization_role: OrganizationRole::Editor.into(),
                };
                identity(&sub_admin)
                    .update_organization_member(sub_admin.req(msg))
                    .await
            }
        };
        let (closed, changed) = together(close(&admin, &sub), change).await;
        let closed = closed.expect("the close succeeds");
        assert_answer(&changed, &[OK, UNAUTH, PD, NF], "changing a role");
        assert_closed(&svc, &sub).await;
        assert_eq!(closed.users_removed, 2);
        for user in [&sub_admin, &member] {
            assert_user_removed(&svc, &user.uuid.to_string()).await;
        }
    }
    assert_nothing_points_at_closed_accounts(&svc).await;
}

/// The account closes while its admin sets the email domains it allows: no allowed domain
/// survives the account (before the fix: a foreign-key violation, answered INTERNAL).
async fn close_races_setting_allowed_email_domains(svc: TestService) {
    let (admin, _) = svc.admin("Top").await;
    for round in 0..ROUNDS {
        let sub = fresh_sub(&admin, round).await;
        let sub_admin = svc.member(&sub, "admin").await;
        let set = {
            let sub_admin = sub_admin.clone();
            async move {
                let msg = pb::SetAllowedEmailDomainsRequest {
                    email_domains: vec!["racing.test".into()],
                    organization_role: OrganizationRole::Viewer.into(),
                };
                identity(&sub_admin)
                    .set_allowed_email_domains(sub_admin.req(msg))
                    .await
            }
        };
        let (closed, set) = together(close(&admin, &sub), set).await;
        closed.expect("the close succeeds");
        assert_answer(&set, &[OK, UNAUTH, PD, NF], "setting allowed email domains");
        assert_closed(&svc, &sub).await;
        assert_user_removed(&svc, &sub_admin.uuid.to_string()).await;
    }
    assert_nothing_points_at_closed_accounts(&svc).await;
}
