//! Applying commands in batches: one write transaction per environment for a whole batch of
//! commands, committed once each (meta2 environments first, the directory last), so that
//! concurrent writes share their fsyncs, and so that a replicated log can be replayed
//! exactly after a crash.
//!
//! Every command of a batch runs in a transaction nested in the batch's directory
//! transaction (rolled back alone if the command fails) and reads the directory through it,
//! so it sees the commands before it. Its meta2 work runs in [`Tx::meta2`] *steps*, each
//! nested in the batch's transaction of that environment. All of a command's reads of meta2
//! happen inside its steps.
//!
//! **Exact replay.** When the batch applies log entries (an index per command), each meta2
//! environment records, in its own transaction, the highest index applied to it (`applied`
//! in `props`) and each step's answer (`outbox`, keyed by index and step). The directory
//! records the batch's last index in the same transaction as the batch's directory changes.
//! A crash after some meta2 commits but before the directory's leaves the directory at the
//! previous batch; the log is applied again from there, and a step whose environment already
//! holds its index is not run again: its recorded answer is returned, so the command goes on
//! exactly as it did the first time (its GC entries, index entries and answer are the same).
//! A step's answer is kept until the directory has committed past it.
//!
//! Commands that create or remove an environment (`CreateContainer`, `DeleteContainer`) run in
//! a batch of their own.

use super::Store;
use super::command::{Command, Outcome};
use super::dedupe;
use super::meta2::Meta2;
use super::quotas::{self, UsageDelta};
use super::records::Meta1Record;
use heed::RwTxn;
use meta_api::error::{Error, Result};
use meta_api::wire::ErrorBody;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::sync::Arc;
use typed_arena::Arena;

/// `props` key of the highest log index applied to a meta2 environment (u64 big-endian).
pub(crate) const APPLIED_KEY: &[u8] = b"applied";
/// Directory `settings` key of the last log index whose directory changes are committed.
pub(crate) const DIR_APPLIED_KEY: &[u8] = b"applied_index";
/// Most commands in one batch (bounds a batch's transactions).
pub const MAX_BATCH: usize = 1024;
/// Version of an outbox record: 2 added `usage` (a version-1 record, written before the
/// account counters existed, reads as no change: the counters were then summed at open from
/// the environments, which already held the step).
const OUTBOX_VERSION: u32 = 2;

/// One step's recorded answer, and how it changed its container's usage.
#[derive(Serialize, serde::Deserialize)]
struct OutboxRecord<T> {
    v: u32,
    answer: std::result::Result<T, ErrorBody>,
    #[serde(default)]
    usage: UsageDelta,
}

fn read_u64(bytes: Option<&[u8]>) -> u64 {
    match bytes {
        Some(b) if b.len() == 8 => {
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            u64::from_be_bytes(a)
        }
        _ => 0,
    }
}

fn outbox_key(index: u64, step: u32) -> [u8; 12] {
    let mut k = [0u8; 12];
    k[..8].copy_from_slice(&index.to_be_bytes());
    k[8..].copy_from_slice(&step.to_be_bytes());
    k
}

/// A meta2 environment written by the batch.
struct Open<'s> {
    m2: &'s Meta2,
    /// The account owning the container, and the container's name.
    account: String,
    name: String,
    txn: RwTxn<'s>,
    /// `applied` as committed before this batch.
    marker: u64,
    /// Highest index applied to it in this batch.
    max_index: Option<u64>,
}

/// What one command may write: the directory (in its own nested transaction) and the meta2
/// environment it names.
pub(crate) struct Tx<'a, 'd, 's> {
    pub dir: &'a mut RwTxn<'d>,
    target: Option<(&'a str, &'a mut Open<'s>)>,
    index: Option<u64>,
    step: u32,
    /// Containers whose environment is closed and removed once the batch is committed (and
    /// its own handles dropped).
    pub(crate) remove_after: &'a mut Vec<String>,
    /// The directory's databases (quotas and account counters).
    directory: &'a super::directory::Directory,
    /// Usage changes per account made by the batch's steps so far, added to the account
    /// counters when the batch commits.
    pending: &'a mut HashMap<String, UsageDelta>,
}

