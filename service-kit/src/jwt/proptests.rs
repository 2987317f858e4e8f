//! Property tests of the verifier's parsing of presented tokens (issue #18 item 8; checklist
//! TK-1, TK-3, TK-5): whatever a caller presents, verification never panics, and it accepts
//! exactly the tokens signed by a published key whose header and claims follow every rule.
//! The same checks back the fuzz target `jwt_verify` (fuzz/).

use std::sync::{Arc, RwLock};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use proptest::prelude::*;
use serde_json::{Value, json};

use super::{verifier::MAX_KID_LEN, *};

const CASES: u32 = 10_000;

/// A verifier over one published key, and that key; `other` signs with the same `kid` but is
/// not published.
struct Fixture {
    runtime: tokio::runtime::Runtime,
    verifier: JwtVerifier,
    key: SigningKey,
    other: SigningKey,
}

impl Fixture {
    fn new() -> Self {
        install_crypto_provider();
        let key = SigningKey::generate();
        let other = SigningKey::from_seed(key.kid().to_owned(), crate::secret::random_bytes());
        let jwks = StaticJwks(Arc::new(RwLock::new(jwks_json([&key]))));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        Self {
            runtime,
            verifier: JwtVerifier::new(TokenProfile::default(), Arc::new(jwks)),
            key,
            other,
        }
    }

    fn verify(&self, token: &str) -> Result<AccessClaims, VerifyError> {
        self.runtime.block_on(self.verifier.verify(token))
    }
}

/// The JWS compact form of `header` and `claims` (any JSON) signed by `key`.
fn sign(key: &SigningKey, header: &Value, claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
    );
    let signature = ed25519_dalek::Signer::sign(&key.signer, input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
}

/// One choice of a header or claim: its good value, or one of the ways it can be wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pick {
    Good,
    Bad(u8),
}

fn pick(bad_ways: u8) -> impl Strategy<Value = Pick> {
    prop_oneof![5 => Just(Pick::Good), 1 => (0..bad_ways).prop_map(Pick::Bad)]
}

/// A token's parts, each good or wrong in some way, and who signs it.
#[derive(Debug, Clone)]
struct Shape {
    alg: Pick,
    typ: Pick,
    kid: Pick,
    extra_header: Pick,
    iss: Pick,
    aud: Pick,
    exp: Pick,
    nbf: Pick,
    iat: Pick,
    sub: Pick,
    missing: Pick,
    signed_by_key: bool,
}

impl Shape {
    /// Whether the verifier must accept a token of this shape.
    fn acceptable(&self) -> bool {
        let parts = [
            self.alg,
            self.typ,
            self.kid,
            self.extra_header,
            self.iss,
            self.aud,
            self.exp,
            self.nbf,
            self.iat,
            self.sub,
            self.missing,
        ];
        self.signed_by_key && parts.iter().all(|p| *p == Pick::Good)
    }
}

fn shape() -> impl Strategy<Value = Shape> {
    (
        (pick(4), pick(3), pick(3), pick(6)),
        (pick(2), pick(2), pick(3), pick(2), pick(2)),
        (pick(6), pick(6), prop::bool::weighted(0.8)),
    )
        .prop_map(
            |((alg, typ, kid, extra_header), (iss, aud, exp, nbf, iat), (sub, missing, signed))| {
                Shape {
                    alg,
                    typ,
                    kid,
                    extra_header,
                    iss,
                    aud,
                    exp,
                    nbf,
                    iat,
                    sub,
                    missing,
                    signed_by_key: signed,
                }
            },
        )
}

