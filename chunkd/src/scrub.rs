//! The scrubber: every chunk file of the volume is re-read and re-hashed (BLAKE3 against its
//! footer, [`crate::chunkfile`]) at a bounded rate, a full pass at least every
//! `scrub_interval_days`, and a chunk found bad is quarantined ([`Volume::quarantine`]): moved
//! to `quarantine/` on the same volume, never served again.
//!
//! A pass walks the prefix directories `000` … `fff` in order and the chunk ids in each in
//! sorted order, so that its progress is one cursor (the last chunk id checked), kept with the
//! pass counters in `<volume>/scrub-state.json` ([`StateFile`], written atomically at most every
//! [`SAVE_EVERY`]): a restarted server resumes its pass where it was. The next pass starts
//! when `scrub_interval_days` have passed since the last one started, or when an operator asks
//! (`POST /v1/scrub`, [`Scrubber::request_pass`]).
//!
//! Chunk files are read in blocks of [`BLOCK`] bytes (memory stays bounded whatever the chunk
//! size), and the reading is paced to `scrub_mib_per_sec` ([`Pacer`]; each file costs at least
//! [`MIN_CHARGE`] bytes, so a volume of tiny chunks is not walked at thousands of files per
//! second). Uploads in progress are never seen (they are unnamed or under `tmp/`), and chunks
//! written less than `scrub_grace_secs` ago are left for the next pass.
//!
//! A bad chunk is logged (WARN, with its id and the reason) and counted; meta has no
//! quarantine or repair queue yet, so nothing else is told.

use crate::chunkfile;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::pieces::{PieceHasher, Pieces};
use crate::volume::{self, FileIdentity, Volume};
use serde::{Deserialize, Serialize};
use std::fs::{self, File};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

/// The scrubber's state file, in the volume directory.
pub const STATE_FILE: &str = "scrub-state.json";
/// Version of [`StateFile`] written; a file of another version is ignored (a pass starts over).
pub const STATE_VERSION: u32 = 1;
/// Size of the blocks a chunk file is read in.
pub const BLOCK: usize = 1024 * 1024;
/// The least a chunk file costs of the rate budget, however small it is.
pub const MIN_CHARGE: u64 = 32 * 1024;
/// How often the state file is written during a pass (and at its end, and when it stops).
pub const SAVE_EVERY: Duration = Duration::from_secs(10);
/// How long after the server starts the first pass that is due begins (unless one is asked
/// for): the scrubber does not compete with the start of the server.
pub const START_DELAY: Duration = Duration::from_secs(30);
/// Longest sleep between two looks at the stop flag.
const STOP_POLL: Duration = Duration::from_millis(100);

/// The scrubber's settings, from the chunkd configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Bytes read per second; 0 turns the scrubber off.
    pub bytes_per_sec: u64,
    /// Time between the starts of two passes; `None`: passes start only when asked.
    pub interval: Option<Duration>,
    /// Chunks younger than this are skipped.
    pub grace: Duration,
}

impl Settings {
    pub fn from_config(config: &Config) -> Settings {
        Settings {
            bytes_per_sec: config.scrub_mib_per_sec.saturating_mul(1024 * 1024),
            interval: (config.scrub_interval_days > 0)
                .then(|| Duration::from_secs(config.scrub_interval_days.saturating_mul(86_400))),
            grace: Duration::from_secs(config.scrub_grace_secs),
        }
    }

    pub fn enabled(&self) -> bool {
        self.bytes_per_sec > 0
    }
}

/// What one pass found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PassCounters {
    /// Chunk files checked (good or bad).
    pub chunks: u64,
    /// Bytes of the chunk files checked.
    pub bytes: u64,
    /// Chunks found bad (and quarantined).
    pub bad: u64,
    /// Chunks skipped because they were younger than the grace.
    pub skipped: u64,
    /// Chunks that could not be checked (I/O errors other than a bad read); tried again by
    /// the next pass.
    pub errors: u64,
}

impl PassCounters {
    fn add(&mut self, other: &PassCounters) {
        self.chunks += other.chunks;
        self.bytes += other.bytes;
        self.bad += other.bad;
        self.skipped += other.skipped;
        self.errors += other.errors;
    }
}

