//! Objects of a container: put (with preconditions), get, delete, versioning state and version
//! listings, each one meta2 transaction (the logic is in `versions.rs`). Chunks no longer
//! referenced are queued for GC after the meta2 commit (a crash in between leaks chunks, never
//! loses data).

use super::Store;
use super::batch::Tx;
use super::command::Clock;
use super::command::{Command, outcome};
use super::versions;
use crate::ids;
use meta_api::error::{Error, Result};
use meta_api::settings::VersionChange;
use meta_api::wire::{
    ChunkCopy, DeleteOutcome, ObjectRecord, PutCondition, Stored, VersionListReply,
    VersionListRequest, Versioning,
};

/// Longest object key accepted.
pub const MAX_KEY_BYTES: usize = 16 * 1024;

pub(crate) fn check_key(key: &str) -> Result<()> {
    if key.is_empty() {
        return Err(Error::InvalidArgument("object key is empty".to_string()));
    }
    if key.contains('\0') {
        return Err(Error::InvalidArgument(
            "object key contains a NUL byte".to_string(),
        ));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(Error::InvalidArgument(format!(
            "object key is longer than {MAX_KEY_BYTES} bytes"
        )));
    }
    Ok(())
}

impl Store {
    /// Makes `rec` the current object under `rec.key` (unconditionally); see
    /// [`Store::put_object_if`].
    pub fn put_object(&self, container: &str, rec: &ObjectRecord) -> Result<Stored> {
        self.put_object_if(container, rec, &PutCondition::default())
    }

    /// Makes `rec` the current version of `rec.key` if `cond` holds, assigning its version id.
    /// Chunks no version references any more go to GC.
    pub fn put_object_if(
        &self,
        container: &str,
        rec: &ObjectRecord,
        cond: &PutCondition,
    ) -> Result<Stored> {
        self.put_object_wanting(container, rec, cond, 0)
    }

    /// [`Store::put_object_if`]; chunks stored with fewer than `pieces_wanted` pieces (when
    /// not 0) are queued for repair.
    pub fn put_object_wanting(
        &self,
        container: &str,
        rec: &ObjectRecord,
        cond: &PutCondition,
        pieces_wanted: u32,
    ) -> Result<Stored> {
        let command = Command::PutObject {
            container: container.to_string(),
            record: Box::new(rec.clone()),
            condition: cond.clone(),
            now_ms: ids::now_ms(),
            gc_due_ms: self.gc_due_ms(),
            pieces_wanted,
        };
        outcome!(self.apply(command)?, Stored)
    }

    pub(super) fn apply_put_object(
        &self,
        tx: &mut Tx<'_, '_, '_>,
        container: &str,
        mut rec: ObjectRecord,
        cond: PutCondition,
        clock: Clock,
        pieces_wanted: u32,
    ) -> Result<Stored> {
        let Clock { now_ms, gc_due_ms } = clock;
        check_key(&rec.key)?;
        let r = self.resolve_in(tx.dir, container)?;
        self.index_expiry(tx, container, &r.cid, &rec)?;
        meta_api::lock::apply_default(&r.meta1.settings.props, &mut rec, now_ms);
        let (rec, written) = tx.meta2_within_quota(&r.cid, |m2, txn| {
            let written = versions::put(m2, txn, &mut rec, &cond, now_ms)?;
            Ok((rec, written))
        })?;
        tracing::debug!(container, key = ?rec.key, version = %rec.version_id, size = rec.size, "object stored");
        if let Some(o) = &written.replaced {
            self.unindex_expiry(tx, &r.cid, o, Some(&rec))?;
        }
        let owner = super::rdir::Owner {
            container,
            key: &rec.key,
            upload: None,
            policy: &rec.policy,
        };
        self.rdir_add(tx.dir, &owner, &rec.chunks)?;
        self.queue_short(tx.dir, &rec.chunks, pieces_wanted, now_ms)?;
        self.apply_queue_gc(tx, written.garbage, gc_due_ms)?;
        Ok(Stored {
            version_id: rec.version_id,
        })
    }

