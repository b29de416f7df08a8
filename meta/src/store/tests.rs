//! Unit tests of the store on real LMDB environments in temporary directories.

use super::test_fixtures::{self, chunk, config, copy};
use super::*;
use meta_api::wire::{
    CompletePart, CompleteRequest, ContainerSettings, Heartbeat, ListReply, ListRequest,
    ListUploadsRequest, ObjectRecord, PartRecord, ServiceStats, UploadRecord,
};

fn store(dir: &std::path::Path) -> Store {
    test_fixtures::store(dir, "bucket")
}

fn object(key: &str, size: u64) -> ObjectRecord {
    test_fixtures::object(key, size, &format!("chunk-of-{}", key.len()))
}

fn list(s: &Store, req: ListRequest) -> ListReply {
    s.list_objects("bucket", &req).unwrap()
}

fn keys_of(r: &ListReply) -> Vec<String> {
    r.objects.iter().map(|o| o.key.clone()).collect()
}

#[test]
fn put_get_delete_and_usage() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    s.put_object("bucket", &object("a", 10)).unwrap();
    s.put_object("bucket", &object("b", 5)).unwrap();
    let c = s.get_container("bucket").unwrap();
    assert_eq!((c.objects, c.bytes), (2, 15));
    // Replacing keeps the count, updates bytes and queues the old chunk.
    let mut a2 = object("a", 3);
    a2.chunks[0].copies[0].chunk_id = "new-a".into();
    s.put_object("bucket", &a2).unwrap();
    let c = s.get_container("bucket").unwrap();
    assert_eq!((c.objects, c.bytes), (2, 8));
    assert_eq!(s.gc_len().unwrap(), 1);
    assert_eq!(s.get_object("bucket", "a").unwrap().size, 3);
    assert!(s.delete_object("bucket", "a").unwrap().is_some());
    assert!(s.delete_object("bucket", "a").unwrap().is_none());
    assert!(matches!(
        s.get_object("bucket", "a"),
        Err(Error::NoSuchObject(_))
    ));
    let c = s.get_container("bucket").unwrap();
    assert_eq!((c.objects, c.bytes), (1, 5));
    assert_eq!(s.gc_len().unwrap(), 2);
    // Same chunks re-put under the same key are not garbage.
    let b = s.get_object("bucket", "b").unwrap();
    s.put_object("bucket", &b).unwrap();
    assert_eq!(s.gc_len().unwrap(), 2);
}

#[test]
fn listing_prefix_delimiter_after_max() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    for k in [
        "a.txt",
        "dir/1",
        "dir/2",
        "dir/sub/x",
        "dir/sub/y",
        "dir2/z",
        "e",
        "f/g",
    ] {
        s.put_object("bucket", &object(k, 1)).unwrap();
    }
    let all = list(&s, ListRequest::default());
    assert_eq!(all.objects.len(), 8);
    assert!(!all.truncated);

    let r = list(
        &s,
        ListRequest {
            delimiter: Some("/".into()),
            ..Default::default()
        },
    );
    assert_eq!(keys_of(&r), vec!["a.txt", "e"]);
    assert_eq!(r.common_prefixes, vec!["dir/", "dir2/", "f/"]);
    assert_eq!(r.next_after.as_deref(), Some("f/"));

    let r = list(
        &s,
        ListRequest {
            prefix: "dir/".into(),
            delimiter: Some("/".into()),
            ..Default::default()
        },
    );
    assert_eq!(keys_of(&r), vec!["dir/1", "dir/2"]);
    assert_eq!(r.common_prefixes, vec!["dir/sub/"]);

    // Paging with max_keys counts objects and prefixes together.
    let mut after = None;
    let mut seen = Vec::new();
    for _ in 0..10 {
        let r = list(
            &s,
            ListRequest {
                delimiter: Some("/".into()),
                after: after.clone(),
                max_keys: 2,
                ..Default::default()
            },
        );
        seen.extend(keys_of(&r));
        seen.extend(r.common_prefixes.clone());
        after = r.next_after.clone();
        if !r.truncated {
            break;
        }
    }
    seen.sort();
    assert_eq!(seen, vec!["a.txt", "dir/", "dir2/", "e", "f/"]);

    let r = list(
        &s,
        ListRequest {
            after: Some("dir/2".into()),
            end_before: Some("e".into()),
            ..Default::default()
        },
    );
    assert_eq!(keys_of(&r), vec!["dir/sub/x", "dir/sub/y", "dir2/z"]);

    let r = list(
        &s,
        ListRequest {
            max_keys: 3,
            ..Default::default()
        },
    );
    assert!(r.truncated);
    assert_eq!(r.next_after.as_deref(), Some("dir/2"));
    let r = list(
        &s,
        ListRequest {
            max_keys: 8,
            ..Default::default()
        },
    );
    assert!(!r.truncated);
}

