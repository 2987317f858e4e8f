//! Every gRPC method of identity-svc (its account API included), projects-svc and
//! connections-svc authenticates its caller (TK-1, TK-9):
//! user methods need a valid access JWT, pre-authentication methods need the gateway's service
//! credential (`callers.rs`: which part may call which method). Calls made straight to the
//! services, bypassing the gateway. This module holds how a call presents itself and the
//! methods the protos declare.

mod accounts;
mod callers;
mod connections;
mod identity;
mod identity_user_methods;
mod projects;

use serde_json::json;
use service_kit::jwt::{SigningKey, TokenProfile, TokenRequest, TokenSigner};
use tonic::{Code, Request, metadata::MetadataValue};

use crate::helpers::TestApp;

/// How a test call presents itself.
#[derive(Clone)]
enum As {
    Nobody,
    Bearer(String),
    Internal(String),
}

fn req<T>(msg: T, who: &As) -> Request<T> {
    let mut r = Request::new(msg);
    match who {
        As::Nobody => {}
        As::Bearer(t) => {
            r.metadata_mut().insert(
                "authorization",
                MetadataValue::try_from(format!("Bearer {t}")).unwrap(),
            );
        }
        As::Internal(c) => {
            r.metadata_mut().insert(
                "x-internal-credential",
                MetadataValue::try_from(c.as_str()).unwrap(),
            );
        }
    }
    r
}

fn prost_types_ts(seconds: i64) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds, nanos: 0 }
}

fn assert_all(results: &[(&str, Code)], expected: Code, context: &str) {
    for (method, code) in results {
        assert_eq!(*code, expected, "{method} {context}");
    }
}

/// The names of the methods of `service` declared in the protos.
fn declared_methods(service: &str) -> Vec<String> {
    let set =
        <prost_types::FileDescriptorSet as prost::Message>::decode(proto::FILE_DESCRIPTOR_SET)
            .unwrap();
    let mut names: Vec<String> = set
        .file
        .iter()
        .flat_map(|f| &f.service)
        .filter(|s| s.name() == service)
        .flat_map(|s| s.method.iter().map(|m| m.name().to_owned()))
        .collect();
    names.sort_unstable();
    names
}

/// A fresh user's real access token (no organization yet), and the ways of calling that every
/// user method must refuse: no token, a token signed with a forged key under the real key id,
/// and the internal credential alone.
async fn real_and_refused(app: &TestApp) -> (String, Vec<(As, &'static str)>) {
    let user = app.register().await;
    let (_, pat) = app.create_pat(&user, json!({"description": "grpc"})).await;
    let jwt = app.access_token(&pat).await;
    let kid = jsonwebtoken::decode_header(&jwt).unwrap().kid.unwrap();
    let forger = TokenSigner::new(
        TokenProfile::default(),
        SigningKey::from_seed(kid, [9u8; 32]),
    );
    let (forged, _) = forger
        .sign(&TokenRequest {
            user_uuid: uuid::Uuid::parse_str(&user.user_uuid).unwrap(),
            amr: "pwd",
            session_id: None,
            pat_id: None,
            pat_version: None,
            client_id: "forger",
            scope: service_kit::scope::Scope::Admin,
            auth_time: None,
        })
        .unwrap();
    let refused = vec![
        (As::Nobody, "without a token"),
        (As::Bearer(forged), "with a forged token"),
        (
            As::Internal(app.credential(service_kit::callers::Caller::Gateway)),
            "with only the gateway's credential",
        ),
    ];
    (jwt, refused)
}
