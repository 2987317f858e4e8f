//! OAuth2 client of the connection providers: exchanges an authorization code for tokens and
//! refreshes expired access tokens, at each provider's token endpoint.
//!
//! - [`OAuthClient::exchange_code`]: authorization code grant, RFC 6749 §4.1.3 (request) and
//!   §5.1 (response).
//! - [`OAuthClient::refresh`]: refresh token grant, RFC 6749 §6.
//! - Client authentication: HTTP Basic (`client_secret_basic`, §2.3.1), client id and secret
//!   each form-url-encoded (Appendix B) before base64, as the RFC requires.
//! - Errors: §5.2 error responses (`invalid_grant`, `invalid_client`, …) become
//!   [`OAuthError::Rejected`]; everything else is [`OAuthError::Unreachable`] (network, timeout,
//!   TLS) or [`OAuthError::InvalidResponse`] (unexpected status, not JSON, no `access_token`,
//!   body too large, token type other than bearer: §7.1 says not to use a token type one does
//!   not understand).
//!
//! Providers come from configuration ([`Providers::parse`], `CONNECTIONS_OAUTH_PROVIDERS`).
//! Token endpoints must be `https`; plain `http` is accepted only for a loopback host (tests).
//!
//! # Transport
//!
//! hyper 1 (the stack reqwest and tonic already bring) with rustls on the **ring** provider and
//! Mozilla's root certificates (`webpki-roots`, as sqlx and lettre here), HTTP/1.1. Redirects are
//! never followed (a 3xx is an invalid response), one timeout bounds the whole exchange
//! (connect, TLS, request, the full response body), and the response body is read frame by frame
//! and abandoned past [`MAX_RESPONSE_BYTES`], whatever `Content-Length` says. Proxy variables
//! (`HTTPS_PROXY`, …) are not consulted: the service needs egress to the token endpoints.
//!
//! # Security (checklist CR-7, CR-8)
//!
//! - The client secret, the authorization code, access and refresh tokens are held in
//!   [`SecretString`]: `Debug` prints `[REDACTED]`, memory is zeroized on drop. They never
//!   appear in an [`OAuthError`], in `Debug` output or in a tracing line (CR-8); the caller
//!   encrypts the tokens before storing them and never returns them (CR-7).
//! - Text from the provider (error codes and descriptions) is untrusted (OWASP API10):
//!   control and bidi-format characters are replaced, the length is capped, and any occurrence
//!   of the secrets sent in the request (client secret, code, refresh token) is redacted, should
//!   a provider echo them.
//! - Configuration errors name the provider and the field, never a value: serde messages can
//!   quote the offending value, so they are not passed on.
//! - Zeroizing is best effort: our request and response buffers are zeroized, but copies made by
//!   hyper, rustls and `serde_json` (escaped strings) are not.

use std::{
    collections::BTreeMap,
    fmt,
    sync::Arc,
    time::{Duration, Instant},
};

use base64::{Engine as _, engine::general_purpose::STANDARD as B64};
use bytes::Bytes;
use chrono::{DateTime, TimeDelta, Utc};
use http::{HeaderValue, Method, Request, StatusCode, header};
use http_body_util::Full;
use hyper_rustls::HttpsConnector;
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::{TokioExecutor, TokioTimer},
};
use secrecy::{ExposeSecret, SecretString, zeroize::Zeroizing};
use serde::Deserialize;
use serde_json::{Map, Value};
use url::{Host, Url, form_urlencoded};

/// Largest token endpoint response read, in bytes; a larger one is [`OAuthError::InvalidResponse`].
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// Largest `expires_in` taken at face value (ten years); beyond it, or negative, the expiry is unknown.
pub const MAX_EXPIRES_IN_SECS: i64 = 10 * 366 * 24 * 60 * 60;
/// Longest error code kept from a provider, in characters.
const MAX_ERROR_CODE_CHARS: usize = 64;
/// Longest error description kept from a provider, in characters.
const MAX_ERROR_TEXT_CHARS: usize = 256;
/// Longest provider slug.
const MAX_SLUG_CHARS: usize = 64;
const REDACTED: &str = "[REDACTED]";
const USER_AGENT: &str = concat!("connections-svc/", env!("CARGO_PKG_VERSION"));

