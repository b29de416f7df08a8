//! One chunk volume on disk: where chunk files and temp files live, the persistent service id,
//! the chunk counter, and free/total space.
//!
//! Layout: `<root>/service-id`, `<root>/<id[0..3]>/<id>` (chunk files, see
//! [`crate::chunkfile`]), `<root>/quarantine/` (chunk files found bad, never served again:
//! [`Volume::quarantine`]), `<root>/scrub-state.json` ([`crate::scrub`]); uploads in progress are unnamed files in their prefix directory
//! ([`crate::newchunk`]), or `<root>/tmp/<id>.<rand>` (wiped at start) where the file system
//! has no unnamed files. The 4096 prefix directories are created when the volume is opened, so
//! a commit never has to create one (and fsync the root for it) on the write path.

use crate::dirsync::DirSyncer;
use crate::error::{Error, Result};
use crate::newchunk::{self, NewChunk};
use rand::RngCore;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

const SERVICE_ID_FILE: &str = "service-id";
const TMP_DIR: &str = "tmp";
/// Where bad chunk files are moved to, on the same volume.
pub const QUARANTINE_DIR: &str = "quarantine";
/// Directory of the orphan chunks set aside by the orphan sweep (`crate::orphans`).
pub const ORPHAN_DIR: &str = "orphans";

/// What identifies one file whatever its name: device, inode, and the inode's change time
/// (an inode number freed by a delete may be given to the next new file).
pub type FileIdentity = (u64, u64, i64, i64);

/// The identity of an open file or of a path's metadata.
pub fn file_identity(meta: &std::fs::Metadata) -> FileIdentity {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino(), meta.ctime(), meta.ctime_nsec())
}

/// Why and when a chunk file was quarantined: the JSON sidecar `<name>.json` next to it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct QuarantineRecord {
    pub chunk_id: String,
    /// Who found it: `scrub` or `read`.
    pub found_by: String,
    pub reason: String,
    /// When it was moved (ms since the Unix epoch).
    pub quarantined_ms: i64,
    /// Name of the quarantined file in `quarantine/`.
    pub file: String,
    /// Meta has been told (a heartbeat carried it in `bad_chunks`), so it queued the repair.
    #[serde(default)]
    pub reported: bool,
}

/// An opened chunk volume.
#[derive(Debug)]
pub struct Volume {
    root: PathBuf,
    id: String,
    chunk_count: AtomicU64,
    /// Shares the directory fsyncs of concurrent commits into the same prefix directory.
    syncer: DirSyncer,
    /// New chunks are unnamed files until committed (else named temp files under `tmp/`).
    unnamed: bool,
}

impl Volume {
    /// Open (creating if needed) the volume at `root`: create `tmp/`, wipe leftovers in it,
    /// load or create the service id, and count the chunks. Blocking.
    pub fn open(root: &Path) -> Result<Volume> {
        fs::create_dir_all(root.join(TMP_DIR))?;
        fs::create_dir_all(root.join(QUARANTINE_DIR))?;
        clean_tmp(&root.join(TMP_DIR))?;
        let id = load_or_create_service_id(root)?;
        create_prefix_dirs(root)?;
        let count = count_chunks(root)?;
        let unnamed = newchunk::unnamed_files_work(&root.join(TMP_DIR));
        tracing::info!(volume = %root.display(), service_id = %id, chunks = count,
            unnamed_temp_files = unnamed, "volume opened");
        Ok(Volume {
            root: root.to_path_buf(),
            id,
            chunk_count: AtomicU64::new(count),
            syncer: DirSyncer::new(),
            unnamed,
        })
    }

    /// The volume directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The stable service id of this chunk server.
    pub fn service_id(&self) -> &str {
        &self.id
    }

    /// Number of chunks on the volume (scanned at open, kept up to date since).
    pub fn chunk_count(&self) -> u64 {
        self.chunk_count.load(Ordering::Relaxed)
    }