#[test]
fn long_keys_list_in_exact_order() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    let base = "p/".to_string() + &"k".repeat(500);
    let mut keys: Vec<String> = (0..20)
        .map(|i| format!("{base}{:04}-{}", 19 - i, "z".repeat(i * 30)))
        .collect();
    keys.push(base[..400].to_string());
    keys.push(format!("{}/child", &base[..400]));
    keys.push("p/a".into());
    keys.push("p/zzz".into());
    keys.push("q".into());
    for k in &keys {
        s.put_object("bucket", &object(k, 1)).unwrap();
    }
    for k in &keys {
        assert_eq!(&s.get_object("bucket", k).unwrap().key, k);
    }
    keys.sort();
    let r = list(&s, ListRequest::default());
    assert_eq!(keys_of(&r), keys);
    // Paging one by one through the long-key group.
    let mut after = None;
    let mut paged = Vec::new();
    for _ in 0..100 {
        let r = list(
            &s,
            ListRequest {
                after: after.clone(),
                max_keys: 1,
                ..Default::default()
            },
        );
        paged.extend(keys_of(&r));
        after = r.next_after.clone();
        if !r.truncated {
            break;
        }
    }
    assert_eq!(paged, keys);
    // A prefix longer than 400 bytes.
    let pfx = format!("{base}001");
    let r = list(
        &s,
        ListRequest {
            prefix: pfx.clone(),
            ..Default::default()
        },
    );
    let want: Vec<String> = keys
        .iter()
        .filter(|k| k.starts_with(&pfx))
        .cloned()
        .collect();
    assert_eq!(want.len(), 10);
    assert_eq!(keys_of(&r), want);
    // A delimiter inside long keys rolls them up.
    let r = list(
        &s,
        ListRequest {
            prefix: "p/".into(),
            delimiter: Some("-".into()),
            ..Default::default()
        },
    );
    assert_eq!(r.common_prefixes.len(), 20);
    assert!(r.common_prefixes.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn env_cache_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    for i in 0..10 {
        let name = format!("c{i}");
        s.create_container("acct", &name, &ContainerSettings::default())
            .unwrap();
        s.put_object(&name, &object("k", i)).unwrap();
        assert!(s.open_envs() <= 4);
    }
    for i in 0..10 {
        assert_eq!(s.get_object(&format!("c{i}"), "k").unwrap().size, i as u64);
    }
    assert!(s.open_envs() <= 4);
    let names: Vec<String> = s
        .list_containers("acct")
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names.len(), 11);
    assert!(names.windows(2).all(|w| w[0] < w[1]));
    let accounts = s.list_accounts().unwrap();
    assert_eq!(accounts[0].containers, 11);
    assert_eq!(accounts[0].objects, 10);
    assert_eq!(accounts[0].bytes, 45);
}

