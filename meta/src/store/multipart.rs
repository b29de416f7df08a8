//! Multipart uploads (meta2 `uploads` and `parts` databases): create, put/list parts, complete
//! into an object (S3 rules: ascending parts, matching ETags, 5 MiB minimum but for the last
//! part, ETag = MD5 of the parts' binary MD5s + "-N"), abort, and list uploads.

use super::batch::Tx;
use super::command::Clock;
use super::command::{Command, outcome};
use super::meta2::{Meta2, part_key, part_prefix};
use super::objects::check_key;
use super::records::{decode, encode};
use super::versions;
use super::{Store, check_name};
use crate::ids;
use heed::{RoTxn, RwTxn};
use md5::{Digest, Md5};
use meta_api::encryption::Encryption;
use meta_api::error::{Error, Result};
use meta_api::listing::{Last, Offer, Rollup};
use meta_api::wire::{
    ChunkCopy, ChunkRecord, CompleteRequest, ListPartsReply, ListUploadsReply, ListUploadsRequest,
    ObjectRecord, PartRecord, UploadRecord,
};
use std::collections::BTreeMap;

/// Smallest size of every part but the last.
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
/// Largest part number.
pub const MAX_PART_NUMBER: u32 = 10_000;

fn get_upload(env: &Meta2, txn: &RoTxn, upload_id: &str) -> Result<UploadRecord> {
    match env.uploads.get(txn, upload_id.as_bytes())? {
        Some(v) => decode(v),
        None => Err(Error::NoSuchUpload(upload_id.to_string())),
    }
}

/// All parts of an upload, by part number.
fn all_parts(env: &Meta2, txn: &RoTxn, upload_id: &str) -> Result<BTreeMap<u32, PartRecord>> {
    let mut out = BTreeMap::new();
    for item in env.parts.prefix_iter(txn, &part_prefix(upload_id))? {
        let (_, v) = item?;
        let p: PartRecord = decode(v)?;
        out.insert(p.part_number, p);
    }
    Ok(out)
}

/// Deletes an upload and its parts; returns the parts.
fn remove_upload(
    env: &Meta2,
    txn: &mut RwTxn,
    upload_id: &str,
) -> Result<BTreeMap<u32, PartRecord>> {
    let parts = all_parts(env, txn, upload_id)?;
    for n in parts.keys() {
        env.parts.delete(txn, &part_key(upload_id, *n))?;
    }
    env.uploads.delete(txn, upload_id.as_bytes())?;
    Ok(parts)
}

fn copies_of(chunks: &[ChunkRecord]) -> impl Iterator<Item = ChunkCopy> + '_ {
    chunks.iter().flat_map(|c| c.copies.iter().cloned())
}

fn strip_quotes(etag: &str) -> &str {
    etag.trim().trim_matches('"')
}

