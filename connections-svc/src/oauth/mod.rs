//! OAuth2 client of the connection providers: exchanges an authorization code for tokens and
//! refreshes expired access tokens, at each provider's token endpoint.
//!
//! By area: `providers` parses and checks their configuration, `transport` sends the request
//! (client authentication, the capped body read), `response` interprets the answer and cleans
//! the provider's text.
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

mod providers;
mod response;
mod transport;

use std::{
    fmt,
    sync::Arc,
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};

pub use providers::{Provider, Providers};

use response::{interpret, untrusted};
use transport::{Answer, HttpClient, post_form};

/// Largest token endpoint response read, in bytes; a larger one is [`OAuthError::InvalidResponse`].
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// Largest `expires_in` taken at face value (ten years); beyond it, or negative, the expiry is unknown.
pub const MAX_EXPIRES_IN_SECS: i64 = 10 * 366 * 24 * 60 * 60;

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
        let http = transport::client(timeout)?;
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

        let started = Instant::now();
        let Answer {
            status,
            content_type,
            body,
        } = post_form(&self.inner.http, provider, params, self.inner.timeout).await?;
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
