//! Virtual-hosted-style S3 addressing: a `spread dev --s3-domain s3.example.local` cluster
//! serves `Host: bucket.s3.example.local:PORT` requests (sent to its loopback address) as
//! requests on `bucket`, and path-style requests as before.
//!
//! Needs the `spread` binary: `cargo build --release` first, or set `SPREAD_BIN`.

use conformance::cluster::{Cluster, DevOptions};
use conformance::s3::Request;
use http::Method;

const DOMAIN: &str = "s3.example.local";

#[tokio::test]
async fn buckets_are_addressed_by_host_and_by_path() {
    let cluster = Cluster::start_with(DevOptions {
        s3_domain: Some(DOMAIN.to_string()),
        ..DevOptions::default()
    });
    let path = cluster.s3();
    let vhost = path.with_virtual_host(DOMAIN);

    // Created through the host name, seen through the path, and the other way round.
    vhost
        .create_bucket("vhost-bucket")
        .await
        .expect_status(200, "CreateBucket by host");
    path.head_bucket("vhost-bucket")
        .await
        .expect_status(200, "HeadBucket by path");
    vhost
        .put_object("vhost-bucket", "dir/a b.txt", "by host")
        .await
        .expect_status(200, "PutObject by host");
    path.put_object("vhost-bucket", "dir/c.txt", "by path")
        .await
        .expect_status(200, "PutObject by path");
    let got = path.get_object("vhost-bucket", "dir/a b.txt").await;
    got.expect_status(200, "GetObject by path");
    assert_eq!(got.text(), "by host");
    let got = vhost.get_object("vhost-bucket", "dir/c.txt").await;
    got.expect_status(200, "GetObject by host");
    assert_eq!(got.text(), "by path");

    // The bucket root by host is the bucket (a listing), not the service.
    let (resp, page) = vhost
        .list_page("vhost-bucket", "dir/", None, None, None)
        .await;
    resp.expect_status(200, "ListObjectsV2 by host");
    let keys: Vec<_> = page
        .expect("a listing")
        .contents
        .into_iter()
        .map(|e| e.key)
        .collect();
    assert_eq!(keys, ["dir/a b.txt", "dir/c.txt"]);

    // A missing bucket by host is NoSuchBucket; a request without a bucket (sent with the
    // loopback address as Host) is still the service.
    vhost
        .send(Request::new(
            Method::GET,
            Some("no-such-vhost-bucket"),
            Some("k"),
        ))
        .await
        .expect_error(404, "NoSuchBucket", "GetObject of a missing bucket by host");
    let (resp, buckets) = vhost.list_buckets().await;
    resp.expect_status(200, "ListBuckets");
    assert!(buckets.contains(&"vhost-bucket".to_string()), "{buckets:?}");

    // CORS follows the host too: rules set by path answer a preflight sent by host.
    let cors = r#"<CORSConfiguration><CORSRule><AllowedOrigin>https://app.example</AllowedOrigin><AllowedMethod>PUT</AllowedMethod></CORSRule></CORSConfiguration>"#;
    path.send(
        Request::new(Method::PUT, Some("vhost-bucket"), None)
            .query("cors", "")
            .body(cors),
    )
    .await
    .expect_status(200, "PutBucketCors by path");
    let preflight = |origin: &'static str| {
        Request::new(Method::OPTIONS, Some("vhost-bucket"), Some("dir/c.txt"))
            .header("origin", origin)
            .header("access-control-request-method", "PUT")
    };
    let resp = vhost.send(preflight("https://app.example")).await;
    resp.expect_status(200, "preflight by host");
    assert_eq!(
        resp.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    vhost
        .send(preflight("https://other.example"))
        .await
        .expect_status(
            403,
            "preflight by host from an origin the rules do not allow",
        );

    for key in ["dir/a b.txt", "dir/c.txt"] {
        vhost
            .delete_object("vhost-bucket", key)
            .await
            .expect_status(204, "DeleteObject by host");
    }
    vhost
        .delete_bucket("vhost-bucket")
        .await
        .expect_status(204, "DeleteBucket by host");
    path.head_bucket("vhost-bucket")
        .await
        .expect_status(404, "HeadBucket after delete");
}