/// One provider's token endpoint and client credentials (`Debug` redacts the secret).
#[derive(Debug, Clone)]
pub struct Provider {
    /// The token endpoint (RFC 6749 §3.2): `https`, or `http` on a loopback host.
    pub token_url: Url,
    pub client_id: String,
    pub client_secret: SecretString,
    /// Sent with the code exchange when set; it must equal the one of the authorization request
    /// (§4.1.3).
    pub redirect_uri: Option<String>,
}

/// Providers by slug (the connection's `provider`, e.g. `"googledrive"`).
#[derive(Debug, Clone, Default)]
pub struct Providers(BTreeMap<String, Provider>);

impl Providers {
    /// Parses `CONNECTIONS_OAUTH_PROVIDERS`: a JSON object
    /// `{"<slug>": {"tokenUrl": "…", "clientId": "…", "clientSecret": "…", "redirectUri": "…"?}}`.
    ///
    /// Slugs are 1 to 64 characters of ASCII letters, digits, `-`, `_` and `.`. Unknown fields are
    /// refused (a typo would otherwise drop a setting silently). The token URL must be absolute,
    /// without credentials or fragment (§3.2), and `https` unless its host is loopback
    /// (`127.0.0.0/8`, `::1`, `localhost`), for tests. Errors name the provider and field, never a
    /// value, so they never echo the client secret.
    pub fn parse(json: &str) -> Result<Providers, String> {
        const WHAT: &str = "CONNECTIONS_OAUTH_PROVIDERS";
        let root: Value = serde_json::from_str(json).map_err(|e| {
            format!(
                "{WHAT} is not valid JSON ({} error at line {}, column {})",
                json_error_kind(&e),
                e.line(),
                e.column()
            )
        })?;
        let Value::Object(entries) = root else {
            return Err(format!("{WHAT} must be a JSON object of providers by slug"));
        };
        let mut providers = BTreeMap::new();
        for (slug, entry) in entries {
            if !valid_slug(&slug) {
                return Err(format!(
                    "{WHAT}: a provider slug is empty, longer than {MAX_SLUG_CHARS} characters or \
                     has characters other than ASCII letters, digits, '-', '_' and '.'"
                ));
            }
            let Value::Object(fields) = entry else {
                return Err(format!("{WHAT}: provider {slug:?} must be a JSON object"));
            };
            let provider =
                parse_provider(fields).map_err(|e| format!("{WHAT}: provider {slug:?}: {e}"))?;
            providers.insert(slug, provider);
        }
        Ok(Providers(providers))
    }

    /// The configuration of this provider slug.
    pub fn get(&self, slug: &str) -> Option<&Provider> {
        self.0.get(slug)
    }

