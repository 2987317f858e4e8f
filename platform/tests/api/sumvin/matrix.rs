//! Who reaches what: every route refuses a request without the face's credential (a cookie
//! or an `Authorization` header alone, a bad, revoked, expired or forged token, two credentials
//! at once) with 401; a user connector is its owner's alone, whoever else asks (another
//! organization, another member, an admin of the same organization), answering 404 exactly
//! as a connector that does not exist (AC-1, AC-2, AC-8), and a refused change changes nothing.

use reqwest::Method;
use serde_json::{Value, json};

use super::{Creds, call, create, jwt, listed, ok, pat, pat_of, problem, read, set_active};
use crate::{
    helpers::{TestApp, dual, execute},
    organizations::{admin_of_new_org, invite_and_join},
};

/// Every route of the face that needs a caller, with a body where it takes one.
fn routes(id: &str) -> Vec<(Method, String, Option<Value>)> {
    let one = format!("/v0/user/connectors/{id}");
    let create = json!({"connector_id": 1, "auth_data": {"user": "u", "password": "p"}});
    vec![
        (Method::GET, "/v0/connectors/".into(), None),
        (Method::GET, "/v0/connectors/1".into(), None),
        (Method::GET, "/v0/user/connectors/".into(), None),
        (Method::POST, "/v0/user/connectors/".into(), Some(create)),
        (Method::GET, one.clone(), None),
        (
            Method::PATCH,
            one.clone(),
            Some(json!({"is_active": false})),
        ),
        (Method::DELETE, one, None),
    ]
}

async fn every_route_refuses_without_the_face_credential(app: TestApp) {
    let (admin, _) = admin_of_new_org(&app, "Auth").await;
    let (pat_uuid, token) = app.create_pat(&admin, json!({"description": "s"})).await;
    let access = app.access_token(&token).await;
    let id = create(&app, &pat(&token), "p").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (revoked_uuid, revoked) = app.create_pat(&admin, json!({"description": "r"})).await;
    app.delete_pat(&admin, &revoked_uuid).await;
    let (head, sig) = access.rsplit_once('.').unwrap();
    let mut sig: Vec<char> = sig.chars().collect();
    sig[10] = if sig[10] == 'A' { 'B' } else { 'A' };
    let forged = format!("{head}.{}", sig.into_iter().collect::<String>());
    let refused: Vec<(&str, Creds)> = vec![
        ("nothing", vec![]),
        ("a bad personal access token", pat("ldpat_0123456789abcdef")),
        ("a revoked personal access token", pat(&revoked)),
        ("a forged access token", jwt(&forged)),
        ("a personal access token as the JWT", jwt(&token)),
        ("the JWT as a personal access token", pat(&access)),
        (
            "a cookie alone",
            vec![("cookie", format!("connect.sid={}", admin.cookie))],
        ),
        (
            "Authorization: Bearer PAT alone",
            vec![("authorization", format!("Bearer {token}"))],
        ),
        (
            "Authorization: Bearer JWT alone",
            vec![("authorization", format!("Bearer {access}"))],
        ),
        (
            "Authorization: ApiKey alone",
            vec![("authorization", format!("ApiKey {token}"))],
        ),
        (
            "both credentials",
            vec![
                ("x-sumvin-pat", token.clone()),
                ("x-juno-jwt", access.clone()),
            ],
        ),
        ("x-sumvin-token", vec![("x-sumvin-token", token.clone())]),
    ];
    for (who, creds) in &refused {
        for (method, path, body) in routes(&id) {
            let r = call(&app, method.clone(), &path, creds, body).await;
            assert_eq!(r.status, 401, "{method} {path} with {who}: {}", r.body);
            problem(&r, 401, "CON-401-001");
        }
    }
    // Nothing changed, and both credentials still pass.
    for creds in [pat(&token), jwt(&access)] {
        let r = read(&app, &creds, &id).await;
        assert_eq!(ok(&r, 200)["user_connector"]["is_active"], true);
    }
    // Revoking the token refuses it from the next request on.
    app.delete_pat(&admin, &pat_uuid).await;
    let r = call(
        &app,
        Method::GET,
        "/v0/user/connectors/",
        &pat(&token),
        None,
    )
    .await;
    problem(&r, 401, "CON-401-001");
}

