//! Every name works: account, container and object names that are not ASCII (UTF-8, RTL,
//! emoji, combining characters) or not URL- and header-safe (spaces, `%`, `+`, `?`, `#`,
//! quotes, newlines), end to end through a real cluster: stored, read, listed in every format,
//! copied (`X-Copy-From`, `COPY`, S3 CopyObject), in large objects (SLO paths raw and
//! percent-encoded, DLO manifests), TempURLs, bulk and multi-object deletes, and written as
//! the real UTF-8 names in the chunk files' footers. A name holding a newline must not forge a
//! log line.
//!
//! Needs the `spread` binary: `cargo build --release` first, or set `SPREAD_BIN`.

use std::collections::BTreeSet;
use std::fs;

use bytes::Bytes;
use conformance::cluster::{Cluster, split_chunk_file};
use conformance::s3::{Element, Request, encode_path};
use conformance::swift::{Response, Swift, encode, temp_url_sig};
use conformance::{md5_hex, random_bytes};
use http::Method;

/// Names Swift accepts for containers (any UTF-8 without '/'), also used as object names.
const NAMES: [&str; 9] = [
    "Ünïcödé-容器",
    "مرحبا بالعالم",
    "😀📦",
    "with space",
    "pct%41%zz",
    "plus+q?h#frag",
    "quo'te\"d",
    "e\u{301}combining",
    "semi;colon,eq=amp&at@dollar$tilde~bang!star*(paren)[br]",
];

/// A metadata value that is not ASCII.
const LABEL: &str = "Ünï 😀 مرحبا";

/// A response header as UTF-8 text (Swift answers some in UTF-8, not only ASCII).
fn text<'a>(r: &'a Response, name: &str) -> Option<&'a str> {
    r.headers
        .get(name)
        .and_then(|v| std::str::from_utf8(v.as_bytes()).ok())
}

/// `/container/object` → its URL path relative to the storage URL.
fn path(container: &str, object: &str) -> String {
    format!("{}/{}", encode(container), encode(object))
}

/// The footer of every stored copy of `container`/`key` names the object exactly (real UTF-8,
/// not percent-encoded).
#[track_caller]
fn assert_footers_name(cluster: &Cluster, account: &str, container: &str, key: &str) {
    let loc = cluster.locate(container, key);
    assert_eq!(loc.key, key, "locate answered another key");
    assert!(!loc.chunks.is_empty(), "{container}/{key}: no chunks");
    for chunk in &loc.chunks {
        assert!(!chunk.inline, "{container}/{key}: chunk kept inline");
        assert!(!chunk.copies.is_empty(), "{container}/{key}: no copies");
        for copy in &chunk.copies {
            let file_path = cluster.chunk_file(copy);
            let file = fs::read(&file_path)
                .unwrap_or_else(|e| panic!("chunk file {}: {e}", file_path.display()));
            let (_, footer) = split_chunk_file(&file)
                .unwrap_or_else(|e| panic!("chunk file {}: {e}", file_path.display()));
            assert_eq!(
                footer["account"],
                account,
                "footer of {}",
                file_path.display()
            );
            assert_eq!(
                footer["container"],
                container,
                "footer of {}",
                file_path.display()
            );
            assert_eq!(footer["key"], key, "footer of {}", file_path.display());
        }
    }
}