/// Builds the object of a completed upload from the chosen parts (checked against S3 rules).
fn assemble(
    upload: &UploadRecord,
    parts: &BTreeMap<u32, PartRecord>,
    req: &CompleteRequest,
    content_id: &str,
    now_ms: i64,
) -> Result<ObjectRecord> {
    if req.parts.is_empty() {
        return Err(Error::InvalidArgument(
            "a multipart upload needs at least one part".to_string(),
        ));
    }
    if req
        .parts
        .windows(2)
        .any(|w| w[0].part_number >= w[1].part_number)
    {
        return Err(Error::InvalidPartOrder);
    }
    let mut chosen = Vec::with_capacity(req.parts.len());
    for cp in &req.parts {
        let part = parts
            .get(&cp.part_number)
            .filter(|p| strip_quotes(&cp.etag).eq_ignore_ascii_case(strip_quotes(&p.etag)))
            .ok_or_else(|| Error::InvalidPart(cp.part_number.to_string()))?;
        chosen.push(part);
    }
    let last = chosen.len() - 1;
    for (i, p) in chosen.iter().enumerate() {
        if i < last && p.size < MIN_PART_SIZE {
            return Err(Error::EntityTooSmall(p.part_number));
        }
    }
    let mut md5 = Md5::new();
    let mut chunks = Vec::new();
    let mut sizes = Vec::with_capacity(chosen.len());
    let mut keys = Vec::new();
    // Offset of the next part's chunks: the bytes stored so far (for an encrypted part, its
    // segments with their tags, more than its plaintext `size`).
    let mut start = 0u64;
    let mut plain = 0u64;
    for p in &chosen {
        match (&upload.encryption, &p.key) {
            (Some(e), Some(key)) if key.mode() == e.mode => keys.push(key.clone()),
            (None, None) => {}
            _ => {
                return Err(Error::InvalidArgument(format!(
                    "part {} is not encrypted as its upload is",
                    p.part_number
                )));
            }
        }
        let digest = hex::decode(strip_quotes(&p.etag))
            .map_err(|_| Error::InvalidPart(p.part_number.to_string()))?;
        md5.update(&digest);
        let mut own: Vec<&ChunkRecord> = p.chunks.iter().collect();
        own.sort_by_key(|c| c.pos);
        for c in own {
            let pos = u32::try_from(chunks.len())
                .map_err(|_| Error::InvalidArgument("too many chunks".to_string()))?;
            chunks.push(ChunkRecord {
                pos,
                offset: start + c.offset,
                size: c.size,
                hash: c.hash.clone(),
                copies: c.copies.clone(),
                ec: c.ec,
                inline: c.inline.clone(),
            });
        }
        sizes.push(p.size);
        plain += p.size;
        start += if p.key.is_some() {
            p.chunks.iter().map(|c| c.size).sum()
        } else {
            p.size
        };
    }
    let encryption = upload
        .encryption
        .as_ref()
        .map(|e| Encryption { keys, ..e.clone() });
    Ok(ObjectRecord {
        key: upload.key.clone(),
        version_id: "null".to_string(),
        content_id: content_id.to_string(),
        size: plain,
        etag: format!("{}-{}", hex::encode(md5.finalize()), chosen.len()),
        mtime_ms: now_ms,
        content_type: upload.content_type.clone(),
        headers: upload.headers.clone(),
        user_meta: upload.user_meta.clone(),
        checksums: req.checksums.clone(),
        policy: upload.policy.clone(),
        parts: sizes,
        chunks,
        delete_marker: false,
        props: upload.props.clone(),
        encryption,
    })
}

impl Store {
    /// Records a new multipart upload under the id the caller chose (see [`ids::new_upload_id`]).
    pub fn create_upload(&self, container: &str, rec: &UploadRecord) -> Result<()> {
        let command = Command::CreateUpload {
            container: container.to_string(),
            record: Box::new(rec.clone()),
        };
        outcome!(self.apply(command)?, Done)
    }

    pub(super) fn apply_create_upload(
        &self,
        tx: &mut Tx<'_, '_, '_>,
        container: &str,
        rec: &UploadRecord,
    ) -> Result<()> {
        check_key(&rec.key)?;
        check_name("upload id", &rec.upload_id, 128)?;
        let r = self.resolve_in(tx.dir, container)?;
        tx.meta2(&r.cid, |m2, txn| {
            if m2.uploads.get(txn, rec.upload_id.as_bytes())?.is_some() {
                return Err(Error::InvalidArgument(format!(
                    "upload {} already exists",
                    rec.upload_id
                )));
            }
            m2.uploads
                .put(txn, rec.upload_id.as_bytes(), &encode(rec)?)?;
            Ok(())
        })?;
        tracing::debug!(container, key = ?rec.key, upload = %rec.upload_id, "upload created");
        Ok(())
    }

    /// One upload (`NoSuchUpload`).
    pub fn get_upload(&self, container: &str, upload_id: &str) -> Result<UploadRecord> {
        let r = self.resolve(container)?;
        let txn = r.env.env.read_txn()?;
        get_upload(&r.env, &txn, upload_id)
    }

    /// Stores (or replaces) one part; the replaced part's chunks go to GC.
    pub fn put_part(&self, container: &str, upload_id: &str, part: &PartRecord) -> Result<()> {
        self.put_part_wanting(container, upload_id, part, 0)
    }

    /// [`Store::put_part`]; chunks stored with fewer than `pieces_wanted` pieces (when not 0)
    /// are queued for repair.
    pub fn put_part_wanting(
        &self,
        container: &str,
        upload_id: &str,
        part: &PartRecord,
        pieces_wanted: u32,
    ) -> Result<()> {
        let command = Command::PutPart {
            container: container.to_string(),
            upload_id: upload_id.to_string(),
            part: part.clone(),
            gc_due_ms: self.gc_due_ms(),
            pieces_wanted,
            now_ms: ids::now_ms(),
        };
        outcome!(self.apply(command)?, Done)
    }

