//! One chunk volume on disk: where chunk files and temp files live, the persistent service id,
//! the chunk counter, and free/total space.
//!
//! Layout: `<root>/service-id`, `<root>/tmp/<id>.<rand>` (uploads in progress, wiped at start),
//! `<root>/<id[0..3]>/<id>` (chunk files, see [`crate::chunkfile`]). The 4096 prefix
//! directories are created when the volume is opened, so a commit never has to create one (and
//! fsync the root for it) on the write path.

use crate::dirsync::DirSyncer;
use crate::error::{Error, Result};
use rand::RngCore;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

const SERVICE_ID_FILE: &str = "service-id";
const TMP_DIR: &str = "tmp";

/// An opened chunk volume.
#[derive(Debug)]
pub struct Volume {
    root: PathBuf,
    id: String,
    chunk_count: AtomicU64,
    /// Shares the directory fsyncs of concurrent commits into the same prefix directory.
    syncer: DirSyncer,
}

impl Volume {
    /// Open (creating if needed) the volume at `root`: create `tmp/`, wipe leftovers in it,
    /// load or create the service id, and count the chunks. Blocking.
    pub fn open(root: &Path) -> Result<Volume> {
        fs::create_dir_all(root.join(TMP_DIR))?;
        clean_tmp(&root.join(TMP_DIR))?;
        let id = load_or_create_service_id(root)?;
        create_prefix_dirs(root)?;
        let count = count_chunks(root)?;
        tracing::info!(volume = %root.display(), service_id = %id, chunks = count, "volume opened");
        Ok(Volume {
            root: root.to_path_buf(),
            id,
            chunk_count: AtomicU64::new(count),
            syncer: DirSyncer::new(),
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

    /// A fresh temp path for an upload of chunk `id`.
    pub fn temp_path(&self, id: &str) -> PathBuf {
        let mut r = [0u8; 8];
        rand::thread_rng().fill_bytes(&mut r);
        self.root
            .join(TMP_DIR)
            .join(format!("{id}.{}", hex::encode(r)))
    }

    /// Make the fsynced temp file `tmp` visible as chunk `id`, never replacing an existing chunk
    /// ([`Error::Conflict`]); the directory entry is fsynced before returning. Blocking.
    pub fn commit(&self, tmp: &Path, id: &str) -> Result<()> {
        let dir = self.root.join(prefix_dir(id));
        let target = dir.join(id);
        // A hard link fails if the target exists, unlike rename: no chunk is ever replaced.
        match fs::hard_link(tmp, &target) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Err(Error::Conflict),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && tmp.exists() => {
                // The prefix directory was removed behind our back: make it again.
                match fs::create_dir(&dir) {
                    Ok(()) => fsync_dir(&self.root).map_err(Error::from_write_io)?,
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(Error::from_write_io(e)),
                }
                match fs::hard_link(tmp, &target) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        return Err(Error::Conflict);
                    }
                    Err(e) => return Err(Error::from_write_io(e)),
                }
            }
            Err(e) => return Err(Error::from_write_io(e)),
        }
        self.syncer.sync(&dir).map_err(Error::from_write_io)?;
        self.chunk_count.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = fs::remove_file(tmp) {
            tracing::warn!(path = %tmp.display(), error = %e, "cannot remove temp file");
        }
        Ok(())
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

    /// Free (available to us) and total bytes of the filesystem holding the volume.
    pub fn space(&self) -> Result<(u64, u64)> {
        statvfs_space(&self.root)
    }
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

fn is_prefix_dir_name(name: &str) -> bool {
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
        let id = v.service_id().to_string();
        let chunk = crate::new_chunk_id();
        let tmp = v.temp_path(&chunk);
        fs::write(&tmp, b"x").unwrap();
        v.commit(&tmp, &chunk).unwrap();
        assert!(!tmp.exists());
        assert_eq!(v.chunk_count(), 1);
        let tmp2 = v.temp_path(&chunk);
        fs::write(&tmp2, b"y").unwrap();
        assert!(matches!(v.commit(&tmp2, &chunk), Err(Error::Conflict)));
        let (free, total) = v.space().unwrap();
        assert!(total > 0 && free <= total);
        drop(v);

        let v = Volume::open(dir.path()).unwrap();
        assert_eq!(v.service_id(), id);
        assert_eq!(v.chunk_count(), 1);
        assert!(!tmp2.exists(), "tmp cleaned at open");
        assert!(v.delete(&chunk).unwrap());
        assert!(!v.delete(&chunk).unwrap());
        assert_eq!(v.chunk_count(), 0);
    }
}
