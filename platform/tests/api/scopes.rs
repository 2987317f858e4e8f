//! Token scopes (issue #18 item 6; AU-9, AC-3, API5): personal access tokens carry `read`,
//! `write` or `admin`, chosen at creation (none chosen: `admin`); every gRPC method of every
//! service needs one; the account-level actions need `admin`, and from a session a recent login.

use std::time::Duration;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Auth, TestApp, TestUser, dual, dual_backend, spawn_app_with};
use crate::organizations::{admin_of_new_org, cookie, invite_and_join};

const TOKENS: &str = "/api/v1/user/me/personal-access-tokens";

/// Creates a token of `user` with `scopes` (None: no list); returns its secret.
async fn token(app: &TestApp, user: &TestUser, scopes: Option<Value>) -> String {
    let mut body = json!({"description": "scoped"});
    if let Some(s) = scopes {
        body["scopes"] = s;
    }
    app.create_pat(user, body).await.1
}

fn email() -> String {
    format!("invitee-{}@example.com", uuid::Uuid::new_v4().simple())
}

/// The claims of an access JWT (already verified by the platform; read here to show them).
fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// Whether `reply` is a refusal for the token's scopes or an old login (403, Lightdash's error
/// shape), not one of the caller's role.
fn refused(r: &crate::helpers::Reply) -> bool {
    r.status == 403
        && r.body["status"] == "error"
        && r.body["error"]["statusCode"] == 403
        && r.body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("token's scopes") || m.contains("recent login"))
}

