//! Swift API tests against real `spread dev` clusters: auth v1, /info, account and container
//! operations, listing formats and parameters, objects (ETag check, chunked upload, ranges,
//! conditions, metadata, copy, expiry), DLO / SLO, ACLs, TempURLs, and the same objects seen
//! through S3.
//!
//! Needs the `spread` binary: `cargo build --release` first, or set `SPREAD_BIN`.

use std::io::{Read, Write};
use std::time::Duration;

use bytes::Bytes;
use conformance::cluster::Cluster;
use conformance::swift::{Swift, encode, temp_url_sig};
use conformance::{md5_hex, random_bytes};
use http::Method;

const MIB: usize = 1024 * 1024;

/// Sends a hand-written HTTP/1.1 request (to control framing) and returns status and body.
fn raw_http(addr: &str, request: &[u8]) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).expect("connect to the Swift listener");
    s.set_read_timeout(Some(Duration::from_secs(30))).ok();
    s.write_all(request).expect("send");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    (status, text)
}

fn swift_addr(cluster: &Cluster) -> String {
    cluster
        .info
        .gateway
        .swift_addr
        .clone()
        .expect("cluster.toml [gateway] swift_addr")
}

#[tokio::test(flavor = "multi_thread")]
async fn swift_auth_info_account_and_containers() {
    let cluster = Cluster::start();
    let auth = cluster.swift_auth_url();

    // Auth: wrong key, unknown user, missing headers → 401; the Storage spellings work.
    let user = "dev:admin";
    assert!(Swift::login(&auth, user, "wrong").await.is_err());
    assert!(Swift::login(&auth, "dev:nobody", "x").await.is_err());
    let r = conformance::swift::send_raw(
        &hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http(),
        Method::GET,
        &auth,
        &[
            ("x-storage-user", user),
            ("x-storage-pass", cluster.secret_key()),
        ],
        Bytes::new(),
    )
    .await
    .expect("auth");
    r.expect_status(200, "auth with X-Storage-User/-Pass");
    let expires: u64 = r
        .header("x-auth-token-expires")
        .and_then(|v| v.parse().ok())
        .expect("X-Auth-Token-Expires");
    assert!(expires > 3600, "token lifetime {expires}");
    let sw = cluster.swift().await;
    assert!(
        sw.storage_url.ends_with("/v1/AUTH_dev"),
        "{}",
        sw.storage_url
    );
    sw.with_token("")
        .head("")
        .await
        .expect_status(401, "anonymous account HEAD");
    sw.with_token("AUTH_tkbogus")
        .head("")
        .await
        .expect_status(401, "bad token");

    // /info lists what is implemented, with limits.
    let info = conformance::swift::send_raw(
        &hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http(),
        Method::GET,
        &auth.replace("/auth/v1.0", "/info"),
        &[],
        Bytes::new(),
    )
    .await
    .expect("info");
    info.expect_status(200, "GET /info");
    let v: serde_json::Value = serde_json::from_slice(&info.body).expect("info JSON");
    assert_eq!(v["swift"]["max_file_size"], 5368709122u64);
    assert_eq!(v["swift"]["container_listing_limit"], 10000);
    assert!(v["slo"].is_object() && v["dlo"].is_object(), "{v}");
    assert_eq!(
        v["tempurl"]["methods"],
        serde_json::json!(["GET", "HEAD", "PUT", "POST", "DELETE"]),
        "{v}"
    );
    assert_eq!(
        v["tempurl"]["allowed_digests"],
        serde_json::json!(["sha1", "sha256", "sha512"]),
        "{v}"
    );
    assert_eq!(
        v["tempurl"]["outgoing_remove_headers"],
        serde_json::json!(["x-object-meta-*"]),
        "{v}"
    );
    assert!(v["tempurl"]["incoming_remove_headers"].is_array(), "{v}");
    assert_eq!(v["bulk_delete"]["max_deletes_per_request"], 10000);

    // Account: empty, then metadata.
    let r = sw.head("").await;
    r.expect_status(204, "account HEAD");
    assert_eq!(r.header("x-account-container-count"), Some("0"));
    sw.get("")
        .await
        .expect_status(204, "empty account text listing");
    sw.post(
        "",
        &[
            ("x-account-meta-color", "red"),
            ("x-account-meta-size", "xl"),
        ],
    )
    .await
    .expect_status(204, "account POST");
    sw.post("", &[("x-remove-account-meta-size", "x")])
        .await
        .expect_status(204, "account POST remove");
    let r = sw.head("").await;
    assert_eq!(r.header("x-account-meta-color"), Some("red"));
    assert_eq!(r.header("x-account-meta-size"), None);

    // Containers: create, exists (202), metadata, listings.
    for c in ["alpha", "beta", "gamma", "dir-a", "dir-b"] {
        sw.put(c, Bytes::new())
            .await
            .expect_status(201, "container PUT");
    }
    sw.send(
        Method::PUT,
        "alpha",
        &[("x-container-meta-owner", "ann")],
        Bytes::new(),
    )
    .await
    .expect_status(202, "container PUT again");
    sw.send(
        Method::PUT,
        "bad",
        &[("x-storage-policy", "NOPE")],
        Bytes::new(),
    )
    .await
    .expect_status(400, "unknown storage policy");
    let r = sw.head("alpha").await;
    r.expect_status(204, "container HEAD");
    assert_eq!(r.header("x-container-meta-owner"), Some("ann"));
    assert_eq!(r.header("x-container-object-count"), Some("0"));
    assert!(r.header("x-storage-policy").is_some());
    sw.post(
        "alpha",
        &[
            ("x-container-meta-owner", ""),
            ("x-container-meta-tier", "hot"),
        ],
    )
    .await
    .expect_status(204, "container POST");
    let r = sw.head("alpha").await;
    assert_eq!(r.header("x-container-meta-owner"), None);
    assert_eq!(r.header("x-container-meta-tier"), Some("hot"));
    sw.head("nope")
        .await
        .expect_status(404, "missing container");

    let text = sw.get("").await;
    text.expect_status(200, "account listing");
    assert_eq!(text.text(), "alpha\nbeta\ndir-a\ndir-b\ngamma\n");
    let r = sw.get("?format=json&prefix=dir").await;
    let v: serde_json::Value = serde_json::from_slice(&r.body).expect("JSON listing");
    assert_eq!(v.as_array().map(Vec::len), Some(2), "{v}");
    assert_eq!(v[0]["name"], "dir-a");
    assert_eq!(v[0]["count"], 0);
    let r = sw.get("?delimiter=-").await;
    assert_eq!(r.text(), "alpha\nbeta\ndir-\ngamma\n");
    assert_eq!(
        sw.get("?marker=beta&end_marker=gamma").await.text(),
        "dir-a\ndir-b\n"
    );
    assert_eq!(
        sw.get("?limit=2&reverse=true").await.text(),
        "gamma\ndir-b\n"
    );
    let xml = sw
        .send(
            Method::GET,
            "",
            &[("accept", "application/xml")],
            Bytes::new(),
        )
        .await;
    assert!(
        xml.text()
            .contains("<account name=\"dev\"><container><name>alpha</name>"),
        "{}",
        xml.text()
    );

    // Object listings: formats and parameters.
    for k in ["a.txt", "d/x", "d/y", "d/sub/z", "e&<f>"] {
        sw.put(&format!("beta/{}", encode(k)), k.as_bytes().to_vec())
            .await
            .expect_status(201, "object PUT");
    }
    assert_eq!(
        sw.get("beta").await.text(),
        "a.txt\nd/sub/z\nd/x\nd/y\ne&<f>\n"
    );
    assert_eq!(
        sw.get("beta?delimiter=/").await.text(),
        "a.txt\nd/\ne&<f>\n"
    );
    assert_eq!(sw.get("beta?path=d").await.text(), "d/x\nd/y\n");
    assert_eq!(
        sw.get("beta?prefix=d/&delimiter=/").await.text(),
        "d/sub/\nd/x\nd/y\n"
    );
    assert_eq!(
        sw.get("beta?marker=d/x&limit=2").await.text(),
        "d/y\ne&<f>\n"
    );
    assert_eq!(
        sw.get("beta?end_marker=d/x").await.text(),
        "a.txt\nd/sub/z\n"
    );
    assert_eq!(
        sw.get("beta?reverse=on&limit=3").await.text(),
        "e&<f>\nd/y\nd/x\n"
    );
    let v: serde_json::Value =
        serde_json::from_slice(&sw.get("beta?format=json&delimiter=/").await.body).expect("json");
    assert_eq!(v[0]["name"], "a.txt");
    assert_eq!(v[0]["bytes"], 5);
    assert_eq!(v[0]["hash"], md5_hex(b"a.txt"));
    assert_eq!(v[1]["subdir"], "d/");
    let xml = sw.get("beta?format=xml").await.text();
    assert!(xml.contains("<name>e&amp;&lt;f&gt;</name>"), "{xml}");
    assert!(xml.contains("<container name=\"beta\">"), "{xml}");
    let r = sw.head("beta").await;
    assert_eq!(r.header("x-container-object-count"), Some("5"));
    assert_eq!(
        sw.head("").await.header("x-account-object-count"),
        Some("5")
    );

    // DELETE: 409 while not empty, 204 once empty, 404 after.
    sw.delete("beta")
        .await
        .expect_status(409, "delete non-empty container");
    sw.delete("beta/a.txt")
        .await
        .expect_status(204, "object DELETE");
    // Bulk delete: objects, a missing one, a non-empty container (409 in the report), and an
    // empty one.
    let list = [
        "/beta/d/x",
        "/beta/d/y",
        "/beta/d/sub/z",
        "/beta/e%26%3Cf%3E",
        "/beta/nope",
        "/alpha",
        "/gamma",
    ]
    .join("\n");
    sw.put("alpha/keep", b"k".to_vec())
        .await
        .expect_status(201, "object PUT");
    let r = sw
        .send(
            Method::POST,
            "?bulk-delete",
            &[
                ("accept", "application/json"),
                ("content-type", "text/plain"),
            ],
            list,
        )
        .await;
    r.expect_status(200, "bulk delete");
    let v: serde_json::Value = serde_json::from_slice(&r.body).expect("bulk delete JSON");
    assert_eq!(v["Number Deleted"], 5, "{v}");
    assert_eq!(v["Number Not Found"], 1, "{v}");
    assert_eq!(v["Errors"][0][0], "/alpha", "{v}");
    assert_eq!(v["Errors"][0][1], "409 Conflict", "{v}");
    sw.head("gamma")
        .await
        .expect_status(404, "container removed by bulk delete");
    sw.delete("beta/a.txt")
        .await
        .expect_status(404, "DELETE missing object");
    sw.delete("beta")
        .await
        .expect_status(204, "delete empty container");
    sw.delete("beta")
        .await
        .expect_status(404, "delete deleted container");
}

