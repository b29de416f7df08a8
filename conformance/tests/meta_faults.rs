//! Replicated meta under faults: a dev cluster with three meta nodes (a Raft group), real
//! processes on loopback, S3 writes through the gateway while the meta leader is killed
//! (SIGKILL) or frozen (SIGSTOP).
//!
//! Sized by `SPREAD_TEST_SCALE` (`ci`, the default: 2,000 objects; `full`: 10,000). Time bounds
//! are loose and the measured figures are printed; the targets are benchmarks. The tests of
//! this binary run one at a time (each starts a cluster of seven processes).

use bytes::Bytes;
use conformance::cluster::{Cluster, DevOptions, post_to_one_node, signal};
use conformance::s3::{Request, S3};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One test at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn objects() -> usize {
    match std::env::var("SPREAD_TEST_SCALE").as_deref() {
        Ok("full") => 10_000,
        _ => 2_000,
    }
}

/// The body of object `i`: unique, so a read of another object's bytes shows.
fn body(i: usize) -> Bytes {
    let line = format!("object {i:06} of the meta fault test\n");
    Bytes::from(line.repeat(1 + i % 24))
}

/// What the writers saw.
#[derive(Default)]
struct Outcomes {
    /// Objects whose PUT was acknowledged (200), by key.
    acked: BTreeMap<String, Bytes>,
    /// When each acknowledgement arrived.
    acked_at: Vec<Instant>,
    /// PUTs that failed (the object may or may not be there; retried).
    failures: usize,
}

