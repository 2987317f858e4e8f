//! The Lightdash face's fuzz entry ([`crate::fuzzing::lightdash`]; issue #18 item 8, SC-3):
//! the shared JSON body extractor over a body type of every shape of field the face's bodies
//! have, and the credentials of `Authorization` and `Cookie` values. None panics; every
//! refusal is a 4xx quoting no secret (CR-7); a credential is always text the header holds.

use axum::{
    extract::FromRequest,
    http::{HeaderMap, HeaderValue, header},
    response::IntoResponse,
};
use serde::Deserialize;

use super::{Body, Presented, presented, session_cookie};
use crate::{
    fuzzing::{check_refusal, request, run},
    http::lightdash::Lightdash,
};

/// Every shape of field a body type has: numbers, flags, enums, lists, maps, times.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct Shapes {
    count: Option<u32>,
    flag: Option<bool>,
    kind: Option<Kind>,
    list: Option<Vec<i64>>,
    map: Option<std::collections::BTreeMap<String, u8>>,
    at: Option<chrono::DateTime<chrono::Utc>>,
    inner: Option<Box<Shapes>>,
}

/// An enum of the kind bodies name (Lightdash's `grantType`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub(crate) enum Kind {
    Password,
    RefreshToken,
}

/// The fields of [`Shapes`].
#[cfg(test)]
pub(crate) const FIELDS: &[&str] = &["count", "flag", "kind", "list", "map", "at", "inner"];

/// Everything fed `data`: a body, sent as JSON and as text, and header values.
pub(crate) fn fuzz(data: &[u8]) {
    for content_type in [Some("application/json"), Some("text/plain"), None] {
        body(data, content_type);
    }
    if let Ok(value) = HeaderValue::from_bytes(data) {
        credentials(value);
    }
}

/// A [`Shapes`] body is parsed or refused with a 4xx quoting no secret of it.
pub(crate) fn body(data: &[u8], content_type: Option<&str>) {
    let req = request(data.to_vec(), content_type);
    if let Err(e) = run(Body::<Lightdash, Shapes>::from_request(req, &())) {
        check_refusal(e.into_response(), data);
    }
}

/// `value` as `Authorization` and as `Cookie`: a token or a session is text of the value,
/// never empty; a refusal is a 401.
fn credentials(value: HeaderValue) {
    let text = String::from_utf8_lossy(value.as_bytes()).into_owned();
    let mut h = HeaderMap::new();
    h.insert(header::AUTHORIZATION, value.clone());
    match presented(&h) {
        Ok(Some(
            Presented::Pat(t) | Presented::Operator(t) | Presented::Jwt(t) | Presented::Session(t),
        )) => {
            assert!(!t.is_empty() && text.contains(&t), "{t}");
        }
        Ok(None) => {}
        Err(e) => assert_eq!(e.status, axum::http::StatusCode::UNAUTHORIZED),
    }
    let mut h = HeaderMap::new();
    h.insert(header::COOKIE, value);
    if let Some(s) = session_cookie(&h) {
        assert!(!s.is_empty() && text.contains(&s));
    }
}
