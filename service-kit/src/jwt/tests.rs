//! Signing and verification tests, the TK-* checklist items among them.

use std::sync::{Arc, RwLock};

use super::verifier::still_valid;
use super::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};

/// The key as jsonwebtoken takes it: PKCS#8 v1 for Ed25519 (RFC 8410 section 7).
fn encoding(key: &SigningKey) -> EncodingKey {
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend_from_slice(&key.seed);
    EncodingKey::from_ed_der(&der)
}

fn setup() -> (TokenSigner, JwtVerifier, SigningKey) {
    install_crypto_provider();
    let key = SigningKey::generate();
    let jwks = StaticJwks(Arc::new(RwLock::new(jwks_json([&key]))));
    let signer = TokenSigner::new(TokenProfile::default(), key.clone());
    let verifier = JwtVerifier::new(TokenProfile::default(), Arc::new(jwks));
    (signer, verifier, key)
}

/// A signer and a verifier over a key set document the test can change, refetched on every
/// unknown `kid`.
fn changing_key_set() -> (SigningKey, Arc<RwLock<String>>, JwtVerifier, TokenSigner) {
    install_crypto_provider();
    let k1 = SigningKey::generate();
    let doc = Arc::new(RwLock::new(jwks_json([&k1])));
    let verifier = JwtVerifier::new(TokenProfile::default(), Arc::new(StaticJwks(doc.clone())))
        .with_min_refetch_interval(Duration::ZERO);
    let signer = TokenSigner::new(TokenProfile::default(), k1.clone());
    (k1, doc, verifier, signer)
}

fn request() -> TokenRequest<'static> {
    TokenRequest {
        user_uuid: uuid::Uuid::now_v7(),
        amr: "pat",
        session_id: None,
        pat_id: None,
        pat_version: None,
        client_id: "gateway",
        scope: crate::scope::Scope::Read,
        auth_time: None,
    }
}

fn claims(user: &str) -> AccessClaims {
    let now = Utc::now().timestamp();
    AccessClaims {
        iss: TokenProfile::default().issuer,
        sub: user.to_owned(),
        aud: TokenProfile::default().audience,
        exp: now + 600,
        nbf: now,
        iat: now,
        jti: "j".into(),
        client_id: "c".into(),
        amr: vec!["pat".into()],
        sid: None,
        pat: None,
        pat_v: None,
        opr: None,
        scope: None,
        auth_time: None,
    }
}

fn forge(key: &SigningKey, header: Header, claims: &AccessClaims) -> String {
    let _ = key;
    jsonwebtoken::encode(&header, claims, &encoding(key)).unwrap()
}

fn header(key: &SigningKey) -> Header {
    let mut h = Header::new(Algorithm::EdDSA);
    h.typ = Some(ACCESS_TOKEN_TYP.into());
    h.kid = Some(key.kid().to_owned());
    h
}

#[tokio::test]
async fn a_signed_token_verifies_and_names_the_user() {
    let (signer, verifier, _) = setup();
    let req = request();
    let (token, _) = signer.sign(&req).unwrap();
    let claims = verifier.verify(&token).await.unwrap();
    assert_eq!(claims.user_uuid().unwrap(), req.user_uuid);
    assert!(claims.authenticated_by("pat"));
}

/// AU-9: every signed token names its scope level (RFC 9068 `scope`), and a session's token
/// when its user logged in; an operator's token has every scope.
#[tokio::test]
async fn au_9_signed_tokens_carry_their_scope_and_login_time() {
    let (signer, verifier, _) = setup();
    let session = TokenRequest {
        amr: "pwd",
        session_id: Some(uuid::Uuid::now_v7()),
        scope: crate::scope::Scope::Admin,
        auth_time: Some(1_700_000_000),
        ..request()
    };
    let claims = verifier
        .verify(&signer.sign(&session).unwrap().0)
        .await
        .unwrap();
    assert_eq!(claims.scope.as_deref(), Some("read write admin"));
    assert_eq!(claims.auth_time, Some(1_700_000_000));
    let pat = verifier
        .verify(&signer.sign(&request()).unwrap().0)
        .await
        .unwrap();
    assert_eq!(pat.scope.as_deref(), Some("read"));
    assert_eq!(pat.auth_time, None);
    let (op, _) = signer
        .sign_operator(uuid::Uuid::now_v7(), "gateway")
        .unwrap();
    let op = verifier.verify(&op).await.unwrap();
    assert_eq!(op.scope.as_deref(), Some("read write admin"));
}

