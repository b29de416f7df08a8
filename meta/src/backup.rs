//! Backups of a meta group's whole state (`spread admin meta backup FILE`) and starting a new
//! group from one (`spread meta --restore FILE`).
//!
//! A backup is the Raft snapshot the leader builds anyway (compacted LMDB copies of every
//! environment packed in one tar, see [`crate::raft::state_machine`]) behind a small header:
//!
//! ```text
//! "SPRDMBAK" | header length (u32, big-endian) | header (JSON, [`Header`]) | snapshot (tar)
//! ```
//!
//! The header names the format version, the log position the snapshot holds (term, index),
//! the group it came from, and the snapshot's size and BLAKE3 hash with each environment
//! file's. A truncated or altered file is refused before anything is written. Restoring
//! unpacks the snapshot into a staging directory under the (empty) data directory, checks it,
//! makes the state forget the old group's log (applied indexes, state machine record) and
//! renames it into place; the node then starts a new group of one.

use crate::config::Config;
use crate::raft::SnapshotMeta;
use bytes::Bytes;
use meta_api::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// The first bytes of every backup file.
pub const MAGIC: &[u8; 8] = b"SPRDMBAK";
/// Version of the backup format this binary writes (a newer one is refused).
pub const BACKUP_VERSION: u32 = 1;
/// Largest header accepted (the environment list grows with the number of containers).
const MAX_HEADER: u32 = 256 << 20;
/// Size of the pieces a backup is streamed in.
const PIECE: usize = 256 * 1024;

/// A backup file's header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// [`BACKUP_VERSION`] when written.
    pub v: u32,
    /// When the leader wrote it (ms since the epoch).
    pub created_ms: i64,
    /// The cluster's id: Spread clusters have none yet, so always empty (kept for the day
    /// they do, so a backup cannot be restored into the wrong one).
    pub cluster: Option<String>,
    /// The last log entry the snapshot holds: its term and index.
    pub term: u64,
    pub index: u64,
    /// The node that built the snapshot (the leader then).
    pub node: u64,
    pub snapshot_id: String,
    /// The group's members then (id, address): a restored node must not reuse one of these ids.
    pub members: Vec<(u64, String)>,
    /// The snapshot's size and BLAKE3 hash (hex).
    pub snapshot_bytes: u64,
    pub snapshot_blake3: String,
    /// Every environment file in the snapshot.
    pub envs: Vec<EnvSum>,
}

/// One environment file of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvSum {
    /// Path under the state's root, e.g. `directory/data.mdb`.
    pub path: String,
    pub bytes: u64,
    pub blake3: String,
}

fn bad(file: &Path, what: impl std::fmt::Display) -> Error {
    Error::InvalidArgument(format!("backup {}: {what}", file.display()))
}

