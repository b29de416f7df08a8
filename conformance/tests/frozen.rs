//! Hung, not dead: a chunk server or meta frozen with SIGSTOP (a process that keeps its sockets
//! open and answers nothing, as a stuck disk or a paused VM does) must cost a request a bounded
//! delay, not the minute of the chunk client's answer timeout or the meta client's whole
//! timeout.
//!
//! - A cluster of 3 chunk servers (3 copies, and EC 2+1 for one storage class): objects are
//!   written, then the chunk server every read goes to first (the closest to the gateway) is
//!   frozen; every object must read back identical within a loose bound (hedged reads), and
//!   PUTs made during the freeze must succeed with their write quorum, also within the bound,
//!   and read back. Then another chunk server is frozen and written to at once, before any read
//!   or the conscience noticed (write deadlines).
//! - A one-node meta is frozen: S3 and Swift requests must be answered 503 with `Retry-After`
//!   within a loose bound of the gateway's meta deadline (set low through
//!   `SPREAD_GATEWAY_META_TIMEOUT_MS`), then work again once meta is thawed.
//!
//! Measured latencies are printed; the bounds are loose (10 s against the 60 s or 120 s these
//! requests took before deadlines). Sized by `SPREAD_TEST_SCALE` (`ci`, the default, or
//! `full`). The tests of this binary run one at a time. A frozen process is always thawed by
//! a guard, whatever the test's outcome.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::Bytes;
use conformance::cluster::{Cluster, DevOptions};
use conformance::random_bytes;
use conformance::s3::{Request, S3};

/// One test at a time (each starts its own cluster).
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;
/// The loose bound of one request while a process is frozen (the targets are far below).
const BOUND: Duration = Duration::from_secs(10);
/// How long the test waits for any one request before calling it hung.
const HUNG: Duration = Duration::from_secs(45);

fn full() -> bool {
    std::env::var("SPREAD_TEST_SCALE").as_deref() == Ok("full")
}

/// Sizes of the replicated objects: small ones sent whole, large ones streamed chunk by chunk
/// (chunks of 4 MiB), some of several chunks.
fn replicated_sizes() -> Vec<usize> {
    let mut sizes = vec![10 * KIB, 200 * KIB, 900 * KIB, 3 * MIB + 17, 9 * MIB + 5];
    if full() {
        sizes.extend([
            KIB,
            64 * KIB,
            512 * KIB,
            MIB + 1,
            2 * MIB,
            4 * MIB,
            6 * MIB + 3,
            17 * MIB,
            24 * MIB + 1,
        ]);
    }
    sizes
}

/// Sizes of the erasure-coded (EC 2+1) objects.
fn ec_sizes() -> Vec<usize> {
    let mut sizes = vec![100 * KIB, 3 * MIB + 1, 9 * MIB];
    if full() {
        sizes.extend([KIB, 700 * KIB, 5 * MIB, 13 * MIB]);
    }
    sizes
}

/// Three copies by default; EC 2+1 (write quorum 2) for storage class STANDARD_IA. Both at
/// distance 1: every chunk has a piece on each of the three servers.
const POLICY: &str = r#"default = "THREE"

[storage_classes]
STANDARD = "THREE"
STANDARD_IA = "EC21"

[policies.THREE]
kind = "replicate"
copies = 3
chunk_size = 4194304
min_distance = 1

[policies.EC21]
kind = "ec"
k = 2
m = 1
write_quorum = 2
chunk_size = 4194304
min_distance = 1
"#;

/// An object of the test: key, bytes, whether it is erasure-coded.
struct Object {
    key: String,
    data: Bytes,
    ec: bool,
}