fn header_of(s: &Shape, kid: &str) -> Value {
    let mut h = json!({ "alg": "EdDSA", "typ": ACCESS_TOKEN_TYP, "kid": kid });
    h["alg"] = match s.alg {
        Pick::Good => json!("EdDSA"),
        Pick::Bad(0) => json!("none"),
        Pick::Bad(1) => json!("HS256"),
        Pick::Bad(2) => json!("ES256"),
        Pick::Bad(_) => json!("eddsa"),
    };
    match s.typ {
        Pick::Good => {}
        Pick::Bad(0) => h["typ"] = json!("JWT"),
        Pick::Bad(1) => h["typ"] = json!("AT+JWT"),
        Pick::Bad(_) => drop(h.as_object_mut().map(|m| m.remove("typ"))),
    }
    match s.kid {
        Pick::Good => {}
        Pick::Bad(0) => h["kid"] = json!("unknown-kid"),
        Pick::Bad(1) => h["kid"] = json!(""),
        Pick::Bad(_) => h["kid"] = json!("k".repeat(MAX_KID_LEN + 1)),
    }
    match s.extra_header {
        Pick::Good => {}
        Pick::Bad(0) => h["jku"] = json!("https://attacker.example/jwks.json"),
        Pick::Bad(1) => h["jwk"] = json!({"kty": "OKP", "crv": "Ed25519", "x": "AAAA"}),
        Pick::Bad(2) => h["x5u"] = json!("https://attacker.example/cert.pem"),
        Pick::Bad(3) => h["x5c"] = json!(["MIIB"]),
        Pick::Bad(4) => h["crit"] = json!(["exp"]),
        Pick::Bad(_) => drop(h.as_object_mut().map(|m| m.remove("kid"))),
    }
    h
}

fn claims_of(s: &Shape, now: i64, user: uuid::Uuid) -> Value {
    let profile = TokenProfile::default();
    let mut c = json!({
        "iss": profile.issuer,
        "sub": user.to_string(),
        "aud": profile.audience,
        "exp": now + 600,
        "nbf": now,
        "iat": now,
        "jti": "jti",
        "client_id": "gateway",
        "amr": ["pat"],
    });
    let late = LEEWAY_SECONDS as i64 + 60;
    match s.iss {
        Pick::Good => {}
        Pick::Bad(0) => c["iss"] = json!("urn:someone:else"),
        Pick::Bad(_) => c["iss"] = json!(7),
    }
    match s.aud {
        Pick::Good => {}
        Pick::Bad(0) => c["aud"] = json!("urn:other:api"),
        Pick::Bad(_) => c["aud"] = json!(["urn:other:api"]),
    }
    match s.exp {
        Pick::Good => {}
        Pick::Bad(0) => c["exp"] = json!(now - late),
        Pick::Bad(1) => c["exp"] = json!("never"),
        Pick::Bad(_) => c["exp"] = json!(i64::MIN),
    }
    match s.nbf {
        Pick::Good => {}
        Pick::Bad(0) => c["nbf"] = json!(now + late),
        Pick::Bad(_) => c["nbf"] = json!(null),
    }
    match s.iat {
        Pick::Good => {}
        Pick::Bad(0) => c["iat"] = json!(now + late),
        Pick::Bad(_) => c["iat"] = json!(1.5),
    }
    match s.sub {
        Pick::Good => {}
        Pick::Bad(0) => c["sub"] = json!("not-a-uuid"),
        Pick::Bad(1) => c["sub"] = json!(""),
        Pick::Bad(2) => {
            // An operator's token whose `sub` names another operator token.
            c["opr"] = json!(uuid::Uuid::now_v7().to_string());
            c["sub"] = json!(format!("{OPERATOR_SUBJECT_PREFIX}{user}"));
        }
        Pick::Bad(3) => {
            c["opr"] = json!("not-a-uuid");
            c["sub"] = json!(format!("{OPERATOR_SUBJECT_PREFIX}not-a-uuid"));
        }
        Pick::Bad(4) => c["sub"] = json!(format!("{OPERATOR_SUBJECT_PREFIX}{user}")),
        Pick::Bad(_) => c["sub"] = json!(format!("{user} ")),
    }
    let name = match s.missing {
        Pick::Good => return c,
        Pick::Bad(n) => ["exp", "nbf", "iat", "iss", "aud", "sub"][usize::from(n) % 6],
    };
    c.as_object_mut().map(|m| m.remove(name));
    c
}

/// Text that may look like a token: free text, three base64url segments of free bytes, or a
/// JSON header and payload with a free signature.
fn presented() -> impl Strategy<Value = String> {
    let segment = prop::collection::vec(any::<u8>(), 0..96).prop_map(|b| URL_SAFE_NO_PAD.encode(b));
    prop_oneof![
        any::<String>(),
        "[A-Za-z0-9_.=+/-]{0,300}",
        (segment.clone(), segment.clone(), segment.clone())
            .prop_map(|(a, b, c)| format!("{a}.{b}.{c}")),
        (any::<String>(), any::<String>(), segment).prop_map(|(h, p, s)| {
            format!(
                "{}.{}.{s}",
                URL_SAFE_NO_PAD.encode(h),
                URL_SAFE_NO_PAD.encode(p)
            )
        }),
    ]
}

