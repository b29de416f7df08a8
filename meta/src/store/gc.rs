//! The GC queue: chunk copies that chunk servers must delete, handed out in heartbeat answers
//! once due, until confirmed.
//!
//! An entry is due `gc_grace_secs` after it was queued, so that reads still streaming an
//! object that was just overwritten or deleted find its chunks. Two directory databases hold
//! it: `gc` (service id ‖ NUL ‖ chunk id → due time, ms u64 BE; empty for entries queued
//! before due times existed) and `gc_due` (service id ‖ NUL ‖ due time ‖ chunk id → empty),
//! which hands out a service's due entries in order without reading the others.

use super::Store;
use super::batch::Tx;
use super::command::{Command, outcome};
use super::directory::Directory;
use super::lmdb::Db;
use heed::RwTxn;
use meta_api::error::Result;
use meta_api::wire::{ChunkCopy, GcBacklog, ObjectRecord};
use std::collections::HashSet;

/// Key of one entry of the due-time index.
fn due_key(service: &str, due_ms: u64, chunk_id: &str) -> Vec<u8> {
    let mut k = gc_prefix(service);
    k.extend_from_slice(&due_ms.to_be_bytes());
    k.extend_from_slice(chunk_id.as_bytes());
    k
}

/// The service, due time and chunk id of a `gc_due` key.
fn parse_due_key(key: &[u8]) -> Option<(&[u8], u64, &[u8])> {
    let nul = key.iter().position(|&b| b == 0)?;
    let rest = key.get(nul + 1..)?;
    let due = rest.get(..8)?;
    Some((&key[..nul], due_of(due), &rest[8..]))
}

/// The due time stored in a `gc` value (0: due now).
fn due_of(value: &[u8]) -> u64 {
    value.try_into().map_or(0, u64::from_be_bytes)
}

/// Key of one GC entry.
pub fn gc_key(service: &str, chunk_id: &str) -> Vec<u8> {
    let mut k = gc_prefix(service);
    k.extend_from_slice(chunk_id.as_bytes());
    k
}

/// Prefix of the GC entries of one service.
pub fn gc_prefix(service: &str) -> Vec<u8> {
    let mut k = service.as_bytes().to_vec();
    k.push(0);
    k
}

/// The copies of `old` that `new` does not reference any more.
pub fn replaced_copies(old: &ObjectRecord, new: Option<&ObjectRecord>) -> Vec<ChunkCopy> {
    let keep: HashSet<(&str, &str)> = new
        .map(|n| {
            n.chunks
                .iter()
                .flat_map(|c| c.copies.iter())
                .map(|c| (c.service.as_str(), c.chunk_id.as_str()))
                .collect()
        })
        .unwrap_or_default();
    old.chunks
        .iter()
        .flat_map(|c| c.copies.iter())
        .filter(|c| !keep.contains(&(c.service.as_str(), c.chunk_id.as_str())))
        .cloned()
        .collect()
}

/// Adds copies to the GC queue inside a directory write transaction, due at `due_ms`; a copy
/// already queued keeps its due time.
fn push_gc(gc: Db, gc_due: Db, txn: &mut RwTxn, chunks: &[ChunkCopy], due_ms: u64) -> Result<()> {
    for c in chunks {
        if c.service.is_empty() || c.chunk_id.is_empty() || c.service.contains('\0') {
            tracing::warn!(service = %c.service, chunk = %c.chunk_id, "ignoring bad GC entry");
            continue;
        }
        let key = gc_key(&c.service, &c.chunk_id);
        if gc.get(txn, &key)?.is_some() {
            continue;
        }
        gc.put(txn, &key, &due_ms.to_be_bytes())?;
        gc_due.put(txn, &due_key(&c.service, due_ms, &c.chunk_id), &[])?;
    }
    Ok(())
}

/// Gives the entries queued before due times existed a due time of 0 (due now): the
/// directory's format 1 -> 2 migration ([`super::format`]).
pub(crate) fn date_old_entries(dir: &Directory, txn: &mut RwTxn) -> Result<usize> {
    let mut undated = Vec::new();
    for item in dir.gc.iter(txn)? {
        let (k, v) = item?;
        if v.is_empty() {
            undated.push(k.to_vec());
        }
    }
    for key in &undated {
        let Some(nul) = key.iter().position(|&b| b == 0) else {
            continue;
        };
        let (Ok(service), Ok(chunk)) = (
            std::str::from_utf8(&key[..nul]),
            std::str::from_utf8(&key[nul + 1..]),
        ) else {
            continue;
        };
        dir.gc.put(txn, key, &0u64.to_be_bytes())?;
        dir.gc_due.put(txn, &due_key(service, 0, chunk), &[])?;
    }
    Ok(undated.len())
}

