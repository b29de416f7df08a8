//! Replicated meta under faults: a dev cluster with three meta nodes (a Raft group), real
//! processes on loopback, S3 writes through the gateway while a meta node is killed.
//!
//! Sized by `SPREAD_TEST_SCALE` (`ci`, the default: 2,000 objects; `full`: 10,000). Time bounds
//! are loose and the measured figures are printed; the targets are benchmarks.

use bytes::Bytes;
use conformance::cluster::{Cluster, DevOptions};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_the_meta_leader_loses_no_acknowledged_write() {
    let total = objects();
    let mut cluster = Cluster::start_with(DevOptions {
        meta: 3,
        chunkd: 3,
        replicas: 2,
        ..DevOptions::default()
    });
    let leader = cluster.meta_leader().expect("the meta group has a leader");
    let s3 = cluster.s3();
    s3.create_bucket("faults")
        .await
        .expect_status(200, "CreateBucket");

    let outcomes = Arc::new(Mutex::new(Outcomes::default()));
    let next = Arc::new(Mutex::new(0usize));
    let mut writers = Vec::new();
    for _ in 0..16 {
        let (s3, outcomes, next) = (s3.clone(), outcomes.clone(), next.clone());
        writers.push(tokio::spawn(async move {
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
                // Bounded retries of the same key: a failure during the election is an
                // unknown outcome, a later success acknowledges it.
                for _attempt in 0..200 {
                    let ok = matches!(
                        s3.try_send(
                            conformance::s3::Request::new(
                                http::Method::PUT,
                                Some("faults"),
                                Some(&key)
                            )
                            .body(body(i))
                        )
                        .await,
                        Ok(r) if r.status == 200
                    );
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

    // Kill the leader once a third of the objects are in.
    let started = Instant::now();
    while outcomes.lock().unwrap().acked.len() < total / 3 {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "a third of the writes took more than 120 s\n{}",
            cluster.log_tail(60)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let killed_at = Instant::now();
    cluster.kill_meta(leader);
    println!("killed meta leader {leader} after {:?}", started.elapsed());

    for w in writers {
        w.await.expect("writer task");
    }
    let o = std::mem::take(&mut *outcomes.lock().unwrap());
    // The unavailability window: the longest time without an acknowledgement from the kill
    // on (PUTs in flight when the leader died may still be acknowledged at once).
    let mut times: Vec<Instant> = o
        .acked_at
        .iter()
        .copied()
        .filter(|t| *t > killed_at)
        .collect();
    times.sort();
    let mut window = Duration::ZERO;
    let mut prev = killed_at;
    for t in &times {
        window = window.max(*t - prev);
        prev = *t;
    }
    println!(
        "{} of {total} PUTs acknowledged, {} failed attempts; longest time without an \
         acknowledgement after the kill: {window:?}; whole run {:?}",
        o.acked.len(),
        o.failures,
        started.elapsed()
    );
    assert!(
        !times.is_empty(),
        "no write succeeded after the leader was killed"
    );
    assert!(
        window < Duration::from_secs(15),
        "writes stopped for {window:?} after the leader was killed"
    );
    assert_eq!(o.acked.len(), total, "every key was written in the end");

    // A new leader, and every acknowledged object is there, byte for byte.
    let new_leader = cluster.meta_leader().expect("a new leader");
    assert_ne!(new_leader, leader, "the killed node is not the leader");
    let mut missing = Vec::new();
    for (key, want) in &o.acked {
        let r = s3.get_object("faults", key).await;
        if r.status != 200 || r.body != *want {
            missing.push(format!("{key}: {} ({} bytes)", r.status, r.body.len()));
        }
    }
    assert!(
        missing.is_empty(),
        "{} acknowledged objects lost or wrong after the leader was killed: {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    let listed = s3.list_all("faults", "").await;
    assert_eq!(listed.len(), total, "the listing holds every object");
}
