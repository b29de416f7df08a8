//! Adjustments made around s3s for what real clients send and expect and s3s 0.14 does not
//! cover. Before s3s sees a request: SigV2 checks of the request time and the bucket-root
//! canonical resource, SigV4 signed with `Date` instead of `x-amz-date`, presigned-URL expiry
//! limits, an empty `Content-MD5`, and refusing server-side-encryption headers Spread cannot
//! honour (so nothing is silently stored in clear). After s3s: the request id in error XML,
//! user metadata in UTF-8 as it was sent, and GetObjectAttributes' ETag without quotes.

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use http::{HeaderMap, HeaderValue, Method};
use s3s::{S3Error, s3_error};

/// SigV2 requests whose time is further than this from ours are refused (as AWS does).
const MAX_V2_SKEW: Duration = Duration::from_secs(15 * 60);

/// The longest validity of a SigV4 presigned URL: 7 days.
const MAX_PRESIGNED_EXPIRES: i64 = 7 * 24 * 3600;

/// Checks and rewrites a request before s3s parses it. `Err` is the answer to send instead.
pub fn before<B>(req: &mut http::Request<B>) -> Result<(), S3Error> {
    let auth = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let v2_presigned = has_param(&query, "Signature") && has_param(&query, "AWSAccessKeyId");
    if auth.starts_with("AWS ") {
        check_v2_time(req.headers())?;
    }
    if auth.starts_with("AWS ") || v2_presigned {
        bucket_root_with_slash(req);
    }
    if auth.starts_with("AWS4-HMAC-SHA256") {
        amz_date_from_date(req.headers_mut());
    }
    if has_param(&query, "X-Amz-Signature") {
        check_presigned_expires(&query)?;
    }
    check_content_md5(req.headers())?;
    check_encryption_headers(req.method(), req.headers())?;
    Ok(())
}

fn has_param(query: &str, name: &str) -> bool {
    param(query, name).is_some()
}

fn param<'q>(query: &'q str, name: &str) -> Option<&'q str> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then_some(v)
    })
}

/// SigV2: the request time (`x-amz-date`, else `Date`) must be a valid date within 15 minutes
/// of ours. Checked before the signature, as AWS does.
fn check_v2_time(headers: &HeaderMap) -> Result<(), S3Error> {
    let value = headers
        .get("x-amz-date")
        .or_else(|| headers.get(http::header::DATE))
        .map(|v| v.to_str().unwrap_or("").trim());
    let Some(time) = value
        .and_then(parse_request_date)
        .filter(|t| *t >= SystemTime::UNIX_EPOCH)
    else {
        return Err(s3_error!(
            AccessDenied,
            "AWS authentication requires a valid Date or x-amz-date header"
        ));
    };
    let now = SystemTime::now();
    let skew = now
        .duration_since(time)
        .or_else(|_| time.duration_since(now))
        .unwrap_or(Duration::ZERO);
    if skew > MAX_V2_SKEW {
        return Err(s3_error!(
            RequestTimeTooSkewed,
            "The difference between the request time and the current time is too large."
        ));
    }
    Ok(())
}

/// A request date: RFC 1123 / RFC 2822 (`Tue, 07 Jul 2010 21:53:04 GMT`, also with a numeric
/// zone such as `-0000`, as Python's `formatdate` writes; the weekday is not checked) or ISO 8601
/// basic (`20100707T215304Z`).
fn parse_request_date(value: &str) -> Option<SystemTime> {
    let value = value.trim();
    if let Ok(t) = time::PrimitiveDateTime::parse(
        value,
        time::macros::format_description!("[year][month][day]T[hour][minute][second]Z"),
    ) {
        return Some(t.assume_utc().into());
    }
    let rest = value.split_once(',').map_or(value, |(_, r)| r).trim();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let (date, zone) = match fields.as_slice() {
        [d, m, y, hms] => (format!("{d} {m} {y} {hms}"), "GMT"),
        [d, m, y, hms, zone] => (format!("{d} {m} {y} {hms}"), *zone),
        _ => return None,
    };
    let t = time::PrimitiveDateTime::parse(
        &date,
        time::macros::format_description!(
            "[day padding:none] [month repr:short case_sensitive:false] [year] [hour]:[minute]:[second]"
        ),
    )
    .ok()?;
    let offset_secs = match zone {
        "GMT" | "UT" | "UTC" | "Z" => 0,
        z => {
            let (sign, digits) = match z.split_at_checked(1)? {
                ("+", d) => (1, d),
                ("-", d) => (-1, d),
                _ => return None,
            };
            if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let hours: i32 = digits[..2].parse().ok()?;
            let minutes: i32 = digits[2..].parse().ok()?;
            sign * (hours * 3600 + minutes * 60)
        }
    };
    let offset = time::UtcOffset::from_whole_seconds(offset_secs).ok()?;
    Some(t.assume_offset(offset).into())
}