fn objects(prefix: &str, seed: u64) -> Vec<Object> {
    let mut out = Vec::new();
    for (i, size) in replicated_sizes().into_iter().enumerate() {
        out.push(Object {
            key: format!("{prefix}/rep-{i:02}-{size}"),
            data: Bytes::from(random_bytes(seed + i as u64, size)),
            ec: false,
        });
    }
    for (i, size) in ec_sizes().into_iter().enumerate() {
        out.push(Object {
            key: format!("{prefix}/ec-{i:02}-{size}"),
            data: Bytes::from(random_bytes(seed + 1000 + i as u64, size)),
            ec: true,
        });
    }
    out
}

/// PUTs `obj`; its status and how long it took (a request still unanswered after [`HUNG`]
/// counts as status 0).
async fn put(s3: &S3, bucket: &str, obj: &Object) -> (u16, Duration) {
    let mut req =
        Request::new(http::Method::PUT, Some(bucket), Some(&obj.key)).body(obj.data.clone());
    if obj.ec {
        req = req.header("x-amz-storage-class", "STANDARD_IA");
    }
    let started = Instant::now();
    let status = match tokio::time::timeout(HUNG, s3.try_send(req)).await {
        Ok(Ok(r)) => r.status.as_u16(),
        _ => 0,
    };
    (status, started.elapsed())
}

/// GETs `obj`: whether it came back identical (with status 200), and how long it took.
async fn get(s3: &S3, bucket: &str, obj: &Object) -> (Result<(), String>, Duration) {
    let req = Request::new(http::Method::GET, Some(bucket), Some(&obj.key));
    let started = Instant::now();
    let outcome = match tokio::time::timeout(HUNG, s3.try_send(req)).await {
        Err(_) => Err(format!("no answer within {HUNG:?}")),
        Ok(Err(e)) => Err(e),
        Ok(Ok(r)) if r.status != 200 => Err(format!("status {}: {}", r.status, r.text())),
        Ok(Ok(r)) if r.body != obj.data => Err(format!(
            "{} bytes that differ from the {} written",
            r.body.len(),
            obj.data.len()
        )),
        Ok(Ok(_)) => Ok(()),
    };
    (outcome, started.elapsed())
}

/// Reads every object back, one at a time; panics (with the cluster's log) on a wrong answer
/// or one slower than [`BOUND`]. Returns the latencies.
async fn read_all(
    s3: &S3,
    bucket: &str,
    objects: &[Object],
    what: &str,
    cluster: &Cluster,
) -> Vec<Duration> {
    let mut latencies = Vec::new();
    let mut wrong = Vec::new();
    for obj in objects {
        let (outcome, took) = get(s3, bucket, obj).await;
        println!(
            "{what}: GET {} ({} bytes) took {took:?}",
            obj.key,
            obj.data.len()
        );
        if let Err(e) = outcome {
            wrong.push(format!("{}: {e}", obj.key));
        } else if took > BOUND {
            wrong.push(format!("{}: took {took:?}", obj.key));
        }
        latencies.push(took);
    }
    assert!(
        wrong.is_empty(),
        "{what}: {} of {} GETs failed or were too slow: {wrong:?}\n{}",
        wrong.len(),
        objects.len(),
        cluster.log_tail(80)
    );
    latencies
}

fn summary(latencies: &[Duration]) -> String {
    let mut sorted = latencies.to_vec();
    sorted.sort();
    let Some(max) = sorted.last() else {
        return "none".to_string();
    };
    let median = sorted[sorted.len() / 2];
    format!("{} requests, median {median:?}, max {max:?}", sorted.len())
}

fn policy_file(dir: &tempfile::TempDir) -> PathBuf {
    let path = dir.path().join("policies.toml");
    std::fs::write(&path, POLICY).expect("writing the policy file");
    path
}

