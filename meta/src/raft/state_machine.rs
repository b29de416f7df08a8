//! The state machine: meta's LMDB environments ([`Store`]), changed only by applying logged
//! commands in log order.
//!
//! Layout under the node's data directory:
//! - the store's environments (`directory/`, `meta2/`) live in the current *generation*: the
//!   data directory itself for a store that predates replication, else `state/<gen>` named by
//!   the file `state/CURRENT`. Installing a snapshot unpacks it into a new generation and
//!   switches `CURRENT` (written to a temporary file, fsynced, renamed): a crash leaves either
//!   the old state or the new one, never a mix;
//! - `snapshots/<id>.tar`: the current snapshot (`snapshot.json` with its metadata, and the
//!   compacted copy of every environment under `state/`), and `snapshots/current.json` naming it.
//!
//! The last applied log id and the membership are written to the directory after each
//! applied batch (see [`Store::set_raft_state`]). A command whose application fails for a
//! node-local reason (disk, map full, I/O) stops the node: answering it as the command's
//! result would let this node's state differ from its peers'. A refusal that follows from the
//! state and the command (no such bucket, precondition failed) is the command's answer, the
//! same on every node.
//!
//! Not yet exact: a crash in the middle of a batch replays the batch's commands that were
//! already applied since the last recorded log id. Per-environment applied indexes written in
//! the same transaction as the data (the design in docs/architecture.md) close that gap.

use super::command_index;
use super::{
    Applied, Entry, LogId, MAX_PROPOSAL, SnapshotMeta, StorageError, StoredMembership, TypeConfig,
};
use super::{any, blocking};
use crate::config::Config;
use crate::store::{COMMAND_VERSION, Item, StateDigest, Store, Submit};
use meta_api::error::Error;
use openraft::StorageIOError;
use openraft::storage::SnapshotSignature;
use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{EntryPayload, ErrorSubject, ErrorVerb, OptionalSend, RaftSnapshotBuilder};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use tokio::io::AsyncSeekExt;

/// Version of the records this module writes ([`SmRecord`], [`SnapshotRecord`]).
pub const SM_RECORD_VERSION: u32 = 1;

/// The state machine's progress, kept in the directory.
#[derive(Serialize, Deserialize, Default)]
struct SmRecord {
    v: u32,
    last_applied: Option<LogId>,
    membership: StoredMembership,
    /// Ids of every node that was a member and no longer is: never accepted again.
    #[serde(default)]
    retired: BTreeSet<u64>,
}

/// A snapshot's description: inside its file (`snapshot.json`) and as `current.json`.
#[derive(Serialize, Deserialize)]
struct SnapshotRecord {
    v: u32,
    meta: SnapshotMeta,
}

/// The store that requests read and commands change; replaced whole when a snapshot is
/// installed. Readers hold the `Arc` they got for the length of one request.
pub struct StoreHandle {
    current: RwLock<Arc<Store>>,
}

impl StoreHandle {
    pub fn get(&self) -> Arc<Store> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn replace(&self, store: Arc<Store>) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = store;
    }
}

/// Paths of one node's state.
#[derive(Clone)]
struct Layout {
    data_dir: PathBuf,
}

impl Layout {
    fn states(&self) -> PathBuf {
        self.data_dir.join("state")
    }
    fn snapshots(&self) -> PathBuf {
        self.data_dir.join("snapshots")
    }
    /// The directory holding the current generation's environments.
    fn current(&self) -> Result<PathBuf, String> {
        let pointer = self.states().join("CURRENT");
        match std::fs::read_to_string(&pointer) {
            Ok(name) => {
                let name = name.trim();
                check_name(name)?;
                Ok(self.states().join(name))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(self.data_dir.clone()),
            Err(e) => Err(format!("reading {}: {e}", pointer.display())),
        }
    }
}

/// Generation and snapshot names are made here, but a snapshot id also arrives from the
/// leader: only `[A-Za-z0-9-]` is accepted, so a name never leaves its directory.
fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty()
        || name.len() > 128
        || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(format!("bad state or snapshot name {name:?}"));
    }
    Ok(())
}

/// Writes `bytes` to `path` atomically and durably: a temporary file, fsync, rename, fsync of
/// the directory.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

