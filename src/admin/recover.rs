//! `spread admin recover --volumes DIR...`: rebuilds the directory from the chunk files'
//! footers when every meta copy is lost.
//!
//! Three passes:
//! 1. **Scan**: every chunk file of every volume (`<volume>/<id[0..3]>/<id>`, so `tmp/`,
//!    `quarantine/` and `orphans/` are never read) gives its footer ([`chunkd::ChunkMeta`]),
//!    read from the file's tail only. Footers are grouped by (account, container, key) and
//!    content id; only that grouped metadata is held in memory.
//! 2. **Check**: per key, the newest content (the latest chunk time) is the one that can come
//!    back; it must have every position from 0 of every part, copies of one position must
//!    agree on size and hash, and every chunk but a part's last must be as large as the first.
//!    Older contents of the key (overwritten, not yet collected) are counted as superseded.
//! 3. **Write** (unless `--dry-run`): missing accounts and containers are created, and each
//!    complete object absent from meta is read once from one copy per chunk (BLAKE3 checked
//!    against the footer, another copy tried on a mismatch) to compute its ETag (MD5, or the
//!    MD5 of the parts' MD5s for multipart), then put with `If-None-Match: *`. An object meta
//!    already has is skipped, so a second run adds nothing.
//!
//! What footers do not carry (content type, user metadata, checksums, tags, ACLs, version ids,
//! container settings) does not come back; docs/operations.md lists it.

use crate::error::{Error, Result};
use md5::{Digest, Md5};
use meta_api::client::MetaClient;
use meta_api::wire::{ChunkCopy, ChunkRecord, ContainerSettings, ObjectRecord, PutCondition};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// At most this many unreadable chunk files are listed in the report (all are counted).
const MAX_LISTED_BAD: usize = 100;
/// A progress line is logged every this many chunk files.
const PROGRESS_EVERY: u64 = 100_000;
/// Read buffer for the ETag pass: memory per chunk read is bounded by it.
const READ_BUF: usize = 1024 * 1024;

/// What recovery found and did.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub dry_run: bool,
    pub volumes: Vec<String>,
    /// Chunk files whose footer was read.
    pub chunks_read: u64,
    /// Chunk files whose footer could not be read (counted; the first ones listed).
    pub chunks_unreadable: u64,
    pub unreadable: Vec<Unreadable>,
    /// Erasure-coded fragments seen (not recoverable by this version).
    pub fragments_seen: u64,
    /// Keys found (newest content of each).
    pub objects_found: u64,
    /// Objects put into meta (or, with `--dry-run`, that would be checked against it).
    pub recovered: u64,
    /// Complete objects meta already had (same or other content): left as they are.
    pub skipped_present: u64,
    /// Older contents of a key whose newest content was taken.
    pub superseded: u64,
    /// Objects that cannot be recovered, with what is missing.
    pub incomplete: Vec<Incomplete>,
    /// Data bytes of the complete objects found.
    pub bytes_covered: u64,
    /// Data bytes read to compute ETags of the objects written.
    pub bytes_read: u64,
    pub accounts_created: Vec<String>,
    pub containers_created: Vec<String>,
    pub elapsed_ms: u64,
    /// Chunk files per second over the whole run.
    pub chunks_per_sec: f64,
    /// Chunk files per second of the footer scan alone.
    pub scan_chunks_per_sec: f64,
    pub summary: String,
}

/// A chunk file whose footer could not be read.
#[derive(Debug, Serialize)]
pub struct Unreadable {
    pub path: String,
    pub error: String,
}

/// An object that cannot be recovered.
#[derive(Debug, Serialize)]
pub struct Incomplete {
    pub account: String,
    pub container: String,
    pub key: String,
    pub content_id: String,
    pub missing: String,
}

/// One copy of a chunk: the volume (index in `--volumes`) and the file name.
#[derive(Debug, Clone)]
struct Copy {
    volume: usize,
    chunk_id: String,
}