/// Counts and hashes what is read through it.
struct Hashing<R> {
    inner: R,
    hasher: blake3::Hasher,
    bytes: u64,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

/// Reads a snapshot (tar) to its end: its size, its BLAKE3 hash and every environment file's.
fn scan(reader: impl Read) -> std::io::Result<(u64, String, Vec<EnvSum>)> {
    let mut archive = tar::Archive::new(Hashing {
        inner: reader,
        hasher: blake3::Hasher::new(),
        bytes: 0,
    });
    let mut envs = Vec::new();
    for entry in archive.entries()? {
        let mut entry = entry?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry.path()?.to_string_lossy().into_owned();
        let Some(rel) = path.strip_prefix("state/") else {
            continue;
        };
        let rel = rel.to_string();
        let mut h = blake3::Hasher::new();
        let bytes = std::io::copy(&mut entry, &mut h)?;
        envs.push(EnvSum {
            path: rel,
            bytes,
            blake3: h.finalize().to_hex().to_string(),
        });
    }
    let mut rest = archive.into_inner();
    std::io::copy(&mut rest, &mut std::io::sink())?;
    envs.sort_by(|a, b| a.path.cmp(&b.path));
    Ok((
        rest.bytes,
        rest.hasher.finalize().to_hex().to_string(),
        envs,
    ))
}

/// The header of a backup of the snapshot `meta` whose file is `file` (read once, left at its
/// start).
pub fn describe(meta: &SnapshotMeta, file: &mut std::fs::File) -> Result<Header> {
    file.seek(SeekFrom::Start(0))?;
    let (snapshot_bytes, snapshot_blake3, envs) =
        scan(&mut *file).map_err(|e| Error::Io(format!("reading the snapshot: {e}")))?;
    file.seek(SeekFrom::Start(0))?;
    let last = meta.last_log_id;
    Ok(Header {
        v: BACKUP_VERSION,
        created_ms: crate::ids::now_ms(),
        cluster: None,
        term: last.map_or(0, |l| l.leader_id.term),
        index: last.map_or(0, |l| l.index),
        node: last.map_or(0, |l| l.leader_id.node_id),
        snapshot_id: meta.snapshot_id.clone(),
        members: meta
            .last_membership
            .membership()
            .nodes()
            .map(|(id, n)| (*id, n.addr.clone()))
            .collect(),
        snapshot_bytes,
        snapshot_blake3,
        envs,
    })
}

/// The bytes before the snapshot: magic, length, header.
pub fn encode_header(h: &Header) -> Result<Vec<u8>> {
    let json = serde_json::to_vec(h)?;
    let len = u32::try_from(json.len())
        .ok()
        .filter(|l| *l <= MAX_HEADER)
        .ok_or_else(|| Error::Internal("the backup header is too large".into()))?;
    let mut out = Vec::with_capacity(12 + json.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&json);
    Ok(out)
}

/// Reads the header at the start of `r`; answers it and its encoded length.
fn read_header(r: &mut impl Read, file: &Path) -> Result<(Header, u64)> {
    let mut fixed = [0u8; 12];
    r.read_exact(&mut fixed)
        .map_err(|_| bad(file, "too short to be a Spread meta backup"))?;
    if &fixed[..8] != MAGIC {
        return Err(bad(file, "not a Spread meta backup (wrong magic bytes)"));
    }
    let len = u32::from_be_bytes([fixed[8], fixed[9], fixed[10], fixed[11]]);
    if len > MAX_HEADER {
        return Err(bad(file, format!("header length {len} is implausible")));
    }
    let mut json = vec![0u8; len as usize];
    r.read_exact(&mut json)
        .map_err(|_| bad(file, "truncated inside its header"))?;
    // The version first, so a newer format is named as such rather than as unreadable.
    #[derive(Deserialize)]
    struct Version {
        v: u32,
    }
    let v: Version =
        serde_json::from_slice(&json).map_err(|e| bad(file, format!("unreadable header: {e}")))?;
    if v.v > BACKUP_VERSION {
        return Err(bad(
            file,
            format!(
                "format version {} is newer than this binary's {BACKUP_VERSION}: restore \
                 with a newer spread",
                v.v
            ),
        ));
    }
    let h: Header =
        serde_json::from_slice(&json).map_err(|e| bad(file, format!("unreadable header: {e}")))?;
    Ok((h, 12 + u64::from(len)))
}

/// Checks a backup file: its header, its length, its snapshot's hash and every environment
/// file's. Answers the header and where the snapshot starts.
pub fn check_file(path: &Path) -> Result<(Header, u64)> {
    let mut f = std::fs::File::open(path).map_err(|e| bad(path, e))?;
    let len = f.metadata().map_err(|e| bad(path, e))?.len();
    let (h, start) = read_header(&mut f, path)?;
    let held = len.saturating_sub(start);
    if held < h.snapshot_bytes {
        return Err(bad(
            path,
            format!(
                "truncated: the header announces {} bytes of snapshot, the file holds {held}",
                h.snapshot_bytes
            ),
        ));
    }
    if held > h.snapshot_bytes {
        return Err(bad(
            path,
            format!(
                "{} bytes after the snapshot the header announces (not a backup as written)",
                held - h.snapshot_bytes
            ),
        ));
    }
    let (bytes, hash, envs) = scan(std::io::BufReader::new(&mut f).take(h.snapshot_bytes))
        .map_err(|e| bad(path, format!("corrupt snapshot: {e}")))?;
    if bytes != h.snapshot_bytes || hash != h.snapshot_blake3 {
        return Err(bad(
            path,
            "corrupt: the snapshot's BLAKE3 hash is not the one in the header",
        ));
    }
    if envs != h.envs {
        let differs = h
            .envs
            .iter()
            .find(|e| !envs.contains(e))
            .map_or_else(|| "an extra environment".to_string(), |e| e.path.clone());
        return Err(bad(
            path,
            format!("corrupt: environment {differs} is not as the header lists it"),
        ));
    }
    Ok((h, start))
}

/// Starts the node at `config.data_dir` from the backup `file`: the directory must be empty
/// (or absent); the backup is checked, unpacked into a staging directory beside the state,
/// made to forget the old group's log, and renamed into place. The caller then starts the node
/// as a new group of one (`config.node_id`, which must not be one of the old group's ids).
pub fn restore(config: &Config, file: &Path) -> Result<Header> {
    let data_dir = &config.data_dir;
    match std::fs::read_dir(data_dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(Error::InvalidArgument(format!(
                    "restore: data_dir {} is not empty; restore into a new, empty directory",
                    data_dir.display()
                )));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::Io(format!("{}: {e}", data_dir.display()))),
    }
    let (header, start) = check_file(file)?;
    if let Some((id, addr)) = header.members.iter().find(|(id, _)| *id == config.node_id) {
        return Err(Error::InvalidArgument(format!(
            "restore: node_id {id} was a member of the backed-up group (at {addr}); give the \
             restored node a new node_id so it cannot be taken for the old one"
        )));
    }
    std::fs::create_dir_all(data_dir)
        .map_err(|e| Error::Io(format!("creating {}: {e}", data_dir.display())))?;
    let staging = data_dir.join(format!("restore-{}", crate::ids::random_hex(6)));
    let result = unpack_and_adopt(config, file, start, &header, &staging);
    let _ = std::fs::remove_dir_all(&staging);
    result?;
    tracing::info!(
        file = %file.display(),
        term = header.term,
        index = header.index,
        envs = header.envs.len(),
        "meta state restored from a backup; starting a new group of one"
    );
    Ok(header)
}

