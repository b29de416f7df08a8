//! Unit tests of object versioning on real LMDB environments: version ids, delete markers,
//! the null version, listings with markers, and which chunks go to GC.

use super::test_fixtures;
use super::*;
use meta_api::settings::{VersionChange, VersionProps};
use meta_api::wire::{ObjectRecord, PutCondition, VersionListRequest, Versioning};

fn store(dir: &std::path::Path) -> Store {
    test_fixtures::store(dir, "b")
}

/// An object whose one chunk has the id `chunk`.
fn object(key: &str, chunk: &str, size: u64) -> ObjectRecord {
    ObjectRecord {
        etag: format!("{:032x}", size),
        ..test_fixtures::object(key, size, chunk)
    }
}

fn listed(s: &Store, req: VersionListRequest) -> Vec<(String, String, bool, bool)> {
    s.list_versions("b", &req)
        .unwrap()
        .versions
        .into_iter()
        .map(|v| (v.key, v.version_id, v.is_latest, v.delete_marker))
        .collect()
}

#[test]
fn enabled_keeps_every_version_and_frees_only_removed_ones() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    s.put_object("b", &object("k", "c0", 1)).unwrap();
    s.set_versioning("b", Versioning::Enabled).unwrap();
    assert_eq!(s.get_versioning("b").unwrap(), Versioning::Enabled);
    let v1 = s.put_object("b", &object("k", "c1", 2)).unwrap().version_id;
    let v2 = s.put_object("b", &object("k", "c2", 3)).unwrap().version_id;
    assert_ne!(v1, v2);
    assert_eq!(s.gc_len().unwrap(), 0, "replacing a version frees nothing");
    assert_eq!(s.get_object("b", "k").unwrap().size, 3);
    assert_eq!(s.get_object_version("b", "k", Some(&v1)).unwrap().size, 2);
    assert_eq!(
        s.get_object_version("b", "k", Some("null")).unwrap().size,
        1
    );
    let all = listed(&s, VersionListRequest::default());
    assert_eq!(
        all,
        vec![
            ("k".into(), v2.clone(), true, false),
            ("k".into(), v1.clone(), false, false),
            ("k".into(), "null".into(), false, false),
        ]
    );
    // A delete adds a marker: nothing freed, the key is gone from GET and the usage.
    let d = s.delete_version("b", "k", None, false).unwrap();
    assert!(d.delete_marker && d.removed.is_none());
    assert_eq!(s.gc_len().unwrap(), 0);
    assert!(matches!(
        s.get_object("b", "k"),
        Err(Error::NoSuchObject(_))
    ));
    assert!(s.latest_is_delete_marker("b", "k").unwrap());
    assert_eq!(s.get_container("b").unwrap().objects, 0);
    let marker = d.version_id.unwrap();
    assert!(
        s.get_object_version("b", "k", Some(&marker))
            .unwrap()
            .delete_marker
    );
    // Removing the marker makes v2 current again.
    s.delete_version("b", "k", Some(&marker), false).unwrap();
    assert_eq!(s.get_object("b", "k").unwrap().size, 3);
    assert_eq!(s.get_container("b").unwrap().objects, 1);
    // Removing v2 frees its chunk and makes v1 current.
    let d = s.delete_version("b", "k", Some(&v2), false).unwrap();
    assert_eq!(d.removed.map(|r| r.size), Some(3));
    assert_eq!(s.gc_len().unwrap(), 1);
    assert_eq!(s.get_object("b", "k").unwrap().size, 2);
    assert!(matches!(
        s.get_object_version("b", "k", Some(&v2)),
        Err(Error::NoSuchVersion(_))
    ));
    assert!(matches!(
        s.get_object_version("b", "k", Some("not-hex")),
        Err(Error::InvalidArgument(_))
    ));
    // The container is not empty while any version is left.
    s.delete_version("b", "k", Some(&v1), false).unwrap();
    s.delete_version("b", "k", Some("null"), false).unwrap();
    assert_eq!(s.gc_len().unwrap(), 3);
    assert!(s.get_object("b", "k").is_err());
    s.delete_container("acct", "b").unwrap();
}

