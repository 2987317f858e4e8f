//! Entry points of the fuzz targets (`fuzz/`, issue #18 item 8; checklist SC-3): each takes
//! the fuzzer's bytes to one face's parsers of untrusted input, exactly as a request would
//! bring them, and panics when a parser breaks its contract: a panic of its own, a refusal that
//! is not a 4xx, or a refusal that quotes back a secret of the input (CR-7).
//!
//! A "secret" is any text holding [`CANARY`] outside an object key (keys are field names, which
//! refusals may name; a key is what a JSON reader takes for one, in broken JSON too). The seeds in `fuzz/corpus/` carry the canary so that the fuzzer's
//! mutations keep it in values, keys and broken JSON alike.
//!
//! The property tests of the faces run the same checks (`crate::http::*::proptests`), and
//! [`tests`] runs every target over its seeds and their mutations on stable Rust, so the entry
//! points cannot rot where no nightly toolchain exists.

use std::future::Future;

use axum::{
    body::Body,
    extract::Request,
    http::{StatusCode, header},
    response::Response,
};
use serde_json::Value;

/// The part of a generated or seeded string that must never come back in a refusal.
pub const CANARY: &str = "Zq7Canary";

/// The Luzmo face: the body, an account's properties, its id and `find`.
pub fn luzmo(data: &[u8]) {
    crate::http::luzmo::fuzz(data);
}

/// The seed 003 face: `{data, type}` bodies, ULID ids and cursors.
pub fn swift(data: &[u8]) {
    crate::http::swift::fuzz(data);
}

/// The seed 004 face: `Authorization` values, content types, ids, cursors and bodies.
pub fn ioto(data: &[u8]) {
    crate::http::ioto::fuzz(data);
}

/// The Sumvin face: user connector bodies against a catalog.
pub fn sumvin(data: &[u8]) {
    crate::http::sumvin::fuzz(data);
}

/// The Lightdash face's body extractor, and the credential of an `Authorization` header.
pub fn lightdash(data: &[u8]) {
    crate::http::extract::fuzz(data);
}

/// A POST request with `body` and, if given, that `Content-Type`.
pub fn request(body: impl Into<Body>, content_type: Option<&str>) -> Request {
    let mut req = Request::builder().method("POST").uri("/");
    if let Some(t) = content_type {
        req = req.header(header::CONTENT_TYPE, t);
    }
    req.body(body.into()).expect("a request")
}

thread_local! {
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
}

/// Runs `f` to completion on this thread's runtime.
pub fn run<F: Future>(f: F) -> F::Output {
    RUNTIME.with(|rt| rt.block_on(f))
}

/// Panics unless `refusal`, answered to a request bringing `input`, is a 4xx whose body quotes
/// no secret of `input` (see the module's documentation).
pub fn check_refusal(refusal: Response, input: &[u8]) {
    let status = refusal.status();
    let body = run(axum::body::to_bytes(refusal.into_body(), usize::MAX)).expect("a body");
    // The body's text as the caller reads it: a JSON body's strings, unescaped.
    let text = match serde_json::from_slice::<Value>(&body) {
        Ok(v) => {
            let mut strings = Vec::new();
            collect_strings(&v, &mut strings);
            strings.join("\n")
        }
        Err(_) => String::from_utf8_lossy(&body).into_owned(),
    };
    check_message(status, &text, input);
}

fn collect_strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|v| collect_strings(v, out)),
        Value::Object(m) => m.iter().for_each(|(k, v)| {
            out.push(k.clone());
            collect_strings(v, out);
        }),
        _ => {}
    }
}

/// [`check_refusal`] for a refusal's status and message.
pub fn check_message(status: StatusCode, message: &str, input: &[u8]) {
    assert!(status.is_client_error(), "{status}: {message}");
    let mut shown = message.to_owned();
    let mut keys = keys(&String::from_utf8_lossy(input));
    keys.sort_by_key(|k| std::cmp::Reverse(k.len()));
    for k in keys.iter().filter(|k| !k.is_empty()) {
        shown = shown.replace(k.as_str(), "");
    }
    assert!(
        !shown.contains(CANARY),
        "a refusal quotes a value of the input: {message}"
    );
}

/// The object keys of `input` as a JSON reader meets them, in broken JSON too: each string
/// that opens an object or follows a comma in one; as sent and unescaped.
fn keys(input: &str) -> Vec<String> {
    let (mut keys, mut open, mut expect_key) = (Vec::new(), Vec::new(), false);
    let mut chars = input.char_indices();
    while let Some((start, c)) = chars.next() {
        match c {
            '{' | '[' => {
                open.push(c);
                expect_key = c == '{';
            }
            '}' | ']' => {
                open.pop();
                expect_key = false;
            }
            ',' => expect_key = open.last() == Some(&'{'),
            '"' => {
                let mut escaped = false;
                let end = chars
                    .by_ref()
                    .find(|&(_, c)| {
                        let closes = c == '"' && !escaped;
                        escaped = c == '\\' && !escaped;
                        closes
                    })
                    .map_or(input.len(), |(i, _)| i);
                if expect_key {
                    let raw = &input[start + 1..end];
                    keys.push(raw.to_owned());
                    if let Ok(k) = serde_json::from_str::<String>(&format!("\"{raw}\"")) {
                        keys.push(k);
                    }
                }
                expect_key = false;
            }
            c if !c.is_whitespace() => expect_key = false,
            _ => {}
        }
    }
    keys
}

#[cfg(test)]
mod tests;
