//! What an operator watches (issue 18, items 1 and 2), through a real `spread dev` cluster
//! (one chunk server, one copy, so that every chunk operation lands on it):
//!
//! - the gateway's admin listener serves `/metrics` (Prometheus text, parsed here), `/health`
//!   and `/ready`; after a known S3 and Swift workload the request counters, the duration
//!   histogram counts and the byte counters moved by exactly what the workload did;
//! - the chunk server's `/metrics` counted the chunk PUTs and GETs and their bytes, and shows
//!   its volume's space and the scrubber's gauges; its `/health` and `/ready` answer 200;
//! - the access log holds one JSON line per request, the key holding a newline escaped in
//!   its line, with the request id the client got back;
//! - client errors (404) leave no ERROR line in the gateway's log;
//! - with meta killed, the gateway's `/ready` answers 503 (and `/health` still 200);
//! - the Grafana dashboard in `deploy/grafana/` only queries metrics the processes (gateway,
//!   chunk server, meta) serve.
//!
//! Needs the `spread` binary: `cargo build --release` first, or set `SPREAD_BIN`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use conformance::cluster::{Cluster, DevOptions};
use conformance::monitor::{http_get, http_get_with, scrape};

/// Object size: past the gateway's inline limit (16 KiB), so each object is one chunk.
const SIZE: usize = 100 * 1024;

/// The metric names `addr` serves, from its `# TYPE` lines, histograms with their `_bucket`,
/// `_count` and `_sum` series (a labelled family shows once it has a sample).
async fn served_names(addr: &str) -> BTreeSet<String> {
    let (status, body) = http_get(addr, "/metrics").await;
    assert_eq!(status, 200, "GET /metrics on {addr}: {body}");
    let mut names = BTreeSet::new();
    for line in body.lines() {
        let mut words = line.split_whitespace();
        if let (Some("#"), Some("TYPE"), Some(name), Some(kind)) =
            (words.next(), words.next(), words.next(), words.next())
        {
            if kind == "histogram" {
                for suffix in ["_bucket", "_count", "_sum"] {
                    names.insert(format!("{name}{suffix}"));
                }
            }
            names.insert(name.to_string());
        }
    }
    names
}

/// Every `expr` string in a Grafana dashboard.
fn exprs(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("expr", serde_json::Value::String(e)) => out.push(e.clone()),
                    _ => exprs(v, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| exprs(v, out)),
        _ => {}
    }
}

/// How much `series` grew between two scrapes (absent counts as 0).
fn delta(before: &BTreeMap<String, f64>, after: &BTreeMap<String, f64>, series: &str) -> f64 {
    after.get(series).copied().unwrap_or(0.0) - before.get(series).copied().unwrap_or(0.0)
}

/// Gateway requests counted between two scrapes, whatever their labels.
fn requests_between(before: &BTreeMap<String, f64>, after: &BTreeMap<String, f64>) -> f64 {
    after
        .iter()
        .filter(|(k, _)| k.starts_with("spread_gateway_requests_total{"))
        .map(|(k, v)| v - before.get(k).copied().unwrap_or(0.0))
        .sum()
}

