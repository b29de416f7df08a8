//! Unit tests of the lifecycle rules applied to real LMDB environments, with a lifecycle day of
//! one second and the clock passed in: expiry by days and by date, prefix and tag filters, a
//! versioned container (delete marker, non-current versions, lone markers) and old uploads.

use super::test_fixtures;
use super::*;
use meta_api::wire::{LifecycleRule, ObjectRecord, VersionListRequest, Versioning};
use std::collections::BTreeMap;

const DAY: i64 = 1000;

fn store(dir: &std::path::Path) -> Store {
    test_fixtures::store(dir, "b")
}

fn object(key: &str, mtime_ms: i64, tags: &[(&str, &str)]) -> ObjectRecord {
    let mut rec = test_fixtures::object(key, 10, &crate::ids::new_content_id());
    rec.mtime_ms = mtime_ms;
    if !tags.is_empty() {
        rec.props.tags = tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    }
    rec
}

fn set_rules(s: &Store, rules: &[LifecycleRule]) {
    let lifecycle = meta_api::settings::Lifecycle {
        rules: rules.to_vec(),
        document: String::new(),
    };
    let change = meta_api::settings::SettingChange::Lifecycle(Some(lifecycle));
    s.set_container_settings("b", vec![change]).unwrap();
}

fn keys(s: &Store) -> Vec<(String, bool)> {
    let req = VersionListRequest {
        max_keys: 1000,
        ..Default::default()
    };
    s.list_versions("b", &req)
        .unwrap()
        .versions
        .into_iter()
        .map(|v| (v.key, v.delete_marker))
        .collect()
}

#[test]
fn expiration_by_days_prefix_and_tags() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    let t0 = 1_000_000;
    s.put_object("b", &object("logs/a", t0, &[])).unwrap();
    s.put_object("b", &object("logs/b", t0, &[("k", "v")]))
        .unwrap();
    s.put_object("b", &object("keep/c", t0, &[("k", "v")]))
        .unwrap();
    s.put_object("b", &object("other", t0, &[("k", "w")]))
        .unwrap();
    set_rules(
        &s,
        &[
            LifecycleRule {
                id: "by-prefix".into(),
                enabled: true,
                prefix: "logs/".into(),
                expiration_days: Some(2),
                ..Default::default()
            },
            LifecycleRule {
                id: "by-tag".into(),
                enabled: true,
                tags: BTreeMap::from([("k".to_string(), "v".to_string())]),
                expiration_days: Some(1),
                ..Default::default()
            },
            LifecycleRule {
                id: "disabled".into(),
                enabled: false,
                expiration_days: Some(1),
                ..Default::default()
            },
        ],
    );
    // Not yet a day: nothing.
    let p = s.lifecycle_pass("b", t0 + DAY / 2, DAY).unwrap();
    assert_eq!(p, LifecyclePass::default());
    // One day: the tagged objects.
    let p = s.lifecycle_pass("b", t0 + DAY, DAY).unwrap();
    assert_eq!(p.expired, 2);
    assert_eq!(
        keys(&s),
        vec![("logs/a".to_string(), false), ("other".to_string(), false)]
    );
    // Two days: the prefix.
    let p = s.lifecycle_pass_all(t0 + 2 * DAY, DAY).unwrap();
    assert_eq!(p.expired, 1);
    assert_eq!(keys(&s), vec![("other".to_string(), false)]);
}

#[test]
fn expiration_by_date() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    s.put_object("b", &object("a", 5, &[])).unwrap();
    set_rules(
        &s,
        &[LifecycleRule {
            id: "date".into(),
            enabled: true,
            expiration_date_ms: Some(50_000),
            ..Default::default()
        }],
    );
    assert_eq!(s.lifecycle_pass("b", 49_999, DAY).unwrap().expired, 0);
    assert_eq!(s.lifecycle_pass("b", 50_000, DAY).unwrap().expired, 1);
    assert!(keys(&s).is_empty());
}

#[test]
fn versioned_container() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    s.set_versioning("b", Versioning::Enabled).unwrap();
    let t0 = 1_000_000;
    s.put_object("b", &object("a", t0, &[])).unwrap();
    s.put_object("b", &object("a", t0 + DAY, &[])).unwrap();
    s.put_object("b", &object("a", t0 + 2 * DAY, &[])).unwrap();
    set_rules(
        &s,
        &[LifecycleRule {
            id: "nc".into(),
            enabled: true,
            noncurrent_days: Some(1),
            newer_noncurrent_versions: Some(1),
            ..Default::default()
        }],
    );
    // The oldest became non-current at t0 + DAY; one newer non-current version is kept.
    let p = s.lifecycle_pass("b", t0 + 3 * DAY, DAY).unwrap();
    assert_eq!(p.noncurrent, 1);
    assert_eq!(keys(&s).len(), 2);

    // Expiring the current version adds a delete marker; then the marker, once alone, goes.
    set_rules(
        &s,
        &[
            LifecycleRule {
                id: "cur".into(),
                enabled: true,
                expiration_days: Some(1),
                noncurrent_days: Some(1),
                ..Default::default()
            },
            LifecycleRule {
                id: "markers".into(),
                enabled: true,
                expired_object_delete_marker: true,
                ..Default::default()
            },
        ],
    );
    let now = crate::ids::now_ms() + 10 * DAY;
    // The older version has been non-current for days and goes in the same pass.
    let p = s.lifecycle_pass("b", now, DAY).unwrap();
    assert_eq!((p.expired, p.noncurrent), (1, 1));
    let listed = keys(&s);
    assert!(listed[0].1, "a delete marker is current: {listed:?}");
    // The version behind the marker became non-current when the marker was written.
    let p = s.lifecycle_pass("b", now + 2 * DAY, DAY).unwrap();
    assert_eq!(p.noncurrent, 1);
    let p = s.lifecycle_pass("b", now + 3 * DAY, DAY).unwrap();
    assert_eq!(p.markers, 1);
    assert!(keys(&s).is_empty());
}

#[test]
fn old_uploads_are_aborted() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    let upload = test_fixtures::upload;
    s.create_upload("b", &upload("u1", "tmp/x", 0)).unwrap();
    s.create_upload("b", &upload("u2", "keep/x", 0)).unwrap();
    set_rules(
        &s,
        &[LifecycleRule {
            id: "mpu".into(),
            enabled: true,
            prefix: "tmp/".into(),
            abort_multipart_days: Some(2),
            ..Default::default()
        }],
    );
    assert_eq!(s.lifecycle_pass("b", DAY, DAY).unwrap().aborted, 0);
    assert_eq!(s.lifecycle_pass("b", 2 * DAY, DAY).unwrap().aborted, 1);
    assert!(s.get_upload("b", "u1").is_err());
    assert!(s.get_upload("b", "u2").is_ok());
}
