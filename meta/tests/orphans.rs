//! The orphan sweep end to end: a real meta and a real chunk server (in this process, on
//! loopback), chunk files written through the signed chunk client. A chunk no record points
//! to is set aside in `orphans/` and deleted after its hold; a chunk of a stored object and a
//! chunk queued for GC stay.

mod common;

use bytes::Bytes;
use chunkd::{ChunkClient, ChunkMeta, blake3_hex, new_chunk_id};
use common::{copy, object_with, start_with};
use internal_auth::{Role, Signer};
use meta::Config;
use meta_api::wire::ContainerSettings;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Waits (bounded) until `cond` holds.
async fn wait_until(what: &str, limit: Duration, cond: impl Fn() -> bool) {
    let end = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Names of the chunk files set aside (not their records).
fn set_aside(volume: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(volume.join("orphans")) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str().map(str::to_string))
        .filter(|n| !n.ends_with(".json"))
        .collect()
}

/// The footer of a one-piece chunk of object `key` in `acct/b` holding `data`.
fn chunk_meta(key: &str, data: &[Bytes]) -> ChunkMeta {
    ChunkMeta {
        account: "acct".into(),
        container: "b".into(),
        key: key.into(),
        version: "null".into(),
        content_id: "0123456789abcdef0123456789abcdef".into(),
        position: "0".into(),
        policy: "THREECOPIES".into(),
        size: data.iter().map(|b| b.len() as u64).sum(),
        hash: blake3_hex(data),
        mtime_ms: 0,
        pieces: None,
    }
}

/// A real chunk server on loopback with its volume in `dir/vol`, signing with the cluster key
/// of the meta in `meta_dir` at `meta_addr`, sweeping every `check` (0: never) with a 1 s
/// grace and a 3 s hold. Answers its task, address and volume once it has its service id.
async fn start_chunkd(
    dir: &Path,
    meta_dir: &Path,
    meta_addr: &str,
    check: u64,
) -> (tokio::task::JoinHandle<chunkd::Result<()>>, String, PathBuf) {
    let volume = dir.join("vol");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let config = chunkd::Config {
        listen: listener.local_addr().unwrap(),
        volume: volume.clone(),
        meta: meta_addr.to_string(),
        heartbeat_secs: 1,
        orphan_check_secs: check,
        orphan_grace_secs: 1,
        orphan_hold_secs: 3,
        cluster_key_file: Some(meta_dir.join("keys").join("cluster.key")),
        ..chunkd::Config::default()
    };
    let server = tokio::spawn(chunkd::server::serve(listener, config));
    wait_until(
        "the chunk server's service id",
        Duration::from_secs(10),
        || volume.join("service-id").exists(),
    )
    .await;
    (server, addr, volume)
}

