//! The reverse index follows the records exactly, and rebuilds replace lost copies by
//! compare-and-set on them.

use super::Store;
use super::gc::gc_key;
use super::records::decode;
use super::records::repair::RdirRecord;
use super::repair::LostReason;
use super::test_fixtures::{self, config, copy, object, store};
use meta_api::wire::{
    ChunkRecord, CompletePart, CompleteRequest, Heartbeat, ObjectRecord, PartRecord, ReplacedCopy,
    ServiceStats, UploadRecord, Versioning,
};
use std::collections::BTreeSet;

/// (service, chunk id, container, key) of every rdir entry.
fn rdir_rows(s: &Store) -> BTreeSet<(String, String, String, String)> {
    let txn = s.dir.env.read_txn().unwrap();
    let mut out = BTreeSet::new();
    for item in s.dir.rdir.iter(&txn).unwrap() {
        let (k, v) = item.unwrap();
        let (service, chunk) = super::rdir::split_copy_key(k).unwrap();
        let r: RdirRecord = super::records::decode_record(v).unwrap();
        out.insert((service, chunk, r.container, r.key));
    }
    out
}

/// The same rows, computed from every record of every container.
fn record_rows(s: &Store) -> BTreeSet<(String, String, String, String)> {
    let txn = s.dir.env.read_txn().unwrap();
    let mut out = BTreeSet::new();
    let mut containers = Vec::new();
    for item in s.dir.meta1.iter(&txn).unwrap() {
        let (k, v) = item.unwrap();
        let m1: super::records::Meta1Record = super::records::decode_record(v).unwrap();
        containers.push((String::from_utf8_lossy(k).into_owned(), m1.name));
    }
    for (cid, name) in containers {
        let env = s.envs.get(&cid, false).unwrap();
        let t = env.env.read_txn().unwrap();
        let mut add = |key: &str, chunks: &[ChunkRecord]| {
            for c in chunks {
                for p in &c.copies {
                    out.insert((
                        p.service.clone(),
                        p.chunk_id.clone(),
                        name.clone(),
                        key.to_string(),
                    ));
                }
            }
        };
        for db in [env.objects, env.versions] {
            for item in db.iter(&t).unwrap() {
                let (_, v) = item.unwrap();
                let r: ObjectRecord = decode(v).unwrap();
                add(&r.key, &r.chunks);
            }
        }
        let mut uploads = Vec::new();
        for item in env.uploads.iter(&t).unwrap() {
            let (_, v) = item.unwrap();
            let u: UploadRecord = decode(v).unwrap();
            uploads.push(u);
        }
        for u in uploads {
            for item in env
                .parts
                .prefix_iter(&t, &super::meta2::part_prefix(&u.upload_id))
                .unwrap()
            {
                let (_, v) = item.unwrap();
                let p: PartRecord = decode(v).unwrap();
                add(&u.key, &p.chunks);
            }
        }
    }
    out
}

/// A chunk with copies `(service, chunk id)`.
fn chunk3(pos: u32, copies: &[(&str, &str)]) -> ChunkRecord {
    ChunkRecord {
        pos,
        offset: u64::from(pos) * 10,
        size: 10,
        hash: "00".repeat(32),
        copies: copies.iter().map(|(s, c)| copy(s, c)).collect(),
        ec: None,
        inline: None,
    }
}

fn obj(key: &str, chunks: Vec<ChunkRecord>) -> ObjectRecord {
    let mut o = object(key, 10 * chunks.len() as u64, "x");
    o.chunks = chunks;
    o
}

fn hb(id: &str) -> Heartbeat {
    Heartbeat {
        id: id.into(),
        kind: "chunkd".into(),
        addr: "127.0.0.1:1".into(),
        location: format!("dc.r.{id}.v"),
        slots: vec![],
        stats: ServiceStats {
            free_bytes: 100,
            total_bytes: 100,
            ..Default::default()
        },
        deleted: vec![],
        bad_chunks: vec![],
    }
}

