//! POST object: browser form uploads (`multipart/form-data` POSTed to a bucket), streamed.
//!
//! s3s 0.14 handles these forms itself, but reads the whole file part into memory before
//! calling `put_object`, and its form parser and POST signature checks are private (its
//! custom-route hook never sees the file stream). So the gateway answers such POSTs here, in
//! front of s3s (see `server.rs`): the form is parsed as it arrives ([`form`], with `multer`),
//! the fields before the `file` part bounded; the policy's signature is checked
//! ([`signature`]: SigV4 or SigV2, the secret from [`CredentialCache`](super::CredentialCache))
//! and then the policy itself ([`policy`]); and the file part goes to the same
//! [`put_object`](super::object::put_object) as a PUT, as the body of an `S3Request` built
//! from the form's fields, once `operations::grant` has decided by the table's PostObject
//! entry (ACLs, bucket policy; an unsigned form is the anonymous caller) — object lock, tags,
//! metadata are then decided there. The body is counted as it streams
//! and fails as soon as it passes the policy's `content-length-range` maximum (or
//! `post_object_max_bytes`), or ends below its minimum, which answers 400 `EntityTooLarge` /
//! `EntityTooSmall` and stores nothing. Memory per request is bounded by the fields' bounds
//! and the object service's write buffer, not by the size of the file.

pub(crate) mod form;
mod policy;
mod signature;

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HOST, LOCATION};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use s3s::auth::{Credentials, SecretKey};
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Result, s3_error};

use super::access::Asked;
use super::convert::url_encode;
use super::operations::grant;
use super::service::SpreadS3;
use super::vhost::DomainHost;
use crate::xml::escape;
use policy::Policy;
use signature::Scope;

/// What a POST with a form addresses.
#[derive(Debug, PartialEq)]
pub enum Target {
    /// A bucket: a form upload. `by_host`: addressed virtual-hosted-style.
    Bucket { bucket: String, by_host: bool },
    /// An object: not allowed (405), as s3s answers.
    Object,
}

/// Whether `req` is a POST of a `multipart/form-data` form to a bucket or an object (a form
/// POSTed to the service root is left to s3s).
pub fn target<B>(req: &http::Request<B>, vhost: Option<&DomainHost>) -> Option<Target> {
    if req.method() != http::Method::POST {
        return None;
    }
    let content_type = req.headers().get(CONTENT_TYPE)?.to_str().ok()?;
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    let addressed = super::vhost::addressed(req, vhost);
    if addressed.bucket.is_empty() {
        return None;
    }
    if !addressed.key.is_empty() {
        return Some(Target::Object);
    }
    let bucket = percent_encoding::percent_decode_str(addressed.bucket)
        .decode_utf8()
        .ok()?
        .into_owned();
    Some(Target::Bucket {
        bucket,
        by_host: addressed.by_host,
    })
}

/// The answer to a form POSTed to an object.
pub fn method_not_allowed() -> http::Response<s3s::Body> {
    error_response(s3_error!(
        MethodNotAllowed,
        "The specified method is not allowed against this resource."
    ))
}

/// Serves a form upload to `bucket`. `max_bytes`: the largest file accepted whatever the
/// policy says (`post_object_max_bytes`).
pub async fn handle(
    s3: &SpreadS3,
    req: http::Request<crate::listener::ReqBody>,
    bucket: &str,
    by_host: bool,
    max_bytes: u64,
) -> http::Response<s3s::Body> {
    match upload(s3, req, bucket, by_host, max_bytes).await {
        Ok(resp) => resp,
        Err(err) => error_response(err),
    }
}

fn error_response(err: S3Error) -> http::Response<s3s::Body> {
    err.to_http_response().unwrap_or_else(|_| {
        let mut resp = http::Response::new(s3s::Body::empty());
        *resp.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        resp
    })
}