fn access_lines(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Waits (bounded) until the access log has at least `n` lines; returns them all.
async fn wait_for_lines(path: &std::path::Path, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let lines = access_lines(path);
        if lines.len() >= n || Instant::now() > deadline {
            return lines;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_health_ready_and_the_access_log_after_a_known_workload() {
    let mut cluster = Cluster::start_with(DevOptions {
        chunkd: 1,
        replicas: 1,
        ..DevOptions::default()
    });
    let admin = cluster
        .info
        .gateway
        .admin_addr
        .clone()
        .expect("cluster.toml names the gateway's admin listener");
    let log_path = cluster
        .info
        .gateway
        .access_log
        .clone()
        .expect("cluster.toml names the access log");
    let chunkd = cluster.info.chunkd[0].addr.clone();

    // Health and readiness of both processes.
    assert_eq!(http_get(&admin, "/health").await.0, 200);
    let (status, body) = http_get(&admin, "/ready").await;
    assert_eq!(status, 200, "gateway /ready: {body}");
    assert_eq!(http_get(&chunkd, "/health").await.0, 200);
    let (status, body) = http_get(&chunkd, "/ready").await;
    assert_eq!(status, 200, "chunkd /ready: {body}");
    assert_eq!(http_get(&admin, "/nothing").await.0, 404);

    // The startup probes of `spread dev` are in the log already; count from here.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let lines_before = access_lines(&log_path).len();
    let gw0 = scrape(&admin).await;
    let cd0 = scrape(&chunkd).await;

    // The workload: 6 S3 requests and 2 Swift ones.
    let s3 = cluster.s3();
    let data = vec![7u8; SIZE];
    let bucket = "observed";
    let odd_key = "line one\nline two \"quoted\"";
    s3.create_bucket(bucket)
        .await
        .expect_status(200, "CreateBucket");
    let put = s3.put_object(bucket, odd_key, data.clone()).await;
    put.expect_status(200, "PUT of a key with a newline");
    let put_id = put
        .header("x-amz-request-id")
        .expect("x-amz-request-id")
        .to_string();
    s3.put_object(bucket, "plain", data.clone())
        .await
        .expect_status(200, "PUT");
    let got = s3.get_object(bucket, odd_key).await;
    got.expect_status(200, "GET");
    assert_eq!(got.body.len(), SIZE);
    s3.get_object(bucket, "missing")
        .await
        .expect_error(404, "NoSuchKey", "GET of a missing key");
    s3.head_object(bucket, "plain")
        .await
        .expect_status(200, "HEAD");
    let swift = cluster.swift().await;
    let head = swift.head("").await;
    assert!(
        head.status.is_success(),
        "Swift HEAD account: {}",
        head.status
    );
    // And one error on the chunk server: a chunk it does not have.
    let missing_chunk = format!("/v1/chunk/{}", "0".repeat(64));
    let auth = format!(
        "x-spread-auth: {}\r\n",
        cluster.service_signer().sign("GET", &missing_chunk, "")
    );
    assert_eq!(http_get_with(&chunkd, &missing_chunk, &auth).await.0, 404);

    // The gateway's counters moved by exactly the workload (a request is counted when its
    // answer's body is done, which may be a moment after the client has it all).
    let deadline = Instant::now() + Duration::from_secs(5);
    let gw1 = loop {
        let gw1 = scrape(&admin).await;
        if requests_between(&gw0, &gw1) >= 8.0 || Instant::now() > deadline {
            break gw1;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let count = |api: &str, op: &str, status: u16| {
        let series = format!(
            "spread_gateway_requests_total{{api=\"{api}\",operation=\"{op}\",status=\"{status}\"}}"
        );
        delta(&gw0, &gw1, &series)
    };
    assert_eq!(count("s3", "CreateBucket", 200), 1.0);
    assert_eq!(count("s3", "PutObject", 200), 2.0);
    assert_eq!(count("s3", "GetObject", 200), 1.0);
    assert_eq!(count("s3", "GetObject", 404), 1.0);
    assert_eq!(count("s3", "HeadObject", 200), 1.0);
    assert_eq!(count("swift", "Auth", 200), 1.0);
    assert_eq!(count("swift", "HeadAccount", 204), 1.0);
    assert_eq!(
        requests_between(&gw0, &gw1),
        8.0,
        "every request counted once"
    );
    let hist = delta(
        &gw0,
        &gw1,
        "spread_gateway_request_duration_seconds_count{api=\"s3\",operation=\"GetObject\"}",
    );
    assert_eq!(hist, 2.0, "GetObject durations observed");
    let inf = delta(
        &gw0,
        &gw1,
        "spread_gateway_request_duration_seconds_bucket{api=\"s3\",operation=\"GetObject\",le=\"+Inf\"}",
    );
    assert_eq!(inf, 2.0);
    let received = delta(
        &gw0,
        &gw1,
        "spread_gateway_received_bytes_total{api=\"s3\"}",
    );
    assert_eq!(received, (2 * SIZE) as f64, "request body bytes");
    let sent = delta(&gw0, &gw1, "spread_gateway_sent_bytes_total{api=\"s3\"}");
    assert!(
        sent >= SIZE as f64 && sent < (SIZE + 4096) as f64,
        "answer body bytes: {sent}"
    );
    assert_eq!(
        gw1.get("spread_gateway_requests_in_flight{api=\"s3\"}"),
        Some(&0.0)
    );

    // The chunk server counted one chunk PUT per object and one chunk GET.
    let cd1 = scrape(&chunkd).await;
    let cd = |series: &str| delta(&cd0, &cd1, series);
    assert_eq!(
        cd("spread_chunkd_requests_total{operation=\"PutChunk\",status=\"201\"}"),
        2.0
    );
    assert_eq!(
        cd("spread_chunkd_requests_total{operation=\"GetChunk\",status=\"200\"}"),
        1.0
    );
    assert_eq!(
        cd("spread_chunkd_requests_total{operation=\"GetChunk\",status=\"404\"}"),
        1.0
    );
    assert_eq!(cd("spread_chunkd_errors_total{kind=\"NotFound\"}"), 1.0);
    assert_eq!(cd("spread_chunkd_written_bytes_total"), (2 * SIZE) as f64);
    assert_eq!(cd("spread_chunkd_read_bytes_total"), SIZE as f64);
    assert_eq!(
        cd("spread_chunkd_request_duration_seconds_count{operation=\"PutChunk\"}"),
        2.0
    );
    assert_eq!(cd("spread_chunkd_chunks"), 2.0);
    let free = cd1["spread_chunkd_volume_free_bytes"];
    let total = cd1["spread_chunkd_volume_total_bytes"];
    assert!(free > 0.0 && total >= free, "free {free}, total {total}");
    assert_eq!(cd1["spread_chunkd_volume_used_bytes"], total - free);
    for series in [
        "spread_chunkd_scrub_running",
        "spread_chunkd_scrub_progress_ratio",
        "spread_chunkd_scrub_checked_chunks_total",
        "spread_chunkd_quarantined_chunks",
    ] {
        assert!(cd1.contains_key(series), "{series} missing");
    }

    // The Grafana dashboard in deploy/ names only metrics the three processes serve.
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/grafana/spread.json");
    let text = std::fs::read_to_string(&path).expect("deploy/grafana/spread.json");
    let dashboard: serde_json::Value = serde_json::from_str(&text).expect("dashboard JSON");
    let mut found = Vec::new();
    exprs(&dashboard, &mut found);
    assert!(found.len() >= 10, "dashboard queries: {found:?}");
    let mut served = served_names(&admin).await;
    served.extend(served_names(&chunkd).await);
    served.extend(served_names(&cluster.info.meta.addr).await);
    for expr in &found {
        for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if word.starts_with("spread_") {
                assert!(
                    served.contains(word),
                    "the dashboard's {word} is not served: {expr}"
                );
            }
        }
    }

    // One access log line per request, each one JSON object on its line.
    let lines = wait_for_lines(&log_path, lines_before + 8).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let lines_now = access_lines(&log_path);
    assert_eq!(lines_now.len(), lines.len(), "no late lines");
    let new: Vec<serde_json::Value> = lines[lines_before..]
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect();
    assert_eq!(new.len(), 8, "one line per request: {new:#?}");
    for v in &new {
        for field in [
            "time",
            "id",
            "api",
            "account",
            "operation",
            "bucket",
            "key",
            "status",
            "bytes_in",
            "bytes_out",
            "duration_ms",
        ] {
            assert!(v.get(field).is_some(), "{field} missing in {v}");
        }
        assert!(v["duration_ms"].as_f64().is_some_and(|d| d >= 0.0), "{v}");
    }
    let put_line = new
        .iter()
        .find(|v| v["id"] == put_id.as_str())
        .unwrap_or_else(|| panic!("no line with the PUT's request id {put_id}: {new:#?}"));
    assert_eq!(put_line["key"], odd_key);
    assert_eq!(put_line["bucket"], bucket);
    assert_eq!(put_line["operation"], "PutObject");
    assert_eq!(put_line["account"], cluster.info.account.as_str());
    assert_eq!(put_line["status"], 200);
    assert_eq!(put_line["bytes_in"], SIZE as u64);
    assert_eq!(put_line["api"], "s3");
    let raw = &lines[lines_before..]
        .iter()
        .find(|l| l.contains(&put_id))
        .expect("raw PUT line");
    assert!(
        raw.contains(r#""key":"line one\nline two \"quoted\"""#),
        "the key is escaped in its line: {raw}"
    );
    let missing = new
        .iter()
        .find(|v| v["key"] == "missing")
        .expect("the 404's line");
    assert_eq!(missing["status"], 404);
    assert_eq!(missing["operation"], "GetObject");
    let swift_ops: Vec<&str> = new
        .iter()
        .filter(|v| v["api"] == "swift")
        .filter_map(|v| v["operation"].as_str())
        .collect();
    assert_eq!(swift_ops, ["Auth", "HeadAccount"]);

    // A client error is not an ERROR in the gateway's own log.
    let gateway_log = std::fs::read_to_string(cluster.data_dir().join("logs").join("gateway.log"))
        .unwrap_or_default();
    let errors: Vec<&str> = gateway_log
        .lines()
        .filter(|l| l.contains("ERROR"))
        .collect();
    assert!(
        errors.is_empty(),
        "ERROR lines in the gateway log: {errors:#?}"
    );

    // Without meta the gateway is alive but not ready.
    cluster.kill_meta(1);
    let deadline = Instant::now() + Duration::from_secs(15);
    let (status, body) = loop {
        let (status, body) = http_get(&admin, "/ready").await;
        if status == 503 || Instant::now() > deadline {
            break (status, body);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(status, 503, "gateway /ready without meta: {body}");
    assert!(body.starts_with("not ready: meta"), "{body}");
    assert_eq!(body.lines().count(), 1, "{body:?}");
    assert_eq!(http_get(&admin, "/health").await.0, 200);
}