/// Records one replacement.
fn done(s: &Store, key: &str, pair: ReplacedCopy) -> meta_api::api::RepairOutcome {
    let changes = super::RepairChanges {
        replaced: std::slice::from_ref(&pair),
        dropped: &[],
        added: &[],
    };
    s.repair_done("b", key, None, changes).unwrap()
}

fn part(n: u32, size: u64, copies: &[(&str, &str)]) -> PartRecord {
    PartRecord {
        part_number: n,
        size,
        etag: format!("{:032x}", n),
        mtime_ms: 1,
        checksums: Default::default(),
        chunks: vec![chunk3(0, copies)],
        key: None,
    }
}

#[test]
fn rdir_follows_every_kind_of_write() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path(), "b");
    s.put_object(
        "b",
        &obj("k1", vec![chunk3(0, &[("s1", "a1"), ("s2", "a2")])]),
    )
    .unwrap();
    // Overwrite: the old copies leave, the new ones come in.
    s.put_object(
        "b",
        &obj("k1", vec![chunk3(0, &[("s1", "b1"), ("s3", "b3")])]),
    )
    .unwrap();
    assert_eq!(rdir_rows(&s), record_rows(&s));
    assert_eq!(rdir_rows(&s).len(), 2);
    // Versioned: versions keep their copies; deleting one version frees its copies only.
    s.set_versioning("b", Versioning::Enabled).unwrap();
    s.put_object("b", &obj("k1", vec![chunk3(0, &[("s2", "c2")])]))
        .unwrap();
    s.put_object(
        "b",
        &obj(
            "k2",
            vec![chunk3(0, &[("s2", "d2")]), chunk3(1, &[("s4", "d4")])],
        ),
    )
    .unwrap();
    s.delete_object("b", "k2").unwrap();
    assert_eq!(rdir_rows(&s), record_rows(&s));
    let v = s.list_versions("b", &Default::default()).unwrap();
    for ver in &v.versions {
        if ver.key == "k2" && !ver.delete_marker {
            s.delete_version("b", "k2", Some(&ver.version_id), false)
                .unwrap();
        }
    }
    assert_eq!(rdir_rows(&s), record_rows(&s));
    assert!(!rdir_rows(&s).iter().any(|r| r.1 == "d2"));
    // Multipart: parts are indexed under the upload's key; completion keeps the used parts'
    // copies and frees the others; abort frees everything.
    let upload = |id: &str| test_fixtures::upload(id, "mp", 1);
    s.create_upload("b", &upload("u1")).unwrap();
    s.put_part("b", "u1", &part(1, 6 << 20, &[("s1", "p1"), ("s2", "p1b")]))
        .unwrap();
    s.put_part("b", "u1", &part(2, 5, &[("s3", "p2")])).unwrap();
    s.put_part("b", "u1", &part(3, 5, &[("s4", "p3")])).unwrap();
    assert_eq!(rdir_rows(&s), record_rows(&s));
    let req = CompleteRequest {
        parts: [1, 2]
            .iter()
            .map(|n| CompletePart {
                part_number: *n,
                etag: format!("\"{:032x}\"", n),
            })
            .collect(),
        checksums: Default::default(),
        condition: Default::default(),
    };
    s.complete_upload("b", "u1", &req).unwrap();
    assert_eq!(rdir_rows(&s), record_rows(&s));
    assert!(!rdir_rows(&s).iter().any(|r| r.1 == "p3"));
    s.create_upload("b", &upload("u2")).unwrap();
    s.put_part("b", "u2", &part(1, 5, &[("s1", "q1")])).unwrap();
    s.abort_upload("b", "u2").unwrap();
    assert_eq!(rdir_rows(&s), record_rows(&s));
    let page = s.rdir_list("s1", None, 1).unwrap();
    assert_eq!(page.count, 2);
    assert_eq!(page.entries.len(), 1);
    let rest = s.rdir_list("s1", page.next.as_deref(), 100).unwrap();
    assert_eq!(rest.entries.len(), 1);
    assert_eq!(rest.count, 0, "totals on the first page only");
    assert_ne!(rest.entries[0].chunk_id, page.entries[0].chunk_id);
    assert!(rest.next.is_none());
}

