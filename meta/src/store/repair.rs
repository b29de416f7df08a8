//! Self-healing in meta: declaring chunk servers lost, queueing their copies for repair,
//! handing the queue to rebuild workers, and recording repairs by compare-and-set on the
//! object records (see [`super::rdir`] for the databases).
//!
//! A rebuild worker (in a gateway) claims entries, copies or decodes each chunk onto a new
//! server, then sends [`Command::RepairDone`]: each old copy is replaced by its new one in
//! every record that still holds it (versions, the current entry, or an upload's part). A copy
//! no record holds any more (deleted meanwhile) is not brought back: the new copy goes to GC.

use super::batch::Tx;
use super::command::{Command, outcome};
use super::gc::{gc_key, gc_prefix};
use super::keys;
use super::meta2::{Meta2, part_prefix};
use super::rdir::{Owner, UNREPAIRABLE, entry_of, item_of, split_copy_key};
use super::records::repair::{LOST_COUNTED_BY_PAGE, LostRecord, RdirRecord, RepairRecord};
use super::records::{decode, decode_record, encode};
use super::{Store, versions};
use crate::ids;
use heed::{RoTxn, RwTxn};
use meta_api::api::{RdirAnswer, RdirUnknown, RepairOutcome};
use meta_api::error::{Error, Result};
use meta_api::wire::{
    AddedCopy, ChunkCopy, ChunkRecord, LocatedChunk, LostService, ObjectRecord, PartRecord,
    RebuildStatus, RepairItem, RepairReason, ReplacedCopy, UploadRecord,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::ops::Bound;

/// Queue entries one claim looks at, at most (entries leased or waiting are passed over).
const CLAIM_SCAN: usize = 10_000;
/// Rdir entries queued by one page of a rebuild.
pub const QUEUE_PAGE: u32 = 1_000;
/// Entries listed per kind in a rebuild status.
const STATUS_LIST: usize = 100;
/// Wait before a repair the records refused is handed out again.
const REFUSED_RETRY_MS: i64 = 30_000;

/// The size of the copy an rdir value describes (0 when it does not read).
fn rdir_size(value: &[u8]) -> u64 {
    decode_record::<RdirRecord>(value).map_or(0, |r| r.size)
}

/// One replacement made in the records, with the chunk as it is now.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Swapped {
    /// Index in the command's `replaced`.
    pair: usize,
    upload: Option<String>,
    policy: String,
    chunk: ChunkRecord,
}

fn same(a: &ChunkCopy, b: &ChunkCopy) -> bool {
    a.service == b.service && a.chunk_id == b.chunk_id
}

/// What a repair changes in the records (see [`Command::RepairDone`]).
#[derive(Clone, Copy)]
pub struct Changes<'a> {
    pub replaced: &'a [ReplacedCopy],
    pub dropped: &'a [ChunkCopy],
    pub added: &'a [AddedCopy],
}

/// Applies the changes to `chunks`: each old copy of `replaced` is replaced by its new one
/// where the chunk holds it, each new piece of `added` joins the chunk holding its anchor,
/// and never onto a server (or fragment index) the chunk has already. Returns, by change
/// index (replacements first, then additions), the changed chunks.
fn swap_in(chunks: &mut [ChunkRecord], changes: Changes<'_>) -> Vec<(usize, ChunkRecord)> {
    let mut out = Vec::new();
    for c in chunks.iter_mut() {
        for (i, p) in changes.replaced.iter().enumerate() {
            let Some(at) = c.copies.iter().position(|x| same(x, &p.old)) else {
                continue;
            };
            if c.copies.iter().any(|x| x.service == p.new.service) {
                continue;
            }
            let old = &c.copies[at];
            c.copies[at] = ChunkCopy {
                service: p.new.service.clone(),
                chunk_id: p.new.chunk_id.clone(),
                fragment: old.fragment,
                hash: old.hash.clone(),
            };
            out.push((i, c.clone()));
        }
        for (i, a) in changes.added.iter().enumerate() {
            if !c.copies.iter().any(|x| same(x, &a.anchor))
                || c.copies.iter().any(|x| x.service == a.new.service)
                || (a.new.fragment.is_some()
                    && c.copies.iter().any(|x| x.fragment == a.new.fragment))
            {
                continue;
            }
            c.copies.push(a.new.clone());
            c.copies.sort_by_key(|x| x.fragment);
            out.push((changes.replaced.len() + i, c.clone()));
        }
    }
    out
}

