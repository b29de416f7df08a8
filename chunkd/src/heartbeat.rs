//! Registration and heartbeats to meta. The first heartbeat goes out at once, then one every
//! interval. Meta answers with chunk ids to delete (garbage); they are deleted (a missing chunk
//! counts as deleted) and confirmed in the `deleted` list of the next successful heartbeat, so
//! a failed heartbeat just means the confirmation is retried.

use crate::sysstats::LoadSampler;
use crate::volume::Volume;
use meta_api::client::MetaClient;
use meta_api::wire::{Heartbeat, ServiceStats};
use std::sync::Arc;
use std::time::Duration;

/// What the heartbeat loop announces and where.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Address of the meta service.
    pub meta: String,
    /// Address announced for this chunk server.
    pub addr: String,
    /// Location `dc.rack.host.vol`.
    pub location: String,
    /// Slots (tags) announced in every heartbeat.
    pub slots: Vec<String>,
    /// Time between heartbeats.
    pub interval: Duration,
    /// Signs the heartbeats (`None`: unsigned, for a meta without authentication).
    pub signer: Option<internal_auth::Signer>,
}

/// Most quarantined chunks reported per heartbeat.
const BAD_BATCH: usize = 500;

/// Heartbeat forever (until the task is dropped).
pub async fn run_loop(volume: Arc<Volume>, settings: Settings) {
    // A heartbeat gives up after two intervals: stuck on a frozen or cut-off meta node, the
    // next one starts at another node of the group (and finds the new leader).
    let mut client = MetaClient::new(&settings.meta)
        .with_timeout(settings.interval.max(Duration::from_secs(1)) * 2);
    if let Some(signer) = settings.signer.clone() {
        client = client.with_signer(signer);
    }
    let mut sampler = LoadSampler::new();
    let mut deleted: Vec<String> = Vec::new();
    let mut meta_up = true;
    let mut ticker = tokio::time::interval(settings.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let (free_bytes, total_bytes) = match volume.space() {
            Ok(space) => space,
            Err(e) => {
                tracing::warn!(error = %e, "cannot stat volume");
                (0, 0)
            }
        };
        let (cpu_idle, io_idle) = sampler.sample();
        let stats = ServiceStats {
            free_bytes,
            total_bytes,
            chunk_count: volume.chunk_count(),
            io_idle,
            cpu_idle,
        };
        let mut hb = message(&settings, volume.service_id(), stats, deleted.clone());
        // Rotten chunks quarantined since the last report: meta queues their repair.
        let vol = volume.clone();
        let bad = tokio::task::spawn_blocking(move || vol.unreported_quarantine(BAD_BATCH))
            .await
            .ok()
            .and_then(|r| r.ok())
            .unwrap_or_default();
        hb.bad_chunks = bad.iter().map(|(_, id)| id.clone()).collect();
        let reply = match client.heartbeat(&hb).await {
            Ok(reply) => {
                if !meta_up {
                    tracing::info!(meta = %settings.meta, "meta reachable again");
                }
                meta_up = true;
                reply
            }
            Err(e) => {
                if meta_up {
                    tracing::warn!(meta = %settings.meta, error = %e, "heartbeat failed; retrying");
                } else {
                    tracing::debug!(meta = %settings.meta, error = %e, "heartbeat failed");
                }
                meta_up = false;
                continue;
            }
        };
        // Meta has recorded the confirmations and bad chunks we just sent.
        deleted.clear();
        if !bad.is_empty() {
            let vol = volume.clone();
            let names: Vec<String> = bad.into_iter().map(|(name, _)| name).collect();
            match tokio::task::spawn_blocking(move || vol.mark_reported(&names)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "cannot mark quarantined chunks reported"),
                Err(e) => tracing::warn!(error = %e, "quarantine report task failed"),
            }
        }
        if reply.delete.is_empty() {
            continue;
        }
        let vol = volume.clone();
        let to_delete = reply.delete;
        match tokio::task::spawn_blocking(move || delete_batch(&vol, to_delete)).await {
            Ok(done) => deleted = done,
            Err(e) => tracing::warn!(error = %e, "garbage deletion task failed"),
        }
    }
}

/// The heartbeat announcing this server with `stats` and the confirmed deletions.
fn message(settings: &Settings, id: &str, stats: ServiceStats, deleted: Vec<String>) -> Heartbeat {
    Heartbeat {
        id: id.to_string(),
        kind: "chunkd".to_string(),
        addr: settings.addr.clone(),
        location: settings.location.clone(),
        slots: settings.slots.clone(),
        stats,
        deleted,
        bad_chunks: Vec::new(),
    }
}

/// Delete the given chunks; returns those that are now gone (deleted or already absent).
/// Ids that are not chunk ids can never exist, so they are confirmed too.
fn delete_batch(volume: &Volume, ids: Vec<String>) -> Vec<String> {
    let mut done = Vec::with_capacity(ids.len());
    for id in ids {
        if !crate::is_valid_chunk_id(&id) {
            tracing::warn!(chunk = %id, "meta asked to delete an invalid chunk id");
            done.push(id);
            continue;
        }
        match volume.delete(&id) {
            Ok(existed) => {
                tracing::debug!(chunk = %id, existed, "garbage chunk deleted");
                done.push(id);
            }
            Err(e) => tracing::warn!(chunk = %id, error = %e, "cannot delete garbage chunk"),
        }
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heartbeat_carries_slots_and_location() {
        let settings = Settings {
            meta: "127.0.0.1:1".into(),
            addr: "127.0.0.1:2".into(),
            location: "dc.r1.h2.v3".into(),
            slots: vec!["ssd".into(), "fast".into()],
            interval: Duration::from_secs(1),
            signer: None,
        };
        let hb = message(&settings, "svc", ServiceStats::default(), vec!["c".into()]);
        assert_eq!(hb.id, "svc");
        assert_eq!(hb.kind, "chunkd");
        assert_eq!(hb.addr, "127.0.0.1:2");
        assert_eq!(hb.location, "dc.r1.h2.v3");
        assert_eq!(hb.slots, vec!["ssd", "fast"]);
        assert_eq!(hb.deleted, vec!["c"]);
    }
}
