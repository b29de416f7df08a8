//! Behaviours OpenStack Swift's own functional tests (scripts/swift-functests.sh) found
//! missing, each asserted here against a real `spread dev` cluster: nested and ranged SLOs with
//! inline data (Swift's ETag rule), raw manifests, DLOs answering several ranges whole, 404 on DELETE of a missing object in a versioned container,
//! Last-Modified on container and account HEAD, ETag on 412, HTTP's three date formats,
//! Content-Type guessed from the extension, WWW-Authenticate on 401, multi-character
//! delimiters, reversed versions listings, `path=` listings with directory markers, ranges
//! with whitespace, `/v1` alone, storage policies in account listings.
//!
//! Needs the `spread` binary: `cargo build --release` first, or set `SPREAD_BIN`.

use bytes::Bytes;
use conformance::cluster::Cluster;
use conformance::md5_hex;
use http::Method;

fn json(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body).expect("JSON body")
}

#[tokio::test(flavor = "multi_thread")]
async fn swift_nested_ranged_and_inline_slo_manifests() {
    let cluster = Cluster::start();
    let sw = cluster.swift().await;
    sw.put("nest", Bytes::new())
        .await
        .expect_status(201, "container");
    let (a, b, c) = (vec![b'a'; 1000], vec![b'b'; 1000], vec![b'c'; 10]);
    for (name, data) in [("a", &a), ("b", &b), ("c", &c)] {
        sw.put(&format!("nest/seg-{name}"), data.clone())
            .await
            .expect_status(201, "segment");
    }
    // inner = a + b; its ETag is the MD5 of the segments' ETags.
    let inner = serde_json::json!([
        {"path": "/nest/seg-a", "etag": md5_hex(&a), "size_bytes": 1000},
        {"path": "/nest/seg-b"},
    ]);
    sw.send(
        Method::PUT,
        "nest/inner?multipart-manifest=put",
        &[],
        serde_json::to_vec(&inner).expect("json"),
    )
    .await
    .expect_status(201, "inner SLO");
    let inner_etag = md5_hex(format!("{}{}", md5_hex(&a), md5_hex(&b)).as_bytes());
    let r = sw.head("nest/inner").await;
    assert_eq!(r.header("etag"), Some(format!("\"{inner_etag}\"").as_str()));

    // outer = "PRE" (inline) + inner[990..1010] (a sub-SLO, ranged) + c, with a last range.
    let outer = serde_json::json!([
        {"data": "UFJF"},
        {"path": "/nest/inner", "etag": inner_etag, "size_bytes": 2000, "range": "990-1009"},
        {"path": "/nest/seg-c", "range": "-4"},
    ]);
    sw.send(
        Method::PUT,
        "nest/outer?multipart-manifest=put",
        &[],
        serde_json::to_vec(&outer).expect("json"),
    )
    .await
    .expect_status(201, "outer SLO naming an SLO, a range and inline data");
    let mut want = b"PRE".to_vec();
    want.extend_from_slice(&a[990..]);
    want.extend_from_slice(&b[..10]);
    want.extend_from_slice(&c[6..]);
    let r = sw.get("nest/outer").await;
    r.expect_status(200, "outer GET");
    assert_eq!(r.body.as_ref(), want.as_slice(), "assembled outer SLO");
    let outer_etag = md5_hex(
        format!(
            "{}{inner_etag}:990-1009;{}:6-9;",
            md5_hex(b"PRE"),
            md5_hex(&c)
        )
        .as_bytes(),
    );
    assert_eq!(r.header("etag"), Some(format!("\"{outer_etag}\"").as_str()));
    let r = sw.head("nest/outer").await;
    assert_eq!(
        r.header("content-length"),
        Some(want.len().to_string().as_str())
    );
    let r = sw
        .send(
            Method::GET,
            "nest/outer",
            &[("range", "bytes=2-5")],
            Bytes::new(),
        )
        .await;
    r.expect_status(206, "range across inline data and a nested SLO");
    assert_eq!(r.body.as_ref(), &want[2..6]);

    // The manifest itself is JSON, and records the nesting.
    let r = sw.get("nest/outer?multipart-manifest=get").await;
    assert_eq!(
        r.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    let m = json(&r.body);
    assert_eq!(m[1]["sub_slo"], serde_json::json!(true));
    assert_eq!(m[1]["range"], serde_json::json!("990-1009"));
    assert_eq!(m[2]["range"], serde_json::json!("6-9"));

    // format=raw: the manifest as a client PUTs it, its ETag the MD5 of that body.
    let r = sw.get("nest/outer?multipart-manifest=get&format=raw").await;
    r.expect_status(200, "raw manifest");
    assert_eq!(r.header("etag"), Some(md5_hex(&r.body).as_str()));
    let raw = json(&r.body);
    assert_eq!(raw[0], serde_json::json!({"data": "UFJF"}));
    assert_eq!(
        raw[1],
        serde_json::json!({"path": "/nest/inner", "etag": inner_etag, "size_bytes": 2000,
                           "range": "990-1009"})
    );

    // A DLO answers several ranges with the whole object (200), one range with 206.
    sw.send(
        Method::PUT,
        "nest/dlo",
        &[("x-object-manifest", "nest/seg-")],
        Bytes::new(),
    )
    .await
    .expect_status(201, "DLO manifest");
    let r = sw
        .send(
            Method::GET,
            "nest/dlo",
            &[("range", "bytes=0-4,10-14")],
            Bytes::new(),
        )
        .await;
    r.expect_status(200, "DLO with two ranges");
    assert_eq!(r.body.len(), 2010);
    sw.delete("nest/dlo")
        .await
        .expect_status(204, "DLO manifest delete");

    // A range no segment can satisfy, and a manifest of inline data only: 400.
    let bad = serde_json::json!([{"path": "/nest/seg-c", "range": "20-30"}]);
    sw.send(
        Method::PUT,
        "nest/bad?multipart-manifest=put",
        &[],
        serde_json::to_vec(&bad).expect("json"),
    )
    .await
    .expect_status(400, "unsatisfiable segment range");
    let bad = serde_json::json!([{"data": "UFJF"}]);
    sw.send(
        Method::PUT,
        "nest/bad?multipart-manifest=put",
        &[],
        serde_json::to_vec(&bad).expect("json"),
    )
    .await
    .expect_status(400, "inline data only");

    // Deleting the outer manifest deletes the nested one's segments too.
    sw.send(
        Method::DELETE,
        "nest/outer?multipart-manifest=delete",
        &[],
        Bytes::new(),
    )
    .await
    .expect_status(200, "multipart-manifest=delete");
    for name in ["outer", "inner", "seg-a", "seg-b", "seg-c"] {
        sw.head(&format!("nest/{name}"))
            .await
            .expect_status(404, "deleted with the manifest");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn swift_answers_as_swift_functional_tests_expect() {
    let cluster = Cluster::start();
    let sw = cluster.swift().await;
    sw.put("ft", Bytes::new())
        .await
        .expect_status(201, "container");

    // Last-Modified on container and account HEAD; storage policy in account listings.
    let r = sw.head("ft").await;
    assert!(
        r.header("last-modified")
            .is_some_and(|v| v.ends_with(" GMT"))
    );
    assert!(sw.head("").await.header("last-modified").is_some());
    let listed = json(&sw.get("?format=json").await.body);
    let entry = listed
        .as_array()
        .and_then(|l| l.iter().find(|c| c["name"] == "ft"))
        .expect("ft listed");
    assert!(
        entry["storage_policy"]
            .as_str()
            .is_some_and(|p| !p.is_empty())
    );
    let xml = sw.get("?format=xml").await;
    assert!(String::from_utf8_lossy(&xml.body).contains("<storage_policy>"));

    // Content-Type from the extension when none is sent.
    sw.put("ft/sound.wav", Bytes::new())
        .await
        .expect_status(201, "PUT without Content-Type");
    assert_eq!(
        sw.head("ft/sound.wav").await.header("content-type"),
        Some("audio/x-wav")
    );
    sw.put("ft/data.bin.zip", Bytes::new())
        .await
        .expect_status(201, "zip");
    assert_eq!(
        sw.head("ft/data.bin.zip").await.header("content-type"),
        Some("application/zip")
    );

    // 412 carries the ETag; If-Unmodified-Since in RFC 850 and asctime forms.
    let body = b"0123456789".to_vec();
    sw.put("ft/obj", body.clone())
        .await
        .expect_status(201, "object");
    let etag = md5_hex(&body);
    let r = sw
        .send(
            Method::GET,
            "ft/obj",
            &[("if-match", "bogus")],
            Bytes::new(),
        )
        .await;
    r.expect_status(412, "If-Match bogus");
    assert_eq!(r.header("etag"), Some(etag.as_str()));
    for old in ["Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994"] {
        sw.send(
            Method::GET,
            "ft/obj",
            &[("if-unmodified-since", old)],
            Bytes::new(),
        )
        .await
        .expect_status(412, old);
    }
    sw.send(
        Method::GET,
        "ft/obj",
        &[
            ("if-match", &etag),
            ("if-unmodified-since", "Sun, 06 Nov 1994 08:49:37 GMT"),
        ],
        Bytes::new(),
    )
    .await
    .expect_status(412, "If-Match matches but If-Unmodified-Since does not");
    let r = sw
        .send(
            Method::GET,
            "ft/obj",
            &[("if-none-match", &etag)],
            Bytes::new(),
        )
        .await;
    r.expect_status(304, "If-None-Match");
    assert_eq!(r.header("etag"), Some(etag.as_str()));

    // Whitespace and case in a Range header.
    let r = sw
        .send(
            Method::GET,
            "ft/obj",
            &[("range", "BYTES = 2 - 4")],
            Bytes::new(),
        )
        .await;
    r.expect_status(206, "range with whitespace");
    assert_eq!(r.body.as_ref(), b"234");

    // 401 names the realm; /v1 alone is a bad URL.
    let anon = sw.with_token("");
    let r = anon.head("").await;
    r.expect_status(401, "no token");
    let account_seg = sw
        .storage_url
        .rsplit('/')
        .next()
        .expect("account segment")
        .to_string();
    assert_eq!(
        r.header("www-authenticate"),
        Some(format!("Swift realm=\"{account_seg}\"").as_str())
    );
    let base = sw.storage_url.rsplit_once('/').expect("storage URL").0;
    let r = conformance::swift::send_raw(
        &hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http(),
        Method::GET,
        base,
        &[("x-auth-token", &sw.token)],
        Bytes::new(),
    )
    .await
    .expect("GET /v1");
    r.expect_status(412, "/v1 alone");
    assert_eq!(r.body.as_ref(), b"Bad URL");

    // Multi-character delimiters; `path=` lists directory markers as objects.
    sw.put("ftl", Bytes::new())
        .await
        .expect_status(201, "listing container");
    for name in ["a--b", "a--c", "d", "dir/", "dir/x", "dir/sub/y"] {
        sw.put(&format!("ftl/{name}"), Bytes::new())
            .await
            .expect_status(201, name);
    }
    let r = sw.get("ftl?delimiter=--").await;
    r.expect_status(200, "multi-character delimiter");
    assert_eq!(
        String::from_utf8_lossy(&r.body),
        "a--\nd\ndir/\ndir/sub/y\ndir/x\n"
    );
    let r = sw.get("ftl?path=dir").await;
    let text = String::from_utf8_lossy(&r.body);
    assert!(text.lines().any(|l| l == "dir/x"), "{text}");
    assert!(!text.contains("sub"), "{text}");
    let r = sw.get("ftl?path=").await;
    assert_eq!(String::from_utf8_lossy(&r.body), "a--b\na--c\nd\ndir/\n");

    // Versioned container: DELETE of a missing object is 404 (a marker is still written);
    // a reversed versions listing gives the oldest version first.
    sw.send(
        Method::PUT,
        "ftv",
        &[("x-versions-enabled", "true")],
        Bytes::new(),
    )
    .await
    .expect_status(201, "versioned container");
    sw.delete("ftv/missing")
        .await
        .expect_status(404, "DELETE of a missing object");
    sw.put("ftv/o", b"one".to_vec())
        .await
        .expect_status(201, "v1");
    sw.put("ftv/o", b"two".to_vec())
        .await
        .expect_status(201, "v2");
    sw.delete("ftv/o")
        .await
        .expect_status(204, "DELETE of an object");
    sw.delete("ftv/o")
        .await
        .expect_status(404, "DELETE when only a marker is left");
    let list = json(
        &sw.get("ftv?versions&format=json&prefix=o&reverse=true")
            .await
            .body,
    );
    let hashes: Vec<&str> = list
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|v| v["hash"].as_str())
        .collect();
    assert_eq!(hashes.len(), 4, "{list}");
    assert_eq!(hashes[0], md5_hex(b"one"));
    assert_eq!(hashes[1], md5_hex(b"two"));
}
