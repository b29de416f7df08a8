//! End-to-end tests: each test starts its own `spread dev` cluster (meta, three chunk servers,
//! an S3 gateway as real processes on loopback ports) and drives it over S3 and `spread admin`.
//!
//! Needs the `spread` binary: `cargo build --release` first, or set `SPREAD_BIN`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;

use conformance::cluster::{Cluster, DevOptions, Located};
use conformance::s3::{Payload, Request, S3};
use conformance::{md5_hex, random_bytes};
use http::Method;

const MIB: usize = 1024 * 1024;

fn small_chunks(chunk_size: usize) -> DevOptions {
    DevOptions {
        chunk_size: Some(chunk_size as u64),
        ..DevOptions::default()
    }
}

/// Compares two byte strings without dumping megabytes into the failure message.
#[track_caller]
fn assert_same_bytes(got: &[u8], want: &[u8], what: &str) {
    if got != want {
        let first_diff = got.iter().zip(want).position(|(a, b)| a != b);
        panic!(
            "{what}: bytes differ: got {} bytes (md5 {}), want {} bytes (md5 {}), first difference at {:?}",
            got.len(),
            md5_hex(got),
            want.len(),
            md5_hex(want),
            first_diff
        );
    }
}

fn quoted(md5: &str) -> String {
    format!("\"{md5}\"")
}

/// PUTs and checks the answer: 200 and an ETag that is the body's MD5.
async fn put_ok(s3: &S3, bucket: &str, key: &str, data: &[u8]) {
    let resp = s3.put_object(bucket, key, data.to_vec()).await;
    resp.expect_status(200, &format!("PUT {bucket}/{key}"));
    assert_eq!(
        resp.etag(),
        Some(quoted(&md5_hex(data)).as_str()),
        "ETag of PUT {bucket}/{key}"
    );
}

/// GETs and checks the body is byte-identical.
async fn get_same(s3: &S3, bucket: &str, key: &str, want: &[u8]) {
    let resp = s3.get_object(bucket, key).await;
    resp.expect_status(200, &format!("GET {bucket}/{key}"));
    assert_same_bytes(&resp.body, want, &format!("GET {bucket}/{key}"));
    assert_eq!(
        resp.etag(),
        Some(quoted(&md5_hex(want)).as_str()),
        "ETag of GET {bucket}/{key}"
    );
}

fn chunkd_index_by_addr(cluster: &Cluster, addr: &str) -> usize {
    cluster
        .info
        .chunkd
        .iter()
        .position(|c| c.addr == addr)
        .unwrap_or_else(|| panic!("copy on {addr}, which is no chunk server of cluster.toml"))
}

/// Checks the locate answer against the object's bytes: contiguous chunks whose BLAKE3 and sizes
/// match, `copies` copies each on distinct servers, and every copy's chunk file on disk in the
/// documented layout (`<volume>/<id[0..3]>/<id>` = data, footer JSON, u32 LE length, magic).
fn check_located(cluster: &Cluster, loc: &Located, data: &[u8], copies: usize, chunk_size: usize) {
    assert_eq!(loc.size, data.len() as u64, "locate: size");
    assert_eq!(loc.etag.trim_matches('"'), md5_hex(data), "locate: etag");
    let expected_chunks = data.len().div_ceil(chunk_size);
    assert_eq!(loc.chunks.len(), expected_chunks, "locate: chunk count");
    let mut offset = 0u64;
    for (i, chunk) in loc.chunks.iter().enumerate() {
        assert_eq!(chunk.pos, i as u64, "chunk {i}: pos");
        assert_eq!(chunk.offset, offset, "chunk {i}: offset");
        let expected_size = (data.len() - offset as usize).min(chunk_size) as u64;
        assert_eq!(chunk.size, expected_size, "chunk {i}: size");
        let slice = &data[offset as usize..(offset + chunk.size) as usize];
        assert_eq!(
            chunk.hash,
            blake3::hash(slice).to_hex().as_str(),
            "chunk {i}: BLAKE3 hash"
        );
        assert_eq!(
            chunk.copies.len(),
            copies,
            "chunk {i}: copies {:?}",
            chunk.copies
        );
        let services: BTreeSet<&str> = chunk.copies.iter().map(|c| c.service.as_str()).collect();
        let addrs: BTreeSet<&str> = chunk.copies.iter().map(|c| c.addr.as_str()).collect();
        let locations: BTreeSet<&str> = chunk.copies.iter().map(|c| c.location.as_str()).collect();
        assert_eq!(services.len(), copies, "chunk {i}: services not distinct");
        assert_eq!(addrs.len(), copies, "chunk {i}: addresses not distinct");
        assert_eq!(locations.len(), copies, "chunk {i}: locations not distinct");
        for copy in &chunk.copies {
            let server = &cluster.info.chunkd[chunkd_index_by_addr(cluster, &copy.addr)];
            assert_eq!(
                copy.location, server.location,
                "chunk {i}: location of {}",
                copy.addr
            );
            let service_id = fs::read_to_string(server.volume.join("service-id"))
                .unwrap_or_else(|e| panic!("{}/service-id: {e}", server.volume.display()));
            assert_eq!(
                copy.service,
                service_id.trim(),
                "chunk {i}: service id of {}",
                copy.addr
            );
            assert!(copy.chunk_id.len() > 3, "chunk id {:?}", copy.chunk_id);
            let path = chunk_file(cluster, copy);
            let file = fs::read(&path)
                .unwrap_or_else(|e| panic!("chunk {i}: chunk file {}: {e}", path.display()));
            assert!(
                file.len() >= slice.len() + 12,
                "chunk {i}: {} is too short",
                path.display()
            );
            assert_same_bytes(
                &file[..slice.len()],
                slice,
                &format!("data in {}", path.display()),
            );
            assert_eq!(
                &file[file.len() - 8..],
                b"SPRDCHK1",
                "magic of {}",
                path.display()
            );
            let len_at = file.len() - 12;
            let footer_len =
                u32::from_le_bytes(file[len_at..len_at + 4].try_into().expect("4 bytes")) as usize;
            assert_eq!(
                slice.len() + footer_len + 12,
                file.len(),
                "footer length of {}",
                path.display()
            );
            let footer: serde_json::Value = serde_json::from_slice(&file[slice.len()..len_at])
                .unwrap_or_else(|e| panic!("footer of {} is not JSON: {e}", path.display()));
            assert!(
                footer.to_string().contains(&loc.key),
                "footer of {} does not name the object {}: {footer}",
                path.display(),
                loc.key
            );
        }
        offset += chunk.size;
    }
    assert_eq!(offset, data.len() as u64, "chunks cover the object");
}

