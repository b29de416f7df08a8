//! Quotas and admin deletes (issue 18, item 4), through a real `spread dev` cluster:
//!
//! - a bucket quota set with `spread admin quota set` refuses the S3 PUT and the multipart
//!   completion that would pass it with 403 `QuotaExceeded` and a message saying which limit,
//!   leaves nothing of the refused write visible, and lets deletes make room;
//! - an account quota refuses a Swift PUT with 413, across the account's containers;
//! - `spread admin bucket list` and `quota get` show usage against the limits;
//! - deleting an access key stops S3 requests signed with it (once the gateway's credential
//!   cache lets go), deleting a Swift user stops its logins, and an account is deleted only
//!   once it owns no bucket.
//!
//! Needs the `spread` binary: `cargo build --release` first, or set `SPREAD_BIN`.

use std::time::{Duration, Instant};

use conformance::cluster::{Cluster, DevOptions};
use conformance::s3::{Request, S3};
use conformance::swift::Swift;
use http::Method;

const KIB: usize = 1024;

fn body(n: usize, seed: u8) -> Vec<u8> {
    (0..n).map(|i| (i as u8).wrapping_mul(31) ^ seed).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_stop_at_quotas_and_deletes_make_room() {
    let cluster = Cluster::start_with(DevOptions {
        chunkd: 1,
        replicas: 1,
        ..DevOptions::default()
    });
    let s3 = cluster.s3();
    let account = "dev";
    s3.create_bucket("quota-b")
        .await
        .expect_status(200, "create bucket");
    cluster.admin_ok(&[
        "quota",
        "set",
        account,
        "--bucket",
        "quota-b",
        "--max-bytes",
        "300K",
    ]);

    // 200 KiB fits; 200 KiB more does not.
    s3.put_object("quota-b", "one", body(200 * KIB, 1))
        .await
        .expect_status(200, "first PUT under the quota");
    let refused = s3.put_object("quota-b", "two", body(200 * KIB, 2)).await;
    refused.expect_error(403, "QuotaExceeded", "PUT past the bucket quota");
    let text = refused.text();
    assert!(
        text.contains("<Message>") && text.contains("bucket quota-b would hold 409600 bytes"),
        "the error says which limit: {text}"
    );
    s3.get_object("quota-b", "two").await.expect_error(
        404,
        "NoSuchKey",
        "the refused object is not visible",
    );

    // A multipart upload is checked when it completes.
    let (created, upload) = s3.create_multipart_upload("quota-b", "mp", &[]).await;
    let upload = upload.unwrap_or_else(|| panic!("no UploadId: {}", created.text()));
    let part = s3
        .upload_part("quota-b", "mp", &upload, 1, body(200 * KIB, 3))
        .await;
    part.expect_status(200, "upload a part (parts count once completed)");
    let etag = part.etag().expect("part ETag").to_string();
    s3.complete_multipart_upload("quota-b", "mp", &upload, &[(1, etag)])
        .await
        .expect_error(403, "QuotaExceeded", "completing past the bucket quota");
    s3.get_object("quota-b", "mp").await.expect_error(
        404,
        "NoSuchKey",
        "the refused upload is not visible",
    );

    // What the operator sees.
    let got = cluster.admin_ok(&["quota", "get", account, "--bucket", "quota-b"]);
    assert!(
        got.contains("objects: 1 of no limit") && got.contains("bytes:   204800 of 307200"),
        "{got}"
    );
    let table = cluster.admin_ok(&["bucket", "list", account]);
    let row = table
        .lines()
        .find(|l| l.starts_with("quota-b "))
        .unwrap_or_else(|| panic!("no quota-b row in {table}"));
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(&cols[1..5], &["1", "204800", "-", "307200"], "{table}");

    // A delete always works and makes room; an overwrite that shrinks is allowed.
    s3.delete_object("quota-b", "one")
        .await
        .expect_status(204, "delete under a quota");
    s3.put_object("quota-b", "two", body(200 * KIB, 2))
        .await
        .expect_status(200, "PUT after the delete made room");
    s3.put_object("quota-b", "two", body(10 * KIB, 4))
        .await
        .expect_status(200, "shrinking overwrite");

    // An account quota counts every container of the account, Swift's too.
    let sw = cluster.swift().await;
    sw.put("quota-c", Vec::new()).await;
    let used = cluster.admin_ok(&["quota", "get", account, "--json"]);
    let used: serde_json::Value = serde_json::from_str(&used).expect("quota get --json");
    let objects = used["objects"].as_u64().expect("objects");
    cluster.admin_ok(&[
        "quota",
        "set",
        account,
        "--max-objects",
        &(objects + 1).to_string(),
    ]);
    let ok = sw.put("quota-c/a", b"a".to_vec()).await;
    assert_eq!(ok.status.as_u16(), 201, "Swift PUT under the account quota");
    let over = sw.put("quota-c/b", b"b".to_vec()).await;
    assert_eq!(
        over.status.as_u16(),
        413,
        "Swift PUT past the account quota: {}",
        over.text()
    );
    s3.put_object("quota-b", "three", b"3".to_vec())
        .await
        .expect_error(403, "QuotaExceeded", "S3 PUT past the account quota");
    // Lifting the quotas lets writes through again.
    cluster.admin_ok(&["quota", "set", account]);
    cluster.admin_ok(&["quota", "set", account, "--bucket", "quota-b"]);
    let ok = sw.put("quota-c/b", b"b".to_vec()).await;
    assert_eq!(
        ok.status.as_u16(),
        201,
        "Swift PUT after the quota was removed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_keys_users_and_accounts_stop_working() {
    let cluster = Cluster::start_with(DevOptions {
        chunkd: 1,
        replicas: 1,
        ..DevOptions::default()
    });
    cluster.admin_ok(&["account", "create", "gone"]);
    cluster.admin_ok(&[
        "key",
        "create",
        "gone",
        "--access-key",
        "AKGONE",
        "--secret-key",
        "gone-secret-key",
    ]);
    cluster.admin_ok(&["swift-user", "create", "gone", "u", "--key", "swift-key"]);
    let s3: S3 = cluster.s3().with_credentials("AKGONE", "gone-secret-key");
    s3.create_bucket("gone-bucket")
        .await
        .expect_status(200, "the new key works");
    let auth = cluster.swift_auth_url();
    Swift::login(&auth, "gone:u", "swift-key")
        .await
        .expect("the new Swift user logs in");

    // Not while the account owns a bucket.
    let out = cluster.admin(&["account", "delete", "gone"]);
    assert!(!out.status.success(), "deleting an account with a bucket");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("still owns 1 container"), "{err}");

    cluster.admin_ok(&["swift-user", "delete", "gone", "u"]);
    assert!(
        Swift::login(&auth, "gone:u", "swift-key").await.is_err(),
        "a deleted Swift user cannot log in"
    );
    s3.delete_bucket("gone-bucket")
        .await
        .expect_status(204, "delete the account's bucket");
    cluster.admin_ok(&["key", "delete", "AKGONE"]);
    // Refused once the gateway's credential cache (10 s) lets go of the key.
    let started = Instant::now();
    loop {
        let r = s3.send(Request::new(Method::GET, None, None)).await;
        if r.status.as_u16() == 403 {
            r.expect_error(403, "InvalidAccessKeyId", "a deleted key");
            println!(
                "deleted key refused after {:.1} s",
                started.elapsed().as_secs_f64()
            );
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "a deleted key still works after 30 s"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    cluster.admin_ok(&["account", "delete", "gone"]);
    let list = cluster.admin_ok(&["account", "list"]);
    assert!(!list.lines().any(|l| l.starts_with("gone ")), "{list}");
    let keys = cluster.admin_ok(&["key", "list"]);
    assert!(!keys.contains("AKGONE"), "{keys}");
    // Deleting again names what is missing.
    let out = cluster.admin(&["account", "delete", "gone"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no such account"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