impl Tx<'_, '_, '_> {
    /// An account's usage as this command sees it: its counter and the changes of the
    /// batch's earlier steps.
    pub fn account_usage(&self, account: &str) -> Result<super::Usage> {
        let committed = quotas::account_usage(self.directory, self.dir, account)?;
        Ok(match self.pending.get(account) {
            Some(change) => change.apply_to(committed),
            None => committed,
        })
    }

    /// As [`Tx::meta2`], for a step that may make the container grow: refused with
    /// `QuotaExceeded` (its changes rolled back) when it grows the container or its account
    /// past a quota ([`super::quotas`]).
    pub fn meta2_within_quota<T, F>(&mut self, cid: &str, f: F) -> Result<T>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce(&Meta2, &mut RwTxn) -> Result<T>,
    {
        self.step(cid, true, f)
    }

    /// Runs `f` on the meta2 environment of container `cid` (the one the command names), in a
    /// transaction nested in the batch's: its changes are kept when it returns `Ok`, rolled
    /// back when it returns `Err`. When the command is a log entry already applied to this
    /// environment (a replay after a crash), `f` is not run and its recorded answer is
    /// returned.
    pub fn meta2<T, F>(&mut self, cid: &str, f: F) -> Result<T>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce(&Meta2, &mut RwTxn) -> Result<T>,
    {
        self.step(cid, false, f)
    }

    /// One step; its usage change is measured (and recorded with its answer) and added to
    /// the account's pending change.
    fn step<T, F>(&mut self, cid: &str, limited: bool, f: F) -> Result<T>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce(&Meta2, &mut RwTxn) -> Result<T>,
    {
        self.step += 1;
        let step = self.step;
        let index = self.index;
        let Some((target, open)) = self.target.as_mut() else {
            return Err(Error::Internal(format!(
                "a command wrote container {cid}, which it does not name"
            )));
        };
        if *target != cid {
            return Err(Error::Internal(format!(
                "a command named container {target} and wrote {cid}"
            )));
        }
        let m2 = open.m2;
        if let Some(i) = index
            && i <= open.marker
        {
            // Applied before a crash: answer as then.
            #[cfg(test)]
            REPLAYED_STEPS.with(|n| n.set(n.get() + 1));
            let bytes = m2
                .outbox
                .get(&open.txn, &outbox_key(i, step))?
                .ok_or_else(|| {
                    Error::Db(format!(
                        "log entry {i} was applied to container {cid}, but its step {step} \
                         left no answer"
                    ))
                })?;
            let r: OutboxRecord<T> = serde_json::from_slice(bytes)
                .map_err(|e| Error::Db(format!("an outbox record cannot be read: {e}")))?;
            if r.v > OUTBOX_VERSION {
                return Err(Error::Db(format!(
                    "an outbox record has version {}, this binary knows up to {OUTBOX_VERSION}",
                    r.v
                )));
            }
            if !r.usage.is_zero() {
                self.pending
                    .entry(open.account.clone())
                    .or_default()
                    .add(r.usage);
            }
            return r.answer.map_err(|b| Error::from_body(b, cid));
        }
        let mut child = m2.env.nested_write_txn(&mut open.txn)?;
        let before = m2.read_usage(&child)?;
        let mut usage = UsageDelta::default();
        let answer = match f(m2, &mut child) {
            Ok(v) => {
                let after = m2.read_usage(&child)?;
                usage = UsageDelta::between(before, after);
                let allowed = if limited && usage.grows() {
                    let who = quotas::Subject {
                        account: &open.account,
                        container: &open.name,
                        cid,
                    };
                    let pending = self.pending.get(&open.account).copied();
                    quotas::check(
                        self.directory,
                        self.dir,
                        &who,
                        after,
                        usage,
                        pending.unwrap_or_default(),
                    )
                } else {
                    Ok(())
                };
                match allowed {
                    Ok(()) => {
                        child.commit()?;
                        Ok(v)
                    }
                    Err(e) => {
                        child.abort();
                        usage = UsageDelta::default();
                        Err(e)
                    }
                }
            }
            Err(e) => {
                child.abort();
                Err(e)
            }
        };
        if !usage.is_zero() {
            self.pending
                .entry(open.account.clone())
                .or_default()
                .add(usage);
        }
        if let Some(i) = index {
            let record = OutboxRecord {
                v: OUTBOX_VERSION,
                answer: answer.as_ref().map_err(Error::to_body),
                usage,
            };
            let bytes = serde_json::to_vec(&record)
                .map_err(|e| Error::Internal(format!("encoding an outbox record: {e}")))?;
            m2.outbox.put(&mut open.txn, &outbox_key(i, step), &bytes)?;
            open.max_index = Some(open.max_index.map_or(i, |m| m.max(i)));
        }
        answer
    }
}