/// One pass: under way (`ended_ms` `None`, `cursor` the last chunk checked) or finished.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PassRecord {
    /// Passes are numbered from 1 on each volume.
    pub number: u64,
    /// When the pass started (ms since the Unix epoch).
    pub started_ms: i64,
    #[serde(default)]
    pub ended_ms: Option<i64>,
    /// The last chunk id checked by a pass under way.
    #[serde(default)]
    pub cursor: Option<String>,
    #[serde(flatten)]
    pub counters: PassCounters,
}

/// `<volume>/scrub-state.json`: the pass under way (resumed after a restart) and the last one
/// finished (whose start sets when the next begins).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateFile {
    pub version: u32,
    #[serde(default)]
    pub current: Option<PassRecord>,
    #[serde(default)]
    pub last: Option<PassRecord>,
}

impl StateFile {
    /// Reads the state file of the volume at `root`. A missing file is a fresh state; an
    /// unreadable one, or one of another version, is logged and ignored (the state only saves
    /// work: at worst a pass starts over). Blocking.
    pub fn load(root: &Path) -> StateFile {
        let path = root.join(STATE_FILE);
        let fresh = StateFile {
            version: STATE_VERSION,
            ..StateFile::default()
        };
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return fresh,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot read the scrub state, starting afresh");
                return fresh;
            }
        };
        let mut state: StateFile = match serde_json::from_slice(&bytes) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "unreadable scrub state, starting afresh");
                return fresh;
            }
        };
        if state.version != STATE_VERSION {
            tracing::warn!(path = %path.display(), version = state.version,
                "scrub state of another version, starting afresh");
            return fresh;
        }
        if let Some(cur) = &mut state.current
            && cur
                .cursor
                .as_deref()
                .is_some_and(|c| !crate::is_valid_chunk_id(c))
        {
            tracing::warn!(path = %path.display(), "scrub state has a bad cursor, the pass starts over");
            cur.cursor = None;
        }
        state
    }

    /// Writes the state file atomically: a temp file, fsynced, renamed over the old one, and
    /// the directory fsynced. Blocking.
    pub fn save(&self, root: &Path) -> Result<()> {
        let json =
            serde_json::to_vec_pretty(self).map_err(|e| Error::Io(std::io::Error::other(e)))?;
        let tmp = root.join(format!("{STATE_FILE}.tmp"));
        let mut f = File::create(&tmp).map_err(Error::from_write_io)?;
        f.write_all(&json).map_err(Error::from_write_io)?;
        f.sync_all().map_err(Error::from_write_io)?;
        drop(f);
        fs::rename(&tmp, root.join(STATE_FILE))?;
        volume::fsync_dir(root)?;
        Ok(())
    }
}

/// Answer of `GET /v1/scrub` (and of `POST /v1/scrub`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScrubStatus {
    /// False when `scrub_mib_per_sec` is 0.
    pub enabled: bool,
    pub mib_per_sec: u64,
    pub interval_days: u64,
    pub grace_secs: u64,
    /// A pass is being run now.
    pub running: bool,
    /// The pass under way, or interrupted and to be resumed.
    pub current: Option<PassRecord>,
    /// Fraction (0 to 1) of the current pass done, from its cursor (chunk ids are random, so
    /// the position of the cursor among all ids is the share of chunks behind it).
    pub progress: Option<f64>,
    /// The last pass finished.
    pub last: Option<PassRecord>,
    /// When the next pass is due (ms since the Unix epoch); `None` when passes start only
    /// when asked.
    pub next_pass_ms: Option<i64>,
    /// Highest pass number asked for by an operator (`POST /v1/scrub`), 0 if none.
    pub requested: u64,
    /// Counts of every pass since this process started.
    pub totals: PassCounters,
    /// Bad chunks found (and quarantined) by reads since this process started.
    pub bad_found_by_reads: u64,
    /// Files in `quarantine/`.
    pub quarantined: u64,
}

/// What the check of one chunk file found.
#[derive(Debug)]
pub enum Outcome {
    /// The data matches the footer; `bytes` is the file size.
    Good { bytes: u64 },
    /// The file is bad (it must not be served).
    Bad {
        bytes: u64,
        reason: String,
        identity: FileIdentity,
    },
    /// Written less than the grace ago.
    Young,
    /// Gone before it could be read (deleted meanwhile).
    Gone,
    /// Could not be checked (e.g. out of file descriptors).
    Failed(std::io::Error),
    /// The stop flag was raised while it was read.
    Stopped,
}

