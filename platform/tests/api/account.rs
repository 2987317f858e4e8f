//! My Account: registration, login, the session cookie, logout, and AU-1 / AU-7.

use serde_json::json;

use crate::helpers::{Auth, TestApp, dual};

async fn register_sets_an_http_only_session_and_logs_in(app: TestApp) {
    let email = format!("Ada.{}@Example.com", uuid::Uuid::new_v4().simple());
    let r = app
        .post("/api/v1/user", &Auth::None, json!({"email": email, "password": "correct horse battery", "firstName": " Ada ", "lastName": "Lovelace"}))
        .await;
    let user = r.results().clone();
    assert_eq!(user["email"], email.to_lowercase(), "emails are normalised");
    assert_eq!(user["firstName"], "Ada", "names are trimmed");
    assert_eq!(user["isActive"], true);
    assert!(
        user.get("organizationUuid").is_none(),
        "a new user belongs to no organization yet"
    );
    let set_cookie = r
        .headers
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        set_cookie.contains("HttpOnly")
            && set_cookie.contains("SameSite=Lax")
            && set_cookie.contains("Path=/"),
        "{set_cookie}"
    );
    let cookie = r.session_cookie().unwrap();
    let me = app.get("/api/v1/user", &Auth::Cookie(cookie)).await;
    assert_eq!(me.results()["userUuid"], user["userUuid"]);
}

async fn login_opens_a_new_session_and_logout_ends_it(app: TestApp) {
    let user = app.register().await;
    let login = app
        .post(
            "/api/v1/login",
            &Auth::None,
            json!({"email": user.email.to_uppercase(), "password": user.password}),
        )
        .await;
    assert_eq!(login.results()["userUuid"], user.user_uuid.as_str());
    let cookie = login
        .session_cookie()
        .expect("login sets the session cookie");
    assert_ne!(cookie, user.cookie, "each login is a new session");

    let out = app
        .get("/api/v1/logout", &Auth::Cookie(cookie.clone()))
        .await;
    assert_eq!(out.status, 200);
    assert_eq!(out.body, json!({"status": "ok"}));
    assert!(
        out.headers
            .get("set-cookie")
            .unwrap()
            .to_str()
            .unwrap()
            .contains("Max-Age=0"),
        "logout clears the cookie"
    );
    app.get("/api/v1/user", &Auth::Cookie(cookie))
        .await
        .expect_error(401);
    // The other session is untouched.
    app.get("/api/v1/user", &Auth::Cookie(user.cookie))
        .await
        .results();
}

/// AU-7: an unknown email and a wrong password answer with the same status and body.
async fn au_7_unknown_email_and_wrong_password_answer_alike(app: TestApp) {
    let user = app.register().await;
    let wrong_password = app
        .post(
            "/api/v1/login",
            &Auth::None,
            json!({"email": user.email, "password": "not the password"}),
        )
        .await;
    let unknown_email = app
        .post(
            "/api/v1/login",
            &Auth::None,
            json!({"email": "nobody-at-all@example.com", "password": "not the password"}),
        )
        .await;
    wrong_password.expect_error(401);
    assert_eq!(wrong_password.status, unknown_email.status);
    assert_eq!(wrong_password.body, unknown_email.body);
    let malformed = app
        .post(
            "/api/v1/login",
            &Auth::None,
            json!({"email": "not an email", "password": "x"}),
        )
        .await;
    assert_eq!(
        malformed.body, wrong_password.body,
        "a malformed email is just another unknown one"
    );
}

/// AU-1 / AU-2: what is stored is an Argon2id PHC string at the OWASP minimum, not the password.
async fn au_1_passwords_are_stored_as_argon2id_phc_strings(app: TestApp) {
    let user = app.register().await;
    let hash: String = match &app.identity_db {
        service_kit::db::Pool::Sqlite(p) => {
            sqlx::query_scalar("SELECT password_hash FROM users WHERE email = $1")
                .bind(&user.email)
                .fetch_one(p)
                .await
        }
        service_kit::db::Pool::Postgres(p) => {
            sqlx::query_scalar("SELECT password_hash FROM users WHERE email = $1")
                .bind(&user.email)
                .fetch_one(p)
                .await
        }
    }
    .unwrap();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    assert!(!hash.contains(&user.password));
}

