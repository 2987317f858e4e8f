//! The contract checking itself: templates match concrete paths, the validators catch drift,
//! and every schema example of the generated document is valid.

use serde_json::json;

use super::{LIGHTDASH, PLATFORM, template_for, template_in, validator, validator_in};

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
    let doc = &PLATFORM.doc;
    assert_eq!(
        template_in(doc, "/api/v1/connections?provider=x").as_deref(),
        Some("/api/v1/connections")
    );
    assert_eq!(
        template_in(doc, "/api/v1/connections/abc/test").as_deref(),
        Some("/api/v1/connections/{connectionUuid}/test")
    );
    // Ours alone: Lightdash's contract does not check them.
    for template in doc["paths"].as_object().unwrap().keys() {
        if template.starts_with("/api/v1/connections") {
            assert_eq!(
                template_for(template),
                None,
                "{template} is Lightdash's too"
            );
        }
    }
}

#[test]
fn the_connections_document_catches_drift() {
    let doc = &PLATFORM.doc;
    let get = &doc["paths"]["/api/v1/connections/{connectionUuid}"]["get"]["responses"];
    let v = validator_in(
        &PLATFORM,
        "drift-probe GET connection 200",
        &get["200"]["content"]["application/json"]["schema"],
    );
    let example = json!({
        "status": "ok",
        "results": doc["components"]["schemas"]["Connection"]["example"].clone(),
    });
    assert!(v.is_valid(&example), "the document's own example must pass");
    let mut good = example.clone();
    good["results"]["expiry"] = json!("2027-01-01T00:00:00.000Z");
    good["results"]["lastTestedAt"] = json!("2027-01-01T00:00:00.000Z");
    assert!(v.is_valid(&good));
    for field in ["invalid", "expiry", "lastTestedAt"] {
        let mut missing = example.clone();
        missing["results"].as_object_mut().unwrap().remove(field);
        assert!(!v.is_valid(&missing), "a missing {field} must fail");
    }
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
    let mut fields = example.clone();
    fields["results"]["secretFields"] = json!(["api_key"]);
    assert!(!v.is_valid(&fields), "an unknown secret field must fail");
    let mut cache = example;
    cache["results"]["cache"] = json!(1.5);
    assert!(!v.is_valid(&cache), "a fractional cache must fail");

    let e = validator_in(
        &PLATFORM,
        "drift-probe GET connection 404",
        &get["404"]["content"]["application/json"]["schema"],
    );
    let not_found = json!({"status": "error", "error": {"statusCode": 404, "name": "NotFoundError", "message": "Connection not found"}});
    assert!(e.is_valid(&not_found));
    let mut wrong = not_found;
    wrong["error"].as_object_mut().unwrap().remove("message");
    assert!(!e.is_valid(&wrong), "an error without a message must fail");
}

#[test]
fn the_secrets_of_a_connection_are_write_only() {
    let schemas = &PLATFORM.doc["components"]["schemas"];
    for body in ["CreateConnection", "UpdateConnection"] {
        assert_eq!(
            schemas[body]["properties"]["secrets"]["writeOnly"], true,
            "{body}.secrets"
        );
    }
    assert_eq!(
        schemas["UpdateConnection"]["properties"]["code"]["writeOnly"],
        true
    );
    assert_eq!(
        schemas["Connection"]["properties"]["invalid"]["readOnly"],
        true
    );
}

#[test]
fn every_schema_example_of_the_generated_document_is_valid() {
    let mut checked = 0;
    for (name, schema) in PLATFORM.doc["components"]["schemas"].as_object().unwrap() {
        let examples = schema
            .get("example")
            .into_iter()
            .chain(schema["examples"].as_array().into_iter().flatten());
        for example in examples {
            let v = validator_in(
                &PLATFORM,
                &format!("example {name}"),
                &json!({ "$ref": format!("#/components/schemas/{name}") }),
            );
            let errors: Vec<String> = v.iter_errors(example).map(|e| e.to_string()).collect();
            assert!(
                errors.is_empty(),
                "the example of {name} is invalid: {errors:?}"
            );
            checked += 1;
        }
    }
    assert!(checked > 0, "the document has no schema example");
}

#[test]
fn every_response_example_of_the_generated_document_is_valid() {
    let mut checked = 0;
    for (template, item) in PLATFORM.doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for (status, response) in op["responses"].as_object().into_iter().flatten() {
                for content in response["content"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(_, c)| c)
                {
                    let Some(example) = content.get("example") else {
                        continue;
                    };
                    let key = format!("example {method} {template} {status}");
                    let v = validator_in(&PLATFORM, &key, &content["schema"]);
                    let errors: Vec<String> =
                        v.iter_errors(example).map(|e| e.to_string()).collect();
                    assert!(errors.is_empty(), "{key} is invalid: {errors:?}");
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 0, "the document has no response example");
}
