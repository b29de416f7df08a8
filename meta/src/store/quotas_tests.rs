//! Quotas, account usage counters and deletes, on real LMDB environments.

use super::test_fixtures::{self, config};
use super::*;
use meta_api::api::Quota;
use meta_api::wire::ContainerSettings;

fn object(key: &str, size: u64) -> meta_api::wire::ObjectRecord {
    test_fixtures::object(key, size, &format!("chunk-{key}"))
}

fn quota(bytes: Option<u64>, objects: Option<u64>) -> Quota {
    Quota {
        max_bytes: bytes,
        max_objects: objects,
    }
}

fn account_usage(s: &Store) -> (u64, u64) {
    let q = s.get_quota("acct", None).unwrap();
    (q.objects, q.bytes)
}

#[test]
fn account_counter_follows_every_change_in_every_container() {
    let dir = tempfile::tempdir().unwrap();
    let s = test_fixtures::store(dir.path(), "one");
    s.create_container("acct", "two", &ContainerSettings::default())
        .unwrap();
    s.put_object("one", &object("a", 10)).unwrap();
    s.put_object("two", &object("b", 7)).unwrap();
    assert_eq!(account_usage(&s), (2, 17));
    s.put_object("one", &object("a", 4)).unwrap();
    assert_eq!(account_usage(&s), (2, 11));
    s.delete_object("two", "b").unwrap();
    assert_eq!(account_usage(&s), (1, 4));
    s.delete_container("acct", "two").unwrap();
    assert_eq!(account_usage(&s), (1, 4));
    // The counter is what the containers hold, after a reopen too.
    drop(s);
    let s = test_fixtures::store(dir.path(), "one");
    assert_eq!(account_usage(&s), (1, 4));
    let acct = s.get_account("acct").unwrap();
    assert_eq!((acct.objects, acct.bytes), (1, 4));
}

#[test]
fn a_bucket_quota_refuses_growth_past_it_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let s = test_fixtures::store(dir.path(), "b");
    let info = s
        .set_quota("acct", Some("b"), quota(Some(100), Some(3)))
        .unwrap();
    assert_eq!(info.quota, quota(Some(100), Some(3)));
    s.put_object("b", &object("x", 60)).unwrap();
    let err = s.put_object("b", &object("y", 41)).unwrap_err();
    match &err {
        Error::QuotaExceeded(m) => assert!(
            m.contains("bucket b would hold 101 bytes, over its quota of 100 bytes"),
            "{m}"
        ),
        other => panic!("expected QuotaExceeded, got {other:?}"),
    }
    // Nothing of the refused write is visible, and usage is unchanged.
    assert!(matches!(
        s.get_object("b", "y"),
        Err(Error::NoSuchObject(_))
    ));
    let c = s.get_container("b").unwrap();
    assert_eq!((c.objects, c.bytes), (1, 60));
    // Exactly at the limit is allowed; an overwrite that shrinks is allowed.
    s.put_object("b", &object("y", 40)).unwrap();
    s.put_object("b", &object("x", 10)).unwrap();
    s.put_object("b", &object("z", 1)).unwrap();
    // The object count limit.
    let err = s.put_object("b", &object("w", 1)).unwrap_err();
    assert!(
        matches!(err, Error::QuotaExceeded(ref m) if m.contains("4 objects")),
        "{err:?}"
    );
    // Deletes always work, and make room.
    s.delete_object("b", "z").unwrap();
    s.put_object("b", &object("w", 1)).unwrap();
    // Removing the quota lifts it.
    s.set_quota("acct", Some("b"), Quota::default()).unwrap();
    s.put_object("b", &object("v", 500)).unwrap();
    assert_eq!(
        s.get_quota("acct", Some("b")).unwrap().quota,
        Quota::default()
    );
}

#[test]
fn an_account_quota_spans_its_containers() {
    let dir = tempfile::tempdir().unwrap();
    let s = test_fixtures::store(dir.path(), "one");
    s.create_container("acct", "two", &ContainerSettings::default())
        .unwrap();
    s.set_quota("acct", None, quota(Some(50), None)).unwrap();
    s.put_object("one", &object("a", 30)).unwrap();
    let err = s.put_object("two", &object("b", 21)).unwrap_err();
    assert!(
        matches!(err, Error::QuotaExceeded(ref m) if m.contains("account acct would hold 51 bytes")),
        "{err:?}"
    );
    s.put_object("two", &object("b", 20)).unwrap();
    assert_eq!(account_usage(&s), (2, 50));
    // A container of another account is not a container of this one.
    s.create_account("other").unwrap();
    assert!(matches!(
        s.set_quota("other", Some("one"), quota(Some(1), None)),
        Err(Error::NoSuchContainer(_))
    ));
    assert!(matches!(
        s.set_quota("nobody", None, quota(Some(1), None)),
        Err(Error::NoSuchAccount(_))
    ));
}

