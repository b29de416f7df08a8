//! Integration tests: a real chunk server on 127.0.0.1:0 with a temp volume, driven by
//! `ChunkClient` and by raw TCP clients.

use bytes::Bytes;
use chunkd::{ChunkClient, ChunkMeta, Config, Error, blake3_hex, chunkfile, new_chunk_id};
use internal_auth::{Role, Secret, Signer};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The cluster secret of every server these tests start.
const TEST_SECRET: &str = "5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed";

fn signer() -> Signer {
    Signer::new(Role::Service, &Secret::parse(TEST_SECRET).unwrap())
}

/// A client signing as the cluster's services.
fn client() -> ChunkClient {
    ChunkClient::new().with_signer(signer())
}

/// The secret's file (written once per test process).
fn key_file() -> PathBuf {
    static FILE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    FILE.get_or_init(|| {
        let path =
            std::env::temp_dir().join(format!("spread-chunkd-test-{}.key", std::process::id()));
        std::fs::write(&path, TEST_SECRET).unwrap();
        path
    })
    .clone()
}

/// The signature header lines of a raw request.
fn signed(method: &str, target: &str, content: &str) -> String {
    format!(
        "x-spread-auth: {}\r\nx-spread-content-hash: {content}\r\n",
        signer().sign(method, target, content)
    )
}

struct Server {
    addr: String,
    volume: PathBuf,
    task: tokio::task::JoinHandle<chunkd::Result<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn start_with(volume: &Path, meta: &str, heartbeat_secs: u64) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let config = Config {
        listen: listener.local_addr().unwrap(),
        volume: volume.to_path_buf(),
        meta: meta.to_string(),
        heartbeat_secs,
        cluster_key_file: Some(key_file()),
        ..Config::default()
    };
    let task = tokio::spawn(chunkd::server::serve(listener, config));
    Server {
        addr,
        volume: volume.to_path_buf(),
        task,
    }
}

/// A server whose meta is unreachable (heartbeats just fail).
async fn start(volume: &Path) -> Server {
    start_with(volume, "127.0.0.1:1", 60).await
}

/// Reverse metadata with names that are not ASCII nor header-safe (every test then sends
/// them through the percent-encoding of the protocol).
fn chunk_meta(data: &[Bytes]) -> ChunkMeta {
    ChunkMeta {
        account: "Ünïcödé acct".into(),
        container: "مرحبا 😀📦 %41+?#\"'".into(),
        key: "dir/sub dir/ключ?&%.txt\nline e\u{301}".into(),
        version: "null".into(),
        content_id: "0123456789abcdef0123456789abcdef".into(),
        position: "3.1".into(),
        policy: "THREECOPIES".into(),
        size: data.iter().map(|b| b.len() as u64).sum(),
        hash: blake3_hex(data),
        mtime_ms: 0,
        pieces: None,
    }
}

fn pattern(len: usize, seed: u8) -> Bytes {
    Bytes::from(
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect::<Vec<u8>>(),
    )
}

/// Every file under the volume except `service-id`: (chunk files, files of uploads in
/// progress). The latter are named files under `tmp/`, or unnamed (`O_TMPFILE`) files, which
/// only show as this process's open descriptors (the server runs in the test process).
fn files(volume: &Path) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let (chunks, mut temps) = named_files(volume);
    let root = volume.canonicalize().unwrap();
    for fd in std::fs::read_dir("/proc/self/fd").unwrap() {
        let Ok(target) = std::fs::read_link(fd.unwrap().path()) else {
            continue;
        };
        if target.starts_with(&root) && target.to_string_lossy().ends_with(" (deleted)") {
            temps.push(target);
        }
    }
    (chunks, temps)
}

fn named_files(volume: &Path) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let mut chunks = Vec::new();
    let mut temps = Vec::new();
    for entry in std::fs::read_dir(volume).unwrap() {
        let entry = entry.unwrap();
        if !entry.file_type().unwrap().is_dir() {
            continue;
        }
        let is_tmp = entry.file_name() == "tmp";
        for f in std::fs::read_dir(entry.path()).unwrap() {
            let p = f.unwrap().path();
            if is_tmp {
                temps.push(p)
            } else {
                chunks.push(p)
            }
        }
    }
    (chunks, temps)
}