#[tokio::test]
async fn big_object_round_trips_with_three_copies_on_disk() {
    const CHUNK: usize = 4 * MIB;
    let cluster = Cluster::start_with(small_chunks(CHUNK));
    let s3 = cluster.s3().with_payload(Payload::Unsigned);
    s3.create_bucket("big")
        .await
        .expect_status(200, "CreateBucket");

    let data = random_bytes(1, 100 * MIB);
    let md5 = md5_hex(&data);
    put_ok(&s3, "big", "blob.bin", &data).await;

    let head = s3.head_object("big", "blob.bin").await;
    head.expect_status(200, "HEAD");
    assert_eq!(head.header("content-length"), Some("104857600"));
    assert_eq!(head.etag(), Some(quoted(&md5).as_str()));

    let got = s3.get_object("big", "blob.bin").await;
    got.expect_status(200, "GET");
    assert_eq!(got.header("content-length"), Some("104857600"));
    assert_eq!(md5_hex(&got.body), md5, "MD5 of the downloaded body");
    assert_eq!(
        conformance::sha256_hex(&got.body),
        conformance::sha256_hex(&data),
        "SHA-256 of the downloaded body"
    );
    assert_same_bytes(&got.body, &data, "GET big/blob.bin");

    let loc = cluster.locate("big", "blob.bin");
    assert_eq!(loc.bucket, "big");
    assert_eq!(loc.key, "blob.bin");
    check_located(&cluster, &loc, &data, 3, CHUNK);
}

#[tokio::test]
async fn one_dead_chunk_server_reads_and_writes_go_on() {
    const CHUNK: usize = MIB;
    let mut cluster = Cluster::start_with(small_chunks(CHUNK));
    let s3 = cluster.s3();
    s3.create_bucket("bucket-one")
        .await
        .expect_status(200, "CreateBucket");

    let objects: Vec<(String, Vec<u8>)> = vec![
        ("multi".into(), random_bytes(2, 3 * MIB + MIB / 2)),
        ("exact".into(), random_bytes(3, 2 * MIB)),
        ("small".into(), b"hello spread".to_vec()),
        ("empty".into(), Vec::new()),
    ];
    for (k, v) in &objects {
        put_ok(&s3, "bucket-one", k, v).await;
    }
    for (k, v) in &objects {
        check_located(&cluster, &cluster.locate("bucket-one", k), v, 3, CHUNK);
    }

    let dead_addr = cluster.info.chunkd[0].addr.clone();
    cluster.kill_chunkd(0);

    // Every object, read several times (each time a chunk may be tried on a different copy first).
    for round in 0..3 {
        for (k, v) in &objects {
            get_same(&s3, "bucket-one", k, v).await;
            if v.len() > 100 {
                let r = s3.get_range("bucket-one", k, "bytes=100-1048675").await;
                r.expect_status(206, &format!("range GET {k} round {round}"));
                let end = v.len().min(1_048_676);
                assert_same_bytes(&r.body, &v[100..end], "range after a chunk server died");
            }
        }
    }

    // New writes succeed with two copies, none on the dead server.
    let after = random_bytes(4, 3 * MIB + 17);
    put_ok(&s3, "bucket-one", "after-kill", &after).await;
    get_same(&s3, "bucket-one", "after-kill", &after).await;
    let loc = cluster.locate("bucket-one", "after-kill");
    check_located(&cluster, &loc, &after, 2, CHUNK);
    for c in &loc.chunks {
        assert!(
            c.copies.iter().all(|copy| copy.addr != dead_addr),
            "chunk {} has a copy on the killed server: {:?}",
            c.pos,
            c.copies
        );
    }
    let listed: Vec<String> = s3
        .list_all("bucket-one", "")
        .await
        .into_iter()
        .map(|e| e.key)
        .collect();
    assert_eq!(
        listed,
        vec!["after-kill", "empty", "exact", "multi", "small"]
    );
}

/// The file of `copy` on its chunk server (`<volume>/<id[0..3]>/<id>`).
fn chunk_file(cluster: &Cluster, copy: &conformance::cluster::LocatedCopy) -> std::path::PathBuf {
    let server = &cluster.info.chunkd[chunkd_index_by_addr(cluster, &copy.addr)];
    server.volume.join(&copy.chunk_id[..3]).join(&copy.chunk_id)
}

/// Flips one byte at `at` in the data of `copy`'s chunk file (footer untouched).
fn corrupt(cluster: &Cluster, copy: &conformance::cluster::LocatedCopy, at: usize) {
    let path = chunk_file(cluster, copy);
    let mut file = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    file[at] ^= 0x5a;
    fs::write(&path, &file).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// Flips one byte of `copy`'s chunk file if it is still in place (not quarantined); says
/// whether it was.
fn corrupt_if_present(
    cluster: &Cluster,
    copy: &conformance::cluster::LocatedCopy,
    at: usize,
) -> bool {
    let present = chunk_file(cluster, copy).exists();
    if present {
        corrupt(cluster, copy, at);
    }
    present
}

/// Whether `copy`'s chunk file was moved to its volume's `quarantine/`.
fn quarantined(cluster: &Cluster, copy: &conformance::cluster::LocatedCopy) -> bool {
    let server = &cluster.info.chunkd[chunkd_index_by_addr(cluster, &copy.addr)];
    fs::read_dir(server.volume.join("quarantine")).is_ok_and(|d| {
        d.flatten().any(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with(&copy.chunk_id) && !name.ends_with(".json")
        })
    })
}

