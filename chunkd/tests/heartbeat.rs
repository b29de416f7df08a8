//! Heartbeat loop against a fake meta service (a real HTTP server on 127.0.0.1:0 that records
//! heartbeats and scripts the answers).

use bytes::Bytes;
use chunkd::{ChunkClient, ChunkMeta, Config, blake3_hex, new_chunk_id};
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use internal_auth::{Role, Secret, Signer, Verifier};
use meta_api::wire::{Heartbeat, HeartbeatReply};
use std::convert::Infallible;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// The cluster secret of the chunk servers these tests start (and of the fake meta).
const TEST_SECRET: &str = "beefbeefbeefbeefbeefbeefbeefbeefbeefbeefbeefbeefbeefbeefbeefbeef";

fn secret() -> Secret {
    Secret::parse(TEST_SECRET).unwrap()
}

fn key_file() -> std::path::PathBuf {
    static FILE: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    FILE.get_or_init(|| {
        let path = std::env::temp_dir().join(format!("spread-hb-test-{}.key", std::process::id()));
        std::fs::write(&path, TEST_SECRET).unwrap();
        path
    })
    .clone()
}

/// One scripted answer: a reply, or an HTTP 500.
type Script = Arc<Mutex<Vec<Option<HeartbeatReply>>>>;

async fn fake_meta(script: Script) -> (String, mpsc::UnboundedReceiver<(String, Heartbeat)>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let tx = tx.clone();
            let script = script.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let tx = tx.clone();
                    let script = script.clone();
                    async move {
                        let path = req.uri().path().to_string();
                        // Like meta: only heartbeats signed with the cluster secret count.
                        let verifier = Verifier::new().accept(Role::Service, &secret());
                        let verified = verifier
                            .verify(req.method(), req.uri(), req.headers(), true)
                            .expect("heartbeat signed with the cluster secret");
                        let body = req.into_body().collect().await.unwrap().to_bytes();
                        verified.check_body(&body).expect("signed body");
                        let hb: Heartbeat = serde_json::from_slice(&body).unwrap();
                        let _ = tx.send((path, hb));
                        let next = {
                            let mut s = script.lock().unwrap();
                            if s.is_empty() {
                                Some(HeartbeatReply::default())
                            } else {
                                s.remove(0)
                            }
                        };
                        let resp = match next {
                            Some(reply) => http::Response::new(Full::new(Bytes::from(
                                serde_json::to_vec(&reply).unwrap(),
                            ))),
                            None => {
                                let mut r =
                                    http::Response::new(Full::new(Bytes::from_static(b"boom")));
                                *r.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
                                r
                            }
                        };
                        Ok::<_, Infallible>(resp)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    (addr, rx)
}

async fn start(volume: &Path, meta: &str) -> (String, tokio::task::JoinHandle<chunkd::Result<()>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let config = Config {
        listen: listener.local_addr().unwrap(),
        volume: volume.to_path_buf(),
        meta: meta.to_string(),
        heartbeat_secs: 1,
        location: "dc1.rack2.host3.vol4".to_string(),
        cluster_key_file: Some(key_file()),
        ..Config::default()
    };
    (addr, tokio::spawn(chunkd::server::serve(listener, config)))
}

async fn next_hb(rx: &mut mpsc::UnboundedReceiver<(String, Heartbeat)>) -> Heartbeat {
    let (path, hb) = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("heartbeat in time")
        .expect("fake meta alive");
    assert_eq!(path, <Heartbeat as meta_api::api::Endpoint>::PATH);
    hb
}

#[tokio::test]
async fn heartbeats_delete_garbage_and_confirm() {
    let dir = tempfile::tempdir().unwrap();
    let client = ChunkClient::new().with_signer(Signer::new(Role::Service, &secret()));
    let data = vec![Bytes::from_static(b"garbage chunk")];
    let chunk = new_chunk_id();
    let meta = ChunkMeta {
        account: "a".into(),
        container: "c".into(),
        key: "k".into(),
        version: "null".into(),
        content_id: "00".into(),
        position: "0".into(),
        policy: "SINGLE".into(),
        size: data[0].len() as u64,
        hash: blake3_hex(&data),
        mtime_ms: 0,
        pieces: None,
    };
    // Store a chunk with a server whose meta is unreachable (heartbeats fail quietly).
    {
        let (addr, task) = start(dir.path(), "127.0.0.1:1").await;
        client.put(&addr, &chunk, &meta, data).await.unwrap();
        task.abort();
    }

    let absent = new_chunk_id();
    let asked = vec![chunk.clone(), absent.clone(), "not-a-chunk-id".to_string()];
    let script: Script = Arc::new(Mutex::new(vec![
        Some(HeartbeatReply {
            delete: asked.clone(),
        }),
        None, // meta fails: the confirmations must be sent again
        Some(HeartbeatReply::default()),
    ]));
    let (meta_addr, mut rx) = fake_meta(script).await;
    let (addr, task) = start(dir.path(), &meta_addr).await;

    let hb1 = next_hb(&mut rx).await;
    let info = client.info(&addr).await.unwrap();
    assert_eq!(hb1.id, info.id);
    assert_eq!(hb1.kind, "chunkd");
    assert_eq!(hb1.addr, addr);
    assert_eq!(hb1.location, "dc1.rack2.host3.vol4");
    assert_eq!(hb1.stats.chunk_count, 1);
    assert!(hb1.stats.total_bytes > 0);
    assert!((0.0..=1.0).contains(&hb1.stats.cpu_idle));
    assert!((0.0..=1.0).contains(&hb1.stats.io_idle));
    assert!(hb1.deleted.is_empty());

    let hb2 = next_hb(&mut rx).await;
    assert_eq!(hb2.deleted, asked);
    assert_eq!(hb2.stats.chunk_count, 0);
    assert!(!dir.path().join(&chunk[..3]).join(&chunk).exists());
    let hb3 = next_hb(&mut rx).await;
    assert_eq!(
        hb3.deleted, asked,
        "confirmation retried after a failed heartbeat"
    );
    let hb4 = next_hb(&mut rx).await;
    assert!(hb4.deleted.is_empty());
    task.abort();
}