    /// The configured provider slugs, sorted.
    pub fn slugs(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// Whether no provider is configured.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn valid_slug(slug: &str) -> bool {
    !slug.is_empty()
        && slug.len() <= MAX_SLUG_CHARS
        && slug
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn parse_provider(mut fields: Map<String, Value>) -> Result<Provider, String> {
    const KNOWN: [&str; 4] = ["tokenUrl", "clientId", "clientSecret", "redirectUri"];
    if let Some(unknown) = fields.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(format!(
            "unknown field {:?} (expected tokenUrl, clientId, clientSecret, redirectUri)",
            untrusted(unknown, 40, &[])
        ));
    }
    let mut take = |name: &str, required: bool| -> Result<Option<String>, String> {
        match fields.remove(name) {
            Some(Value::String(s)) if s.is_empty() => Err(format!("{name} is empty")),
            Some(Value::String(s)) => Ok(Some(s)),
            None | Some(Value::Null) if !required => Ok(None),
            None | Some(Value::Null) => Err(format!("missing field {name}")),
            Some(_) => Err(format!("{name} must be a string")),
        }
    };
    let token_url = take("tokenUrl", true)?.unwrap_or_default();
    let client_id = take("clientId", true)?.unwrap_or_default();
    let client_secret = SecretString::from(take("clientSecret", true)?.unwrap_or_default());
    let redirect_uri = take("redirectUri", false)?;

    let token_url =
        Url::parse(&token_url).map_err(|e| format!("tokenUrl is not an absolute URL ({e})"))?;
    check_token_url(&token_url)?;
    if let Some(uri) = &redirect_uri {
        let parsed =
            Url::parse(uri).map_err(|e| format!("redirectUri is not an absolute URL ({e})"))?;
        if parsed.fragment().is_some() {
            return Err("redirectUri must not have a fragment (RFC 6749 §3.1.2)".into());
        }
    }
    Ok(Provider {
        token_url,
        client_id,
        client_secret,
        redirect_uri,
    })
}

fn check_token_url(url: &Url) -> Result<(), String> {
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(url) => {}
        "http" => {
            return Err(
                "tokenUrl must be https (plain http is accepted only for a loopback host)".into(),
            );
        }
        _ => return Err("tokenUrl must be an https URL".into()),
    }
    if url.host().is_none() {
        return Err("tokenUrl has no host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("tokenUrl must not carry credentials (use clientId/clientSecret)".into());
    }
    if url.fragment().is_some() {
        return Err("tokenUrl must not have a fragment (RFC 6749 §3.2)".into());
    }
    // The request is built from the serialized URL: make sure hyper accepts it now, not per request.
    http::Uri::try_from(url.as_str())
        .map_err(|_| "tokenUrl is not a valid HTTP URI".to_string())?;
    Ok(())
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        Some(Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

fn json_error_kind(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Io => "I/O",
        serde_json::error::Category::Syntax => "syntax",
        serde_json::error::Category::Data => "data",
        serde_json::error::Category::Eof => "unexpected end of input",
    }
}

/// What a token endpoint granted (`Debug` redacts the tokens).
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access_token: SecretString,
    /// After [`OAuthClient::refresh`], the rotated refresh token, or the one passed in when the
    /// provider issued none.
    pub refresh_token: Option<SecretString>,
    /// Now + `expires_in`; `None` when the provider gave no lifetime or an implausible one
    /// (negative, not an integer, or over [`MAX_EXPIRES_IN_SECS`]): refresh on a 401 then.
    pub expires_at: Option<DateTime<Utc>>,
    /// The granted scope (space-delimited, §3.3), when the provider states it.
    pub scope: Option<String>,
}

/// Why a token request failed. Never carries a secret, a token or the code.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// No configuration for this provider slug.
    #[error("no OAuth2 configuration for this provider")]
    UnknownProvider,
    /// The token endpoint refused the grant (RFC 6749 §5.2): `invalid_grant` (code or refresh
    /// token expired, revoked or already used), `invalid_client`, …. The texts come from the
    /// provider, sanitized and capped.
    #[error("the token endpoint refused the request: {error}{}", .description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Rejected {
        error: String,
        description: Option<String>,
    },
    /// Network error, TLS failure or timeout: worth retrying later.
    #[error("the token endpoint is unreachable: {0}")]
    Unreachable(String),
    /// The answer is not an RFC 6749 response: unexpected status (redirects included), not
    /// JSON, no `access_token`, a token type other than bearer, or a body over
    /// [`MAX_RESPONSE_BYTES`].
    #[error("invalid answer from the token endpoint: {0}")]
    InvalidResponse(String),
}

type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// The OAuth2 token client of all configured providers. Cheap to clone (shared connection pool).
#[derive(Clone)]
pub struct OAuthClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: HttpClient,
    providers: Providers,
    timeout: Duration,
}

impl fmt::Debug for OAuthClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthClient")
            .field(
                "providers",
                &self.inner.providers.slugs().collect::<Vec<_>>(),
            )
            .field("timeout", &self.inner.timeout)
            .finish_non_exhaustive()
    }
}

