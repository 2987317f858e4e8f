//! Access tokens: short-lived EdDSA (Ed25519) JWTs with a `kid` header, signed by identity-svc
//! and verified by every service.
//!
//! Verification is strict (checklist TK-1, TK-3, TK-5): exactly one algorithm (`EdDSA`), the
//! explicit type `at+jwt`, no key material or key location taken from the header (`jku`,
//! `jwk`, `x5u`, `x5c`, `crit` are refused), `kid` used only as a key into the locally held key
//! set, and `iss`, `aud`, `exp`, `nbf`, `iat`, `sub` all required and checked.

use std::{
    collections::HashMap,
    fmt,
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};

use crate::digest_cache::{DigestCache, digest};

/// The JOSE `typ` of our access tokens (RFC 9068).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";
/// Clock skew tolerated on `exp`, `nbf` and `iat`.
pub const LEEWAY_SECONDS: u64 = 30;
const MAX_KID_LEN: usize = 64;
/// How many verified tokens a verifier remembers (a few hundred bytes each).
const VERIFIED_TOKENS: usize = 8192;

/// Makes the RustCrypto provider jsonwebtoken's process-wide default. Idempotent; call it
/// before the first sign or verify (jsonwebtoken panics otherwise when features unify badly).
pub fn install_crypto_provider() {
    let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
}

/// The claims of an access token. `sub` is the original user's UUID.
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
}

impl AccessClaims {
    /// The user's UUID.
    pub fn user_uuid(&self) -> Result<uuid::Uuid, VerifyError> {
        uuid::Uuid::parse_str(&self.sub).map_err(|_| VerifyError::Invalid("sub is not a UUID"))
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
        let now = Utc::now();
        let exp = now
            + chrono::Duration::from_std(self.profile.ttl).unwrap_or(chrono::Duration::minutes(15));
        let claims = AccessClaims {
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
        };
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
        Ok((token, exp))
    }

    /// Makes `key` the signing key from now on (rotation; the old key must stay published).
    pub fn set_key(&self, key: SigningKey) {
        *self.key.write().unwrap_or_else(|e| e.into_inner()) = key;
    }
}

/// Where a verifier gets the key set from.
#[async_trait::async_trait]
pub trait JwksSource: Send + Sync + fmt::Debug {
    /// Fetches the current JWKS document (JSON text).
    async fn fetch(&self) -> anyhow::Result<String>;
}

#[derive(Debug, Deserialize)]
struct Jwks {
    keys: Vec<serde_json::Value>,
}

struct KeyCache {
    keys: HashMap<String, DecodingKey>,
    /// Each key's public part as published (`x`), to tell whether a refresh changed the set.
    published: HashMap<String, String>,
    /// Moves whenever the key set changes: a remembered verification counts only under the
    /// generation it was made in, so a key taken out of the set stops verifying at once.
    generation: u64,
    fetched_at: Option<Instant>,
}

/// Verifies access tokens against a cached JWKS; refetches it (at most once per
/// `min_refetch_interval`) when a token names an unknown `kid`.
///
/// A token that passed every check is remembered under its SHA-256 digest until it expires,
/// so the same token presented again (a client sends one access token with every request for
/// up to 15 minutes) costs a digest instead of an Ed25519 verification. A remembered token is
/// accepted only while its `exp` and `nbf` still hold and the key set is the one it was verified
/// under; any change to the key set forgets every remembered token.
pub struct JwtVerifier {
    profile: TokenProfile,
    source: Arc<dyn JwksSource>,
    cache: RwLock<KeyCache>,
    verified: DigestCache<(AccessClaims, u64)>,
    refetch: tokio::sync::Mutex<()>,
    min_refetch_interval: Duration,
}

impl fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("profile", &self.profile)
            .field("source", &self.source)
            .finish()
    }
}

impl JwtVerifier {
    /// A verifier for tokens of `profile`, with keys from `source`.
    pub fn new(profile: TokenProfile, source: Arc<dyn JwksSource>) -> Self {
        Self {
            profile,
            source,
            cache: RwLock::new(KeyCache {
                keys: HashMap::new(),
                published: HashMap::new(),
                generation: 0,
                fetched_at: None,
            }),
            verified: DigestCache::new(VERIFIED_TOKENS),
            refetch: tokio::sync::Mutex::new(()),
            min_refetch_interval: Duration::from_secs(10),
        }
    }

    /// Sets how often an unknown `kid` may trigger a refetch.
    pub fn with_min_refetch_interval(mut self, interval: Duration) -> Self {
        self.min_refetch_interval = interval;
        self
    }

    /// Verifies `token` and returns its claims.
    pub async fn verify(&self, token: &str) -> Result<AccessClaims, VerifyError> {
        if token.len() > 4096 {
            return Err(VerifyError::Invalid("token too long"));
        }
        let remembered_as = digest(&[token.as_bytes()]);
        if let Some((claims, generation)) = self.verified.get(&remembered_as, Instant::now())
            && generation == self.generation()
            && still_valid(&claims, Utc::now().timestamp())
        {
            return Ok(claims);
        }
        let header = jsonwebtoken::decode_header(token)?;
        if header.alg != Algorithm::EdDSA {
            return Err(VerifyError::Invalid("algorithm not allowed"));
        }
        if header.typ.as_deref() != Some(ACCESS_TOKEN_TYP) {
            return Err(VerifyError::Invalid("wrong token type"));
        }
        if header.jku.is_some()
            || header.jwk.is_some()
            || header.x5u.is_some()
            || header.x5c.is_some()
            || header.crit.is_some()
        {
            return Err(VerifyError::Invalid(
                "key location or critical header present",
            ));
        }
        let kid = header.kid.ok_or(VerifyError::Invalid("no kid"))?;
        if kid.is_empty() || kid.len() > MAX_KID_LEN {
            return Err(VerifyError::Invalid("bad kid"));
        }
        let (key, generation) = match self.cached_key(&kid) {
            Some(key) => key,
            None => {
                self.refresh_if_allowed().await?;
                self.cached_key(&kid).ok_or(VerifyError::UnknownKey)?
            }
        };
        let claims = self.validate(token, &key)?;
        self.remember(remembered_as, &claims, generation);
        Ok(claims)
    }

