//! Throttling that is not a lockout (issue #18 items 1 and 2, checklist AU-6): failed logins
//! wait per (account, client address) with growing delays while the owner elsewhere signs in,
//! across two identity-svc replicas on one database; registrations per address and in all;
//! passcode guessing across many fresh users never verifies an address; every 429 says when
//! to retry.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::helpers::{Auth, Backend, Reply, TestApp, dual_backend, spawn_app_with};

dual_backend!(
    au_6_a_failing_pair_waits_and_the_owner_does_not,
    au_6_login_limits_hold_across_two_replicas,
    au_6_registrations_are_limited_per_address_and_in_all,
    au_6_passcode_guessing_across_many_users_never_verifies,
    au_6_passcode_attempts_are_limited_per_address,
    au_6_connection_tests_are_limited_per_user,
);

const PASSWORD: &str = "correct horse battery staple";

/// `POST path` with `X-Forwarded-For: from` on the gateway at `base`.
async fn post_from(app: &TestApp, base: &str, from: &str, path: &str, body: Value) -> Reply {
    let req = app
        .http
        .post(format!("{base}{path}"))
        .header("x-forwarded-for", from)
        .json(&body);
    app.finish(Method::POST, path, req).await
}

async fn login(app: &TestApp, base: &str, from: &str, email: &str, password: &str) -> Reply {
    let body = json!({"email": email, "password": password});
    post_from(app, base, from, "/api/v1/login", body).await
}

/// The `Retry-After` of a 429, in seconds.
fn retry_after(r: &Reply) -> u64 {
    assert_eq!(r.status, 429, "{}", r.body);
    r.headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("a 429 without Retry-After: {:?}", r.headers))
}

async fn au_6_a_failing_pair_waits_and_the_owner_does_not(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |c| {
        c.gateway.trust_forwarded_for = true;
        c.identity.login_failures_per_account = 3;
    })
    .await
    else {
        return;
    };
    let victim = app.register().await;
    let (attacker, owner) = ("203.0.113.9", "198.51.100.1");
    // Three free failures, then the fourth is judged and sets a wait of 1 s.
    for _ in 0..4 {
        login(&app, &app.base, attacker, &victim.email, "wrong password")
            .await
            .expect_error(401);
    }
    let waiting = login(&app, &app.base, attacker, &victim.email, PASSWORD).await;
    assert_eq!(retry_after(&waiting), 1);
    // Not a lockout: the owner, from their own address, signs in.
    login(&app, &app.base, owner, &victim.email, PASSWORD)
        .await
        .results();
    // The waits grow: after the next judged failure, 2 s.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    login(&app, &app.base, attacker, &victim.email, "wrong again")
        .await
        .expect_error(401);
    let waiting = login(&app, &app.base, attacker, &victim.email, PASSWORD).await;
    assert_eq!(retry_after(&waiting), 2);
    // A success of the pair itself forgets its failures.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    login(&app, &app.base, attacker, &victim.email, PASSWORD)
        .await
        .results();
    for _ in 0..3 {
        login(&app, &app.base, attacker, &victim.email, "wrong")
            .await
            .expect_error(401);
    }
}

/// A second platform on the first one's database: another identity-svc replica with its own
/// gateway. Its address, and the token that stops it.
async fn second_replica(app: &TestApp) -> (String, CancellationToken) {
    let mut config = platform::Config::new("127.0.0.1:0".parse().unwrap(), app.data_dir.clone());
    if let Some((url, prefix)) = &app.database {
        config.database_url = Some(secrecy::SecretString::from(url.clone()));
        config.schema_prefix = prefix.clone();
    }
    config.gateway.trust_forwarded_for = true;
    config.identity.login_failures_per_account = 2;
    let shutdown = CancellationToken::new();
    let replica = platform::Platform::start(config, shutdown.clone())
        .await
        .expect("a second replica starts");
    let base = format!("http://{}", replica.gateway_addr);
    tokio::spawn(replica.wait());
    (base, shutdown)
}