#[test]
fn containers_are_global_and_deleted_when_empty() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    s.create_account("other").unwrap();
    match s.create_container("other", "bucket", &ContainerSettings::default()) {
        Err(Error::ContainerExists { name, owner }) => {
            assert_eq!((name.as_str(), owner.as_str()), ("bucket", "acct"))
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(matches!(
        s.create_container("nobody", "x", &ContainerSettings::default()),
        Err(Error::NoSuchAccount(_))
    ));
    s.put_object("bucket", &object("k", 1)).unwrap();
    assert!(matches!(
        s.delete_container("acct", "bucket"),
        Err(Error::ContainerNotEmpty(_))
    ));
    assert!(matches!(
        s.delete_container("other", "bucket"),
        Err(Error::NoSuchContainer(_))
    ));
    s.delete_object("bucket", "k").unwrap();
    let upload = test_fixtures::upload(&crate::ids::new_upload_id(), "mp", 1);
    s.create_upload("bucket", &upload).unwrap();
    s.put_part("bucket", &upload.upload_id, &part(1, 10, "p1"))
        .unwrap();
    let before = s.gc_len().unwrap();
    let cid = s.get_container("bucket").unwrap().cid;
    s.delete_container("acct", "bucket").unwrap();
    assert_eq!(s.gc_len().unwrap(), before + 2);
    assert!(matches!(
        s.get_container("bucket"),
        Err(Error::NoSuchContainer(_))
    ));
    assert!(!dir.path().join("meta2").join(&cid[..3]).join(&cid).exists());
    // The name is free again, for anyone.
    s.create_container("other", "bucket", &ContainerSettings::default())
        .unwrap();
    assert_eq!(s.get_container("bucket").unwrap().objects, 0);
}

fn part(n: u32, size: u64, id: &str) -> PartRecord {
    PartRecord {
        part_number: n,
        size,
        etag: format!("{:032x}", n),
        mtime_ms: 1,
        checksums: Default::default(),
        chunks: vec![
            chunk(0, 0, size / 2, id),
            chunk(1, size / 2, size - size / 2, &format!("{id}b")),
        ],
        key: None,
    }
}

/// An encrypted upload: each part keeps its own data key, the object gets them in part order,
/// its size is the plaintext's and each part's chunks start after the stored bytes (segments
/// and tags) of the parts before it; a part not encrypted as its upload is refuses completion.
#[test]
fn encrypted_multipart_assembles_keys_and_stored_offsets() {
    use meta_api::encryption::{DataKey, Encryption, FORMAT, SseMode};
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    let id = crate::ids::new_upload_id();
    let encryption = Encryption {
        format: FORMAT,
        mode: SseMode::ClusterKey,
        segment_size: 65536,
        keys: Vec::new(),
        kms_key_id: None,
        kms_context: None,
    };
    let upload = UploadRecord {
        encryption: Some(encryption.clone()),
        ..test_fixtures::upload(&id, "enc", 1)
    };
    s.create_upload("bucket", &upload).unwrap();
    let mib5 = 5 * 1024 * 1024;
    let wrapped = |n: u8| DataKey::Wrapped {
        key_id: "k1".into(),
        wrapped: vec![n; 60],
    };
    // Stored sizes: the plaintext plus 16 bytes per 64 KiB segment.
    let stored1 = mib5 + 16 * 80;
    let mut p1 = part(1, stored1, "e1");
    p1.size = mib5;
    p1.key = Some(wrapped(1));
    let mut p2 = part(2, 7 + 16, "e2");
    p2.size = 7;
    p2.key = Some(wrapped(2));
    s.put_part("bucket", &id, &p1).unwrap();
    s.put_part("bucket", &id, &p2).unwrap();
    let mut plain = part(3, 9, "e3");
    plain.part_number = 3;
    s.put_part("bucket", &id, &plain).unwrap();
    let cp = |n: u32| CompletePart {
        part_number: n,
        etag: format!("{:032x}", n),
    };
    let req = |parts: Vec<CompletePart>| CompleteRequest {
        parts,
        checksums: Default::default(),
        condition: Default::default(),
    };
    assert!(matches!(
        s.complete_upload("bucket", &id, &req(vec![cp(1), cp(3)])),
        Err(Error::InvalidArgument(_))
    ));
    let rec = s
        .complete_upload("bucket", &id, &req(vec![cp(1), cp(2)]))
        .unwrap();
    assert_eq!(rec.size, mib5 + 7);
    assert_eq!(rec.parts, vec![mib5, 7]);
    assert_eq!(
        rec.chunks[2].offset, stored1,
        "part 2 starts after part 1's stored bytes"
    );
    let enc = rec.encryption.as_ref().unwrap();
    assert_eq!(enc.mode, SseMode::ClusterKey);
    assert_eq!(enc.keys, vec![wrapped(1), wrapped(2)]);
    assert_eq!(s.get_object("bucket", "enc").unwrap(), rec);
}

#[test]
fn multipart_complete_rules() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    let id = crate::ids::new_upload_id();
    let upload = UploadRecord {
        content_type: Some("text/plain".into()),
        user_meta: [("a".to_string(), "b".to_string())].into(),
        ..test_fixtures::upload(&id, "big", 1)
    };
    s.create_upload("bucket", &upload).unwrap();
    let mib5 = 5 * 1024 * 1024;
    s.put_part("bucket", &id, &part(1, mib5, "one")).unwrap();
    s.put_part("bucket", &id, &part(2, 100, "small")).unwrap();
    s.put_part("bucket", &id, &part(3, 7, "three")).unwrap();
    s.put_part("bucket", &id, &part(4, 9, "unused")).unwrap();
    // Replacing part 2 queues its old chunks.
    s.put_part("bucket", &id, &part(2, mib5, "two")).unwrap();
    assert_eq!(s.gc_len().unwrap(), 2);
    let cp = |n: u32| CompletePart {
        part_number: n,
        etag: format!("\"{:032x}\"", n),
    };
    let req = |parts: Vec<CompletePart>| CompleteRequest {
        parts,
        checksums: Default::default(),
        condition: Default::default(),
    };
    assert!(matches!(
        s.complete_upload("bucket", &id, &req(vec![cp(2), cp(1)])),
        Err(Error::InvalidPartOrder)
    ));
    assert!(matches!(
        s.complete_upload("bucket", &id, &req(vec![cp(1), cp(5)])),
        Err(Error::InvalidPart(_))
    ));
    let mut bad = cp(1);
    bad.etag = "0".repeat(32);
    assert!(matches!(
        s.complete_upload("bucket", &id, &req(vec![bad])),
        Err(Error::InvalidPart(_))
    ));
    assert!(matches!(
        s.complete_upload("bucket", &id, &req(vec![cp(3), cp(4)])),
        Err(Error::EntityTooSmall(3))
    ));
    let listed = s.list_parts("bucket", &id, Some(1), 2).unwrap();
    assert_eq!(
        listed
            .parts
            .iter()
            .map(|p| p.part_number)
            .collect::<Vec<_>>(),
        vec![2, 3]
    );
    assert!(listed.truncated);
    assert_eq!(listed.next_part_number_marker, Some(3));

    let rec = s
        .complete_upload("bucket", &id, &req(vec![cp(1), cp(2), cp(3)]))
        .unwrap();
    let mut md5 = <md5::Md5 as md5::Digest>::new();
    for n in 1..=3u32 {
        md5::Digest::update(&mut md5, hex::decode(format!("{:032x}", n)).unwrap());
    }
    assert_eq!(
        rec.etag,
        format!("{}-3", hex::encode(md5::Digest::finalize(md5)))
    );
    assert_eq!(rec.size, 2 * mib5 + 7);
    assert_eq!(rec.parts, vec![mib5, mib5, 7]);
    assert_eq!(rec.chunks.len(), 6);
    assert!(
        rec.chunks
            .iter()
            .enumerate()
            .all(|(i, c)| c.pos == i as u32)
    );
    assert_eq!(rec.chunks[2].offset, mib5);
    assert_eq!(rec.chunks[3].offset, mib5 + mib5 / 2);
    assert_eq!(rec.chunks[5].offset, 2 * mib5 + 3);
    assert_eq!(rec.user_meta.get("a").map(String::as_str), Some("b"));
    assert_eq!(rec.version_id, "null");
    assert_eq!(rec.content_id.len(), 32);
    assert_eq!(s.get_object("bucket", "big").unwrap(), rec);
    // Part 4 was not used: its two chunks are garbage; the upload is gone.
    assert_eq!(s.gc_len().unwrap(), 4);
    assert!(matches!(
        s.get_upload("bucket", &id),
        Err(Error::NoSuchUpload(_))
    ));
    let c = s.get_container("bucket").unwrap();
    assert_eq!((c.objects, c.bytes), (1, 2 * mib5 + 7));
}

