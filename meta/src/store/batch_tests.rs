//! Batches of logged commands: applied in batches they leave the store exactly as applied one
//! by one, and a crash between a batch's meta2 commits and its directory commit is replayed
//! exactly (steps already in an environment answer from its outbox, nothing twice).

use super::batch::{CRASH_AT, Item, REPLAYED_STEPS};
use super::command_tests::{dump, log};
use super::test_fixtures::config;
use super::{Command, Outcome, Store};
use meta_api::error::Result;
use std::path::Path;

const ADDR: &str = "127.0.0.1:6000";

fn items(from: u64, commands: &[Command]) -> Vec<Item> {
    commands
        .iter()
        .enumerate()
        .map(|(i, c)| Item {
            index: Some(from + i as u64),
            command: Some(c.clone()),
        })
        .collect()
}

fn no_record(_: u64) -> Result<Vec<u8>> {
    Ok(Vec::new())
}

/// Applies `log()` (indexes from 1) in chunks of `chunk`; answers as strings.
fn apply_in_chunks(dir: &Path, chunk: usize) -> Vec<std::result::Result<Outcome, String>> {
    let s = Store::open(&config(dir), ADDR).unwrap();
    let log = log();
    let mut out = Vec::new();
    for (n, c) in log.chunks(chunk).enumerate() {
        let answers = s
            .apply_items(items(1 + (n * chunk) as u64, c), &mut no_record)
            .unwrap();
        out.extend(answers.into_iter().map(|a| a.map_err(|e| e.to_string())));
    }
    out
}

/// Every database of both stores is the same, except the outboxes (answers kept for a replay,
/// dropped at the next batch: they depend on where batches ended).
fn assert_same(a: &Path, b: &Path) {
    let strip = |mut d: super::command_tests::Dump| {
        d.retain(|name, _| !name.ends_with("/outbox"));
        d
    };
    let (da, db) = (strip(dump(a)), strip(dump(b)));
    assert_eq!(da.keys().collect::<Vec<_>>(), db.keys().collect::<Vec<_>>());
    for (name, entries) in &da {
        assert!(Some(entries) == db.get(name), "{name} differs");
    }
}

#[test]
fn batches_leave_the_store_as_one_by_one_does() {
    let (one, many) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = apply_in_chunks(one.path(), 1);
    let b = apply_in_chunks(many.path(), 7);
    assert_eq!(a, b);
    assert_same(one.path(), many.path());
}

#[test]
fn a_crash_between_meta2_and_directory_commits_is_replayed_exactly() {
    let reference = tempfile::tempdir().unwrap();
    const CHUNK: usize = 6;
    apply_in_chunks(reference.path(), CHUNK);
    let log = log();
    let chunks: Vec<&[Command]> = log.chunks(CHUNK).collect();
    let mut replayed_somewhere = false;
    for crash in 0..chunks.len() {
        let dir = tempfile::tempdir().unwrap();
        let before = REPLAYED_STEPS.with(|n| n.get());
        {
            let s = Store::open(&config(dir.path()), ADDR).unwrap();
            let mut from = 1u64;
            for (n, c) in chunks.iter().enumerate() {
                if n == crash {
                    // The last batch of this chunk ends at the chunk's last index (a chunk
                    // may be split where a command runs alone; the crash hits its last part).
                    CRASH_AT.with(|x| x.set(Some(from + c.len() as u64 - 1)));
                    let r = s.apply_items(items(from, c), &mut no_record);
                    assert!(r.is_err(), "the injected crash happened");
                    break;
                }
                s.apply_items(items(from, c), &mut no_record).unwrap();
                from += c.len() as u64;
            }
        }
        // Restart: apply again everything after what the directory holds.
        let s = Store::open(&config(dir.path()), ADDR).unwrap();
        let applied = s.applied_index().unwrap();
        let rest: Vec<Item> = items(1, &log)
            .into_iter()
            .filter(|i| i.index.is_some_and(|x| x > applied))
            .collect();
        s.apply_items(rest, &mut no_record).unwrap();
        drop(s);
        crate::store::lmdb::wait_closed(&dir.path().join("directory"));
        replayed_somewhere |= REPLAYED_STEPS.with(|n| n.get()) > before;
        assert_same(reference.path(), dir.path());
    }
    assert!(
        replayed_somewhere,
        "some crash left meta2 steps that the replay answered from the outbox"
    );
}