#[test]
fn versions_sharing_chunks_free_them_with_the_last_one() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    s.set_versioning("b", Versioning::Enabled).unwrap();
    let a = s
        .put_object("b", &object("k", "shared", 5))
        .unwrap()
        .version_id;
    // A metadata-only rewrite (Swift POST) stores a new version over the same chunks.
    let mut same = s.get_object("b", "k").unwrap();
    same.user_meta.insert("color".into(), "blue".into());
    let b = s.put_object("b", &same).unwrap().version_id;
    assert_eq!(
        s.gc_len().unwrap(),
        0,
        "a metadata rewrite freed its own chunk"
    );
    s.delete_version("b", "k", Some(&a), false).unwrap();
    assert_eq!(s.gc_len().unwrap(), 0, "a chunk still referenced was freed");
    s.delete_version("b", "k", Some(&b), false).unwrap();
    assert_eq!(s.gc_len().unwrap(), 1);
}

#[test]
fn suspended_writes_replace_the_null_version() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    s.set_versioning("b", Versioning::Enabled).unwrap();
    let v1 = s.put_object("b", &object("k", "c1", 1)).unwrap().version_id;
    s.set_versioning("b", Versioning::Suspended).unwrap();
    assert_eq!(
        s.put_object("b", &object("k", "n1", 2)).unwrap().version_id,
        "null"
    );
    assert_eq!(s.gc_len().unwrap(), 0);
    assert_eq!(
        s.put_object("b", &object("k", "n2", 3)).unwrap().version_id,
        "null"
    );
    assert_eq!(s.gc_len().unwrap(), 1, "the replaced null version is freed");
    let all = listed(&s, VersionListRequest::default());
    assert_eq!(
        all,
        vec![
            ("k".into(), "null".into(), true, false),
            ("k".into(), v1.clone(), false, false),
        ]
    );
    // A delete while suspended puts a null delete marker in place of the null version.
    let d = s.delete_version("b", "k", None, false).unwrap();
    assert!(d.delete_marker);
    assert_eq!(d.version_id.as_deref(), Some("null"));
    assert_eq!(s.gc_len().unwrap(), 2);
    let all = listed(&s, VersionListRequest::default());
    assert_eq!(
        all,
        vec![
            ("k".into(), "null".into(), true, true),
            ("k".into(), v1, false, false),
        ]
    );
    assert!(matches!(
        s.set_versioning("b", Versioning::Unversioned),
        Err(Error::InvalidArgument(_))
    ));
}

#[test]
fn version_listing_markers_prefixes_and_unversioned_containers() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    s.put_object("b", &object("plain", "p", 1)).unwrap();
    // A container never versioned lists its objects as null versions.
    assert_eq!(
        listed(&s, VersionListRequest::default()),
        vec![("plain".into(), "null".into(), true, false)]
    );
    s.set_versioning("b", Versioning::Enabled).unwrap();
    for k in ["a", "d/1", "d/2", "z"] {
        for i in 0..3 {
            s.put_object("b", &object(k, &format!("{k}{i}"), 1))
                .unwrap();
        }
    }
    // Pages of 2 through everything, with key and version-id markers.
    let mut req = VersionListRequest {
        max_keys: 2,
        ..Default::default()
    };
    let mut seen = Vec::new();
    for _ in 0..20 {
        let r = s.list_versions("b", &req).unwrap();
        seen.extend(
            r.versions
                .iter()
                .map(|v| (v.key.clone(), v.version_id.clone())),
        );
        if !r.truncated {
            break;
        }
        req.key_marker = r.next_key_marker;
        req.version_id_marker = r.next_version_id_marker;
    }
    assert_eq!(seen.len(), 13, "{seen:?}");
    let mut dedup = seen.clone();
    dedup.dedup();
    assert_eq!(dedup.len(), 13);
    // Delimiter: d/ is rolled up into one common prefix.
    let r = s
        .list_versions(
            "b",
            &VersionListRequest {
                delimiter: Some("/".into()),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(r.common_prefixes, vec!["d/".to_string()]);
    assert_eq!(r.versions.len(), 3 + 1 + 3);
    // Prefix.
    let r = listed(
        &s,
        VersionListRequest {
            prefix: "d/".into(),
            ..Default::default()
        },
    );
    assert_eq!(r.len(), 6);
    assert!(r.iter().all(|v| v.0.starts_with("d/")));
}

#[test]
fn conditional_puts() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    let absent = PutCondition {
        if_none_match_any: true,
        ..Default::default()
    };
    s.put_object_if("b", &object("k", "c1", 1), &absent)
        .unwrap();
    assert!(matches!(
        s.put_object_if("b", &object("k", "c2", 2), &absent),
        Err(Error::PreconditionFailed(_))
    ));
    let cur = s.get_object("b", "k").unwrap();
    let matching = PutCondition {
        if_match_etag: Some(cur.etag.clone()),
        ..Default::default()
    };
    s.put_object_if("b", &object("k", "c3", 3), &matching)
        .unwrap();
    assert!(matches!(
        s.put_object_if("b", &object("k", "c4", 4), &matching),
        Err(Error::PreconditionFailed(_))
    ));
    assert!(matches!(
        s.put_object_if("b", &object("other", "c5", 4), &matching),
        Err(Error::NoSuchObject(_))
    ));
    let exists = PutCondition {
        if_match_any: true,
        ..Default::default()
    };
    assert!(matches!(
        s.put_object_if("b", &object("absent", "c7", 7), &exists),
        Err(Error::PreconditionFailed(_))
    ));
    assert!(
        s.get_object("b", "absent").is_err(),
        "If-Match: * created an object"
    );
    s.put_object("b", &object("present", "c8", 8)).unwrap();
    s.put_object_if("b", &object("present", "c9", 9), &exists)
        .unwrap();
    let cas = PutCondition {
        if_content_id: Some(cur.content_id),
        ..Default::default()
    };
    assert!(matches!(
        s.put_object_if("b", &object("k", "c6", 6), &cas),
        Err(Error::PreconditionFailed(_))
    ));
    assert_eq!(s.get_object("b", "k").unwrap().size, 3);
}

