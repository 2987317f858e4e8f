//! Property tests of the seed 004 face's parsers (issue #18 item 8): the token of an
//! `Authorization` value, JSON content types, ids and cursors, and the JSON bodies (`Args`).

use proptest::prelude::*;

use super::{account_id, cursor, fuzz};
use crate::http::{
    ioto::{is_json, token_of},
    proptest_support::{CASES, body, secret, value},
};

const KEYS: &[&str] = &["id", "email", "name"];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// The token is the whole value or what follows `Bearer `: one word, never empty, and
    /// exactly the token sent.
    #[test]
    fn tokens_come_with_or_without_bearer(
        v in any::<String>(),
        t in "[!-~]{1,40}",
        scheme in prop_oneof![Just("Bearer"), Just("bearer"), Just("BEARER")],
        pad in " {0,3}",
    ) {
        fuzz::token(&v);
        prop_assume!(!t.eq_ignore_ascii_case("bearer"));
        let (bare, bearer, basic) = (
            format!("{pad}{t}{pad}"),
            format!("{scheme} {pad}{t}{pad}"),
            format!("Basic {t}"),
        );
        prop_assert_eq!(token_of(&bare), Some(t.as_str()));
        prop_assert_eq!(token_of(&bearer), Some(t.as_str()));
        prop_assert_eq!(token_of(&basic), None);
    }

    /// JSON is `application/json` or `application/…+json`, any case, parameters aside.
    #[test]
    fn json_content_types(sub in "[a-zA-Z.+-]{0,12}", params in "(; ?[a-z]+=[a-z0-9-]+)?") {
        let t = format!("application/{sub}{params}");
        let lower = sub.to_ascii_lowercase();
        prop_assert_eq!(is_json(&t), lower == "json" || lower.ends_with("+json"));
        let text = format!("text/{sub}");
        prop_assert!(!is_json(&text));
    }

    /// Ids and cursors are uuids, answered in the hyphenated form; anything else is a 404 (an
    /// id) or a 400 (a cursor) that does not quote it.
    #[test]
    fn ids_and_cursors_are_uuids(n in any::<u128>(), s in prop_oneof![any::<String>(), secret()]) {
        let u = uuid::Uuid::from_u128(n);
        for spelled in [u.to_string(), u.simple().to_string(), u.urn().to_string().to_uppercase()] {
            prop_assert_eq!(account_id(Some(spelled.clone())).ok(), Some(u.to_string()));
            prop_assert_eq!(cursor("next", Some(spelled)).ok(), Some(Some(u.to_string())));
        }
        fuzz::ids(&s);
    }

    /// CR-7: every body of the face is parsed or refused with a 4xx quoting none of its
    /// strings, whatever its content type.
    #[test]
    fn cr_7_bodies_parse_or_are_refused(
        b in body(KEYS),
        raw in value(),
        content_type in prop::option::of(prop_oneof![Just("application/json"), Just("text/plain")]),
    ) {
        for bytes in [serde_json::to_vec(&b).unwrap(), serde_json::to_vec(&raw).unwrap()] {
            fuzz::bodies(&bytes, content_type);
        }
    }
}
