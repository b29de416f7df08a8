//! The chunk servers' scrubber, on a real `spread dev` cluster: a byte flipped in one copy of
//! a chunk on disk is found by a pass asked for with `spread admin chunkd scrub`, the file is
//! moved to the volume's `quarantine/` (with a record of why), the status counts it, and the
//! object still reads back right from the other copies; a pass over many small chunks finds
//! nothing, and the passes keep to `scrub_mib_per_sec`.
//!
//! Size: `SPREAD_TEST_SCALE=ci` (default, small) or `full`. Needs the `spread` binary
//! (`cargo build --release -p spread`, or `SPREAD_BIN`).

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use conformance::cluster::{Cluster, DevOptions};
use conformance::random_bytes;
use serde_json::Value;

const MIB: usize = 1024 * 1024;
/// Longest wait for one asked-for pass.
const PASS_TIMEOUT: Duration = Duration::from_secs(120);

fn full_scale() -> bool {
    std::env::var("SPREAD_TEST_SCALE").is_ok_and(|s| s == "full")
}

/// A cluster whose scrubbers check chunks at once (no grace) and only when asked.
fn start(mib_per_sec: u64, chunk_size: usize) -> Cluster {
    Cluster::start_with(DevOptions {
        chunk_size: Some(chunk_size as u64),
        scrub_mib_per_sec: Some(mib_per_sec),
        scrub_interval_days: Some(0),
        scrub_grace_secs: Some(0),
        ..DevOptions::default()
    })
}

/// `spread admin chunkd ARGS... --json`, parsed.
#[track_caller]
fn admin_json(cluster: &Cluster, args: &[&str]) -> Value {
    let mut all = vec!["chunkd"];
    all.extend_from_slice(args);
    all.push("--json");
    let out = cluster.admin_ok(&all);
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{all:?}: {e}: {out}"))
}

fn num(v: &Value, path: &[&str]) -> u64 {
    let mut at = v;
    for key in path {
        at = &at[*key];
    }
    at.as_u64()
        .unwrap_or_else(|| panic!("no number at {path:?} in {v:#}"))
}

