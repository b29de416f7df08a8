//! Object versions, as OpenIO's meta2 keeps them: the `objects` database holds the current
//! version of each key (what GET and listings see) and, once a container has had versioning
//! enabled, the `versions` database holds every version — current, noncurrent and delete
//! markers — under `encoded key ‖ NUL ‖ inverted sequence`, so a key's versions sit together,
//! newest first. A version id is the hex of that inverted sequence; the `null` version (written
//! while versioning is suspended, or before it was first enabled) is found by a scan of the
//! key's few versions.
//!
//! Every change is one meta2 write transaction: the preconditions, the versions entry, the
//! current entry and the usage counters move together. Usage counts current objects.

use super::gc::replaced_copies;
use super::keys;
use super::meta2::Meta2;
use super::records::{decode, encode};
use heed::{RoTxn, RwTxn};
use meta_api::error::{Error, Result};
use meta_api::listing::{Last, Offer, Rollup};
use meta_api::settings::VersionChange;
use meta_api::wire::{
    ChunkCopy, DeleteOutcome, ObjectRecord, PutCondition, VersionListReply, VersionListRequest,
    VersionSummary, Versioning,
};
use std::collections::BTreeMap;

/// `props` key of the versioning state.
const STATE_KEY: &[u8] = b"versioning";
/// `props` key of the last version sequence number handed out.
const SEQ_KEY: &[u8] = b"version-seq";
/// The id of the version written outside versioning.
pub const NULL_VERSION: &str = "null";
/// `props` key prefix of contents whose writer gave up on them (content id → ms, u64 BE).
const ABANDONED_PREFIX: &[u8] = b"abandoned\0";

fn abandoned_key(content_id: &str) -> Vec<u8> {
    [ABANDONED_PREFIX, content_id.as_bytes()].concat()
}

/// Versioning state of the container.
pub fn state(env: &Meta2, txn: &RoTxn) -> Result<Versioning> {
    Ok(match env.props.get(txn, STATE_KEY)? {
        Some(b"Enabled") => Versioning::Enabled,
        Some(b"Suspended") => Versioning::Suspended,
        _ => Versioning::Unversioned,
    })
}

/// Sets the versioning state. The first time versioning is turned on, every current object
/// becomes the `null` version in `versions`.
pub fn set_state(env: &Meta2, txn: &mut RwTxn, to: Versioning, now_ms: i64) -> Result<()> {
    let from = state(env, txn)?;
    let value: &[u8] = match to {
        Versioning::Enabled => b"Enabled",
        Versioning::Suspended => b"Suspended",
        Versioning::Unversioned if from == Versioning::Unversioned => return Ok(()),
        Versioning::Unversioned => {
            return Err(Error::InvalidArgument(
                "versioning can be suspended but not turned off once enabled".into(),
            ));
        }
    };
    if from == Versioning::Unversioned {
        let current: Vec<Vec<u8>> = {
            let mut v = Vec::new();
            for item in env.objects.iter(txn)? {
                let (_, value) = item?;
                v.push(value.to_vec());
            }
            v
        };
        for value in current {
            let rec: ObjectRecord = decode(&value)?;
            let suffix = next_suffix(env, txn, now_ms)?;
            env.versions
                .put(txn, &version_key(&keys::encode(&rec.key), &suffix), &value)?;
        }
    }
    env.props.put(txn, STATE_KEY, value)?;
    Ok(())
}

/// The next version suffix: the inverted sequence number, big-endian, so newer sorts first.
/// The sequence starts at `now_ms` in microseconds (the time of the command that first needs
/// it), so a container created again under the same name does not hand out the ids of its
/// predecessor.
fn next_suffix(env: &Meta2, txn: &mut RwTxn, now_ms: i64) -> Result<[u8; 8]> {
    let last = match env.props.get(txn, SEQ_KEY)? {
        Some(b) if b.len() == 8 => {
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            u64::from_be_bytes(a)
        }
        _ => u64::try_from(now_ms).unwrap_or(0).saturating_mul(1000),
    };
    let seq = last + 1;
    env.props.put(txn, SEQ_KEY, &seq.to_be_bytes())?;
    Ok((u64::MAX - seq).to_be_bytes())
}

