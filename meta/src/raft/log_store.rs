//! The Raft log and vote in their own LMDB environment (`<data_dir>/raft`).
//!
//! Two databases: `log` maps a log index (8 bytes, big-endian, so LMDB's order is the log's)
//! to a versioned [`LogRecord`]; `state` holds one versioned [`LogState`] record with the vote,
//! and the last purged log id. Every change is one LMDB write
//! transaction, committed (fsynced) before openraft hears of it: `append` calls its callback
//! only after the commit, `save_vote` returns only after it. Calls are serialized by openraft
//! (`&mut self`) and by LMDB's single writer, so a later write never lands before an earlier
//! one.
//!
//! A storage error is returned to openraft, which treats it as fatal and stops the Raft core;
//! the process owning the node exits on that (see the node's supervision), it never retries
//! around a log it cannot trust.

use super::{LogId, StorageError, TypeConfig, Vote, any, blocking};
use crate::metrics::RaftInstruments;
use crate::store::lmdb::{self, Db, Env};
use crate::store::observe::MapUsage;
use heed::RoTxn;
use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{ErrorSubject, ErrorVerb, OptionalSend, RaftLogReader, StorageIOError};
use serde::{Deserialize, Serialize};
use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::Arc;

/// Version of [`LogRecord`] and [`LogState`] this binary writes.
pub const LOG_RECORD_VERSION: u32 = 1;
const STATE_KEY: &[u8] = b"state";
/// The log environment's map size: entries are purged after snapshots, so the log stays far
/// below this between two of them.
const LOG_MAP_SIZE: usize = 4 << 30;

/// One log entry as written down.
#[derive(Serialize, Deserialize)]
struct LogRecord {
    v: u32,
    entry: super::Entry,
}

/// The log's own state: the node's identity, what was voted and what was purged.
#[derive(Serialize, Deserialize, Default, Clone)]
struct LogState {
    v: u32,
    /// The node id this log belongs to (set at first start, never changed).
    #[serde(default)]
    node: Option<u64>,
    /// The incarnation of this data directory ([`super::MetaNode`]): drawn at random when the
    /// node id is first recorded (or, for a directory from before incarnations, at the first
    /// start that knows them), never changed.
    #[serde(default)]
    incarnation: Option<u64>,
    vote: Option<Vote>,
    purged: Option<LogId>,
    /// The committed log id, as earlier versions wrote it down; no longer updated (see
    /// `save_committed`), kept so their records read. A lower bound of the committed index.
    committed: Option<LogId>,
}

struct Inner {
    env: Env,
    log: Db,
    state: Db,
}

/// The log store; clones share the environment (a clone is also the log reader).
#[derive(Clone)]
pub struct LogStore {
    inner: Arc<Inner>,
    /// Where append times, the committed index and the map usage are reported.
    observer: Option<RaftInstruments>,
}

/// A random, non-zero incarnation number.
fn new_incarnation() -> u64 {
    loop {
        let n: u64 = rand::random();
        if n != 0 {
            return n;
        }
    }
}

fn key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

impl LogStore {
    /// Opens (creating on first start) the log environment at `path`.
    pub fn open(path: &Path) -> crate::Result<LogStore> {
        let env = lmdb::open_env(path, LOG_MAP_SIZE, 4)?;
        let mut txn = env.write_txn()?;
        let log = lmdb::create_db(&env, &mut txn, "log")?;
        let state = lmdb::create_db(&env, &mut txn, "state")?;
        txn.commit()?;
        let store = LogStore {
            inner: Arc::new(Inner { env, log, state }),
            observer: None,
        };
        // Refuse a newer layout at open, not at the first append.
        store
            .read_state()
            .map_err(|e| crate::Error::Db(format!("{}: {e}", path.display())))?;
        Ok(store)
    }

    /// This log store reporting to `observer` (append durations, the committed index, the
    /// environment's map usage), starting with what the log holds now.
    pub fn observed(mut self, observer: RaftInstruments) -> crate::Result<LogStore> {
        let s = self.read_state().map_err(crate::Error::Db)?;
        observer.set_committed(s.committed.map(|c| c.index));
        observer.set_log_usage(MapUsage::of(&self.inner.env));
        self.observer = Some(observer);
        Ok(self)
    }

    /// Reports the map usage after a write.
    fn report_usage(&self) {
        if let Some(o) = &self.observer {
            o.set_log_usage(MapUsage::of(&self.inner.env));
        }
    }

