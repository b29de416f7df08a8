//! Storage policies and erasure coding, end to end: each test starts its own `spread dev`
//! cluster with a policy file (`--policy`), writes through S3, inspects `spread admin object
//! locate --json` and the fragment files on disk, kills chunk servers with SIGKILL and corrupts
//! fragment files.
//!
//! Needs the `spread` binary: `cargo build --release` first, or set `SPREAD_BIN`.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use conformance::cluster::{Cluster, DevOptions, Located, split_chunk_file};
use conformance::s3::{Payload, Request, Response, S3};
use conformance::{md5_hex, random_bytes};
use http::Method;

const MIB: usize = 1024 * 1024;

/// EC 4+2 is the default; THREECOPIES exists too; STANDARD_IA names EC42.
fn ec_default_policy(chunk_size: usize) -> String {
    format!(
        r#"default = "EC42"

[storage_classes]
STANDARD_IA = "EC42"

[policies.THREECOPIES]
kind = "replicate"
copies = 3
chunk_size = {chunk_size}
min_distance = 1

[policies.EC42]
kind = "ec"
k = 4
m = 2
chunk_size = {chunk_size}
min_distance = 1
"#
    )
}

/// THREECOPIES is the default (and STANDARD); STANDARD_IA names EC42.
fn three_copies_default_policy(chunk_size: usize) -> String {
    format!(
        r#"default = "THREECOPIES"

[storage_classes]
STANDARD = "THREECOPIES"
STANDARD_IA = "EC42"

[policies.THREECOPIES]
kind = "replicate"
copies = 3
chunk_size = {chunk_size}
min_distance = 1

[policies.EC42]
kind = "ec"
k = 4
m = 2
chunk_size = {chunk_size}
min_distance = 1
"#
    )
}

fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    fs::write(&p, text).unwrap_or_else(|e| panic!("writing {}: {e}", p.display()));
    p
}

