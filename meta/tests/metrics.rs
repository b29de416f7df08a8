//! Meta's monitoring routes on real servers (127.0.0.1:0): `/metrics` counts exactly the
//! requests sent, shows the Raft state, the GC backlog, the rebuild queue, the conscience and
//! the LMDB map usage; `/health` and `/ready` answer unsigned; a three-node group's follower
//! is ready once it knows its leader, and a node outside any group is not.

mod common;

use common::{Running, copy, heartbeat, object_with, start_with};
use meta::Config;
use meta_api::wire::ContainerSettings;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One plain HTTP/1.1 request, unsigned: the status and the body.
async fn http(addr: &str, method: &str, path: &str) -> (u16, String) {
    let attempt = async {
        let mut s = tokio::net::TcpStream::connect(addr).await?;
        let req = format!(
            "{method} {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        );
        s.write_all(req.as_bytes()).await?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).await?;
        Ok::<_, std::io::Error>(raw)
    };
    let raw = tokio::time::timeout(Duration::from_secs(10), attempt)
        .await
        .unwrap_or_else(|_| panic!("{method} {path} on {addr}: timed out"))
        .unwrap_or_else(|e| panic!("{method} {path} on {addr}: {e}"));
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no end of head: {text:?}"));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status: {head:?}"));
    (status, body.to_string())
}

/// `name{labels}` → value, from the Prometheus text format (every non-comment line must be a
/// sample).
fn parse(text: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("not a sample line: {line:?}"));
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            v => v
                .parse()
                .unwrap_or_else(|_| panic!("bad value in {line:?}")),
        };
        out.insert(series.to_string(), value);
    }
    out
}

async fn scrape(addr: &str) -> BTreeMap<String, f64> {
    let (status, body) = http(addr, "GET", "/metrics").await;
    assert_eq!(status, 200, "GET /metrics: {body}");
    parse(&body)
}

fn get(m: &BTreeMap<String, f64>, series: &str) -> f64 {
    *m.get(series)
        .unwrap_or_else(|| panic!("{series} missing from {:#?}", m.keys().collect::<Vec<_>>()))
}

fn delta(before: &BTreeMap<String, f64>, after: &BTreeMap<String, f64>, series: &str) -> f64 {
    after.get(series).copied().unwrap_or(0.0) - before.get(series).copied().unwrap_or(0.0)
}

