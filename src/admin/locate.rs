//! `spread admin object locate`: where every chunk of an object lives, as a table or as JSON
//! (`{"bucket","key","size","etag","policy","chunks":[{"pos","offset","size","hash",
//! "ec":{"k","m","fragment_size"}|null,"missing_fragments":[..],
//! "copies":[{"service","addr","location","chunk_id","fragment":i|null,"hash":hex|null}]}]}`).
//! For erasure-coded chunks each copy is one fragment and `missing_fragments` lists the
//! fragment indexes (0..k+m) that were not stored.

use meta_api::wire::{ChunkRecord, EcLayout, ObjectRecord, ServiceRecord};
use serde::Serialize;
use std::fmt::Write;

/// The located object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub bucket: String,
    pub key: String,
    pub size: u64,
    pub etag: String,
    pub policy: String,
    pub chunks: Vec<ChunkLocation>,
}

/// One chunk and its copies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChunkLocation {
    pub pos: u32,
    pub offset: u64,
    pub size: u64,
    pub hash: String,
    /// Erasure-coding layout; `None` for replicated chunks.
    pub ec: Option<EcLayout>,
    /// Fragment indexes without a stored fragment (always empty for replicated chunks).
    pub missing_fragments: Vec<u32>,
    /// The chunk's bytes are kept in its meta2 record (`copies` is empty).
    pub inline: bool,
    pub copies: Vec<CopyLocation>,
}

/// One copy; `addr` and `location` are empty when meta does not know the service any more.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CopyLocation {
    pub service: String,
    pub addr: String,
    pub location: String,
    pub chunk_id: String,
    /// Fragment index of an erasure-coded chunk; `None` for a replica.
    pub fragment: Option<u32>,
    /// BLAKE3 hex of the fragment, for erasure-coded chunks.
    pub hash: Option<String>,
}

/// Fragment indexes of an erasure-coded chunk that have no copy.
pub fn missing_fragments(chunk: &ChunkRecord) -> Vec<u32> {
    let Some(ec) = chunk.ec else {
        return Vec::new();
    };
    (0..ec.k.saturating_add(ec.m))
        .filter(|i| !chunk.copies.iter().any(|c| c.fragment == Some(*i)))
        .collect()
}

/// Joins an object record with the services that hold its chunks.
pub fn report(bucket: &str, rec: &ObjectRecord, services: &[ServiceRecord]) -> Report {
    let chunks = rec
        .chunks
        .iter()
        .map(|c| ChunkLocation {
            pos: c.pos,
            offset: c.offset,
            size: c.size,
            hash: c.hash.clone(),
            ec: c.ec,
            missing_fragments: missing_fragments(c),
            inline: c.inline.is_some(),
            copies: c
                .copies
                .iter()
                .map(|copy| {
                    let svc = services.iter().find(|s| s.id == copy.service);
                    CopyLocation {
                        service: copy.service.clone(),
                        addr: svc.map(|s| s.addr.clone()).unwrap_or_default(),
                        location: svc.map(|s| s.location.clone()).unwrap_or_default(),
                        chunk_id: copy.chunk_id.clone(),
                        fragment: copy.fragment,
                        hash: copy.hash.clone(),
                    }
                })
                .collect(),
        })
        .collect();
    Report {
        bucket: bucket.to_string(),
        key: rec.key.clone(),
        size: rec.size,
        etag: rec.etag.clone(),
        policy: rec.policy.clone(),
        chunks,
    }
}

