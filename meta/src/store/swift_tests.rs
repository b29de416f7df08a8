//! Unit tests of the Swift state of the store: users, tokens, account metadata, container
//! properties and the expirer, on real LMDB environments in temporary directories.

use super::test_fixtures;
use super::*;
use meta_api::wire::{
    ChunkRecord, CompletePart, CompleteRequest, ObjectRecord, PartRecord, UploadRecord,
};
use std::collections::BTreeMap;

fn store(dir: &std::path::Path) -> Store {
    test_fixtures::store(dir, "cont")
}

fn chunks(id: &str, size: u64) -> Vec<ChunkRecord> {
    vec![test_fixtures::chunk(0, 0, size, id)]
}

fn object(key: &str, delete_at: Option<&str>) -> ObjectRecord {
    let mut rec = test_fixtures::object(key, 10, &format!("chunk-{}", crate::ids::random_hex(8)));
    if let Some(at) = delete_at {
        rec.headers
            .insert("x-delete-at".to_string(), at.to_string());
    }
    rec
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn now_secs() -> u64 {
    u64::try_from(crate::ids::now_ms() / 1000).unwrap()
}

#[test]
fn swift_users() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    let u = s.create_swift_user("acct", "bob", "secret", false).unwrap();
    assert_eq!(
        (u.account.as_str(), u.user.as_str(), u.admin),
        ("acct", "bob", false)
    );
    assert_eq!(s.get_swift_user("acct", "bob").unwrap(), u);
    assert!(matches!(
        s.create_swift_user("acct", "bob", "other", true),
        Err(Error::CredentialExists(n)) if n == "acct:bob"
    ));
    assert!(matches!(
        s.create_swift_user("nobody", "bob", "k", false),
        Err(Error::NoSuchAccount(_))
    ));
    assert!(matches!(
        s.get_swift_user("acct", "alice"),
        Err(Error::NoSuchCredential(_))
    ));
    // A user of another account with the same name is another user.
    s.create_account("acct2").unwrap();
    assert!(matches!(
        s.get_swift_user("acct2", "bob"),
        Err(Error::NoSuchCredential(_))
    ));
    for (a, u, k) in [("acct", "", "k"), ("acct", "x", ""), ("a:b", "x", "k")] {
        assert!(
            matches!(
                s.create_swift_user(a, u, k, false),
                Err(Error::InvalidArgument(_))
            ),
            "{a:?} {u:?} {k:?}"
        );
    }
    // Users survive a reopen.
    drop(s);
    let config = Config {
        data_dir: dir.path().to_path_buf(),
        map_size_mib: 64,
        ..Config::default()
    };
    let s = Store::open(&config, "127.0.0.1:6000").unwrap();
    assert_eq!(s.get_swift_user("acct", "bob").unwrap().key, "secret");
}

#[test]
fn tokens_expire() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    assert!(matches!(
        s.create_token("acct", "bob", 60),
        Err(Error::NoSuchCredential(_))
    ));
    s.create_swift_user("acct", "bob", "k", true).unwrap();
    let t = s.create_token("acct", "bob", 60).unwrap();
    let hex = t.token.strip_prefix(TOKEN_PREFIX).unwrap();
    assert_eq!(hex.len(), 32);
    assert!(hex.chars().all(|c| c.is_ascii_hexdigit()));
    assert!(t.admin);
    let now = crate::ids::now_ms();
    assert!(t.expires_ms > now + 55_000 && t.expires_ms <= now + 60_000);
    assert_eq!(s.get_token(&t.token).unwrap(), t);
    assert_ne!(s.create_token("acct", "bob", 60).unwrap().token, t.token);
    assert!(matches!(
        s.get_token("AUTH_tknope"),
        Err(Error::NoSuchCredential(_))
    ));

    // A 1-second token is refused once expired (the read removes nothing: the purge does).
    let short = s.create_token("acct", "bob", 1).unwrap();
    s.get_token(&short.token).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert!(matches!(
        s.get_token(&short.token),
        Err(Error::NoSuchCredential(_))
    ));
    // Purging: the expired one goes now; the two 60 s tokens are still valid, gone an hour
    // later.
    assert_eq!(s.purge_tokens(crate::ids::now_ms()).unwrap(), 1);
    s.get_token(&t.token).unwrap();
    assert_eq!(s.purge_tokens(crate::ids::now_ms() + 3_600_000).unwrap(), 2);
    assert!(s.get_token(&t.token).is_err());
}

