//! TK-6 under load: `platform rotate-signing-key` runs while clients keep calling an
//! authenticated route with fresh access tokens; not one request is refused.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use serde_json::json;

use super::{platform_binary, stdout_of};
use crate::helpers::{Backend, dual_backend, spawn_app_with};

/// Concurrent clients.
const CLIENTS: usize = 8;

/// What the clients did.
#[derive(Debug, Default)]
struct Counts {
    /// Access tokens minted (`POST /api/v1/auth/token`).
    minted: AtomicU64,
    /// Authenticated calls (`GET /api/v1/user` with a fresh access token).
    calls: AtomicU64,
    /// Answers other than 200, of either.
    refused: AtomicU64,
}

fn kid_of(jwt: &str) -> String {
    jsonwebtoken::decode_header(jwt).unwrap().kid.unwrap()
}

/// One client: mints an access token with its personal access token, calls the API with it,
/// and again; records each minted token's kid with the time it was seen.
async fn client(
    http: reqwest::Client,
    base: String,
    pat: String,
    counts: Arc<Counts>,
    stop: Arc<AtomicBool>,
    kids: Arc<std::sync::Mutex<Vec<(Instant, String)>>>,
) {
    while !stop.load(Ordering::Relaxed) {
        let r = http
            .post(format!("{base}/api/v1/auth/token"))
            .header("authorization", format!("ApiKey {pat}"))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        counts.minted.fetch_add(1, Ordering::Relaxed);
        if r.status() != 200 {
            counts.refused.fetch_add(1, Ordering::Relaxed);
            eprintln!("token refused: {} {}", r.status(), r.text().await.unwrap());
            continue;
        }
        let body: serde_json::Value = r.json().await.unwrap();
        let jwt = body["results"]["accessToken"].as_str().unwrap().to_owned();
        kids.lock().unwrap().push((Instant::now(), kid_of(&jwt)));
        let r = http
            .get(format!("{base}/api/v1/user"))
            .bearer_auth(&jwt)
            .send()
            .await
            .unwrap();
        counts.calls.fetch_add(1, Ordering::Relaxed);
        if r.status() != 200 {
            counts.refused.fetch_add(1, Ordering::Relaxed);
            eprintln!("call refused: {} {}", r.status(), r.text().await.unwrap());
        }
    }
}

/// TK-6: the rotation publishes the new key at once and the service signs with it only after
/// twice JWKS_CACHE_SECONDS, once every verifier (the gateway, identity-svc itself) has it;
/// tokens of the old key keep verifying. Eight clients call throughout: 0 refusals.
async fn tk_6_rotate_signing_key_under_load_refuses_nothing(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |c| {
        c.key_set.jwks_cache_seconds = 1;
    })
    .await
    else {
        return;
    };
    let publish_delay = Duration::from_secs(2);
    let mut pats = Vec::new();
    for i in 0..4 {
        let user = app.register().await;
        let (_, pat) = app
            .create_pat(&user, json!({"description": format!("load {i}")}))
            .await;
        pats.push(pat);
    }
    let before = app.access_token(&pats[0]).await;
    let old_kid = kid_of(&before);
    let counts = Arc::new(Counts::default());
    let stop = Arc::new(AtomicBool::new(false));
    let kids = Arc::new(std::sync::Mutex::new(Vec::new()));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..CLIENTS {
        tasks.push(tokio::spawn(client(
            app.http.clone(),
            app.base.clone(),
            pats[i % pats.len()].clone(),
            counts.clone(),
            stop.clone(),
            kids.clone(),
        )));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let rotation_started = Instant::now();
    let args = ["rotate-signing-key"];
    let run = tokio::process::Command::from(platform_binary(&app, &args, &[]))
        .output()
        .await
        .unwrap();
    let out = stdout_of(&args, run);
    let new_kid = out.lines().last().unwrap().to_owned();
    assert_ne!(new_kid, old_kid);
    // Load on until the new key has signed for a while.
    let deadline = Instant::now() + Duration::from_secs(30);
    let first_new = loop {
        let seen = kids
            .lock()
            .unwrap()
            .iter()
            .find(|(_, k)| *k == new_kid)
            .map(|(t, _)| *t);
        if let Some(t) = seen {
            break t;
        }
        assert!(Instant::now() < deadline, "the new key never signed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = started.elapsed();
    // The token minted before the rotation, by the old key, still verifies.
    let r = app
        .http
        .get(format!("{}/api/v1/user", app.base))
        .bearer_auth(&before)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "a token of the old key verifies");

    let seen = kids.lock().unwrap().clone();
    let by_new = seen.iter().filter(|(_, k)| *k == new_kid).count();
    let by_old = seen.iter().filter(|(_, k)| *k == old_kid).count();
    let (minted, calls, refused) = (
        counts.minted.load(Ordering::Relaxed),
        counts.calls.load(Ordering::Relaxed),
        counts.refused.load(Ordering::Relaxed),
    );
    eprintln!(
        "tk_6 rotate-signing-key under load ({backend:?}): {CLIENTS} clients, {:.1} s, \
         {minted} tokens minted ({by_old} by the old key, {by_new} by the new), {calls} \
         authenticated calls, {refused} refused; the new key signed {:.2} s after the rotation \
         began",
        elapsed.as_secs_f64(),
        (first_new - rotation_started).as_secs_f64()
    );
    assert_eq!(refused, 0, "requests refused during the rotation");
    assert!(by_old > 0 && by_new > 0, "{by_old} / {by_new}");
    assert!(
        first_new - rotation_started >= publish_delay,
        "the new key signed before it was published for twice the verifiers' cache time"
    );
    assert_eq!(
        seen.iter()
            .filter(|(_, k)| *k != old_kid && *k != new_kid)
            .count(),
        0,
        "no other key signed"
    );
}

dual_backend!(tk_6_rotate_signing_key_under_load_refuses_nothing);