async fn upload(
    s3: &SpreadS3,
    req: http::Request<crate::listener::ReqBody>,
    bucket: &str,
    by_host: bool,
    max_bytes: u64,
) -> S3Result<http::Response<s3s::Body>> {
    let (parts, body) = req.into_parts();
    let content_type = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let boundary = multer::parse_boundary(content_type).map_err(form::malformed)?;
    let body = http_body_util::BodyExt::into_data_stream(body);
    let form::Form { mut fields, file } = form::read(body, &boundary).await?;
    let form = Fields(&fields);
    let Some(key) = form.get("key") else {
        return Err(s3_error!(
            InvalidArgument,
            "Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields."
        ));
    };
    let key = match file.file_name() {
        Some(name) => key.replace("${filename}", name),
        None => key.to_string(),
    };
    if let Some((_, v)) = fields.iter_mut().find(|(n, _)| n == "key") {
        v.clone_from(&key);
    }
    let form = Fields(&fields);
    let signed = authenticate(s3, &form).await?;
    let (min, max) = match form.get("policy") {
        Some(p) => Policy::parse(p)?.check(time::OffsetDateTime::now_utc(), &fields, bucket)?,
        None => (0, u64::MAX),
    };

    let headers = object_headers(&parts.headers, &form)?;
    let failed = Arc::new(Mutex::new(None));
    let body = Limited {
        inner: file,
        seen: 0,
        min,
        max: max.min(max_bytes),
        failed: failed.clone(),
        done: false,
    };
    let input = put_input(bucket, &key, &form, &headers, StreamingBlob::wrap(body));
    let (credentials, region) = match signed {
        Some((c, region)) => (Some(c), region.and_then(|r| r.parse().ok())),
        None => (None, None),
    };
    // The same decision as s3s's access hook takes for a PUT, by the table's PostObject entry.
    let mut extensions = parts.extensions;
    let secure = extensions.get::<crate::listener::Secure>().is_some();
    let asked = Asked {
        credentials: credentials.as_ref(),
        headers: &headers,
        uri: &parts.uri,
        secure,
    };
    grant(
        s3,
        "PostObject",
        &asked,
        Some(bucket),
        Some(&key),
        &mut extensions,
    )
    .await?;
    let put = S3Request {
        input,
        method: parts.method,
        uri: parts.uri,
        headers,
        extensions,
        credentials,
        region,
        service: Some("s3".to_string()),
        trailing_headers: None,
    };
    let result = super::object::put_object(s3, put).await;
    let limit = failed.lock().ok().and_then(|f| *f);
    if let Some(limit) = limit {
        return Err(limit.error());
    }
    let out = result?;
    let etag = out
        .output
        .e_tag
        .as_ref()
        .map_or("", |e| e.value())
        .to_string();
    let scheme = if secure { "https" } else { "http" };
    let mut resp = answer(&form, &parts.headers, scheme, bucket, by_host, &key, &etag);
    resp.headers_mut().extend(out.headers);
    if let Ok(v) = HeaderValue::from_str(&format!("\"{etag}\"")) {
        resp.headers_mut().insert(http::header::ETAG, v);
    }
    if let Some(v) = out
        .output
        .version_id
        .as_deref()
        .and_then(|v| HeaderValue::from_str(v).ok())
    {
        resp.headers_mut().insert("x-amz-version-id", v);
    }
    Ok(resp)
}

/// The fields of a form, looked up by lower-case name.
struct Fields<'a>(&'a [(String, String)]);

