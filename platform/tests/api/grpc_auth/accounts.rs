//! identity-svc's account API (`identity.v1.Accounts`, docs/accounts.md): every method refuses
//! no token, a forged token and the internal credential alone (TK-1, TK-9); a real token passes
//! authentication and meets the account rules instead.

use proto::identity::v1::{self as pb, accounts_client::AccountsClient};
use tonic::{Code, transport::Channel};

use super::{As, assert_all, declared_methods, real_and_refused, req};
use crate::helpers::{TestApp, dual};

/// Calls every method of the account API; returns (method, code) for each.
async fn accounts_methods(c: &mut AccountsClient<Channel>, who: &As) -> Vec<(&'static str, Code)> {
    let code = |r: Result<(), tonic::Status>| r.err().map(|s| s.code()).unwrap_or(Code::Ok);
    let id = || uuid::Uuid::now_v7().to_string();
    vec![
        (
            "CreateSubAccount",
            code(
                c.create_sub_account(req(
                    pb::CreateSubAccountRequest {
                        name: "x".into(),
                        parent_uuid: None,
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "ListAccounts",
            code(
                c.list_accounts(req(pb::ListAccountsRequest::default(), who))
                    .await
                    .map(|_| ()),
            ),
        ),
        (
            "GetAccount",
            code(
                c.get_account(req(
                    pb::GetAccountRequest {
                        organization_uuid: id(),
                        email: None,
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "UpdateAccount",
            code(
                c.update_account(req(
                    pb::UpdateAccountRequest {
                        organization_uuid: id(),
                        name: Some("x".into()),
                        ..Default::default()
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "ListAllowedIps",
            code(
                c.list_allowed_ips(req(
                    pb::ListAllowedIpsRequest {
                        organization_uuid: id(),
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "AddAllowedIp",
            code(
                c.add_allowed_ip(req(
                    pb::AddAllowedIpRequest {
                        organization_uuid: id(),
                        cidr: "203.0.113.0/24".into(),
                        description: String::new(),
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "DeleteAllowedIp",
            code(
                c.delete_allowed_ip(req(
                    pb::DeleteAllowedIpRequest {
                        organization_uuid: id(),
                        allowed_ip_uuid: id(),
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "CreateAccountInvitation",
            code(
                c.create_account_invitation(req(
                    pb::CreateAccountInvitationRequest {
                        organization_uuid: id(),
                        email: "invited@example.com".into(),
                        ..Default::default()
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "CloseAccount",
            code(
                c.close_account(req(
                    pb::CloseAccountRequest {
                        organization_uuid: id(),
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
        (
            "CreateAccount",
            code(
                c.create_account(req(
                    pb::CreateAccountRequest {
                        name: "x".into(),
                        email: "first@example.com".into(),
                        invitation_link_base: "http://127.0.0.1".into(),
                    },
                    who,
                ))
                .await
                .map(|_| ()),
            ),
        ),
    ]
}

async fn every_accounts_method_authenticates_its_caller(app: TestApp) {
    let mut client = AccountsClient::new(app.identity_channel().await);
    let mut called: Vec<String> = accounts_methods(&mut client, &As::Nobody)
        .await
        .iter()
        .map(|(m, _)| (*m).to_owned())
        .collect();
    called.sort_unstable();
    assert_eq!(
        called,
        declared_methods("Accounts"),
        "every method is covered"
    );

    let (jwt, refused) = real_and_refused(&app).await;
    for (who, context) in refused {
        assert_all(
            &accounts_methods(&mut client, &who).await,
            Code::Unauthenticated,
            context,
        );
    }
    // The real token passes authentication: its user belongs to no organization, so the account
    // rules refuse every call (an account it may not see is not found, AC-8).
    for (method, code) in accounts_methods(&mut client, &As::Bearer(jwt)).await {
        assert!(
            matches!(code, Code::PermissionDenied | Code::NotFound),
            "{method} with a real token of a user without an account: {code:?}"
        );
    }
}

dual!(every_accounts_method_authenticates_its_caller);