/// The names of a container listing in each of Swift's three formats.
async fn listed(sw: &Swift, container: &str, query: &str) -> [Vec<String>; 3] {
    let base = format!("{}?{query}", encode(container));
    let json = sw.get(&format!("{base}&format=json")).await;
    json.expect_status(200, "JSON listing");
    let items: Vec<serde_json::Value> = serde_json::from_slice(&json.body)
        .unwrap_or_else(|e| panic!("JSON listing: {e}: {}", json.text()));
    let from_json = items
        .iter()
        .map(|i| {
            i.get("name")
                .or_else(|| i.get("subdir"))
                .and_then(|n| n.as_str())
                .unwrap_or_else(|| panic!("listing item without name: {i}"))
                .to_string()
        })
        .collect();
    let xml = sw.get(&format!("{base}&format=xml")).await;
    xml.expect_status(200, "XML listing");
    let root =
        Element::parse(&xml.text()).unwrap_or_else(|e| panic!("XML listing: {e}: {}", xml.text()));
    let from_xml = root
        .children
        .iter()
        .map(|c| c.child_text("name").unwrap_or_default().to_string())
        .collect();
    let plain = sw.get(&format!("{base}&format=plain")).await;
    let from_plain = plain.text().lines().map(str::to_string).collect();
    [from_json, from_xml, from_plain]
}