/// A cluster of `chunkd` servers whose policy file is `policy` (chunks of `chunk_size` bytes).
fn start(chunkd: usize, chunk_size: usize, policy: &str) -> (Cluster, tempfile::TempDir) {
    let files = tempfile::tempdir().expect("temp dir");
    let path = write_file(files.path(), "policy.toml", policy);
    let cluster = Cluster::start_with(DevOptions {
        chunkd,
        chunk_size: Some(chunk_size as u64),
        policy: Some(path),
        ..DevOptions::default()
    });
    (cluster, files)
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

async fn put_ok(s3: &S3, bucket: &str, key: &str, data: &[u8], headers: &[(&str, &str)]) {
    let resp = s3
        .put_object_with(bucket, key, data.to_vec(), headers)
        .await;
    resp.expect_status(200, &format!("PUT {bucket}/{key} {headers:?}"));
    assert_eq!(
        resp.etag(),
        Some(format!("\"{}\"", md5_hex(data)).as_str()),
        "ETag of PUT {bucket}/{key}"
    );
}

async fn get_same(s3: &S3, bucket: &str, key: &str, want: &[u8]) {
    let resp = s3.get_object(bucket, key).await;
    resp.expect_status(200, &format!("GET {bucket}/{key}"));
    assert_same_bytes(&resp.body, want, &format!("GET {bucket}/{key}"));
}

/// `Range: bytes=a-b` (inclusive) must answer 206 with exactly those bytes.
async fn range_same(s3: &S3, bucket: &str, key: &str, want: &[u8], a: usize, b: usize) {
    let b = b.min(want.len() - 1);
    let resp = s3.get_range(bucket, key, &format!("bytes={a}-{b}")).await;
    resp.expect_status(206, &format!("GET {bucket}/{key} bytes={a}-{b}"));
    assert_same_bytes(
        &resp.body,
        &want[a..=b],
        &format!("GET {bucket}/{key} bytes={a}-{b}"),
    );
}

/// A few ranges of `want` that cross fragment and chunk boundaries, plus a suffix range.
async fn ranges_same(s3: &S3, bucket: &str, key: &str, want: &[u8], chunk_size: usize) {
    let len = want.len();
    if len < 2 {
        return;
    }
    let fragment = chunk_size / 4;
    range_same(s3, bucket, key, want, 0, 0).await;
    if len > 2 {
        range_same(s3, bucket, key, want, 1, len - 2).await;
    }
    if len > fragment + 10 {
        range_same(s3, bucket, key, want, fragment - 10, fragment + 10).await;
    }
    if len > chunk_size + 7 {
        range_same(
            s3,
            bucket,
            key,
            want,
            chunk_size - 7,
            chunk_size + 3 * fragment,
        )
        .await;
    }
    let suffix = len.min(1000);
    let resp = s3.get_range(bucket, key, &format!("bytes=-{suffix}")).await;
    resp.expect_status(206, &format!("GET {bucket}/{key} bytes=-{suffix}"));
    assert_same_bytes(&resp.body, &want[len - suffix..], "suffix range");
}

/// Checks an erasure-coded object's locate answer against its bytes: policy EC42, contiguous
/// chunks with the right BLAKE3, each cut 4+2 with `fragment_size = ceil(size / 4)`, the
/// fragments on `expected_fragments` distinct chunk servers, and the data fragment files on
/// disk holding exactly the chunk's bytes (zero-padded) with footer position `N.i`. Returns
/// the missing fragment index of every chunk.
#[track_caller]
fn check_ec_located(
    cluster: &Cluster,
    loc: &Located,
    data: &[u8],
    expected_fragments: usize,
) -> Vec<Vec<u32>> {
    let what = format!("locate {}/{}", loc.bucket, loc.key);
    assert_eq!(loc.policy_name(), "EC42", "{what}: policy");
    assert_eq!(loc.size, data.len() as u64, "{what}: size");
    if data.is_empty() {
        assert!(
            loc.chunks.is_empty(),
            "{what}: an empty object has chunks: {:?}",
            loc.chunks
        );
    }
    let mut offset = 0u64;
    let mut missing = Vec::new();
    for (i, chunk) in loc.chunks.iter().enumerate() {
        let what = format!("{what} chunk {i}");
        assert_eq!(chunk.offset, offset, "{what}: offset");
        assert!(chunk.size > 0, "{what}: empty chunk");
        let slice = &data[offset as usize..(offset + chunk.size) as usize];
        assert_eq!(
            chunk.hash,
            blake3::hash(slice).to_hex().as_str(),
            "{what}: BLAKE3"
        );
        let ec = chunk
            .ec
            .unwrap_or_else(|| panic!("{what}: no ec layout: {chunk:?}"));
        assert_eq!((ec.k, ec.m), (4, 2), "{what}: k, m");
        let fs_len = chunk.size.div_ceil(4);
        assert_eq!(ec.fragment_size, fs_len, "{what}: fragment_size");
        assert_eq!(
            chunk.copies.len(),
            expected_fragments,
            "{what}: fragments {:?}",
            chunk.copies
        );
        let services: BTreeSet<&str> = chunk.copies.iter().map(|c| c.service.as_str()).collect();
        assert_eq!(
            services.len(),
            chunk.copies.len(),
            "{what}: two fragments on one server: {:?}",
            chunk.copies
        );
        let indexes: BTreeSet<u32> = chunk
            .copies
            .iter()
            .map(|c| {
                c.fragment
                    .unwrap_or_else(|| panic!("{what}: copy without fragment index: {c:?}"))
            })
            .collect();
        assert_eq!(
            indexes.len(),
            chunk.copies.len(),
            "{what}: repeated fragment index"
        );
        let chunk_missing = chunk.missing();
        let all: BTreeSet<u32> = indexes.iter().chain(&chunk_missing).copied().collect();
        assert_eq!(
            all,
            (0..6).collect::<BTreeSet<u32>>(),
            "{what}: stored {indexes:?} + missing {chunk_missing:?} must be 0..6"
        );
        assert_eq!(
            chunk_missing.len(),
            6 - expected_fragments,
            "{what}: missing_fragments"
        );
        for copy in &chunk.copies {
            let f = copy.fragment.expect("checked above") as usize;
            let path = cluster.chunk_file(copy);
            let file = fs::read(&path)
                .unwrap_or_else(|e| panic!("{what}: fragment file {}: {e}", path.display()));
            let (stored, footer) = split_chunk_file(&file)
                .unwrap_or_else(|e| panic!("{what}: {}: {e}", path.display()));
            assert_eq!(
                stored.len() as u64,
                fs_len,
                "{what}: fragment {f} in {} has the wrong size",
                path.display()
            );
            if let Some(h) = &copy.hash {
                assert_eq!(
                    h,
                    blake3::hash(stored).to_hex().as_str(),
                    "{what}: fragment {f} hash"
                );
            }
            // `N.i`; a multipart part's chunks keep their part-local position `pP:N.i`.
            let position = footer["position"].as_str().unwrap_or_default();
            let want_position = format!("{}.{f}", chunk.pos);
            let part_local = position.split_once(':').is_some_and(|(part, rest)| {
                part.starts_with('p')
                    && rest
                        .split_once('.')
                        .is_some_and(|(n, i)| n.parse::<u64>().is_ok() && i == f.to_string())
            });
            assert!(
                position == want_position || part_local,
                "{what}: position {position:?} in the footer of {} is not {want_position:?}: {footer}",
                path.display()
            );
            if f < 4 {
                let start = (f as u64 * fs_len).min(chunk.size) as usize;
                let end = ((f as u64 + 1) * fs_len).min(chunk.size) as usize;
                let mut want = slice[start..end].to_vec();
                want.resize(fs_len as usize, 0);
                assert_same_bytes(
                    stored,
                    &want,
                    &format!("{what}: data fragment {f} in {}", path.display()),
                );
            }
        }
        missing.push(chunk_missing);
        offset += chunk.size;
    }
    assert_eq!(offset, data.len() as u64, "{what}: chunks cover the object");
    missing
}

/// GET must fail with 503 and an S3 error code — never a 200 with (wrong or partial) bytes.
#[track_caller]
fn assert_unavailable(resp: &Response, what: &str) {
    assert_eq!(
        resp.status.as_u16(),
        503,
        "{what}: expected 503, got {} ({} body bytes): {}",
        resp.status,
        resp.body.len(),
        String::from_utf8_lossy(&resp.body[..resp.body.len().min(500)])
    );
    assert!(
        resp.code().is_some_and(|c| !c.is_empty()),
        "{what}: 503 without an S3 error code: {}",
        resp.text()
    );
}

/// The 50-object EC 4+2 scenario of issue 5: written under EC, every object survives two dead
/// chunk servers byte for byte, and a third dead server turns every GET into a 503.
#[tokio::test]
async fn ec_4_2_reads_through_two_dead_servers_and_refuses_with_three() {
    const CHUNK: usize = 2 * MIB;
    let (mut cluster, _files) = start(6, CHUNK, &ec_default_policy(CHUNK));
    let s3 = cluster.s3().with_payload(Payload::Unsigned);
    s3.create_bucket("erasure")
        .await
        .expect_status(200, "CreateBucket");

    let mut sizes: Vec<usize> = vec![
        0,
        1,
        2,
        3,
        7,
        100,
        4095,
        4096,
        4097,
        65_535,
        65_536,
        65_537,
        MIB - 1,
        MIB,
        MIB + 1,
        CHUNK - 1,
        CHUNK,
        CHUNK + 1,
        CHUNK + 3,
        3 * MIB + 5,
        2 * CHUNK,
        2 * CHUNK + 1,
        5 * MIB + 7,
        6 * MIB,
        7 * MIB + 3,
        8 * MIB + 1,
        10 * MIB,
        20 * MIB + 7,
        50 * MIB,
    ];
    // Fill up to 49 single PUTs with sizes in between (up to ~400 KiB).
    let mut i = 1usize;
    while sizes.len() < 49 {
        sizes.push(i * i * 1000 + i);
        i += 1;
    }
    let mut objects: Vec<(String, Vec<u8>)> = Vec::new();
    for (n, &size) in sizes.iter().enumerate() {
        let key = format!("obj-{n:02}-{size}");
        let data = random_bytes(1000 + n as u64, size);
        put_ok(&s3, "erasure", &key, &data, &[]).await;
        objects.push((key, data));
    }

    // The 50th object: a multipart upload of three parts.
    let parts = [
        random_bytes(90, 5 * MIB + 1),
        random_bytes(91, 5 * MIB + 3),
        random_bytes(92, 3 * MIB + 11),
    ];
    let (resp, upload) = s3
        .create_multipart_upload("erasure", "multipart", &[])
        .await;
    resp.expect_status(200, "CreateMultipartUpload");
    let upload = upload.expect("an UploadId");
    let mut etags = Vec::new();
    for (n, part) in parts.iter().enumerate() {
        let r = s3
            .upload_part("erasure", "multipart", &upload, n as u32 + 1, part.clone())
            .await;
        r.expect_status(200, &format!("UploadPart {}", n + 1));
        etags.push((n as u32 + 1, r.etag().expect("part ETag").to_string()));
    }
    s3.complete_multipart_upload("erasure", "multipart", &upload, &etags)
        .await
        .expect_status(200, "CompleteMultipartUpload");
    objects.push(("multipart".into(), parts.concat()));
    assert_eq!(objects.len(), 50);

    // Every object: EC 4+2, six fragments on six servers, right bytes on disk.
    for (key, data) in &objects {
        let loc = cluster.locate("erasure", key);
        check_ec_located(&cluster, &loc, data, 6);
        if key != "multipart" {
            assert_eq!(
                loc.chunks.len(),
                data.len().div_ceil(CHUNK),
                "{key}: number of metachunks"
            );
        }
    }

    // Two chunk servers die: everything still reads back byte-identical, whole and in ranges.
    cluster.kill_chunkd(1);
    cluster.kill_chunkd(4);
    for (key, data) in &objects {
        get_same(&s3, "erasure", key, data).await;
        ranges_same(&s3, "erasure", key, data, CHUNK).await;
    }

    // A third one dies: 3 fragments of every metachunk are left, fewer than k = 4, so any read
    // that needs a data fragment of a dead server must fail with 503. (A read whose data
    // fragments all live on the survivors may still be served: those are hash-checked.)
    let locs: Vec<Located> = objects
        .iter()
        .map(|(key, _)| cluster.locate("erasure", key))
        .collect();
    cluster.kill_chunkd(2);
    let dead: BTreeSet<String> = [1, 4, 2].iter().map(|&i| cluster.service_id(i)).collect();
    let mut refused = 0;
    for ((key, data), loc) in objects.iter().zip(&locs) {
        if data.is_empty() {
            continue;
        }
        let last = data.len() as u64 - 1;
        let resp = s3.get_object("erasure", key).await;
        let what = format!("GET erasure/{key} with 3 of 6 servers dead");
        if check_refused_or_exact(&resp, loc, &dead, 0, last, data, &what) {
            refused += 1;
        }
        if data.len() > 10 {
            let resp = s3.get_range("erasure", key, "bytes=5-10").await;
            let what = format!("GET erasure/{key} bytes=5-10 with 3 dead");
            check_refused_or_exact(&resp, loc, &dead, 5, 10, data, &what);
        }
    }
    // Every object of 4 bytes or more has data in all 4 data fragments of each metachunk, and
    // 3 dead servers of 6 always hold at least one data fragment of each.
    let must_refuse = objects.iter().filter(|(_, d)| d.len() >= 4).count();
    assert!(
        refused >= must_refuse,
        "only {refused} GETs answered 503, at least {must_refuse} had to"
    );
}

/// Whether every data fragment holding bytes `a..=b` of the object is on a live server.
fn readable_without_decoding(loc: &Located, dead: &BTreeSet<String>, a: u64, b: u64) -> bool {
    loc.chunks
        .iter()
        .filter(|c| c.offset <= b && a < c.offset + c.size)
        .all(|c| {
            let fs = c.ec.map(|e| e.fragment_size).unwrap_or(c.size).max(1);
            let from = a.saturating_sub(c.offset) / fs;
            let to = (b.min(c.offset + c.size - 1) - c.offset) / fs;
            (from..=to).all(|f| {
                c.copies
                    .iter()
                    .any(|copy| copy.fragment == Some(f as u32) && !dead.contains(&copy.service))
            })
        })
}

/// With too many servers dead: a read needing a lost data fragment must answer 503 with an S3
/// error code; a read that needs none may succeed but then with exactly the right bytes.
/// Returns whether it was refused.
#[track_caller]
fn check_refused_or_exact(
    resp: &Response,
    loc: &Located,
    dead: &BTreeSet<String>,
    a: u64,
    b: u64,
    data: &[u8],
    what: &str,
) -> bool {
    if resp.status.as_u16() == 503 || !readable_without_decoding(loc, dead, a, b) {
        assert_unavailable(resp, what);
        return true;
    }
    assert!(
        resp.status.is_success(),
        "{what}: expected 503 or the right bytes, got {}: {}",
        resp.status,
        resp.text()
    );
    assert_same_bytes(&resp.body, &data[a as usize..=b as usize], what);
    false
}

/// Fragment files corrupted on disk are detected by their hash and rebuilt from the others.
#[tokio::test]
async fn corrupt_fragments_on_disk_are_rebuilt() {
    const CHUNK: usize = MIB;
    let (mut cluster, _files) = start(6, CHUNK, &ec_default_policy(CHUNK));
    let s3 = cluster.s3();
    s3.create_bucket("rot")
        .await
        .expect_status(200, "CreateBucket");
    let big = random_bytes(7, 3 * MIB + 123);
    let small = random_bytes(8, 1000);
    put_ok(&s3, "rot", "big", &big, &[]).await;
    put_ok(&s3, "rot", "small", &small, &[]).await;
    let loc_big = cluster.locate("rot", "big");
    let loc_small = cluster.locate("rot", "small");
    check_ec_located(&cluster, &loc_big, &big, 6);
    check_ec_located(&cluster, &loc_small, &small, 6);

    // (object, chunk, fragment) to corrupt: data fragments (read first) and a parity one.
    let targets = [
        (&loc_big, 0usize, 0u32),
        (&loc_big, 1, 2),
        (&loc_big, 2, 3),
        (&loc_big, 3, 4),
        (&loc_small, 0, 1),
    ];
    let mut corrupted_services = BTreeSet::new();
    for (loc, chunk, fragment) in targets {
        let copy = loc.chunks[chunk]
            .copies
            .iter()
            .find(|c| c.fragment == Some(fragment))
            .unwrap_or_else(|| panic!("{}: chunk {chunk} has no fragment {fragment}", loc.key));
        let path = cluster.chunk_file(copy);
        let mut file = fs::read(&path).expect("fragment file");
        let before = file.clone();
        let data_len = split_chunk_file(&file).expect("fragment file").0.len();
        for at in [0, data_len / 2, data_len - 1] {
            file[at] ^= 0x5a;
        }
        fs::write(&path, &file).expect("rewrite fragment file");
        assert_ne!(
            fs::read(&path).expect("reread"),
            before,
            "corruption applied"
        );
        corrupted_services.insert(copy.service.clone());
    }

    for _ in 0..2 {
        get_same(&s3, "rot", "big", &big).await;
        get_same(&s3, "rot", "small", &small).await;
        ranges_same(&s3, "rot", "big", &big, CHUNK).await;
        // Ranges inside the corrupted data fragments only.
        range_same(&s3, "rot", "big", &big, 10, 1000).await;
        range_same(
            &s3,
            "rot",
            "big",
            &big,
            CHUNK + CHUNK / 2 + 5,
            CHUNK + CHUNK / 2 + 6,
        )
        .await;
        range_same(&s3, "rot", "small", &small, 250, 499).await;
    }

    // One more fragment gone (a server holding no corrupted fragment): still k good ones.
    let victim = (0..6)
        .find(|&i| !corrupted_services.contains(&cluster.service_id(i)))
        .expect("a server without corrupted fragments");
    cluster.kill_chunkd(victim);
    get_same(&s3, "rot", "big", &big).await;
    get_same(&s3, "rot", "small", &small).await;
}

/// With one of six chunk servers dead, an EC 4+2 PUT stores five fragments (the write quorum
/// k+1) and the object record names the missing one.
#[tokio::test]
async fn ec_put_with_one_server_down_records_the_missing_fragment() {
    const CHUNK: usize = MIB;
    let (mut cluster, _files) = start(6, CHUNK, &ec_default_policy(CHUNK));
    let s3 = cluster.s3();
    s3.create_bucket("degraded")
        .await
        .expect_status(200, "CreateBucket");
    let dead = cluster.service_id(5);
    cluster.kill_chunkd(5);

    let objects = [
        ("three-chunks", random_bytes(20, 2 * MIB + MIB / 2)),
        ("one-chunk", random_bytes(21, MIB)),
        ("tiny", random_bytes(22, 10)),
    ];
    for (key, data) in &objects {
        put_ok(&s3, "degraded", key, data, &[]).await;
    }
    for (key, data) in &objects {
        let loc = cluster.locate("degraded", key);
        let missing = check_ec_located(&cluster, &loc, data, 5);
        assert_eq!(
            loc.chunks.len(),
            data.len().div_ceil(CHUNK),
            "{key}: chunks"
        );
        for (i, chunk) in loc.chunks.iter().enumerate() {
            assert_eq!(missing[i].len(), 1, "{key} chunk {i}: one missing fragment");
            assert!(
                chunk.copies.iter().all(|c| c.service != dead),
                "{key} chunk {i}: a fragment recorded on the dead server: {:?}",
                chunk.copies
            );
        }
        get_same(&s3, "degraded", key, data).await;
        ranges_same(&s3, "degraded", key, data, CHUNK).await;
    }
}

/// `spread admin policy check` explains what is wrong with a policy file, and `spread dev`
/// refuses to start with an invalid one.
#[tokio::test]
async fn policy_file_errors_are_clear() {
    let cluster = Cluster::start_with(DevOptions {
        chunkd: 6,
        ..DevOptions::default()
    });
    let files = tempfile::tempdir().expect("temp dir");
    let dir = files.path();

    let check = |name: &str, text: &str| {
        let path = write_file(dir, name, text);
        let out = cluster.admin(&["policy", "check", path.to_str().expect("utf-8 path")]);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code(), text)
    };

    // (a) An unknown field.
    let unknown_field = r#"default = "A"
[policies.A]
kind = "replicate"
copise = 3
"#;
    let (code, text) = check("unknown.toml", unknown_field);
    assert_eq!(code, Some(1), "check of an unknown field: {text}");
    assert!(
        text.contains("copise") && text.contains("unknown field"),
        "the message names the unknown field: {text}"
    );

    // (b) k + m larger than the pool of 6 live servers.
    let too_wide = r#"default = "THREECOPIES"
[policies.THREECOPIES]
kind = "replicate"
copies = 3
[policies.EC84]
kind = "ec"
k = 8
m = 4
"#;
    let (code, text) = check("too-wide.toml", too_wide);
    assert_eq!(code, Some(1), "check of k+m = 12 on 6 servers: {text}");
    assert!(
        text.contains("EC84"),
        "the message names the policy: {text}"
    );

    // (c) A distance beyond the 4 tokens of a location.
    let far = r#"default = "FAR"
[policies.FAR]
kind = "replicate"
copies = 2
min_distance = 9
"#;
    let (code, text) = check("far.toml", far);
    assert_eq!(code, Some(1), "check of min_distance = 9: {text}");
    assert!(
        text.contains("min_distance") && text.contains('9'),
        "the message names min_distance: {text}"
    );

    // A valid file: exit 0, one OK line per policy.
    let (code, text) = check("good.toml", &three_copies_default_policy(MIB));
    assert_eq!(code, Some(0), "check of a valid file: {text}");
    for policy in ["THREECOPIES", "EC42"] {
        assert!(
            text.lines()
                .any(|l| l.contains(policy) && l.to_ascii_lowercase().contains("ok")),
            "no OK line for {policy}: {text}"
        );
    }
    drop(cluster);

    // spread dev with an invalid file does not start, and says why.
    let bad = write_file(dir, "bad-dev.toml", unknown_field);
    match Cluster::try_start_with(DevOptions {
        chunkd: 3,
        policy: Some(bad),
        ..DevOptions::default()
    }) {
        Ok(_) => panic!("spread dev started with a policy file that has an unknown field"),
        Err(e) => assert!(
            e.contains("copise"),
            "spread dev's failure does not name the unknown field: {e}"
        ),
    }
}

