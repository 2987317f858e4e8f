//! The operator (docs/accounts.md): a token made with `owner-token create` (the command line's
//! function, on the service's database) has the owner role over every account and nothing
//! else, stops on the next call once revoked, and every use is logged without the secret.

use identity_svc::operator::OwnerToken;
use proto::identity::v1::{self as pb, identity_service_client::IdentityServiceClient};
use tonic::Code;

use crate::harness::{TestService, assert_status, code, dual, log_text};

dual!(
    an_operator_owns_every_account,
    an_operator_is_no_user,
    a_revoked_operator_token_stops_on_the_next_call,
    the_binary_creates_lists_and_revokes_operator_tokens,
);

/// The uuid of the token named `name`, from `owner-token list`.
async fn token_uuid(svc: &TestService, name: &str) -> String {
    let list = svc.owner_token(OwnerToken::List).await;
    let line = list
        .lines()
        .find(|l| l.split('\t').nth(1) == Some(name))
        .unwrap_or_else(|| panic!("{name} not in {list}"));
    line.split('\t').next().unwrap().to_owned()
}

async fn an_operator_owns_every_account(svc: TestService) {
    let (admin_a, a) = svc.admin("Operator A").await;
    let (_, b) = svc.admin("Operator B").await;
    let sub = admin_a.create("Below A", Some(&a)).await.unwrap();
    let name = format!("canary-{}", uuid::Uuid::new_v4().simple());
    let (secret, op) = svc.operator(&name).await;

    // Every account, top-level ones and everything below.
    let all = op.list(0, None, None).await.unwrap();
    let mut ids: Vec<_> = all
        .accounts
        .iter()
        .map(|x| x.organization_uuid.clone())
        .collect();
    ids.sort();
    let mut want = vec![a.clone(), b.clone(), sub.organization_uuid.clone()];
    want.sort();
    assert_eq!((ids, all.total), (want, 3));
    assert_eq!(
        op.get(&sub.organization_uuid).await.unwrap().name,
        "Below A"
    );

    // The owner's changes on any account.
    let renamed = op
        .update(pb::UpdateAccountRequest {
            organization_uuid: b.clone(),
            name: Some("Renamed by the operator".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(renamed.name, "Renamed by the operator");
    let ip = op.add_ip(&b, "203.0.113.0/24", "office").await.unwrap();
    assert_eq!(op.ips(&b).await.unwrap().len(), 1);
    op.delete_ip(&b, &ip.allowed_ip_uuid).await.unwrap();
    let email = format!("op-{}@accounts.test", uuid::Uuid::new_v4().simple());
    let invite = op
        .invite(&sub.organization_uuid, &email, None)
        .await
        .unwrap();
    assert_eq!(invite.organization_uuid, sub.organization_uuid);
    let under_b = op.create("Made by the operator", Some(&b)).await.unwrap();
    assert_eq!(under_b.parent_uuid.as_deref(), Some(b.as_str()));
    assert_status(
        op.create("No parent", None).await,
        Code::InvalidArgument,
        "no account of its own",
    );

    // A closed account: its tombstone, to the operator alone.
    let closed = op.close(&sub.organization_uuid).await.unwrap();
    assert_eq!(
        closed.organization_uuids,
        vec![sub.organization_uuid.clone()]
    );
    let tombstone = op.get(&sub.organization_uuid).await.unwrap();
    assert_eq!(
        tombstone,
        pb::Account {
            organization_uuid: sub.organization_uuid.clone(),
            closed: true,
            ..Default::default()
        }
    );
    assert_eq!(
        code(&admin_a.get(&sub.organization_uuid).await),
        Code::NotFound
    );
    assert_eq!(
        code(&op.get(&uuid::Uuid::now_v7().to_string()).await),
        Code::NotFound
    );
    assert_eq!(code(&op.get("not-a-uuid").await), Code::NotFound);

    // Every use is logged naming the token and the action, never the secret.
    let id = token_uuid(&svc, &name).await;
    let logs = log_text();
    for action in [
        "ListAccounts",
        "UpdateAccount",
        "CloseAccount",
        "Authenticate",
    ] {
        assert!(
            logs.lines()
                .any(|l| l.contains(&format!("\"operator_token_uuid\":\"{id}\""))
                    && l.contains(&format!("\"action\":\"{action}\""))),
            "no log line of {action} by {id}"
        );
    }
    assert!(!logs.contains(&secret), "the secret reached the logs");
}

async fn an_operator_is_no_user(svc: TestService) {
    let (_, _) = svc.admin("Somebody's").await;
    let (_, op) = svc.operator("not a user").await;
    let mut identity = IdentityServiceClient::new(op.channel());
    let codes = [
        code(
            &identity
                .get_current_user(op.req(pb::GetCurrentUserRequest {}))
                .await,
        ),
        code(
            &identity
                .get_my_organization(op.req(pb::GetMyOrganizationRequest {}))
                .await,
        ),
        code(
            &identity
                .list_personal_access_tokens(op.req(pb::ListPersonalAccessTokensRequest {}))
                .await,
        ),
        code(
            &identity
                .get_access_contexts(op.req(pb::GetAccessContextsRequest::default()))
                .await,
        ),
        code(
            &identity
                .create_organization(op.req(pb::CreateOrganizationRequest {
                    name: "Mine".into(),
                }))
                .await,
        ),
    ];
    assert_eq!(codes, [Code::PermissionDenied; 5]);
}

async fn a_revoked_operator_token_stops_on_the_next_call(svc: TestService) {
    let (secret, op) = svc.operator("to revoke").await;
    op.list(0, None, None).await.unwrap();
    let id = token_uuid(&svc, "to revoke").await;
    let listed = svc.owner_token(OwnerToken::List).await;
    assert!(!listed.contains(&secret), "list shows no secret");
    let row: Vec<&str> = listed
        .lines()
        .find(|l| l.starts_with(&id))
        .unwrap()
        .split('\t')
        .collect();
    assert_eq!(row[4], "-", "not revoked yet: {row:?}");
    assert_ne!(row[3], "-", "used: {row:?}");

    let out = svc
        .owner_token(OwnerToken::Revoke { uuid: id.clone() })
        .await;
    assert!(out.contains("revoked"), "{out}");
    assert_status(
        op.list(0, None, None).await,
        Code::Unauthenticated,
        "revoked",
    );
    assert_eq!(
        code(&svc.exchange_operator(&secret).await),
        Code::Unauthenticated
    );
    let listed = svc.owner_token(OwnerToken::List).await;
    let row: Vec<&str> = listed
        .lines()
        .find(|l| l.starts_with(&id))
        .unwrap()
        .split('\t')
        .collect();
    assert_ne!(row[4], "-", "revoked: {row:?}");
}

/// `identity-svc owner-token`, the deployment's own binary (issue #16 item 3), on the running
/// service's database: `create` prints the token alone on its last line, `list` names it without
/// its secret, `revoke` ends it on the next exchange.
async fn the_binary_creates_lists_and_revokes_operator_tokens(svc: TestService) {
    use secrecy::ExposeSecret;
    let run = |args: &[&str]| -> String {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_identity-svc"));
        command
            .env_clear()
            .arg("owner-token")
            .args(args)
            .env("IDENTITY_DATABASE_SCHEMA", &svc.db_config.schema)
            .env(
                "DATA_DIR",
                svc.db_config
                    .sqlite_file
                    .parent()
                    .expect("a data directory"),
            );
        if let Some(url) = &svc.db_config.url {
            command.env("IDENTITY_DATABASE_URL", url.expose_secret());
        }
        let out = command.output().unwrap();
        assert!(
            out.status.success(),
            "owner-token {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let name = format!("binary-{}", uuid::Uuid::new_v4().simple());
    let created = run(&["create", "--name", &name]);
    let secret = created.lines().last().unwrap().to_owned();
    assert!(secret.starts_with("ldop_"), "{created}");
    svc.exchange_operator(&secret)
        .await
        .expect("the new token is exchanged");

    let listed = run(&["list"]);
    assert!(!listed.contains(&secret), "list never shows a secret");
    let line = listed
        .lines()
        .find(|l| l.split('\t').nth(1) == Some(name.as_str()))
        .unwrap_or_else(|| panic!("{name} not in {listed}"));
    let uuid = line.split('\t').next().unwrap().to_owned();

    run(&["revoke", &uuid]);
    let refused = svc.exchange_operator(&secret).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");
}
