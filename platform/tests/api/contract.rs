//! The contract tests: every JSON body a documented operation returns is validated against the
//! operation's response schema, converted from OpenAPI 3.0 to JSON Schema (`nullable` becomes a
//! union with null). Two documents are enforced:
//! - `contracts/lightdash-subset.openapi.json`, Lightdash's API;
//!   `every_implemented_operation_is_exercised` proves the coverage;
//! - `docs/openapi/connections.openapi.json`, our own `/api/v1/connections` routes, checked more
//!   strictly (a success status must be documented, an error's `statusCode` is the HTTP status);
//!   `connections_doc::every_operation_of_the_document_is_exercised` proves the coverage with
//!   [`assert_covered`].
//!
//! The connections document is also checked as OpenAPI 3.0.3 by `openapi-spec-validator`:
//!
//! ```sh
//! python3 -m venv /tmp/oasv && /tmp/oasv/bin/pip install openapi-spec-validator
//! /tmp/oasv/bin/openapi-spec-validator docs/openapi/connections.openapi.json
//! ```

use std::{
    collections::{BTreeSet, HashMap},
    sync::{Arc, LazyLock, Mutex},
};

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Auth, TestApp, dual};

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
    /// Operations the tests have checked a response of: "METHOD template success|error" and
    /// "METHOD template STATUS".
    pub seen: Mutex<BTreeSet<String>>,
}

impl Contract {
    fn new(text: &str, strict: bool) -> Self {
        let doc: Value = serde_json::from_str(text).expect("contract is JSON");
        Self {
            components: to_json_schema(&doc["components"]),
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
        include_str!("../../../contracts/lightdash-subset.openapi.json"),
        false,
    )
});

/// Our `/api/v1/connections` routes, the document the gateway serves.
pub static CONNECTIONS: LazyLock<Contract> = LazyLock::new(|| {
    Contract::new(
        include_str!("../../../docs/openapi/connections.openapi.json"),
        true,
    )
});

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
            Arc::new(
                jsonschema::options()
                    .with_draft(jsonschema::Draft::Draft7)
                    .should_validate_formats(true)
                    .build(&root)
                    .unwrap_or_else(|e| panic!("schema for {key} does not compile: {e}")),
            )
        })
        .clone()
}

/// Validates `body` when `method path` is an operation of one of the contracts.
pub fn check(method: &Method, path: &str, status: u16, body: &Value) {
    for contract in [&*LIGHTDASH, &*CONNECTIONS] {
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
            status >= 400 || responses.get(status.to_string()).is_some(),
            "{method} {template}: the document has no response {status}; body: {body}"
        );
        if status >= 400 {
            assert_eq!(
                body["error"]["statusCode"], status,
                "{method} {template}: the error's statusCode is not the HTTP status"
            );
        }
    }
    let response = responses
        .get(status.to_string())
        .unwrap_or(&responses["default"]);
    let schema = &response["content"]["application/json"]["schema"];
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

/// Every operation of `contract` has been checked with a success and an error answer, and every
/// response status it documents (all but `default`) has been seen.
pub fn assert_covered(contract: &Contract) {
    let seen = contract.seen.lock().unwrap().clone();
    let mut operations = 0;
    for (template, item) in contract.doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let Some(responses) = op.get("responses").and_then(Value::as_object) else {
                continue;
            };
            operations += 1;
            let method = method.to_uppercase();
            let expected = ["success", "error"]
                .into_iter()
                .map(str::to_owned)
                .chain(responses.keys().filter(|s| *s != "default").cloned());
            for outcome in expected {
                let key = format!("{method} {template} {outcome}");
                assert!(
                    seen.contains(&key),
                    "not exercised against the document: {key}"
                );
            }
        }
    }
    assert!(operations > 0, "the document has no operation");
}