fn unpack_and_adopt(
    config: &Config,
    file: &Path,
    start: u64,
    header: &Header,
    staging: &Path,
) -> Result<()> {
    let mut f = std::fs::File::open(file).map_err(|e| bad(file, e))?;
    f.seek(SeekFrom::Start(start))?;
    tar::Archive::new(std::io::BufReader::new(f).take(header.snapshot_bytes))
        .unpack(staging)
        .map_err(|e| bad(file, format!("unpacking: {e}")))?;
    let meta =
        crate::raft::state_machine::unpacked_description(staging).map_err(|e| bad(file, e))?;
    if meta.last_log_id.map_or(0, |l| l.index) != header.index {
        return Err(bad(
            file,
            format!(
                "the snapshot holds index {:?}, the header says {}",
                meta.last_log_id.map(|l| l.index),
                header.index
            ),
        ));
    }
    let state = staging.join("state");
    {
        let mut c = config.clone();
        c.data_dir = state.clone();
        let own = config
            .advertise
            .clone()
            .unwrap_or_else(|| config.listen.to_string());
        let store = crate::store::Store::open(&c, &own)?;
        store.forget_log()?;
        let dir = store.directory_path();
        drop(store);
        crate::store::lmdb::wait_closed(&dir);
    }
    crate::raft::state_machine::adopt_state(&config.data_dir, &state).map_err(Error::Io)
}