/// SigV2 signs the bucket root as `/bucket/` (the canonical resource always ends in `/`), while
/// s3s signs the request path as is: `/bucket` becomes `/bucket/`, which routes the same.
fn bucket_root_with_slash<B>(req: &mut http::Request<B>) {
    let path = req.uri().path();
    let Some(bucket) = path.strip_prefix('/') else {
        return;
    };
    if bucket.is_empty() || bucket.contains('/') {
        return;
    }
    let rewritten = match req.uri().query() {
        Some(q) => format!("{path}/?{q}"),
        None => format!("{path}/"),
    };
    let mut parts = req.uri().clone().into_parts();
    if let Ok(pq) = http::uri::PathAndQuery::try_from(rewritten) {
        parts.path_and_query = Some(pq);
        if let Ok(uri) = http::Uri::from_parts(parts) {
            *req.uri_mut() = uri;
        }
    }
}

/// SigV4 allows the request time in `Date` instead of `x-amz-date` (botocore does this when a
/// request carries `Date`); s3s reads only `x-amz-date`, so the time is copied there. The
/// header is not among the signed ones, so the canonical request does not change.
fn amz_date_from_date(headers: &mut HeaderMap) {
    if headers.contains_key("x-amz-date") {
        return;
    }
    let Some(time) = headers
        .get(http::header::DATE)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_request_date)
    else {
        return;
    };
    let t = time::OffsetDateTime::from(time);
    let value = format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    if let Ok(v) = HeaderValue::from_str(&value) {
        headers.insert("x-amz-date", v);
    }
}

/// `X-Amz-Expires` must be between 0 and 7 days (s3s refuses a negative one as a malformed
/// URL and accepts any length).
fn check_presigned_expires(query: &str) -> Result<(), S3Error> {
    let Some(v) = param(query, "X-Amz-Expires") else {
        return Ok(());
    };
    match v.parse::<i64>() {
        Ok(n) if n < 0 => Err(s3_error!(AccessDenied, "Request has expired")),
        Ok(n) if n > MAX_PRESIGNED_EXPIRES => Err(s3_error!(
            AccessDenied,
            "X-Amz-Expires must be less than a week (in seconds) that is 604800"
        )),
        _ => Ok(()),
    }
}

/// An empty `Content-MD5` is not a digest (s3s treats it as absent).
fn check_content_md5(headers: &HeaderMap) -> Result<(), S3Error> {
    match headers.get("content-md5") {
        Some(v) if v.as_bytes().iter().all(u8::is_ascii_whitespace) => Err(s3_error!(
            InvalidDigest,
            "The Content-MD5 you specified was invalid."
        )),
        _ => Ok(()),
    }
}

