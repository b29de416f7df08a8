//! The reverse index (rdir) of every chunk server and the repair queue, in the directory
//! environment.
//!
//! - `rdir`: service id ‖ NUL ‖ chunk id → [`RdirRecord`]: the object (container, key, or
//!   multipart upload) whose chunk the copy is, with every copy of that chunk. Entries are added
//!   by the command that stores the record (object PUT, part PUT, upload completion, a repair)
//!   and removed by the command that queues the copy for GC, so the index follows the records
//!   exactly: both are written by one command, replayed together.
//! - `repair`: redundancy (u8) ‖ service id ‖ NUL ‖ chunk id → [`RepairRecord`]: copies to
//!   re-create, least redundancy first. Redundancy 255 holds the unrepairable ones.
//! - `repair_at`: service id ‖ NUL ‖ chunk id → the redundancy byte of its queue entry.
//! - `lost`: service id → [`LostRecord`]: chunk servers being rebuilt.
//!
//! Redundancy of a chunk: its pieces that are good (server not lost, piece not queued for
//! repair) beyond those a read needs (1 copy, or k fragments); every queued piece of a chunk
//! carries the chunk's current value.

use super::Store;
use super::gc::gc_key;
use super::records::repair::{LostRecord, PieceV1, RdirRecord, RepairRecord};
use super::records::{decode_record, encode_record};
use heed::{RoTxn, RwTxn};
use meta_api::error::Result;
use meta_api::wire::{ChunkCopy, ChunkRecord, RdirEntry, RepairItem, RepairReason};

/// Queue byte of the unrepairable entries.
pub const UNREPAIRABLE: u8 = u8::MAX;

/// Where a chunk's record lives.
pub(crate) struct Owner<'a> {
    pub container: &'a str,
    pub key: &'a str,
    pub upload: Option<&'a str>,
    pub policy: &'a str,
}

/// Key of a queue entry.
pub(crate) fn queue_key(redundancy: u8, service: &str, chunk_id: &str) -> Vec<u8> {
    let mut k = vec![redundancy];
    k.extend_from_slice(&gc_key(service, chunk_id));
    k
}

/// Service and chunk id of an `rdir`/`repair_at` key.
pub(crate) fn split_copy_key(key: &[u8]) -> Option<(String, String)> {
    let nul = key.iter().position(|&b| b == 0)?;
    Some((
        String::from_utf8_lossy(&key[..nul]).into_owned(),
        String::from_utf8_lossy(&key[nul + 1..]).into_owned(),
    ))
}

/// The wire form of an rdir entry.
pub(crate) fn entry_of(service: String, chunk_id: String, r: RdirRecord) -> RdirEntry {
    let RdirRecord {
        v: _,
        container,
        key,
        upload,
        pos,
        size,
        policy,
        needed,
        copies,
    } = r;
    RdirEntry {
        service,
        chunk_id,
        container,
        key,
        upload,
        pos,
        size,
        policy,
        needed,
        copies: copies
            .into_iter()
            .map(|p| ChunkCopy {
                service: p.service,
                chunk_id: p.chunk_id,
                fragment: p.fragment,
                hash: None,
            })
            .collect(),
    }
}

/// The wire form of a queue entry.
pub(crate) fn item_of(
    redundancy: u8,
    service: String,
    chunk_id: String,
    r: RepairRecord,
) -> RepairItem {
    let RepairRecord {
        v: _,
        container,
        key,
        upload,
        reason,
        size,
        queued_ms,
        attempts,
        last_error,
        next_try_ms,
        lease_until_ms,
        wanted,
    } = r;
    RepairItem {
        service,
        chunk_id,
        container,
        key,
        upload,
        reason,
        redundancy: if redundancy == UNREPAIRABLE {
            0
        } else {
            redundancy
        },
        size,
        queued_ms,
        attempts,
        last_error,
        next_try_ms,
        lease_until_ms,
        unrepairable: redundancy == UNREPAIRABLE,
        wanted,
    }
}

