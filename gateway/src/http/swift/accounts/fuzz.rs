//! The face's fuzz entry ([`crate::fuzzing::swift`]; issue #18 item 8, SC-3), whose checks the
//! property tests share: every body parsed or refused with a 4xx quoting no secret (CR-7), and
//! ids and cursors read as ULIDs.

use axum::{extract::FromRequest, http::StatusCode, response::IntoResponse};

use super::{AllowedIpData, CreateData, Data, InvitationData, Typed, UpdateData, cursor};
use crate::{
    fuzzing::{check_refusal, request, run},
    http::swift::{ulid, uuid_of},
};

/// Everything the face parses, fed `data`.
pub(crate) fn fuzz(data: &[u8]) {
    bodies(data);
    ids(&String::from_utf8_lossy(data));
}

/// Every body of the face, fed `data`.
pub(super) fn bodies(data: &[u8]) {
    body::<CreateData>(data);
    body::<UpdateData>(data);
    body::<AllowedIpData>(data);
    body::<InvitationData>(data);
}

/// A `T` body is parsed or refused with a 4xx quoting no secret of it.
fn body<T: Typed>(data: &[u8]) {
    let req = request(data.to_vec(), Some("application/json"));
    if let Err(e) = run(Data::<T>::from_request(req, &())) {
        check_refusal(e.into_response(), data);
    }
}

/// An id or a cursor: a ULID naming the same uuid whatever its spelling, else a 400 that does
/// not quote it (a fixed message).
pub(super) fn ids(s: &str) {
    match cursor("after", Some(s.to_owned())) {
        Ok(got) => assert_eq!(got, uuid_of(s)),
        Err(e) => {
            assert_eq!(e.status, StatusCode::BAD_REQUEST);
            assert!(uuid_of(s).is_none());
            // Found by the fuzz target: the cursor "fter must be an account id" is text of
            // the message without being quoted by it; the message is the fixed one.
            assert_eq!(e.message, "after must be an account id");
        }
    }
    if let Some(u) = uuid_of(s) {
        assert_eq!(uuid_of(&ulid(&u)), Some(u));
    }
    assert!(matches!(cursor("before", None), Ok(None)));
}