#[tokio::test(flavor = "multi_thread")]
async fn swift_names_end_to_end() {
    let cluster = Cluster::start();
    let sw = cluster.swift().await;

    // Every container name: create, store an object with a UTF-8 metadata value, read it back
    // (data, metadata), list it in the three formats, and find the names in the footers.
    for (i, c) in NAMES.iter().enumerate() {
        sw.put(&encode(c), Bytes::new())
            .await
            .expect_status(201, &format!("PUT container {c:?}"));
        let o = format!("dir {c}/obj {c}");
        let data = random_bytes(i as u64, 1000 + i);
        let r = sw
            .send(
                Method::PUT,
                &path(c, &o),
                &[("x-object-meta-label", LABEL)],
                data.clone(),
            )
            .await;
        r.expect_status(201, &format!("PUT {c:?}/{o:?}"));
        let r = sw.get(&path(c, &o)).await;
        r.expect_status(200, &format!("GET {c:?}/{o:?}"));
        assert!(r.body == data, "GET {c:?}/{o:?}: other bytes");
        assert_eq!(text(&r, "x-object-meta-label"), Some(LABEL), "{c:?}/{o:?}");
        for names in listed(&sw, c, "").await {
            assert_eq!(names, std::slice::from_ref(&o), "listing of {c:?}");
        }
        for names in listed(&sw, c, "delimiter=/").await {
            assert_eq!(names, [format!("dir {c}/")], "listing of {c:?} by /");
        }
        assert_footers_name(&cluster, "dev", c, &o);
    }
    let account = sw.get("?format=json").await;
    account.expect_status(200, "account listing");
    let listed_containers: BTreeSet<String> =
        serde_json::from_slice::<Vec<serde_json::Value>>(&account.body)
            .expect("account listing JSON")
            .iter()
            .filter_map(|c| c["name"].as_str().map(str::to_string))
            .collect();
    let expected: BTreeSet<String> = NAMES.iter().map(|n| n.to_string()).collect();
    assert_eq!(listed_containers, expected, "account listing");

    // Copies: X-Copy-From (URL-encoded, as clients send it) within a container, then COPY
    // with a Destination into the next container. X-Copied-From names the source URL-encoded.
    for (i, c) in NAMES.iter().enumerate() {
        let o = format!("dir {c}/obj {c}");
        let copy = format!("copy {c}");
        let r = sw
            .send(
                Method::PUT,
                &path(c, &copy),
                &[("x-copy-from", &format!("/{}", path(c, &o)))],
                Bytes::new(),
            )
            .await;
        r.expect_status(201, &format!("X-Copy-From {c:?}/{o:?}"));
        assert_eq!(
            text(&r, "x-copied-from"),
            Some(encode(&format!("{c}/{o}")).as_str()),
            "X-Copied-From"
        );
        let next = NAMES[(i + 1) % NAMES.len()];
        let moved = format!("moved from {c}");
        let r = sw
            .send(
                Method::from_bytes(b"COPY").expect("COPY"),
                &path(c, &copy),
                &[("destination", &format!("/{}", path(next, &moved)))],
                Bytes::new(),
            )
            .await;
        r.expect_status(201, &format!("COPY {c:?}/{copy:?} to {next:?}/{moved:?}"));
        assert_eq!(
            text(&r, "x-copied-from"),
            Some(encode(&format!("{c}/{copy}")).as_str()),
            "X-Copied-From of COPY"
        );
        let original = sw.get(&path(c, &o)).await;
        let r = sw.get(&path(next, &moved)).await;
        r.expect_status(200, &format!("GET {next:?}/{moved:?}"));
        assert!(
            r.body == original.body,
            "COPY to {next:?}/{moved:?}: other bytes"
        );
        assert_eq!(
            text(&r, "x-object-meta-label"),
            Some(LABEL),
            "copied metadata"
        );
    }

    // An object name with a newline, and metadata on a UTF-8 container.
    let c0 = NAMES[0];
    let nl = "line\nbreak ü";
    sw.put(&path(c0, nl), "newline")
        .await
        .expect_status(201, "PUT of a name with a newline");
    let [json, xml, _] = listed(&sw, c0, "prefix=line").await;
    assert_eq!((json, xml), (vec![nl.to_string()], vec![nl.to_string()]));
    sw.post(&encode(c0), &[("x-container-meta-label", LABEL)])
        .await
        .expect_status(204, "container POST");
    let r = sw.head(&encode(c0)).await;
    assert_eq!(
        text(&r, "x-container-meta-label"),
        Some(LABEL),
        "container meta"
    );

    // SLO: segments named in UTF-8, one path sent as it is (Swift's rule), one
    // percent-encoded; the manifest keeps the real names.
    let (c1, c2) = (NAMES[1], NAMES[2]);
    let seg1 = random_bytes(101, 70_000);
    let seg2 = random_bytes(102, 30_000);
    sw.put(&path(c0, "seg ü/1"), seg1.clone())
        .await
        .expect_status(201, "segment 1");
    sw.put(&path(c1, "seg 😀 %41/2"), seg2.clone())
        .await
        .expect_status(201, "segment 2");
    let manifest = serde_json::json!([
        {"path": format!("/{c0}/seg ü/1"), "etag": md5_hex(&seg1), "size_bytes": seg1.len()},
        {"path": format!("/{}", path(c1, "seg 😀 %41/2")), "etag": md5_hex(&seg2)},
    ]);
    let slo = "slo 📦 ü";
    sw.put(
        &format!("{}?multipart-manifest=put", path(c2, slo)),
        manifest.to_string(),
    )
    .await
    .expect_status(201, "SLO manifest PUT");
    let r = sw.get(&path(c2, slo)).await;
    r.expect_status(200, "SLO GET");
    assert!(r.body == [seg1.clone(), seg2.clone()].concat(), "SLO bytes");
    let r = sw
        .get(&format!("{}?multipart-manifest=get", path(c2, slo)))
        .await;
    let stored: Vec<serde_json::Value> = serde_json::from_slice(&r.body).expect("manifest JSON");
    let names: Vec<&str> = stored.iter().filter_map(|s| s["name"].as_str()).collect();
    assert_eq!(
        names,
        [format!("/{c0}/seg ü/1"), format!("/{c1}/seg 😀 %41/2")],
        "stored manifest"
    );
    // A path that names nothing, raw or decoded, is reported URL-encoded.
    let bad = serde_json::json!([{"path": format!("/{c0}/missing\nü")}]);
    let r = sw
        .put(
            &format!("{}?multipart-manifest=put", path(c2, "bad slo")),
            bad.to_string(),
        )
        .await;
    r.expect_status(400, "SLO with a missing segment");
    assert!(
        r.text()
            .contains(&format!("/{}, 404 Not Found", path(c0, "missing\nü"))),
        "{}",
        r.text()
    );

    // DLO: the manifest header URL-encoded (as python-swiftclient sends it) and in raw UTF-8.
    sw.put(&path(c1, "dlo ü/1"), seg1.clone())
        .await
        .expect_status(201, "DLO segment 1");
    sw.put(&path(c1, "dlo ü/2"), seg2.clone())
        .await
        .expect_status(201, "DLO segment 2");
    for (name, manifest) in [
        (
            "dlo encoded",
            format!("{}/{}", encode(c1), encode("dlo ü/")),
        ),
        ("dlo raw", format!("{c1}/dlo ü/")),
    ] {
        sw.send(
            Method::PUT,
            &path(c0, name),
            &[("x-object-manifest", &manifest)],
            Bytes::new(),
        )
        .await
        .expect_status(201, &format!("{name} manifest PUT"));
        let r = sw.get(&path(c0, name)).await;
        r.expect_status(200, &format!("{name} GET"));
        assert!(
            r.body == [seg1.clone(), seg2.clone()].concat(),
            "{name} bytes"
        );
    }

    // TempURL: signed over the real (decoded) path, used URL-encoded, without a token; the
    // attachment is named after the object, URL-encoded.
    let key = "names-tempurl-key";
    sw.post("", &[("x-account-meta-temp-url-key", key)])
        .await
        .expect_status(204, "account key");
    let o = format!("dir {c1}/obj {c1}");
    let expires = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
        + 600;
    let sig = temp_url_sig(
        "sha256",
        key,
        "GET",
        expires,
        &format!("/v1/AUTH_dev/{c1}/{o}"),
        None,
    );
    let r = sw
        .with_token("")
        .get(&format!(
            "{}?temp_url_sig={sig}&temp_url_expires={expires}",
            path(c1, &o)
        ))
        .await;
    r.expect_status(200, "TempURL GET");
    let filename = format!("obj {c1}");
    assert_eq!(
        text(&r, "content-disposition"),
        Some(
            format!(
                "attachment; filename=\"{}\"; filename*=UTF-8''{}",
                encode(&filename).replace("%20", " "),
                encode(&filename)
            )
            .as_str()
        )
    );

    // A name holding a newline must not forge a log line: a segment that changed size makes
    // the gateway log a warning naming it.
    let forged = "seg\nFORGED-LOG-LINE ERROR";
    sw.put(&path(c0, forged), "abc")
        .await
        .expect_status(201, "segment with a newline");
    let manifest = serde_json::json!([{"path": format!("/{c0}/{forged}")}]);
    sw.put(
        &format!("{}?multipart-manifest=put", path(c0, "forge")),
        manifest.to_string(),
    )
    .await
    .expect_status(201, "SLO naming it");
    sw.put(&path(c0, forged), "abcdef")
        .await
        .expect_status(201, "segment overwritten with another size");
    let r = sw.get(&path(c0, "forge")).await;
    assert!(
        !r.status.is_success(),
        "GET of a broken SLO answered {}",
        r.status
    );
    let log_path = cluster.data_dir().join("logs").join("gateway.log");
    let log =
        fs::read_to_string(&log_path).unwrap_or_else(|e| panic!("{}: {e}", log_path.display()));
    assert!(
        log.contains("seg\\nFORGED-LOG-LINE ERROR"),
        "the broken segment was not logged (escaped):\n{log}"
    );
    assert!(
        !log.lines().any(|l| l.starts_with("FORGED-LOG-LINE")),
        "a name forged a log line:\n{log}"
    );

    // Bulk delete: URL-encoded paths, one per line; one that is not UTF-8 is an error.
    let mut body = String::new();
    for (i, c) in NAMES.iter().enumerate() {
        let next = NAMES[(i + 1) % NAMES.len()];
        body.push_str(&format!("/{}\n", path(c, &format!("copy {c}"))));
        body.push_str(&format!("/{}\n", path(next, &format!("moved from {c}"))));
    }
    body.push_str(&format!("/{}\n", path(c0, nl)));
    body.push_str(&format!("/{}/%FF\n", encode(c0)));
    let r = sw
        .send(
            Method::POST,
            "?bulk-delete",
            &[
                ("accept", "application/json"),
                ("content-type", "text/plain"),
            ],
            body,
        )
        .await;
    r.expect_status(200, "bulk delete");
    let report: serde_json::Value = serde_json::from_slice(&r.body).expect("bulk JSON");
    assert_eq!(report["Number Deleted"], 2 * NAMES.len() + 1, "{report}");
    assert_eq!(
        report["Errors"],
        serde_json::json!([[format!("/{}/%FF", encode(c0)), "412 Precondition Failed"]]),
        "{report}"
    );
    sw.head(&path(c0, nl))
        .await
        .expect_status(404, "deleted by bulk delete");

    // An account named in UTF-8: its storage URL is URL-encoded, and its objects' footers
    // name it.
    let acct = "Ünï 账户";
    cluster.admin_ok(&["account", "create", acct]);
    cluster.admin_ok(&[
        "swift-user",
        "create",
        acct,
        "bob",
        "--key",
        "bob-key",
        "--admin",
    ]);
    let bob = Swift::login(&cluster.swift_auth_url(), &format!("{acct}:bob"), "bob-key")
        .await
        .expect("login of a UTF-8 account");
    assert!(
        bob.storage_url
            .ends_with(&format!("/v1/AUTH_{}", encode(acct))),
        "{}",
        bob.storage_url
    );
    bob.put(&encode("账户的容器"), Bytes::new())
        .await
        .expect_status(201, "container of the UTF-8 account");
    bob.put(&path("账户的容器", "ü"), "bob's")
        .await
        .expect_status(201, "object of the UTF-8 account");
    let r = bob.get(&path("账户的容器", "ü")).await;
    assert_eq!(r.body, "bob's");
    assert_footers_name(&cluster, acct, "账户的容器", "ü");
}

