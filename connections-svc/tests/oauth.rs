//! The OAuth2 token client against a fake RFC 6749 token server on loopback: real HTTP, the real
//! client code. The fake server checks the grant, the code or refresh token, the redirect URI,
//! the headers and the Basic client credentials, and answers as RFC 6749 §5.1/§5.2 do.

use std::{
    io::Write,
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::post,
};
use base64::{Engine as _, engine::general_purpose::STANDARD as B64};
use chrono::{TimeDelta, Utc};
use connections_svc::oauth::{MAX_RESPONSE_BYTES, OAuthClient, OAuthError, Providers, Tokens};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
};

// Canaries: none may appear in an error, a Debug output or a tracing line.
const CLIENT_ID: &str = "client-1";
const CLIENT_SECRET: &str = "CANARY-SECRET-7f3a:é+/ x";
const CODE: &str = "CANARY-CODE-51c2";
const ACCESS: &str = "CANARY-ACCESS-90d1";
const REFRESH: &str = "CANARY-REFRESH-2b7e";
const ROTATED: &str = "CANARY-ROTATED-c4e8";
const KEPT: &str = "CANARY-KEPT-e6a0";
const REDIRECT_URI: &str = "https://app.example.com/oauth/callback";
const CANARIES: [&str; 7] = [
    CLIENT_SECRET,
    "CANARY-SECRET",
    CODE,
    ACCESS,
    REFRESH,
    ROTATED,
    KEPT,
];

#[derive(Default)]
struct Fake {
    token_calls: AtomicUsize,
    redirect_target_calls: AtomicUsize,
}

fn rfc_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut response = (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(json!({"error": error, "error_description": description})),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Basic realm=\"token\""),
        );
    }
    response
}

fn granted(body: serde_json::Value) -> Response {
    ([(header::CACHE_CONTROL, "no-store")], axum::Json(body)).into_response()
}

/// Client credentials of an `Authorization: Basic` header, form-url-decoded (RFC 6749 §2.3.1).
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let decoded = B64.decode(value.strip_prefix("Basic ")?).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let decode = |s: &str| {
        url::form_urlencoded::parse(format!("v={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    Some((decode(id)?, decode(secret)?))
}

async fn token(State(fake): State<Arc<Fake>>, headers: HeaderMap, body: Bytes) -> Response {
    fake.token_calls.fetch_add(1, Ordering::SeqCst);
    let header_is = |name: header::HeaderName, value: &str| {
        headers.get(name).and_then(|v| v.to_str().ok()) == Some(value)
    };
    if !header_is(header::ACCEPT, "application/json")
        || !header_is(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
    {
        return rfc_error(StatusCode::BAD_REQUEST, "invalid_request", "headers");
    }
    match basic_credentials(&headers) {
        Some((id, secret)) if id == CLIENT_ID && secret == CLIENT_SECRET => {}
        // A careless provider echoing what it got: the client must redact it.
        Some((_, secret)) => {
            return rfc_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                &format!("client authentication failed for secret {secret}"),
            );
        }
        None => return rfc_error(StatusCode::UNAUTHORIZED, "invalid_client", "no Basic"),
    }
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let param = |name: &str| {
        let mut values = form
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str());
        match (values.next(), values.next()) {
            (Some(v), None) => Some(v),
            _ => None,
        }
    };
    if param("client_secret").is_some() || param("client_id").is_some() {
        return rfc_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "two client authentications",
        );
    }
    match param("grant_type") {
        Some("authorization_code") => {
            if param("redirect_uri") != Some(REDIRECT_URI) {
                return rfc_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "redirect_uri mismatch",
                );
            }
            match param("code") {
                Some(CODE) => granted(json!({
                    "access_token": ACCESS,
                    "token_type": "Bearer",
                    "expires_in": 3600,
                    "refresh_token": REFRESH,
                    "scope": "files.read files.write",
                })),
                Some(other) => rfc_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    &format!("authorization code {other} is invalid\u{1b}[31m or expired\n"),
                ),
                None => rfc_error(StatusCode::BAD_REQUEST, "invalid_request", "no code"),
            }
        }
        Some("refresh_token") => match param("refresh_token") {
            Some(REFRESH) => granted(json!({
                "access_token": "new-access-1",
                "token_type": "bearer",
                "expires_in": "1800",
                "refresh_token": ROTATED,
            })),
            Some(KEPT) => granted(json!({
                "access_token": "new-access-2",
                "token_type": "Bearer",
                "expires_in": 1800,
            })),
            _ => rfc_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "refresh token revoked",
            ),
        },
        _ => rfc_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", ""),
    }
}

