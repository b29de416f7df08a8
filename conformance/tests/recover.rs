//! Directory recovery from the chunks (`spread admin recover --volumes ...`) on a real
//! `spread dev` cluster: objects of every kind (small, several chunks, multipart, non-ASCII
//! keys, overwritten keys, two buckets) are written, the cluster is stopped, meta's data
//! directory is wiped, the cluster restarts with an empty directory, and recovery from the
//! chunk volumes brings every object back byte-identical with its size and ETag, in listings
//! too. An object whose chunk lost every copy is reported incomplete and not written; a
//! second run adds nothing; `--dry-run` writes nothing.
//!
//! Size: `SPREAD_TEST_SCALE=ci` (default: about 24 MiB in 256 KiB chunks) or `full` (about
//! 256 MiB). Prints the measured rate in chunks/s. Needs the `spread` binary
//! (`cargo build --release -p spread`, or `SPREAD_BIN`).

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;

use conformance::cluster::{Cluster, DevOptions};
use conformance::{md5_hex, random_bytes};
use serde_json::Value;

const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;
const CHUNK: usize = 256 * KIB;
const BUCKETS: [&str; 2] = ["recover-photos", "recover-docs"];
const OTHER: &str = "recover-other";
const OTHER_BUCKET: &str = "recover-others-bucket";

fn total_bytes() -> usize {
    match std::env::var("SPREAD_TEST_SCALE").as_deref() {
        Ok("full") => 256 * MIB,
        _ => 24 * MIB,
    }
}

fn unquote(etag: &str) -> String {
    etag.trim().trim_matches('"').to_string()
}

/// Runs `spread admin recover --volumes ... --json [extra]` and parses its report.
#[track_caller]
fn recover(cluster: &Cluster, volumes: &[PathBuf], extra: &[&str]) -> Value {
    let mut args: Vec<String> = vec!["recover".into(), "--json".into(), "--volumes".into()];
    args.extend(volumes.iter().map(|v| v.display().to_string()));
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = cluster.admin_ok(&args);
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("recover report: {e}: {out}"))
}

fn count(report: &Value, field: &str) -> u64 {
    report[field]
        .as_u64()
        .unwrap_or_else(|| panic!("report has no {field}: {report}"))
}

