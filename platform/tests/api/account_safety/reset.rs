//! Resetting a forgotten password by mail.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use super::{assert_not_in, assert_not_logged, canary_password, login, second_session, whoami};
use crate::helpers::{
    Auth, Backend, Reply, TestApp, count, dual, dual_backend, spawn_app_with, within,
};

const REQUEST: &str = "/api/v1/password-reset";
const RESET: &str = "/api/v1/user/password/reset";

async fn request_reset(app: &TestApp, email: &str) -> Reply {
    app.post(REQUEST, &Auth::None, json!({ "email": email }))
        .await
}

/// The reset link of the newest reset mail to `email`, once it arrived.
async fn reset_link(app: &TestApp, email: &str, after: usize) -> String {
    let mails = || mails_to(app, email);
    within(
        Duration::from_secs(10),
        "the reset mail arrives",
        || async { mails().len() > after },
    )
    .await;
    let mail = mails().pop().unwrap();
    let at = mail.find("/reset-password/").expect("a reset link");
    let start = mail[..at].rfind("http").unwrap();
    mail[start..].split_whitespace().next().unwrap().to_owned()
}

/// The reset mails to `email`, oldest first.
fn mails_to(app: &TestApp, email: &str) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(app.data_dir.join("mail")) else {
        return Vec::new();
    };
    let mut found: Vec<(std::time::SystemTime, String)> = dir
        .filter_map(|f| f.ok().map(|f| f.path()))
        .filter_map(|p| {
            let at = std::fs::metadata(&p).ok()?.modified().ok()?;
            let text = std::fs::read_to_string(&p).ok()?;
            // Quoted-printable soft breaks undone.
            Some((
                at,
                text.replace("=\r\n", "")
                    .replace("=\n", "")
                    .replace("=3D", "="),
            ))
        })
        .filter(|(_, t)| t.contains(&format!("To: {email}")) && t.contains("/reset-password/"))
        .collect();
    found.sort_by_key(|(t, _)| *t);
    found.into_iter().map(|(_, t)| t).collect()
}

fn code_of(link: &str) -> String {
    link.rsplit('/').next().unwrap().to_owned()
}

/// AU-7, API2: a reset request answers the same status and body whether or not the address
/// has an account; only an account gets a mail, with a link under `PUBLIC_URL` whose code is
/// stored only as its SHA-256. The link checks out, works once (also under a race of two
/// uses), applies the policy (AU-5), ends every session of the user, and expires.
async fn a_reset_link_is_mailed_works_once_and_ends_every_session(app: TestApp) {
    let old = canary_password("before reset");
    let new = canary_password("after reset");
    let email = format!("reset-{}@example.com", uuid::Uuid::new_v4().simple());
    let user = app.register_with(&email, &old).await;
    let other = Auth::Cookie(second_session(&app, &user).await);
    let (_, pat) = app.create_pat(&user, json!({"description": "stays"})).await;

    let known = request_reset(&app, &email).await;
    let ghost = format!("ghost-{}@example.com", uuid::Uuid::new_v4().simple());
    let unknown = request_reset(&app, &ghost).await;
    assert_eq!(known.status, StatusCode::OK, "{}", known.text);
    assert_eq!((known.status, &known.text), (unknown.status, &unknown.text));
    assert_eq!(known.body, json!({"status": "ok"}));

    let link = reset_link(&app, &email, 0).await;
    assert!(
        link.starts_with(&format!("{}/reset-password/ldpwr_", app.base)),
        "{link}"
    );
    let code = code_of(&link);
    let mail = mails_to(&app, &email).pop().unwrap();
    let expiry = chrono::Utc::now() + chrono::Duration::hours(1);
    let expiry_text = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M UTC").to_string();
    assert!(
        [expiry, expiry - chrono::Duration::minutes(1)]
            .iter()
            .any(|t| mail.contains(&expiry_text(*t))),
        "valid for one hour: {mail}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        mails_to(&app, &ghost).is_empty(),
        "no mail for an address without an account"
    );
    let stored = "SELECT COUNT(*) FROM password_resets WHERE user_uuid = $1";
    assert_eq!(count(&app.identity_db, stored, &user.user_uuid).await, 1);
    let hashed = format!(
        "SELECT COUNT(*) FROM password_resets WHERE user_uuid = $1 AND code_hash = '{}'",
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(code.as_bytes()))
    );
    assert_eq!(
        count(&app.identity_db, &hashed, &user.user_uuid).await,
        1,
        "only the SHA-256"
    );
    let clear = format!(
        "SELECT COUNT(*) FROM password_resets WHERE user_uuid = $1 AND code_hash LIKE '%{code}%'"
    );
    assert_eq!(count(&app.identity_db, &clear, &user.user_uuid).await, 0);

    let check = format!("{REQUEST}/{code}");
    assert_eq!(
        app.get(&check, &Auth::None).await.body,
        json!({"status": "ok"})
    );
    app.get(&format!("{REQUEST}/ldpwr_not-a-code"), &Auth::None)
        .await
        .expect_error(404);

    let r = app
        .post(
            RESET,
            &Auth::None,
            json!({"code": code, "newPassword": "password123"}),
        )
        .await;
    r.expect_error(400);
    app.post(
        RESET,
        &Auth::None,
        json!({"code": "ldpwr_guess", "newPassword": new}),
    )
    .await
    .expect_error(404);

    // Two uses at once: one wins.
    let body = json!({"code": code, "newPassword": new});
    let (a, b) = tokio::join!(
        app.post(RESET, &Auth::None, body.clone()),
        app.post(RESET, &Auth::None, body.clone())
    );
    let mut statuses = [a.status.as_u16(), b.status.as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 404], "{} / {}", a.text, b.text);
    for r in [&a, &b] {
        assert_not_in(r, &[&old, &new, &code]);
    }
    app.post(RESET, &Auth::None, body).await.expect_error(404);
    app.get(&check, &Auth::None).await.expect_error(404);

    assert_eq!(
        whoami(&app, &Auth::Cookie(user.cookie.clone())).await,
        401,
        "every session ends"
    );
    assert_eq!(whoami(&app, &other).await, 401);
    assert_eq!(
        whoami(&app, &Auth::ApiKey(pat)).await,
        200,
        "tokens are no sessions"
    );
    login(&app, &email, &old).await.expect_error(401);
    login(&app, &email, &new).await.results();

    // A link past its hour is refused.
    request_reset(&app, &email).await.results();
    let late = code_of(&reset_link(&app, &email, 1).await);
    let expire = "UPDATE password_resets SET expires_at = created_at WHERE user_uuid = $1";
    assert_eq!(
        crate::helpers::execute(&app.identity_db, expire, &[&user.user_uuid]).await,
        1
    );
    app.get(&format!("{REQUEST}/{late}"), &Auth::None)
        .await
        .expect_error(404);
    let other_new = canary_password("too late");
    app.post(
        RESET,
        &Auth::None,
        json!({"code": late, "newPassword": other_new}),
    )
    .await
    .expect_error(404);
    login(&app, &email, &new).await.results();
    assert_not_logged(&[&old, &new, &other_new, &code, &late]);
}