fn sync_dir(dir: &Path) -> Result<(), String> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| format!("syncing {}: {e}", dir.display()))
}

fn unique() -> String {
    format!("{}-{}", crate::ids::now_ms(), crate::ids::random_hex(4))
}

/// Errors that depend on this node (its disk, its map size), not on the command.
fn node_local(e: &Error) -> bool {
    matches!(
        e,
        Error::Db(_) | Error::Io(_) | Error::Internal(_) | Error::Unavailable(_)
    )
}

fn sm_err(verb: ErrorVerb, msg: String) -> StorageError {
    tracing::error!(?verb, error = %msg, "meta state machine failed");
    StorageIOError::new(ErrorSubject::StateMachine, verb, any(msg)).into()
}

fn snap_err(meta: Option<&SnapshotMeta>, verb: ErrorVerb, msg: String) -> StorageError {
    tracing::error!(?verb, error = %msg, "meta snapshot failed");
    let sig: Option<SnapshotSignature<u64>> = meta.map(SnapshotMeta::signature);
    StorageIOError::new(ErrorSubject::Snapshot(sig), verb, any(msg)).into()
}

/// Meta's Raft state machine.
pub struct StateMachine {
    layout: Layout,
    config: Config,
    own_addr: String,
    /// Where every store this state machine opens sends its commands (the node's log).
    submit: Option<Arc<OnceLock<Submit>>>,
    store: Arc<StoreHandle>,
    last_applied: Option<LogId>,
    membership: StoredMembership,
    retired: BTreeSet<u64>,
    /// Where batch apply times are reported.
    observer: Option<crate::metrics::RaftInstruments>,
    /// The state's digest at each recent marker entry ([`is_marker`]).
    digests: Digests,
}

/// Digests of the state taken when a marker entry was applied (`spread admin meta verify`),
/// the most recent last: (the marker's log id, the digest or why it could not be taken).
pub type Digests = Arc<Mutex<VecDeque<(LogId, Result<StateDigest, String>)>>>;

/// How many marker digests a node keeps.
const KEPT_DIGESTS: usize = 8;

/// A marker: a normal entry without commands (the leader writes one for `meta verify`; the
/// proposer never writes an empty proposal). Applying it changes nothing but the applied
/// index; each node then digests its state, so every node digests the same state.
fn is_marker(entry: &Entry) -> bool {
    matches!(&entry.payload, EntryPayload::Normal(p) if p.commands.is_empty())
}

impl StateMachine {
    /// Opens the current generation of the store under `config.data_dir` (leftovers of an
    /// interrupted snapshot build or install are removed).
    pub fn open(
        config: &Config,
        own_addr: &str,
        submit: Option<Arc<OnceLock<Submit>>>,
    ) -> crate::Result<StateMachine> {
        let layout = Layout {
            data_dir: config.data_dir.clone(),
        };
        let current = layout.current().map_err(Error::Io)?;
        remove_leftovers(&layout, &current);
        let store = open_store(config, own_addr, &current, submit.as_ref())?;
        let record = read_record(&store)?;
        Ok(StateMachine {
            layout,
            config: config.clone(),
            own_addr: own_addr.to_string(),
            submit,
            store: Arc::new(StoreHandle {
                current: RwLock::new(Arc::new(store)),
            }),
            last_applied: record.last_applied,
            membership: record.membership,
            retired: record.retired,
            observer: None,
            digests: Arc::new(Mutex::new(VecDeque::new())),
        })
    }

    /// This state machine reporting how long its batches take to `observer`.
    pub fn observed(mut self, observer: crate::metrics::RaftInstruments) -> StateMachine {
        self.observer = Some(observer);
        self
    }

    /// Test hook: the state machine forgets what it applied after `id` (as a crash between
    /// two batches of one entry leaves it).
    #[cfg(test)]
    pub(crate) fn force_last_applied(&mut self, id: Option<LogId>) {
        self.last_applied = id;
    }

    /// The store requests use.
    pub fn store(&self) -> Arc<StoreHandle> {
        self.store.clone()
    }

    /// Where the digests taken at marker entries are kept.
    pub fn digests(&self) -> Digests {
        self.digests.clone()
    }
}