/// Wait (bounded) until `cond` holds on the volume's files.
async fn wait_for(volume: &Path, what: &str, cond: impl Fn(&[PathBuf], &[PathBuf]) -> bool) {
    for _ in 0..250 {
        let (c, t) = files(volume);
        if cond(&c, &t) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (c, t) = files(volume);
    panic!("timed out waiting for {what}: chunks {c:?} temps {t:?}");
}

/// Send raw bytes and read the answer until the server closes (send `connection: close`),
/// bounded. With `half_close`, the write side is shut down after the request.
async fn raw_exchange_with(addr: &str, request: &[u8], half_close: bool) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    if half_close {
        s.shutdown().await.unwrap();
    }
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

async fn raw_exchange(addr: &str, request: &[u8]) -> String {
    raw_exchange_with(addr, request, false).await
}

#[tokio::test]
async fn put_get_range_head_delete() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path()).await;
    let client = client();
    let parts = vec![pattern(700_000, 1), pattern(1, 2), pattern(300_000, 3)];
    let whole: Vec<u8> = parts.iter().flat_map(|b| b.iter().copied()).collect();
    let meta = chunk_meta(&parts);
    let id = new_chunk_id();
    client
        .put(&srv.addr, &id, &meta, parts.clone())
        .await
        .unwrap();

    let got = client.get(&srv.addr, &id, None).await.unwrap();
    assert_eq!(got.len(), whole.len());
    assert!(got == whole[..]);
    let got = client.get(&srv.addr, &id, Some(10..20)).await.unwrap();
    assert_eq!(got, whole[10..20]);
    let got = client
        .get(&srv.addr, &id, Some(500_000..1_000_001))
        .await
        .unwrap();
    assert!(got == whole[500_000..]);
    // A range reaching past the end is clamped.
    let got = client
        .get(&srv.addr, &id, Some(999_990..2_000_000))
        .await
        .unwrap();
    assert!(got == whole[999_990..]);
    assert!(
        client
            .get(&srv.addr, &id, Some(5..5))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        client.get(&srv.addr, &id, Some(2_000_000..2_000_001)).await,
        Err(Error::RangeNotSatisfiable)
    ));

    // Suffix range and raw headers.
    let resp = raw_exchange(
        &srv.addr,
        format!(
            "GET /v1/chunk/{id} HTTP/1.1\r\nhost: x\r\n{}range: bytes=-5\r\nconnection: close\r\n\r\n",
            signed("GET", &format!("/v1/chunk/{id}"), "")
        )
        .as_bytes(),
    )
    .await;
    assert!(resp.starts_with("HTTP/1.1 206"), "{resp}");
    assert!(
        resp.contains("content-range: bytes 999996-1000000/1000001"),
        "{resp}"
    );
    assert!(
        resp.contains(&format!("x-spread-chunk-hash: {}", meta.hash)),
        "{resp}"
    );
    assert!(resp.contains("x-spread-chunk-size: 1000001"), "{resp}");
    assert!(resp.contains("x-spread-request-id: "), "{resp}");

    // HEAD: metadata back, Content-Length of the data.
    let head = client.head(&srv.addr, &id).await.unwrap();
    assert_eq!(head.account, meta.account);
    assert_eq!(head.container, meta.container);
    assert_eq!(head.key, meta.key);
    assert_eq!(head.hash, meta.hash);
    assert_eq!(head.size, meta.size);
    assert_eq!(head.position, "3.1");
    assert!(head.mtime_ms > 0);
    let resp = raw_exchange(
        &srv.addr,
        format!(
            "HEAD /v1/chunk/{id} HTTP/1.1\r\nhost: x\r\n{}connection: close\r\n\r\n",
            signed("HEAD", &format!("/v1/chunk/{id}"), "")
        )
        .as_bytes(),
    )
    .await;
    assert!(resp.contains("content-length: 1000001"), "{resp}");

    // Streaming read.
    use futures::StreamExt;
    let mut stream = std::pin::pin!(client.get_stream(&srv.addr, &id, None).await.unwrap());
    let mut n = 0usize;
    let mut blocks = 0;
    while let Some(b) = stream.next().await {
        let b = b.unwrap();
        assert!(b[..] == whole[n..n + b.len()]);
        n += b.len();
        blocks += 1;
    }
    assert_eq!(n, whole.len());
    assert!(blocks >= 2);

    let info = client.info(&srv.addr).await.unwrap();
    assert_eq!(info.chunk_count, 1);
    assert_eq!(info.location, "local.rack0.host0.vol0");
    assert!(info.total_bytes > 0 && info.free_bytes <= info.total_bytes);

    client.delete(&srv.addr, &id).await.unwrap();
    assert!(matches!(
        client.get(&srv.addr, &id, None).await,
        Err(Error::NotFound)
    ));
    assert!(matches!(
        client.head(&srv.addr, &id).await,
        Err(Error::NotFound)
    ));
    assert!(matches!(
        client.delete(&srv.addr, &id).await,
        Err(Error::NotFound)
    ));
    assert_eq!(client.info(&srv.addr).await.unwrap().chunk_count, 0);
}

