//! S3 authorization end to end: the operation table decides before any operation runs
//! (anonymous and signed callers, unimplemented operations, bucket policies on multipart
//! uploads and copies), and every operation on a delete marker answers alike.
//!
//! Needs the `spread` binary: `cargo build --release` first, or set `SPREAD_BIN`.

use bytes::Bytes;
use conformance::cluster::Cluster;
use conformance::s3::{Request, Response, S3};
use http::Method;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// An unsigned request (`path_and_query` as sent, e.g. `/bucket/key?acl`).
async fn anonymous(s3: &S3, method: Method, path_and_query: &str) -> Response {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let req = http::Request::builder()
        .method(method)
        .uri(format!("{}{path_and_query}", s3.endpoint()))
        .body(Full::new(Bytes::new()))
        .expect("request");
    let resp = client.request(req).await.expect("anonymous request");
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.expect("body").to_bytes();
    Response {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

trait ExpectOk {
    fn expect_ok(&self, what: &str);
}

impl ExpectOk for Response {
    /// Panics unless the status is a success (200 or 204: the operations differ).
    #[track_caller]
    fn expect_ok(&self, what: &str) {
        assert!(
            self.status.is_success(),
            "{what}: HTTP {}: {}",
            self.status,
            self.text()
        );
    }
}

/// A second account `alt` with its own key, and a client for it.
fn alt_client(cluster: &Cluster, dev: &S3) -> S3 {
    cluster.admin_ok(&["account", "create", "alt"]);
    cluster.admin_ok(&[
        "key",
        "create",
        "alt",
        "--access-key",
        "ALTACCESSKEY00000001",
        "--secret-key",
        "alt-secret-key-abcdefghijklmnopqrstuvwxyz",
    ]);
    dev.with_credentials(
        "ALTACCESSKEY00000001",
        "alt-secret-key-abcdefghijklmnopqrstuvwxyz",
    )
}

#[tokio::test]
async fn the_operation_table_decides_before_operations_run() {
    let cluster = Cluster::start();
    let dev = cluster.s3();
    dev.create_bucket("authz")
        .await
        .expect_status(200, "CreateBucket");
    dev.put_object("authz", "secret", b"dev data".to_vec())
        .await
        .expect_status(200, "PUT");

    // Operations outside buckets need a signed account.
    anonymous(&dev, Method::GET, "/").await.expect_error(
        403,
        "AccessDenied",
        "anonymous ListBuckets",
    );
    anonymous(&dev, Method::PUT, "/anon-bucket")
        .await
        .expect_error(403, "AccessDenied", "anonymous CreateBucket");
    // A missing bucket is 404 for everyone; a private one refuses the anonymous.
    anonymous(&dev, Method::GET, "/no-such-bucket/k")
        .await
        .expect_error(404, "NoSuchBucket", "anonymous GET in a missing bucket");
    anonymous(&dev, Method::GET, "/authz/secret")
        .await
        .expect_error(403, "AccessDenied", "anonymous GET of a private object");
    anonymous(&dev, Method::DELETE, "/authz/secret")
        .await
        .expect_error(403, "AccessDenied", "anonymous DELETE in a private bucket");
    // Operations Spread does not implement answer 501 whoever asks.
    let resp = anonymous(&dev, Method::GET, "/authz?website").await;
    resp.expect_error(501, "NotImplemented", "anonymous GetBucketWebsite");
    assert!(
        resp.text()
            .contains("GetBucketWebsite is not implemented yet"),
        "{}",
        resp.text()
    );
    dev.send(Request::new(Method::GET, Some("authz"), None).query("website", ""))
        .await
        .expect_error(501, "NotImplemented", "GetBucketWebsite by the owner");

    // A bucket policy letting `alt` put objects under the bucket lets it upload in parts:
    // every step of the upload is decided on the object's resource.
    let alt = alt_client(&cluster, &dev);
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
        "Principal":{"AWS":["arn:aws:iam::alt:root"]},"Action":["s3:PutObject"],
        "Resource":"arn:aws:s3:::authz/*"}]}"#;
    dev.send(
        Request::new(Method::PUT, Some("authz"), None)
            .query("policy", "")
            .body(policy.as_bytes().to_vec()),
    )
    .await
    .expect_ok("PutBucketPolicy");
    alt.put_object("authz", "from-alt", b"alt data".to_vec())
        .await
        .expect_status(200, "PUT by alt under the policy");
    let (resp, upload_id) = alt
        .create_multipart_upload("authz", "parts-by-alt", &[])
        .await;
    resp.expect_status(200, "CreateMultipartUpload by alt");
    let upload_id = upload_id.expect("an upload id");
    let part = alt
        .upload_part("authz", "parts-by-alt", &upload_id, 1, b"part one".to_vec())
        .await;
    part.expect_status(200, "UploadPart by alt under the policy");
    let etag = part.etag().expect("part ETag").to_string();
    alt.complete_multipart_upload("authz", "parts-by-alt", &upload_id, &[(1, etag)])
        .await
        .expect_status(200, "CompleteMultipartUpload by alt");
    // The completed object is alt's (its writer): alt reads it by its ACL.
    alt.get_object("authz", "parts-by-alt")
        .await
        .expect_status(200, "GET of alt's upload by alt");
    // The policy grants no read: copying dev's private object is refused on its source.
    alt.send(
        Request::new(Method::PUT, Some("authz"), Some("stolen"))
            .header("x-amz-copy-source", "/authz/secret"),
    )
    .await
    .expect_error(403, "AccessDenied", "CopyObject by alt of a private source");
    alt.list_page("authz", "", None, None, None)
        .await
        .0
        .expect_error(403, "AccessDenied", "ListObjectsV2 by alt");
    dev.head_object("authz", "stolen")
        .await
        .expect_status(404, "the refused copy wrote nothing");
    dev.send(
        Request::new(Method::PUT, Some("authz"), Some("copy"))
            .header("x-amz-copy-source", "/authz/secret"),
    )
    .await
    .expect_status(200, "CopyObject by the owner");

    // Configuration operations are the owner's, under the policy's own action names: an
    // explicit Deny of s3:GetBucketTagging refuses even the owner.
    dev.send(
        Request::new(Method::PUT, Some("authz"), None)
            .query("tagging", "")
            .body(
                &b"<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>"[..],
            ),
    )
    .await
    .expect_ok("PutBucketTagging");
    alt.send(Request::new(Method::GET, Some("authz"), None).query("tagging", ""))
        .await
        .expect_error(403, "AccessDenied", "GetBucketTagging by alt");
    let deny = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*",
        "Action":"s3:GetBucketTagging","Resource":"arn:aws:s3:::authz"}]}"#;
    dev.send(
        Request::new(Method::PUT, Some("authz"), None)
            .query("policy", "")
            .body(deny.as_bytes().to_vec()),
    )
    .await
    .expect_ok("PutBucketPolicy (deny)");
    dev.send(Request::new(Method::GET, Some("authz"), None).query("tagging", ""))
        .await
        .expect_error(403, "AccessDenied", "GetBucketTagging denied by the policy");
    dev.send(Request::new(Method::GET, Some("authz"), None).query("cors", ""))
        .await
        .expect_error(404, "NoSuchCORSConfiguration", "GetBucketCors, not denied");
}