/// Encryption headers Spread refuses before any handler: `x-amz-server-side-encryption` on a
/// GET or HEAD (AWS refuses it there), a KMS key id without `aws:kms`, and DSSE-KMS. SSE-C,
/// SSE-S3 and SSE-KMS are the handlers' (`encryption`).
pub(crate) fn check_encryption_headers(
    method: &Method,
    headers: &HeaderMap,
) -> Result<(), S3Error> {
    let sse = headers
        .get("x-amz-server-side-encryption")
        .map(|v| v.to_str().unwrap_or("").trim().to_string());
    if sse.is_some() && (method == Method::GET || method == Method::HEAD) {
        return Err(s3_error!(
            InvalidArgument,
            "x-amz-server-side-encryption header is not supported for this operation."
        ));
    }
    let kms = sse.as_deref().is_some_and(|v| v.starts_with("aws:kms"));
    if headers.contains_key("x-amz-server-side-encryption-aws-kms-key-id") && !kms {
        return Err(s3_error!(
            InvalidArgument,
            "Server Side Encryption with KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms"
        ));
    }
    if sse.as_deref().is_some_and(|v| v.starts_with("aws:kms:")) {
        return Err(s3_error!(
            InvalidArgument,
            "The encryption method specified is not supported (dual-layer SSE-KMS, aws:kms:dsse, is not)"
        ));
    }
    Ok(())
}

/// Whether a request is a PUT whose body has no length announced: no `Content-Length` and
/// no aws-chunked framing (`x-amz-decoded-content-length`), i.e. `Transfer-Encoding:
/// chunked`. s3s refuses such a body 411 (it needs the length to check a signature);
/// [`with_length`] reads it first.
pub fn put_of_unknown_length<B>(req: &http::Request<B>) -> bool {
    let h = req.headers();
    req.method() == Method::PUT
        && !h.contains_key(http::header::CONTENT_LENGTH)
        && !h.contains_key("x-amz-decoded-content-length")
}

/// The request with its body read into memory (at most `max` bytes, or `max_anonymous` for
/// a request that carries no signature, else 411 MissingContentLength) and its
/// `Content-Length` set.
pub async fn with_length<B>(
    req: http::Request<B>,
    max: u64,
    max_anonymous: u64,
) -> Result<http::Request<s3s::Body>, S3Error>
where
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    use http_body_util::BodyExt as _;
    let query = req.uri().query().unwrap_or("");
    let signed = req.headers().contains_key(http::header::AUTHORIZATION)
        || has_param(query, "X-Amz-Signature")
        || has_param(query, "Signature");
    let max = if signed { max } else { max.min(max_anonymous) };
    let (mut parts, body) = req.into_parts();
    let limit = usize::try_from(max).unwrap_or(usize::MAX);
    let bytes = match http_body_util::Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return Err(s3_error!(
                MissingContentLength,
                "You must provide the Content-Length HTTP header for a body over {max} bytes."
            ));
        }
        Err(e) => {
            tracing::debug!(error = %e, "chunked body cut short");
            return Err(s3_error!(
                IncompleteBody,
                "The request body ended before its last chunk."
            ));
        }
    };
    parts.headers.remove(http::header::TRANSFER_ENCODING);
    parts
        .headers
        .insert(http::header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    Ok(http::Request::from_parts(parts, s3s::Body::from(bytes)))
}

/// The response for a request refused by `before`.
pub fn refusal(err: S3Error) -> http::Response<s3s::Body> {
    let code = err.code().clone();
    match err.to_http_response() {
        Ok(resp) => resp,
        Err(_) => {
            let mut resp = http::Response::new(s3s::Body::from(code.as_str().to_string()));
            *resp.status_mut() = code.status_code().unwrap_or(http::StatusCode::BAD_REQUEST);
            resp
        }
    }
}

/// Adjusts a response: the request id header and, in an error body, `<RequestId>` and a
/// `<Message>` where s3s gave none; user metadata that s3s sent RFC 2047-encoded goes back to
/// the UTF-8 it was sent as.
pub fn after(resp: &mut http::Response<s3s::Body>, request_id: &str, asked: Asked) {
    if let Ok(v) = HeaderValue::from_str(request_id) {
        resp.headers_mut().insert("x-amz-request-id", v);
    }
    if resp.status().as_u16() >= 400 {
        add_message(resp, &asked);
        add_request_id(resp, request_id);
    } else if asked.attributes {
        unquote_attributes_etag(resp);
    } else if asked.head
        && resp.status() == http::StatusCode::OK
        && resp.headers().contains_key(http::header::CONTENT_RANGE)
    {
        // A HEAD of a range or a part is 206 as its GET is (s3s sets it for GetObject only).
        *resp.status_mut() = http::StatusCode::PARTIAL_CONTENT;
    }
    utf8_metadata(resp.headers_mut());
}

