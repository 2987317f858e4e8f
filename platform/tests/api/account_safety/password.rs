//! Changing one's password, re-hashing at login (AU-3), `Secure` cookies.

use serde_json::json;

use super::{
    api_session, assert_not_in, assert_not_logged, canary_password, login, refresh, second_session,
    store_hash, stored_hash, whoami,
};
use crate::helpers::{Auth, Backend, TestApp, dual, dual_backend, spawn_app_with};

const CHANGE: &str = "/api/v1/user/password";

/// A password change needs the current password (a wrong one answers 403 and changes
/// nothing), applies the policy to the new one (AU-5), keeps the session it was made in and
/// ends every other session, refresh token and access token of the user (AU-10); personal
/// access tokens stay.
async fn a_password_change_needs_the_current_one_and_ends_the_other_sessions(app: TestApp) {
    let old = canary_password("old");
    let new = canary_password("new");
    let wrong = canary_password("wrong");
    let email = format!("change-{}@example.com", uuid::Uuid::new_v4().simple());
    let user = app.register_with(&email, &old).await;
    let here = Auth::Cookie(user.cookie.clone());
    let other = Auth::Cookie(second_session(&app, &user).await);
    let (jwt, refresh_token) = api_session(&app, &user).await;
    let (_, pat) = app.create_pat(&user, json!({"description": "stays"})).await;

    let r = app
        .post(
            CHANGE,
            &here,
            json!({"password": wrong, "newPassword": new}),
        )
        .await;
    let e = r.expect_error(403);
    assert_eq!(e["message"], "The current password is not correct");
    assert_not_in(&r, &[&old, &new, &wrong]);
    assert_eq!(whoami(&app, &other).await, 200, "a refusal changes nothing");

    let r = app
        .post(
            CHANGE,
            &here,
            json!({"password": old, "newPassword": "password123"}),
        )
        .await;
    r.expect_error(400);
    let r = app.post(CHANGE, &here, json!({"password": old})).await;
    r.expect_error(400);
    let r = app
        .post(
            CHANGE,
            &Auth::None,
            json!({"password": old, "newPassword": new}),
        )
        .await;
    r.expect_error(401);

    let r = app
        .post(CHANGE, &here, json!({"password": old, "newPassword": new}))
        .await;
    assert_eq!(r.results(), &serde_json::Value::Null, "{}", r.text);
    assert_not_in(&r, &[&old, &new]);

    assert_eq!(
        whoami(&app, &here).await,
        200,
        "the session of the change stays"
    );
    assert_eq!(whoami(&app, &other).await, 401, "another session ended");
    assert_eq!(
        whoami(&app, &Auth::Bearer(jwt)).await,
        401,
        "its access token too"
    );
    assert_eq!(
        refresh(&app, &refresh_token).await,
        401,
        "and an API client's session"
    );
    assert_eq!(
        whoami(&app, &Auth::ApiKey(pat)).await,
        200,
        "tokens are no sessions"
    );

    login(&app, &email, &old).await.expect_error(401);
    let r = login(&app, &email, &new).await;
    r.results();
    assert_not_logged(&[&old, &new, &wrong]);
}

/// AU-3: a user whose hash was made with weaker parameters (m=9216, t=4) logs in, and the
/// stored hash now has the current ones; the password still works, the hash is not rewritten
/// again, and a wrong password rewrites nothing.
async fn au_3_a_login_rehashes_a_hash_with_weaker_parameters(app: TestApp) {
    use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, Version};
    let password = canary_password("legacy");
    let user = app
        .register_with(
            &format!("legacy-{}@example.com", uuid::Uuid::new_v4().simple()),
            &password,
        )
        .await;
    let legacy = Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(9216, 4, 1, None).unwrap(),
    )
    .hash_password(password.as_bytes())
    .unwrap()
    .to_string();
    assert!(
        legacy.starts_with("$argon2id$v=19$m=9216,t=4,p=1$"),
        "{legacy}"
    );
    store_hash(&app, &user.user_uuid, &legacy).await;

    login(&app, &user.email, "not the password at all")
        .await
        .expect_error(401);
    assert_eq!(
        stored_hash(&app, &user.user_uuid).await,
        legacy,
        "a failure rewrites nothing"
    );

    login(&app, &user.email, &password).await.results();
    let upgraded = stored_hash(&app, &user.user_uuid).await;
    assert!(
        upgraded.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{upgraded}"
    );
    assert!(!upgraded.contains(&password));

    login(&app, &user.email, &password).await.results();
    assert_eq!(
        stored_hash(&app, &user.user_uuid).await,
        upgraded,
        "current hashes stay"
    );
    assert_not_logged(&[&password]);
}

/// The session cookie is `Secure` whenever `PUBLIC_URL` is https, even with `COOKIE_SECURE`
/// off (its default), and so is the cookie that clears it; over a plain http URL it is not.
async fn cookies_are_secure_when_the_public_url_is_https(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |c| {
        c.gateway.public_url = Some("https://platform.example.test".into());
    })
    .await
    else {
        return;
    };
    assert!(
        !app.base.starts_with("https"),
        "the test server itself is plain http"
    );
    let email = format!("secure-{}@example.com", uuid::Uuid::new_v4().simple());
    let password = canary_password("secure");
    let r = app
        .post(
            "/api/v1/user",
            &Auth::None,
            json!({"email": email, "password": password, "firstName": "S", "lastName": "C"}),
        )
        .await;
    let set = |r: &crate::helpers::Reply| {
        r.headers
            .get(reqwest::header::SET_COOKIE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert!(set(&r).contains("; Secure"), "{}", set(&r));
    let login = super::login(&app, &email, &password).await;
    assert!(set(&login).contains("; Secure"), "{}", set(&login));
    let cookie = login.session_cookie().unwrap();
    let out = app.get("/api/v1/logout", &Auth::Cookie(cookie)).await;
    assert!(
        set(&out).contains("Max-Age=0") && set(&out).contains("; Secure"),
        "{}",
        set(&out)
    );

    let Some(plain) = crate::helpers::spawn_app(backend).await else {
        return;
    };
    let u = plain.register().await;
    let r = super::login(&plain, &u.email, &u.password).await;
    assert!(!set(&r).contains("Secure"), "{}", set(&r));
}

dual!(
    a_password_change_needs_the_current_one_and_ends_the_other_sessions,
    au_3_a_login_rehashes_a_hash_with_weaker_parameters,
);
dual_backend!(cookies_are_secure_when_the_public_url_is_https);
