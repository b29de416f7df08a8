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
//! When meta cannot be asked, nothing is set aside. When meta says it knows almost none of the
//! old chunk files (more than `orphan_max_unknown_percent` of them, once [`MIN_SAMPLE`] were
//! asked about), the sweep sets nothing aside and stops with an error: that is what an empty,
//! wrong or restored-from-old directory looks like (orphans of crashed writes are a few among
//! many), and its "orphans" are the data. Below [`MIN_SAMPLE`] old files in all, the sweep
//! goes on as asked (a new server: what it sets aside is held before any is deleted).

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
    /// Largest share of unknown chunk files a sweep acts on, in percent (see the module
    /// docs; 100: any).
    pub max_unknown_percent: u8,
}

/// Old chunk files a sweep asks about before it judges the share of unknown ones.
pub const MIN_SAMPLE: u64 = 1000;

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sweep {
    /// Old chunk files asked about.
    pub checked: u64,
    /// Set aside as orphans.
    pub set_aside: u64,
    /// Deleted after their hold.
    pub purged: u64,
    /// Unknown to the directory (set aside, or not when the sweep stopped).
    pub unknown: u64,
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
    // Unknown files not yet set aside: held until the sample is large enough to judge.
    let mut waiting = Vec::new();
    for dir in dirs {
        let old = blocking(volume, move |v| v.chunks_older_than(&dir, before)).await?;
        for batch in old.chunks(RDIR_CHECK_MAX) {
            let ids: Vec<String> = batch.iter().map(|(id, _)| id.clone()).collect();
            done.checked += ids.len() as u64;
            let unknown = meta
                .rdir_unknown(&service, ids)
                .await
                .map_err(|e| crate::Error::Unavailable(format!("asking meta: {e}")))?;
            done.unknown += unknown.len() as u64;
            for id in unknown {
                if let Some((_, identity)) = batch.iter().find(|(i, _)| *i == id) {
                    waiting.push((id, *identity));
                }
            }
            if done.checked < MIN_SAMPLE {
                continue;
            }
            check_share(&done, settings)?;
            set_aside(volume, settings, std::mem::take(&mut waiting), &mut done).await?;
        }
    }
    if done.checked >= MIN_SAMPLE {
        check_share(&done, settings)?;
    }
    set_aside(volume, settings, waiting, &mut done).await?;
    let hold_ms = i64::try_from(settings.hold.as_millis()).unwrap_or(i64::MAX);
    let cutoff = now_ms().saturating_sub(hold_ms);
    done.purged = blocking(volume, move |v| v.purge_orphans(cutoff)).await?;
    Ok(done)
}

/// Refuses to go on when too many of the files checked so far are unknown.
fn check_share(done: &Sweep, settings: &Settings) -> crate::Result<()> {
    let max = u64::from(settings.max_unknown_percent.min(100));
    if done.unknown.saturating_mul(100) > max.saturating_mul(done.checked) {
        tracing::error!(
            unknown = done.unknown,
            checked = done.checked,
            max_percent = max,
            set_aside = done.set_aside,
            "the directory knows almost none of this server's chunk files: an empty, wrong or \
             restored meta? The orphan sweep sets nothing more aside (orphan_max_unknown_percent)"
        );
        return Err(crate::Error::Unavailable(format!(
            "{} of {} old chunk files are unknown to the directory (more than {max} %): sweep \
             stopped",
            done.unknown, done.checked
        )));
    }
    Ok(())
}

/// Moves `ids` to `orphans/`.
async fn set_aside(
    volume: &Arc<Volume>,
    settings: &Settings,
    ids: Vec<(String, crate::volume::FileIdentity)>,
    done: &mut Sweep,
) -> crate::Result<()> {
    for (id, identity) in ids {
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
    Ok(())
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