    /// A gateway gave up on writing content `content_id` under `key` (the answer to its
    /// commit was lost): the id of the version holding it if meta recorded it after all;
    /// otherwise that commit is refused from now on and `chunks` go to GC (`None`). A crash
    /// between the two steps leaves the chunks unreferenced, never a record without them.
    pub fn abandon_write(
        &self,
        container: &str,
        key: &str,
        content_id: &str,
        chunks: &[ChunkCopy],
    ) -> Result<Option<String>> {
        let command = Command::AbandonWrite {
            container: container.to_string(),
            key: key.to_string(),
            content_id: content_id.to_string(),
            chunks: chunks.to_vec(),
            now_ms: ids::now_ms(),
            gc_due_ms: self.gc_due_ms(),
        };
        outcome!(self.apply(command)?, Abandoned)
    }

    pub(super) fn apply_abandon_write(
        &self,
        tx: &mut Tx<'_, '_, '_>,
        container: &str,
        key: &str,
        content_id: &str,
        chunks: &[ChunkCopy],
        clock: Clock,
    ) -> Result<Option<String>> {
        let Clock {
            now_ms: now,
            gc_due_ms,
        } = clock;
        check_key(key)?;
        if content_id.is_empty() {
            return Err(Error::InvalidArgument("content id is empty".to_string()));
        }
        let r = self.resolve_in(tx.dir, container)?;
        let held = tx.meta2(&r.cid, |m2, txn| {
            versions::abandon(m2, txn, key, content_id, now)
        })?;
        match &held {
            Some(v) => tracing::info!(container, key, version = %v, "abandoned write was recorded"),
            None => {
                tracing::info!(container, key, content_id, "write abandoned, chunks to GC");
                self.apply_queue_gc(tx, chunks.to_vec(), gc_due_ms)?;
            }
        }
        Ok(held)
    }

    /// The current object under `key` (`NoSuchObject`).
    pub fn get_object(&self, container: &str, key: &str) -> Result<ObjectRecord> {
        self.get_object_version(container, key, None)
    }

