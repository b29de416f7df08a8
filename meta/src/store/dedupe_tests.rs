//! Request ids: a write retried after a lost answer is answered, not applied twice.

use super::dedupe::{WINDOW_MS, with_request};
use super::test_fixtures::{self};
use super::*;
use meta_api::wire::{PutCondition, Versioning};

fn object(key: &str, size: u64, chunk: &str) -> meta_api::wire::ObjectRecord {
    test_fixtures::object(key, size, chunk)
}

fn versions(s: &Store, key: &str) -> usize {
    let req = meta_api::wire::VersionListRequest {
        prefix: key.to_string(),
        max_keys: 1000,
        ..Default::default()
    };
    s.list_versions("b", &req).unwrap().versions.len()
}

#[test]
fn a_retried_put_makes_one_version_and_gets_the_first_answer() {
    let dir = tempfile::tempdir().unwrap();
    let s = test_fixtures::store(dir.path(), "b");
    s.set_versioning("b", Versioning::Enabled).unwrap();
    let cond = PutCondition {
        if_none_match_any: true,
        ..Default::default()
    };
    let first = with_request(Some("rid-1".into()), || {
        s.put_object_if("b", &object("k", 5, "c1"), &cond)
    })
    .unwrap();
    // The same request again (its answer was lost): prepared anew, with another content,
    // and `If-None-Match: *` that would now fail.
    let again = with_request(Some("rid-1".into()), || {
        s.put_object_if("b", &object("k", 5, "c1"), &cond)
    })
    .unwrap();
    assert_eq!(first, again);
    assert_eq!(versions(&s, "k"), 1);
    // Another id is another request: refused by its condition.
    let other = with_request(Some("rid-2".into()), || {
        s.put_object_if("b", &object("k", 5, "c1"), &cond)
    });
    assert!(
        matches!(other, Err(Error::PreconditionFailed(_))),
        "{other:?}"
    );
    // A refusal is remembered too.
    let other_again = with_request(Some("rid-2".into()), || {
        s.put_object_if("b", &object("k", 5, "c1"), &PutCondition::default())
    });
    assert!(
        matches!(other_again, Err(Error::PreconditionFailed(_))),
        "{other_again:?}"
    );
    // Without an id, every call is applied.
    s.put_object("b", &object("k", 5, "c2")).unwrap();
    s.put_object("b", &object("k", 5, "c3")).unwrap();
    assert_eq!(versions(&s, "k"), 3);
}

#[test]
fn only_the_first_command_of_a_call_carries_the_id() {
    let dir = tempfile::tempdir().unwrap();
    let s = test_fixtures::store(dir.path(), "b");
    s.set_versioning("b", Versioning::Enabled).unwrap();
    with_request(Some("rid-3".into()), || {
        s.put_object("b", &object("a", 1, "ca")).unwrap();
        // A second command in the same call is its own write.
        s.put_object("b", &object("a", 1, "cb")).unwrap();
    });
    assert_eq!(versions(&s, "a"), 2);
}

#[test]
fn answers_are_forgotten_after_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let s = test_fixtures::store(dir.path(), "b");
    s.set_versioning("b", Versioning::Enabled).unwrap();
    let t = 1_700_000_000_000i64;
    let put = |id: &str, now_ms: i64, chunk: &str| Command::Once {
        request: dedupe::RequestTag {
            id: id.into(),
            now_ms,
        },
        command: Box::new(Command::PutObject {
            container: "b".into(),
            record: Box::new(object("k", 1, chunk)),
            condition: PutCondition::default(),
            now_ms,
            gc_due_ms: 0,
            pieces_wanted: 0,
        }),
    };
    s.apply(put("old", t, "c1")).unwrap();
    s.apply(put("old", t + 1000, "c2")).unwrap();
    assert_eq!(versions(&s, "k"), 1);
    // Past the window the id is a new request; a later command purges the old record.
    s.apply(put("old", t + WINDOW_MS + 1, "c3")).unwrap();
    assert_eq!(versions(&s, "k"), 2);
    s.apply(put("new", t + 3 * WINDOW_MS, "c4")).unwrap();
    let txn = s.dir.env.read_txn().unwrap();
    assert_eq!(s.dir.requests.len(&txn).unwrap(), 1);
    assert_eq!(s.dir.requests_at.len(&txn).unwrap(), 1);
}

#[test]
fn bad_ids_are_refused() {
    for bad in ["", "a b", "x/y", &"z".repeat(65)] {
        assert!(dedupe::check_id(bad).is_err(), "{bad:?}");
    }
    dedupe::check_id("0123abcd-_XY").unwrap();
}
