//! Objects of a container (meta2 `objects` database): put (replace), get, delete, each with the
//! usage counters updated in the same meta2 transaction. Chunks no longer referenced are queued
//! for GC after the meta2 commit (a crash in between leaks chunks, never loses data).

use super::Store;
use super::gc::replaced_copies;
use super::keys;
use super::lmdb::{from_json, to_json};
use super::meta2::Meta2;
use crate::error::{Error, Result};
use crate::wire::{ChunkCopy, ObjectRecord};
use heed::RwTxn;

/// Longest object key accepted.
pub const MAX_KEY_BYTES: usize = 16 * 1024;

pub(crate) fn check_key(key: &str) -> Result<()> {
    if key.is_empty() {
        return Err(Error::InvalidArgument("object key is empty".to_string()));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(Error::InvalidArgument(format!(
            "object key is longer than {MAX_KEY_BYTES} bytes"
        )));
    }
    Ok(())
}

fn size_delta(new: u64, old: u64) -> i128 {
    i128::from(new) - i128::from(old)
}

/// Stores `rec` in an open meta2 write transaction, updating usage; returns the garbage of
/// the replaced record and the replaced record itself.
pub(crate) fn store_object(
    env: &Meta2,
    txn: &mut RwTxn,
    rec: &ObjectRecord,
) -> Result<(Vec<ChunkCopy>, Option<ObjectRecord>)> {
    let lkey = keys::encode(&rec.key);
    let old: Option<ObjectRecord> = match env.objects.get(txn, &lkey)? {
        Some(v) => Some(from_json(v)?),
        None => None,
    };
    env.objects.put(txn, &lkey, &to_json(rec)?)?;
    let (objects, old_size) = match &old {
        Some(o) => (0, o.size),
        None => (1, 0),
    };
    env.add_usage(txn, objects, size_delta(rec.size, old_size))?;
    let garbage = old
        .as_ref()
        .map(|o| replaced_copies(o, Some(rec)))
        .unwrap_or_default();
    Ok((garbage, old))
}

impl Store {
    /// Makes `rec` the current object under `rec.key`; the replaced content's chunks go to GC.
    pub fn put_object(&self, container: &str, rec: &ObjectRecord) -> Result<()> {
        check_key(&rec.key)?;
        let r = self.resolve(container)?;
        self.index_expiry(container, &r.cid, rec)?;
        let (garbage, old) = {
            let mut txn = r.env.env.write_txn()?;
            let stored = store_object(&r.env, &mut txn, rec)?;
            txn.commit()?;
            stored
        };
        tracing::debug!(container, key = %rec.key, size = rec.size, "object stored");
        if let Some(o) = &old {
            self.unindex_expiry(&r.cid, o, Some(rec))?;
        }
        self.queue_gc(&garbage)
    }

    /// The current object under `key` (`NoSuchObject`).
    pub fn get_object(&self, container: &str, key: &str) -> Result<ObjectRecord> {
        let r = self.resolve(container)?;
        let txn = r.env.env.read_txn()?;
        match r.env.objects.get(&txn, &keys::encode(key))? {
            Some(v) => from_json(v),
            None => Err(Error::NoSuchObject(key.to_string())),
        }
    }

    /// Deletes the object under `key`, returning it (`None` if absent); its chunks go to GC.
    pub fn delete_object(&self, container: &str, key: &str) -> Result<Option<ObjectRecord>> {
        let r = self.resolve(container)?;
        let lkey = keys::encode(key);
        let old = {
            let mut txn = r.env.env.write_txn()?;
            let old: Option<ObjectRecord> = match r.env.objects.get(&txn, &lkey)? {
                Some(v) => Some(from_json(v)?),
                None => None,
            };
            if let Some(o) = &old {
                r.env.objects.delete(&mut txn, &lkey)?;
                r.env.add_usage(&mut txn, -1, size_delta(0, o.size))?;
                txn.commit()?;
            }
            old
        };
        if let Some(o) = &old {
            tracing::debug!(container, key, "object deleted");
            self.unindex_expiry(&r.cid, o, None)?;
            self.queue_gc(&replaced_copies(o, None))?;
        }
        Ok(old)
    }
}