/// An edit of a token: a character replaced, inserted or removed at a position.
#[derive(Debug, Clone)]
enum Edit {
    Replace(usize, char),
    Insert(usize, char),
    Remove(usize),
    Truncate(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let c = prop_oneof![
        prop::char::range('-', 'z'),
        Just('.'),
        Just('='),
        any::<char>()
    ];
    prop_oneof![
        (any::<usize>(), c.clone()).prop_map(|(i, c)| Edit::Replace(i, c)),
        (any::<usize>(), c).prop_map(|(i, c)| Edit::Insert(i, c)),
        any::<usize>().prop_map(Edit::Remove),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

fn apply_edit(token: &str, e: &Edit) -> String {
    let mut chars: Vec<char> = token.chars().collect();
    let n = chars.len();
    match *e {
        Edit::Replace(i, c) => chars[i % n] = c,
        Edit::Insert(i, c) => chars.insert(i % (n + 1), c),
        Edit::Remove(i) => drop(chars.remove(i % n)),
        Edit::Truncate(i) => chars.truncate(i % n),
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// TK-1: nothing a caller makes up is accepted, and nothing panics.
    #[test]
    fn tk_1_made_up_tokens_are_refused(token in presented()) {
        let f = FIXTURE.with(|f| f.clone());
        prop_assert!(f.verify(&token).is_err());
    }

    /// TK-1, TK-3, TK-5: a token is accepted exactly when the published key signed it with the
    /// one algorithm, the access-token type, a known `kid`, no key location, and every claim
    /// present and right; an accepted token's claims are the ones signed.
    #[test]
    fn tk_3_exactly_the_valid_tokens_are_accepted(s in shape()) {
        let f = FIXTURE.with(|f| f.clone());
        let user = uuid::Uuid::now_v7();
        let claims = claims_of(&s, Utc::now().timestamp(), user);
        let signer = if s.signed_by_key { &f.key } else { &f.other };
        let token = sign(signer, &header_of(&s, f.key.kid()), &claims);
        match f.verify(&token) {
            Ok(got) => {
                prop_assert!(s.acceptable(), "accepted {s:?}");
                prop_assert_eq!(got.sub, user.to_string());
            }
            Err(e) => prop_assert!(!s.acceptable(), "refused {s:?}: {e}"),
        }
    }

    /// TK-1: a valid token with any one character changed, added or removed is refused.
    #[test]
    fn tk_1_an_edited_token_is_refused(e in edit()) {
        let f = FIXTURE.with(|f| f.clone());
        let token = valid_token(&f);
        let edited = apply_edit(&token, &e);
        prop_assume!(edited != token);
        prop_assert!(f.verify(&edited).is_err(), "{e:?}");
    }
}

thread_local! {
    /// One fixture per test thread: building a runtime and keys per case would dominate.
    static FIXTURE: Arc<Fixture> = Arc::new(Fixture::new());
}

const VALID: Shape = Shape {
    alg: Pick::Good,
    typ: Pick::Good,
    kid: Pick::Good,
    extra_header: Pick::Good,
    iss: Pick::Good,
    aud: Pick::Good,
    exp: Pick::Good,
    nbf: Pick::Good,
    iat: Pick::Good,
    sub: Pick::Good,
    missing: Pick::Good,
    signed_by_key: true,
};

fn valid_token(f: &Fixture) -> String {
    let claims = claims_of(&VALID, Utc::now().timestamp(), uuid::Uuid::now_v7());
    sign(&f.key, &header_of(&VALID, f.key.kid()), &claims)
}

/// The properties above are not vacuous: the valid shape is accepted, and so is the signer's
/// own token.
#[test]
fn the_valid_shape_is_accepted() {
    let f = Fixture::new();
    assert!(VALID.acceptable());
    f.verify(&valid_token(&f)).expect("the valid shape");
    let signer = TokenSigner::new(TokenProfile::default(), f.key.clone());
    let (token, _) = signer
        .sign_operator(uuid::Uuid::now_v7(), "gateway")
        .unwrap();
    f.verify(&token).expect("the signer's own token");
}
