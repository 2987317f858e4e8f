//! Key rotation (CR-5): moving every sealed secret to the key ring's newest key version
//! without decrypting a secret (`connections-svc rewrap`).

use uuid::Uuid;

use crate::{
    envelope::{Binding, Keyring},
    error::Result,
    store::{BoundSecret, ConnectionsStore},
};

/// What a re-wrap did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RewrapReport {
    /// Secrets moved to the newest key version.
    pub moved: u64,
    /// Secrets that could not be opened (unknown or retired key, tampering): left as they are.
    pub failed: u64,
}

/// Moves every secret to the key ring's newest key version by re-sealing data keys only: no
/// secret is decrypted (CR-5). Safe to run while the service serves: a row changed meanwhile
/// keeps its newer value.
pub async fn rewrap_all(store: &dyn ConnectionsStore, keyring: &Keyring) -> Result<RewrapReport> {
    rewrap_all_reporting(store, keyring, &mut |_| {}).await
}

/// [`rewrap_all`], calling `progress` with the counts so far after each batch (of up to 500
/// secrets): the command line shows them as it goes.
pub async fn rewrap_all_reporting(
    store: &dyn ConnectionsStore,
    keyring: &Keyring,
    progress: &mut (dyn FnMut(RewrapReport) + Send),
) -> Result<RewrapReport> {
    let current = i32::try_from(keyring.current_version()).unwrap_or(i32::MAX);
    let mut report = RewrapReport::default();
    let mut failed: std::collections::HashSet<(Uuid, String)> = Default::default();
    loop {
        let batch: Vec<BoundSecret> = store
            .secrets_not_on(current, 500 + failed.len() as i64)
            .await?
            .into_iter()
            .filter(|s| !failed.contains(&(s.connection_uuid, s.field.clone())))
            .collect();
        if batch.is_empty() {
            break;
        }
        for s in batch {
            let binding = Binding {
                organization_uuid: s.organization_uuid,
                connection_uuid: s.connection_uuid,
                field: &s.field,
            };
            match keyring.rewrap(&s.sealed, &binding) {
                Ok(sealed) => {
                    if store.replace_sealed(&s, &sealed, current).await? {
                        report.moved += 1;
                    }
                }
                Err(e) => {
                    tracing::error!(connection = %s.connection_uuid, field = %s.field, error = %e, "secret cannot be re-wrapped");
                    report.failed += 1;
                    failed.insert((s.connection_uuid, s.field.clone()));
                }
            }
        }
        progress(report);
    }
    Ok(report)
}
