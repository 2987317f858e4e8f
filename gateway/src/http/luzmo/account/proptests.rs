//! Property tests of the Luzmo face's parsers: the body, an account's properties, its id and
//! `find` (issue #18 item 8). None panics; refusals are 4xx and quote no string of the body
//! (CR-7); `find` keeps exactly the rows its `where` matches, in its order and page.

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::{BODY_KEYS, PROPERTIES, body, id, properties};
use crate::http::{
    luzmo::find::{Find, QUERYABLE},
    proptest_support::{CANARY, CASES, body as object, value},
};

fn fields() -> &'static [&'static str] {
    &PROPERTIES
}

/// A row as `entity` writes one: each field of its kind, or null where Luzmo answers null.
fn row() -> impl Strategy<Value = Value> {
    let text = prop_oneof![Just(Value::Null), "[a-c%_]{0,3}".prop_map(Value::from)];
    let number = prop_oneof![Just(Value::Null), (0i64..4).prop_map(Value::from)];
    (text.clone(), text.clone(), text, number, any::<Option<bool>>()).prop_map(
        |(name, expiry, port, cache, active)| {
            json!({"name": name, "expiry": expiry, "port": port, "cache": cache, "active": active})
        },
    )
}

/// A `find` over the fields of [`row`]: equality, operators, `and`/`or`, order and paging.
fn find() -> impl Strategy<Value = Value> {
    let field = prop::sample::select(&["name", "expiry", "port", "cache", "active"][..]);
    let text = "[a-c%_]{0,3}".prop_map(Value::from);
    let number = (0i64..4).prop_map(Value::from);
    let operand = prop_oneof![
        Just(Value::Null),
        text.clone(),
        number.clone(),
        any::<bool>().prop_map(Value::from),
    ];
    let ops = prop_oneof![
        (
            prop::sample::select(&["like", "notLike"][..]),
            text.clone().boxed()
        ),
        (
            prop::sample::select(&["gt", "gte", "lt", "lte"][..]),
            prop_oneof![text, number].boxed()
        ),
        (
            prop::sample::select(&["eq", "ne"][..]),
            operand.clone().boxed()
        ),
    ];
    let test = (field.clone(), ops)
        .prop_map(|(f, (o, v))| json!({ f: { o: v } }))
        .boxed();
    let eq = (field.clone(), operand).prop_map(|(f, v)| json!({ f: v }));
    let leaf = prop_oneof![test, eq];
    let filter = leaf.prop_recursive(2, 8, 3, |inner| {
        (
            prop::sample::select(&["and", "or"][..]),
            prop::collection::vec(inner, 0..3),
        )
            .prop_map(|(k, parts)| json!({ k: parts }))
    });
    let order = prop::collection::vec(
        (field, prop::sample::select(&["asc", "desc", "DESC"][..]))
            .prop_map(|(f, d)| json!([f, d])),
        0..3,
    );
    (
        prop::option::of(filter),
        order,
        prop::option::of(0u64..8),
        0u64..8,
    )
        .prop_map(|(w, order, limit, offset)| {
            let mut f = json!({ "order": order, "offset": offset });
            if let Some(w) = w {
                f["where"] = w;
            }
            if let Some(l) = limit {
                f["limit"] = json!(l);
            }
            f
        })
}