    /// The current version of `key`, or the version named (`NoSuchVersion`); delete markers
    /// are returned as records with `delete_marker` set.
    pub fn get_object_version(
        &self,
        container: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<ObjectRecord> {
        let r = self.resolve(container)?;
        let txn = r.env.env.read_txn()?;
        versions::get(&r.env, &txn, key, version_id)
    }

    /// True when the newest version of `key` is a delete marker.
    pub fn latest_is_delete_marker(&self, container: &str, key: &str) -> Result<bool> {
        let r = self.resolve(container)?;
        let txn = r.env.env.read_txn()?;
        versions::latest_is_marker(&r.env, &txn, key)
    }

    /// Deletes the object under `key` (in a versioned container: adds a delete marker),
    /// returning the removed current record, if any.
    pub fn delete_object(&self, container: &str, key: &str) -> Result<Option<ObjectRecord>> {
        Ok(self.delete_version(container, key, None, false)?.removed)
    }

    /// Deletes `key` or one version of it; removed content's chunks go to GC. A version under
    /// object lock is refused (`ObjectLocked`; see [`meta_api::lock`]).
    pub fn delete_version(
        &self,
        container: &str,
        key: &str,
        version_id: Option<&str>,
        bypass_governance: bool,
    ) -> Result<DeleteOutcome> {
        let command = Command::DeleteVersion {
            container: container.to_string(),
            key: key.to_string(),
            version_id: version_id.map(str::to_string),
            bypass_governance,
            now_ms: ids::now_ms(),
            gc_due_ms: self.gc_due_ms(),
        };
        outcome!(self.apply(command)?, Deleted)
    }

    pub(super) fn apply_delete_version(
        &self,
        tx: &mut Tx<'_, '_, '_>,
        container: &str,
        key: &str,
        v: Option<String>,
        bypass_governance: bool,
        clock: Clock,
    ) -> Result<DeleteOutcome> {
        let Clock { now_ms, gc_due_ms } = clock;
        let r = self.resolve_in(tx.dir, container)?;
        // The current record before and after the delete, read in the delete's own
        // transaction, tell whether the expiry index must change.
        let (before, (outcome, garbage), after) = tx.meta2(&r.cid, |m2, txn| {
            let before = versions::get(m2, txn, key, None).ok();
            let done = versions::delete(m2, txn, key, v.as_deref(), now_ms, bypass_governance)?;
            let after = match before {
                Some(_) => versions::get(m2, txn, key, None).ok(),
                None => None,
            };
            Ok((before, done, after))
        })?;
        tracing::debug!(container, key, version = ?outcome.version_id, marker = outcome.delete_marker, "object deleted");
        if let Some(o) = &before
            && after.as_ref().map(|a| &a.version_id) != Some(&o.version_id)
        {
            self.unindex_expiry(tx, &r.cid, o, after.as_ref())?;
        }
        self.apply_queue_gc(tx, garbage, gc_due_ms)?;
        Ok(outcome)
    }

    /// Changes a version's properties in place (S3 tags, ACL, object lock); returns the
    /// updated record.
    pub fn change_object_props(
        &self,
        container: &str,
        key: &str,
        version_id: Option<&str>,
        changes: Vec<VersionChange>,
        bypass_governance: bool,
    ) -> Result<ObjectRecord> {
        let command = Command::ChangeObjectProps {
            container: container.to_string(),
            key: key.to_string(),
            version_id: version_id.map(str::to_string),
            changes,
            bypass_governance,
            now_ms: ids::now_ms(),
        };
        outcome!(self.apply(command)?, Object)
    }

    /// Sets then removes version properties named as in the string map they were before they
    /// were typed: the requests of older gateways.
    pub fn update_object_props(
        &self,
        container: &str,
        key: &str,
        version_id: Option<&str>,
        set: &std::collections::BTreeMap<String, String>,
        remove: &[String],
        bypass_governance: bool,
    ) -> Result<ObjectRecord> {
        let command = Command::UpdateObjectProps {
            container: container.to_string(),
            key: key.to_string(),
            version_id: version_id.map(str::to_string),
            set: set.clone(),
            remove: remove.to_vec(),
            bypass_governance,
            now_ms: ids::now_ms(),
        };
        outcome!(self.apply(command)?, Object)
    }

    pub(super) fn apply_update_object_props(
        &self,
        tx: &mut Tx<'_, '_, '_>,
        container: &str,
        key: &str,
        version_id: Option<&str>,
        change: &versions::PropChange<'_>,
    ) -> Result<ObjectRecord> {
        let r = self.resolve_in(tx.dir, container)?;
        tx.meta2(&r.cid, |m2, txn| {
            versions::update_props(m2, txn, key, version_id, change)
        })
    }

    /// Sets the versioning state of a container.
    pub fn set_versioning(&self, container: &str, state: Versioning) -> Result<()> {
        let command = Command::SetVersioning {
            name: container.to_string(),
            state,
            now_ms: ids::now_ms(),
        };
        outcome!(self.apply(command)?, Done)
    }

    pub(super) fn apply_set_versioning(
        &self,
        tx: &mut Tx<'_, '_, '_>,
        container: &str,
        state: Versioning,
        now_ms: i64,
    ) -> Result<()> {
        let r = self.resolve_in(tx.dir, container)?;
        tx.meta2(&r.cid, |m2, txn| {
            versions::set_state(m2, txn, state, now_ms)
        })?;
        tracing::info!(container, ?state, "versioning set");
        Ok(())
    }

    /// The versioning state of a container.
    pub fn get_versioning(&self, container: &str) -> Result<Versioning> {
        let r = self.resolve(container)?;
        let txn = r.env.env.read_txn()?;
        versions::state(&r.env, &txn)
    }

    /// ListObjectVersions.
    pub fn list_versions(
        &self,
        container: &str,
        req: &VersionListRequest,
    ) -> Result<VersionListReply> {
        let r = self.resolve(container)?;
        let txn = r.env.env.read_txn()?;
        versions::list(&r.env, &txn, req)
    }
}
