//! What the gateway's property tests share (issue #18 item 8): bodies of arbitrary JSON whose
//! every string is a secret (a canary), a request carrying one, and a runtime to run the real
//! extractors on it (`crate::fuzzing`'s). A refusal must never carry a canary back (CR-7).

use proptest::prelude::*;
use serde_json::{Map, Value};

/// Cases per property.
pub(crate) const CASES: u32 = 10_000;

pub(crate) use crate::fuzzing::CANARY;

/// A secret: the canary inside text that stresses the scrubbing (quotes, backslashes,
/// backticks, any character).
pub(crate) fn secret() -> impl Strategy<Value = String> {
    let around = prop_oneof!["[ -~]{0,6}", "\\PC{0,4}", Just("\"`\\".to_owned())];
    (around.clone(), around).prop_map(|(a, b)| format!("{a}{CANARY}{b}"))
}

/// A JSON value whose strings are all secrets, nested a few levels.
pub(crate) fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::from),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<u64>().prop_map(Value::from),
        1 => (-1e6f64..1e6).prop_map(Value::from),
        3 => secret().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(key(&[]), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// An object key: one of `known` (a body's fields) or any short key, quotes included.
pub(crate) fn key(known: &'static [&'static str]) -> BoxedStrategy<String> {
    let any_key = "[a-zA-Z_\"`\\\\ .]{0,8}";
    if known.is_empty() {
        any_key.boxed()
    } else {
        prop_oneof![
            4 => prop::sample::select(known).prop_map(str::to_owned),
            1 => any_key,
        ]
        .boxed()
    }
}

/// A body: an object of some of `fields` (and other keys) holding arbitrary values.
pub(crate) fn body(fields: &'static [&'static str]) -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map(key(fields), value(), 0..6).prop_map(|m| m.into_iter().collect())
}
