//! `get`'s `find`: Luzmo's Sequelize-style query over the connections the caller may read,
//! evaluated here on their JSON entities (an organization holds a bounded number of
//! connections: CONNECTIONS_MAX_PER_ORGANIZATION).
//!
//! Supported (docs/luzmo.md, "get"): `where` with equality (`{"name": "x"}`, `null`
//! included), operator objects `eq`, `ne`, `in`, `notIn`, `like`, `notLike`, `gt`, `gte`, `lt`,
//! `lte`, and `and` / `or` arrays of where objects; `attributes` (the fields answered);
//! `order` (`[["name", "asc"], ...]`); `limit` and `offset`. Anything else is a 400 naming it.

use std::cmp::Ordering;

use serde_json::{Map, Value};

/// Fields a query may name: every answered field but the description (a language map).
pub(super) const QUERYABLE: [&str; 22] = [
    "id",
    "provider",
    "date",
    "identifier",
    "expiry",
    "scope",
    "host",
    "name",
    "port",
    "active",
    "invalid",
    "cache",
    "synced",
    "version",
    "datasets_meta_sync_interval",
    "datasets_meta_sync_enabled",
    "created_at",
    "updated_at",
    "user_id",
    "plugin_id",
    "shareable_id",
    "properties",
];

/// Largest `limit`.
pub(super) const MAX_LIMIT: u64 = 10_000;

/// A query that is not understood: the `find` key it concerns and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Refused {
    pub(super) field: &'static str,
    pub(super) message: String,
}

fn refused(field: &'static str, message: impl Into<String>) -> Refused {
    Refused {
        field,
        message: message.into(),
    }
}

/// A parsed `find`.
#[derive(Debug, Default)]
pub(super) struct Find {
    filter: Option<Filter>,
    attributes: Option<Vec<String>>,
    order: Vec<(String, bool)>,
    limit: Option<u64>,
    offset: u64,
}

/// A parsed `where`.
#[derive(Debug, Clone, PartialEq)]
enum Filter {
    All(Vec<Filter>),
    Any(Vec<Filter>),
    Test(String, Op, Value),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    In,
    NotIn,
    Like,
    NotLike,
    Gt,
    Gte,
    Lt,
    Lte,
}

fn op(name: &str) -> Option<Op> {
    Some(match name {
        "eq" => Op::Eq,
        "ne" => Op::Ne,
        "in" => Op::In,
        "notIn" => Op::NotIn,
        "like" => Op::Like,
        "notLike" => Op::NotLike,
        "gt" => Op::Gt,
        "gte" => Op::Gte,
        "lt" => Op::Lt,
        "lte" => Op::Lte,
        _ => return None,
    })
}

/// A field a `where` key names: a refusal may quote it (a key is a name, never a secret).
fn field_name(name: &str) -> Result<String, Refused> {
    if QUERYABLE.contains(&name) {
        Ok(name.to_owned())
    } else {
        Err(refused(
            "find",
            format!("find cannot use the field {name:?}"),
        ))
    }
}

/// A field a string value names (`attributes`, `order`): a refusal says where it is, not what
/// it says, since no value of a body is quoted back (CR-7).
fn field_at(name: &str, at: impl FnOnce() -> String) -> Result<String, Refused> {
    if QUERYABLE.contains(&name) {
        Ok(name.to_owned())
    } else {
        Err(refused(
            "find",
            format!("{} is not a field find can use", at()),
        ))
    }
}

fn parse_where(v: &Value, depth: usize) -> Result<Filter, Refused> {
    if depth > 8 {
        return Err(refused("find", "find.where is nested too deeply"));
    }
    let Value::Object(m) = v else {
        return Err(refused("find", "find.where must be an object"));
    };
    let mut all = Vec::new();
    for (key, value) in m {
        match key.as_str() {
            "and" | "or" => {
                let Value::Array(items) = value else {
                    return Err(refused(
                        "find",
                        format!("find.where.{key} must be an array"),
                    ));
                };
                let parts = items
                    .iter()
                    .map(|i| parse_where(i, depth + 1))
                    .collect::<Result<Vec<_>, _>>()?;
                all.push(if key == "and" {
                    Filter::All(parts)
                } else {
                    Filter::Any(parts)
                });
            }
            name => {
                let field = field_name(name)?;
                all.extend(tests(field, value)?);
            }
        }
    }
    Ok(Filter::All(all))
}

