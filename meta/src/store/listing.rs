//! Object listings: prefix, delimiter (common prefixes rolled up, skipped by seeking past them),
//! `after` / `end_before` bounds and `max_keys`, in exact byte order of the full keys even for
//! hashed long keys (each group sharing a 400-byte prefix is sorted by full key).

use super::Store;
use super::keys;
use super::lmdb::Db;
use super::records::decode;
use heed::RoTxn;
use meta_api::error::Result;
use meta_api::listing::{Last, Offer, Rollup};
use meta_api::wire::{ListReply, ListRequest, ObjectRecord, ObjectSummary};

/// Default and largest page size.
pub const MAX_LIST: usize = 1000;

/// Page size asked by a client: 0 means the default, anything above the cap is capped.
pub fn page_size(asked: u32) -> usize {
    match usize::try_from(asked) {
        Ok(0) | Err(_) => MAX_LIST,
        Ok(n) => n.min(MAX_LIST),
    }
}

/// The records at the first LMDB position `>= pos`, in full-key order, and the position
/// right after them: one record for a verbatim key, the whole group for a hashed key.
fn next_group(db: &Db, txn: &RoTxn, pos: &[u8]) -> Result<Option<(Vec<ObjectRecord>, Vec<u8>)>> {
    // LMDB refuses to seek to an empty key.
    let found = if pos.is_empty() {
        db.first(txn)?
    } else {
        db.get_greater_than_or_equal_to(txn, pos)?
    };
    let Some((lkey, value)) = found else {
        return Ok(None);
    };
    if !keys::is_hashed(lkey) {
        let mut next = lkey.to_vec();
        next.push(0);
        return Ok(Some((vec![decode(value)?], next)));
    }
    let prefix400 = lkey[..keys::INLINE_KEY_MAX].to_vec();
    let mut group = Vec::new();
    let range = (
        std::ops::Bound::Included(lkey),
        std::ops::Bound::Unbounded::<&[u8]>,
    );
    for item in db.range(txn, &range)? {
        let (k, v) = item?;
        if !keys::is_hashed(k) || k[..keys::INLINE_KEY_MAX] != prefix400[..] {
            break;
        }
        group.push(decode::<ObjectRecord>(v)?);
    }
    group.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(Some((group, keys::after_group(&prefix400))))
}

fn summary(rec: &ObjectRecord) -> ObjectSummary {
    ObjectSummary {
        key: rec.key.clone(),
        size: rec.size,
        etag: rec.etag.clone(),
        mtime_ms: rec.mtime_ms,
        content_type: rec.content_type.clone(),
        assembled_size: assembled_size(rec),
        slo_etag: slo_etag(rec),
        version_id: Some(rec.version_id.clone()).filter(|v| !v.is_empty() && v != "null"),
        policy: rec.policy.clone(),
    }
}

/// A Swift SLO manifest's assembled size, from its record header.
pub(super) fn assembled_size(rec: &ObjectRecord) -> Option<u64> {
    rec.headers
        .get(meta_api::wire::SLO_SIZE_HEADER)
        .and_then(|s| s.parse().ok())
}

/// A Swift SLO manifest's assembled ETag, from its record header.
pub(super) fn slo_etag(rec: &ObjectRecord) -> Option<String> {
    rec.headers.get(meta_api::wire::SLO_ETAG_HEADER).cloned()
}

/// Lists the `objects` database of one container.
pub fn list(db: &Db, txn: &RoTxn, req: &ListRequest) -> Result<ListReply> {
    let max = page_size(req.max_keys);
    let prefix = req.prefix.as_str();
    let delimiter = req.delimiter.as_deref().filter(|d| !d.is_empty());
    let after = req.after.as_deref();
    let end_before = req.end_before.as_deref();

    let mut pos = keys::lower_bound(prefix).to_vec();
    if let Some(a) = after {
        let lb = keys::lower_bound(a);
        if lb > pos.as_slice() {
            pos = lb.to_vec();
        }
    }
    let mut page = Rollup::new(prefix, delimiter, after, max);

    'scan: while let Some((group, next)) = next_group(db, txn, &pos)? {
        for rec in group {
            let key = rec.key.as_str();
            if after.is_some_and(|a| key <= a) || page.under_rolled(key) {
                continue;
            }
            if !key.starts_with(prefix) {
                if key > prefix {
                    break 'scan;
                }
                continue;
            }
            if end_before.is_some_and(|e| key >= e) {
                break 'scan;
            }
            if page.offer(key, || summary(&rec)) == Offer::Full {
                break 'scan;
            }
        }
        pos = next;
        // Jump over everything under the rolled-up prefix instead of reading it.
        if let Some(cp) = page.rolled()
            && cp.len() <= keys::INLINE_KEY_MAX
        {
            match keys::prefix_successor(cp.as_bytes()) {
                Some(succ) if succ > pos => pos = succ,
                Some(_) => {}
                None => break,
            }
        }
    }
    let next_after = page.last().map(|last| match last {
        Last::Prefix(p) => p.to_string(),
        Last::Item(o) => o.key.clone(),
    });
    Ok(ListReply {
        next_after,
        truncated: page.truncated,
        objects: page.items,
        common_prefixes: page.common_prefixes,
    })
}

impl Store {
    /// Lists the objects of a container.
    pub fn list_objects(&self, container: &str, req: &ListRequest) -> Result<ListReply> {
        let r = self.resolve(container)?;
        let txn = r.env.env.read_txn()?;
        list(&r.env.objects, &txn, req)
    }
}
