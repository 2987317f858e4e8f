//! Email verification by one-time passcode (over real SMTP to a loopback sink, and through the
//! file outbox of the embedded default), joining an organization by verified email domain, and
//! the rate limits on passcodes and invitations.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{
    Auth, Backend, SmtpSink, TestApp, TestUser, dual, dual_backend, passcode_in, spawn_app_with,
};
use crate::organizations::{admin_of_new_org, cookie};

const STATUS: &str = "/api/v1/user/me/email/status";
const OTP: &str = "/api/v1/user/me/email/otp";
const ALLOWED: &str = "/api/v1/user/me/allowedOrganizations";

async fn status(app: &TestApp, user: &TestUser, passcode: Option<&str>) -> Value {
    let path = match passcode {
        Some(p) => format!("{STATUS}?passcode={p}"),
        None => STATUS.to_owned(),
    };
    app.get(&path, &cookie(user)).await.results().clone()
}

async fn request_passcode(app: &TestApp, user: &TestUser) -> Value {
    app.send(Method::PUT, OTP, &cookie(user), None)
        .await
        .results()
        .clone()
}

/// A six-digit code that is not `code`.
fn other_than(code: &str) -> String {
    let n: u32 = code.parse().unwrap();
    format!("{:06}", (n + 1) % 1_000_000)
}

async fn set_passcode_expiry(app: &TestApp, at: chrono::DateTime<chrono::Utc>) {
    let sql = "UPDATE email_passcodes SET expires_at = $1";
    match &app.identity_db {
        service_kit::db::Pool::Sqlite(p) => sqlx::query(sql).bind(at).execute(p).await.map(|_| ()),
        service_kit::db::Pool::Postgres(p) => {
            sqlx::query(sql).bind(at).execute(p).await.map(|_| ())
        }
    }
    .unwrap();
}

/// The mailer's real SMTP client delivers the passcode to a mail server on loopback; the right
/// passcode verifies the email once, a wrong one counts an attempt.
async fn a_passcode_mailed_over_smtp_verifies_the_email(backend: Backend) {
    let sink = SmtpSink::start().await;
    let Some(app) = spawn_app_with(backend, |c| c.identity.mail_url = Some(sink.url())).await
    else {
        return;
    };
    let user = app.register().await;
    assert_eq!(
        status(&app, &user, None).await,
        json!({"email": user.email, "isVerified": false})
    );
    let sent = request_passcode(&app, &user).await;
    assert_eq!(sent["isVerified"], false);
    assert_eq!(sent["otp"]["numberOfAttempts"], 0);
    assert_eq!(sent["otp"]["isExpired"], false);
    assert_eq!(sent["otp"]["isMaxAttempts"], false);
    let mails = sink.messages();
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0].to, vec![format!("<{}>", user.email)]);
    assert!(
        mails[0].from.starts_with("<no-reply@localhost>"),
        "{}",
        mails[0].from
    );
    assert!(mails[0].data.contains("Subject: Your verification code"));
    let code = passcode_in(&mails[0].data);

    let wrong = status(&app, &user, Some(&other_than(&code))).await;
    assert_eq!(wrong["isVerified"], false);
    assert_eq!(wrong["otp"]["numberOfAttempts"], 1);
    for malformed in ["12ab56", "1234567", "12345", "%20"] {
        app.get(&format!("{STATUS}?passcode={malformed}"), &cookie(&user))
            .await
            .expect_error(400);
    }
    let ok = status(&app, &user, Some(&code)).await;
    assert_eq!(
        ok,
        json!({"email": user.email, "isVerified": true}),
        "no passcode remains"
    );
    assert_eq!(
        status(&app, &user, Some(&code)).await["isVerified"],
        true,
        "the status stays verified"
    );
    app.send(Method::PUT, OTP, &cookie(&user), None)
        .await
        .expect_error(400);
    assert_eq!(sink.messages().len(), 1, "no mail for a verified email");
    // The passcode travels in a query string: it must not reach the logs.
    assert!(!crate::helpers::log_text().contains(&format!("passcode={code}")));
}