    pub(super) fn apply_put_part(
        &self,
        tx: &mut Tx<'_, '_, '_>,
        container: &str,
        upload_id: &str,
        part: &PartRecord,
        clock: Clock,
        pieces_wanted: u32,
    ) -> Result<()> {
        let Clock { now_ms, gc_due_ms } = clock;
        if part.part_number == 0 || part.part_number > MAX_PART_NUMBER {
            return Err(Error::InvalidArgument(format!(
                "part number {} is not in 1..={MAX_PART_NUMBER}",
                part.part_number
            )));
        }
        let r = self.resolve_in(tx.dir, container)?;
        let value = encode(part)?;
        let k = part_key(upload_id, part.part_number);
        let (old, key, policy): (Option<PartRecord>, String, String) =
            tx.meta2(&r.cid, |m2, txn| {
                let upload = get_upload(m2, txn, upload_id)?;
                let old = match m2.parts.get(txn, &k)? {
                    Some(v) => Some(decode(v)?),
                    None => None,
                };
                m2.parts.put(txn, &k, &value)?;
                Ok((old, upload.key, upload.policy))
            })?;
        let owner = super::rdir::Owner {
            container,
            key: &key,
            upload: Some(upload_id),
            policy: &policy,
        };
        self.rdir_add(tx.dir, &owner, &part.chunks)?;
        self.queue_short(tx.dir, &part.chunks, pieces_wanted, now_ms)?;
        let garbage = old
            .map(|o| {
                let keep: Vec<ChunkCopy> = copies_of(&part.chunks).collect();
                copies_of(&o.chunks)
                    .filter(|c| !keep.contains(c))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        self.apply_queue_gc(tx, garbage, gc_due_ms)
    }

    /// Parts numbered above `marker`, at most `max_parts` (0 → 1000, capped at 1000).
    pub fn list_parts(
        &self,
        container: &str,
        upload_id: &str,
        marker: Option<u32>,
        max_parts: u32,
    ) -> Result<ListPartsReply> {
        let max = super::listing::page_size(max_parts);
        let r = self.resolve(container)?;
        let txn = r.env.env.read_txn()?;
        get_upload(&r.env, &txn, upload_id)?;
        let mut reply = ListPartsReply::default();
        for item in r.env.parts.prefix_iter(&txn, &part_prefix(upload_id))? {
            let (_, v) = item?;
            let p: PartRecord = decode(v)?;
            if marker.is_some_and(|m| p.part_number <= m) {
                continue;
            }
            if reply.parts.len() >= max {
                reply.truncated = true;
                break;
            }
            reply.next_part_number_marker = Some(p.part_number);
            reply.parts.push(p);
        }
        Ok(reply)
    }

    /// Completes an upload: the object replaces any current one under the key; unused parts
    /// and the replaced content go to GC.
    pub fn complete_upload(
        &self,
        container: &str,
        upload_id: &str,
        req: &CompleteRequest,
    ) -> Result<ObjectRecord> {
        let command = Command::CompleteUpload {
            container: container.to_string(),
            upload_id: upload_id.to_string(),
            request: req.clone(),
            content_id: ids::new_content_id(),
            now_ms: ids::now_ms(),
            gc_due_ms: self.gc_due_ms(),
        };
        outcome!(self.apply(command)?, Object)
    }

    pub(super) fn apply_complete_upload(
        &self,
        tx: &mut Tx<'_, '_, '_>,
        container: &str,
        upload_id: &str,
        req: CompleteRequest,
        content_id: String,
        clock: Clock,
    ) -> Result<ObjectRecord> {
        let Clock { now_ms, gc_due_ms } = clock;
        let r = self.resolve_in(tx.dir, container)?;
        let props = r.meta1.settings.props.clone();
        let (rec, garbage, old) = tx.meta2_within_quota(&r.cid, |m2, txn| {
            let upload = get_upload(m2, txn, upload_id)?;
            let parts = all_parts(m2, txn, upload_id)?;
            let mut rec = assemble(&upload, &parts, &req, &content_id, now_ms)?;
            meta_api::lock::apply_default(&props, &mut rec, now_ms);
            let written = versions::put(m2, txn, &mut rec, &req.condition, now_ms)?;
            let (mut garbage, old) = (written.garbage, written.replaced);
            let used: std::collections::HashSet<u32> =
                req.parts.iter().map(|p| p.part_number).collect();
            for (n, p) in remove_upload(m2, txn, upload_id)? {
                if !used.contains(&n) {
                    garbage.extend(copies_of(&p.chunks));
                }
            }
            Ok((rec, garbage, old))
        })?;
        tracing::debug!(container, key = ?rec.key, upload = upload_id, size = rec.size, "upload completed");
        // The directory's changes commit with the batch, after the record: index entries
        // and GC entries go in together.
        self.index_expiry(tx, container, &r.cid, &rec)?;
        if let Some(o) = &old {
            self.unindex_expiry(tx, &r.cid, o, Some(&rec))?;
        }
        let owner = super::rdir::Owner {
            container,
            key: &rec.key,
            upload: None,
            policy: &rec.policy,
        };
        self.rdir_add(tx.dir, &owner, &rec.chunks)?;
        self.apply_queue_gc(tx, garbage, gc_due_ms)?;
        Ok(rec)
    }

    /// Aborts an upload; its parts' chunks go to GC.
    pub fn abort_upload(&self, container: &str, upload_id: &str) -> Result<()> {
        let command = Command::AbortUpload {
            container: container.to_string(),
            upload_id: upload_id.to_string(),
            gc_due_ms: self.gc_due_ms(),
        };
        outcome!(self.apply(command)?, Done)
    }

    pub(super) fn apply_abort_upload(
        &self,
        tx: &mut Tx<'_, '_, '_>,
        container: &str,
        upload_id: &str,
        gc_due_ms: u64,
    ) -> Result<()> {
        let r = self.resolve_in(tx.dir, container)?;
        let garbage: Vec<ChunkCopy> = tx.meta2(&r.cid, |m2, txn| {
            get_upload(m2, txn, upload_id)?;
            let parts = remove_upload(m2, txn, upload_id)?;
            Ok(parts.values().flat_map(|p| copies_of(&p.chunks)).collect())
        })?;
        tracing::debug!(container, upload = upload_id, "upload aborted");
        self.apply_queue_gc(tx, garbage, gc_due_ms)
    }

    /// Lists uploads sorted by (key, initiated, upload id), with prefix, delimiter and markers.
    /// In-progress uploads are few, so they are read and sorted in memory.
    pub fn list_uploads(
        &self,
        container: &str,
        req: &ListUploadsRequest,
    ) -> Result<ListUploadsReply> {
        let max = super::listing::page_size(req.max_uploads);
        let r = self.resolve(container)?;
        let mut all: Vec<UploadRecord> = {
            let txn = r.env.env.read_txn()?;
            let mut v = Vec::new();
            for item in r.env.uploads.iter(&txn)? {
                let (_, val) = item?;
                let u: UploadRecord = decode(val)?;
                if u.key.starts_with(&req.prefix) {
                    v.push(u);
                }
            }
            v
        };
        all.sort_by(|a, b| {
            (a.key.as_str(), a.initiated_ms, a.upload_id.as_str()).cmp(&(
                b.key.as_str(),
                b.initiated_ms,
                b.upload_id.as_str(),
            ))
        });
        // Position of the upload-id marker, when it names a listed upload of the key marker.
        let id_marker = match (&req.key_marker, &req.upload_id_marker) {
            (Some(k), Some(id)) => all
                .iter()
                .find(|u| &u.key == k && &u.upload_id == id)
                .map(|u| (u.initiated_ms, u.upload_id.clone())),
            _ => None,
        };
        let mut page = Rollup::new(
            &req.prefix,
            req.delimiter.as_deref(),
            req.key_marker.as_deref(),
            max,
        );
        for u in all {
            if let Some(km) = req.key_marker.as_deref() {
                let after = match u.key.as_str().cmp(km) {
                    std::cmp::Ordering::Greater => true,
                    std::cmp::Ordering::Less => false,
                    std::cmp::Ordering::Equal => match (&req.upload_id_marker, &id_marker) {
                        (Some(_), Some(m)) => {
                            (u.initiated_ms, u.upload_id.as_str()) > (m.0, m.1.as_str())
                        }
                        (Some(id), None) => u.upload_id.as_str() > id.as_str(),
                        (None, _) => false,
                    },
                };
                if !after {
                    continue;
                }
            }
            let key = u.key.clone();
            if page.offer(&key, || u) == Offer::Full {
                break;
            }
        }
        let (next_key_marker, next_upload_id_marker) = match page.last() {
            Some(Last::Prefix(p)) if page.truncated => (Some(p.to_string()), None),
            Some(Last::Item(u)) if page.truncated => {
                (Some(u.key.clone()), Some(u.upload_id.clone()))
            }
            _ => (None, None),
        };
        Ok(ListUploadsReply {
            next_key_marker,
            next_upload_id_marker,
            truncated: page.truncated,
            uploads: page.items,
            common_prefixes: page.common_prefixes,
        })
    }
}
