//! The face's fuzz entry ([`crate::fuzzing::sumvin`]; issue #18 item 8, SC-3): a body read as
//! the JSON object of a request, then as a user connector's create and update against a
//! catalog of each kind of credential field. None panics; every refusal is a 4xx quoting no
//! secret (CR-7); what is accepted writes only the catalog's fields.

use axum::{extract::FromRequest, http::HeaderMap, response::IntoResponse};
use proto::connections::v1 as pb;

use super::{authorization, input};
use crate::fuzzing::{check_refusal, request, run};

/// Everything the face parses, fed `data`.
pub(crate) fn fuzz(data: &[u8]) {
    let req = request(data.to_vec(), Some("application/json"));
    let body = match run(input::Object::from_request(req, &())) {
        Ok(input::Object(m)) => m,
        Err(r) => return check_refusal(r.into_response(), data),
    };
    let catalog = catalog();
    match input::create(body.clone(), &catalog) {
        Ok((p, fields)) => {
            assert!(catalog.contains(&p));
            stored_as_declared(&p, &fields);
        }
        Err(r) => check_refusal(r.into_response(), data),
    }
    for p in catalog.iter().map(Some).chain([None]) {
        match input::update(body.clone(), p) {
            Ok(Some(fields)) => stored_as_declared(p.expect("a catalog's provider"), &fields),
            Ok(None) => {}
            Err(r) => check_refusal(r.into_response(), data),
        }
    }
    headers(&String::from_utf8_lossy(data));
}

/// The credential headers: a value that is no single word authenticates nobody.
fn headers(value: &str) {
    for name in ["x-sumvin-pat", "x-juno-jwt"] {
        let mut h = HeaderMap::new();
        let Ok(v) = value.parse() else { return };
        h.insert(name, v);
        if let Ok(presented) = authorization(&h) {
            let token = presented
                .to_str()
                .expect("ASCII")
                .split_once(' ')
                .expect("a scheme")
                .1;
            assert!(!token.is_empty() && !token.contains(char::is_whitespace));
        }
    }
}

fn stored_as_declared(p: &pb::Provider, fields: &pb::ConnectionFields) {
    for name in fields.secrets.keys() {
        assert!(p.fields.iter().any(|f| &f.stored_as == name), "{name}");
    }
}

/// A catalog of a provider with a user name, a password and a key file, and one with a token.
fn catalog() -> Vec<pb::Provider> {
    let field = |name: &str, required, target: pb::FieldTarget, format: pb::FieldFormat| {
        pb::ProviderField {
            name: name.into(),
            required,
            target: target as i32,
            stored_as: if target == pb::FieldTarget::Secret {
                name.into()
            } else {
                String::new()
            },
            format: format as i32,
            ..Default::default()
        }
    };
    use pb::{
        FieldFormat::{JsonObject, Text},
        FieldTarget::{Identifier, Secret},
    };
    vec![
        pb::Provider {
            number: 1,
            slug: "basic".into(),
            name: "Basic".into(),
            fields: vec![
                field("username", true, Identifier, Text),
                field("password", true, Secret, Text),
                field("keyfile", false, Secret, JsonObject),
            ],
            ..Default::default()
        },
        pb::Provider {
            number: 2,
            slug: "token".into(),
            name: "Token".into(),
            fields: vec![
                field("token", true, Secret, Text),
                field("", false, pb::FieldTarget::Unspecified, Text),
            ],
            ..Default::default()
        },
    ]
}
