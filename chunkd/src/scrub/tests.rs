//! The walker, the verifier, quarantine and the state file, on real files in a temp dir.

use super::*;
use crate::wire::ChunkMeta;

const MIB: usize = 1024 * 1024;

fn bytes(seed: u64, len: usize) -> Vec<u8> {
    use rand::{RngCore, SeedableRng};
    let mut v = vec![0u8; len];
    rand::rngs::StdRng::seed_from_u64(seed).fill_bytes(&mut v);
    v
}

/// Stores `data` as chunk `id` the way the server does: data, then the footer with its hash
/// and piece hashes.
fn store(volume: &Volume, id: &str, data: &[u8]) {
    let mut hasher = PieceHasher::new();
    hasher.update(data);
    let hashed = hasher.finish();
    let meta = ChunkMeta {
        account: "a".into(),
        container: "c".into(),
        key: "k".into(),
        version: "null".into(),
        content_id: "00".into(),
        position: "0".into(),
        policy: "THREECOPIES".into(),
        size: data.len() as u64,
        hash: hashed.hash.to_hex().to_string(),
        mtime_ms: 1,
        pieces: (!hashed.pieces.cvs.is_empty()).then(|| hashed.pieces.encode()),
    };
    let mut chunk = volume.create(id).unwrap();
    chunk.file().write_all(data).unwrap();
    chunk
        .file()
        .write_all(&chunkfile::encode_footer(&meta).unwrap())
        .unwrap();
    chunk.file().sync_all().unwrap();
    volume.commit(chunk, id).unwrap();
}

/// Flips one byte of a file at `at` (from the end when negative).
fn flip(path: &Path, at: i64) {
    let mut file = fs::read(path).unwrap();
    let i = if at < 0 {
        file.len() - at.unsigned_abs() as usize
    } else {
        at as usize
    };
    file[i] ^= 0x5a;
    fs::write(path, &file).unwrap();
}

fn check(path: &Path) -> Outcome {
    // A small buffer: chunks larger than it are read in many blocks.
    let mut buf = vec![0u8; 64 * 1024];
    verify_chunk(
        path,
        Duration::ZERO,
        SystemTime::now(),
        &mut buf,
        &mut |_| true,
    )
}

fn reason(outcome: Outcome) -> String {
    match outcome {
        Outcome::Bad { reason, .. } => reason,
        other => panic!("expected a bad chunk, got {other:?}"),
    }
}

#[test]
fn verifier_finds_flipped_bytes_in_data_and_footer() {
    let dir = tempfile::tempdir().unwrap();
    let v = Volume::open(dir.path()).unwrap();
    let cases = [0, 1, 4096, MIB, 3 * MIB + 5];
    let mut ids = Vec::new();
    for (i, len) in cases.iter().enumerate() {
        let id = crate::new_chunk_id();
        store(&v, &id, &bytes(i as u64, *len));
        let path = v.chunk_path(&id);
        let file_len = fs::metadata(&path).unwrap().len();
        match check(&path) {
            Outcome::Good { bytes } => assert_eq!(bytes, file_len, "len {len}"),
            other => panic!("len {len}: {other:?}"),
        }
        ids.push(id);
    }
    // A byte of the data: named by its piece when the chunk has pieces.
    let big = v.chunk_path(&ids[4]);
    flip(&big, 2 * MIB as i64 + 9);
    let why = reason(check(&big));
    assert!(why.contains("does not match the footer"), "{why}");
    assert!(
        why.contains("bad pieces: 2 (bytes 2097152..3145728)"),
        "{why}"
    );
    let small = v.chunk_path(&ids[2]);
    flip(&small, 4095);
    assert!(reason(check(&small)).contains("does not match the footer"));
    // The footer: its magic, its JSON, its hash.
    let one = v.chunk_path(&ids[1]);
    flip(&one, -1);
    assert!(reason(check(&one)).contains("bad footer"));
    let mib = v.chunk_path(&ids[3]);
    let file = fs::read(&mib).unwrap();
    let hash_at = file.windows(8).position(|w| w == b"\"hash\":\"").unwrap() + 8;
    flip(&mib, hash_at as i64);
    assert!(reason(check(&mib)).contains("hash"));
    // A truncated file.
    let empty = v.chunk_path(&ids[0]);
    fs::write(&empty, b"SPRDCHK1").unwrap();
    assert!(reason(check(&empty)).contains("bad footer"));
    // Missing, young, stopped.
    assert!(matches!(check(&dir.path().join("nothing")), Outcome::Gone));
    let id = crate::new_chunk_id();
    store(&v, &id, b"fresh");
    let mut buf = vec![0u8; 1024];
    let young = verify_chunk(
        &v.chunk_path(&id),
        Duration::from_secs(3600),
        SystemTime::now(),
        &mut buf,
        &mut |_| true,
    );
    assert!(matches!(young, Outcome::Young), "{young:?}");
    let stopped = verify_chunk(
        &v.chunk_path(&id),
        Duration::ZERO,
        SystemTime::now(),
        &mut buf,
        &mut |_| false,
    );
    assert!(matches!(stopped, Outcome::Stopped), "{stopped:?}");
}

