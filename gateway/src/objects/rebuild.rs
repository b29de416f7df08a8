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
use meta_api::wire::{AddedCopy, ChunkCopy, LocatedChunk, RepairItem, RepairReason, ReplacedCopy};
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

/// Paces the bytes written by this gateway's repairs: each write waits until the writes
/// before it have had their time at `per_sec` (idle time earns no credit).
struct Pace {
    per_sec: u64,
    /// When the next write may start.
    next: Instant,
}

impl Pace {
    /// How long to wait before sending `n` more bytes.
    fn charge(&mut self, n: u64) -> Duration {
        if self.per_sec == 0 {
            return Duration::ZERO;
        }
        let now = Instant::now();
        if self.next < now {
            self.next = now;
        }
        let wait = self.next - now;
        self.next += Duration::from_secs_f64(n as f64 / self.per_sec as f64);
        wait
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
        next: Instant::now(),
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
        // Copies repaired along with another piece of their chunk.
        let mut handled: Vec<(String, String)> = Vec::new();
        for (i, item) in group.iter().enumerate() {
            if handled.contains(&(item.service.clone(), item.chunk_id.clone())) {
                continue;
            }
            let rest = group.get(i + 1..).unwrap_or_default();
            let fate = match self
                .repair_one(item, rest, &mut taken, &mut handled, pace)
                .await
            {
                Ok(fate) => fate,
                Err(e) => Fate::Retry(e.to_string()),
            };
            let meta = &self.inner.meta;
            let reported = match &fate {
                Fate::Repaired => Ok(()),
                Fate::Gone => {
                    let copy = copy_of(item);
                    meta.repair_done(
                        &item.container,
                        &item.key,
                        item.upload.as_deref(),
                        vec![],
                        vec![copy],
                        vec![],
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

    /// Re-creates one copy (or adds the missing pieces of a short chunk) and records it.
    /// Other queued pieces of the same chunk among `rest` are re-created in the same pass (one
    /// read or decode of the chunk, one record) and added to `handled`.
    async fn repair_one(
        &self,
        item: &RepairItem,
        rest: &[RepairItem],
        taken: &mut BTreeMap<u32, Vec<String>>,
        handled: &mut Vec<(String, String)>,
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
        let short = item.reason == RepairReason::Short;
        // Every piece of this chunk to replace: this one, and the chunk's others queued with it.
        let mut bads = vec![bad.clone()];
        if !short {
            for other in rest.iter().filter(|o| o.reason != RepairReason::Short) {
                if let Some(c) = found
                    .chunk
                    .copies
                    .iter()
                    .find(|c| c.service == other.service && c.chunk_id == other.chunk_id)
                {
                    bads.push(c.clone());
                }
            }
        }
        let snapshot = self.inner.services.current().await?;
        // A lost or rotten copy that anchored a short chunk's entry (meta merges the two,
        // command version 12) still asks for `wanted` pieces: the missing ones are added
        // after the replacements, in the same record change.
        let extra = if short || item.wanted == 0 {
            0
        } else {
            (item.wanted as usize).saturating_sub(found.chunk.copies.len())
        };
        // The pieces to write: fragment index (EC) and bytes; the first `bads.len()` replace
        // `bads`, the others (`extra`) are added.
        let pieces: Vec<(Option<u32>, Bytes)> = match (found.chunk.ec, short) {
            (None, false) => match self.good_copy(&found, &bads, &snapshot, item.reason).await {
                Ok(d) => vec![(None, d); bads.len() + extra],
                Err(fate) => return Ok(fate),
            },
            (None, true) => {
                let need = (item.wanted as usize).saturating_sub(found.chunk.copies.len());
                if need == 0 {
                    return Ok(Fate::Gone);
                }
                match self.good_copy(&found, &[], &snapshot, item.reason).await {
                    Ok(d) => vec![(None, d); need],
                    Err(fate) => return Ok(fate),
                }
            }
            (Some(layout), _) => {
                let missing = (0..layout.k + layout.m)
                    .filter(|i| !found.chunk.copies.iter().any(|c| c.fragment == Some(*i)));
                let wanted: Vec<u32> = if short {
                    missing.collect()
                } else {
                    let mut w: Vec<u32> = bads.iter().filter_map(|b| b.fragment).collect();
                    if extra > 0 {
                        w.extend(missing);
                    }
                    w
                };
                if wanted.is_empty() {
                    return Ok(Fate::Gone);
                }
                let exclude: &[ChunkCopy] = if short { &[] } else { &bads };
                match self.decoded_fragments(&found, exclude, &wanted).await {
                    Ok(f) => f.into_iter().map(|(i, b)| (Some(i), b)).collect(),
                    Err(fate) => return Ok(fate),
                }
            }
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
            .filter(|c| short || !bads.iter().any(|b| b.service == c.service))
            .filter_map(|c| snapshot.by_id.get(&c.service).map(|s| s.location.clone()))
            .collect();
        let mut candidates = snapshot.candidates();
        // Not onto a server that missed a deadline lately (frozen, overloaded).
        let deadlines = &self.inner.deadlines;
        candidates.retain(|c| !holders.contains(&c.id) && !deadlines.is_suspect(&c.addr));
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
        let targets = {
            let mut rng = rand::thread_rng();
            policy::select(&candidates, pieces.len(), min_distance, &mut rng)
        };
        if targets.is_empty() {
            return Ok(Fate::Retry(format!(
                "no chunk server can take a piece of {} (policy {}): every candidate holds one already, is too close, or scores 0",
                found.key, found.policy
            )));
        }
        let mut written: Vec<(usize, ChunkCopy)> = Vec::new();
        let mut failures = Vec::new();
        for (n, ((fragment, data), target)) in pieces.into_iter().zip(targets).enumerate() {
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
                position: match fragment {
                    Some(f) => format!("{}.{f}", found.chunk.pos),
                    None => found.chunk.pos.to_string(),
                },
                policy: found.policy.clone(),
                size: data.len() as u64,
                hash: hash.clone(),
                mtime_ms: super::now_ms(),
                pieces: None,
            };
            let put = self
                .inner
                .chunks
                .put(&target.addr, &new_id, &chunk_meta, vec![data]);
            // A whole piece at most a chunk: the write deadline, doubled, is plenty.
            let limit = (self.inner.deadlines.write_timeout() * 2)
                .clamp(Duration::from_secs(5), PIECE_TIMEOUT);
            match tokio::time::timeout(limit, put).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    failures.push(format!("writing to {}: {e}", target.addr));
                    continue;
                }
                Err(_) => {
                    self.inner.deadlines.missed_deadline(&target.addr);
                    failures.push(format!("writing to {} timed out", target.addr));
                    continue;
                }
            }
            taken
                .entry(found.chunk.pos)
                .or_default()
                .push(target.id.clone());
            written.push((
                n,
                ChunkCopy {
                    service: target.id.clone(),
                    chunk_id: new_id,
                    fragment,
                    hash: fragment.map(|_| hash),
                },
            ));
        }
        if written.is_empty() {
            return Ok(Fate::Retry(failures.join("; ")));
        }
        let (replaced, added) = if short {
            let added = written
                .into_iter()
                .map(|(_, new)| AddedCopy {
                    anchor: bad.clone(),
                    new,
                })
                .collect();
            (Vec::new(), added)
        } else {
            // Piece n replaces bads[n] (same fragment index, same recorded hash); the pieces
            // after them are added, anchored on a copy that stays, else on a new one (meta
            // makes the replacements first), else on bad (not replaced, so still there).
            let (swaps, adds): (Vec<_>, Vec<_>) =
                written.into_iter().partition(|(n, _)| *n < bads.len());
            let replaced: Vec<ReplacedCopy> = swaps
                .into_iter()
                .filter_map(|(n, new)| {
                    let old = bads.get(n)?.clone();
                    Some(ReplacedCopy {
                        new: ChunkCopy {
                            hash: old.hash.clone(),
                            fragment: old.fragment,
                            ..new
                        },
                        old,
                    })
                })
                .collect();
            for r in &replaced {
                handled.push((r.old.service.clone(), r.old.chunk_id.clone()));
            }
            let anchor = found
                .chunk
                .copies
                .iter()
                .find(|c| {
                    !bads
                        .iter()
                        .any(|b| b.service == c.service && b.chunk_id == c.chunk_id)
                })
                .or_else(|| replaced.first().map(|r| &r.new))
                .unwrap_or(&bad)
                .clone();
            let added = adds
                .into_iter()
                .map(|(_, new)| AddedCopy {
                    anchor: anchor.clone(),
                    new,
                })
                .collect();
            (replaced, added)
        };
        let out = meta
            .repair_done(
                &item.container,
                &item.key,
                item.upload.as_deref(),
                replaced,
                vec![],
                added,
            )
            .await?;
        tracing::info!(key = %item.key, pos = found.chunk.pos, from = %item.service,
            replaced = out.replaced, added = out.added, discarded = out.discarded, "chunk repaired");
        if short
            && out.added > 0
            && (out.added as usize) < item.wanted as usize
            && !failures.is_empty()
        {
            // Some pieces are still missing: the entry stays queued and its lease runs out.
            tracing::warn!(key = %item.key, errors = %failures.join("; "), "short chunk only partly repaired");
        }
        Ok(Fate::Repaired)
    }

    /// The whole chunk, from a copy whose bytes match the record's hash.
    async fn good_copy(
        &self,
        found: &LocatedChunk,
        bad: &[ChunkCopy],
        snapshot: &Snapshot,
        reason: RepairReason,
    ) -> std::result::Result<Bytes, Fate> {
        let mut sources: Vec<(&ChunkCopy, &meta_api::wire::ServiceRecord)> = found
            .chunk
            .copies
            .iter()
            .filter(|c| {
                !bad.iter()
                    .any(|b| c.service == b.service && c.chunk_id == b.chunk_id)
            })
            .filter_map(|c| snapshot.by_id.get(&c.service).map(|s| (c, s)))
            .collect();
        // Live servers first.
        sources.sort_by_key(|(_, s)| std::cmp::Reverse(s.score));
        // A copy being moved off a live server (drain, or a lost server that answers again)
        // is a source too, last; a rotten one never is.
        if reason == RepairReason::Lost {
            for b in bad {
                if let Some(s) = snapshot.by_id.get(&b.service) {
                    sources.push((b, s));
                }
            }
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

    /// Fragments `wanted`, decoded from `k` good fragments of the chunk (without `exclude`,
    /// the piece being replaced, whose recorded hash the decoded fragment must match).
    async fn decoded_fragments(
        &self,
        found: &LocatedChunk,
        exclude: &[ChunkCopy],
        wanted: &[u32],
    ) -> std::result::Result<Vec<(u32, Bytes)>, Fate> {
        let Some(layout) = found.chunk.ec else {
            return Err(Fate::Unrepairable("the chunk is not erasure coded".into()));
        };
        let (k, m) = (layout.k as usize, layout.m as usize);
        let n = k + m;
        if let Some(bad) = wanted.iter().find(|&&i| i as usize >= n) {
            return Err(Fate::Unrepairable(format!(
                "fragment {bad} is outside {k}+{m}"
            )));
        }
        // The chunk as the record knows it, without the piece being replaced.
        let mut others = found.chunk.clone();
        others.copies.retain(|c| {
            !exclude
                .iter()
                .any(|x| c.service == x.service && c.chunk_id == x.chunk_id)
        });
        let fetch: Vec<usize> = (0..n).filter(|i| !wanted.contains(&(*i as u32))).collect();
        let mut shards: Vec<Option<Bytes>> = vec![None; n];
        if let Err(e) = self
            .fetch_fragments(&others, layout, &fetch, &mut shards)
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
        let mut out = Vec::with_capacity(wanted.len());
        for &i in wanted {
            let Some(Some(fragment)) = shards.get(i as usize).cloned() else {
                return Err(Fate::Retry(format!("fragment {i} missing after decoding")));
            };
            if let Some(h) = exclude
                .iter()
                .find(|x| x.fragment == Some(i))
                .and_then(|x| x.hash.as_deref())
                && blake3::hash(&fragment).to_hex().as_str() != h
            {
                return Err(Fate::Unrepairable(format!(
                    "decoded fragment {i} does not match its recorded hash"
                )));
            }
            out.push((i, fragment));
        }
        Ok(out)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pace_spreads_writes_and_idle_time_earns_nothing() {
        let mut p = Pace {
            per_sec: 1 << 20,
            next: Instant::now() - Duration::from_secs(60),
        };
        assert_eq!(
            p.charge(1 << 20),
            Duration::ZERO,
            "the first write goes at once"
        );
        let second = p.charge(1 << 20);
        assert!(
            second > Duration::from_millis(900) && second <= Duration::from_secs(1),
            "{second:?}"
        );
        let third = p.charge(512 << 10);
        assert!(third > Duration::from_millis(1900), "{third:?}");
        let mut free = Pace {
            per_sec: 0,
            next: Instant::now(),
        };
        assert_eq!(free.charge(u64::MAX), Duration::ZERO);
    }
}