#[test]
fn a_lost_server_is_rebuilt_least_redundancy_first() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path(), "b");
    for id in ["s1", "s2", "s3", "s4", "s5"] {
        s.heartbeat(&hb(id)).unwrap();
    }
    // "two": 2 copies (redundancy 0 once s1 is lost); "three": 3 copies (redundancy 1).
    s.put_object(
        "b",
        &obj(
            "three",
            vec![chunk3(0, &[("s1", "t1"), ("s2", "t2"), ("s3", "t3")])],
        ),
    )
    .unwrap();
    s.put_object(
        "b",
        &obj("two", vec![chunk3(0, &[("s1", "w1"), ("s2", "w2")])]),
    )
    .unwrap();
    let lost = s.mark_lost("s1", LostReason::Operator).unwrap();
    assert_eq!((lost.total_chunks, lost.counting), (0, true));
    assert_eq!(s.plan_rebuilds(i64::MAX).unwrap(), 2);
    let lost = &s.rebuild_status().unwrap().lost[0];
    assert_eq!(
        (lost.total_chunks, lost.total_bytes, lost.counting),
        (2, 20, false)
    );
    let items = s.claim_repairs("w", 10, 60_000).unwrap();
    let keys: Vec<&str> = items.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(keys, ["two", "three"]);
    assert_eq!((items[0].redundancy, items[1].redundancy), (0, 1));
    // Leased: not handed out again.
    assert!(s.claim_repairs("w2", 10, 60_000).unwrap().is_empty());
    // Repair "two": s1/w1 -> s4/n1.
    let pair = ReplacedCopy {
        old: copy("s1", "w1"),
        new: copy("s4", "n1"),
    };
    let out = done(&s, "two", pair);
    assert_eq!((out.replaced, out.discarded), (1, 0));
    let rec = s.get_object("b", "two").unwrap();
    let services: Vec<&str> = rec.chunks[0]
        .copies
        .iter()
        .map(|c| c.service.as_str())
        .collect();
    assert_eq!(services, ["s4", "s2"]);
    assert_eq!(rdir_rows(&s), record_rows(&s));
    // "three" was deleted meanwhile: the new copy goes to GC, nothing comes back.
    s.delete_object("b", "three").unwrap();
    let pair = ReplacedCopy {
        old: copy("s1", "t1"),
        new: copy("s5", "n2"),
    };
    let out = done(&s, "three", pair);
    assert_eq!((out.replaced, out.discarded), (0, 1));
    assert!(s.get_object("b", "three").is_err());
    let txn = s.dir.env.read_txn().unwrap();
    assert!(s.dir.gc.get(&txn, &gc_key("s5", "n2")).unwrap().is_some());
    assert!(s.dir.gc.get(&txn, &gc_key("s1", "w1")).unwrap().is_some());
    drop(txn);
    let status = s.rebuild_status().unwrap();
    assert_eq!(status.queued, 0);
    assert_eq!(status.lost[0].done_chunks, 2);
    assert_eq!(rdir_rows(&s), record_rows(&s));
}

#[test]
fn second_loss_raises_priority_and_failures_back_off() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path(), "b");
    for id in ["s1", "s2", "s3", "s4"] {
        s.heartbeat(&hb(id)).unwrap();
    }
    s.put_object(
        "b",
        &obj(
            "a",
            vec![chunk3(0, &[("s1", "a1"), ("s2", "a2"), ("s3", "a3")])],
        ),
    )
    .unwrap();
    s.put_object(
        "b",
        &obj(
            "b",
            vec![chunk3(0, &[("s1", "b1"), ("s3", "b3"), ("s4", "b4")])],
        ),
    )
    .unwrap();
    s.mark_lost("s1", LostReason::Operator).unwrap();
    s.plan_rebuilds(i64::MAX).unwrap();
    s.mark_lost("s2", LostReason::Operator).unwrap();
    s.plan_rebuilds(i64::MAX).unwrap();
    let status = s.rebuild_status().unwrap();
    assert_eq!(status.queued, 3);
    // "a" lost two of three copies: both its entries now have redundancy 0, before "b".
    let items = s.claim_repairs("w", 10, 60_000).unwrap();
    let got: Vec<(&str, u8)> = items
        .iter()
        .map(|i| (i.chunk_id.as_str(), i.redundancy))
        .collect();
    assert_eq!(got[2], ("b1", 1));
    assert!(got[..2].iter().all(|(_, r)| *r == 0));
    // A failure with a retry time waits; without one the entry is unrepairable.
    s.repair_failed("s1", "b1", "no server has room", Some(3_600_000))
        .unwrap();
    s.repair_failed("s1", "a1", "no good copy left", None)
        .unwrap();
    s.repair_failed("s2", "a2", "x", Some(0)).unwrap();
    let again = s.claim_repairs("w", 10, 60_000).unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].chunk_id, "a2");
    let status = s.rebuild_status().unwrap();
    assert_eq!(status.unrepairable_count, 1);
    assert_eq!(status.unrepairable[0].chunk_id, "a1");
    assert!(
        status
            .failing
            .iter()
            .any(|i| i.chunk_id == "b1" && i.attempts == 1)
    );
}