impl OAuthClient {
    /// A client of these providers; `timeout` bounds each whole token request (connect, TLS,
    /// request and the complete response).
    pub fn new(providers: Providers, timeout: Duration) -> anyhow::Result<Self> {
        anyhow::ensure!(
            !timeout.is_zero(),
            "the OAuth2 request timeout must be positive"
        );
        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        tcp.set_connect_timeout(Some(timeout));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())?
            .https_or_http()
            .enable_http1()
            .wrap_connector(tcp);
        let http = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(4)
            .build(https);
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                providers,
                timeout,
            }),
        })
    }

    /// Whether this provider slug is configured.
    pub fn supports(&self, provider: &str) -> bool {
        self.inner.providers.get(provider).is_some()
    }

    /// The configured provider slugs.
    pub fn providers(&self) -> Vec<String> {
        self.inner.providers.slugs().map(str::to_owned).collect()
    }

    /// Exchanges an authorization code (RFC 6749 §4.1.3): `grant_type=authorization_code`, the
    /// code, the configured `redirect_uri` if any, client authentication with HTTP Basic.
    pub async fn exchange_code(&self, provider: &str, code: &str) -> Result<Tokens, OAuthError> {
        let config = self
            .inner
            .providers
            .get(provider)
            .ok_or(OAuthError::UnknownProvider)?;
        let mut params = vec![("grant_type", "authorization_code"), ("code", code)];
        if let Some(uri) = &config.redirect_uri {
            params.push(("redirect_uri", uri));
        }
        self.token_request(provider, config, "authorization_code", &params, &[code])
            .await
    }

    /// Refreshes an access token (RFC 6749 §6): `grant_type=refresh_token`, no `scope` (the
    /// original one). If the provider rotates the refresh token, the new one is returned and the
    /// old one must be discarded; if the response has no `refresh_token`, the one passed in is
    /// returned, so the caller can always store [`Tokens::refresh_token`].
    pub async fn refresh(
        &self,
        provider: &str,
        refresh_token: &SecretString,
    ) -> Result<Tokens, OAuthError> {
        let config = self
            .inner
            .providers
            .get(provider)
            .ok_or(OAuthError::UnknownProvider)?;
        let token = refresh_token.expose_secret();
        let params = [("grant_type", "refresh_token"), ("refresh_token", token)];
        let mut tokens = self
            .token_request(provider, config, "refresh_token", &params, &[token])
            .await?;
        if tokens.refresh_token.is_none() {
            tokens.refresh_token = Some(refresh_token.clone());
        }
        Ok(tokens)
    }

    /// POSTs the form to the token endpoint and interprets the answer. `secrets` are the
    /// request's secret parameters, redacted from any provider text kept in an error.
    async fn token_request(
        &self,
        slug: &str,
        provider: &Provider,
        grant: &'static str,
        params: &[(&str, &str)],
        secrets: &[&str],
    ) -> Result<Tokens, OAuthError> {
        let client_secret = provider.client_secret.expose_secret();
        let mut redact = secrets.to_vec();
        redact.push(client_secret);

        let body = Zeroizing::new(
            form_urlencoded::Serializer::new(String::new())
                .extend_pairs(params)
                .finish(),
        );
        let request = Request::builder()
            .method(Method::POST)
            .uri(provider.token_url.as_str())
            .header(header::ACCEPT, "application/json")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::USER_AGENT, USER_AGENT)
            .header(
                header::AUTHORIZATION,
                basic_auth(&provider.client_id, client_secret),
            )
            .body(Full::new(Bytes::copy_from_slice(body.as_bytes())))
            .map_err(|_| OAuthError::Unreachable("the token URL is not a valid HTTP URI".into()))?;

        let started = Instant::now();
        let timeout = self.inner.timeout;
        let (status, content_type, body) = tokio::time::timeout(timeout, async {
            let response = self
                .inner
                .http
                .request(request)
                .await
                .map_err(|e| OAuthError::Unreachable(describe_error(&e)))?;
            let (parts, body) = response.into_parts();
            let content_type = parts
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(|v| untrusted(v, 64, &[]));
            let declared = parts
                .headers
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            if declared.is_some_and(|n| n > MAX_RESPONSE_BYTES as u64) {
                return Err(too_large());
            }
            let body = read_capped(body).await?;
            Ok((parts.status, content_type, body))
        })
        .await
        .map_err(|_| {
            OAuthError::Unreachable(format!(
                "no complete answer within {} ms",
                timeout.as_millis()
            ))
        })??;

        tracing::debug!(
            provider = slug,
            grant,
            status = status.as_u16(),
            bytes = body.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "OAuth2 token endpoint answered"
        );
        interpret(
            slug,
            status,
            content_type.as_deref(),
            &body,
            &redact,
            Utc::now(),
        )
    }
}