/// Footer piece hashes that do not match the data make the chunk bad even when the chunk
/// hash is right (a reader checking pieces would refuse every copy read from it).
#[test]
fn wrong_piece_hashes_in_the_footer_are_bad() {
    let dir = tempfile::tempdir().unwrap();
    let v = Volume::open(dir.path()).unwrap();
    let id = crate::new_chunk_id();
    store(&v, &id, &bytes(3, 2 * MIB + 1));
    let path = v.chunk_path(&id);
    let mut file = fs::read(&path).unwrap();
    let at = file
        .windows(11)
        .position(|w| w == b"\"pieces\":\"1")
        .unwrap();
    // The first digit of the first chaining value.
    let cv_at = at + file[at..].iter().position(|b| *b == b' ').unwrap() + 1;
    file[cv_at] = if file[cv_at] == b'0' { b'1' } else { b'0' };
    fs::write(&path, &file).unwrap();
    assert!(reason(check(&path)).contains("piece hashes"));
}

#[test]
fn state_file_round_trips_and_bad_ones_are_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let fresh = StateFile::load(root);
    assert_eq!(fresh.version, STATE_VERSION);
    assert_eq!((fresh.current.clone(), fresh.last.clone()), (None, None));
    let cursor = crate::new_chunk_id();
    let state = StateFile {
        version: STATE_VERSION,
        current: Some(PassRecord {
            number: 3,
            started_ms: 10,
            ended_ms: None,
            cursor: Some(cursor.clone()),
            counters: PassCounters {
                chunks: 5,
                bytes: 500,
                bad: 1,
                skipped: 2,
                errors: 0,
            },
        }),
        last: Some(PassRecord {
            number: 2,
            started_ms: 1,
            ended_ms: Some(2),
            ..PassRecord::default()
        }),
    };
    state.save(root).unwrap();
    assert!(!root.join(format!("{STATE_FILE}.tmp")).exists());
    assert_eq!(StateFile::load(root), state);
    let text = fs::read_to_string(root.join(STATE_FILE)).unwrap();
    assert!(text.contains("\"version\": 1"), "{text}");
    assert!(text.contains(&cursor), "{text}");

    for bad in [
        "{".to_string(),
        text.replace("\"version\": 1", "\"version\": 2"),
    ] {
        fs::write(root.join(STATE_FILE), bad).unwrap();
        assert_eq!(StateFile::load(root), fresh);
    }
    fs::write(root.join(STATE_FILE), text.replace(&cursor, "nope")).unwrap();
    let loaded = StateFile::load(root);
    let current = loaded.current.unwrap();
    assert_eq!((current.number, current.cursor), (3, None));
}

#[test]
fn pacer_keeps_to_the_rate_without_bursting_after_a_pause() {
    let mut p = Pacer::new(10 * MIB as u64);
    let wait = p.charge(MIB as u64);
    assert!(
        wait > Duration::from_millis(80) && wait <= Duration::from_millis(100),
        "{wait:?}"
    );
    // Fell far behind (as if the disk were slow): no catching up.
    let mut p = Pacer::new(10 * MIB as u64);
    p.start -= Duration::from_secs(5);
    assert_eq!(p.charge(1), Duration::ZERO);
    assert!(p.charge(MIB as u64) > Duration::from_millis(80));
}

fn scrubber(dir: &Path, interval: Option<Duration>) -> Scrubber {
    let volume = Arc::new(Volume::open(dir).unwrap());
    Scrubber::open(
        volume,
        Settings {
            bytes_per_sec: 1024 * MIB as u64,
            interval,
            grace: Duration::ZERO,
        },
    )
}

/// Sorted ids of `n` chunks of a few KiB stored on the volume.
fn fill(volume: &Volume, n: usize) -> Vec<String> {
    let mut ids: Vec<String> = (0..n).map(|_| crate::new_chunk_id()).collect();
    for (i, id) in ids.iter().enumerate() {
        store(volume, id, &bytes(i as u64, 1000 + i * 37));
    }
    ids.sort();
    ids
}

