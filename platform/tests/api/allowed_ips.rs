//! Allowed IPs enforced on every face (docs/accounts.md, "Allowed IPs"): a member of an account
//! with `require_ip_api_access` on, calling from outside its list, is answered 403 in the face's
//! shape on the Lightdash face (identity-, projects- and connections-svc routes alike, with a
//! personal access token, a session or an access JWT), the seed 003 and seed 004 faces, the
//! Luzmo face (`/0.1.0/account`, `{"message"}`) and the Sumvin face (`/v0`, a `CON-403-001`
//! problem); the client address is the peer, or the trusted proxy's `X-Forwarded-For` entry; a
//! change holds on the next request (AC-6).

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{
    Auth, Backend, Reply, TestApp, TestUser, dual, dual_backend, execute, spawn_app_with,
};
use crate::luzmo::{self, Key};
use crate::organizations::{admin_of_new_org, invite_and_join};
use crate::sumvin;
use crate::swift::{detail, ulid_of};

dual_backend!(every_face_refuses_an_address_outside_the_list);
dual!(without_a_trusted_proxy_the_peer_decides);

const REFUSED: &str = "Your address is not allowed for this account";
const INSIDE: &str = "198.51.100.7";
const OUTSIDE: &str = "203.0.113.5";

/// A request with `X-Forwarded-For: forwarded` (None: without the header).
async fn from(
    app: &TestApp,
    forwarded: Option<&str>,
    method: Method,
    path: &str,
    auth: &Auth,
    body: Option<Value>,
) -> Reply {
    let mut req = app
        .http
        .request(method.clone(), format!("{}{path}", app.base));
    req = auth.apply(req);
    if let Some(f) = forwarded {
        req = req.header("x-forwarded-for", f);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    app.finish(method, path, req).await
}

fn allowed_ip(cidr: &str) -> Value {
    json!({"data": {"cidr": cidr, "description": ""}, "type": "allowed_ip"})
}

fn require_ip(on: bool) -> Value {
    json!({"data": {"require_ip_api_access": on}, "type": "account"})
}

/// The Lightdash routes a member calls, one per service behind the gateway.
const LIGHTDASH_ROUTES: [&str; 3] = [
    "/api/v1/user",
    "/api/v1/org/projects",
    "/api/v1/connections",
];

/// A member's credentials: for the Lightdash, seed 003 and seed 004 faces (`auths`), the Luzmo
/// face (`key`: their personal access token's uuid and secret) and the Sumvin face (the same
/// token as `x-sumvin-pat`, `jwt` as `x-juno-jwt`).
struct Member {
    auths: Vec<Auth>,
    key: Key,
    jwt: String,
}

impl Member {
    /// Every credential of `user`: a new personal access token and an access JWT of it.
    async fn of(app: &TestApp, user: &TestUser) -> Self {
        let key = Key::of(app, user).await;
        let jwt = app.access_token(&key.token).await;
        let auths = vec![
            Auth::ApiKey(key.token.clone()),
            Auth::Bearer(key.token.clone()),
            Auth::Cookie(user.cookie.clone()),
            Auth::Bearer(jwt.clone()),
        ];
        Self { auths, key, jwt }
    }
}

/// A Luzmo call from `forwarded` with `key` (the body's `key` and `token`).
async fn luzmo_call(
    app: &TestApp,
    forwarded: &str,
    key: &Key,
    method: &str,
    mut body: Value,
) -> Reply {
    body["key"] = json!(key.key);
    body["token"] = json!(key.token);
    let method = Method::from_bytes(method.as_bytes()).unwrap();
    let req = app
        .http
        .request(method.clone(), format!("{}/0.1.0/account", app.base))
        .header("x-forwarded-for", forwarded)
        .json(&body);
    app.finish(method, "/0.1.0/account", req).await
}

/// Asserts that `member`'s calls on the Luzmo and Sumvin faces from `forwarded` are answered
/// (`ok`) or refused, each in its face's shape, whatever the action, route or credential.
async fn assert_connection_faces(app: &TestApp, forwarded: &str, member: &Member, ok: bool) {
    // get (SEARCH, as Luzmo's Node client sends it) answers 200; an update of an account that
    // does not exist 404: the refusal comes before the action.
    let missing = "00000000-0000-4000-8000-000000000000";
    for (method, body, allowed) in [
        ("SEARCH", json!({"action": "get", "find": {}}), 200),
        ("POST", json!({"action": "get"}), 200),
        (
            "PATCH",
            json!({"action": "update", "id": missing, "properties": {"cache": 1}}),
            404,
        ),
    ] {
        let r = luzmo_call(app, forwarded, &member.key, method, body).await;
        if ok {
            assert_eq!(
                r.status, allowed,
                "Luzmo {method} from {forwarded}: {}",
                r.body
            );
        } else {
            assert_eq!(
                luzmo::refused(&r, 403),
                None,
                "Luzmo {method} from {forwarded}"
            );
            assert_eq!(
                r.body["message"], REFUSED,
                "Luzmo {method} from {forwarded}"
            );
        }
    }
    let creds = [
        ("x-sumvin-pat", member.key.token.clone()),
        ("x-juno-jwt", member.jwt.clone()),
    ];
    for (header, value) in creds {
        for (method, path, allowed) in [
            (Method::GET, "/v0/connectors/", 200),
            (Method::GET, "/v0/connectors/1", 200),
            (Method::GET, "/v0/user/connectors/", 200),
            (
                Method::DELETE,
                &format!("/v0/user/connectors/{missing}"),
                404,
            ),
        ] {
            let req = app
                .http
                .request(method.clone(), format!("{}{path}", app.base))
                .header(header, &value)
                .header("x-forwarded-for", forwarded);
            let r = app.finish(method.clone(), path, req).await;
            if ok {
                assert_eq!(
                    r.status, allowed,
                    "Sumvin {method} {path} ({header}) from {forwarded}: {}",
                    r.body
                );
            } else {
                let d = sumvin::problem(&r, 403, "CON-403-001");
                assert_eq!(
                    d, REFUSED,
                    "Sumvin {method} {path} ({header}) from {forwarded}"
                );
            }
        }
    }
}

/// Asserts that `member`'s calls from `forwarded` are all answered (`ok`) or all refused, in
/// each face's shape.
async fn assert_calls(app: &TestApp, forwarded: &str, member: &Member, account: &str, ok: bool) {
    assert_connection_faces(app, forwarded, member, ok).await;
    for auth in &member.auths {
        for route in LIGHTDASH_ROUTES {
            let r = from(app, Some(forwarded), Method::GET, route, auth, None).await;
            if ok {
                assert_eq!(r.status, 200, "{route} from {forwarded}: {}", r.body);
            } else {
                let e = r.expect_error(403);
                assert_eq!(e["message"], REFUSED, "{route} from {forwarded}");
            }
        }
        let r = from(app, Some(forwarded), Method::GET, account, auth, None).await;
        if ok {
            assert_eq!(r.status, 200, "{account} from {forwarded}: {}", r.body);
        } else {
            assert_eq!(detail(&r, 403), REFUSED);
        }
        // The seed 004 face takes tokens only, with or without `Bearer`.
        let token = match auth {
            Auth::ApiKey(t) => t.clone(),
            Auth::Bearer(t) => format!("Bearer {t}"),
            _ => continue,
        };
        let req = app
            .http
            .post(format!("{}/account/get", app.base))
            .header("authorization", token)
            .header("x-forwarded-for", forwarded)
            .json(&json!({}));
        let r = app.finish(Method::POST, "/account/get", req).await;
        if ok {
            assert_eq!(r.status, 200, "/account/get from {forwarded}: {}", r.body);
        } else {
            assert_eq!(crate::ioto::refused(&r, 403), REFUSED);
        }
    }
}

async fn every_face_refuses_an_address_outside_the_list(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |c| c.gateway.trust_forwarded_for = true).await else {
        return;
    };
    let (admin, org) = admin_of_new_org(&app, "Acme").await;
    let member = invite_and_join(&app, &admin, "editor").await;
    let (_, admin_pat) = app.create_pat(&admin, json!({"description": "ops"})).await;
    let admin_auth = Auth::Bearer(admin_pat);
    let creds = Member::of(&app, &member).await;
    let account = format!("/api/v1/accounts/{}", ulid_of(&org));
    let ips = format!("{account}/allowed_ips");
    let admin_call = |forwarded: &'static str, method: Method, path: String, body| {
        let (app, auth) = (&app, &admin_auth);
        async move { from(app, Some(forwarded), method, &path, auth, body).await }
    };

    let r = admin_call(
        INSIDE,
        Method::POST,
        ips.clone(),
        Some(allowed_ip("198.51.100.0/24")),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let covering = r.body["data"]["id"].as_str().unwrap().to_owned();
    // Turning it on from outside the list is refused, from inside it is not.
    let r = admin_call(
        OUTSIDE,
        Method::PATCH,
        account.clone(),
        Some(require_ip(true)),
    )
    .await;
    assert!(detail(&r, 400).contains(OUTSIDE));
    assert_calls(&app, OUTSIDE, &creds, &account, true).await;
    let r = admin_call(
        INSIDE,
        Method::PATCH,
        account.clone(),
        Some(require_ip(true)),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);

    // Every face, every credential: refused from outside, answered from inside.
    assert_calls(&app, OUTSIDE, &creds, &account, false).await;
    assert_calls(&app, INSIDE, &creds, &account, true).await;
    assert_calls(&app, &format!("::ffff:{INSIDE}"), &creds, &account, true).await;
    // The trusted proxy's entry, the last, decides; what the client wrote before it does not.
    assert_calls(
        &app,
        &format!("{INSIDE}, {OUTSIDE}"),
        &creds,
        &account,
        false,
    )
    .await;
    assert_calls(
        &app,
        &format!("{OUTSIDE}, {INSIDE}"),
        &creds,
        &account,
        true,
    )
    .await;
    // The admin is a member too.
    let r = admin_call(OUTSIDE, Method::GET, ips.clone(), None).await;
    assert_eq!(detail(&r, 403), REFUSED);

    // No self-lockout: the entry covering the admin's address cannot go while the flag is on.
    let r = admin_call(INSIDE, Method::DELETE, format!("{ips}/{covering}"), None).await;
    assert!(detail(&r, 400).contains(INSIDE), "{}", r.body);

    // Each change holds on the next request.
    let r = admin_call(
        INSIDE,
        Method::POST,
        ips.clone(),
        Some(allowed_ip("203.0.113.0/24")),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let added = r.body["data"]["id"].as_str().unwrap().to_owned();
    assert_calls(&app, OUTSIDE, &creds, &account, true).await;
    let r = admin_call(INSIDE, Method::DELETE, format!("{ips}/{added}"), None).await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_calls(&app, OUTSIDE, &creds, &account, false).await;
    let r = admin_call(
        INSIDE,
        Method::PATCH,
        account.clone(),
        Some(require_ip(false)),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_calls(&app, OUTSIDE, &creds, &account, true).await;
    // Off, the covering entry may go.
    let r = admin_call(INSIDE, Method::DELETE, format!("{ips}/{covering}"), None).await;
    assert_eq!(r.status, 204, "{}", r.text);
}

/// Without `TRUST_FORWARDED_FOR`, `X-Forwarded-For` is ignored: the peer (127.0.0.1) decides.
async fn without_a_trusted_proxy_the_peer_decides(app: TestApp) {
    let (admin, org) = admin_of_new_org(&app, "Acme").await;
    let (_, pat) = app.create_pat(&admin, json!({"description": "ops"})).await;
    let auth = Auth::Bearer(pat);
    let creds = Member::of(&app, &admin).await;
    let account = format!("/api/v1/accounts/{}", ulid_of(&org));
    let ips = format!("{account}/allowed_ips");
    let r = from(
        &app,
        Some(INSIDE),
        Method::POST,
        &ips,
        &auth,
        Some(allowed_ip("198.51.100.0/24")),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    // The header names an allowed address, but the peer is not in the list.
    let r = from(
        &app,
        Some(INSIDE),
        Method::PATCH,
        &account,
        &auth,
        Some(require_ip(true)),
    )
    .await;
    assert!(detail(&r, 400).contains("127.0.0.1"), "{}", r.body);
    let r = from(
        &app,
        None,
        Method::POST,
        &ips,
        &auth,
        Some(allowed_ip("127.0.0.1")),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = from(
        &app,
        Some(OUTSIDE),
        Method::PATCH,
        &account,
        &auth,
        Some(require_ip(true)),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // A header naming an address outside the list changes nothing either.
    for route in LIGHTDASH_ROUTES {
        let r = from(&app, Some(OUTSIDE), Method::GET, route, &auth, None).await;
        assert_eq!(r.status, 200, "{route}: {}", r.body);
    }
    assert_connection_faces(&app, OUTSIDE, &creds, true).await;
    // The list without the peer (as another writer left it): refused, whatever the header says.
    let n = execute(
        &app.identity_db,
        "DELETE FROM account_allowed_ips WHERE organization_uuid = $1 AND cidr = '127.0.0.1/32'",
        &[&org],
    )
    .await;
    assert_eq!(n, 1);
    for route in LIGHTDASH_ROUTES {
        let r = from(&app, Some(INSIDE), Method::GET, route, &auth, None).await;
        assert_eq!(r.expect_error(403)["message"], REFUSED, "{route}");
    }
    let r = from(&app, Some(INSIDE), Method::GET, &account, &auth, None).await;
    assert_eq!(detail(&r, 403), REFUSED);
    assert_connection_faces(&app, INSIDE, &creds, false).await;
}
