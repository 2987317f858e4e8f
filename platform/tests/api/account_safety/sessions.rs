//! Signing out everywhere (AU-10).

use serde_json::json;

use super::{api_session, end_all_sessions, refresh, second_session, whoami};
use crate::helpers::{Auth, TestApp, dual};

/// AU-10: `DELETE /api/v1/user/me/sessions` ends every session of the caller: each browser
/// session, each API client's refresh token, and every access JWT issued for one, refused on
/// the next request through identity-svc and through the other services alike. Personal access
/// tokens are not sessions and stay. Another user's sessions are untouched.
async fn signing_out_everywhere_ends_every_session_and_keeps_tokens(app: TestApp) {
    let user = app.register().await;
    let bystander = app.register().await;
    let first = Auth::Cookie(user.cookie.clone());
    let second = Auth::Cookie(second_session(&app, &user).await);
    let (jwt, refresh_token) = api_session(&app, &user).await;
    // An access token exchanged for the browser session, as the gateway also holds one.
    let exchanged = app.post("/api/v1/auth/token", &second, json!({})).await;
    let exchanged = exchanged.results()["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, pat) = app.create_pat(&user, json!({"description": "stays"})).await;
    for auth in [
        &first,
        &second,
        &Auth::Bearer(jwt.clone()),
        &Auth::Bearer(exchanged.clone()),
    ] {
        assert_eq!(whoami(&app, auth).await, 200);
    }
    // projects-svc and connections-svc check the credential through identity-svc.
    let projects = "/api/v1/org/projects";
    let org = app
        .send(
            reqwest::Method::PUT,
            "/api/v1/org",
            &first,
            Some(json!({"name": "Everywhere"})),
        )
        .await;
    assert!(org.status.is_success(), "{}", org.text);
    assert_eq!(
        app.get(projects, &Auth::Bearer(jwt.clone())).await.status,
        200
    );

    let r = end_all_sessions(&app, &second).await;
    assert_eq!(r.results(), &serde_json::Value::Null, "{}", r.text);
    let cleared = r
        .headers
        .get(reqwest::header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(
        cleared.starts_with("connect.sid=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );

    assert_eq!(whoami(&app, &first).await, 401, "the other browser session");
    assert_eq!(
        whoami(&app, &second).await,
        401,
        "the session it was asked in"
    );
    assert_eq!(
        whoami(&app, &Auth::Bearer(jwt.clone())).await,
        401,
        "an API client's JWT"
    );
    assert_eq!(
        whoami(&app, &Auth::Bearer(exchanged)).await,
        401,
        "a browser session's JWT"
    );
    assert_eq!(
        app.get(projects, &Auth::Bearer(jwt)).await.status,
        401,
        "through projects-svc"
    );
    assert_eq!(
        refresh(&app, &refresh_token).await,
        401,
        "the refresh token"
    );
    assert_eq!(
        whoami(&app, &Auth::ApiKey(pat.clone())).await,
        200,
        "a personal access token stays"
    );
    assert_eq!(
        whoami(&app, &Auth::Cookie(bystander.cookie.clone())).await,
        200,
        "another user"
    );

    // With a personal access token it ends the sessions opened since; the token stays.
    let fresh = Auth::Cookie(second_session(&app, &user).await);
    let r = end_all_sessions(&app, &Auth::ApiKey(pat.clone())).await;
    r.results();
    assert_eq!(whoami(&app, &fresh).await, 401);
    assert_eq!(whoami(&app, &Auth::ApiKey(pat)).await, 200);
    end_all_sessions(&app, &Auth::None).await.expect_error(401);
}

dual!(signing_out_everywhere_ends_every_session_and_keeps_tokens);