/// What a request asked, as far as [`after`] mends its answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Asked {
    /// GetObjectAttributes (`GET ?attributes`).
    attributes: bool,
    /// A HEAD request.
    head: bool,
    /// The first segment of the path (the bucket of a path-style request), decoded.
    first_segment: String,
}

impl Asked {
    pub fn of<B>(req: &http::Request<B>) -> Asked {
        let first = req.uri().path().trim_start_matches('/');
        let first = first.split('/').next().unwrap_or("");
        Asked {
            attributes: req.method() == Method::GET
                && has_param(req.uri().query().unwrap_or(""), "attributes"),
            head: req.method() == Method::HEAD,
            first_segment: percent_encoding::percent_decode_str(first)
                .decode_utf8_lossy()
                .into_owned(),
        }
    }
}

/// Gives an error answer that has no `<Message>` (s3s leaves some out: InvalidBucketName,
/// SignatureDoesNotMatch, ...) the words AWS answers with, so clients print more than "Unknown".
fn add_message(resp: &mut http::Response<s3s::Body>, asked: &Asked) {
    let Some(body) = resp.body().bytes() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(&body) else {
        return;
    };
    if text.contains("<Message>") {
        return;
    }
    let Some(code) = element(text, "Code") else {
        return;
    };
    let message = message_for(code, &asked.first_segment);
    let Some(at) = text.find("</Code>").map(|i| i + "</Code>".len()) else {
        return;
    };
    let new = format!(
        "{}<Message>{}</Message>{}",
        &text[..at],
        xml_escape(&message),
        &text[at..]
    );
    replace_body(resp, new);
}

/// The text of the first `<name>` element of `text`.
fn element<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let start = text.find(&open)? + open.len();
    let len = text[start..].find(&format!("</{name}>"))?;
    Some(&text[start..start + len])
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// AWS's message for an error `code` (`bucket`: the request's first path segment).
fn message_for(code: &str, bucket: &str) -> String {
    match code {
        "InvalidBucketName" => match bucket_name_problem(bucket) {
            Some(rule) => format!("The specified bucket is not valid: {rule}."),
            None => "The specified bucket is not valid.".to_string(),
        },
        "SignatureDoesNotMatch" => "The request signature we calculated does not match the \
            signature you provided. Check your key and signing method."
            .to_string(),
        "InvalidAccessKeyId" => {
            "The AWS Access Key Id you provided does not exist in our records.".to_string()
        }
        "AccessDenied" => "Access Denied".to_string(),
        "NoSuchBucket" => "The specified bucket does not exist".to_string(),
        "NoSuchKey" => "The specified key does not exist.".to_string(),
        "MethodNotAllowed" => {
            "The specified method is not allowed against this resource.".to_string()
        }
        "NotImplemented" => {
            "A header you provided implies functionality that is not implemented.".to_string()
        }
        "MissingContentLength" => "You must provide the Content-Length HTTP header.".to_string(),
        "RequestTimeTooSkewed" => {
            "The difference between the request time and the current time is too large.".to_string()
        }
        other => format!("The request was refused ({other})."),
    }
}