fn no_canary(message: &str) -> Result<(), TestCaseError> {
    prop_assert!(!message.contains(CANARY), "{message}");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// Any JSON as `find`: parsed or refused by name, never a panic, never a quoted value.
    #[test]
    fn any_find_parses_or_is_refused(v in value(), rows in prop::collection::vec(row(), 0..6)) {
        match Find::parse(Some(&v)) {
            Ok(f) => {
                let (count, page) = f.apply(rows.clone());
                prop_assert!(count <= rows.len() && page.len() <= count);
            }
            Err(r) => no_canary(&r.message)?,
        }
    }

    /// `find` keeps exactly the rows its `where` matches (`and`/`or` as conjunction and
    /// disjunction, `ne`/`notLike` as negations), orders them (rows of mixed kinds and
    /// nulls included: no panic), and pages them: `count` before paging.
    #[test]
    fn find_filters_orders_and_pages(f in find(), rows in prop::collection::vec(row(), 0..40)) {
        let parsed = Find::parse(Some(&f));
        prop_assert!(parsed.is_ok(), "{f}: {parsed:?}");
        let parsed = parsed.unwrap();
        let (count, page) = parsed.apply(rows.clone());
        let only_where = json!({"where": f.get("where").cloned().unwrap_or(json!({}))});
        let only_where = Find::parse(Some(&only_where)).unwrap();
        let kept = rows.iter().filter(|r| only_where.apply(vec![(*r).clone()]).0 == 1).count();
        prop_assert_eq!(count, kept);
        let offset = f["offset"].as_u64().unwrap() as usize;
        let limit = f["limit"].as_u64().map_or(usize::MAX, |l| l as usize);
        prop_assert_eq!(page.len(), count.saturating_sub(offset).min(limit));
        if let Some(w) = f.get("where") {
            let nested = json!({"where": {"and": [w]}});
            let (same, _) = Find::parse(Some(&nested)).unwrap().apply(rows.clone());
            prop_assert_eq!(same, count);
            let either = json!({"where": {"or": [w, w]}});
            let (twice, _) = Find::parse(Some(&either)).unwrap().apply(rows);
            prop_assert_eq!(twice, count);
        }
    }

    /// Names a `find` may use are exactly the queryable fields.
    #[test]
    fn find_names_only_queryable_fields(name in "[a-z_]{1,12}") {
        let r = Find::parse(Some(&json!({"where": { name.as_str(): 1 }})));
        prop_assert_eq!(r.is_ok(), QUERYABLE.contains(&name.as_str()));
    }

    /// The body: an object of the known keys, else a 400 quoting no value.
    #[test]
    fn bodies_parse_or_are_refused(m in object(&BODY_KEYS), raw in any::<Vec<u8>>()) {
        let bytes = serde_json::to_vec(&m).unwrap();
        match body(&bytes.into()) {
            Ok(got) => prop_assert!(got.keys().all(|k| BODY_KEYS.contains(&k.as_str()))),
            Err(r) => {
                prop_assert!(r.status.is_client_error());
                no_canary(&r.message)?;
            }
        }
        if let Err(r) = body(&raw.into()) {
            prop_assert!(r.status.is_client_error());
        }
    }

    /// Properties: parsed or refused naming a field, the token (a secret) never quoted.
    #[test]
    fn properties_parse_or_are_refused(m in object(fields()), create in any::<bool>()) {
        match properties(Some(Value::Object(m.clone())), create) {
            Ok((f, code)) => {
                prop_assert_eq!(code.is_some(), !create && m.contains_key("code"));
                prop_assert_eq!(f.secrets.contains_key("password"), m.contains_key("token"));
            }
            Err(r) => {
                prop_assert!(r.status.is_client_error());
                no_canary(&r.message)?;
            }
        }
    }

    /// An id is a uuid (answered in its hyphenated lower-case form), else 404 or 400.
    #[test]
    fn ids_are_uuids(v in prop_oneof![value(), any::<u128>().prop_map(|u| json!(uuid::Uuid::from_u128(u).simple().to_string()))]) {
        let mut m = Map::new();
        m.insert("id".into(), v.clone());
        match id(&mut m) {
            Ok(got) => {
                let parsed = uuid::Uuid::parse_str(v.as_str().unwrap().trim()).unwrap();
                prop_assert_eq!(got, parsed.to_string());
            }
            Err(r) => {
                prop_assert!(r.status.is_client_error());
                no_canary(&r.message)?;
            }
        }
    }
}
