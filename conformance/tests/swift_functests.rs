//! Behaviours OpenStack Swift's own functional tests (scripts/swift-functests.sh) found
//! missing, each asserted here against a real `spread dev` cluster: nested and ranged SLOs with
//! inline data (Swift's ETag rule), raw manifests, DLOs answering several ranges whole, 404 on DELETE of a missing object in a versioned container,
//! Last-Modified on container and account HEAD, ETag on 412, HTTP's three date formats,
//! Content-Type guessed from the extension, WWW-Authenticate on 401, multi-character
//! delimiters, reversed versions listings, `path=` listings with directory markers, ranges
//! with whitespace, `/v1` alone, storage policies in account listings; SLO `?part-number=`,
//! `slo_etag` in listings, `If-None-Match: *`, POST rewriting a version in place, the `?versions`
//! listing's 406 and `version_marker=null`, `PUT ?version-id=` checks, symlinks.
//!
//! Needs the `spread` binary: `cargo build --release` first, or set `SPREAD_BIN`.

use bytes::Bytes;
use conformance::cluster::Cluster;
use conformance::md5_hex;
use http::Method;

fn copy_method() -> Method {
    Method::from_bytes(b"COPY").expect("COPY")
}

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

/// SLO `?part-number=`, `slo_etag` in listings, `If-None-Match: *` on PUT, the `?versions`
/// listing's 406 and `version_marker=null`, POST rewriting a version in place, PUT
/// `?version-id=` checks, and symlinks (dynamic, static, `?symlink=get`, loops).
#[tokio::test(flavor = "multi_thread")]
async fn swift_parts_versions_and_symlinks() {
    let cluster = Cluster::start();
    let sw = cluster.swift().await;
    sw.put("pv", Bytes::new())
        .await
        .expect_status(201, "container");
    let (a, b) = (vec![b'a'; 1000], vec![b'b'; 500]);
    for (name, data) in [("a", &a), ("b", &b)] {
        sw.put(&format!("pv/seg-{name}"), data.clone())
            .await
            .expect_status(201, "segment");
    }
    let manifest = serde_json::json!([{"path": "/pv/seg-a"}, {"path": "/pv/seg-b"}]);
    sw.send(
        Method::PUT,
        "pv/slo?multipart-manifest=put",
        &[],
        serde_json::to_vec(&manifest).expect("json"),
    )
    .await
    .expect_status(201, "SLO");
    let slo_etag = format!(
        "\"{}\"",
        md5_hex(format!("{}{}", md5_hex(&a), md5_hex(&b)).as_bytes())
    );

    // Part 2: its bytes, where they lie, how many parts; HEAD the same without a body.
    let r = sw.get("pv/slo?part-number=2").await;
    r.expect_status(206, "part 2");
    assert_eq!(r.body.as_ref(), b.as_slice());
    assert_eq!(r.header("content-range"), Some("bytes 1000-1499/1500"));
    assert_eq!(r.header("x-parts-count"), Some("2"));
    assert_eq!(r.header("etag"), Some(slo_etag.as_str()));
    assert!(r.header("x-manifest-etag").is_some());
    let r = sw.head("pv/slo?part-number=1").await;
    r.expect_status(206, "HEAD part 1");
    assert_eq!(r.header("content-length"), Some("1000"));
    assert_eq!(r.header("content-range"), Some("bytes 0-999/1500"));
    let r = sw.get("pv/slo?part-number=3").await;
    r.expect_status(416, "part 3 of 2");
    assert_eq!(r.header("content-range"), Some("bytes */1500"));
    assert_eq!(
        r.body.as_ref(),
        b"The requested part number is not satisfiable"
    );
    sw.get("pv/slo?part-number=0")
        .await
        .expect_status(400, "part 0");
    sw.send(
        Method::GET,
        "pv/slo?part-number=1",
        &[("range", "bytes=0-1")],
        Bytes::new(),
    )
    .await
    .expect_status(400, "part number and Range");
    // A plain object ignores it.
    sw.get("pv/seg-b?part-number=5")
        .await
        .expect_status(200, "part number on a plain object");
    // A copy of one part.
    sw.send(
        copy_method(),
        "pv/slo?part-number=1",
        &[("destination", "pv/part1")],
        Bytes::new(),
    )
    .await
    .expect_status(201, "COPY part 1");
    assert_eq!(sw.get("pv/part1").await.body.as_ref(), a.as_slice());
    // A Range on a copy copies those bytes.
    sw.send(
        copy_method(),
        "pv/seg-a",
        &[("destination", "pv/a-range"), ("range", "bytes=10-19")],
        Bytes::new(),
    )
    .await
    .expect_status(201, "COPY with Range");
    assert_eq!(sw.get("pv/a-range").await.body.as_ref(), &a[10..20]);

    // The listing names the SLO's ETag.
    let listed = json(&sw.get("pv?format=json&prefix=slo").await.body);
    assert_eq!(listed[0]["slo_etag"], slo_etag.as_str());
    assert_eq!(listed[0]["bytes"], 1500);

    // If-None-Match: only `*`, and only when there is no object.
    let put_if = |name: &'static str, value: &'static str| {
        let sw = &sw;
        async move {
            sw.send(
                Method::PUT,
                name,
                &[("if-none-match", value)],
                Bytes::from_static(b"x"),
            )
            .await
        }
    };
    put_if("pv/new", "*").await.expect_status(201, "new object");
    put_if("pv/new", "*")
        .await
        .expect_status(412, "If-None-Match: * on an existing object");
    put_if("pv/new", "\"abc\"")
        .await
        .expect_status(400, "If-None-Match with an ETag");

    // Versions: a POST rewrites the current version in place.
    sw.send(
        Method::PUT,
        "ver",
        &[("x-versions-enabled", "true")],
        Bytes::new(),
    )
    .await
    .expect_status(201, "versioned container");
    let v1 = sw.put("ver/o", b"one".to_vec()).await;
    let v1 = v1.header("x-object-version-id").expect("v1 id").to_string();
    sw.post(
        "ver/o",
        &[
            ("content-type", "text/updated"),
            ("x-object-meta-color", "red"),
        ],
    )
    .await
    .expect_status(202, "POST");
    let listed = json(&sw.get("ver?versions&format=json").await.body);
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(listed[0]["version_id"], v1.as_str());
    assert_eq!(listed[0]["content_type"], "text/updated");
    let r = sw.head(&format!("ver/o?version-id={v1}")).await;
    assert_eq!(r.header("x-object-meta-color"), Some("red"));
    let r = sw.head("ver/o").await;
    assert!(
        r.header("content-location")
            .is_some_and(|l| l.ends_with(&format!("/ver/o?version-id={v1}")))
    );
    // The ?versions listing is JSON only; version_marker=null lists the marker's versions.
    sw.get("ver?versions&format=xml")
        .await
        .expect_status(406, "XML versions listing");
    let v2 = sw.put("ver/o", b"two".to_vec()).await;
    let v2 = v2.header("x-object-version-id").expect("v2 id").to_string();
    let listed = json(
        &sw.get("ver?versions&format=json&marker=o&version_marker=null")
            .await
            .body,
    );
    let ids: Vec<&str> = listed
        .as_array()
        .map(|l| l.iter().filter_map(|e| e["version_id"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(ids, vec![v2.as_str(), v1.as_str()]);
    // DELETE names its delete marker; PUT ?version-id= is checked.
    let r = sw.delete("ver/o").await;
    r.expect_status(204, "DELETE");
    assert!(r.header("x-object-version-id").is_some());
    let bad = |q: &'static str| {
        let sw = &sw;
        async move {
            sw.send(
                Method::PUT,
                &format!("ver/o?version-id={q}"),
                &[],
                Bytes::new(),
            )
            .await
        }
    };
    bad("null").await.expect_status(400, "version-id=null");
    bad("bad").await.expect_status(400, "malformed version id");
    bad("1234567890.12345")
        .await
        .expect_status(404, "no such version");

    // Symlinks.
    sw.put("pv/target", b"target data".to_vec())
        .await
        .expect_status(201, "target");
    sw.send(
        Method::PUT,
        "pv/link",
        &[("x-symlink-target", "pv/target")],
        Bytes::new(),
    )
    .await
    .expect_status(201, "dynamic link");
    let r = sw.get("pv/link").await;
    r.expect_status(200, "GET through the link");
    assert_eq!(r.body.as_ref(), b"target data");
    assert!(
        r.header("content-location")
            .is_some_and(|l| l.ends_with("/pv/target"))
    );
    let r = sw.head("pv/link?symlink=get").await;
    assert_eq!(r.header("x-symlink-target"), Some("pv/target"));
    assert_eq!(r.header("content-type"), Some("application/symlink"));
    assert_eq!(r.header("content-length"), Some("0"));
    // Static: the ETag must match when written and when read.
    let etag = md5_hex(b"target data");
    sw.send(
        Method::PUT,
        "pv/static",
        &[
            ("x-symlink-target", "pv/target"),
            ("x-symlink-target-etag", "nope"),
        ],
        Bytes::new(),
    )
    .await
    .expect_status(409, "static link with a wrong ETag");
    sw.send(
        Method::PUT,
        "pv/static",
        &[
            ("x-symlink-target", "pv/target"),
            ("x-symlink-target-etag", &etag),
        ],
        Bytes::new(),
    )
    .await
    .expect_status(201, "static link");
    assert_eq!(sw.get("pv/static").await.body.as_ref(), b"target data");
    sw.put("pv/target", b"changed".to_vec())
        .await
        .expect_status(201, "target overwritten");
    sw.get("pv/static")
        .await
        .expect_status(409, "static link to a changed target");
    assert_eq!(sw.get("pv/link").await.body.as_ref(), b"changed");
    // Links to links: at most two followed; a body, or a link to itself, is refused.
    for (name, to) in [("pv/l1", "pv/link"), ("pv/l2", "pv/l1")] {
        sw.send(Method::PUT, name, &[("x-symlink-target", to)], Bytes::new())
            .await
            .expect_status(201, name);
    }
    assert_eq!(sw.get("pv/l1").await.body.as_ref(), b"changed");
    sw.get("pv/l2").await.expect_status(409, "three links deep");
    sw.send(
        Method::PUT,
        "pv/l3",
        &[("x-symlink-target", "pv/target")],
        Bytes::from_static(b"data"),
    )
    .await
    .expect_status(400, "symlink with a body");
    sw.send(
        Method::PUT,
        "pv/self",
        &[("x-symlink-target", "pv/self")],
        Bytes::new(),
    )
    .await
    .expect_status(400, "symlink to itself");
    // POST to a link: 307 to its target; a copy of a link copies the target.
    let r = sw.post("pv/link", &[("x-object-meta-a", "b")]).await;
    r.expect_status(307, "POST to a link");
    assert!(
        r.header("location")
            .is_some_and(|l| l.ends_with("/pv/target"))
    );
    sw.send(
        copy_method(),
        "pv/link",
        &[("destination", "pv/copied")],
        Bytes::new(),
    )
    .await
    .expect_status(201, "COPY of a link");
    assert_eq!(sw.get("pv/copied").await.body.as_ref(), b"changed");
    // A link to a missing object reads as 404.
    sw.delete("pv/target")
        .await
        .expect_status(204, "target deleted");
    sw.get("pv/link").await.expect_status(404, "dangling link");

    // A versioned container's listing marks objects with a version id, as Swift does.
    sw.put("ver/p", b"p".to_vec())
        .await
        .expect_status(201, "ver/p");
    let listed = json(&sw.get("ver?format=json&prefix=p").await.body);
    assert_eq!(listed[0]["version_symlink"], true, "{listed}");
    assert!(
        listed[0]["symlink_path"]
            .as_str()
            .is_some_and(|p| p.contains("/ver/p?version-id="))
    );
    // path= leaves out the directory marker the path names.
    for name in ["pv/dir/", "pv/dir/x"] {
        sw.put(name, Bytes::new()).await.expect_status(201, name);
    }
    assert_eq!(sw.get("pv?path=dir").await.text(), "dir/x\n");

    // Heartbeating manifest PUT: 202 at once, spaces, then the report.
    let r = sw
        .send(
            Method::PUT,
            "pv/beat?multipart-manifest=put&heartbeat=on",
            &[("accept", "application/json")],
            serde_json::to_vec(&manifest).expect("json"),
        )
        .await;
    r.expect_status(202, "heartbeat PUT");
    let text = r.text();
    let (beats, report) = text.split_once("\r\n\r\n").expect("heartbeat separator");
    assert!(!beats.is_empty() && beats.trim().is_empty(), "{text:?}");
    let report = json(report.as_bytes());
    assert_eq!(report["Response Status"], "201 Created");
    assert_eq!(report["Etag"], slo_etag.as_str());
    let bad = serde_json::json!([{"path": "/pv/nothing-here"}]);
    let r = sw
        .send(
            Method::PUT,
            "pv/beat2?multipart-manifest=put&heartbeat=on",
            &[],
            serde_json::to_vec(&bad).expect("json"),
        )
        .await;
    r.expect_status(202, "heartbeat PUT of a bad manifest");
    assert!(
        r.text()
            .ends_with("Errors:\n/pv/nothing-here, 404 Not Found\n"),
        "{:?}",
        r.text()
    );
    sw.head("pv/beat2")
        .await
        .expect_status(404, "nothing stored");

    // Referrer ACLs: `.r:*.example.com` lets a request from such a page read.
    let anon = sw.with_token("");
    sw.post("pv", &[("x-container-read", ".r:*.example.com")])
        .await
        .expect_status(204, "referrer ACL");
    anon.send(
        Method::GET,
        "pv/seg-b",
        &[("referer", "http://www.example.com/page")],
        Bytes::new(),
    )
    .await
    .expect_status(200, "read from an allowed page");
    anon.send(
        Method::GET,
        "pv/seg-b",
        &[("referer", "http://www.example.org/")],
        Bytes::new(),
    )
    .await
    .expect_status(401, "read from another page");
}