impl<'a> Fields<'a> {
    fn get(&self, name: &str) -> Option<&'a str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Checks the signature of a form with a policy: the credentials it was signed with and, for
/// SigV4, the region of its scope. A form without a policy is anonymous (`None`).
async fn authenticate(
    s3: &SpreadS3,
    form: &Fields<'_>,
) -> S3Result<Option<(Credentials, Option<String>)>> {
    let v4_signature = form.get("x-amz-signature");
    let v2_signature = form.get("signature");
    let Some(policy) = form.get("policy") else {
        if v4_signature.is_some() || v2_signature.is_some() {
            return Err(missing("policy"));
        }
        return Ok(None);
    };
    let (access_key, secret, region, good) = if let Some(given) = v4_signature {
        let algorithm = form
            .get("x-amz-algorithm")
            .ok_or_else(|| missing("x-amz-algorithm"))?;
        if algorithm != "AWS4-HMAC-SHA256" {
            return Err(s3_error!(
                InvalidArgument,
                "Invalid argument: x-amz-algorithm must be AWS4-HMAC-SHA256"
            ));
        }
        let credential = form
            .get("x-amz-credential")
            .ok_or_else(|| missing("x-amz-credential"))?;
        let date = form
            .get("x-amz-date")
            .ok_or_else(|| missing("x-amz-date"))?;
        let scope = Scope::parse(credential)?;
        if date.get(..8) != Some(scope.date) {
            return Err(s3_error!(
                InvalidArgument,
                "Invalid argument: x-amz-date does not match the date of x-amz-credential"
            ));
        }
        let secret = s3.creds.lookup(scope.access_key).await?.secret_key;
        let good = signature::v4_matches(&secret, &scope, policy, given);
        let region = Some(scope.region.to_string());
        (scope.access_key, secret, region, good)
    } else if let Some(given) = v2_signature {
        let access_key = form
            .get("awsaccesskeyid")
            .ok_or_else(|| missing("AWSAccessKeyId"))?;
        let secret = s3.creds.lookup(access_key).await?.secret_key;
        let good = signature::v2_matches(&secret, policy, given);
        (access_key, secret, None, good)
    } else if form.get("x-amz-credential").is_some() || form.get("x-amz-algorithm").is_some() {
        return Err(missing("x-amz-signature"));
    } else if form.get("awsaccesskeyid").is_none() {
        return Err(missing("AWSAccessKeyId"));
    } else {
        return Err(missing("Signature"));
    };
    if !good {
        return Err(s3_error!(
            SignatureDoesNotMatch,
            "The request signature we calculated does not match the signature you provided. Check your key and signing method."
        ));
    }
    let credentials = Credentials {
        access_key: access_key.to_string(),
        secret_key: SecretKey::from(secret),
    };
    Ok(Some((credentials, region)))
}

fn missing(field: &str) -> S3Error {
    S3Error::with_message(
        S3ErrorCode::InvalidArgument,
        format!(
            "Bucket POST must contain a field named '{field}'.  If it is specified, please check the order of the fields."
        ),
    )
}

/// The headers of the PUT a form stands for: the request's own, but its Content-Type, length
/// and `x-amz-*` headers, with the form fields a PUT sends as headers (`acl` as `x-amz-acl`,
/// `tagging` as `x-amz-tagging`): what `put_object` and the bucket policy's conditions read.
fn object_headers(request: &HeaderMap, form: &Fields<'_>) -> S3Result<HeaderMap> {
    // What the object gets comes from the form alone (the policy covers the form, not the
    // request's headers).
    let mut headers = request.clone();
    headers.remove(CONTENT_TYPE);
    headers.remove(CONTENT_LENGTH);
    let amz: Vec<HeaderName> = headers
        .keys()
        .filter(|k| k.as_str().starts_with("x-amz-"))
        .cloned()
        .collect();
    for name in amz {
        headers.remove(name);
    }
    const STANDARD: [&str; 7] = [
        "content-type",
        "cache-control",
        "content-disposition",
        "content-encoding",
        "content-language",
        "content-md5",
        "expires",
    ];
    const AUTH: [&str; 5] = [
        "x-amz-signature",
        "x-amz-credential",
        "x-amz-algorithm",
        "x-amz-date",
        "x-amz-security-token",
    ];
    for (name, value) in form.0 {
        let wanted = STANDARD.contains(&name.as_str())
            || (name.starts_with("x-amz-") && !AUTH.contains(&name.as_str()));
        if !wanted {
            continue;
        }
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.insert(n, v);
        }
    }
    if let Some(acl) = form.get("acl")
        && let Ok(v) = HeaderValue::from_str(acl)
    {
        headers.insert("x-amz-acl", v);
    }
    if let Some(xml) = form.get("tagging") {
        let query = tagging_query(xml)?;
        if let Ok(v) = HeaderValue::from_str(&query) {
            headers.insert("x-amz-tagging", v);
        }
    }
    super::fixups::check_encryption_headers(&http::Method::PUT, &headers)?;
    Ok(headers)
}