/// DeleteObjects body for `keys` (XML-escaped).
fn delete_objects_xml(keys: &[String]) -> String {
    let mut xml = String::from("<Delete><Quiet>false</Quiet>");
    for k in keys {
        let k = k
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('\'', "&apos;");
        xml.push_str(&format!("<Object><Key>{k}</Key></Object>"));
    }
    xml.push_str("</Delete>");
    xml
}

/// `Content-MD5` of `body`: base64 of the MD5 digest.
fn content_md5(body: &[u8]) -> String {
    use base64::Engine as _;
    let digest = hex::decode(md5_hex(body)).expect("hex");
    base64::engine::general_purpose::STANDARD.encode(digest)
}

#[tokio::test(flavor = "multi_thread")]
async fn s3_keys_end_to_end() {
    let cluster = Cluster::start();
    let s3 = cluster.s3();
    let sw = cluster.swift().await;
    let bucket = "names";
    s3.create_bucket(bucket)
        .await
        .expect_status(200, "CreateBucket");
    let mut keys: Vec<String> = NAMES.iter().map(|n| n.to_string()).collect();
    keys.extend(
        [
            "dir/sub dir/ü+%.txt",
            "line\nbreak",
            " lead and trail ",
            "a/😀/b/مرحبا",
        ]
        .map(str::to_string),
    );

    // PUT, GET, HEAD; the same object through Swift (the bucket is the container).
    for (i, k) in keys.iter().enumerate() {
        let data = random_bytes(1000 + i as u64, 500 + i);
        s3.put_object(bucket, k, data.clone())
            .await
            .expect_status(200, &format!("PUT {k:?}"));
        let r = s3.get_object(bucket, k).await;
        r.expect_status(200, &format!("GET {k:?}"));
        assert!(r.body == data, "GET {k:?}: other bytes");
        s3.head_object(bucket, k)
            .await
            .expect_status(200, &format!("HEAD {k:?}"));
        let r = sw.get(&path(bucket, k)).await;
        r.expect_status(200, &format!("Swift GET {k:?}"));
        assert!(r.body == data, "Swift GET {k:?}: other bytes");
    }
    assert_footers_name(&cluster, "dev", bucket, &keys[0]);
    assert_footers_name(&cluster, "dev", bucket, "line\nbreak");

    // Listings: plain, and with encoding-type=url (keys URL-encoded, decoded here).
    let want: BTreeSet<String> = keys.iter().cloned().collect();
    let listed: BTreeSet<String> = s3
        .list_all(bucket, "")
        .await
        .into_iter()
        .map(|e| e.key)
        .collect();
    assert_eq!(listed, want, "ListObjectsV2");
    let r = s3
        .send(
            Request::new(Method::GET, Some(bucket), None)
                .query("list-type", "2")
                .query("encoding-type", "url"),
        )
        .await;
    r.expect_status(200, "ListObjectsV2 encoding-type=url");
    let root = Element::parse(&r.text()).expect("listing XML");
    let decoded: BTreeSet<String> = root
        .all("Contents")
        .filter_map(|c| c.child_text("Key"))
        .map(|k| {
            percent_encoding::percent_decode_str(&k.replace('+', " "))
                .decode_utf8()
                .expect("UTF-8 key")
                .into_owned()
        })
        .collect();
    assert_eq!(decoded, want, "ListObjectsV2 encoding-type=url");

    // CopyObject from a URL-encoded x-amz-copy-source.
    let mut copies = Vec::new();
    for k in &keys {
        let copy = format!("copy of {k}");
        let r = s3
            .send(Request::new(Method::PUT, Some(bucket), Some(&copy)).header(
                "x-amz-copy-source",
                &format!("/{bucket}/{}", encode_path(k)),
            ))
            .await;
        r.expect_status(200, &format!("CopyObject {k:?}"));
        let (a, b) = (
            s3.get_object(bucket, k).await,
            s3.get_object(bucket, &copy).await,
        );
        assert!(a.body == b.body, "copy of {k:?}: other bytes");
        copies.push(copy);
    }

    // Multipart upload of a UTF-8 key.
    let multi = "multi 😀/ü %41+?#";
    let (r, upload) = s3.create_multipart_upload(bucket, multi, &[]).await;
    r.expect_status(200, "CreateMultipartUpload");
    let upload = upload.expect("UploadId");
    let part1 = random_bytes(7, 5 * 1024 * 1024);
    let part2 = random_bytes(8, 1000);
    let mut etags = Vec::new();
    for (n, part) in [(1u32, &part1), (2, &part2)] {
        let r = s3
            .upload_part(bucket, multi, &upload, n, part.clone())
            .await;
        r.expect_status(200, "UploadPart");
        etags.push((n, r.etag().expect("part ETag").to_string()));
    }
    s3.complete_multipart_upload(bucket, multi, &upload, &etags)
        .await
        .expect_status(200, "CompleteMultipartUpload");
    let r = s3.get_object(bucket, multi).await;
    assert!(r.body == [part1, part2].concat(), "multipart bytes");
    assert_footers_name(&cluster, "dev", bucket, multi);

    // DeleteObjects names every copy back; then every key is deleted one by one.
    let r = s3
        .send(
            Request::new(Method::POST, Some(bucket), None)
                .query("delete", "")
                .header(
                    "content-md5",
                    &content_md5(delete_objects_xml(&copies).as_bytes()),
                )
                .body(delete_objects_xml(&copies)),
        )
        .await;
    r.expect_status(200, "DeleteObjects");
    let root = Element::parse(&r.text()).expect("DeleteObjects XML");
    let deleted: BTreeSet<String> = root
        .all("Deleted")
        .filter_map(|d| d.child_text("Key"))
        .map(str::to_string)
        .collect();
    assert_eq!(deleted, copies.iter().cloned().collect(), "{}", r.text());
    for k in keys.iter().chain([&multi.to_string()]) {
        s3.delete_object(bucket, k)
            .await
            .expect_status(204, &format!("DELETE {k:?}"));
    }
    assert!(s3.list_all(bucket, "").await.is_empty(), "bucket not empty");
}
