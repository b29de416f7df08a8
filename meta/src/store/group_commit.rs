//! Group commit for one LMDB environment: concurrent writers share one write transaction, and
//! so one commit (LMDB's fsyncs), instead of queueing on LMDB's single-writer lock and paying
//! the fsyncs one after the other.
//!
//! A caller (always a blocking thread) submits a closure `FnOnce(&mut RwTxn) -> Result<T>`.
//! The first caller that finds no batch in progress becomes the leader: it takes the queued
//! closures (at most [`MAX_BATCH`]), opens one write transaction, runs each closure in a nested
//! transaction that is committed when the closure succeeds and aborted when it fails (so a
//! failed conditional write leaves no trace and does not affect its batch-mates), commits the
//! parent once, and only then hands every caller its result. Followers wait meanwhile; nobody
//! is answered before the commit that holds their write is durable, and a failed parent commit
//! fails every write of the batch.

use super::lmdb::Env;
use heed::RwTxn;
use meta_api::error::{Error, Result};
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// Most closures run under one commit: bounds the time a batch holds the writer and the size
/// of its transaction.
pub const MAX_BATCH: usize = 256;

/// Hands a caller its result once the batch's commit is known (`Err` when it failed).
type Deliver = Box<dyn FnOnce(std::result::Result<(), &Error>) + Send>;
/// A queued closure, type-erased: runs in its nested transaction of the batch's parent (or
/// gets the error that kept the parent from opening) and returns its delivery.
type Job =
    Box<dyn for<'t> FnOnce(std::result::Result<(&Env, &mut RwTxn<'t>), &Error>) -> Deliver + Send>;

/// The batching writer of one environment (one per meta2 environment).
#[derive(Default)]
pub struct GroupCommit {
    state: Mutex<State>,
    /// Signalled when a batch is delivered (followers re-check their slot or lead).
    done: Condvar,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Job>,
    leading: bool,
}

/// Where one caller's result lands. Dropped unfilled (a leader that panicked), it fills
/// itself with an error so its caller does not wait forever.
struct Slot<T> {
    cell: Arc<Mutex<Option<Result<T>>>>,
}

impl<T> Slot<T> {
    fn fill(&self, r: Result<T>) {
        let mut cell = self.cell.lock().unwrap_or_else(|e| e.into_inner());
        if cell.is_none() {
            *cell = Some(r);
        }
    }
}

impl<T> Drop for Slot<T> {
    fn drop(&mut self) {
        self.fill(Err(Error::Internal(
            "write abandoned by its group-commit batch".to_string(),
        )));
    }
}

/// Clears `leading` and wakes the followers even if the leader unwinds.
struct LeaderGuard<'a>(&'a GroupCommit);

impl Drop for LeaderGuard<'_> {
    fn drop(&mut self) {
        self.0.lock().leading = false;
        self.0.done.notify_all();
    }
}