impl Store {
    /// Adds (or rewrites) the rdir entries of every piece of `chunks`, held by `owner`.
    pub(crate) fn rdir_add(
        &self,
        txn: &mut RwTxn,
        owner: &Owner<'_>,
        chunks: &[ChunkRecord],
    ) -> Result<()> {
        for c in chunks {
            if c.copies.is_empty() {
                continue;
            }
            let size = c.ec.map_or(c.size, |l| l.fragment_size);
            let record = RdirRecord {
                v: 1,
                container: owner.container.to_string(),
                key: owner.key.to_string(),
                upload: owner.upload.map(str::to_string),
                pos: c.pos,
                size,
                policy: owner.policy.to_string(),
                needed: c.ec.map_or(1, |l| l.k),
                copies: c
                    .copies
                    .iter()
                    .map(|p| PieceV1 {
                        service: p.service.clone(),
                        chunk_id: p.chunk_id.clone(),
                        fragment: p.fragment,
                    })
                    .collect(),
            };
            let value = encode_record(&record)?;
            for p in &c.copies {
                if p.service.is_empty() || p.service.contains('\0') || p.chunk_id.is_empty() {
                    continue;
                }
                self.dir
                    .rdir
                    .put(txn, &gc_key(&p.service, &p.chunk_id), &value)?;
            }
        }
        Ok(())
    }

    /// The rdir entry of one copy.
    pub(crate) fn rdir_get(
        &self,
        txn: &RoTxn,
        service: &str,
        chunk_id: &str,
    ) -> Result<Option<RdirRecord>> {
        match self.dir.rdir.get(txn, &gc_key(service, chunk_id))? {
            Some(v) => Ok(Some(decode_record(v)?)),
            None => Ok(None),
        }
    }

    /// Removes the rdir and queue entries of copies no record references any more (they are
    /// being queued for GC); a copy of a lost server counts as done for its rebuild (if its
    /// rebuild has counted it: [`LostRecord::counts`]).
    pub(crate) fn rdir_remove(&self, txn: &mut RwTxn, copies: &[ChunkCopy]) -> Result<()> {
        for c in copies {
            let key = gc_key(&c.service, &c.chunk_id);
            let Some(v) = self.dir.rdir.get(txn, &key)? else {
                continue;
            };
            let size = decode_record::<RdirRecord>(v).map_or(0, |r| r.size);
            self.dir.rdir.delete(txn, &key)?;
            self.dequeue(txn, &c.service, &c.chunk_id)?;
            // Counted as done only if it is in the totals: a version-2 record counts copies
            // as their page is queued, so one removed before that is never counted at all.
            if let Some(mut lost) = self.lost_get(txn, &c.service)?
                && lost.counts(&c.chunk_id)
            {
                lost.done_chunks = lost.done_chunks.saturating_add(1);
                lost.done_bytes = lost.done_bytes.saturating_add(size);
                self.lost_put(txn, &c.service, &lost)?;
            }
        }
        Ok(())
    }

    pub(crate) fn lost_get(&self, txn: &RoTxn, service: &str) -> Result<Option<LostRecord>> {
        match self.dir.lost.get(txn, service.as_bytes())? {
            Some(v) => Ok(Some(decode_record(v)?)),
            None => Ok(None),
        }
    }

    pub(crate) fn lost_put(&self, txn: &mut RwTxn, service: &str, r: &LostRecord) -> Result<()> {
        self.dir
            .lost
            .put(txn, service.as_bytes(), &encode_record(r)?)?;
        Ok(())
    }

    /// The queue byte of a copy's entry, if it is queued.
    fn queued_at(&self, txn: &RoTxn, service: &str, chunk_id: &str) -> Result<Option<u8>> {
        Ok(self
            .dir
            .repair_at
            .get(txn, &gc_key(service, chunk_id))?
            .and_then(|v| v.first().copied()))
    }

