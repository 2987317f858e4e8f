//! Personal access tokens and access JWTs through the gateway (AU-9, TK-1, TK-3, TK-5).

use reqwest::Method;
use serde_json::{Value, json};
use sha2::Digest;

use crate::helpers::{Auth, TestApp, dual, dual_backend};

async fn a_pat_authenticates_with_apikey_and_bearer_and_is_shown_once(app: TestApp) {
    let user = app.register().await;
    let (uuid, token) = app.create_pat(&user, json!({"description": "ci"})).await;
    assert!(token.starts_with("ldpat_") && token.len() == 38, "{token}");
    assert!(token[6..].chars().all(|c| c.is_ascii_hexdigit()));
    for auth in [Auth::ApiKey(token.clone()), Auth::Bearer(token.clone())] {
        assert_eq!(
            app.get("/api/v1/user", &auth).await.results()["userUuid"],
            user.user_uuid.as_str()
        );
    }
    let list = app
        .get(
            "/api/v1/user/me/personal-access-tokens",
            &Auth::Cookie(user.cookie.clone()),
        )
        .await;
    let tokens = list.results().as_array().unwrap().clone();
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0]["uuid"], uuid.as_str());
    assert!(
        tokens[0].get("token").is_none(),
        "the secret is never listed"
    );
    assert!(!list.body.to_string().contains(&token));
    assert!(
        tokens[0]["lastUsedAt"].is_string(),
        "the last use is recorded"
    );
}

/// AU-9: at least 128 random bits, stored only as its SHA-256, revoked tokens refused next time.
async fn au_9_pats_are_stored_hashed_and_revocation_is_immediate(app: TestApp) {
    let user = app.register().await;
    let (uuid, token) = app
        .create_pat(&user, json!({"description": "to revoke"}))
        .await;
    let (_, other) = app
        .create_pat(&user, json!({"description": "another"}))
        .await;
    assert_ne!(token, other);
    let rows: Vec<(String, String)> = match &app.identity_db {
        service_kit::db::Pool::Sqlite(p) => {
            sqlx::query_as("SELECT token_hash, description FROM personal_access_tokens")
                .fetch_all(p)
                .await
        }
        service_kit::db::Pool::Postgres(p) => {
            sqlx::query_as("SELECT token_hash, description FROM personal_access_tokens")
                .fetch_all(p)
                .await
        }
    }
    .unwrap();
    let digest = hex::encode(sha2::Sha256::digest(token.as_bytes()));
    assert!(
        rows.iter().any(|(h, _)| *h == digest),
        "the SHA-256 of the token is stored"
    );
    assert!(
        rows.iter()
            .all(|(h, d)| !h.contains(&token[6..]) && !d.contains(&token[6..])),
        "the token itself is not"
    );

    app.get("/api/v1/user", &Auth::ApiKey(token.clone()))
        .await
        .results();
    app.delete_pat(&user, &uuid).await;
    app.get("/api/v1/user", &Auth::ApiKey(token))
        .await
        .expect_error(401);
    app.get("/api/v1/user", &Auth::ApiKey(other))
        .await
        .results();
}

async fn rotation_replaces_the_secret(app: TestApp) {
    let user = app.register().await;
    let (uuid, old) = app
        .create_pat(
            &user,
            json!({"description": "rotating", "expiresAt": "2099-01-01T00:00:00Z"}),
        )
        .await;
    let r = app
        .send(
            Method::PATCH,
            &format!("/api/v1/user/me/personal-access-tokens/{uuid}/rotate"),
            &Auth::Cookie(user.cookie.clone()),
            Some(json!({"expiresAt": "2098-01-01T00:00:00Z"})),
        )
        .await;
    let rotated = r.results().clone();
    let new = rotated["token"].as_str().unwrap().to_owned();
    assert_eq!(rotated["uuid"], uuid.as_str());
    assert!(rotated["rotatedAt"].is_string());
    assert_eq!(rotated["expiresAt"], "2098-01-01T00:00:00.000Z");
    assert_ne!(new, old);
    app.get("/api/v1/user", &Auth::ApiKey(old))
        .await
        .expect_error(401);
    app.get("/api/v1/user", &Auth::ApiKey(new)).await.results();
    let past = app
        .send(
            Method::PATCH,
            &format!("/api/v1/user/me/personal-access-tokens/{uuid}/rotate"),
            &Auth::Cookie(user.cookie.clone()),
            Some(json!({"expiresAt": "2001-01-01T00:00:00Z"})),
        )
        .await;
    past.expect_error(400);
}

