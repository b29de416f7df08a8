//! A nearly full LMDB map (issue 16, item 1), through a real `spread dev` cluster whose bucket
//! maps are 1 MiB (`SPREAD_META_MAP_SIZE_MIB=1`): S3 PUTs that would fill a bucket's map are
//! refused with 507 `InsufficientStorage` and a message saying which map and what to do —
//! before LMDB's `MDB_MAP_FULL` could stop meta — and so are Swift PUTs (507); meta's
//! `spread_meta_writes_refused_map_full_total` counts the refusals; reads, listings and
//! deletes go on, and the space deletes free takes writes again.
//!
//! Needs the `spread` binary: `cargo build --release` first, or set `SPREAD_BIN`.

use conformance::cluster::{Cluster, DevOptions};
use conformance::monitor::scrape;

const REFUSALS: &str = "spread_meta_writes_refused_map_full_total";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_bucket_map_refuses_writes_with_507_and_keeps_serving() {
    let cluster = Cluster::start_with(DevOptions {
        chunkd: 1,
        replicas: 1,
        env: vec![("SPREAD_META_MAP_SIZE_MIB".into(), "1".into())],
        ..DevOptions::default()
    });
    let s3 = cluster.s3();
    let meta = cluster.info.meta.addr.clone();
    assert_eq!(
        scrape(&meta).await.get(REFUSALS),
        Some(&0.0),
        "{REFUSALS} before"
    );
    s3.create_bucket("full")
        .await
        .expect_status(200, "create bucket");
    let pad = "x".repeat(1000);
    let key = |i: usize| format!("k{i:05}");
    let mut stored = 0;
    let refused = loop {
        assert!(stored < 3_000, "1 MiB never filled");
        let r = s3
            .put_object_with(
                "full",
                &key(stored),
                format!("body {stored}"),
                &[("x-amz-meta-pad", pad.as_str())],
            )
            .await;
        if r.status.as_u16() != 200 {
            break r;
        }
        stored += 1;
    };
    println!(
        "refused after {stored} objects: {} {}",
        refused.status,
        refused.text()
    );
    refused.expect_error(507, "InsufficientStorage", "PUT into a full bucket map");
    let text = refused.text();
    assert!(
        text.contains("<Message>") && text.contains("bucket full") && text.contains("map_size_mib"),
        "the error says which map and what to do: {text}"
    );
    assert!(
        stored >= 100,
        "refused long before the map filled: {stored}"
    );
    // A Swift PUT into the same bucket is refused too, as Swift answers a full drive.
    let swift = cluster.swift().await;
    let r = swift.put("full/swift-object", b"swift".to_vec()).await;
    assert_eq!(
        r.status.as_u16(),
        507,
        "Swift PUT into the full map: {}",
        r.text()
    );
    assert!(r.text().contains("map_size_mib"), "{}", r.text());
    // Meta counted both refusals.
    assert_eq!(scrape(&meta).await.get(REFUSALS), Some(&2.0), "{REFUSALS}");
    // Meta never stopped: reads, listings, deletes.
    let got = s3.get_object("full", &key(0)).await;
    got.expect_status(200, "GET from the full bucket");
    assert_eq!(&got.body[..], b"body 0");
    assert_eq!(s3.list_all("full", "").await.len(), stored);
    for i in 0..stored / 2 {
        s3.delete_object("full", &key(i))
            .await
            .expect_status(204, "DELETE in the full bucket");
    }
    // The pages the deletes freed take writes again.
    s3.put_object("full", "after", b"after".to_vec())
        .await
        .expect_status(200, "PUT after deletes made room");
    assert_eq!(
        &s3.get_object("full", "after").await.body[..],
        b"after",
        "the new object reads back"
    );
    // Another bucket has its own map.
    s3.create_bucket("other")
        .await
        .expect_status(200, "create another bucket");
    s3.put_object("other", "k", b"k".to_vec())
        .await
        .expect_status(200, "PUT into another bucket");
}
