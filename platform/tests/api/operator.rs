//! The operator (docs/accounts.md): `platform owner-token create`, the real binary, run against
//! a running platform's database, prints a token that lists every account through the seed 003
//! face and is refused by the Lightdash API (it is no user).

use proto::identity::v1::{self as pb, accounts_client::AccountsClient};

use serde_json::json;

use crate::helpers::{Auth, TestApp, dual};
use crate::organizations::admin_of_new_org;
use crate::swift::ulid_of;

/// Runs `platform owner-token <args>` on the app's database; its standard output.
pub(crate) fn owner_token(app: &TestApp, args: &[&str]) -> String {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_platform"));
    command
        .env_clear()
        .env("DATA_DIR", &app.data_dir)
        .arg("owner-token")
        .args(args);
    if let Some((url, prefix)) = &app.database {
        command
            .env("DATABASE_URL", url)
            .env("SCHEMA_PREFIX", prefix);
    }
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "owner-token {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

async fn the_owner_token_command_makes_an_operator(app: TestApp) {
    let (_, a) = admin_of_new_org(&app, "Operator A").await;
    let (_, b) = admin_of_new_org(&app, "Operator B").await;
    let out = owner_token(&app, &["create", "--name", "e2e operator"]);
    let token = out.lines().last().unwrap().to_owned();
    assert!(token.starts_with("ldop_") && token.len() == 5 + 32, "{out}");
    let operator = Auth::Bearer(token.clone());

    let listed = app.get("/api/v1/accounts", &operator).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(
        listed.body["data"]["page_info"]["total"], 2,
        "{}",
        listed.body
    );
    let ids: Vec<String> = listed.body["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["data"]["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        ids.contains(&ulid_of(&a)) && ids.contains(&ulid_of(&b)),
        "{ids:?}"
    );

    // It is no user: identity, projects-svc and connections-svc refuse it outside accounts.
    for path in [
        "/api/v1/user",
        "/api/v1/org",
        "/api/v1/org/projects",
        "/api/v1/connections",
    ] {
        let r = app.get(path, &operator).await;
        assert_eq!(r.status, 403, "{path}: {}", r.body);
    }

    // The operator closes account B (gRPC: the seed 004 face's /account/close comes later).
    // identity answers the operator a closed account's tombstone; this face has no way to say
    // "closed", so the account is not found, as for anyone.
    let exchanged = app.post("/api/v1/auth/token", &operator, json!({})).await;
    let jwt = exchanged.results()["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut close = tonic::Request::new(pb::CloseAccountRequest {
        organization_uuid: b.clone(),
    });
    let bearer = format!("Bearer {jwt}").parse().unwrap();
    close.metadata_mut().insert("authorization", bearer);
    AccountsClient::new(app.identity_channel().await)
        .close_account(close)
        .await
        .expect("the operator closes an account");
    let gone = app
        .get(&format!("/api/v1/accounts/{}", ulid_of(&b)), &operator)
        .await;
    assert_eq!(gone.status, 404, "{}", gone.body);
    assert_eq!(gone.body["errors"]["detail"], "account not found");

    let list = owner_token(&app, &["list"]);
    assert!(
        list.contains("e2e operator") && !list.contains(&token),
        "{list}"
    );
    let id = list
        .lines()
        .find(|l| l.contains("e2e operator"))
        .and_then(|l| l.split('\t').next())
        .unwrap()
        .to_owned();
    owner_token(&app, &["revoke", &id]);
    let after = app.get("/api/v1/accounts", &Auth::Bearer(token)).await;
    assert_eq!(after.status, 401, "{}", after.body);
}

dual!(the_owner_token_command_makes_an_operator);