async fn expiry_is_honoured(app: TestApp) {
    let user = app.register().await;
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
    let (_, token) = app
        .create_pat(&user, json!({"description": "short", "expiresAt": soon}))
        .await;
    app.get("/api/v1/user", &Auth::ApiKey(token.clone()))
        .await
        .results();
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    app.get("/api/v1/user", &Auth::ApiKey(token))
        .await
        .expect_error(401);
    let past = app
        .post(
            "/api/v1/user/me/personal-access-tokens",
            &Auth::Cookie(user.cookie.clone()),
            json!({"description": "x", "expiresAt": "2001-01-01T00:00:00Z"}),
        )
        .await;
    past.expect_error(400);
}

/// A stolen token must not be able to mint more tokens; and one user cannot touch another's.
async fn tokens_are_confined_to_their_owner(app: TestApp) {
    let alice = app.register().await;
    let bob = app.register().await;
    let (alice_pat_uuid, alice_pat) = app
        .create_pat(&alice, json!({"description": "alice"}))
        .await;
    app.post(
        "/api/v1/user/me/personal-access-tokens",
        &Auth::ApiKey(alice_pat.clone()),
        json!({"description": "minted"}),
    )
    .await
    .expect_error(403);
    // Nor rotate or delete tokens (which would let it outlive or lock out its owner).
    let by_pat = Auth::ApiKey(alice_pat.clone());
    app.send(
        Method::PATCH,
        &format!("/api/v1/user/me/personal-access-tokens/{alice_pat_uuid}/rotate"),
        &by_pat,
        Some(json!({"expiresAt": "2099-01-01T00:00:00Z"})),
    )
    .await
    .expect_error(403);
    app.send(
        Method::DELETE,
        &format!("/api/v1/user/me/personal-access-tokens/{alice_pat_uuid}"),
        &by_pat,
        None,
    )
    .await
    .expect_error(403);
    let bob_cookie = Auth::Cookie(bob.cookie.clone());
    let bob_list = app
        .get("/api/v1/user/me/personal-access-tokens", &bob_cookie)
        .await;
    assert_eq!(bob_list.results(), &json!([]));
    let missing = uuid::Uuid::now_v7().to_string();
    for target in [alice_pat_uuid.as_str(), missing.as_str(), "not-a-uuid"] {
        let del = app
            .send(
                Method::DELETE,
                &format!("/api/v1/user/me/personal-access-tokens/{target}"),
                &bob_cookie,
                None,
            )
            .await;
        let rot = app
            .send(
                Method::PATCH,
                &format!("/api/v1/user/me/personal-access-tokens/{target}/rotate"),
                &bob_cookie,
                Some(json!({"expiresAt": "2099-01-01T00:00:00Z"})),
            )
            .await;
        // AC-8: another user's token and a token that does not exist answer alike.
        assert_eq!(
            del.expect_error(404),
            &json!({"statusCode": 404, "name": "NotFoundError", "message": "personal access token not found"})
        );
        rot.expect_error(404);
    }
    app.get("/api/v1/user", &Auth::ApiKey(alice_pat))
        .await
        .results();
}

async fn access_jwts_authenticate_as_bearer(app: TestApp) {
    let user = app.register().await;
    let (_, pat) = app.create_pat(&user, json!({"description": "jwt"})).await;
    let jwt = app.access_token(&pat).await;
    assert_eq!(jwt.split('.').count(), 3);
    let header: serde_json::Value =
        serde_json::from_slice(&base64_decode(jwt.split('.').next().unwrap())).unwrap();
    assert_eq!(header["alg"], "EdDSA");
    assert_eq!(header["typ"], "at+jwt");
    assert!(header["kid"].is_string());
    assert_eq!(
        app.get("/api/v1/user", &Auth::Bearer(jwt.clone()))
            .await
            .results()["userUuid"],
        user.user_uuid.as_str()
    );
    // The key that verifies it is published.
    let jwks = app
        .http
        .get(format!("{}/.well-known/jwks.json", app.base))
        .send()
        .await
        .unwrap();
    let jwks: serde_json::Value = jwks.json().await.unwrap();
    assert!(
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["kid"] == header["kid"] && k["kty"] == "OKP")
    );
    // An access token cannot be exchanged for another.
    app.post("/api/v1/auth/token", &Auth::Bearer(jwt.clone()), json!({}))
        .await
        .expect_error(403);
    // Tampering, other schemes and garbage are refused with 401.
    let mut parts: Vec<String> = jwt.split('.').map(str::to_owned).collect();
    parts[2] = parts[2].chars().rev().collect();
    for auth in [
        Auth::Bearer(parts.join(".")),
        Auth::Bearer("garbage".into()),
        Auth::ApiKey("ldpat_00000000000000000000000000000000".into()),
    ] {
        app.get("/api/v1/user", &auth).await.expect_error(401);
    }
    let basic = app
        .http
        .get(format!("{}/api/v1/user", app.base))
        .header("authorization", "Basic dXNlcjpwYXNz");
    app.finish(Method::GET, "/api/v1/user", basic)
        .await
        .expect_error(401);
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .unwrap()
}