    /// Records `id` as this log's node id at first start; refuses another id later (a data
    /// directory belongs to one node for good). Returns the directory's incarnation, drawing
    /// it the first time.
    pub fn claim_node_id(&self, id: u64) -> crate::Result<u64> {
        let s = self.read_state().map_err(crate::Error::Db)?;
        match (s.node, s.incarnation) {
            (Some(n), _) if n != id => Err(crate::Error::InvalidArgument(format!(
                "this data directory belongs to meta node {n}, but the config says node_id = {id}: \
                 set node_id = {n}, or give node {id} an empty data directory"
            ))),
            (Some(_), Some(incarnation)) => Ok(incarnation),
            _ => {
                let incarnation = new_incarnation();
                self.update_state(|s| {
                    s.node = Some(id);
                    s.incarnation = Some(incarnation);
                })
                .map_err(crate::Error::Db)?;
                Ok(incarnation)
            }
        }
    }

    fn read_state_in(&self, txn: &RoTxn) -> Result<LogState, String> {
        match self
            .inner
            .state
            .get(txn, STATE_KEY)
            .map_err(|e| e.to_string())?
        {
            None => Ok(LogState {
                v: LOG_RECORD_VERSION,
                ..LogState::default()
            }),
            Some(b) => {
                let s: LogState = serde_json::from_slice(b)
                    .map_err(|e| format!("the Raft log state cannot be read: {e}"))?;
                if s.v > LOG_RECORD_VERSION {
                    return Err(format!(
                        "the Raft log state has version {}, this binary knows up to {}",
                        s.v, LOG_RECORD_VERSION
                    ));
                }
                Ok(s)
            }
        }
    }

    fn read_state(&self) -> Result<LogState, String> {
        let txn = self.inner.env.read_txn().map_err(|e| e.to_string())?;
        self.read_state_in(&txn)
    }

    /// Changes the state record inside `txn`.
    fn change_state_in(
        &self,
        txn: &mut heed::RwTxn,
        f: impl FnOnce(&mut LogState),
    ) -> Result<(), String> {
        let mut s = self.read_state_in(txn)?;
        f(&mut s);
        s.v = LOG_RECORD_VERSION;
        let bytes = serde_json::to_vec(&s).map_err(|e| e.to_string())?;
        self.inner
            .state
            .put(txn, STATE_KEY, &bytes)
            .map_err(|e| e.to_string())
    }

    /// Changes the state record in one committed transaction.
    fn update_state(&self, f: impl FnOnce(&mut LogState)) -> Result<(), String> {
        let mut txn = self.inner.env.write_txn().map_err(|e| e.to_string())?;
        self.change_state_in(&mut txn, f)?;
        txn.commit().map_err(|e| e.to_string())
    }

    fn decode(bytes: &[u8]) -> Result<super::Entry, String> {
        let r: LogRecord = serde_json::from_slice(bytes)
            .map_err(|e| format!("a log entry cannot be read: {e}"))?;
        if r.v > LOG_RECORD_VERSION {
            return Err(format!(
                "a log entry has version {}, this binary knows up to {}",
                r.v, LOG_RECORD_VERSION
            ));
        }
        Ok(r.entry)
    }

    /// Entries with an index in `[start, end]` (inclusive bounds), in order.
    fn entries(&self, start: u64, end: u64) -> Result<Vec<super::Entry>, String> {
        let mut out = Vec::new();
        if start > end {
            return Ok(out);
        }
        let txn = self.inner.env.read_txn().map_err(|e| e.to_string())?;
        let (lo, hi) = (key(start), key(end));
        let range = (Bound::Included(&lo[..]), Bound::Included(&hi[..]));
        for item in self
            .inner
            .log
            .range(&txn, &range)
            .map_err(|e| e.to_string())?
        {
            let (_, v) = item.map_err(|e| e.to_string())?;
            out.push(Self::decode(v)?);
        }
        Ok(out)
    }

    fn last_entry_id(&self) -> Result<Option<LogId>, String> {
        let txn = self.inner.env.read_txn().map_err(|e| e.to_string())?;
        match self.inner.log.last(&txn).map_err(|e| e.to_string())? {
            None => Ok(None),
            Some((_, v)) => Ok(Some(Self::decode(v)?.log_id)),
        }
    }

    fn append_now(&self, entries: Vec<super::Entry>) -> Result<(), String> {
        let started = std::time::Instant::now();
        self.write_entries(entries)?;
        if let Some(o) = &self.observer {
            o.append.observe(started.elapsed().as_secs_f64());
        }
        self.report_usage();
        Ok(())
    }