#[test]
fn list_uploads_sorted_with_markers() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    let mk = |key: &str, id: &str, t: i64| UploadRecord {
        policy: "P".into(),
        ..test_fixtures::upload(id, key, t)
    };
    for u in [
        mk("b", "u1", 5),
        mk("a", "u2", 9),
        mk("b", "u3", 1),
        mk("d/x", "u4", 1),
        mk("d/y", "u5", 1),
    ] {
        s.create_upload("bucket", &u).unwrap();
    }
    let all = s
        .list_uploads("bucket", &ListUploadsRequest::default())
        .unwrap();
    let ids: Vec<&str> = all.uploads.iter().map(|u| u.upload_id.as_str()).collect();
    assert_eq!(ids, vec!["u2", "u3", "u1", "u4", "u5"]);
    let r = s
        .list_uploads(
            "bucket",
            &ListUploadsRequest {
                max_uploads: 2,
                ..Default::default()
            },
        )
        .unwrap();
    assert!(r.truncated);
    assert_eq!(r.next_key_marker.as_deref(), Some("b"));
    assert_eq!(r.next_upload_id_marker.as_deref(), Some("u3"));
    let r = s
        .list_uploads(
            "bucket",
            &ListUploadsRequest {
                key_marker: Some("b".into()),
                upload_id_marker: Some("u3".into()),
                delimiter: Some("/".into()),
                ..Default::default()
            },
        )
        .unwrap();
    let ids: Vec<&str> = r.uploads.iter().map(|u| u.upload_id.as_str()).collect();
    assert_eq!(ids, vec!["u1"]);
    assert_eq!(r.common_prefixes, vec!["d/"]);
    s.abort_upload("bucket", "u1").unwrap();
    assert!(matches!(
        s.abort_upload("bucket", "u1"),
        Err(Error::NoSuchUpload(_))
    ));
}