/// Which of S3's bucket naming rules `name` breaks, if any (the rules of
/// <https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html> that s3s
/// checks, in that page's words).
pub fn bucket_name_problem(name: &str) -> Option<String> {
    let len = name.chars().count();
    if !(3..=63).contains(&len) {
        return Some(format!(
            "bucket names must be between 3 and 63 characters long, {name:?} has {len}"
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '.' || *c == '-'))
    {
        return Some(format!(
            "bucket names can consist only of lowercase letters, numbers, dots and hyphens, \
             and {name:?} has {c:?}"
        ));
    }
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !alnum(name.chars().next()) || !alnum(name.chars().last()) {
        return Some(format!(
            "bucket names must begin and end with a letter or number, {name:?} does not"
        ));
    }
    if name.contains("..") {
        return Some(format!(
            "bucket names must not contain two adjacent periods, {name:?} does"
        ));
    }
    if name.contains("-.") {
        return Some(format!(
            "a hyphen in a bucket name must not be followed by a period, {name:?} has one"
        ));
    }
    if name.parse::<std::net::IpAddr>().is_ok() {
        return Some(format!(
            "bucket names must not be formatted as an IP address, {name:?} is"
        ));
    }
    if name.starts_with("xn--") {
        return Some(format!(
            "bucket names must not start with the prefix xn--, {name:?} does"
        ));
    }
    None
}

/// GetObjectAttributes: AWS writes the ETag without the quotes every other answer has; s3s
/// 0.14 quotes it like the others.
fn unquote_attributes_etag(resp: &mut http::Response<s3s::Body>) {
    let Some(body) = resp.body().bytes() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(&body) else {
        return;
    };
    let Some(new) = unquoted_etag(text) else {
        return;
    };
    replace_body(resp, new);
}

/// `text` with its first `<ETag>` element's quotes (`"` or `&quot;`) removed, if it has any.
fn unquoted_etag(text: &str) -> Option<String> {
    let start = text.find("<ETag>")? + "<ETag>".len();
    let len = text[start..].find("</ETag>")?;
    let value = &text[start..start + len];
    let bare = ["\"", "&quot;", "&#34;"]
        .iter()
        .find_map(|q| value.strip_prefix(q)?.strip_suffix(q))?;
    Some(format!("{}{bare}{}", &text[..start], &text[start + len..]))
}

/// Sets a new in-memory body, keeping `Content-Length` right.
fn replace_body(resp: &mut http::Response<s3s::Body>, new: String) {
    if resp.headers().contains_key(http::header::CONTENT_LENGTH) {
        resp.headers_mut()
            .insert(http::header::CONTENT_LENGTH, HeaderValue::from(new.len()));
    }
    *resp.body_mut() = s3s::Body::from(new);
}

fn add_request_id(resp: &mut http::Response<s3s::Body>, request_id: &str) {
    let Some(body) = resp.body().bytes() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(&body) else {
        return;
    };
    if text.contains("<RequestId>") || !request_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return;
    }
    let Some(at) = text.rfind("</Error>") else {
        return;
    };
    let new = format!(
        "{}<RequestId>{request_id}</RequestId>{}",
        &text[..at],
        &text[at..]
    );
    replace_body(resp, new);
}

fn utf8_metadata(headers: &mut HeaderMap) {
    let decoded: Vec<(http::HeaderName, HeaderValue)> = headers
        .iter()
        .filter(|(k, _)| k.as_str().starts_with("x-amz-meta-"))
        .filter_map(|(k, v)| {
            let text = decode_encoded_words(v.to_str().ok()?)?;
            Some((k.clone(), HeaderValue::from_bytes(text.as_bytes()).ok()?))
        })
        .collect();
    for (k, v) in decoded {
        headers.insert(k, v);
    }
}

