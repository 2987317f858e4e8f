//! Closing accounts: who may close which account; everything of the account and of every
//! account below it goes in one step (members with their credentials, invitations, groups,
//! attributes, allowed IPs), with one event per account and per user for the other services
//! and a tombstone per account; the account above is untouched.

use std::collections::BTreeSet;

use proto::identity::v1::{self as pb, identity_service_client::IdentityServiceClient};
use serde_json::json;
use tonic::Code::{self, NotFound as NF, Ok as OK, PermissionDenied as PD};
use uuid::Uuid;

use crate::harness::{TestService, User, assert_status, code, dual};

dual!(
    closing_removes_everything_below_and_spares_the_parent,
    who_may_close_what,
    admins_may_close_their_own_account,
    the_deepest_tree_closes_whole,
    customer_ids_are_never_reused,
);

fn email() -> String {
    format!("closing-{}@accounts.test", Uuid::new_v4().simple())
}

/// A group with `member` in it and an attribute with a value for `member`, made by `admin` (an
/// admin of their own account, through the organizations API).
async fn group_and_attribute(admin: &User, member: &User) {
    let mut identity = IdentityServiceClient::new(admin.channel());
    let group = identity
        .create_group(admin.req(pb::CreateGroupRequest {
            name: "Closing group".into(),
            member_uuids: vec![member.uuid.to_string()],
        }))
        .await
        .expect("group created")
        .into_inner();
    identity
        .save_user_attribute(admin.req(pb::SaveUserAttributeRequest {
            name: "region".into(),
            users: vec![pb::UserAttributeValue {
                user_uuid: member.uuid.to_string(),
                value: "emea".into(),
                ..Default::default()
            }],
            groups: vec![pb::GroupAttributeValue {
                group_uuid: group.uuid,
                value: "apac".into(),
            }],
            ..Default::default()
        }))
        .await
        .expect("attribute saved");
}

/// What identity keeps of an organization, by table.
async fn traces_of_account(svc: &TestService, org: &str) -> Vec<(&'static str, i64)> {
    let mut traces = Vec::new();
    for (table, sql) in [
        (
            "organizations",
            "SELECT COUNT(*) FROM organizations WHERE organization_uuid = $1",
        ),
        (
            "memberships",
            "SELECT COUNT(*) FROM memberships WHERE organization_uuid = $1",
        ),
        (
            "invite_links",
            "SELECT COUNT(*) FROM invite_links WHERE organization_uuid = $1",
        ),
        (
            "groups",
            "SELECT COUNT(*) FROM groups WHERE organization_uuid = $1",
        ),
        (
            "user_attributes",
            "SELECT COUNT(*) FROM user_attributes WHERE organization_uuid = $1",
        ),
        (
            "account_allowed_ips",
            "SELECT COUNT(*) FROM account_allowed_ips WHERE organization_uuid = $1",
        ),
    ] {
        traces.push((table, svc.count(sql, org).await));
    }
    traces
}

/// What identity keeps of a user, by table.
async fn traces_of_user(svc: &TestService, user: &str) -> i64 {
    let mut n = 0;
    for sql in [
        "SELECT COUNT(*) FROM users WHERE user_uuid = $1",
        "SELECT COUNT(*) FROM sessions WHERE user_uuid = $1",
        "SELECT COUNT(*) FROM personal_access_tokens WHERE user_uuid = $1",
        "SELECT COUNT(*) FROM group_memberships WHERE user_uuid = $1",
        "SELECT COUNT(*) FROM user_attribute_values WHERE user_uuid = $1",
    ] {
        n += svc.count(sql, user).await;
    }
    n
}

fn ids(accounts: &[pb::Account]) -> BTreeSet<String> {
    accounts
        .iter()
        .map(|a| a.organization_uuid.clone())
        .collect()
}