/// Whether an I/O error means the file's bytes cannot be read back (bad medium), as opposed
/// to a passing condition of the process or system.
fn is_media_error(e: &std::io::Error) -> bool {
    e.raw_os_error() == Some(libc::EIO)
}

/// Re-reads and re-hashes the chunk file at `path` in blocks of `buf.len()` bytes, calling
/// `pace` with the bytes read after each block (it returns false to stop). A chunk modified
/// less than `grace` before `now` is not read.
pub fn verify_chunk(
    path: &Path,
    grace: Duration,
    now: SystemTime,
    buf: &mut [u8],
    pace: &mut dyn FnMut(u64) -> bool,
) -> Outcome {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Outcome::Gone,
        Err(e) => return Outcome::Failed(e),
    };
    let meta = match file.metadata() {
        Ok(m) => m,
        Err(e) => return Outcome::Failed(e),
    };
    let identity = volume::file_identity(&meta);
    let file_len = meta.len();
    let young = meta
        .modified()
        .ok()
        .and_then(|m| m.checked_add(grace))
        .is_some_and(|ripe| ripe > now);
    if young {
        return Outcome::Young;
    }
    let bad = |reason: String| Outcome::Bad {
        bytes: file_len,
        reason,
        identity,
    };
    let footer = match chunkfile::read_footer_from(&mut file) {
        Ok(f) => f,
        Err(Error::Corrupt(why)) => return bad(format!("bad footer: {why}")),
        Err(Error::Io(e)) if is_media_error(&e) => return bad(format!("footer unreadable: {e}")),
        Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            return bad(format!("footer unreadable: {e}"));
        }
        Err(Error::Io(e)) => return Outcome::Failed(e),
        Err(other) => return Outcome::Failed(std::io::Error::other(other.to_string())),
    };
    let Ok(expected) = blake3::Hash::from_hex(&footer.hash) else {
        return bad(format!("footer hash {:?} is not BLAKE3 hex", footer.hash));
    };
    let footer_pieces = match footer.pieces.as_deref() {
        None => None,
        Some(text) => match Pieces::decode(text) {
            Some(p) => Some(p),
            None => return bad("footer piece hashes are malformed".to_string()),
        },
    };
    let mut hasher = PieceHasher::new();
    let mut pos = 0u64;
    while pos < footer.size {
        let n = usize::try_from(footer.size - pos).map_or(buf.len(), |left| left.min(buf.len()));
        let block = &mut buf[..n];
        if let Err(e) = file.read_exact_at(block, pos) {
            if is_media_error(&e) || e.kind() == std::io::ErrorKind::UnexpectedEof {
                return bad(format!("data unreadable at byte {pos}: {e}"));
            }
            return Outcome::Failed(e);
        }
        hasher.update(block);
        pos += n as u64;
        if !pace(n as u64) {
            return Outcome::Stopped;
        }
    }
    if !pace(file_len.max(MIN_CHARGE).saturating_sub(footer.size)) {
        return Outcome::Stopped;
    }
    let hashed = hasher.finish();
    if hashed.hash != expected {
        let mut reason = format!(
            "data hash {} does not match the footer's {}",
            hashed.hash.to_hex(),
            footer.hash
        );
        if let Some(p) = footer_pieces
            .as_ref()
            .filter(|p| p.size == hashed.pieces.size && p.cvs.len() == hashed.pieces.cvs.len())
        {
            let bad_pieces: Vec<String> = (0..p.cvs.len())
                .filter(|&i| p.cvs[i] != hashed.pieces.cvs[i])
                .map(|i| {
                    let r = p.range(i, footer.size);
                    format!("{i} (bytes {}..{})", r.start, r.end)
                })
                .collect();
            reason.push_str(&format!("; bad pieces: {}", bad_pieces.join(", ")));
        }
        return bad(reason);
    }
    if footer_pieces.is_some_and(|p| p != hashed.pieces) {
        return bad("the footer's piece hashes do not match the data".to_string());
    }
    Outcome::Good { bytes: file_len }
}

/// Paces reading to a byte rate: after each read, [`charge`](Self::charge) says how long to
/// wait so that the bytes read since the start stay within the rate. A reader that fell
/// behind by more than a second (it was slower than the rate) starts a new reckoning instead
/// of catching up in a burst.
#[derive(Debug)]
pub struct Pacer {
    bytes_per_sec: u64,
    start: Instant,
    bytes: u64,
}