    /// The queue entry of a copy, with its queue byte.
    pub(crate) fn queue_get(
        &self,
        txn: &RoTxn,
        service: &str,
        chunk_id: &str,
    ) -> Result<Option<(u8, RepairRecord)>> {
        let Some(at) = self.queued_at(txn, service, chunk_id)? else {
            return Ok(None);
        };
        match self
            .dir
            .repair
            .get(txn, &queue_key(at, service, chunk_id))?
        {
            Some(v) => Ok(Some((at, decode_record(v)?))),
            None => Ok(None),
        }
    }

    /// Writes a queue entry at `at` (moving it from where it was).
    pub(crate) fn queue_put(
        &self,
        txn: &mut RwTxn,
        service: &str,
        chunk_id: &str,
        at: u8,
        r: &RepairRecord,
    ) -> Result<()> {
        if let Some(old) = self.queued_at(txn, service, chunk_id)?
            && old != at
        {
            self.dir
                .repair
                .delete(txn, &queue_key(old, service, chunk_id))?;
        }
        self.dir
            .repair
            .put(txn, &queue_key(at, service, chunk_id), &encode_record(r)?)?;
        self.dir
            .repair_at
            .put(txn, &gc_key(service, chunk_id), &[at])?;
        Ok(())
    }

    /// Removes a copy's queue entry, if any.
    pub(crate) fn dequeue(&self, txn: &mut RwTxn, service: &str, chunk_id: &str) -> Result<()> {
        if let Some(at) = self.queued_at(txn, service, chunk_id)? {
            self.dir
                .repair
                .delete(txn, &queue_key(at, service, chunk_id))?;
            self.dir.repair_at.delete(txn, &gc_key(service, chunk_id))?;
        }
        Ok(())
    }

    /// Queues the repair of one copy (if a record still references it) and gives every
    /// queued piece of its chunk the chunk's redundancy. False when nothing references it.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn enqueue(
        &self,
        txn: &mut RwTxn,
        service: &str,
        chunk_id: &str,
        reason: RepairReason,
        now_ms: i64,
        wanted: u32,
        merge_short: bool,
    ) -> Result<bool> {
        let Some(entry) = self.rdir_get(txn, service, chunk_id)? else {
            return Ok(false);
        };
        let existing = self.queue_get(txn, service, chunk_id)?;
        if let Some((UNREPAIRABLE, _)) = existing {
            return Ok(true);
        }
        let record = match existing {
            // The copy anchors a short chunk's entry (one key per copy): with `merge_short`
            // the entry becomes a repair of this copy that still asks for `wanted` pieces, so
            // the worker replaces the copy and adds the missing ones. Without it (commands
            // written before version 12) the short entry stays alone and the loss is dropped,
            // as those binaries did.
            Some((_, r))
                if merge_short && r.reason == RepairReason::Short && reason != r.reason =>
            {
                RepairRecord {
                    reason,
                    next_try_ms: 0,
                    ..r
                }
            }
            Some((_, r)) => r,
            None => RepairRecord {
                v: 1,
                container: entry.container.clone(),
                key: entry.key.clone(),
                upload: entry.upload.clone(),
                reason,
                size: entry.size,
                queued_ms: now_ms,
                attempts: 0,
                last_error: None,
                next_try_ms: 0,
                lease_until_ms: 0,
                wanted,
            },
        };
        // Put it in at once (so it counts as not good), then settle the chunk's redundancy.
        let provisional = self.queued_at(txn, service, chunk_id)?.unwrap_or(0);
        self.queue_put(txn, service, chunk_id, provisional, &record)?;
        self.settle_redundancy(txn, &entry)?;
        Ok(true)
    }

    /// Queues chunks stored with fewer than `wanted` pieces (an erasure-coded one: fewer than
    /// k + m), anchored on their first piece.
    pub(crate) fn queue_short(
        &self,
        txn: &mut RwTxn,
        chunks: &[ChunkRecord],
        wanted: u32,
        now_ms: i64,
    ) -> Result<()> {
        for c in chunks {
            let want = match c.ec {
                Some(l) => l.k + l.m,
                None => wanted,
            };
            let Some(anchor) = c.copies.first() else {
                continue;
            };
            if want == 0 || c.copies.len() >= want as usize {
                continue;
            }
            if self.enqueue(
                txn,
                &anchor.service,
                &anchor.chunk_id,
                RepairReason::Short,
                now_ms,
                want,
                false,
            )? {
                tracing::warn!(
                    pos = c.pos,
                    pieces = c.copies.len(),
                    wanted = want,
                    "chunk stored with fewer pieces than its policy asks: queued for repair"
                );
            }
        }
        Ok(())
    }

    /// Recomputes a chunk's redundancy and moves its queued pieces there.
    pub(crate) fn settle_redundancy(&self, txn: &mut RwTxn, entry: &RdirRecord) -> Result<()> {
        let mut good: u32 = 0;
        let mut queued = Vec::new();
        for p in &entry.copies {
            let lost = self.dir.lost.get(txn, p.service.as_bytes())?.is_some();
            match self.queue_get(txn, &p.service, &p.chunk_id)? {
                Some((at, r)) => {
                    // The anchor of a short chunk is a good piece.
                    if r.reason == RepairReason::Short && !lost {
                        good += 1;
                    }
                    queued.push((p, at));
                }
                None if !lost => good += 1,
                None => {}
            }
        }
        let redundancy = u8::try_from(good.saturating_sub(entry.needed.max(1)))
            .unwrap_or(UNREPAIRABLE - 1)
            .min(UNREPAIRABLE - 1);
        for (p, at) in queued {
            if at == UNREPAIRABLE || at == redundancy {
                continue;
            }
            if let Some((_, r)) = self.queue_get(txn, &p.service, &p.chunk_id)? {
                self.queue_put(txn, &p.service, &p.chunk_id, redundancy, &r)?;
            }
        }
        Ok(())
    }
}