/// The Lightdash operations this build implements: each must be exercised with a success and
/// an error answer, both validated.
const IMPLEMENTED: &[(&str, &str)] = &[
    ("POST", "/api/v1/user"),
    ("GET", "/api/v1/user"),
    ("POST", "/api/v1/login"),
    ("GET", "/api/v1/logout"),
    ("GET", "/api/v1/user/me/personal-access-tokens"),
    ("POST", "/api/v1/user/me/personal-access-tokens"),
    (
        "DELETE",
        "/api/v1/user/me/personal-access-tokens/{personalAccessTokenUuid}",
    ),
    (
        "PATCH",
        "/api/v1/user/me/personal-access-tokens/{personalAccessTokenUuid}/rotate",
    ),
    ("PUT", "/api/v1/org"),
    ("GET", "/api/v1/org"),
    ("PATCH", "/api/v1/org"),
    ("DELETE", "/api/v1/org/{organizationUuid}"),
    ("GET", "/api/v1/org/users"),
    ("GET", "/api/v1/org/users/{userUuid}"),
    ("PATCH", "/api/v1/org/users/{userUuid}"),
    ("DELETE", "/api/v1/org/user/{userUuid}"),
    ("POST", "/api/v1/invite-links"),
    ("DELETE", "/api/v1/invite-links"),
    ("GET", "/api/v1/invite-links/{inviteLinkCode}"),
    ("DELETE", "/api/v1/user/me"),
    ("GET", "/api/v1/user/login-options"),
    ("GET", "/api/v1/org/projects"),
    ("GET", "/api/v1/projects/{projectUuid}"),
    ("PATCH", "/api/v1/projects/{projectUuid}/metadata"),
    ("PATCH", "/api/v1/projects/{projectUuid}/schedulerSettings"),
    ("GET", "/api/v1/projects/{projectUuid}/access"),
    ("POST", "/api/v1/projects/{projectUuid}/access"),
    ("PATCH", "/api/v1/projects/{projectUuid}/access/{userUuid}"),
    ("DELETE", "/api/v1/projects/{projectUuid}/access/{userUuid}"),
    ("GET", "/api/v1/projects/{projectUuid}/user/{userUuid}"),
    ("GET", "/api/v1/projects/{projectUuid}/groupAccesses"),
    ("POST", "/api/v1/groups/{groupUuid}/projects/{projectUuid}"),
    ("PATCH", "/api/v1/groups/{groupUuid}/projects/{projectUuid}"),
    (
        "DELETE",
        "/api/v1/groups/{groupUuid}/projects/{projectUuid}",
    ),
    ("POST", "/api/v1/projects/{projectUuid}/spaces"),
    ("GET", "/api/v1/projects/{projectUuid}/spaces"),
    ("GET", "/api/v1/projects/{projectUuid}/spaces/{spaceUuid}"),
    ("PATCH", "/api/v1/projects/{projectUuid}/spaces/{spaceUuid}"),
    (
        "DELETE",
        "/api/v1/projects/{projectUuid}/spaces/{spaceUuid}",
    ),
    (
        "POST",
        "/api/v1/projects/{projectUuid}/spaces/{spaceUuid}/share",
    ),
    (
        "DELETE",
        "/api/v1/projects/{projectUuid}/spaces/{spaceUuid}/share/{userUuid}",
    ),
    (
        "POST",
        "/api/v1/projects/{projectUuid}/spaces/{spaceUuid}/group/share",
    ),
    (
        "DELETE",
        "/api/v1/projects/{projectUuid}/spaces/{spaceUuid}/group/share/{groupUuid}",
    ),
    ("POST", "/api/v1/projects/{projectUuid}/tags"),
    ("GET", "/api/v1/projects/{projectUuid}/tags"),
    ("PUT", "/api/v1/projects/{projectUuid}/tags/yaml"),
    ("PATCH", "/api/v1/projects/{projectUuid}/tags/{tagUuid}"),
    ("DELETE", "/api/v1/projects/{projectUuid}/tags/{tagUuid}"),
    ("GET", "/api/v1/user/me/email/status"),
    ("PUT", "/api/v1/user/me/email/otp"),
    ("GET", "/api/v1/user/me/allowedOrganizations"),
    (
        "POST",
        "/api/v1/user/me/joinOrganization/{organizationUuid}",
    ),
    ("GET", "/api/v1/org/allowedEmailDomains"),
    ("PATCH", "/api/v1/org/allowedEmailDomains"),
    ("GET", "/api/v1/org/attributes"),
    ("POST", "/api/v1/org/attributes"),
    ("PUT", "/api/v1/org/attributes/{userAttributeUuid}"),
    ("DELETE", "/api/v1/org/attributes/{userAttributeUuid}"),
    ("POST", "/api/v1/org/groups"),
    ("GET", "/api/v1/org/groups"),
    ("GET", "/api/v1/groups/{groupUuid}"),
    ("PATCH", "/api/v1/groups/{groupUuid}"),
    ("DELETE", "/api/v1/groups/{groupUuid}"),
    ("GET", "/api/v1/groups/{groupUuid}/members"),
    ("PUT", "/api/v1/groups/{groupUuid}/members/{userUuid}"),
    ("DELETE", "/api/v1/groups/{groupUuid}/members/{userUuid}"),
    ("GET", "/api/v1/user/warehouseCredentials"),
    ("POST", "/api/v1/user/warehouseCredentials"),
    ("PATCH", "/api/v1/user/warehouseCredentials/{uuid}"),
    ("DELETE", "/api/v1/user/warehouseCredentials/{uuid}"),
    ("GET", "/api/v1/projects/{projectUuid}/user-credentials"),
    (
        "PATCH",
        "/api/v1/projects/{projectUuid}/user-credentials/{userWarehouseCredentialsUuid}",
    ),
];

