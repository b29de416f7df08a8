//! The rebuild planner of the meta server: every `rebuild_check_secs` (on the group's leader)
//! it declares chunk servers silent for `lost_after_secs` lost and queues the copies of every
//! lost server for repair, page by page ([`Store::plan_rebuilds`]). Rebuild workers (in the
//! gateways) take the queue from there.

use crate::store::{Store, StoreSource};
use std::time::Duration;
use tokio::task::JoinHandle;

/// Starts the planner (`None` when `interval_secs` is 0). Abort the handle to stop it.
pub fn spawn(
    source: StoreSource,
    interval_secs: u64,
    lost_after_secs: u64,
) -> Option<JoinHandle<()>> {
    if interval_secs == 0 {
        return None;
    }
    let period = Duration::from_secs(interval_secs);
    let lost_after_ms = i64::try_from(lost_after_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(s) = source() else {
                continue;
            };
            let done = tokio::task::spawn_blocking(move || pass(&s, lost_after_ms)).await;
            if let Err(e) = done {
                tracing::error!(error = %e, "rebuild planner pass panicked");
            }
        }
    }))
}

/// One pass of the planner.
pub fn pass(store: &Store, lost_after_ms: i64) {
    match store.plan_rebuilds(lost_after_ms) {
        Ok(0) => {}
        Ok(n) => tracing::info!(copies = n, "chunk copies queued for repair"),
        Err(e) => tracing::warn!(error = %e, "rebuild planner pass failed"),
    }
}
