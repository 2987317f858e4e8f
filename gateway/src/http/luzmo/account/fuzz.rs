//! The face's fuzz entry ([`crate::fuzzing::luzmo`]; issue #18 item 8, SC-3): the body, an
//! account's properties, its id and `find`, fed any bytes. None panics; every refusal is a 4xx
//! quoting no secret (CR-7); `find` keeps at most the rows it is given.

use axum::{body::Bytes, http::StatusCode, response::IntoResponse};
use serde_json::{Value, json};

use super::{body, id, properties};
use crate::{
    fuzzing::{check_message, check_refusal},
    http::luzmo::find::Find,
};

/// Everything the face parses, fed `data`.
pub(crate) fn fuzz(data: &[u8]) {
    if let Err(r) = body(&Bytes::copy_from_slice(data)) {
        check_refusal(r.into_response(), data);
    }
    let Ok(v) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    for create in [true, false] {
        if let Err(r) = properties(Some(v.clone()), create) {
            check_refusal(r.into_response(), data);
        }
    }
    if let Value::Object(mut m) = v.clone()
        && let Err(r) = id(&mut m)
    {
        check_refusal(r.into_response(), data);
    }
    find(&v, data);
    if let Some(f) = v.get("find") {
        find(f, data);
    }
}

/// `v` as a `find`: parsed and applied to rows of every kind, or refused quoting no secret of
/// `input`.
fn find(v: &Value, input: &[u8]) {
    let rows = vec![
        json!({"name": "a", "expiry": null, "port": "5432", "cache": 0, "active": true}),
        json!({"name": null, "expiry": "2026-01-01T00:00:00Z", "port": null, "cache": 3}),
        json!({"name": "%_", "cache": null, "active": false}),
        json!({}),
    ];
    match Find::parse(Some(v)) {
        Ok(f) => {
            let n = rows.len();
            let (count, page) = f.apply(rows);
            assert!(count <= n && page.len() <= count, "{count} of {n}");
        }
        Err(r) => check_message(StatusCode::BAD_REQUEST, &r.message, input),
    }
}
