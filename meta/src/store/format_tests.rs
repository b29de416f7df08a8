//! Stores written by the previous binary (format 1: no format numbers, records without
//! versions where that binary wrote none, GC entries without due times) open with this one,
//! and every kind of record reads back. The old store is written byte for byte as the previous
//! binary wrote it, with JSON literals, not through this binary's types.

use super::containers::container_id;
use super::lmdb::{self, Db, Env};
use super::test_fixtures::config;
use super::{Store, format};
use meta_api::wire::{ChunkCopy, Versioning};
use std::path::Path;

const ADDR: &str = "127.0.0.1:6000";
const FAR_FUTURE_MS: i64 = 4_000_000_000_000;

fn put(env: &Env, name: &str, pairs: &[(&[u8], &[u8])]) {
    let mut txn = env.write_txn().unwrap();
    let db: Db = lmdb::create_db(env, &mut txn, name).unwrap();
    for (k, v) in pairs {
        db.put(&mut txn, k, v).unwrap();
    }
    txn.commit().unwrap();
}

fn key2(a: &str, b: &str) -> Vec<u8> {
    [a.as_bytes(), b"\0", b.as_bytes()].concat()
}

const OBJECT_V1: &str = r#"{"v":1,"key":"k","version_id":"null","content_id":"0123","size":3,"etag":"e","mtime_ms":5,"content_type":"text/plain","headers":{"x-delete-at":"100"},"user_meta":{"m":"1"},"checksums":{},"policy":"SINGLE","parts":[],"chunks":[{"pos":0,"offset":0,"size":3,"hash":"h","copies":[],"inline":"YWJj"}],"props":{"tags":"{\"t\":\"1\"}"}}"#;
const VERSION_V1: &str = r#"{"v":1,"key":"doc","version_id":"fffffffffffffffe","content_id":"c1","size":1,"etag":"e1","mtime_ms":6,"content_type":null,"headers":{},"user_meta":{},"checksums":{},"policy":"THREECOPIES","parts":[],"chunks":[{"pos":0,"offset":0,"size":1,"hash":"h1","copies":[{"service":"svc-a","chunk_id":"aa"}]}]}"#;
const MARKER_V1: &str = r#"{"v":1,"key":"doc","version_id":"fffffffffffffffd","content_id":"","size":0,"etag":"","mtime_ms":7,"content_type":null,"headers":{},"user_meta":{},"checksums":{},"policy":"","parts":[],"chunks":[],"delete_marker":true}"#;
const UPLOAD_V1: &str = r#"{"v":1,"upload_id":"up1","key":"big","initiated_ms":8,"content_type":null,"headers":{},"user_meta":{},"policy":"THREECOPIES","checksum_algorithm":null}"#;
const PART_V1: &str = r#"{"v":1,"part_number":1,"size":4,"etag":"pe","mtime_ms":9,"checksums":{},"chunks":[{"pos":0,"offset":0,"size":4,"hash":"ph","copies":[{"service":"svc-a","chunk_id":"bb"}]}]}"#;

