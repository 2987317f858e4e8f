//! The keys that sign access tokens, and their rotation with overlap (checklist TK-6).
//!
//! Every stored key is published in the JWKS. A new key is created every `rotate_every`; it is
//! published for `publish_delay` before it signs, so verifiers that refresh their key set
//! periodically know it before they meet it. An older key stays published until the newer one
//! has been signing for `retire_after` (at least the longest token lifetime plus the verifiers'
//! cache time), so every token it signed has expired when it goes. Each replica runs the same
//! plan over the shared store, so replicas agree on the signing key. [`rotate_now`]
//! (`identity-svc rotate-signing-key`) adds a key at once; the plan treats it like one made on
//! schedule: published now, signing after `publish_delay`, its predecessor retired later.
//!
//! At rest a key's private seed is sealed under the key ring of `IDENTITY_KEYS`
//! (`service_kit::envelope`, CR-6) and bound to its `kid`, so a sealed seed copied onto another
//! key's row does not open. [`seal_clear_keys`] seals the keys an older version stored in
//! clear; [`rewrap_all`] moves every key to the ring's newest version (CR-5).

use std::{borrow::Cow, sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use service_kit::{
    envelope::{Aad, Keyring},
    jwt::{JwksSource, SigningKey, TokenSigner, jwks_json},
};
use tokio_util::sync::CancellationToken;

use crate::store::{IdentityStore, SigningKeyRecord, StoreError};

/// What a sealed seed is bound to: the key's `kid` (and what it is, so a value sealed for
/// another purpose under the same ring does not open as a signing key).
#[derive(Debug, Clone, Copy)]
pub struct KeyBinding<'a>(pub &'a str);

impl Aad for KeyBinding<'_> {
    fn aad(&self) -> Cow<'_, [u8]> {
        let mut aad = b"identity-svc signing key\0".to_vec();
        aad.extend_from_slice(self.0.as_bytes());
        Cow::Owned(aad)
    }
}

/// When keys are created, used and retired.
#[derive(Debug, Clone, Copy)]
pub struct KeyPolicy {
    /// Age of the newest key at which a new one is created.
    pub rotate_every: Duration,
    /// How long a new key is published before it signs.
    pub publish_delay: Duration,
    /// How long an older key stays published once its successor signs.
    pub retire_after: Duration,
}

impl KeyPolicy {
    /// The policy for tokens living `token_ttl`, with verifiers caching the key set up to
    /// `verifier_cache`.
    pub fn new(rotate_every: Duration, token_ttl: Duration, verifier_cache: Duration) -> Self {
        Self {
            rotate_every,
            publish_delay: (verifier_cache * 2).max(Duration::from_secs(1)),
            retire_after: token_ttl + verifier_cache * 2 + Duration::from_secs(60),
        }
    }
}

/// What to do with the stored keys now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The key that signs (index into the keys, oldest first).
    pub signing: usize,
    /// Whether a new key is due.
    pub create: bool,
    /// Keys to delete.
    pub retire: Vec<String>,
}

fn chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// Decides which key signs, whether a new one is due and which are retired. `keys` are
/// (kid, created_at), oldest first, and not empty.
pub fn plan(keys: &[(String, DateTime<Utc>)], now: DateTime<Utc>, policy: &KeyPolicy) -> Plan {
    let newest = keys.len() - 1;
    // The newest key published long enough; at first start, the only key there is.
    let signing = (0..keys.len())
        .rev()
        .find(|&i| keys[i].1 + chrono(policy.publish_delay) <= now)
        .unwrap_or(newest);
    let create = keys[newest].1 + chrono(policy.rotate_every) <= now;
    let signing_since = keys[signing].1 + chrono(policy.publish_delay);
    let retire = if signing_since + chrono(policy.retire_after) <= now {
        keys[..signing].iter().map(|(kid, _)| kid.clone()).collect()
    } else {
        Vec::new()
    };
    Plan {
        signing,
        create,
        retire,
    }
}

fn decode(keyring: &Keyring, r: &SigningKeyRecord) -> anyhow::Result<SigningKey> {
    let seed = keyring
        .open(&r.sealed_seed, &KeyBinding(&r.kid))
        .map_err(|e| anyhow::anyhow!("stored signing key {} does not open: {e}", r.kid))?;
    let seed: [u8; 32] = seed
        .expose_secret()
        .try_into()
        .map_err(|_| anyhow::anyhow!("stored signing key {} is malformed", r.kid))?;
    Ok(SigningKey::from_seed(r.kid.clone(), seed))
}

fn seal(keyring: &Keyring, key: &SigningKey, created_at: DateTime<Utc>) -> SigningKeyRecord {
    SigningKeyRecord {
        kid: key.kid().to_owned(),
        sealed_seed: keyring.seal(key.seed(), &KeyBinding(key.kid())),
        created_at,
    }
}