#[test]
fn account_meta_and_usage() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    let a = s.get_account("acct").unwrap();
    assert_eq!((a.containers, a.objects, a.bytes), (1, 0, 0));
    assert!(a.meta.is_empty());
    s.put_object("cont", &object("k", None)).unwrap();
    let a = s
        .update_account_meta(
            "acct",
            &map(&[("Color", "blue"), ("temp-url-key", "s3cr3t")]),
            &[],
        )
        .unwrap();
    assert_eq!(
        a.meta,
        map(&[("color", "blue"), ("temp-url-key", "s3cr3t")])
    );
    assert_eq!((a.containers, a.objects, a.bytes), (1, 1, 10));
    let a = s
        .update_account_meta("acct", &map(&[("size", "L")]), &["COLOR".to_string()])
        .unwrap();
    assert_eq!(a.meta, map(&[("size", "L"), ("temp-url-key", "s3cr3t")]));
    assert_eq!(s.get_account("acct").unwrap().meta, a.meta);
    // list_accounts carries the metadata too.
    let listed = s.list_accounts().unwrap();
    assert_eq!(listed[0].meta, a.meta);
    assert!(matches!(
        s.get_account("nobody"),
        Err(Error::NoSuchAccount(_))
    ));
    assert!(matches!(
        s.update_account_meta("nobody", &map(&[("a", "b")]), &[]),
        Err(Error::NoSuchAccount(_))
    ));
    assert!(matches!(
        s.update_account_meta("acct", &map(&[("", "b")]), &[]),
        Err(Error::InvalidArgument(_))
    ));
}

#[test]
fn container_properties() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    s.put_object("cont", &object("k", None)).unwrap();
    let c = s
        .update_container_properties(
            "cont",
            &map(&[("meta:Color", "red"), ("read-acl", ".r:*,.rlistings")]),
            &[],
        )
        .unwrap();
    assert_eq!(c.settings.props.swift.meta, map(&[("color", "red")]));
    assert_eq!(
        c.settings.props.swift.read_acl.as_deref(),
        Some(".r:*,.rlistings")
    );
    assert_eq!((c.objects, c.bytes), (1, 10));
    let c = s
        .update_container_properties(
            "cont",
            &map(&[("versions-location", "old")]),
            &["read-acl".to_string()],
        )
        .unwrap();
    assert_eq!(c.settings.props.swift.meta, map(&[("color", "red")]));
    assert_eq!(c.settings.props.swift.read_acl, None);
    assert_eq!(
        c.settings.props.swift.versions_location.as_deref(),
        Some("old")
    );
    assert_eq!(s.get_container("cont").unwrap().settings, c.settings);
    assert!(matches!(
        s.update_container_properties("nope", &map(&[("a", "b")]), &[]),
        Err(Error::NoSuchContainer(_))
    ));
}

#[test]
fn delete_at_parsing() {
    use expirer::delete_at;
    assert_eq!(
        delete_at(&object("a", Some("1700000000"))),
        Some(1_700_000_000)
    );
    assert_eq!(delete_at(&object("a", Some(" 12.75 "))), Some(12));
    assert_eq!(delete_at(&object("a", Some("-5"))), None);
    assert_eq!(delete_at(&object("a", Some("soon"))), None);
    assert_eq!(delete_at(&object("a", None)), None);
}

#[test]
fn expirer_deletes_due_objects_and_queues_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    let now = now_secs();
    let past = (now - 5).to_string();
    let future = (now + 3600).to_string();
    s.put_object("cont", &object("due", Some(&past))).unwrap();
    s.put_object("cont", &object("later", Some(&future)))
        .unwrap();
    s.put_object("cont", &object("plain", None)).unwrap();
    let long_key = "L".repeat(1000);
    s.put_object("cont", &object(&long_key, Some(&past)))
        .unwrap();
    assert_eq!(s.expiry_len().unwrap(), 3);
    assert_eq!(s.gc_len().unwrap(), 0);

    let pass = s.expire_due(now).unwrap();
    assert_eq!(
        pass,
        ExpiryPass {
            deleted: 2,
            stale: 0
        }
    );
    assert!(matches!(
        s.get_object("cont", "due"),
        Err(Error::NoSuchObject(_))
    ));
    assert!(matches!(
        s.get_object("cont", &long_key),
        Err(Error::NoSuchObject(_))
    ));
    s.get_object("cont", "later").unwrap();
    s.get_object("cont", "plain").unwrap();
    assert_eq!(
        s.gc_len().unwrap(),
        2,
        "the expired objects' chunks go to GC"
    );
    let c = s.get_container("cont").unwrap();
    assert_eq!((c.objects, c.bytes), (2, 20));
    assert_eq!(s.expiry_len().unwrap(), 1);
    // Nothing more is due now; the future one goes when its time comes.
    assert_eq!(s.expire_due(now).unwrap(), ExpiryPass::default());
    assert_eq!(s.expire_due(now + 3600).unwrap().deleted, 1);
    assert_eq!(s.expiry_len().unwrap(), 0);
    s.get_object("cont", "plain").unwrap();
}

