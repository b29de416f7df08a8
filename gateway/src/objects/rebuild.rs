//! The rebuild worker: takes entries of meta's repair queue (copies on a lost server, copies
//! a chunk server found rotten), re-creates each copy on a server that satisfies its policy's
//! placement, and records it in meta by compare-and-set ([`MetaClient::repair_done`]).
//!
//! A replicated chunk is read whole from a good copy (its BLAKE3 checked against the record)
//! and written to the new server; an erasure-coded fragment is decoded from `k` good fragments
//! (each checked against its hash). Memory per repair is bounded by the chunk size. Every
//! gateway runs a worker when `rebuild_workers > 0`; workers share the queue through leases,
//! and `rebuild_mib_per_sec` paces the bytes each gateway writes.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use meta_api::wire::{ChunkCopy, LocatedChunk, RepairItem, RepairReason, ReplacedCopy};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

use super::ObjectService;
use super::services::Snapshot;
use crate::error::Result;

/// Longest a source read or a target write of one piece may take.
const PIECE_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest wait between two retries of a failed repair.
const MAX_BACKOFF_MS: u64 = 10 * 60 * 1000;

/// What became of one repair.
enum Fate {
    Repaired,
    /// Nothing references the copy any more (its object was deleted).
    Gone,
    /// No good piece is left to rebuild it from.
    Unrepairable(String),
    /// Try again later.
    Retry(String),
}

/// Paces the bytes written by this gateway's repairs.
struct Pace {
    per_sec: u64,
    start: Instant,
    sent: u64,
}

impl Pace {
    /// How long to wait before sending `n` more bytes.
    fn charge(&mut self, n: u64) -> Duration {
        if self.per_sec == 0 {
            return Duration::ZERO;
        }
        // Forget the past after an idle minute, so a burst after a pause is not free.
        if self.start.elapsed() > Duration::from_secs(60) {
            self.start = Instant::now();
            self.sent = 0;
        }
        self.sent = self.sent.saturating_add(n);
        let due = Duration::from_secs_f64(self.sent as f64 / self.per_sec as f64);
        due.saturating_sub(self.start.elapsed())
    }
}

/// Starts the worker (`None` when `rebuild_workers` is 0).
pub fn spawn(svc: ObjectService) -> Option<JoinHandle<()>> {
    let workers = svc.inner.config.rebuild_workers;
    if workers == 0 {
        return None;
    }
    let worker = format!("gateway-{}-{}", std::process::id(), super::now_ms());
    let pace = Arc::new(Mutex::new(Pace {
        per_sec: svc
            .inner
            .config
            .rebuild_mib_per_sec
            .saturating_mul(1024 * 1024),
        start: Instant::now(),
        sent: 0,
    }));
    Some(tokio::spawn(async move {
        let idle = Duration::from_millis(svc.inner.config.rebuild_poll_ms.max(100));
        let lease_ms = svc.inner.config.rebuild_lease_secs.max(10) * 1000;
        let max = u32::try_from(workers.saturating_mul(4)).unwrap_or(u32::MAX);
        loop {
            let items = match svc.inner.meta.repair_claim(&worker, max, lease_ms).await {
                Ok(items) => items,
                Err(e) => {
                    tracing::debug!(error = %e, "cannot claim repairs");
                    tokio::time::sleep(idle).await;
                    continue;
                }
            };
            if items.is_empty() {
                tokio::time::sleep(idle).await;
                continue;
            }
            // Pieces of one object are repaired together, so two repairs of one chunk never
            // pick the same new server.
            let mut groups: BTreeMap<(String, String, Option<String>), Vec<RepairItem>> =
                BTreeMap::new();
            for item in items {
                let at = (
                    item.container.clone(),
                    item.key.clone(),
                    item.upload.clone(),
                );
                groups.entry(at).or_default().push(item);
            }
            futures::stream::iter(groups.into_values())
                .map(|group| {
                    let (svc, pace) = (svc.clone(), pace.clone());
                    async move { svc.repair_group(group, &pace).await }
                })
                .buffer_unordered(workers)
                .for_each(|()| async {})
                .await;
        }
    }))
}

impl ObjectService {
    async fn repair_group(&self, group: Vec<RepairItem>, pace: &Mutex<Pace>) {
        // New servers chosen so far for this object's chunks, by chunk position.
        let mut taken: BTreeMap<u32, Vec<String>> = BTreeMap::new();
        for item in group {
            let fate = match self.repair_one(&item, &mut taken, pace).await {
                Ok(fate) => fate,
                Err(e) => Fate::Retry(e.to_string()),
            };
            let meta = &self.inner.meta;
            let reported = match &fate {
                Fate::Repaired => Ok(()),
                Fate::Gone => {
                    let copy = copy_of(&item);
                    meta.repair_done(
                        &item.container,
                        &item.key,
                        item.upload.as_deref(),
                        vec![],
                        vec![copy],
                    )
                    .await
                    .map(drop)
                }
                Fate::Unrepairable(why) => {
                    tracing::error!(service = %item.service, chunk = %item.chunk_id, key = %item.key, error = %why,
                        "chunk copy cannot be repaired");
                    meta.repair_fail(&item.service, &item.chunk_id, why, None)
                        .await
                }
                Fate::Retry(why) => {
                    let backoff = 1000u64
                        .saturating_mul(1 << item.attempts.min(20))
                        .min(MAX_BACKOFF_MS);
                    tracing::warn!(service = %item.service, chunk = %item.chunk_id, key = %item.key, error = %why,
                        retry_in_ms = backoff, "chunk repair failed");
                    meta.repair_fail(&item.service, &item.chunk_id, why, Some(backoff))
                        .await
                }
            };
            if let Err(e) = reported {
                tracing::warn!(chunk = %item.chunk_id, error = %e, "cannot report a repair to meta; its lease will run out");
            }
        }
    }