/// Applies the changes to every record of `key` (and of `upload`'s parts).
fn swap_copies(
    m2: &Meta2,
    txn: &mut RwTxn,
    key: &str,
    upload: Option<&str>,
    changes: Changes<'_>,
) -> Result<Vec<Swapped>> {
    let mut out: Vec<Swapped> = Vec::new();
    let mut note = |upload: Option<&str>, policy: &str, changed: Vec<(usize, ChunkRecord)>| {
        for (pair, chunk) in changed {
            match out.iter_mut().find(|s| s.pair == pair) {
                // The same chunk in the current entry and in `versions`: keep the last state.
                Some(s) if s.chunk.pos == chunk.pos => s.chunk = chunk,
                Some(_) => {}
                None => out.push(Swapped {
                    pair,
                    upload: upload.map(str::to_string),
                    policy: policy.to_string(),
                    chunk,
                }),
            }
        }
    };
    for (vkey, mut rec) in versions::versions_of(m2, txn, key)? {
        let changed = swap_in(&mut rec.chunks, changes);
        if !changed.is_empty() {
            m2.versions.put(txn, &vkey, &encode(&rec)?)?;
            note(None, &rec.policy, changed);
        }
    }
    let lkey = keys::encode(key);
    if let Some(mut rec) = versions::current(m2, txn, &lkey)? {
        let changed = swap_in(&mut rec.chunks, changes);
        if !changed.is_empty() {
            m2.objects.put(txn, &lkey, &encode(&rec)?)?;
            note(None, &rec.policy, changed);
        }
    }
    if let Some(id) = upload
        && let Some(v) = m2.uploads.get(txn, id.as_bytes())?
    {
        let up: UploadRecord = decode(v)?;
        let mut parts = Vec::new();
        for item in m2.parts.prefix_iter(txn, &part_prefix(id))? {
            let (k, v) = item?;
            parts.push((k.to_vec(), decode::<PartRecord>(v)?));
        }
        for (k, mut part) in parts {
            let changed = swap_in(&mut part.chunks, changes);
            if !changed.is_empty() {
                m2.parts.put(txn, &k, &encode(&part)?)?;
                note(Some(id), &up.policy, changed);
            }
        }
    }
    Ok(out)
}

/// The record fields and chunk holding `copy`, from the records of `key` or `upload`.
fn locate(
    m2: &Meta2,
    txn: &RoTxn,
    key: &str,
    upload: Option<&str>,
    copy: &ChunkCopy,
) -> Result<Option<(ObjectRecord, ChunkRecord)>> {
    let holds = |c: &ChunkRecord| c.copies.iter().any(|x| same(x, copy));
    let lkey = keys::encode(key);
    let mut records: Vec<ObjectRecord> = versions::current(m2, txn, &lkey)?.into_iter().collect();
    records.extend(
        versions::versions_of(m2, txn, key)?
            .into_iter()
            .map(|(_, r)| r),
    );
    for rec in records {
        if let Some(c) = rec.chunks.iter().find(|c| holds(c)) {
            let c = c.clone();
            return Ok(Some((rec, c)));
        }
    }
    let Some(id) = upload else {
        return Ok(None);
    };
    let Some(v) = m2.uploads.get(txn, id.as_bytes())? else {
        return Ok(None);
    };
    let up: UploadRecord = decode(v)?;
    for item in m2.parts.prefix_iter(txn, &part_prefix(id))? {
        let (_, v) = item?;
        let part: PartRecord = decode(v)?;
        if let Some(c) = part.chunks.iter().find(|c| holds(c)) {
            let rec = ObjectRecord {
                key: up.key.clone(),
                version_id: String::new(),
                content_id: String::new(),
                size: part.size,
                etag: part.etag.clone(),
                mtime_ms: part.mtime_ms,
                content_type: None,
                headers: Default::default(),
                user_meta: Default::default(),
                checksums: Default::default(),
                policy: up.policy.clone(),
                parts: Vec::new(),
                chunks: Vec::new(),
                delete_marker: false,
                props: Default::default(),
                encryption: None,
            };
            return Ok(Some((rec, c.clone())));
        }
    }
    Ok(None)
}