async fn create(store: &dyn IdentityStore, keyring: &Keyring) -> anyhow::Result<String> {
    let key = SigningKey::generate();
    let record = seal(keyring, &key, Utc::now());
    match store.insert_signing_key(&record).await {
        Ok(()) | Err(StoreError::Conflict) => Ok(record.kid),
        Err(e) => Err(e.into()),
    }
}

/// Creates a signing key now (`rotate-signing-key`); returns its `kid`. It is published at
/// once and signs once it has been published for the policy's `publish_delay` (the running
/// replicas' plan decides); the key signing now keeps verifying until its tokens expired.
pub async fn rotate_now(store: &dyn IdentityStore, keyring: &Keyring) -> anyhow::Result<String> {
    let kid = create(store, keyring).await?;
    tracing::info!(kid = %kid, "new signing key published");
    Ok(kid)
}

/// Seals every key an older version stored in clear and erases the clear copies (at start,
/// before any key is read); returns how many.
pub async fn seal_clear_keys(
    store: &dyn IdentityStore,
    keyring: &Keyring,
) -> anyhow::Result<usize> {
    let clear = store.clear_signing_keys().await?;
    for k in &clear {
        let seed: [u8; 32] = k
            .private_seed
            .as_slice()
            .try_into()
            .map_err(|_| anyhow::anyhow!("stored signing key {} is malformed", k.kid))?;
        let key = SigningKey::from_seed(k.kid.clone(), seed);
        let sealed = keyring.seal(key.seed(), &KeyBinding(key.kid()));
        store.seal_clear_signing_key(&k.kid, &sealed).await?;
    }
    if !clear.is_empty() {
        tracing::info!(
            keys = clear.len(),
            "signing keys stored in clear are now sealed"
        );
        // The keys are sealed either way; only the erasure of the old bytes is at stake, so a
        // failure (a lock held too long, a role that does not own the table) does not stop
        // the service.
        match store.compact_signing_keys().await {
            Ok(true) => {}
            Ok(false) => tracing::error!(
                "the old clear copies of the signing keys remain in the table's file: this \
                 database role does not own signing_keys, so it may not rewrite it; run \
                 `identity-svc migrate` (the Job platform-migrate) again, or VACUUM FULL \
                 identity.signing_keys as the table's owner (identity_migrator in deploy/k8s) \
                 (docs/keys.md)"
            ),
            Err(e) => tracing::error!(
                error = %e,
                "the old clear copies of the signing keys may remain in the database files: \
                 run VACUUM FULL signing_keys (PostgreSQL, as the table's owner) or PRAGMA \
                 wal_checkpoint(TRUNCATE) (SQLite), then rotate-signing-key (docs/keys.md)"
            ),
        }
    }
    Ok(clear.len())
}

/// What a re-wrap did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RewrapReport {
    /// Keys moved to the newest key version.
    pub moved: u64,
    /// Keys already on it.
    pub current: u64,
    /// Keys that could not be opened (unknown or retired key version, tampering): left as
    /// they are.
    pub failed: u64,
}

/// Moves every signing key to the key ring's newest version by re-sealing its data key only:
/// no seed is decrypted (CR-5). Safe while the service runs.
pub async fn rewrap_all(
    store: &dyn IdentityStore,
    keyring: &Keyring,
) -> anyhow::Result<RewrapReport> {
    let mut report = RewrapReport::default();
    for r in store.signing_keys().await? {
        match keyring.rewrap(&r.sealed_seed, &KeyBinding(&r.kid)) {
            Ok(sealed) if sealed == r.sealed_seed => report.current += 1,
            Ok(sealed) => {
                if store
                    .replace_sealed_signing_key(&r.kid, &r.sealed_seed, &sealed)
                    .await?
                {
                    report.moved += 1;
                }
            }
            Err(e) => {
                tracing::error!(kid = %r.kid, error = %e, "signing key cannot be re-wrapped");
                report.failed += 1;
            }
        }
    }
    Ok(report)
}

/// Applies the plan once: creates a due key, retires old ones; returns the signing key.
pub async fn apply(
    store: &dyn IdentityStore,
    keyring: &Keyring,
    policy: &KeyPolicy,
) -> anyhow::Result<SigningKey> {
    let mut records = store.signing_keys().await?;
    if records.is_empty() {
        create(store, keyring).await?;
        records = store.signing_keys().await?;
    }
    let times: Vec<_> = records
        .iter()
        .map(|r| (r.kid.clone(), r.created_at))
        .collect();
    let first = plan(&times, Utc::now(), policy);
    if first.create {
        create(store, keyring).await?;
        tracing::info!("new signing key published");
        records = store.signing_keys().await?;
    }
    let times: Vec<_> = records
        .iter()
        .map(|r| (r.kid.clone(), r.created_at))
        .collect();
    let p = plan(&times, Utc::now(), policy);
    for kid in &p.retire {
        store.delete_signing_key(kid).await?;
        tracing::info!(kid = %kid, "signing key retired");
    }
    let signing = records
        .get(p.signing)
        .ok_or_else(|| anyhow::anyhow!("no signing key"))?;
    decode(keyring, signing)
}

