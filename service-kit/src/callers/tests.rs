use super::*;

const ONLY_GATEWAY: &[Caller] = &[Caller::Gateway];
const RELAYS: &[Caller] = &[Caller::Gateway, Caller::ProjectsSvc];

const TABLE: &[ServiceRules] = &[ServiceRules {
    service: "test.v1.Test",
    methods: &[
        ("Login", Rule::Callers(ONLY_GATEWAY)),
        ("Contexts", Rule::User(RELAYS)),
        ("Delete", Rule::User(ONLY_GATEWAY)),
    ],
}];

/// What the layer decided: the caller admitted, or the code of the refusal.
type Decision = Result<Option<Caller>, tonic::Code>;

fn credentials() -> (InternalCredential, InternalCredential, InternalCredential) {
    (
        InternalCredential::generate(),
        InternalCredential::generate(),
        InternalCredential::generate(),
    )
}

fn policy(gateway: &InternalCredential, projects: &InternalCredential) -> CallerLayer {
    CallerLayer::new(
        AcceptedCallers::of(&[(Caller::Gateway, gateway), (Caller::ProjectsSvc, projects)]),
        TABLE,
    )
}

/// The decision on a call to `method` presenting `credential` and a client address, and the
/// headers left for the handler.
fn admit(
    layer: &CallerLayer,
    method: &str,
    credential: Option<&InternalCredential>,
) -> (Decision, http::HeaderMap) {
    let mut headers = http::HeaderMap::new();
    if let Some(c) = credential {
        headers.insert(
            INTERNAL_CREDENTIAL_KEY,
            http::HeaderValue::from_str(c.expose_for_tests()).unwrap(),
        );
    }
    headers.insert(
        CLIENT_ADDRESS_KEY,
        http::HeaderValue::from_static("203.0.113.9"),
    );
    let decision = layer
        .0
        .admit(&format!("/test.v1.Test/{method}"), &mut headers)
        .map_err(|s| s.code());
    (decision, headers)
}

#[test]
fn tk_9_each_method_admits_only_its_callers() {
    let (gateway, projects, stranger) = credentials();
    let layer = policy(&gateway, &projects);
    use tonic::Code::{PermissionDenied, Unauthenticated, Unimplemented};
    let cases: &[(&str, Option<&InternalCredential>, Decision)] = &[
        ("Login", Some(&gateway), Ok(Some(Caller::Gateway))),
        ("Login", Some(&projects), Err(PermissionDenied)),
        ("Login", Some(&stranger), Err(Unauthenticated)),
        ("Login", None, Err(Unauthenticated)),
        ("Contexts", Some(&gateway), Ok(Some(Caller::Gateway))),
        ("Contexts", Some(&projects), Ok(Some(Caller::ProjectsSvc))),
        ("Contexts", None, Ok(None)),
        ("Contexts", Some(&stranger), Err(Unauthenticated)),
        ("Delete", Some(&projects), Err(PermissionDenied)),
        ("Delete", None, Ok(None)),
        ("Unlisted", Some(&gateway), Err(Unimplemented)),
    ];
    for (method, credential, expected) in cases {
        let (decision, headers) = admit(&layer, method, *credential);
        assert_eq!(&decision, expected, "{method}");
        assert!(
            headers.get(INTERNAL_CREDENTIAL_KEY).is_none(),
            "the credential never reaches a handler"
        );
    }
}

#[test]
fn the_client_address_counts_only_from_a_caller_allowed_on_the_method() {
    let (gateway, projects, _) = credentials();
    let layer = policy(&gateway, &projects);
    let address = |method, credential| {
        admit(&layer, method, credential)
            .1
            .get(CLIENT_ADDRESS_KEY)
            .is_some()
    };
    assert!(address("Contexts", Some(&gateway)));
    assert!(address("Contexts", Some(&projects)));
    assert!(!address("Contexts", None), "a user alone cannot choose it");
    assert!(!address("Delete", Some(&projects)));
}