#[test]
fn bad_chunks_are_queued_and_a_returning_server_stops_its_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path(), "b");
    for id in ["s1", "s2"] {
        s.heartbeat(&hb(id)).unwrap();
    }
    s.put_object(
        "b",
        &obj("k", vec![chunk3(0, &[("s1", "k1"), ("s2", "k2")])]),
    )
    .unwrap();
    let mut h = hb("s2");
    h.bad_chunks = vec!["k2".into(), "not-referenced".into()];
    s.heartbeat(&h).unwrap();
    let items = s.claim_repairs("w", 10, 1).unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!((items[0].chunk_id.as_str(), items[0].redundancy), ("k2", 0));
    assert_eq!(items[0].reason, meta_api::wire::RepairReason::Corrupt);
    // s1 silent long enough: declared lost, then it heartbeats again.
    s.mark_lost("s1", LostReason::Dead).unwrap();
    s.plan_rebuilds(i64::MAX).unwrap();
    assert_eq!(s.rebuild_status().unwrap().queued, 2);
    s.heartbeat(&hb("s1")).unwrap();
    let status = s.rebuild_status().unwrap();
    assert!(status.lost.is_empty());
    assert_eq!(status.queued, 1, "the rotten copy stays queued");
}

#[test]
fn locate_finds_the_chunk_in_versions_and_parts() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path(), "b");
    s.put_object(
        "b",
        &obj(
            "k",
            vec![chunk3(0, &[("s1", "k1")]), chunk3(1, &[("s1", "k9")])],
        ),
    )
    .unwrap();
    let found = s.locate_chunk("b", "k", None, "s1", "k9").unwrap().unwrap();
    assert_eq!((found.account.as_str(), found.chunk.pos), ("acct", 1));
    assert!(
        s.locate_chunk("b", "k", None, "s1", "zz")
            .unwrap()
            .is_none()
    );
    assert!(
        s.locate_chunk("nope", "k", None, "s1", "k9")
            .unwrap()
            .is_none()
    );
}

#[test]
fn an_older_directory_gets_its_reverse_index_built_at_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = store(dir.path(), "b");
        s.put_object(
            "b",
            &obj("k", vec![chunk3(0, &[("s1", "k1"), ("s2", "k2")])]),
        )
        .unwrap();
        // Back to format 2: no reverse index.
        let mut txn = s.dir.env.write_txn().unwrap();
        s.dir.rdir.clear(&mut txn).unwrap();
        super::format::write(&s.dir.settings, &mut txn, 2).unwrap();
        txn.commit().unwrap();
        assert!(rdir_rows(&s).is_empty());
    }
    let s = Store::open(&config(dir.path()), "127.0.0.1:6000").unwrap();
    assert_eq!(rdir_rows(&s).len(), 2);
    assert_eq!(rdir_rows(&s), record_rows(&s));
    let txn = s.dir.env.read_txn().unwrap();
    assert_eq!(
        super::format::stored(&s.dir.settings, &txn).unwrap(),
        Some(super::format::DIRECTORY)
    );
}

