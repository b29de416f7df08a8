//! The Swift front end: a hyper service on its own listener (`swift_listen`) that speaks the
//! OpenStack Swift API (auth v1, account / container / object, large objects) over the same
//! protocol-neutral object service as S3. A Swift account is a Spread account and a Swift
//! container is the same thing as an S3 bucket, so objects written through one API are read,
//! listed and deleted through the other (`X-Object-Meta-Foo` ⇄ `x-amz-meta-foo`).
//!
//! One file per feature: `router` (paths, auth, dispatch, tracing span per request),
//! `auth` (tokens, ACLs), `info`, `account`, `container`, `object`, `listing` (text / JSON / XML),
//! `large` (DLO / SLO), `bulk` (bulk delete), `tempurl` (signed URLs without a token) and
//! `error` (the one mapping of gateway errors to Swift statuses).

mod account;
mod auth;
mod bulk;
mod container;
mod error;
mod heartbeat;
mod info;
mod large;
mod listing;
mod object;
mod router;
mod symlink;
mod tempurl;
mod version_listing;
mod versions;

pub use router::serve;

use std::collections::BTreeMap;
use std::pin::Pin;

use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt};
use http::{HeaderMap, HeaderValue, StatusCode};
use http_body_util::BodyExt;

use error::{SwiftError, SwiftResult};

/// Response body: a byte stream (object data) or a small in-memory answer.
pub type Body = http_body_util::combinators::UnsyncBoxBody<Bytes, crate::Error>;
pub type Response = http::Response<Body>;
/// A byte stream that only needs to be `Send` (segments of large objects are fetched lazily).
pub type ByteStream = Pin<Box<dyn Stream<Item = crate::Result<Bytes>> + Send>>;

/// Longest user metadata name, value, number of items and total size (Swift's defaults).
pub const MAX_META_NAME: usize = 128;
pub const MAX_META_VALUE: usize = 256;
pub const MAX_META_COUNT: usize = 90;
/// Most headers one request may carry on the Swift listener: the metadata ones and as many
/// others, so that a request over `MAX_META_COUNT` gets Swift's 400 rather than hyper's 431.
pub const MAX_REQUEST_HEADERS: usize = 2 * MAX_META_COUNT + 20;
pub const MAX_META_OVERALL: usize = 4096;
/// Largest single object (5 GiB + 2, as Swift), and the longest object name.
pub const MAX_FILE_SIZE: u64 = 5 * 1024 * 1024 * 1024 + 2;
pub const MAX_OBJECT_NAME: usize = 1024;
pub const MAX_CONTAINER_NAME: usize = 255;
pub const LISTING_LIMIT: u32 = 10_000;

fn full(data: impl Into<Bytes>) -> Body {
    http_body_util::Full::new(data.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

fn stream_body(s: ByteStream) -> Body {
    http_body_util::StreamBody::new(s.map_ok(hyper::body::Frame::data)).boxed_unsync()
}

/// A response with a status, headers and an in-memory body.
fn respond(status: StatusCode, headers: HeaderMap, body: impl Into<Bytes>) -> Response {
    let mut resp = http::Response::new(full(body));
    *resp.status_mut() = status;
    *resp.headers_mut() = headers;
    resp
}

/// Inserts a header if the value is valid header text (values come from stored metadata).
fn put_header(h: &mut HeaderMap, name: &str, value: &str) {
    if let (Ok(n), Ok(v)) = (
        http::HeaderName::from_bytes(name.as_bytes()),
        HeaderValue::from_str(value),
    ) {
        h.insert(n, v);
    }
}

/// A request header as text (None when absent or not UTF-8). Swift takes header values as
/// bytes, and its clients send names and metadata in UTF-8 (`X-Object-Meta-*`,
/// `X-Object-Manifest`, `Content-Disposition`...), so UTF-8 is text here, not only ASCII.
fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(header_text).map(str::trim)
}

/// A header value as UTF-8 text.
fn header_text(v: &HeaderValue) -> Option<&str> {
    std::str::from_utf8(v.as_bytes()).ok()
}

/// `quote()` as Python's urllib (and Swift) applies it: everything but letters, digits and
/// `_.-~/` percent-encoded, as UTF-8. Names Swift answers in headers (`X-Copied-From`) and
/// report lines (bulk delete, SLO errors) are written this way.
const QUOTE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'_')
    .remove(b'.')
    .remove(b'-')
    .remove(b'~')
    .remove(b'/');