impl GroupCommit {
    pub fn new() -> GroupCommit {
        GroupCommit::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` in a write transaction of `env` (always the same environment for one
    /// `GroupCommit`) and returns its result once that transaction is committed. When `f`
    /// returns `Err`, its changes are rolled back and the error returned; other writes of the
    /// batch are unaffected. Blocking: call from a blocking thread.
    pub fn write<T, F>(&self, env: &Env, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'t> FnOnce(&mut RwTxn<'t>) -> Result<T> + Send + 'static,
    {
        let cell: Arc<Mutex<Option<Result<T>>>> = Arc::new(Mutex::new(None));
        let slot = Slot { cell: cell.clone() };
        let job: Job = Box::new(
            move |txn: std::result::Result<(&Env, &mut RwTxn<'_>), &Error>| {
                let outcome = match txn {
                    Ok((env, parent)) => run_nested(env, parent, f),
                    Err(e) => Err(Error::Db(format!("cannot open the batch transaction: {e}"))),
                };
                Box::new(move |commit: std::result::Result<(), &Error>| {
                    slot.fill(match (outcome, commit) {
                        (Ok(v), Ok(())) => Ok(v),
                        (Ok(_), Err(e)) => Err(Error::Db(format!("batch commit failed: {e}"))),
                        (Err(e), _) => Err(e),
                    });
                }) as Deliver
            },
        );
        let mut state = self.lock();
        state.queue.push_back(job);
        loop {
            if let Some(r) = cell.lock().unwrap_or_else(|e| e.into_inner()).take() {
                return r;
            }
            if state.leading {
                state = self.done.wait(state).unwrap_or_else(|e| e.into_inner());
                continue;
            }
            // No batch in progress and our write not done yet: lead one.
            state.leading = true;
            let n = state.queue.len().min(MAX_BATCH);
            let batch: Vec<Job> = state.queue.drain(..n).collect();
            drop(state);
            {
                let _guard = LeaderGuard(self);
                run_batch(env, batch);
            }
            state = self.lock();
        }
    }
}

/// Runs `f` in a transaction nested in `parent`: committed into the parent on `Ok`, aborted
/// on `Err`.
fn run_nested<T, F>(env: &Env, parent: &mut RwTxn<'_>, f: F) -> Result<T>
where
    F: for<'t> FnOnce(&mut RwTxn<'t>) -> Result<T>,
{
    let mut child = env.nested_write_txn(parent)?;
    match f(&mut child) {
        Ok(v) => {
            child.commit()?;
            Ok(v)
        }
        Err(e) => {
            child.abort();
            Err(e)
        }
    }
}

/// One batch: one parent transaction, every job nested in it, one commit, then deliveries.
fn run_batch(env: &Env, batch: Vec<Job>) {
    let count = batch.len();
    let mut parent = match env.write_txn() {
        Ok(t) => t,
        Err(e) => {
            let e = Error::from(e);
            tracing::warn!(error = %e, count, "cannot open the batch write transaction");
            for job in batch {
                job(Err(&e))(Err(&e));
            }
            return;
        }
    };
    let deliveries: Vec<Deliver> = batch
        .into_iter()
        .map(|job| job(Ok((env, &mut parent))))
        .collect();
    let commit = parent.commit().map_err(Error::from);
    if let Err(e) = &commit {
        tracing::warn!(error = %e, count, "batch commit failed");
    }
    for d in deliveries {
        d(commit.as_ref().map(|_| ()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::lmdb::{self, Db};
    use std::sync::Barrier;

    fn open(dir: &std::path::Path) -> (Arc<Env>, Db) {
        let env = lmdb::open_env(dir, 64 << 20, 4).unwrap();
        let mut txn = env.write_txn().unwrap();
        let db = lmdb::create_db(&env, &mut txn, "t").unwrap();
        txn.commit().unwrap();
        (Arc::new(env), db)
    }

    fn count(env: &Env, db: &Db) -> u64 {
        let txn = env.read_txn().unwrap();
        db.len(&txn).unwrap()
    }

    #[test]
    fn concurrent_writers_all_durable_and_get_their_own_result() {
        let dir = tempfile::tempdir().unwrap();
        let (env, db) = open(dir.path());
        let gc = Arc::new(GroupCommit::new());
        let threads = 16;
        let per_thread = 20;
        let barrier = Arc::new(Barrier::new(threads));
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (env, gc, barrier) = (env.clone(), gc.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    for i in 0..per_thread {
                        let key = format!("k-{t}-{i}");
                        let k = key.clone();
                        let got = gc
                            .write(&env, move |txn| {
                                db.put(txn, k.as_bytes(), b"v")?;
                                Ok(k)
                            })
                            .unwrap();
                        assert_eq!(got, key, "result delivered to another caller");
                        // Visible (committed) as soon as the call returns.
                        let txn = env.read_txn().unwrap();
                        assert!(db.get(&txn, key.as_bytes()).unwrap().is_some());
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(count(&env, &db), (threads * per_thread) as u64);
        drop(env);
        // Durable: a fresh open of the files sees every record.
        let (env, db) = open(dir.path());
        assert_eq!(count(&env, &db), (threads * per_thread) as u64);
    }

    #[test]
    fn failed_closure_leaves_no_trace_and_batch_mates_commit() {
        let dir = tempfile::tempdir().unwrap();
        let (env, db) = open(dir.path());
        let gc = Arc::new(GroupCommit::new());
        // Hold the leader inside a batch so the next writes queue up and run as one batch.
        let (entered_tx, entered_rx) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let first = {
            let (env, gc) = (env.clone(), gc.clone());
            std::thread::spawn(move || {
                gc.write(&env, move |txn| {
                    db.put(txn, b"first", b"v")?;
                    entered_tx.send(()).ok();
                    release_rx.recv().ok();
                    Ok(())
                })
            })
        };
        entered_rx.recv().unwrap();
        let mut handles = Vec::new();
        for i in 0..10u32 {
            let (env, gc) = (env.clone(), gc.clone());
            handles.push(std::thread::spawn(move || {
                gc.write(&env, move |txn| {
                    db.put(txn, format!("k{i}").as_bytes(), b"v")?;
                    if i % 2 == 1 {
                        return Err(Error::PreconditionFailed(format!("k{i}")));
                    }
                    Ok(i)
                })
            }));
        }
        // Bounded wait until all ten are queued behind the held batch.
        for _ in 0..500 {
            if gc.lock().queue.len() == 10 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        assert_eq!(gc.lock().queue.len(), 10, "writers did not queue");
        release_tx.send(()).unwrap();
        first.join().unwrap().unwrap();
        for (i, h) in handles.into_iter().enumerate() {
            let r = h.join().unwrap();
            if i % 2 == 1 {
                assert!(matches!(r, Err(Error::PreconditionFailed(_))), "{r:?}");
            } else {
                assert_eq!(r.unwrap(), i as u32);
            }
        }
        let txn = env.read_txn().unwrap();
        for i in 0..10u32 {
            let present = db.get(&txn, format!("k{i}").as_bytes()).unwrap().is_some();
            assert_eq!(present, i % 2 == 0, "k{i}");
        }
        assert!(db.get(&txn, b"first").unwrap().is_some());
    }

    #[test]
    fn batches_are_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let (env, db) = open(dir.path());
        let gc = Arc::new(GroupCommit::new());
        // Queue more than MAX_BATCH jobs by hand, then let one writer lead: it must take at
        // most MAX_BATCH per transaction and loop until its own job is done.
        let sizes = Arc::new(Mutex::new(Vec::<u64>::new()));
        {
            let mut state = gc.lock();
            for i in 0..(MAX_BATCH + 10) {
                let sizes = sizes.clone();
                let job: Job = Box::new(
                    move |txn: std::result::Result<(&Env, &mut RwTxn<'_>), &Error>| {
                        let Ok((env, parent)) = txn else {
                            return Box::new(|_: std::result::Result<(), &Error>| {}) as Deliver;
                        };
                        let r = run_nested(env, parent, move |txn: &mut RwTxn<'_>| {
                            // The number of entries already written in this batch's parent.
                            let before = db.len(txn)?;
                            db.put(txn, format!("q{i:04}").as_bytes(), b"v")?;
                            Ok(before)
                        });
                        if let Ok(n) = r {
                            sizes.lock().unwrap().push(n);
                        }
                        Box::new(|_: std::result::Result<(), &Error>| {}) as Deliver
                    },
                );
                state.queue.push_back(job);
            }
        }
        gc.write(&env, move |txn| {
            db.put(txn, b"last", b"v")?;
            Ok(())
        })
        .unwrap();
        assert_eq!(count(&env, &db), (MAX_BATCH + 11) as u64);
        let sizes = sizes.lock().unwrap();
        // The first batch is exactly MAX_BATCH jobs: its last job saw MAX_BATCH - 1 before it.
        assert_eq!(sizes[MAX_BATCH - 1], (MAX_BATCH - 1) as u64);
        // The next job started a new transaction holding exactly the first batch.
        assert_eq!(sizes[MAX_BATCH], MAX_BATCH as u64);
    }
}
