//! The contract checking itself: templates match concrete paths, the two documents share no
//! path, the validators catch drift, and every schema example of the connections document is
//! valid.

use serde_json::json;

use super::{CONNECTIONS, LIGHTDASH, template_for, template_in, validator, validator_in};

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