async fn a_user_connector_is_its_owners_alone(app: TestApp) {
    let (admin, _) = admin_of_new_org(&app, "Owner's").await;
    let owner = invite_and_join(&app, &admin, "developer").await;
    let member = invite_and_join(&app, &admin, "member").await;
    let (outsider, _) = admin_of_new_org(&app, "Elsewhere").await;
    let owner_creds = pat(&pat_of(&app, &owner).await);
    let uc = create(&app, &owner_creds, "p").await;
    let id = uc["id"].as_str().unwrap().to_owned();
    // A shared connection the owner made on the REST face, which an organization admin may
    // change there, is theirs here too, and not the admin's.
    let r = app
        .post(
            "/api/v1/connections",
            &crate::organizations::cookie(&owner),
            json!({"provider": "mysql", "name": "Shared"}),
        )
        .await;
    let shared = r.results()["connectionUuid"].as_str().unwrap().to_owned();

    let mut others: Vec<(&str, Creds)> = Vec::new();
    for (who, user) in [
        ("an admin of the organization", &admin),
        ("a member of the organization", &member),
        ("an admin of another organization", &outsider),
    ] {
        let token = pat_of(&app, user).await;
        others.push((who, pat(&token)));
        others.push((who, jwt(&app.access_token(&token).await)));
    }
    let unknown = uuid::Uuid::now_v7().to_string();
    for (who, creds) in &others {
        assert!(
            listed(&app, creds).await.is_empty(),
            "{who} lists another's"
        );
        for target in [&id, &shared, &unknown] {
            for (method, path, body) in routes(target).into_iter().skip(4) {
                let r = call(&app, method.clone(), &path, creds, body).await;
                problem(&r, 404, "CON-404-001");
                assert!(!r.text.contains("mysql"), "{who}: {}", r.text);
            }
        }
    }
    // Nothing changed: both are the owner's, active.
    let mut ids = listed(&app, &owner_creds).await;
    ids.sort();
    let mut want = vec![id.clone(), shared.clone()];
    want.sort();
    assert_eq!(ids, want);
    let r = read(&app, &owner_creds, &id).await;
    assert_eq!(ok(&r, 200)["user_connector"], uc);
    // The owner changes and deletes both.
    for target in [&id, &shared] {
        let path = format!("/v0/user/connectors/{target}");
        set_active(&app, &owner_creds, &path, false).await;
        let r = call(&app, Method::DELETE, &path, &owner_creds, None).await;
        ok(&r, 200);
    }
    assert!(listed(&app, &owner_creds).await.is_empty());
}

/// An expired personal access token is refused on every route (a `CON-401-001` problem) from
/// the first call after its expiry, though the gateway has just exchanged it: one made to
/// expire in two seconds, and one whose expiry another writer moved into the past.
async fn an_expired_token_is_refused(app: TestApp) {
    let (admin, _) = admin_of_new_org(&app, "Expiry").await;
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
    let (_, short) = app
        .create_pat(&admin, json!({"description": "short", "expiresAt": soon}))
        .await;
    let (moved_uuid, moved) = app.create_pat(&admin, json!({"description": "m"})).await;
    let id = create(&app, &pat(&short), "p").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(listed(&app, &pat(&moved)).await, std::slice::from_ref(&id));
    let sql = "UPDATE personal_access_tokens SET expires_at = created_at WHERE pat_uuid = $1";
    assert_eq!(execute(&app.identity_db, sql, &[&moved_uuid]).await, 1);
    let r = call(
        &app,
        Method::GET,
        "/v0/user/connectors/",
        &pat(&moved),
        None,
    )
    .await;
    problem(&r, 401, "CON-401-001");
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    for (method, path, body) in routes(&id) {
        let r = call(&app, method.clone(), &path, &pat(&short), body).await;
        assert_eq!(r.status, 401, "{method} {path}: {}", r.body);
        problem(&r, 401, "CON-401-001");
    }
    // Nothing changed.
    let live = pat(&pat_of(&app, &admin).await);
    let r = read(&app, &live, &id).await;
    assert_eq!(ok(&r, 200)["user_connector"]["is_active"], true);
    assert_eq!(listed(&app, &live).await, [id]);
}

dual!(
    every_route_refuses_without_the_face_credential,
    a_user_connector_is_its_owners_alone,
    an_expired_token_is_refused
);