/// AU-9, AC-3, API5: a read token reads and is refused every change; a write token changes and
/// is refused the admin actions; an admin token, and one created without scopes (today's
/// clients), does everything. Routes of all three services.
async fn au_9_scope_matrix_over_the_routes(app: TestApp) {
    let (admin, org) = admin_of_new_org(&app, "Scoped").await;
    let editor = invite_and_join(&app, &admin, "editor").await;
    let levels = [
        ("read", Some(json!(["read"]))),
        ("write", Some(json!(["write"]))),
        ("admin", Some(json!(["admin"]))),
        ("none", None),
    ];
    for (level, scopes) in levels {
        let auth = Auth::ApiKey(token(&app, &admin, scopes).await);
        let may_write = level != "read";
        let may_admin = level == "admin" || level == "none";
        for path in [
            "/api/v1/user",
            "/api/v1/org",
            "/api/v1/org/users",
            "/api/v1/org/groups",
            "/api/v1/org/projects",
            "/api/v1/connections",
            TOKENS,
        ] {
            let r = app.get(path, &auth).await;
            assert_eq!(r.status, 200, "{level} GET {path}: {}", r.body);
        }
        let missing = uuid::Uuid::now_v7();
        let writes: Vec<(Method, String, Option<Value>)> = vec![
            (
                Method::POST,
                "/api/v1/org/groups".into(),
                Some(json!({"name": format!("g-{level}")})),
            ),
            (
                Method::PATCH,
                "/api/v1/org".into(),
                Some(json!({"name": format!("Scoped {level}")})),
            ),
            (
                Method::POST,
                "/api/v1/org/projects".into(),
                Some(json!({"name": format!("p-{level}")})),
            ),
            (
                Method::POST,
                "/api/v1/invite-links".into(),
                Some(json!({"email": email(), "role": "editor"})),
            ),
            // Reaches projects-svc and connections-svc: refused there, or not found.
            (
                Method::DELETE,
                format!("/api/v1/org/projects/{missing}"),
                None,
            ),
            (
                Method::DELETE,
                format!("/api/v1/connections/{missing}"),
                None,
            ),
        ];
        for (method, path, body) in writes {
            let r = app.send(method.clone(), &path, &auth, body).await;
            if may_write {
                assert!(!refused(&r), "{level} {method} {path}: {}", r.body);
                assert!(
                    r.status.as_u16() < 500,
                    "{level} {method} {path}: {}",
                    r.body
                );
            } else {
                assert!(refused(&r), "{level} {method} {path}: {}", r.body);
                assert!(
                    r.body["error"]["message"]
                        .as_str()
                        .unwrap()
                        .contains("write"),
                    "{}",
                    r.body
                );
            }
        }
        // Admin actions: an admin invitation and a promotion to admin.
        let r = app
            .post(
                "/api/v1/invite-links",
                &auth,
                json!({"email": email(), "role": "admin"}),
            )
            .await;
        assert_eq!(
            refused(&r),
            !may_admin,
            "{level} admin invitation: {}",
            r.body
        );
        let member = format!("/api/v1/org/users/{}", editor.user_uuid);
        let r = app
            .send(
                Method::PATCH,
                &member,
                &auth,
                Some(json!({"role": "admin"})),
            )
            .await;
        assert_eq!(refused(&r), !may_admin, "{level} promotion: {}", r.body);
        if may_admin {
            r.results();
            app.send(
                Method::PATCH,
                &member,
                &auth,
                Some(json!({"role": "editor"})),
            )
            .await
            .results();
        }
        if !may_admin {
            let r = app
                .send(Method::DELETE, &format!("/api/v1/org/{org}"), &auth, None)
                .await;
            assert!(refused(&r), "{level} deletes the organization: {}", r.body);
            assert!(
                r.body["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("admin"),
                "{}",
                r.body
            );
            let r = app
                .send(Method::DELETE, "/api/v1/user/me", &auth, None)
                .await;
            assert!(refused(&r), "{level} deletes the user: {}", r.body);
        }
    }
    // An admin token deletes the organization.
    let auth = Auth::ApiKey(token(&app, &admin, Some(json!(["admin"]))).await);
    app.send(Method::DELETE, &format!("/api/v1/org/{org}"), &auth, None)
        .await
        .results();
}

/// AU-9: the scopes chosen at creation are validated (an unknown name or an empty list answers
/// 400 in Lightdash's shape), duplicates collapse, no list (or null) is admin, and the list of
/// tokens shows each token's scopes; a token's access JWT carries them as `scope`.
async fn au_9_scopes_are_validated_listed_and_claimed(app: TestApp) {
    let user = app.register().await;
    let session = cookie(&user);
    for bad in [
        json!(["read", "root"]),
        json!([]),
        json!(["READ"]),
        json!("read"),
    ] {
        let r = app
            .post(TOKENS, &session, json!({"description": "x", "scopes": bad}))
            .await;
        let error = r.expect_error(400);
        assert!(
            !r.text.contains("root"),
            "the input is not quoted: {}",
            r.text
        );
        assert!(error["message"].is_string());
    }
    let read = token(&app, &user, Some(json!(["read", "read"]))).await;
    let write = token(&app, &user, Some(json!(["write", "read", "write"]))).await;
    let none = token(&app, &user, None).await;
    let null = token(&app, &user, Some(Value::Null)).await;
    let list = app.get(TOKENS, &session).await;
    let mut shown: Vec<Value> = list
        .results()
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["scopes"].clone())
        .collect();
    shown.sort_by_key(|s| s.to_string());
    assert_eq!(
        shown,
        vec![
            json!(["admin"]),
            json!(["admin"]),
            json!(["read", "write"]),
            json!(["read"])
        ]
    );
    for (pat, scope) in [
        (&read, "read"),
        (&write, "read write"),
        (&none, "read write admin"),
        (&null, "read write admin"),
    ] {
        let jwt = app.access_token(pat).await;
        let c = claims(&jwt);
        assert_eq!(c["scope"], scope);
        assert!(c.get("auth_time").is_none(), "{c}");
        // The JWT is refused what its token is refused.
        let r = app
            .send(
                Method::PUT,
                "/api/v1/org",
                &Auth::Bearer(jwt),
                Some(json!({"name": "Mine"})),
            )
            .await;
        assert_eq!(refused(&r), scope == "read", "{}", r.body);
    }
    // A session's JWT has every scope and its login time.
    let r = app
        .post(
            "/api/v1/auth/token",
            &Auth::Cookie(user.cookie.clone()),
            json!({}),
        )
        .await;
    let c = claims(r.results()["accessToken"].as_str().unwrap());
    assert_eq!(c["scope"], "read write admin");
    let login = c["auth_time"].as_i64().expect("auth_time");
    assert!((chrono::Utc::now().timestamp() - login).abs() < 120, "{c}");
}