/// Passcodes are replaced by newer ones, allow 5 attempts, expire, and are rate limited (5 per
/// user per hour by default). Mail goes to the file outbox of the embedded default.
async fn passcodes_expire_allow_bounded_attempts_and_are_rate_limited(app: TestApp) {
    let user = app.register().await;
    request_passcode(&app, &user).await;
    let first = app.passcode_from_outbox(&user.email);
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    request_passcode(&app, &user).await;
    let second = app.passcode_from_outbox(&user.email);
    if first != second {
        let r = status(&app, &user, Some(&first)).await;
        assert_eq!(
            r["isVerified"], false,
            "a replaced passcode no longer works"
        );
    }

    // Attempts are bounded: after the fifth, even the right passcode is refused.
    request_passcode(&app, &user).await;
    let code = app.passcode_from_outbox(&user.email);
    let wrong = other_than(&code);
    for n in 1..=5 {
        let r = status(&app, &user, Some(&wrong)).await;
        assert_eq!(r["otp"]["numberOfAttempts"], n);
        assert_eq!(r["otp"]["isMaxAttempts"], n == 5);
    }
    let r = status(&app, &user, Some(&code)).await;
    assert_eq!(r["isVerified"], false, "{r}");
    assert_eq!(r["otp"]["numberOfAttempts"], 5);

    // Expiry.
    request_passcode(&app, &user).await;
    let code = app.passcode_from_outbox(&user.email);
    set_passcode_expiry(&app, chrono::Utc::now() - chrono::Duration::minutes(1)).await;
    assert_eq!(status(&app, &user, None).await["otp"]["isExpired"], true);
    assert_eq!(status(&app, &user, Some(&code)).await["isVerified"], false);

    // Four passcodes so far: one more is allowed this hour, then 429.
    request_passcode(&app, &user).await;
    app.send(Method::PUT, OTP, &cookie(&user), None)
        .await
        .expect_error(429);
    // Another user has their own allowance.
    let other = app.register().await;
    request_passcode(&app, &other).await;
    app.send(Method::PUT, OTP, &Auth::None, None)
        .await
        .expect_error(401);
    app.get(STATUS, &Auth::None).await.expect_error(401);
}

/// A mail server that cannot be reached answers 503 in the error envelope, and the mail URL's
/// password stays out of the logs.
async fn an_unreachable_mail_server_answers_503(backend: Backend) {
    let canary = "canary-mail-password-5c1f";
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let url = format!("smtp://mailer:{canary}@127.0.0.1:{port}");
    let Some(app) = spawn_app_with(backend, |c| {
        c.identity.mail_url = Some(secrecy::SecretString::from(url))
    })
    .await
    else {
        return;
    };
    let user = app.register().await;
    let r = app.send(Method::PUT, OTP, &cookie(&user), None).await;
    r.expect_error(503);
    assert!(!r.body.to_string().contains(canary));
    assert!(!crate::helpers::log_text().contains(canary));
}

async fn register_at(app: &TestApp, domain: &str) -> TestUser {
    let email = format!("u-{}@{domain}", uuid::Uuid::new_v4().simple());
    app.register_with(&email, "correct horse battery staple")
        .await
}