#[test]
fn heartbeat_scores_and_gc_handoff() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    let mut hb = Heartbeat {
        id: "svc-a".into(),
        kind: "chunkd".into(),
        addr: "127.0.0.1:1".into(),
        location: "dc.r.h.v".into(),
        slots: vec![],
        stats: ServiceStats {
            free_bytes: 25,
            total_bytes: 100,
            ..Default::default()
        },
        deleted: vec![],
        bad_chunks: vec![],
    };
    assert!(s.heartbeat(&hb).unwrap().delete.is_empty());
    let svc = s.list_services(Some("chunkd")).unwrap();
    assert_eq!(svc.len(), 1);
    // Default expression: min(100 * 0.25 * 2, 100) * (0.5 + 0.5 * 0) = 25; first rise ≤ 20.
    assert_eq!(svc[0].score, 20);
    assert_eq!(svc[0].locked, None);
    assert!(s.list_services(Some("other")).unwrap().is_empty());
    s.queue_gc(&[copy("svc-a", "c1"), copy("svc-b", "c2")])
        .unwrap();
    assert_eq!(s.heartbeat(&hb).unwrap().delete, vec!["c1"]);
    // Not confirmed yet: handed out again.
    assert_eq!(s.heartbeat(&hb).unwrap().delete, vec!["c1"]);
    hb.deleted = vec!["c1".into()];
    assert!(s.heartbeat(&hb).unwrap().delete.is_empty());
    assert_eq!(s.gc_len().unwrap(), 1);

    assert_eq!(s.list_services(None).unwrap()[0].score, 25);

    let mut rec = s.list_services(None).unwrap().remove(0);
    let now = rec.last_seen_ms;
    assert_eq!(score(&rec, now + 10_001, 10_000), 0);
    assert_eq!(score(&rec, now + 10_000, 10_000), 25);
    rec.locked = Some(0);
    assert_eq!(score(&rec, now, 10_000), 0);
    rec.locked = Some(70);
    assert_eq!(score(&rec, now, 10_000), 70);
    assert_eq!(score(&rec, now + 10_001, 10_000), 0);
}

