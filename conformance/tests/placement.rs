//! Conscience placement, end to end: six chunk servers spread over three "hosts"
//! (`spread dev --hosts 3`), a 3-copy policy that requires copies on distinct hosts
//! (`min_distance = 2`), locked servers (`spread admin cluster lock`) and a server killed with
//! SIGKILL.
//!
//! Needs the `spread` binary: `cargo build --release` first, or set `SPREAD_BIN`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::time::{Duration, Instant};

use conformance::cluster::{Cluster, DevOptions};
use conformance::s3::S3;
use conformance::{md5_hex, random_bytes};

const MIB: usize = 1024 * 1024;
const CHUNK: usize = MIB;

const POLICY: &str = r#"default = "THREECOPIES"

[policies.THREECOPIES]
kind = "replicate"
copies = 3
chunk_size = 1048576
min_distance = 2
"#;

/// The gateway refreshes its view of the conscience every second (`services_refresh_ms`);
/// this is how long a test waits after meta changed a score before writing.
const GATEWAY_REFRESH: Duration = Duration::from_millis(2500);

/// The host token (`hostN`) of a location `dc.rack.host.vol`.
fn host_of(location: &str) -> &str {
    location
        .split('.')
        .nth(2)
        .unwrap_or_else(|| panic!("location {location:?} has no host token"))
}

/// Writes `count` objects of 1–3 chunks under `prefix`, checks they read back, and returns,
/// for every chunk, the indexes (in cluster.toml) of the chunk servers holding its copies —
/// after checking the copies are 3, on 3 distinct hosts, with the locations of cluster.toml.
async fn write_and_place(
    cluster: &Cluster,
    s3: &S3,
    prefix: &str,
    count: usize,
) -> Vec<(String, Vec<usize>)> {
    let mut placed = Vec::new();
    for n in 0..count {
        let key = format!("{prefix}-{n:02}");
        let data = random_bytes(
            n as u64 + 7919 * prefix.len() as u64,
            (n % 3) * MIB + 1000 * n + 1,
        );
        let resp = s3.put_object("place", &key, data.clone()).await;
        resp.expect_status(200, &format!("PUT {key}"));
        assert_eq!(
            resp.etag(),
            Some(format!("\"{}\"", md5_hex(&data)).as_str()),
            "ETag of {key}"
        );
        let loc = cluster.locate("place", &key);
        assert_eq!(loc.policy_name(), "THREECOPIES", "{key}: policy");
        assert_eq!(
            loc.chunks.len(),
            data.len().div_ceil(CHUNK),
            "{key}: chunks"
        );
        for chunk in &loc.chunks {
            let what = format!("{key} chunk {}", chunk.pos);
            assert_eq!(chunk.copies.len(), 3, "{what}: copies {:?}", chunk.copies);
            let mut servers = Vec::new();
            let mut hosts = BTreeSet::new();
            for copy in &chunk.copies {
                let i = cluster.chunkd_index(&copy.addr).unwrap_or_else(|| {
                    panic!("{what}: copy on {}, not in cluster.toml", copy.addr)
                });
                let location = &cluster.info.chunkd[i].location;
                assert_eq!(
                    &copy.location, location,
                    "{what}: location of {}",
                    copy.addr
                );
                hosts.insert(host_of(location).to_string());
                servers.push(i);
            }
            assert_eq!(
                hosts.len(),
                3,
                "{what}: copies share a host (min_distance = 2): {:?}",
                chunk.copies
            );
            placed.push((what, servers));
        }
        let got = s3.get_object("place", &key).await;
        got.expect_status(200, &format!("GET {key}"));
        assert!(got.body == data, "GET {key}: bytes differ");
    }
    placed
}

