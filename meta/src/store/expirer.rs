//! The object expirer (Swift `X-Delete-At`): the directory's `expiry` index lists objects whose
//! record carries the `x-delete-at` header, keyed by delete-at seconds (u64 BE) ‖ container id ‖
//! encoded object key, so one range scan finds everything due.
//!
//! The index entry of a new record is written *before* the record is committed to meta2 and a
//! replaced record's entry is removed after, so a crash leaves at worst a stale entry, never a
//! missing one. The expirer therefore re-checks the current record inside the meta2 write
//! transaction that deletes it, and drops stale entries.

use super::Store;
use super::batch::Tx;
use super::command::{Command, outcome};
use super::containers::container_id;
use super::gc::replaced_copies;
use super::keys;
use super::records::{ExpiryEntry, decode, decode_record, encode_record};
use meta_api::error::{Error, Result};
use meta_api::wire::ObjectRecord;

/// Header name (lower case) holding the delete-at time in Unix seconds.
pub const DELETE_AT: &str = "x-delete-at";
/// Most index entries handled in one pass.
const BATCH: usize = 1000;
/// Length of a container id (hex SHA-256).
const CID_LEN: usize = 64;

/// The delete-at time of a record, if it has a readable `x-delete-at` (integer or decimal
/// seconds; negative or garbage values are ignored).
pub fn delete_at(rec: &ObjectRecord) -> Option<u64> {
    let v = rec.headers.get(DELETE_AT)?.trim();
    if let Ok(n) = v.parse::<u64>() {
        return Some(n);
    }
    let f = v.parse::<f64>().ok()?;
    (f.is_finite() && f >= 0.0 && f < u64::MAX as f64).then_some(f as u64)
}

/// Index key of an object due at `at`.
fn index_key(at: u64, cid: &str, key: &str) -> Vec<u8> {
    let mut k = at.to_be_bytes().to_vec();
    k.extend_from_slice(cid.as_bytes());
    k.extend_from_slice(&keys::encode(key));
    k
}

/// One expiry index entry: the object `key` of `container` (id `cid`), due at `at`.
#[derive(Clone, Copy)]
struct Due<'a> {
    container: &'a str,
    cid: &'a str,
    key: &'a str,
    at: u64,
}

/// What one expirer pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ExpiryPass {
    /// Objects deleted.
    pub deleted: u64,
    /// Stale index entries dropped (object gone, replaced or its delete-at changed).
    pub stale: u64,
}

impl Store {
    /// Records `rec` in the expiry index if it carries `x-delete-at`.
    pub(crate) fn index_expiry(
        &self,
        tx: &mut Tx<'_, '_, '_>,
        container: &str,
        cid: &str,
        rec: &ObjectRecord,
    ) -> Result<()> {
        self.put_expiry(tx.dir, container, cid, rec)
    }

    /// [`Store::index_expiry`] in a transaction of its own (tests make stale entries with it).
    #[cfg(test)]
    pub(crate) fn index_expiry_now(
        &self,
        container: &str,
        cid: &str,
        rec: &ObjectRecord,
    ) -> Result<()> {
        let mut txn = self.dir.env.write_txn()?;
        self.put_expiry(&mut txn, container, cid, rec)?;
        txn.commit()?;
        Ok(())
    }

    fn put_expiry(
        &self,
        txn: &mut heed::RwTxn,
        container: &str,
        cid: &str,
        rec: &ObjectRecord,
    ) -> Result<()> {
        let Some(at) = delete_at(rec) else {
            return Ok(());
        };
        let entry = ExpiryEntry {
            v: 1,
            container: container.to_string(),
            key: rec.key.clone(),
        };
        self.dir
            .expiry
            .put(txn, &index_key(at, cid, &rec.key), &encode_record(&entry)?)?;
        Ok(())
    }

    /// Drops the index entry of `old` unless `new` (the record now current) has the same
    /// delete-at.
    pub(crate) fn unindex_expiry(
        &self,
        tx: &mut Tx<'_, '_, '_>,
        cid: &str,
        old: &ObjectRecord,
        new: Option<&ObjectRecord>,
    ) -> Result<()> {
        let Some(at) = delete_at(old) else {
            return Ok(());
        };
        if new.and_then(delete_at) == Some(at) {
            return Ok(());
        }
        self.dir
            .expiry
            .delete(tx.dir, &index_key(at, cid, &old.key))?;
        Ok(())
    }

