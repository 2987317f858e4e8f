//! Verifying access tokens: [`JwtVerifier`] over a cached key set from a [`JwksSource`], with
//! its memory of tokens already verified.

use std::{
    collections::HashMap,
    fmt,
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use super::{ACCESS_TOKEN_TYP, AccessClaims, LEEWAY_SECONDS, TokenProfile, VerifyError};
use crate::digest_cache::{DigestCache, digest};

/// Longest `kid` looked up.
pub(super) const MAX_KID_LEN: usize = 64;
/// How many verified tokens a verifier remembers (a few hundred bytes each).
const VERIFIED_TOKENS: usize = 8192;
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
    pub(super) verified: DigestCache<(AccessClaims, u64)>,
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
        claims.check_subject()?;
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
pub(super) fn still_valid(claims: &AccessClaims, now: i64) -> bool {
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