#[test]
fn props_change_in_place_without_a_new_version() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    s.set_versioning("b", Versioning::Enabled).unwrap();
    let v1 = s.put_object("b", &object("k", "c1", 1)).unwrap().version_id;
    let v2 = s.put_object("b", &object("k", "c2", 2)).unwrap().version_id;
    let tags = VersionChange::Tags([("a".to_string(), "1".to_string())].into());
    let mut set = VersionProps::default();
    set.apply(tags.clone());
    // The current version: seen by GET with and without the id.
    s.change_object_props("b", "k", None, vec![tags.clone()], false)
        .unwrap();
    assert_eq!(s.get_object("b", "k").unwrap().props, set);
    assert_eq!(
        s.get_object_version("b", "k", Some(&v2)).unwrap().props,
        set
    );
    // An old version, then removal (the old way: names of the string map, as gateways from
    // before typed properties send them).
    s.change_object_props("b", "k", Some(&v1), vec![tags.clone()], false)
        .unwrap();
    assert_eq!(
        s.get_object_version("b", "k", Some(&v1)).unwrap().props,
        set
    );
    s.update_object_props(
        "b",
        "k",
        None,
        &Default::default(),
        &["tags".to_string()],
        false,
    )
    .unwrap();
    assert!(s.get_object("b", "k").unwrap().props.is_empty());
    assert_eq!(
        s.list_versions("b", &VersionListRequest::default())
            .unwrap()
            .versions
            .len(),
        2,
        "a property change made a version"
    );
    assert_eq!(s.gc_len().unwrap(), 0);
    assert!(matches!(
        s.change_object_props("b", "absent", None, vec![tags], false),
        Err(Error::NoSuchObject(_))
    ));
}