fn open_store(
    config: &Config,
    own_addr: &str,
    dir: &Path,
    submit: Option<&Arc<OnceLock<Submit>>>,
) -> crate::Result<Store> {
    let mut c = config.clone();
    c.data_dir = dir.to_path_buf();
    let store = Store::open(&c, own_addr)?;
    if let Some(s) = submit {
        store.route_commands(s.clone())?;
    }
    Ok(store)
}

/// Ids of the nodes that were members of the group and were removed: ids are never reused,
/// so these are refused if added again.
pub fn retired_node_ids(store: &Store) -> crate::Result<BTreeSet<u64>> {
    Ok(read_record(store)?.retired)
}

fn read_record(store: &Store) -> crate::Result<SmRecord> {
    match store.raft_state()? {
        None => Ok(SmRecord::default()),
        Some(b) => {
            let r: SmRecord = serde_json::from_slice(&b).map_err(|e| {
                Error::Db(format!("the state machine's record cannot be read: {e}"))
            })?;
            if r.v > SM_RECORD_VERSION {
                return Err(Error::Db(format!(
                    "the state machine's record has version {}, this binary knows up to {}",
                    r.v, SM_RECORD_VERSION
                )));
            }
            Ok(r)
        }
    }
}

/// Removes generations other than `current`, half-built snapshots and received snapshot
/// files that were never installed. Failures are logged, not fatal: they only cost space.
fn remove_leftovers(layout: &Layout, current: &Path) {
    let remove = |p: &Path| {
        let r = if p.is_dir() {
            std::fs::remove_dir_all(p)
        } else {
            std::fs::remove_file(p)
        };
        if let Err(e) = r {
            tracing::warn!(path = %p.display(), error = %e, "cannot remove a leftover");
        }
    };
    if let Ok(entries) = std::fs::read_dir(layout.states()) {
        for e in entries.flatten() {
            let p = e.path();
            if p != current && e.file_name() != "CURRENT" {
                remove(&p);
            }
        }
    }
    if let Ok(entries) = std::fs::read_dir(layout.snapshots()) {
        let keep = current_snapshot(layout)
            .ok()
            .flatten()
            .map(|r| r.meta.snapshot_id);
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let kept = name == "current.json"
                || keep.as_ref().is_some_and(|id| name == format!("{id}.tar"));
            if !kept {
                remove(&e.path());
            }
        }
    }
}

fn current_snapshot(layout: &Layout) -> Result<Option<SnapshotRecord>, String> {
    let path = layout.snapshots().join("current.json");
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let r: SnapshotRecord =
        serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    if r.v > SM_RECORD_VERSION {
        return Err(format!(
            "{} has version {}, this binary knows up to {}",
            path.display(),
            r.v,
            SM_RECORD_VERSION
        ));
    }
    check_name(&r.meta.snapshot_id)?;
    Ok(Some(r))
}

/// The group's members as the state machine's record keeps them.
#[derive(Clone)]
struct Members {
    membership: StoredMembership,
    retired: BTreeSet<u64>,
}