impl Pacer {
    pub fn new(bytes_per_sec: u64) -> Pacer {
        Pacer {
            bytes_per_sec: bytes_per_sec.max(1),
            start: Instant::now(),
            bytes: 0,
        }
    }

    /// Counts `n` more bytes; returns how long to wait before reading on.
    pub fn charge(&mut self, n: u64) -> Duration {
        self.bytes = self.bytes.saturating_add(n);
        let due = Duration::from_secs_f64(self.bytes as f64 / self.bytes_per_sec as f64);
        let elapsed = self.start.elapsed();
        if due > elapsed {
            return due - elapsed;
        }
        if elapsed - due > Duration::from_secs(1) {
            self.start = Instant::now();
            self.bytes = 0;
        }
        Duration::ZERO
    }
}

/// Sleeps `d`, looking at `stop` every [`STOP_POLL`]; false if it was raised.
fn sleep_unless_stopped(d: Duration, stop: &AtomicBool) -> bool {
    let end = Instant::now() + d;
    loop {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        let now = Instant::now();
        if now >= end {
            return true;
        }
        std::thread::sleep((end - now).min(STOP_POLL));
    }
}

/// The valid chunk ids in prefix directory `dir`, sorted. A missing directory has none.
fn list_chunks(dir: &Path) -> std::io::Result<Vec<String>> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut ids = Vec::new();
    for entry in entries {
        let name = entry?.file_name();
        if let Some(name) = name.to_str().filter(|n| crate::is_valid_chunk_id(n)) {
            ids.push(name.to_string());
        }
    }
    ids.sort_unstable();
    Ok(ids)
}

/// Share (0 to 1) of the id space before `cursor`.
fn progress_of(cursor: &str) -> f64 {
    let head = cursor
        .get(..8)
        .and_then(|h| u32::from_str_radix(h, 16).ok());
    head.map_or(0.0, |h| f64::from(h) / f64::from(u32::MAX))
}

/// What the scrubber shares with the server's routes.
#[derive(Debug)]
struct Shared {
    state: StateFile,
    running: bool,
    requested: u64,
    totals: PassCounters,
    bad_found_by_reads: u64,
}

/// The scrubber of one volume: [`run`](Self::run) is its task; the server asks it for its
/// [`status`](Self::status), for a pass ([`request_pass`](Self::request_pass)), and hands it
/// the bad chunks reads find ([`bad_read`](Self::bad_read)).
#[derive(Debug)]
pub struct Scrubber {
    volume: Arc<Volume>,
    settings: Settings,
    shared: Mutex<Shared>,
    wake: tokio::sync::Notify,
    stop: AtomicBool,
}

impl Scrubber {
    /// The scrubber of `volume`, with the state its state file holds. Blocking.
    pub fn open(volume: Arc<Volume>, settings: Settings) -> Scrubber {
        let state = StateFile::load(volume.root());
        Scrubber {
            volume,
            settings,
            shared: Mutex::new(Shared {
                state,
                running: false,
                requested: 0,
                totals: PassCounters::default(),
                bad_found_by_reads: 0,
            }),
            wake: tokio::sync::Notify::new(),
            stop: AtomicBool::new(false),
        }
    }