#[test]
fn a_server_is_forgotten_only_once_it_holds_nothing_and_is_silent() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = crate::config::Config {
        dead_after_secs: 1,
        ..config(dir.path())
    };
    let s = Store::open(&cfg, "127.0.0.1:6000").unwrap();
    s.create_account("acct").unwrap();
    s.create_container("acct", "b", &Default::default())
        .unwrap();
    for id in ["s1", "s2", "s3"] {
        s.heartbeat(&hb(id)).unwrap();
    }
    s.put_object(
        "b",
        &obj("k", vec![chunk3(0, &[("s1", "k1"), ("s2", "k2")])]),
    )
    .unwrap();
    s.queue_gc(&[copy("s1", "old")]).unwrap();
    let e = s.forget_service("s1").unwrap_err().to_string();
    assert!(e.contains("holds 1 chunk copies"), "{e}");
    // Drained: its copy moves to s3; still heartbeating, so still refused.
    s.mark_lost("s1", LostReason::Drain).unwrap();
    s.plan_rebuilds(i64::MAX).unwrap();
    let pair = ReplacedCopy {
        old: copy("s1", "k1"),
        new: copy("s3", "k3"),
    };
    done(&s, "k", pair);
    let e = s.forget_service("s1").unwrap_err().to_string();
    assert!(e.contains("still heartbeats"), "{e}");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    s.forget_service("s1").unwrap();
    assert!(s.list_services(None).unwrap().iter().all(|r| r.id != "s1"));
    assert!(s.rebuild_status().unwrap().lost.is_empty());
    let txn = s.dir.env.read_txn().unwrap();
    assert!(
        s.dir
            .gc
            .prefix_iter(&txn, b"s1\0")
            .unwrap()
            .next()
            .is_none()
    );
    drop(txn);
    assert!(s.forget_service("s1").is_err(), "forgotten already");
}

#[test]
fn a_short_write_is_queued_and_completed_by_added_pieces() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path(), "b");
    for id in ["s1", "s2", "s3"] {
        s.heartbeat(&hb(id)).unwrap();
    }
    let rec = obj(
        "k",
        vec![
            chunk3(0, &[("s1", "k1"), ("s2", "k2")]),
            chunk3(1, &[("s1", "j1"), ("s2", "j2"), ("s3", "j3")]),
        ],
    );
    s.put_object_wanting("b", &rec, &Default::default(), 3)
        .unwrap();
    let items = s.claim_repairs("w", 10, 60_000).unwrap();
    assert_eq!(items.len(), 1, "only the short chunk: {items:?}");
    let it = &items[0];
    assert_eq!(
        (it.chunk_id.as_str(), it.reason, it.wanted, it.redundancy),
        ("k1", meta_api::wire::RepairReason::Short, 3, 1)
    );
    let added = meta_api::wire::AddedCopy {
        anchor: copy("s1", "k1"),
        new: copy("s3", "k3"),
    };
    // A second piece on a server the chunk already uses is refused (its copy goes to GC).
    let twice = meta_api::wire::AddedCopy {
        anchor: copy("s1", "k1"),
        new: copy("s2", "kx"),
    };
    let changes = super::RepairChanges {
        replaced: &[],
        dropped: &[],
        added: &[added, twice],
    };
    let out = s.repair_done("b", "k", None, changes).unwrap();
    assert_eq!((out.added, out.discarded), (1, 1));
    let got = s.get_object("b", "k").unwrap();
    assert_eq!(got.chunks[0].copies.len(), 3);
    assert_eq!(s.rebuild_status().unwrap().queued, 0);
    assert_eq!(rdir_rows(&s), record_rows(&s));
    let txn = s.dir.env.read_txn().unwrap();
    assert!(s.dir.gc.get(&txn, &gc_key("s2", "kx")).unwrap().is_some());
}