/// Characters a query component keeps as they are (RFC 3986 unreserved).
const QUERY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The `tagging` field (a `<Tagging>` XML document) as an `x-amz-tagging` header.
fn tagging_query(xml: &str) -> S3Result<String> {
    use s3s::xml::Deserialize as _;
    let mut d = s3s::xml::Deserializer::new(xml.as_bytes());
    let tagging = Tagging::deserialize(&mut d).map_err(|_| {
        s3_error!(
            MalformedXML,
            "The XML you provided was not well-formed or did not validate against our published schema"
        )
    })?;
    Ok(tagging
        .tag_set
        .iter()
        .map(|t| {
            format!(
                "{}={}",
                utf8_percent_encode(t.key.as_deref().unwrap_or(""), QUERY),
                utf8_percent_encode(t.value.as_deref().unwrap_or(""), QUERY)
            )
        })
        .collect::<Vec<_>>()
        .join("&"))
}

/// The `PutObject` input a form stands for.
fn put_input(
    bucket: &str,
    key: &str,
    form: &Fields<'_>,
    headers: &HeaderMap,
    body: StreamingBlob,
) -> PutObjectInput {
    let text = |name: &str| form.get(name).map(str::to_string);
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let metadata: Metadata = form
        .0
        .iter()
        .filter_map(|(n, v)| {
            let k = n.strip_prefix("x-amz-meta-")?;
            (!k.is_empty()).then(|| (k.to_string(), v.clone()))
        })
        .collect();
    PutObjectInput {
        bucket: bucket.to_string(),
        key: key.to_string(),
        body: Some(body),
        acl: header("x-amz-acl").map(ObjectCannedACL::from),
        cache_control: text("cache-control"),
        content_disposition: text("content-disposition"),
        content_encoding: text("content-encoding"),
        content_language: text("content-language"),
        content_md5: text("content-md5"),
        content_type: text("content-type"),
        expires: form
            .get("expires")
            .and_then(|v| Timestamp::parse(TimestampFormat::HttpDate, v).ok()),
        metadata: (!metadata.is_empty()).then_some(metadata),
        tagging: header("x-amz-tagging"),
        storage_class: text("x-amz-storage-class").map(StorageClass::from),
        checksum_algorithm: text("x-amz-sdk-checksum-algorithm").map(ChecksumAlgorithm::from),
        checksum_crc32: text("x-amz-checksum-crc32"),
        checksum_crc32c: text("x-amz-checksum-crc32c"),
        checksum_crc64nvme: text("x-amz-checksum-crc64nvme"),
        checksum_sha1: text("x-amz-checksum-sha1"),
        checksum_sha256: text("x-amz-checksum-sha256"),
        grant_full_control: text("x-amz-grant-full-control"),
        grant_read: text("x-amz-grant-read"),
        grant_read_acp: text("x-amz-grant-read-acp"),
        grant_write_acp: text("x-amz-grant-write-acp"),
        object_lock_mode: text("x-amz-object-lock-mode").map(ObjectLockMode::from),
        object_lock_retain_until_date: form
            .get("x-amz-object-lock-retain-until-date")
            .and_then(|v| Timestamp::parse(TimestampFormat::DateTime, v).ok()),
        object_lock_legal_hold_status: text("x-amz-object-lock-legal-hold")
            .map(ObjectLockLegalHoldStatus::from),
        server_side_encryption: text("x-amz-server-side-encryption")
            .map(ServerSideEncryption::from),
        ..Default::default()
    }
}