#[tokio::test]
async fn empty_chunk() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path()).await;
    let client = client();
    let meta = chunk_meta(&[]);
    let id = new_chunk_id();
    client.put(&srv.addr, &id, &meta, vec![]).await.unwrap();
    assert!(client.get(&srv.addr, &id, None).await.unwrap().is_empty());
    assert_eq!(client.head(&srv.addr, &id).await.unwrap().size, 0);
}

#[tokio::test]
async fn hash_mismatch_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path()).await;
    let client = client();
    let parts = vec![pattern(100_000, 7)];
    let mut meta = chunk_meta(&parts);
    meta.hash = blake3_hex(&[pattern(100_000, 8)]);
    let id = new_chunk_id();
    let err = client.put(&srv.addr, &id, &meta, parts).await.unwrap_err();
    assert!(matches!(err, Error::HashMismatch), "{err:?}");
    let (chunks, temps) = files(&srv.volume);
    assert!(
        chunks.is_empty() && temps.is_empty(),
        "{chunks:?} {temps:?}"
    );
    assert!(matches!(
        client.get(&srv.addr, &id, None).await,
        Err(Error::NotFound)
    ));
}

#[tokio::test]
async fn existing_id_conflicts_and_bad_id_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path()).await;
    let client = client();
    let parts = vec![pattern(1000, 1)];
    let meta = chunk_meta(&parts);
    let id = new_chunk_id();
    client
        .put(&srv.addr, &id, &meta, parts.clone())
        .await
        .unwrap();
    let other = vec![pattern(1000, 2)];
    let err = client
        .put(&srv.addr, &id, &chunk_meta(&other), other)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict), "{err:?}");
    assert!(client.get(&srv.addr, &id, None).await.unwrap() == parts[0]);
    let (chunks, temps) = files(&srv.volume);
    assert_eq!(chunks.len(), 1);
    assert!(temps.is_empty());

    for bad in ["abc", &id.to_uppercase(), &format!("{id}0")] {
        let resp = raw_exchange(
            &srv.addr,
            format!(
                "GET /v1/chunk/{bad} HTTP/1.1\r\nhost: x\r\n{}connection: close\r\n\r\n",
                signed("GET", &format!("/v1/chunk/{bad}"), "")
            )
            .as_bytes(),
        )
        .await;
        assert!(resp.starts_with("HTTP/1.1 400"), "{resp}");
    }
    assert!(matches!(
        client.get(&srv.addr, "nothex", None).await,
        Err(Error::BadRequest(_))
    ));
}

#[tokio::test]
async fn names_sent_without_encoding_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path()).await;
    let hash = blake3_hex(&[Bytes::from_static(b"hello")]);
    let put = |container: &[u8]| {
        let id = new_chunk_id();
        let mut req = format!(
            "PUT /v1/chunk/{id} HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\n{}\
             x-spread-chunk-hash: {hash}\r\nconnection: close\r\nx-spread-container: ",
            signed("PUT", &format!("/v1/chunk/{id}"), &hash)
        )
        .into_bytes();
        req.extend_from_slice(container);
        req.extend_from_slice(b"\r\n\r\nhello");
        req
    };
    // Raw UTF-8 in the header: refused, nothing stored.
    let resp = raw_exchange(&srv.addr, &put("Ünï-容器".as_bytes())).await;
    assert!(resp.starts_with("HTTP/1.1 400"), "{resp}");
    assert!(resp.contains("x-spread-container is not ASCII"), "{resp}");
    // Percent-encoding of something that is not UTF-8: refused too.
    let resp = raw_exchange(&srv.addr, &put(b"bad%FF")).await;
    assert!(resp.starts_with("HTTP/1.1 400"), "{resp}");
    assert!(resp.contains("not percent-encoded UTF-8"), "{resp}");
    let (chunks, temps) = files(&srv.volume);
    assert!(chunks.is_empty() && temps.is_empty());
    // The same name encoded is stored, decoded.
    let resp = raw_exchange(&srv.addr, &put(b"%C3%9Cn%C3%AF-%E5%AE%B9%E5%99%A8")).await;
    assert!(resp.starts_with("HTTP/1.1 201"), "{resp}");
    let (chunks, _) = files(&srv.volume);
    assert_eq!(chunks.len(), 1);
    assert_eq!(
        chunkfile::read_footer(&chunks[0]).unwrap().container,
        "Ünï-容器"
    );
}