/// Passwords are checked exactly: no truncation, no case folding; long and non-ASCII ones work.
async fn passwords_verify_exactly(app: TestApp) {
    for password in ["🔐 emoji and ünïcödé pass", &"long".repeat(32)] {
        let email = format!("p-{}@example.com", uuid::Uuid::new_v4().simple());
        app.register_with(&email, password).await;
        app.post(
            "/api/v1/login",
            &Auth::None,
            json!({"email": email, "password": password}),
        )
        .await
        .results();
        let shorter = &password[..password.len() - 1];
        app.post(
            "/api/v1/login",
            &Auth::None,
            json!({"email": email, "password": shorter}),
        )
        .await
        .expect_error(401);
        app.post(
            "/api/v1/login",
            &Auth::None,
            json!({"email": email, "password": password.to_uppercase()}),
        )
        .await
        .expect_error(401);
    }
}

dual!(
    register_sets_an_http_only_session_and_logs_in,
    login_opens_a_new_session_and_logout_ends_it,
    au_7_unknown_email_and_wrong_password_answer_alike,
    au_1_passwords_are_stored_as_argon2id_phc_strings,
    passwords_verify_exactly,
);

/// AU-6: past ten failures of one account from one address, each further attempt from there
/// must wait (429 even with the right password; throttling.rs has the growing waits and the
/// owner signing in from elsewhere); another account is unaffected. A success resets the
/// count.
async fn au_6_failed_logins_are_throttled(app: TestApp) {
    let victim = app.register().await;
    let other = app.register().await;
    let attempt = |email: &str, password: &str| json!({"email": email, "password": password});
    // Nine failures, a success (which resets the count), then ten more failures.
    for _ in 0..9 {
        app.post(
            "/api/v1/login",
            &Auth::None,
            attempt(&victim.email, "wrong password!"),
        )
        .await
        .expect_error(401);
    }
    app.post(
        "/api/v1/login",
        &Auth::None,
        attempt(&victim.email, &victim.password),
    )
    .await
    .results();
    for _ in 0..11 {
        app.post(
            "/api/v1/login",
            &Auth::None,
            attempt(&victim.email, "wrong password!"),
        )
        .await
        .expect_error(401);
    }
    let locked = app
        .post(
            "/api/v1/login",
            &Auth::None,
            attempt(&victim.email, &victim.password),
        )
        .await;
    assert_eq!(locked.expect_error(429)["name"], "TooManyRequestsError");
    app.post(
        "/api/v1/login",
        &Auth::None,
        attempt(&other.email, &other.password),
    )
    .await
    .results();
    // Unknown accounts are throttled the same way (no enumeration through the throttle).
    let ghost = "ghost@example.com";
    for _ in 0..11 {
        app.post(
            "/api/v1/login",
            &Auth::None,
            attempt(ghost, "wrong password!"),
        )
        .await
        .expect_error(401);
    }
    app.post(
        "/api/v1/login",
        &Auth::None,
        attempt(ghost, "wrong password!"),
    )
    .await
    .expect_error(429);
    // Per client address: 50 judged attempts from this address (successes and waits not
    // counted: 31 so far) throttle every account.
    for i in 0..19 {
        app.post(
            "/api/v1/login",
            &Auth::None,
            attempt(&format!("spray{i}@example.com"), "wrong password!"),
        )
        .await
        .expect_error(401);
    }
    app.post(
        "/api/v1/login",
        &Auth::None,
        attempt(&other.email, &other.password),
    )
    .await
    .expect_error(429);
}

dual!(au_6_failed_logins_are_throttled);

async fn deleting_me_removes_everything_of_mine(app: TestApp) {
    use reqwest::Method;
    let events = |app: &TestApp| {
        let db = app.identity_db.clone();
        async move {
            match db {
                service_kit::db::Pool::Sqlite(p) => {
                    sqlx::query_scalar::<_, String>("SELECT event_type FROM outbox_events")
                        .fetch_all(&p)
                        .await
                }
                service_kit::db::Pool::Postgres(p) => {
                    sqlx::query_scalar::<_, String>("SELECT event_type FROM outbox_events")
                        .fetch_all(&p)
                        .await
                }
            }
            .unwrap()
        }
    };
    // A user without an organization.
    let loner = app.register().await;
    let (_, pat) = app.create_pat(&loner, json!({"description": "gone"})).await;
    app.send(
        Method::DELETE,
        "/api/v1/user/me",
        &Auth::Cookie(loner.cookie.clone()),
        None,
    )
    .await
    .results();
    app.get("/api/v1/user", &Auth::Cookie(loner.cookie.clone()))
        .await
        .expect_error(401);
    app.get("/api/v1/user", &Auth::ApiKey(pat))
        .await
        .expect_error(401);
    app.post(
        "/api/v1/login",
        &Auth::None,
        json!({"email": loner.email, "password": loner.password}),
    )
    .await
    .expect_error(401);
    assert!(events(&app).await.contains(&"user.deleted".to_owned()));

    // The last admin of an organization with other members must hand over first.
    let (admin, _) = crate::organizations::admin_of_new_org(&app, "Keep").await;
    let other = crate::organizations::invite_and_join(&app, &admin, "viewer").await;
    app.send(
        Method::DELETE,
        "/api/v1/user/me",
        &Auth::Cookie(admin.cookie.clone()),
        None,
    )
    .await
    .expect_error(400);
    app.send(
        Method::PATCH,
        &format!("/api/v1/org/users/{}", other.user_uuid),
        &Auth::Cookie(admin.cookie.clone()),
        Some(json!({"role": "admin"})),
    )
    .await
    .results();
    app.send(
        Method::DELETE,
        "/api/v1/user/me",
        &Auth::Cookie(admin.cookie.clone()),
        None,
    )
    .await
    .results();
    let left = app
        .get("/api/v1/org/users", &Auth::Cookie(other.cookie.clone()))
        .await
        .results()
        .clone();
    assert_eq!(
        left["pagination"]["totalResults"], 1,
        "the organization stays with its other member"
    );

    // The only member takes the organization along.
    let before = events(&app)
        .await
        .iter()
        .filter(|e| *e == "organization.deleted")
        .count();
    app.send(
        Method::DELETE,
        "/api/v1/user/me",
        &Auth::Cookie(other.cookie.clone()),
        None,
    )
    .await
    .results();
    let after = events(&app)
        .await
        .iter()
        .filter(|e| *e == "organization.deleted")
        .count();
    assert_eq!(after, before + 1);
}