    fn shared(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs passes when they are due, forever (returns at once when the scrubber is off).
    /// Dropping the future stops a pass under way within one block (its cursor is saved).
    pub async fn run(self: Arc<Self>) {
        if !self.settings.enabled() {
            tracing::info!("scrubber off (scrub_mib_per_sec = 0)");
            return;
        }
        struct StopOnDrop(Arc<Scrubber>);
        impl Drop for StopOnDrop {
            fn drop(&mut self) {
                self.0.stop.store(true, Ordering::Relaxed);
            }
        }
        let _guard = StopOnDrop(self.clone());
        tokio::select! {
            _ = tokio::time::sleep(START_DELAY) => {}
            _ = self.wake.notified() => {}
        }
        loop {
            match self.wait_for_next() {
                Some(d) if d.is_zero() => {}
                Some(d) => {
                    tokio::select! {
                        _ = tokio::time::sleep(d) => {}
                        _ = self.wake.notified() => {}
                    }
                    continue;
                }
                None => {
                    self.wake.notified().await;
                    continue;
                }
            }
            let me = self.clone();
            match tokio::task::spawn_blocking(move || me.run_pass()).await {
                Ok(true) => {}
                Ok(false) => return,
                Err(e) => {
                    tracing::error!(error = %e, "scrub pass failed");
                    tokio::time::sleep(Duration::from_secs(60)).await;
                }
            }
        }
    }

    /// How long until the next pass is due (zero: now); `None`: only when asked.
    fn wait_for_next(&self) -> Option<Duration> {
        let sh = self.shared();
        let last_number = sh.state.last.as_ref().map_or(0, |l| l.number);
        if sh.state.current.is_some() || sh.requested > last_number {
            return Some(Duration::ZERO);
        }
        let interval = self.settings.interval?;
        let Some(last) = &sh.state.last else {
            return Some(Duration::ZERO);
        };
        let due = last
            .started_ms
            .saturating_add(i64::try_from(interval.as_millis()).unwrap_or(i64::MAX));
        let wait = due.saturating_sub(volume::now_ms());
        Some(Duration::from_millis(u64::try_from(wait).unwrap_or(0)))
    }

    /// Asks for a pass now (or right after the one under way, which may have passed chunks
    /// already); returns its number: it is done when `last.number` reaches it.
    pub fn request_pass(&self) -> Result<u64> {
        if !self.settings.enabled() {
            return Err(Error::BadRequest(
                "the scrubber is off (scrub_mib_per_sec = 0)".to_string(),
            ));
        }
        let number = {
            let mut sh = self.shared();
            let last = sh.state.last.as_ref().map_or(0, |l| l.number);
            // A pass under way (or interrupted) may have passed chunks already: the pass asked
            // for is the next one.
            let number = match &sh.state.current {
                Some(cur) => cur.number + 1,
                None => last + 1,
            };
            sh.requested = sh.requested.max(number);
            number
        };
        tracing::info!(pass = number, "scrub pass asked for");
        self.wake.notify_one();
        Ok(number)
    }

    /// Quarantines chunk `id`, which a read found bad (if its file is still `identity`), and
    /// counts it. Blocking.
    pub fn bad_read(&self, id: &str, identity: FileIdentity, reason: &str) {
        match self.volume.quarantine(id, Some(identity), "read", reason) {
            Ok(Some(path)) => {
                self.shared().bad_found_by_reads += 1;
                tracing::warn!(chunk = %id, reason, quarantined = %path.display(),
                    "bad chunk found by a read, quarantined");
            }
            Ok(None) => {}
            Err(e) => tracing::error!(chunk = %id, reason, error = %e,
                "bad chunk found by a read, and it cannot be quarantined"),
        }
    }

    /// The scrubber's settings, passes and counters. Blocking (counts `quarantine/`).
    pub fn status(&self) -> ScrubStatus {
        let quarantined = self.volume.quarantined().map_or(0, |q| q.len() as u64);
        let next = self.wait_for_next();
        let sh = self.shared();
        let s = &self.settings;
        ScrubStatus {
            enabled: s.enabled(),
            mib_per_sec: s.bytes_per_sec / (1024 * 1024),
            interval_days: s.interval.map_or(0, |i| i.as_secs() / 86_400),
            grace_secs: s.grace.as_secs(),
            running: sh.running,
            current: sh.state.current.clone(),
            progress: sh
                .state
                .current
                .as_ref()
                .map(|c| c.cursor.as_deref().map_or(0.0, progress_of)),
            last: sh.state.last.clone(),
            next_pass_ms: next
                .filter(|_| s.enabled())
                .map(|d| volume::now_ms().saturating_add(d.as_millis() as i64)),
            requested: sh.requested,
            totals: sh.totals,
            bad_found_by_reads: sh.bad_found_by_reads,
            quarantined,
        }
    }

    fn save(&self) {
        let state = self.shared().state.clone();
        if let Err(e) = state.save(self.volume.root()) {
            tracing::warn!(error = %e, "cannot write the scrub state");
        }
    }

    /// Runs (or resumes) one pass to its end; false if the stop flag ended it. Blocking.
    fn run_pass(&self) -> bool {
        let mut pass = {
            let mut sh = self.shared();
            sh.running = true;
            let next = sh.state.last.as_ref().map_or(1, |l| l.number + 1);
            sh.state
                .current
                .get_or_insert_with(|| PassRecord {
                    number: next,
                    started_ms: volume::now_ms(),
                    ..PassRecord::default()
                })
                .clone()
        };
        self.save();
        tracing::info!(
            pass = pass.number,
            resume_after = pass.cursor.as_deref().unwrap_or("-"),
            "scrub pass started"
        );
        let started = Instant::now();
        let root = self.volume.root().to_path_buf();
        let mut pacer = Pacer::new(self.settings.bytes_per_sec);
        let mut buf = vec![0u8; BLOCK];
        let mut last_save = Instant::now();
        let mut read = PassCounters::default();
        for prefix in 0..0x1000u32 {
            let dir_name = format!("{prefix:03x}");
            let cursor = pass.cursor.clone();
            if cursor
                .as_deref()
                .is_some_and(|c| dir_name.as_str() < c.get(..3).unwrap_or(""))
            {
                continue;
            }
            let ids = match list_chunks(&root.join(&dir_name)) {
                Ok(ids) => ids,
                Err(e) => {
                    tracing::warn!(dir = %dir_name, error = %e, "scrubber cannot list a directory");
                    pass.counters.errors += 1;
                    continue;
                }
            };
            for id in ids {
                if cursor.as_deref().is_some_and(|c| id.as_str() <= c) {
                    continue;
                }
                let mut found = PassCounters::default();
                let outcome = verify_chunk(
                    &self.volume.chunk_path(&id),
                    self.settings.grace,
                    SystemTime::now(),
                    &mut buf,
                    &mut |n| sleep_unless_stopped(pacer.charge(n), &self.stop),
                );
                match outcome {
                    Outcome::Good { bytes } => {
                        found.chunks = 1;
                        found.bytes = bytes;
                    }
                    Outcome::Bad {
                        bytes,
                        reason,
                        identity,
                    } => {
                        found.chunks = 1;
                        found.bytes = bytes;
                        found.bad = 1;
                        match self
                            .volume
                            .quarantine(&id, Some(identity), "scrub", &reason)
                        {
                            Ok(Some(path)) => tracing::warn!(chunk = %id, reason,
                                quarantined = %path.display(),
                                "bad chunk found by the scrubber, quarantined"),
                            Ok(None) => tracing::warn!(chunk = %id, reason,
                                "bad chunk found by the scrubber, gone before it could be quarantined"),
                            Err(e) => tracing::error!(chunk = %id, reason, error = %e,
                                "bad chunk found by the scrubber, and it cannot be quarantined"),
                        }
                    }
                    Outcome::Young => found.skipped = 1,
                    Outcome::Gone => {}
                    Outcome::Failed(e) => {
                        tracing::warn!(chunk = %id, error = %e, "scrubber cannot check a chunk");
                        found.errors = 1;
                    }
                    Outcome::Stopped => {
                        self.save();
                        self.shared().running = false;
                        return false;
                    }
                }
                pass.counters.add(&found);
                read.add(&found);
                pass.cursor = Some(id);
                {
                    let mut sh = self.shared();
                    sh.totals.add(&found);
                    sh.state.current = Some(pass.clone());
                }
                if found.bad > 0 || last_save.elapsed() >= SAVE_EVERY {
                    self.save();
                    last_save = Instant::now();
                }
            }
        }
        pass.cursor = None;
        pass.ended_ms = Some(volume::now_ms());
        {
            let mut sh = self.shared();
            sh.state.current = None;
            sh.state.last = Some(pass.clone());
            sh.running = false;
        }
        self.save();
        let took_ms = pass.ended_ms.unwrap_or(0).saturating_sub(pass.started_ms);
        if let Some(interval) = self.settings.interval
            && u128::try_from(took_ms).unwrap_or(0) > interval.as_millis()
        {
            tracing::warn!(
                pass = pass.number,
                took_days = took_ms / 86_400_000,
                "a scrub pass took longer than scrub_interval_days: raise scrub_mib_per_sec"
            );
        }
        let secs = started.elapsed().as_secs_f64();
        let c = &pass.counters;
        tracing::info!(
            pass = pass.number,
            chunks = c.chunks,
            bytes = c.bytes,
            bad = c.bad,
            skipped = c.skipped,
            errors = c.errors,
            secs = format!("{secs:.1}"),
            mib_per_sec = format!("{:.1}", read.bytes as f64 / 1048576.0 / secs.max(1e-3)),
            "scrub pass finished"
        );
        true
    }
}

#[cfg(test)]
mod tests;