#[test]
fn bounded_rise() {
    assert_eq!(bounded_score(0, 100, 20), 20);
    assert_eq!(bounded_score(20, 100, 20), 40);
    assert_eq!(bounded_score(90, 100, 20), 100);
    assert_eq!(bounded_score(90, 10, 20), 10);
    assert_eq!(bounded_score(0, 0, 20), 0);
    assert_eq!(bounded_score(0, 5, 0), 1);
    assert_eq!(bounded_score(250, 100, 255), 100);
}

fn full_heartbeat(id: &str) -> Heartbeat {
    Heartbeat {
        id: id.into(),
        kind: "chunkd".into(),
        addr: "127.0.0.1:1".into(),
        location: "dc.r.h.v".into(),
        slots: vec!["fast".into()],
        stats: ServiceStats {
            free_bytes: 100,
            total_bytes: 100,
            chunk_count: 0,
            io_idle: 1.0,
            cpu_idle: 1.0,
        },
        deleted: vec![],
        bad_chunks: vec![],
    }
}

fn score_of(s: &Store, id: &str) -> u8 {
    let all = s.list_services(None).unwrap();
    all.iter().find(|r| r.id == id).unwrap().score
}

#[test]
fn scores_rise_by_the_bound_and_fall_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(
        &Config {
            score_max_rise: 30,
            ..config(dir.path())
        },
        "127.0.0.1:6000",
    )
    .unwrap();
    let mut hb = full_heartbeat("svc");
    let mut seen = vec![];
    for _ in 0..5 {
        s.heartbeat(&hb).unwrap();
        seen.push(score_of(&s, "svc"));
    }
    assert_eq!(seen, vec![30, 60, 90, 100, 100]);
    assert_eq!(s.list_services(None).unwrap()[0].slots, vec!["fast"]);
    // Nearly full: falls at once.
    hb.stats.free_bytes = 5;
    s.heartbeat(&hb).unwrap();
    assert_eq!(score_of(&s, "svc"), 10);
    hb.stats.free_bytes = 0;
    s.heartbeat(&hb).unwrap();
    assert_eq!(score_of(&s, "svc"), 0);
    // From 0 it rises again by the bound: 80 computed, 30 allowed.
    hb.stats.free_bytes = 40;
    s.heartbeat(&hb).unwrap();
    assert_eq!(score_of(&s, "svc"), 30);
}

#[test]
fn custom_expression_and_bad_expression() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(
        &Config {
            score_expr: "50 * cpu + 10".into(),
            score_max_rise: 100,
            ..config(dir.path())
        },
        "127.0.0.1:6000",
    )
    .unwrap();
    let mut hb = full_heartbeat("svc");
    hb.stats.cpu_idle = 0.5;
    s.heartbeat(&hb).unwrap();
    assert_eq!(score_of(&s, "svc"), 35);
    drop(s);
    let bad = Config {
        score_expr: "50 * load".into(),
        ..config(dir.path())
    };
    let err = Store::open(&bad, "127.0.0.1:6000").err().unwrap();
    assert!(
        err.to_string().contains("unknown variable \"load\""),
        "{err}"
    );
}