async fn html_500() -> Response {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        [(header::CONTENT_TYPE, "text/html")],
        "<html><body>Internal Server Error</body></html>",
    )
        .into_response()
}

async fn huge() -> Response {
    let padding = "x".repeat(MAX_RESPONSE_BYTES);
    granted(json!({"access_token": ACCESS, "token_type": "Bearer", "padding": padding}))
}

async fn redirect() -> Response {
    (StatusCode::FOUND, [(header::LOCATION, "/elsewhere")]).into_response()
}

async fn elsewhere(State(fake): State<Arc<Fake>>) -> Response {
    fake.redirect_target_calls.fetch_add(1, Ordering::SeqCst);
    granted(json!({"access_token": ACCESS, "token_type": "Bearer"}))
}

async fn start_fake() -> (SocketAddr, Arc<Fake>) {
    let fake = Arc::new(Fake::default());
    let app = Router::new()
        .route("/token", post(token))
        .route("/html500", post(html_500))
        .route("/huge", post(huge))
        .route("/redirect", post(redirect))
        .route("/elsewhere", post(elsewhere).get(elsewhere))
        .with_state(fake.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, fake)
}

/// A server that accepts connections and never answers.
async fn start_silent() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    addr
}

/// A server that answers `reply` to the first bytes of each connection, whatever they are (an
/// HTTP request, a TLS ClientHello), then closes.
async fn start_raw(reply: Vec<u8>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let reply = reply.clone();
            tokio::spawn(async move {
                let mut request = vec![0; 64 * 1024];
                let _ = socket.read(&mut request).await;
                let _ = socket.write_all(&reply).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    addr
}

fn provider_json(token_url: &str, secret: &str) -> serde_json::Value {
    json!({
        "tokenUrl": token_url,
        "clientId": CLIENT_ID,
        "clientSecret": secret,
        "redirectUri": REDIRECT_URI,
    })
}

/// Providers: `good` (the fake's /token), `wrongsecret`, and one per other fake route.
fn providers(addr: SocketAddr) -> Providers {
    let base = format!("http://{addr}");
    let config = json!({
        "good": provider_json(&format!("{base}/token"), CLIENT_SECRET),
        "wrongsecret": provider_json(&format!("{base}/token"), "CANARY-SECRET-wrong"),
        "html500": provider_json(&format!("{base}/html500"), CLIENT_SECRET),
        "huge": provider_json(&format!("{base}/huge"), CLIENT_SECRET),
        "redirect": provider_json(&format!("{base}/redirect"), CLIENT_SECRET),
    });
    Providers::parse(&config.to_string()).unwrap()
}

fn client_for(json: serde_json::Value, timeout: Duration) -> OAuthClient {
    OAuthClient::new(Providers::parse(&json.to_string()).unwrap(), timeout).unwrap()
}

async fn fake_client() -> (OAuthClient, Arc<Fake>) {
    let (addr, fake) = start_fake().await;
    let client = OAuthClient::new(providers(addr), Duration::from_secs(5)).unwrap();
    (client, fake)
}

fn assert_no_canary(what: &str, text: &str) {
    for canary in CANARIES {
        assert!(!text.contains(canary), "{what} leaks {canary:?}: {text}");
    }
}

fn assert_clean_error(error: &OAuthError) {
    assert_no_canary("error Debug", &format!("{error:?}"));
    assert_no_canary("error Display", &error.to_string());
}

#[tokio::test]
async fn exchanges_a_code() {
    let (client, fake) = fake_client().await;
    assert!(client.supports("good"));
    let before = Utc::now();
    let tokens = client.exchange_code("good", CODE).await.unwrap();
    let after = Utc::now();
    assert_eq!(tokens.access_token.expose_secret(), ACCESS);
    assert_eq!(
        tokens
            .refresh_token
            .as_ref()
            .map(ExposeSecret::expose_secret),
        Some(REFRESH)
    );
    let expires_at = tokens.expires_at.unwrap();
    assert!(expires_at >= before + TimeDelta::seconds(3600));
    assert!(expires_at <= after + TimeDelta::seconds(3600));
    assert_eq!(tokens.scope.as_deref(), Some("files.read files.write"));
    assert_eq!(fake.token_calls.load(Ordering::SeqCst), 1);
    assert_no_canary("Tokens Debug", &format!("{tokens:?}"));
}

#[tokio::test]
async fn a_wrong_code_is_invalid_grant_and_its_echo_is_redacted() {
    let (client, _) = fake_client().await;
    let error = client
        .exchange_code("good", "CANARY-CODE-wrong")
        .await
        .unwrap_err();
    match &error {
        OAuthError::Rejected { error, description } => {
            assert_eq!(error, "invalid_grant");
            // The fake echoes the code, with an ANSI escape and a newline: redacted, cleaned.
            assert_eq!(
                description.as_deref(),
                Some("authorization code [REDACTED] is invalid [31m or expired")
            );
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
    assert_clean_error(&error);
    assert!(!format!("{error:?}").contains("CANARY-CODE-wrong"));
}

#[tokio::test]
async fn a_wrong_client_secret_is_invalid_client() {
    let (client, _) = fake_client().await;
    let error = client.exchange_code("wrongsecret", CODE).await.unwrap_err();
    assert!(
        matches!(&error, OAuthError::Rejected { error, .. } if error == "invalid_client"),
        "{error:?}"
    );
    // The fake echoed the (wrong) secret it received.
    assert!(format!("{error:?}").contains("[REDACTED]"), "{error:?}");
    assert_clean_error(&error);
}

#[tokio::test]
async fn refresh_returns_the_rotated_refresh_token() {
    let (client, _) = fake_client().await;
    let before = Utc::now();
    let tokens = client
        .refresh("good", &SecretString::from(REFRESH))
        .await
        .unwrap();
    assert_eq!(tokens.access_token.expose_secret(), "new-access-1");
    assert_eq!(
        tokens
            .refresh_token
            .as_ref()
            .map(ExposeSecret::expose_secret),
        Some(ROTATED)
    );
    // "1800" as a string, as some providers send it.
    let expires_at = tokens.expires_at.unwrap();
    assert!(expires_at >= before + TimeDelta::seconds(1800));
    assert!(expires_at <= Utc::now() + TimeDelta::seconds(1800));
    assert!(tokens.scope.is_none());
}

#[tokio::test]
async fn refresh_without_a_new_refresh_token_keeps_the_old_one() {
    let (client, _) = fake_client().await;
    let tokens = client
        .refresh("good", &SecretString::from(KEPT))
        .await
        .unwrap();
    assert_eq!(tokens.access_token.expose_secret(), "new-access-2");
    assert_eq!(
        tokens
            .refresh_token
            .as_ref()
            .map(ExposeSecret::expose_secret),
        Some(KEPT)
    );
}

#[tokio::test]
async fn a_revoked_refresh_token_is_invalid_grant() {
    let (client, _) = fake_client().await;
    let error = client
        .refresh("good", &SecretString::from(ROTATED))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, OAuthError::Rejected { error, .. } if error == "invalid_grant"),
        "{error:?}"
    );
    assert_clean_error(&error);
}

#[tokio::test]
async fn a_500_with_html_is_an_invalid_response() {
    let (client, _) = fake_client().await;
    let error = client.exchange_code("html500", CODE).await.unwrap_err();
    match &error {
        OAuthError::InvalidResponse(text) => {
            assert!(text.contains("500"), "{text}");
            assert!(!text.contains("<html>"), "the body is not quoted: {text}");
        }
        other => panic!("expected InvalidResponse, got {other:?}"),
    }
    assert_clean_error(&error);
}

#[tokio::test]
async fn a_body_over_the_cap_is_an_invalid_response() {
    // Declared with Content-Length by axum.
    let (client, _) = fake_client().await;
    let error = client.exchange_code("huge", CODE).await.unwrap_err();
    assert!(
        matches!(&error, OAuthError::InvalidResponse(t) if t.contains("exceeds")),
        "{error:?}"
    );
    assert_clean_error(&error);

    // Chunked, no Content-Length: the cap applies while reading.
    let mut reply =
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            .to_vec();
    let chunk = vec![b' '; 8 * 1024];
    for _ in 0..(MAX_RESPONSE_BYTES / chunk.len() + 2) {
        reply.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        reply.extend_from_slice(&chunk);
        reply.extend_from_slice(b"\r\n");
    }
    reply.extend_from_slice(b"0\r\n\r\n");
    let addr = start_raw(reply).await;
    let client = client_for(
        json!({"chunked": provider_json(&format!("http://{addr}/token"), CLIENT_SECRET)}),
        Duration::from_secs(5),
    );
    let error = client.exchange_code("chunked", CODE).await.unwrap_err();
    assert!(
        matches!(&error, OAuthError::InvalidResponse(t) if t.contains("exceeds")),
        "{error:?}"
    );

    // A Content-Length that lies low does not let more through either: the body ends there.
    let mut reply =
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
            .to_vec();
    reply.extend(std::iter::repeat_n(b' ', MAX_RESPONSE_BYTES * 2));
    let addr = start_raw(reply).await;
    let client = client_for(
        json!({"liar": provider_json(&format!("http://{addr}/token"), CLIENT_SECRET)}),
        Duration::from_secs(5),
    );
    let error = client.exchange_code("liar", CODE).await.unwrap_err();
    assert!(
        matches!(&error, OAuthError::InvalidResponse(t) if t.contains("access_token")),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_silent_server_times_out_as_unreachable() {
    let addr = start_silent().await;
    let client = client_for(
        json!({"silent": provider_json(&format!("http://{addr}/token"), CLIENT_SECRET)}),
        Duration::from_millis(300),
    );
    let started = Instant::now();
    let error = client.exchange_code("silent", CODE).await.unwrap_err();
    let elapsed = started.elapsed();
    assert!(matches!(&error, OAuthError::Unreachable(_)), "{error:?}");
    assert!(elapsed >= Duration::from_millis(290), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    assert_clean_error(&error);
}

#[tokio::test]
async fn a_closed_port_is_unreachable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client = client_for(
        json!({"closed": provider_json(&format!("http://{addr}/token"), CLIENT_SECRET)}),
        Duration::from_secs(5),
    );
    let error = client.exchange_code("closed", CODE).await.unwrap_err();
    assert!(matches!(&error, OAuthError::Unreachable(_)), "{error:?}");
    assert_clean_error(&error);
}

#[tokio::test]
async fn https_goes_through_rustls() {
    // Not TLS on the other end: the handshake fails, as an Unreachable error (not a panic for a
    // missing crypto provider, not a plaintext request).
    let addr = start_raw(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_vec()).await;
    let client = client_for(
        json!({"tls": provider_json(&format!("https://127.0.0.1:{}/token", addr.port()), CLIENT_SECRET)}),
        Duration::from_secs(5),
    );
    let error = client.exchange_code("tls", CODE).await.unwrap_err();
    assert!(matches!(&error, OAuthError::Unreachable(_)), "{error:?}");
    assert_clean_error(&error);
}

#[tokio::test]
async fn a_redirect_is_not_followed() {
    let (client, fake) = fake_client().await;
    let error = client.exchange_code("redirect", CODE).await.unwrap_err();
    assert!(
        matches!(&error, OAuthError::InvalidResponse(t) if t.contains("302")),
        "{error:?}"
    );
    assert_eq!(fake.redirect_target_calls.load(Ordering::SeqCst), 0);
    assert_clean_error(&error);
}

#[tokio::test]
async fn an_unknown_provider_is_refused_without_a_request() {
    let (client, fake) = fake_client().await;
    assert!(!client.supports("nope"));
    let error = client.exchange_code("nope", CODE).await.unwrap_err();
    assert!(matches!(error, OAuthError::UnknownProvider), "{error:?}");
    let error = client
        .refresh("nope", &SecretString::from(REFRESH))
        .await
        .unwrap_err();
    assert!(matches!(error, OAuthError::UnknownProvider), "{error:?}");
    assert_eq!(fake.token_calls.load(Ordering::SeqCst), 0);
}

#[test]
fn config_errors_never_echo_the_secret() {
    let secret = "CANARY-SECRET-config";
    let cases = [
        // Not JSON (truncated after the secret).
        format!(r#"{{"good": {{"tokenUrl": "https://x.example/t", "clientSecret": "{secret}""#),
        // Not an object.
        format!(r#"["{secret}"]"#),
        // A provider that is not an object.
        format!(r#"{{"good": "{secret}"}}"#),
        // http to a non-loopback host.
        provider_config("http://oauth.example.com/token", Some(secret)),
        // Another scheme.
        provider_config("ftp://127.0.0.1/token", Some(secret)),
        // Credentials in the URL.
        provider_config(
            &format!("https://user:{secret}@oauth.example.com/token"),
            Some(secret),
        ),
        // A fragment.
        provider_config("https://oauth.example.com/token#x", Some(secret)),
        // Not a URL.
        provider_config("/token", Some(secret)),
        // Missing field.
        provider_config("https://oauth.example.com/token", None),
        // Wrong type.
        format!(
            r#"{{"good": {{"tokenUrl": "https://x.example/t", "clientId": "{secret}", "clientSecret": ["{secret}"]}}}}"#
        ),
        // Empty secret.
        provider_config("https://oauth.example.com/token", Some("")),
        // Unknown field (a typo).
        format!(
            r#"{{"good": {{"tokenUrl": "https://x.example/t", "clientId": "c", "clientSecret": "{secret}", "redirectURI": "https://a.example/cb"}}}}"#
        ),
        // A bad slug.
        format!(
            r#"{{"bad slug!": {}}}"#,
            provider_json("https://x.example/t", secret)
        ),
    ];
    for case in &cases {
        let error = Providers::parse(case).expect_err(case);
        assert!(!error.contains("CANARY"), "{case} → {error}");
    }
    let text = |i: usize| Providers::parse(&cases[i]).unwrap_err();
    assert!(text(0).contains("not valid JSON"), "{}", text(0));
    assert!(text(3).contains("https"), "{}", text(3));
    assert!(
        text(8).contains("missing field clientSecret"),
        "{}",
        text(8)
    );
    assert!(
        text(9).contains("clientSecret must be a string"),
        "{}",
        text(9)
    );
    assert!(text(11).contains("redirectURI"), "{}", text(11));
}

fn provider_config(token_url: &str, secret: Option<&str>) -> String {
    let mut provider = json!({"tokenUrl": token_url, "clientId": CLIENT_ID});
    if let Some(secret) = secret {
        provider["clientSecret"] = json!(secret);
    }
    json!({ "good": provider }).to_string()
}

#[test]
fn config_accepts_https_and_loopback_http() {
    let providers = Providers::parse(
        &json!({
            "googledrive": {"tokenUrl": "https://oauth2.googleapis.com/token", "clientId": "c", "clientSecret": "s"},
            "local": {"tokenUrl": "http://127.0.0.1:8080/token", "clientId": "c", "clientSecret": "s", "redirectUri": REDIRECT_URI},
            "local6": {"tokenUrl": "http://[::1]/token", "clientId": "c", "clientSecret": "s", "redirectUri": null},
        })
        .to_string(),
    )
    .unwrap();
    let google = providers.get("googledrive").unwrap();
    assert_eq!(
        google.token_url.as_str(),
        "https://oauth2.googleapis.com/token"
    );
    assert_eq!(google.redirect_uri, None);
    assert_eq!(
        providers.get("local").unwrap().redirect_uri.as_deref(),
        Some(REDIRECT_URI)
    );
    assert!(providers.get("local6").is_some());
    assert!(providers.get("other").is_none());
    assert_eq!(
        providers.slugs().collect::<Vec<_>>(),
        ["googledrive", "local", "local6"]
    );
    assert!(Providers::parse("{}").unwrap().is_empty());
}

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Debug of every public type and every error, and every tracing line (at TRACE, all targets),
/// of successful and failing exchanges: no canary anywhere.
#[tokio::test]
async fn canaries_never_leak() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let (addr, _) = start_fake().await;
    let providers = providers(addr);
    let mut texts = vec![
        format!("{providers:?}"),
        format!("{:?}", providers.get("good").unwrap()),
    ];
    let client = OAuthClient::new(providers, Duration::from_secs(5)).unwrap();
    texts.push(format!("{client:?}"));

    let tokens: Tokens = client.exchange_code("good", CODE).await.unwrap();
    texts.push(format!("{tokens:?}"));
    let refreshed = client
        .refresh("good", tokens.refresh_token.as_ref().unwrap())
        .await
        .unwrap();
    texts.push(format!("{refreshed:?}"));
    let kept = client
        .refresh("good", &SecretString::from(KEPT))
        .await
        .unwrap();
    texts.push(format!("{kept:?}"));

    let mut errors = vec![
        client
            .exchange_code("good", "CANARY-CODE-x")
            .await
            .unwrap_err(),
        client.exchange_code("wrongsecret", CODE).await.unwrap_err(),
        client
            .refresh("good", &SecretString::from(ROTATED))
            .await
            .unwrap_err(),
        client.exchange_code("html500", CODE).await.unwrap_err(),
        client.exchange_code("huge", CODE).await.unwrap_err(),
        client.exchange_code("redirect", CODE).await.unwrap_err(),
        client.exchange_code("nope", CODE).await.unwrap_err(),
    ];
    errors.push(OAuthError::Unreachable("x".into()));
    for error in &errors {
        texts.push(format!("{error:?}"));
        texts.push(error.to_string());
    }
    for text in &texts {
        assert_no_canary("Debug/Display", text);
    }
    assert!(texts.iter().any(|t| t.contains("REDACTED")));

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        log.contains("OAuth2 token endpoint answered"),
        "the capture works: {log}"
    );
    assert_no_canary("tracing", &log);
}
