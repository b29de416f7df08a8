//! The sealing task of the meta server: once this node leads its group, one sealing pass
//! ([`Store::seal_secrets`]) seals every secret still stored in plaintext and reseals those
//! sealed under an older master key; then the task ends. Without a master key it only warns
//! that secrets are stored in plaintext.

use crate::store::{SealPass, Store, StoreSource};
use std::time::Duration;
use tokio::task::JoinHandle;

/// How often a node that does not lead checks again.
const RETRY: Duration = Duration::from_secs(5);

/// Starts the sealing task (`None` without a master key: a warning is logged instead). Abort
/// the handle to stop it.
pub fn spawn(source: StoreSource, master_key: bool) -> Option<JoinHandle<()>> {
    if !master_key {
        tracing::warn!(
            "no master_key_file: SigV4 secrets and Swift keys are stored in plaintext \
             (see \"Secrets at rest\" in docs/operations.md)"
        );
        return None;
    }
    Some(tokio::spawn(async move {
        loop {
            if let Some(store) = source() {
                match tokio::task::spawn_blocking(move || pass(&store)).await {
                    Ok(true) => return,
                    Ok(false) => {}
                    Err(e) => tracing::error!(error = %e, "sealing pass panicked"),
                }
            }
            tokio::time::sleep(RETRY).await;
        }
    }))
}

/// One sealing pass, logged; true when it completed.
pub fn pass(store: &Store) -> bool {
    match store.seal_secrets() {
        Ok(p) => {
            report(store, &p);
            true
        }
        Err(e) => {
            tracing::warn!(error = %e, "sealing pass failed; retried");
            false
        }
    }
}

fn report(store: &Store, p: &SealPass) {
    let current = store.master_keys().map(|k| k.current_id().to_string());
    if p.sealed + p.resealed > 0 {
        tracing::info!(
            sealed = p.sealed,
            resealed = p.resealed,
            key = current.as_deref().unwrap_or("-"),
            "secrets at rest sealed under the current master key"
        );
    }
    for (kid, n) in &p.missing_keys {
        tracing::warn!(
            key = %kid,
            count = n,
            "secrets are sealed under a master key id the master key file does not hold: \
             they cannot be read until that key is added back"
        );
    }
    if !p.broken.is_empty() {
        tracing::error!(
            subjects = ?p.broken,
            "stored secrets do not open under their master key (altered records?)"
        );
    }
    if p.missing_keys.is_empty() && p.broken.is_empty() {
        tracing::info!(
            key = current.as_deref().unwrap_or("-"),
            "every stored secret is sealed under the current master key"
        );
    }
}
