//! The sealing task of the meta server: on the group's leader, a sealing pass
//! ([`Store::seal_secrets`]) at start-up and then every [`PERIOD`] seals every secret still
//! stored in plaintext and reseals those sealed under another key than the current one.
//!
//! It keeps running rather than stopping after one pass because the leader changes: during a
//! rolling restart that rotates the master key, a node still running with the old key first
//! may lead for a while and reseal under it; the next pass of a leader with the new key first
//! brings everything back under the new key. A pass that finds nothing to do costs one read of
//! the credentials and Swift users. Without a master key the task only warns that secrets are
//! stored in plaintext.

use crate::store::{SealPass, Store, StoreSource};
use std::time::Duration;
use tokio::task::JoinHandle;

/// Time between two sealing passes on the leader.
pub const PERIOD: Duration = Duration::from_secs(60);
/// Time before a failed pass, or a node that does not lead yet, tries again.
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
        let mut last: Option<Summary> = None;
        loop {
            let Some(store) = source() else {
                tokio::time::sleep(RETRY).await;
                continue;
            };
            let previous = last.clone();
            let done = tokio::task::spawn_blocking(move || pass(&store, previous.as_ref())).await;
            match done {
                Ok(Some(summary)) => {
                    last = Some(summary);
                    tokio::time::sleep(PERIOD).await;
                }
                Ok(None) => tokio::time::sleep(RETRY).await,
                Err(e) => {
                    tracing::error!(error = %e, "sealing pass panicked");
                    tokio::time::sleep(RETRY).await;
                }
            }
        }
    }))
}

/// What a pass found that stays true until something changes: logged again only when it
/// differs from the previous pass's.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Summary {
    current: String,
    pass: SealPass,
}

/// One sealing pass, logged (what did not change since `previous` is not logged again);
/// `None` when it failed.
pub fn pass(store: &Store, previous: Option<&Summary>) -> Option<Summary> {
    match store.seal_secrets() {
        Ok(p) => {
            let current = store
                .master_keys()
                .map(|k| k.current_id().to_string())
                .unwrap_or_default();
            let changed = p.sealed + p.resealed > 0;
            // What is left, without the counts of what this pass did.
            let summary = Summary {
                current,
                pass: SealPass {
                    sealed: 0,
                    resealed: 0,
                    ..p.clone()
                },
            };
            if changed || previous != Some(&summary) {
                report(&summary.current, &p);
            }
            Some(summary)
        }
        Err(e) => {
            tracing::warn!(error = %e, "sealing pass failed; retried");
            None
        }
    }
}

fn report(current: &str, p: &SealPass) {
    if p.sealed + p.resealed > 0 {
        tracing::info!(
            sealed = p.sealed,
            resealed = p.resealed,
            key = current,
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
            key = current,
            "every stored secret is sealed under the current master key"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn a_pass_seals_then_has_nothing_new_to_say() {
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("master.key");
        crate::secrets::create_key_file(&keys, "k1").unwrap();
        let plain = Store::open(&crate::store::test_fixtures::config(dir.path()), "a:1").unwrap();
        plain.create_account("acct").unwrap();
        plain.create_key("acct", Some("AK"), Some("SK")).unwrap();
        drop(plain);
        crate::store::lmdb::wait_closed(&dir.path().join("directory"));
        let config = Config {
            master_key_file: Some(keys),
            ..crate::store::test_fixtures::config(dir.path())
        };
        let s = Store::open(&config, "a:1").unwrap();
        let first = pass(&s, None).unwrap();
        assert_eq!(first.current, "k1");
        assert_eq!(
            first.pass,
            SealPass::default(),
            "nothing left after the pass"
        );
        let second = pass(&s, Some(&first)).unwrap();
        assert_eq!(second, first);
        assert_eq!(s.get_key("AK").unwrap().secret_key, "SK");
    }
}