dual!(
    a_pat_authenticates_with_apikey_and_bearer_and_is_shown_once,
    au_9_pats_are_stored_hashed_and_revocation_is_immediate,
    rotation_replaces_the_secret,
    expiry_is_honoured,
    tokens_are_confined_to_their_owner,
    access_jwts_authenticate_as_bearer,
    revocation_reaches_every_service_while_the_gateway_reuses_tokens,
);

/// AU-9 / AU-10 on every service: the gateway reuses the access token it got for a personal
/// access token or a session for a minute, so revocation rests on each service checking the
/// credential behind the token on every call. Each credential is used on each route just before
/// it is revoked (so its access token is held), then every route refuses it, and a token
/// exchange refuses it too rather than hand out the held access token.
async fn revocation_reaches_every_service_while_the_gateway_reuses_tokens(app: TestApp) {
    let (admin, _) = crate::organizations::admin_of_new_org(&app, "Revocations").await;
    let project = crate::projects::new_project(&app, &admin, "Revoked").await;
    let routes = [
        "/api/v1/user".to_owned(),         // identity-svc, GetCurrentUser
        "/api/v1/org".to_owned(),          // identity-svc, another user method
        "/api/v1/org/projects".to_owned(), // projects-svc
        format!("/api/v1/projects/{project}/spaces"), // projects-svc, the spaces cache
        "/api/v1/connections".to_owned(),  // connections-svc
    ];
    let use_everywhere = |auth: Auth| {
        let app = &app;
        let routes = &routes;
        async move {
            for route in routes {
                let r = app.get(route, &auth).await;
                assert_eq!(r.status, 200, "{route}: {}", r.body);
            }
        }
    };
    let refused_everywhere = |auth: Auth| {
        let app = &app;
        let routes = &routes;
        async move {
            for route in routes {
                app.get(route, &auth).await.expect_error(401);
            }
            app.post("/api/v1/auth/token", &auth, json!({}))
                .await
                .expect_error(401);
        }
    };

    // A deleted token.
    let (deleted_uuid, deleted) = app
        .create_pat(&admin, json!({"description": "deleted"}))
        .await;
    use_everywhere(Auth::ApiKey(deleted.clone())).await;
    app.delete_pat(&admin, &deleted_uuid).await;
    refused_everywhere(Auth::ApiKey(deleted)).await;

    // A rotated token: the old secret stops, the new one works at once.
    let (rotated_uuid, rotated) = app
        .create_pat(&admin, json!({"description": "rotated"}))
        .await;
    use_everywhere(Auth::Bearer(rotated.clone())).await;
    let fresh = app
        .send(
            Method::PATCH,
            &format!("/api/v1/user/me/personal-access-tokens/{rotated_uuid}/rotate"),
            &Auth::Cookie(admin.cookie.clone()),
            Some(json!({"expiresAt": "2098-01-01T00:00:00Z"})),
        )
        .await
        .results()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    refused_everywhere(Auth::Bearer(rotated)).await;
    use_everywhere(Auth::ApiKey(fresh)).await;

    // A session that logged out.
    let (other_admin, _) = crate::organizations::admin_of_new_org(&app, "Logged out").await;
    let session = Auth::Cookie(other_admin.cookie.clone());
    app.get("/api/v1/user", &session).await.results();
    app.get("/api/v1/logout", &session).await;
    for route in ["/api/v1/user", "/api/v1/org", "/api/v1/connections"] {
        app.get(route, &session).await.expect_error(401);
    }

    // Every exchange hands out a token of its own, never the one the gateway holds.
    let (_, pat) = app
        .create_pat(&admin, json!({"description": "exchanged"}))
        .await;
    let first = app.access_token(&pat).await;
    let second = app.access_token(&pat).await;
    assert_ne!(first, second, "each exchange issues a new access token");
}