/// One chunk position of a content, with the copies found.
#[derive(Debug)]
struct Piece {
    size: u64,
    hash: String,
    copies: Vec<Copy>,
    /// Copies whose size or hash disagree with the first one found.
    conflicting: u64,
}

/// Everything found about one content (one write) of a key.
#[derive(Debug, Default)]
struct Content {
    policy: String,
    policies_differ: bool,
    mtime_ms: i64,
    /// (part number for multipart uploads, position in the part) → chunk.
    pieces: BTreeMap<(Option<u32>, u32), Piece>,
    fragments: u64,
}

/// (account, container, key).
type ObjectKey = (String, String, String);

/// A volume given on the command line.
struct VolumeDir {
    root: PathBuf,
    service: String,
}

/// Runs the recovery; `meta` is `None` for `--dry-run`. Returns the report as text or JSON.
pub async fn run(meta: Option<&MetaClient>, volumes: &[PathBuf], json: bool) -> Result<String> {
    let started = Instant::now();
    let mut report = Report {
        dry_run: meta.is_none(),
        volumes: volumes.iter().map(|v| v.display().to_string()).collect(),
        ..Report::default()
    };
    let dirs = volumes
        .iter()
        .map(|root| {
            let path = root.join("service-id");
            let service = std::fs::read_to_string(&path)
                .map_err(|e| Error::file(&path, e))?
                .trim()
                .to_string();
            if service.is_empty() {
                return Err(Error::Parse {
                    path,
                    message: "empty service id".to_string(),
                });
            }
            Ok(VolumeDir {
                root: root.clone(),
                service,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let mut objects: BTreeMap<ObjectKey, BTreeMap<String, Content>> = BTreeMap::new();
    for (i, dir) in dirs.iter().enumerate() {
        scan_volume(i, &dir.root, &mut objects, &mut report)?;
    }
    let scan_secs = started.elapsed().as_secs_f64().max(1e-6);
    report.scan_chunks_per_sec = report.chunks_read as f64 / scan_secs;
    tracing::info!(
        chunks = report.chunks_read,
        keys = objects.len(),
        secs = scan_secs,
        "footers scanned"
    );

    // The newest content of each key, checked.
    let mut complete: Vec<(ObjectKey, String, Content)> = Vec::new();
    for ((account, container, key), contents) in objects {
        report.objects_found += 1;
        report.superseded += contents.len().saturating_sub(1) as u64;
        let Some((content_id, content)) = contents
            .into_iter()
            .max_by(|a, b| (a.1.mtime_ms, &a.0).cmp(&(b.1.mtime_ms, &b.0)))
        else {
            continue;
        };
        match check(&content) {
            Ok(size) => {
                report.bytes_covered += size;
                complete.push(((account, container, key), content_id, content));
            }
            Err(missing) => report.incomplete.push(Incomplete {
                account,
                container,
                key,
                content_id,
                missing,
            }),
        }
    }

    match meta {
        None => report.recovered = complete.len() as u64,
        Some(client) => write_all(client, &dirs, complete, &mut report).await?,
    }

    let elapsed = started.elapsed();
    report.elapsed_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
    report.chunks_per_sec = report.chunks_read as f64 / elapsed.as_secs_f64().max(1e-6);
    report.summary = format!(
        "recover{}: {} chunks read ({} unreadable) in {:.1}s ({:.0} chunks/s): {} objects {}, {} already present, {} incomplete, {} older contents superseded; {} accounts and {} containers created; {} covered",
        if report.dry_run { " (dry run)" } else { "" },
        report.chunks_read,
        report.chunks_unreadable,
        elapsed.as_secs_f64(),
        report.chunks_per_sec,
        report.recovered,
        if report.dry_run {
            "complete"
        } else {
            "recovered"
        },
        report.skipped_present,
        report.incomplete.len(),
        report.superseded,
        report.accounts_created.len(),
        report.containers_created.len(),
        super::rebuild::size(report.bytes_covered),
    );
    tracing::info!("{}", report.summary);
    if json {
        let text = serde_json::to_string_pretty(&report)
            .map_err(|e| Error::Usage(format!("cannot encode JSON: {e}")))?;
        return Ok(text + "\n");
    }
    Ok(render(&report))
}

/// The report as text: the incomplete objects and unreadable files, then the summary.
fn render(report: &Report) -> String {
    let mut out = String::new();
    for i in &report.incomplete {
        out.push_str(&format!(
            "incomplete: {}/{}/{:?} (content {}): {}\n",
            i.account, i.container, i.key, i.content_id, i.missing
        ));
    }
    for u in &report.unreadable {
        out.push_str(&format!("unreadable: {}: {}\n", u.path, u.error));
    }
    if report.chunks_unreadable > report.unreadable.len() as u64 {
        out.push_str(&format!(
            "unreadable: {} more not listed\n",
            report.chunks_unreadable - report.unreadable.len() as u64
        ));
    }
    out.push_str(&report.summary);
    out.push('\n');
    out
}

/// True for a prefix directory name: three lowercase hex digits.
fn is_prefix_dir(name: &str) -> bool {
    name.len() == 3
        && name
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Reads the footer of every chunk file of one volume into `objects`.
fn scan_volume(
    volume: usize,
    root: &Path,
    objects: &mut BTreeMap<ObjectKey, BTreeMap<String, Content>>,
    report: &mut Report,
) -> Result<()> {
    let mut prefixes: Vec<PathBuf> = Vec::new();
    for entry in std::fs::read_dir(root).map_err(|e| Error::file(root, e))? {
        let entry = entry.map_err(|e| Error::file(root, e))?;
        let name = entry.file_name();
        if name.to_str().is_some_and(is_prefix_dir) && entry.path().is_dir() {
            prefixes.push(entry.path());
        }
    }
    prefixes.sort();
    for dir in prefixes {
        for entry in std::fs::read_dir(&dir).map_err(|e| Error::file(&dir, e))? {
            let entry = entry.map_err(|e| Error::file(&dir, e))?;
            let Some(chunk_id) = entry
                .file_name()
                .to_str()
                .filter(|n| chunkd::is_valid_chunk_id(n))
                .map(str::to_string)
            else {
                continue;
            };
            let path = entry.path();
            match chunkd::chunkfile::read_footer(&path) {
                Ok(meta) => {
                    report.chunks_read += 1;
                    if report.chunks_read.is_multiple_of(PROGRESS_EVERY) {
                        tracing::info!(chunks = report.chunks_read, volume = %root.display(), "scanning footers");
                    }
                    add_footer(meta, Copy { volume, chunk_id }, objects, report, &path);
                }
                // Deleted between the listing and the read (a running chunk server's GC).
                Err(chunkd::Error::NotFound) => {}
                Err(e) => unreadable(report, &path, e.to_string()),
            }
        }
    }
    Ok(())
}

/// Counts (and lists the first few) unreadable chunk files.
fn unreadable(report: &mut Report, path: &Path, error: String) {
    tracing::warn!(path = %path.display(), %error, "chunk file skipped");
    report.chunks_unreadable += 1;
    if report.unreadable.len() < MAX_LISTED_BAD {
        report.unreadable.push(Unreadable {
            path: path.display().to_string(),
            error,
        });
    }
}

/// A footer position: `N`, `pP:N` (part P of a multipart upload), or either followed by
/// `.F` (erasure-coded fragment F). `None` when it does not parse.
fn parse_position(text: &str) -> Option<(Option<u32>, u32, Option<u32>)> {
    let (part, rest) = match text.strip_prefix('p') {
        Some(rest) => {
            let (part, rest) = rest.split_once(':')?;
            (Some(part.parse().ok()?), rest)
        }
        None => (None, text),
    };
    let (pos, fragment) = match rest.split_once('.') {
        Some((pos, fragment)) => (pos.parse().ok()?, Some(fragment.parse().ok()?)),
        None => (rest.parse().ok()?, None),
    };
    Some((part, pos, fragment))
}

/// Adds one footer to the grouped metadata.
fn add_footer(
    meta: chunkd::ChunkMeta,
    copy: Copy,
    objects: &mut BTreeMap<ObjectKey, BTreeMap<String, Content>>,
    report: &mut Report,
    path: &Path,
) {
    let Some((part, pos, fragment)) = parse_position(&meta.position) else {
        unreadable(
            report,
            path,
            format!("footer position {:?} does not parse", meta.position),
        );
        return;
    };
    let content = objects
        .entry((meta.account, meta.container, meta.key))
        .or_default()
        .entry(meta.content_id)
        .or_default();
    if content.policy.is_empty() {
        content.policy = meta.policy;
    } else if content.policy != meta.policy {
        content.policies_differ = true;
    }
    content.mtime_ms = content.mtime_ms.max(meta.mtime_ms);
    if fragment.is_some() {
        report.fragments_seen += 1;
        content.fragments += 1;
        return;
    }
    match content.pieces.get_mut(&(part, pos)) {
        Some(piece) if piece.size == meta.size && piece.hash == meta.hash => {
            piece.copies.push(copy)
        }
        Some(piece) => piece.conflicting += 1,
        None => {
            content.pieces.insert(
                (part, pos),
                Piece {
                    size: meta.size,
                    hash: meta.hash,
                    copies: vec![copy],
                    conflicting: 0,
                },
            );
        }
    }
}

/// Checks that a content can be read whole; returns its size, or what is missing.
fn check(content: &Content) -> std::result::Result<u64, String> {
    if content.fragments > 0 {
        return Err(format!(
            "erasure coded ({} fragments found): fragments carry neither the chunk size nor its hash, so this version cannot rebuild the record",
            content.fragments
        ));
    }
    if content.policies_differ {
        return Err("chunks name different storage policies".to_string());
    }
    let parts: BTreeSet<Option<u32>> = content.pieces.keys().map(|(p, _)| *p).collect();
    if parts.contains(&None) && parts.len() > 1 {
        return Err("both plain and multipart chunks under one content id".to_string());
    }
    let mut problems = Vec::new();
    let mut size = 0u64;
    for part in &parts {
        let positions: Vec<(u32, &Piece)> = content
            .pieces
            .range((*part, 0)..=(*part, u32::MAX))
            .map(|((_, pos), piece)| (*pos, piece))
            .collect();
        let what = part.map_or_else(String::new, |p| format!("part {p}: "));
        let last = positions.last().map_or(0, |(pos, _)| *pos);
        let present: BTreeSet<u32> = positions.iter().map(|(pos, _)| *pos).collect();
        let missing: Vec<String> = (0..=last)
            .filter(|p| !present.contains(p))
            .map(|p| p.to_string())
            .collect();
        if !missing.is_empty() {
            problems.push(format!(
                "{what}no copy of chunk position(s) {}",
                missing.join(", ")
            ));
            continue;
        }
        let first = positions.first().map_or(0, |(_, piece)| piece.size);
        for (pos, piece) in &positions {
            if piece.conflicting > 0 {
                problems.push(format!(
                    "{what}copies of position {pos} disagree on size or hash"
                ));
            } else if *pos != last && piece.size != first {
                problems.push(format!(
                    "{what}position {pos} holds {} bytes, position 0 holds {first}",
                    piece.size
                ));
            }
            size += piece.size;
        }
    }
    if problems.is_empty() {
        Ok(size)
    } else {
        Err(problems.join("; "))
    }
}

/// Creates missing accounts and containers, then puts every complete object meta lacks.
async fn write_all(
    client: &MetaClient,
    dirs: &[VolumeDir],
    complete: Vec<(ObjectKey, String, Content)>,
    report: &mut Report,
) -> Result<()> {
    // Containers and the policies their objects name (one shared policy becomes the
    // container's; mixed ones leave the namespace default).
    let mut containers: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for ((account, container, _), _, content) in &complete {
        containers
            .entry((account.clone(), container.clone()))
            .or_default()
            .insert(content.policy.clone());
    }
    let mut accounts: BTreeSet<String> = BTreeSet::new();
    let mut refused: BTreeMap<(String, String), String> = BTreeMap::new();
    for ((account, container), policies) in &containers {
        if accounts.insert(account.clone()) {
            match client.create_account(account).await {
                Ok(_) => report.accounts_created.push(account.clone()),
                Err(meta_api::Error::AccountExists(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        match client.get_container(container).await {
            Ok(info) if info.account == *account => continue,
            Ok(info) => {
                refused.insert(
                    (account.clone(), container.clone()),
                    format!("container name is taken by account {}", info.account),
                );
                continue;
            }
            Err(meta_api::Error::NoSuchContainer(_)) => {}
            Err(e) => return Err(e.into()),
        }
        let settings = ContainerSettings {
            policy: match policies.iter().collect::<Vec<_>>().as_slice() {
                [one] => Some((*one).clone()),
                _ => None,
            },
            ..ContainerSettings::default()
        };
        match client.create_container(account, container, &settings).await {
            Ok(_) => report
                .containers_created
                .push(format!("{account}/{container}")),
            Err(meta_api::Error::ContainerExists { owner, .. }) if owner == *account => {}
            Err(e) => return Err(e.into()),
        }
    }

    for ((account, container, key), content_id, content) in complete {
        if let Some(why) = refused.get(&(account.clone(), container.clone())) {
            report.incomplete.push(Incomplete {
                account,
                container,
                key,
                content_id,
                missing: why.clone(),
            });
            continue;
        }
        match client.get_object(&container, &key).await {
            Ok(_) => {
                report.skipped_present += 1;
                continue;
            }
            Err(meta_api::Error::NoSuchObject(_)) => {}
            Err(e) => return Err(e.into()),
        }
        let record = match build_record(dirs, &key, &content_id, &content, report) {
            Ok(r) => r,
            Err(missing) => {
                report.incomplete.push(Incomplete {
                    account,
                    container,
                    key,
                    content_id,
                    missing,
                });
                continue;
            }
        };
        let cond = PutCondition {
            if_none_match_any: true,
            ..PutCondition::default()
        };
        match client.put_object_if(&container, &record, &cond).await {
            Ok(_) => report.recovered += 1,
            // Written meanwhile (by a gateway, or a concurrent recover): that one stays.
            Err(meta_api::Error::PreconditionFailed(_)) => report.skipped_present += 1,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// The object record of a complete content, its ETag computed from the data.
fn build_record(
    dirs: &[VolumeDir],
    key: &str,
    content_id: &str,
    content: &Content,
    report: &mut Report,
) -> std::result::Result<ObjectRecord, String> {
    let multipart = content.pieces.keys().any(|(part, _)| part.is_some());
    let mut chunks = Vec::with_capacity(content.pieces.len());
    let mut parts: Vec<u64> = Vec::new();
    let mut part_md5s = Md5::new();
    let mut body_md5 = Md5::new();
    let mut current_part: Option<Option<u32>> = None;
    let mut offset = 0u64;
    let mut buf = vec![0u8; READ_BUF];
    for ((part, pos), piece) in &content.pieces {
        if multipart && current_part != Some(*part) {
            if current_part.is_some() {
                part_md5s.update(std::mem::take(&mut body_md5).finalize());
            }
            current_part = Some(*part);
            parts.push(0);
        }
        let mut read = None;
        for copy in &piece.copies {
            let saved = body_md5.clone();
            match read_copy(dirs, copy, piece, &mut body_md5, &mut buf) {
                Ok(()) => {
                    read = Some(copy);
                    break;
                }
                Err(e) => {
                    tracing::warn!(key, chunk = %copy.chunk_id, error = %e, "chunk copy not usable");
                    body_md5 = saved;
                }
            }
        }
        if read.is_none() {
            let at = part.map_or_else(String::new, |p| format!("part {p} "));
            return Err(format!("no intact copy of {at}position {pos}"));
        }
        report.bytes_read += piece.size;
        if let Some(last) = parts.last_mut() {
            *last += piece.size;
        }
        let pos = u32::try_from(chunks.len()).map_err(|_| "too many chunks".to_string())?;
        chunks.push(ChunkRecord {
            pos,
            offset,
            size: piece.size,
            hash: piece.hash.clone(),
            copies: piece
                .copies
                .iter()
                .map(|c| ChunkCopy {
                    service: dirs[c.volume].service.clone(),
                    chunk_id: c.chunk_id.clone(),
                    fragment: None,
                    hash: None,
                })
                .collect(),
            ec: None,
            inline: None,
        });
        offset += piece.size;
    }
    let etag = if multipart {
        part_md5s.update(body_md5.finalize());
        format!("{}-{}", hex::encode(part_md5s.finalize()), parts.len())
    } else {
        hex::encode(body_md5.finalize())
    };
    Ok(ObjectRecord {
        key: key.to_string(),
        version_id: "null".to_string(),
        content_id: content_id.to_string(),
        size: offset,
        etag,
        mtime_ms: content.mtime_ms,
        content_type: None,
        headers: BTreeMap::new(),
        user_meta: BTreeMap::new(),
        checksums: BTreeMap::new(),
        policy: content.policy.clone(),
        parts,
        chunks,
        delete_marker: false,
        props: Default::default(),
        encryption: None,
    })
}

/// Streams the data of one chunk copy into `md5`, checking its size and BLAKE3 against the
/// footer's.
fn read_copy(
    dirs: &[VolumeDir],
    copy: &Copy,
    piece: &Piece,
    md5: &mut Md5,
    buf: &mut [u8],
) -> std::result::Result<(), String> {
    let dir = dirs
        .get(copy.volume)
        .ok_or_else(|| "unknown volume".to_string())?;
    let prefix = copy.chunk_id.get(..3).unwrap_or("");
    let path = dir.root.join(prefix).join(&copy.chunk_id);
    let file = File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut data = file.take(piece.size);
    let mut blake = blake3::Hasher::new();
    let mut total = 0u64;
    loop {
        let n = data
            .read(buf)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if n == 0 {
            break;
        }
        let bytes = buf.get(..n).unwrap_or_default();
        blake.update(bytes);
        md5.update(bytes);
        total += n as u64;
    }
    if total != piece.size {
        return Err(format!(
            "{}: {total} of {} bytes",
            path.display(),
            piece.size
        ));
    }
    if blake.finalize().to_hex().as_str() != piece.hash {
        return Err(format!(
            "{}: BLAKE3 differs from the footer's",
            path.display()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_parse() {
        assert_eq!(parse_position("0"), Some((None, 0, None)));
        assert_eq!(parse_position("12"), Some((None, 12, None)));
        assert_eq!(parse_position("p7:3"), Some((Some(7), 3, None)));
        assert_eq!(parse_position("3.1"), Some((None, 3, Some(1))));
        assert_eq!(parse_position("p2:0.4"), Some((Some(2), 0, Some(4))));
        assert_eq!(parse_position("x"), None);
        assert_eq!(parse_position("p:1"), None);
        assert_eq!(parse_position("-1"), None);
    }

    fn piece(size: u64) -> Piece {
        Piece {
            size,
            hash: "h".into(),
            copies: Vec::new(),
            conflicting: 0,
        }
    }

    #[test]
    fn gaps_and_odd_sizes_are_incomplete() {
        let mut c = Content::default();
        c.pieces.insert((None, 0), piece(10));
        c.pieces.insert((None, 1), piece(10));
        c.pieces.insert((None, 2), piece(3));
        assert_eq!(check(&c), Ok(23));
        c.pieces.remove(&(None, 1));
        assert!(check(&c).unwrap_err().contains("position(s) 1"));
        c.pieces.insert((None, 1), piece(7));
        assert!(check(&c).unwrap_err().contains("position 1 holds 7"));

        let mut m = Content::default();
        m.pieces.insert((Some(1), 0), piece(10));
        m.pieces.insert((Some(2), 1), piece(10));
        assert!(check(&m).unwrap_err().contains("part 2: no copy"));
        m.pieces.insert((Some(2), 0), piece(10));
        assert_eq!(check(&m), Ok(30));
        m.pieces.insert((None, 0), piece(1));
        assert!(check(&m).is_err());
    }

    /// Writes a chunk file `[data][footer][len][magic]` with the given footer JSON.
    fn chunk_file(dir: &Path, id: &str, data: &[u8], footer: &str) {
        let mut file = data.to_vec();
        file.extend_from_slice(footer.as_bytes());
        file.extend_from_slice(&(footer.len() as u32).to_le_bytes());
        file.extend_from_slice(chunkd::chunkfile::MAGIC);
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join(id), file).unwrap();
    }

    fn footer(position: &str, data: &[u8], pieces: bool) -> String {
        let hash = blake3::hash(data).to_hex().to_string();
        let extra = if pieces { r#","pieces":"x""# } else { "" };
        format!(
            r#"{{"account":"acc","container":"box","key":"k/ü","version":"null","content_id":"c1","position":"{position}","policy":"R2","size":{},"hash":"{hash}","mtime_ms":5{extra}}}"#,
            data.len()
        )
    }

    /// A volume with a chunk written before `pieces` existed, a current one, copies in the
    /// set-aside directories (never read) and a corrupt file: one complete object, whose
    /// record has the right ETag, offsets and copies.
    #[tokio::test]
    async fn scans_a_volume_and_builds_the_record() {
        let vol = tempfile::tempdir().unwrap();
        let root = vol.path();
        std::fs::write(root.join("service-id"), "svc-1\n").unwrap();
        let (a, b) = (vec![1u8; 100], vec![2u8; 40]);
        let id_a = format!("abc{}", "0".repeat(61));
        let id_b = format!("abd{}", "1".repeat(61));
        chunk_file(&root.join("abc"), &id_a, &a, &footer("0", &a, false));
        chunk_file(&root.join("abd"), &id_b, &b, &footer("1", &b, true));
        // Set aside: a third position that must not be seen.
        let c = vec![3u8; 10];
        let id_c = format!("abe{}", "2".repeat(61));
        for dir in ["quarantine", "orphans", "tmp"] {
            chunk_file(&root.join(dir), &id_c, &c, &footer("2", &c, false));
        }
        chunk_file(
            &root.join("abf"),
            &format!("abf{}", "3".repeat(61)),
            b"xx",
            "{",
        );

        let text = run(None, &[root.to_path_buf()], true).await.unwrap();
        let report: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(report["chunks_read"], 2, "{report}");
        assert_eq!(report["chunks_unreadable"], 1, "{report}");
        assert_eq!(report["recovered"], 1, "{report}");
        assert_eq!(report["bytes_covered"], 140, "{report}");

        let dirs = vec![VolumeDir {
            root: root.to_path_buf(),
            service: "svc-1".into(),
        }];
        let mut objects = BTreeMap::new();
        let mut scan = Report::default();
        scan_volume(0, root, &mut objects, &mut scan).unwrap();
        let content = &objects[&("acc".into(), "box".into(), "k/ü".into())]["c1"];
        let rec = build_record(&dirs, "k/ü", "c1", content, &mut scan).unwrap();
        let mut body = a.clone();
        body.extend_from_slice(&b);
        assert_eq!(rec.etag, hex::encode(Md5::digest(&body)));
        assert_eq!((rec.size, rec.mtime_ms, rec.parts.len()), (140, 5, 0));
        assert_eq!(rec.chunks[1].offset, 100);
        assert_eq!(rec.chunks[1].copies[0].chunk_id, id_b);
        assert_eq!(rec.chunks[1].copies[0].service, "svc-1");

        // A copy whose bytes no longer match its footer is not used.
        let mut bad = b.clone();
        bad[0] ^= 1;
        chunk_file(&root.join("abd"), &id_b, &bad, &footer("1", &b, true));
        let err = build_record(&dirs, "k/ü", "c1", content, &mut scan).unwrap_err();
        assert!(err.contains("position 1"), "{err}");
    }
}
