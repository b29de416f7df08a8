//! The GC queue (`gc` database of the directory): chunk copies that chunk servers must delete,
//! keyed by service id ‖ NUL ‖ chunk id, handed out in heartbeat answers until confirmed.

use super::Store;
use super::lmdb::Db;
use crate::error::Result;
use crate::wire::{ChunkCopy, ObjectRecord};
use heed::RwTxn;
use std::collections::HashSet;

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

/// Adds copies to the GC queue database `db` inside a directory write transaction.
fn push_gc(db: Db, txn: &mut RwTxn, chunks: &[ChunkCopy]) -> Result<()> {
    for c in chunks {
        if c.service.is_empty() || c.chunk_id.is_empty() || c.service.contains('\0') {
            tracing::warn!(service = %c.service, chunk = %c.chunk_id, "ignoring bad GC entry");
            continue;
        }
        db.put(txn, &gc_key(&c.service, &c.chunk_id), &[])?;
    }
    Ok(())
}

impl Store {
    /// Adds copies to the GC queue inside a directory write transaction.
    pub(crate) fn push_gc(&self, txn: &mut RwTxn, chunks: &[ChunkCopy]) -> Result<()> {
        push_gc(self.dir.gc, txn, chunks)
    }

    /// Queues chunk copies for deletion (committed before returning; concurrent callers
    /// share one directory commit).
    pub fn queue_gc(&self, chunks: &[ChunkCopy]) -> Result<()> {
        if chunks.is_empty() {
            return Ok(());
        }
        let (db, owned) = (self.dir.gc, chunks.to_vec());
        self.dir
            .writer
            .write(&self.dir.env, move |txn| push_gc(db, txn, &owned))?;
        tracing::debug!(count = chunks.len(), "chunks queued for GC");
        Ok(())
    }

    /// Number of GC entries queued (all services).
    pub fn gc_len(&self) -> Result<u64> {
        let txn = self.dir.env.read_txn()?;
        Ok(self.dir.gc.len(&txn)?)
    }
}