/// The tests on one field: a value (equality) or an object of operators.
fn tests(field: String, value: &Value) -> Result<Vec<Filter>, Refused> {
    let Value::Object(ops) = value else {
        return Ok(vec![Filter::Test(field, Op::Eq, value.clone())]);
    };
    ops.iter()
        .map(|(name, operand)| {
            let o = op(name).ok_or_else(|| {
                refused(
                    "find",
                    format!("find.where does not support the operator {name:?}"),
                )
            })?;
            let ok = match o {
                Op::In | Op::NotIn => operand.is_array(),
                Op::Like | Op::NotLike => operand.is_string(),
                Op::Gt | Op::Gte | Op::Lt | Op::Lte => operand.is_string() || operand.is_number(),
                Op::Eq | Op::Ne => !operand.is_object() && !operand.is_array(),
            };
            if !ok {
                return Err(refused(
                    "find",
                    format!("find.where.{field}.{name} has an operand of the wrong type"),
                ));
            }
            Ok(Filter::Test(field.clone(), o, operand.clone()))
        })
        .collect()
}

fn parse_attributes(v: &Value) -> Result<Vec<String>, Refused> {
    let Value::Array(items) = v else {
        return Err(refused(
            "find",
            "find.attributes must be an array of field names",
        ));
    };
    items
        .iter()
        .enumerate()
        .map(|(n, i)| match i {
            Value::String(s) if s == "description" => Ok(s.clone()),
            Value::String(s) => field_at(s, || format!("find.attributes[{n}]")),
            _ => Err(refused(
                "find",
                "find.attributes must be an array of field names",
            )),
        })
        .collect()
}

fn parse_order(v: &Value) -> Result<Vec<(String, bool)>, Refused> {
    let bad = || {
        refused(
            "find",
            "find.order must be an array of [field, \"asc\" or \"desc\"]",
        )
    };
    let Value::Array(items) = v else {
        return Err(bad());
    };
    items
        .iter()
        .enumerate()
        .map(|(n, i)| {
            let pair = i.as_array().ok_or_else(bad)?;
            let (Some(Value::String(f)), dir) = (pair.first(), pair.get(1)) else {
                return Err(bad());
            };
            let ascending = match dir.and_then(Value::as_str).map(str::to_ascii_lowercase) {
                None if pair.len() == 1 => true,
                Some(d) if d == "asc" && pair.len() == 2 => true,
                Some(d) if d == "desc" && pair.len() == 2 => false,
                _ => return Err(bad()),
            };
            Ok((field_at(f, || format!("find.order[{n}][0]"))?, ascending))
        })
        .collect()
}

fn count(v: &Value, name: &'static str) -> Result<u64, Refused> {
    v.as_u64()
        .ok_or_else(|| refused("find", format!("find.{name} must be a whole number")))
}

impl Find {
    /// `find` as the request sends it (None or `{}`: everything).
    pub(super) fn parse(find: Option<&Value>) -> Result<Self, Refused> {
        let mut out = Self::default();
        let m = match find {
            None | Some(Value::Null) => return Ok(out),
            Some(Value::Object(m)) => m,
            Some(_) => return Err(refused("find", "find must be an object")),
        };
        for (key, v) in m {
            match key.as_str() {
                "where" => out.filter = Some(parse_where(v, 0)?),
                "attributes" => out.attributes = Some(parse_attributes(v)?),
                "order" => out.order = parse_order(v)?,
                "limit" => {
                    let n = count(v, "limit")?;
                    if n > MAX_LIMIT {
                        return Err(refused(
                            "find",
                            format!("find.limit must be at most {MAX_LIMIT}"),
                        ));
                    }
                    out.limit = Some(n);
                }
                "offset" => out.offset = count(v, "offset")?,
                // An empty include or search asks for nothing more.
                "include" if v.as_array().is_some_and(Vec::is_empty) => {}
                "search" if v.is_null() || v.as_object().is_some_and(Map::is_empty) => {}
                other => {
                    return Err(refused(
                        "find",
                        format!("find.{other} is not supported here"),
                    ));
                }
            }
        }
        Ok(out)
    }

    /// The `{count, rows}` answer over `rows`: filtered (count), ordered, paged, projected.
    pub(super) fn apply(&self, rows: Vec<Value>) -> (usize, Vec<Value>) {
        let mut rows: Vec<Value> = rows
            .into_iter()
            .filter(|r| self.filter.as_ref().is_none_or(|f| matches(f, r)))
            .collect();
        let count = rows.len();
        if !self.order.is_empty() {
            rows.sort_by(|a, b| {
                self.order
                    .iter()
                    .map(|(f, asc)| {
                        let o = sort_order(&a[f.as_str()], &b[f.as_str()]);
                        if *asc { o } else { o.reverse() }
                    })
                    .find(|o| o.is_ne())
                    .unwrap_or(Ordering::Equal)
            });
        }
        let offset = usize::try_from(self.offset).unwrap_or(usize::MAX);
        let limit = self
            .limit
            .map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
        let rows = rows
            .into_iter()
            .skip(offset)
            .take(limit)
            .map(|r| self.project(r))
            .collect();
        (count, rows)
    }

