//! Access tokens: short-lived EdDSA (Ed25519) JWTs with a `kid` header, signed by identity-svc
//! and verified by every service.
//!
//! Verification is strict (checklist TK-1, TK-3, TK-5): exactly one algorithm (`EdDSA`), the
//! explicit type `at+jwt`, no key material or key location taken from the header (`jku`,
//! `jwk`, `x5u`, `x5c`, `crit` are refused), `kid` used only as a key into the locally held key
//! set, and `iss`, `aud`, `exp`, `nbf`, `iat`, `sub` all required and checked.

#[doc(hidden)]
pub mod fuzzing;
mod verifier;

use std::{fmt, sync::RwLock, time::Duration};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use verifier::{JwksSource, JwtVerifier, StaticJwks};

/// The JOSE `typ` of our access tokens (RFC 9068).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";
/// Clock skew tolerated on `exp`, `nbf` and `iat`.
pub const LEEWAY_SECONDS: u64 = 30;

/// Makes the RustCrypto provider jsonwebtoken's process-wide default. Idempotent; call it
/// before the first sign or verify (jsonwebtoken panics otherwise when features unify badly).
pub fn install_crypto_provider() {
    let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
}

/// The prefix of `sub` in an operator's access token: `operator:<operator token uuid>`.
pub const OPERATOR_SUBJECT_PREFIX: &str = "operator:";

/// The claims of an access token. `sub` is the original user's UUID, or for an operator
/// `operator:<uuid>` with the same uuid in `opr`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Issuer.
    pub iss: String,
    /// The user the token speaks for.
    pub sub: String,
    /// Audience.
    pub aud: String,
    /// Expiry (Unix seconds).
    pub exp: i64,
    /// Not before (Unix seconds).
    pub nbf: i64,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Unique token id.
    pub jti: String,
    /// The client the token was issued to (RFC 9068).
    pub client_id: String,
    /// How the user authenticated: `pwd` (a session) or `pat` (a personal access token).
    pub amr: Vec<String>,
    /// The session this token was issued for, when it came from a browser session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// The personal access token this token was issued for, when it came from one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pat: Option<String>,
    /// The version of that personal access token's secret the token was issued for: its last
    /// rotation in Unix microseconds, 0 if never rotated. Read with the secret it was checked
    /// against, so a rotation refuses every token of an older secret, however the two interleave.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pat_v: Option<i64>,
    /// The operator token this token was issued for, when it came from one (`amr` `op`). Such
    /// a token names no user: its `sub` is `operator:<opr>`, and only identity-svc's account
    /// API accepts it (every other method refuses it, see `service_kit::grpc`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opr: Option<String>,
    /// What the token may do (RFC 8693 §4.2, RFC 9068 §2.2.3): space-separated scopes, each
    /// level with those below it (`read write` for a write-scoped token; see
    /// [`crate::scope`]). Absent from tokens signed before scopes existed, which had full power.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// When the user logged in (Unix seconds; OpenID Connect's `auth_time`), for a token issued
    /// for a session: the session's start, which refreshing does not move.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
}

impl AccessClaims {
    /// The user's UUID.
    pub fn user_uuid(&self) -> Result<uuid::Uuid, VerifyError> {
        uuid::Uuid::parse_str(&self.sub).map_err(|_| VerifyError::Invalid("sub is not a UUID"))
    }

    /// The operator token the token speaks for, when it is an operator's.
    pub fn operator_uuid(&self) -> Option<uuid::Uuid> {
        self.opr
            .as_deref()
            .and_then(|o| uuid::Uuid::parse_str(o).ok())
    }

    /// Whether the token is an operator's (see [`Self::opr`]).
    pub fn is_operator(&self) -> bool {
        self.opr.is_some()
    }

    /// Checks `sub`: a user's UUID, or for an operator `operator:<opr>`.
    pub fn check_subject(&self) -> Result<(), VerifyError> {
        let Some(opr) = &self.opr else {
            return self.user_uuid().map(|_| ());
        };
        let named = self.sub.strip_prefix(OPERATOR_SUBJECT_PREFIX);
        if self.operator_uuid().is_none() || named != Some(opr.as_str()) {
            return Err(VerifyError::Invalid("sub does not name the operator token"));
        }
        Ok(())
    }