async fn au_6_login_limits_hold_across_two_replicas(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |c| {
        c.gateway.trust_forwarded_for = true;
        c.identity.login_failures_per_account = 2;
    })
    .await
    else {
        return;
    };
    let victim = app.register().await;
    let (other, stop) = second_replica(&app).await;
    let from = "203.0.113.10";
    // Two free failures, one on each replica; the third (on the first) sets a wait that the
    // second replica honours.
    login(&app, &app.base, from, &victim.email, "x")
        .await
        .expect_error(401);
    login(&app, &other, from, &victim.email, "x")
        .await
        .expect_error(401);
    login(&app, &app.base, from, &victim.email, "x")
        .await
        .expect_error(401);
    let r = login(&app, &other, from, &victim.email, PASSWORD).await;
    assert!(retry_after(&r) >= 1);
    stop.cancel();
}

async fn register_from(app: &TestApp, from: &str) -> Reply {
    let email = format!("r-{}@example.com", uuid::Uuid::new_v4().simple());
    let body = json!({"email": email, "password": PASSWORD, "firstName": "R", "lastName": "R"});
    post_from(app, &app.base, from, "/api/v1/user", body).await
}

async fn au_6_registrations_are_limited_per_address_and_in_all(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |c| {
        c.gateway.trust_forwarded_for = true;
        c.identity.registrations_per_address_per_hour = 3;
        c.identity.registrations_per_hour = 5;
    })
    .await
    else {
        return;
    };
    for _ in 0..3 {
        register_from(&app, "203.0.113.20").await.results();
    }
    let r = register_from(&app, "203.0.113.20").await;
    assert!(retry_after(&r) > 3000, "the hour's window: {r:?}");
    r.expect_error(429);
    for _ in 0..2 {
        register_from(&app, "203.0.113.21").await.results();
    }
    // Five in all this hour: another address is refused too.
    let r = register_from(&app, "203.0.113.22").await;
    r.expect_error(429);
    retry_after(&r);
}

/// Issue #18 item 1: a script registers fresh users at an organization's allowed email domain
/// (addresses it does not own) and guesses their passcodes. 1,000 guesses never verify one,
/// so it never joins; the limits stop it long before the guesses run out.
async fn au_6_passcode_guessing_across_many_users_never_verifies(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |c| {
        c.gateway.trust_forwarded_for = true;
        c.identity.registrations_per_address_per_hour = 20;
    })
    .await
    else {
        return;
    };
    let (admin, org) = crate::organizations::admin_of_new_org(&app, "Corp").await;
    let domains = json!({"emailDomains": ["corp.example"], "role": "editor", "projects": []});
    let r = app
        .send(
            Method::PATCH,
            "/api/v1/org/allowedEmailDomains",
            &crate::organizations::cookie(&admin),
            Some(domains),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let from = "203.0.113.30";
    let mut users = Vec::new();
    let mut refused = 0;
    for _ in 0..100 {
        let email = format!("guess-{}@corp.example", uuid::Uuid::new_v4().simple());
        let body = json!({"email": email, "password": PASSWORD, "firstName": "G", "lastName": "G"});
        let r = post_from(&app, &app.base, from, "/api/v1/user", body).await;
        if r.status == 429 {
            refused += 1;
            retry_after(&r);
            continue;
        }
        users.push((Auth::Cookie(r.session_cookie().unwrap()), email));
    }
    assert_eq!(
        (users.len(), refused),
        (20, 80),
        "registrations per address"
    );
    let (mut guesses, mut throttled) = (0, 0);
    'guessing: for (auth, email) in &users {
        let sent = app
            .send(Method::PUT, "/api/v1/user/me/email/otp", auth, None)
            .await;
        if sent.status == 429 {
            throttled += 1;
            continue;
        }
        let real: u32 = app.passcode_from_outbox(email).parse().unwrap();
        for n in 1..=50u32 {
            if guesses == 1000 {
                break 'guessing;
            }
            guesses += 1;
            let wrong = format!("{:06}", (real + n) % 1_000_000);
            let path = format!("/api/v1/user/me/email/status?passcode={wrong}");
            let r = app.get(&path, auth).await;
            if r.status == 429 {
                throttled += 1;
                retry_after(&r);
                continue;
            }
            assert_eq!(r.results()["isVerified"], false, "{}", r.body);
            if r.results()["otp"]["isMaxAttempts"] == true {
                // The passcode died after its attempts, whoever tried: ask for another.
                let again = app
                    .send(Method::PUT, "/api/v1/user/me/email/otp", auth, None)
                    .await;
                if again.status == 429 {
                    throttled += 1;
                }
            }
        }
    }
    assert_eq!(guesses, 1000, "the script made its guesses");
    assert!(throttled > 0, "limits refused some of them");
    // Nobody got in: no guessing user is a member, and none sees the organization to join.
    for (auth, _) in &users {
        let allowed = app.get("/api/v1/user/me/allowedOrganizations", auth).await;
        assert_eq!(allowed.results(), &json!([]), "{}", allowed.body);
        let join = format!("/api/v1/user/me/joinOrganization/{org}");
        let r = app.post(&join, auth, json!({})).await;
        assert!(r.status.is_client_error(), "{}", r.body);
    }
    let members = app
        .get("/api/v1/org/users", &crate::organizations::cookie(&admin))
        .await;
    assert_eq!(
        members.results()["pagination"]["totalResults"],
        1,
        "{}",
        members.body
    );
}