/// The text of a header value made of RFC 2047 `=?UTF-8?B?...?=` words (as s3s writes them),
/// or `None` when it is not such a value.
fn decode_encoded_words(value: &str) -> Option<String> {
    if !value.starts_with("=?UTF-8?B?") {
        return None;
    }
    let mut bytes = Vec::new();
    for word in value.split(' ') {
        let b64 = word.strip_prefix("=?UTF-8?B?")?.strip_suffix("?=")?;
        bytes.extend(base64::engine::general_purpose::STANDARD.decode(b64).ok()?);
    }
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use s3s::S3ErrorCode;

    fn req(method: &str, uri: &str, headers: &[(&str, &str)]) -> http::Request<()> {
        let mut b = http::Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap_or_default()
    }

    #[test]
    fn the_object_attributes_etag_loses_its_quotes() {
        let xml = "<GetObjectAttributesOutput><ETag>&quot;abc&quot;</ETag>\
                   <ObjectSize>3</ObjectSize></GetObjectAttributesOutput>";
        assert_eq!(
            unquoted_etag(xml).as_deref(),
            Some(
                "<GetObjectAttributesOutput><ETag>abc</ETag>\
                 <ObjectSize>3</ObjectSize></GetObjectAttributesOutput>"
            )
        );
        assert_eq!(
            unquoted_etag("<X><ETag>\"d-2\"</ETag></X>").as_deref(),
            Some("<X><ETag>d-2</ETag></X>")
        );
        assert_eq!(unquoted_etag("<X><ETag>abc</ETag></X>"), None);
        assert_eq!(unquoted_etag("<X><ObjectSize>3</ObjectSize></X>"), None);
        assert!(Asked::of(&req("GET", "/b/k?attributes", &[])).attributes);
        assert!(!Asked::of(&req("GET", "/b/k?attributesx", &[])).attributes);
        assert!(!Asked::of(&req("PUT", "/b/k?attributes", &[])).attributes);
    }

    #[test]
    fn v2_bucket_root_gets_a_slash_and_bad_dates_are_refused() {
        let now = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc2822)
            .unwrap_or_default();
        let mut r = req(
            "PUT",
            "/bucket?acl",
            &[("authorization", "AWS a:b"), ("date", &now)],
        );
        assert!(before(&mut r).is_ok());
        assert_eq!(r.uri().to_string(), "/bucket/?acl");
        let mut r = req(
            "PUT",
            "/bucket/key",
            &[("authorization", "AWS a:b"), ("date", &now)],
        );
        assert!(before(&mut r).is_ok());
        assert_eq!(r.uri().path(), "/bucket/key");
        for (date, code) in [
            ("", S3ErrorCode::AccessDenied),
            ("Bad Date", S3ErrorCode::AccessDenied),
            ("Tue, 07 Jul 1950 21:53:04 GMT", S3ErrorCode::AccessDenied),
            (
                "Tue, 07 Jul 2010 21:53:04 GMT",
                S3ErrorCode::RequestTimeTooSkewed,
            ),
            (
                "Tue, 07 Jul 9999 21:53:04 GMT",
                S3ErrorCode::RequestTimeTooSkewed,
            ),
        ] {
            let mut r = req(
                "PUT",
                "/bucket",
                &[
                    ("authorization", "AWS a:b"),
                    ("date", &now),
                    ("x-amz-date", date),
                ],
            );
            let err = before(&mut r).err().map(|e| e.code().clone());
            assert_eq!(err, Some(code), "{date}");
        }
    }

    #[test]
    fn request_dates() {
        let at = |s: &str| {
            parse_request_date(s).and_then(|t| {
                t.duration_since(SystemTime::UNIX_EPOCH)
                    .ok()
                    .map(|d| d.as_secs())
            })
        };
        assert_eq!(at("Wed, 07 Jul 2010 21:53:04 GMT"), Some(1278539584));
        assert_eq!(at("Tue, 07 Jul 2010 21:53:04 GMT"), Some(1278539584));
        assert_eq!(at("Wed, 7 Jul 2010 21:53:04 -0000"), Some(1278539584));
        assert_eq!(at("Wed, 07 Jul 2010 23:53:04 +0200"), Some(1278539584));
        assert_eq!(at("20100707T215304Z"), Some(1278539584));
        assert_eq!(at("Bad Date"), None);
        assert_eq!(at(""), None);
    }

    #[test]
    fn v4_date_header_becomes_amz_date() {
        let mut r = req(
            "PUT",
            "/b/k",
            &[
                ("authorization", "AWS4-HMAC-SHA256 Credential=x"),
                ("date", "Mon, 23 Nov 2026 14:40:05 -0000"),
            ],
        );
        assert!(before(&mut r).is_ok());
        assert_eq!(
            r.headers().get("x-amz-date").map(|v| v.as_bytes()),
            Some(&b"20261123T144005Z"[..])
        );
    }

    #[test]
    fn presigned_expiry_limits() {
        let q = |e: &str| format!("/b/k?X-Amz-Expires={e}&X-Amz-Signature=ab");
        assert!(before(&mut req("GET", &q("3600"), &[])).is_ok());
        assert!(before(&mut req("GET", &q("-1"), &[])).is_err());
        assert!(before(&mut req("GET", &q("609901"), &[])).is_err());
    }

    #[test]
    fn encryption_and_md5_headers() {
        let refused = |m: &str, h: &[(&str, &str)]| before(&mut req(m, "/b/k", h)).is_err();
        assert!(refused("PUT", &[("content-md5", "")]));
        // SSE-C headers are the handlers' to check (`encryption`).
        assert!(!refused(
            "PUT",
            &[("x-amz-server-side-encryption-customer-algorithm", "AES256")]
        ));
        // SSE-KMS is the handlers' too; DSSE-KMS is refused here.
        assert!(!refused(
            "PUT",
            &[
                ("x-amz-server-side-encryption", "aws:kms"),
                ("x-amz-server-side-encryption-aws-kms-key-id", "k")
            ]
        ));
        assert!(refused(
            "PUT",
            &[("x-amz-server-side-encryption", "aws:kms:dsse")]
        ));
        assert!(refused(
            "PUT",
            &[("x-amz-server-side-encryption-aws-kms-key-id", "k")]
        ));
        assert!(refused(
            "GET",
            &[("x-amz-server-side-encryption", "AES256")]
        ));
        assert!(!refused(
            "PUT",
            &[("x-amz-server-side-encryption", "AES256")]
        ));
    }

    #[test]
    fn encoded_words_decode() {
        assert_eq!(
            decode_encoded_words("=?UTF-8?B?SGVsbG8gV29ybGTDqQ==?=").as_deref(),
            Some("Hello Worldé")
        );
        assert_eq!(decode_encoded_words("plain"), None);
    }

    #[test]
    fn error_answers_get_a_message_naming_what_is_wrong() {
        let mut resp = http::Response::new(s3s::Body::from(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>InvalidBucketName</Code></Error>"
                .to_string(),
        ));
        *resp.status_mut() = http::StatusCode::BAD_REQUEST;
        after(&mut resp, "rid1", Asked::of(&req("PUT", "/Bad_Name", &[])));
        let body = String::from_utf8(resp.body().bytes().unwrap_or_default().to_vec()).unwrap();
        assert!(
            body.contains("<Code>InvalidBucketName</Code><Message>The specified bucket is not valid: bucket names can consist only of lowercase letters"),
            "{body}"
        );
        assert!(body.contains("<RequestId>rid1</RequestId>"), "{body}");
        // A message s3s gave is kept.
        let mut resp = http::Response::new(s3s::Body::from(
            "<Error><Code>X</Code><Message>mine</Message></Error>".to_string(),
        ));
        *resp.status_mut() = http::StatusCode::BAD_REQUEST;
        after(&mut resp, "rid2", Asked::default());
        let body = String::from_utf8(resp.body().bytes().unwrap_or_default().to_vec()).unwrap();
        assert!(
            body.contains("<Message>mine</Message>") && !body.contains("refused"),
            "{body}"
        );
    }

    #[test]
    fn bucket_name_rules() {
        for (name, words) in [
            ("ab", "between 3 and 63"),
            ("Abc", "lowercase letters"),
            ("a_b", "lowercase letters"),
            ("-ab", "begin and end"),
            ("a..b", "two adjacent periods"),
            ("a-.b", "followed by a period"),
            ("192.168.5.4", "IP address"),
            ("xn--abc", "xn--"),
        ] {
            let got = bucket_name_problem(name).unwrap_or_default();
            assert!(got.contains(words), "{name}: {got}");
        }
        assert_eq!(bucket_name_problem("my.bucket-1"), None);
    }
}