/// Re-applies the plan periodically and hands the signing key to `signer`.
pub fn spawn_rotation(
    store: Arc<dyn IdentityStore>,
    keyring: Arc<Keyring>,
    signer: Arc<TokenSigner>,
    policy: KeyPolicy,
    shutdown: CancellationToken,
) {
    let tick = (policy.rotate_every.min(policy.publish_delay) / 4)
        .clamp(Duration::from_millis(100), Duration::from_secs(60));
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(tick) => {}
            }
            match apply(store.as_ref(), &keyring, &policy).await {
                Ok(key) => {
                    if key.kid() != signer.kid() {
                        tracing::info!(kid = %key.kid(), "signing with a new key");
                    }
                    signer.set_key(key);
                }
                Err(e) => tracing::warn!(error = ?e, "signing key rotation failed; will retry"),
            }
        }
    });
}

/// The published key set, read from the store (so every replica publishes every key); the
/// public halves come from the opened seeds.
#[derive(Debug, Clone)]
pub struct StoreJwks(pub Arc<dyn IdentityStore>, pub Arc<Keyring>);

#[async_trait::async_trait]
impl JwksSource for StoreJwks {
    async fn fetch(&self) -> anyhow::Result<String> {
        // A key this replica cannot open (sealed under a key version it does not hold yet,
        // during a rollout of IDENTITY_KEYS) is left out rather than failing the whole set.
        let keys: Vec<_> = self
            .0
            .signing_keys()
            .await?
            .iter()
            .filter_map(|r| {
                decode(&self.1, r)
                    .inspect_err(|e| tracing::error!(error = %e, "signing key not published"))
                    .ok()
            })
            .collect();
        anyhow::ensure!(!keys.is_empty(), "no stored signing key opens");
        Ok(jwks_json(keys.iter()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> KeyPolicy {
        KeyPolicy {
            rotate_every: Duration::from_secs(100),
            publish_delay: Duration::from_secs(10),
            retire_after: Duration::from_secs(50),
        }
    }

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_000_000 + s, 0).unwrap()
    }

    fn keys(created: &[i64]) -> Vec<(String, DateTime<Utc>)> {
        created.iter().map(|&c| (format!("k{c}"), at(c))).collect()
    }

    /// CR-3 for signing keys: a sealed seed opens as its own key only; moved onto another
    /// key's row (another kid) it does not open, and the error names no secret.
    #[test]
    fn cr_3_a_sealed_seed_opens_only_as_its_own_kid() {
        let ring = Keyring::new(vec![(1, [3; 32])], 1).unwrap();
        let key = SigningKey::generate();
        let r = seal(&ring, &key, Utc::now());
        assert!(r.sealed_seed.starts_with("v1:"));
        assert_eq!(decode(&ring, &r).unwrap().public_jwk(), key.public_jwk());
        let moved = SigningKeyRecord {
            kid: "another-kid".into(),
            sealed_seed: r.sealed_seed.clone(),
            created_at: r.created_at,
        };
        let err = decode(&ring, &moved).unwrap_err().to_string();
        assert!(err.contains("does not open"), "{err}");
        let other_ring = Keyring::new(vec![(1, [4; 32])], 1).unwrap();
        assert!(decode(&other_ring, &r).is_err(), "another key ring");
    }

    /// TK-6: publish, then sign, then retire after the overlap.
    #[test]
    fn tk_6_a_key_is_published_before_it_signs_and_outlives_its_tokens() {
        let p = policy();
        // The first key signs at once.
        assert_eq!(
            plan(&keys(&[0]), at(0), &p),
            Plan {
                signing: 0,
                create: false,
                retire: vec![]
            }
        );
        // Due for rotation.
        assert!(plan(&keys(&[0]), at(100), &p).create);
        // A new key (created at 100) is published but does not sign before 110.
        assert_eq!(plan(&keys(&[0, 100]), at(105), &p).signing, 0);
        assert_eq!(plan(&keys(&[0, 100]), at(110), &p).signing, 1);
        // The old key stays until the new one has signed for 50 s.
        assert!(plan(&keys(&[0, 100]), at(159), &p).retire.is_empty());
        assert_eq!(
            plan(&keys(&[0, 100]), at(160), &p).retire,
            vec!["k0".to_owned()]
        );
    }
}