/// `Authorization: Basic base64(urlencode(id) ":" urlencode(secret))` (§2.3.1), marked sensitive.
fn basic_auth(client_id: &str, client_secret: &str) -> HeaderValue {
    let id: String = form_urlencoded::byte_serialize(client_id.as_bytes()).collect();
    let secret: Zeroizing<String> =
        Zeroizing::new(form_urlencoded::byte_serialize(client_secret.as_bytes()).collect());
    let pair = Zeroizing::new(format!("{id}:{}", secret.as_str()));
    let value = Zeroizing::new(format!("Basic {}", B64.encode(pair.as_bytes())));
    let mut header = HeaderValue::from_str(&value).expect("base64 is always a valid header value");
    header.set_sensitive(true);
    header
}

/// Reads the body frame by frame, giving up as soon as it exceeds [`MAX_RESPONSE_BYTES`].
async fn read_capped<B>(mut body: B) -> Result<Zeroizing<Vec<u8>>, OAuthError>
where
    B: http_body_util::BodyExt + Unpin,
    B::Data: bytes::Buf,
    B::Error: std::error::Error + 'static,
{
    use bytes::Buf as _;
    // Allocated once at the cap, so it never reallocates (which would leave unzeroized copies).
    let mut buf = Zeroizing::new(Vec::with_capacity(MAX_RESPONSE_BYTES));
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| OAuthError::Unreachable(describe_error(&e)))?;
        if let Ok(mut data) = frame.into_data() {
            if data.remaining() > MAX_RESPONSE_BYTES - buf.len() {
                return Err(too_large());
            }
            while data.has_remaining() {
                let chunk = data.chunk();
                let n = chunk.len();
                buf.extend_from_slice(chunk);
                data.advance(n);
            }
        }
    }
    Ok(buf)
}

fn too_large() -> OAuthError {
    OAuthError::InvalidResponse(format!(
        "the response body exceeds {MAX_RESPONSE_BYTES} bytes"
    ))
}

/// A transport error and its causes, without the URL (hyper's errors carry no payload).
fn describe_error(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    untrusted(&text, MAX_ERROR_TEXT_CHARS, &[])
}

/// The fields of a §5.1 success or §5.2 error response we use; others are ignored.
#[derive(Deserialize)]
struct TokenResponse {
    access_token: Option<SecretString>,
    token_type: Option<Value>,
    expires_in: Option<Value>,
    refresh_token: Option<SecretString>,
    scope: Option<Value>,
    error: Option<Value>,
    error_description: Option<Value>,
}