/// AU-10 / issue #3: an access JWT dies with the session or token it was issued for.
async fn revoking_the_source_revokes_its_access_tokens(app: TestApp) {
    let user = app.register().await;
    let session_jwt = app
        .post(
            "/api/v1/auth/token",
            &Auth::Cookie(user.cookie.clone()),
            json!({}),
        )
        .await
        .results()["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    app.get("/api/v1/user", &Auth::Bearer(session_jwt.clone()))
        .await
        .results();
    let (pat_uuid, pat) = app
        .create_pat(&user, json!({"description": "source"}))
        .await;
    let pat_jwt = app.access_token(&pat).await;
    app.get("/api/v1/user", &Auth::Bearer(pat_jwt.clone()))
        .await
        .results();

    app.delete_pat(&user, &pat_uuid).await;
    app.get("/api/v1/user", &Auth::Bearer(pat_jwt))
        .await
        .expect_error(401);
    app.get("/api/v1/logout", &Auth::Cookie(user.cookie.clone()))
        .await
        .results();
    app.get("/api/v1/user", &Auth::Bearer(session_jwt))
        .await
        .expect_error(401);
}

/// The claims of a JWT, unverified (the test only reads them).
pub(crate) fn claims_of(jwt: &str) -> Value {
    serde_json::from_slice(&base64_decode(jwt.split('.').nth(1).unwrap())).unwrap()
}

async fn refresh_with(app: &TestApp, refresh_token: &str) -> crate::helpers::Reply {
    app.post(
        "/api/v1/auth/token",
        &Auth::None,
        json!({"grantType": "refresh_token", "refreshToken": refresh_token}),
    )
    .await
}

/// API clients log in for an access token and a refresh token (TK-7: the access token lives
/// 15 minutes at most), refresh (the refresh token rotates; a replaced one presented again
/// revokes the session), and logging out ends the session with its tokens.
async fn api_clients_refresh_tokens_and_logout_revokes_them(app: TestApp) {
    const TOKEN: &str = "/api/v1/auth/token";
    let user = app.register().await;
    let login = json!({"grantType": "password", "email": user.email, "password": user.password});
    let r = app.post(TOKEN, &Auth::None, login.clone()).await;
    assert_eq!(
        r.headers.get("cache-control").unwrap(),
        "no-store",
        "token responses are not cached"
    );
    let t = r.results().clone();
    let access = t["accessToken"].as_str().unwrap().to_owned();
    let refresh = t["refreshToken"].as_str().unwrap().to_owned();
    assert_eq!(t["tokenType"], "Bearer");
    assert!(refresh.starts_with("ldrt_"));
    // A refresh token only refreshes: it is no session cookie.
    app.get("/api/v1/user", &Auth::Cookie(refresh.clone()))
        .await
        .expect_error(401);
    assert!(t["refreshTokenExpiresAt"].is_string() && t["expiresAt"].is_string());
    let c = claims_of(&access);
    let lifetime = c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap();
    assert!(lifetime > 0 && lifetime <= 900, "TK-7: {lifetime} s");
    app.get("/api/v1/user", &Auth::Bearer(access.clone()))
        .await
        .results();

    // Refresh: new tokens; the old refresh token is spent.
    let refreshed = refresh_with(&app, &refresh).await.results().clone();
    let access2 = refreshed["accessToken"].as_str().unwrap().to_owned();
    let refresh2 = refreshed["refreshToken"].as_str().unwrap().to_owned();
    assert_ne!(refresh2, refresh);
    assert_eq!(claims_of(&access2)["sub"], user.user_uuid);
    app.get("/api/v1/user", &Auth::Bearer(access2.clone()))
        .await
        .results();
    // Replaying the spent token revokes the session: the thief and the owner both lose it.
    refresh_with(&app, &refresh).await.expect_error(401);
    refresh_with(&app, &refresh2).await.expect_error(401);
    app.get("/api/v1/user", &Auth::Bearer(access2))
        .await
        .expect_error(401);

    // Logout with an access token ends its session: the refresh token and the access token die.
    let t = app
        .post(TOKEN, &Auth::None, login.clone())
        .await
        .results()
        .clone();
    let access = t["accessToken"].as_str().unwrap().to_owned();
    let refresh = t["refreshToken"].as_str().unwrap().to_owned();
    app.get("/api/v1/logout", &Auth::Bearer(access.clone()))
        .await
        .results();
    app.get("/api/v1/user", &Auth::Bearer(access))
        .await
        .expect_error(401);
    refresh_with(&app, &refresh).await.expect_error(401);

    // Bad grants.
    app.post(
        TOKEN,
        &Auth::None,
        json!({"grantType": "password", "email": user.email, "password": "wrong password!"}),
    )
    .await
    .expect_error(401);
    for bad in [
        json!({"grantType": "client_credentials"}),
        json!({"grantType": "password", "email": user.email}),
        json!({"grantType": "refresh_token"}),
        json!({"email": user.email, "password": user.password}),
        json!({"grantType": "password", "email": user.email, "password": user.password, "scope": "x"}),
    ] {
        app.post(TOKEN, &Auth::None, bad).await.expect_error(400);
    }
    refresh_with(&app, "ldsess_nope").await.expect_error(401);
    // The exchange of a presented credential still works with no body at all.
    let (_, pat) = app.create_pat(&user, json!({"description": "x"})).await;
    app.send(Method::POST, TOKEN, &Auth::ApiKey(pat), None)
        .await
        .results();
    app.send(Method::POST, TOKEN, &Auth::None, None)
        .await
        .expect_error(401);
}

dual!(
    revoking_the_source_revokes_its_access_tokens,
    api_clients_refresh_tokens_and_logout_revokes_them
);

/// TK-6: signing keys rotate while requests flow; a new key is published before it signs and
/// verifiers refresh their key set, so no valid token is refused at any moment, and tokens
/// signed by the previous key keep working.
async fn tk_6_keys_rotate_while_requests_flow_without_a_401(backend: crate::helpers::Backend) {
    let Some(app) = crate::helpers::spawn_app_with(backend, |c| {
        c.identity.signing_key_rotation_seconds = 3;
        c.key_set.jwks_cache_seconds = 1;
    })
    .await
    else {
        return;
    };
    let user = app.register().await;
    let (_, pat) = app
        .create_pat(&user, json!({"description": "rotation"}))
        .await;
    let first = app.access_token(&pat).await;
    let mut kids = std::collections::BTreeSet::new();
    let started = std::time::Instant::now();
    let mut requests = 0;
    while started.elapsed() < std::time::Duration::from_secs(10) {
        let jwt = app.access_token(&pat).await;
        kids.insert(jsonwebtoken::decode_header(&jwt).unwrap().kid.unwrap());
        for auth in [Auth::Bearer(jwt), Auth::ApiKey(pat.clone())] {
            let r = app.get("/api/v1/user", &auth).await;
            assert_eq!(
                r.status,
                200,
                "refused during rotation after {:?}: {}",
                started.elapsed(),
                r.body
            );
            requests += 1;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        kids.len() >= 2,
        "the signing key rotated ({kids:?}, {requests} requests)"
    );
    app.get("/api/v1/user", &Auth::Bearer(first))
        .await
        .results();
    let jwks: serde_json::Value = app
        .http
        .get(format!("{}/.well-known/jwks.json", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        jwks["keys"].as_array().unwrap().len() >= kids.len(),
        "every key that signed a live token is published"
    );
}

dual_backend!(tk_6_keys_rotate_while_requests_flow_without_a_401);

/// identity-svc reads the current user on connections it keeps apart from its pool. One that
/// PostgreSQL ends (a restart, `idle_session_timeout`, an operator) costs a retry on the pool,
/// never a failed request, and the next read opens a new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_connection_ended_by_postgres_costs_no_request() {
    let Some(app) = crate::helpers::spawn_app(crate::helpers::Backend::Postgres).await else {
        return;
    };
    let service_kit::db::Pool::Postgres(pg) = &app.identity_db else {
        unreachable!("a PostgreSQL app")
    };
    let user = app.register().await;
    let (_, pat) = app.create_pat(&user, json!({"description": "kept"})).await;
    let auth = Auth::ApiKey(pat);
    for _ in 0..6 {
        app.get("/api/v1/user", &auth).await.results();
    }
    // Every connection whose last statement was the current-user read (only kept connections
    // run it, and the retry; another test's read retries the same way).
    let ended: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE pid <> pg_backend_pid() AND datname = current_database() \
         AND query LIKE '%LEFT JOIN personal_access_tokens p ON p.user_uuid = u.user_uuid%') t",
    )
    .fetch_one(pg)
    .await
    .unwrap();
    assert!(ended >= 1, "the kept connections were found");
    for _ in 0..6 {
        let r = app.get("/api/v1/user", &auth).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
}