    fn project(&self, row: Value) -> Value {
        match (&self.attributes, row) {
            (Some(fields), Value::Object(mut m)) => Value::Object(
                fields
                    .iter()
                    .filter_map(|f| m.remove(f).map(|v| (f.clone(), v)))
                    .collect(),
            ),
            (_, row) => row,
        }
    }
}

/// Values of one kind compared: numbers as numbers, strings (times are ISO 8601 UTC, so they
/// sort as text), booleans; None across kinds or with null.
fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::Null, Value::Null) => Some(Ordering::Equal),
        _ => None,
    }
}

/// The order `order` sorts by: a total order (a sort may panic on one that is not), values of
/// one kind as [`compare`] orders them, kinds apart (booleans, numbers, strings), and nulls
/// last, as PostgreSQL sorts them (first when descending).
fn sort_order(a: &Value, b: &Value) -> Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Bool(_) => 0,
            Value::Number(_) => 1,
            Value::String(_) => 2,
            Value::Array(_) | Value::Object(_) => 3,
            Value::Null => 4,
        }
    }
    rank(a)
        .cmp(&rank(b))
        .then_with(|| compare(a, b).unwrap_or(Ordering::Equal))
}

/// Whether `value` equals `operand` (a port "5432" equals 5432: Luzmo answers ports as text).
fn equals(value: &Value, operand: &Value) -> bool {
    match (value, operand) {
        (Value::String(s), Value::Number(n)) | (Value::Number(n), Value::String(s)) => {
            *s == n.to_string()
        }
        _ => compare(value, operand) == Some(Ordering::Equal),
    }
}

/// SQL LIKE: `%` any run, `_` one character, case-sensitive.
fn like(text: &str, pattern: &str) -> bool {
    let t: Vec<char> = text.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    // Dynamic programming over (pattern position, text position).
    let mut reach = vec![false; t.len() + 1];
    reach[0] = true;
    for pc in &p {
        let mut next = vec![false; t.len() + 1];
        match pc {
            '%' => {
                let mut any = false;
                for i in 0..=t.len() {
                    any |= reach[i];
                    next[i] = any;
                }
            }
            c => {
                for i in 0..t.len() {
                    next[i + 1] = reach[i] && (*c == '_' || t[i] == *c);
                }
            }
        }
        reach = next;
    }
    reach[t.len()]
}