    /// Keeps a verified token's claims until it expires (leeway included).
    fn remember(&self, digest: [u8; 32], claims: &AccessClaims, generation: u64) {
        let left = claims.exp + LEEWAY_SECONDS as i64 - Utc::now().timestamp();
        let Ok(left) = u64::try_from(left) else {
            return;
        };
        let now = Instant::now();
        self.verified.insert(
            digest,
            (claims.clone(), generation),
            now + Duration::from_secs(left),
            now,
        );
    }

    fn generation(&self) -> u64 {
        self.cache
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .generation
    }

    fn validate(&self, token: &str, key: &DecodingKey) -> Result<AccessClaims, VerifyError> {
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
        validation.set_issuer(&[&self.profile.issuer]);
        validation.set_audience(&[&self.profile.audience]);
        let data = jsonwebtoken::decode::<AccessClaims>(token, key, &validation)?;
        let claims = data.claims;
        let now = Utc::now().timestamp();
        if claims.iat > now + LEEWAY_SECONDS as i64 {
            return Err(VerifyError::Invalid("issued in the future"));
        }
        claims.user_uuid()?;
        Ok(claims)
    }

    fn cached_key(&self, kid: &str) -> Option<(DecodingKey, u64)> {
        let cache = self.cache.read().unwrap_or_else(|e| e.into_inner());
        cache.keys.get(kid).map(|k| (k.clone(), cache.generation))
    }

    async fn refresh_if_allowed(&self) -> Result<(), VerifyError> {
        let _guard = self.refetch.lock().await;
        let recently = self
            .cache
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .fetched_at
            .is_some_and(|t| t.elapsed() < self.min_refetch_interval);
        if recently {
            return Ok(());
        }
        self.refresh().await
    }

    /// Refreshes the key set every `every` until `shutdown`, so keys published ahead of use
    /// (rotation) are known before the first token signed by them arrives.
    pub fn spawn_periodic_refresh(
        self: &Arc<Self>,
        every: Duration,
        shutdown: tokio_util::sync::CancellationToken,
    ) {
        let verifier = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(every) => {}
                }
                if let Err(e) = verifier.refresh().await {
                    tracing::warn!(error = %e, "key set refresh failed; keeping the cached keys");
                }
            }
        });
    }

    /// Fetches the key set now and replaces the cache.
    pub async fn refresh(&self) -> Result<(), VerifyError> {
        let text = self
            .source
            .fetch()
            .await
            .map_err(|e| VerifyError::KeySetUnavailable(format!("{e:#}")))?;
        let jwks: Jwks = serde_json::from_str(&text)
            .map_err(|e| VerifyError::KeySetUnavailable(e.to_string()))?;
        let mut keys = HashMap::new();
        let mut published = HashMap::new();
        for jwk in jwks.keys {
            let (Some(kid), Some(x)) = (jwk["kid"].as_str(), jwk["x"].as_str()) else {
                continue;
            };
            if jwk["kty"] != "OKP" || jwk["crv"] != "Ed25519" {
                continue;
            }
            if let Ok(key) = DecodingKey::from_ed_components(x) {
                keys.insert(kid.to_owned(), key);
                published.insert(kid.to_owned(), x.to_owned());
            }
        }
        let mut cache = self.cache.write().unwrap_or_else(|e| e.into_inner());
        if cache.published != published {
            cache.generation += 1;
            cache.keys = keys;
            cache.published = published;
            self.verified.clear();
        }
        cache.fetched_at = Some(Instant::now());
        Ok(())
    }
}

/// Whether a token verified earlier still holds at `now` (Unix seconds): the checks of
/// [`JwtVerifier::validate`] that depend on time, with the same leeway.
fn still_valid(claims: &AccessClaims, now: i64) -> bool {
    let leeway = LEEWAY_SECONDS as i64;
    claims.exp + leeway > now && claims.nbf - leeway <= now
}

/// A key source holding a fixed document (for tests and single-process verification).
#[derive(Debug, Clone)]
pub struct StaticJwks(pub Arc<RwLock<String>>);

#[async_trait::async_trait]
impl JwksSource for StaticJwks {
    async fn fetch(&self) -> anyhow::Result<String> {
        Ok(self.0.read().unwrap_or_else(|e| e.into_inner()).clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header};

    /// The key as jsonwebtoken takes it: PKCS#8 v1 for Ed25519 (RFC 8410 section 7).
    fn encoding(key: &SigningKey) -> EncodingKey {
        let mut der = vec![
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
            0x04, 0x20,
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
        let confused =
            jsonwebtoken::encode(&hs, &c, &EncodingKey::from_secret(&key.public)).unwrap();
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
        let other =
            SigningKey::from_seed(key.kid().to_owned(), crate::secret::random_bytes::<32>());
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
}
