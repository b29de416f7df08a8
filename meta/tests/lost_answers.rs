//! A write whose answer is lost is asked again and answered once: a real meta server behind a
//! TCP proxy that forwards a request, then cuts the connection instead of passing the answer
//! back (as a leader dying right after its commit looks to a client). `MetaClient` asks again
//! under the same request id; meta answers from its record instead of applying the write
//! twice.

mod common;

use common::{copy, object_with, start_with};
use internal_auth::{Role, Signer};
use meta::Config;
use meta_api::client::MetaClient;
use meta_api::wire::{ContainerSettings, PutCondition, VersionListRequest, Versioning};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A proxy to `target` that drops the first answer of each of the first `lose` connections.
async fn lossy_proxy(target: String, lose: usize) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let cut = Arc::new(AtomicUsize::new(0));
    let cut_count = cut.clone();
    tokio::spawn(async move {
        // Bounded: the test makes a handful of connections.
        for _ in 0..64 {
            let Ok((mut client, _)) = listener.accept().await else {
                return;
            };
            let target = target.clone();
            let cut = cut.clone();
            tokio::spawn(async move {
                let Ok(mut server) = TcpStream::connect(&target).await else {
                    return;
                };
                let lossy = cut.load(Ordering::SeqCst) < lose;
                let (mut cr, mut cw) = client.split();
                let (mut sr, mut sw) = server.split();
                let up = async {
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        match cr.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => {
                                if sw.write_all(&buf[..n]).await.is_err() {
                                    break;
                                }
                            }
                        }
                    }
                };
                let down = async {
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        match sr.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => {
                                if lossy {
                                    // The request was served; its answer never arrives.
                                    cut.fetch_add(1, Ordering::SeqCst);
                                    break;
                                }
                                if cw.write_all(&buf[..n]).await.is_err() {
                                    break;
                                }
                            }
                        }
                    }
                };
                tokio::select! {
                    _ = up => {}
                    _ = down => {}
                }
            });
        }
    });
    (addr, cut_count)
}

fn versions_request() -> VersionListRequest {
    VersionListRequest {
        prefix: "k".into(),
        max_keys: 100,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_write_whose_answer_is_lost_is_answered_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        gc_grace_secs: 0,
        lock_new_services: false,
        ..Config::default()
    };
    let run = start_with(dir.path(), config).await;
    let admin = run.client.clone();
    admin.create_account("acct").await.unwrap();
    admin
        .create_container("acct", "b", &ContainerSettings::default())
        .await
        .unwrap();
    admin
        .set_versioning("b", Versioning::Enabled)
        .await
        .unwrap();

    let (proxy, cut) = lossy_proxy(run.client.addr().to_string(), 1).await;
    let client = MetaClient::new(&proxy)
        .with_timeout(Duration::from_secs(20))
        .with_signer(Signer::new(Role::Service, &run.cluster));
    let rec = object_with("k", 10, vec![copy("svc-1", "c1")], Default::default());
    // `If-None-Match: *`: applied twice, the second would answer 412.
    let cond = PutCondition {
        if_none_match_any: true,
        ..Default::default()
    };
    let stored = client
        .put_object_if("b", &rec, &cond)
        .await
        .expect("the write is answered despite the lost answer");
    assert_eq!(cut.load(Ordering::SeqCst), 1, "the proxy cut one answer");
    let listed = admin.list_versions("b", &versions_request()).await.unwrap();
    assert_eq!(listed.versions.len(), 1, "one version: {listed:?}");
    assert_eq!(listed.versions[0].version_id, stored.version_id);

    // Without request ids (what a client did before), the same loss is an unknown outcome;
    // here a second, independent call is a new request and is refused by its condition.
    let again = client.put_object_if("b", &rec, &cond).await;
    assert!(
        matches!(again, Err(meta::Error::PreconditionFailed(_))),
        "{again:?}"
    );
    run.stop().await;
}