#[tokio::test]
async fn missing_hash_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path()).await;
    let id = new_chunk_id();
    let resp = raw_exchange(
        &srv.addr,
        format!(
            "PUT /v1/chunk/{id} HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\n{}connection: close\r\n\r\nhello",
            // Signed as a streamed upload (its hash to come in the trailer), which sends none.
            signed("PUT", &format!("/v1/chunk/{id}"), "trailer")
        )
        .as_bytes(),
    )
    .await;
    assert!(resp.starts_with("HTTP/1.1 400"), "{resp}");
    let (chunks, temps) = files(&srv.volume);
    assert!(chunks.is_empty() && temps.is_empty());
}

#[tokio::test]
async fn trailer_hash_path() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path()).await;
    let client = client();
    let parts = vec![pattern(300_000, 4), pattern(5, 5), pattern(70_000, 6)];
    let meta = chunk_meta(&parts);
    let hash = meta.hash.clone();
    let id = new_chunk_id();
    let body = futures::stream::iter(parts.clone().into_iter().map(Ok::<_, std::io::Error>));
    client
        .put_stream(&srv.addr, &id, &meta, body, async move { Some(hash) })
        .await
        .unwrap();
    let whole: Vec<u8> = parts.iter().flat_map(|b| b.iter().copied()).collect();
    assert!(client.get(&srv.addr, &id, None).await.unwrap() == whole[..]);
    assert_eq!(
        client.head(&srv.addr, &id).await.unwrap().size,
        whole.len() as u64
    );

    // Wrong trailer hash: rejected, nothing stored.
    let id2 = new_chunk_id();
    let body = futures::stream::iter(parts.clone().into_iter().map(Ok::<_, std::io::Error>));
    let wrong = blake3_hex(&[Bytes::from_static(b"other")]);
    let err = client
        .put_stream(&srv.addr, &id2, &meta, body, async move { Some(wrong) })
        .await
        .unwrap_err();
    assert!(matches!(err, Error::HashMismatch), "{err:?}");

    // No hash at all: the upload is aborted, nothing stored.
    let id3 = new_chunk_id();
    let body = futures::stream::iter(parts.into_iter().map(Ok::<_, std::io::Error>));
    assert!(
        client
            .put_stream(&srv.addr, &id3, &meta, body, async { None })
            .await
            .is_err()
    );
    wait_for(&srv.volume, "only the first chunk", |c, t| {
        c.len() == 1 && t.is_empty()
    })
    .await;
    assert_eq!(client.info(&srv.addr).await.unwrap().chunk_count, 1);
}

#[tokio::test]
async fn content_length_mismatch_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path()).await;
    let id = new_chunk_id();
    let data = pattern(50, 1);
    let hash = blake3_hex(std::slice::from_ref(&data));
    let mut req = format!(
        "PUT /v1/chunk/{id} HTTP/1.1\r\nhost: x\r\n{}content-length: 100\r\nx-spread-chunk-hash: {hash}\r\n\r\n",
        signed("PUT", &format!("/v1/chunk/{id}"), &hash)
    )
    .into_bytes();
    req.extend_from_slice(&data);
    let resp = raw_exchange_with(&srv.addr, &req, true).await;
    assert!(!resp.starts_with("HTTP/1.1 201"), "{resp}");
    wait_for(&srv.volume, "no files", |c, t| c.is_empty() && t.is_empty()).await;
}