/// Human-readable form of a report.
pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "bucket: {}", r.bucket);
    let _ = writeln!(out, "key:    {}", r.key);
    let _ = writeln!(out, "size:   {}", r.size);
    let _ = writeln!(out, "etag:   {}", r.etag);
    let _ = writeln!(out, "policy: {}", r.policy);
    for c in &r.chunks {
        let _ = write!(
            out,
            "chunk {} offset {} size {} blake3 {}",
            c.pos, c.offset, c.size, c.hash
        );
        match c.ec {
            Some(ec) => {
                let _ = writeln!(
                    out,
                    " ec {}+{} fragment size {} missing: {:?}",
                    ec.k, ec.m, ec.fragment_size, c.missing_fragments
                );
            }
            None if c.inline => out.push_str(" inline (kept in meta2)\n"),
            None => out.push('\n'),
        }
        for copy in &c.copies {
            let addr = if copy.addr.is_empty() {
                "?"
            } else {
                &copy.addr
            };
            let loc = if copy.location.is_empty() {
                "?"
            } else {
                &copy.location
            };
            let fragment = copy
                .fragment
                .map(|i| format!("fragment {i}  "))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  {fragment}{}  {}  {}  {}",
                copy.service, addr, loc, copy.chunk_id
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use meta_api::wire::{ChunkCopy, ServiceStats};

    fn service(id: &str, addr: &str, location: &str) -> ServiceRecord {
        ServiceRecord {
            id: id.into(),
            kind: "chunkd".into(),
            addr: addr.into(),
            location: location.into(),
            slots: vec![],
            stats: ServiceStats::default(),
            first_seen_ms: 0,
            last_seen_ms: 0,
            score: 50,
            locked: None,
        }
    }

    fn record() -> ObjectRecord {
        ObjectRecord {
            key: "dir/obj".into(),
            version_id: "null".into(),
            content_id: "c".repeat(32),
            size: 10,
            etag: "e".repeat(32),
            mtime_ms: 0,
            content_type: None,
            headers: Default::default(),
            user_meta: Default::default(),
            checksums: Default::default(),
            policy: "THREECOPIES".into(),
            parts: vec![],
            delete_marker: false,
            props: Default::default(),
            chunks: vec![ChunkRecord {
                pos: 0,
                offset: 0,
                size: 10,
                hash: "h".repeat(64),
                copies: vec![
                    ChunkCopy {
                        service: "s1".into(),
                        chunk_id: "a".repeat(64),
                        fragment: None,
                        hash: None,
                    },
                    ChunkCopy {
                        service: "gone".into(),
                        chunk_id: "b".repeat(64),
                        fragment: None,
                        hash: None,
                    },
                ],
                ec: None,
                inline: None,
            }],
            encryption: None,
        }
    }

    #[test]
    fn json_shape() {
        let services = [service("s1", "127.0.0.1:1", "local.rack0.host0.vol0")];
        let r = report("bkt", &record(), &services);
        let v: serde_json::Value = serde_json::to_value(&r).unwrap();
        assert_eq!(v["bucket"], "bkt");
        assert_eq!(v["key"], "dir/obj");
        assert_eq!(v["size"], 10);
        assert_eq!(v["policy"], "THREECOPIES");
        let chunk = &v["chunks"][0];
        assert_eq!(chunk["pos"], 0);
        assert_eq!(chunk["offset"], 0);
        assert_eq!(chunk["size"], 10);
        assert_eq!(chunk["hash"], "h".repeat(64));
        let copies = chunk["copies"].as_array().unwrap();
        assert_eq!(copies.len(), 2);
        assert_eq!(copies[0]["service"], "s1");
        assert_eq!(copies[0]["addr"], "127.0.0.1:1");
        assert_eq!(copies[0]["location"], "local.rack0.host0.vol0");
        assert_eq!(copies[0]["chunk_id"], "a".repeat(64));
        assert_eq!(copies[1]["addr"], "");
        assert_eq!(chunk["ec"], serde_json::Value::Null);
        assert_eq!(chunk["missing_fragments"], serde_json::json!([]));
        assert_eq!(copies[0]["fragment"], serde_json::Value::Null);
        assert_eq!(copies[0]["hash"], serde_json::Value::Null);
        let text = render(&r);
        assert!(text.contains("chunk 0 offset 0 size 10"));
        assert!(text.contains("gone  ?  ?"));
        assert!(!text.contains("fragment"));
    }

    #[test]
    fn erasure_coded_chunk() {
        let mut rec = record();
        rec.policy = "EC42".into();
        let c = &mut rec.chunks[0];
        c.ec = Some(EcLayout {
            k: 4,
            m: 2,
            fragment_size: 3,
        });
        c.copies = [0u32, 1, 2, 4, 5]
            .iter()
            .map(|&i| ChunkCopy {
                service: format!("s{i}"),
                chunk_id: format!("{i}").repeat(64),
                fragment: Some(i),
                hash: Some(format!("h{i}")),
            })
            .collect();
        let services = [service("s1", "127.0.0.1:1", "local.rack0.host1.vol0")];
        let r = report("bkt", &rec, &services);
        assert_eq!(r.chunks[0].missing_fragments, vec![3]);
        let v: serde_json::Value = serde_json::to_value(&r).unwrap();
        let chunk = &v["chunks"][0];
        assert_eq!(
            chunk["ec"],
            serde_json::json!({"k": 4, "m": 2, "fragment_size": 3})
        );
        assert_eq!(chunk["missing_fragments"], serde_json::json!([3]));
        assert_eq!(chunk["copies"][3]["fragment"], 4);
        assert_eq!(chunk["copies"][3]["hash"], "h4");
        let text = render(&r);
        assert!(
            text.contains("ec 4+2 fragment size 3 missing: [3]"),
            "{text}"
        );
        assert!(
            text.contains("  fragment 1  s1  127.0.0.1:1  local.rack0.host1.vol0"),
            "{text}"
        );
        // A complete chunk misses nothing.
        rec.chunks[0].copies.push(ChunkCopy {
            service: "s3".into(),
            chunk_id: "3".repeat(64),
            fragment: Some(3),
            hash: None,
        });
        assert!(missing_fragments(&rec.chunks[0]).is_empty());
    }
}