fn version_key(lkey: &[u8], suffix: &[u8; 8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(lkey.len() + 9);
    k.extend_from_slice(lkey);
    k.push(0);
    k.extend_from_slice(suffix);
    k
}

fn key_prefix(lkey: &[u8]) -> Vec<u8> {
    let mut k = lkey.to_vec();
    k.push(0);
    k
}

/// The suffix a (non-null) version id names; `InvalidArgument` for a malformed id.
fn parse_version_id(id: &str) -> Result<[u8; 8]> {
    let bad = || Error::InvalidArgument(format!("invalid version id: {id}"));
    if id.len() != 16 {
        return Err(bad());
    }
    let bytes = hex::decode(id).map_err(|_| bad())?;
    let mut a = [0u8; 8];
    a.copy_from_slice(&bytes);
    Ok(a)
}

/// The versions of one key, newest first, with their LMDB keys.
pub(super) fn versions_of(
    env: &Meta2,
    txn: &RoTxn,
    key: &str,
) -> Result<Vec<(Vec<u8>, ObjectRecord)>> {
    let lkey = keys::encode(key);
    let prefix = key_prefix(&lkey);
    let mut out = Vec::new();
    for item in env.versions.prefix_iter(txn, &prefix)? {
        let (k, v) = item?;
        // A 400-byte key's prefix can also start a hashed key's entries: compare full keys.
        if k.len() != prefix.len() + 8 {
            continue;
        }
        let rec: ObjectRecord = decode(v)?;
        if rec.key == key {
            out.push((k.to_vec(), rec));
        }
    }
    Ok(out)
}

/// Finds one version of `key` by id (`null` included).
fn find_version(
    env: &Meta2,
    txn: &RoTxn,
    key: &str,
    version_id: &str,
) -> Result<Option<(Vec<u8>, ObjectRecord)>> {
    if version_id == NULL_VERSION {
        return Ok(versions_of(env, txn, key)?
            .into_iter()
            .find(|(_, r)| r.version_id == NULL_VERSION));
    }
    let vkey = version_key(&keys::encode(key), &parse_version_id(version_id)?);
    Ok(match env.versions.get(txn, &vkey)? {
        Some(v) => {
            let rec: ObjectRecord = decode(v)?;
            (rec.key == key).then_some((vkey, rec))
        }
        None => None,
    })
}

pub(super) fn current(env: &Meta2, txn: &RoTxn, lkey: &[u8]) -> Result<Option<ObjectRecord>> {
    match env.objects.get(txn, lkey)? {
        Some(v) => Ok(Some(decode(v)?)),
        None => Ok(None),
    }
}

/// Replaces the current entry of a key (`None` removes it), updating usage.
fn set_current(
    env: &Meta2,
    txn: &mut RwTxn,
    lkey: &[u8],
    old: Option<&ObjectRecord>,
    new: Option<&ObjectRecord>,
) -> Result<()> {
    match new {
        Some(n) => env.objects.put(txn, lkey, &encode(n)?)?,
        None => {
            env.objects.delete(txn, lkey)?;
        }
    }
    let objects = i64::from(new.is_some()) - i64::from(old.is_some());
    let bytes = i128::from(new.map_or(0, |n| n.size)) - i128::from(old.map_or(0, |o| o.size));
    env.add_usage(txn, objects, bytes)
}

fn check(cond: &PutCondition, cur: Option<&ObjectRecord>, key: &str) -> Result<()> {
    if cond.if_none_match_any && cur.is_some() {
        return Err(Error::PreconditionFailed(format!("{key} exists")));
    }
    if cond.if_match_any && cur.is_none() {
        return Err(Error::PreconditionFailed(format!("{key} does not exist")));
    }
    if let (Some(etag), Some(c)) = (&cond.if_none_match_etag, cur)
        && c.etag == *etag
    {
        return Err(Error::PreconditionFailed(format!("{key}: ETag matches")));
    }
    if let Some(etag) = &cond.if_match_etag {
        match cur {
            None => return Err(Error::NoSuchObject(key.to_string())),
            Some(c) if c.etag != *etag => {
                return Err(Error::PreconditionFailed(format!("{key}: ETag differs")));
            }
            Some(_) => {}
        }
    }
    if let Some(id) = &cond.if_content_id
        && cur.is_none_or(|c| c.content_id != *id)
    {
        return Err(Error::PreconditionFailed(format!(
            "{key} changed meanwhile"
        )));
    }
    Ok(())
}

/// The outcome of storing a version.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct Written {
    /// Chunks no version references any more.
    pub garbage: Vec<ChunkCopy>,
    /// The current record that was replaced.
    pub replaced: Option<ObjectRecord>,
}

