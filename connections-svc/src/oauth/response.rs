//! The token endpoint's answer (RFC 6749 §5.1 and §5.2) turned into [`Tokens`] or an
//! [`OAuthError`], and the provider's text made safe to keep.

use chrono::{DateTime, TimeDelta, Utc};
use http::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::Value;
use url::form_urlencoded;

use super::{MAX_EXPIRES_IN_SECS, OAuthError, Tokens};

/// Longest error code kept from a provider, in characters.
const MAX_ERROR_CODE_CHARS: usize = 64;
/// Longest error description kept from a provider, in characters.
pub(super) const MAX_ERROR_TEXT_CHARS: usize = 256;
const REDACTED: &str = "[REDACTED]";

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

pub(super) fn interpret(
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
pub(super) fn untrusted(text: &str, max_chars: usize, redact: &[&str]) -> String {
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
