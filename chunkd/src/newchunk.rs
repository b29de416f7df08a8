//! A chunk being written, before it has a name.
//!
//! Where the file system allows it (Linux `O_TMPFILE`: ext4, XFS, btrfs, tmpfs), the file is
//! created without a name in the chunk's own prefix directory and given its name by `linkat`
//! once it is complete and fsynced: an interrupted upload, even a crash, leaves nothing to
//! clean up, and the inodes of new chunks are spread over the prefix directories' block
//! groups instead of all coming from the one holding `tmp/`. Elsewhere the file is a named
//! temp file under `tmp/`, removed if the upload does not complete.

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// An open chunk file that is not visible yet. Dropping it before it is linked removes it.
#[derive(Debug)]
pub struct NewChunk {
    file: File,
    /// The temp file's name, for a named temp file.
    temp: Option<PathBuf>,
}

impl NewChunk {
    /// An unnamed file in `dir`.
    pub fn unnamed(dir: &Path) -> std::io::Result<NewChunk> {
        let file = OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_TMPFILE)
            .mode(0o644)
            .open(dir)?;
        Ok(NewChunk { file, temp: None })
    }

    /// A new named temp file at `path`.
    pub fn named(path: PathBuf) -> std::io::Result<NewChunk> {
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        Ok(NewChunk {
            file,
            temp: Some(path),
        })
    }

    pub fn file(&mut self) -> &mut File {
        &mut self.file
    }

    /// Gives the file the name `target` (a hard link: fails with `AlreadyExists` rather than
    /// replace a file). The named temp file, if any, stays until the value is dropped.
    pub fn link(&self, target: &Path) -> std::io::Result<()> {
        match &self.temp {
            Some(temp) => std::fs::hard_link(temp, target),
            None => link_fd(&self.file, target),
        }
    }
}

impl Drop for NewChunk {
    fn drop(&mut self) {
        let Some(path) = self.temp.take() else {
            return;
        };
        match std::fs::remove_file(&path) {
            Ok(()) => tracing::debug!(path = %path.display(), "removed temp file"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot remove temp file")
            }
        }
    }
}

/// Whether unnamed files can be created in `dir` and then linked: tried once when a volume
/// opens (the file system may not support `O_TMPFILE`, or `/proc` may not be mounted).
pub fn unnamed_files_work(dir: &Path) -> bool {
    let probe = dir.join(format!(".probe-{}", std::process::id()));
    let works = NewChunk::unnamed(dir).and_then(|c| c.link(&probe)).is_ok();
    let _ = std::fs::remove_file(&probe);
    works
}

/// `linkat` of an open unnamed file through its `/proc/self/fd` entry, which needs no
/// privilege (unlike `AT_EMPTY_PATH`).
fn link_fd(file: &File, target: &Path) -> std::io::Result<()> {
    let source = CString::new(format!("/proc/self/fd/{}", file.as_raw_fd()))
        .map_err(std::io::Error::other)?;
    let target = CString::new(target.as_os_str().as_bytes()).map_err(std::io::Error::other)?;
    // SAFETY: both paths are NUL-terminated strings that outlive the call.
    let rc = unsafe {
        libc::linkat(
            libc::AT_FDCWD,
            source.as_ptr(),
            libc::AT_FDCWD,
            target.as_ptr(),
            libc::AT_SYMLINK_FOLLOW,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn unnamed_file_appears_only_when_linked() {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            unnamed_files_work(dir.path()),
            "tmpfs/ext4 support O_TMPFILE"
        );
        let mut chunk = NewChunk::unnamed(dir.path()).unwrap();
        chunk.file().write_all(b"bytes").unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        let target = dir.path().join("c");
        chunk.link(&target).unwrap();
        let err = chunk.link(&target).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
        drop(chunk);
        assert_eq!(std::fs::read(&target).unwrap(), b"bytes");

        // Dropped before it is linked: nothing is left.
        let mut lost = NewChunk::unnamed(dir.path()).unwrap();
        lost.file().write_all(b"lost").unwrap();
        drop(lost);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn named_temp_file_is_removed_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let temp = dir.path().join("t");
        let chunk = NewChunk::named(temp.clone()).unwrap();
        assert!(temp.exists());
        chunk.link(&dir.path().join("c")).unwrap();
        drop(chunk);
        assert!(!temp.exists());
        assert!(dir.path().join("c").exists());
    }
}
