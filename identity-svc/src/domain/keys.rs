//! The keys that sign access tokens: loaded from the store, created on first start, published
//! as a JWKS. The newest key signs; every stored key stays published so tokens signed by an
//! older one keep verifying.

use std::sync::Arc;

use chrono::Utc;
use service_kit::jwt::{JwksSource, SigningKey, jwks_json};

use crate::store::{IdentityStore, SigningKeyRecord, StoreError};

/// Loads the signing keys, creating the first one when there is none; returns the newest.
pub async fn load_or_create(store: &dyn IdentityStore) -> anyhow::Result<SigningKey> {
    if let Some(newest) = newest(store).await? {
        return Ok(newest);
    }
    let key = SigningKey::generate();
    match store
        .insert_signing_key(&SigningKeyRecord {
            kid: key.kid().to_owned(),
            private_seed: key.seed().to_vec(),
            created_at: Utc::now(),
        })
        .await
    {
        Ok(()) | Err(StoreError::Conflict) => {}
        Err(e) => return Err(e.into()),
    }
    // Another replica may have created one at the same moment: everyone signs with the newest.
    newest(store)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no signing key after creating one"))
}

async fn newest(store: &dyn IdentityStore) -> anyhow::Result<Option<SigningKey>> {
    Ok(all(store).await?.pop())
}

async fn all(store: &dyn IdentityStore) -> anyhow::Result<Vec<SigningKey>> {
    store
        .signing_keys()
        .await?
        .into_iter()
        .map(|r| {
            let seed: [u8; 32] = r
                .private_seed
                .as_slice()
                .try_into()
                .map_err(|_| anyhow::anyhow!("stored signing key {} is malformed", r.kid))?;
            Ok(SigningKey::from_seed(r.kid, seed))
        })
        .collect()
}

/// The published key set, read from the store (so every replica publishes every key).
#[derive(Debug, Clone)]
pub struct StoreJwks(pub Arc<dyn IdentityStore>);

#[async_trait::async_trait]
impl JwksSource for StoreJwks {
    async fn fetch(&self) -> anyhow::Result<String> {
        let keys = all(self.0.as_ref()).await?;
        Ok(jwks_json(keys.iter()))
    }
}