fn matches(f: &Filter, row: &Value) -> bool {
    match f {
        Filter::All(parts) => parts.iter().all(|p| matches(p, row)),
        Filter::Any(parts) => parts.iter().any(|p| matches(p, row)),
        Filter::Test(field, op, operand) => {
            let v = &row[field.as_str()];
            match op {
                Op::Eq => equals(v, operand),
                Op::Ne => !equals(v, operand),
                Op::In => operand
                    .as_array()
                    .is_some_and(|a| a.iter().any(|o| equals(v, o))),
                Op::NotIn => operand
                    .as_array()
                    .is_some_and(|a| !a.iter().any(|o| equals(v, o))),
                Op::Like | Op::NotLike => {
                    let hit = v
                        .as_str()
                        .zip(operand.as_str())
                        .is_some_and(|(t, p)| like(t, p));
                    hit == (*op == Op::Like)
                }
                Op::Gt => compare(v, operand) == Some(Ordering::Greater),
                Op::Gte => compare(v, operand).is_some_and(Ordering::is_ge),
                Op::Lt => compare(v, operand) == Some(Ordering::Less),
                Op::Lte => compare(v, operand).is_some_and(Ordering::is_le),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn rows() -> Vec<Value> {
        vec![
            json!({"id": "a", "name": "Sales DB", "port": "5432", "active": true, "cache": 0}),
            json!({"id": "b", "name": "Ops", "port": "3306", "active": false, "cache": 60}),
            json!({"id": "c", "name": "Sales API", "port": "", "active": true, "cache": 30}),
        ]
    }

    fn ids(find: Value) -> (usize, Vec<String>) {
        let (count, rows) = Find::parse(Some(&find)).unwrap().apply(rows());
        let ids = rows
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect();
        (count, ids)
    }

    #[test]
    fn where_supports_equality_operators_and_or() {
        assert_eq!(ids(json!({"where": {"active": true}})).1, ["a", "c"]);
        assert_eq!(ids(json!({"where": {"port": 5432}})).1, ["a"]);
        assert_eq!(
            ids(json!({"where": {"name": {"like": "Sales%"}}})).1,
            ["a", "c"]
        );
        assert_eq!(ids(json!({"where": {"name": {"notLike": "%a%"}}})).1, ["b"]);
        assert_eq!(
            ids(json!({"where": {"cache": {"gte": 30, "lt": 60}}})).1,
            ["c"]
        );
        assert_eq!(
            ids(json!({"where": {"id": {"in": ["b", "c"]}}})).1,
            ["b", "c"]
        );
        assert_eq!(
            ids(json!({"where": {"id": {"notIn": ["b"]}}})).1,
            ["a", "c"]
        );
        assert_eq!(ids(json!({"where": {"id": {"ne": "a"}}})).1, ["b", "c"]);
        let either = json!({"where": {"or": [{"id": "a"}, {"cache": {"gt": 40}}]}});
        assert_eq!(ids(either).1, ["a", "b"]);
    }

    #[test]
    fn order_limit_offset_and_attributes() {
        let find = json!({"order": [["cache", "desc"]], "limit": 2, "offset": 1});
        assert_eq!(ids(find), (3, vec!["c".to_owned(), "a".to_owned()]));
        let find = json!({"where": {"active": true}, "attributes": ["id", "name"]});
        let (count, rows) = Find::parse(Some(&find)).unwrap().apply(rows());
        assert_eq!(count, 2);
        assert_eq!(rows[0], json!({"id": "a", "name": "Sales DB"}));
    }

    #[test]
    fn anything_else_is_refused_by_name() {
        for bad in [
            json!({"where": {"password": "x"}}),
            json!({"where": {"name": {"regexp": "x"}}}),
            json!({"where": {"name": {"in": "x"}}}),
            json!({"where": []}),
            json!({"order": [["name", "sideways"]]}),
            json!({"order": "name"}),
            json!({"attributes": ["token"]}),
            json!({"limit": -1}),
            json!({"limit": 10_001}),
            json!({"offset": "1"}),
            json!({"include": [{"model": "User"}]}),
            json!({"group": ["name"]}),
            json!("all"),
        ] {
            let r = Find::parse(Some(&bad));
            assert!(r.is_err(), "{bad}");
        }
        let r = Find::parse(Some(&json!({"where": {"token": "x"}}))).unwrap_err();
        assert!(r.message.contains("token"), "{r:?}");
    }

    /// Found by the fuzz target `luzmo`: a field named in `order` (a string value, not a key)
    /// came back quoted in the refusal. Now the refusal says where it is (CR-7).
    #[test]
    fn cr_7_unknown_fields_in_order_and_attributes_are_not_quoted() {
        let secret = "ldpat_5ecret";
        for (find, at) in [
            (
                json!({"order": [["name", "asc"], [secret, "asc"]]}),
                "find.order[1][0]",
            ),
            (
                json!({"attributes": ["name", secret]}),
                "find.attributes[1]",
            ),
        ] {
            let r = Find::parse(Some(&find)).unwrap_err();
            assert!(!r.message.contains(secret), "{}", r.message);
            assert_eq!(r.message, format!("{at} is not a field find can use"));
        }
        let r = Find::parse(Some(&json!({"where": {"nickname": 1}}))).unwrap_err();
        assert_eq!(r.message, "find cannot use the field \"nickname\"");
    }

    /// Found by `account::proptests::find_filters_orders_and_pages`: ordering by a field some
    /// rows hold null was no total order ("a" = null = "b" but "a" < "b"), and the standard
    /// sort panics on such a comparison once there are enough rows.
    #[test]
    fn ordering_by_a_field_with_nulls_is_total() {
        let mut rows = vec![json!({"name": null}); 20];
        for name in ["", "a", "%", "b"] {
            rows.insert(rows.len() / 2, json!({ "name": name }));
            rows.push(json!({"name": null}));
        }
        let n = rows.len();
        for (dir, first) in [("asc", json!("")), ("desc", Value::Null)] {
            let find = json!({"order": [["name", dir]]});
            let (count, sorted) = Find::parse(Some(&find)).unwrap().apply(rows.clone());
            assert_eq!((count, sorted.len()), (n, n));
            assert_eq!(sorted[0]["name"], first, "{dir}");
        }
        let find = json!({"order": [["name", "asc"]]});
        let (_, sorted) = Find::parse(Some(&find)).unwrap().apply(rows);
        let names: Vec<_> = sorted.iter().take(4).map(|r| r["name"].clone()).collect();
        assert_eq!(names, [json!(""), json!("%"), json!("a"), json!("b")]);
    }

    #[test]
    fn like_is_sql_like() {
        assert!(like("Sales DB", "Sales%"));
        assert!(like("Sales DB", "%DB"));
        assert!(like("Sales DB", "S_les DB"));
        assert!(!like("Sales DB", "sales%"));
        assert!(like("", "%"));
        assert!(!like("a", ""));
    }
}
