//! End-to-end runs of `spread bench` against a tiny in-process S3 stand-in (loopback, no
//! cluster): every workload must finish with the right counts, no errors, and leave nothing
//! behind.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;

use super::{BenchArgs, bench};
use crate::cli::{Cli, Command};
use clap::Parser;

/// The stand-in's state: buckets and their objects (key → size).
#[derive(Default)]
struct Store {
    buckets: BTreeMap<String, BTreeMap<String, u64>>,
    requests: u64,
    /// Refuse everything with 403 AccessDenied.
    deny: bool,
    /// Fail object PUTs with 500 InternalError.
    fail_puts: bool,
}

type Shared = Arc<Mutex<Store>>;

fn answer(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r
}

fn error(status: StatusCode, code: &str) -> Response<Full<Bytes>> {
    answer(status, format!("<Error><Code>{code}</Code></Error>"))
}

async fn handle(
    store: Shared,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let unsigned = req
        .headers()
        .get("x-amz-content-sha256")
        .is_some_and(|v| v == "UNSIGNED-PAYLOAD");
    let declared: Option<u64> = req
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let method = req.method().clone();
    let path = req.uri().path().trim_start_matches('/').to_owned();
    let query = req.uri().query().unwrap_or_default().to_owned();
    // Read (and count) the body before taking the lock.
    let mut body = req.into_body();
    let mut received = 0u64;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(f) => received += f.data_ref().map_or(0, |d| d.len() as u64),
            Err(_) => return Ok(error(StatusCode::BAD_REQUEST, "IncompleteBody")),
        }
    }
    let mut s = store.lock().unwrap();
    s.requests += 1;
    if s.deny || !auth.starts_with("AWS4-HMAC-SHA256 Credential=AK/") || !unsigned {
        return Ok(error(StatusCode::FORBIDDEN, "AccessDenied"));
    }
    let (bucket, key) = match path.split_once('/') {
        Some((b, k)) => (b.to_owned(), Some(k.to_owned())),
        None => (path.clone(), None),
    };
    let response = match (method.as_str(), key) {
        ("PUT", None) => match s.buckets.entry(bucket) {
            std::collections::btree_map::Entry::Occupied(_) => {
                error(StatusCode::CONFLICT, "BucketAlreadyOwnedByYou")
            }
            std::collections::btree_map::Entry::Vacant(v) => {
                v.insert(BTreeMap::new());
                answer(StatusCode::OK, "")
            }
        },
        ("DELETE", None) => match s.buckets.get(&bucket) {
            Some(objects) if objects.is_empty() => {
                s.buckets.remove(&bucket);
                answer(StatusCode::NO_CONTENT, "")
            }
            Some(_) => error(StatusCode::CONFLICT, "BucketNotEmpty"),
            None => error(StatusCode::NOT_FOUND, "NoSuchBucket"),
        },
        ("GET", None) => {
            let Some(objects) = s.buckets.get(&bucket) else {
                return Ok(error(StatusCode::NOT_FOUND, "NoSuchBucket"));
            };
            assert!(query.contains("list-type=2"), "{query}");
            let prefix = query
                .split('&')
                .find_map(|p| p.strip_prefix("prefix="))
                .unwrap_or_default()
                .replace("%2F", "/");
            // Pages of 3 keys; the token is the index of the next key.
            let start: usize = query
                .split('&')
                .find_map(|p| p.strip_prefix("continuation-token="))
                .map_or(0, |t| t.parse().unwrap());
            let keys: Vec<&String> = objects.keys().filter(|k| k.starts_with(&prefix)).collect();
            let page = &keys[start.min(keys.len())..(start + 3).min(keys.len())];
            let mut xml = String::from("<ListBucketResult>");
            for k in page {
                xml.push_str(&format!("<Contents><Key>{k}</Key></Contents>"));
            }
            if start + 3 < keys.len() {
                xml.push_str(&format!(
                    "<IsTruncated>true</IsTruncated><NextContinuationToken>{}</NextContinuationToken>",
                    start + 3
                ));
            } else {
                xml.push_str("<IsTruncated>false</IsTruncated>");
            }
            xml.push_str("</ListBucketResult>");
            answer(StatusCode::OK, xml)
        }
        (m, Some(key)) => {
            let s_fail_puts = s.fail_puts;
            let Some(objects) = s.buckets.get_mut(&bucket) else {
                return Ok(error(StatusCode::NOT_FOUND, "NoSuchBucket"));
            };
            match m {
                "PUT" if s_fail_puts => error(StatusCode::INTERNAL_SERVER_ERROR, "InternalError"),
                "PUT" => {
                    assert_eq!(declared, Some(received), "Content-Length of {key}");
                    objects.insert(key, received);
                    answer(StatusCode::OK, "")
                }
                "GET" => match objects.get(&key) {
                    Some(&size) => answer(StatusCode::OK, vec![7u8; size as usize]),
                    None => error(StatusCode::NOT_FOUND, "NoSuchKey"),
                },
                "DELETE" => {
                    objects.remove(&key);
                    answer(StatusCode::NO_CONTENT, "")
                }
                _ => error(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed"),
            }
        }
        _ => error(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed"),
    };
    Ok(response)
}

/// Starts the stand-in on a loopback port.
async fn serve(store: Shared) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let store = store.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| handle(store.clone(), req));
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