/// Applies a batch of entries in order: each command of an entry is one store item, indexed
/// `log index << 16 | position` ([`command_index`]). The state machine's record (last applied
/// log id and membership) is written in the directory transaction of each store batch, with
/// the changes it covers: it names an entry only once all its commands are in (an entry cut
/// by a batch boundary names the entry before it, and the store skips, on replay, the commands
/// it already holds).
fn apply_batch(
    store: &Store,
    entries: Vec<Entry>,
    last_applied: Option<LogId>,
    mut members: Members,
) -> Result<(Vec<Applied>, Option<LogId>, Members), String> {
    let mut items = Vec::with_capacity(entries.len());
    // For each store item: what the record says once it is applied.
    let mut states: BTreeMap<u64, (Option<LogId>, Members)> = BTreeMap::new();
    // Per entry: how many store items it has and whether they are commands (answers are
    // regrouped by entry; a blank or membership entry has one item that answers nothing).
    let mut shape: Vec<(usize, bool)> = Vec::with_capacity(entries.len());
    let mut previous = last_applied;
    for entry in entries {
        let id = entry.log_id;
        if last_applied.is_some_and(|a| id.index <= a.index) {
            // Delivered again (after a restart): the state already holds it.
            shape.push((0, true));
            continue;
        }
        let commands = match entry.payload {
            EntryPayload::Blank => Vec::new(),
            EntryPayload::Membership(m) => {
                let now: BTreeSet<u64> = m.nodes().map(|(id, _)| *id).collect();
                let before = members.membership.membership().nodes().map(|(id, _)| *id);
                members
                    .retired
                    .extend(before.filter(|id| !now.contains(id)));
                members.membership = StoredMembership::new(Some(id), m);
                Vec::new()
            }
            EntryPayload::Normal(p) => {
                if p.v > COMMAND_VERSION {
                    return Err(format!(
                        "log entry {id} holds commands of version {}; this binary applies up \
                         to {COMMAND_VERSION}: upgrade this node",
                        p.v
                    ));
                }
                if p.commands.len() > MAX_PROPOSAL {
                    return Err(format!(
                        "log entry {id} holds {} commands, more than {MAX_PROPOSAL}",
                        p.commands.len()
                    ));
                }
                p.commands
            }
        };
        shape.push((commands.len().max(1), !commands.is_empty()));
        if commands.is_empty() {
            states.insert(command_index(id.index, 0), (Some(id), members.clone()));
            items.push(Item {
                index: Some(command_index(id.index, 0)),
                command: None,
            });
        } else {
            let n = commands.len();
            for (pos, c) in commands.into_iter().enumerate() {
                let done = if pos + 1 == n { Some(id) } else { previous };
                states.insert(command_index(id.index, pos), (done, members.clone()));
                items.push(Item {
                    index: Some(command_index(id.index, pos)),
                    command: Some(c),
                });
            }
        }
        previous = Some(id);
    }
    let mut record = |index: u64| -> crate::Result<Vec<u8>> {
        let (id, m) = states
            .get(&index)
            .ok_or_else(|| Error::Internal(format!("no store item {index} in this batch")))?;
        Ok(serde_json::to_vec(&SmRecord {
            v: SM_RECORD_VERSION,
            last_applied: *id,
            membership: m.membership.clone(),
            retired: m.retired.clone(),
        })?)
    };
    let mut answers = store
        .apply_items(items, &mut record)
        .map_err(|e| format!("applying log entries: {e}"))?
        .into_iter();
    let mut out = Vec::with_capacity(shape.len());
    for (n, commands) in shape {
        let mut answer = Vec::with_capacity(n);
        if !commands {
            let _ = answers.next();
            out.push(Applied(answer));
            continue;
        }
        for _ in 0..n {
            match answers.next() {
                Some(Ok(o)) => answer.push(Ok(o)),
                Some(Err(e)) if node_local(&e) => {
                    return Err(format!("applying a log entry: {e}"));
                }
                Some(Err(e)) => answer.push(Err(e.to_body())),
                None => return Err("fewer answers than commands".to_string()),
            }
        }
        out.push(Applied(answer));
    }
    Ok((out, previous, members))
}

impl StateMachine {
    async fn apply_run(&mut self, entries: Vec<Entry>) -> Result<Vec<Applied>, StorageError> {
        let store = self.store.get();
        let applied = self.last_applied;
        let members = Members {
            membership: self.membership.clone(),
            retired: self.retired.clone(),
        };
        let started = std::time::Instant::now();
        let (out, applied, members) =
            blocking(move || apply_batch(&store, entries, applied, members))
                .await
                .map_err(|e| sm_err(ErrorVerb::Write, e))?;
        if let Some(o) = &self.observer {
            o.apply.observe(started.elapsed().as_secs_f64());
        }
        self.last_applied = applied;
        self.membership = members.membership;
        self.retired = members.retired;
        Ok(out)
    }

