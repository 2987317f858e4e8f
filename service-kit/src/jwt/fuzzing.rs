//! The fuzz target `jwt` (`fuzz/`, issue #18 item 8; checklist SC-3, TK-1, TK-3, TK-5): the
//! verifier fed any presented token, and any header and claims signed by its published key.
//! Nothing panics; nothing made up is accepted; a signed token is accepted only when its header
//! and claims follow every rule, and then with exactly the claims signed.

use std::sync::{Arc, OnceLock, RwLock};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::Value;

use super::{
    ACCESS_TOKEN_TYP, AccessClaims, JwtVerifier, LEEWAY_SECONDS, SigningKey, StaticJwks,
    TokenProfile, install_crypto_provider, jwks_json,
};

struct Fixture {
    runtime: tokio::runtime::Runtime,
    verifier: JwtVerifier,
    key: SigningKey,
    profile: TokenProfile,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        install_crypto_provider();
        let key = SigningKey::generate();
        let jwks = StaticJwks(Arc::new(RwLock::new(jwks_json([&key]))));
        let profile = TokenProfile::default();
        Fixture {
            runtime: tokio::runtime::Builder::new_current_thread()
                .build()
                .expect("a runtime"),
            verifier: JwtVerifier::new(profile.clone(), Arc::new(jwks)),
            key,
            profile,
        }
    })
}

/// `data` as a presented token (refused), and, split at its first `0xff`, as the header and
/// claims of a token the published key signs (accepted only when both follow every rule).
pub fn verify(data: &[u8]) {
    let f = fixture();
    let presented = String::from_utf8_lossy(data);
    assert!(f.runtime.block_on(f.verifier.verify(&presented)).is_err());

    let (header, claims) = match data.iter().position(|&b| b == 0xff) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&b"{\"alg\":\"EdDSA\",\"typ\":\"at+jwt\"}"[..], data),
    };
    signed(f, header, claims);
}

/// Verifies `header` and `claims` signed by the published key; panics if accepted wrongly.
fn signed(f: &Fixture, header: &[u8], claims: &[u8]) -> Option<AccessClaims> {
    let header = header.replace_kid(f.key.kid());
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(&header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let signature = ed25519_dalek::Signer::sign(&f.key.signer, input.as_bytes());
    let token = format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()));
    let got = f.runtime.block_on(f.verifier.verify(&token)).ok()?;
    accepted_rightly(f, &header, claims, &got);
    Some(got)
}

/// Lets the fuzzer's header name the published key: `"kid":"*"` becomes its `kid`.
trait ReplaceKid {
    fn replace_kid(&self, kid: &str) -> Vec<u8>;
}

impl ReplaceKid for [u8] {
    fn replace_kid(&self, kid: &str) -> Vec<u8> {
        String::from_utf8_lossy(self)
            .replace("\"kid\":\"*\"", &format!("\"kid\":\"{kid}\""))
            .into_bytes()
    }
}

/// Panics unless the accepted token's header and claims follow every rule and `got` is what
/// was signed.
fn accepted_rightly(f: &Fixture, header: &[u8], claims: &[u8], got: &AccessClaims) {
    let header: Value = serde_json::from_slice(header).expect("an accepted header is JSON");
    assert_eq!(header["alg"], "EdDSA", "{header}");
    assert_eq!(header["typ"], ACCESS_TOKEN_TYP, "{header}");
    assert_eq!(header["kid"], f.key.kid(), "{header}");
    for location in ["jku", "jwk", "x5u", "x5c", "crit"] {
        assert!(header.get(location).is_none(), "{header}");
    }
    let signed: AccessClaims = serde_json::from_slice(claims).expect("accepted claims parse");
    assert_eq!(&signed, got);
    let now = chrono::Utc::now().timestamp();
    let leeway = LEEWAY_SECONDS as i64;
    assert_eq!(got.iss, f.profile.issuer);
    assert_eq!(got.aud, f.profile.audience);
    assert!(
        got.exp + leeway >= now && got.nbf - leeway <= now,
        "{got:?}"
    );
    assert!(got.check_subject().is_ok(), "{got:?}");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The target holds on tokens the signer makes and on broken ones (the fuzzer's seeds).
    #[test]
    fn the_jwt_target_holds_on_its_seeds() {
        let f = fixture();
        let now = chrono::Utc::now().timestamp();
        let claims = serde_json::json!({
            "iss": f.profile.issuer, "aud": f.profile.audience, "sub": uuid::Uuid::now_v7(),
            "exp": now + 60, "nbf": now, "iat": now, "jti": "j", "client_id": "c", "amr": ["pat"],
        });
        let header = br#"{"alg":"EdDSA","typ":"at+jwt","kid":"*"}"#;
        let claims = claims.to_string();
        assert!(
            signed(f, header, claims.as_bytes()).is_some(),
            "the valid shape"
        );
        let mut data = header.to_vec();
        data.push(0xff);
        data.extend(claims.as_bytes());
        verify(&data);
        for cut in [0, 1, 10, data.len() - 1] {
            verify(&data[..cut]);
        }
        verify(b"eyJhbGciOiJub25lIn0.e30.");
    }
}