#[test]
fn only_the_known_reasons_declare_a_server_lost() {
    assert_eq!(LostReason::requested(None).unwrap(), LostReason::Operator);
    assert_eq!(
        LostReason::requested(Some("operator")).unwrap(),
        LostReason::Operator
    );
    assert_eq!(
        LostReason::requested(Some("drain")).unwrap(),
        LostReason::Drain
    );
    // "dead" is the rebuild planner's own, never a client's; anything else is refused too,
    // with the message the HTTP answer carries.
    for bad in ["dead", "bogus", ""] {
        match LostReason::requested(Some(bad)) {
            Err(meta_api::error::Error::InvalidArgument(m)) => assert_eq!(
                m,
                format!("rebuild reason {bad:?} is not \"operator\" or \"drain\"")
            ),
            other => panic!("{bad:?} answered {other:?}"),
        }
    }
    // Each reason is stored by name, and decides what a heartbeat does: a dead server that
    // comes back stops its rebuild, one an operator declared lost stays lost.
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path(), "b");
    for id in ["s1", "s2", "s3"] {
        s.heartbeat(&hb(id)).unwrap();
    }
    for (id, reason) in [
        ("s1", LostReason::Dead),
        ("s2", LostReason::Operator),
        ("s3", LostReason::Drain),
    ] {
        assert_eq!(s.mark_lost(id, reason).unwrap().reason, reason.as_str());
        s.heartbeat(&hb(id)).unwrap();
    }
    let lost: Vec<(String, String)> = s
        .rebuild_status()
        .unwrap()
        .lost
        .into_iter()
        .map(|l| (l.service, l.reason))
        .collect();
    assert_eq!(
        lost,
        [
            ("s2".to_string(), "operator".to_string()),
            ("s3".to_string(), "drain".to_string())
        ]
    );
}

/// Puts objects "k0".."k4", each one chunk with a copy on s1 (chunk ids "a0".."a4") and s2.
fn five_on_s1(s: &Store) {
    for id in ["s1", "s2", "s3"] {
        s.heartbeat(&hb(id)).unwrap();
    }
    for i in 0..5 {
        let (a, b) = (format!("a{i}"), format!("b{i}"));
        s.put_object(
            "b",
            &obj(
                &format!("k{i}"),
                vec![chunk3(0, &[("s1", a.as_str()), ("s2", b.as_str())])],
            ),
        )
        .unwrap();
    }
}

fn queue_page(s: &Store, max: u32) -> u64 {
    match s
        .apply(super::Command::QueueRebuild {
            service: "s1".into(),
            max,
            now_ms: 1,
            merge_short: true,
        })
        .unwrap()
    {
        super::Outcome::Count(n) => n,
        other => panic!("{other:?}"),
    }
}

fn lost_s1(s: &Store) -> meta_api::wire::LostService {
    let mut lost = s.rebuild_status().unwrap().lost;
    assert_eq!(lost.len(), 1, "{lost:?}");
    lost.remove(0)
}

fn stored_lost_version(s: &Store) -> u32 {
    let txn = s.dir.env.read_txn().unwrap();
    let v = s.dir.lost.get(&txn, b"s1").unwrap().unwrap();
    serde_json::from_slice::<serde_json::Value>(v).unwrap()["v"]
        .as_u64()
        .unwrap() as u32
}

/// Command version 10: a lost server's totals are counted as its pages are queued, not by
/// one walk in `MarkLost`; a copy deleted before its page is never counted, one deleted after
/// counts as done.
#[test]
fn a_lost_server_is_counted_page_by_page() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path(), "b");
    five_on_s1(&s);
    let lost = s.mark_lost("s1", LostReason::Operator).unwrap();
    assert_eq!((lost.total_chunks, lost.total_bytes), (0, 0));
    assert!(lost.counting && !lost.queued_all);
    assert_eq!(stored_lost_version(&s), 2);
    assert_eq!(queue_page(&s, 2), 2);
    let l = lost_s1(&s);
    assert_eq!((l.total_chunks, l.total_bytes, l.counting), (2, 20, true));
    // k1 (a1, counted) and k3 (a3, not reached yet) are deleted.
    s.delete_object("b", "k1").unwrap();
    s.delete_object("b", "k3").unwrap();
    let l = lost_s1(&s);
    assert_eq!((l.done_chunks, l.done_bytes), (1, 10));
    assert_eq!(queue_page(&s, 2), 2, "a2 and a4");
    let l = lost_s1(&s);
    assert_eq!((l.total_chunks, l.counting, l.queued_all), (4, true, false));
    // The page that finds nothing more ends the count.
    assert_eq!(queue_page(&s, 2), 0);
    let l = lost_s1(&s);
    assert_eq!(
        (l.total_chunks, l.total_bytes, l.counting, l.queued_all),
        (4, 40, false, true)
    );
    assert_eq!(s.rebuild_status().unwrap().queued, 3);
    // Repairing the rest brings done to the total.
    for i in [0, 2, 4] {
        let pair = ReplacedCopy {
            old: copy("s1", &format!("a{i}")),
            new: copy("s3", &format!("n{i}")),
        };
        assert_eq!(done(&s, &format!("k{i}"), pair).replaced, 1);
    }
    let l = lost_s1(&s);
    assert_eq!((l.done_chunks, l.total_chunks), (4, 4));
    assert_eq!(s.rebuild_status().unwrap().queued, 0);
    assert_eq!(stored_lost_version(&s), 2);
}