/// The copies of `gone` that no remaining version of its key (nor `extra`) references: versions
/// of one key can share chunks (a Swift POST rewrites metadata over the same content).
fn unreferenced(
    env: &Meta2,
    txn: &RoTxn,
    gone: &ObjectRecord,
    extra: Option<&ObjectRecord>,
) -> Result<Vec<ChunkCopy>> {
    let mut garbage = replaced_copies(gone, extra);
    if garbage.is_empty() {
        return Ok(garbage);
    }
    // In a versioned container every current record is also in `versions`.
    for (_, o) in versions_of(env, txn, &gone.key)? {
        let keep: std::collections::HashSet<(&str, &str)> = o
            .chunks
            .iter()
            .flat_map(|c| c.copies.iter())
            .map(|c| (c.service.as_str(), c.chunk_id.as_str()))
            .collect();
        garbage.retain(|c| !keep.contains(&(c.service.as_str(), c.chunk_id.as_str())));
    }
    Ok(garbage)
}

/// Removes the `null` version of a key from `versions`; returns its chunks that neither `keep`
/// nor another version references.
fn drop_null_version(
    env: &Meta2,
    txn: &mut RwTxn,
    key: &str,
    keep: Option<&ObjectRecord>,
) -> Result<Vec<ChunkCopy>> {
    match find_version(env, txn, key, NULL_VERSION)? {
        Some((vkey, old)) => {
            env.versions.delete(txn, &vkey)?;
            unreferenced(env, txn, &old, keep)
        }
        None => Ok(Vec::new()),
    }
}

/// Stores `rec` as the new current version of its key, assigning its version id, after
/// checking `cond` against the current version.
pub fn put(
    env: &Meta2,
    txn: &mut RwTxn,
    rec: &mut ObjectRecord,
    cond: &PutCondition,
    now_ms: i64,
) -> Result<Written> {
    if !rec.content_id.is_empty()
        && env
            .props
            .get(txn, &abandoned_key(&rec.content_id))?
            .is_some()
    {
        return Err(Error::PreconditionFailed(format!(
            "the write of {} was abandoned by its gateway",
            rec.key
        )));
    }
    let lkey = keys::encode(&rec.key);
    let old = current(env, txn, &lkey)?;
    check(cond, old.as_ref(), &rec.key)?;
    rec.delete_marker = false;
    if cond.in_place {
        return rewrite_current(env, txn, &lkey, rec, old);
    }
    let garbage = match state(env, txn)? {
        Versioning::Unversioned => {
            rec.version_id = NULL_VERSION.to_string();
            old.as_ref()
                .map(|o| replaced_copies(o, Some(rec)))
                .unwrap_or_default()
        }
        Versioning::Enabled => {
            let suffix = next_suffix(env, txn, now_ms)?;
            rec.version_id = hex::encode(suffix);
            env.versions
                .put(txn, &version_key(&lkey, &suffix), &encode(rec)?)?;
            Vec::new()
        }
        Versioning::Suspended => {
            let garbage = drop_null_version(env, txn, &rec.key, Some(rec))?;
            let suffix = next_suffix(env, txn, now_ms)?;
            rec.version_id = NULL_VERSION.to_string();
            env.versions
                .put(txn, &version_key(&lkey, &suffix), &encode(rec)?)?;
            garbage
        }
    };
    set_current(env, txn, &lkey, old.as_ref(), Some(rec))?;
    Ok(Written {
        garbage,
        replaced: old,
    })
}

/// [`PutCondition::in_place`]: `rec` replaces the current version `old` under the same
/// version id, with the same content (its chunks are still referenced: nothing to collect).
fn rewrite_current(
    env: &Meta2,
    txn: &mut RwTxn,
    lkey: &[u8],
    rec: &mut ObjectRecord,
    old: Option<ObjectRecord>,
) -> Result<Written> {
    let Some(o) = old else {
        return Err(Error::NoSuchObject(rec.key.clone()));
    };
    if o.content_id != rec.content_id || o.chunks != rec.chunks {
        return Err(Error::PreconditionFailed(format!(
            "{}: an in-place rewrite must keep the content",
            rec.key
        )));
    }
    rec.version_id = o.version_id.clone();
    if state(env, txn)? != Versioning::Unversioned {
        let Some((vkey, _)) = find_version(env, txn, &rec.key, &o.version_id)? else {
            return Err(Error::Internal(format!(
                "{}: current version {} is not among its versions",
                rec.key, o.version_id
            )));
        };
        env.versions.put(txn, &vkey, &encode(rec)?)?;
    }
    set_current(env, txn, lkey, Some(&o), Some(rec))?;
    Ok(Written {
        garbage: Vec::new(),
        replaced: Some(o),
    })
}