#[test]
fn expiry_index_follows_replace_delete_and_multipart() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    let now = now_secs();
    // Replaced by a record without x-delete-at: no longer expires.
    s.put_object("cont", &object("a", Some(&(now - 1).to_string())))
        .unwrap();
    s.put_object("cont", &object("a", None)).unwrap();
    assert_eq!(s.expiry_len().unwrap(), 0);
    // Delete-at moved later: only the new time counts.
    s.put_object("cont", &object("b", Some(&(now - 1).to_string())))
        .unwrap();
    s.put_object("cont", &object("b", Some(&(now + 100).to_string())))
        .unwrap();
    assert_eq!(s.expiry_len().unwrap(), 1);
    assert_eq!(s.expire_due(now).unwrap(), ExpiryPass::default());
    s.get_object("cont", "b").unwrap();
    // Same delete-at kept across a replace: one entry, still there.
    s.put_object("cont", &object("b", Some(&(now + 100).to_string())))
        .unwrap();
    assert_eq!(s.expiry_len().unwrap(), 1);
    // Deleted: the entry goes.
    s.delete_object("cont", "b").unwrap();
    assert_eq!(s.expiry_len().unwrap(), 0);

    // A multipart upload carrying x-delete-at in its headers.
    let upload = UploadRecord {
        headers: map(&[("x-delete-at", &(now - 1).to_string())]),
        ..test_fixtures::upload(&crate::ids::new_upload_id(), "mp", 1)
    };
    s.create_upload("cont", &upload).unwrap();
    let part = PartRecord {
        part_number: 1,
        size: 10,
        etag: "0123456789abcdef0123456789abcdef".into(),
        mtime_ms: 1,
        checksums: Default::default(),
        chunks: chunks("mp-chunk", 10),
        key: None,
    };
    s.put_part("cont", &upload.upload_id, &part).unwrap();
    let req = CompleteRequest {
        parts: vec![CompletePart {
            part_number: 1,
            etag: part.etag.clone(),
        }],
        checksums: Default::default(),
        condition: Default::default(),
    };
    s.complete_upload("cont", &upload.upload_id, &req).unwrap();
    assert_eq!(s.expiry_len().unwrap(), 1);
    let gc_before = s.gc_len().unwrap();
    assert_eq!(s.expire_due(now).unwrap().deleted, 1);
    assert!(matches!(
        s.get_object("cont", "mp"),
        Err(Error::NoSuchObject(_))
    ));
    assert_eq!(s.gc_len().unwrap(), gc_before + 1);
}

#[test]
fn stale_expiry_entries_are_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    let now = now_secs();
    let rec = object("gone", Some(&(now - 1).to_string()));
    s.put_object("cont", &rec).unwrap();
    // Simulate a crash after the index write but before the meta2 commit of a replacement:
    // an entry whose object does not carry that delete-at.
    let r = s.resolve("cont").unwrap();
    let other = object("gone", Some(&(now - 2).to_string()));
    s.index_expiry_now("cont", &r.cid, &other).unwrap();
    drop(r);
    assert_eq!(s.expiry_len().unwrap(), 2);
    assert_eq!(
        s.expire_due(now).unwrap(),
        ExpiryPass {
            deleted: 1,
            stale: 1
        }
    );
    assert_eq!(s.expiry_len().unwrap(), 0);
    // An entry of a deleted container is stale too.
    s.put_object("cont", &object("x", Some(&(now - 1).to_string())))
        .unwrap();
    let r = s.resolve("cont").unwrap();
    let rec = s.get_object("cont", "x").unwrap();
    s.delete_object("cont", "x").unwrap();
    s.index_expiry_now("cont", &r.cid, &rec).unwrap();
    drop(r);
    s.delete_container("acct", "cont").unwrap();
    assert_eq!(
        s.expire_due(now).unwrap(),
        ExpiryPass {
            deleted: 0,
            stale: 1
        }
    );
    assert_eq!(s.expiry_len().unwrap(), 0);
}