/// A `MarkLost` written before command version 10 (no `counted_by_page`), replayed from an
/// old log, counts every copy at once and writes a version-1 record, whose totals later pages
/// and deletions leave alone, as the binary that wrote it did.
#[test]
fn a_mark_lost_from_an_old_log_counts_every_copy_at_once() {
    let old: super::Command =
        serde_json::from_str(r#"{"op":"mark_lost","service":"s1","reason":"dead","now_ms":1}"#)
            .unwrap();
    assert_eq!(old.version(), 2);
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path(), "b");
    five_on_s1(&s);
    let lost = match s.apply(old).unwrap() {
        super::Outcome::Lost(l) => l,
        other => panic!("{other:?}"),
    };
    assert_eq!((lost.total_chunks, lost.total_bytes), (5, 50));
    assert!(!lost.counting && !lost.queued_all);
    assert_eq!(stored_lost_version(&s), 1);
    // k3 deleted before its page is queued: counted (it was in the total) as done.
    s.delete_object("b", "k3").unwrap();
    assert_eq!(queue_page(&s, 2), 2);
    let l = lost_s1(&s);
    assert_eq!((l.total_chunks, l.done_chunks, l.counting), (5, 1, false));
    while !lost_s1(&s).queued_all {
        queue_page(&s, 2);
    }
    let l = lost_s1(&s);
    assert_eq!((l.total_chunks, l.total_bytes), (5, 50));
    assert_eq!(s.rebuild_status().unwrap().queued, 4);
    assert_eq!(stored_lost_version(&s), 1);
    // The new command is version 10, and says so on the wire.
    let new = super::Command::MarkLost {
        service: "s1".into(),
        reason: "dead".into(),
        now_ms: 1,
        counted_by_page: true,
    };
    assert_eq!(new.version(), 10);
    assert!(
        serde_json::to_string(&new)
            .unwrap()
            .contains(r#""counted_by_page":true"#)
    );
}

/// The queue entry of copy (`service`, `chunk`): (reason, wanted).
fn queued(s: &Store, service: &str, chunk: &str) -> Option<(meta_api::wire::RepairReason, u32)> {
    let txn = s.dir.env.read_txn().unwrap();
    s.queue_get(&txn, service, chunk)
        .unwrap()
        .map(|(_, r)| (r.reason, r.wanted))
}

/// A chunk written with 2 of 3 copies (queued short, anchored on its first copy, s1's),
/// then s1 is lost: one queue key per copy, so before command version 12 the short entry
/// stayed and the loss was dropped (a worker would add a third copy and leave the one on s1
/// counted). Now the entry is the loss and still asks for 3 pieces; a `QueueRebuild` of an
/// old log (no `merge_short`) keeps the old result.
#[test]
fn a_short_chunk_whose_anchor_is_lost_keeps_both_repairs() {
    use meta_api::wire::RepairReason::{Lost, Short};
    for merge_short in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path(), "b");
        for id in ["s1", "s2", "s3", "s4"] {
            s.heartbeat(&hb(id)).unwrap();
        }
        let rec = obj("k", vec![chunk3(0, &[("s1", "k1"), ("s2", "k2")])]);
        s.put_object_wanting("b", &rec, &Default::default(), 3)
            .unwrap();
        assert_eq!(queued(&s, "s1", "k1"), Some((Short, 3)));
        s.mark_lost("s1", LostReason::Operator).unwrap();
        let command = super::Command::QueueRebuild {
            service: "s1".into(),
            max: 10,
            now_ms: 1,
            merge_short,
        };
        assert_eq!(command.version(), if merge_short { 12 } else { 2 });
        let text = serde_json::to_string(&command).unwrap();
        let command: super::Command = if merge_short {
            serde_json::from_str(&text).unwrap()
        } else {
            // As a binary before version 12 wrote it.
            serde_json::from_str(r#"{"op":"queue_rebuild","service":"s1","max":10,"now_ms":1}"#)
                .unwrap()
        };
        assert!(matches!(
            s.apply(command).unwrap(),
            super::Outcome::Count(1)
        ));
        if !merge_short {
            assert_eq!(queued(&s, "s1", "k1"), Some((Short, 3)), "the old way");
            continue;
        }
        assert_eq!(queued(&s, "s1", "k1"), Some((Lost, 3)));
        let items = s.claim_repairs("w", 10, 60_000).unwrap();
        assert_eq!(items.len(), 1, "{items:?}");
        let it = &items[0];
        // One good copy left beyond the one a read needs... none: s1's is lost.
        assert_eq!((it.reason, it.wanted, it.redundancy), (Lost, 3, 0));
        // The worker replaces s1's copy and adds the missing third, anchored on a good copy,
        // in one record change.
        let replaced = ReplacedCopy {
            old: copy("s1", "k1"),
            new: copy("s3", "k3"),
        };
        let added = meta_api::wire::AddedCopy {
            anchor: copy("s2", "k2"),
            new: copy("s4", "k4"),
        };
        let out = s
            .repair_done(
                "b",
                "k",
                None,
                super::RepairChanges {
                    replaced: std::slice::from_ref(&replaced),
                    dropped: &[],
                    added: std::slice::from_ref(&added),
                },
            )
            .unwrap();
        assert_eq!((out.replaced, out.added, out.discarded), (1, 1, 0));
        let got = s.get_object("b", "k").unwrap();
        let services: BTreeSet<&str> = got.chunks[0]
            .copies
            .iter()
            .map(|c| c.service.as_str())
            .collect();
        assert_eq!(services, ["s2", "s3", "s4"].into());
        let status = s.rebuild_status().unwrap();
        assert_eq!(status.queued, 0);
        assert_eq!(
            (status.lost[0].done_chunks, status.lost[0].total_chunks),
            (1, 1)
        );
        assert_eq!(rdir_rows(&s), record_rows(&s));
    }
}

/// The same collision with a rotten anchor (a heartbeat's `bad_chunks`): the entry becomes
/// the corrupt copy's repair, still asking for the short chunk's pieces.
#[test]
fn a_short_chunk_whose_anchor_rots_keeps_both_repairs() {
    use meta_api::wire::RepairReason::{Corrupt, Short};
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path(), "b");
    for id in ["s1", "s2", "s3"] {
        s.heartbeat(&hb(id)).unwrap();
    }
    let rec = obj("k", vec![chunk3(0, &[("s1", "k1"), ("s2", "k2")])]);
    s.put_object_wanting("b", &rec, &Default::default(), 3)
        .unwrap();
    assert_eq!(queued(&s, "s1", "k1"), Some((Short, 3)));
    let mut h = hb("s1");
    h.bad_chunks = vec!["k1".into()];
    s.heartbeat(&h).unwrap();
    assert_eq!(queued(&s, "s1", "k1"), Some((Corrupt, 3)));
    let items = s.claim_repairs("w", 10, 60_000).unwrap();
    assert_eq!(
        items
            .iter()
            .map(|i| (i.reason, i.wanted))
            .collect::<Vec<_>>(),
        [(Corrupt, 3)]
    );
}