/// Why a chunk server is declared lost: the only reasons a [`Command::MarkLost`] is prepared
/// with (every caller of [`Store::mark_lost`] names one of these; the command keeps the name as
/// a string, as the log entries written before this type exist hold it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LostReason {
    /// Silent for `lost_after_secs` (the leader's rebuild planner); stops when it heartbeats
    /// again.
    Dead,
    /// `spread admin cluster rebuild`: the server is gone.
    Operator,
    /// `spread admin cluster drain`: the server is alive and being emptied.
    Drain,
}

impl LostReason {
    /// The name stored in the command and the lost record.
    pub fn as_str(self) -> &'static str {
        match self {
            LostReason::Dead => "dead",
            LostReason::Operator => "operator",
            LostReason::Drain => "drain",
        }
    }

    /// The reason a client's rebuild request names: "operator" (the default) or "drain";
    /// anything else (including "dead", the lifecycle's own) is refused.
    pub fn requested(reason: Option<&str>) -> Result<LostReason> {
        match reason.unwrap_or("operator") {
            "operator" => Ok(LostReason::Operator),
            "drain" => Ok(LostReason::Drain),
            other => Err(Error::InvalidArgument(format!(
                "rebuild reason {other:?} is not \"operator\" or \"drain\""
            ))),
        }
    }
}

fn lost_of(service: String, r: LostRecord) -> LostService {
    let counting = r.counting();
    let LostRecord {
        v: _,
        reason,
        since_ms,
        total_chunks,
        total_bytes,
        done_chunks,
        done_bytes,
        last_done_ms,
        cursor: _,
        queued_all,
    } = r;
    LostService {
        service,
        reason,
        since_ms,
        total_chunks,
        total_bytes,
        done_chunks,
        done_bytes,
        last_done_ms,
        queued_all,
        counting,
    }
}

impl Store {
    /// Declares `service` lost; its copies are queued page by page ([`Store::queue_rebuild`]).
    /// A service already lost keeps its record.
    pub fn mark_lost(&self, service: &str, reason: LostReason) -> Result<LostService> {
        let command = Command::MarkLost {
            service: service.to_string(),
            reason: reason.as_str().to_string(),
            now_ms: ids::now_ms(),
            counted_by_page: true,
        };
        outcome!(self.apply(command)?, Lost)
    }

    /// Declares `service` lost. With `counted_by_page` (command version 10) the record starts
    /// with no totals: [`Store::apply_queue_rebuild`] counts each page it queues, so no
    /// command walks the whole reverse index of a server (millions of entries would make one
    /// huge Raft apply that stalls the group).
    ///
    /// Without it (a `MarkLost` written by a binary before version 10, replayed from the
    /// log), the totals are counted here by one walk over the server's entries and the record
    /// is version 1, exactly as that binary applied it: every node must reach the same state
    /// from the same log whichever binary applied which entry (a follower that applied it
    /// before an upgrade and one that replays it after must agree, and `admin meta verify`
    /// compares them), and a version-1 record's totals are final from the start, which later
    /// commands (queueing, removals counted as done) rely on.
    pub(super) fn apply_mark_lost(
        &self,
        tx: &mut Tx<'_, '_, '_>,
        service: &str,
        reason: &str,
        now_ms: i64,
        counted_by_page: bool,
    ) -> Result<LostService> {
        let txn = &mut *tx.dir;
        if let Some(r) = self.lost_get(txn, service)? {
            return Ok(lost_of(service.to_string(), r));
        }
        if self.dir.services.get(txn, service.as_bytes())?.is_none() {
            return Err(Error::NoSuchService(service.to_string()));
        }
        let (mut chunks, mut bytes) = (0u64, 0u64);
        if !counted_by_page {
            for item in self.dir.rdir.prefix_iter(txn, &gc_prefix(service))? {
                let (_, v) = item?;
                chunks += 1;
                bytes = bytes.saturating_add(rdir_size(v));
            }
        }
        let record = LostRecord {
            v: if counted_by_page {
                LOST_COUNTED_BY_PAGE
            } else {
                1
            },
            reason: reason.to_string(),
            since_ms: now_ms,
            total_chunks: chunks,
            total_bytes: bytes,
            done_chunks: 0,
            done_bytes: 0,
            last_done_ms: 0,
            cursor: None,
            queued_all: false,
        };
        self.lost_put(txn, service, &record)?;
        tracing::warn!(
            service,
            reason,
            chunks,
            bytes,
            counted_by_page,
            "chunk server declared lost: rebuilding its copies"
        );
        Ok(lost_of(service.to_string(), record))
    }

