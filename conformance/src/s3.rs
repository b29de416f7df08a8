//! A small S3 client for the integration tests.
//!
//! It speaks plain HTTP/1.1 through `hyper-util`'s pooled client and signs every request with
//! SigV4 (`aws-sigv4`, path-style addressing, header signatures). The payload is either hashed
//! (`x-amz-content-sha256` = the real SHA-256) or sent as `UNSIGNED-PAYLOAD`. Each call returns
//! the raw status, headers and body, so tests can assert exactly what a real client would see;
//! [`Response::code`] extracts the S3 error code from an error document.
//!
//! Credentials are per client ([`S3::with_credentials`]), which lets a test sign with a wrong
//! secret or with another account's key.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
pub use s3client::encode::{encode_path, encode_query};
use s3client::encode::{path_style_uri, query_string};
use s3client::{STREAMING_PAYLOAD, SignError, Signer, UNSIGNED_PAYLOAD};
use sha2::{Digest, Sha256};

/// The region requests are signed for.
const REGION: &str = "us-east-1";
/// How long one request (including reading the whole response body) may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(180);

/// Whether the body's SHA-256 is signed or `UNSIGNED-PAYLOAD` is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Payload {
    /// `x-amz-content-sha256` carries the real SHA-256 of the body.
    Signed,
    /// `x-amz-content-sha256: UNSIGNED-PAYLOAD`.
    Unsigned,
}

/// An S3 endpoint plus the credentials used to sign.
#[derive(Clone)]
pub struct S3 {
    endpoint: String,
    signer: Signer,
    payload: Payload,
    /// `Some(domain)`: virtual-hosted-style requests, the bucket in `Host: bucket.domain:port`
    /// (still sent to the endpoint's address).
    virtual_host: Option<String>,
    http: Client<HttpConnector, Full<Bytes>>,
}

/// What the server answered.
#[derive(Debug)]
pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Response {
    /// A header as a string, if present and valid UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The ETag header.
    pub fn etag(&self) -> Option<&str> {
        self.header("etag")
    }

    /// The `<Code>` of an S3 error document, if the body is one.
    pub fn code(&self) -> Option<String> {
        let text = std::str::from_utf8(&self.body).ok()?;
        let root = Element::parse(text).ok()?;
        (root.name == "Error")
            .then(|| root.child_text("Code").map(|c| c.trim().to_owned()))
            .flatten()
    }

    /// The body as (lossy) text, for assertion messages.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Panics with a readable message unless the status is `expected`.
    #[track_caller]
    pub fn expect_status(&self, expected: u16, what: &str) -> &Self {
        assert_eq!(
            self.status.as_u16(),
            expected,
            "{what}: expected HTTP {expected}, got {} with body: {}",
            self.status,
            truncate(&self.text(), 2000)
        );
        self
    }

    /// Panics unless this is an S3 error with the given status and code.
    #[track_caller]
    pub fn expect_error(&self, status: u16, code: &str, what: &str) -> &Self {
        self.expect_status(status, what);
        assert_eq!(
            self.code().as_deref(),
            Some(code),
            "{what}: expected S3 error code {code}, body: {}",
            truncate(&self.text(), 2000)
        );
        self
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// An XML element: name, text (exactly as sent, whitespace kept) and children.
///
/// Built with quick-xml's pull reader rather than serde because serde deserialization trims
/// text, and object keys may begin or end with spaces.
#[derive(Debug, Default, Clone)]
pub struct Element {
    pub name: String,
    pub text: String,
    pub children: Vec<Element>,
}

impl Element {
    /// Parses a document and returns its root element.
    pub fn parse(xml: &str) -> Result<Element, String> {
        use quick_xml::events::Event;
        let mut reader = quick_xml::Reader::from_str(xml);
        reader.config_mut().trim_text(false);
        let mut stack: Vec<Element> = vec![Element::default()];
        loop {
            match reader.read_event().map_err(|e| e.to_string())? {
                Event::Start(e) => stack.push(Element {
                    name: String::from_utf8_lossy(e.local_name().as_ref()).into_owned(),
                    ..Element::default()
                }),
                Event::Empty(e) => {
                    let el = Element {
                        name: String::from_utf8_lossy(e.local_name().as_ref()).into_owned(),
                        ..Element::default()
                    };
                    stack.last_mut().expect("root").children.push(el);
                }
                Event::Text(t) => {
                    let text = t.unescape().map_err(|e| e.to_string())?;
                    stack.last_mut().expect("root").text.push_str(&text);
                }
                Event::CData(t) => {
                    let text = t.decode().map_err(|e| e.to_string())?;
                    stack.last_mut().expect("root").text.push_str(&text);
                }
                Event::End(_) => {
                    let el = stack.pop().expect("balanced");
                    let parent = stack.last_mut().ok_or("unbalanced end tag")?;
                    parent.children.push(el);
                }
                Event::Eof => break,
                _ => {}
            }
        }
        let doc = stack
            .pop()
            .filter(|_| stack.is_empty())
            .ok_or("unclosed element")?;
        doc.children
            .into_iter()
            .next()
            .ok_or_else(|| "empty document".to_string())
    }

    /// The first child with this name.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every child with this name.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The text of the first child with this name.
    pub fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.as_str())
    }
}