    /// Final path of chunk `id` (callers pass valid chunk ids; see [`crate::is_valid_chunk_id`]).
    pub fn chunk_path(&self, id: &str) -> PathBuf {
        self.root.join(prefix_dir(id)).join(id)
    }

    /// The file of a new chunk `id`, not visible until [`commit`](Self::commit);
    /// `Conflict` when the chunk already exists (chunks are never replaced). Blocking.
    pub fn create(&self, id: &str) -> Result<NewChunk> {
        if self.chunk_path(id).try_exists()? {
            return Err(Error::Conflict);
        }
        if !self.unnamed {
            let mut r = [0u8; 8];
            rand::thread_rng().fill_bytes(&mut r);
            let temp = self
                .root
                .join(TMP_DIR)
                .join(format!("{id}.{}", hex::encode(r)));
            return NewChunk::named(temp).map_err(Error::from_write_io);
        }
        let dir = self.root.join(prefix_dir(id));
        match NewChunk::unnamed(&dir) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.recreate_prefix_dir(&dir)?;
                NewChunk::unnamed(&dir)
            }
            created => created,
        }
        .map_err(Error::from_write_io)
    }

    /// Makes the fsynced `chunk` visible as chunk `id`, never replacing an existing chunk
    /// ([`Error::Conflict`]); the directory entry is fsynced before returning. Blocking.
    pub fn commit(&self, chunk: NewChunk, id: &str) -> Result<()> {
        let dir = self.root.join(prefix_dir(id));
        let target = dir.join(id);
        // A hard link fails if the target exists, unlike rename: no chunk is ever replaced.
        let linked = match chunk.link(&target) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !dir.exists() => {
                self.recreate_prefix_dir(&dir)?;
                chunk.link(&target)
            }
            linked => linked,
        };
        match linked {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Err(Error::Conflict),
            Err(e) => return Err(Error::from_write_io(e)),
        }
        self.syncer.sync(&dir).map_err(Error::from_write_io)?;
        self.chunk_count.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// A prefix directory was removed behind our back: makes it again.
    fn recreate_prefix_dir(&self, dir: &Path) -> Result<()> {
        match fs::create_dir(dir) {
            Ok(()) => fsync_dir(&self.root).map_err(Error::from_write_io),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(Error::from_write_io(e)),
        }
    }

    /// The prefix directories of the volume (where chunk files live), sorted. Blocking.
    pub fn prefix_dirs(&self) -> Result<Vec<PathBuf>> {
        let mut dirs = Vec::new();
        for entry in fs::read_dir(&self.root)? {
            let entry = entry?;
            let name = entry.file_name();
            if name.to_str().is_some_and(is_prefix_dir_name) && entry.file_type()?.is_dir() {
                dirs.push(entry.path());
            }
        }
        dirs.sort();
        Ok(dirs)
    }

    /// The chunks of prefix directory `dir` last modified before `before` (ids and file
    /// identities). Blocking.
    pub fn chunks_older_than(
        &self,
        dir: &Path,
        before: std::time::SystemTime,
    ) -> Result<Vec<(String, FileIdentity)>> {
        let entries = match fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::Io(e)),
        };
        let mut old = Vec::new();
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name();
            let Some(id) = name.to_str().filter(|n| crate::is_valid_chunk_id(n)) else {
                continue;
            };
            let meta = match entry.metadata() {
                Ok(m) => m,
                // Deleted meanwhile.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::Io(e)),
            };
            if meta.modified().is_ok_and(|m| m < before) {
                old.push((id.to_string(), file_identity(&meta)));
            }
        }
        old.sort();
        Ok(old)
    }

    /// Delete chunk `id`; `Ok(false)` if it did not exist. Blocking.
    pub fn delete(&self, id: &str) -> Result<bool> {
        let path = self.chunk_path(id);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(Error::Io(e)),
        }
        let _ = self
            .chunk_count
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| {
                Some(c.saturating_sub(1))
            });
        if let Some(dir) = path.parent() {
            fsync_dir(dir)?;
        }
        Ok(true)
    }

    /// Moves chunk `id` out of service into `quarantine/<id>.<ms>` (with a JSON
    /// [`QuarantineRecord`] beside it), so that it is never served again: a GET or HEAD of it
    /// answers not-found, as if the copy were missing. When `expect` is given, the chunk is
    /// moved only if its file is still that file (not a new chunk of the same id written since
    /// it was read). The rename and both directories are fsynced before returning. `Ok(None)`
    /// when there was nothing to move (deleted, or already quarantined). Blocking.
    pub fn quarantine(
        &self,
        id: &str,
        expect: Option<FileIdentity>,
        found_by: &str,
        reason: &str,
    ) -> Result<Option<PathBuf>> {
        self.set_aside(QUARANTINE_DIR, id, expect, found_by, reason, false)
    }

    /// Moves orphan chunk `id` (a file the directory does not know) out of service into
    /// `orphans/<id>.<ms>`, as [`Volume::quarantine`] does (never reported to meta), where
    /// [`Volume::purge_orphans`] deletes it after a hold. Blocking.
    pub fn set_aside_orphan(
        &self,
        id: &str,
        expect: FileIdentity,
        reason: &str,
    ) -> Result<Option<PathBuf>> {
        self.set_aside(ORPHAN_DIR, id, Some(expect), "orphan-sweep", reason, true)
    }

    /// Deletes the files set aside in `orphans/` before `before_ms`; returns how many.
    /// Blocking.
    pub fn purge_orphans(&self, before_ms: i64) -> Result<u64> {
        let dir = self.root.join(ORPHAN_DIR);
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(Error::Io(e)),
        };
        let mut purged = 0;
        for entry in entries {
            let name = entry?.file_name();
            let Some(name) = name.to_str() else { continue };
            let Some(record) = name.strip_suffix(".json") else {
                continue;
            };
            let set_aside_ms = fs::read(dir.join(name))
                .ok()
                .and_then(|b| serde_json::from_slice::<QuarantineRecord>(&b).ok())
                .map(|r| r.quarantined_ms);
            if set_aside_ms.is_some_and(|ms| ms < before_ms) {
                match fs::remove_file(dir.join(record)) {
                    Ok(()) => purged += 1,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(Error::Io(e)),
                }
                fs::remove_file(dir.join(name))?;
            }
        }
        if purged > 0 {
            fsync_dir(&dir)?;
        }
        Ok(purged)
    }

    /// Moves chunk `id` into `dir_name/<id>.<ms>` with its record beside it.
    fn set_aside(
        &self,
        dir_name: &str,
        id: &str,
        expect: Option<FileIdentity>,
        found_by: &str,
        reason: &str,
        reported: bool,
    ) -> Result<Option<PathBuf>> {
        let path = self.chunk_path(id);
        if let Some(expect) = expect {
            match fs::symlink_metadata(&path) {
                Ok(meta) if file_identity(&meta) == expect => {}
                Ok(_) => return Ok(None),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(Error::Io(e)),
            }
        }
        let dir = self.root.join(dir_name);
        match fs::create_dir(&dir) {
            Ok(()) => fsync_dir(&self.root)?,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(Error::Io(e)),
        }
        let now = now_ms();
        let mut name = format!("{id}.{now}");
        let mut n = 1;
        while dir.join(&name).try_exists()? {
            name = format!("{id}.{now}.{n}");
            n += 1;
        }
        let target = dir.join(&name);
        match fs::rename(&path, &target) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::Io(e)),
        }
        let _ = self
            .chunk_count
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| {
                Some(c.saturating_sub(1))
            });
        let record = QuarantineRecord {
            chunk_id: id.to_string(),
            found_by: found_by.to_string(),
            reason: reason.to_string(),
            quarantined_ms: now,
            file: name.clone(),
            reported,
        };
        let json =
            serde_json::to_vec_pretty(&record).map_err(|e| Error::Io(std::io::Error::other(e)))?;
        let mut sidecar = File::create(dir.join(format!("{name}.json")))?;
        sidecar.write_all(&json)?;
        sidecar.sync_all()?;
        fsync_dir(&dir)?;
        if let Some(parent) = path.parent() {
            fsync_dir(parent)?;
        }
        Ok(Some(target))
    }

    /// The quarantined chunk files (`quarantine/`), with their records when readable; sorted
    /// by file name. Blocking.
    pub fn quarantined(&self) -> Result<Vec<(String, Option<QuarantineRecord>)>> {
        let dir = self.root.join(QUARANTINE_DIR);
        let mut out = Vec::new();
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(Error::Io(e)),
        };
        for entry in entries {
            let name = entry?.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.ends_with(".json") {
                continue;
            }
            let record = fs::read(dir.join(format!("{name}.json")))
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok());
            out.push((name.to_string(), record));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// Quarantined chunks meta has not been told about yet (up to `limit`): file name and
    /// chunk id. Blocking.
    pub fn unreported_quarantine(&self, limit: usize) -> Result<Vec<(String, String)>> {
        Ok(self
            .quarantined()?
            .into_iter()
            .filter_map(|(name, r)| r.filter(|r| !r.reported).map(|r| (name, r.chunk_id)))
            .take(limit)
            .collect())
    }

    /// Marks quarantined files as reported to meta (their sidecars rewritten). Blocking.
    pub fn mark_reported(&self, names: &[String]) -> Result<()> {
        let dir = self.root.join(QUARANTINE_DIR);
        for name in names {
            let path = dir.join(format!("{name}.json"));
            let Ok(bytes) = fs::read(&path) else { continue };
            let Ok(mut record) = serde_json::from_slice::<QuarantineRecord>(&bytes) else {
                continue;
            };
            record.reported = true;
            let json = serde_json::to_vec_pretty(&record)
                .map_err(|e| Error::Io(std::io::Error::other(e)))?;
            let tmp = dir.join(format!("{name}.json.tmp"));
            let mut f = File::create(&tmp)?;
            f.write_all(&json)?;
            f.sync_all()?;
            fs::rename(&tmp, &path)?;
        }
        if !names.is_empty() {
            fsync_dir(&dir)?;
        }
        Ok(())
    }

    /// Checks the volume can be written and read back: a small file in `tmp/`, written,
    /// read and removed (what `GET /ready` asks). Blocking.
    pub fn probe(&self) -> Result<()> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = self
            .root
            .join(TMP_DIR)
            .join(format!("ready-probe-{}-{n}", std::process::id()));
        let written = format!("spread chunkd ready probe {n}\n");
        let result = fs::write(&path, written.as_bytes())
            .map_err(Error::from_write_io)
            .and_then(|()| fs::read(&path).map_err(Error::from));
        let _ = fs::remove_file(&path);
        match result {
            Ok(read) if read == written.as_bytes() => Ok(()),
            Ok(_) => Err(Error::Io(std::io::Error::other(
                "the probe file read back differs from what was written",
            ))),
            Err(e) => Err(e),
        }
    }

    /// Free (available to us) and total bytes of the filesystem holding the volume.
    pub fn space(&self) -> Result<(u64, u64)> {
        statvfs_space(&self.root)
    }
}

