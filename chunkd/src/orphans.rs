//! The orphan sweep: chunk files that the directory does not know are set aside, then
//! deleted.
//!
//! A write stores its chunks first and commits the object's record after; a gateway that dies
//! in between (or a meta that refuses the commit while the gateway cannot tell it to forget
//! the chunks) leaves chunk files nothing points to. Every `orphan_check_secs`, the sweep
//! lists each prefix directory, takes the chunk files older than `orphan_grace_secs` (longer
//! than any write can take: a write's chunks are committed within one object or part, at
//! most 5 GiB), and asks meta which of them it knows neither in the reverse index nor in the
//! GC queue ([`meta_api::api::RdirCheck`]). Those are moved to `orphans/` (with a record of
//! when and why, like a quarantined chunk), and deleted from there `orphan_hold_secs` later:
//! the hold leaves time to notice a directory that lost records (restored from an old backup)
//! before any data is gone.
//!
//! When meta cannot be asked, nothing is set aside.

use crate::metrics::Metrics;
use crate::volume::Volume;
use meta_api::api::RDIR_CHECK_MAX;
use meta_api::client::MetaClient;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// When and how the sweep runs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Time between two sweeps (zero: never).
    pub every: Duration,
    /// Chunk files younger than this are left alone.
    pub grace: Duration,
    /// Orphans set aside are deleted this much later.
    pub hold: Duration,
}

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sweep {
    /// Old chunk files asked about.
    pub checked: u64,
    /// Set aside as orphans.
    pub set_aside: u64,
    /// Deleted after their hold.
    pub purged: u64,
}

/// Sweeps forever (until the task is dropped).
pub async fn run_loop(
    volume: Arc<Volume>,
    meta: MetaClient,
    metrics: Arc<Metrics>,
    settings: Settings,
) {
    if settings.every.is_zero() {
        return;
    }
    let mut ticker = tokio::time::interval(settings.every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick is at once: wait a whole period first (a server just started has
    // better things to do, and its meta may not be up yet).
    ticker.tick().await;
    loop {
        ticker.tick().await;
        match sweep(&volume, &meta, &settings).await {
            Ok(done) => {
                metrics.orphans_set_aside.inc_by(done.set_aside);
                metrics.orphans_purged.inc_by(done.purged);
                tracing::info!(
                    checked = done.checked,
                    set_aside = done.set_aside,
                    purged = done.purged,
                    "orphan sweep done"
                );
            }
            Err(e) => tracing::warn!(error = %e, "orphan sweep stopped"),
        }
    }
}

/// One sweep of the whole volume.
pub async fn sweep(
    volume: &Arc<Volume>,
    meta: &MetaClient,
    settings: &Settings,
) -> crate::Result<Sweep> {
    let mut done = Sweep::default();
    let before = SystemTime::now()
        .checked_sub(settings.grace)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let service = volume.service_id().to_string();
    let dirs = blocking(volume, |v| v.prefix_dirs()).await?;
    for dir in dirs {
        let old = blocking(volume, move |v| v.chunks_older_than(&dir, before)).await?;
        for batch in old.chunks(RDIR_CHECK_MAX) {
            let ids: Vec<String> = batch.iter().map(|(id, _)| id.clone()).collect();
            done.checked += ids.len() as u64;
            let unknown = meta
                .rdir_unknown(&service, ids)
                .await
                .map_err(|e| crate::Error::Unavailable(format!("asking meta: {e}")))?;
            for id in unknown {
                let Some((_, identity)) = batch.iter().find(|(i, _)| *i == id) else {
                    continue;
                };
                let identity = *identity;
                let reason = format!(
                    "unknown to the directory, older than {} s",
                    settings.grace.as_secs()
                );
                let chunk = id.clone();
                let moved = blocking(volume, move |v| {
                    v.set_aside_orphan(&chunk, identity, &reason)
                })
                .await?;
                if let Some(path) = moved {
                    tracing::info!(chunk = %id, to = %path.display(), "orphan chunk set aside");
                    done.set_aside += 1;
                }
            }
        }
    }
    let hold_ms = i64::try_from(settings.hold.as_millis()).unwrap_or(i64::MAX);
    let cutoff = now_ms().saturating_sub(hold_ms);
    done.purged = blocking(volume, move |v| v.purge_orphans(cutoff)).await?;
    Ok(done)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

async fn blocking<T, F>(volume: &Arc<Volume>, f: F) -> crate::Result<T>
where
    T: Send + 'static,
    F: FnOnce(&Volume) -> crate::Result<T> + Send + 'static,
{
    let volume = volume.clone();
    tokio::task::spawn_blocking(move || f(&volume))
        .await
        .map_err(|e| crate::Error::Io(std::io::Error::other(e)))?
}