/// One entry of a ListObjectsV2 answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectEntry {
    pub key: String,
    pub size: u64,
    pub etag: String,
}

/// A parsed ListObjectsV2 page.
#[derive(Debug)]
pub struct ListPage {
    pub contents: Vec<ObjectEntry>,
    pub prefixes: Vec<String>,
    pub is_truncated: bool,
    pub next_continuation_token: Option<String>,
}

impl ListPage {
    pub fn parse(xml: &str) -> Result<ListPage, String> {
        let root = Element::parse(xml)?;
        if root.name != "ListBucketResult" {
            return Err(format!(
                "root element is {}, not ListBucketResult",
                root.name
            ));
        }
        let mut contents = Vec::new();
        for c in root.all("Contents") {
            contents.push(ObjectEntry {
                key: c
                    .child_text("Key")
                    .ok_or("Contents without Key")?
                    .to_owned(),
                size: c
                    .child_text("Size")
                    .ok_or("Contents without Size")?
                    .trim()
                    .parse()
                    .map_err(|e| format!("Size: {e}"))?,
                etag: c.child_text("ETag").unwrap_or_default().to_owned(),
            });
        }
        let prefixes = root
            .all("CommonPrefixes")
            .filter_map(|p| p.child_text("Prefix"))
            .map(str::to_owned)
            .collect();
        Ok(ListPage {
            contents,
            prefixes,
            is_truncated: root.child_text("IsTruncated").map(str::trim) == Some("true"),
            next_continuation_token: root.child_text("NextContinuationToken").map(str::to_owned),
        })
    }
}