/// The answer to a stored form: `success_action_redirect` (or `redirect`) → 303 to it, with
/// the bucket, key and ETag in its query; else `success_action_status` 200 or 201 (with a
/// `PostResponse` document), anything else 204. The object's URL (`Location`) is
/// `scheme://HOST/…`.
fn answer(
    form: &Fields<'_>,
    request: &HeaderMap,
    scheme: &str,
    bucket: &str,
    by_host: bool,
    key: &str,
    etag: &str,
) -> http::Response<s3s::Body> {
    let redirect = form
        .get("success_action_redirect")
        .or_else(|| form.get("redirect"))
        .filter(|u| {
            (u.starts_with("http://") || u.starts_with("https://"))
                && !u.chars().any(|c| c.is_control() || c.is_whitespace())
        });
    if let Some(url) = redirect {
        let sep = if url.contains('?') { '&' } else { '?' };
        let location = format!(
            "{url}{sep}bucket={}&key={}&etag=%22{}%22",
            utf8_percent_encode(bucket, QUERY),
            utf8_percent_encode(key, QUERY),
            utf8_percent_encode(etag, QUERY)
        );
        if let Ok(v) = HeaderValue::from_str(&location) {
            let mut resp = http::Response::new(s3s::Body::empty());
            *resp.status_mut() = StatusCode::SEE_OTHER;
            resp.headers_mut().insert(LOCATION, v);
            return resp;
        }
    }
    let host = request
        .get(HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    let location = if by_host {
        format!("{scheme}://{host}/{}", url_encode(key))
    } else {
        format!(
            "{scheme}://{host}/{}/{}",
            url_encode(bucket),
            url_encode(key)
        )
    };
    let mut resp = match form.get("success_action_status") {
        Some("200") => http::Response::new(s3s::Body::empty()),
        Some("201") => {
            let xml = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PostResponse><Location>{}</Location><Bucket>{}</Bucket><Key>{}</Key><ETag>&quot;{}&quot;</ETag></PostResponse>",
                escape(&location),
                escape(bucket),
                escape(key),
                escape(etag)
            );
            let mut resp = http::Response::new(s3s::Body::from(xml));
            *resp.status_mut() = StatusCode::CREATED;
            resp.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/xml"));
            resp
        }
        _ => {
            let mut resp = http::Response::new(s3s::Body::empty());
            *resp.status_mut() = StatusCode::NO_CONTENT;
            resp
        }
    };
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(LOCATION, v);
    }
    resp
}

/// Which bound of the file's size a form broke.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Broken {
    TooLarge,
    TooSmall,
    /// The form ended before its file part did (or could not be read).
    Unreadable,
}

impl Broken {
    fn error(self) -> S3Error {
        match self {
            Broken::TooLarge => s3_error!(
                EntityTooLarge,
                "Your proposed upload exceeds the maximum allowed size"
            ),
            Broken::TooSmall => s3_error!(
                EntityTooSmall,
                "Your proposed upload is smaller than the minimum allowed size"
            ),
            Broken::Unreadable => form::unreadable(),
        }
    }
}

/// The file part as an object body: counted, failed as soon as it has more than `max` bytes
/// or when it ends with fewer than `min`, what failed it left in `failed`.
struct Limited<S> {
    inner: S,
    seen: u64,
    min: u64,
    max: u64,
    failed: Arc<Mutex<Option<Broken>>>,
    done: bool,
}

impl<S> Limited<S> {
    fn fail(&mut self, why: Broken) -> Poll<Option<Result<Bytes, std::io::Error>>> {
        self.done = true;
        if let Ok(mut f) = self.failed.lock() {
            *f = Some(why);
        }
        Poll::Ready(Some(Err(std::io::Error::other(why.error().to_string()))))
    }
}

