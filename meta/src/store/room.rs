//! Refusing writes before an LMDB map fills up.
//!
//! An LMDB environment is a memory map of fixed size: a write that needs a page beyond it
//! fails with `MDB_MAP_FULL`, which in a Raft state machine stops the node (and, the log being
//! the same everywhere, every node of the group at that entry). So the node that prepares a
//! command (the leader: followers answer `NotLeader`) looks at the maps first and refuses a
//! command that adds data while a map it writes is more than `map_refuse_percent` full, with
//! [`Error::StoreFull`] saying which map and what to do. The decision is taken *before* the
//! command is proposed, never while it is applied: map usage differs from node to node, and
//! applying must be the same everywhere.
//!
//! "Full" counts the pages the databases use now (their B-tree pages), not the data file's
//! high-water mark: pages freed by deletes are reused by LMDB before the file grows, so a
//! bucket emptied by deletes takes writes again. Reads, deletes and the cluster's own
//! housekeeping (heartbeats, GC, rebuilds, expiry) are never refused: they use the margin.
//!
//! Growing the map instead (`Env::resize`) needs no transaction open anywhere in the process,
//! which the store's concurrent readers cannot promise without a lock around every
//! transaction: not done.

use super::Store;
use super::command::Command;
use super::lmdb::{Db, Env};
use super::observe::MapUsage;
use meta_api::error::{Error, Result};
use std::sync::atomic::Ordering;

/// Bytes the databases `dbs` of `env` use now, with the main database and the two meta pages
/// (pages on LMDB's free list are not counted: they are reused before the file grows).
pub fn live_bytes(env: &Env, dbs: &[Db]) -> Result<u64> {
    let txn = env.read_txn()?;
    let page = u64::from(env.stat().page_size);
    let main = env.stat();
    let pages_of = |leaf: usize, branch: usize, overflow: usize| {
        (leaf as u64)
            .saturating_add(branch as u64)
            .saturating_add(overflow as u64)
    };
    let mut pages =
        pages_of(main.leaf_pages, main.branch_pages, main.overflow_pages).saturating_add(2);
    for db in dbs {
        let s = db.stat(&txn)?;
        pages = pages.saturating_add(pages_of(s.leaf_pages, s.branch_pages, s.overflow_pages));
    }
    Ok(pages.saturating_mul(page))
}

impl Command {
    /// Whether the command adds data a client asked for (an object, a part, an upload, a
    /// container, an account, a key, a key-store key or a Swift user): refused when a map it
    /// writes is nearly full. Deletes, the completion of an upload (it moves parts into an
    /// object), metadata changes (bounded per object), Swift tokens (reads need them) and
    /// housekeeping are not.
    pub fn adds_data(&self) -> bool {
        match self {
            Command::CreateAccount { .. }
            | Command::CreateKey { .. }
            | Command::CreateContainer { .. }
            | Command::PutObject { .. }
            | Command::CreateUpload { .. }
            | Command::PutPart { .. }
            | Command::CreateSwiftUser { .. }
            | Command::CreateKmsKey { .. } => true,
            Command::Once { command, .. } => command.adds_data(),
            _ => false,
        }
    }
}

impl Store {
    /// Refuses `command` ([`Error::StoreFull`]) when it adds data and the directory's map, or
    /// its container's, is more than `map_refuse_percent` full. Read-only: run before the
    /// command is proposed.
    pub(crate) fn check_room(&self, command: &Command) -> Result<()> {
        if self.map_refuse_percent >= 100 || !command.adds_data() {
            return Ok(());
        }
        let dir = MapUsage {
            used: live_bytes(&self.dir.env, &self.dir.dbs())?,
            map: MapUsage::of(&self.dir.env).map,
        };
        self.refuse_if_full(dir, "the directory", "directory_map_size_mib")?;
        if let Some(container) = command.meta2_container() {
            // A container that does not exist: the command fails on its own.
            if let Ok(r) = self.resolve(container) {
                let usage = MapUsage {
                    used: live_bytes(&r.env.env, &r.env.dbs())?,
                    map: MapUsage::of(&r.env.env).map,
                };
                self.refuse_if_full(usage, &format!("bucket {container}"), "map_size_mib")?;
            }
        }
        Ok(())
    }

    fn refuse_if_full(&self, usage: MapUsage, what: &str, key: &str) -> Result<()> {
        let limit = u128::from(usage.map) * u128::from(self.map_refuse_percent) / 100;
        if u128::from(usage.used) <= limit {
            return Ok(());
        }
        self.map_refusals.fetch_add(1, Ordering::Relaxed);
        let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
        tracing::warn!(
            map = what,
            used_bytes = usage.used,
            map_bytes = usage.map,
            limit_percent = self.map_refuse_percent,
            "write refused: an LMDB map is nearly full"
        );
        Err(Error::StoreFull(format!(
            "the metadata map of {what} is {}% full ({:.1} of {:.1} MiB; writes that add data stop at \
             {}%): raise `{key}` in meta.toml on every meta node and restart them one at a time, \
             or delete data; reads and deletes still work",
            (usage.ratio() * 100.0).floor(),
            mib(usage.used),
            mib(usage.map),
            self.map_refuse_percent
        )))
    }

