//! Who sees and administers which account (AC-8): every caller against every account, for
//! every method that names one. A member sees their own account; an admin administers theirs
//! and every account below it; anything else answers NOT_FOUND, exactly as an account that does
//! not exist. An account seen but not administered answers PERMISSION_DENIED to a change.

use std::collections::BTreeSet;

use proto::identity::v1 as pb;
use tonic::Code::{self, NotFound as NF, Ok as OK, PermissionDenied as PD};

use crate::harness::{TestService, User, code, dual};

dual!(
    callers_see_exactly_their_accounts,
    the_parent_id_is_answered_to_its_administrators_only,
);

/// One caller: what they get from each target (parent, sub-account, sibling, other top-level)
/// when reading it and when changing it, and which accounts they list.
struct Row<'a> {
    who: &'static str,
    caller: &'a User,
    read: [Code; 4],
    change: [Code; 4],
    lists: Vec<&'a str>,
}

async fn callers_see_exactly_their_accounts(svc: TestService) {
    let (parent_admin, parent) = svc.admin("Parent").await;
    let parent_member = svc.member(&parent, "member").await;
    let sub = parent_admin
        .create("Sub", None)
        .await
        .unwrap()
        .organization_uuid;
    let sibling = parent_admin
        .create("Sibling", None)
        .await
        .unwrap()
        .organization_uuid;
    let sub_admin = svc.member(&sub, "admin").await;
    let sub_member = svc.member(&sub, "developer").await;
    let sibling_admin = svc.member(&sibling, "admin").await;
    let (other_admin, other) = svc.admin("Other").await;
    let targets = [&parent, &sub, &sibling, &other];

    let rows = [
        Row {
            who: "admin of parent",
            caller: &parent_admin,
            read: [OK, OK, OK, NF],
            change: [OK, OK, OK, NF],
            lists: vec![&parent, &sub, &sibling],
        },
        Row {
            who: "member of parent",
            caller: &parent_member,
            read: [OK, NF, NF, NF],
            change: [PD, NF, NF, NF],
            lists: vec![&parent],
        },
        Row {
            who: "admin of sub-account",
            caller: &sub_admin,
            read: [NF, OK, NF, NF],
            change: [NF, OK, NF, NF],
            lists: vec![&sub],
        },
        Row {
            who: "member of sub-account",
            caller: &sub_member,
            read: [NF, OK, NF, NF],
            change: [NF, PD, NF, NF],
            lists: vec![&sub],
        },
        Row {
            who: "admin of sibling",
            caller: &sibling_admin,
            read: [NF, NF, OK, NF],
            change: [NF, NF, OK, NF],
            lists: vec![&sibling],
        },
        Row {
            who: "admin of other top-level",
            caller: &other_admin,
            read: [NF, NF, NF, OK],
            change: [NF, NF, NF, OK],
            lists: vec![&other],
        },
    ];
    for row in &rows {
        let listed = row.caller.list(100, None, None).await.unwrap();
        let listed: BTreeSet<String> = listed
            .accounts
            .into_iter()
            .map(|a| a.organization_uuid)
            .collect();
        let expected: BTreeSet<String> = row.lists.iter().map(|s| s.to_string()).collect();
        assert_eq!(listed, expected, "{} lists", row.who);
        for (i, target) in targets.iter().enumerate() {
            check(row, i, target).await;
        }
    }
    // Nothing above changed what anyone sees: creating under a target is the last check.
    for row in &rows {
        for (i, target) in targets.iter().enumerate() {
            let r = row.caller.create("Child", Some(target)).await;
            assert_eq!(
                code(&r),
                row.change[i],
                "{} creates under target {i}",
                row.who
            );
        }
    }
}

/// Reads and changes `target` (number `i`) as `row.caller`.
async fn check(row: &Row<'_>, i: usize, target: &str) {
    let c = row.caller;
    let who = row.who;
    let got = c.get(target).await;
    assert_eq!(code(&got), row.read[i], "{who} gets target {i}");
    if let Err(s) = &got {
        assert_eq!(
            s.message(),
            "account not found",
            "{who}: the same answer as no account"
        );
    }
    let rename = pb::UpdateAccountRequest {
        organization_uuid: target.into(),
        name: Some(format!("renamed by {who}")),
        ..Default::default()
    };
    let changes = [
        ("updates", code(&c.update(rename).await)),
        ("lists the allowed IPs of", code(&c.ips(target).await)),
        (
            "adds an allowed IP to",
            code(&c.add_ip(target, "198.51.100.0/24", who).await),
        ),
    ];
    for (what, got) in changes {
        assert_eq!(got, row.change[i], "{who} {what} target {i}");
    }
    // Deleting: the allowed IP just added, through the target's id.
    if row.change[i] == OK {
        let ips = c.ips(target).await.unwrap();
        let ip = ips.iter().find(|ip| ip.description == who).unwrap();
        c.delete_ip(target, &ip.allowed_ip_uuid).await.unwrap();
    } else {
        let r = c.delete_ip(target, &uuid::Uuid::now_v7().to_string()).await;
        assert_eq!(
            code(&r),
            row.change[i],
            "{who} deletes an allowed IP of target {i}"
        );
    }
}

/// A sub-account's `parent_uuid` names an account above its own members and admins: answered
/// only to those who administer the parent (its admins, an operator), from every call.
async fn the_parent_id_is_answered_to_its_administrators_only(svc: TestService) {
    let (parent_admin, parent) = svc.admin("Parent").await;
    let sub = parent_admin.create("Sub", None).await.unwrap();
    let sub_id = sub.organization_uuid.clone();
    assert_eq!(sub.parent_uuid.as_deref(), Some(parent.as_str()));
    let sub_admin = svc.member(&sub_id, "admin").await;
    let sub_member = svc.member(&sub_id, "developer").await;
    let (_, operator) = svc.operator("ops").await;
    let parent_of = |a: &pb::Account| a.parent_uuid.clone();
    for (who, caller, expected) in [
        ("admin of parent", &parent_admin, Some(parent.clone())),
        ("operator", &operator, Some(parent.clone())),
        ("admin of sub-account", &sub_admin, None),
        ("member of sub-account", &sub_member, None),
    ] {
        let got = caller.get(&sub_id).await.unwrap();
        assert_eq!(parent_of(&got), expected, "{who}: GetAccount");
        let listed = caller.list(100, None, None).await.unwrap();
        if let Some(a) = listed
            .accounts
            .iter()
            .find(|a| a.organization_uuid == sub_id)
        {
            assert_eq!(parent_of(a), expected, "{who}: ListAccounts");
        }
        if who != "member of sub-account" {
            let msg = pb::UpdateAccountRequest {
                organization_uuid: sub_id.clone(),
                ..Default::default()
            };
            let updated = caller.update(msg).await.unwrap();
            assert_eq!(parent_of(&updated), expected, "{who}: UpdateAccount");
        }
    }
}