/// Chunks carry piece hashes, and GET sends a chunk piece by piece, each checked first (by
/// the chunk server, which quarantines a copy it finds bad, and by the gateway): a copy with a
/// bad piece is left for the next copy from that piece on, and when no copy has a good piece
/// the answer is cut short rather than carry a wrong byte.
#[tokio::test]
async fn corrupt_copies_are_never_served() {
    const CHUNK: usize = 4 * MIB;
    let cluster = Cluster::start_with(small_chunks(CHUNK));
    let s3 = cluster.s3();
    s3.create_bucket("rot")
        .await
        .expect_status(200, "CreateBucket");
    let data = random_bytes(40, 2 * CHUNK + MIB + 5);
    put_ok(&s3, "rot", "obj", &data).await;
    let loc = cluster.locate("rot", "obj");
    check_located(&cluster, &loc, &data, 3, CHUNK);
    for copy in &loc.chunks[0].copies {
        let file = fs::read(chunk_file(&cluster, copy)).expect("chunk file");
        let footer = String::from_utf8_lossy(&file[CHUNK..]);
        assert!(
            footer.contains("\"pieces\":\"1048576 "),
            "a 4 MiB chunk has 1 MiB piece hashes in its footer: {footer}"
        );
    }

    // Chunk 0: copy a is bad in piece 2, copy b in piece 1, copy c is sound. Chunk 1: copy a
    // is bad in its last byte. Whatever copy a read starts with, the bytes come out right.
    let chunk0 = &loc.chunks[0].copies;
    corrupt(&cluster, &chunk0[0], 2 * MIB + 17);
    corrupt(&cluster, &chunk0[1], MIB);
    corrupt(&cluster, &loc.chunks[1].copies[0], CHUNK - 1);
    for _ in 0..6 {
        get_same(&s3, "rot", "obj", &data).await;
        // Ranges are checked too: the pieces around them are read whole.
        for (lo, hi) in [
            (2 * MIB, 2 * MIB + 100),
            (MIB - 10, 3 * MIB),
            (CHUNK - 3, CHUNK + 3),
        ] {
            let r = s3
                .get_range("rot", "obj", &format!("bytes={lo}-{}", hi - 1))
                .await;
            r.expect_status(206, "range GET around a bad piece");
            assert_same_bytes(&r.body, &data[lo..hi], "range around a bad piece");
        }
    }

    // A bad copy that a read went through is quarantined; one no read touched stays.
    for copy in [&chunk0[0], &chunk0[1], &loc.chunks[1].copies[0]] {
        assert!(
            quarantined(&cluster, copy) != chunk_file(&cluster, copy).exists(),
            "a bad copy is either in place or quarantined"
        );
    }
    assert!(
        !quarantined(&cluster, &chunk0[2]),
        "the sound copy was quarantined"
    );

    // Every copy of chunk 0 bad (or quarantined): the answer never completes.
    corrupt(&cluster, &chunk0[2], 3 * MIB);
    corrupt_if_present(&cluster, &chunk0[1], 2 * MIB + 17);
    corrupt_if_present(&cluster, &chunk0[0], 3 * MIB + 1);
    corrupt_if_present(&cluster, &chunk0[1], 3 * MIB + 2);
    let inside = Request::new(Method::GET, Some("rot"), Some("obj"))
        .header("range", &format!("bytes={}-{}", 3 * MIB, 3 * MIB + 9));
    match s3.try_send(inside).await {
        Err(_) => {}
        Ok(resp) => assert!(
            resp.status != 206 || resp.body != data[3 * MIB..3 * MIB + 10],
            "a range inside a piece that is corrupt everywhere was served"
        ),
    }
    match s3
        .try_send(Request::new(Method::GET, Some("rot"), Some("obj")))
        .await
    {
        Err(_) => {}
        Ok(resp) => {
            assert!(
                resp.status != 200 || resp.body.len() < data.len(),
                "a GET with every copy of a chunk corrupt delivered {} bytes with {}",
                resp.body.len(),
                resp.status
            );
            // Every copy may be quarantined already: then the answer is an error, not data.
            if resp.status == 200 {
                assert_same_bytes(&resp.body, &data[..resp.body.len()], "what was sent");
            }
        }
    }
    // Each copy was asked for the bad piece 3 and found it bad: all are quarantined.
    for copy in chunk0 {
        assert!(
            quarantined(&cluster, copy),
            "copy on {} not quarantined",
            copy.addr
        );
    }
}

/// A GET that is still streaming when its object is deleted (or overwritten) finishes with
/// the old bytes: unreferenced chunks wait `gc_grace_secs` (10 minutes) before chunk servers
/// are told to delete them, while chunk servers ask every 2 s.
#[tokio::test]
async fn a_read_in_progress_outlives_a_delete() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    const CHUNK: usize = MIB;
    let cluster = Cluster::start_with(small_chunks(CHUNK));
    let s3 = cluster.s3();
    s3.create_bucket("live")
        .await
        .expect_status(200, "CreateBucket");
    let data = random_bytes(41, 48 * MIB);
    let put = Request::new(Method::PUT, Some("live"), Some("obj"))
        .header("x-amz-acl", "public-read")
        .body(data.clone());
    s3.send(put).await.expect_status(200, "PUT public-read");

    // An anonymous GET over a raw connection, read slowly.
    let addr = s3.endpoint().trim_start_matches("http://").to_string();
    let mut conn = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let request = format!("GET /live/obj HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n");
    conn.write_all(request.as_bytes()).await.expect("send GET");
    let mut received = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let head_end = loop {
        let n = conn.read(&mut buf).await.expect("read answer");
        assert!(n > 0, "connection closed before the headers");
        received.extend_from_slice(&buf[..n]);
        if let Some(i) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&received[..head_end]).to_string();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    received.drain(..head_end);

    s3.delete_object("live", "obj")
        .await
        .expect_status(204, "DELETE");
    s3.get_object("live", "obj")
        .await
        .expect_status(404, "GET after DELETE");
    // Its 48 chunks × 3 copies wait out their grace: 48 on each of the 3 servers.
    let backlog = cluster.admin_ok(&["cluster", "gc"]);
    let rows: Vec<Vec<&str>> = backlog
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 3, "{backlog}");
    for row in &rows {
        assert_eq!((row[1], row[2]), ("0", "48"), "due, waiting: {backlog}");
        assert_eq!(row[3], "in", "next due: {backlog}");
    }
    // Several heartbeats go by while the reader sits on its first bytes.
    tokio::time::sleep(std::time::Duration::from_secs(7)).await;
    let rest = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        loop {
            match conn.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(rest.is_ok(), "the body did not end within 60 s");
    assert_same_bytes(&received, &data, "body of a GET that outlived its object");
}