/// Users with a verified email of an allowed domain see and join the organization with the
/// role the domain grants; unverified users, other domains and members of another
/// organization cannot, and an organization that does not allow them answers like none at all.
async fn verified_users_join_the_organization_of_their_domain(app: TestApp) {
    let domain = format!(
        "acme-{}.example",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let (admin, org) = admin_of_new_org(&app, "Acme").await;
    app.send(
        Method::PATCH,
        "/api/v1/org/allowedEmailDomains",
        &cookie(&admin),
        Some(json!({"role": "editor", "emailDomains": [domain], "projects": []})),
    )
    .await
    .results();
    let join = |org: &str| format!("/api/v1/user/me/joinOrganization/{org}");

    let bob = register_at(&app, &domain).await;
    assert_eq!(app.get(ALLOWED, &cookie(&bob)).await.results(), &json!([]));
    app.post(&join(&org), &cookie(&bob), json!({}))
        .await
        .expect_error(403);

    app.verify_email(&bob).await;
    assert_eq!(
        app.get(ALLOWED, &cookie(&bob)).await.results(),
        &json!([{"organizationUuid": org, "name": "Acme", "membersCount": 1}])
    );

    // Another domain, verified: nothing to see, and the organization answers as unknown.
    let carol = register_at(&app, "elsewhere.example").await;
    app.verify_email(&carol).await;
    assert_eq!(
        app.get(ALLOWED, &cookie(&carol)).await.results(),
        &json!([])
    );
    let not_allowed = app.post(&join(&org), &cookie(&carol), json!({})).await;
    let unknown = app
        .post(
            &join(&uuid::Uuid::now_v7().to_string()),
            &cookie(&carol),
            json!({}),
        )
        .await;
    assert_eq!(
        not_allowed.expect_error(404),
        unknown.expect_error(404),
        "AC-8"
    );
    app.post(&join("not-a-uuid"), &cookie(&carol), json!({}))
        .await
        .expect_error(404);

    // Bob joins as editor, once.
    app.post(&join(&org), &cookie(&bob), json!({}))
        .await
        .results();
    assert_eq!(
        app.get("/api/v1/org", &cookie(&bob)).await.results()["organizationUuid"],
        org.as_str()
    );
    let member = app
        .get(
            &format!("/api/v1/org/users/{}", bob.user_uuid),
            &cookie(&admin),
        )
        .await;
    assert_eq!(member.results()["role"], "editor");
    app.post(&join(&org), &cookie(&bob), json!({}))
        .await
        .expect_error(409);
    assert_eq!(app.get(ALLOWED, &cookie(&bob)).await.results(), &json!([]));

    // A member of another organization, with a verified email of the domain, cannot.
    let (dave, _) = admin_of_new_org(&app, "Dave's").await;
    let dave_at_domain = register_at(&app, &domain).await;
    app.verify_email(&dave_at_domain).await;
    app.send(
        Method::PUT,
        "/api/v1/org",
        &cookie(&dave_at_domain),
        Some(json!({"name": "Own"})),
    )
    .await
    .results();
    app.post(&join(&org), &cookie(&dave_at_domain), json!({}))
        .await
        .expect_error(409);
    drop(dave);
    app.get(ALLOWED, &Auth::None).await.expect_error(401);
    app.post(&join(&org), &Auth::None, json!({}))
        .await
        .expect_error(401);
}

/// Invitations are rate limited per organization.
async fn invitations_are_rate_limited_per_organization(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |c| c.identity.invitations_per_hour = 2).await else {
        return;
    };
    let (admin, _) = admin_of_new_org(&app, "Inviting").await;
    let admin = cookie(&admin);
    let invite = |n: u32| {
        app.post(
            "/api/v1/invite-links",
            &admin,
            json!({"email": format!("invitee-{n}-{}@example.com", uuid::Uuid::new_v4().simple())}),
        )
    };
    assert_eq!(invite(1).await.status, 201);
    assert_eq!(invite(2).await.status, 201);
    invite(3).await.expect_error(429);
    let (other, _) = admin_of_new_org(&app, "Other").await;
    let r = app
        .post(
            "/api/v1/invite-links",
            &cookie(&other),
            json!({"email": format!("x-{}@example.com", uuid::Uuid::new_v4().simple())}),
        )
        .await;
    assert_eq!(r.status, 201, "another organization has its own allowance");
}

dual!(
    passcodes_expire_allow_bounded_attempts_and_are_rate_limited,
    verified_users_join_the_organization_of_their_domain,
);

dual_backend!(
    a_passcode_mailed_over_smtp_verifies_the_email,
    an_unreachable_mail_server_answers_503,
    invitations_are_rate_limited_per_organization
);