fn interpret(
    slug: &str,
    status: StatusCode,
    content_type: Option<&str>,
    body: &[u8],
    redact: &[&str],
    now: DateTime<Utc>,
) -> Result<Tokens, OAuthError> {
    let code = status.as_u16();
    if !(status.is_success() || status.is_client_error()) {
        let what = if status.is_redirection() {
            "a redirect, which is not followed"
        } else {
            "unexpected"
        };
        return Err(OAuthError::InvalidResponse(format!(
            "status {code} ({what}){}",
            content_type
                .map(|t| format!(", {t} body"))
                .unwrap_or_default()
        )));
    }
    let parsed: Option<TokenResponse> = serde_json::from_slice(body).ok();
    let Some(response) = parsed else {
        // Never quote the body (it may hold tokens) nor serde's message (it may quote values).
        return Err(OAuthError::InvalidResponse(format!(
            "status {code}, the body is not a JSON object{}",
            content_type.map(|t| format!(" ({t})")).unwrap_or_default()
        )));
    };
    // §5.2 error response: 400/401 normally; some providers answer 200 with an error.
    if let Some(error) = &response.error
        && (status.is_client_error() || response.access_token.is_none())
    {
        let Value::String(error) = error else {
            return Err(OAuthError::InvalidResponse(format!(
                "status {code}, `error` is not a string"
            )));
        };
        let description = match &response.error_description {
            Some(Value::String(d)) if !d.trim().is_empty() => {
                Some(untrusted(d, MAX_ERROR_TEXT_CHARS, redact))
            }
            _ => None,
        };
        return Err(OAuthError::Rejected {
            error: untrusted(error, MAX_ERROR_CODE_CHARS, redact),
            description,
        });
    }
    if status.is_client_error() {
        return Err(OAuthError::InvalidResponse(format!(
            "status {code} without an RFC 6749 error response"
        )));
    }
    let access_token = response
        .access_token
        .filter(|t| !t.expose_secret().is_empty())
        .ok_or_else(|| {
            OAuthError::InvalidResponse(format!("status {code} without access_token"))
        })?;
    match &response.token_type {
        // Required by §5.1, but some providers omit it; anything but bearer is unusable (§7.1).
        None | Some(Value::Null) => {}
        Some(Value::String(t)) if t.eq_ignore_ascii_case("bearer") => {}
        Some(_) => {
            return Err(OAuthError::InvalidResponse(
                "token_type is not bearer".into(),
            ));
        }
    }
    let expires_at = match response.expires_in.as_ref().map(expires_in_secs) {
        None => None,
        Some(Some(secs)) => Some(now + TimeDelta::seconds(secs)),
        Some(None) => {
            tracing::warn!(
                provider = slug,
                "ignoring an implausible expires_in: the expiry is unknown"
            );
            None
        }
    };
    let scope = match response.scope {
        Some(Value::String(s)) if !s.is_empty() => Some(s),
        // Not RFC 6749, but seen: a JSON array of scopes.
        Some(Value::Array(items)) => {
            let scopes: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
            (!scopes.is_empty()).then(|| scopes.join(" "))
        }
        _ => None,
    };
    Ok(Tokens {
        access_token,
        refresh_token: response
            .refresh_token
            .filter(|t| !t.expose_secret().is_empty()),
        expires_at,
        scope,
    })
}

/// `expires_in` in seconds when plausible: an integer (or integer string, as some providers send)
/// from 0 to [`MAX_EXPIRES_IN_SECS`].
fn expires_in_secs(value: &Value) -> Option<i64> {
    let secs = match value {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite() && f.fract() == 0.0 && f.abs() < 1e15)
                .map(|f| f as i64)
        })?,
        Value::String(s) => s.trim().parse::<i64>().ok()?,
        _ => return None,
    };
    (0..=MAX_EXPIRES_IN_SECS).contains(&secs).then_some(secs)
}