/// Under a one-copy policy, objects up to 16 KiB live in their meta2 record: no chunk file,
/// same answers, and they survive a restart like any other object.
#[tokio::test]
async fn small_one_copy_objects_are_kept_in_meta2() {
    let mut cluster = Cluster::start_with(DevOptions {
        chunkd: 1,
        replicas: 1,
        ..DevOptions::default()
    });
    let s3 = cluster.s3();
    s3.create_bucket("tiny")
        .await
        .expect_status(200, "CreateBucket");
    let small = random_bytes(11, 10_000);
    let larger = random_bytes(12, 20_000);
    put_ok(&s3, "tiny", "small", &small).await;
    put_ok(&s3, "tiny", "larger", &larger).await;

    let loc = cluster.locate("tiny", "small");
    assert_eq!(loc.chunks.len(), 1);
    assert!(loc.chunks[0].inline, "10 kB object not inline: {loc:?}");
    assert!(
        loc.chunks[0].copies.is_empty(),
        "inline chunk has copies: {loc:?}"
    );
    assert_eq!(loc.chunks[0].hash, blake3::hash(&small).to_hex().as_str());
    check_located(
        &cluster,
        &cluster.locate("tiny", "larger"),
        &larger,
        1,
        8 * MIB,
    );
    assert_eq!(
        chunk_files(&cluster, 0),
        1,
        "only the 20 kB object has a chunk file"
    );

    get_same(&s3, "tiny", "small", &small).await;
    let r = s3.get_range("tiny", "small", "bytes=100-199").await;
    r.expect_status(206, "range GET of an inline object");
    assert_same_bytes(&r.body, &small[100..200], "inline range");

    cluster.restart();
    let s3 = cluster.s3();
    get_same(&s3, "tiny", "small", &small).await;
    s3.delete_object("tiny", "small")
        .await
        .expect_status(204, "DELETE inline object");
    s3.get_object("tiny", "small")
        .await
        .expect_error(404, "NoSuchKey", "GET after DELETE");
    get_same(&s3, "tiny", "larger", &larger).await;
    assert_eq!(chunk_files(&cluster, 0), 1);
}

/// How many chunk files (named by their 64-hex-digit id) chunk server `i` holds.
fn chunk_files(cluster: &Cluster, i: usize) -> usize {
    walk_files(&cluster.info.chunkd[i].volume)
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n.len() == 64))
        .count()
}