/// A request before signing: path-style bucket and key, raw (unencoded) query and headers.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    pub bucket: Option<String>,
    pub key: Option<String>,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl Request {
    pub fn new(method: Method, bucket: Option<&str>, key: Option<&str>) -> Self {
        Request {
            method,
            bucket: bucket.map(str::to_owned),
            key: key.map(str::to_owned),
            query: Vec::new(),
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    pub fn query(mut self, name: &str, value: &str) -> Self {
        self.query.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers
            .push((name.to_ascii_lowercase(), value.to_owned()));
        self
    }

    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }
}

impl S3 {
    /// A client for `endpoint` (`http://127.0.0.1:PORT`) signing with the given key pair.
    pub fn new(endpoint: &str, access_key: &str, secret_key: &str) -> Self {
        S3 {
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            signer: Signer::new(access_key, secret_key, REGION, "conformance"),
            payload: Payload::Signed,
            virtual_host: None,
            http: Client::builder(TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(5))
                .build_http(),
        }
    }

    /// The same endpoint with other credentials.
    pub fn with_credentials(&self, access_key: &str, secret_key: &str) -> Self {
        let mut c = self.clone();
        c.signer = Signer::new(access_key, secret_key, REGION, "conformance");
        c
    }

    /// The same endpoint and credentials with another payload signing mode.
    pub fn with_payload(&self, payload: Payload) -> Self {
        let mut c = self.clone();
        c.payload = payload;
        c
    }

    /// The same endpoint and credentials addressing buckets virtual-hosted-style under
    /// `domain` (the gateway's `s3_domain`).
    pub fn with_virtual_host(&self, domain: &str) -> Self {
        let mut c = self.clone();
        c.virtual_host = Some(domain.to_owned());
        c
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The `Host` the request is signed and sent with.
    fn authority(&self, req: &Request) -> String {
        let authority = self
            .endpoint
            .trim_start_matches("http://")
            .trim_start_matches("https://");
        match (&self.virtual_host, &req.bucket) {
            (Some(domain), Some(bucket)) => {
                let port = authority.rsplit_once(':').map_or("", |(_, p)| p);
                format!("{bucket}.{domain}:{port}")
            }
            _ => authority.to_owned(),
        }
    }

    fn uri(&self, req: &Request) -> String {
        let query = query_string(&req.query);
        if self.virtual_host.is_some() && req.bucket.is_some() {
            // The key alone in the path: `/{key}`, `/` for the bucket itself.
            return path_style_uri(&self.endpoint, req.key.as_deref(), None, &query);
        }
        path_style_uri(
            &self.endpoint,
            req.bucket.as_deref(),
            req.key.as_deref(),
            &query,
        )
    }

    /// Signs and sends a request; transport errors and timeouts are `Err`.
    pub async fn try_send(&self, req: Request) -> Result<Response, String> {
        let payload_hash = match self.payload {
            Payload::Signed => hex::encode(Sha256::digest(&req.body)),
            Payload::Unsigned => UNSIGNED_PAYLOAD.to_owned(),
        };
        let (request, _) =
            self.sign_request(&req, payload_hash, SystemTime::now(), req.body.clone())?;
        self.execute(request).await
    }

    /// Builds the HTTP request with SigV4 header signing; returns it with the seed signature.
    fn sign_request(
        &self,
        req: &Request,
        payload_hash: String,
        time: SystemTime,
        body: Bytes,
    ) -> Result<(http::Request<Full<Bytes>>, String), String> {
        let uri = self.uri(req);
        let authority = self.authority(req);
        let mut headers: Vec<(String, String)> = vec![("host".to_owned(), authority)];
        headers.extend(req.headers.iter().cloned());
        headers.push(("x-amz-content-sha256".to_owned(), payload_hash.clone()));
        self.signer
            .sign(
                &req.method,
                &uri,
                &headers,
                &payload_hash,
                time,
                Full::new(body),
            )
            .map_err(|e| match e {
                SignError::Params(e) => format!("signing params: {e}"),
                SignError::Signable(e) => format!("signable request for {uri}: {e}"),
                SignError::Sign(e) => format!("signing {uri}: {e}"),
                SignError::Build(e) => format!("building request {uri}: {e}"),
            })
    }

    async fn execute(&self, request: http::Request<Full<Bytes>>) -> Result<Response, String> {
        let what = format!("{} {}", request.method(), request.uri());
        let fut = async {
            let resp = self
                .http
                .request(request)
                .await
                .map_err(|e| format!("{what}: {e:?}"))?;
            let (parts, body) = resp.into_parts();
            let body = body
                .collect()
                .await
                .map_err(|e| format!("{what}: reading body: {e}"))?
                .to_bytes();
            Ok(Response {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        };
        match tokio::time::timeout(REQUEST_TIMEOUT, fut).await {
            Ok(r) => r,
            Err(_) => Err(format!(
                "{what}: no complete answer within {REQUEST_TIMEOUT:?}"
            )),
        }
    }

    /// PutObject with a signed `aws-chunked` body (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD`), the
    /// way SDKs stream uploads: `data` is cut into `chunk_size` pieces, each carrying a
    /// signature chained from the previous one. With `corrupt_chunk = Some(i)`, one byte of
    /// chunk `i` is flipped after it was signed (the server must refuse the upload).
    pub async fn put_object_aws_chunked(
        &self,
        bucket: &str,
        key: &str,
        data: &[u8],
        chunk_size: usize,
        corrupt_chunk: Option<usize>,
    ) -> Response {
        assert!(chunk_size > 0);
        let time = SystemTime::now();
        let req = Request::new(Method::PUT, Some(bucket), Some(key))
            .header("content-encoding", "aws-chunked")
            .header("x-amz-decoded-content-length", &data.len().to_string());
        // Sign the headers first: the seed signature starts the chain.
        let (_, seed) = self
            .sign_request(&req, STREAMING_PAYLOAD.to_owned(), time, Bytes::new())
            .unwrap_or_else(|e| panic!("signing aws-chunked PUT: {e}"));
        let mut body = Vec::with_capacity(data.len() + data.len() / chunk_size * 100 + 200);
        let mut previous = seed;
        let pieces: Vec<&[u8]> = data.chunks(chunk_size).chain([&[][..]]).collect();
        for (i, piece) in pieces.iter().enumerate() {
            let signature = self
                .signer
                .sign_chunk(time, &previous, piece)
                .expect("chunk signature");
            body.extend_from_slice(
                format!("{:x};chunk-signature={signature}\r\n", piece.len()).as_bytes(),
            );
            let start = body.len();
            body.extend_from_slice(piece);
            if corrupt_chunk == Some(i) && !piece.is_empty() {
                body[start] ^= 0x01;
            }
            body.extend_from_slice(b"\r\n");
            previous = signature;
        }
        let (request, _) = self
            .sign_request(&req, STREAMING_PAYLOAD.to_owned(), time, Bytes::from(body))
            .unwrap_or_else(|e| panic!("signing aws-chunked PUT: {e}"));
        match self.execute(request).await {
            Ok(r) => r,
            Err(e) => panic!("aws-chunked PUT {bucket}/{key}: transport error: {e}"),
        }
    }

    /// Signs and sends a request; panics on transport errors.
    pub async fn send(&self, req: Request) -> Response {
        let what = format!("{} {:?}/{:?}", req.method, req.bucket, req.key);
        match self.try_send(req).await {
            Ok(r) => r,
            Err(e) => panic!("{what}: transport error: {e}"),
        }
    }

    pub async fn list_buckets(&self) -> (Response, Vec<String>) {
        let resp = self.send(Request::new(Method::GET, None, None)).await;
        let names = if resp.status.is_success() {
            let root = Element::parse(&resp.text())
                .unwrap_or_else(|e| panic!("ListBuckets XML: {e}: {}", resp.text()));
            root.child("Buckets")
                .map(|b| {
                    b.all("Bucket")
                        .filter_map(|e| e.child_text("Name"))
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        (resp, names)
    }

    pub async fn create_bucket(&self, bucket: &str) -> Response {
        self.send(Request::new(Method::PUT, Some(bucket), None))
            .await
    }

    pub async fn head_bucket(&self, bucket: &str) -> Response {
        self.send(Request::new(Method::HEAD, Some(bucket), None))
            .await
    }

    pub async fn delete_bucket(&self, bucket: &str) -> Response {
        self.send(Request::new(Method::DELETE, Some(bucket), None))
            .await
    }

    pub async fn put_object(&self, bucket: &str, key: &str, body: impl Into<Bytes>) -> Response {
        self.send(Request::new(Method::PUT, Some(bucket), Some(key)).body(body))
            .await
    }

    pub async fn get_object(&self, bucket: &str, key: &str) -> Response {
        self.send(Request::new(Method::GET, Some(bucket), Some(key)))
            .await
    }

    /// GET with a `Range` header value such as `bytes=0-99` or `bytes=-10`.
    pub async fn get_range(&self, bucket: &str, key: &str, range: &str) -> Response {
        self.send(Request::new(Method::GET, Some(bucket), Some(key)).header("range", range))
            .await
    }

    pub async fn head_object(&self, bucket: &str, key: &str) -> Response {
        self.send(Request::new(Method::HEAD, Some(bucket), Some(key)))
            .await
    }

    pub async fn delete_object(&self, bucket: &str, key: &str) -> Response {
        self.send(Request::new(Method::DELETE, Some(bucket), Some(key)))
            .await
    }

    /// PutObject with extra request headers (e.g. `x-amz-storage-class`).
    pub async fn put_object_with(
        &self,
        bucket: &str,
        key: &str,
        body: impl Into<Bytes>,
        headers: &[(&str, &str)],
    ) -> Response {
        let mut req = Request::new(Method::PUT, Some(bucket), Some(key)).body(body);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        self.send(req).await
    }

    /// CreateMultipartUpload with extra request headers; returns the answer and its UploadId.
    pub async fn create_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        headers: &[(&str, &str)],
    ) -> (Response, Option<String>) {
        let mut req = Request::new(Method::POST, Some(bucket), Some(key)).query("uploads", "");
        for (k, v) in headers {
            req = req.header(k, v);
        }
        let resp = self.send(req).await;
        let id = if resp.status.is_success() {
            Element::parse(&resp.text())
                .ok()
                .and_then(|root| root.child_text("UploadId").map(|t| t.trim().to_owned()))
        } else {
            None
        };
        (resp, id)
    }

    /// UploadPart.
    pub async fn upload_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: u32,
        body: impl Into<Bytes>,
    ) -> Response {
        self.send(
            Request::new(Method::PUT, Some(bucket), Some(key))
                .query("partNumber", &part_number.to_string())
                .query("uploadId", upload_id)
                .body(body),
        )
        .await
    }

    /// CompleteMultipartUpload with `(part number, ETag)` pairs.
    pub async fn complete_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: &[(u32, String)],
    ) -> Response {
        let mut xml = String::from("<CompleteMultipartUpload>");
        for (n, etag) in parts {
            let etag = etag.replace('&', "&amp;").replace('"', "&quot;");
            xml.push_str(&format!(
                "<Part><PartNumber>{n}</PartNumber><ETag>{etag}</ETag></Part>"
            ));
        }
        xml.push_str("</CompleteMultipartUpload>");
        self.send(
            Request::new(Method::POST, Some(bucket), Some(key))
                .query("uploadId", upload_id)
                .body(xml),
        )
        .await
    }

    /// One ListObjectsV2 page.
    pub async fn list_page(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        continuation: Option<&str>,
        max_keys: Option<u32>,
    ) -> (Response, Option<ListPage>) {
        let mut req = Request::new(Method::GET, Some(bucket), None).query("list-type", "2");
        if !prefix.is_empty() {
            req = req.query("prefix", prefix);
        }
        if let Some(d) = delimiter {
            req = req.query("delimiter", d);
        }
        if let Some(t) = continuation {
            req = req.query("continuation-token", t);
        }
        if let Some(m) = max_keys {
            req = req.query("max-keys", &m.to_string());
        }
        let resp = self.send(req).await;
        let page = if resp.status.is_success() {
            Some(
                ListPage::parse(&resp.text())
                    .unwrap_or_else(|e| panic!("ListObjectsV2 XML: {e}: {}", resp.text())),
            )
        } else {
            None
        };
        (resp, page)
    }

    /// Every object under `prefix`, following continuation tokens (at most 10,000 pages).
    pub async fn list_all(&self, bucket: &str, prefix: &str) -> Vec<ObjectEntry> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..10_000 {
            let (resp, page) = self
                .list_page(bucket, prefix, None, token.as_deref(), None)
                .await;
            resp.expect_status(200, "ListObjectsV2");
            let page = page.expect("a listing page");
            out.extend(page.contents);
            match (page.is_truncated, page.next_continuation_token) {
                (true, Some(t)) => token = Some(t),
                (true, None) => panic!("truncated listing without NextContinuationToken"),
                (false, _) => return out,
            }
        }
        panic!("listing of {bucket}/{prefix} did not end after 10,000 pages");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_keeps_whitespace_and_unescapes() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name>
<Contents><Key> lead &amp; trail </Key><Size>12</Size><ETag>&quot;abc&quot;</ETag></Contents>
<Contents><Key>x&lt;y</Key><Size>0</Size></Contents>
<CommonPrefixes><Prefix>dir/</Prefix></CommonPrefixes>
<IsTruncated>true</IsTruncated><NextContinuationToken>tok</NextContinuationToken>
</ListBucketResult>"#;
        let page = ListPage::parse(xml).expect("parses");
        assert_eq!(page.contents.len(), 2);
        assert_eq!(page.contents[0].key, " lead & trail ");
        assert_eq!(page.contents[0].size, 12);
        assert_eq!(page.contents[0].etag, "\"abc\"");
        assert_eq!(page.contents[1].key, "x<y");
        assert_eq!(page.prefixes, vec!["dir/"]);
        assert!(page.is_truncated);
        assert_eq!(page.next_continuation_token.as_deref(), Some("tok"));
        assert!(ListPage::parse("<Error><Code>NoSuchBucket</Code></Error>").is_err());
    }

    #[test]
    fn error_code_is_extracted() {
        let r = Response {
            status: StatusCode::NOT_FOUND,
            headers: HeaderMap::new(),
            body: Bytes::from_static(
                b"<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>m</Message></Error>",
            ),
        };
        assert_eq!(r.code().as_deref(), Some("NoSuchKey"));
        let not_xml = Response {
            body: Bytes::from_static(b"plain"),
            ..r
        };
        assert_eq!(not_xml.code(), None);
    }

    #[test]
    fn keys_are_encoded_for_the_path() {
        assert_eq!(encode_path("a b/c+d%é~"), "a%20b/c%2Bd%25%C3%A9~");
        assert_eq!(encode_query("a/b c"), "a%2Fb%20c");
    }
}