#[test]
fn a_pass_checks_every_chunk_and_quarantines_the_bad_one() {
    let dir = tempfile::tempdir().unwrap();
    let s = scrubber(dir.path(), Some(Duration::from_secs(86_400)));
    let ids = fill(&s.volume, 40);
    let bad = &ids[17];
    flip(&s.volume.chunk_path(bad), 3);
    // A temp file and a stray file are no chunks.
    fs::write(dir.path().join("tmp").join(format!("{}.x", ids[0])), b"x").unwrap();
    fs::write(dir.path().join("abc").join("README"), b"x").unwrap();
    assert_eq!(
        s.wait_for_next(),
        Some(Duration::ZERO),
        "first pass at once"
    );

    assert!(s.run_pass());
    let st = s.status();
    let last = st.last.clone().unwrap();
    assert_eq!((last.number, last.cursor.clone()), (1, None));
    assert!(last.ended_ms.unwrap() >= last.started_ms);
    assert_eq!((last.counters.chunks, last.counters.bad), (40, 1));
    assert_eq!((last.counters.skipped, last.counters.errors), (0, 0));
    assert_eq!(st.totals, last.counters);
    assert_eq!(
        (st.quarantined, st.running, st.current.clone()),
        (1, false, None)
    );
    assert!(!s.volume.chunk_path(bad).exists());
    assert_eq!(s.volume.chunk_count(), 39);
    let q = s.volume.quarantined().unwrap();
    let record = q[0].1.clone().unwrap();
    assert_eq!((&record.chunk_id, record.found_by.as_str()), (bad, "scrub"));
    assert!(
        record.reason.contains("does not match"),
        "{}",
        record.reason
    );
    // The next pass is due a day after this one started.
    let wait = s.wait_for_next().unwrap();
    assert!(wait > Duration::from_secs(86_000), "{wait:?}");
    assert_eq!(StateFile::load(dir.path()).last, Some(last));

    // A second pass finds the rest sound.
    assert_eq!(s.request_pass().unwrap(), 2);
    assert_eq!(s.wait_for_next(), Some(Duration::ZERO));
    assert!(s.run_pass());
    let last = s.status().last.unwrap();
    assert_eq!(
        (last.number, last.counters.chunks, last.counters.bad),
        (2, 39, 0)
    );
    assert_eq!(s.status().totals.chunks, 79);
}

#[test]
fn a_pass_resumes_after_its_cursor_and_a_stopped_pass_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let ids = {
        let v = Volume::open(dir.path()).unwrap();
        fill(&v, 30)
    };
    // An interrupted pass: 12 chunks done, one of them bad.
    StateFile {
        version: STATE_VERSION,
        current: Some(PassRecord {
            number: 4,
            started_ms: 1000,
            ended_ms: None,
            cursor: Some(ids[11].clone()),
            counters: PassCounters {
                chunks: 12,
                bytes: 1,
                bad: 1,
                ..PassCounters::default()
            },
        }),
        last: None,
    }
    .save(dir.path())
    .unwrap();
    // A chunk behind the cursor is bad: this pass does not see it; one ahead is.
    flip(&dir.path().join(&ids[3][..3]).join(&ids[3]), 0);
    flip(&dir.path().join(&ids[20][..3]).join(&ids[20]), 0);
    let s = scrubber(dir.path(), None);
    assert_eq!(s.wait_for_next(), Some(Duration::ZERO), "resumes at once");
    let progress = s.status().progress.unwrap();
    assert!((0.0..=1.0).contains(&progress));
    assert!(s.run_pass());
    let last = s.status().last.unwrap();
    assert_eq!((last.number, last.started_ms), (4, 1000));
    assert_eq!((last.counters.chunks, last.counters.bad), (30, 2));
    assert!(dir.path().join(&ids[3][..3]).join(&ids[3]).exists());
    assert!(!dir.path().join(&ids[20][..3]).join(&ids[20]).exists());
    // No interval: the next pass only when asked.
    assert_eq!(s.wait_for_next(), None);

    // Stopped from the start: the pass is kept as under way, and resumed next time.
    assert_eq!(s.request_pass().unwrap(), 5);
    s.stop.store(true, Ordering::Relaxed);
    assert!(!s.run_pass());
    let saved = StateFile::load(dir.path());
    assert_eq!(saved.current.map(|c| c.number), Some(5));
    let s = scrubber(dir.path(), None);
    assert_eq!(s.wait_for_next(), Some(Duration::ZERO));
    assert!(s.run_pass());
    let last = s.status().last.unwrap();
    assert_eq!(
        (last.number, last.counters.chunks, last.counters.bad),
        (5, 29, 1)
    );
}

#[test]
fn young_chunks_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let volume = Arc::new(Volume::open(dir.path()).unwrap());
    fill(&volume, 5);
    let s = Scrubber::open(
        volume,
        Settings {
            bytes_per_sec: 1024 * MIB as u64,
            interval: None,
            grace: Duration::from_secs(3600),
        },
    );
    assert!(s.run_pass());
    let c = s.status().last.unwrap().counters;
    assert_eq!((c.chunks, c.skipped), (0, 5));
}

/// The task: no pass until asked (no interval), a pass when asked, a scrubber that is off
/// refuses to be asked.
#[tokio::test]
async fn the_task_runs_a_pass_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let s = Arc::new(scrubber(dir.path(), None));
    fill(&s.volume, 3);
    let task = tokio::spawn(s.clone().run());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(s.status().last, None);
    let n = s.request_pass().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while s.status().last.map(|l| l.number) != Some(n) {
        assert!(Instant::now() < deadline, "no pass within 10 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(s.status().last.unwrap().counters.chunks, 3);
    task.abort();
    let _ = task.await;
    assert!(
        s.stop.load(Ordering::Relaxed),
        "dropping the task stops passes"
    );

    let off = Scrubber::open(
        s.volume.clone(),
        Settings {
            bytes_per_sec: 0,
            interval: None,
            grace: Duration::ZERO,
        },
    );
    assert!(off.request_pass().is_err());
    assert!(!off.status().enabled);
}