    fn write_entries(&self, entries: Vec<super::Entry>) -> Result<(), String> {
        let inner = &self.inner;
        let mut txn = inner.env.write_txn().map_err(|e| e.to_string())?;
        for entry in entries {
            let index = entry.log_id.index;
            let bytes = serde_json::to_vec(&LogRecord {
                v: LOG_RECORD_VERSION,
                entry,
            })
            .map_err(|e| e.to_string())?;
            inner
                .log
                .put(&mut txn, &key(index), &bytes)
                .map_err(|e| format!("writing log entry {index}: {e}"))?;
        }
        txn.commit().map_err(|e| e.to_string())
    }

    /// Deletes the entries with an index in `[start, end]`.
    fn delete(&self, start: u64, end: u64, then: impl FnOnce(&mut LogState)) -> Result<(), String> {
        let inner = &self.inner;
        let mut txn = inner.env.write_txn().map_err(|e| e.to_string())?;
        if start <= end {
            let (lo, hi) = (key(start), key(end));
            let range = (Bound::Included(&lo[..]), Bound::Included(&hi[..]));
            inner
                .log
                .delete_range(&mut txn, &range)
                .map_err(|e| e.to_string())?;
        }
        self.change_state_in(&mut txn, then)?;
        txn.commit().map_err(|e| e.to_string())?;
        self.report_usage();
        Ok(())
    }
}

/// Inclusive `[start, end]` of a range of log indexes.
fn bounds(range: &impl RangeBounds<u64>) -> (u64, u64) {
    let start = match range.start_bound() {
        Bound::Included(s) => *s,
        Bound::Excluded(s) => s.saturating_add(1),
        Bound::Unbounded => 0,
    };
    let end = match range.end_bound() {
        Bound::Included(e) => *e,
        Bound::Excluded(0) => return (1, 0),
        Bound::Excluded(e) => e - 1,
        Bound::Unbounded => u64::MAX,
    };
    (start, end)
}

fn io(subject: ErrorSubject<u64>, verb: ErrorVerb, msg: String) -> StorageError {
    tracing::error!(?subject, ?verb, error = %msg, "Raft log storage failed");
    StorageIOError::new(subject, verb, any(msg)).into()
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<super::Entry>, StorageError> {
        let (start, end) = bounds(&range);
        let this = self.clone();
        blocking(move || this.entries(start, end))
            .await
            .map_err(|e| io(ErrorSubject::Logs, ErrorVerb::Read, e))
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<openraft::LogState<TypeConfig>, StorageError> {
        let this = self.clone();
        blocking(move || {
            let s = this.read_state()?;
            let last = this.last_entry_id()?.or(s.purged);
            Ok(openraft::LogState {
                last_purged_log_id: s.purged,
                last_log_id: last,
            })
        })
        .await
        .map_err(|e| io(ErrorSubject::Logs, ErrorVerb::Read, e))
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), StorageError> {
        let (this, vote) = (self.clone(), *vote);
        blocking(move || this.update_state(|s| s.vote = Some(vote)))
            .await
            .map_err(|e| io(ErrorSubject::Vote, ErrorVerb::Write, e))
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, StorageError> {
        let this = self.clone();
        blocking(move || Ok(this.read_state()?.vote))
            .await
            .map_err(|e| io(ErrorSubject::Vote, ErrorVerb::Read, e))
    }

    /// Only reported, not written down. openraft calls this each time the committed index
    /// moves, from its core loop, before the entries are applied: a synced LMDB commit here put
    /// two more fsyncs on every write's path, on every node. Persisting it is optional in
    /// openraft: the state machine writes its applied index with the data it covers, so after a
    /// restart nothing is applied twice or lost, and the leader re-establishes the committed
    /// index. [`Self::read_committed`] still returns what older versions wrote, a lower bound.
    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        if let Some(o) = &self.observer {
            o.set_committed(committed.map(|c| c.index));
        }
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        let this = self.clone();
        blocking(move || Ok(this.read_state()?.committed))
            .await
            .map_err(|e| io(ErrorSubject::Store, ErrorVerb::Read, e))
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = super::Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let entries: Vec<super::Entry> = entries.into_iter().collect();
        let this = self.clone();
        match blocking(move || this.append_now(entries)).await {
            Ok(()) => {
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                callback.log_io_completed(Err(std::io::Error::other(e.clone())));
                Err(io(ErrorSubject::Logs, ErrorVerb::Write, e))
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let this = self.clone();
        blocking(move || this.delete(log_id.index, u64::MAX, |_| {}))
            .await
            .map_err(|e| io(ErrorSubject::Logs, ErrorVerb::Delete, e))
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let this = self.clone();
        blocking(move || {
            this.delete(0, log_id.index, |s| {
                if s.purged.is_none_or(|p| p.index < log_id.index) {
                    s.purged = Some(log_id);
                }
            })
        })
        .await
        .map_err(|e| io(ErrorSubject::Logs, ErrorVerb::Delete, e))
    }
}
