//! The contract tests: every JSON body a documented operation returns is validated against the
//! operation's response schema, converted to JSON Schema where the document is OpenAPI 3.0
//! (`nullable` becomes a union with null). Two documents are enforced:
//! - `contracts/lightdash-subset.openapi.json`, Lightdash's API;
//!   `lightdash::every_implemented_operation_is_exercised` proves the coverage;
//! - `docs/openapi.json`, the document the gateway generates from its handlers (issue #19),
//!   checked strictly: every status answered must be documented for its operation, an error's
//!   `statusCode` is the HTTP status. `connections_doc::every_operation_of_the_document_is_exercised`
//!   proves the coverage of the `/api/v1/connections` operations with [`assert_covered`].
//!
//! This module holds the checking itself; `validation` tests it.

mod lightdash;
mod lightdash_orgs;
mod lightdash_projects;
mod validation;

use std::{
    collections::{BTreeSet, HashMap},
    sync::{Arc, LazyLock, Mutex},
};

use reqwest::Method;
use serde_json::{Value, json};

/// An OpenAPI document the tests enforce, with what checking it needs.
pub struct Contract {
    /// The document.
    pub doc: Value,
    /// Its components converted once, as the root that every `$ref` resolves against.
    components: Value,
    /// Compiled response schemas by "METHOD template status".
    validators: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
    /// Our own document: a success status must be documented explicitly, and an error's
    /// `statusCode` must be the HTTP status.
    strict: bool,
    /// Our generated document (OpenAPI 3.1, JSON Schema 2020-12): every status, errors too,
    /// must be documented, in whatever media type the operation answers.
    generated: bool,
    /// Operations the tests have checked a response of: "METHOD template success|error" and
    /// "METHOD template STATUS".
    pub seen: Mutex<BTreeSet<String>>,
}

impl Contract {
    fn new(text: &str, strict: bool) -> Self {
        let doc: Value = serde_json::from_str(text).expect("contract is JSON");
        Self {
            components: to_json_schema(&doc["components"]),
            generated: doc["openapi"]
                .as_str()
                .is_some_and(|v| v.starts_with("3.1")),
            doc,
            validators: Mutex::default(),
            strict,
            seen: Mutex::default(),
        }
    }
}

/// Lightdash's API.
pub static LIGHTDASH: LazyLock<Contract> = LazyLock::new(|| {
    Contract::new(
        include_str!("../../../../contracts/lightdash-subset.openapi.json"),
        false,
    )
});

/// Every public route (issue #19): the document the gateway generates from its handlers and
/// serves at `/api/docs/openapi.json`; the committed copy is kept current by a gateway test.
pub static PLATFORM: LazyLock<Contract> =
    LazyLock::new(|| Contract::new(include_str!("../../../../docs/openapi.json"), true));

/// OpenAPI 3.0 `nullable: true` -> JSON Schema `anyOf [schema, null]`, recursively.
fn to_json_schema(v: &Value) -> Value {
    match v {
        Value::Object(map) => {
            let mut out = serde_json::Map::new();
            for (k, val) in map {
                if k == "nullable" || k.starts_with("x-") {
                    continue;
                }
                out.insert(k.clone(), to_json_schema(val));
            }
            if map.get("nullable") == Some(&Value::Bool(true)) {
                json!({ "anyOf": [Value::Object(out), { "type": "null" }] })
            } else {
                Value::Object(out)
            }
        }
        Value::Array(a) => Value::Array(a.iter().map(to_json_schema).collect()),
        other => other.clone(),
    }
}

/// The Lightdash contract's template for a concrete path, e.g. `/api/v1/user/me/personal-access-tokens/{personalAccessTokenUuid}`.
fn template_for(path: &str) -> Option<String> {
    template_in(&LIGHTDASH.doc, path)
}

/// `doc`'s template for a concrete path.
fn template_in(doc: &Value, path: &str) -> Option<String> {
    let path = path.split('?').next().unwrap_or(path);
    let segs: Vec<&str> = path.split('/').collect();
    let paths = doc["paths"].as_object().unwrap();
    // Prefer the template with the most literal segments (`/tags/yaml` over `/tags/{tagUuid}`).
    paths
        .keys()
        .filter(|t| {
            let ts: Vec<&str> = t.split('/').collect();
            ts.len() == segs.len()
                && ts
                    .iter()
                    .zip(&segs)
                    .all(|(t, s)| (t.starts_with('{') && !s.is_empty()) || t == s)
        })
        .max_by_key(|t| t.split('/').filter(|s| !s.starts_with('{')).count())
        .cloned()
}

/// A Lightdash response schema, compiled.
fn validator(key: &str, schema: &Value) -> Arc<jsonschema::Validator> {
    validator_in(&LIGHTDASH, key, schema)
}