fn walk_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let path = e.path();
        if path.is_dir() {
            out.extend(walk_files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Chunks larger than 1 MiB stream to their copies as they arrive: a server that died (and that
/// the conscience may still offer) is replaced by a spare before any byte is lost.
#[tokio::test]
async fn streamed_chunks_go_around_a_dead_chunk_server() {
    const CHUNK: usize = 4 * MIB;
    let mut cluster = Cluster::start_with(DevOptions {
        chunkd: 4,
        ..small_chunks(CHUNK)
    });
    let s3 = cluster.s3().with_payload(Payload::Unsigned);
    s3.create_bucket("streamed")
        .await
        .expect_status(200, "CreateBucket");
    let before = random_bytes(7, 2 * CHUNK + MIB + 3);
    put_ok(&s3, "streamed", "before", &before).await;
    check_located(
        &cluster,
        &cluster.locate("streamed", "before"),
        &before,
        3,
        CHUNK,
    );

    let dead_addr = cluster.info.chunkd[0].addr.clone();
    cluster.kill_chunkd(0);
    // Nine chunks of three copies on four servers: the dead one is almost surely picked.
    for i in 0..3u64 {
        let key = format!("after-{i}");
        let data = random_bytes(8 + i, 2 * CHUNK + 2 * MIB + 11);
        put_ok(&s3, "streamed", &key, &data).await;
        get_same(&s3, "streamed", &key, &data).await;
        let loc = cluster.locate("streamed", &key);
        check_located(&cluster, &loc, &data, 3, CHUNK);
        for c in &loc.chunks {
            assert!(
                c.copies.iter().all(|copy| copy.addr != dead_addr),
                "{key} chunk {} has a copy on the killed server: {:?}",
                c.pos,
                c.copies
            );
        }
    }
    get_same(&s3, "streamed", "before", &before).await;
}

#[tokio::test]
async fn two_dead_chunk_servers_put_fails_with_503_and_leaves_nothing() {
    const CHUNK: usize = MIB;
    let mut cluster = Cluster::start_with(small_chunks(CHUNK));
    let s3 = cluster.s3();
    s3.create_bucket("bucket-two")
        .await
        .expect_status(200, "CreateBucket");
    let before = random_bytes(5, 2 * MIB + 5);
    put_ok(&s3, "bucket-two", "before", &before).await;

    cluster.kill_chunkd(0);
    cluster.kill_chunkd(2);

    for (key, len) in [("doomed-big", MIB + 3), ("doomed-small", 10)] {
        let resp = s3.put_object("bucket-two", key, random_bytes(6, len)).await;
        resp.expect_status(
            503,
            &format!("PUT {key} with one chunk server of three alive"),
        );
        let code = resp.code();
        assert!(
            code.as_deref().is_some_and(|c| !c.is_empty()),
            "503 without an S3 error code: {}",
            resp.text()
        );
        s3.head_object("bucket-two", key)
            .await
            .expect_status(404, &format!("HEAD {key} after the failed PUT"));
        s3.get_object("bucket-two", key).await.expect_error(
            404,
            "NoSuchKey",
            &format!("GET {key} after the failed PUT"),
        );
    }
    let listed: Vec<String> = s3
        .list_all("bucket-two", "")
        .await
        .into_iter()
        .map(|e| e.key)
        .collect();
    assert_eq!(
        listed,
        vec!["before"],
        "only the object written before the failures"
    );

    // The last copy still serves the old object.
    get_same(&s3, "bucket-two", "before", &before).await;
}

#[tokio::test]
async fn stop_and_restart_keeps_every_object() {
    const CHUNK: usize = MIB;
    let mut cluster = Cluster::start_with(small_chunks(CHUNK));
    let s3 = cluster.s3();
    let mut objects: BTreeMap<(String, String), Vec<u8>> = BTreeMap::new();
    for bucket in ["keep-a", "keep-b"] {
        s3.create_bucket(bucket)
            .await
            .expect_status(200, "CreateBucket");
    }
    objects.insert(
        ("keep-a".into(), "big".into()),
        random_bytes(7, 5 * MIB + MIB / 3),
    );
    objects.insert(("keep-a".into(), "dir/small.txt".into()), b"small".to_vec());
    objects.insert(("keep-a".into(), "empty".into()), Vec::new());
    objects.insert(
        ("keep-b".into(), "naïve café.txt".into()),
        random_bytes(8, 1000),
    );
    for ((b, k), v) in &objects {
        put_ok(&s3, b, k, v).await;
    }
    // An overwritten object must come back with its last content.
    let v2 = random_bytes(9, MIB + 1);
    put_ok(&s3, "keep-b", "overwritten", &random_bytes(10, 2 * MIB)).await;
    put_ok(&s3, "keep-b", "overwritten", &v2).await;
    objects.insert(("keep-b".into(), "overwritten".into()), v2);
    // A deleted object must stay deleted.
    put_ok(&s3, "keep-b", "deleted", b"gone").await;
    s3.delete_object("keep-b", "deleted")
        .await
        .expect_status(204, "DELETE");

    let endpoint = cluster.endpoint.clone();
    let meta_addr = cluster.info.meta.addr.clone();
    let chunkd_addrs: Vec<String> = cluster.info.chunkd.iter().map(|c| c.addr.clone()).collect();

    cluster.stop();
    // Nothing answers any more.
    assert!(
        s3.try_send(Request::new(Method::GET, None, None))
            .await
            .is_err(),
        "the gateway still answers after spread dev was stopped"
    );

    cluster.restart();
    assert_eq!(cluster.endpoint, endpoint, "same S3 endpoint after restart");
    assert_eq!(cluster.info.meta.addr, meta_addr, "meta port kept");
    let again: Vec<String> = cluster.info.chunkd.iter().map(|c| c.addr.clone()).collect();
    assert_eq!(again, chunkd_addrs, "chunk server ports kept");

    let s3 = cluster.s3();
    let (resp, buckets) = s3.list_buckets().await;
    resp.expect_status(200, "ListBuckets");
    assert_eq!(buckets, vec!["keep-a", "keep-b"]);
    for ((b, k), v) in &objects {
        get_same(&s3, b, k, v).await;
    }
    for bucket in ["keep-a", "keep-b"] {
        let listed: Vec<(String, u64)> = s3
            .list_all(bucket, "")
            .await
            .into_iter()
            .map(|e| (e.key, e.size))
            .collect();
        let want: Vec<(String, u64)> = objects
            .iter()
            .filter(|((b, _), _)| b == bucket)
            .map(|((_, k), v)| (k.clone(), v.len() as u64))
            .collect();
        assert_eq!(listed, want, "listing of {bucket} after restart");
    }
    s3.head_object("keep-b", "deleted")
        .await
        .expect_status(404, "deleted object after restart");
    check_located(
        &cluster,
        &cluster.locate("keep-a", "big"),
        &objects[&("keep-a".to_string(), "big".to_string())],
        3,
        CHUNK,
    );

    // And the restarted cluster takes writes.
    let fresh = random_bytes(11, 2 * MIB + 9);
    put_ok(&s3, "keep-a", "after-restart", &fresh).await;
    get_same(&s3, "keep-a", "after-restart", &fresh).await;
}

#[tokio::test]
async fn credentials_and_accounts_are_enforced() {
    let cluster = Cluster::start();
    let dev = cluster.s3();
    dev.create_bucket("dev-bucket")
        .await
        .expect_status(200, "CreateBucket");
    put_ok(&dev, "dev-bucket", "secret.txt", b"dev data").await;

    // Wrong secret for a real access key.
    let wrong = dev.with_credentials(
        cluster.access_key(),
        "not-the-secret-key-0123456789abcdefghij",
    );
    let (resp, _) = wrong.list_buckets().await;
    resp.expect_error(
        403,
        "SignatureDoesNotMatch",
        "ListBuckets with a wrong secret",
    );
    wrong
        .put_object("dev-bucket", "forged", b"x".to_vec())
        .await
        .expect_error(403, "SignatureDoesNotMatch", "PUT with a wrong secret");
    wrong
        .get_object("dev-bucket", "secret.txt")
        .await
        .expect_error(403, "SignatureDoesNotMatch", "GET with a wrong secret");
    dev.head_object("dev-bucket", "forged")
        .await
        .expect_status(404, "object PUT with a wrong secret");

    // An access key nobody created.
    let (resp, _) = dev
        .with_credentials("NOSUCHKEY0000000000", "whatever-secret")
        .list_buckets()
        .await;
    resp.expect_status(403, "ListBuckets with an unknown access key");

    // A second account with its own key.
    cluster.admin_ok(&["account", "create", "other"]);
    cluster.admin_ok(&[
        "key",
        "create",
        "other",
        "--access-key",
        "OTHERACCESSKEY000001",
        "--secret-key",
        "other-secret-key-abcdefghijklmnopqrstuvwx",
    ]);
    let other = dev.with_credentials(
        "OTHERACCESSKEY000001",
        "other-secret-key-abcdefghijklmnopqrstuvwx",
    );

    let (resp, names) = other.list_buckets().await;
    resp.expect_status(200, "ListBuckets of the other account");
    assert!(names.is_empty(), "other account sees buckets {names:?}");

    other
        .get_object("dev-bucket", "secret.txt")
        .await
        .expect_error(
            403,
            "AccessDenied",
            "GET of dev's object by another account",
        );
    other
        .put_object("dev-bucket", "intruder", b"x".to_vec())
        .await
        .expect_error(
            403,
            "AccessDenied",
            "PUT into dev's bucket by another account",
        );
    other
        .delete_object("dev-bucket", "secret.txt")
        .await
        .expect_error(
            403,
            "AccessDenied",
            "DELETE in dev's bucket by another account",
        );
    let (resp, _) = other.list_page("dev-bucket", "", None, None, None).await;
    resp.expect_error(
        403,
        "AccessDenied",
        "ListObjectsV2 of dev's bucket by another account",
    );
    other.delete_bucket("dev-bucket").await.expect_error(
        403,
        "AccessDenied",
        "DeleteBucket of dev's bucket by another account",
    );
    other
        .head_bucket("dev-bucket")
        .await
        .expect_status(403, "HeadBucket of dev's bucket by another account");

    // Bucket names are global: the other account cannot take dev's name, but gets its own.
    other.create_bucket("dev-bucket").await.expect_error(
        409,
        "BucketAlreadyExists",
        "CreateBucket of a name dev owns",
    );
    other
        .create_bucket("other-bucket")
        .await
        .expect_status(200, "CreateBucket by other");
    put_ok(&other, "other-bucket", "mine", b"other data").await;
    let (_, names) = other.list_buckets().await;
    assert_eq!(names, vec!["other-bucket"]);
    let (_, names) = dev.list_buckets().await;
    assert_eq!(names, vec!["dev-bucket"]);
    dev.get_object("other-bucket", "mine").await.expect_error(
        403,
        "AccessDenied",
        "GET of other's object by dev",
    );

    // Nothing the intruder did changed dev's data.
    get_same(&dev, "dev-bucket", "secret.txt", b"dev data").await;
    dev.head_object("dev-bucket", "intruder")
        .await
        .expect_status(404, "object PUT by another account");
}

#[tokio::test]
async fn long_and_unusual_keys() {
    let cluster = Cluster::start();
    let s3 = cluster.s3();
    s3.create_bucket("keys")
        .await
        .expect_status(200, "CreateBucket");

    // 1,000-byte keys, two of which share their first 992 bytes (beyond the 400 bytes that
    // meta keeps in the LMDB key), and one made of two-byte characters.
    let base = format!("long/{}", "k".repeat(986));
    let long_a = format!("{base}-aaaaaaaa");
    let long_b = format!("{base}-bbbbbbbb");
    let long_u = format!("u/{}", "é".repeat(499));
    assert_eq!(long_a.len(), 1000);
    assert_eq!(long_b.len(), 1000);
    assert_eq!(long_u.len(), 1000);

    let odd = [
        "with space.txt",
        "two  spaces and trailing space ",
        "unicode-é漢字🙂.bin",
        "percent%20literal%.txt",
        "plus+sign+.txt",
        "a&b=c?d#e;f,g:h@i$j",
        "tilde~star*paren(1)!quote'",
        "dir/sub dir/file",
        "xml<lt>&amp\"quote",
    ];
    let mut all: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for k in [&long_a, &long_b, &long_u] {
        all.insert(
            k.clone(),
            format!("content of {}", &k[k.len() - 8..]).into_bytes(),
        );
    }
    for k in odd {
        all.insert(k.to_string(), format!("content of {k}").into_bytes());
    }
    for (k, v) in &all {
        put_ok(&s3, "keys", k, v).await;
    }
    for (k, v) in &all {
        get_same(&s3, "keys", k, v).await;
        let head = s3.head_object("keys", k).await;
        head.expect_status(200, &format!("HEAD {k:?}"));
        assert_eq!(
            head.header("content-length"),
            Some(v.len().to_string().as_str())
        );
    }

    // The listing has the exact keys in byte order.
    let listed: Vec<String> = s3
        .list_all("keys", "")
        .await
        .into_iter()
        .map(|e| e.key)
        .collect();
    let want: Vec<String> = all.keys().cloned().collect();
    assert_eq!(listed, want, "listing of every key");
    let listed: Vec<String> = s3
        .list_all("keys", "long/")
        .await
        .into_iter()
        .map(|e| e.key)
        .collect();
    assert_eq!(
        listed,
        vec![long_a.clone(), long_b.clone()],
        "listing with prefix long/"
    );
    let listed: Vec<String> = s3
        .list_all("keys", &base)
        .await
        .into_iter()
        .map(|e| e.key)
        .collect();
    assert_eq!(
        listed,
        vec![long_a.clone(), long_b.clone()],
        "listing with a 991-byte prefix"
    );
    let listed: Vec<String> = s3
        .list_all("keys", "dir/sub ")
        .await
        .into_iter()
        .map(|e| e.key)
        .collect();
    assert_eq!(listed, vec!["dir/sub dir/file"]);
    let listed: Vec<String> = s3
        .list_all("keys", "plus+")
        .await
        .into_iter()
        .map(|e| e.key)
        .collect();
    assert_eq!(listed, vec!["plus+sign+.txt"], "a prefix with +");

    // Small pages walk the same keys.
    let mut paged = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..all.len() + 2 {
        let (resp, page) = s3
            .list_page("keys", "", None, token.as_deref(), Some(2))
            .await;
        resp.expect_status(200, "ListObjectsV2 max-keys=2");
        let page = page.expect("page");
        assert!(page.contents.len() <= 2);
        paged.extend(page.contents.into_iter().map(|e| e.key));
        if !page.is_truncated {
            break;
        }
        token = page.next_continuation_token;
    }
    assert_eq!(paged, want, "listing page by page");

    // Delete one of the twins: the other stays.
    s3.delete_object("keys", &long_a)
        .await
        .expect_status(204, "DELETE long_a");
    s3.head_object("keys", &long_a)
        .await
        .expect_status(404, "HEAD deleted long_a");
    get_same(&s3, "keys", &long_b, &all[&long_b]).await;
    for k in all.keys().filter(|k| **k != long_a) {
        s3.delete_object("keys", k)
            .await
            .expect_status(204, &format!("DELETE {k:?}"));
    }
    assert!(
        s3.list_all("keys", "").await.is_empty(),
        "bucket empty after deletes"
    );
    s3.delete_bucket("keys")
        .await
        .expect_status(204, "DeleteBucket");
}

#[tokio::test]
async fn ranges_conditionals_and_errors() {
    const CHUNK: usize = MIB;
    let cluster = Cluster::start_with(small_chunks(CHUNK));
    let s3 = cluster.s3();
    s3.create_bucket("ranges")
        .await
        .expect_status(200, "CreateBucket");
    let data = random_bytes(12, 3 * MIB + MIB / 2);
    let len = data.len();
    put_ok(&s3, "ranges", "obj", &data).await;

    let cases: Vec<(String, usize, usize)> = vec![
        ("bytes=0-0".into(), 0, 1),
        ("bytes=0-99".into(), 0, 100),
        ("bytes=1048000-1049000".into(), 1_048_000, 1_049_001),
        ("bytes=1048576-2097151".into(), MIB, 2 * MIB),
        ("bytes=1000000-3000000".into(), 1_000_000, 3_000_001),
        ("bytes=-100".into(), len - 100, len),
        ("bytes=3000000-".into(), 3_000_000, len),
        (format!("bytes={}-{}", len - 1, len + 1000), len - 1, len),
    ];
    for (range, start, end) in &cases {
        let r = s3.get_range("ranges", "obj", range).await;
        r.expect_status(206, range);
        assert_same_bytes(&r.body, &data[*start..*end], range);
        assert_eq!(
            r.header("content-range"),
            Some(format!("bytes {}-{}/{}", start, end - 1, len).as_str()),
            "Content-Range for {range}"
        );
        assert_eq!(
            r.header("content-length"),
            Some((end - start).to_string().as_str()),
            "Content-Length for {range}"
        );
    }
    s3.get_range("ranges", "obj", &format!("bytes={}-{}", len + 10, len + 20))
        .await
        .expect_error(416, "InvalidRange", "range past the end");

    // Conditional GETs.
    let head = s3.head_object("ranges", "obj").await;
    head.expect_status(200, "HEAD");
    let etag = head.etag().expect("ETag").to_string();
    let last_modified = head
        .header("last-modified")
        .expect("Last-Modified")
        .to_string();
    let get_with = |name: &'static str, value: String| {
        let s3 = s3.clone();
        async move {
            s3.send(Request::new(Method::GET, Some("ranges"), Some("obj")).header(name, &value))
                .await
        }
    };
    get_with("if-none-match", etag.clone())
        .await
        .expect_status(304, "If-None-Match: current ETag");
    let r = get_with(
        "if-none-match",
        "\"0123456789abcdef0123456789abcdef\"".into(),
    )
    .await;
    r.expect_status(200, "If-None-Match: other ETag");
    assert_same_bytes(&r.body, &data, "If-None-Match: other ETag");
    get_with("if-match", etag.clone())
        .await
        .expect_status(200, "If-Match: current ETag");
    get_with("if-match", "\"0123456789abcdef0123456789abcdef\"".into())
        .await
        .expect_error(412, "PreconditionFailed", "If-Match: other ETag");
    get_with("if-modified-since", last_modified.clone())
        .await
        .expect_status(304, "If-Modified-Since: Last-Modified");
    get_with("if-modified-since", "Sat, 01 Jan 2000 00:00:00 GMT".into())
        .await
        .expect_status(200, "If-Modified-Since: long ago");
    get_with(
        "if-unmodified-since",
        "Sat, 01 Jan 2000 00:00:00 GMT".into(),
    )
    .await
    .expect_error(412, "PreconditionFailed", "If-Unmodified-Since: long ago");

    // Missing things.
    s3.get_object("ranges", "no-such-key").await.expect_error(
        404,
        "NoSuchKey",
        "GET of a missing key",
    );
    s3.head_object("ranges", "no-such-key")
        .await
        .expect_status(404, "HEAD of a missing key");
    s3.get_object("no-such-bucket", "obj").await.expect_error(
        404,
        "NoSuchBucket",
        "GET in a missing bucket",
    );
    s3.head_bucket("no-such-bucket")
        .await
        .expect_status(404, "HeadBucket of a missing bucket");

    // A bucket with an object cannot go.
    s3.delete_bucket("ranges").await.expect_error(
        409,
        "BucketNotEmpty",
        "DeleteBucket of a non-empty bucket",
    );
    get_same(&s3, "ranges", "obj", &data).await;
    s3.delete_object("ranges", "obj")
        .await
        .expect_status(204, "DELETE");
    s3.delete_bucket("ranges")
        .await
        .expect_status(204, "DeleteBucket");
    s3.head_bucket("ranges")
        .await
        .expect_status(404, "HeadBucket after delete");

    // Invalid bucket names.
    let too_long = "a".repeat(64);
    for name in [
        "ab",
        "UPPERCASE",
        "under_score",
        "-leading-dash",
        "trailing-dash-",
        "two..dots",
        "192.168.1.10",
        too_long.as_str(),
    ] {
        s3.create_bucket(name).await.expect_error(
            400,
            "InvalidBucketName",
            &format!("CreateBucket {name:?}"),
        );
    }
    let (_, names) = s3.list_buckets().await;
    assert!(names.is_empty(), "no bucket was created: {names:?}");
}

#[tokio::test]
async fn digests_are_verified() {
    let cluster = Cluster::start_with(small_chunks(MIB));
    let s3 = cluster.s3();
    s3.create_bucket("digests")
        .await
        .expect_status(200, "CreateBucket");
    let data = random_bytes(13, MIB + 500);
    let other = random_bytes(14, 100);
    use base64::Engine as _;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);

    // Right Content-MD5 and x-amz-checksum-sha256: stored.
    let md5 = hex::decode(md5_hex(&data)).expect("hex");
    let sha = hex::decode(conformance::sha256_hex(&data)).expect("hex");
    let r = s3
        .send(
            Request::new(Method::PUT, Some("digests"), Some("good"))
                .header("content-md5", &b64(&md5))
                .header("x-amz-checksum-sha256", &b64(&sha))
                .body(data.clone()),
        )
        .await;
    r.expect_status(200, "PUT with correct digests");
    get_same(&s3, "digests", "good", &data).await;

    // Wrong Content-MD5: BadDigest, nothing stored.
    let wrong_md5 = hex::decode(md5_hex(&other)).expect("hex");
    s3.send(
        Request::new(Method::PUT, Some("digests"), Some("bad-md5"))
            .header("content-md5", &b64(&wrong_md5))
            .body(data.clone()),
    )
    .await
    .expect_error(400, "BadDigest", "PUT with a wrong Content-MD5");
    s3.head_object("digests", "bad-md5")
        .await
        .expect_status(404, "object with a wrong Content-MD5");

    // Wrong x-amz-checksum-sha256: rejected, nothing stored.
    let wrong_sha = hex::decode(conformance::sha256_hex(&other)).expect("hex");
    let r = s3
        .send(
            Request::new(Method::PUT, Some("digests"), Some("bad-sha"))
                .header("x-amz-checksum-sha256", &b64(&wrong_sha))
                .body(data.clone()),
        )
        .await;
    r.expect_status(400, "PUT with a wrong x-amz-checksum-sha256");
    s3.head_object("digests", "bad-sha")
        .await
        .expect_status(404, "object with a wrong x-amz-checksum-sha256");

    // A failed overwrite leaves the old object as it was.
    s3.send(
        Request::new(Method::PUT, Some("digests"), Some("good"))
            .header("content-md5", &b64(&md5))
            .body(other.clone()),
    )
    .await
    .expect_error(400, "BadDigest", "overwrite with a wrong Content-MD5");
    get_same(&s3, "digests", "good", &data).await;

    let listed: Vec<String> = s3
        .list_all("digests", "")
        .await
        .into_iter()
        .map(|e| e.key)
        .collect();
    assert_eq!(listed, vec!["good"]);
}

#[tokio::test]
async fn streaming_aws_chunked_uploads_are_verified() {
    let cluster = Cluster::start_with(small_chunks(MIB));
    let s3 = cluster.s3();
    s3.create_bucket("streaming")
        .await
        .expect_status(200, "CreateBucket");

    // 2.5 MiB in 64 KiB signed chunks, crossing the 1 MiB storage chunks.
    let data = random_bytes(15, 2 * MIB + MIB / 2 + 7);
    let r = s3
        .put_object_aws_chunked("streaming", "chunked.bin", &data, 64 * 1024, None)
        .await;
    r.expect_status(200, "aws-chunked PUT");
    assert_eq!(
        r.etag(),
        Some(quoted(&md5_hex(&data)).as_str()),
        "ETag of aws-chunked PUT"
    );
    get_same(&s3, "streaming", "chunked.bin", &data).await;
    check_located(
        &cluster,
        &cluster.locate("streaming", "chunked.bin"),
        &data,
        3,
        MIB,
    );

    let r = s3
        .put_object_aws_chunked("streaming", "empty", &[], 64 * 1024, None)
        .await;
    r.expect_status(200, "aws-chunked PUT of an empty body");
    get_same(&s3, "streaming", "empty", &[]).await;

    // A byte changed after its chunk was signed: refused, nothing stored, old object kept.
    // The last data chunk is the one changed, so the server has read the whole body before it
    // can tell (an earlier failure may close the connection while the client still sends).
    let other = random_bytes(16, MIB + 3);
    let last = other.len() / (64 * 1024);
    // (AWS answers 403 SignatureDoesNotMatch; s3s reports the broken chunk signature while
    // the body streams, which Spread answers with 400 IncompleteBody. Either refuses it.)
    for key in ["tampered", "chunked.bin"] {
        let r = s3
            .put_object_aws_chunked("streaming", key, &other, 64 * 1024, Some(last))
            .await;
        assert!(
            matches!(r.status.as_u16(), 400 | 403) && r.code().is_some(),
            "tampered aws-chunked PUT {key}: expected a 400/403 S3 error, got {} {}",
            r.status,
            r.text()
        );
    }
    s3.head_object("streaming", "tampered")
        .await
        .expect_status(404, "object of a tampered aws-chunked PUT");
    get_same(&s3, "streaming", "chunked.bin", &data).await;
}

/// A PUT whose meta commit times out has an unknown outcome: a slow meta may still record it.
/// The gateway settles it with meta (`abandon_write`): had meta recorded it, the PUT would
/// succeed after all; here meta, frozen past the gateway's meta timeout, never saw the commit,
/// so it refuses it from now on and the chunk goes to GC instead of staying on disk unowned.
/// (The store's unit test `an_abandoned_write_is_settled_by_its_content_id` covers a commit
/// that was recorded: its chunks are never queued.)
#[tokio::test(flavor = "multi_thread")]
async fn a_write_with_an_unknown_outcome_is_settled_with_meta() {
    let cluster = Cluster::start_with(DevOptions {
        chunkd: 1,
        replicas: 1,
        gc_grace_secs: Some(0),
        meta_timeout_ms: Some(1500),
        ..DevOptions::default()
    });
    let s3 = cluster.s3();
    s3.create_bucket("lost")
        .await
        .expect_status(200, "CreateBucket");
    let meta_pid = cluster.info.meta.pid.expect("meta pid in cluster.toml");
    let warm = random_bytes(42, 2 * MIB);
    // Above the inline limit, so on the chunk server (one chunk each). Right after a PUT the
    // gateway's views of the bucket, the policies and the chunk servers are fresh for a second,
    // so the next PUT needs meta only to commit. A machine too slow for that second (the PUT
    // then fails before writing) gets another try.
    let mut tries = 0;
    let failed = loop {
        tries += 1;
        // A new key each time: an overwrite would send the old chunk to GC meanwhile.
        s3.put_object("lost", &format!("warm{tries}"), warm.clone())
            .await
            .expect_status(200, "warm-up PUT");
        let before = chunk_files(&cluster, 0);
        conformance::cluster::signal(meta_pid, libc::SIGSTOP);
        let put = {
            let s3 = s3.clone();
            tokio::spawn(async move {
                s3.put_object("lost", "obj", random_bytes(43, 2 * MIB))
                    .await
            })
        };
        tokio::time::sleep(std::time::Duration::from_millis(2200)).await;
        // The commit has timed out; the gateway is now asking meta to settle it.
        let written = chunk_files(&cluster, 0) - before;
        conformance::cluster::signal(meta_pid, libc::SIGCONT);
        let failed = put.await.expect("PUT task");
        if written == 1 || tries == 3 {
            assert_eq!(written, 1, "the PUT never got to write its chunk");
            break failed;
        }
    };
    assert!(
        failed.status.is_server_error(),
        "PUT answered {} while meta was frozen",
        failed.status
    );
    s3.head_object("lost", "obj")
        .await
        .expect_status(404, "HEAD of the abandoned write");
    // Heartbeats go by: with a grace of 0 the abandoned chunk is deleted within a few.
    let mut left = chunk_files(&cluster, 0);
    for _ in 0..40 {
        if left == tries {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        left = chunk_files(&cluster, 0);
    }
    assert_eq!(left, tries, "the abandoned write's chunk was not reclaimed");
    let meta_log = fs::read_to_string(cluster.data_dir().join("logs/meta.log")).unwrap_or_default();
    assert!(
        meta_log.contains("write abandoned, chunks to GC"),
        "meta did not settle the write:\n{}",
        cluster.log_tail(50)
    );
    get_same(&s3, "lost", &format!("warm{tries}"), &warm).await;
}