fn quote(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, QUOTE).to_string()
}

/// Collects `<prefix>name: value` headers into metadata to set and names to remove
/// (`X-Remove-<kind>-Meta-Name`, or an empty value), enforcing Swift's metadata limits.
fn meta_updates(h: &HeaderMap, kind: &str) -> SwiftResult<(BTreeMap<String, String>, Vec<String>)> {
    let prefix = format!("x-{kind}-meta-");
    let remove_prefix = format!("x-remove-{kind}-meta-");
    let mut set = BTreeMap::new();
    let mut remove = Vec::new();
    let mut overall = 0;
    for (name, value) in h {
        let name = name.as_str();
        if let Some(n) = name.strip_prefix(&remove_prefix) {
            remove.push(n.to_string());
        } else if let Some(n) = name.strip_prefix(&prefix) {
            let value = header_text(value)
                .ok_or_else(|| SwiftError::bad_request("Metadata values must be UTF-8"))?
                .trim();
            if n.is_empty() {
                return Err(SwiftError::bad_request("Metadata name cannot be empty"));
            }
            if n.len() > MAX_META_NAME {
                return Err(SwiftError::bad_request(format!(
                    "Metadata name too long; max {MAX_META_NAME}"
                )));
            }
            if value.len() > MAX_META_VALUE {
                return Err(SwiftError::bad_request(format!(
                    "Metadata value longer than {MAX_META_VALUE}"
                )));
            }
            overall += n.len() + value.len();
            if value.is_empty() {
                remove.push(n.to_string());
            } else {
                set.insert(n.to_string(), value.to_string());
            }
        }
    }
    if set.len() > MAX_META_COUNT {
        return Err(SwiftError::bad_request(format!(
            "Too many metadata items; max {MAX_META_COUNT}"
        )));
    }
    if overall > MAX_META_OVERALL {
        return Err(SwiftError::bad_request(format!(
            "Total metadata too large; max {MAX_META_OVERALL}"
        )));
    }
    Ok((set, remove))
}

fn utc(ms: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

/// HTTP date (`Last-Modified`): `Mon, 02 Jan 2006 15:04:05 GMT`.
fn http_date(ms: i64) -> String {
    let fmt = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    utc(ms).format(&fmt).unwrap_or_default()
}

/// A container's or account's `Last-Modified`: rounded up to the next second, as Swift
/// answers it (so that it matches the listings' fractional `last_modified`, rounded up).
fn http_date_ceil(ms: i64) -> String {
    http_date(ms.div_euclid(1000) * 1000 + if ms.rem_euclid(1000) > 0 { 1000 } else { 0 })
}

/// Parses an HTTP date (IMF-fixdate, RFC 850 or asctime, as HTTP allows) into milliseconds.
fn parse_http_date(s: &str) -> Option<i64> {
    let t = httpdate::parse_http_date(s.trim()).ok()?;
    let d = t.duration_since(std::time::UNIX_EPOCH).ok()?;
    i64::try_from(d.as_millis()).ok()
}

/// Listing timestamp: `2006-01-02T15:04:05.000000`.
fn listing_date(ms: i64) -> String {
    let t = utc(ms);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

/// `X-Timestamp` / `X-Put-Timestamp`: seconds with five decimals.
fn x_timestamp(ms: i64) -> String {
    format!("{}.{:05}", ms.div_euclid(1000), ms.rem_euclid(1000) * 100)
}

/// Waits for the first piece of a stream, so a read that cannot start gets a clean error
/// status instead of a truncated 200.
async fn first_piece_ready(mut body: ByteStream) -> SwiftResult<ByteStream> {
    match body.next().await {
        None => Ok(Box::pin(futures::stream::empty())),
        Some(Err(e)) => Err(e.into()),
        Some(Ok(first)) => Ok(Box::pin(
            futures::stream::once(async move { Ok(first) }).chain(body),
        )),
    }
}