/// Polls `cluster list` (bounded) until `pred` holds for the scores by service id.
fn wait_scores(
    cluster: &Cluster,
    timeout: Duration,
    what: &str,
    pred: impl Fn(&BTreeMap<String, u8>) -> bool,
) -> Duration {
    let start = Instant::now();
    loop {
        let scores = cluster.service_scores();
        if pred(&scores) {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < timeout,
            "{what}: not within {timeout:?}; scores: {scores:?}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[tokio::test]
async fn copies_on_distinct_hosts_never_on_locked_or_dead_servers() {
    let files = tempfile::tempdir().expect("temp dir");
    let policy = files.path().join("placement.toml");
    fs::write(&policy, POLICY).expect("policy file");
    let mut cluster = Cluster::start_with(DevOptions {
        chunkd: 6,
        hosts: Some(3),
        chunk_size: Some(CHUNK as u64),
        policy: Some(policy),
        ..DevOptions::default()
    });
    for (i, c) in cluster.info.chunkd.iter().enumerate() {
        assert_eq!(
            c.location,
            format!("local.rack0.host{}.vol{}", i % 3, i / 3),
            "location of {} with --hosts 3",
            c.name
        );
    }
    let ids: Vec<String> = (0..6).map(|i| cluster.service_id(i)).collect();
    let s3 = cluster.s3();
    s3.create_bucket("place")
        .await
        .expect_status(200, "CreateBucket");
    wait_scores(
        &cluster,
        Duration::from_secs(20),
        "every server scored",
        |s| ids.iter().all(|id| s.get(id).is_some_and(|&v| v > 0)),
    );

    // 1. Copies over three hosts; every server gets some.
    let placed = write_and_place(&cluster, &s3, "spread", 20).await;
    let used: BTreeSet<usize> = placed.iter().flat_map(|(_, s)| s.iter().copied()).collect();
    assert_eq!(
        used,
        (0..6).collect::<BTreeSet<usize>>(),
        "over {} chunks, some chunk server never got a copy",
        placed.len()
    );

    // 2. chunkd-0 locked at score 0 receives nothing; host0 is left with chunkd-3 only.
    cluster.admin_ok(&["cluster", "lock", &ids[0], "--score", "0"]);
    wait_scores(
        &cluster,
        Duration::from_secs(10),
        "chunkd-0 locked at 0",
        |s| s.get(&ids[0]) == Some(&0),
    );
    tokio::time::sleep(GATEWAY_REFRESH).await;
    let placed = write_and_place(&cluster, &s3, "locked", 20).await;
    for (what, servers) in &placed {
        assert!(
            !servers.contains(&0),
            "{what}: a copy on the locked chunkd-0: {servers:?}"
        );
        assert!(
            servers.contains(&3),
            "{what}: no copy on host0's only unlocked server: {servers:?}"
        );
    }

    // 3. Two hosts locked: three distinct hosts are impossible → a clear error naming the policy.
    for i in [3, 1, 4] {
        cluster.admin_ok(&["cluster", "lock", &ids[i], "--score", "0"]);
    }
    wait_scores(
        &cluster,
        Duration::from_secs(10),
        "four servers locked",
        |s| [0, 1, 3, 4].iter().all(|&i| s.get(&ids[i]) == Some(&0)),
    );
    tokio::time::sleep(GATEWAY_REFRESH).await;
    let resp = s3
        .put_object("place", "impossible", random_bytes(5, 1000))
        .await;
    resp.expect_status(503, "PUT with only one host unlocked");
    assert!(
        resp.text().contains("THREECOPIES"),
        "the error does not name the policy: {}",
        resp.text()
    );
    s3.head_object("place", "impossible")
        .await
        .expect_status(404, "HEAD after the refused PUT");

    // 4. Unlocked again, then chunkd-1 dies: within the heartbeat timeout (10 s) it stops
    //    receiving chunks; host1 is left with chunkd-4.
    cluster.admin_ok(&["cluster", "unlock-all"]);
    wait_scores(
        &cluster,
        Duration::from_secs(20),
        "scores back after unlock-all",
        |s| ids.iter().all(|id| s.get(id).is_some_and(|&v| v > 0)),
    );
    cluster.kill_chunkd(1);
    let killed = Instant::now();
    let took = wait_scores(
        &cluster,
        Duration::from_secs(20),
        "dead chunkd-1 at 0",
        |s| s.get(&ids[1]) == Some(&0),
    );
    assert!(
        took <= Duration::from_secs(14),
        "chunkd-1 scored 0 only {took:?} after it died (dead_after_secs = 10)"
    );
    let wait = Duration::from_secs(12).saturating_sub(killed.elapsed());
    tokio::time::sleep(wait.max(GATEWAY_REFRESH)).await;
    let placed = write_and_place(&cluster, &s3, "after-death", 10).await;
    for (what, servers) in &placed {
        assert!(
            !servers.contains(&1),
            "{what}: a copy on the dead chunkd-1: {servers:?}"
        );
        assert!(
            servers.contains(&4),
            "{what}: no copy on host1's only live server: {servers:?}"
        );
    }
}