#[test]
fn locks_and_locked_new_services() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(
        &Config {
            lock_new_services: true,
            score_max_rise: 100,
            ..config(dir.path())
        },
        "127.0.0.1:6000",
    )
    .unwrap();
    s.heartbeat(&full_heartbeat("a")).unwrap();
    s.heartbeat(&full_heartbeat("b")).unwrap();
    s.heartbeat(&full_heartbeat("a")).unwrap();
    let all = s.list_services(None).unwrap();
    assert!(all.iter().all(|r| r.locked == Some(0) && r.score == 0));
    let a = s.unlock_service("a").unwrap();
    assert_eq!((a.locked, a.score), (None, 0));
    s.heartbeat(&full_heartbeat("a")).unwrap();
    assert_eq!(score_of(&s, "a"), 100);
    // Still locked after more heartbeats.
    s.heartbeat(&full_heartbeat("b")).unwrap();
    assert_eq!(score_of(&s, "b"), 0);

    let a = s.lock_service("a", 7).unwrap();
    assert_eq!((a.locked, a.score), (Some(7), 7));
    s.heartbeat(&full_heartbeat("a")).unwrap();
    assert_eq!(score_of(&s, "a"), 7);
    assert!(matches!(
        s.lock_service("a", 101),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        s.lock_service("nope", 0),
        Err(Error::NoSuchService(_))
    ));
    assert!(matches!(
        s.unlock_service("nope"),
        Err(Error::NoSuchService(_))
    ));
    assert_eq!(s.unlock_all().unwrap(), 2);
    assert_eq!(s.unlock_all().unwrap(), 0);
    // Unlocked: rises from its locked score (max rise 100 here) on the next heartbeat.
    s.heartbeat(&full_heartbeat("b")).unwrap();
    assert_eq!(score_of(&s, "b"), 100);
    // Locks survive a reopen.
    s.lock_service("b", 3).unwrap();
    drop(s);
    let s = Store::open(&config(dir.path()), "127.0.0.1:6000").unwrap();
    assert_eq!(
        s.list_services(None)
            .unwrap()
            .iter()
            .find(|r| r.id == "b")
            .unwrap()
            .locked,
        Some(3)
    );
    // Without lock_new_services, a new service is not locked.
    s.heartbeat(&full_heartbeat("c")).unwrap();
    assert_eq!(score_of(&s, "c"), 20);
}

#[test]
fn state_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = store(dir.path());
        s.put_object("bucket", &object("kept", 4)).unwrap();
        s.create_key("acct", Some("AK"), Some("SK")).unwrap();
    }
    let s = Store::open(&config(dir.path()), "127.0.0.1:7000").unwrap();
    assert_eq!(s.get_object("bucket", "kept").unwrap().size, 4);
    assert_eq!(s.get_key("AK").unwrap().secret_key, "SK");
    assert_eq!(s.get_container("bucket").unwrap().objects, 1);
}

/// GC entries wait `gc_grace_secs` before they are handed out (reads in progress finish),
/// in due order. (Entries queued before due times existed: `format_tests`.)
#[test]
fn gc_entries_wait_their_grace() {
    let dir = tempfile::tempdir().unwrap();
    let grace = Config {
        gc_grace_secs: 2,
        ..config(dir.path())
    };
    let s = Store::open(&grace, "127.0.0.1:6000").unwrap();
    let mut hb = full_heartbeat("svc-a");
    s.queue_gc(&[copy("svc-a", "late")]).unwrap();
    assert!(s.heartbeat(&hb).unwrap().delete.is_empty(), "not due yet");
    let backlog = s.gc_backlog().unwrap();
    assert_eq!(backlog.len(), 1);
    assert_eq!((backlog[0].due, backlog[0].waiting), (0, 1));
    assert!(
        backlog[0]
            .next_due_ms
            .is_some_and(|t| t > crate::ids::now_ms())
    );
    std::thread::sleep(std::time::Duration::from_millis(1000));
    s.queue_gc(&[copy("svc-a", "later"), copy("svc-a", "late")])
        .unwrap();
    assert_eq!(s.gc_len().unwrap(), 2, "a queued copy is not queued twice");
    std::thread::sleep(std::time::Duration::from_millis(1300));
    assert_eq!(s.heartbeat(&hb).unwrap().delete, vec!["late"]);
    let backlog = s.gc_backlog().unwrap();
    assert_eq!((backlog[0].due, backlog[0].waiting), (1, 1));
    std::thread::sleep(std::time::Duration::from_millis(900));
    assert_eq!(s.heartbeat(&hb).unwrap().delete, vec!["late", "later"]);
    hb.deleted = vec!["late".into(), "later".into()];
    assert!(s.heartbeat(&hb).unwrap().delete.is_empty());
    assert_eq!(s.gc_len().unwrap(), 0);
    assert!(s.gc_backlog().unwrap().is_empty());
}