/// A passcode dies after its own attempts, and an address takes 20 attempts a day whatever
/// passcode they aim at: past them, not even the right code is judged.
async fn au_6_passcode_attempts_are_limited_per_address(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |_| {}).await else {
        return;
    };
    let user = app.register().await;
    let auth = Auth::Cookie(user.cookie.clone());
    let status = |code: String| format!("/api/v1/user/me/email/status?passcode={code}");
    for _ in 0..4 {
        app.send(Method::PUT, "/api/v1/user/me/email/otp", &auth, None)
            .await
            .results();
        let real: u32 = app.passcode_from_outbox(&user.email).parse().unwrap();
        for n in 1..=5u32 {
            let r = app
                .get(&status(format!("{:06}", (real + n) % 1_000_000)), &auth)
                .await;
            assert_eq!(r.results()["isVerified"], false);
        }
        let dead = app.get("/api/v1/user/me/email/status", &auth).await;
        assert_eq!(
            dead.results()["otp"]["isMaxAttempts"],
            true,
            "{}",
            dead.body
        );
    }
    app.send(Method::PUT, "/api/v1/user/me/email/otp", &auth, None)
        .await
        .results();
    let right = app.passcode_from_outbox(&user.email);
    let r = app.get(&status(right), &auth).await;
    r.expect_error(429);
    retry_after(&r);
    let after = app.get("/api/v1/user/me/email/status", &auth).await;
    assert_eq!(after.results()["isVerified"], false, "{}", after.body);
}

/// Each connection test reaches a server the caller names: 30 per user per ten minutes.
async fn au_6_connection_tests_are_limited_per_user(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |_| {}).await else {
        return;
    };
    let (admin, _) = crate::organizations::admin_of_new_org(&app, "Tests").await;
    let auth = crate::organizations::cookie(&admin);
    let body = json!({"provider": "postgresql", "name": "db", "host": "127.0.0.1", "port": "5432",
        "identifier": "u", "secrets": {"password": "p"}});
    let made = app.post("/api/v1/connections", &auth, body).await;
    let id = made.results()["connectionUuid"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/v1/connections/{id}/test");
    for _ in 0..30 {
        let r = app.post(&path, &auth, json!({})).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let r = app.post(&path, &auth, json!({})).await;
    r.expect_error(429);
    assert!(retry_after(&r) > 1);
}