    /// Whether the user authenticated with the given method (`pwd`, `pat`).
    pub fn authenticated_by(&self, method: &str) -> bool {
        self.amr.iter().any(|m| m == method)
    }
}

/// Why a token was refused. Callers answer UNAUTHENTICATED / 401 for every variant and log the
/// reason; the reason is never sent to the client.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The token or one of its claims is malformed or fails a rule.
    #[error("invalid token: {0}")]
    Invalid(&'static str),
    /// No key with the token's `kid` is published.
    #[error("unknown signing key")]
    UnknownKey,
    /// Signature, expiry, audience, issuer or not-before check failed.
    #[error("token rejected: {0}")]
    Rejected(#[from] jsonwebtoken::errors::Error),
    /// The key set could not be fetched.
    #[error("key set unavailable: {0}")]
    KeySetUnavailable(String),
}

/// An Ed25519 signing key with its `kid`. Debug output never shows the private key.
#[derive(Clone)]
pub struct SigningKey {
    kid: String,
    seed: [u8; 32],
    public: [u8; 32],
    /// The parsed key, so signing does not re-parse the DER form on every token.
    signer: ed25519_dalek::SigningKey,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("private", &"[REDACTED]")
            .finish()
    }
}

impl SigningKey {
    /// A new random key with a random `kid`.
    pub fn generate() -> Self {
        let kid = hex::encode(crate::secret::random_bytes::<12>());
        Self::from_seed(kid, crate::secret::random_bytes::<32>())
    }

    /// Rebuilds a key from its stored `kid` and 32-byte seed.
    pub fn from_seed(kid: String, seed: [u8; 32]) -> Self {
        let signing = ed25519_dalek::SigningKey::from_bytes(&seed);
        let public = signing.verifying_key().to_bytes();
        Self {
            kid,
            seed,
            public,
            signer: signing,
        }
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The private seed, for storage only.
    pub fn seed(&self) -> &[u8; 32] {
        &self.seed
    }

    /// The public half as a JWK (RFC 8037).
    pub fn public_jwk(&self) -> serde_json::Value {
        serde_json::json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "alg": "EdDSA",
            "use": "sig",
            "kid": self.kid,
            "x": URL_SAFE_NO_PAD.encode(self.public),
        })
    }
}

/// Builds a JWKS document from public keys.
pub fn jwks_json<'a>(keys: impl IntoIterator<Item = &'a SigningKey>) -> String {
    let keys: Vec<_> = keys.into_iter().map(SigningKey::public_jwk).collect();
    serde_json::json!({ "keys": keys }).to_string()
}

/// Issuer, audience and lifetime shared by whoever signs and whoever verifies.
#[derive(Debug, Clone)]
pub struct TokenProfile {
    /// `iss` of every token.
    pub issuer: String,
    /// `aud` of every token.
    pub audience: String,
    /// Lifetime of an access token.
    pub ttl: Duration,
}

impl Default for TokenProfile {
    fn default() -> Self {
        Self {
            issuer: "urn:platform:identity".to_owned(),
            audience: "urn:platform:api".to_owned(),
            ttl: Duration::from_secs(15 * 60),
        }
    }
}

/// What the signer needs to mint one token.
#[derive(Debug, Clone)]
pub struct TokenRequest<'a> {
    /// The user's UUID.
    pub user_uuid: uuid::Uuid,
    /// Authentication method (`pwd` or `pat`).
    pub amr: &'a str,
    /// The session, for session-derived tokens.
    pub session_id: Option<uuid::Uuid>,
    /// The personal access token, for tokens issued for one.
    pub pat_id: Option<uuid::Uuid>,
    /// The version of the personal access token's secret (see [`AccessClaims::pat_v`]).
    pub pat_version: Option<i64>,
    /// The client the token is for.
    pub client_id: &'a str,
    /// The credential's level ([`AccessClaims::scope`]).
    pub scope: crate::scope::Scope,
    /// When the session's user logged in (Unix seconds), for session-derived tokens.
    pub auth_time: Option<i64>,
}