fn validator_in(contract: &Contract, key: &str, schema: &Value) -> Arc<jsonschema::Validator> {
    let mut cache = contract.validators.lock().unwrap();
    cache
        .entry(key.to_owned())
        .or_insert_with(|| {
            let mut root = json!({ "components": contract.components.clone() });
            root["allOf"] = json!([to_json_schema(schema)]);
            let draft = if contract.generated {
                jsonschema::Draft::Draft202012
            } else {
                jsonschema::Draft::Draft7
            };
            Arc::new(
                jsonschema::options()
                    .with_draft(draft)
                    .should_validate_formats(true)
                    .build(&root)
                    .unwrap_or_else(|e| panic!("schema for {key} does not compile: {e}")),
            )
        })
        .clone()
}

/// Validates `body` when `method path` is an operation of one of the contracts.
pub fn check(method: &Method, path: &str, status: u16, body: &Value) {
    for contract in [&*LIGHTDASH, &*PLATFORM] {
        check_in(contract, method, path, status, body);
    }
}

fn check_in(contract: &Contract, method: &Method, path: &str, status: u16, body: &Value) {
    let Some(template) = template_in(&contract.doc, path) else {
        return;
    };
    let m = method.as_str().to_lowercase();
    let Some(op) = contract.doc["paths"][&template].get(&m) else {
        return;
    };
    let responses = &op["responses"];
    let seen = |outcome: &str| {
        let mut seen = contract.seen.lock().unwrap();
        seen.insert(format!("{method} {template} {outcome}"));
        seen.insert(format!("{method} {template} {status}"));
    };
    // A 204 carries no content whatever the contract's schema says (RFC 9110 15.3.5).
    if status == 204 && responses.get("204").is_some() {
        assert!(
            body.is_null(),
            "{method} {template}: a 204 with a body: {body}"
        );
        seen("success");
        return;
    }
    if contract.strict {
        assert!(
            (status >= 400 && !contract.generated) || responses.get(status.to_string()).is_some(),
            "{method} {template}: the document has no response {status}; body: {body}"
        );
        if status >= 400 && (!contract.generated || body["error"]["statusCode"].is_number()) {
            assert_eq!(
                body["error"]["statusCode"], status,
                "{method} {template}: the error's statusCode is not the HTTP status"
            );
        }
    }
    let response = responses
        .get(status.to_string())
        .unwrap_or(&responses["default"]);
    let schema = if contract.generated {
        // The media type the operation answers (Sumvin's problems are
        // `application/problem+json`); no content: no body to check.
        match response["content"]
            .as_object()
            .and_then(|c| c.values().next())
        {
            Some(content) => &content["schema"],
            None => {
                assert!(
                    body.is_null(),
                    "{method} {template} {status}: the document says no body, got {body}"
                );
                seen(if status < 300 { "success" } else { "error" });
                return;
            }
        }
    } else {
        &response["content"]["application/json"]["schema"]
    };
    assert!(
        !schema.is_null(),
        "{method} {template}: the contract has no JSON schema for status {status}"
    );
    let key = format!("{method} {template} {status}");
    let v = validator_in(contract, &key, schema);
    let errors: Vec<String> = v
        .iter_errors(body)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{key}: the body breaks the contract:\n{}\nbody: {body}",
        errors.join("\n")
    );
    seen(if status < 300 { "success" } else { "error" });
}

/// Every operation of `contract` under `prefix` has been checked with a success and an error
/// answer, and every response status it documents (all but `default` and `unprovoked`, the
/// statuses no test can make the platform answer on demand, such as 503) has been seen.
pub fn assert_covered(contract: &Contract, prefix: &str, unprovoked: &[&str]) {
    let seen = contract.seen.lock().unwrap().clone();
    let mut operations = 0;
    let mut missing = Vec::new();
    for (template, item) in contract.doc["paths"].as_object().unwrap() {
        if template != prefix && !template.starts_with(&format!("{prefix}/")) {
            continue;
        }
        for (method, op) in item.as_object().unwrap() {
            let Some(responses) = op.get("responses").and_then(Value::as_object) else {
                continue;
            };
            operations += 1;
            let method = method.to_uppercase();
            let expected = ["success", "error"].into_iter().map(str::to_owned).chain(
                responses
                    .keys()
                    .filter(|s| {
                        *s != "default"
                            && !unprovoked.contains(&s.as_str())
                            && !unprovoked.contains(&format!("{method} {template} {s}").as_str())
                    })
                    .cloned(),
            );
            missing.extend(
                expected
                    .map(|outcome| format!("{method} {template} {outcome}"))
                    .filter(|key| !seen.contains(key)),
            );
        }
    }
    assert!(
        operations > 0,
        "the document has no operation under {prefix}"
    );
    assert!(
        missing.is_empty(),
        "not exercised against the document:\n{}",
        missing.join("\n")
    );
}