/// A response body sent as it is produced (bounded: a few pieces in flight).
pub struct ChannelBody(tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>);

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<std::result::Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|piece| piece.map(|r| r.map(hyper::body::Frame::data)))
    }
}

/// A backup answered by this node (the leader): the header, then the snapshot file, streamed
/// in pieces. Answers the body and its length.
pub async fn stream(node: &crate::raft::node::Node) -> Result<(ChannelBody, u64)> {
    let (meta, file) = node
        .backup_snapshot(std::time::Duration::from_secs(600))
        .await?;
    let (head, header, file) = tokio::task::spawn_blocking(move || {
        let mut file = file;
        let header = describe(&meta, &mut file)?;
        Ok::<_, Error>((encode_header(&header)?, header, file))
    })
    .await
    .map_err(|e| Error::Internal(format!("describing the snapshot: {e}")))??;
    tracing::info!(
        index = header.index,
        term = header.term,
        bytes = header.snapshot_bytes,
        "sending a backup"
    );
    let length = head.len() as u64 + header.snapshot_bytes;
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tokio::task::spawn_blocking(move || {
        if tx.blocking_send(Ok(Bytes::from(head))).is_err() {
            return;
        }
        let mut file = file;
        let mut left = header.snapshot_bytes;
        while left > 0 {
            let mut buf = vec![0u8; PIECE.min(usize::try_from(left).unwrap_or(PIECE))];
            let piece = file.read_exact(&mut buf).map(|()| Bytes::from(buf));
            let failed = piece.is_err();
            if let Err(e) = &piece {
                tracing::error!(error = %e, "reading the snapshot for a backup");
            }
            if tx.blocking_send(piece).is_err() || failed {
                return;
            }
            left = left.saturating_sub(PIECE as u64);
        }
    });
    Ok((ChannelBody(rx), length))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn sample() -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let tar_path = dir.path().join("s.tar");
        let mut b = tar::Builder::new(std::fs::File::create(&tar_path).unwrap());
        let mut add = |name: &str, data: &[u8]| {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, name, data).unwrap();
        };
        add("snapshot.json", b"{}");
        add("state/directory/data.mdb", &[7u8; 5000]);
        add("state/meta2/abc/abcdef/data.mdb", &[9u8; 3000]);
        b.finish().unwrap();
        drop(b);
        let meta = SnapshotMeta::default();
        let mut f = std::fs::File::open(&tar_path).unwrap();
        let h = describe(&meta, &mut f).unwrap();
        assert_eq!(h.envs.len(), 2);
        assert_eq!(h.envs[0].path, "directory/data.mdb");
        assert_eq!(h.envs[0].bytes, 5000);
        let out = dir.path().join("b.backup");
        let mut w = std::fs::File::create(&out).unwrap();
        w.write_all(&encode_header(&h).unwrap()).unwrap();
        std::io::copy(&mut f, &mut w).unwrap();
        (dir, out)
    }

    #[test]
    fn a_whole_backup_passes_and_a_damaged_one_is_refused() {
        let (_dir, path) = sample();
        let (h, start) = check_file(&path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(start + h.snapshot_bytes, bytes.len() as u64);

        let cut = path.with_extension("cut");
        std::fs::write(&cut, &bytes[..bytes.len() - 700]).unwrap();
        let e = check_file(&cut).unwrap_err().to_string();
        assert!(e.contains("truncated"), "{e}");
        assert!(!e.contains('\n'), "one line: {e}");

        let flipped = path.with_extension("flip");
        let mut b = bytes.clone();
        // A byte inside the directory's environment file.
        let at = start as usize + 2048;
        b[at] ^= 0xff;
        std::fs::write(&flipped, &b).unwrap();
        let e = check_file(&flipped).unwrap_err().to_string();
        assert!(e.contains("corrupt"), "{e}");

        let other = path.with_extension("other");
        std::fs::write(&other, b"hello world, not a backup").unwrap();
        let e = check_file(&other).unwrap_err().to_string();
        assert!(e.contains("not a Spread meta backup"), "{e}");
    }
}