/// Untrusted text made safe to keep in an error or a log line: control and bidi-format
/// characters become spaces, `redact` values (and their form-url-encoded forms) become
/// `[REDACTED]`, and the result is capped at `max_chars` characters.
fn untrusted(text: &str, max_chars: usize, redact: &[&str]) -> String {
    let mut clean: String = text
        .chars()
        .map(|c| {
            if c.is_control()
                || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
            {
                ' '
            } else {
                c
            }
        })
        .collect();
    for secret in redact.iter().filter(|s| !s.is_empty()) {
        clean = clean.replace(secret, REDACTED);
        let encoded: String = form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        if encoded != *secret {
            clean = clean.replace(&encoded, REDACTED);
        }
    }
    let clean = clean.trim();
    match clean.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &clean[..cut]),
        None => clean.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untrusted_text_is_cleaned_redacted_and_capped() {
        let text = "bad\u{0007}code\n\u{202E}abc secret+/x secret%2B%2Fx";
        assert_eq!(
            untrusted(text, 100, &["secret+/x"]),
            "bad code  abc [REDACTED] [REDACTED]"
        );
        assert_eq!(untrusted("ééééé", 3, &[]), "ééé…");
        assert_eq!(untrusted("abc", 3, &[""]), "abc");
    }

    #[test]
    fn expires_in_is_plausible_or_none() {
        assert_eq!(expires_in_secs(&serde_json::json!(3600)), Some(3600));
        assert_eq!(expires_in_secs(&serde_json::json!("3599")), Some(3599));
        assert_eq!(expires_in_secs(&serde_json::json!(3600.0)), Some(3600));
        assert_eq!(expires_in_secs(&serde_json::json!(0)), Some(0));
        assert_eq!(expires_in_secs(&serde_json::json!(-1)), None);
        assert_eq!(expires_in_secs(&serde_json::json!(1.5)), None);
        assert_eq!(expires_in_secs(&serde_json::json!(u64::MAX)), None);
        assert_eq!(
            expires_in_secs(&serde_json::json!(MAX_EXPIRES_IN_SECS + 1)),
            None
        );
        assert_eq!(expires_in_secs(&serde_json::json!("soon")), None);
        assert_eq!(expires_in_secs(&serde_json::json!(null)), None);
    }

    #[test]
    fn basic_auth_form_url_encodes_id_and_secret() {
        let header = basic_auth("id:1", "s p+é");
        assert!(header.is_sensitive());
        let encoded = header.to_str().unwrap().strip_prefix("Basic ").unwrap();
        let decoded = String::from_utf8(B64.decode(encoded).unwrap()).unwrap();
        assert_eq!(decoded, "id%3A1:s+p%2B%C3%A9");
    }

    #[test]
    fn loopback_hosts() {
        for url in [
            "http://127.0.0.1:1/t",
            "http://127.8.0.1/t",
            "http://[::1]:8080/t",
            "http://localhost/t",
            "http://LOCALHOST/t",
        ] {
            assert!(is_loopback(&Url::parse(url).unwrap()), "{url}");
        }
        for url in [
            "http://10.0.0.1/t",
            "http://localhost.example.com/t",
            "http://127.0.0.1.nip.io/t",
            "http://[::2]/t",
        ] {
            assert!(!is_loopback(&Url::parse(url).unwrap()), "{url}");
        }
    }

    #[test]
    fn interpret_maps_responses() {
        let now = Utc::now();
        let ok = |body: &str| interpret("p", StatusCode::OK, None, body.as_bytes(), &[], now);
        let tokens =
            ok(r#"{"access_token":"a","token_type":"Bearer","expires_in":60,"scope":["x","y"]}"#)
                .unwrap();
        assert_eq!(tokens.expires_at, Some(now + TimeDelta::seconds(60)));
        assert_eq!(tokens.scope.as_deref(), Some("x y"));
        assert!(tokens.refresh_token.is_none());
        assert!(matches!(
            ok(r#"{"error":"bad_verification_code"}"#),
            Err(OAuthError::Rejected { error, .. }) if error == "bad_verification_code"
        ));
        assert!(matches!(
            ok(r#"{"access_token":"a","token_type":"mac"}"#),
            Err(OAuthError::InvalidResponse(_))
        ));
        assert!(matches!(
            ok(r#"{"access_token":""}"#),
            Err(OAuthError::InvalidResponse(_))
        ));
        assert!(matches!(
            ok(r#"{"access_token":5}"#),
            Err(OAuthError::InvalidResponse(_))
        ));
        assert!(matches!(ok("[]"), Err(OAuthError::InvalidResponse(_))));
        assert!(
            ok(r#"{"access_token":"a","expires_in":-5}"#)
                .unwrap()
                .expires_at
                .is_none()
        );
        let rejected = interpret(
            "p",
            StatusCode::BAD_REQUEST,
            Some("application/json"),
            br#"{"error":"invalid_grant","error_description":"code CODE-1 expired"}"#,
            &["CODE-1"],
            now,
        );
        match rejected {
            Err(OAuthError::Rejected { error, description }) => {
                assert_eq!(error, "invalid_grant");
                assert_eq!(description.as_deref(), Some("code [REDACTED] expired"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            interpret("p", StatusCode::BAD_REQUEST, None, b"{}", &[], now),
            Err(OAuthError::InvalidResponse(_))
        ));
        assert!(matches!(
            interpret(
                "p",
                StatusCode::SERVICE_UNAVAILABLE,
                None,
                br#"{"error":"temporarily_unavailable"}"#,
                &[],
                now
            ),
            Err(OAuthError::InvalidResponse(_))
        ));
    }
}
