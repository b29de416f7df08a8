//! Swift versioning against a real `spread dev` cluster: `X-Versions-Location` (stack mode),
//! `X-History-Location` (history mode), and `X-Versions-Enabled`, which is the container's S3
//! versioning — the same versions seen through S3's ListObjectVersions and version ids.
//!
//! Needs the `spread` binary: `cargo build --release` first, or set `SPREAD_BIN`.

use bytes::Bytes;
use conformance::cluster::Cluster;
use conformance::s3::{Element, Request};
use conformance::swift::header;
use http::Method;

/// Names in a JSON container listing.
async fn names(sw: &conformance::swift::Swift, container: &str, prefix: &str) -> Vec<String> {
    let r = sw
        .get(&format!("{container}?format=json&prefix={prefix}"))
        .await;
    r.expect_status(200, "container listing");
    let v: serde_json::Value = serde_json::from_slice(&r.body).expect("JSON listing");
    v.as_array()
        .expect("listing array")
        .iter()
        .filter_map(|o| o["name"].as_str().map(str::to_string))
        .collect()
}

/// A `?versions` listing as (name, version id, is latest, bytes).
async fn versions(sw: &conformance::swift::Swift, path: &str) -> Vec<(String, String, bool, u64)> {
    let r = sw.get(path).await;
    r.expect_status(200, "versions listing");
    assert_eq!(
        header(&r.headers, "content-type"),
        Some("application/json; charset=utf-8")
    );
    let v: serde_json::Value = serde_json::from_slice(&r.body).expect("JSON versions listing");
    v.as_array()
        .expect("listing array")
        .iter()
        .map(|o| {
            (
                o["name"].as_str().unwrap_or_default().to_string(),
                o["version_id"].as_str().unwrap_or_default().to_string(),
                o["is_latest"].as_bool().unwrap_or_default(),
                o["bytes"].as_u64().unwrap_or(u64::MAX),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn swift_versioned_writes_stack_and_history() {
    let cluster = Cluster::start();
    let sw = cluster.swift().await;
    for c in ["docs", "docs-versions", "hist", "hist-archive"] {
        sw.put(c, Bytes::new())
            .await
            .expect_status(201, "container PUT");
    }
    // Both locations at once are refused; an archive that does not exist fails writes.
    sw.send(
        Method::POST,
        "docs",
        &[
            ("x-versions-location", "docs-versions"),
            ("x-history-location", "hist-archive"),
        ],
        Bytes::new(),
    )
    .await
    .expect_status(400, "both locations");
    sw.post("docs", &[("x-versions-location", "nowhere")])
        .await
        .expect_status(204, "POST versions location");
    sw.put("docs/a", "v1").await.expect_status(201, "first PUT");
    sw.put("docs/a", "v2")
        .await
        .expect_status(412, "overwrite with a missing archive container");

    // Stack mode: each overwrite archives the previous content; DELETE pops it back.
    sw.post("docs", &[("x-versions-location", "docs-versions")])
        .await
        .expect_status(204, "POST versions location");
    let h = sw.head("docs").await;
    assert_eq!(
        header(&h.headers, "x-versions-location"),
        Some("docs-versions")
    );
    sw.put("docs/a", "v2").await.expect_status(201, "PUT v2");
    sw.put("docs/a", "v3").await.expect_status(201, "PUT v3");
    let archived = names(&sw, "docs-versions", "").await;
    assert_eq!(archived.len(), 2, "{archived:?}");
    assert!(
        archived.iter().all(|n| n.starts_with("001a/")),
        "{archived:?}"
    );
    assert_eq!(sw.get("docs/a").await.body, Bytes::from("v3"));
    sw.delete("docs/a").await.expect_status(204, "DELETE v3");
    assert_eq!(
        sw.get("docs/a").await.body,
        Bytes::from("v2"),
        "v2 restored"
    );
    sw.delete("docs/a").await.expect_status(204, "DELETE v2");
    assert_eq!(
        sw.get("docs/a").await.body,
        Bytes::from("v1"),
        "v1 restored"
    );
    assert!(names(&sw, "docs-versions", "").await.is_empty());
    sw.delete("docs/a").await.expect_status(204, "DELETE v1");
    sw.get("docs/a")
        .await
        .expect_status(404, "all versions gone");
    sw.delete("docs/a")
        .await
        .expect_status(404, "nothing left to delete");

    // History mode: DELETE archives the object and a delete marker; nothing comes back.
    sw.post("hist", &[("x-history-location", "hist-archive")])
        .await
        .expect_status(204, "POST history location");
    sw.put("hist/b", "h1").await.expect_status(201, "PUT h1");
    sw.put("hist/b", "h2").await.expect_status(201, "PUT h2");
    sw.delete("hist/b")
        .await
        .expect_status(204, "DELETE in history mode");
    sw.get("hist/b").await.expect_status(404, "deleted");
    let archived = names(&sw, "hist-archive", "001b/").await;
    assert_eq!(archived.len(), 3, "{archived:?}");
    let last = sw.get(&format!("hist-archive/{}", archived[2])).await;
    assert_eq!(
        header(&last.headers, "content-type"),
        Some("application/x-deleted;swift_versions_deleted=1")
    );
    assert_eq!(
        sw.get(&format!("hist-archive/{}", archived[0])).await.body,
        Bytes::from("h1")
    );
    assert_eq!(
        sw.get(&format!("hist-archive/{}", archived[1])).await.body,
        Bytes::from("h2")
    );

    // Removing the location stops archiving.
    sw.post("hist", &[("x-remove-history-location", "1")])
        .await
        .expect_status(204, "remove history location");
    assert!(header(&sw.head("hist").await.headers, "x-history-location").is_none());
    sw.put("hist/c", "c1").await.expect_status(201, "PUT c1");
    sw.put("hist/c", "c2").await.expect_status(201, "PUT c2");
    assert!(names(&sw, "hist-archive", "001c/").await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn swift_versions_enabled_is_s3_versioning() {
    let cluster = Cluster::start();
    let sw = cluster.swift().await;
    let s3 = cluster.s3();
    sw.send(
        Method::PUT,
        "vers",
        &[("x-versions-enabled", "true")],
        Bytes::new(),
    )
    .await
    .expect_status(201, "container PUT with versioning");
    assert_eq!(
        header(&sw.head("vers").await.headers, "x-versions-enabled"),
        Some("True")
    );
    // S3 sees the container as versioned.
    let r = s3
        .send(Request::new(Method::GET, Some("vers"), None).query("versioning", ""))
        .await;
    r.expect_status(200, "GetBucketVersioning");
    assert!(
        r.text().contains("<Status>Enabled</Status>"),
        "{}",
        r.text()
    );

    let r1 = sw.put("vers/k", "one").await;
    r1.expect_status(201, "PUT one");
    let v1 = header(&r1.headers, "x-object-version-id")
        .expect("X-Object-Version-Id")
        .to_string();
    let r2 = sw.put("vers/k", "two").await;
    let v2 = header(&r2.headers, "x-object-version-id")
        .expect("X-Object-Version-Id")
        .to_string();
    assert_ne!(v1, v2);
    // Old versions by id, through Swift and S3.
    assert_eq!(
        sw.get(&format!("vers/k?version-id={v1}")).await.body,
        Bytes::from("one")
    );
    let r = s3
        .send(Request::new(Method::GET, Some("vers"), Some("k")).query("versionId", &v1))
        .await;
    r.expect_status(200, "S3 GET by version id");
    assert_eq!(r.body, Bytes::from("one"));
    // A Swift DELETE is a delete marker that S3 lists; the versions stay.
    sw.delete("vers/k").await.expect_status(204, "DELETE");
    sw.get("vers/k").await.expect_status(404, "current deleted");
    let r = s3
        .send(Request::new(Method::GET, Some("vers"), None).query("versions", ""))
        .await;
    r.expect_status(200, "ListObjectVersions");
    let doc = Element::parse(&r.text()).expect("ListVersionsResult XML");
    let ids: Vec<&str> = doc
        .all("Version")
        .filter_map(|v| v.child_text("VersionId"))
        .collect();
    assert_eq!(ids, vec![v2.as_str(), v1.as_str()]);
    assert_eq!(doc.all("DeleteMarker").count(), 1);
    // The same versions through Swift's `?versions` listing (JSON only: 406 for another
    // format, as Swift answers).
    sw.put("vers/j", "jay").await.expect_status(201, "PUT j");
    sw.get("vers?versions&format=plain")
        .await
        .expect_status(406, "plain versions listing");
    let listed = versions(&sw, "vers?versions&format=json").await;
    let shape: Vec<(&str, bool, u64)> = listed
        .iter()
        .map(|(n, _, latest, bytes)| (n.as_str(), *latest, *bytes))
        .collect();
    assert_eq!(
        shape,
        [
            ("j", true, 3),
            ("k", true, 0),
            ("k", false, 3),
            ("k", false, 3)
        ]
    );
    assert_eq!((&listed[2].1, &listed[3].1), (&v2, &v1));
    assert!(!listed[1].1.is_empty() && listed[1].1 != v2, "{listed:?}");
    let r = sw.get("vers?versions&format=json&prefix=k").await;
    let v: serde_json::Value = serde_json::from_slice(&r.body).expect("JSON versions");
    assert_eq!(
        v[0]["content_type"], "application/x-deleted;swift_versions_deleted=1",
        "delete marker: {v}"
    );
    let etag = sw.head(&format!("vers/k?version-id={v2}")).await;
    assert_eq!(v[1]["hash"].as_str(), header(&etag.headers, "etag"), "{v}");
    // Pages: `marker` + `version_marker` go on after that version; `limit` cuts.
    let page = versions(
        &sw,
        &format!("vers?versions&limit=2&marker=k&version_marker={v2}"),
    )
    .await;
    assert_eq!(page, vec![("k".to_string(), v1.clone(), false, 3)]);
    let page = versions(&sw, "vers?versions&limit=2").await;
    assert_eq!(page.len(), 2);
    assert_eq!(page[0].0, "j");
    let page = versions(&sw, "vers?versions&marker=j").await;
    assert_eq!(page.len(), 3, "{page:?}");
    let page = versions(&sw, "vers?versions&end_marker=k").await;
    assert_eq!(page.len(), 1, "{page:?}");
    sw.get("vers?versions&version_marker=x")
        .await
        .expect_status(400, "version_marker without marker");
    // `reverse`: the whole listing turned around (names last to first, oldest version first).
    let forward = versions(&sw, "vers?versions").await;
    let mut backward = versions(&sw, "vers?versions&reverse=true").await;
    backward.reverse();
    assert_eq!(backward, forward, "reverse versions listing");
    // Deleting a version by id through Swift.
    sw.delete(&format!("vers/k?version-id={v2}"))
        .await
        .expect_status(204, "DELETE by version id");
    sw.get(&format!("vers/k?version-id={v2}"))
        .await
        .expect_status(404, "deleted version");
    // Suspending through Swift.
    sw.post("vers", &[("x-versions-enabled", "false")])
        .await
        .expect_status(204, "suspend");
    assert_eq!(
        header(&sw.head("vers").await.headers, "x-versions-enabled"),
        Some("False")
    );
}
