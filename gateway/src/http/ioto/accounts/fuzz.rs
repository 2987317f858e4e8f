//! The face's fuzz entry ([`crate::fuzzing::ioto`]; issue #18 item 8, SC-3), whose checks the
//! property tests share: bodies of any content type parsed or refused with a 4xx quoting no
//! secret (CR-7), tokens of `Authorization` values, ids and cursors.

use axum::{extract::FromRequest, http::StatusCode, response::IntoResponse};
use serde::de::DeserializeOwned;

use super::{CloseArgs, CreateArgs, IdentityArgs, Lookup, account_id, cursor};
use crate::{
    fuzzing::{check_message, check_refusal, request, run},
    http::ioto::{Args, token_of},
};

/// Everything the face parses, fed `data`.
pub(crate) fn fuzz(data: &[u8]) {
    for content_type in [Some("application/json"), Some("text/plain"), None] {
        bodies(data, content_type);
    }
    let text = String::from_utf8_lossy(data);
    token(&text);
    ids(&text);
}

/// Every body of the face, fed `data` sent as `content_type`.
pub(super) fn bodies(data: &[u8], content_type: Option<&str>) {
    body::<CreateArgs>(data, content_type);
    body::<Lookup>(data, content_type);
    body::<IdentityArgs>(data, content_type);
    body::<CloseArgs>(data, content_type);
}

fn body<T: DeserializeOwned>(data: &[u8], content_type: Option<&str>) {
    let req = request(data.to_vec(), content_type);
    if let Err(e) = run(Args::<T>::from_request(req, &())) {
        check_refusal(e.into_response(), data);
    }
}

/// The token of an `Authorization` value: one word of it, never empty.
pub(super) fn token(value: &str) {
    if let Some(got) = token_of(value) {
        assert!(!got.is_empty() && !got.contains(char::is_whitespace));
        assert!(value.contains(got));
    }
}

/// An id is a uuid in any spelling (else 404), a cursor too (else 400); neither refusal
/// quotes it.
pub(super) fn ids(s: &str) {
    let parsed = uuid::Uuid::parse_str(s.trim()).ok().map(|u| u.to_string());
    match account_id(Some(s.to_owned())) {
        Ok(id) => assert_eq!(Some(id), parsed),
        Err(e) => {
            assert_eq!(e.status, StatusCode::NOT_FOUND);
            check_message(e.status, &e.message, s.as_bytes());
        }
    }
    if let Err(e) = cursor("prev", Some(s.to_owned())) {
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        check_message(e.status, &e.message, s.as_bytes());
    }
}