#[cfg(test)]
thread_local! {
    /// Test hook: on this thread, the batch whose last index is this fails after committing
    /// its meta2 environments and before committing the directory (as a crash there would).
    pub(crate) static CRASH_AT: std::cell::Cell<Option<u64>> = const { std::cell::Cell::new(None) };
    /// Test counter: steps answered from the outbox on this thread.
    pub(crate) static REPLAYED_STEPS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// One batch being applied.
struct Batch<'s> {
    store: &'s Store,
    arena: &'s Arena<Arc<Meta2>>,
    dir: RwTxn<'s>,
    open: HashMap<String, Open<'s>>,
    /// The directory's last applied index when the batch started.
    dir_applied: u64,
    last_index: Option<u64>,
    remove_after: Vec<String>,
    /// Usage changes per account, not yet in the directory's counters.
    pending: HashMap<String, UsageDelta>,
}

impl<'s> Batch<'s> {
    fn new(store: &'s Store, arena: &'s Arena<Arc<Meta2>>) -> Result<Batch<'s>> {
        let dir = store.dir.env.write_txn()?;
        let dir_applied = read_u64(store.dir.settings.get(&dir, DIR_APPLIED_KEY)?);
        Ok(Batch {
            store,
            arena,
            dir,
            open: HashMap::new(),
            dir_applied,
            last_index: None,
            remove_after: Vec::new(),
            pending: HashMap::new(),
        })
    }

    /// Opens the batch's transaction of a container's environment.
    fn ensure_open(&mut self, cid: &str, m1: &Meta1Record, env: Arc<Meta2>) -> Result<()> {
        if self.open.contains_key(cid) {
            return Ok(());
        }
        let m2: &'s Meta2 = self.arena.alloc(env);
        let mut txn = m2.env.write_txn()?;
        let marker = read_u64(m2.props.get(&txn, APPLIED_KEY)?);
        // Answers kept for a replay are no longer needed once the directory is past them.
        if marker <= self.dir_applied && !m2.outbox.is_empty(&txn)? {
            m2.outbox.clear(&mut txn)?;
        }
        self.open.insert(
            cid.to_string(),
            Open {
                m2,
                account: m1.account.clone(),
                name: m1.name.clone(),
                txn,
                marker,
                max_index: None,
            },
        );
        Ok(())
    }

    /// Applies one command. `Err` is a failure of the batch itself (an LMDB error outside the
    /// command's own work); the command's answer is the inner result.
    fn run(&mut self, index: Option<u64>, command: Command) -> Result<Result<Outcome>> {
        let (request, command) = match command {
            Command::Once { request, command } if !matches!(*command, Command::Once { .. }) => {
                (Some(request), *command)
            }
            other => (None, other),
        };
        if index.is_some() {
            self.last_index = index;
        }
        if let Some(tag) = &request
            && let Some(answer) = dedupe::lookup(&self.store.dir, &self.dir, tag)?
        {
            return Ok(answer);
        }
        let answer = self.run_one(index, command)?;
        if let Some(tag) = &request {
            dedupe::remember(&self.store.dir, &mut self.dir, tag, &answer)?;
        }
        Ok(answer)
    }

    fn run_one(&mut self, index: Option<u64>, command: Command) -> Result<Result<Outcome>> {
        let target = match command.meta2_container() {
            Some(name) => match self.store.resolve_in(&self.dir, name) {
                Ok(r) => {
                    self.ensure_open(&r.cid, &r.meta1, r.env)?;
                    Some(r.cid)
                }
                // The command fails the same way when it resolves the name itself.
                Err(_) => None,
            },
            None => None,
        };
        let Batch {
            store,
            dir,
            open,
            remove_after,
            pending,
            ..
        } = self;
        let mut child = store.dir.env.nested_write_txn(dir)?;
        let answer = {
            let target = match &target {
                Some(cid) => open.get_mut(cid).map(|o| (cid.as_str(), o)),
                None => None,
            };
            let mut tx = Tx {
                dir: &mut child,
                target,
                index,
                step: 0,
                remove_after,
                directory: &store.dir,
                pending,
            };
            store.apply_in(&mut tx, command)
        };
        match &answer {
            Ok(_) => child.commit()?,
            Err(_) => child.abort(),
        }
        Ok(answer)
    }

    /// Commits every meta2 environment (with its applied index), then the directory (with the
    /// batch's last index and `record`, the state machine's own record, if any).
    fn commit(self, record: Option<Vec<u8>>) -> Result<Vec<String>> {
        let Batch {
            store,
            mut dir,
            open,
            last_index,
            remove_after,
            pending,
            ..
        } = self;
        for (cid, mut o) in open {
            if let Some(m) = o.max_index
                && m > o.marker
            {
                o.m2.props.put(&mut o.txn, APPLIED_KEY, &m.to_be_bytes())?;
            }
            o.txn
                .commit()
                .map_err(|e| Error::Db(format!("committing container {cid}: {e}")))?;
        }
        #[cfg(test)]
        if let Some(i) = last_index
            && CRASH_AT.with(|c| c.get()) == Some(i)
        {
            CRASH_AT.with(|c| c.set(None));
            return Err(Error::Io(format!(
                "crash injected after the meta2 commits of the batch ending at {i}"
            )));
        }
        // Accounts deleted in the batch keep no counter (they held nothing).
        for (account, change) in pending {
            if !change.is_zero() && store.dir.accounts.get(&dir, account.as_bytes())?.is_some() {
                quotas::add_account_usage(&store.dir, &mut dir, &account, change)?;
            }
        }
        if let Some(i) = last_index {
            store
                .dir
                .settings
                .put(&mut dir, DIR_APPLIED_KEY, &i.to_be_bytes())?;
        }
        if let Some(r) = record {
            store.dir.settings.put(&mut dir, super::RAFT_KEY, &r)?;
        }
        dir.commit()
            .map_err(|e| Error::Db(format!("committing the directory: {e}")))?;
        Ok(remove_after)
    }
}