async fn closing_removes_everything_below_and_spares_the_parent(svc: TestService) {
    let (parent_admin, parent) = svc.admin("Parent").await;
    let parent_member = svc.member(&parent, "editor").await;
    let sub = parent_admin.create("Sub", None).await.unwrap();
    let sub_id = sub.organization_uuid.clone();
    let below = parent_admin.create("Below", Some(&sub_id)).await.unwrap();
    let below_id = below.organization_uuid.clone();
    let sibling = parent_admin.create("Sibling", None).await.unwrap();
    // The sub-account's world: an admin and an invited member, a pending invitee, a group, an
    // attribute, an allowed IP; a member of the account below it.
    let sub_admin = svc.member(&sub_id, "admin").await;
    let invitation = parent_admin.invite(&sub_id, &email(), None).await.unwrap();
    let sub_member = svc.join(&invitation).await;
    let pending = parent_admin.invite(&sub_id, &email(), None).await.unwrap();
    group_and_attribute(&sub_admin, &sub_member).await;
    parent_admin
        .add_ip(&sub_id, "203.0.113.0/24", "office")
        .await
        .unwrap();
    let below_member = svc.member(&below_id, "viewer").await;
    let parent_before = parent_admin.get(&parent).await.unwrap();
    let events_before = svc.events().await.len();

    let closed = parent_admin.close(&sub_id).await.unwrap();
    let mut expected = vec![sub_id.clone(), below_id.clone()];
    expected.sort();
    assert_eq!(closed.organization_uuids, expected);
    assert_eq!(
        closed.users_removed, 4,
        "two members, an invitee, one below"
    );

    // Gone for everyone, the closing admin included, as if they never existed.
    for id in [&sub_id, &below_id] {
        assert_status(parent_admin.get(id).await, NF, "account not found");
        assert_status(parent_admin.close(id).await, NF, "account not found");
        assert_status(
            parent_admin.create("Again", Some(id)).await,
            NF,
            "account not found",
        );
        assert_status(
            parent_admin.invite(id, &email(), None).await,
            NF,
            "account not found",
        );
        assert!(
            traces_of_account(&svc, id)
                .await
                .iter()
                .all(|(_, n)| *n == 0),
            "{:?}",
            traces_of_account(&svc, id).await
        );
        let tombstone = "SELECT COUNT(*) FROM closed_accounts WHERE organization_uuid = $1";
        assert_eq!(svc.count(tombstone, id).await, 1, "a tombstone for {id}");
    }
    // Their members' tokens stop working at once, and nothing of them remains.
    let gone = [&sub_admin, &sub_member, &below_member];
    for user in gone {
        assert_status(user.list(0, None, None).await, Code::Unauthenticated, "");
        assert_eq!(traces_of_user(&svc, &user.uuid.to_string()).await, 0);
    }
    assert_eq!(
        traces_of_user(&svc, &pending.user_uuid).await,
        0,
        "the pending invitee goes too"
    );

    // The parent and the sibling stand as they were; the parent's people keep their access.
    let listed = parent_admin.list(0, None, None).await.unwrap();
    let expected: BTreeSet<String> = [parent.clone(), sibling.organization_uuid.clone()].into();
    assert_eq!(ids(&listed.accounts), expected);
    assert_eq!(parent_admin.get(&parent).await.unwrap(), parent_before);
    assert_eq!(parent_member.organization().await.unwrap(), parent);
    let none = "SELECT COUNT(*) FROM closed_accounts WHERE organization_uuid = $1";
    assert_eq!(svc.count(none, &parent).await, 0);

    // One event per account and per user, as the other deletions write them.
    let events = svc.events().await;
    let written: BTreeSet<(String, String)> = events[events_before..]
        .iter()
        .map(|(t, p)| (t.clone(), p.to_string()))
        .collect();
    let mut expected = BTreeSet::new();
    for org in [&sub_id, &below_id] {
        let payload = json!({ "organizationUuid": org }).to_string();
        expected.insert(("organization.deleted".to_owned(), payload));
    }
    for user in gone
        .iter()
        .map(|u| u.uuid.to_string())
        .chain([pending.user_uuid.clone()])
    {
        let payload = json!({ "userUuid": user }).to_string();
        expected.insert(("user.deleted".to_owned(), payload));
    }
    assert_eq!(written, expected);
    assert_eq!(events.len() - events_before, 6, "each once");
}

