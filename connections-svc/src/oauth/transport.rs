//! The token request on the wire: the HTTP client (hyper + rustls, HTTP/1.1, no redirects),
//! the form POST with HTTP Basic client authentication, and the response read frame by frame
//! under a cap, all within one timeout.

use std::time::Duration;

use base64::{Engine as _, engine::general_purpose::STANDARD as B64};
use bytes::Bytes;
use http::{HeaderValue, Method, Request, StatusCode, header};
use http_body_util::Full;
use hyper_rustls::HttpsConnector;
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::{TokioExecutor, TokioTimer},
};
use secrecy::{ExposeSecret, zeroize::Zeroizing};
use url::form_urlencoded;

use super::{MAX_RESPONSE_BYTES, OAuthError, Provider, response::MAX_ERROR_TEXT_CHARS, untrusted};

const USER_AGENT: &str = concat!("connections-svc/", env!("CARGO_PKG_VERSION"));

/// The HTTP client of the token endpoints.
pub(super) type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A client whose connections time out after `timeout`, pooled (a few idle per host).
pub(super) fn client(timeout: Duration) -> anyhow::Result<HttpClient> {
    let mut tcp = HttpConnector::new();
    tcp.enforce_http(false);
    tcp.set_nodelay(true);
    tcp.set_connect_timeout(Some(timeout));
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())?
        .https_or_http()
        .enable_http1()
        .wrap_connector(tcp);
    Ok(Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(4)
        .build(https))
}

/// A token endpoint's answer, its body read whole (and zeroized on drop).
pub(super) struct Answer {
    pub(super) status: StatusCode,
    /// The `Content-Type`, cleaned: untrusted text.
    pub(super) content_type: Option<String>,
    pub(super) body: Zeroizing<Vec<u8>>,
}

/// POSTs `params` as a form to `provider`'s token endpoint with its client credentials and
/// reads the answer, all within `timeout`.
pub(super) async fn post_form(
    http: &HttpClient,
    provider: &Provider,
    params: &[(&str, &str)],
    timeout: Duration,
) -> Result<Answer, OAuthError> {
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
            basic_auth(&provider.client_id, provider.client_secret.expose_secret()),
        )
        .body(Full::new(Bytes::copy_from_slice(body.as_bytes())))
        .map_err(|_| OAuthError::Unreachable("the token URL is not a valid HTTP URI".into()))?;

    tokio::time::timeout(timeout, async {
        let response = http
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
        Ok(Answer {
            status: parts.status,
            content_type,
            body,
        })
    })
    .await
    .map_err(|_| {
        OAuthError::Unreachable(format!(
            "no complete answer within {} ms",
            timeout.as_millis()
        ))
    })?
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_form_url_encodes_id_and_secret() {
        let header = basic_auth("id:1", "s p+é");
        assert!(header.is_sensitive());
        let encoded = header.to_str().unwrap().strip_prefix("Basic ").unwrap();
        let decoded = String::from_utf8(B64.decode(encoded).unwrap()).unwrap();
        assert_eq!(decoded, "id%3A1:s+p%2B%C3%A9");
    }
}