/// One command to apply, with its log index when it comes from a replicated log.
pub struct Item {
    pub index: Option<u64>,
    /// `None` for a log entry that changes nothing in the store (blank, membership).
    pub command: Option<Command>,
}

impl Store {
    /// Applies `items` in order and answers each. `record(i)` is the state machine's record
    /// as of index `i`, written in the same directory transaction as the changes up to `i`.
    /// `Err` when a batch could not be committed: the store then holds a prefix of the items
    /// (whole batches), and applying the same items again finishes the work exactly.
    pub fn apply_items(
        &self,
        items: Vec<Item>,
        record: &mut dyn FnMut(u64) -> Result<Vec<u8>>,
    ) -> Result<Vec<Result<Outcome>>> {
        let mut answers = Vec::with_capacity(items.len());
        // Items the directory already holds (a log entry cut by a crash between two batches
        // is delivered again whole): answered as done, not applied twice.
        let held = self.applied_index()?;
        let mut items = items.into_iter().peekable();
        while items.peek().is_some() {
            let removed = self.apply_one_batch(&mut items, held, &mut answers, record)?;
            // The batch's handles are gone: removed containers' environments close at once.
            for cid in removed {
                let path = self.envs.close(&cid)?;
                if let Err(e) = std::fs::remove_dir_all(&path)
                    && e.kind() != std::io::ErrorKind::NotFound
                {
                    tracing::warn!(path = %path.display(), error = %e, "cannot remove meta2 environment");
                }
            }
        }
        Ok(answers)
    }

    /// Applies the next batch of `items` (up to a command that runs alone, or
    /// [`MAX_BATCH`]) and commits it; the containers whose environment must now be removed.
    fn apply_one_batch(
        &self,
        items: &mut std::iter::Peekable<std::vec::IntoIter<Item>>,
        held: u64,
        answers: &mut Vec<Result<Outcome>>,
        record: &mut dyn FnMut(u64) -> Result<Vec<u8>>,
    ) -> Result<Vec<String>> {
        let arena = Arena::new();
        let mut batch = Batch::new(self, &arena)?;
        let mut count = 0usize;
        while let Some(item) = items.peek() {
            let alone = item.command.as_ref().is_some_and(Command::runs_alone);
            if alone && count > 0 {
                break;
            }
            let Some(item) = items.next() else { break };
            if item.index.is_some_and(|i| i <= held) {
                answers.push(Ok(Outcome::Done(())));
                continue;
            }
            count += 1;
            match item.command {
                Some(c) => answers.push(batch.run(item.index, c)?),
                None => {
                    if item.index.is_some() {
                        batch.last_index = item.index;
                    }
                    answers.push(Ok(Outcome::Done(())));
                }
            }
            if alone || count >= MAX_BATCH {
                break;
            }
        }
        let rec = match batch.last_index {
            Some(i) => Some(record(i)?),
            None => None,
        };
        batch.commit(rec)
    }
}