    /// Number of entries in the expiry index.
    pub fn expiry_len(&self) -> Result<u64> {
        let txn = self.dir.env.read_txn()?;
        Ok(self.dir.expiry.len(&txn)?)
    }

    /// Deletes (like `delete_object`: chunks to GC) up to one batch of objects whose
    /// `x-delete-at` is at or before `now_secs`, and drops stale index entries.
    pub fn expire_due(&self, now_secs: u64) -> Result<ExpiryPass> {
        let due: Vec<(Vec<u8>, u64, String, ExpiryEntry)> = {
            let txn = self.dir.env.read_txn()?;
            let end = now_secs.saturating_add(1).to_be_bytes();
            let mut out = Vec::new();
            for item in self.dir.expiry.iter(&txn)? {
                let (k, v) = item?;
                if k.len() < 8 + CID_LEN {
                    tracing::warn!("ignoring a malformed expiry index key");
                    continue;
                }
                if k[..8] >= end[..] || out.len() >= BATCH {
                    break;
                }
                let mut at = [0u8; 8];
                at.copy_from_slice(&k[..8]);
                let cid = String::from_utf8_lossy(&k[8..8 + CID_LEN]).into_owned();
                let entry: ExpiryEntry = decode_record(v)?;
                out.push((k.to_vec(), u64::from_be_bytes(at), cid, entry));
            }
            out
        };
        let mut pass = ExpiryPass::default();
        for (_, at, cid, entry) in due {
            let command = Command::Expire {
                container: entry.container.clone(),
                cid,
                key: entry.key.clone(),
                at,
                gc_due_ms: self.gc_due_ms(),
            };
            match self.apply(command).and_then(|o| outcome!(o, Expired)) {
                Ok(one) => {
                    pass.deleted += one.deleted;
                    pass.stale += one.stale;
                }
                Err(e) => {
                    tracing::warn!(container = ?entry.container, key = ?entry.key, error = %e,
                        "expiring an object failed; will retry");
                }
            }
        }
        if pass.deleted > 0 || pass.stale > 0 {
            tracing::info!(deleted = pass.deleted, stale = pass.stale, "expirer pass");
        }
        Ok(pass)
    }

    /// Deletes the object of one index entry if its current record is still due at `at`
    /// (else the entry is stale), then drops the entry.
    pub(super) fn apply_expire(
        &self,
        tx: &mut Tx<'_, '_, '_>,
        container: &str,
        cid: &str,
        key: &str,
        at: u64,
        gc_due_ms: u64,
    ) -> Result<ExpiryPass> {
        let deleted = self.expire_one(
            tx,
            &Due {
                container,
                cid,
                key,
                at,
            },
            gc_due_ms,
        )?;
        self.dir.expiry.delete(tx.dir, &index_key(at, cid, key))?;
        Ok(ExpiryPass {
            deleted: u64::from(deleted),
            stale: u64::from(!deleted),
        })
    }

    /// Deletes the current version of the entry's object if it is still due at the entry's
    /// time; `Ok(false)` when the index entry is stale.
    fn expire_one(&self, tx: &mut Tx<'_, '_, '_>, due: &Due<'_>, gc_due_ms: u64) -> Result<bool> {
        let Due {
            container,
            cid,
            key,
            at,
        } = *due;
        let r = match self.resolve_in(tx.dir, container) {
            Ok(r) => r,
            Err(Error::NoSuchContainer(_)) => return Ok(false),
            Err(e) => return Err(e),
        };
        // The container may have been deleted and re-created by another account.
        if r.cid != cid || container_id(&r.meta1.account, container) != cid {
            return Ok(false);
        }
        let lkey = keys::encode(key);
        let old = tx.meta2(&r.cid, |m2, txn| {
            let old: ObjectRecord = match m2.objects.get(txn, &lkey)? {
                Some(v) => decode(v)?,
                None => return Ok(None),
            };
            if delete_at(&old) != Some(at) {
                return Ok(None);
            }
            m2.objects.delete(txn, &lkey)?;
            m2.add_usage(txn, -1, -i128::from(old.size))?;
            Ok(Some(old))
        })?;
        let Some(old) = old else {
            return Ok(false);
        };
        tracing::debug!(container, key, "object expired");
        self.apply_queue_gc(tx, replaced_copies(&old, None), gc_due_ms)?;
        Ok(true)
    }
}
