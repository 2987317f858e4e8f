//! Request bodies of the face, checked field by field into FastAPI's 422 (every failure at
//! once, each with its `loc`; no message quotes a value, which may be a secret). `auth_data`
//! is read against the connector's fields as connections-svc's catalog describes them (which
//! are required, which go to the connection's `identifier` and which to its write-only
//! secrets): the gateway holds no list of its own.

use std::collections::BTreeMap;

use axum::{
    body::Bytes,
    extract::{FromRequest, Request},
    http::{StatusCode, header},
};
use proto::connections::v1 as pb;
use serde_json::{Map, Value};

use super::problem::{self, Invalid, Refusal};
use crate::http::{extract::is_json, limits::unreadable_body};

/// Largest text a credential field takes: secrets as connections-svc bounds them, the user
/// name as it bounds `identifier`.
const MAX_SECRET_BYTES: usize = 64 * 1024;
const MAX_IDENTIFIER_CHARS: usize = 255;

/// A JSON object body: 415 when it is not sent as JSON, 413 when too large, 422 otherwise.
pub(super) struct Object(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for Object {
    type Rejection = Refusal;

    async fn from_request(req: Request, state: &S) -> Result<Self, Refusal> {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(is_json);
        let bytes =
            Bytes::from_request(req, state)
                .await
                .map_err(|r| match unreadable_body(&r).0 {
                    StatusCode::PAYLOAD_TOO_LARGE => {
                        Refusal::problem(problem::TOO_LARGE, problem::TOO_LARGE.description)
                    }
                    StatusCode::REQUEST_TIMEOUT => Refusal::problem(
                        problem::REQUEST_TIMEOUT,
                        problem::REQUEST_TIMEOUT.description,
                    ),
                    _ => Refusal::problem(problem::BAD_REQUEST, "The body could not be read"),
                })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(Refusal::invalid(&["body"], "missing", "Field required"));
        }
        if !json {
            return Err(Refusal::problem(
                problem::UNSUPPORTED_MEDIA_TYPE,
                problem::UNSUPPORTED_MEDIA_TYPE.description,
            ));
        }
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(m)) => Ok(Self(m)),
            Ok(_) => Err(Refusal::invalid(
                &["body"],
                "model_attributes_type",
                "Input should be a valid dictionary or object to extract fields from",
            )),
            Err(_) => Err(Refusal::invalid(
                &["body"],
                "json_invalid",
                "JSON decode error",
            )),
        }
    }
}

/// Failures gathered while reading a body.
#[derive(Default)]
struct Check(Vec<Invalid>);

impl Check {
    fn fail(&mut self, loc: &[&str], kind: &'static str, msg: &str) {
        self.0.push(Invalid::new(loc, kind, msg));
    }

    /// Unknown fields of `m` (pydantic's `extra = "forbid"`).
    fn only(&mut self, m: &Map<String, Value>, at: &[&str], known: &[&str]) {
        for k in m.keys().filter(|k| !known.contains(&k.as_str())) {
            let loc: Vec<&str> = at.iter().copied().chain([k.as_str()]).collect();
            self.fail(&loc, "extra_forbidden", "Extra inputs are not permitted");
        }
    }

    fn done<T>(self, value: T) -> Result<T, Refusal> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(Refusal::Invalid(self.0))
        }
    }
}

/// `{connector_id, auth_data}` of a create: the connector and the fields of its connection.
pub(super) fn create(
    mut m: Map<String, Value>,
    catalog: &[pb::Provider],
) -> Result<(pb::Provider, pb::ConnectionFields), Refusal> {
    let mut check = Check::default();
    check.only(&m, &["body"], &["connector_id", "auth_data"]);
    let connector = match m.remove("connector_id") {
        None => {
            check.fail(&["body", "connector_id"], "missing", "Field required");
            None
        }
        Some(v) => match v.as_u64() {
            None => {
                let msg = "Input should be a valid integer";
                check.fail(&["body", "connector_id"], "int_type", msg);
                None
            }
            Some(n) => {
                let found = catalog.iter().find(|p| u64::from(p.number) == n);
                if found.is_none() {
                    let msg = "Unknown connector: GET /v0/connectors/ lists them";
                    check.fail(&["body", "connector_id"], "value_error", msg);
                }
                found.cloned()
            }
        },
    };
    let auth = match m.remove("auth_data") {
        None => {
            check.fail(&["body", "auth_data"], "missing", "Field required");
            None
        }
        Some(Value::Object(a)) => Some(a),
        Some(_) => {
            let msg = "Input should be a valid dictionary";
            check.fail(&["body", "auth_data"], "dict_type", msg);
            None
        }
    };
    let fields = match (&connector, auth) {
        (Some(p), Some(a)) => Some(auth_data(&mut check, p, a, true)),
        _ => None,
    };
    // Every `None` above recorded its failure.
    match (connector, fields) {
        (Some(p), Some(mut f)) if check.0.is_empty() => {
            f.provider = Some(p.slug.clone());
            f.name = Some(p.name.clone());
            Ok((p, f))
        }
        _ => Err(Refusal::Invalid(check.0)),
    }
}