#[tokio::test]
async fn recover_rebuilds_the_directory_from_the_chunk_footers() {
    let mut cluster = Cluster::start_with(DevOptions {
        chunkd: 3,
        replicas: 2,
        chunk_size: Some(CHUNK as u64),
        // Overwritten contents stay on disk until recovery: the newest must win.
        gc_grace_secs: Some(3600),
        ..DevOptions::default()
    });
    let s3 = cluster.s3();
    for b in BUCKETS {
        s3.create_bucket(b).await.expect_status(200, "CreateBucket");
    }

    // (bucket, key) → the bytes the object must hold.
    let mut want: BTreeMap<(String, String), Vec<u8>> = BTreeMap::new();
    let named: Vec<(&str, String, usize)> = vec![
        (BUCKETS[0], "small/one".into(), 1_000),
        (BUCKETS[0], "small/two".into(), 17),
        (BUCKETS[0], "fotos/été/ünïcödé.bin".into(), 3 * CHUNK + 11),
        (BUCKETS[1], "日本語/ファイル 😀".into(), CHUNK),
        (BUCKETS[1], "exact/two-chunks".into(), 2 * CHUNK),
        (BUCKETS[1], "spaces and %41 plus+".into(), CHUNK + 1),
    ];
    let mut seed = 1;
    for (bucket, key, size) in named {
        want.insert((bucket.into(), key), random_bytes(seed, size));
        seed += 1;
    }
    // Overwritten keys: the first content stays on disk (GC grace), the second is current.
    for (bucket, key, first, second) in [
        (BUCKETS[0], "over/grow", 1_000, 2 * CHUNK + 5),
        (BUCKETS[1], "over/shrink", 3 * CHUNK, 300),
    ] {
        s3.put_object(bucket, key, random_bytes(seed, first))
            .await
            .expect_status(200, "first PUT");
        seed += 1;
        want.insert((bucket.into(), key.into()), random_bytes(seed, second));
        seed += 1;
    }
    // Fill up to the scale with objects of mixed sizes in both buckets.
    let sizes = [3 * KIB, CHUNK - 1, 4 * CHUNK + 3, MIB + 7];
    let mut sum: usize = want.values().map(Vec::len).sum();
    let mut i = 0;
    while sum < total_bytes() {
        let size = sizes[i % sizes.len()];
        want.insert(
            (BUCKETS[i % 2].into(), format!("fill/{i:05}")),
            random_bytes(1000 + i as u64, size),
        );
        sum += size;
        i += 1;
    }
    for ((bucket, key), data) in &want {
        s3.put_object(bucket, key, data.clone())
            .await
            .expect_status(200, &format!("PUT {key}"));
    }

    // A multipart object of three parts (5 MiB, 5 MiB, 1 MiB + 3).
    let mp_key = "multi/part ü";
    let (resp, upload) = s3.create_multipart_upload(BUCKETS[0], mp_key, &[]).await;
    resp.expect_status(200, "CreateMultipartUpload");
    let upload = upload.expect("UploadId");
    let mut mp_body = Vec::new();
    let mut etags = Vec::new();
    for (n, size) in [(1u32, 5 * MIB), (2, 5 * MIB), (3, MIB + 3)] {
        let part = random_bytes(500 + u64::from(n), size);
        let resp = s3
            .upload_part(BUCKETS[0], mp_key, &upload, n, part.clone())
            .await;
        resp.expect_status(200, "UploadPart");
        etags.push((n, resp.etag().expect("part ETag").to_string()));
        mp_body.extend_from_slice(&part);
    }
    s3.complete_multipart_upload(BUCKETS[0], mp_key, &upload, &etags)
        .await
        .expect_status(200, "CompleteMultipartUpload");
    want.insert((BUCKETS[0].into(), mp_key.into()), mp_body);

    // A second account with a bucket of its own: recovery must create the account too.
    let other_keys = ("RECOVEROTHERKEY0001", "recover-other-secret-key-0001");
    cluster.admin_ok(&["account", "create", OTHER]);
    cluster.admin_ok(&[
        "key",
        "create",
        OTHER,
        "--access-key",
        other_keys.0,
        "--secret-key",
        other_keys.1,
    ]);
    let other = s3.with_credentials(other_keys.0, other_keys.1);
    other
        .create_bucket(OTHER_BUCKET)
        .await
        .expect_status(200, "CreateBucket (other account)");
    let other_body = random_bytes(77, 2 * CHUNK + 9);
    other
        .put_object(OTHER_BUCKET, "theirs", other_body.clone())
        .await
        .expect_status(200, "PUT (other account)");

    // The victim: every copy of its second chunk is deleted before recovery.
    let victim = "victim/three-chunks";
    s3.put_object(BUCKETS[1], victim, random_bytes(99, 3 * CHUNK))
        .await
        .expect_status(200, "PUT victim");
    let located = cluster.locate(BUCKETS[1], victim);
    let lost: Vec<PathBuf> = located.chunks[1]
        .copies
        .iter()
        .map(|c| cluster.chunk_file(c))
        .collect();
    assert_eq!(lost.len(), 2, "two copies of the victim's chunk 1");

    // What the listings say before the loss (the victim aside).
    let mut before: BTreeMap<(String, String), (u64, String)> = BTreeMap::new();
    for b in BUCKETS {
        for e in s3.list_all(b, "").await {
            if e.key != victim {
                before.insert((b.to_string(), e.key), (e.size, unquote(&e.etag)));
            }
        }
    }
    assert_eq!(
        before.len(),
        want.len(),
        "every object listed before the loss"
    );
    let multipart_etag = &before[&(BUCKETS[0].to_string(), mp_key.to_string())].1;
    assert!(
        multipart_etag.ends_with("-3"),
        "multipart ETag {multipart_etag}"
    );

    // Every meta copy lost: stop, wipe meta's data, delete the victim's chunk, restart empty.
    cluster.stop();
    let meta_dirs: Vec<PathBuf> = cluster
        .info
        .meta_nodes
        .iter()
        .map(|m| m.data_dir.clone())
        .collect();
    assert!(!meta_dirs.is_empty());
    for dir in &meta_dirs {
        assert!(dir.is_dir(), "meta data dir {}", dir.display());
        fs::remove_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    }
    for path in &lost {
        fs::remove_file(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
    cluster.restart();
    let s3 = cluster.s3();
    for b in BUCKETS {
        s3.head_bucket(b)
            .await
            .expect_status(404, "bucket after the wipe");
    }
    let volumes: Vec<PathBuf> = cluster
        .info
        .chunkd
        .iter()
        .map(|c| c.volume.clone())
        .collect();

    // A dry run finds everything and writes nothing.
    let dry = recover(&cluster, &volumes, &["--dry-run"]);
    assert_eq!(count(&dry, "recovered"), want.len() as u64 + 1, "{dry}");
    s3.head_bucket(BUCKETS[0])
        .await
        .expect_status(404, "bucket after a dry run");

    let report = recover(&cluster, &volumes, &[]);
    println!("recover: {}", report["summary"]);
    println!(
        "recover rate: {:.0} chunks/s overall ({} chunks, {} ms), footer scan {:.0} chunks/s",
        report["chunks_per_sec"].as_f64().unwrap_or(0.0),
        count(&report, "chunks_read"),
        count(&report, "elapsed_ms"),
        report["scan_chunks_per_sec"].as_f64().unwrap_or(0.0),
    );
    assert_eq!(
        count(&report, "recovered"),
        want.len() as u64 + 1,
        "{report}"
    );
    assert_eq!(count(&report, "skipped_present"), 0, "{report}");
    assert!(
        count(&report, "superseded") >= 2,
        "overwritten contents: {report}"
    );
    assert_eq!(count(&report, "chunks_unreadable"), 0, "{report}");
    let incomplete = report["incomplete"].as_array().expect("incomplete list");
    assert_eq!(incomplete.len(), 1, "{report}");
    assert_eq!(incomplete[0]["key"], victim);
    assert_eq!(incomplete[0]["container"], BUCKETS[1]);
    let missing = incomplete[0]["missing"].as_str().unwrap_or_default();
    assert!(missing.contains("position(s) 1"), "{missing}");
    let expected_bytes: usize = want.values().map(Vec::len).sum();
    assert_eq!(
        count(&report, "bytes_covered"),
        (expected_bytes + other_body.len()) as u64
    );
    assert_eq!(report["accounts_created"], serde_json::json!([OTHER]));
    let containers: Vec<&str> = report["containers_created"]
        .as_array()
        .expect("containers_created")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(containers.len(), 3, "{containers:?}");

    // Keys are not recovered: the operator makes them again, then the account's data reads.
    cluster.admin_ok(&[
        "key",
        "create",
        OTHER,
        "--access-key",
        other_keys.0,
        "--secret-key",
        other_keys.1,
    ]);
    let resp = s3
        .with_credentials(other_keys.0, other_keys.1)
        .get_object(OTHER_BUCKET, "theirs")
        .await;
    resp.expect_status(200, "GET (other account)");
    assert!(resp.body == other_body, "other account's object");

    // Every object reads back byte-identical, with its size and ETag.
    for ((bucket, key), data) in &want {
        let resp = s3.get_object(bucket, key).await;
        resp.expect_status(200, &format!("GET {bucket}/{key}"));
        assert!(
            resp.body == *data,
            "GET {bucket}/{key}: {} bytes (md5 {}), want {} (md5 {})",
            resp.body.len(),
            md5_hex(&resp.body),
            data.len(),
            md5_hex(data)
        );
        let (size, etag) = &before[&(bucket.clone(), key.clone())];
        assert_eq!(resp.body.len() as u64, *size);
        assert_eq!(
            unquote(resp.etag().unwrap_or_default()),
            *etag,
            "ETag of {bucket}/{key}"
        );
    }
    s3.get_object(BUCKETS[1], victim)
        .await
        .expect_status(404, "the incomplete object is not written");

    // Listings match the ones before the loss.
    let mut after: BTreeMap<(String, String), (u64, String)> = BTreeMap::new();
    for b in BUCKETS {
        for e in s3.list_all(b, "").await {
            after.insert((b.to_string(), e.key), (e.size, unquote(&e.etag)));
        }
    }
    assert_eq!(after, before);

    // A second run adds nothing.
    let again = recover(&cluster, &volumes, &[]);
    assert_eq!(count(&again, "recovered"), 0, "{again}");
    assert_eq!(
        count(&again, "skipped_present"),
        want.len() as u64 + 1,
        "{again}"
    );
    assert_eq!(
        again["containers_created"].as_array().map(Vec::len),
        Some(0)
    );
    assert_eq!(again["accounts_created"].as_array().map(Vec::len), Some(0));
    // The text report: the incomplete object by name, then the one-line summary.
    let mut args = vec!["recover", "--dry-run", "--volumes"];
    let paths: Vec<String> = volumes.iter().map(|v| v.display().to_string()).collect();
    args.extend(paths.iter().map(String::as_str));
    let text = cluster.admin_ok(&args);
    let last = text.lines().last().unwrap_or_default();
    assert!(
        text.lines()
            .any(|l| l.starts_with("incomplete: ")
                && l.contains(&format!("/{}/{victim:?}", BUCKETS[1]))),
        "{text}"
    );
    assert!(
        last.starts_with("recover (dry run): ") && last.contains("chunks/s"),
        "{text}"
    );
    let mut third: BTreeMap<(String, String), (u64, String)> = BTreeMap::new();
    for b in BUCKETS {
        for e in s3.list_all(b, "").await {
            third.insert((b.to_string(), e.key), (e.size, unquote(&e.etag)));
        }
    }
    assert_eq!(third, before);
    cluster.stop();
}