fn args(addr: SocketAddr, extra: &[&str]) -> BenchArgs {
    let endpoint = format!("http://{addr}");
    let mut all = vec![
        "spread",
        "bench",
        "--endpoint",
        &endpoint,
        "--access-key",
        "AK",
        "--secret-key",
        "SK",
    ];
    all.extend_from_slice(extra);
    match Cli::try_parse_from(all).unwrap().command {
        Command::Bench(b) => b,
        other => panic!("not bench: {other:?}"),
    }
}

async fn run(store: &Shared, addr: SocketAddr, extra: &[&str]) -> super::Report {
    let r = bench(&args(addr, extra), Arc::new(AtomicBool::new(false)))
        .await
        .unwrap();
    assert_eq!(r.errors, 0, "{:?}", r.first_error);
    let s = store.lock().unwrap();
    if extra.contains(&"--keep") {
        assert!(s.buckets.contains_key("spread-bench"));
    } else {
        assert!(s.buckets.is_empty(), "everything cleaned up");
    }
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_workload_against_a_stand_in() {
    let store = Shared::default();
    let addr = serve(store.clone()).await;

    let r = run(
        &store,
        addr,
        &[
            "--op",
            "put",
            "--objects",
            "25",
            "--size",
            "1000",
            "--concurrency",
            "4",
        ],
    )
    .await;
    assert_eq!(r.ops, 25);
    assert_eq!(r.bytes, 25_000);
    assert_eq!(r.by_op.len(), 1);
    assert!(r.latency_ms.p50 > 0.0 && r.latency_ms.max >= r.latency_ms.p99);

    let r = run(
        &store,
        addr,
        &[
            "--op",
            "get",
            "--objects",
            "10",
            "--size",
            "3000",
            "--concurrency",
            "3",
        ],
    )
    .await;
    assert_eq!((r.prepared_objects, r.ops, r.bytes), (10, 10, 30_000));

    let r = run(
        &store,
        addr,
        &[
            "--op",
            "list",
            "--objects",
            "7",
            "--size",
            "1",
            "--concurrency",
            "2",
        ],
    )
    .await;
    assert_eq!(r.ops, 7);
    assert!(r.keys_listed >= 7, "pages of 3 keys: {}", r.keys_listed);

    let r = run(
        &store,
        addr,
        &["--op", "delete", "--objects", "12", "--concurrency", "5"],
    )
    .await;
    assert_eq!((r.prepared_objects, r.ops), (12, 12));

    let r = run(
        &store,
        addr,
        &[
            "--op",
            "mixed",
            "--objects",
            "200",
            "--size",
            "10",
            "--concurrency",
            "4",
        ],
    )
    .await;
    assert_eq!(r.ops, 200);
    assert!(r.by_op.iter().any(|o| o.op == super::stats::OpKind::Get));

    // Objects larger than the shared block are streamed, with the exact length.
    let size = (super::body::BLOCK_SIZE * 2 + 1).to_string();
    let r = run(
        &store,
        addr,
        &["--op", "put", "--objects", "2", "--size", &size, "--keep"],
    )
    .await;
    assert_eq!(r.bytes, 2 * (2 * (1 << 20) + 1));
    let sizes: Vec<u64> = store.lock().unwrap().buckets["spread-bench"]
        .values()
        .copied()
        .collect();
    assert_eq!(sizes, vec![2 * (1 << 20) + 1; 2]);

    // A time-limited run: the existing bucket is reused and kept.
    let r = run(
        &store,
        addr,
        &[
            "--op",
            "put",
            "--duration",
            "300ms",
            "--size",
            "10",
            "--keep",
        ],
    )
    .await;
    assert!(r.ops > 0);
    assert!(
        r.duration_s >= 0.3 && r.duration_s < 5.0,
        "{}",
        r.duration_s
    );
}

#[tokio::test]
async fn refused_requests_are_reported() {
    let store = Shared::default();
    let addr = serve(store.clone()).await;
    store.lock().unwrap().deny = true;
    let e = bench(
        &args(addr, &["--op", "put", "--objects", "3"]),
        Arc::new(AtomicBool::new(false)),
    )
    .await
    .map(|_| ())
    .unwrap_err();
    assert!(e.to_string().contains("AccessDenied"), "{e}");

    store.lock().unwrap().deny = false;
    // The bucket exists, then every PUT fails: counted as errors, not a crash.
    store.lock().unwrap().fail_puts = true;
    let r = bench(
        &args(
            addr,
            &["--op", "put", "--objects", "4", "--concurrency", "2"],
        ),
        Arc::new(AtomicBool::new(false)),
    )
    .await
    .unwrap();
    assert_eq!((r.ops, r.errors), (0, 4));
    let first = r.first_error.unwrap();
    assert!(
        first.contains("HTTP 500") && first.contains("InternalError"),
        "{first}"
    );
    assert!(store.lock().unwrap().buckets.is_empty());
}