#[tokio::test]
async fn disconnect_mid_upload_leaves_nothing() {
    // The temp file is created by the first 1 MiB write batch: send more than that.
    const SIZE: usize = 3_000_000;
    const SENT: usize = 1_200_000;
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path()).await;
    let id = new_chunk_id();
    let hash = blake3_hex(&[pattern(SIZE, 1)]);
    let mut s = TcpStream::connect(&srv.addr).await.unwrap();
    let head = format!(
        "PUT /v1/chunk/{id} HTTP/1.1\r\nhost: x\r\n{}content-length: {SIZE}\r\nx-spread-chunk-hash: {hash}\r\n\r\n",
        signed("PUT", &format!("/v1/chunk/{id}"), &hash)
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&pattern(SENT, 1)).await.unwrap();
    s.flush().await.unwrap();
    wait_for(&srv.volume, "temp file", |_, t| t.len() == 1).await;
    drop(s);
    wait_for(&srv.volume, "no files", |c, t| c.is_empty() && t.is_empty()).await;

    // Same with chunked encoding.
    let mut s = TcpStream::connect(&srv.addr).await.unwrap();
    let head = format!(
        "PUT /v1/chunk/{id} HTTP/1.1\r\nhost: x\r\n{}transfer-encoding: chunked\r\nx-spread-chunk-hash: {hash}\r\n\r\n{SENT:x}\r\n",
        signed("PUT", &format!("/v1/chunk/{id}"), &hash)
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&pattern(SENT, 1)).await.unwrap();
    s.write_all(b"\r\n").await.unwrap();
    s.flush().await.unwrap();
    wait_for(&srv.volume, "temp file", |_, t| t.len() == 1).await;
    drop(s);
    wait_for(&srv.volume, "no files", |c, t| c.is_empty() && t.is_empty()).await;

    // A small upload cut short never reaches the disk at all.
    let mut s = TcpStream::connect(&srv.addr).await.unwrap();
    let head = format!(
        "PUT /v1/chunk/{id} HTTP/1.1\r\nhost: x\r\n{}content-length: 1000\r\nx-spread-chunk-hash: {hash}\r\n\r\n",
        signed("PUT", &format!("/v1/chunk/{id}"), &hash)
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&pattern(500, 1)).await.unwrap();
    s.flush().await.unwrap();
    drop(s);
    tokio::time::sleep(Duration::from_millis(200)).await;
    wait_for(&srv.volume, "no files", |c, t| c.is_empty() && t.is_empty()).await;
}

#[tokio::test]
async fn footer_on_disk_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let client = client();
    let parts = vec![pattern(12_345, 9)];
    let meta = chunk_meta(&parts);
    let id = new_chunk_id();
    let service_id;
    {
        let srv = start(dir.path()).await;
        client
            .put(&srv.addr, &id, &meta, parts.clone())
            .await
            .unwrap();
        service_id = client.info(&srv.addr).await.unwrap().id;
    }
    let path = dir.path().join(&id[..3]).join(&id);
    let on_disk = chunkfile::read_footer(&path).unwrap();
    assert_eq!(
        ChunkMeta {
            mtime_ms: 0,
            pieces: None,
            ..on_disk.clone()
        },
        meta
    );
    // Layout: data, then the footer, which holds the names as UTF-8 (JSON), not encoded.
    let raw = std::fs::read(&path).unwrap();
    assert!(raw[..12_345] == parts[0][..]);
    assert!(raw.ends_with(chunkfile::MAGIC));
    let footer = String::from_utf8_lossy(&raw[12_345..raw.len() - 12]).into_owned();
    for name in [
        "Ünïcödé acct",
        "مرحبا 😀📦 %41+?#",
        "dir/sub dir/ключ?&%.txt\\nline e\u{301}",
    ] {
        assert!(footer.contains(name), "footer {footer} lacks {name:?}");
    }

    // A leftover temp file is wiped at start; id and count survive.
    std::fs::write(dir.path().join("tmp").join("leftover.1"), b"junk").unwrap();
    let srv = start(dir.path()).await;
    let info = client.info(&srv.addr).await.unwrap();
    assert_eq!(info.id, service_id);
    assert_eq!(info.chunk_count, 1);
    let (chunks, temps) = files(dir.path());
    assert_eq!(chunks.len(), 1);
    assert!(temps.is_empty());
}

#[tokio::test]
async fn dead_server_is_unavailable() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    drop(listener);
    let client = client();
    let err = client.get(&addr, &new_chunk_id(), None).await.unwrap_err();
    assert!(matches!(err, Error::Unavailable(_)), "{err:?}");
}