/// The gateway's log (its own file in the dev cluster's data directory).
fn gateway_log(cluster: &Cluster) -> String {
    std::fs::read_to_string(cluster.data_dir().join("logs").join("gateway.log")).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_frozen_chunk_server_costs_reads_and_writes_seconds_not_a_minute() {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let cluster = Cluster::start_with(DevOptions {
        chunkd: 3,
        replicas: 3,
        policy: Some(policy_file(&dir)),
        // No repairs: what the write path recorded is checked below (the short chunks stay
        // queued; `rebuild.rs` tests the repairs).
        env: vec![(
            "SPREAD_GATEWAY_REBUILD_WORKERS".to_string(),
            "0".to_string(),
        )],
        ..DevOptions::default()
    });
    let s3 = cluster.s3();
    s3.create_bucket("frozen")
        .await
        .expect_status(200, "CreateBucket");
    let before = objects("before", 1);
    for obj in &before {
        let (status, took) = put(&s3, "frozen", obj).await;
        assert_eq!(status, 200, "PUT {} before the freeze", obj.key);
        println!("PUT {} before the freeze took {took:?}", obj.key);
    }
    let healthy = read_all(&s3, "frozen", &before, "healthy", &cluster).await;

    // Phase 1, reads first: chunkd-0 is on the gateway's host (local.rack0.host0), so every
    // replicated read asks it first, and it holds a piece of every chunk.
    let frozen = cluster.freeze_chunkd(0);
    let frozen_at = Instant::now();
    println!("froze {} (pid {})", frozen.what(), frozen.pid());
    let first = read_all(
        &s3,
        "frozen",
        &before,
        "chunkd-0 frozen, first pass",
        &cluster,
    )
    .await;
    let during = objects("during0", 2);
    let puts0 = write_all(&s3, "frozen", &during, "chunkd-0 frozen", &cluster).await;
    let written0 = read_all(
        &s3,
        "frozen",
        &during,
        "chunkd-0 frozen, written during",
        &cluster,
    )
    .await;
    let second = read_all(
        &s3,
        "frozen",
        &before,
        "chunkd-0 frozen, second pass",
        &cluster,
    )
    .await;
    println!("chunkd-0 was frozen for {:?}", frozen_at.elapsed());
    frozen.thaw();

    // Phase 2, writes first: chunkd-1 frozen while the gateway still thinks it healthy (its
    // heartbeats are fresh), once chunkd-0 is back in the conscience.
    let id0 = cluster.service_id(0);
    let back = Instant::now();
    while cluster.service_scores().get(&id0).copied().unwrap_or(0) == 0 {
        assert!(
            back.elapsed() < Duration::from_secs(60),
            "chunkd-0 has no score 60 s after it was thawed"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // The gateway refreshes its view of the chunk servers every second.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let frozen = cluster.freeze_chunkd(1);
    let frozen_at = Instant::now();
    println!("froze {} (pid {})", frozen.what(), frozen.pid());
    let during1 = objects("during1", 3);
    let puts1 = write_all(&s3, "frozen", &during1, "chunkd-1 frozen", &cluster).await;
    let written1 = read_all(
        &s3,
        "frozen",
        &during1,
        "chunkd-1 frozen, written during",
        &cluster,
    )
    .await;
    let third = read_all(&s3, "frozen", &before, "chunkd-1 frozen, before", &cluster).await;
    // (Objects written while chunkd-0 was frozen have a piece less: with chunkd-1 frozen too,
    // their EC 2+1 chunks are one fragment short, a double fault. They are read after the thaw.)
    println!("chunkd-1 was frozen for {:?}", frozen_at.elapsed());
    frozen.thaw();

    println!("healthy GETs: {}", summary(&healthy));
    println!("GETs, first pass with chunkd-0 frozen: {}", summary(&first));
    println!(
        "PUTs with chunkd-0 frozen (after reads): {}",
        summary(&puts0)
    );
    println!(
        "GETs of those PUTs, chunkd-0 frozen: {}",
        summary(&written0)
    );
    println!(
        "GETs, second pass with chunkd-0 frozen: {}",
        summary(&second)
    );
    println!("PUTs with chunkd-1 just frozen: {}", summary(&puts1));
    println!(
        "GETs of those PUTs, chunkd-1 frozen: {}",
        summary(&written1)
    );
    println!(
        "GETs of the first objects, chunkd-1 frozen: {}",
        summary(&third)
    );

    // Written with their quorum: no chunk of an object written during a freeze lists a copy
    // on the frozen server, and the copies given up on are reported for repair.
    for (objs, frozen_id) in [(&during, id0), (&during1, cluster.service_id(1))] {
        for obj in objs.iter() {
            let located = cluster.locate("frozen", &obj.key);
            for chunk in &located.chunks {
                assert!(
                    chunk.copies.iter().all(|c| c.service != frozen_id),
                    "{} chunk {} records a piece on the frozen server",
                    obj.key,
                    chunk.pos
                );
                assert!(!chunk.copies.is_empty(), "{} chunk {}", obj.key, chunk.pos);
            }
        }
    }
    let log = gateway_log(&cluster);
    assert!(
        log.contains("under-replicated chunk"),
        "no under-replicated chunk was reported while a chunk server was frozen\n{}",
        cluster.log_tail(80)
    );
    // ... and meta queued them for repair when their objects were committed.
    let status = cluster.admin_ok(&["cluster", "rebuild-status", "--json"]);
    let status: serde_json::Value = serde_json::from_str(status.trim()).expect("rebuild-status");
    assert!(
        status["queued"].as_u64().unwrap_or(0) > 0,
        "no short chunk in the repair queue: {status:#}"
    );

    // Thawed: everything still reads back.
    read_all(&s3, "frozen", &before, "thawed", &cluster).await;
    read_all(&s3, "frozen", &during, "thawed, written during", &cluster).await;
    read_all(&s3, "frozen", &during1, "thawed, written during", &cluster).await;
}

/// PUTs every object, one at a time; panics (with the cluster's log) on a failure or one
/// slower than [`BOUND`]. Returns the latencies.
async fn write_all(
    s3: &S3,
    bucket: &str,
    objects: &[Object],
    what: &str,
    cluster: &Cluster,
) -> Vec<Duration> {
    let mut latencies = Vec::new();
    let mut failed = Vec::new();
    for obj in objects {
        let (status, took) = put(s3, bucket, obj).await;
        println!(
            "{what}: PUT {} ({} bytes) answered {status} after {took:?}",
            obj.key,
            obj.data.len()
        );
        if status != 200 || took > BOUND {
            failed.push(format!("{}: {status} after {took:?}", obj.key));
        }
        latencies.push(took);
    }
    assert!(
        failed.is_empty(),
        "{what}: PUTs failed or were too slow: {failed:?}\n{}",
        cluster.log_tail(80)
    );
    latencies
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_frozen_meta_answers_503_with_retry_after_in_bounded_time() {
    let _serial = SERIAL.lock().await;
    let meta_timeout = Duration::from_millis(3_000);
    let cluster = Cluster::start_with(DevOptions {
        chunkd: 2,
        replicas: 2,
        env: vec![(
            "SPREAD_GATEWAY_META_TIMEOUT_MS".to_string(),
            meta_timeout.as_millis().to_string(),
        )],
        ..DevOptions::default()
    });
    let s3 = cluster.s3();
    s3.create_bucket("metafrozen")
        .await
        .expect_status(200, "CreateBucket");
    let data = Bytes::from(random_bytes(7, 100 * KIB));
    s3.put_object("metafrozen", "k", data.clone())
        .await
        .expect_status(200, "PUT");
    let swift = cluster.swift().await;
    swift
        .get("metafrozen/k")
        .await
        .expect_status(200, "Swift GET before the freeze");

    let frozen = cluster.freeze_meta(1);
    println!("froze {} (pid {})", frozen.what(), frozen.pid());
    let started = Instant::now();
    let s3_get = {
        let s3 = s3.clone();
        async move {
            let req = Request::new(http::Method::GET, Some("metafrozen"), Some("k"));
            let r = tokio::time::timeout(HUNG, s3.try_send(req)).await;
            (r, started.elapsed())
        }
    };
    let s3_put = {
        let s3 = s3.clone();
        async move {
            let req = Request::new(http::Method::PUT, Some("metafrozen"), Some("k2"))
                .body(Bytes::from_static(b"written while meta is frozen"));
            let r = tokio::time::timeout(HUNG, s3.try_send(req)).await;
            (r, started.elapsed())
        }
    };
    let swift_get = async {
        let url = swift.url("metafrozen/k");
        let http =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http::<http_body_util::Full<Bytes>>();
        let r = tokio::time::timeout(
            HUNG,
            conformance::swift::send_raw(
                &http,
                http::Method::GET,
                &url,
                &[("x-auth-token", swift.token.as_str())],
                Bytes::new(),
            ),
        )
        .await;
        (r, started.elapsed())
    };
    let ((get_r, get_took), (put_r, put_took), (swift_r, swift_took)) =
        tokio::join!(s3_get, s3_put, swift_get);
    frozen.thaw();
    println!(
        "with meta frozen: S3 GET answered after {get_took:?}, S3 PUT after {put_took:?}, Swift GET after {swift_took:?} (meta timeout {meta_timeout:?})"
    );

    let get_r = get_r
        .unwrap_or_else(|_| panic!("S3 GET unanswered after {HUNG:?} with meta frozen"))
        .expect("S3 GET transport");
    assert_eq!(
        get_r.status,
        503,
        "S3 GET with meta frozen: {}",
        get_r.text()
    );
    assert_eq!(get_r.code().as_deref(), Some("ServiceUnavailable"));
    assert!(
        get_r.text().contains("<Message>"),
        "the 503 explains itself: {}",
        get_r.text()
    );
    let retry: u64 = get_r
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("S3 503 without a numeric Retry-After: {:?}", get_r.headers));
    assert!(retry >= 1, "Retry-After {retry}");
    assert!(
        get_took < meta_timeout + Duration::from_secs(5),
        "S3 GET took {get_took:?} with a meta deadline of {meta_timeout:?}"
    );

    let put_r = put_r
        .unwrap_or_else(|_| panic!("S3 PUT unanswered after {HUNG:?} with meta frozen"))
        .expect("S3 PUT transport");
    assert_eq!(
        put_r.status,
        503,
        "S3 PUT with meta frozen: {}",
        put_r.text()
    );
    assert!(
        put_r.header("retry-after").is_some(),
        "S3 PUT 503 without Retry-After"
    );
    // A PUT may ask meta twice (the commit, then settling its unknown outcome).
    assert!(
        put_took < meta_timeout * 2 + Duration::from_secs(5),
        "S3 PUT took {put_took:?} with a meta deadline of {meta_timeout:?}"
    );

    let swift_r = swift_r
        .unwrap_or_else(|_| panic!("Swift GET unanswered after {HUNG:?} with meta frozen"))
        .expect("Swift GET transport");
    assert_eq!(swift_r.status, 503, "Swift GET with meta frozen");
    assert!(
        swift_r
            .header("retry-after")
            .and_then(|v| v.parse::<u64>().ok())
            .is_some(),
        "Swift 503 without a numeric Retry-After: {:?}",
        swift_r.headers
    );
    assert!(
        swift_took < meta_timeout + Duration::from_secs(5),
        "Swift GET took {swift_took:?} with a meta deadline of {meta_timeout:?}"
    );

    // Thawed: requests work again (the first may still meet the tail of the freeze).
    let thawed = Instant::now();
    loop {
        let r = s3.get_object("metafrozen", "k").await;
        if r.status == 200 {
            assert_eq!(r.body, data, "the object reads back after the thaw");
            break;
        }
        assert!(
            thawed.elapsed() < Duration::from_secs(30),
            "GET still answers {} 30 s after meta was thawed",
            r.status
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!(
        "after the thaw, GETs work again within {:?}",
        thawed.elapsed()
    );
}