#[test]
fn locked_versions_survive_deletes_and_lifecycle() {
    use meta_api::lock::{COMPLIANCE, GOVERNANCE, Retention};
    use std::collections::BTreeMap;
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    s.set_versioning("b", Versioning::Enabled).unwrap();
    let far = crate::ids::now_ms() + 3_600_000;
    let locked = |key: &str, chunk: &str, mode: &str| {
        let mut o = object(key, chunk, 1);
        o.props.retention = Some(Retention {
            mode: mode.into(),
            until_ms: far,
        });
        s.put_object("b", &o).unwrap().version_id
    };
    let g = locked("g", "cg", GOVERNANCE);
    let c = locked("c", "cc", COMPLIANCE);
    assert!(matches!(
        s.delete_version("b", "g", Some(&g), false),
        Err(Error::ObjectLocked(_))
    ));
    assert!(matches!(
        s.delete_version("b", "c", Some(&c), true),
        Err(Error::ObjectLocked(_))
    ));
    // Shortening COMPLIANCE is refused even with bypass (asked the old way too: the string
    // map's names); GOVERNANCE gives way to bypass.
    let sooner = BTreeMap::from([(
        "lock-until-ms".to_string(),
        crate::ids::now_ms().to_string(),
    )]);
    let sooner_typed = VersionChange::Retention(Some(Retention {
        mode: COMPLIANCE.into(),
        until_ms: crate::ids::now_ms(),
    }));
    assert!(matches!(
        s.change_object_props("b", "c", Some(&c), vec![sooner_typed], true),
        Err(Error::ObjectLocked(_))
    ));
    assert!(matches!(
        s.update_object_props("b", "c", Some(&c), &sooner, &[], true),
        Err(Error::ObjectLocked(_))
    ));
    // A delete marker removes no version: allowed.
    assert!(
        s.delete_version("b", "c", None, false)
            .unwrap()
            .delete_marker
    );
    // A legal hold outlives a bypass.
    s.change_object_props(
        "b",
        "g",
        Some(&g),
        vec![VersionChange::LegalHold(true)],
        false,
    )
    .unwrap();
    assert!(s.delete_version("b", "g", Some(&g), true).is_err());
    s.change_object_props(
        "b",
        "g",
        Some(&g),
        vec![VersionChange::LegalHold(false)],
        false,
    )
    .unwrap();
    s.delete_version("b", "g", Some(&g), true).unwrap();
    assert_eq!(
        s.gc_len().unwrap(),
        1,
        "the bypassed version's chunk went to GC"
    );
    // The lifecycle worker may not remove a locked noncurrent version either.
    let rule: meta_api::wire::LifecycleRule = serde_json::from_value(serde_json::json!({
        "id": "all", "enabled": true, "noncurrent_days": 1
    }))
    .unwrap();
    // Set the old way (a gateway from before typed settings), which must still work.
    let rules = serde_json::to_string(&vec![rule]).unwrap();
    s.update_container_properties(
        "b",
        &BTreeMap::from([("lifecycle".to_string(), rules)]),
        &[],
    )
    .unwrap();
    s.lifecycle_pass_all(crate::ids::now_ms() + 10 * 86_400_000, 86_400_000)
        .unwrap();
    assert!(
        s.get_object_version("b", "c", Some(&c)).is_ok(),
        "lifecycle removed a locked version"
    );
}

#[test]
fn bucket_default_retention_reaches_every_new_version() {
    use meta_api::lock::{BucketLock, GOVERNANCE, Retention};
    use meta_api::settings::SettingChange;
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    s.set_versioning("b", Versioning::Enabled).unwrap();
    let lock = BucketLock {
        mode: Some(GOVERNANCE.to_string()),
        days: Some(2),
        years: None,
    };
    s.set_container_settings("b", vec![SettingChange::ObjectLock(Some(lock))])
        .unwrap();
    let before = crate::ids::now_ms();
    let v = s.put_object("b", &object("k", "c1", 1)).unwrap().version_id;
    let rec = s.get_object_version("b", "k", Some(&v)).unwrap();
    let r = rec.props.retention.clone().unwrap();
    assert_eq!(r.mode, GOVERNANCE);
    let until = r.until_ms;
    assert!(until >= before + 2 * 86_400_000 && until <= crate::ids::now_ms() + 2 * 86_400_000);
    assert!(matches!(
        s.delete_version("b", "k", Some(&v), false),
        Err(Error::ObjectLocked(_))
    ));
    // A version naming its own retention keeps it.
    let mut own = object("k2", "c2", 1);
    own.props.retention = Some(Retention {
        mode: "COMPLIANCE".into(),
        until_ms: 1,
    });
    let v2 = s.put_object("b", &own).unwrap().version_id;
    let rec = s.get_object_version("b", "k2", Some(&v2)).unwrap();
    assert_eq!(rec.props.retention.unwrap().until_ms, 1);
}