#[tokio::test]
async fn aborted_server_closes_pooled_connections() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path()).await;
    let client = client();
    let parts = vec![pattern(10, 1)];
    let id = new_chunk_id();
    client
        .put(&srv.addr, &id, &chunk_meta(&parts), parts)
        .await
        .unwrap();
    client.get(&srv.addr, &id, None).await.unwrap();
    let addr = srv.addr.clone();
    drop(srv);
    let mut last = None;
    for _ in 0..50 {
        match client.get(&addr, &id, None).await {
            Err(e) => {
                last = Some(e);
                break;
            }
            Ok(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    assert!(matches!(last, Some(Error::Unavailable(_))), "{last:?}");
}

/// Flips one byte of chunk `id`'s file at `at`.
fn flip(volume: &Path, id: &str, at: usize) {
    let path = volume.join(&id[..3]).join(id);
    let mut file = std::fs::read(&path).unwrap();
    file[at] ^= 0x5a;
    std::fs::write(&path, &file).unwrap();
}

/// A read that finds a bad piece (or a bad small chunk) stops before sending its last block
/// and quarantines the chunk: every later GET and HEAD answers not-found. The scrubber, asked
/// for a pass, finds the bad chunk no read touched and leaves the good ones.
#[tokio::test]
async fn bad_chunks_are_quarantined_by_reads_and_by_the_scrubber() {
    const MIB: usize = 1024 * 1024;
    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let config = Config {
        listen: listener.local_addr().unwrap(),
        volume: dir.path().to_path_buf(),
        meta: "127.0.0.1:1".to_string(),
        heartbeat_secs: 60,
        scrub_grace_secs: 0,
        // Passes only when asked.
        scrub_interval_days: 0,
        cluster_key_file: Some(key_file()),
        ..Config::default()
    };
    let _srv = Server {
        addr: addr.clone(),
        volume: dir.path().to_path_buf(),
        task: tokio::spawn(chunkd::server::serve(listener, config)),
    };
    let client = client();
    let mut chunks = Vec::new();
    for (len, seed) in [(3 * MIB + 5, 1), (3 * MIB + 5, 2), (1000, 3), (1000, 4)] {
        let data = vec![pattern(len, seed)];
        let id = new_chunk_id();
        client
            .put(&addr, &id, &chunk_meta(&data), data.clone())
            .await
            .unwrap();
        chunks.push((id, data[0].clone()));
    }
    let [a, b, c, d] = &chunks[..] else {
        unreachable!()
    };
    flip(dir.path(), &a.0, MIB + 3);
    flip(dir.path(), &b.0, 2 * MIB + 1);
    flip(dir.path(), &c.0, 10);

    // A range that does not start and end on piece boundaries is not checked: sent as read.
    let got = client
        .get(&addr, &a.0, Some(MIB as u64..MIB as u64 + 10))
        .await
        .unwrap();
    assert_ne!(got, a.1[MIB..MIB + 10]);
    // A whole read of a: the bad piece 1 is never sent whole; a is quarantined.
    assert!(client.get(&addr, &a.0, None).await.is_err());
    assert!(matches!(
        client.get(&addr, &a.0, None).await,
        Err(Error::NotFound)
    ));
    assert!(matches!(
        client.head(&addr, &a.0).await,
        Err(Error::NotFound)
    ));
    // b: its sound piece 0 reads fine; piece 2 does not, and then nothing does.
    let piece0 = client.get(&addr, &b.0, Some(0..MIB as u64)).await.unwrap();
    assert!(piece0 == b.1[..MIB]);
    let range = 2 * MIB as u64..3 * MIB as u64;
    assert!(client.get(&addr, &b.0, Some(range)).await.is_err());
    assert!(matches!(
        client.head(&addr, &b.0).await,
        Err(Error::NotFound)
    ));
    let status = client.scrub_status(&addr).await.unwrap();
    assert_eq!((status.bad_found_by_reads, status.quarantined), (2, 2));
    assert_eq!(status.last, None, "no pass yet: passes only when asked");
    assert!(status.enabled);

    // c was never read: the scrubber finds it.
    let asked = client.scrub_start(&addr).await.unwrap().requested;
    assert_eq!(asked, 1);
    let started = std::time::Instant::now();
    let last = loop {
        let st = client.scrub_status(&addr).await.unwrap();
        if let Some(last) = st.last.clone().filter(|l| l.number >= asked) {
            break last;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no pass within 20 s: {st:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(
        (last.counters.chunks, last.counters.bad),
        (2, 1),
        "{last:?}"
    );
    assert!(matches!(
        client.head(&addr, &c.0).await,
        Err(Error::NotFound)
    ));
    assert!(client.get(&addr, &d.0, None).await.unwrap() == d.1);
    let status = client.scrub_status(&addr).await.unwrap();
    assert_eq!(status.quarantined, 3);
    let quarantined: Vec<String> = std::fs::read_dir(dir.path().join("quarantine"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for (id, found_by) in [(&a.0, "read"), (&b.0, "read"), (&c.0, "scrub")] {
        let name = quarantined
            .iter()
            .find(|n| n.starts_with(id.as_str()) && n.ends_with(".json"))
            .unwrap_or_else(|| panic!("no record of {id} in {quarantined:?}"));
        let text = std::fs::read_to_string(dir.path().join("quarantine").join(name)).unwrap();
        assert!(
            text.contains(&format!("\"found_by\": \"{found_by}\"")),
            "{text}"
        );
    }
}

/// `GET path`, answered with `connection: close`: (status line, body).
async fn get_text(addr: &str, path: &str) -> (String, String) {
    let request = format!("GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
    let answer = raw_exchange(addr, request.as_bytes()).await;
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head.lines().next().unwrap_or_default().to_string();
    (status, body.to_string())
}

#[tokio::test]
async fn metrics_health_and_ready_and_ready_fails_without_a_usable_volume() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path()).await;
    let client = client();
    let parts = vec![pattern(5000, 9)];
    let id = new_chunk_id();
    client
        .put(&srv.addr, &id, &chunk_meta(&parts), parts.clone())
        .await
        .unwrap();
    client.get(&srv.addr, &id, None).await.unwrap();
    assert!(matches!(
        client.get(&srv.addr, &new_chunk_id(), None).await,
        Err(Error::NotFound)
    ));

    let (status, body) = get_text(&srv.addr, "/metrics").await;
    assert!(status.contains(" 200 "), "{status}");
    for want in [
        "spread_chunkd_requests_total{operation=\"PutChunk\",status=\"201\"} 1",
        "spread_chunkd_requests_total{operation=\"GetChunk\",status=\"200\"} 1",
        "spread_chunkd_requests_total{operation=\"GetChunk\",status=\"404\"} 1",
        "spread_chunkd_errors_total{kind=\"NotFound\"} 1",
        "spread_chunkd_written_bytes_total 5000",
        "spread_chunkd_read_bytes_total 5000",
        "spread_chunkd_chunks 1",
    ] {
        assert!(body.contains(want), "{want} missing from\n{body}");
    }
    assert!(get_text(&srv.addr, "/health").await.0.contains(" 200 "));
    let (status, body) = get_text(&srv.addr, "/ready").await;
    assert!(status.contains(" 200 "), "{status} {body}");
    // Nothing left behind by the probe.
    assert_eq!(
        std::fs::read_dir(srv.volume.join("tmp")).unwrap().count(),
        0
    );

    // A volume that cannot be written: not ready, with the reason; still alive.
    std::fs::remove_dir_all(srv.volume.join("tmp")).unwrap();
    let (status, body) = get_text(&srv.addr, "/ready").await;
    assert!(status.contains(" 503 "), "{status} {body}");
    assert!(body.starts_with("not ready: volume: "), "{body}");
    assert!(get_text(&srv.addr, "/health").await.0.contains(" 200 "));
}

/// A raw streamed (chunked) upload of `data` signed with `auth`, whose trailer carries `hash`
/// and the trailer MAC `mac`.
fn streamed_put(target: &str, auth: &str, data: &[u8], hash: &str, mac: &str) -> Vec<u8> {
    let mut req = format!(
        "PUT {target} HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\ntrailer: x-spread-chunk-hash, x-spread-trailer-mac\r\n\
         x-spread-auth: {auth}\r\nx-spread-content-hash: trailer\r\nconnection: close\r\n\r\n{:x}\r\n",
        data.len()
    )
    .into_bytes();
    req.extend_from_slice(data);
    req.extend_from_slice(
        format!("\r\n0\r\nx-spread-chunk-hash: {hash}\r\nx-spread-trailer-mac: {mac}\r\n\r\n")
            .as_bytes(),
    );
    req
}

/// Every route of the server's table refuses a request that is unsigned or signed with
/// another secret (401, nothing stored or deleted); an upload whose signed content is not its
/// hash, or whose trailer MAC is wrong, stores nothing; a replayed DELETE is refused; the
/// probes answer anyone.
#[tokio::test]
async fn every_route_refuses_unsigned_and_wrongly_signed_requests() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path()).await;
    let data = vec![pattern(2000, 7)];
    let meta = chunk_meta(&data);
    let kept = new_chunk_id();
    client()
        .put(&srv.addr, &kept, &meta, data.clone())
        .await
        .unwrap();
    let stranger = Signer::new(Role::Service, &Secret::generate());
    for (method, route) in chunkd::wire::ROUTES {
        // The stored chunk for reads and deletes, a new id for uploads.
        let id = if *method == "PUT" {
            new_chunk_id()
        } else {
            kept.clone()
        };
        let target = route.replace("{id}", &id);
        let content = if *method == "PUT" {
            meta.hash.as_str()
        } else {
            ""
        };
        let body = if *method == "PUT" {
            "x".repeat(2000)
        } else {
            String::new()
        };
        let head = format!(
            "{method} {target} HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\nx-spread-chunk-hash: {}\r\nconnection: close\r\n",
            body.len(),
            meta.hash
        );
        let unsigned = raw_exchange(&srv.addr, format!("{head}\r\n{body}").as_bytes()).await;
        assert!(
            unsigned.starts_with("HTTP/1.1 401"),
            "{method} {route} unsigned: {unsigned}"
        );
        let wrong = format!(
            "{head}x-spread-auth: {}\r\nx-spread-content-hash: {content}\r\n\r\n{body}",
            stranger.sign(method, &target, content)
        );
        let wrong = raw_exchange(&srv.addr, wrong.as_bytes()).await;
        assert!(
            wrong.starts_with("HTTP/1.1 401"),
            "{method} {route} wrong key: {wrong}"
        );
    }
    // Still there, and nothing else stored.
    assert!(client().get(&srv.addr, &kept, None).await.unwrap() == data[0]);
    assert_eq!(client().info(&srv.addr).await.unwrap().chunk_count, 1);

    // Signed content that is not the hash announced: refused before a byte is stored.
    let id = new_chunk_id();
    let other = blake3_hex(&[Bytes::from_static(b"other")]);
    let req = format!(
        "PUT /v1/chunk/{id} HTTP/1.1\r\nhost: x\r\ncontent-length: 2000\r\nx-spread-chunk-hash: {}\r\n{}connection: close\r\n\r\n",
        meta.hash,
        signed("PUT", &format!("/v1/chunk/{id}"), &other)
    );
    let mut req = req.into_bytes();
    req.extend_from_slice(&data[0]);
    let resp = raw_exchange(&srv.addr, &req).await;
    assert!(resp.starts_with("HTTP/1.1 401"), "{resp}");

    // A streamed upload whose trailer MAC is not the signer's: nothing stored.
    let id = new_chunk_id();
    let target = format!("/v1/chunk/{id}");
    let auth = signer().sign("PUT", &target, "trailer");
    let forged = stranger.trailer_mac(&auth, &meta.hash);
    let req = streamed_put(&target, &auth, &data[0], &meta.hash, &forged);
    let resp = raw_exchange(&srv.addr, &req).await;
    assert!(resp.starts_with("HTTP/1.1 401"), "{resp}");
    assert!(resp.contains("trailer"), "{resp}");
    // The same with the right MAC is stored.
    let right = signer().trailer_mac(&auth, &meta.hash);
    let auth2 = signer().sign("PUT", &target, "trailer");
    let right2 = signer().trailer_mac(&auth2, &meta.hash);
    assert_ne!(right, right2);
    let req = streamed_put(&target, &auth2, &data[0], &meta.hash, &right2);
    let resp = raw_exchange(&srv.addr, &req).await;
    assert!(resp.starts_with("HTTP/1.1 201"), "{resp}");
    assert_eq!(client().info(&srv.addr).await.unwrap().chunk_count, 2);

    // A DELETE taken once: its replay is refused, the chunk written since stays.
    let del = signed("DELETE", &format!("/v1/chunk/{kept}"), "");
    let req =
        format!("DELETE /v1/chunk/{kept} HTTP/1.1\r\nhost: x\r\n{del}connection: close\r\n\r\n");
    let resp = raw_exchange(&srv.addr, req.as_bytes()).await;
    assert!(resp.starts_with("HTTP/1.1 204"), "{resp}");
    client()
        .put(&srv.addr, &kept, &meta, data.clone())
        .await
        .unwrap();
    let resp = raw_exchange(&srv.addr, req.as_bytes()).await;
    assert!(resp.starts_with("HTTP/1.1 401"), "{resp}");
    assert!(resp.contains("replayed"), "{resp}");
    assert!(client().get(&srv.addr, &kept, None).await.unwrap() == data[0]);

    // An unsigned client is refused like a dead server (the gateway moves on).
    assert!(matches!(
        ChunkClient::new().get(&srv.addr, &kept, None).await,
        Err(Error::Unavailable(m)) if m.contains("401")
    ));
    for (_, route) in chunkd::wire::OPEN_ROUTES {
        assert!(
            get_text(&srv.addr, route).await.0.contains(" 200 "),
            "{route}"
        );
    }
}