impl<S, E> Stream for Limited<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(bytes))) => {
                self.seen = self.seen.saturating_add(bytes.len() as u64);
                if self.seen > self.max {
                    return self.fail(Broken::TooLarge);
                }
                Poll::Ready(Some(Ok(bytes)))
            }
            Poll::Ready(Some(Err(e))) => {
                tracing::debug!(error = %e, "POST form file part unreadable");
                self.fail(Broken::Unreadable)
            }
            Poll::Ready(None) => {
                if self.seen < self.min {
                    return self.fail(Broken::TooSmall);
                }
                self.done = true;
                Poll::Ready(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    fn post(uri: &str, host: &str, content_type: &str) -> http::Request<()> {
        http::Request::post(uri)
            .header(HOST, host)
            .header(CONTENT_TYPE, content_type)
            .body(())
            .unwrap()
    }

    #[test]
    fn targets() {
        let form = "multipart/form-data; boundary=xyz";
        let bucket = |b: &str, by_host| {
            Some(Target::Bucket {
                bucket: b.to_string(),
                by_host,
            })
        };
        assert_eq!(target(&post("/b", "h", form), None), bucket("b", false));
        assert_eq!(target(&post("/b/", "h", form), None), bucket("b", false));
        assert_eq!(target(&post("/b/k", "h", form), None), Some(Target::Object));
        assert_eq!(target(&post("/", "h", form), None), None);
        assert_eq!(target(&post("/b", "h", "text/plain"), None), None);
        assert_eq!(
            target(&post("/b?delete", "h", "application/xml"), None),
            None
        );
        let vhost = DomainHost::new("s3.local");
        assert_eq!(
            target(&post("/", "b1.s3.local:9000", form), Some(&vhost)),
            bucket("b1", true)
        );
        assert_eq!(
            target(&post("/k", "b1.s3.local", form), Some(&vhost)),
            Some(Target::Object)
        );
        assert_eq!(
            target(
                &post("/b2", "s3.local", "Multipart/Form-Data"),
                Some(&vhost)
            ),
            bucket("b2", false)
        );
        let get = http::Request::get("/b")
            .header(CONTENT_TYPE, form)
            .body(())
            .unwrap();
        assert_eq!(target(&get, None), None);
    }

    #[test]
    fn tagging_documents_become_headers() {
        let q = tagging_query(
            "<Tagging><TagSet><Tag><Key>0</Key><Value>0</Value></Tag><Tag><Key>a b</Key><Value>x&amp;y</Value></Tag></TagSet></Tagging>",
        )
        .unwrap();
        assert_eq!(q, "0=0&a%20b=x%26y");
        assert!(tagging_query("<Tagging>").is_err());
    }

    fn fields(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn answers() {
        let mut h = HeaderMap::new();
        h.insert(HOST, HeaderValue::from_static("h:1"));
        let f = fields(&[("success_action_redirect", "http://app/done?x=1")]);
        let r = answer(&Fields(&f), &h, "http", "b", false, "a b.txt", "e1");
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            r.headers()[LOCATION],
            "http://app/done?x=1&bucket=b&key=a%20b.txt&etag=%22e1%22"
        );
        let f = fields(&[("success_action_status", "201")]);
        let r = answer(&Fields(&f), &h, "http", "b", false, "k<", "e1");
        assert_eq!(r.status(), StatusCode::CREATED);
        let body = r.body().bytes().unwrap();
        let text = std::str::from_utf8(&body).unwrap();
        assert!(text.contains("<Key>k&lt;</Key>"), "{text}");
        assert!(text.contains("<ETag>&quot;e1&quot;</ETag>"), "{text}");
        assert_eq!(r.headers()[LOCATION], "http://h:1/b/k%3C");
        let f = fields(&[("success_action_status", "404"), ("redirect", "not a url")]);
        let r = answer(&Fields(&f), &h, "http", "b", true, "k", "e1");
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        assert_eq!(r.headers()[LOCATION], "http://h:1/k");
        let r = answer(&Fields(&f), &h, "https", "b", true, "k", "e1");
        assert_eq!(r.headers()[LOCATION], "https://h:1/k");
        let f = fields(&[("success_action_status", "200")]);
        let r = answer(&Fields(&f), &h, "http", "b", true, "k", "e1");
        assert_eq!(r.status(), StatusCode::OK);
    }

    fn limited(
        pieces: &[&'static str],
        min: u64,
        max: u64,
    ) -> (Vec<Result<Bytes, String>>, Option<Broken>) {
        let failed = Arc::new(Mutex::new(None));
        let inner = futures::stream::iter(
            pieces
                .iter()
                .map(|p| Ok::<_, std::io::Error>(Bytes::from_static(p.as_bytes())))
                .collect::<Vec<_>>(),
        );
        let stream = Limited {
            inner,
            seen: 0,
            min,
            max,
            failed: failed.clone(),
            done: false,
        };
        let out = futures::executor::block_on(
            stream
                .map(|r| r.map_err(|e| e.to_string()))
                .collect::<Vec<_>>(),
        );
        let why = *failed.lock().unwrap();
        (out, why)
    }

    #[test]
    fn bodies_are_bounded() {
        let (out, why) = limited(&["abc", "def"], 0, 6);
        assert_eq!(out.len(), 2);
        assert_eq!(why, None);
        let (out, why) = limited(&["abc", "def", "g"], 0, 6);
        assert_eq!(out.len(), 3);
        assert!(out[2].is_err());
        assert_eq!(why, Some(Broken::TooLarge));
        let (out, why) = limited(&["abc"], 4, 6);
        assert!(out.last().unwrap().is_err());
        assert_eq!(why, Some(Broken::TooSmall));
        let (_, why) = limited(&["abc"], 0, 0);
        assert_eq!(why, Some(Broken::TooLarge));
    }
}