#[test]
fn health_and_reflection_are_open() {
    let layer = policy(
        &InternalCredential::generate(),
        &InternalCredential::generate(),
    );
    let mut headers = http::HeaderMap::new();
    for path in [
        "/grpc.health.v1.Health/Check",
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    ] {
        assert_eq!(layer.0.admit(path, &mut headers).unwrap(), None);
    }
}

#[test]
fn service_credentials_parse_and_round_trip() {
    let (gateway, projects, _) = credentials();
    let accepted = AcceptedCallers::of(&[
        (Caller::Gateway, &gateway),
        (Caller::ProjectsSvc, &projects),
    ]);
    let parsed = AcceptedCallers::parse(&accepted.to_setting()).unwrap();
    assert_eq!(
        parsed.identify(gateway.expose_for_tests()),
        Some(Caller::Gateway)
    );
    assert_eq!(
        parsed.identify(projects.expose_for_tests()),
        Some(Caller::ProjectsSvc)
    );
    assert_eq!(parsed.identify("something else entirely, 32 chars"), None);
    let digest = hex::encode(Sha256::digest(b"secret"));
    let spaced = format!(" operator : {digest} ");
    assert_eq!(
        AcceptedCallers::parse(&SecretString::from(spaced))
            .unwrap()
            .identify("secret"),
        Some(Caller::Operator)
    );
    // Rotation: the old and the new credential of one part, both accepted meanwhile.
    let rotating = format!(
        "gateway:{},gateway:{digest}",
        hex::encode(Sha256::digest(b"old"))
    );
    let rotating = AcceptedCallers::parse(&SecretString::from(rotating)).unwrap();
    assert_eq!(rotating.identify("old"), Some(Caller::Gateway));
    assert_eq!(rotating.identify("secret"), Some(Caller::Gateway));
}

#[test]
fn bad_service_credentials_are_refused_without_repeating_them() {
    let canary = "canary0123456789abcdef0123456789abcdef0123456789abcdef0123456789";
    for value in [
        canary.to_owned(),
        format!("nobody:{}", hex::encode([0u8; 32])),
        format!("gateway:{canary}x"),
        format!("gateway:{0},gateway:{0}", hex::encode([0u8; 32])),
        format!("gateway:{0},operator:{0}", hex::encode([0u8; 32])),
    ] {
        let error = AcceptedCallers::parse(&SecretString::from(value.clone()))
            .expect_err(&value)
            .to_string();
        assert!(error.starts_with("SERVICE_CREDENTIALS"), "{error}");
        assert!(!error.contains("canary"), "{error}");
    }
}

#[test]
fn debug_output_names_callers_only() {
    let gateway = InternalCredential::generate();
    let accepted = AcceptedCallers::of(&[(Caller::Gateway, &gateway)]);
    let debug = format!(
        "{accepted:?} {:?}",
        CallerLayer::new(accepted.clone(), TABLE)
    );
    assert!(debug.contains("gateway"), "{debug}");
    assert!(!debug.contains(&hex::encode(gateway.digest())), "{debug}");
    assert!(!debug.contains(gateway.expose_for_tests()), "{debug}");
}

#[test]
fn uncovered_finds_missing_and_stale_rules() {
    const HEALTHY: &[ServiceRules] = &[ServiceRules {
        service: "grpc.health.v1.Health",
        methods: &[("Check", Rule::Callers(&[])), ("Watch", Rule::Callers(&[]))],
    }];
    let set = tonic_health::pb::FILE_DESCRIPTOR_SET;
    assert!(uncovered(HEALTHY, set).is_empty());
    const PARTIAL: &[ServiceRules] = &[ServiceRules {
        service: "grpc.health.v1.Health",
        methods: &[("Check", Rule::Callers(&[])), ("Gone", Rule::Callers(&[]))],
    }];
    assert_eq!(
        uncovered(PARTIAL, set),
        [
            "/grpc.health.v1.Health/Watch: no rule",
            "/grpc.health.v1.Health/Gone: no such method"
        ]
    );
}
