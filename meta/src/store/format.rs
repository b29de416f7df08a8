//! Format numbers of the store's layouts (which databases exist, how keys are built, which
//! indexes are complete), one per kind of environment, kept in the environment itself and
//! checked when it opens:
//!
//! - a format newer than this binary knows is refused with one line naming both numbers;
//! - an older one is migrated at open, in the open's own write transaction, step by step, and
//!   the new number is written in that same transaction (a crash leaves the old format, and the
//!   migration runs again). Layouts migrate at open because they concern whole databases;
//!   record values migrate lazily, one record at a time ([`super::records`]).
//!
//! Directory (`settings["format"]`):
//! - 1: before format numbers. GC entries queued before due times existed have an empty value
//!   and no `gc_due` entry.
//! - 2: every GC entry is dated and indexed in `gc_due` (1 → 2 dates the old ones "due now").
//! - 3: the reverse index (`rdir`) holds every chunk copy of every record (2 → 3 builds it
//!   from every container's records, at open).
//! - 4: `quotas`, and `account_usage` holds every account's usage counter (3 → 4 sums it
//!   from every container's meta2 counter, at open; see [`super::quotas`]); `requests` and
//!   `requests_at` (empty before: [`super::dedupe`]).
//! - 5: meta1 records may be at version 2, their settings typed (`meta_api::settings`).
//!   Nothing is rewritten at open: version-1 records are upgraded as they are read
//!   ([`super::records`]); the number only keeps a binary that knows 4 from opening it.
//!
//! meta2 (`props["format"]`):
//! - 1: the layout described in [`super::meta2`]; environments from before format numbers are
//!   format 1 too, and get the number written when they are next opened.
//! - 2: object and upload records may be at version 2, their properties typed
//!   (`meta_api::settings::VersionProps`). Nothing is rewritten at open (version-1 records are
//!   upgraded as they are read); the number keeps a binary that knows 1 from opening it.
//!
//! Changing a layout: bump the number here, describe it above, add its step to the migration
//! of that environment (and a test that opens the previous layout).

use super::lmdb::Db;
use heed::{RoTxn, RwTxn};
use meta_api::error::{Error, Result};
use std::path::Path;

/// Key of the format number (u32 BE) in the directory's `settings` and meta2's `props`.
pub const KEY: &[u8] = b"format";
/// The directory layout this binary writes.
pub const DIRECTORY: u32 = 5;
/// The meta2 layout this binary writes.
pub const META2: u32 = 2;

/// The format number stored in `db`, if any.
pub fn stored(db: &Db, txn: &RoTxn) -> Result<Option<u32>> {
    match db.get(txn, KEY)? {
        None => Ok(None),
        Some(b) => <[u8; 4]>::try_from(b)
            .map(|a| Some(u32::from_be_bytes(a)))
            .map_err(|_| Error::Db(format!("the format number is {} bytes, not 4", b.len()))),
    }
}

/// Writes the format number.
pub fn write(db: &Db, txn: &mut RwTxn, format: u32) -> Result<()> {
    db.put(txn, KEY, &format.to_be_bytes())?;
    Ok(())
}

/// Refuses a format newer than `known`.
pub fn check_not_newer(what: &str, path: &Path, found: u32, known: u32) -> Result<()> {
    if found > known {
        return Err(Error::Db(format!(
            "{what} at {} has format {found}, but this binary knows formats up to {known}: \
             run a newer Spread",
            path.display()
        )));
    }
    Ok(())
}