/// A token never creates or rotates tokens, whatever its scopes (a stolen token must not
/// extend itself); the session that may is held to a recent login below.
async fn au_9_tokens_do_not_mint_tokens(app: TestApp) {
    let user = app.register().await;
    let (uuid, admin) = app
        .create_pat(&user, json!({"description": "a", "scopes": ["admin"]}))
        .await;
    let auth = Auth::ApiKey(admin);
    let r = app
        .post(
            TOKENS,
            &auth,
            json!({"description": "child", "scopes": ["read"]}),
        )
        .await;
    r.expect_error(403);
    let r = app
        .send(
            Method::PATCH,
            &format!("{TOKENS}/{uuid}/rotate"),
            &auth,
            Some(json!({"expiresAt": "2099-01-01T00:00:00Z"})),
        )
        .await;
    r.expect_error(403);
}

/// AC-3, API5: a session whose login is older than RECENT_LOGIN_SECONDS is refused the admin
/// actions with a message to log in again, keeps reading and writing, and a fresh login passes;
/// an admin-scoped token is not held to a login.
async fn ac_3_admin_actions_need_a_recent_login(backend: crate::helpers::Backend) {
    let Some(app) = spawn_app_with(backend, |c| c.identity.recent_login_seconds = 2).await else {
        return;
    };
    let (admin, org) = admin_of_new_org(&app, "Recent").await;
    let pat = token(&app, &admin, Some(json!(["admin"]))).await;
    tokio::time::sleep(Duration::from_millis(3100)).await;
    let old = cookie(&admin);
    let stale = |r: &crate::helpers::Reply| {
        refused(r)
            && r.body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("log in again"))
    };
    let r = app.post(TOKENS, &old, json!({"description": "late"})).await;
    assert!(stale(&r), "{}", r.body);
    let r = app
        .post(
            "/api/v1/invite-links",
            &old,
            json!({"email": email(), "role": "admin"}),
        )
        .await;
    assert!(stale(&r), "{}", r.body);
    let r = app
        .send(Method::DELETE, &format!("/api/v1/org/{org}"), &old, None)
        .await;
    assert!(stale(&r), "{}", r.body);
    let r = app
        .send(Method::DELETE, "/api/v1/user/me", &old, None)
        .await;
    assert!(stale(&r), "{}", r.body);
    // Reads and writes go on.
    app.get("/api/v1/org", &old).await.results();
    let r = app
        .post(
            "/api/v1/invite-links",
            &old,
            json!({"email": email(), "role": "editor"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    // The admin token is not a session.
    let r = app
        .post(
            "/api/v1/invite-links",
            &Auth::ApiKey(pat),
            json!({"email": email(), "role": "admin"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);

    // A fresh login may.
    let login = app
        .post(
            "/api/v1/login",
            &Auth::None,
            json!({"email": admin.email, "password": admin.password}),
        )
        .await;
    let fresh = Auth::Cookie(login.session_cookie().expect("a session"));
    let r = app
        .post(TOKENS, &fresh, json!({"description": "after login"}))
        .await;
    r.results();
    app.send(Method::DELETE, &format!("/api/v1/org/{org}"), &fresh, None)
        .await
        .results();
}

dual!(
    au_9_scope_matrix_over_the_routes,
    au_9_scopes_are_validated_listed_and_claimed,
    au_9_tokens_do_not_mint_tokens,
);
dual_backend!(ac_3_admin_actions_need_a_recent_login);