    /// Queues the next page of a lost service's copies; the number queued. A version-2 lost
    /// record counts the page's copies into its totals.
    pub fn queue_rebuild(&self, service: &str) -> Result<u64> {
        let command = Command::QueueRebuild {
            service: service.to_string(),
            max: QUEUE_PAGE,
            now_ms: ids::now_ms(),
            merge_short: true,
        };
        outcome!(self.apply(command)?, Count)
    }

    pub(super) fn apply_queue_rebuild(
        &self,
        tx: &mut Tx<'_, '_, '_>,
        service: &str,
        max: u32,
        now_ms: i64,
        merge_short: bool,
    ) -> Result<u64> {
        let txn = &mut *tx.dir;
        let Some(mut lost) = self.lost_get(txn, service)? else {
            return Ok(0);
        };
        if lost.queued_all {
            return Ok(0);
        }
        let prefix = gc_prefix(service);
        let start = match &lost.cursor {
            Some(c) => gc_key(service, c),
            None => prefix.clone(),
        };
        let lower = if lost.cursor.is_some() {
            Bound::Excluded(start.as_slice())
        } else {
            Bound::Included(start.as_slice())
        };
        let mut page = Vec::new();
        let mut page_bytes = 0u64;
        for item in self
            .dir
            .rdir
            .range(txn, &(lower, Bound::<&[u8]>::Unbounded))?
        {
            let (k, v) = item?;
            if !k.starts_with(&prefix) || page.len() >= max as usize {
                break;
            }
            page.push(String::from_utf8_lossy(&k[prefix.len()..]).into_owned());
            page_bytes = page_bytes.saturating_add(rdir_size(v));
        }
        if lost.counted_by_page() {
            lost.total_chunks = lost.total_chunks.saturating_add(page.len() as u64);
            lost.total_bytes = lost.total_bytes.saturating_add(page_bytes);
        }
        let mut queued = 0u64;
        for chunk in &page {
            if self.enqueue(
                txn,
                service,
                chunk,
                RepairReason::Lost,
                now_ms,
                0,
                merge_short,
            )? {
                queued += 1;
            }
        }
        if page.len() < max as usize {
            lost.queued_all = true;
        }
        if let Some(last) = page.last() {
            lost.cursor = Some(last.clone());
        }
        self.lost_put(txn, service, &lost)?;
        Ok(queued)
    }

    /// Hands out up to `max` due queue entries to a worker for `lease_ms`.
    pub fn claim_repairs(&self, worker: &str, max: u32, lease_ms: u64) -> Result<Vec<RepairItem>> {
        let command = Command::ClaimRepairs {
            worker: worker.to_string(),
            max,
            now_ms: ids::now_ms(),
            lease_ms,
        };
        outcome!(self.apply(command)?, Repairs)
    }

    pub(super) fn apply_claim_repairs(
        &self,
        tx: &mut Tx<'_, '_, '_>,
        worker: &str,
        max: u32,
        now_ms: i64,
        lease_ms: u64,
    ) -> Result<Vec<RepairItem>> {
        let txn = &mut *tx.dir;
        let mut picked = Vec::new();
        for (scanned, item) in self.dir.repair.iter(txn)?.enumerate() {
            let (k, v) = item?;
            if scanned >= CLAIM_SCAN || picked.len() >= max as usize {
                break;
            }
            let Some(&at) = k.first() else { continue };
            if at == UNREPAIRABLE {
                break;
            }
            let r: RepairRecord = decode_record(v)?;
            if r.next_try_ms > now_ms || r.lease_until_ms > now_ms {
                continue;
            }
            let Some((service, chunk)) = split_copy_key(&k[1..]) else {
                continue;
            };
            picked.push((at, service, chunk, r));
        }
        let lease = i64::try_from(lease_ms).unwrap_or(i64::MAX);
        let mut out = Vec::with_capacity(picked.len());
        for (at, service, chunk, mut r) in picked {
            r.lease_until_ms = now_ms.saturating_add(lease);
            self.queue_put(txn, &service, &chunk, at, &r)?;
            out.push(item_of(at, service, chunk, r));
        }
        if !out.is_empty() {
            tracing::debug!(worker, count = out.len(), "repairs handed out");
        }
        Ok(out)
    }

