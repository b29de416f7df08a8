//! The lifecycle worker of the meta server: every `lifecycle_interval_secs` it applies the
//! lifecycle rules of every container that has some ([`crate::store::Store::lifecycle_pass_all`]), with a
//! lifecycle day of `lifecycle_day_secs` (one real day unless a test shortens it). The LMDB
//! work runs on the blocking pool.

use crate::ids;
use crate::store::StoreSource;
use std::time::Duration;
use tokio::task::JoinHandle;

/// Starts the worker (`None` when `interval_secs` is 0). Abort the handle to stop it.
pub fn spawn(source: StoreSource, interval_secs: u64, day_secs: u64) -> Option<JoinHandle<()>> {
    if interval_secs == 0 {
        return None;
    }
    let period = Duration::from_secs(interval_secs);
    let day_ms = i64::try_from(day_secs.max(1))
        .unwrap_or(i64::MAX / 1000)
        .saturating_mul(1000);
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            // Only where the store should run passes (a group's leader).
            let Some(s) = source() else {
                continue;
            };
            let done =
                tokio::task::spawn_blocking(move || s.lifecycle_pass_all(ids::now_ms(), day_ms))
                    .await;
            match done {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "lifecycle pass failed"),
                Err(e) => tracing::error!(error = %e, "lifecycle pass panicked"),
            }
        }
    }))
}