/// Who may close which account: admins of it or above; a member who sees it gets
/// PERMISSION_DENIED; anyone else NOT_FOUND. A refusal changes nothing.
async fn who_may_close_what(svc: TestService) {
    let (parent_admin, parent) = svc.admin("Parent").await;
    let parent_member = svc.member(&parent, "developer").await;
    let sub = parent_admin
        .create("Sub", None)
        .await
        .unwrap()
        .organization_uuid;
    let sub_member = svc.member(&sub, "editor").await;
    let sibling = parent_admin
        .create("Sibling", None)
        .await
        .unwrap()
        .organization_uuid;
    let sibling_admin = svc.member(&sibling, "admin").await;
    let (other_admin, other) = svc.admin("Other").await;
    let targets = [&parent, &sub, &sibling, &other];
    let rows: [(&str, &User, [Code; 4]); 4] = [
        ("member of parent", &parent_member, [PD, NF, NF, NF]),
        ("member of sub-account", &sub_member, [NF, PD, NF, NF]),
        ("admin of sibling", &sibling_admin, [NF, NF, OK, NF]),
        ("admin of other", &other_admin, [NF, NF, NF, OK]),
    ];
    for (who, caller, expected) in rows {
        for (i, target) in targets.iter().enumerate() {
            // The allowed closes come last: each caller is refused everything else first.
            if expected[i] == OK {
                continue;
            }
            let r = caller.close(target).await;
            assert_eq!(code(&r), expected[i], "{who} closes target {i}");
        }
    }
    for id in ["nope", &Uuid::now_v7().to_string()] {
        assert_status(parent_admin.close(id).await, NF, "account not found");
    }
    let listed = parent_admin.list(0, None, None).await.unwrap();
    assert_eq!(listed.total, 3, "nothing was closed");
    // The sibling's admin closes their own account, the other admin theirs.
    sibling_admin.close(&sibling).await.unwrap();
    other_admin.close(&other).await.unwrap();
    let listed = parent_admin.list(0, None, None).await.unwrap();
    let expected: BTreeSet<String> = [parent.clone(), sub.clone()].into();
    assert_eq!(ids(&listed.accounts), expected);
}

/// An admin who closes their own account goes with it; one who closes an account below stays.
async fn admins_may_close_their_own_account(svc: TestService) {
    let (admin, top) = svc.admin("Top").await;
    let sub = admin.create("Sub", None).await.unwrap().organization_uuid;
    let sub_admin = svc.member(&sub, "admin").await;
    let closed = sub_admin.close(&sub).await.unwrap();
    assert_eq!(closed.organization_uuids, [sub.as_str()]);
    assert_eq!(closed.users_removed, 1);
    assert_status(sub_admin.get(&sub).await, Code::Unauthenticated, "");
    assert_eq!(admin.get(&top).await.unwrap().organization_uuid, top);

    // A top-level account closes the same way, its admin with it.
    let second_admin = svc.member(&top, "admin").await;
    let closed = admin.close(&top).await.unwrap();
    assert_eq!(closed.organization_uuids, [top.as_str()]);
    assert_eq!(closed.users_removed, 2);
    for user in [&admin, &second_admin] {
        assert_status(user.list(0, None, None).await, Code::Unauthenticated, "");
    }
    let tombstone = "SELECT COUNT(*) FROM closed_accounts WHERE organization_uuid = $1";
    assert_eq!(svc.count(tombstone, &top).await, 1);
}

/// A top-level account with sub-accounts down to the depth limit closes whole; inviting into
/// the deepest account works before.
async fn the_deepest_tree_closes_whole(svc: TestService) {
    let (admin, top) = svc.admin("Top").await;
    let mut chain = vec![top.clone()];
    for depth in 1..=3 {
        let parent = chain.last().unwrap().clone();
        let next = admin
            .create(&format!("Depth {depth}"), Some(&parent))
            .await
            .unwrap();
        chain.push(next.organization_uuid);
    }
    assert_status(
        admin
            .create("Too deep", chain.last().map(String::as_str))
            .await,
        Code::InvalidArgument,
        "at most 3 levels deep",
    );
    let invitation = admin
        .invite(chain.last().unwrap(), &email(), None)
        .await
        .unwrap();
    let deepest_member = svc.join(&invitation).await;
    // A sub-account with a member of its own, closed from the top.
    let closed = admin.close(&top).await.unwrap();
    let mut expected = chain.clone();
    expected.sort();
    assert_eq!(closed.organization_uuids, expected);
    assert_eq!(closed.users_removed, 2);
    assert_status(
        deepest_member.list(0, None, None).await,
        Code::Unauthenticated,
        "",
    );
    for id in &chain {
        assert_eq!(
            svc.count(
                "SELECT COUNT(*) FROM organizations WHERE organization_uuid = $1",
                id
            )
            .await,
            0
        );
    }
}

/// Closing the newest account does not hand its customer id out again.
async fn customer_ids_are_never_reused(svc: TestService) {
    let (admin, _) = svc.admin("Top").await;
    let newest = admin.create("Newest", None).await.unwrap();
    admin.close(&newest.organization_uuid).await.unwrap();
    let next = admin.create("Next", None).await.unwrap();
    assert!(
        next.customer_id > newest.customer_id,
        "{} after {}",
        next.customer_id,
        newest.customer_id
    );
}