impl Store {
    /// Adds copies to the GC queue inside a directory write transaction, due at `due_ms`.
    /// The copies leave the reverse index (no record references them any more).
    pub(crate) fn push_gc(&self, txn: &mut RwTxn, chunks: &[ChunkCopy], due_ms: u64) -> Result<()> {
        self.rdir_remove(txn, chunks)?;
        push_gc(self.dir.gc, self.dir.gc_due, txn, chunks, due_ms)
    }

    /// [`Store::push_gc`] for copies the caller took out of the reverse index itself.
    pub(crate) fn push_gc_raw(
        &self,
        txn: &mut RwTxn,
        chunks: &[ChunkCopy],
        due_ms: u64,
    ) -> Result<()> {
        push_gc(self.dir.gc, self.dir.gc_due, txn, chunks, due_ms)
    }

    /// Queues chunk copies for deletion after this node's grace period (committed before
    /// returning; concurrent callers share one directory commit).
    pub fn queue_gc(&self, chunks: &[ChunkCopy]) -> Result<()> {
        if chunks.is_empty() {
            return Ok(());
        }
        let command = Command::QueueGc {
            chunks: chunks.to_vec(),
            due_ms: self.gc_due_ms(),
        };
        outcome!(self.apply(command)?, Done)
    }

    pub(super) fn apply_queue_gc(
        &self,
        tx: &mut Tx<'_, '_, '_>,
        chunks: Vec<ChunkCopy>,
        due_ms: u64,
    ) -> Result<()> {
        if chunks.is_empty() {
            return Ok(());
        }
        self.push_gc(tx.dir, &chunks, due_ms)?;
        tracing::debug!(count = chunks.len(), "chunks queued for GC");
        Ok(())
    }

    /// Drops the entries `service` confirms it deleted.
    pub(crate) fn confirm_gc(
        &self,
        txn: &mut RwTxn,
        service: &str,
        deleted: &[String],
    ) -> Result<()> {
        for chunk in deleted {
            let key = gc_key(service, chunk);
            let Some(due) = self.dir.gc.get(txn, &key)?.map(due_of) else {
                continue;
            };
            self.dir.gc_due.delete(txn, &due_key(service, due, chunk))?;
            self.dir.gc.delete(txn, &key)?;
        }
        Ok(())
    }

    /// Up to `limit` chunk ids `service` should delete at `now_ms` (due first).
    pub(crate) fn due_gc(
        &self,
        txn: &RwTxn,
        service: &str,
        limit: usize,
        now_ms: i64,
    ) -> Result<Vec<String>> {
        let now = u64::try_from(now_ms).unwrap_or(0);
        let prefix = gc_prefix(service);
        let mut out = Vec::new();
        for item in self.dir.gc_due.prefix_iter(txn, &prefix)?.take(limit) {
            let (k, _) = item?;
            let Some((_, due, chunk)) = parse_due_key(k) else {
                continue;
            };
            if due > now {
                break;
            }
            out.push(String::from_utf8_lossy(chunk).into_owned());
        }
        Ok(out)
    }

    /// The GC backlog of every service with queued entries, by service id.
    pub fn gc_backlog(&self) -> Result<Vec<GcBacklog>> {
        let now = crate::ids::now_ms();
        let txn = self.dir.env.read_txn()?;
        let mut out: Vec<GcBacklog> = Vec::new();
        for item in self.dir.gc_due.iter(&txn)? {
            let (k, _) = item?;
            let Some((service, due, _)) = parse_due_key(k) else {
                continue;
            };
            let service = String::from_utf8_lossy(service);
            let due = i64::try_from(due).unwrap_or(i64::MAX);
            if out.last().is_none_or(|b| b.service != service) {
                out.push(GcBacklog {
                    service: service.into_owned(),
                    ..GcBacklog::default()
                });
            }
            let Some(backlog) = out.last_mut() else {
                continue;
            };
            if due <= now {
                backlog.due += 1;
            } else {
                backlog.waiting += 1;
                backlog.next_due_ms = Some(backlog.next_due_ms.map_or(due, |d| d.min(due)));
            }
        }
        Ok(out)
    }

    /// Number of GC entries queued (all services, due or not).
    pub fn gc_len(&self) -> Result<u64> {
        let txn = self.dir.env.read_txn()?;
        Ok(self.dir.gc.len(&txn)?)
    }
}