/// Now, in ms since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The sub-directory of a chunk: the first 3 characters of its id.
fn prefix_dir(id: &str) -> &str {
    id.get(..3).unwrap_or(id)
}

/// fsync a directory, making renames / links / unlinks in it durable.
pub fn fsync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

fn clean_tmp(tmp: &Path) -> Result<()> {
    for entry in fs::read_dir(tmp)? {
        let entry = entry?;
        let path = entry.path();
        let res = if entry.file_type()?.is_dir() {
            fs::remove_dir_all(&path)
        } else {
            fs::remove_file(&path)
        };
        match res {
            Ok(()) => tracing::debug!(path = %path.display(), "removed leftover temp file"),
            Err(e) => tracing::warn!(path = %path.display(), error = %e, "cannot remove temp file"),
        }
    }
    Ok(())
}

fn load_or_create_service_id(root: &Path) -> Result<String> {
    let path = root.join(SERVICE_ID_FILE);
    match fs::read_to_string(&path) {
        Ok(s) => {
            let id = s.trim().to_string();
            if id.is_empty() {
                return Err(Error::Corrupt(format!("{} is empty", path.display())));
            }
            return Ok(id);
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::Io(e)),
    }
    let mut r = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut r);
    let id = hex::encode(r);
    let tmp = root.join(format!("{SERVICE_ID_FILE}.tmp"));
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)?;
    f.write_all(format!("{id}\n").as_bytes())?;
    f.sync_all()?;
    drop(f);
    fs::rename(&tmp, &path)?;
    fsync_dir(root)?;
    Ok(id)
}