/// 16 writers PUT objects `0..total` into `bucket`, each key retried (bounded) until it is
/// acknowledged: a failure during a fault is an unknown outcome, a later success acknowledges.
struct Writers {
    outcomes: Arc<Mutex<Outcomes>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Writers {
    fn start(s3: &S3, bucket: &'static str, total: usize) -> Writers {
        let outcomes = Arc::new(Mutex::new(Outcomes::default()));
        let next = Arc::new(Mutex::new(0usize));
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let (s3, outcomes, next) = (s3.clone(), outcomes.clone(), next.clone());
            tasks.push(tokio::spawn(async move {
                loop {
                    let i = {
                        let mut n = next.lock().unwrap();
                        if *n >= total {
                            return;
                        }
                        *n += 1;
                        *n - 1
                    };
                    let key = format!("k{i:06}");
                    for _attempt in 0..300 {
                        let req =
                            Request::new(http::Method::PUT, Some(bucket), Some(&key)).body(body(i));
                        let ok = matches!(s3.try_send(req).await, Ok(r) if r.status == 200);
                        {
                            let mut o = outcomes.lock().unwrap();
                            if ok {
                                o.acked.insert(key.clone(), body(i));
                                o.acked_at.push(Instant::now());
                            } else {
                                o.failures += 1;
                            }
                        }
                        if ok {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }));
        }
        Writers { outcomes, tasks }
    }

    fn acked(&self) -> usize {
        self.outcomes.lock().unwrap().acked.len()
    }

    /// Waits until `n` objects are acknowledged (bounded).
    async fn wait_for(&self, n: usize, cluster: &Cluster) {
        let started = Instant::now();
        while self.acked() < n {
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "{n} writes took more than 120 s\n{}",
                cluster.log_tail(60)
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn finish(self) -> Outcomes {
        for t in self.tasks {
            t.await.expect("writer task");
        }
        std::mem::take(&mut *self.outcomes.lock().unwrap())
    }
}

/// The longest time without an acknowledgement from `since` on (PUTs in flight when the fault
/// began may still be acknowledged at once).
fn longest_gap(o: &Outcomes, since: Instant) -> Option<Duration> {
    let mut times: Vec<Instant> = o.acked_at.iter().copied().filter(|t| *t > since).collect();
    times.sort();
    let mut gap = Duration::ZERO;
    let mut prev = since;
    for t in &times {
        gap = gap.max(*t - prev);
        prev = *t;
    }
    (!times.is_empty()).then_some(gap)
}

/// Every acknowledged object reads back byte for byte, and the listing holds them all.
async fn check_acknowledged(s3: &S3, bucket: &str, o: &Outcomes, total: usize) {
    assert_eq!(o.acked.len(), total, "every key was written in the end");
    let mut wrong = Vec::new();
    for (key, want) in &o.acked {
        let r = s3.get_object(bucket, key).await;
        if r.status != 200 || r.body != *want {
            wrong.push(format!("{key}: {} ({} bytes)", r.status, r.body.len()));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} acknowledged objects lost or wrong: {:?}",
        wrong.len(),
        &wrong[..wrong.len().min(10)]
    );
    assert_eq!(
        s3.list_all(bucket, "").await.len(),
        total,
        "the listing holds every object"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_the_meta_leader_loses_no_acknowledged_write() {
    let _serial = SERIAL.lock().await;
    let total = objects();
    let mut cluster = Cluster::start_with(DevOptions::three_metas());
    let leader = cluster.meta_leader().expect("the meta group has a leader");
    let s3 = cluster.s3();
    s3.create_bucket("faults")
        .await
        .expect_status(200, "CreateBucket");
    let started = Instant::now();
    let writers = Writers::start(&s3, "faults", total);
    writers.wait_for(total / 3, &cluster).await;
    let killed_at = Instant::now();
    cluster.kill_meta(leader);
    println!("killed meta leader {leader} after {:?}", started.elapsed());
    let o = writers.finish().await;
    let gap = longest_gap(&o, killed_at);
    println!(
        "{} of {total} PUTs acknowledged, {} failed attempts; longest time without an \
         acknowledgement after the kill: {gap:?}; whole run {:?}",
        o.acked.len(),
        o.failures,
        started.elapsed()
    );
    let gap = gap.expect("no write succeeded after the leader was killed");
    assert!(
        gap < Duration::from_secs(15),
        "writes stopped for {gap:?} after the leader was killed"
    );
    let new_leader = cluster.meta_leader().expect("a new leader");
    assert_ne!(new_leader, leader, "the killed node is not the leader");
    check_acknowledged(&s3, "faults", &o, total).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_frozen_meta_leader_loses_no_write_and_takes_none_after_it_is_deposed() {
    let _serial = SERIAL.lock().await;
    let total = objects();
    let cluster = Cluster::start_with(DevOptions::three_metas());
    let leader = cluster.meta_leader().expect("the meta group has a leader");
    let node = cluster
        .info
        .meta_nodes
        .iter()
        .find(|m| m.id == leader)
        .cloned()
        .expect("the leader is listed");
    let pid = node.pid.expect("the leader's pid");
    let s3 = cluster.s3();
    s3.create_bucket("frozen")
        .await
        .expect_status(200, "CreateBucket");
    let started = Instant::now();
    let writers = Writers::start(&s3, "frozen", total);
    writers.wait_for(total / 3, &cluster).await;
    let frozen_at = Instant::now();
    signal(pid, libc::SIGSTOP);
    println!("froze meta leader {leader} after {:?}", started.elapsed());
    tokio::time::sleep(Duration::from_secs(15)).await;
    let acked_while_frozen = writers.acked();
    signal(pid, libc::SIGCONT);
    // Right after it wakes, the old leader may still believe it leads: a write sent to it
    // must not be acknowledged unless the group really holds it.
    // Signed with the admin key as `spread admin` signs, so the answer is meta's own decision.
    let stale = post_to_one_node(
        cluster.admin_signer(),
        node.addr.clone(),
        "/v1/accounts/create",
        br#"{"name":"stale-write"}"#,
        Duration::from_secs(20),
    )
    .await
    .unwrap_or(0);
    assert_ne!(
        stale, 401,
        "the signed write to the old leader was not authenticated"
    );
    println!("a write sent to the old leader right after SIGCONT answered {stale}");
    let o = writers.finish().await;
    let gap = longest_gap(&o, frozen_at);
    println!(
        "{} of {total} PUTs acknowledged ({acked_while_frozen} by the end of the 15 s freeze), \
         {} failed attempts; longest time without an acknowledgement after the freeze: {gap:?}",
        o.acked.len(),
        o.failures
    );
    let gap = gap.expect("no write succeeded after the leader was frozen");
    assert!(
        gap < Duration::from_secs(15),
        "writes stopped for {gap:?} after the leader was frozen"
    );
    let new_leader = cluster.meta_leader().expect("a leader after the thaw");
    println!("leader after the thaw: {new_leader}");
    if stale == 200 {
        // Acknowledged: then the group must hold it (the old leader was still leading).
        let probe = meta_api_get_account(&cluster).await;
        assert_eq!(probe, 200, "a write the old leader acknowledged is missing");
    }
    check_acknowledged(&s3, "frozen", &o, total).await;
}

/// Reads account `stale-write` through the group (any node: `spread admin` follows the leader).
async fn meta_api_get_account(cluster: &Cluster) -> u16 {
    let out = cluster.admin(&["account", "list"]);
    if out.status.success() && String::from_utf8_lossy(&out.stdout).contains("stale-write") {
        200
    } else {
        404
    }
}
