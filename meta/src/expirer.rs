//! The expirer task of the meta server: every `expirer_interval_secs` it deletes the objects
//! whose `x-delete-at` is due ([`Store::expire_due`], their chunks queued to GC) and purges
//! expired Swift tokens ([`Store::purge_tokens`]). The LMDB work runs on the blocking pool.

use crate::ids;
use crate::store::{Store, StoreSource};
use std::time::Duration;
use tokio::task::JoinHandle;

/// Starts the expirer (`None` when `interval_secs` is 0). Abort the handle to stop it.
pub fn spawn(source: StoreSource, interval_secs: u64) -> Option<JoinHandle<()>> {
    if interval_secs == 0 {
        return None;
    }
    let period = Duration::from_secs(interval_secs);
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            // Only where the store should run passes (a group's leader).
            let Some(s) = source() else {
                continue;
            };
            let done = tokio::task::spawn_blocking(move || pass(&s)).await;
            if let Err(e) = done {
                tracing::error!(error = %e, "expirer pass panicked");
            }
        }
    }))
}

/// One pass: due objects (batch after batch), then expired tokens.
pub fn pass(store: &Store) {
    let now_ms = ids::now_ms();
    let now_secs = u64::try_from(now_ms / 1000).unwrap_or(0);
    loop {
        match store.expire_due(now_secs) {
            // A full batch may leave more due objects; stop when a pass makes no progress.
            Ok(p) if p.deleted + p.stale > 0 => continue,
            Ok(_) => break,
            Err(e) => {
                tracing::warn!(error = %e, "expirer pass failed");
                break;
            }
        }
    }
    match store.purge_tokens(now_ms) {
        Ok(0) => {}
        Ok(n) => tracing::debug!(count = n, "expired swift tokens purged"),
        Err(e) => tracing::warn!(error = %e, "purging swift tokens failed"),
    }
}