/// `{is_active, auth_data}` of an update (each may be absent or null: unchanged), for a
/// connection of `provider` (None: a provider outside the catalog, which takes no
/// `auth_data` here). None when the body changes nothing.
pub(super) fn update(
    mut m: Map<String, Value>,
    provider: Option<&pb::Provider>,
) -> Result<Option<pb::ConnectionFields>, Refusal> {
    let mut check = Check::default();
    check.only(&m, &["body"], &["is_active", "auth_data"]);
    let active = match m.remove("is_active") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(b),
        Some(_) => {
            let msg = "Input should be a valid boolean";
            check.fail(&["body", "is_active"], "bool_type", msg);
            None
        }
    };
    let mut fields = pb::ConnectionFields::default();
    match (m.remove("auth_data"), provider) {
        (None | Some(Value::Null), _) => {}
        (Some(Value::Object(a)), Some(p)) => fields = auth_data(&mut check, p, a, false),
        (Some(Value::Object(_)), None) => check.fail(
            &["body", "auth_data"],
            "value_error",
            "This connection's provider is not in the catalog: change its credentials on the \
             REST face (/api/v1/connections)",
        ),
        (Some(_), _) => {
            let msg = "Input should be a valid dictionary";
            check.fail(&["body", "auth_data"], "dict_type", msg);
        }
    }
    fields.active = active;
    let changes =
        fields.active.is_some() || fields.identifier.is_some() || !fields.secrets.is_empty();
    check.done(changes.then_some(fields))
}

/// `auth_data` read against `provider`'s fields into a connection's identifier and secrets;
/// `create` requires the required ones.
fn auth_data(
    check: &mut Check,
    provider: &pb::Provider,
    mut a: Map<String, Value>,
    create: bool,
) -> pb::ConnectionFields {
    let names: Vec<&str> = provider.fields.iter().map(|f| f.name.as_str()).collect();
    check.only(&a, &["body", "auth_data"], &names);
    let mut out = pb::ConnectionFields::default();
    let mut secrets = BTreeMap::new();
    for f in &provider.fields {
        let loc = ["body", "auth_data", f.name.as_str()];
        let Some(v) = a.remove(&f.name) else {
            if create && f.required {
                check.fail(&loc, "missing", "Field required");
            }
            continue;
        };
        let Some(text) = field_text(check, &loc, f, v) else {
            continue;
        };
        match pb::FieldTarget::try_from(f.target) {
            Ok(pb::FieldTarget::Identifier) => out.identifier = Some(text),
            Ok(pb::FieldTarget::Secret) => {
                secrets.insert(f.stored_as.clone(), text);
            }
            _ => check.fail(&loc, "value_error", "This field cannot be stored"),
        }
    }
    out.secrets = secrets.into_iter().collect();
    out
}

/// A credential field's value as text, checked by its format and bounds.
fn field_text(check: &mut Check, loc: &[&str], f: &pb::ProviderField, v: Value) -> Option<String> {
    let secret = f.target == pb::FieldTarget::Secret as i32;
    let text = if f.format == pb::FieldFormat::JsonObject as i32 {
        match v {
            Value::Object(o) if o.values().all(Value::is_string) => Value::Object(o).to_string(),
            Value::Object(_) => {
                let msg = "Input should be a dictionary of strings";
                check.fail(loc, "dict_type", msg);
                return None;
            }
            _ => {
                check.fail(loc, "dict_type", "Input should be a valid dictionary");
                return None;
            }
        }
    } else {
        match v {
            Value::String(s) => s,
            _ => {
                check.fail(loc, "string_type", "Input should be a valid string");
                return None;
            }
        }
    };
    let empty = if secret {
        text.is_empty()
    } else {
        text.trim().is_empty()
    };
    if empty {
        check.fail(
            loc,
            "string_too_short",
            "String should have at least 1 character",
        );
        return None;
    }
    if secret && text.len() > MAX_SECRET_BYTES {
        let msg = format!("String should have at most {MAX_SECRET_BYTES} bytes");
        check.fail(loc, "string_too_long", &msg);
        return None;
    }
    if !secret && text.chars().count() > MAX_IDENTIFIER_CHARS {
        let msg = format!("String should have at most {MAX_IDENTIFIER_CHARS} characters");
        check.fail(loc, "string_too_long", &msg);
        return None;
    }
    Some(text)
}