#[tokio::test(flavor = "multi_thread")]
async fn swift_objects_and_cross_api() {
    let cluster = Cluster::start();
    let sw = cluster.swift().await;
    let s3 = cluster.s3();
    sw.put("cross", Bytes::new())
        .await
        .expect_status(201, "container PUT");
    let data = random_bytes(1, 3 * MIB + 17);
    let md5 = md5_hex(&data);

    // PUT with a wrong ETag → 422 and nothing stored; with the right one → 201.
    sw.send(
        Method::PUT,
        "cross/o",
        &[("etag", &md5_hex(b"x"))],
        data.clone(),
    )
    .await
    .expect_status(422, "PUT with wrong ETag");
    sw.head("cross/o")
        .await
        .expect_status(404, "nothing stored after 422");
    let r = sw
        .send(
            Method::PUT,
            "cross/o",
            &[
                ("etag", &md5),
                ("content-type", "text/x-test"),
                ("x-object-meta-color", "blue"),
            ],
            data.clone(),
        )
        .await;
    r.expect_status(201, "PUT");
    assert_eq!(r.header("etag"), Some(md5.as_str()));

    let r = sw.get("cross/o").await;
    r.expect_status(200, "GET");
    assert!(r.body == data, "GET body");
    assert_eq!(r.header("content-type"), Some("text/x-test"));
    assert_eq!(r.header("x-object-meta-color"), Some("blue"));

    // Ranges: single, suffix, multi, unsatisfiable.
    let r = sw
        .send(
            Method::GET,
            "cross/o",
            &[("range", "bytes=10-19")],
            Bytes::new(),
        )
        .await;
    r.expect_status(206, "range");
    assert_eq!(&r.body[..], &data[10..20]);
    assert_eq!(
        r.header("content-range"),
        Some(format!("bytes 10-19/{}", data.len()).as_str())
    );
    let r = sw
        .send(
            Method::GET,
            "cross/o",
            &[("range", "bytes=-5")],
            Bytes::new(),
        )
        .await;
    assert_eq!(&r.body[..], &data[data.len() - 5..]);
    let r = sw
        .send(
            Method::GET,
            "cross/o",
            &[("range", "bytes=0-2,2097150-2097153")],
            Bytes::new(),
        )
        .await;
    r.expect_status(206, "multi-range");
    let ct = r.header("content-type").unwrap_or_default().to_string();
    let boundary = ct.split("boundary=").nth(1).expect("boundary").to_string();
    let body = r.body.to_vec();
    let needle = |n: &[u8]| body.windows(n.len()).any(|w| w == n);
    assert!(
        needle(&data[0..3]) && needle(&data[2097150..2097154]),
        "multi-range parts"
    );
    assert!(
        needle(format!("--{boundary}--").as_bytes()),
        "closing boundary"
    );
    assert_eq!(
        r.header("content-length").map(|l| l.parse::<usize>().ok()),
        Some(Some(body.len()))
    );
    let r = sw
        .send(
            Method::GET,
            "cross/o",
            &[("range", &format!("bytes={}-", data.len()))],
            Bytes::new(),
        )
        .await;
    r.expect_status(416, "unsatisfiable range");

    // Conditions.
    sw.send(
        Method::GET,
        "cross/o",
        &[("if-none-match", &md5)],
        Bytes::new(),
    )
    .await
    .expect_status(304, "If-None-Match");
    sw.send(
        Method::GET,
        "cross/o",
        &[("if-match", "\"nope\"")],
        Bytes::new(),
    )
    .await
    .expect_status(412, "If-Match");
    sw.send(
        Method::HEAD,
        "cross/o",
        &[("if-modified-since", "Fri, 01 Jan 2100 00:00:00 GMT")],
        Bytes::new(),
    )
    .await
    .expect_status(304, "If-Modified-Since");

    // POST replaces the metadata, keeps the data.
    sw.post(
        "cross/o",
        &[("x-object-meta-shape", "round"), ("content-type", "text/y")],
    )
    .await
    .expect_status(202, "object POST");
    let r = sw.get("cross/o").await;
    assert!(r.body == data, "data kept by POST");
    assert_eq!(r.header("x-object-meta-color"), None);
    assert_eq!(r.header("x-object-meta-shape"), Some("round"));
    assert_eq!(r.header("content-type"), Some("text/y"));

    // X-Copy-From and COPY keep the metadata and add the request's.
    sw.send(
        Method::PUT,
        "cross/copy1",
        &[("x-copy-from", "/cross/o"), ("x-object-meta-extra", "1")],
        Bytes::new(),
    )
    .await
    .expect_status(201, "X-Copy-From");
    let r = sw.get("cross/copy1").await;
    assert!(r.body == data, "copy body");
    assert_eq!(r.header("x-object-meta-shape"), Some("round"));
    assert_eq!(r.header("x-object-meta-extra"), Some("1"));
    sw.send(
        Method::from_bytes(b"COPY").expect("COPY"),
        "cross/o",
        &[("destination", "/cross/copy2")],
        Bytes::new(),
    )
    .await
    .expect_status(201, "COPY");
    assert!(sw.get("cross/copy2").await.body == data, "COPY body");

    // Framing: chunked transfer encoding accepted, no length at all → 411.
    let addr = swift_addr(&cluster);
    let path = "/v1/AUTH_dev/cross/chunked";
    let req = format!(
        "PUT {path} HTTP/1.1\r\nHost: {addr}\r\nX-Auth-Token: {}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
        sw.token
    );
    let (status, _) = raw_http(&addr, req.as_bytes());
    assert_eq!(status, 201, "chunked PUT");
    assert_eq!(sw.get("cross/chunked").await.text(), "hello world");
    let req = format!(
        "PUT /v1/AUTH_dev/cross/nolength HTTP/1.1\r\nHost: {addr}\r\nX-Auth-Token: {}\r\nConnection: close\r\n\r\n",
        sw.token
    );
    let (status, _) = raw_http(&addr, req.as_bytes());
    assert_eq!(status, 411, "PUT without length");
    let req = format!(
        "PUT /v1/AUTH_dev/cross/huge HTTP/1.1\r\nHost: {addr}\r\nX-Auth-Token: {}\r\nContent-Length: 6000000000\r\nConnection: close\r\n\r\n",
        sw.token
    );
    let (status, _) = raw_http(&addr, req.as_bytes());
    assert_eq!(status, 413, "PUT above max_file_size");
    let r = sw.get("cross/o").await;
    assert!(
        r.header("x-trans-id").is_some_and(|t| t.starts_with("tx")),
        "X-Trans-Id"
    );

    // X-Delete-After: HEAD shows the computed X-Delete-At (an hour away, so a loaded
    // machine cannot expire it first); a one-second object reads 404 once past.
    sw.send(
        Method::PUT,
        "cross/later",
        &[("x-delete-after", "3600")],
        b"soon".to_vec(),
    )
    .await
    .expect_status(201, "PUT with X-Delete-After");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let at: u64 = sw
        .head("cross/later")
        .await
        .header("x-delete-at")
        .and_then(|v| v.parse().ok())
        .expect("X-Delete-At on HEAD");
    assert!(
        at >= now + 3500 && at <= now + 3700,
        "X-Delete-At {at} is about an hour after {now}"
    );
    sw.send(
        Method::PUT,
        "cross/ephemeral",
        &[("x-delete-after", "1")],
        b"bye".to_vec(),
    )
    .await
    .expect_status(201, "PUT with X-Delete-After: 1");
    sw.send(
        Method::PUT,
        "cross/past",
        &[("x-delete-at", "1000")],
        b"x".to_vec(),
    )
    .await
    .expect_status(400, "X-Delete-At in the past");

    // Cross-API: Swift → S3 (body, metadata), S3 → Swift, listings both ways.
    let r = s3.get_object("cross", "o").await;
    r.expect_status(200, "S3 GET of a Swift object");
    assert!(r.body == data, "S3 body");
    assert_eq!(r.header("x-amz-meta-shape"), Some("round"));
    let r = s3
        .put_object_with(
            "cross",
            "from-s3",
            b"s3 data".to_vec(),
            &[("x-amz-meta-origin", "s3"), ("content-type", "text/plain")],
        )
        .await;
    r.expect_status(200, "S3 PUT");
    let r = sw.get("cross/from-s3").await;
    r.expect_status(200, "Swift GET of an S3 object");
    assert_eq!(r.text(), "s3 data");
    assert_eq!(r.header("x-object-meta-origin"), Some("s3"));
    assert_eq!(r.header("etag"), Some(md5_hex(b"s3 data").as_str()));
    let s3_keys: Vec<String> = s3
        .list_all("cross", "")
        .await
        .into_iter()
        .map(|e| e.key)
        .collect();
    let swift_keys: Vec<String> = sw
        .get("cross")
        .await
        .text()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(s3_keys, swift_keys, "S3 and Swift list the same keys");
    assert!(swift_keys.contains(&"from-s3".to_string()) && swift_keys.contains(&"o".to_string()));
    s3.create_bucket("s3bucket")
        .await
        .expect_status(200, "S3 CreateBucket");
    assert!(
        sw.get("").await.text().lines().any(|l| l == "s3bucket"),
        "S3 bucket listed by Swift"
    );
    sw.delete("cross/from-s3")
        .await
        .expect_status(204, "Swift DELETE of an S3 object");
    s3.head_object("cross", "from-s3")
        .await
        .expect_status(404, "gone for S3 too");

    // Expiry: bounded wait (the object must go within 30 s of its second).
    let mut status = 0;
    for _ in 0..60 {
        status = sw.get("cross/ephemeral").await.status.as_u16();
        if status == 404 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(status, 404, "expired object");
    sw.get("cross/later")
        .await
        .expect_status(200, "an object an hour from expiry");
}

#[tokio::test(flavor = "multi_thread")]
async fn swift_large_objects_and_acls() {
    let cluster = Cluster::start();
    let sw = cluster.swift().await;
    sw.put("big", Bytes::new())
        .await
        .expect_status(201, "container");
    sw.put("big_segments", Bytes::new())
        .await
        .expect_status(201, "segments container");
    let seg_size = 256 * 1024;
    let data = random_bytes(7, 4 * seg_size + 1000);
    let pieces: Vec<&[u8]> = data.chunks(seg_size).collect();
    let mut manifest = Vec::new();
    for (i, p) in pieces.iter().enumerate() {
        let path = format!("big_segments/f/{i:08}");
        sw.put(&path, p.to_vec())
            .await
            .expect_status(201, "segment PUT");
        manifest.push(serde_json::json!({"path": format!("/{path}"), "etag": md5_hex(p), "size_bytes": p.len()}));
    }

    // DLO: a zero-byte manifest naming the prefix; read assembled, ranges across segments.
    sw.send(
        Method::PUT,
        "big/dlo",
        &[("x-object-manifest", "big_segments/f/")],
        Bytes::new(),
    )
    .await
    .expect_status(201, "DLO manifest PUT");
    let r = sw.get("big/dlo").await;
    r.expect_status(200, "DLO GET");
    assert!(r.body == data, "DLO body");
    let r = sw
        .send(
            Method::GET,
            "big/dlo",
            &[(
                "range",
                &format!("bytes={}-{}", seg_size - 10, seg_size + 9),
            )],
            Bytes::new(),
        )
        .await;
    r.expect_status(206, "DLO range");
    assert_eq!(&r.body[..], &data[seg_size - 10..seg_size + 10]);
    assert_eq!(
        sw.head("big/dlo").await.header("content-length"),
        Some(data.len().to_string().as_str())
    );

    // SLO: wrong etag → 400; right manifest → 201; GET assembled; manifest=get; delete all.
    let mut bad = manifest.clone();
    bad[1]["etag"] = serde_json::json!("0123");
    sw.send(
        Method::PUT,
        "big/slo?multipart-manifest=put",
        &[],
        serde_json::to_vec(&bad).expect("json"),
    )
    .await
    .expect_status(400, "SLO with a wrong segment etag");
    sw.send(
        Method::PUT,
        "big/slo?multipart-manifest=put",
        &[],
        serde_json::to_vec(&manifest).expect("json"),
    )
    .await
    .expect_status(201, "SLO manifest PUT");
    let r = sw.head("big/slo").await;
    assert_eq!(r.header("x-static-large-object"), Some("True"));
    assert_eq!(
        r.header("content-length"),
        Some(data.len().to_string().as_str())
    );
    let r = sw.get("big/slo").await;
    assert!(r.body == data, "SLO body");
    let listing = sw.get("big?format=json&prefix=slo").await;
    let listed: serde_json::Value = serde_json::from_slice(&listing.body).expect("listing");
    assert_eq!(
        listed[0]["bytes"].as_u64(),
        Some(data.len() as u64),
        "an SLO is listed with its assembled size: {listed}"
    );
    let r = sw
        .send(
            Method::GET,
            "big/slo",
            &[("range", &format!("bytes={}-", 3 * seg_size - 1))],
            Bytes::new(),
        )
        .await;
    assert_eq!(&r.body[..], &data[3 * seg_size - 1..]);
    let r = sw.get("big/slo?multipart-manifest=get").await;
    let stored: serde_json::Value = serde_json::from_slice(&r.body).expect("stored manifest");
    assert_eq!(stored.as_array().map(Vec::len), Some(pieces.len()));
    sw.send(
        Method::PUT,
        "big/slocopy",
        &[("x-copy-from", "big/slo")],
        Bytes::new(),
    )
    .await
    .expect_status(201, "copy of an SLO");
    assert!(
        sw.get("big/slocopy").await.body == data,
        "SLO copied assembled"
    );
    sw.delete("big/slo?multipart-manifest=delete")
        .await
        .expect_status(200, "SLO delete");
    sw.head("big/slo").await.expect_status(404, "manifest gone");
    assert_eq!(
        sw.get("big_segments").await.status,
        204,
        "segments deleted with the SLO"
    );
    sw.get("big/dlo")
        .await
        .expect_status(200, "DLO of no segments is empty");

    // ACLs: a non-admin user, then anonymous readers.
    let out = cluster.admin(&["swift-user", "create", "dev", "bob", "--key", "bobkey"]);
    assert!(
        out.status.success(),
        "swift-user create: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bob = Swift::login(&cluster.swift_auth_url(), "dev:bob", "bobkey")
        .await
        .expect("bob login");
    let anon = sw.with_token("");
    sw.put("shared", Bytes::new())
        .await
        .expect_status(201, "container");
    sw.put("shared/doc", b"secret".to_vec())
        .await
        .expect_status(201, "object");
    bob.get("shared/doc")
        .await
        .expect_status(403, "bob without ACL");
    bob.head("").await.expect_status(403, "bob on the account");
    anon.get("shared/doc")
        .await
        .expect_status(401, "anonymous without ACL");
    sw.post(
        "shared",
        &[
            ("x-container-read", "dev:bob"),
            ("x-container-write", "dev:bob"),
        ],
    )
    .await
    .expect_status(204, "set ACLs");
    assert_eq!(
        sw.head("shared").await.header("x-container-read"),
        Some("dev:bob")
    );
    bob.get("shared/doc")
        .await
        .expect_status(200, "bob reads with ACL");
    bob.put("shared/bobs", b"mine".to_vec())
        .await
        .expect_status(201, "bob writes with ACL");
    bob.delete("shared")
        .await
        .expect_status(403, "bob cannot delete the container");
    sw.post("shared", &[("x-container-read", ".r:*")])
        .await
        .expect_status(204, "public read");
    assert_eq!(anon.get("shared/doc").await.text(), "secret");
    anon.get("shared")
        .await
        .expect_status(401, "no listing without .rlistings");
    anon.put("shared/x", b"x".to_vec())
        .await
        .expect_status(401, "anonymous write");
    sw.post("shared", &[("x-container-read", ".r:*,.rlistings")])
        .await
        .expect_status(204, "listings");
    assert_eq!(anon.get("shared").await.text(), "bobs\ndoc\n");

    // Large objects are read as their reader: a manifest in a container the caller may use
    // does not open a segment container the caller may not.
    sw.put("private", Bytes::new())
        .await
        .expect_status(201, "private container");
    sw.put("private/secret", b"top secret".to_vec())
        .await
        .expect_status(201, "private object");
    let steal = serde_json::json!([{"path": "/private/secret"}]);
    let r = bob
        .send(
            Method::PUT,
            "shared/steal?multipart-manifest=put",
            &[],
            serde_json::to_vec(&steal).expect("json"),
        )
        .await;
    r.expect_status(400, "bob's SLO naming a private segment");
    assert!(r.text().contains("403"), "segment refusal: {}", r.text());
    bob.send(
        Method::PUT,
        "shared/dlo",
        &[("x-object-manifest", "private/")],
        Bytes::new(),
    )
    .await
    .expect_status(201, "bob's DLO manifest (checked when read)");
    bob.get("shared/dlo")
        .await
        .expect_status(403, "bob's DLO over a private container");
    anon.get("shared/dlo")
        .await
        .expect_status(401, "anonymous DLO over a private container");
    sw.send(
        Method::PUT,
        "shared/adminslo?multipart-manifest=put",
        &[],
        serde_json::to_vec(&steal).expect("json"),
    )
    .await
    .expect_status(201, "the admin's SLO over a private segment");
    assert_eq!(sw.get("shared/adminslo").await.text(), "top secret");
    // A segment the reader may not read breaks the SLO for them: 409, as Swift answers.
    anon.get("shared/adminslo")
        .await
        .expect_status(409, "anonymous read of a private segment through an SLO");
    bob.get("shared/adminslo")
        .await
        .expect_status(409, "bob's read of a private segment through an SLO");
    let r = bob
        .delete("shared/adminslo?multipart-manifest=delete")
        .await;
    assert!(
        r.text().contains("403"),
        "bob cannot delete a private segment: {}",
        r.text()
    );
    sw.head("private/secret")
        .await
        .expect_status(200, "the private segment survives bob's SLO delete");
}

/// Seconds since the epoch.
fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_else(|e| panic!("clock before 1970: {e}"))
}

/// `path?temp_url_sig=SIG&temp_url_expires=EXPIRES` plus `extra` (already encoded), for a
/// client without token; `sig` is percent-encoded (base64 may hold `+`, `/`, `=`).
fn temp_url(path: &str, sig: &str, expires: &str, extra: &str) -> String {
    format!(
        "{path}?temp_url_sig={}&temp_url_expires={expires}{extra}",
        encode(sig).replace('/', "%2F")
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn swift_temp_urls() {
    let cluster = Cluster::start();
    let sw = cluster.swift().await;
    let anon = sw.with_token("");
    let data = random_bytes(11, 200_000);
    sw.put("tu", Bytes::new())
        .await
        .expect_status(201, "container");
    sw.send(
        Method::PUT,
        "tu/o",
        &[
            ("x-object-meta-color", "blue"),
            ("x-object-meta-public-tag", "shown"),
            ("content-type", "application/x-test"),
        ],
        data.clone(),
    )
    .await
    .expect_status(201, "object PUT");
    let exp = unix_now() + 600;
    let expires = exp.to_string();
    let path = "/v1/AUTH_dev/tu/o";
    let get_sig = |digest: &str, key: &str| temp_url_sig(digest, key, "GET", exp, path, None);

    // No key set yet: nothing validates.
    anon.get(&temp_url("tu/o", &get_sig("sha256", "K1"), &expires, ""))
        .await
        .expect_status(401, "TempURL before any key is set");

    // Account key, set through account metadata; only the owner sees it.
    sw.post("", &[("x-account-meta-temp-url-key", "K1")])
        .await
        .expect_status(204, "set the account key");
    assert_eq!(
        sw.head("").await.header("x-account-meta-temp-url-key"),
        Some("K1")
    );

    // GET without a token, each digest; object metadata hidden but the public ones; the
    // answer is an attachment named after the object, with Expires.
    for digest in ["sha1", "sha256", "sha512"] {
        let sig = get_sig(digest, "K1");
        let r = anon.get(&temp_url("tu/o", &sig, &expires, "")).await;
        r.expect_status(200, &format!("TempURL GET ({digest})"));
        assert!(r.body == data, "TempURL body ({digest})");
        assert_eq!(r.header("content-type"), Some("application/x-test"));
        assert_eq!(r.header("x-object-meta-color"), None, "private metadata");
        assert_eq!(r.header("x-object-meta-public-tag"), Some("shown"));
        assert_eq!(
            r.header("content-disposition"),
            Some("attachment; filename=\"o\"; filename*=UTF-8''o")
        );
        assert!(r.header("expires").is_some_and(|e| e.ends_with(" GMT")));
    }
    let sig1 = get_sig("sha1", "K1");
    assert_eq!(sig1.len(), 40);
    let sig256 = get_sig("sha256", "K1");
    assert_eq!(sig256.len(), 64);

    // Expires as ISO 8601 in the URL (the signature still covers the seconds).
    let iso = time_iso8601(exp);
    anon.get(&temp_url("tu/o", &sig256, &iso, ""))
        .await
        .expect_status(200, "TempURL GET with ISO 8601 expiry");

    // HEAD with a GET signature; the token is not needed.
    let r = anon.head(&temp_url("tu/o", &sig256, &expires, "")).await;
    r.expect_status(200, "TempURL HEAD with a GET signature");
    assert_eq!(
        r.header("content-length"),
        Some(data.len().to_string().as_str())
    );

    // Tampered, expired, wrong method, other object, unknown digest: 401 with Swift's body.
    let mut tampered = sig256.clone().into_bytes();
    tampered[10] = if tampered[10] == b'0' { b'1' } else { b'0' };
    let tampered = String::from_utf8(tampered).unwrap_or_else(|e| panic!("{e}"));
    let r = anon.get(&temp_url("tu/o", &tampered, &expires, "")).await;
    r.expect_status(401, "tampered signature");
    assert_eq!(r.text(), "401 Unauthorized: Temp URL invalid\n");
    let past = unix_now() - 10;
    let expired = temp_url_sig("sha256", "K1", "GET", past, path, None);
    let refused = [
        (
            Method::GET,
            temp_url("tu/o", &expired, &past.to_string(), ""),
            "expired TempURL",
        ),
        (
            Method::GET,
            temp_url("tu/o", &sig256, &(exp + 1).to_string(), ""),
            "expiry changed after signing",
        ),
        (
            Method::PUT,
            temp_url("tu/o", &sig256, &expires, ""),
            "PUT with a GET signature",
        ),
        (
            Method::DELETE,
            temp_url("tu/o", &sig256, &expires, ""),
            "DELETE with a GET signature",
        ),
        (
            Method::GET,
            temp_url("tu/o2", &sig256, &expires, ""),
            "GET signature on another object",
        ),
        (
            Method::GET,
            format!("tu/o?temp_url_sig=md5:AAAA&temp_url_expires={expires}"),
            "unknown digest",
        ),
        (
            Method::GET,
            format!("tu/o?temp_url_sig={sig256}"),
            "no expiry",
        ),
        (
            Method::GET,
            temp_url("tu", &sig256, &expires, ""),
            "TempURL on a container",
        ),
    ];
    for (method, url, what) in refused {
        anon.send(method, &url, &[], Bytes::new())
            .await
            .expect_status(401, what);
    }
    assert_eq!(
        sw.get("tu/o").await.header("x-object-meta-color"),
        Some("blue"),
        "the owner still sees everything"
    );

    // PUT with a PUT signature, read back with the token; X-Object-Manifest refused.
    let up = "/v1/AUTH_dev/tu/my file.txt";
    let put_sig = temp_url_sig("sha256", "K1", "PUT", exp, up, None);
    let r = anon
        .send(
            Method::PUT,
            &temp_url("tu/my%20file.txt", &put_sig, &expires, ""),
            &[("x-object-meta-by", "tempurl")],
            b"uploaded via tempurl".to_vec(),
        )
        .await;
    r.expect_status(201, "TempURL PUT");
    let r = sw.get("tu/my%20file.txt").await;
    r.expect_status(200, "read back the TempURL upload");
    assert_eq!(r.text(), "uploaded via tempurl");
    assert_eq!(r.header("x-object-meta-by"), Some("tempurl"));
    let r = anon
        .send(
            Method::PUT,
            &temp_url("tu/my%20file.txt", &put_sig, &expires, ""),
            &[("x-object-manifest", "tu/o")],
            Bytes::new(),
        )
        .await;
    r.expect_status(400, "TempURL PUT with X-Object-Manifest");
    assert_eq!(
        r.text(),
        "The header 'X-Object-Manifest' is not allowed in this tempurl"
    );
    anon.head(&temp_url("tu/my%20file.txt", &put_sig, &expires, ""))
        .await
        .expect_status(200, "HEAD with a PUT signature");

    // DELETE signature; a valid signature on a missing object gets 404.
    let del = "/v1/AUTH_dev/tu/my file.txt";
    let del_sig = temp_url_sig("sha1", "K1", "DELETE", exp, del, None);
    anon.delete(&temp_url("tu/my%20file.txt", &del_sig, &expires, ""))
        .await
        .expect_status(204, "TempURL DELETE");
    anon.delete(&temp_url("tu/my%20file.txt", &del_sig, &expires, ""))
        .await
        .expect_status(404, "TempURL DELETE of a missing object");
    sw.head("tu/my%20file.txt")
        .await
        .expect_status(404, "deleted through the TempURL");

    // filename= and inline.
    let r = anon
        .get(&temp_url(
            "tu/o",
            &sig256,
            &expires,
            "&filename=My%20Report.pdf",
        ))
        .await;
    assert_eq!(
        r.header("content-disposition"),
        Some("attachment; filename=\"My Report.pdf\"; filename*=UTF-8''My%20Report.pdf")
    );
    let r = anon
        .get(&temp_url("tu/o", &sig256, &expires, "&inline"))
        .await;
    assert_eq!(r.header("content-disposition"), Some("inline"));
    let r = anon
        .get(&temp_url(
            "tu/o",
            &sig256,
            &expires,
            "&inline&filename=a.bin",
        ))
        .await;
    assert_eq!(
        r.header("content-disposition"),
        Some("inline; filename=\"a.bin\"; filename*=UTF-8''a.bin")
    );

    // Prefix-based: one signature for every object under the prefix.
    for k in ["dir/a", "dir/sub/b"] {
        sw.put(&format!("tu/{k}"), k.as_bytes().to_vec())
            .await
            .expect_status(201, "object PUT");
    }
    let pre = temp_url_sig(
        "sha256",
        "K1",
        "GET",
        exp,
        "prefix:/v1/AUTH_dev/tu/dir/",
        None,
    );
    for k in ["dir/a", "dir/sub/b"] {
        let r = anon
            .get(&temp_url(
                &format!("tu/{k}"),
                &pre,
                &expires,
                "&temp_url_prefix=dir/",
            ))
            .await;
        r.expect_status(200, "prefix-based TempURL");
        assert_eq!(r.text(), k);
    }
    anon.get(&temp_url("tu/o", &pre, &expires, "&temp_url_prefix=dir/"))
        .await
        .expect_status(401, "object outside the prefix");
    anon.get(&temp_url("tu/dir/a", &pre, &expires, ""))
        .await
        .expect_status(401, "prefix signature without temp_url_prefix");

    // IP range: signed into the text; the client (loopback) must be inside.
    let ip_sig = temp_url_sig("sha256", "K1", "GET", exp, path, Some("127.0.0.0/8"));
    anon.get(&temp_url(
        "tu/o",
        &ip_sig,
        &expires,
        "&temp_url_ip_range=127.0.0.0/8",
    ))
    .await
    .expect_status(200, "TempURL from inside its IP range");
    let ip_sig = temp_url_sig("sha256", "K1", "GET", exp, path, Some("10.0.0.0/8"));
    anon.get(&temp_url(
        "tu/o",
        &ip_sig,
        &expires,
        "&temp_url_ip_range=10.0.0.0/8",
    ))
    .await
    .expect_status(401, "TempURL from outside its IP range");

    // Second key, then rotation: removing a key invalidates its URLs at once.
    sw.post("", &[("x-account-meta-temp-url-key-2", "K2")])
        .await
        .expect_status(204, "set the second account key");
    anon.get(&temp_url("tu/o", &get_sig("sha256", "K2"), &expires, ""))
        .await
        .expect_status(200, "TempURL signed with the second key");
    sw.post("", &[("x-remove-account-meta-temp-url-key", "x")])
        .await
        .expect_status(204, "remove the first key");
    anon.get(&temp_url("tu/o", &sig256, &expires, ""))
        .await
        .expect_status(401, "TempURL of a removed key");

    // Container key: valid for its container only; hidden from non-owners.
    sw.send(
        Method::PUT,
        "tc",
        &[
            ("x-container-meta-temp-url-key", "CK"),
            ("x-container-meta-note", "n"),
            ("x-container-read", "dev:bob"),
        ],
        Bytes::new(),
    )
    .await
    .expect_status(201, "container with a key");
    sw.put("tc/doc", b"container doc".to_vec())
        .await
        .expect_status(201, "object PUT");
    let doc = "/v1/AUTH_dev/tc/doc";
    let ck = temp_url_sig("sha512", "CK", "GET", exp, doc, None);
    let r = anon.get(&temp_url("tc/doc", &ck, &expires, "")).await;
    r.expect_status(200, "TempURL signed with the container key");
    assert_eq!(r.text(), "container doc");
    let ck_other = temp_url_sig("sha256", "CK", "GET", exp, path, None);
    anon.get(&temp_url("tu/o", &ck_other, &expires, ""))
        .await
        .expect_status(401, "container key on another container");
    // A container-scoped PUT cannot copy from outside its container; an account key can.
    let copy_path = "/v1/AUTH_dev/tc/copy";
    let ck_put = temp_url_sig("sha256", "CK", "PUT", exp, copy_path, None);
    anon.send(
        Method::PUT,
        &temp_url("tc/copy", &ck_put, &expires, ""),
        &[("x-copy-from", "/tu/o")],
        Bytes::new(),
    )
    .await
    .expect_status(401, "container-scoped copy from another container");
    anon.send(
        Method::PUT,
        &temp_url("tc/copy", &ck_put, &expires, ""),
        &[("x-copy-from", "/tc/doc")],
        Bytes::new(),
    )
    .await
    .expect_status(201, "container-scoped copy inside the container");
    let acct_put = temp_url_sig("sha256", "K2", "PUT", exp, copy_path, None);
    anon.send(
        Method::PUT,
        &temp_url("tc/copy", &acct_put, &expires, ""),
        &[("x-copy-from", "/tu/o")],
        Bytes::new(),
    )
    .await
    .expect_status(201, "account-scoped copy");
    assert!(
        sw.get("tc/copy").await.body == data,
        "copied through a TempURL"
    );

    let r = sw.head("tc").await;
    assert_eq!(r.header("x-container-meta-temp-url-key"), Some("CK"));
    let out = cluster.admin(&["swift-user", "create", "dev", "bob", "--key", "bobkey"]);
    assert!(
        out.status.success(),
        "swift-user create: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bob = Swift::login(&cluster.swift_auth_url(), "dev:bob", "bobkey")
        .await
        .expect("bob login");
    let r = bob.head("tc").await;
    r.expect_status(204, "bob reads the container");
    assert_eq!(r.header("x-container-meta-note"), Some("n"));
    assert_eq!(
        r.header("x-container-meta-temp-url-key"),
        None,
        "container key hidden from a non-owner"
    );
    bob.head("")
        .await
        .expect_status(403, "bob cannot see the account keys");
}

/// `2026-01-01T00:00:00Z` for unix seconds `t`.
fn time_iso8601(t: i64) -> String {
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| d.format(&fmt).ok())
        .unwrap_or_else(|| panic!("no ISO 8601 form for {t}"))
}