/// Writers racing in one batch: the quota holds exactly, because each write is checked
/// against the ones before it in the same batch.
#[test]
fn concurrent_writers_cannot_overshoot_a_quota() {
    let dir = tempfile::tempdir().unwrap();
    let s = std::sync::Arc::new(test_fixtures::store(dir.path(), "b"));
    s.set_quota("acct", None, quota(None, Some(25))).unwrap();
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let s = s.clone();
            std::thread::spawn(move || {
                (0..10)
                    .filter(|i| s.put_object("b", &object(&format!("k{t}-{i}"), 1)).is_ok())
                    .count()
            })
        })
        .collect();
    let stored: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(stored, 25);
    assert_eq!(account_usage(&s), (25, 25));
    assert_eq!(s.get_container("b").unwrap().objects, 25);
}

#[test]
fn an_older_directory_gets_its_account_counters_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let s = test_fixtures::store(dir.path(), "one");
    s.create_container("acct", "two", &ContainerSettings::default())
        .unwrap();
    s.put_object("one", &object("a", 10)).unwrap();
    s.put_object("two", &object("b", 7)).unwrap();
    // Back to format 3: no counters.
    {
        let mut txn = s.dir.env.write_txn().unwrap();
        s.dir.account_usage.clear(&mut txn).unwrap();
        format::write(&s.dir.settings, &mut txn, 3).unwrap();
        txn.commit().unwrap();
    }
    drop(s);
    let s = Store::open(&config(dir.path()), "127.0.0.1:6000").unwrap();
    assert_eq!(account_usage(&s), (2, 17));
    let txn = s.dir.env.read_txn().unwrap();
    assert_eq!(
        format::stored(&s.dir.settings, &txn).unwrap(),
        Some(format::DIRECTORY)
    );
}

#[test]
fn deleting_an_account_takes_its_keys_users_and_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let s = test_fixtures::store(dir.path(), "b");
    s.create_key("acct", Some("AK1"), Some("secret-one"))
        .unwrap();
    s.create_key("acct", Some("AK2"), Some("secret-two"))
        .unwrap();
    s.create_account("keep").unwrap();
    s.create_key("keep", Some("AK3"), Some("secret-three"))
        .unwrap();
    s.create_swift_user("acct", "u", "key", true).unwrap();
    s.create_swift_user("keep", "u", "key", true).unwrap();
    let tok = s.create_token("acct", "u", 3600).unwrap();
    let kept = s.create_token("keep", "u", 3600).unwrap();
    s.set_quota("acct", None, quota(Some(10), None)).unwrap();
    // Not while it owns a container.
    let err = s.delete_account("acct").unwrap_err();
    assert!(
        matches!(err, Error::ContainerNotEmpty(ref m) if m.contains("still owns 1 container")),
        "{err:?}"
    );
    s.delete_container("acct", "b").unwrap();
    s.delete_account("acct").unwrap();
    assert!(matches!(
        s.get_account("acct"),
        Err(Error::NoSuchAccount(_))
    ));
    assert!(matches!(s.get_key("AK1"), Err(Error::NoSuchCredential(_))));
    assert!(matches!(s.get_key("AK2"), Err(Error::NoSuchCredential(_))));
    assert!(matches!(
        s.get_swift_user("acct", "u"),
        Err(Error::NoSuchCredential(_))
    ));
    assert!(matches!(
        s.get_token(&tok.token),
        Err(Error::NoSuchCredential(_))
    ));
    // The other account keeps everything.
    assert_eq!(s.get_key("AK3").unwrap().account, "keep");
    assert!(s.get_swift_user("keep", "u").is_ok());
    assert!(s.get_token(&kept.token).is_ok());
    assert!(matches!(
        s.delete_account("acct"),
        Err(Error::NoSuchAccount(_))
    ));
    // A new account of the same name starts with no quota and no usage.
    s.create_account("acct").unwrap();
    let q = s.get_quota("acct", None).unwrap();
    assert_eq!((q.quota, q.objects, q.bytes), (Quota::default(), 0, 0));
}

#[test]
fn deleting_a_key_or_a_swift_user() {
    let dir = tempfile::tempdir().unwrap();
    let s = test_fixtures::store(dir.path(), "b");
    s.create_key("acct", Some("AK1"), Some("secret-one"))
        .unwrap();
    s.create_swift_user("acct", "u", "key", false).unwrap();
    let tok = s.create_token("acct", "u", 3600).unwrap();
    s.delete_key("AK1").unwrap();
    assert!(matches!(s.get_key("AK1"), Err(Error::NoSuchCredential(_))));
    assert!(matches!(
        s.delete_key("AK1"),
        Err(Error::NoSuchCredential(_))
    ));
    s.delete_swift_user("acct", "u").unwrap();
    assert!(matches!(
        s.get_token(&tok.token),
        Err(Error::NoSuchCredential(_))
    ));
    assert!(matches!(
        s.delete_swift_user("acct", "u"),
        Err(Error::NoSuchCredential(_))
    ));
    // The account itself stays.
    assert!(s.get_account("acct").is_ok());
}