    /// Records a repair (see [`Command::RepairDone`]).
    pub fn repair_done(
        &self,
        container: &str,
        key: &str,
        upload: Option<&str>,
        changes: Changes<'_>,
    ) -> Result<RepairOutcome> {
        let command = Command::RepairDone {
            container: container.to_string(),
            key: key.to_string(),
            upload: upload.map(str::to_string),
            replaced: changes.replaced.to_vec(),
            dropped: changes.dropped.to_vec(),
            added: changes.added.to_vec(),
            now_ms: ids::now_ms(),
            gc_due_ms: self.gc_due_ms(),
        };
        outcome!(self.apply(command)?, Repaired)
    }

    pub(super) fn apply_repair_done(
        &self,
        tx: &mut Tx<'_, '_, '_>,
        container: &str,
        key: &str,
        upload: Option<&str>,
        changes: Changes<'_>,
        clock: super::command::Clock,
    ) -> Result<RepairOutcome> {
        let super::command::Clock { now_ms, gc_due_ms } = clock;
        let Changes {
            replaced,
            dropped,
            added,
        } = changes;
        let swapped = match self.resolve_in(tx.dir, container) {
            Ok(r) => tx.meta2(&r.cid, |m2, txn| swap_copies(m2, txn, key, upload, changes))?,
            Err(Error::NoSuchContainer(_)) => Vec::new(),
            Err(e) => return Err(e),
        };
        let mut outcome = RepairOutcome::default();
        let mut garbage = Vec::new();
        for s in &swapped {
            let owner = Owner {
                container,
                key,
                upload: s.upload.as_deref(),
                policy: &s.policy,
            };
            if let Some(pair) = replaced.get(s.pair) {
                self.rdir_remove(tx.dir, std::slice::from_ref(&pair.old))?;
                if let Some(mut lost) = self.lost_get(tx.dir, &pair.old.service)? {
                    lost.last_done_ms = now_ms;
                    self.lost_put(tx.dir, &pair.old.service, &lost)?;
                }
                garbage.push(pair.old.clone());
                outcome.replaced += 1;
            } else {
                outcome.added += 1;
            }
            self.rdir_add(tx.dir, &owner, std::slice::from_ref(&s.chunk))?;
        }
        // A short chunk that has its pieces now leaves the queue.
        for a in added {
            let whole = swapped.iter().any(|s| {
                s.chunk.copies.iter().any(|x| same(x, &a.anchor))
                    && self
                        .queue_get(tx.dir, &a.anchor.service, &a.anchor.chunk_id)
                        .ok()
                        .flatten()
                        .is_some_and(|(_, r)| {
                            r.reason == RepairReason::Short
                                && s.chunk.copies.len() >= r.wanted as usize
                        })
            });
            if whole {
                self.dequeue(tx.dir, &a.anchor.service, &a.anchor.chunk_id)?;
            }
        }
        for s in &swapped {
            if let Some(first) = s.chunk.copies.first()
                && let Some(entry) = self.rdir_get(tx.dir, &first.service, &first.chunk_id)?
            {
                self.settle_redundancy(tx.dir, &entry)?;
            }
        }
        for (i, pair) in replaced.iter().enumerate() {
            if swapped.iter().any(|s| s.pair == i) {
                continue;
            }
            garbage.push(pair.new.clone());
            outcome.discarded += 1;
            if self
                .rdir_get(tx.dir, &pair.old.service, &pair.old.chunk_id)?
                .is_some()
            {
                // Still referenced, but not where the worker looked, or the new server
                // already holds a piece of the chunk: try again later.
                self.fail_repair(
                    tx.dir,
                    &pair.old.service,
                    &pair.old.chunk_id,
                    "the records refused the new copy (its server already holds a piece of the chunk)",
                    Some(now_ms.saturating_add(REFUSED_RETRY_MS)),
                )?;
            }
        }
        for (i, a) in added.iter().enumerate() {
            if !swapped.iter().any(|s| s.pair == replaced.len() + i) {
                garbage.push(a.new.clone());
                outcome.discarded += 1;
            }
        }
        for d in dropped {
            let short = self
                .queue_get(tx.dir, &d.service, &d.chunk_id)?
                .is_some_and(|(_, r)| r.reason == RepairReason::Short);
            if !short && self.rdir_get(tx.dir, &d.service, &d.chunk_id)?.is_some() {
                self.fail_repair(
                    tx.dir,
                    &d.service,
                    &d.chunk_id,
                    "the reverse index names an object that does not hold this copy",
                    None,
                )?;
            } else {
                self.dequeue(tx.dir, &d.service, &d.chunk_id)?;
            }
        }
        self.push_gc_raw(tx.dir, &garbage, gc_due_ms)?;
        Ok(outcome)
    }