fn config() -> Config {
    Config {
        gc_grace_secs: 0,
        lock_new_services: false,
        rebuild_check_secs: 1,
        // No background pass proposes anything behind the test's back.
        expirer_interval_secs: 0,
        lifecycle_interval_secs: 0,
        ..Config::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn metrics_count_known_requests_and_show_the_state() {
    let dir = tempfile::tempdir().unwrap();
    let run = start_with(dir.path(), config()).await;
    let c = run.client.clone();
    let addr = c.addr().to_string();

    assert_eq!(http(&addr, "GET", "/health").await, (200, "ok\n".into()));
    assert_eq!(http(&addr, "GET", "/ready").await, (200, "ready\n".into()));
    let m0 = scrape(&addr).await;

    // Exactly N calls of a write endpoint, one refused.
    let created = "spread_meta_requests_total{endpoint=\"/v1/accounts/create\",status=\"200\"}";
    let exists = "spread_meta_requests_total{endpoint=\"/v1/accounts/create\",status=\"409\"}";
    for i in 0..5 {
        c.create_account(&format!("acct{i}")).await.unwrap();
    }
    assert!(c.create_account("acct0").await.is_err());
    let accounts = scrape(&addr).await;
    // Each call proposed its one command, the refused one too (a refusal is its answer).
    assert_eq!(
        delta(&m0, &accounts, "spread_meta_raft_proposal_commands_sum"),
        6.0
    );
    c.create_container("acct0", "photos", &ContainerSettings::default())
        .await
        .unwrap();
    for (i, svc) in ["svc-1", "svc-2"].iter().enumerate() {
        let mut hb = heartbeat(svc, vec![]);
        hb.location = format!("dc1.rack{i}.host{i}.vol0");
        c.heartbeat(&hb).await.unwrap();
    }
    for k in ["a", "b"] {
        let rec = object_with(
            k,
            10,
            vec![copy("svc-1", k), copy("svc-2", k)],
            Default::default(),
        );
        c.put_object("photos", &rec).await.unwrap();
    }
    c.queue_gc(&[copy("svc-2", "old1"), copy("svc-2", "old2")])
        .await
        .unwrap();
    let m1 = scrape(&addr).await;
    assert_eq!(delta(&m0, &m1, created), 5.0);
    assert_eq!(delta(&m0, &m1, exists), 1.0);
    assert_eq!(
        delta(
            &m0,
            &m1,
            "spread_meta_request_duration_seconds_count{endpoint=\"/v1/accounts/create\"}"
        ),
        6.0
    );
    assert_eq!(
        delta(
            &m0,
            &m1,
            "spread_meta_requests_total{endpoint=\"/v1/objects/put\",status=\"200\"}"
        ),
        2.0
    );
    // The scrape before this one was counted, unsigned as it was.
    assert!(
        get(
            &m1,
            "spread_meta_requests_total{endpoint=\"/metrics\",status=\"200\"}"
        ) >= 1.0
    );
    assert_eq!(
        get(
            &m1,
            "spread_meta_requests_total{endpoint=\"/ready\",status=\"200\"}"
        ),
        1.0
    );

    // Raft: a group of one, leader, everything applied; 11 writes went through proposals.
    assert_eq!(get(&m1, "spread_meta_raft_is_leader"), 1.0);
    assert_eq!(get(&m1, "spread_meta_raft_leader_known"), 1.0);
    assert!(get(&m1, "spread_meta_raft_term") >= 1.0);
    let applied = get(&m1, "spread_meta_raft_applied_index");
    assert!(applied >= 1.0, "applied {applied}");
    assert_eq!(get(&m1, "spread_meta_raft_committed_index"), applied);
    assert!(get(&m1, "spread_meta_raft_last_log_index") >= applied);
    let commands = delta(&m0, &m1, "spread_meta_raft_proposal_commands_sum");
    assert!(
        commands >= 12.0,
        "5 + 1 accounts, a container, 2 heartbeats, 2 objects, a GC"
    );
    let proposals = delta(&m0, &m1, "spread_meta_raft_proposal_commands_count");
    assert!((1.0..=commands).contains(&proposals), "{proposals}");
    assert_eq!(
        delta(&m0, &m1, "spread_meta_raft_commit_duration_seconds_count"),
        proposals
    );
    assert!(delta(&m0, &m1, "spread_meta_raft_append_duration_seconds_count") >= proposals);
    assert!(delta(&m0, &m1, "spread_meta_raft_apply_duration_seconds_count") >= 1.0);

    // The conscience: both services up, with a score.
    for (i, svc) in ["svc-1", "svc-2"].iter().enumerate() {
        let labels =
            format!("{{service=\"{svc}\",kind=\"chunkd\",location=\"dc1.rack{i}.host{i}.vol0\"}}");
        assert_eq!(get(&m1, &format!("spread_meta_service_up{labels}")), 1.0);
        let score = get(&m1, &format!("spread_meta_service_score{labels}"));
        assert!(score > 0.0 && score <= 100.0, "{svc}: {score}");
    }
    // The GC backlog: two entries, due at once (no grace).
    assert_eq!(delta(&m0, &m1, "spread_meta_gc_entries"), 2.0);
    assert_eq!(
        get(&m1, "spread_meta_gc_due_entries{service=\"svc-2\"}"),
        2.0
    );
    assert_eq!(
        get(&m1, "spread_meta_gc_due_entries{service=\"svc-1\"}"),
        0.0
    );

    // LMDB map usage: the directory and the log are used, below their maps.
    for env in ["directory", "raft"] {
        let ratio = get(
            &m1,
            &format!("spread_meta_lmdb_usage_ratio{{env=\"{env}\"}}"),
        );
        assert!(ratio > 0.0 && ratio <= 1.0, "{env}: {ratio}");
        let used = get(
            &m1,
            &format!("spread_meta_lmdb_used_bytes{{env=\"{env}\"}}"),
        );
        let map = get(&m1, &format!("spread_meta_lmdb_map_bytes{{env=\"{env}\"}}"));
        assert!(
            (ratio - used / map).abs() < 1e-9,
            "{env}: {used} / {map} != {ratio}"
        );
    }
    // The test config's 64 MiB meta2 maps; photos' environment is open.
    assert!(get(&m1, "spread_meta_lmdb_meta2_open_envs") >= 1.0);
    let max = get(&m1, "spread_meta_lmdb_meta2_max_usage_ratio");
    assert!(max > 0.0 && max <= 1.0, "{max}");
    assert_eq!(get(&m1, "spread_meta_lmdb_meta2_envs_above_threshold"), 0.0);

    // A rebuild: svc-1 declared lost with its two copies, queued by the planner.
    assert_eq!(get(&m1, "spread_meta_rebuild_lost_services"), 0.0);
    c.rebuild_start("svc-1").await.unwrap();
    let mut m2 = scrape(&addr).await;
    for _ in 0..100 {
        if m2.get("spread_meta_rebuild_queued_entries") == Some(&2.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        m2 = scrape(&addr).await;
    }
    assert_eq!(get(&m2, "spread_meta_rebuild_lost_services"), 1.0);
    assert_eq!(
        get(&m2, "spread_meta_rebuild_lost_chunks{service=\"svc-1\"}"),
        2.0
    );
    assert_eq!(
        get(&m2, "spread_meta_rebuild_done_chunks{service=\"svc-1\"}"),
        0.0
    );
    assert_eq!(get(&m2, "spread_meta_rebuild_queued_entries"), 2.0);
    assert_eq!(c.rebuild_status().await.unwrap().queued, 2);
    assert_eq!(get(&m2, "spread_meta_rebuild_unrepairable_entries"), 0.0);

    // Only GET opens the monitoring routes; nothing else opened.
    for path in ["/metrics", "/health", "/ready"] {
        assert_eq!(http(&addr, "POST", path).await.0, 405, "POST {path}");
    }
    let (status, body) = http(&addr, "POST", "/v1/accounts/list").await;
    assert_eq!(status, 401, "{body}");
    let (status, body) = http(&addr, "POST", "/v1/gc/backlog").await;
    assert_eq!(status, 401, "{body}");
    // Other paths are the API's: GET is not allowed there.
    assert_eq!(http(&addr, "GET", "/metrics/").await.0, 405);
    assert_eq!(http(&addr, "GET", "/v1/metrics").await.0, 405);
    let m3 = scrape(&addr).await;
    assert_eq!(
        get(
            &m3,
            "spread_meta_requests_total{endpoint=\"/v1/accounts/list\",status=\"401\"}"
        ),
        1.0
    );
    assert_eq!(
        get(
            &m3,
            "spread_meta_requests_total{endpoint=\"other\",status=\"405\"}"
        ),
        2.0
    );
    run.stop().await;
}

/// Starts node `id` of a group whose secrets are those in `keys` (copied beside its data).
async fn start_node(dir: &Path, keys: &Path, id: u64) -> Running {
    std::fs::create_dir_all(dir.join("keys")).unwrap();
    for k in ["cluster.key", "admin.key"] {
        std::fs::copy(keys.join(k), dir.join("keys").join(k)).unwrap();
    }
    let config = Config {
        node_id: id,
        bootstrap: false,
        ..config()
    };
    start_with(dir, config).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_follower_that_knows_its_leader_is_ready() {
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let leader = start_with(dirs[0].path(), config()).await;
    let keys = dirs[0].path().join("keys");
    // Nodes outside a group serve at once (they learn of a leader when added).
    let (n2, n3) = tokio::join!(
        start_node(dirs[1].path(), &keys, 2),
        start_node(dirs[2].path(), &keys, 3)
    );
    let a1 = leader.client.addr().to_string();
    let a2 = n2.client.addr().to_string();

    // Outside any group: alive, not ready, no leader.
    assert_eq!(http(&a2, "GET", "/health").await.0, 200);
    let (status, body) = http(&a2, "GET", "/ready").await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body.starts_with("not ready: ") && body.contains("leader"),
        "{body}"
    );
    assert_eq!(body.lines().count(), 1, "{body}");
    let m = scrape(&a2).await;
    assert_eq!(get(&m, "spread_meta_raft_leader_known"), 0.0);
    assert_eq!(get(&m, "spread_meta_raft_is_leader"), 0.0);

    leader.client.group_add(2, &a2).await.unwrap();
    leader.client.group_add(3, n3.client.addr()).await.unwrap();
    leader.client.create_account("grouped").await.unwrap();
    let leader_applied = get(&scrape(&a1).await, "spread_meta_raft_applied_index");

    // The follower learns the leader and catches up (bounded wait).
    let mut ready = (0, String::new());
    for _ in 0..100 {
        ready = http(&a2, "GET", "/ready").await;
        if ready.0 == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(ready, (200, "ready\n".to_string()));
    let mut m = scrape(&a2).await;
    for _ in 0..100 {
        if get(&m, "spread_meta_raft_applied_index") >= leader_applied {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        m = scrape(&a2).await;
    }
    assert_eq!(get(&m, "spread_meta_raft_is_leader"), 0.0);
    assert_eq!(get(&m, "spread_meta_raft_leader_known"), 1.0);
    assert!(get(&m, "spread_meta_raft_applied_index") >= leader_applied);
    assert!(get(&m, "spread_meta_raft_committed_index") >= leader_applied);
    // A follower proposes nothing itself.
    assert_eq!(get(&m, "spread_meta_raft_proposal_commands_count"), 0.0);
    assert!(get(&m, "spread_meta_raft_append_duration_seconds_count") >= 1.0);
    let m1 = scrape(&a1).await;
    assert_eq!(get(&m1, "spread_meta_raft_is_leader"), 1.0);
    assert_eq!(
        get(&m1, "spread_meta_raft_term"),
        get(&m, "spread_meta_raft_term")
    );
    assert_eq!(http(&a1, "GET", "/ready").await.0, 200);

    n3.stop().await;
    n2.stop().await;
    leader.stop().await;
}