/// Waits (bounded) until a fresh PUT of `probe` in `bucket` is recorded under `policy`: the
/// gateway refreshes applied policies and bucket settings from meta periodically.
async fn wait_for_policy(cluster: &Cluster, s3: &S3, bucket: &str, policy: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        put_ok(s3, bucket, "probe", b"probe", &[]).await;
        let got = cluster.locate(bucket, "probe").policy_name().to_string();
        if got == policy {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "new objects in {bucket} still get policy {got:?}, not {policy:?}, 15 s later"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Key → `<StorageClass>` of each `<entry>` element of a listing.
fn listed_classes(xml: &str, entry: &str) -> std::collections::BTreeMap<String, String> {
    let open = format!("<{entry}>");
    let field = |block: &str, name: &str| -> Option<String> {
        let start = block.find(&format!("<{name}>"))? + name.len() + 2;
        let end = block[start..].find(&format!("</{name}>"))?;
        Some(block[start..start + end].to_string())
    };
    xml.split(&open)
        .skip(1)
        .filter_map(|block| Some((field(block, "Key")?, field(block, "StorageClass")?)))
        .collect()
}

/// `x-amz-storage-class` picks a policy per object; `bucket set-policy` per bucket.
#[tokio::test]
async fn storage_classes_and_bucket_policies_choose_the_policy() {
    const CHUNK: usize = MIB;
    let (cluster, _files) = start(6, CHUNK, &three_copies_default_policy(CHUNK));
    let s3 = cluster.s3();
    s3.create_bucket("classes")
        .await
        .expect_status(200, "CreateBucket");

    // STANDARD_IA → EC42.
    let ia = random_bytes(30, 2 * MIB + 99);
    put_ok(
        &s3,
        "classes",
        "ia",
        &ia,
        &[("x-amz-storage-class", "STANDARD_IA")],
    )
    .await;
    let loc = cluster.locate("classes", "ia");
    check_ec_located(&cluster, &loc, &ia, 6);
    let head = s3.head_object("classes", "ia").await;
    head.expect_status(200, "HEAD ia");
    assert_eq!(
        head.header("x-amz-storage-class"),
        Some("STANDARD_IA"),
        "storage class of an STANDARD_IA object"
    );
    get_same(&s3, "classes", "ia", &ia).await;

    // No class → the default, THREECOPIES: three copies, no EC layout.
    let plain = random_bytes(31, MIB + 5);
    put_ok(&s3, "classes", "plain", &plain, &[]).await;
    let loc = cluster.locate("classes", "plain");
    assert_eq!(loc.policy_name(), "THREECOPIES", "policy of a plain PUT");
    for c in &loc.chunks {
        assert!(c.ec.is_none(), "replicated chunk with an ec layout: {c:?}");
        assert_eq!(c.copies.len(), 3, "copies of chunk {}", c.pos);
    }
    let head = s3.head_object("classes", "plain").await;
    head.expect_status(200, "HEAD plain");
    assert_ne!(
        head.header("x-amz-storage-class"),
        Some("STANDARD_IA"),
        "a THREECOPIES object claims STANDARD_IA"
    );

    // An unknown class is refused and nothing is stored.
    let resp = s3
        .put_object_with(
            "classes",
            "nope",
            b"x".to_vec(),
            &[("x-amz-storage-class", "NO_SUCH_CLASS")],
        )
        .await;
    resp.expect_error(400, "InvalidStorageClass", "PUT with an unknown class");
    s3.head_object("classes", "nope")
        .await
        .expect_status(404, "HEAD after the refused PUT");

    // Multipart with STANDARD_IA.
    let (resp, upload) = s3
        .create_multipart_upload("classes", "mp", &[("x-amz-storage-class", "STANDARD_IA")])
        .await;
    resp.expect_status(200, "CreateMultipartUpload STANDARD_IA");
    let upload = upload.expect("UploadId");
    let parts = [random_bytes(32, 5 * MIB), random_bytes(33, 1234)];
    let mut etags = Vec::new();
    for (n, part) in parts.iter().enumerate() {
        let r = s3
            .upload_part("classes", "mp", &upload, n as u32 + 1, part.clone())
            .await;
        r.expect_status(200, "UploadPart");
        etags.push((n as u32 + 1, r.etag().expect("ETag").to_string()));
    }
    s3.complete_multipart_upload("classes", "mp", &upload, &etags)
        .await
        .expect_status(200, "CompleteMultipartUpload");
    let whole = parts.concat();
    check_ec_located(&cluster, &cluster.locate("classes", "mp"), &whole, 6);
    get_same(&s3, "classes", "mp", &whole).await;
    let resp = s3
        .create_multipart_upload(
            "classes",
            "mp2",
            &[("x-amz-storage-class", "NO_SUCH_CLASS")],
        )
        .await
        .0;
    resp.expect_error(
        400,
        "InvalidStorageClass",
        "multipart with an unknown class",
    );

    // Listings name each object's own class (v1, v2 and versions).
    for (query, entry) in [
        (vec![("list-type", "2")], "Contents"),
        (vec![], "Contents"),
        (vec![("versions", "")], "Version"),
    ] {
        let mut req = Request::new(Method::GET, Some("classes"), None);
        for (k, v) in &query {
            req = req.query(k, v);
        }
        let resp = s3.send(req).await;
        resp.expect_status(200, "listing");
        let classes = listed_classes(&resp.text(), entry);
        let want = [
            ("ia", "STANDARD_IA"),
            ("mp", "STANDARD_IA"),
            ("plain", "STANDARD"),
        ];
        for (key, class) in want {
            assert_eq!(
                classes.get(key).map(String::as_str),
                Some(class),
                "class of {key} in the listing {query:?}: {}",
                resp.text()
            );
        }
    }

    // A bucket policy: plain PUTs in that bucket get EC42, other buckets keep the default.
    s3.create_bucket("cold")
        .await
        .expect_status(200, "CreateBucket");
    cluster.admin_ok(&["bucket", "set-policy", "cold", "EC42"]);
    wait_for_policy(&cluster, &s3, "cold", "EC42").await;
    let cold = random_bytes(34, 3 * MIB + 1);
    put_ok(&s3, "cold", "data", &cold, &[]).await;
    check_ec_located(&cluster, &cluster.locate("cold", "data"), &cold, 6);
    get_same(&s3, "cold", "data", &cold).await;
    put_ok(&s3, "classes", "plain2", &cold, &[]).await;
    assert_eq!(
        cluster.locate("classes", "plain2").policy_name(),
        "THREECOPIES",
        "a bucket without a policy keeps the default"
    );
    let out = cluster.admin(&["bucket", "set-policy", "cold", "NOPE"]);
    assert!(
        !out.status.success(),
        "set-policy to an undefined policy succeeded: {}",
        String::from_utf8_lossy(&out.stdout)
    );

    // The policy can also be chosen when the bucket is created (x-spread-storage-policy).
    let create = conformance::s3::Request::new(http::Method::PUT, Some("born-ec"), None)
        .header("x-spread-storage-policy", "EC42");
    s3.send(create)
        .await
        .expect_status(200, "CreateBucket with x-spread-storage-policy");
    let born = random_bytes(35, MIB + 3);
    put_ok(&s3, "born-ec", "data", &born, &[]).await;
    check_ec_located(&cluster, &cluster.locate("born-ec", "data"), &born, 6);
    let create = conformance::s3::Request::new(http::Method::PUT, Some("born-bad"), None)
        .header("x-spread-storage-policy", "NOPE");
    s3.send(create).await.expect_error(
        400,
        "InvalidArgument",
        "CreateBucket with an undefined policy",
    );
    s3.head_bucket("born-bad")
        .await
        .expect_status(404, "HEAD of the refused bucket");
}

/// Objects keep the layout they were written with: after `policy apply` removes their policy,
/// they still read back byte-identical, and new objects follow the new file.
#[tokio::test]
async fn objects_keep_reading_after_the_policy_file_changes() {
    const CHUNK: usize = MIB;
    let (cluster, files) = start(6, CHUNK, &ec_default_policy(CHUNK));
    let s3 = cluster.s3();
    s3.create_bucket("keep")
        .await
        .expect_status(200, "CreateBucket");
    let objects = [
        ("a", random_bytes(40, 3 * MIB + 17)),
        ("b", random_bytes(41, 4097)),
        ("c", random_bytes(42, MIB)),
    ];
    for (key, data) in &objects {
        put_ok(&s3, "keep", key, data, &[]).await;
        check_ec_located(&cluster, &cluster.locate("keep", key), data, 6);
    }

    let replaced = r#"default = "TWOCOPIES"

[policies.TWOCOPIES]
kind = "replicate"
copies = 2
chunk_size = "1MiB"
"#;
    let path = write_file(files.path(), "replaced.toml", replaced);
    cluster.admin_ok(&["policy", "apply", path.to_str().expect("utf-8 path")]);
    let list = cluster.admin_ok(&["policy", "list"]);
    assert!(list.contains("TWOCOPIES"), "policy list: {list}");
    assert!(
        !list.contains("EC42"),
        "policy list still shows EC42: {list}"
    );

    wait_for_policy(&cluster, &s3, "keep", "TWOCOPIES").await;
    for (key, data) in &objects {
        get_same(&s3, "keep", key, data).await;
        ranges_same(&s3, "keep", key, data, CHUNK).await;
        let loc = cluster.locate("keep", key);
        assert_eq!(loc.policy_name(), "EC42", "{key}: the recorded policy");
    }
    let new = random_bytes(43, 2 * MIB + 1);
    put_ok(&s3, "keep", "new", &new, &[]).await;
    let loc = cluster.locate("keep", "new");
    assert_eq!(loc.policy_name(), "TWOCOPIES");
    for c in &loc.chunks {
        assert!(
            c.ec.is_none(),
            "chunk {} of a TWOCOPIES object: {c:?}",
            c.pos
        );
        assert_eq!(c.copies.len(), 2, "copies of chunk {}", c.pos);
    }
    get_same(&s3, "keep", "new", &new).await;
}