/// Writes a format-1 store under `dir`: account `acct` with containers `photos` (one object
/// with an inline chunk, tags and `x-delete-at`, one upload with a part) and `docs`
/// (versioned: a version and a delete marker), an access key, a Swift user and token, a
/// service, a policy file, an expiry entry and two GC entries (one undated, as queued before
/// due times, one dated).
fn write_format1(dir: &Path) {
    let d = lmdb::open_env(&dir.join("directory"), 64 << 20, 24).unwrap();
    let photos = container_id("acct", "photos");
    let docs = container_id("acct", "docs");
    let meta1 = |name: &str, props: &str| {
        format!(
            r#"{{"v":1,"account":"acct","name":"{name}","meta2":["{ADDR}"],"created_ms":2,"settings":{{"policy":null,"properties":{props}}}}}"#
        )
    };
    let addrs = format!(r#"["{ADDR}"]"#);
    let slots: Vec<[u8; 2]> = (0..=u16::MAX).map(u16::to_be_bytes).collect();
    put(
        &d,
        "meta0",
        &slots
            .iter()
            .map(|s| (&s[..], addrs.as_bytes()))
            .collect::<Vec<_>>(),
    );
    let (m1_photos, m1_docs) = (
        meta1(
            "photos",
            r#"{"s3:cors":"<CORSConfiguration><CORSRule><AllowedMethod>GET</AllowedMethod><AllowedOrigin>*</AllowedOrigin></CORSRule></CORSConfiguration>","object-lock":"{}","meta:colour":"red","read-acl":".r:*","odd":"<x/>"}"#,
        ),
        meta1("docs", "{}"),
    );
    put(
        &d,
        "meta1",
        &[
            (photos.as_bytes(), m1_photos.as_bytes()),
            (docs.as_bytes(), m1_docs.as_bytes()),
        ],
    );
    put(&d, "buckets", &[(b"photos", b"acct"), (b"docs", b"acct")]);
    put(
        &d,
        "accounts",
        &[(
            b"acct",
            br#"{"v":1,"name":"acct","created_ms":1,"meta":{"temp-url-key":"tk"}}"#,
        )],
    );
    put(
        &d,
        "account_containers",
        &[(&key2("acct", "photos"), b""), (&key2("acct", "docs"), b"")],
    );
    put(
        &d,
        "credentials",
        &[(
            b"AK",
            br#"{"access_key":"AK","secret_key":"SK","account":"acct"}"#,
        )],
    );
    put(
        &d,
        "services",
        &[(
            b"svc-a",
            br#"{"v":1,"id":"svc-a","kind":"chunkd","addr":"127.0.0.1:7001","location":"dc.r.h.v","slots":["ssd"],"stats":{"free_bytes":10,"total_bytes":20,"chunk_count":3,"io_idle":1.0,"cpu_idle":0.5},"first_seen_ms":1,"last_seen_ms":2,"score":50,"locked":7}"#,
        )],
    );
    let mut dated_due = key2("svc-a", "");
    dated_due.extend_from_slice(&u64::MAX.to_be_bytes());
    dated_due.extend_from_slice(b"dated");
    put(
        &d,
        "gc",
        &[
            (&key2("svc-a", "undated"), b""),
            (&key2("svc-a", "dated"), &u64::MAX.to_be_bytes()),
        ],
    );
    put(&d, "gc_due", &[(&dated_due, b"")]);
    put(&d, "settings", &[(b"policy", POLICIES.as_bytes())]);
    put(
        &d,
        "swift_users",
        &[(
            &key2("acct", "admin"),
            br#"{"account":"acct","user":"admin","key":"swk","admin":true}"#,
        )],
    );
    let token = format!(
        r#"{{"token":"AUTH_tk0123","account":"acct","user":"admin","admin":true,"expires_ms":{FAR_FUTURE_MS}}}"#
    );
    put(&d, "tokens", &[(b"AUTH_tk0123", token.as_bytes())]);
    let mut expiry_key = 100u64.to_be_bytes().to_vec();
    expiry_key.extend_from_slice(photos.as_bytes());
    expiry_key.extend_from_slice(b"k");
    put(
        &d,
        "expiry",
        &[(&expiry_key, br#"{"container":"photos","key":"k"}"#)],
    );
    drop(d);

    let meta2 = |cid: &str| {
        lmdb::open_env(&dir.join("meta2").join(&cid[..3]).join(cid), 64 << 20, 8).unwrap()
    };
    let usage = |objects: u64, bytes: u64| [objects.to_be_bytes(), bytes.to_be_bytes()].concat();
    let p = meta2(&photos);
    put(&p, "objects", &[(b"k", OBJECT_V1.as_bytes())]);
    put(&p, "usage", &[(b"usage", &usage(1, 3))]);
    put(&p, "uploads", &[(b"up1", UPLOAD_V1.as_bytes())]);
    let mut part_key = b"up1\0".to_vec();
    part_key.extend_from_slice(&1u32.to_be_bytes());
    put(&p, "parts", &[(&part_key, PART_V1.as_bytes())]);
    put(&p, "versions", &[]);
    put(&p, "props", &[]);
    drop(p);
    let v = meta2(&docs);
    let vkey = |suffix: u64| [&b"doc\0"[..], &suffix.to_be_bytes()].concat();
    put(&v, "objects", &[]);
    put(&v, "usage", &[(b"usage", &usage(0, 0))]);
    put(&v, "uploads", &[]);
    put(&v, "parts", &[]);
    put(
        &v,
        "versions",
        &[
            (&vkey(u64::MAX - 1), VERSION_V1.as_bytes()),
            (&vkey(u64::MAX - 2), MARKER_V1.as_bytes()),
        ],
    );
    put(
        &v,
        "props",
        &[
            (b"versioning", b"Enabled"),
            (b"version-seq", &2u64.to_be_bytes()),
        ],
    );
}

const POLICIES: &str = r#"
default = "THREECOPIES"

[policies.THREECOPIES]
kind = "replicate"
copies = 3

[policies.SINGLE]
kind = "replicate"
copies = 1
"#;

#[test]
fn a_format_1_store_opens_and_every_record_kind_reads_back() {
    let tmp = tempfile::tempdir().unwrap();
    write_format1(tmp.path());
    let s = Store::open(&config(tmp.path()), ADDR).unwrap();

    let account = s.get_account("acct").unwrap();
    assert_eq!(account.meta["temp-url-key"], "tk");
    assert_eq!(account.containers, 2);
    assert_eq!(s.get_key("AK").unwrap().secret_key, "SK");
    assert_eq!(s.list_keys().unwrap().len(), 1);

    let photos = s.get_container("photos").unwrap();
    // Version-1 meta1 records: the settings' string map is read as typed settings.
    let props = &photos.settings.props;
    let cors = props.cors.as_ref().unwrap();
    assert_eq!(cors.rules[0].allowed_methods, ["GET"]);
    assert_eq!(cors.rules[0].allowed_origins, ["*"]);
    assert_eq!(props.object_lock, Some(Default::default()));
    assert_eq!(props.swift.meta["colour"], "red");
    assert_eq!(props.swift.read_acl.as_deref(), Some(".r:*"));
    assert_eq!(props.other["odd"], "<x/>");
    assert_eq!((photos.objects, photos.bytes), (1, 3));
    let o = s.get_object("photos", "k").unwrap();
    assert_eq!(o.chunks[0].inline.as_deref(), Some(&b"abc"[..]));
    assert_eq!(o.user_meta["m"], "1");
    // Version-1 object records: the properties' string map is read as typed properties.
    assert_eq!(o.props.tags["t"], "1");
    let listed = s
        .list_objects("photos", &Default::default())
        .unwrap()
        .objects;
    assert_eq!(listed.len(), 1);

    assert_eq!(s.get_upload("photos", "up1").unwrap().key, "big");
    let parts = s.list_parts("photos", "up1", None, 0).unwrap().parts;
    assert_eq!(parts[0].chunks[0].copies[0].chunk_id, "bb");

    assert_eq!(s.get_versioning("docs").unwrap(), Versioning::Enabled);
    let versions = s
        .list_versions(
            "docs",
            &meta_api::wire::VersionListRequest {
                max_keys: 10,
                ..Default::default()
            },
        )
        .unwrap()
        .versions;
    assert_eq!(versions.len(), 2);
    assert!(versions[0].delete_marker && versions[0].is_latest);
    let old = s
        .get_object_version("docs", "doc", Some("fffffffffffffffe"))
        .unwrap();
    assert_eq!(old.chunks[0].copies[0].service, "svc-a");

    let services = s.list_services(None).unwrap();
    assert_eq!(services[0].slots, ["ssd"]);
    assert_eq!(services[0].locked, Some(7));
    assert!(s.get_policy().unwrap().is_some());
    assert!(s.get_swift_user("acct", "admin").unwrap().admin);
    assert_eq!(s.get_token("AUTH_tk0123").unwrap().user, "admin");

    // The 1 -> 2 migration dated the undated GC entry (due now); the dated one still waits.
    let backlog = s.gc_backlog().unwrap();
    assert_eq!((backlog[0].due, backlog[0].waiting), (1, 1), "{backlog:?}");
    // The old expiry entry still finds its object.
    assert_eq!(s.expire_due(200).unwrap().deleted, 1);
    assert!(s.get_object("photos", "k").is_err());

    // A new write stores the current record versions beside the old ones.
    s.put_object("docs", &{
        let mut r = old.clone();
        r.chunks[0].copies = vec![ChunkCopy {
            service: "svc-a".into(),
            chunk_id: "cc".into(),
            fragment: None,
            hash: None,
        }];
        r
    })
    .unwrap();
    assert_eq!(
        s.list_versions("docs", &Default::default())
            .unwrap()
            .versions
            .len(),
        3
    );
    drop(s);

    // The numbers are written: the directory is format 2, meta2 environments format 1.
    let d = lmdb::open_env(&tmp.path().join("directory"), 64 << 20, 24).unwrap();
    let txn = d.read_txn().unwrap();
    let settings: Db = d.open_database(&txn, Some("settings")).unwrap().unwrap();
    assert_eq!(
        format::stored(&settings, &txn).unwrap(),
        Some(format::DIRECTORY)
    );
}

#[test]
fn a_store_of_a_newer_format_is_refused_with_both_numbers() {
    let tmp = tempfile::tempdir().unwrap();
    drop(Store::open(&config(tmp.path()), ADDR).unwrap());
    let d = lmdb::open_env(&tmp.path().join("directory"), 64 << 20, 24).unwrap();
    put(&d, "settings", &[(format::KEY, &7u32.to_be_bytes())]);
    drop(d);
    lmdb::wait_closed(&tmp.path().join("directory"));
    let e = match Store::open(&config(tmp.path()), ADDR) {
        Ok(_) => panic!("a newer directory format was opened"),
        Err(e) => e.to_string(),
    };
    assert!(
        e.contains("format 7") && e.contains(&format!("up to {}", format::DIRECTORY)),
        "{e}"
    );
    assert!(!e.contains('\n'), "{e}");
}

#[test]
fn a_meta2_environment_of_a_newer_format_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let s = super::test_fixtures::store(tmp.path(), "b");
    let cid = container_id("acct", "b");
    drop(s);
    let path = tmp.path().join("meta2").join(&cid[..3]).join(&cid);
    lmdb::wait_closed(&path);
    let m = lmdb::open_env(&path, 64 << 20, 8).unwrap();
    put(
        &m,
        "props",
        &[(format::KEY, &(format::META2 + 1).to_be_bytes())],
    );
    drop(m);
    lmdb::wait_closed(&path);
    let s = Store::open(&config(tmp.path()), ADDR).unwrap();
    let e = s.get_container("b").unwrap_err().to_string();
    assert!(e.contains(&format!("format {}", format::META2 + 1)), "{e}");
}
