//! Shared directory fsyncs: concurrent commits that linked chunks into the same directory share
//! one `fsync` of it instead of each paying their own.
//!
//! Per directory, callers join the *pending* batch (links made since the last fsync started).
//! When no fsync of that directory is running, the first waiting caller leads: it takes the
//! pending batch, fsyncs the directory (covering every link made before the call, its
//! batch-mates' included) and hands the outcome to the whole batch. A caller is only answered
//! with the outcome of an fsync that started after its own link, so an answer always means its
//! directory entry is durable; a failed fsync fails its whole batch (it is never retried on the
//! callers' behalf, as a later fsync may not report the lost writes again).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// One batch of callers waiting for the same fsync; `None` until it ran.
type Batch = Arc<Mutex<Option<Result<(), (std::io::ErrorKind, String)>>>>;

#[derive(Default)]
struct DirState {
    running: bool,
    pending: Option<Batch>,
}

/// Batches directory fsyncs per directory (one per volume).
#[derive(Default)]
pub struct DirSyncer {
    dirs: Mutex<HashMap<PathBuf, DirState>>,
    done: Condvar,
}

impl std::fmt::Debug for DirSyncer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirSyncer").finish_non_exhaustive()
    }
}

fn outcome(b: &Batch) -> Option<std::io::Result<()>> {
    let cell = b.lock().unwrap_or_else(|e| e.into_inner());
    cell.as_ref()
        .map(|r| r.clone().map_err(|(k, m)| std::io::Error::new(k, m)))
}

impl DirSyncer {
    pub fn new() -> DirSyncer {
        DirSyncer::default()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<PathBuf, DirState>> {
        self.dirs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes the entries created in `dir` before this call durable (an fsync of `dir` that
    /// started after the call, possibly shared with other callers). Blocking.
    pub fn sync(&self, dir: &Path) -> std::io::Result<()> {
        self.sync_with(dir, super::volume::fsync_dir)
    }

    /// [`DirSyncer::sync`] with the fsync given (tests count the calls).
    fn sync_with(
        &self,
        dir: &Path,
        fsync: impl Fn(&Path) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let mut dirs = self.lock();
        let batch = dirs
            .entry(dir.to_path_buf())
            .or_default()
            .pending
            .get_or_insert_with(Batch::default)
            .clone();
        loop {
            if let Some(r) = outcome(&batch) {
                return r;
            }
            let state = dirs.entry(dir.to_path_buf()).or_default();
            if state.running {
                dirs = self.done.wait(dirs).unwrap_or_else(|e| e.into_inner());
                continue;
            }
            // Not run and no fsync running: ours is still the pending batch. Lead it.
            let Some(lead) = state.pending.take() else {
                // Unreachable by construction; fail rather than wait forever.
                return Err(std::io::Error::other("directory sync batch lost"));
            };
            state.running = true;
            drop(dirs);
            let r = fsync(dir).map_err(|e| (e.kind(), e.to_string()));
            *lead.lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
            dirs = self.lock();
            if let Some(state) = dirs.get_mut(dir) {
                state.running = false;
                if state.pending.is_none() {
                    dirs.remove(dir);
                }
            }
            self.done.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[test]
    fn concurrent_callers_share_fsyncs_and_all_return_after_one_of_theirs() {
        let dir = tempfile::tempdir().unwrap();
        let syncer = Arc::new(DirSyncer::new());
        let calls = Arc::new(AtomicUsize::new(0));
        let threads = 16;
        let barrier = Arc::new(std::sync::Barrier::new(threads));
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let (syncer, calls, barrier) = (syncer.clone(), calls.clone(), barrier.clone());
                let path = dir.path().to_path_buf();
                std::thread::spawn(move || {
                    barrier.wait();
                    let before = calls.load(Ordering::SeqCst);
                    syncer
                        .sync_with(&path, |p| {
                            calls.fetch_add(1, Ordering::SeqCst);
                            // A slow fsync, so that callers pile up behind it.
                            std::thread::sleep(Duration::from_millis(20));
                            super::super::volume::fsync_dir(p)
                        })
                        .unwrap();
                    // An fsync started after this caller arrived.
                    assert!(calls.load(Ordering::SeqCst) > before);
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let n = calls.load(Ordering::SeqCst);
        assert!(n >= 1 && n < threads, "{n} fsyncs for {threads} callers");
        assert!(syncer.lock().is_empty(), "idle directories are forgotten");
    }

    #[test]
    fn a_failed_fsync_is_reported_and_later_calls_sync_again() {
        let dir = tempfile::tempdir().unwrap();
        let syncer = DirSyncer::new();
        let err = syncer
            .sync_with(dir.path(), |_| Err(std::io::Error::other("disk on fire")))
            .unwrap_err();
        assert!(err.to_string().contains("disk on fire"));
        syncer.sync(dir.path()).unwrap();
        assert!(syncer.sync(&dir.path().join("missing")).is_err());
    }
}
