//! Creating, reading and changing accounts; the depth limit; every bad input.

use std::collections::BTreeSet;

use proto::identity::v1::{self as pb, accounts_client::AccountsClient};
use tonic::{Code, Request};

use crate::harness::{TestService, assert_status, dual};

dual!(
    create_list_get_update,
    organizations_are_top_level_accounts,
    sub_accounts_nest_at_most_three_levels,
    bad_input_is_refused,
    callers_must_authenticate,
);

fn rename(id: &str, name: &str) -> pb::UpdateAccountRequest {
    pb::UpdateAccountRequest {
        organization_uuid: id.into(),
        name: Some(name.into()),
        ..Default::default()
    }
}

/// An account's `updated_at` in nanoseconds.
pub(crate) fn nanos(a: &pb::Account) -> i128 {
    let t = a.updated_at.unwrap();
    i128::from(t.seconds) * 1_000_000_000 + i128::from(t.nanos)
}

async fn create_list_get_update(svc: TestService) {
    let (admin, top_id) = svc.admin("Top").await;
    let top = admin.get(&top_id).await.unwrap();
    let sub = admin.create("  ACME Corp ", None).await.unwrap();
    assert_eq!(sub.name, "ACME Corp");
    assert_eq!(sub.parent_uuid.as_deref(), Some(top_id.as_str()));
    assert_eq!(sub.depth, 1);
    assert!(sub.customer_id > top.customer_id);
    assert!(!sub.legacy_access && !sub.lrn_access);
    assert!(!sub.require_ip_api_access && !sub.require_ip_gql_access);
    assert_eq!(
        (sub.mms_access.as_str(), sub.sms_access.as_str()),
        ("NONE", "NONE")
    );
    assert_eq!(sub.created_at, sub.updated_at);
    let deeper = admin
        .create("Deeper", Some(&sub.organization_uuid))
        .await
        .unwrap();
    assert_eq!(deeper.parent_uuid, Some(sub.organization_uuid.clone()));
    assert_eq!(deeper.depth, 2);
    assert_eq!(admin.get(&sub.organization_uuid).await.unwrap(), sub);

    let list = admin.list(0, None, None).await.unwrap();
    assert_eq!((list.limit, list.total), (25, 3));
    assert_eq!((list.after, list.before), (None, None));
    assert_eq!(list.accounts, [top.clone(), sub.clone(), deeper.clone()]);
    let ids: BTreeSet<i64> = list.accounts.iter().map(|a| a.customer_id).collect();
    assert_eq!(ids.len(), 3, "customer ids are unique");

    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let changed = admin
        .update(pb::UpdateAccountRequest {
            organization_uuid: sub.organization_uuid.clone(),
            name: Some("ACME Renamed".into()),
            legacy_access: Some(true),
            lrn_access: Some(true),
            mms_access: Some("FULL".into()),
            sms_access: Some("TIER_2".into()),
            require_ip_gql_access: Some(true),
            ..Default::default()
        })
        .await
        .unwrap();
    let expected = pb::Account {
        name: "ACME Renamed".into(),
        legacy_access: true,
        lrn_access: true,
        mms_access: "FULL".into(),
        sms_access: "TIER_2".into(),
        require_ip_gql_access: true,
        updated_at: changed.updated_at,
        ..sub.clone()
    };
    assert_eq!(changed, expected);
    assert!(nanos(&changed) > nanos(&sub), "updated_at moves on");
    assert_eq!(admin.get(&sub.organization_uuid).await.unwrap(), changed);

    // An update naming nothing still counts as a change.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let touched = admin
        .update(pb::UpdateAccountRequest {
            organization_uuid: sub.organization_uuid.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(nanos(&touched) > nanos(&changed), "updated_at moves on");
    assert_eq!(
        pb::Account {
            updated_at: changed.updated_at,
            ..touched
        },
        changed
    );

    // The top-level account changes the same way.
    let top2 = admin.update(rename(&top_id, "Top 2")).await.unwrap();
    assert_eq!(
        (top2.name.as_str(), top2.depth, top2.parent_uuid),
        ("Top 2", 0, None)
    );
}

async fn organizations_are_top_level_accounts(svc: TestService) {
    let (a, a_id) = svc.admin("First").await;
    let (b, b_id) = svc.admin("Second").await;
    let first = a.get(&a_id).await.unwrap();
    let second = b.get(&b_id).await.unwrap();
    for (account, name) in [(&first, "First"), (&second, "Second")] {
        assert_eq!(account.name, name);
        assert_eq!((account.depth, account.parent_uuid.as_deref()), (0, None));
        assert_eq!(account.mms_access, "NONE");
    }
    assert!(first.customer_id >= 1 && second.customer_id > first.customer_id);

    use tonic_reflection::pb::v1::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = ServerReflectionClient::new(svc.channel())
        .server_reflection_info(tonic::codegen::tokio_stream::once(request))
        .await
        .unwrap()
        .into_inner();
    let reply = stream.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = reply.message_response else {
        panic!("unexpected reflection reply")
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    assert!(
        names.contains(&"identity.v1.Accounts".to_owned()),
        "{names:?}"
    );
}

async fn sub_accounts_nest_at_most_three_levels(svc: TestService) {
    let (admin, top) = svc.admin("Top").await;
    let mut parent = top;
    for depth in 1..=3 {
        let child = admin
            .create(&format!("Level {depth}"), Some(&parent))
            .await
            .unwrap();
        assert_eq!(child.depth, depth);
        parent = child.organization_uuid;
    }
    let too_deep = "sub-accounts can be nested at most 3 levels deep";
    assert_status(
        admin.create("Level 4", Some(&parent)).await,
        Code::InvalidArgument,
        too_deep,
    );
    // An admin of the deepest account, creating under their own.
    let deepest_admin = svc.member(&parent, "admin").await;
    assert_status(
        deepest_admin.create("Level 4", None).await,
        Code::InvalidArgument,
        too_deep,
    );
    assert_eq!(admin.list(0, None, None).await.unwrap().total, 4);
}

async fn bad_input_is_refused(svc: TestService) {
    let (admin, top) = svc.admin("Top").await;
    let sub = admin.create("Sub", None).await.unwrap().organization_uuid;
    for name in ["", "   ", &"x".repeat(256), "a\u{7}b"] {
        assert_status(
            admin.create(name, None).await,
            Code::InvalidArgument,
            "name",
        );
        assert_status(
            admin.update(rename(&sub, name)).await,
            Code::InvalidArgument,
            "name",
        );
    }
    assert!(admin.create(&"x".repeat(255), None).await.is_ok());
    let unknown = uuid::Uuid::now_v7().to_string();
    for parent in ["not-a-uuid", "", unknown.as_str()] {
        assert_status(
            admin.create("X", Some(parent)).await,
            Code::NotFound,
            "account not found",
        );
    }
    // An empty id names the caller's own account where the proto says so (GetAccount,
    // UpdateAccount, CloseAccount), and no account elsewhere.
    let own = admin.get("").await.expect("the caller's own account");
    assert_eq!(own.organization_uuid, top);
    assert_status(admin.ips("").await, Code::NotFound, "account not found");
    for id in ["not-a-uuid", unknown.as_str()] {
        assert_status(admin.get(id).await, Code::NotFound, "account not found");
        assert_status(
            admin.update(rename(id, "X")).await,
            Code::NotFound,
            "account not found",
        );
        assert_status(admin.ips(id).await, Code::NotFound, "account not found");
    }
    for flag in [
        "",
        "none",
        "1A",
        "A-B",
        "NONÉ",
        &format!("A{}", "B".repeat(32)),
    ] {
        let mms = pb::UpdateAccountRequest {
            organization_uuid: sub.clone(),
            mms_access: Some(flag.into()),
            ..Default::default()
        };
        assert_status(
            admin.update(mms).await,
            Code::InvalidArgument,
            "mms_access must be",
        );
        let sms = pb::UpdateAccountRequest {
            organization_uuid: sub.clone(),
            sms_access: Some(flag.into()),
            ..Default::default()
        };
        assert_status(
            admin.update(sms).await,
            Code::InvalidArgument,
            "sms_access must be",
        );
    }
    assert_status(
        admin.list(101, None, None).await,
        Code::InvalidArgument,
        "limit must be between 1 and 100",
    );
    assert_status(
        admin.list(2, Some(&top), Some(&sub)).await,
        Code::InvalidArgument,
        "cannot both be set",
    );
    assert_status(
        admin.list(2, Some("x"), None).await,
        Code::InvalidArgument,
        "after must be an account id",
    );
    assert_status(
        admin.list(2, None, Some("x")).await,
        Code::InvalidArgument,
        "before must be an account id",
    );
    assert_eq!(admin.list(100, None, None).await.unwrap().accounts.len(), 3);

    // A user without an organization sees no account.
    let loner = svc.user().await;
    assert_status(
        loner.list(0, None, None).await,
        Code::PermissionDenied,
        "not a member",
    );
    assert_status(
        loner.create("X", None).await,
        Code::PermissionDenied,
        "not a member",
    );
    assert_status(
        loner.create("X", Some(&top)).await,
        Code::NotFound,
        "account not found",
    );
    assert_status(loner.get(&top).await, Code::NotFound, "account not found");
}

/// Every method refuses a call without a valid access token.
async fn callers_must_authenticate(svc: TestService) {
    fn bad<T>(msg: T) -> Request<T> {
        let mut r = Request::new(msg);
        r.metadata_mut()
            .insert("authorization", "Bearer not.a.token".parse().unwrap());
        r
    }
    let mut c = AccountsClient::new(svc.channel());
    let codes = [
        c.create_sub_account(Request::new(pb::CreateSubAccountRequest::default()))
            .await
            .map(|_| ()),
        c.list_accounts(bad(pb::ListAccountsRequest::default()))
            .await
            .map(|_| ()),
        c.get_account(Request::new(pb::GetAccountRequest::default()))
            .await
            .map(|_| ()),
        c.update_account(bad(pb::UpdateAccountRequest::default()))
            .await
            .map(|_| ()),
        c.list_allowed_ips(Request::new(pb::ListAllowedIpsRequest::default()))
            .await
            .map(|_| ()),
        c.add_allowed_ip(bad(pb::AddAllowedIpRequest::default()))
            .await
            .map(|_| ()),
        c.delete_allowed_ip(Request::new(pb::DeleteAllowedIpRequest::default()))
            .await
            .map(|_| ()),
        c.create_account_invitation(bad(pb::CreateAccountInvitationRequest::default()))
            .await
            .map(|_| ()),
        c.close_account(Request::new(pb::CloseAccountRequest::default()))
            .await
            .map(|_| ()),
    ];
    for r in codes {
        assert_eq!(crate::harness::code(&r), Code::Unauthenticated, "{r:?}");
    }
}