async fn login_options_offer_email(app: TestApp) {
    let r = app
        .get(
            "/api/v1/user/login-options?email=a%40example.com",
            &Auth::None,
        )
        .await;
    assert_eq!(
        r.results(),
        &json!({"showOptions": ["email"], "forceRedirect": false})
    );
    app.get("/api/v1/user/login-options?mail=x", &Auth::None)
        .await
        .expect_error(400);
}

dual!(
    deleting_me_removes_everything_of_mine,
    login_options_offer_email
);

/// Expired sessions, passcodes and invitations are deleted by identity-svc's periodic purge;
/// live ones stay.
async fn expired_credentials_are_purged(backend: crate::helpers::Backend) {
    let Some(app) =
        crate::helpers::spawn_app_with(backend, |c| c.identity.purge_interval_seconds = 1).await
    else {
        return;
    };
    let user = app.register().await;
    let second = app
        .post(
            "/api/v1/login",
            &Auth::None,
            json!({"email": user.email, "password": user.password}),
        )
        .await
        .session_cookie()
        .unwrap();
    app.send(
        reqwest::Method::PUT,
        "/api/v1/user/me/email/otp",
        &Auth::Cookie(user.cookie.clone()),
        None,
    )
    .await
    .results();
    // A passcode row goes an hour after its passcode expired (it keeps the hour's send count).
    let expire = [
        (
            "UPDATE sessions SET expires_at = $1 WHERE token_hash = $2",
            chrono::Utc::now() - chrono::Duration::minutes(1),
        ),
        (
            "UPDATE email_passcodes SET expires_at = $1 WHERE $2 <> ''",
            chrono::Utc::now() - chrono::Duration::minutes(61),
        ),
    ];
    let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(second.as_bytes()));
    for (sql, past) in expire {
        match &app.identity_db {
            service_kit::db::Pool::Sqlite(p) => sqlx::query(sql)
                .bind(past)
                .bind(&hash)
                .execute(p)
                .await
                .map(|_| ()),
            service_kit::db::Pool::Postgres(p) => sqlx::query(sql)
                .bind(past)
                .bind(&hash)
                .execute(p)
                .await
                .map(|_| ()),
        }
        .unwrap();
    }
    let count = |sql: &'static str| {
        let db = app.identity_db.clone();
        async move {
            match &db {
                service_kit::db::Pool::Sqlite(p) => {
                    sqlx::query_scalar::<_, i64>(sql).fetch_one(p).await
                }
                service_kit::db::Pool::Postgres(p) => {
                    sqlx::query_scalar::<_, i64>(sql).fetch_one(p).await
                }
            }
            .unwrap()
        }
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let sessions = count("SELECT COUNT(*) FROM sessions").await;
        let passcodes = count("SELECT COUNT(*) FROM email_passcodes").await;
        if sessions == 1 && passcodes == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not purged: {sessions} sessions, {passcodes} passcodes"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    app.get("/api/v1/user", &Auth::Cookie(user.cookie.clone()))
        .await
        .results();
    app.get("/api/v1/user", &Auth::Cookie(second))
        .await
        .expect_error(401);
}

crate::helpers::dual_backend!(expired_credentials_are_purged);