async fn every_implemented_operation_is_exercised(app: TestApp) {
    let user = app.register().await;
    let cookie = Auth::Cookie(user.cookie.clone());
    let nobody = Auth::None;
    // Error answers of each operation.
    app.post("/api/v1/user", &nobody, json!({"email": user.email, "password": "whatever it is", "firstName": "A", "lastName": "B"}))
        .await
        .expect_error(409);
    app.get("/api/v1/user", &nobody).await.expect_error(401);
    app.post(
        "/api/v1/login",
        &nobody,
        json!({"email": user.email, "password": "wrong password!"}),
    )
    .await
    .expect_error(401);
    app.get("/api/v1/logout", &nobody).await.expect_error(401);
    app.get("/api/v1/user/me/personal-access-tokens", &nobody)
        .await
        .expect_error(401);
    app.post("/api/v1/user/me/personal-access-tokens", &cookie, json!({}))
        .await
        .expect_error(400);
    let missing = uuid::Uuid::now_v7();
    app.send(
        Method::DELETE,
        &format!("/api/v1/user/me/personal-access-tokens/{missing}"),
        &cookie,
        None,
    )
    .await
    .expect_error(404);
    app.send(
        Method::PATCH,
        &format!("/api/v1/user/me/personal-access-tokens/{missing}/rotate"),
        &cookie,
        Some(json!({"expiresAt": "2099-01-01T00:00:00Z"})),
    )
    .await
    .expect_error(404);
    // Success answers.
    app.get("/api/v1/user", &cookie).await.results();
    let login = app
        .post(
            "/api/v1/login",
            &nobody,
            json!({"email": user.email, "password": user.password}),
        )
        .await;
    login.results();
    let (uuid, _) = app
        .create_pat(
            &user,
            json!({"description": "contract", "expiresAt": "2099-01-01T00:00:00.000Z"}),
        )
        .await;
    app.get("/api/v1/user/me/personal-access-tokens", &cookie)
        .await
        .results();
    app.send(
        Method::PATCH,
        &format!("/api/v1/user/me/personal-access-tokens/{uuid}/rotate"),
        &cookie,
        Some(json!({"expiresAt": "2099-06-01T00:00:00.000Z"})),
    )
    .await
    .results();
    app.send(
        Method::DELETE,
        &format!("/api/v1/user/me/personal-access-tokens/{uuid}"),
        &cookie,
        None,
    )
    .await;
    // Organizations, members, invitations: errors first (no organization yet), then successes.
    let missing_user = uuid::Uuid::now_v7();
    app.send(Method::PUT, "/api/v1/org", &cookie, Some(json!({})))
        .await
        .expect_error(400);
    app.get("/api/v1/org", &cookie).await.expect_error(403);
    app.send(
        Method::PATCH,
        "/api/v1/org",
        &cookie,
        Some(json!({"name": "x"})),
    )
    .await
    .expect_error(403);
    app.send(
        Method::DELETE,
        &format!("/api/v1/org/{missing}"),
        &cookie,
        None,
    )
    .await
    .expect_error(403);
    app.get("/api/v1/org/users", &cookie)
        .await
        .expect_error(403);
    app.get(&format!("/api/v1/org/users/{missing_user}"), &cookie)
        .await
        .expect_error(403);
    app.send(
        Method::PATCH,
        &format!("/api/v1/org/users/{missing_user}"),
        &cookie,
        Some(json!({"role": "viewer"})),
    )
    .await
    .expect_error(403);
    app.send(
        Method::DELETE,
        &format!("/api/v1/org/user/{missing_user}"),
        &cookie,
        None,
    )
    .await
    .expect_error(403);
    app.post(
        "/api/v1/invite-links",
        &cookie,
        json!({"email": "x@example.com"}),
    )
    .await
    .expect_error(403);
    app.send(Method::DELETE, "/api/v1/invite-links", &cookie, None)
        .await
        .expect_error(403);
    app.get("/api/v1/invite-links/ldinv_nope", &nobody)
        .await
        .expect_error(404);

    app.send(
        Method::PUT,
        "/api/v1/org",
        &cookie,
        Some(json!({"name": "Contract"})),
    )
    .await
    .results();
    let org = app.get("/api/v1/org", &cookie).await.results()["organizationUuid"]
        .as_str()
        .unwrap()
        .to_owned();
    app.send(
        Method::PATCH,
        "/api/v1/org",
        &cookie,
        Some(json!({"name": "Contract 2"})),
    )
    .await
    .results();
    let invite = app
        .post(
            "/api/v1/invite-links",
            &cookie,
            json!({"email": format!("c-{}@example.com", uuid::Uuid::new_v4().simple())}),
        )
        .await;
    let code = invite.results()["inviteCode"].as_str().unwrap().to_owned();
    let invited = invite.results()["userUuid"].as_str().unwrap().to_owned();
    app.get(&format!("/api/v1/invite-links/{code}"), &nobody)
        .await
        .results();
    app.get("/api/v1/org/users", &cookie).await.results();
    app.get(&format!("/api/v1/org/users/{invited}"), &cookie)
        .await
        .results();
    app.send(
        Method::PATCH,
        &format!("/api/v1/org/users/{invited}"),
        &cookie,
        Some(json!({"role": "editor"})),
    )
    .await
    .results();
    app.send(Method::DELETE, "/api/v1/invite-links", &cookie, None)
        .await
        .results();
    app.get("/api/v1/org/allowedEmailDomains", &cookie)
        .await
        .results();
    app.send(
        Method::PATCH,
        "/api/v1/org/allowedEmailDomains",
        &cookie,
        Some(json!({"role": "viewer", "emailDomains": ["example.com"], "projects": []})),
    )
    .await
    .results();
    app.send(
        Method::PATCH,
        "/api/v1/org/allowedEmailDomains",
        &cookie,
        Some(json!({"role": "admin", "emailDomains": [], "projects": []})),
    )
    .await
    .expect_error(400);
    app.get("/api/v1/org/allowedEmailDomains", &nobody)
        .await
        .expect_error(401);
    // User attributes: errors, then successes.
    let attr = json!({"name": "region", "attributeDefault": "eu", "users": [{"userUuid": invited, "value": "us"}], "groups": []});
    let at = format!("/api/v1/org/attributes/{missing}");
    app.post(
        "/api/v1/org/attributes",
        &cookie,
        json!({"name": "Bad Name", "attributeDefault": null, "users": [], "groups": []}),
    )
    .await
    .expect_error(400);
    app.send(Method::PUT, &at, &cookie, Some(attr.clone()))
        .await
        .expect_error(404);
    app.send(Method::DELETE, &at, &cookie, None)
        .await
        .expect_error(404);
    let created = app
        .post("/api/v1/org/attributes", &cookie, attr.clone())
        .await;
    let at = format!(
        "/api/v1/org/attributes/{}",
        created.results()["uuid"].as_str().unwrap()
    );
    app.get("/api/v1/org/attributes", &cookie).await.results();
    app.send(Method::PUT, &at, &cookie, Some(attr))
        .await
        .results();
    app.send(Method::DELETE, &at, &cookie, None).await.results();
    app.get("/api/v1/org/attributes", &nobody)
        .await
        .expect_error(401);
    // Groups: errors, then successes.
    let g = format!("/api/v1/groups/{missing}");
    app.post("/api/v1/org/groups", &cookie, json!({"name": ""}))
        .await
        .expect_error(400);
    app.get("/api/v1/org/groups?pageSize=0.5", &cookie)
        .await
        .expect_error(400);
    app.get(&g, &cookie).await.expect_error(404);
    app.send(Method::PATCH, &g, &cookie, Some(json!({"name": "x"})))
        .await
        .expect_error(404);
    app.send(Method::DELETE, &g, &cookie, None)
        .await
        .expect_error(404);
    app.get(&format!("{g}/members"), &cookie)
        .await
        .expect_error(404);
    app.send(
        Method::PUT,
        &format!("{g}/members/{invited}"),
        &cookie,
        None,
    )
    .await
    .expect_error(404);
    app.send(
        Method::DELETE,
        &format!("{g}/members/{invited}"),
        &cookie,
        None,
    )
    .await
    .expect_error(404);
    let created = app
        .post(
            "/api/v1/org/groups",
            &cookie,
            json!({"name": "Contract", "members": [{"userUuid": invited}]}),
        )
        .await;
    let g = format!(
        "/api/v1/groups/{}",
        created.results()["uuid"].as_str().unwrap()
    );
    app.get("/api/v1/org/groups?includeMembers=5", &cookie)
        .await
        .results();
    app.get("/api/v1/org/groups", &cookie).await.results();
    app.get(&format!("{g}?includeMembers=5"), &cookie)
        .await
        .results();
    app.get(&g, &cookie).await.results();
    app.send(
        Method::PATCH,
        &g,
        &cookie,
        Some(json!({"name": "Contract 2"})),
    )
    .await
    .results();
    app.get(&format!("{g}/members"), &cookie).await.results();
    app.send(
        Method::DELETE,
        &format!("{g}/members/{invited}"),
        &cookie,
        None,
    )
    .await
    .results();
    app.send(
        Method::PUT,
        &format!("{g}/members/{invited}"),
        &cookie,
        None,
    )
    .await
    .results();
    app.send(Method::DELETE, &g, &cookie, None).await.results();
    app.send(
        Method::DELETE,
        &format!("/api/v1/org/user/{invited}"),
        &cookie,
        None,
    )
    .await
    .results();
    app.send(Method::DELETE, &format!("/api/v1/org/{org}"), &cookie, None)
        .await
        .results();
    app.get("/api/v1/logout", &cookie).await;

    app.get("/api/v1/user/login-options", &nobody)
        .await
        .results();
    app.get("/api/v1/user/login-options?x=1", &nobody)
        .await
        .expect_error(400);
    // Projects and their access.
    {
        let (padmin, _) = crate::organizations::admin_of_new_org(&app, "Contract projects").await;
        let pa = Auth::Cookie(padmin.cookie.clone());
        let viewer = crate::organizations::invite_and_join(&app, &padmin, "member").await;
        let project = crate::projects::new_project(&app, &padmin, "Contract").await;
        let missing = uuid::Uuid::now_v7();
        let p = format!("/api/v1/projects/{project}");
        let gone = format!("/api/v1/projects/{missing}");
        app.get("/api/v1/org/projects", &pa).await.results();
        app.get("/api/v1/org/projects", &nobody)
            .await
            .expect_error(401);
        app.get(&p, &pa).await.results();
        app.get(&gone, &pa).await.expect_error(404);
        let meta = json!({"upstreamProjectUuid": null});
        app.send(
            Method::PATCH,
            &format!("{p}/metadata"),
            &pa,
            Some(meta.clone()),
        )
        .await
        .results();
        app.send(Method::PATCH, &format!("{gone}/metadata"), &pa, Some(meta))
            .await
            .expect_error(404);
        let tz = json!({"schedulerTimezone": "Europe/Berlin"});
        app.send(
            Method::PATCH,
            &format!("{p}/schedulerSettings"),
            &pa,
            Some(tz),
        )
        .await
        .results();
        app.send(
            Method::PATCH,
            &format!("{p}/schedulerSettings"),
            &pa,
            Some(json!({"schedulerTimezone": "Nowhere/City"})),
        )
        .await
        .expect_error(400);
        let grant = json!({"email": viewer.email, "role": "viewer", "sendEmail": false});
        app.post(&format!("{p}/access"), &pa, grant.clone())
            .await
            .results();
        app.post(&format!("{p}/access"), &pa, grant)
            .await
            .expect_error(409);
        app.get(&format!("{p}/access"), &pa).await.results();
        app.get(&format!("{gone}/access"), &pa)
            .await
            .expect_error(404);
        let ua = format!("{p}/access/{}", viewer.user_uuid);
        app.send(Method::PATCH, &ua, &pa, Some(json!({"role": "editor"})))
            .await
            .results();
        app.send(
            Method::PATCH,
            &format!("{p}/access/{missing}"),
            &pa,
            Some(json!({"role": "editor"})),
        )
        .await
        .expect_error(404);
        app.get(&format!("{p}/user/{}", viewer.user_uuid), &pa)
            .await
            .results();
        app.get(&format!("{p}/user/{missing}"), &pa)
            .await
            .expect_error(404);
        app.send(Method::DELETE, &ua, &pa, None).await.results();
        app.send(Method::DELETE, &ua, &pa, None)
            .await
            .expect_error(404);
        let group = app
            .post("/api/v1/org/groups", &pa, json!({"name": "Contract group"}))
            .await
            .results()["uuid"]
            .as_str()
            .unwrap()
            .to_owned();
        let gp = format!("/api/v1/groups/{group}/projects/{project}");
        app.post(&gp, &pa, json!({"role": "viewer"}))
            .await
            .results();
        app.post(&gp, &pa, json!({"role": "viewer"}))
            .await
            .expect_error(409);
        app.send(Method::PATCH, &gp, &pa, Some(json!({"role": "editor"})))
            .await
            .results();
        app.get(&format!("{p}/groupAccesses"), &pa).await.results();
        app.get(&format!("{gone}/groupAccesses"), &pa)
            .await
            .expect_error(404);
        // Tags.
        let tg = format!("{p}/tags");
        let tag = app
            .post(
                &tg,
                &pa,
                json!({"name": "Contract tag", "color": "#123456"}),
            )
            .await
            .results()["tagUuid"]
            .as_str()
            .unwrap()
            .to_owned();
        app.post(
            &tg,
            &pa,
            json!({"name": "Contract tag", "color": "#123456"}),
        )
        .await
        .expect_error(409);
        app.get(&tg, &pa).await.results();
        app.get(&format!("{gone}/tags"), &pa)
            .await
            .expect_error(404);
        let yaml = json!([{"name": "Y", "color": "#abcdef", "yamlReference": "y"}]);
        app.send(Method::PUT, &format!("{tg}/yaml"), &pa, Some(yaml))
            .await
            .results();
        app.send(
            Method::PUT,
            &format!("{tg}/yaml"),
            &pa,
            Some(json!([{"name": "Y"}])),
        )
        .await
        .expect_error(400);
        let t1 = format!("{tg}/{tag}");
        app.send(Method::PATCH, &t1, &pa, Some(json!({"color": "#654321"})))
            .await
            .results();
        app.send(
            Method::PATCH,
            &format!("{tg}/{missing}"),
            &pa,
            Some(json!({"color": "#654321"})),
        )
        .await
        .expect_error(404);
        assert_eq!(app.send(Method::DELETE, &t1, &pa, None).await.status, 204);
        app.send(Method::DELETE, &t1, &pa, None)
            .await
            .expect_error(404);
        // Spaces.
        let sp = format!("{p}/spaces");
        let space = app
            .post(
                &sp,
                &pa,
                json!({"name": "Contract space", "isPrivate": true}),
            )
            .await
            .results()["uuid"]
            .as_str()
            .unwrap()
            .to_owned();
        app.post(&sp, &pa, json!({"name": ""}))
            .await
            .expect_error(400);
        app.get(&sp, &pa).await.results();
        app.get(&format!("{gone}/spaces"), &pa)
            .await
            .expect_error(404);
        let s1 = format!("{sp}/{space}");
        let s404 = format!("{sp}/{missing}");
        app.get(&s1, &pa).await.results();
        app.get(&s404, &pa).await.expect_error(404);
        app.send(
            Method::PATCH,
            &s1,
            &pa,
            Some(json!({"name": "Renamed", "isPrivate": true})),
        )
        .await
        .results();
        app.send(
            Method::PATCH,
            &s404,
            &pa,
            Some(json!({"name": "x", "isPrivate": true})),
        )
        .await
        .expect_error(404);
        let share = json!({"userUuid": viewer.user_uuid, "spaceRole": "viewer"});
        app.post(&format!("{s1}/share"), &pa, share.clone())
            .await
            .results();
        app.post(&format!("{s404}/share"), &pa, share)
            .await
            .expect_error(404);
        let us = format!("{s1}/share/{}", viewer.user_uuid);
        app.send(Method::DELETE, &us, &pa, None).await.results();
        app.send(Method::DELETE, &us, &pa, None)
            .await
            .expect_error(404);
        let gshare = json!({"groupUuid": group, "spaceRole": "editor"});
        app.post(&format!("{s1}/group/share"), &pa, gshare)
            .await
            .results();
        app.post(
            &format!("{s1}/group/share"),
            &pa,
            json!({"groupUuid": missing, "spaceRole": "editor"}),
        )
        .await
        .expect_error(404);
        let gs = format!("{s1}/group/share/{group}");
        app.send(Method::DELETE, &gs, &pa, None).await.results();
        app.send(Method::DELETE, &gs, &pa, None)
            .await
            .expect_error(404);
        assert_eq!(app.send(Method::DELETE, &s1, &pa, None).await.status, 204);
        app.send(Method::DELETE, &s1, &pa, None)
            .await
            .expect_error(404);
        app.send(Method::DELETE, &gp, &pa, None).await.results();
        app.send(Method::PATCH, &gp, &pa, Some(json!({"role": "editor"})))
            .await
            .expect_error(404);
        app.send(Method::DELETE, &gp, &pa, None)
            .await
            .expect_error(404);
    }

    // Email verification and joining by email domain.
    let (owner, domain_org) = crate::organizations::admin_of_new_org(&app, "By domain").await;
    app.send(
        Method::PATCH,
        "/api/v1/org/allowedEmailDomains",
        &Auth::Cookie(owner.cookie.clone()),
        Some(json!({"role": "viewer", "emailDomains": ["contract.example"], "projects": []})),
    )
    .await
    .results();
    let joiner = app
        .register_with(
            &format!("j-{}@contract.example", uuid::Uuid::new_v4().simple()),
            "correct horse battery staple",
        )
        .await;
    let j = Auth::Cookie(joiner.cookie.clone());
    let join = format!("/api/v1/user/me/joinOrganization/{domain_org}");
    app.get("/api/v1/user/me/email/status", &nobody)
        .await
        .expect_error(401);
    app.send(Method::PUT, "/api/v1/user/me/email/otp", &nobody, None)
        .await
        .expect_error(401);
    app.get("/api/v1/user/me/allowedOrganizations", &nobody)
        .await
        .expect_error(401);
    app.post(&join, &j, json!({})).await.expect_error(403);
    app.get("/api/v1/user/me/email/status", &j).await.results();
    app.verify_email(&joiner).await;
    app.get("/api/v1/user/me/allowedOrganizations", &j)
        .await
        .results();
    app.post(&join, &j, json!({})).await.results();

    let leaving = app.register().await;
    app.send(Method::DELETE, "/api/v1/user/me", &nobody, None)
        .await
        .expect_error(401);
    app.send(
        Method::DELETE,
        "/api/v1/user/me",
        &Auth::Cookie(leaving.cookie),
        None,
    )
    .await
    .results();

    // Personal warehouse credentials and the per-project preference.
    let analyst = app.register().await;
    let an = Auth::Cookie(analyst.cookie.clone());
    app.send(Method::PUT, "/api/v1/org", &an, Some(json!({"name": "Wh"})))
        .await
        .results();
    let project = app
        .post("/api/v1/org/projects", &an, json!({"name": "Wh"}))
        .await
        .results()["projectUuid"]
        .as_str()
        .unwrap()
        .to_owned();
    let creds = "/api/v1/user/warehouseCredentials";
    let body =
        json!({"name": "mine", "credentials": {"type": "postgres", "user": "u", "password": "p"}});
    app.get(creds, &nobody).await.expect_error(401);
    app.post(creds, &an, json!({"name": "x"}))
        .await
        .expect_error(400);
    let made = app.post(creds, &an, body.clone()).await;
    let made = made.results()["uuid"].as_str().unwrap().to_owned();
    app.get(creds, &an).await.results();
    let one = format!("{creds}/{made}");
    let other = format!("{creds}/{missing}");
    app.send(Method::PATCH, &other, &an, Some(body.clone()))
        .await
        .expect_error(404);
    app.send(Method::PATCH, &one, &an, Some(body))
        .await
        .results();
    let pref = format!("/api/v1/projects/{project}/user-credentials");
    app.get(&pref, &nobody).await.expect_error(401);
    app.get(&pref, &an).await.results();
    app.send(Method::PATCH, &format!("{pref}/{missing}"), &an, None)
        .await
        .expect_error(404);
    app.send(Method::PATCH, &format!("{pref}/{made}"), &an, None)
        .await;
    app.send(Method::DELETE, &other, &an, None)
        .await
        .expect_error(404);
    app.send(Method::DELETE, &one, &an, None).await;

    let seen = LIGHTDASH.seen.lock().unwrap().clone();
    for (method, template) in IMPLEMENTED {
        for outcome in ["success", "error"] {
            let key = format!("{method} {template} {outcome}");
            assert!(
                seen.contains(&key),
                "not exercised against the contract: {key}"
            );
        }
    }
}