#[tokio::test(flavor = "multi_thread")]
async fn orphan_chunks_are_set_aside_then_purged_and_known_ones_stay() {
    let dir = tempfile::tempdir().unwrap();
    let meta_dir = dir.path().join("meta");
    let run = start_with(
        &meta_dir,
        Config {
            lock_new_services: false,
            // Overwritten chunks stay queued (not handed out) for the whole test.
            gc_grace_secs: 3600,
            ..Config::default()
        },
    )
    .await;
    let c = &run.client;
    c.create_account("acct").await.unwrap();
    c.create_container("acct", "b", &ContainerSettings::default())
        .await
        .unwrap();

    let (server, addr, volume) = start_chunkd(dir.path(), &meta_dir, c.addr(), 1).await;
    let service = std::fs::read_to_string(volume.join("service-id"))
        .unwrap()
        .trim()
        .to_string();

    let chunks = ChunkClient::new().with_signer(Signer::new(Role::Service, &run.cluster));
    let data = vec![Bytes::from_static(b"some chunk data")];
    let meta = chunk_meta("k", &data);
    let (kept, queued, orphan) = (new_chunk_id(), new_chunk_id(), new_chunk_id());
    for id in [&kept, &queued, &orphan] {
        chunks.put(&addr, id, &meta, data.clone()).await.unwrap();
    }
    // `queued` is an object's chunk, then replaced by `kept`: queued for GC, not due yet.
    let size = data[0].len() as u64;
    let headers = Default::default();
    c.put_object(
        "b",
        &object_with("k", size, vec![copy(&service, &queued)], headers),
    )
    .await
    .unwrap();
    let headers = Default::default();
    c.put_object(
        "b",
        &object_with("k", size, vec![copy(&service, &kept)], headers),
    )
    .await
    .unwrap();

    // The orphan is set aside (its file gone from the chunks), the others stay and read.
    wait_until("the orphan set aside", Duration::from_secs(20), || {
        set_aside(&volume)
            .iter()
            .any(|n| n.starts_with(orphan.as_str()))
    })
    .await;
    assert!(matches!(
        chunks.get(&addr, &orphan, None).await,
        Err(chunkd::Error::NotFound)
    ));
    for id in [&kept, &queued] {
        assert!(chunks.get(&addr, id, None).await.unwrap() == data[0]);
    }
    assert_eq!(set_aside(&volume).len(), 1, "only the orphan");
    // Then deleted after its hold (record too).
    wait_until("the orphan purged", Duration::from_secs(20), || {
        set_aside(&volume).is_empty()
    })
    .await;
    assert_eq!(
        std::fs::read_dir(volume.join("orphans")).unwrap().count(),
        0
    );
    for id in [&kept, &queued] {
        assert!(chunks.get(&addr, id, None).await.unwrap() == data[0]);
    }
    server.abort();
    run.stop().await;
}

/// A directory that knows none of a server's chunk files (wiped, or the wrong one) makes the
/// sweep stop without setting anything aside; with the check off, the same files all go.
#[tokio::test(flavor = "multi_thread")]
async fn a_directory_that_knows_nothing_stops_the_sweep() {
    let dir = tempfile::tempdir().unwrap();
    let meta_dir = dir.path().join("meta");
    let run = start_with(
        &meta_dir,
        Config {
            lock_new_services: false,
            ..Config::default()
        },
    )
    .await;
    let c = &run.client;
    // This test runs the sweeps itself.
    let (server, addr, volume) = start_chunkd(dir.path(), &meta_dir, c.addr(), 0).await;
    let signer = Signer::new(Role::Service, &run.cluster);
    let chunks = ChunkClient::new().with_signer(signer.clone());
    let data = vec![Bytes::from_static(b"data nobody knows")];
    let n = chunkd::orphans::MIN_SAMPLE as usize + 10;
    for i in 0..n {
        let meta = chunk_meta(&format!("k{i}"), &data);
        chunks
            .put(&addr, &new_chunk_id(), &meta, data.clone())
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let vol = std::sync::Arc::new(chunkd::volume::Volume::open(&volume).unwrap());
    let meta_client = meta_api::client::MetaClient::new(c.addr()).with_signer(signer);
    let mut settings = chunkd::orphans::Settings {
        every: Duration::from_secs(1),
        grace: Duration::from_secs(1),
        hold: Duration::from_secs(3600),
        max_unknown_percent: 50,
    };
    let err = chunkd::orphans::sweep(&vol, &meta_client, &settings)
        .await
        .expect_err("a sweep against a directory that knows nothing must stop");
    assert!(
        err.to_string().contains("unknown to the directory"),
        "{err}"
    );
    assert!(set_aside(&volume).is_empty(), "nothing set aside");
    // The operator's way out when every file really is an orphan.
    settings.max_unknown_percent = 100;
    let done = chunkd::orphans::sweep(&vol, &meta_client, &settings)
        .await
        .unwrap();
    assert_eq!(done.set_aside as usize, n);
    assert_eq!(set_aside(&volume).len(), n);
    server.abort();
    run.stop().await;
}