    /// Digests the state as it is now (the marker `id` was just applied; nothing else is
    /// applied meanwhile) and keeps the answer for `meta verify`.
    async fn digest_at(&mut self, id: LogId) {
        let store = self.store.get();
        let started = std::time::Instant::now();
        let digest = blocking(move || store.digest().map_err(|e| e.to_string())).await;
        match &digest {
            Ok(d) => tracing::info!(
                index = id.index,
                digest = %d.digest,
                entries = d.entries,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "state digested at a verify marker"
            ),
            Err(e) => tracing::warn!(index = id.index, error = %e, "cannot digest the state"),
        }
        let mut kept = self.digests.lock().unwrap_or_else(|e| e.into_inner());
        kept.push_back((id, digest));
        while kept.len() > KEPT_DIGESTS {
            kept.pop_front();
        }
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        Ok((self.last_applied, self.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Applied>, StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        // Applied in runs that end at a marker, so the state is digested exactly as the
        // marker leaves it.
        let mut out = Vec::new();
        let mut run = Vec::new();
        for entry in entries {
            let marker = is_marker(&entry).then_some(entry.log_id);
            run.push(entry);
            if let Some(id) = marker {
                let fresh = self.last_applied.is_none_or(|a| id.index > a.index);
                out.extend(self.apply_run(std::mem::take(&mut run)).await?);
                if fresh {
                    self.digest_at(id).await;
                }
            }
        }
        if !run.is_empty() {
            out.extend(self.apply_run(run).await?);
        }
        Ok(out)
    }

    async fn get_snapshot_builder(&mut self) -> SnapshotBuilder {
        // The copies are taken now, while the state machine applies nothing else, so they
        // hold one state: the one `last_applied` names. Packing them happens later, beside
        // further applies.
        let store = self.store.get();
        let stage = self.layout.snapshots().join(format!("stage-{}", unique()));
        let dir = stage.clone();
        let staged = blocking(move || {
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            store.copy_to(&dir.join("state")).map_err(|e| e.to_string())
        })
        .await
        .map(|()| stage);
        SnapshotBuilder {
            layout: self.layout.clone(),
            staged,
            last_applied: self.last_applied,
            membership: self.membership.clone(),
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<tokio::fs::File>, StorageError> {
        let dir = self.layout.snapshots();
        let path = dir.join(format!("recv-{}.tar", unique()));
        let open = async {
            tokio::fs::create_dir_all(&dir).await?;
            tokio::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .open(&path)
                .await
        };
        open.await
            .map(Box::new)
            .map_err(|e| snap_err(None, ErrorVerb::Write, format!("{}: {e}", path.display())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<tokio::fs::File>,
    ) -> Result<(), StorageError> {
        let fail = |e: String| snap_err(Some(meta), ErrorVerb::Write, e);
        check_name(&meta.snapshot_id).map_err(fail)?;
        let snapshots = self.layout.snapshots();
        let tar = snapshots.join(format!("{}.tar", meta.snapshot_id));
        // Keep the file under its id (it is this node's current snapshot from now on).
        let mut src = *snapshot;
        let saved = async {
            tokio::fs::create_dir_all(&snapshots).await?;
            src.seek(std::io::SeekFrom::Start(0)).await?;
            let tmp = tar.with_extension("tar.tmp");
            let mut dst = tokio::fs::File::create(&tmp).await?;
            tokio::io::copy(&mut src, &mut dst).await?;
            dst.sync_all().await?;
            tokio::fs::rename(&tmp, &tar).await
        };
        saved
            .await
            .map_err(|e| fail(format!("{}: {e}", tar.display())))?;

        let (layout, config, addr, m, submit) = (
            self.layout.clone(),
            self.config.clone(),
            self.own_addr.clone(),
            meta.clone(),
            self.submit.clone(),
        );
        let handle = self.store.clone();
        let record =
            blocking(move || install(&layout, &config, &addr, &m, &tar, &handle, submit.as_ref()))
                .await
                .map_err(fail)?;
        self.last_applied = record.last_applied;
        self.membership = record.membership;
        self.retired = record.retired;
        tracing::info!(snapshot = %meta.snapshot_id, last_applied = ?self.last_applied, "snapshot installed");
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        let record =
            current_snapshot(&self.layout).map_err(|e| snap_err(None, ErrorVerb::Read, e))?;
        let Some(record) = record else {
            return Ok(None);
        };
        let path = self
            .layout
            .snapshots()
            .join(format!("{}.tar", record.meta.snapshot_id));
        let file = tokio::fs::File::open(&path).await.map_err(|e| {
            snap_err(
                Some(&record.meta),
                ErrorVerb::Read,
                format!("{}: {e}", path.display()),
            )
        })?;
        Ok(Some(Snapshot {
            meta: record.meta,
            snapshot: Box::new(file),
        }))
    }
}

/// Unpacks the snapshot at `tar` into a new generation, checks it is the state `meta` names,
/// switches to it and makes it the current snapshot.
fn install(
    layout: &Layout,
    config: &Config,
    own_addr: &str,
    meta: &SnapshotMeta,
    tar: &Path,
    handle: &StoreHandle,
    submit: Option<&Arc<OnceLock<Submit>>>,
) -> Result<SmRecord, String> {
    let states = layout.states();
    let gen_name = format!("g{}", unique());
    let unpack_to = states.join(format!("{gen_name}-unpack"));
    std::fs::create_dir_all(&unpack_to).map_err(|e| format!("{}: {e}", unpack_to.display()))?;
    let file = std::fs::File::open(tar).map_err(|e| format!("{}: {e}", tar.display()))?;
    // `unpack` refuses entries that would land outside `unpack_to`.
    tar::Archive::new(file)
        .unpack(&unpack_to)
        .map_err(|e| format!("unpacking {}: {e}", tar.display()))?;
    let inner = read_description(&unpack_to)?;
    if inner.meta.last_log_id != meta.last_log_id {
        return Err(format!(
            "the snapshot file holds state at {:?}, its metadata says {:?}",
            inner.meta.last_log_id, meta.last_log_id
        ));
    }
    let generation = states.join(&gen_name);
    std::fs::rename(unpack_to.join("state"), &generation)
        .map_err(|e| format!("{}: {e}", generation.display()))?;
    let _ = std::fs::remove_dir_all(&unpack_to);
    sync_dir(&states)?;
    let store = open_store(config, own_addr, &generation, submit).map_err(|e| e.to_string())?;
    let record = read_record(&store).map_err(|e| e.to_string())?;
    if record.last_applied != meta.last_log_id {
        return Err(format!(
            "the snapshot's state was applied up to {:?}, its metadata says {:?}",
            record.last_applied, meta.last_log_id
        ));
    }
    let old = layout.current()?;
    write_atomic(&states.join("CURRENT"), gen_name.as_bytes())?;
    handle.replace(Arc::new(store));
    write_current_snapshot(layout, meta)?;
    // Requests still reading the old generation keep their open environments (the files stay
    // until closed); its directory goes now.
    let cleanup = if old == layout.data_dir {
        vec![old.join("directory"), old.join("meta2")]
    } else {
        vec![old]
    };
    for dir in cleanup {
        if let Err(e) = std::fs::remove_dir_all(&dir)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %dir.display(), error = %e, "cannot remove the replaced state");
        }
    }
    Ok(record)
}

/// Makes `meta` the current snapshot and removes the other snapshot files.
fn write_current_snapshot(layout: &Layout, meta: &SnapshotMeta) -> Result<(), String> {
    let snapshots = layout.snapshots();
    let record = serde_json::to_vec(&SnapshotRecord {
        v: SM_RECORD_VERSION,
        meta: meta.clone(),
    })
    .map_err(|e| e.to_string())?;
    write_atomic(&snapshots.join("current.json"), &record)?;
    let keep = format!("{}.tar", meta.snapshot_id);
    if let Ok(entries) = std::fs::read_dir(&snapshots) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".tar") && name != keep && !name.starts_with("recv-") {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    Ok(())
}

/// Packs the copies taken by [`StateMachine::get_snapshot_builder`] into one snapshot file.
pub struct SnapshotBuilder {
    layout: Layout,
    staged: Result<PathBuf, String>,
    last_applied: Option<LogId>,
    membership: StoredMembership,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        let staged = std::mem::replace(&mut self.staged, Err("snapshot already built".into()))
            .map_err(|e| snap_err(None, ErrorVerb::Write, e))?;
        let id = match self.last_applied {
            Some(l) => format!(
                "{}-{}-{}-{}",
                l.leader_id.term,
                l.leader_id.node_id,
                l.index,
                unique()
            ),
            None => format!("0-0-0-{}", unique()),
        };
        let meta = SnapshotMeta {
            last_log_id: self.last_applied,
            last_membership: self.membership.clone(),
            snapshot_id: id,
        };
        let (layout, m) = (self.layout.clone(), meta.clone());
        let tar = blocking(move || {
            let r = pack(&layout, &staged, &m);
            let _ = std::fs::remove_dir_all(&staged);
            r
        })
        .await
        .map_err(|e| snap_err(Some(&meta), ErrorVerb::Write, e))?;
        let file = tokio::fs::File::open(&tar).await.map_err(|e| {
            snap_err(
                Some(&meta),
                ErrorVerb::Read,
                format!("{}: {e}", tar.display()),
            )
        })?;
        tracing::info!(snapshot = %meta.snapshot_id, "snapshot built");
        Ok(Snapshot {
            meta,
            snapshot: Box::new(file),
        })
    }
}

fn pack(layout: &Layout, staged: &Path, meta: &SnapshotMeta) -> Result<PathBuf, String> {
    let snapshots = layout.snapshots();
    let tar = snapshots.join(format!("{}.tar", meta.snapshot_id));
    let tmp = tar.with_extension("tar.tmp");
    let file = std::fs::File::create(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
    let mut builder = tar::Builder::new(std::io::BufWriter::new(file));
    let description = serde_json::to_vec(&SnapshotRecord {
        v: SM_RECORD_VERSION,
        meta: meta.clone(),
    })
    .map_err(|e| e.to_string())?;
    let mut header = tar::Header::new_gnu();
    header.set_size(description.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    builder
        .append_data(&mut header, "snapshot.json", description.as_slice())
        .and_then(|()| builder.append_dir_all("state", staged.join("state")))
        .map_err(|e| format!("packing {}: {e}", tmp.display()))?;
    let file = builder
        .into_inner()
        .and_then(|w| w.into_inner().map_err(std::io::IntoInnerError::into_error))
        .map_err(|e| format!("packing {}: {e}", tmp.display()))?;
    file.sync_all()
        .map_err(|e| format!("syncing {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, &tar).map_err(|e| format!("{}: {e}", tar.display()))?;
    write_current_snapshot(layout, meta)?;
    Ok(tar)
}

/// The node's current snapshot under `data_dir` and its file, opened (`None`: none yet). The
/// open file stays readable even if a newer snapshot replaces it meanwhile.
pub fn open_current_snapshot(
    data_dir: &Path,
) -> Result<Option<(SnapshotMeta, std::fs::File)>, String> {
    let layout = Layout {
        data_dir: data_dir.to_path_buf(),
    };
    // A newer snapshot may replace the one named between reading the name and opening it.
    for _ in 0..5 {
        let Some(record) = current_snapshot(&layout)? else {
            return Ok(None);
        };
        let path = layout
            .snapshots()
            .join(format!("{}.tar", record.meta.snapshot_id));
        match std::fs::File::open(&path) {
            Ok(f) => return Ok(Some((record.meta, f))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(format!("{}: {e}", path.display())),
        }
    }
    Err("the current snapshot kept changing while it was opened".to_string())
}

/// The description (`snapshot.json`) of a snapshot file unpacked under `unpacked`.
pub fn unpacked_description(unpacked: &Path) -> Result<SnapshotMeta, String> {
    Ok(read_description(unpacked)?.meta)
}

/// Reads `snapshot.json` under `unpacked` and refuses a newer version than this binary knows.
fn read_description(unpacked: &Path) -> Result<SnapshotRecord, String> {
    let inner: SnapshotRecord = std::fs::read(unpacked.join("snapshot.json"))
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
        .map_err(|e| format!("the snapshot's description cannot be read: {e}"))?;
    if inner.v > SM_RECORD_VERSION {
        return Err(format!(
            "the snapshot has version {}, this binary knows up to {SM_RECORD_VERSION}",
            inner.v
        ));
    }
    Ok(inner)
}

/// Makes the environments under `staged` (a directory on the same file system) the state of
/// the node at `data_dir`, as installing a snapshot does: renamed in as a new generation, then
/// named by `state/CURRENT` (written atomically).
pub fn adopt_state(data_dir: &Path, staged: &Path) -> Result<(), String> {
    let layout = Layout {
        data_dir: data_dir.to_path_buf(),
    };
    let states = layout.states();
    std::fs::create_dir_all(&states).map_err(|e| format!("{}: {e}", states.display()))?;
    let gen_name = format!("g{}", unique());
    let generation = states.join(&gen_name);
    std::fs::rename(staged, &generation).map_err(|e| format!("{}: {e}", generation.display()))?;
    sync_dir(&states)?;
    write_atomic(&states.join("CURRENT"), gen_name.as_bytes())
}
