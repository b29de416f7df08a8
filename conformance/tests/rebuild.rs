//! Self-healing on a real `spread dev` cluster: a chunk server killed with its volume deleted
//! is declared lost after `lost_after_secs` and every copy it held is re-created elsewhere
//! (3 copies on 3 distinct live servers again, checked with `object locate` and on disk);
//! then two more servers die and everything still reads back byte-identical. The same with
//! erasure coding (4+2 on 8 servers, lose 2, rebuild, lose 2 others). A byte flipped on disk
//! is found by the scrubber and its copy re-created without any client read. Objects deleted
//! during a rebuild do not come back.
//!
//! Size: `SPREAD_TEST_SCALE=ci` (default: tens of MiB in 1 MiB chunks) or `full` (about
//! 2 GiB). Needs the `spread` binary (`cargo build --release -p spread`, or `SPREAD_BIN`).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use conformance::cluster::{Cluster, DevOptions, Located, split_chunk_file};
use conformance::random_bytes;
use serde_json::Value;

const MIB: usize = 1024 * 1024;

fn full_scale() -> bool {
    std::env::var("SPREAD_TEST_SCALE").is_ok_and(|s| s == "full")
}

/// Environment of a cluster that notices lost servers within seconds and repairs unpaced.
fn healing_env() -> Vec<(String, String)> {
    [
        ("SPREAD_LOST_AFTER_SECS", "4"),
        ("SPREAD_GATEWAY_REBUILD_WORKERS", "4"),
        ("SPREAD_GATEWAY_REBUILD_MIB_PER_SEC", "0"),
        ("SPREAD_GATEWAY_REBUILD_POLL_MS", "200"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Objects of mixed sizes adding up to about `total` bytes: small ones, some of several
/// chunks, some not a multiple of anything.
fn objects(total: usize) -> Vec<(String, Vec<u8>)> {
    let sizes = [1_000, 200 * 1024 + 7, MIB, 3 * MIB + 11, 5 * MIB / 2];
    let mut out = Vec::new();
    let mut sum = 0;
    let mut i = 0;
    while sum < total {
        let size = sizes[i % sizes.len()];
        out.push((format!("obj/{i:05}"), random_bytes(i as u64 + 7, size)));
        sum += size;
        i += 1;
    }
    out
}

fn rebuild_status(cluster: &Cluster) -> Value {
    let out = cluster.admin_ok(&["cluster", "rebuild-status", "--json"]);
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("rebuild-status: {e}: {out}"))
}

/// Waits (bounded) until every server in `lost` is declared lost and fully rebuilt with an
/// empty queue; returns how long it took since `start` (the loss).
fn wait_rebuilt(cluster: &Cluster, lost: &[String], start: Instant, limit: Duration) -> Duration {
    loop {
        let s = rebuild_status(cluster);
        let servers = s["lost"].as_array().cloned().unwrap_or_default();
        let done = lost.iter().all(|id| {
            servers.iter().any(|l| {
                l["service"] == id.as_str()
                    && l["queued_all"] == true
                    && l["done_chunks"].as_u64() >= l["total_chunks"].as_u64()
            })
        });
        if done && s["queued"] == 0 {
            let took = start.elapsed();
            println!(
                "rebuilt {lost:?} in {took:?}: {}",
                cluster.admin_ok(&["cluster", "rebuild-status"])
            );
            return took;
        }
        assert!(
            start.elapsed() < limit,
            "rebuild of {lost:?} not done within {limit:?}: {s:#}\n{}",
            cluster.admin_ok(&["cluster", "rebuild-status"])
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The bytes of a chunk file without its footer.
fn data_of(path: &Path) -> Vec<u8> {
    let file = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (data, _) = split_chunk_file(&file).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    data.to_vec()
}

/// Every chunk of the object has `pieces` pieces on distinct live servers (none in `dead`),
/// each on disk with the right hash.
fn check_placement(cluster: &Cluster, loc: &Located, pieces: usize, dead: &BTreeSet<String>) {
    for c in &loc.chunks {
        if c.inline {
            continue;
        }
        let services: BTreeSet<&str> = c.copies.iter().map(|p| p.service.as_str()).collect();
        assert_eq!(
            c.copies.len(),
            pieces,
            "{} chunk {}: {:?}",
            loc.key,
            c.pos,
            c.copies
        );
        assert_eq!(
            services.len(),
            pieces,
            "{} chunk {}: two pieces on one server",
            loc.key,
            c.pos
        );
        for p in &c.copies {
            assert!(
                !dead.contains(&p.service),
                "{} chunk {} still names dead {}",
                loc.key,
                c.pos,
                p.service
            );
            let data = data_of(&cluster.chunk_file(p));
            let want = p.hash.clone().unwrap_or_else(|| c.hash.clone());
            assert_eq!(
                blake3::hash(&data).to_hex().as_str(),
                want,
                "{} chunk {} on {}",
                loc.key,
                c.pos,
                p.service
            );
        }
    }
}

fn wipe(volume: &PathBuf) {
    fs::remove_dir_all(volume).unwrap_or_else(|e| panic!("{}: {e}", volume.display()));
}

#[tokio::test]
async fn a_lost_server_is_rebuilt_to_three_copies_then_two_more_losses_lose_nothing() {
    let total = if full_scale() { 2048 * MIB } else { 48 * MIB };
    let mut cluster = Cluster::start_with(DevOptions {
        chunkd: 4,
        replicas: 3,
        chunk_size: Some(MIB as u64),
        env: healing_env(),
        ..DevOptions::default()
    });
    let objects = objects(total);
    cluster.put_all("heal", &objects).await;
    let victim = cluster.service_id(1);
    let held = cluster.admin_ok(&["chunkd", "chunks", &victim, "--count"]);
    println!("before the loss: {held}");
    assert!(!held.contains(": 0 chunk copies"), "{held}");

    let lost_at = Instant::now();
    cluster.kill_chunkd(1);
    wipe(&cluster.info.chunkd[1].volume.clone());
    // Deleted while the rebuild runs: must not come back.
    let s3 = cluster.s3();
    let deleted: Vec<&(String, Vec<u8>)> = objects.iter().step_by(7).collect();
    for (key, _) in &deleted {
        s3.delete_object("heal", key)
            .await
            .expect_status(204, &format!("DELETE {key}"));
    }
    let took = wait_rebuilt(
        &cluster,
        std::slice::from_ref(&victim),
        lost_at,
        Duration::from_secs(if full_scale() { 3600 } else { 300 }),
    );
    let bytes: usize = objects.iter().map(|(_, d)| d.len()).sum();
    println!(
        "loss to rebuilt (lost_after_secs 4 included), one server of {:.0} MiB of objects: {took:?}",
        bytes as f64 / MIB as f64
    );
    let dead: BTreeSet<String> = [victim.clone()].into();
    let live: Vec<&(String, Vec<u8>)> = objects
        .iter()
        .filter(|o| !deleted.iter().any(|d| d.0 == o.0))
        .collect();
    for (key, _) in &live {
        check_placement(&cluster, &cluster.locate("heal", key), 3, &dead);
    }
    for (key, _) in &deleted {
        s3.get_object("heal", key)
            .await
            .expect_status(404, &format!("GET deleted {key}"));
    }
    let left = cluster.admin_ok(&["chunkd", "chunks", &victim, "--count"]);
    assert!(left.contains(": 0 chunk copies"), "{left}");

    // Two more servers die: every object is still whole on the last one.
    cluster.kill_chunkd(2);
    cluster.kill_chunkd(3);
    let live: Vec<(String, Vec<u8>)> = live.into_iter().cloned().collect();
    cluster.get_all("heal", &live).await;
}

fn ec_policy() -> String {
    format!(
        r#"default = "EC42"

[policies.EC42]
kind = "ec"
k = 4
m = 2
chunk_size = {MIB}
min_distance = 1
"#
    )
}

#[tokio::test]
async fn erasure_coded_fragments_are_decoded_onto_new_servers() {
    let total = if full_scale() { 1024 * MIB } else { 32 * MIB };
    let files = tempfile::tempdir().expect("temp dir");
    let policy = files.path().join("policy.toml");
    fs::write(&policy, ec_policy()).expect("policy file");
    let mut cluster = Cluster::start_with(DevOptions {
        chunkd: 8,
        chunk_size: Some(MIB as u64),
        policy: Some(policy),
        env: healing_env(),
        ..DevOptions::default()
    });
    let objects = objects(total);
    cluster.put_all("ec-heal", &objects).await;
    let lost = vec![cluster.service_id(0), cluster.service_id(5)];
    let lost_at = Instant::now();
    for i in [0, 5] {
        cluster.kill_chunkd(i);
        wipe(&cluster.info.chunkd[i].volume.clone());
    }
    let took = wait_rebuilt(
        &cluster,
        &lost,
        lost_at,
        Duration::from_secs(if full_scale() { 3600 } else { 300 }),
    );
    println!("EC: loss of two servers to rebuilt (lost_after_secs 4 included): {took:?}");
    let dead: BTreeSet<String> = lost.iter().cloned().collect();
    for (key, _) in &objects {
        let loc = cluster.locate("ec-heal", key);
        assert_eq!(loc.policy_name(), "EC42");
        check_placement(&cluster, &loc, 6, &dead);
    }
    cluster.kill_chunkd(1);
    cluster.kill_chunkd(6);
    cluster.get_all("ec-heal", &objects).await;
}

#[tokio::test]
async fn a_rotten_copy_found_by_the_scrubber_is_re_created_without_a_read() {
    let cluster = Cluster::start_with(DevOptions {
        chunkd: 4,
        replicas: 3,
        chunk_size: Some(MIB as u64),
        scrub_mib_per_sec: Some(200),
        scrub_interval_days: Some(0),
        scrub_grace_secs: Some(0),
        env: healing_env(),
        ..DevOptions::default()
    });
    let objects = objects(8 * MIB);
    cluster.put_all("rot", &objects).await;
    let key = &objects[3].0;
    let before = cluster.locate("rot", key);
    let bad = before.chunks[0].copies[0].clone();
    let path = cluster.chunk_file(&bad);
    let mut file = fs::read(&path).expect("chunk file");
    file[100] ^= 0x01;
    fs::write(&path, &file).expect("write chunk file");
    let server = cluster
        .chunkd_index(&bad.addr)
        .expect("server of the cluster");
    cluster.admin_ok(&["chunkd", "scrub", &cluster.info.chunkd[server].addr]);
    // No client read: the scrubber quarantines it, the heartbeat reports it, a worker
    // re-creates the copy.
    let start = Instant::now();
    loop {
        let loc = cluster.locate("rot", key);
        let ids: Vec<&str> = loc.chunks[0]
            .copies
            .iter()
            .map(|c| c.chunk_id.as_str())
            .collect();
        if !ids.contains(&bad.chunk_id.as_str()) && ids.len() == 3 {
            println!("rotten copy re-created in {:?}", start.elapsed());
            check_placement(&cluster, &loc, 3, &BTreeSet::new());
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the rotten copy was not re-created: {:?}\n{}",
            loc.chunks[0].copies,
            cluster.admin_ok(&["cluster", "rebuild-status"])
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    cluster.get_all("rot", &objects).await;
}

#[tokio::test]
async fn a_drained_server_is_emptied_then_forgotten() {
    let mut cluster = Cluster::start_with(DevOptions {
        chunkd: 4,
        replicas: 3,
        chunk_size: Some(MIB as u64),
        env: healing_env(),
        ..DevOptions::default()
    });
    let objects = objects(12 * MIB);
    cluster.put_all("drain", &objects).await;
    let id = cluster.service_id(0);
    let refused = cluster.admin(&["cluster", "forget", &id]);
    assert!(
        !refused.status.success(),
        "forget of a server holding copies"
    );
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("still holds"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let started = Instant::now();
    cluster.admin_ok(&["cluster", "drain", &id]);
    let took = wait_rebuilt(
        &cluster,
        std::slice::from_ref(&id),
        started,
        Duration::from_secs(300),
    );
    println!("drained in {took:?}");
    let left = cluster.admin_ok(&["chunkd", "chunks", &id, "--count"]);
    assert!(left.contains(": 0 chunk copies"), "{left}");
    let dead: BTreeSet<String> = [id.clone()].into();
    for (key, _) in &objects {
        check_placement(&cluster, &cluster.locate("drain", key), 3, &dead);
    }
    cluster.kill_chunkd(0);
    // Forgotten once silent for meta's dead_after_secs.
    let start = Instant::now();
    loop {
        let out = cluster.admin(&["cluster", "forget", &id]);
        if out.status.success() {
            break;
        }
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(err.contains("still heartbeats"), "{err}");
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "not forgotten: {err}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let list = cluster.admin_ok(&["cluster", "list"]);
    assert!(!list.contains(&id), "{list}");
    cluster.get_all("drain", &objects).await;
}

#[tokio::test]
async fn chunks_written_short_of_copies_get_them_once_a_server_is_back() {
    let mut env = healing_env();
    env.retain(|(k, _)| k != "SPREAD_LOST_AFTER_SECS");
    env.push(("SPREAD_LOST_AFTER_SECS".into(), "600".into()));
    let mut cluster = Cluster::start_with(DevOptions {
        chunkd: 3,
        replicas: 3,
        chunk_size: Some(MIB as u64),
        env,
        ..DevOptions::default()
    });
    cluster.kill_chunkd(2);
    // Written with the write quorum (2 of 3 copies): the third server is down.
    let objects = objects(6 * MIB);
    cluster.put_all("short", &objects).await;
    let short = objects
        .iter()
        .filter(|(key, _)| {
            cluster
                .locate("short", key)
                .chunks
                .iter()
                .any(|c| !c.inline && c.copies.len() < 3)
        })
        .count();
    assert!(short > 0, "no write was short of copies");
    let status = rebuild_status(&cluster);
    assert!(status["queued"].as_u64().unwrap_or(0) > 0, "{status:#}");
    // The server comes back (the whole cluster restarts on its data): the missing copies are
    // added.
    cluster.restart();
    let start = Instant::now();
    loop {
        let s = rebuild_status(&cluster);
        if s["queued"] == 0 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "short chunks not completed: {s:#}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    println!(
        "{short} short objects completed in {:?} after the restart",
        start.elapsed()
    );
    for (key, _) in &objects {
        check_placement(&cluster, &cluster.locate("short", key), 3, &BTreeSet::new());
    }
    cluster.get_all("short", &objects).await;
}

#[tokio::test]
async fn a_rebuild_worker_killed_halfway_is_taken_over_after_a_restart() {
    let mut env = healing_env();
    env.retain(|(k, _)| k != "SPREAD_GATEWAY_REBUILD_MIB_PER_SEC");
    // Slow enough to be caught halfway; leases short enough to be taken over soon.
    env.push(("SPREAD_GATEWAY_REBUILD_MIB_PER_SEC".into(), "2".into()));
    env.push(("SPREAD_GATEWAY_REBUILD_LEASE_SECS".into(), "10".into()));
    let mut cluster = Cluster::start_with(DevOptions {
        chunkd: 4,
        replicas: 3,
        chunk_size: Some(MIB as u64),
        env,
        ..DevOptions::default()
    });
    let objects = objects(24 * MIB);
    cluster.put_all("resume", &objects).await;
    let victim = cluster.service_id(3);
    cluster.kill_chunkd(3);
    wipe(&cluster.info.chunkd[3].volume.clone());
    // Wait until some but not all of its copies are re-created, then kill the gateway. The
    // total is final only once every page of the server's copies is queued (`queued_all`;
    // while `counting`, done can catch up with a partial total): wait for that too.
    let start = Instant::now();
    let (done, total) = loop {
        let s = rebuild_status(&cluster);
        let l = s["lost"]
            .as_array()
            .and_then(|a| a.iter().find(|l| l["service"] == victim.as_str()).cloned());
        if let Some(l) = l {
            let (done, total) = (
                l["done_chunks"].as_u64().unwrap_or(0),
                l["total_chunks"].as_u64().unwrap_or(0),
            );
            if done > 0 && l["queued_all"] == true {
                assert!(
                    done < total,
                    "rebuilt before the worker could be killed: {l:#}"
                );
                break (done, total);
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no progress: {s:#}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let gateway = cluster.info.gateway.pid.expect("gateway pid");
    conformance::cluster::signal(gateway, libc::SIGKILL);
    println!("gateway killed with {done}/{total} copies re-created");
    let restarted = Instant::now();
    cluster.restart();
    wait_rebuilt(
        &cluster,
        std::slice::from_ref(&victim),
        restarted,
        Duration::from_secs(300),
    );
    let dead: BTreeSet<String> = [victim].into();
    for (key, _) in &objects {
        check_placement(&cluster, &cluster.locate("resume", key), 3, &dead);
    }
    cluster.get_all("resume", &objects).await;
}