#[tokio::test]
async fn every_operation_on_a_delete_marker_answers_alike() {
    let cluster = Cluster::start();
    let s3 = cluster.s3();
    s3.create_bucket("markers")
        .await
        .expect_status(200, "CreateBucket");
    s3.send(
        Request::new(Method::PUT, Some("markers"), None)
            .query("versioning", "")
            .body(
                &b"<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>"[..],
            ),
    )
    .await
    .expect_status(200, "PutBucketVersioning");
    s3.put_object("markers", "k", b"v1".to_vec())
        .await
        .expect_status(200, "PUT");
    let del = s3.delete_object("markers", "k").await;
    del.expect_status(204, "DELETE");
    let marker = del
        .header("x-amz-version-id")
        .expect("the marker's version id")
        .to_string();

    let tagging =
        &b"<Tagging><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet></Tagging>"[..];
    // (what, request) for every operation that reads a version.
    let ops = |version: Option<&str>| {
        let req = |method: Method| {
            let r = Request::new(method, Some("markers"), Some("k"));
            match version {
                Some(v) => r.query("versionId", v),
                None => r,
            }
        };
        vec![
            ("GetObject", req(Method::GET)),
            ("GetObjectAcl", req(Method::GET).query("acl", "")),
            (
                "PutObjectAcl",
                req(Method::PUT)
                    .query("acl", "")
                    .header("x-amz-acl", "private"),
            ),
            ("GetObjectTagging", req(Method::GET).query("tagging", "")),
            (
                "PutObjectTagging",
                req(Method::PUT).query("tagging", "").body(tagging),
            ),
            (
                "DeleteObjectTagging",
                req(Method::DELETE).query("tagging", ""),
            ),
            (
                "GetObjectAttributes",
                req(Method::GET)
                    .query("attributes", "")
                    .header("x-amz-object-attributes", "ETag"),
            ),
        ]
    };
    for (what, req) in ops(Some(&marker)) {
        let resp = s3.send(req).await;
        resp.expect_error(
            405,
            "MethodNotAllowed",
            &format!("{what} of a named marker"),
        );
        assert_eq!(resp.header("x-amz-delete-marker"), Some("true"), "{what}");
        assert_eq!(resp.header("allow"), Some("DELETE"), "{what}");
        assert_eq!(
            resp.header("x-amz-version-id"),
            Some(marker.as_str()),
            "{what}"
        );
    }
    let head = s3
        .send(Request::new(Method::HEAD, Some("markers"), Some("k")).query("versionId", &marker))
        .await;
    head.expect_status(405, "HeadObject of a named marker");
    assert_eq!(head.header("x-amz-delete-marker"), Some("true"));
    for (what, req) in ops(None) {
        s3.send(req).await.expect_error(
            404,
            "NoSuchKey",
            &format!("{what} when a marker is current"),
        );
    }
    // A copy names its source: a marker there is a bad request, a current one no object.
    s3.send(
        Request::new(Method::PUT, Some("markers"), Some("copy")).header(
            "x-amz-copy-source",
            &format!("/markers/k?versionId={marker}"),
        ),
    )
    .await
    .expect_error(400, "InvalidRequest", "CopyObject of a named marker");
    s3.send(
        Request::new(Method::PUT, Some("markers"), Some("copy"))
            .header("x-amz-copy-source", "/markers/k"),
    )
    .await
    .expect_error(404, "NoSuchKey", "CopyObject when a marker is current");
    // DeleteObject is the one operation a marker takes: removing it brings the object back.
    s3.send(Request::new(Method::DELETE, Some("markers"), Some("k")).query("versionId", &marker))
        .await
        .expect_status(204, "DELETE of the marker");
    s3.get_object("markers", "k")
        .await
        .expect_status(200, "GET after the marker is gone");
}