/// Asks chunk server `i` for a pass and waits (bounded) until it is done; returns its status
/// and how long the pass took, as the status says.
fn scrub(cluster: &Cluster, i: usize) -> (Value, Duration) {
    let addr = cluster.info.chunkd[i].addr.clone();
    let asked = num(&admin_json(cluster, &["scrub", &addr]), &["requested"]);
    let waited = Instant::now();
    loop {
        let status = admin_json(cluster, &["scrub-status", &addr]);
        if status["last"]["number"]
            .as_u64()
            .is_some_and(|n| n >= asked)
        {
            let took = num(&status, &["last", "ended_ms"]) - num(&status, &["last", "started_ms"]);
            return (status, Duration::from_millis(took));
        }
        assert!(
            waited.elapsed() < PASS_TIMEOUT,
            "pass {asked} of chunkd-{i} not done within {PASS_TIMEOUT:?}: {status:#}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The chunk files (named by a 64-hex-digit id) in the prefix directories of a volume.
fn chunk_files(volume: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in fs::read_dir(volume).expect("volume").flatten() {
        let name = dir.file_name();
        if name.len() != 3 || !dir.path().is_dir() {
            continue;
        }
        for f in fs::read_dir(dir.path()).expect("prefix dir").flatten() {
            if f.file_name().len() == 64 {
                out.push(f.path());
            }
        }
    }
    out
}

fn quarantine(volume: &Path) -> Vec<String> {
    let mut names: Vec<String> = match fs::read_dir(volume.join("quarantine")) {
        Ok(d) => d
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    names
}

/// Pass figures: MiB/s over the pass time.
fn rate(status: &Value, took: Duration) -> f64 {
    num(status, &["last", "bytes"]) as f64 / MIB as f64 / took.as_secs_f64().max(1e-3)
}

#[tokio::test]
async fn a_flipped_byte_is_found_quarantined_and_read_around() {
    // Enough data that each pass lasts a few seconds at the rate set, so the rate shows.
    let (rate_limit, objects, size) = if full_scale() {
        (50, 40, 5 * MIB + 17)
    } else {
        (10, 12, 2 * MIB + 17)
    };
    let cluster = start(rate_limit, MIB);
    let objects: Vec<(String, Vec<u8>)> = (0..objects)
        .map(|i| (format!("obj-{i}"), random_bytes(i as u64, size - i * 1000)))
        .collect();
    cluster.put_all("scrub", &objects).await;

    // A byte of the data of one copy of chunk 1 of obj-3, before any read of it.
    let loc = cluster.locate("scrub", "obj-3");
    let copy = loc.chunks[1].copies[0].clone();
    let bad_server = cluster
        .chunkd_index(&copy.addr)
        .expect("a server of the cluster");
    let path = cluster.chunk_file(&copy);
    let mut file = fs::read(&path).expect("chunk file");
    file[1234] ^= 0x20;
    fs::write(&path, &file).expect("write chunk file");
    let volume = cluster.info.chunkd[bad_server].volume.clone();
    let on_disk = chunk_files(&volume).len() as u64;

    let (status, took) = scrub(&cluster, bad_server);
    let measured = rate(&status, took);
    println!(
        "chunkd-{bad_server}: pass over {} chunks, {:.1} MiB in {took:?}: {measured:.1} MiB/s (limit {rate_limit})",
        num(&status, &["last", "chunks"]),
        num(&status, &["last", "bytes"]) as f64 / MIB as f64,
    );
    assert_eq!(num(&status, &["last", "chunks"]), on_disk, "{status:#}");
    assert_eq!(num(&status, &["last", "bad"]), 1, "{status:#}");
    assert_eq!(num(&status, &["last", "errors"]), 0, "{status:#}");
    assert_eq!(num(&status, &["quarantined"]), 1, "{status:#}");
    assert!(
        measured <= rate_limit as f64 * 1.25,
        "the pass read {measured:.1} MiB/s, above its limit of {rate_limit}"
    );
    assert!(!path.exists(), "the bad copy is still in place");
    let q = quarantine(&volume);
    assert_eq!(q.len(), 2, "the file and its record: {q:?}");
    assert!(
        q[0].starts_with(&copy.chunk_id) && q[1].ends_with(".json"),
        "{q:?}"
    );
    let kept = fs::read(volume.join("quarantine").join(&q[0])).expect("quarantined file");
    assert!(
        kept == file,
        "the quarantined file is the bad copy, as it was"
    );
    let record: Value =
        serde_json::from_slice(&fs::read(volume.join("quarantine").join(&q[1])).expect("record"))
            .expect("record JSON");
    assert_eq!(record["chunk_id"], copy.chunk_id.as_str());
    assert_eq!(record["found_by"], "scrub");
    assert!(
        record["reason"]
            .as_str()
            .is_some_and(|r| r.contains("does not match")),
        "{record:#}"
    );

    // Every object reads back right, the one with the bad copy from its other copies.
    cluster.get_all("scrub", &objects).await;
    // The other servers' copies are sound.
    for i in (0..cluster.info.chunkd.len()).filter(|i| *i != bad_server) {
        let (status, took) = scrub(&cluster, i);
        println!(
            "chunkd-{i}: clean pass over {} chunks in {took:?}: {:.1} MiB/s",
            num(&status, &["last", "chunks"]),
            rate(&status, took)
        );
        assert_eq!(num(&status, &["last", "bad"]), 0, "{status:#}");
        assert_eq!(num(&status, &["quarantined"]), 0, "{status:#}");
    }
    // A second pass on the first server: nothing more.
    let (status, _) = scrub(&cluster, bad_server);
    assert_eq!(num(&status, &["last", "bad"]), 0, "{status:#}");
    assert_eq!(num(&status, &["last", "chunks"]), on_disk - 1, "{status:#}");
    assert_eq!(num(&status, &["totals", "bad"]), 1, "{status:#}");
    let text = cluster.admin_ok(&[
        "chunkd",
        "scrub-status",
        &cluster.info.chunkd[bad_server].addr,
    ]);
    assert!(text.contains("quarantined chunk files: 1"), "{text}");
}

#[tokio::test]
async fn a_clean_pass_over_many_small_chunks_finds_nothing() {
    let count = if full_scale() { 3000 } else { 300 };
    let cluster = start(200, MIB);
    let objects: Vec<(String, Vec<u8>)> = (0..count)
        .map(|i| {
            let len = 1 + (i * 7919) % (48 * 1024);
            (format!("small/{i:05}"), random_bytes(1000 + i as u64, len))
        })
        .collect();
    cluster.put_all("many", &objects).await;
    for i in 0..cluster.info.chunkd.len() {
        let volume = cluster.info.chunkd[i].volume.clone();
        let on_disk = chunk_files(&volume).len() as u64;
        assert!(
            on_disk >= count as u64,
            "chunkd-{i} holds {on_disk} chunk files"
        );
        let (status, took) = scrub(&cluster, i);
        let chunks = num(&status, &["last", "chunks"]);
        println!(
            "chunkd-{i}: clean pass over {chunks} small chunks in {took:?} ({:.0} chunks/s)",
            chunks as f64 / took.as_secs_f64().max(1e-3)
        );
        assert_eq!(chunks, on_disk, "{status:#}");
        for counter in ["bad", "errors", "skipped"] {
            assert_eq!(num(&status, &["last", counter]), 0, "{counter}: {status:#}");
        }
        assert!(quarantine(&volume).is_empty());
    }
    cluster.get_all("many", &objects[..20]).await;
}

/// A pass under way when the cluster is stopped (SIGTERM) resumes after the restart from the
/// last chunk it had checked: same pass number and start, and every chunk counted once.
#[tokio::test]
async fn a_pass_interrupted_by_a_restart_resumes_where_it_was() {
    let (rate_limit, objects, size) = if full_scale() {
        (8, 20, 4 * MIB)
    } else {
        (4, 8, 3 * MIB)
    };
    let mut cluster = start(rate_limit, MIB);
    let objects: Vec<(String, Vec<u8>)> = (0..objects)
        .map(|i| (format!("obj-{i}"), random_bytes(100 + i as u64, size)))
        .collect();
    cluster.put_all("resume", &objects).await;
    let addr = cluster.info.chunkd[0].addr.clone();
    let on_disk = chunk_files(&cluster.info.chunkd[0].volume).len() as u64;
    let asked = num(&admin_json(&cluster, &["scrub", &addr]), &["requested"]);
    // Wait until the pass is a few chunks in and its state file says so (written at least
    // every 10 s, and when the server stops).
    let waited = Instant::now();
    let before = loop {
        let status = admin_json(&cluster, &["scrub-status", &addr]);
        if status["current"]["chunks"].as_u64().is_some_and(|c| c >= 3) {
            break status;
        }
        assert!(
            waited.elapsed() < PASS_TIMEOUT,
            "the pass did not get going: {status:#}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let started_ms = num(&before, &["current", "started_ms"]);
    assert_eq!(num(&before, &["current", "number"]), asked);
    assert!(
        num(&before, &["current", "chunks"]) < on_disk,
        "the pass ended before the restart ({on_disk} chunks): make it slower"
    );
    cluster.restart();
    let after = admin_json(&cluster, &["scrub-status", &addr]);
    let kept = num(&after, &["current", "chunks"]);
    println!(
        "before the restart: {} of {on_disk} chunks checked; after: {kept} kept",
        num(&before, &["current", "chunks"])
    );
    assert_eq!(num(&after, &["current", "number"]), asked, "{after:#}");
    assert_eq!(num(&after, &["current", "started_ms"]), started_ms);
    assert!(kept >= num(&before, &["current", "chunks"]), "{after:#}");
    // The resumed pass goes on at once when another is asked for (else 30 s after the start).
    let next = num(&admin_json(&cluster, &["scrub", &addr]), &["requested"]);
    assert_eq!(next, asked + 1);
    let waited = Instant::now();
    let last = loop {
        let status = admin_json(&cluster, &["scrub-status", &addr]);
        if status["last"]["number"].as_u64() == Some(asked) {
            break status["last"].clone();
        }
        assert!(
            waited.elapsed() < PASS_TIMEOUT,
            "the resumed pass did not finish: {status:#}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    println!(
        "resumed pass {asked}: {} chunks, {} ms from its first start",
        num(&last, &["chunks"]),
        num(&last, &["ended_ms"]) - started_ms
    );
    assert_eq!(num(&last, &["started_ms"]), started_ms, "{last:#}");
    assert_eq!(
        num(&last, &["chunks"]),
        on_disk,
        "each chunk once: {last:#}"
    );
    assert_eq!(num(&last, &["bad"]), 0, "{last:#}");
    let state: Value = serde_json::from_slice(
        &fs::read(cluster.info.chunkd[0].volume.join("scrub-state.json")).expect("state file"),
    )
    .expect("state JSON");
    assert_eq!(state["version"], 1, "{state:#}");
    cluster.get_all("resume", &objects[..2]).await;
}