/// Signs access tokens with the current key.
#[derive(Debug)]
pub struct TokenSigner {
    profile: TokenProfile,
    key: RwLock<SigningKey>,
}

impl TokenSigner {
    /// A signer with `key` as the current signing key.
    pub fn new(profile: TokenProfile, key: SigningKey) -> Self {
        Self {
            profile,
            key: RwLock::new(key),
        }
    }

    /// Signs a token for `req`; returns it with its expiry.
    pub fn sign(
        &self,
        req: &TokenRequest<'_>,
    ) -> Result<(String, DateTime<Utc>), jsonwebtoken::errors::Error> {
        Ok(self.sign_with(|now, exp| AccessClaims {
            iss: self.profile.issuer.clone(),
            sub: req.user_uuid.to_string(),
            aud: self.profile.audience.clone(),
            exp: exp.timestamp(),
            nbf: now.timestamp(),
            iat: now.timestamp(),
            jti: uuid::Uuid::now_v7().to_string(),
            client_id: req.client_id.to_owned(),
            amr: vec![req.amr.to_owned()],
            sid: req.session_id.map(|s| s.to_string()),
            pat: req.pat_id.map(|p| p.to_string()),
            pat_v: req.pat_version,
            opr: None,
            scope: Some(req.scope.claim()),
            auth_time: req.auth_time,
        }))
    }

    /// Signs a token for the operator token `operator`: `sub` `operator:<uuid>`, `opr` the
    /// uuid, `amr` `op`; returns it with its expiry.
    pub fn sign_operator(
        &self,
        operator: uuid::Uuid,
        client_id: &str,
    ) -> Result<(String, DateTime<Utc>), jsonwebtoken::errors::Error> {
        Ok(self.sign_with(|now, exp| AccessClaims {
            iss: self.profile.issuer.clone(),
            sub: format!("{OPERATOR_SUBJECT_PREFIX}{operator}"),
            aud: self.profile.audience.clone(),
            exp: exp.timestamp(),
            nbf: now.timestamp(),
            iat: now.timestamp(),
            jti: uuid::Uuid::now_v7().to_string(),
            client_id: client_id.to_owned(),
            amr: vec!["op".to_owned()],
            sid: None,
            pat: None,
            pat_v: None,
            opr: Some(operator.to_string()),
            // The operator acts with the owner role over every account: every scope.
            scope: Some(crate::scope::Scope::Admin.claim()),
            auth_time: None,
        }))
    }

    /// Signs the claims `claims(now, expiry)` with the current key.
    fn sign_with(
        &self,
        claims: impl FnOnce(DateTime<Utc>, DateTime<Utc>) -> AccessClaims,
    ) -> (String, DateTime<Utc>) {
        let now = Utc::now();
        let exp = now
            + chrono::Duration::from_std(self.profile.ttl).unwrap_or(chrono::Duration::minutes(15));
        let claims = claims(now, exp);
        let key = self.key.read().unwrap_or_else(|e| e.into_inner()).clone();
        // JWS compact serialisation (RFC 7515) signed with the parsed key; the verifier (and the
        // tests) check it with jsonwebtoken like any other token.
        let header = serde_json::json!({ "typ": ACCESS_TOKEN_TYP, "alg": "EdDSA", "kid": key.kid });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).expect("claims serialise to JSON")),
        );
        let signature = ed25519_dalek::Signer::sign(&key.signer, input.as_bytes());
        let token = format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()));
        (token, exp)
    }

    /// The `kid` of the key that signs now.
    pub fn kid(&self) -> String {
        self.key
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .kid
            .clone()
    }

    /// Makes `key` the signing key from now on (rotation; the old key must stay published).
    pub fn set_key(&self, key: SigningKey) {
        *self.key.write().unwrap_or_else(|e| e.into_inner()) = key;
    }
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