/// A writer gave up on content `content_id` under `key` (its commit's answer never came): the
/// id of the version holding it when that commit was recorded after all. Otherwise the content
/// is marked abandoned, so that commit is refused if it still arrives, and `None` says its
/// chunks may go.
pub fn abandon(
    env: &Meta2,
    txn: &mut RwTxn,
    key: &str,
    content_id: &str,
    now_ms: i64,
) -> Result<Option<String>> {
    if let Some(cur) = current(env, txn, &keys::encode(key))?
        && cur.content_id == content_id
    {
        return Ok(Some(cur.version_id));
    }
    if let Some((_, held)) = versions_of(env, txn, key)?
        .into_iter()
        .find(|(_, r)| r.content_id == content_id)
    {
        return Ok(Some(held.version_id));
    }
    env.props
        .put(txn, &abandoned_key(content_id), &now_ms.to_be_bytes())?;
    Ok(None)
}

/// A delete marker for `key` with the given id.
fn marker(key: &str, version_id: String, mtime_ms: i64) -> ObjectRecord {
    ObjectRecord {
        key: key.to_string(),
        version_id,
        content_id: String::new(),
        size: 0,
        etag: String::new(),
        mtime_ms,
        content_type: None,
        headers: Default::default(),
        user_meta: Default::default(),
        checksums: Default::default(),
        policy: String::new(),
        parts: Vec::new(),
        chunks: Vec::new(),
        delete_marker: true,
        props: Default::default(),
        encryption: None,
    }
}

/// Deletes `key` (no version id: the current version, or a new delete marker in a versioned
/// container) or one version of it. Returns the outcome and the chunks to collect.
pub fn delete(
    env: &Meta2,
    txn: &mut RwTxn,
    key: &str,
    version_id: Option<&str>,
    now_ms: i64,
    bypass_governance: bool,
) -> Result<(DeleteOutcome, Vec<ChunkCopy>)> {
    let lkey = keys::encode(key);
    let old = current(env, txn, &lkey)?;
    let state = state(env, txn)?;
    match (version_id, state) {
        (None, Versioning::Unversioned) | (Some(NULL_VERSION), Versioning::Unversioned) => {
            let Some(o) = old else {
                return Ok((
                    DeleteOutcome {
                        version_id: version_id.map(str::to_string),
                        ..Default::default()
                    },
                    Vec::new(),
                ));
            };
            set_current(env, txn, &lkey, Some(&o), None)?;
            let garbage = replaced_copies(&o, None);
            Ok((
                DeleteOutcome {
                    removed: Some(o),
                    version_id: version_id.map(str::to_string),
                    delete_marker: false,
                },
                garbage,
            ))
        }
        (Some(id), Versioning::Unversioned) => {
            parse_version_id(id)?;
            Ok((
                DeleteOutcome {
                    version_id: Some(id.to_string()),
                    ..Default::default()
                },
                Vec::new(),
            ))
        }
        (None, state) => {
            let (id, garbage) = if state == Versioning::Suspended {
                (
                    NULL_VERSION.to_string(),
                    drop_null_version(env, txn, key, None)?,
                )
            } else {
                (String::new(), Vec::new())
            };
            let suffix = next_suffix(env, txn, now_ms)?;
            let id = if id.is_empty() {
                hex::encode(suffix)
            } else {
                id
            };
            let m = marker(key, id.clone(), now_ms);
            env.versions
                .put(txn, &version_key(&lkey, &suffix), &encode(&m)?)?;
            if old.is_some() {
                set_current(env, txn, &lkey, old.as_ref(), None)?;
            }
            Ok((
                DeleteOutcome {
                    removed: None,
                    version_id: Some(id),
                    delete_marker: true,
                },
                garbage,
            ))
        }
        (Some(id), _) => {
            let Some((vkey, rec)) = find_version(env, txn, key, id)? else {
                return Ok((
                    DeleteOutcome {
                        version_id: Some(id.to_string()),
                        ..Default::default()
                    },
                    Vec::new(),
                ));
            };
            meta_api::lock::check_delete(&rec, now_ms, bypass_governance)?;
            env.versions.delete(txn, &vkey)?;
            // The newest remaining version becomes current unless it is a delete marker.
            let newest = versions_of(env, txn, key)?
                .into_iter()
                .next()
                .map(|(_, r)| r);
            let new_current = newest.filter(|r| !r.delete_marker);
            if old.as_ref().map(|o| &o.version_id) != new_current.as_ref().map(|n| &n.version_id) {
                set_current(env, txn, &lkey, old.as_ref(), new_current.as_ref())?;
            }
            let garbage = unreferenced(env, txn, &rec, None)?;
            let delete_marker = rec.delete_marker;
            Ok((
                DeleteOutcome {
                    removed: (!delete_marker).then_some(rec),
                    version_id: Some(id.to_string()),
                    delete_marker,
                },
                garbage,
            ))
        }
    }
}