    /// Reports a failed repair.
    pub fn repair_failed(
        &self,
        service: &str,
        chunk_id: &str,
        error: &str,
        retry_after_ms: Option<u64>,
    ) -> Result<()> {
        let now_ms = ids::now_ms();
        let command = Command::RepairFailed {
            service: service.to_string(),
            chunk_id: chunk_id.to_string(),
            error: error.chars().take(1000).collect(),
            now_ms,
            retry_at_ms: retry_after_ms
                .map(|d| now_ms.saturating_add(i64::try_from(d).unwrap_or(i64::MAX))),
        };
        outcome!(self.apply(command)?, Done)
    }

    /// Counts a failure of a queued repair: handed out again at `retry_at_ms`, or (None) moved
    /// to the unrepairable list.
    pub(crate) fn fail_repair(
        &self,
        txn: &mut RwTxn,
        service: &str,
        chunk_id: &str,
        error: &str,
        retry_at_ms: Option<i64>,
    ) -> Result<()> {
        let Some((at, mut r)) = self.queue_get(txn, service, chunk_id)? else {
            return Ok(());
        };
        r.attempts = r.attempts.saturating_add(1);
        r.last_error = Some(error.to_string());
        r.lease_until_ms = 0;
        let at = match retry_at_ms {
            Some(t) => {
                r.next_try_ms = t;
                at
            }
            None => {
                tracing::error!(service, chunk = chunk_id, container = %r.container, key = %r.key,
                    error, "chunk copy cannot be repaired");
                UNREPAIRABLE
            }
        };
        self.queue_put(txn, service, chunk_id, at, &r)
    }

    /// Queues the repair of copies a chunk server found rotten (heartbeat `bad_chunks`).
    pub(crate) fn queue_bad_chunks(
        &self,
        txn: &mut RwTxn,
        service: &str,
        chunks: &[String],
        now_ms: i64,
        merge_short: bool,
    ) -> Result<()> {
        for chunk in chunks {
            if self.enqueue(
                txn,
                service,
                chunk,
                RepairReason::Corrupt,
                now_ms,
                0,
                merge_short,
            )? {
                tracing::warn!(service, chunk = %chunk, "rotten chunk copy queued for repair");
            }
        }
        Ok(())
    }

    /// A service heartbeats again: a rebuild started because it was silent stops (the copies
    /// not re-created yet are kept where they are). True when it was declared lost by an
    /// operator (it then scores 0 until forgotten).
    pub(crate) fn service_back(&self, txn: &mut RwTxn, service: &str) -> Result<bool> {
        let Some(lost) = self.lost_get(txn, service)? else {
            return Ok(false);
        };
        if lost.reason != LostReason::Dead.as_str() {
            return Ok(true);
        }
        let mut queued = Vec::new();
        for item in self.dir.repair_at.prefix_iter(txn, &gc_prefix(service))? {
            let (k, _) = item?;
            if let Some((_, chunk)) = split_copy_key(k) {
                queued.push(chunk);
            }
        }
        for chunk in &queued {
            if let Some((_, r)) = self.queue_get(txn, service, chunk)?
                && r.reason == RepairReason::Lost
            {
                self.dequeue(txn, service, chunk)?;
            }
        }
        self.dir.lost.delete(txn, service.as_bytes())?;
        tracing::warn!(
            service,
            done = lost.done_chunks,
            "lost chunk server is back: its rebuild stops"
        );
        Ok(false)
    }

    /// Removes a retired chunk server from the conscience (see [`Command::ForgetService`]).
    pub fn forget_service(&self, service: &str) -> Result<()> {
        let command = Command::ForgetService {
            service: service.to_string(),
            now_ms: ids::now_ms(),
            dead_after_ms: self.dead_after_ms,
        };
        outcome!(self.apply(command)?, Done)
    }