/// TK-1: `none`, HS256 with the public key (key confusion), altered payload, stripped signature.
#[tokio::test]
async fn tk_1_forged_algorithms_and_tampering_are_rejected() {
    let (signer, verifier, key) = setup();
    let user = uuid::Uuid::now_v7().to_string();
    let c = claims(&user);
    let b64 = |v: serde_json::Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let none = format!(
        "{}.{}.",
        b64(serde_json::json!({"alg":"none","typ":ACCESS_TOKEN_TYP,"kid":key.kid()})),
        b64(serde_json::to_value(&c).unwrap())
    );
    assert!(verifier.verify(&none).await.is_err(), "alg none");
    let mut hs = Header::new(Algorithm::HS256);
    hs.typ = Some(ACCESS_TOKEN_TYP.into());
    hs.kid = Some(key.kid().into());
    let confused = jsonwebtoken::encode(&hs, &c, &EncodingKey::from_secret(&key.public)).unwrap();
    assert!(
        verifier.verify(&confused).await.is_err(),
        "HS256 key confusion"
    );

    let (good, _) = signer.sign(&request()).unwrap();
    let parts: Vec<&str> = good.split('.').collect();
    let altered = format!(
        "{}.{}.{}",
        parts[0],
        b64(serde_json::to_value(claims(&user)).unwrap()),
        parts[2]
    );
    assert!(verifier.verify(&altered).await.is_err(), "altered payload");
    let stripped = format!("{}.{}.", parts[0], parts[1]);
    assert!(
        verifier.verify(&stripped).await.is_err(),
        "stripped signature"
    );
    let other = SigningKey::from_seed(key.kid().to_owned(), crate::secret::random_bytes::<32>());
    assert!(
        verifier
            .verify(&forge(&other, header(&key), &c))
            .await
            .is_err(),
        "wrong key, same kid"
    );
}

/// TK-3: wrong iss, wrong aud, expired by 61 s, nbf +120 s, missing sub, iat in the future.
#[tokio::test]
async fn tk_3_registered_claims_are_enforced() {
    let (_, verifier, key) = setup();
    let user = uuid::Uuid::now_v7().to_string();
    let now = Utc::now().timestamp();
    let ok = claims(&user);
    assert!(
        verifier
            .verify(&forge(&key, header(&key), &ok))
            .await
            .is_ok()
    );
    let cases: Vec<(&str, AccessClaims)> = vec![
        (
            "wrong iss",
            AccessClaims {
                iss: "urn:evil".into(),
                ..ok.clone()
            },
        ),
        (
            "wrong aud",
            AccessClaims {
                aud: "urn:other".into(),
                ..ok.clone()
            },
        ),
        (
            "expired 61 s ago",
            AccessClaims {
                exp: now - 61,
                ..ok.clone()
            },
        ),
        (
            "nbf +120 s",
            AccessClaims {
                nbf: now + 120,
                ..ok.clone()
            },
        ),
        (
            "iat +120 s",
            AccessClaims {
                iat: now + 120,
                ..ok.clone()
            },
        ),
        (
            "sub not a uuid",
            AccessClaims {
                sub: "admin".into(),
                ..ok.clone()
            },
        ),
    ];
    for (name, c) in cases {
        assert!(
            verifier
                .verify(&forge(&key, header(&key), &c))
                .await
                .is_err(),
            "{name}"
        );
    }
    // A token without `sub` at all.
    let mut v = serde_json::to_value(&ok).unwrap();
    v.as_object_mut().unwrap().remove("sub");
    let no_sub = jsonwebtoken::encode(&header(&key), &v, &encoding(&key)).unwrap();
    assert!(verifier.verify(&no_sub).await.is_err(), "missing sub");
    // Wrong explicit type.
    let mut h = header(&key);
    h.typ = Some("JWT".into());
    assert!(
        verifier.verify(&forge(&key, h, &ok)).await.is_err(),
        "typ JWT"
    );
}