/// AU-7: with the limits out of the way, a known and an unknown address answer alike in
/// comparable time (the lookup and the mail happen after the answer).
async fn reset_requests_take_the_same_time_whether_or_not_the_address_exists(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |c| {
        c.identity.password_resets_per_hour = 1000;
        c.identity.password_resets_per_address_per_hour = 1000;
    })
    .await
    else {
        return;
    };
    let user = app.register().await;
    let ghost = format!("ghost-{}@example.com", uuid::Uuid::new_v4().simple());
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for _ in 0..25 {
        for (email, times) in [(&user.email, &mut known), (&ghost, &mut unknown)] {
            let start = Instant::now();
            let r = request_reset(&app, email).await;
            times.push(start.elapsed());
            assert_eq!(r.body, json!({"status": "ok"}), "{}", r.text);
        }
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort_unstable();
        v[v.len() / 2]
    };
    let (k, u) = (median(&mut known), median(&mut unknown));
    let slack = Duration::from_millis(5);
    assert!(
        k <= u * 2 + slack && u <= k * 2 + slack,
        "medians: known {k:?}, unknown {u:?}"
    );
}

/// Reset mails are limited per address (whether or not it has an account, so the 429 tells
/// nothing) and per client address; the counts live in the database.
async fn reset_requests_are_limited_per_address_and_per_client(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |c| {
        c.identity.password_resets_per_hour = 2;
        c.identity.password_resets_per_address_per_hour = 7;
    })
    .await
    else {
        return;
    };
    let user = app.register().await;
    let ghost = format!("ghost-{}@example.com", uuid::Uuid::new_v4().simple());
    for email in [&user.email, &ghost] {
        for _ in 0..2 {
            request_reset(&app, email).await.results();
        }
        let r = request_reset(&app, email).await;
        let e = r.expect_error(429);
        assert_eq!(
            e["message"],
            "Too many password reset requests; try again later"
        );
    }
    // Six requests so far from this client; the seventh passes, the eighth does not.
    let fresh = |n: u32| format!("fresh-{n}-{}@example.com", uuid::Uuid::new_v4().simple());
    request_reset(&app, &fresh(1)).await.results();
    request_reset(&app, &fresh(2)).await.expect_error(429);
    let counters = "SELECT COUNT(*) FROM rate_limits \
                    WHERE scope LIKE 'password_reset%' AND $1 IS NOT NULL";
    let any = uuid::Uuid::nil().to_string();
    assert_eq!(
        count(&app.identity_db, counters, &any).await,
        4,
        "3 addresses and 1 client"
    );
    let stored =
        "SELECT COUNT(*) FROM rate_limits WHERE key_hash LIKE '%example%' AND $1 IS NOT NULL";
    assert_eq!(
        count(&app.identity_db, stored, &any).await,
        0,
        "no address in clear"
    );
    app.post(REQUEST, &Auth::None, json!({"email": "not an address"}))
        .await
        .expect_error(400);
}

dual!(a_reset_link_is_mailed_works_once_and_ends_every_session);
dual_backend!(
    reset_requests_take_the_same_time_whether_or_not_the_address_exists,
    reset_requests_are_limited_per_address_and_per_client,
);