    pub(super) fn apply_forget_service(
        &self,
        tx: &mut Tx<'_, '_, '_>,
        service: &str,
        now_ms: i64,
        dead_after_ms: i64,
    ) -> Result<()> {
        let txn = &mut *tx.dir;
        let Some(v) = self.dir.services.get(txn, service.as_bytes())? else {
            return Err(Error::NoSuchService(service.to_string()));
        };
        let rec: meta_api::wire::ServiceRecord = decode(v)?;
        let held = self.dir.rdir.prefix_iter(txn, &gc_prefix(service))?.count();
        if held > 0 {
            return Err(Error::InvalidArgument(format!(
                "service {service} still holds {held} chunk copies: `spread admin cluster drain` \
                 (alive) or `rebuild` (gone) it first, and wait for rebuild-status to say done"
            )));
        }
        if now_ms.saturating_sub(rec.last_seen_ms) <= dead_after_ms {
            return Err(Error::InvalidArgument(format!(
                "service {service} still heartbeats: stop it first"
            )));
        }
        let prefix = gc_prefix(service);
        let queued: Vec<String> = self
            .dir
            .repair_at
            .prefix_iter(txn, &prefix)?
            .filter_map(|i| i.ok().and_then(|(k, _)| split_copy_key(k)).map(|(_, c)| c))
            .collect();
        for chunk in &queued {
            self.dequeue(txn, service, chunk)?;
        }
        for db in [self.dir.gc, self.dir.gc_due] {
            let keys: Vec<Vec<u8>> = db
                .prefix_iter(txn, &prefix)?
                .map(|i| i.map(|(k, _)| k.to_vec()))
                .collect::<std::result::Result<_, _>>()?;
            for k in keys {
                db.delete(txn, &k)?;
            }
        }
        self.dir.lost.delete(txn, service.as_bytes())?;
        self.dir.services.delete(txn, service.as_bytes())?;
        tracing::warn!(service, addr = %rec.addr, "chunk server forgotten");
        Ok(())
    }

    /// One page of a service's reverse index (`limit` 0: only the count).
    /// Which of `chunk_ids` the directory does not know on `service`: no reverse index entry,
    /// no GC entry.
    pub fn rdir_unknown(&self, service: &str, chunk_ids: &[String]) -> Result<RdirUnknown> {
        if chunk_ids.len() > meta_api::api::RDIR_CHECK_MAX {
            return Err(Error::InvalidArgument(format!(
                "at most {} chunk ids per check, {} given",
                meta_api::api::RDIR_CHECK_MAX,
                chunk_ids.len()
            )));
        }
        let txn = self.dir.env.read_txn()?;
        let mut unknown = Vec::new();
        for id in chunk_ids {
            let key = gc_key(service, id);
            if self.dir.rdir.get(&txn, &key)?.is_none() && self.dir.gc.get(&txn, &key)?.is_none() {
                unknown.push(id.clone());
            }
        }
        Ok(RdirUnknown { unknown })
    }

    /// A page of `service`'s reverse index: at most `limit` entries after chunk id `after`,
    /// read from there (a page costs its own size, not the pages before it). The totals
    /// (`count`, `bytes`) come with the first page only (`after` unset), from one pass over
    /// the server's entries.
    pub fn rdir_list(&self, service: &str, after: Option<&str>, limit: u32) -> Result<RdirAnswer> {
        let txn = self.dir.env.read_txn()?;
        let prefix = gc_prefix(service);
        let mut answer = RdirAnswer::default();
        if after.is_none() {
            for item in self.dir.rdir.prefix_iter(&txn, &prefix)? {
                let (_, v) = item?;
                let r: RdirRecord = decode_record(v)?;
                answer.count += 1;
                answer.bytes = answer.bytes.saturating_add(r.size);
            }
        }
        if limit == 0 {
            return Ok(answer);
        }
        let start = match after {
            Some(a) => gc_key(service, a),
            None => prefix.clone(),
        };
        let lower = if after.is_some() {
            Bound::Excluded(start.as_slice())
        } else {
            Bound::Included(start.as_slice())
        };
        for item in self
            .dir
            .rdir
            .range(&txn, &(lower, Bound::<&[u8]>::Unbounded))?
        {
            let (k, v) = item?;
            if !k.starts_with(&prefix) {
                break;
            }
            if answer.entries.len() >= limit as usize {
                answer.next = answer.entries.last().map(|e| e.chunk_id.clone());
                break;
            }
            let r: RdirRecord = decode_record(v)?;
            let chunk = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
            answer.entries.push(entry_of(service.to_string(), chunk, r));
        }
        Ok(answer)
    }