/// Creates the missing prefix directories (`000` … `fff`); the root is fsynced once if any was
/// created.
fn create_prefix_dirs(root: &Path) -> Result<()> {
    let mut created = false;
    for n in 0..0x1000u32 {
        match fs::create_dir(root.join(format!("{n:03x}"))) {
            Ok(()) => created = true,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(Error::from_write_io(e)),
        }
    }
    if created {
        fsync_dir(root)?;
    }
    Ok(())
}

pub(crate) fn is_prefix_dir_name(name: &str) -> bool {
    name.len() == 3
        && name
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn count_chunks(root: &Path) -> Result<u64> {
    let mut count = 0u64;
    for entry in fs::read_dir(root)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !is_prefix_dir_name(name) || !entry.file_type()?.is_dir() {
            continue;
        }
        for chunk in fs::read_dir(entry.path())? {
            let chunk = chunk?;
            if chunk
                .file_name()
                .to_str()
                .is_some_and(crate::is_valid_chunk_id)
            {
                count += 1;
            }
        }
    }
    Ok(count)
}

fn statvfs_space(path: &Path) -> Result<(u64, u64)> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| Error::BadRequest("volume path contains NUL".to_string()))?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::zeroed();
    // SAFETY: `c_path` is a valid NUL-terminated string and `st` points to writable memory
    // of the right type; statvfs only writes into it.
    let rc = unsafe { libc::statvfs(c_path.as_ptr(), st.as_mut_ptr()) };
    if rc != 0 {
        return Err(Error::Io(std::io::Error::last_os_error()));
    }
    // SAFETY: statvfs returned 0, so it filled the struct (and it was zeroed before anyway).
    let st = unsafe { st.assume_init() };
    // The statvfs field types differ between platforms.
    #[allow(clippy::unnecessary_cast)]
    let (frsize, bavail, blocks) = (st.f_frsize as u64, st.f_bavail as u64, st.f_blocks as u64);
    Ok((bavail.saturating_mul(frsize), blocks.saturating_mul(frsize)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_keeps_id_cleans_tmp_counts_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let v = Volume::open(dir.path()).unwrap();
        assert!(v.unnamed, "the test file system supports O_TMPFILE");
        let id = v.service_id().to_string();
        let chunk = crate::new_chunk_id();
        let mut first = v.create(&chunk).unwrap();
        first.file().write_all(b"x").unwrap();
        let second = v.create(&chunk).unwrap();
        v.commit(first, &chunk).unwrap();
        assert_eq!(fs::read(v.chunk_path(&chunk)).unwrap(), b"x");
        assert_eq!(v.chunk_count(), 1);
        assert!(matches!(v.create(&chunk), Err(Error::Conflict)));
        assert!(matches!(v.commit(second, &chunk), Err(Error::Conflict)));
        assert_eq!(fs::read(v.chunk_path(&chunk)).unwrap(), b"x");
        let (free, total) = v.space().unwrap();
        assert!(total > 0 && free <= total);
        let leftover = dir.path().join(TMP_DIR).join("leftover");
        fs::write(&leftover, b"y").unwrap();
        drop(v);

        let v = Volume::open(dir.path()).unwrap();
        assert_eq!(v.service_id(), id);
        assert_eq!(v.chunk_count(), 1);
        assert!(!leftover.exists(), "tmp cleaned at open");
        assert!(v.delete(&chunk).unwrap());
        assert!(!v.delete(&chunk).unwrap());
        assert_eq!(v.chunk_count(), 0);
    }

    /// Both kinds of new chunk files: committed, abandoned, and into a prefix directory that
    /// was removed behind the volume's back.
    #[test]
    fn new_chunks_named_or_unnamed() {
        for unnamed in [true, false] {
            let dir = tempfile::tempdir().unwrap();
            let mut v = Volume::open(dir.path()).unwrap();
            v.unnamed = unnamed;
            let chunk = crate::new_chunk_id();
            let mut abandoned = v.create(&chunk).unwrap();
            abandoned.file().write_all(b"lost").unwrap();
            drop(abandoned);
            assert_eq!(fs::read_dir(dir.path().join(TMP_DIR)).unwrap().count(), 0);
            assert!(!v.chunk_path(&chunk).exists());

            fs::remove_dir(v.chunk_path(&chunk).parent().unwrap()).unwrap();
            let mut kept = v.create(&chunk).unwrap();
            kept.file().write_all(b"kept").unwrap();
            kept.file().sync_all().unwrap();
            v.commit(kept, &chunk).unwrap();
            assert_eq!(
                fs::read(v.chunk_path(&chunk)).unwrap(),
                b"kept",
                "unnamed={unnamed}"
            );
            assert_eq!(fs::read_dir(dir.path().join(TMP_DIR)).unwrap().count(), 0);
            assert_eq!(v.chunk_count(), 1);
        }
    }

    #[test]
    fn quarantine_moves_the_file_out_of_service_with_a_record() {
        let dir = tempfile::tempdir().unwrap();
        let v = Volume::open(dir.path()).unwrap();
        let put = |id: &str, body: &[u8]| {
            let mut c = v.create(id).unwrap();
            c.file().write_all(body).unwrap();
            v.commit(c, id).unwrap();
        };
        let (a, b) = (crate::new_chunk_id(), crate::new_chunk_id());
        put(&a, b"bad");
        put(&b, b"old");
        assert_eq!(v.chunk_count(), 2);
        let moved = v
            .quarantine(&a, None, "scrub", "hash mismatch")
            .unwrap()
            .unwrap();
        assert!(!v.chunk_path(&a).exists());
        assert_eq!(fs::read(&moved).unwrap(), b"bad", "the bad file is kept");
        assert_eq!(moved.parent().unwrap(), dir.path().join(QUARANTINE_DIR));
        assert_eq!(v.chunk_count(), 1);
        let listed = v.quarantined().unwrap();
        assert_eq!(listed.len(), 1);
        let record = listed[0].1.clone().unwrap();
        assert_eq!(
            (record.chunk_id.as_str(), record.found_by.as_str()),
            (a.as_str(), "scrub")
        );
        assert_eq!(record.reason, "hash mismatch");
        assert_eq!(listed[0].0, record.file);
        // Already gone: nothing to do.
        assert_eq!(v.quarantine(&a, None, "read", "again").unwrap(), None);

        // The file read was replaced by another chunk of the same id: left alone.
        let old = file_identity(&fs::metadata(v.chunk_path(&b)).unwrap());
        // (A link elsewhere keeps the old inode, so that the new file cannot get its number.)
        fs::hard_link(v.chunk_path(&b), dir.path().join("keep")).unwrap();
        assert!(v.delete(&b).unwrap());
        put(&b, b"new");
        assert_eq!(v.quarantine(&b, Some(old), "scrub", "x").unwrap(), None);
        assert_eq!(fs::read(v.chunk_path(&b)).unwrap(), b"new");
        let now = file_identity(&fs::metadata(v.chunk_path(&b)).unwrap());
        assert!(v.quarantine(&b, Some(now), "scrub", "x").unwrap().is_some());
        assert_eq!(v.chunk_count(), 0);
        drop(v);
        // Quarantined files are no chunks: not counted when the volume opens again.
        let v = Volume::open(dir.path()).unwrap();
        assert_eq!(v.chunk_count(), 0);
        assert_eq!(v.quarantined().unwrap().len(), 2);
    }
}