dual!(every_implemented_operation_is_exercised);

#[test]
fn templates_match_concrete_paths() {
    assert_eq!(
        template_for("/api/v1/user").as_deref(),
        Some("/api/v1/user")
    );
    assert_eq!(
        template_for("/api/v1/user/me/personal-access-tokens/abc/rotate").as_deref(),
        Some("/api/v1/user/me/personal-access-tokens/{personalAccessTokenUuid}/rotate")
    );
    assert_eq!(
        template_for("/api/v1/projects/p/tags/yaml").as_deref(),
        Some("/api/v1/projects/{projectUuid}/tags/yaml")
    );
    assert_eq!(template_for("/api/v1/nope"), None);
}

#[test]
fn the_validator_catches_drift() {
    let schema = &LIGHTDASH.doc["paths"]["/api/v1/user"]["get"]["responses"]["200"]["content"]["application/json"]
        ["schema"];
    let v = validator("drift-probe", schema);
    let good = json!({"status": "ok", "results": {
        "userUuid": "u", "firstName": "A", "lastName": "B", "isTrackingAnonymized": false, "isMarketingOptedIn": false,
        "isSetupComplete": true, "createdAt": "2026-01-01T00:00:00.000Z", "updatedAt": "2026-01-01T00:00:00.000Z", "isActive": true
    }});
    assert!(v.is_valid(&good));
    let mut missing = good.clone();
    missing["results"]
        .as_object_mut()
        .unwrap()
        .remove("isActive");
    assert!(!v.is_valid(&missing), "a missing required field must fail");
    let mut wrong = good.clone();
    wrong["results"]["createdAt"] = json!("yesterday");
    assert!(!v.is_valid(&wrong), "a malformed date-time must fail");
    let mut role = good;
    role["results"]["role"] = json!("superuser");
    assert!(!v.is_valid(&role), "an unknown enum value must fail");
}

