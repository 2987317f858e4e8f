//! The keys that sign access tokens, and their rotation with overlap (checklist TK-6).
//!
//! Every stored key is published in the JWKS. A new key is created every `rotate_every`; it is
//! published for `publish_delay` before it signs, so verifiers that refresh their key set
//! periodically know it before they meet it. An older key stays published until the newer one
//! has been signing for `retire_after` (at least the longest token lifetime plus the verifiers'
//! cache time), so every token it signed has expired when it goes. Each replica runs the same
//! plan over the shared store, so replicas agree on the signing key.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use service_kit::jwt::{JwksSource, SigningKey, TokenSigner, jwks_json};
use tokio_util::sync::CancellationToken;

use crate::store::{IdentityStore, SigningKeyRecord, StoreError};

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

fn decode(r: SigningKeyRecord) -> anyhow::Result<SigningKey> {
    let seed: [u8; 32] = r
        .private_seed
        .as_slice()
        .try_into()
        .map_err(|_| anyhow::anyhow!("stored signing key {} is malformed", r.kid))?;
    Ok(SigningKey::from_seed(r.kid, seed))
}

async fn create(store: &dyn IdentityStore) -> anyhow::Result<()> {
    let key = SigningKey::generate();
    let record = SigningKeyRecord {
        kid: key.kid().to_owned(),
        private_seed: key.seed().to_vec(),
        created_at: Utc::now(),
    };
    match store.insert_signing_key(&record).await {
        Ok(()) | Err(StoreError::Conflict) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Applies the plan once: creates a due key, retires old ones; returns the signing key.
pub async fn apply(store: &dyn IdentityStore, policy: &KeyPolicy) -> anyhow::Result<SigningKey> {
    let mut records = store.signing_keys().await?;
    if records.is_empty() {
        create(store).await?;
        records = store.signing_keys().await?;
    }
    let times: Vec<_> = records
        .iter()
        .map(|r| (r.kid.clone(), r.created_at))
        .collect();
    let first = plan(&times, Utc::now(), policy);
    if first.create {
        create(store).await?;
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
        .into_iter()
        .nth(p.signing)
        .ok_or_else(|| anyhow::anyhow!("no signing key"))?;
    decode(signing)
}

/// Re-applies the plan periodically and hands the signing key to `signer`.
pub fn spawn_rotation(
    store: Arc<dyn IdentityStore>,
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
            match apply(store.as_ref(), &policy).await {
                Ok(key) => signer.set_key(key),
                Err(e) => tracing::warn!(error = ?e, "signing key rotation failed; will retry"),
            }
        }
    });
}

/// The published key set, read from the store (so every replica publishes every key).
#[derive(Debug, Clone)]
pub struct StoreJwks(pub Arc<dyn IdentityStore>);

#[async_trait::async_trait]
impl JwksSource for StoreJwks {
    async fn fetch(&self) -> anyhow::Result<String> {
        let keys = self
            .0
            .signing_keys()
            .await?
            .into_iter()
            .map(decode)
            .collect::<anyhow::Result<Vec<_>>>()?;
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