/// One version of `key`: the current one, or the one named (delete markers included).
pub fn get(env: &Meta2, txn: &RoTxn, key: &str, version_id: Option<&str>) -> Result<ObjectRecord> {
    let lkey = keys::encode(key);
    match version_id {
        None => current(env, txn, &lkey)?.ok_or_else(|| Error::NoSuchObject(key.to_string())),
        Some(id) => {
            if state(env, txn)? == Versioning::Unversioned {
                if id != NULL_VERSION {
                    parse_version_id(id)?;
                    return Err(Error::NoSuchVersion(id.to_string()));
                }
                return current(env, txn, &lkey)?
                    .ok_or_else(|| Error::NoSuchVersion(id.to_string()));
            }
            find_version(env, txn, key, id)?
                .map(|(_, r)| r)
                .ok_or_else(|| Error::NoSuchVersion(id.to_string()))
        }
    }
}

/// A change of per-version properties at `now_ms` (object-lock checks), a GOVERNANCE
/// retention bypassed if asked.
#[derive(Clone, Copy)]
pub struct PropChange<'a> {
    pub edit: PropEdit<'a>,
    pub bypass_governance: bool,
    pub now_ms: i64,
}

/// What a [`PropChange`] does to the properties.
#[derive(Clone, Copy)]
pub enum PropEdit<'a> {
    /// `set` entries, then `remove` names, of the string map from before typed properties.
    Legacy {
        set: &'a BTreeMap<String, String>,
        remove: &'a [String],
    },
    /// Typed changes, in order.
    Typed(&'a [VersionChange]),
}

/// Sets then removes per-version properties of the current version of `key` or of the one
/// named, in place (no new version, nothing to collect). Delete markers have none.
pub fn update_props(
    env: &Meta2,
    txn: &mut RwTxn,
    key: &str,
    version_id: Option<&str>,
    change: &PropChange<'_>,
) -> Result<ObjectRecord> {
    let PropChange {
        edit,
        bypass_governance,
        now_ms,
    } = *change;
    let lkey = keys::encode(key);
    let mut rec = get(env, txn, key, version_id)?;
    if rec.delete_marker {
        return Err(Error::NoSuchObject(key.to_string()));
    }
    let mut props = rec.props.clone();
    match edit {
        PropEdit::Legacy { set, remove } => props.apply_legacy(set, remove),
        PropEdit::Typed(changes) => {
            for c in changes {
                props.apply(c.clone());
            }
        }
    }
    meta_api::lock::check_change(&rec.props, &props, now_ms, bypass_governance)?;
    rec.props = props;
    let value = encode(&rec)?;
    if state(env, txn)? != Versioning::Unversioned
        && let Some((vkey, _)) = find_version(env, txn, key, &rec.version_id)?
    {
        env.versions.put(txn, &vkey, &value)?;
    }
    if current(env, txn, &lkey)?.is_some_and(|c| c.version_id == rec.version_id) {
        env.objects.put(txn, &lkey, &value)?;
    }
    Ok(rec)
}

/// True when the newest version of `key` is a delete marker.
pub fn latest_is_marker(env: &Meta2, txn: &RoTxn, key: &str) -> Result<bool> {
    Ok(versions_of(env, txn, key)?
        .first()
        .is_some_and(|(_, r)| r.delete_marker))
}

