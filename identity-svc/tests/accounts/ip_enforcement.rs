//! Allowed IPs enforced on every call (docs/accounts.md, "Allowed IPs"; AC-6: a change holds
//! on the next request): a member of an account with `require_ip_api_access` on is refused
//! PERMISSION_DENIED from an address outside its allowed IPs, on the account API and on the
//! identity API alike (`GetAccessContexts` too, through which projects-svc and connections-svc
//! check). Only the caller's own account's flag applies; operators are not subject to it.

use proto::identity::v1::{self as pb, identity_service_client::IdentityServiceClient};
use tonic::{Code, Status};

use crate::{
    allowed_ips::require_ip,
    harness::{TestService, User, assert_status, dual},
};

dual!(
    a_member_calls_only_from_an_allowed_address,
    each_account_s_flag_binds_its_own_members_only,
    an_operator_is_not_subject_to_allowed_ips,
    enabling_and_deleting_the_covering_ip_do_not_both_pass,
);

const REFUSED: &str = "Your address is not allowed for this account";

/// The calls a member makes on each API: the account, the current user, the access context
/// (what projects-svc and connections-svc ask), the organization; the first refusal, if any.
async fn calls(user: &User, account: &str) -> Result<(), Status> {
    user.get(account).await?;
    let mut identity = IdentityServiceClient::new(user.channel());
    identity
        .get_current_user(user.req(pb::GetCurrentUserRequest {}))
        .await?;
    identity
        .get_access_contexts(user.req(pb::GetAccessContextsRequest::default()))
        .await?;
    identity
        .get_my_organization(user.req(pb::GetMyOrganizationRequest {}))
        .await?;
    Ok(())
}

/// Asserts that each of `user`'s calls is refused for their address, whichever is tried alone.
async fn assert_refused(user: &User, account: &str) {
    assert_status(user.get(account).await, Code::PermissionDenied, REFUSED);
    let mut identity = IdentityServiceClient::new(user.channel());
    assert_status(
        identity
            .get_current_user(user.req(pb::GetCurrentUserRequest {}))
            .await,
        Code::PermissionDenied,
        REFUSED,
    );
    assert_status(
        identity
            .get_access_contexts(user.req(pb::GetAccessContextsRequest::default()))
            .await,
        Code::PermissionDenied,
        REFUSED,
    );
    assert_status(
        identity
            .get_my_organization(user.req(pb::GetMyOrganizationRequest {}))
            .await,
        Code::PermissionDenied,
        REFUSED,
    );
}

async fn a_member_calls_only_from_an_allowed_address(svc: TestService) {
    let (admin, top) = svc.admin("Top").await;
    let admin = admin.from(Some("198.51.100.1"));
    admin.add_ip(&top, "198.51.100.0/24", "").await.unwrap();
    admin.add_ip(&top, "2001:db8::/32", "").await.unwrap();
    let viewer = svc.member(&top, "viewer").await;
    // Off: from anywhere, or with no address at all.
    for address in [None, Some("203.0.113.5")] {
        calls(&viewer.from(address), &top).await.unwrap();
    }

    admin.update(require_ip(&top, true)).await.unwrap();
    for inside in ["198.51.100.77", "::ffff:198.51.100.77", "2001:db8::5"] {
        calls(&viewer.from(Some(inside)), &top).await.unwrap();
    }
    for outside in [
        None,
        Some("203.0.113.5"),
        Some("2001:db9::5"),
        Some("not an address"),
        Some("198.51.100.77:443"),
    ] {
        assert_refused(&viewer.from(outside), &top).await;
    }
    // The admin too: an admin is a member of their account.
    assert_refused(&admin.from(Some("203.0.113.5")), &top).await;

    // Each change holds on the very next call (no cache).
    let roaming = viewer.from(Some("203.0.113.5"));
    let added = admin.add_ip(&top, "203.0.113.0/24", "").await.unwrap();
    calls(&roaming, &top).await.unwrap();
    admin.delete_ip(&top, &added.allowed_ip_uuid).await.unwrap();
    assert_refused(&roaming, &top).await;
    admin.update(require_ip(&top, false)).await.unwrap();
    calls(&roaming, &top).await.unwrap();
    calls(&viewer, &top).await.unwrap();
    admin.update(require_ip(&top, true)).await.unwrap();
    assert_refused(&roaming, &top).await;
}