/// TK-5: header-supplied key locations and odd `kid` values are never followed.
#[tokio::test]
async fn tk_5_key_locations_in_the_header_are_rejected() {
    let (_, verifier, key) = setup();
    let ok = claims(&uuid::Uuid::now_v7().to_string());
    let mut jku = header(&key);
    jku.jku = Some("http://169.254.169.254/jwks".into());
    let mut x5u = header(&key);
    x5u.x5u = Some("http://evil.example/cert".into());
    let mut jwk = header(&key);
    jwk.jwk = Some(serde_json::from_value(key.public_jwk()).unwrap());
    let mut traversal = header(&key);
    traversal.kid = Some("../../x".into());
    let mut sqlish = header(&key);
    sqlish.kid = Some("' OR 1=1 --".into());
    let mut none_kid = header(&key);
    none_kid.kid = None;
    for (name, h) in [
        ("jku", jku),
        ("x5u", x5u),
        ("jwk", jwk),
        ("kid traversal", traversal),
        ("kid sql", sqlish),
        ("no kid", none_kid),
    ] {
        assert!(
            verifier.verify(&forge(&key, h, &ok)).await.is_err(),
            "{name}"
        );
    }
}

/// A token verified once is remembered, but only for the exact same bytes, only while its
/// times hold, and only under the key set it was verified with (TK-1, TK-3, TK-6).
#[tokio::test]
async fn a_remembered_token_is_held_to_the_same_rules() {
    let (_, doc, verifier, signer) = changing_key_set();
    let token = signer.sign(&request()).unwrap().0;
    let first = verifier.verify(&token).await.unwrap();
    assert_eq!(verifier.verify(&token).await.unwrap(), first);
    assert_eq!(verifier.verified.len(), 1, "remembered");

    // A token differing in one byte of its signature, or of its payload, is verified afresh.
    let (head, sig) = token.rsplit_once('.').unwrap();
    let flipped = if sig.starts_with('A') { 'B' } else { 'A' };
    let tampered = format!("{head}.{flipped}{}", &sig[1..]);
    assert!(
        verifier.verify(&tampered).await.is_err(),
        "altered signature"
    );
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut payload: AccessClaims =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
    payload.sub = uuid::Uuid::now_v7().to_string();
    parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&payload).unwrap());
    assert!(
        verifier.verify(&parts.join(".")).await.is_err(),
        "altered payload"
    );

    // A refresh that finds the same keys keeps what was verified.
    verifier.refresh().await.unwrap();
    assert_eq!(verifier.verified.len(), 1);
    verifier.verify(&token).await.unwrap();

    // Once the key leaves the published set, its tokens are refused at once.
    let k2 = SigningKey::generate();
    *doc.write().unwrap() = jwks_json([&k2]);
    verifier.refresh().await.unwrap();
    assert!(verifier.verified.is_empty(), "a new key set forgets");
    assert!(matches!(
        verifier.verify(&token).await,
        Err(VerifyError::UnknownKey)
    ));
}

/// TK-3 on the remembered path: `exp` and `nbf`, with the same leeway as a full check.
#[test]
fn remembered_claims_expire_like_verified_ones() {
    let mut c = claims(&uuid::Uuid::now_v7().to_string());
    let now = c.iat;
    let leeway = LEEWAY_SECONDS as i64;
    assert!(still_valid(&c, now));
    c.exp = now - leeway;
    assert!(!still_valid(&c, now), "expired beyond the leeway");
    c.exp = now - leeway + 1;
    assert!(still_valid(&c, now));
    c.nbf = now + leeway + 1;
    assert!(!still_valid(&c, now), "not yet valid");
    c.nbf = now + leeway;
    assert!(still_valid(&c, now));
}

#[tokio::test]
async fn an_unknown_kid_triggers_one_refetch_and_then_verifies() {
    let (k1, doc, verifier, signer) = changing_key_set();
    verifier
        .verify(&signer.sign(&request()).unwrap().0)
        .await
        .unwrap();
    let k2 = SigningKey::generate();
    *doc.write().unwrap() = jwks_json([&k1, &k2]);
    signer.set_key(k2);
    verifier
        .verify(&signer.sign(&request()).unwrap().0)
        .await
        .unwrap();
}

#[test]
fn debug_output_hides_the_private_key() {
    let key = SigningKey::generate();
    let dbg = format!("{key:?}");
    assert!(dbg.contains("REDACTED"));
    assert!(!dbg.contains(&hex::encode(key.seed())));
}