#[test]
fn connections_templates_match_concrete_paths() {
    let doc = &CONNECTIONS.doc;
    assert_eq!(
        template_in(doc, "/api/v1/connections?provider=x").as_deref(),
        Some("/api/v1/connections")
    );
    assert_eq!(
        template_in(doc, "/api/v1/connections/abc/test").as_deref(),
        Some("/api/v1/connections/{connectionUuid}/test")
    );
    // The two documents share no path: a response is checked against one of them at most.
    for template in doc["paths"].as_object().unwrap().keys() {
        assert_eq!(
            template_for(template),
            None,
            "{template} is Lightdash's too"
        );
    }
}

#[test]
fn the_connections_document_catches_drift() {
    let doc = &CONNECTIONS.doc;
    let get = &doc["paths"]["/api/v1/connections/{connectionUuid}"]["get"]["responses"];
    let v = validator_in(
        &CONNECTIONS,
        "drift-probe GET connection 200",
        &get["200"]["content"]["application/json"]["schema"],
    );
    let example = doc["components"]["schemas"]["ApiConnectionResponse"]["example"].clone();
    assert!(v.is_valid(&example), "the document's own example must pass");
    let mut good = example.clone();
    good["results"]["expiry"] = json!("2027-01-01T00:00:00.000Z");
    good["results"]["lastTestedAt"] = json!("2027-01-01T00:00:00.000Z");
    assert!(v.is_valid(&good));
    let mut missing = example.clone();
    missing["results"]
        .as_object_mut()
        .unwrap()
        .remove("invalid");
    assert!(!v.is_valid(&missing), "a missing required field must fail");
    let mut port = example.clone();
    port["results"]["port"] = json!(5432);
    assert!(!v.is_valid(&port), "a numeric port must fail");
    let mut leak = example.clone();
    leak["results"]["secrets"] = json!({"password": "x"});
    assert!(
        !v.is_valid(&leak),
        "an undocumented field (secrets) must fail"
    );
    let mut date = example.clone();
    date["results"]["updatedAt"] = json!(null);
    assert!(!v.is_valid(&date), "a null updatedAt must fail");
    let mut cache = example;
    cache["results"]["cache"] = json!(1.5);
    assert!(!v.is_valid(&cache), "a fractional cache must fail");

    let e = validator_in(
        &CONNECTIONS,
        "drift-probe GET connection 404",
        &get["404"]["content"]["application/json"]["schema"],
    );
    let not_found = json!({"status": "error", "error": {"statusCode": 404, "name": "NotFoundError", "message": "Connection not found"}});
    assert!(e.is_valid(&not_found));
    let mut wrong = not_found;
    wrong["error"]["statusCode"] = json!(400);
    assert!(!e.is_valid(&wrong), "a 404 must say 404");
}

#[test]
fn every_schema_example_of_the_connections_document_is_valid() {
    for (name, schema) in CONNECTIONS.doc["components"]["schemas"]
        .as_object()
        .unwrap()
    {
        let Some(example) = schema.get("example") else {
            continue;
        };
        let v = validator_in(
            &CONNECTIONS,
            &format!("example {name}"),
            &json!({ "$ref": format!("#/components/schemas/{name}") }),
        );
        let errors: Vec<String> = v.iter_errors(example).map(|e| e.to_string()).collect();
        assert!(
            errors.is_empty(),
            "the example of {name} is invalid: {errors:?}"
        );
    }
}