async fn each_account_s_flag_binds_its_own_members_only(svc: TestService) {
    let (parent_admin, top) = svc.admin("Top").await;
    let parent_admin = parent_admin.from(Some("198.51.100.1"));
    let sub = parent_admin
        .create("Sub", None)
        .await
        .unwrap()
        .organization_uuid;
    let sub_member = svc.member(&sub, "editor").await.from(Some("203.0.113.5"));
    parent_admin
        .add_ip(&top, "198.51.100.0/24", "")
        .await
        .unwrap();
    parent_admin.add_ip(&sub, "192.0.2.0/24", "").await.unwrap();

    // The parent's flag: its admin, acting on the sub-account too, is refused from outside the
    // parent's list; the sub-account's members are not.
    parent_admin.update(require_ip(&top, true)).await.unwrap();
    let parent_admin_away = parent_admin.from(Some("203.0.113.5"));
    assert_refused(&parent_admin_away, &top).await;
    assert_status(
        parent_admin_away.get(&sub).await,
        Code::PermissionDenied,
        REFUSED,
    );
    assert_status(
        parent_admin_away.update(require_ip(&sub, false)).await,
        Code::PermissionDenied,
        REFUSED,
    );
    calls(&sub_member, &sub).await.unwrap();
    parent_admin.update(require_ip(&top, false)).await.unwrap();

    // The sub-account's flag (turned on by the parent's admin from inside its list): its
    // members are refused from outside it; the parent's admin, a member of the parent only,
    // is not, on the sub-account either.
    parent_admin
        .from(Some("192.0.2.1"))
        .update(require_ip(&sub, true))
        .await
        .unwrap();
    assert_refused(&sub_member, &sub).await;
    calls(&sub_member.from(Some("192.0.2.9")), &sub)
        .await
        .unwrap();
    calls(&parent_admin_away, &top).await.unwrap();
    assert!(
        parent_admin_away
            .get(&sub)
            .await
            .unwrap()
            .require_ip_api_access
    );
    assert!(
        !parent_admin_away
            .update(require_ip(&sub, false))
            .await
            .unwrap()
            .require_ip_api_access
    );
    calls(&sub_member, &sub).await.unwrap();
}

async fn an_operator_is_not_subject_to_allowed_ips(svc: TestService) {
    let (admin, top) = svc.admin("Top").await;
    let admin = admin.from(Some("198.51.100.1"));
    admin.add_ip(&top, "198.51.100.0/24", "").await.unwrap();
    admin.update(require_ip(&top, true)).await.unwrap();
    let (_, operator) = svc.operator("ops").await;
    for address in [None, Some("203.0.113.5")] {
        let op = operator.from(address);
        assert!(op.get(&top).await.unwrap().require_ip_api_access);
        assert_eq!(op.ips(&top).await.unwrap().len(), 1);
    }
    // It can turn the flag off for a member locked out elsewhere.
    assert!(
        !operator
            .from(Some("203.0.113.5"))
            .update(require_ip(&top, false))
            .await
            .unwrap()
            .require_ip_api_access
    );
    calls(&admin.from(Some("203.0.113.5")), &top).await.unwrap();
}

/// Turning the flag on and deleting the one entry covering the caller, at the same time: each
/// checks with the account's row locked, so at most one passes (AC-9). Only PostgreSQL runs the
/// two transactions at once; SQLite has one writer.
async fn enabling_and_deleting_the_covering_ip_do_not_both_pass(svc: TestService) {
    let (admin, top) = svc.admin("Top").await;
    let admin = admin.from(Some("198.51.100.1"));
    let mut both = 0;
    for _ in 0..25 {
        let ip = admin.add_ip(&top, "198.51.100.0/24", "").await.unwrap();
        let (enabled, deleted) = tokio::join!(
            tokio::spawn({
                let admin = admin.clone();
                let top = top.clone();
                async move { admin.update(require_ip(&top, true)).await }
            }),
            tokio::spawn({
                let admin = admin.clone();
                let top = top.clone();
                async move { admin.delete_ip(&top, &ip.allowed_ip_uuid).await }
            }),
        );
        let (enabled, deleted) = (enabled.unwrap(), deleted.unwrap());
        match (&enabled, &deleted) {
            (Ok(_), Ok(())) => both += 1,
            (Ok(_), Err(e)) | (Err(e), Ok(_)) => {
                assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}")
            }
            (Err(a), Err(b)) => panic!("neither passed: {a:?} {b:?}"),
        }
        let account = admin.get(&top).await.unwrap();
        let ips = admin.ips(&top).await.unwrap();
        assert!(
            !account.require_ip_api_access || !ips.is_empty(),
            "the flag is on with no allowed IP left"
        );
        // Back to the start: the flag off, no entry.
        admin.update(require_ip(&top, false)).await.unwrap();
        for ip in ips {
            admin.delete_ip(&top, &ip.allowed_ip_uuid).await.unwrap();
        }
    }
    assert_eq!(both, 0, "both passed");
}