#[test]
fn an_abandoned_write_is_settled_by_its_content_id() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    let chunks = |c: &str| vec![test_fixtures::copy("svc", c)];
    // Recorded before the writer gave up: the version that holds it, nothing to GC.
    let landed = object("k", "c1", 1);
    s.put_object("b", &landed).unwrap();
    assert_eq!(
        s.abandon_write("b", "k", &landed.content_id, &chunks("c1"))
            .unwrap(),
        Some("null".to_string())
    );
    assert_eq!(s.gc_len().unwrap(), 0);
    // Not recorded: its chunks go to GC and the commit, arriving late, is refused.
    let late = object("k", "c2", 2);
    assert_eq!(
        s.abandon_write("b", "k", &late.content_id, &chunks("c2"))
            .unwrap(),
        None
    );
    assert_eq!(s.gc_len().unwrap(), 1);
    assert!(matches!(
        s.put_object("b", &late),
        Err(Error::PreconditionFailed(_))
    ));
    assert_eq!(
        s.get_object("b", "k").unwrap().content_id,
        landed.content_id
    );
    // In a versioned container a noncurrent version holding the content counts too.
    s.set_versioning("b", Versioning::Enabled).unwrap();
    let v1 = object("k", "c3", 3);
    let id1 = s.put_object("b", &v1).unwrap().version_id;
    s.put_object("b", &object("k", "c4", 4)).unwrap();
    assert_eq!(
        s.abandon_write("b", "k", &v1.content_id, &chunks("c3"))
            .unwrap(),
        Some(id1)
    );
    assert_eq!(s.gc_len().unwrap(), 1);
    assert!(s.abandon_write("b", "k", "", &[]).is_err());
}

#[test]
fn in_place_rewrite_keeps_the_version_and_its_id() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    s.set_versioning("b", Versioning::Enabled).unwrap();
    let v1 = s.put_object("b", &object("k", "c1", 1)).unwrap().version_id;
    let v2 = s.put_object("b", &object("k", "c2", 2)).unwrap().version_id;
    let mut cur = s.get_object("b", "k").unwrap();
    cur.content_type = Some("text/updated".to_string());
    let in_place = PutCondition {
        if_content_id: Some(cur.content_id.clone()),
        in_place: true,
        ..Default::default()
    };
    let stored = s.put_object_if("b", &cur, &in_place).unwrap();
    assert_eq!(stored.version_id, v2);
    let all = listed(&s, VersionListRequest::default());
    assert_eq!(
        all,
        vec![
            ("k".to_string(), v2.clone(), true, false),
            ("k".to_string(), v1.clone(), false, false),
        ]
    );
    let read = s.get_object_version("b", "k", Some(&v2)).unwrap();
    assert_eq!(read.content_type.as_deref(), Some("text/updated"));
    assert_eq!(
        s.get_object("b", "k").unwrap().content_type.as_deref(),
        Some("text/updated")
    );
    // Suspended: the current (versioned) record is still rewritten under its own id.
    s.set_versioning("b", Versioning::Suspended).unwrap();
    let mut cur = s.get_object("b", "k").unwrap();
    cur.user_meta.insert("color".to_string(), "red".to_string());
    assert_eq!(
        s.put_object_if("b", &cur, &in_place).unwrap().version_id,
        v2
    );
    assert_eq!(listed(&s, VersionListRequest::default()).len(), 2);
    // Other content, or no current object: refused, nothing written.
    let other = PutCondition {
        in_place: true,
        ..Default::default()
    };
    assert!(matches!(
        s.put_object_if("b", &object("k", "c9", 9), &other),
        Err(Error::PreconditionFailed(_))
    ));
    assert!(matches!(
        s.put_object_if("b", &object("absent", "c8", 8), &other),
        Err(Error::NoSuchObject(_))
    ));
    assert_eq!(listed(&s, VersionListRequest::default()).len(), 2);
}

#[test]
fn in_place_puts_are_command_version_8() {
    // An older node would drop the flag and store a new version: it must refuse the command.
    let put = |in_place| Command::PutObject {
        container: "b".into(),
        record: Box::new(object("k", "c1", 1)),
        condition: PutCondition {
            in_place,
            ..Default::default()
        },
        now_ms: 0,
        gc_due_ms: 0,
        pieces_wanted: 0,
    };
    assert_eq!(put(true).version(), 8);
    assert_eq!(put(false).version(), 1);
}