fn summary(rec: &ObjectRecord, is_latest: bool) -> VersionSummary {
    VersionSummary {
        key: rec.key.clone(),
        version_id: rec.version_id.clone(),
        is_latest,
        delete_marker: rec.delete_marker,
        size: rec.size,
        etag: rec.etag.clone(),
        mtime_ms: rec.mtime_ms,
        policy: rec.policy.clone(),
        content_type: rec.content_type.clone(),
        assembled_size: super::listing::assembled_size(rec),
        slo_etag: super::listing::slo_etag(rec),
    }
}

/// ListObjectVersions: keys in order, each key's versions newest first, with prefix,
/// delimiter, key-marker / version-id-marker and max-keys. A container never versioned lists
/// its current objects as `null` versions. Long (hashed) keys sharing their first 400 bytes are
/// listed in storage order, not byte order.
pub fn list(env: &Meta2, txn: &RoTxn, req: &VersionListRequest) -> Result<VersionListReply> {
    let versioned = state(env, txn)? != Versioning::Unversioned;
    let db = if versioned {
        &env.versions
    } else {
        &env.objects
    };
    let max = super::listing::page_size(req.max_keys);
    let prefix = req.prefix.as_str();
    let delimiter = req.delimiter.as_deref().filter(|d| !d.is_empty());
    let key_marker = req.key_marker.as_deref().filter(|k| !k.is_empty());
    // A version-id marker only counts together with a key marker.
    let id_marker = key_marker.and(req.version_id_marker.as_deref().filter(|v| !v.is_empty()));

    let mut pos = keys::lower_bound(prefix).to_vec();
    if let Some(k) = key_marker {
        let lb = keys::lower_bound(k);
        if lb > pos.as_slice() {
            pos = lb.to_vec();
        }
    }
    let mut page = Rollup::new(prefix, delimiter, key_marker, max);
    let mut last_key: Option<String> = None;
    // Set while skipping the marker key's versions up to the version-id marker.
    let mut skipping_to_marker = id_marker.is_some();

    'scan: loop {
        // LMDB refuses to seek to an empty key.
        let lower = if pos.is_empty() {
            std::ops::Bound::Unbounded
        } else {
            std::ops::Bound::Included(pos.as_slice())
        };
        let range = (lower, std::ops::Bound::Unbounded::<&[u8]>);
        let mut jump: Option<Vec<u8>> = None;
        for item in db.range(txn, &range)? {
            let (_, value) = item?;
            let rec: ObjectRecord = decode(value)?;
            let key = rec.key.as_str();
            let is_latest = last_key.as_deref() != Some(key);
            last_key = Some(rec.key.clone());
            if !key.starts_with(prefix) {
                if key > prefix && !keys::is_hashed(&keys::encode(key)) {
                    break 'scan;
                }
                continue;
            }
            if let Some(km) = key_marker {
                match key.cmp(km) {
                    std::cmp::Ordering::Less => continue,
                    // Key marker alone: that key is done. With a version-id marker: its
                    // versions older than the marker are still to list.
                    std::cmp::Ordering::Equal if id_marker.is_none() => continue,
                    std::cmp::Ordering::Equal if skipping_to_marker => {
                        if id_marker == Some(rec.version_id.as_str()) {
                            skipping_to_marker = false;
                        }
                        continue;
                    }
                    std::cmp::Ordering::Equal => {}
                    std::cmp::Ordering::Greater => {}
                }
            }
            match page.offer(key, || summary(&rec, is_latest)) {
                Offer::Full => break 'scan,
                Offer::Listed | Offer::Skipped => {}
                // Seek past the rolled-up prefix, unless it reaches into hashed keys.
                Offer::RolledUp(cp) if cp.len() <= keys::INLINE_KEY_MAX => {
                    jump = keys::prefix_successor(cp.as_bytes());
                    if jump.is_none() {
                        break 'scan;
                    }
                    break;
                }
                Offer::RolledUp(_) => {}
            }
        }
        match jump {
            Some(next) if next > pos => pos = next,
            _ => break,
        }
    }
    let (next_key_marker, next_version_id_marker) = match page.last() {
        Some(Last::Prefix(p)) if page.truncated => (Some(p.to_string()), None),
        Some(Last::Item(v)) if page.truncated => (Some(v.key.clone()), Some(v.version_id.clone())),
        _ => (None, None),
    };
    Ok(VersionListReply {
        next_key_marker,
        next_version_id_marker,
        truncated: page.truncated,
        versions: page.items,
        common_prefixes: page.common_prefixes,
    })
}