    /// Writes refused by [`Store::check_room`] since this process started.
    pub fn map_refusals(&self) -> u64 {
        self.map_refusals.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_fixtures::{config, object};
    use super::*;
    use crate::config::Config;
    use meta_api::wire::ContainerSettings;

    /// A store whose bucket maps are 1 MiB (the directory's 64 MiB) with bucket `b`, refusing
    /// at `refuse_percent`.
    fn small(dir: &std::path::Path, refuse_percent: u8) -> Store {
        let c = Config {
            map_size_mib: 1,
            directory_map_size_mib: 64,
            map_refuse_percent: refuse_percent,
            ..config(dir)
        };
        let s = Store::open(&c, "127.0.0.1:6000").unwrap();
        s.create_account("acct").unwrap();
        s.create_container("acct", "b", &ContainerSettings::default())
            .unwrap();
        s
    }

    /// An object with 1,000 bytes of user metadata.
    fn fat(i: usize) -> meta_api::wire::ObjectRecord {
        let mut o = object(&format!("k{i:05}"), 10, &format!("c{i}"));
        o.user_meta.insert("pad".into(), "x".repeat(1000));
        o
    }

    /// Objects stored into a fresh 1 MiB bucket map until a PUT fails: (how many, the error).
    fn fill(s: &Store) -> (usize, Error) {
        let mut stored = 0;
        loop {
            assert!(stored < 2_000, "1 MiB never filled");
            match s.put_object("b", &fat(stored)) {
                Ok(_) => stored += 1,
                Err(e) => return (stored, e),
            }
        }
    }

    #[test]
    fn a_nearly_full_bucket_refuses_writes_and_still_serves_reads_and_deletes() {
        // Without the check (100%) the map fills: LMDB's MDB_MAP_FULL fails the batch.
        let unchecked = tempfile::tempdir().unwrap();
        let (fits, full) = fill(&small(unchecked.path(), 100));
        println!("MDB_MAP_FULL after {fits} objects: {full}");
        assert!(!matches!(full, Error::StoreFull(_)), "{full}");
        let dir = tempfile::tempdir().unwrap();
        let s = small(dir.path(), 90);
        let (stored, refused) = fill(&s);
        println!("refused after {stored} objects: {refused}");
        let Error::StoreFull(message) = &refused else {
            panic!("{refused:?}");
        };
        assert!(
            message.contains("bucket b") && message.contains("map_size_mib"),
            "{message}"
        );
        // Refused before the map was full, but not long before (the last ~10% of the pages).
        assert!(
            stored < fits && stored * 100 >= fits * 75,
            "{stored} of {fits}"
        );
        assert_eq!(s.map_refusals(), 1);
        // Reads and deletes go on; so does what adds nothing to the bucket.
        assert_eq!(
            s.get_object("b", "k00000").unwrap().user_meta["pad"].len(),
            1000
        );
        for i in 0..stored / 2 {
            s.delete_object("b", &format!("k{i:05}")).unwrap();
        }
        // The freed pages are reused: writes are taken again.
        for i in 0..10 {
            s.put_object("b", &fat(stored + i)).unwrap();
        }
        // Other buckets have their own maps.
        s.create_container("acct", "other", &ContainerSettings::default())
            .unwrap();
        s.put_object("other", &fat(0)).unwrap();
    }

    /// The check runs before every PUT: O(1) per database (`mdb_stat`), whatever the size of
    /// the B-trees. Measured on a bucket of 2,000 objects (a loose bound, printed).
    #[test]
    fn the_check_is_cheap_enough_for_every_put() {
        let dir = tempfile::tempdir().unwrap();
        let c = config(dir.path());
        let s = Store::open(&c, "127.0.0.1:6000").unwrap();
        s.create_account("acct").unwrap();
        s.create_container("acct", "b", &ContainerSettings::default())
            .unwrap();
        for i in 0..2_000 {
            s.put_object("b", &fat(i)).unwrap();
        }
        let put = Command::PutObject {
            container: "b".into(),
            record: Box::new(object("k", 1, "c")),
            condition: Default::default(),
            now_ms: 1,
            gc_due_ms: 1,
            pieces_wanted: 0,
        };
        let n = 2_000u32;
        let started = std::time::Instant::now();
        for _ in 0..n {
            s.check_room(&put).unwrap();
        }
        let each = started.elapsed() / n;
        println!("check_room: {each:?} per PUT (directory and bucket maps)");
        assert!(each < std::time::Duration::from_millis(2), "{each:?}");
    }

    #[test]
    fn only_writes_that_add_data_are_refused() {
        let put = Command::PutObject {
            container: "b".into(),
            record: Box::new(object("k", 1, "c")),
            condition: Default::default(),
            now_ms: 1,
            gc_due_ms: 1,
            pieces_wanted: 0,
        };
        assert!(put.adds_data());
        let once = Command::Once {
            request: super::super::dedupe::RequestTag {
                id: "r".into(),
                now_ms: 1,
            },
            command: Box::new(put),
        };
        assert!(once.adds_data());
        let delete = Command::DeleteVersion {
            container: "b".into(),
            key: "k".into(),
            version_id: None,
            bypass_governance: false,
            now_ms: 1,
            gc_due_ms: 1,
        };
        assert!(!delete.adds_data());
        assert!(!Command::PurgeTokens { now_ms: 1 }.adds_data());
    }
}