    /// Re-creates one copy and records it.
    async fn repair_one(
        &self,
        item: &RepairItem,
        taken: &mut BTreeMap<u32, Vec<String>>,
        pace: &Mutex<Pace>,
    ) -> Result<Fate> {
        let meta = &self.inner.meta;
        let Some(found) = meta
            .locate_chunk(
                &item.container,
                &item.key,
                item.upload.as_deref(),
                &item.service,
                &item.chunk_id,
            )
            .await?
        else {
            return Ok(Fate::Gone);
        };
        let Some(bad) = found
            .chunk
            .copies
            .iter()
            .find(|c| c.service == item.service && c.chunk_id == item.chunk_id)
            .cloned()
        else {
            return Ok(Fate::Gone);
        };
        let snapshot = self.inner.services.current().await?;
        let data = match found.chunk.ec {
            None => self.good_copy(&found, &bad, &snapshot, item.reason).await,
            Some(_) => self.decoded_fragment(&found, &bad).await,
        };
        let data = match data {
            Ok(d) => d,
            Err(fate) => return Ok(fate),
        };
        let policy = self
            .policies()
            .await
            .ok()
            .and_then(|set| set.get(&found.policy).cloned());
        let mut holders: Vec<String> = found
            .chunk
            .copies
            .iter()
            .map(|c| c.service.clone())
            .collect();
        holders.extend(taken.get(&found.chunk.pos).into_iter().flatten().cloned());
        let stored: Vec<String> = found
            .chunk
            .copies
            .iter()
            .filter(|c| c.service != bad.service)
            .filter_map(|c| snapshot.by_id.get(&c.service).map(|s| s.location.clone()))
            .collect();
        let mut candidates = snapshot.candidates();
        candidates.retain(|c| !holders.contains(&c.id));
        let min_distance = policy.as_ref().map_or(0, |p| p.min_distance);
        if let Some(p) = &policy
            && let Ok(pool) = self.pool_of(p).await
        {
            candidates.retain(|c| pool.admits(&c.slots));
        }
        candidates.retain(|c| {
            stored
                .iter()
                .all(|l| policy::distance(l, &c.location) >= min_distance)
        });
        let target = {
            let mut rng = rand::thread_rng();
            policy::select(&candidates, 1, min_distance, &mut rng)
                .into_iter()
                .next()
        };
        let Some(target) = target else {
            return Ok(Fate::Retry(format!(
                "no chunk server can take a piece of {} (policy {}): every candidate holds one already, is too close, or scores 0",
                found.key, found.policy
            )));
        };
        let wait = pace.lock().await.charge(data.len() as u64);
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        let new_id = chunkd::new_chunk_id();
        let hash = blake3::hash(&data).to_hex().to_string();
        let chunk_meta = chunkd::ChunkMeta {
            account: found.account.clone(),
            container: found.container.clone(),
            key: found.key.clone(),
            version: found.version_id.clone(),
            content_id: found.content_id.clone(),
            position: match bad.fragment {
                Some(f) => format!("{}.{f}", found.chunk.pos),
                None => found.chunk.pos.to_string(),
            },
            policy: found.policy.clone(),
            size: data.len() as u64,
            hash,
            mtime_ms: super::now_ms(),
            pieces: None,
        };
        let put = self
            .inner
            .chunks
            .put(&target.addr, &new_id, &chunk_meta, vec![data]);
        match tokio::time::timeout(PIECE_TIMEOUT, put).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Ok(Fate::Retry(format!("writing to {}: {e}", target.addr))),
            Err(_) => return Ok(Fate::Retry(format!("writing to {} timed out", target.addr))),
        }
        taken
            .entry(found.chunk.pos)
            .or_default()
            .push(target.id.clone());
        let new = ChunkCopy {
            service: target.id.clone(),
            chunk_id: new_id,
            fragment: bad.fragment,
            hash: bad.hash.clone(),
        };
        let pair = ReplacedCopy { old: bad, new };
        let out = meta
            .repair_done(
                &item.container,
                &item.key,
                item.upload.as_deref(),
                vec![pair],
                vec![],
            )
            .await?;
        if out.replaced == 1 {
            tracing::info!(key = %item.key, pos = found.chunk.pos, from = %item.service, to = %target.id,
                "chunk copy re-created");
            Ok(Fate::Repaired)
        } else {
            // Meta put the new copy on its GC queue and rescheduled (or dropped) the entry.
            Ok(Fate::Repaired)
        }
    }

    /// The whole chunk, from a copy whose bytes match the record's hash.
    async fn good_copy(
        &self,
        found: &LocatedChunk,
        bad: &ChunkCopy,
        snapshot: &Snapshot,
        reason: RepairReason,
    ) -> std::result::Result<Bytes, Fate> {
        let mut sources: Vec<(&ChunkCopy, &meta_api::wire::ServiceRecord)> = found
            .chunk
            .copies
            .iter()
            .filter(|c| !(c.service == bad.service && c.chunk_id == bad.chunk_id))
            .filter_map(|c| snapshot.by_id.get(&c.service).map(|s| (c, s)))
            .collect();
        // Live servers first.
        sources.sort_by_key(|(_, s)| std::cmp::Reverse(s.score));
        // A copy being moved off a live server (drain, or a lost server that answers again)
        // is a source too, last; a rotten one never is.
        if reason == RepairReason::Lost
            && let Some(s) = snapshot.by_id.get(&bad.service)
        {
            sources.push((bad, s));
        }
        let mut errors = Vec::new();
        let mut unreachable = false;
        for (copy, server) in sources {
            let read = self.inner.chunks.get(&server.addr, &copy.chunk_id, None);
            match tokio::time::timeout(PIECE_TIMEOUT, read).await {
                Ok(Ok(bytes)) => {
                    if bytes.len() as u64 == found.chunk.size
                        && blake3::hash(&bytes).to_hex().as_str() == found.chunk.hash
                    {
                        return Ok(bytes);
                    }
                    errors.push(format!("{}: bytes do not match the record", server.id));
                }
                Ok(Err(e)) => {
                    unreachable |= !matches!(e, chunkd::Error::NotFound);
                    errors.push(format!("{}: {e}", server.id));
                }
                Err(_) => {
                    unreachable = true;
                    errors.push(format!("{}: read timed out", server.id));
                }
            }
        }
        let why = if errors.is_empty() {
            "no other copy is on a known chunk server".to_string()
        } else {
            errors.join("; ")
        };
        // Copies that could not be reached may come back: only missing or rotten ones are
        // final.
        if unreachable {
            Err(Fate::Retry(format!("no good copy could be read: {why}")))
        } else {
            Err(Fate::Unrepairable(format!("no good copy left: {why}")))
        }
    }

    /// The fragment `bad` held, decoded from `k` good fragments of the chunk.
    async fn decoded_fragment(
        &self,
        found: &LocatedChunk,
        bad: &ChunkCopy,
    ) -> std::result::Result<Bytes, Fate> {
        let Some(layout) = found.chunk.ec else {
            return Err(Fate::Unrepairable("the chunk is not erasure coded".into()));
        };
        let Some(index) = bad.fragment.map(|f| f as usize) else {
            return Err(Fate::Unrepairable("the copy names no fragment".into()));
        };
        let (k, m) = (layout.k as usize, layout.m as usize);
        let n = k + m;
        if index >= n {
            return Err(Fate::Unrepairable(format!(
                "fragment {index} is outside {k}+{m}"
            )));
        }
        // The chunk as the record knows it, without the piece being replaced.
        let mut others = found.chunk.clone();
        others
            .copies
            .retain(|c| !(c.service == bad.service && c.chunk_id == bad.chunk_id));
        let wanted: Vec<usize> = (0..n).filter(|&i| i != index).collect();
        let mut shards: Vec<Option<Bytes>> = vec![None; n];
        if let Err(e) = self
            .fetch_fragments(&others, layout, &wanted, &mut shards)
            .await
        {
            return Err(Fate::Retry(e.to_string()));
        }
        let present = shards.iter().filter(|s| s.is_some()).count();
        if present < k {
            let why = format!("only {present} good fragments of {n} readable, {k} needed");
            return Err(if others.copies.len() < k {
                Fate::Unrepairable(why)
            } else {
                Fate::Retry(why)
            });
        }
        let shards = match self.reconstruct(k, m, shards).await {
            Ok(s) => s,
            Err(e) => return Err(Fate::Retry(e.to_string())),
        };
        let Some(Some(fragment)) = shards.into_iter().nth(index) else {
            return Err(Fate::Retry(format!(
                "fragment {index} missing after decoding"
            )));
        };
        match bad.hash.as_deref() {
            Some(h) if blake3::hash(&fragment).to_hex().as_str() != h => Err(Fate::Unrepairable(
                format!("decoded fragment {index} does not match its recorded hash"),
            )),
            _ => Ok(fragment),
        }
    }
}

fn copy_of(item: &RepairItem) -> ChunkCopy {
    ChunkCopy {
        service: item.service.clone(),
        chunk_id: item.chunk_id.clone(),
        fragment: None,
        hash: None,
    }
}
