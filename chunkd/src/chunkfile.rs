//! The chunk file format: `[data][footer JSON][u32 LE footer length]["SPRDCHK1"]`.
//!
//! The footer is the JSON [`ChunkMeta`] (reverse metadata), so a crawler can rebuild the
//! directory from the volumes alone. Readers use [`read_footer`] to learn the data length and
//! hash; the data itself starts at offset 0.

use crate::error::{Error, Result};
use crate::wire::ChunkMeta;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// Magic bytes at the very end of every chunk file.
pub const MAGIC: &[u8; 8] = b"SPRDCHK1";
/// Length of the fixed tail: u32 footer length + magic.
pub const TAIL_LEN: u64 = 4 + 8;
/// Largest footer accepted when reading (guards against corrupt length fields).
pub const MAX_FOOTER_LEN: u32 = 1024 * 1024;

/// The bytes appended after the chunk data: footer JSON, its length (u32 LE), the magic.
pub fn encode_footer(meta: &ChunkMeta) -> Result<Vec<u8>> {
    let mut out = serde_json::to_vec(meta)
        .map_err(|e| Error::Corrupt(format!("cannot encode footer: {e}")))?;
    let len = u32::try_from(out.len())
        .ok()
        .filter(|l| *l <= MAX_FOOTER_LEN)
        .ok_or_else(|| Error::BadRequest("chunk metadata too large".to_string()))?;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(MAGIC);
    Ok(out)
}

/// Read the footer of the chunk file at `path`.
pub fn read_footer(path: &Path) -> Result<ChunkMeta> {
    let mut file = File::open(path).map_err(not_found_or_io)?;
    read_footer_from(&mut file)
}

/// Read the footer of an open chunk file, checking that the file length matches
/// `data size + footer + tail`. Leaves the file position unspecified.
pub fn read_footer_from(file: &mut File) -> Result<ChunkMeta> {
    let file_len = file.metadata()?.len();
    if file_len < TAIL_LEN {
        return Err(Error::Corrupt(format!("file too short ({file_len} bytes)")));
    }
    let mut tail = [0u8; TAIL_LEN as usize];
    file.seek(SeekFrom::Start(file_len - TAIL_LEN))?;
    file.read_exact(&mut tail)?;
    if &tail[4..] != MAGIC {
        return Err(Error::Corrupt("bad magic".to_string()));
    }
    let footer_len = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]);
    if footer_len > MAX_FOOTER_LEN || u64::from(footer_len) > file_len - TAIL_LEN {
        return Err(Error::Corrupt(format!("bad footer length {footer_len}")));
    }
    let footer_start = file_len - TAIL_LEN - u64::from(footer_len);
    let mut footer = vec![0u8; footer_len as usize];
    file.seek(SeekFrom::Start(footer_start))?;
    file.read_exact(&mut footer)?;
    let meta: ChunkMeta = serde_json::from_slice(&footer)
        .map_err(|e| Error::Corrupt(format!("bad footer JSON: {e}")))?;
    if meta.size != footer_start {
        return Err(Error::Corrupt(format!(
            "footer says {} data bytes, file holds {footer_start}",
            meta.size
        )));
    }
    Ok(meta)
}

/// Map `NotFound` I/O errors to [`Error::NotFound`].
pub(crate) fn not_found_or_io(e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        Error::NotFound
    } else {
        Error::Io(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn meta(size: u64) -> ChunkMeta {
        ChunkMeta {
            account: "a".into(),
            container: "c".into(),
            key: "k/ü".into(),
            version: "null".into(),
            content_id: "00".into(),
            position: "3.1".into(),
            policy: "THREECOPIES".into(),
            size,
            hash: "h".into(),
            mtime_ms: 1,
            pieces: None,
        }
    }

    /// A chunk file as earlier versions wrote it (before piece hashes, and when only the key
    /// travelled percent-encoded): the bytes are fixed here, so a change of the footer format
    /// that stops old files from reading fails this test.
    #[test]
    fn footers_written_by_earlier_versions_still_read() {
        let footer = r#"{"account":"dev","container":"photos","key":"k/ü %41","version":"null","content_id":"00","position":"0","policy":"REPLICATE3","size":5,"hash":"h","mtime_ms":1}"#.as_bytes();
        let mut file = b"hello".to_vec();
        file.extend_from_slice(footer);
        file.extend_from_slice(&(footer.len() as u32).to_le_bytes());
        file.extend_from_slice(b"SPRDCHK1");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old");
        std::fs::write(&path, &file).unwrap();
        let meta = read_footer(&path).unwrap();
        assert_eq!(meta.key, "k/ü %41");
        assert_eq!(meta.container, "photos");
        assert_eq!((meta.size, meta.pieces), (5, None));
    }

    #[test]
    fn utf8_names_are_stored_as_they_are() {
        let names = ChunkMeta {
            account: "Ünïcödé".into(),
            container: "مرحبا 😀📦".into(),
            key: "line\nbreak %41".into(),
            ..meta(5)
        };
        let footer = encode_footer(&names).unwrap();
        let json = std::str::from_utf8(&footer[..footer.len() - TAIL_LEN as usize]).unwrap();
        assert!(json.contains(r#""container":"مرحبا 😀📦""#), "{json}");
        assert!(json.contains(r#""key":"line\nbreak %41""#), "{json}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c");
        let mut f = File::create(&path).unwrap();
        f.write_all(b"hello").unwrap();
        f.write_all(&footer).unwrap();
        drop(f);
        assert_eq!(read_footer(&path).unwrap(), names);
    }

    #[test]
    fn roundtrip_and_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c");
        let mut f = File::create(&path).unwrap();
        f.write_all(b"hello").unwrap();
        f.write_all(&encode_footer(&meta(5)).unwrap()).unwrap();
        drop(f);
        assert_eq!(read_footer(&path).unwrap(), meta(5));

        // Size in the footer disagrees with the file.
        let mut f = File::create(&path).unwrap();
        f.write_all(b"hell").unwrap();
        f.write_all(&encode_footer(&meta(5)).unwrap()).unwrap();
        drop(f);
        assert!(matches!(read_footer(&path), Err(Error::Corrupt(_))));

        std::fs::write(&path, b"short").unwrap();
        assert!(matches!(read_footer(&path), Err(Error::Corrupt(_))));
        std::fs::write(&path, b"xxxxxxxxxxxxxxxxxxxxxxxx").unwrap();
        assert!(matches!(read_footer(&path), Err(Error::Corrupt(_))));
        assert!(matches!(
            read_footer(&dir.path().join("missing")),
            Err(Error::NotFound)
        ));
    }
}
