//! Property tests of the seed 003 face's parsers (issue #18 item 8): ULID ids and cursors, and
//! the `{data, type}` envelope of its bodies.

use proptest::prelude::*;

use super::fuzz;
use crate::http::{
    proptest_support::{CASES, body, value},
    swift::{ulid, uuid_of},
};

/// The envelope's keys and every field of the face's bodies.
const KEYS: &[&str] = &[
    "data",
    "type",
    "name",
    "cidr",
    "description",
    "email",
    "role",
    "sms_access",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// An id is the ULID of the services' uuid, and back; any spelling the ULID parser
    /// accepts names the same uuid as its canonical (upper-case) form.
    #[test]
    fn ulids_and_uuids_round_trip(n in any::<u128>(), s in "[0-9A-Za-z]{0,30}") {
        let uuid = uuid::Uuid::from_u128(n).to_string();
        let id = ulid(&uuid);
        prop_assert_eq!(id.len(), 26);
        prop_assert_eq!(uuid_of(&id), Some(uuid.clone()));
        prop_assert_eq!(uuid_of(&id.to_lowercase()), Some(uuid));
        if let Some(u) = uuid_of(&s) {
            prop_assert_eq!(uuid_of(&ulid(&u)), Some(u));
        }
        prop_assert_eq!(uuid_of(&s).is_some(), ulid::Ulid::from_string(&s).is_ok());
    }

    /// A cursor is a ULID, else a 400 that does not quote it.
    #[test]
    fn cursors_are_ulids(s in any::<String>()) {
        fuzz::ids(&s);
    }

    /// CR-7: every body of the face, whatever it holds, is parsed or refused with a 4xx that
    /// quotes none of its strings.
    #[test]
    fn cr_7_bodies_parse_or_are_refused(
        data in body(KEYS),
        kind in prop_oneof![Just("account".to_owned()), Just("allowed_ip".to_owned()), "[a-z_]{0,10}"],
        raw in value(),
    ) {
        let enveloped = serde_json::to_vec(&serde_json::json!({"data": data, "type": kind})).unwrap();
        let raw = serde_json::to_vec(&raw).unwrap();
        for bytes in [enveloped, raw] {
            fuzz::bodies(&bytes);
        }
    }
}