impl Store {
    /// Builds the reverse index from every container's records (directory format 2 -> 3), in
    /// one directory transaction that also writes the new format number.
    pub(crate) fn build_rdir(&self) -> Result<()> {
        use super::meta2::part_prefix;
        use super::records::{decode, decode_record as decode_r};
        let started = std::time::Instant::now();
        let mut txn = self.dir.env.write_txn()?;
        let mut containers = Vec::new();
        for item in self.dir.meta1.iter(&txn)? {
            let (k, v) = item?;
            let m1: super::records::Meta1Record = decode_r(v)?;
            containers.push((String::from_utf8_lossy(k).into_owned(), m1.name));
        }
        let mut copies = 0usize;
        for (cid, name) in &containers {
            let env = self.envs.get(cid, false)?;
            let rtxn = env.env.read_txn()?;
            let mut records: Vec<(Option<String>, String, String, Vec<ChunkRecord>)> = Vec::new();
            for db in [env.objects, env.versions] {
                for item in db.iter(&rtxn)? {
                    let (_, v) = item?;
                    let rec: meta_api::wire::ObjectRecord = decode(v)?;
                    records.push((None, rec.key, rec.policy, rec.chunks));
                }
            }
            for item in env.uploads.iter(&rtxn)? {
                let (_, v) = item?;
                let up: meta_api::wire::UploadRecord = decode(v)?;
                for part in env.parts.prefix_iter(&rtxn, &part_prefix(&up.upload_id))? {
                    let (_, pv) = part?;
                    let p: meta_api::wire::PartRecord = decode(pv)?;
                    records.push((
                        Some(up.upload_id.clone()),
                        up.key.clone(),
                        up.policy.clone(),
                        p.chunks,
                    ));
                }
            }
            drop(rtxn);
            for (upload, key, policy, chunks) in &records {
                copies += chunks.iter().map(|c| c.copies.len()).sum::<usize>();
                let owner = Owner {
                    container: name,
                    key,
                    upload: upload.as_deref(),
                    policy,
                };
                self.rdir_add(&mut txn, &owner, chunks)?;
            }
        }
        super::format::write(&self.dir.settings, &mut txn, 3)?;
        txn.commit()?;
        tracing::info!(
            containers = containers.len(),
            copies,
            secs = started.elapsed().as_secs_f64(),
            "directory format 2 -> 3: reverse index built from the records"
        );
        Ok(())
    }
}