    /// The chunk holding copy `chunk_id` of `service` in the records of `key` (or `upload`).
    pub fn locate_chunk(
        &self,
        container: &str,
        key: &str,
        upload: Option<&str>,
        service: &str,
        chunk_id: &str,
    ) -> Result<Option<LocatedChunk>> {
        let r = match self.resolve(container) {
            Ok(r) => r,
            Err(Error::NoSuchContainer(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        let txn = r.env.env.read_txn()?;
        let copy = ChunkCopy {
            service: service.to_string(),
            chunk_id: chunk_id.to_string(),
            fragment: None,
            hash: None,
        };
        Ok(
            locate(&r.env, &txn, key, upload, &copy)?.map(|(rec, chunk)| LocatedChunk {
                account: r.meta1.account.clone(),
                container: container.to_string(),
                key: rec.key,
                version_id: rec.version_id,
                content_id: rec.content_id,
                policy: rec.policy,
                mtime_ms: rec.mtime_ms,
                chunk,
            }),
        )
    }

    /// Rebuild progress and the repair queue.
    pub fn rebuild_status(&self) -> Result<RebuildStatus> {
        let now = ids::now_ms();
        let txn = self.dir.env.read_txn()?;
        let mut status = RebuildStatus::default();
        for item in self.dir.lost.iter(&txn)? {
            let (k, v) = item?;
            let r: LostRecord = decode_record(v)?;
            status
                .lost
                .push(lost_of(String::from_utf8_lossy(k).into_owned(), r));
        }
        for item in self.dir.repair.iter(&txn)? {
            let (k, v) = item?;
            let Some(&at) = k.first() else { continue };
            let Some((service, chunk)) = split_copy_key(&k[1..]) else {
                continue;
            };
            let r: RepairRecord = decode_record(v)?;
            if at == UNREPAIRABLE {
                status.unrepairable_count += 1;
                if status.unrepairable.len() < STATUS_LIST {
                    status.unrepairable.push(item_of(at, service, chunk, r));
                }
                continue;
            }
            status.queued += 1;
            status.queued_bytes = status.queued_bytes.saturating_add(r.size);
            if r.lease_until_ms > now {
                status.leased += 1;
            }
            if r.last_error.is_some() && status.failing.len() < STATUS_LIST {
                status.failing.push(item_of(at, service, chunk, r));
            }
        }
        Ok(status)
    }

    /// Declares silent chunk servers lost and queues the next pages of every rebuild: the
    /// leader's periodic pass. Returns the copies queued.
    pub fn plan_rebuilds(&self, lost_after_ms: i64) -> Result<u64> {
        let now = ids::now_ms();
        let (silent, pending) = {
            let txn = self.dir.env.read_txn()?;
            let mut silent = Vec::new();
            for item in self.dir.services.iter(&txn)? {
                let (k, v) = item?;
                let rec: meta_api::wire::ServiceRecord = decode(v)?;
                if rec.kind == "chunkd"
                    && now.saturating_sub(rec.last_seen_ms) > lost_after_ms
                    && self.dir.lost.get(&txn, k)?.is_none()
                    && self
                        .dir
                        .rdir
                        .prefix_iter(&txn, &gc_prefix(&rec.id))?
                        .next()
                        .is_some()
                {
                    silent.push(rec.id);
                }
            }
            let mut pending = BTreeSet::new();
            for item in self.dir.lost.iter(&txn)? {
                let (k, v) = item?;
                if !decode_record::<LostRecord>(v)?.queued_all {
                    pending.insert(String::from_utf8_lossy(k).into_owned());
                }
            }
            (silent, pending)
        };
        let mut pending = pending;
        for id in silent {
            self.mark_lost(&id, LostReason::Dead)?;
            pending.insert(id);
        }
        let mut queued = 0;
        for id in pending {
            loop {
                let n = self.queue_rebuild(&id)?;
                queued += n;
                let txn = self.dir.env.read_txn()?;
                if self.lost_get(&txn, &id)?.is_none_or(|l| l.queued_all) {
                    break;
                }
            }
        }
        Ok(queued)
    }
}
