//! Object requests: PUT (ETag check, chunked transfer, `X-Copy-From`, DLO manifests,
//! `?multipart-manifest=put`), GET (Range incl. multi-range, conditional headers), HEAD,
//! POST (replaces the metadata, keeps the data), DELETE, COPY (`Destination`), and
//! `X-Delete-At` / `X-Delete-After` (expired objects read as absent until meta's expirer
//! removes them). Data always goes through the object service's streaming writer and reader.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;

use crate::listener::ReqBody;
use bytes::Bytes;
use futures::StreamExt;
use http::{HeaderMap, Method, StatusCode};
use http_body_util::BodyExt;
use meta_api::wire::{ContainerInfo, ObjectRecord};

use super::error::{SwiftError, SwiftResult};
use super::large::{self, DLO_HEADER, SLO_HEADER, Source};
use super::router::{Ctx, Swift, account_container};
use super::symlink;
use super::versions;
use super::{
    ByteStream, MAX_FILE_SIZE, Response, first_piece_ready, header, http_date, meta_updates,
    parse_http_date, put_header, respond, stream_body, x_timestamp,
};
use crate::error::Error;
use crate::objects::{Digests, NewObject, ObjectAttrs, now_ms};

/// Standard headers stored verbatim with the object.
const KEPT_HEADERS: [&str; 2] = ["content-disposition", "content-encoding"];
const DELETE_AT: &str = "x-delete-at";

pub async fn handle(swift: &Arc<Swift>, ctx: Ctx, body: ReqBody) -> SwiftResult<Response> {
    let cname = ctx.container.clone().unwrap_or_default();
    let key = ctx.object.clone().unwrap_or_default();
    let read = matches!(ctx.method, Method::GET | Method::HEAD);
    let c = match account_container(swift, &ctx.account, &cname).await {
        Ok(c) => c,
        Err(e) if ctx.caller.may_see_missing(&ctx.account, &cname) => return Err(e),
        Err(_) => return Err(ctx.caller.denied()),
    };
    let allowed = if read {
        ctx.may_read(&c, false)
    } else {
        ctx.caller.may_write(&c)
    };
    if !allowed {
        return Err(ctx.caller.denied());
    }
    // A version is reached by id only by the account's owner (or a TempURL, signed with the
    // account's keys): container ACLs do not open older versions, as in Swift.
    if ctx.q("version-id").is_some()
        && !ctx.caller.owns(&ctx.account)
        && !matches!(ctx.caller, super::auth::Caller::TempUrl(_))
    {
        return Err(ctx.caller.denied());
    }
    match ctx.method {
        Method::GET | Method::HEAD => get(swift, &ctx, &c, &key).await,
        Method::PUT => put(swift, &ctx, &c, &key, body).await,
        Method::POST => post(swift, &ctx, &c, &key).await,
        Method::DELETE => delete(swift, &ctx, &c, &key).await,
        ref m if m.as_str() == "COPY" => copy_method(swift, &ctx, &c, &key).await,
        _ => Err(SwiftError::status(StatusCode::METHOD_NOT_ALLOWED)),
    }
}

/// The current, unexpired object `key` of `c`.
pub(super) async fn current(
    swift: &Swift,
    c: &ContainerInfo,
    key: &str,
) -> SwiftResult<ObjectRecord> {
    let rec = swift.svc.meta().get_object(&c.name, key).await?;
    let expired = rec
        .headers
        .get(DELETE_AT)
        .and_then(|s| s.parse::<i64>().ok())
        .is_some_and(|at| at * 1000 <= now_ms());
    if expired {
        return Err(SwiftError::not_found());
    }
    Ok(rec)
}

/// Headers describing an object (GET / HEAD).
fn object_headers(rec: &ObjectRecord, src: &Source) -> HeaderMap {
    let mut h = HeaderMap::new();
    put_header(
        &mut h,
        "content-type",
        rec.content_type
            .as_deref()
            .unwrap_or("application/octet-stream"),
    );
    put_header(&mut h, "etag", &src.etag_header());
    put_header(&mut h, "last-modified", &http_date(rec.mtime_ms));
    put_header(&mut h, "x-timestamp", &x_timestamp(rec.mtime_ms));
    put_header(&mut h, "accept-ranges", "bytes");
    for name in KEPT_HEADERS.iter().chain([&DELETE_AT, &DLO_HEADER]) {
        if let Some(v) = rec.headers.get(*name) {
            put_header(&mut h, name, v);
        }
    }
    if rec.headers.get(SLO_HEADER).is_some_and(|v| v == "true") {
        put_header(&mut h, SLO_HEADER, "True");
    }
    for (k, v) in &rec.user_meta {
        put_header(&mut h, &format!("x-object-meta-{k}"), v);
    }
    versions::version_header(&mut h, rec);
    symlink::link_headers(&mut h, rec);
    h
}

/// If-Match / If-None-Match / If-Modified-Since / If-Unmodified-Since.
fn check_conditions(ctx: &Ctx, etag: &str, mtime_ms: i64) -> SwiftResult<()> {
    let matches = |list: &str| {
        list.split(',')
            .map(|t| t.trim().trim_start_matches("W/").trim_matches('"'))
            .any(|t| t == "*" || t == etag)
    };
    let secs = mtime_ms.div_euclid(1000);
    if let Some(m) = header(&ctx.headers, "if-match")
        && !matches(m)
    {
        return Err(SwiftError::status(StatusCode::PRECONDITION_FAILED));
    }
    // Checked also when If-Match matched, as Swift does.
    if let Some(t) = header(&ctx.headers, "if-unmodified-since").and_then(parse_http_date)
        && secs > t.div_euclid(1000)
    {
        return Err(SwiftError::status(StatusCode::PRECONDITION_FAILED));
    }
    let not_modified = if let Some(m) = header(&ctx.headers, "if-none-match") {
        matches(m)
    } else if let Some(t) = header(&ctx.headers, "if-modified-since").and_then(parse_http_date) {
        secs <= t.div_euclid(1000)
    } else {
        false
    };
    if not_modified {
        return Err(Error::NotModified.into());
    }
    Ok(())
}

/// Parses `Range: bytes=a-b,c-,-n` against `size`. `Ok(None)`: no usable Range header (the
/// whole object is answered, as Swift does for malformed ranges); an error when every range
/// is unsatisfiable.
fn parse_ranges(spec: Option<&str>, size: u64) -> SwiftResult<Option<Vec<Range<u64>>>> {
    let Some(spec) = spec else {
        return Ok(None);
    };
    // Whitespace may stand around the `=` (HTTP's optional whitespace).
    let spec = spec.trim();
    let unit = spec.get(..5).filter(|u| u.eq_ignore_ascii_case("bytes"));
    let Some(list) = unit.and_then(|_| spec[5..].trim_start().strip_prefix('=')) else {
        return Ok(None);
    };
    let mut out = Vec::new();
    let mut any = false;
    for part in list.split(',').map(str::trim) {
        let Some((a, b)) = part.split_once('-') else {
            return Ok(None);
        };
        let (a, b) = (a.trim(), b.trim());
        let range = if a.is_empty() {
            let Ok(n) = b.parse::<u64>() else {
                return Ok(None);
            };
            any = true;
            if n == 0 {
                continue;
            }
            size.saturating_sub(n)..size
        } else {
            let Ok(start) = a.parse::<u64>() else {
                return Ok(None);
            };
            let end = if b.is_empty() {
                size
            } else {
                match b.parse::<u64>() {
                    Ok(e) if e >= start => (e + 1).min(size),
                    _ => return Ok(None),
                }
            };
            any = true;
            if start >= size {
                continue;
            }
            start..end
        };
        if range.start < range.end {
            out.push(range);
        }
    }
    if !any {
        return Ok(None);
    }
    if out.is_empty() {
        return Err(SwiftError::status(StatusCode::RANGE_NOT_SATISFIABLE));
    }
    Ok(Some(out))
}

async fn get(swift: &Swift, ctx: &Ctx, c: &ContainerInfo, key: &str) -> SwiftResult<Response> {
    let rec = match ctx.q("version-id") {
        Some(id) => {
            let rec = swift
                .svc
                .meta()
                .get_object_version(&c.name, key, Some(id))
                .await?;
            if rec.delete_marker {
                // Swift names the marker in its 404.
                let e = SwiftError::not_found();
                let mut h = HeaderMap::new();
                put_header(&mut h, "x-object-version-id", &rec.version_id);
                put_header(&mut h, "content-type", versions::DELETED_TYPE);
                return Ok(respond(e.status, h, e.body));
            }
            rec
        }
        None => current(swift, c, key).await?,
    };
    // A symlink answers its target (`?symlink=get`: itself), naming it in Content-Location.
    let mut link_target = None;
    let rec = if symlink::is_link(&rec) && !symlink::link_itself(ctx) {
        let (target, path) = symlink::resolve(swift, ctx, rec).await?;
        link_target = path;
        target
    } else {
        rec
    };
    let manifest = ctx.q("multipart-manifest") == Some("get");
    let src = if ctx.method == Method::HEAD && !manifest {
        large::head_source(swift, ctx, rec.clone()).await?
    } else {
        large::source(swift, ctx, rec.clone(), manifest).await?
    };
    let mut h = object_headers(&rec, &src);
    if let Some(path) = &link_target {
        put_header(&mut h, "content-location", path);
    } else if ctx.q("version-id").is_none() && !matches!(rec.version_id.as_str(), "" | "null") {
        // The current version has an id: where it is read by id, as Swift answers.
        let path = super::quote(&format!("/v1/AUTH_{}/{}/{key}", ctx.account, c.name));
        let location = format!("{path}?version-id={}", rec.version_id);
        put_header(&mut h, "content-location", &location);
    }
    let slo = rec.headers.get(SLO_HEADER).is_some_and(|v| v == "true");
    if manifest && slo && ctx.q("format") == Some("raw") {
        // The manifest as a client would PUT it, with the object's own Content-Type.
        let body = large::raw_manifest(swift, &rec).await?;
        put_header(
            &mut h,
            "etag",
            &hex::encode(<md5::Md5 as md5::Digest>::digest(&body)),
        );
        put_header(&mut h, "content-length", &body.len().to_string());
        return Ok(respond(StatusCode::OK, h, body));
    }
    if manifest && slo {
        // The manifest itself, as Swift answers it: JSON.
        put_header(&mut h, "content-type", "application/json; charset=utf-8");
    }
    // `?part-number=N` reads one part of an SLO (ignored on other objects, as in Swift).
    let part_number = if slo && !manifest {
        put_header(&mut h, "x-manifest-etag", &rec.etag);
        large::part_number(ctx)?
    } else {
        None
    };
    if let Err(e) = check_conditions(ctx, src.etag(), rec.mtime_ms) {
        // 304 and 412 still describe the object (ETag, Last-Modified), as Swift answers.
        let mut eh = HeaderMap::new();
        for name in ["etag", "last-modified", "x-timestamp", "accept-ranges"] {
            if let Some(v) = h.get(name) {
                eh.insert(name, v.clone());
            }
        }
        if !e.body.is_empty() {
            put_header(&mut eh, "content-type", "text/html; charset=UTF-8");
        }
        return Ok(respond(e.status, eh, e.body));
    }
    let size = src.size();
    if let Some(n) = part_number {
        return part_response(swift, ctx, &rec, h, &src, n).await;
    }
    if ctx.method == Method::HEAD {
        put_header(&mut h, "content-length", &size.to_string());
        return Ok(respond(StatusCode::OK, h, ""));
    }
    // A DLO answers several ranges with the whole object (200), as Swift does.
    let range_header = header(&ctx.headers, "range")
        .filter(|r| !(r.contains(',') && rec.headers.contains_key(DLO_HEADER) && !manifest));
    let ranges = match parse_ranges(range_header, size) {
        Ok(r) => r,
        Err(e) => {
            let mut eh = HeaderMap::new();
            put_header(&mut eh, "content-range", &format!("bytes */{size}"));
            put_header(&mut eh, "etag", &src.etag_header());
            put_header(&mut eh, "accept-ranges", "bytes");
            put_header(&mut eh, "content-type", "text/html; charset=UTF-8");
            return Ok(respond(e.status, eh, e.body));
        }
    };
    match ranges {
        None => {
            put_header(&mut h, "content-length", &size.to_string());
            let body = if size == 0 {
                Box::pin(futures::stream::empty()) as ByteStream
            } else {
                first_piece_ready(src.stream(&swift.svc, 0..size)).await?
            };
            let mut resp = http::Response::new(stream_body(body));
            *resp.headers_mut() = h;
            Ok(resp)
        }
        Some(ranges) if ranges.len() == 1 => {
            let r = ranges[0].clone();
            put_header(
                &mut h,
                "content-range",
                &format!("bytes {}-{}/{size}", r.start, r.end - 1),
            );
            put_header(&mut h, "content-length", &(r.end - r.start).to_string());
            let body = first_piece_ready(src.stream(&swift.svc, r)).await?;
            let mut resp = http::Response::new(stream_body(body));
            *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
            *resp.headers_mut() = h;
            Ok(resp)
        }
        Some(ranges) => multi_range(swift, h, src, ranges, size),
    }
}

/// Part `n` of an SLO (`?part-number=N`), as Swift answers it: 206 with the part's bytes,
/// `Content-Range` (where they lie in the whole object) and `X-Parts-Count`, also for HEAD; 416
/// for a part beyond the last.
async fn part_response(
    swift: &Swift,
    ctx: &Ctx,
    rec: &ObjectRecord,
    mut h: HeaderMap,
    src: &Source,
    n: usize,
) -> SwiftResult<Response> {
    let size = src.size();
    let (count, range) = large::part(swift, rec, n).await?;
    put_header(&mut h, "x-parts-count", &count.to_string());
    let head = ctx.method == Method::HEAD;
    let Some(r) = range else {
        put_header(&mut h, "content-range", &format!("bytes */{size}"));
        let body = if head {
            ""
        } else {
            "The requested part number is not satisfiable"
        };
        put_header(&mut h, "content-length", &body.len().to_string());
        return Ok(respond(StatusCode::RANGE_NOT_SATISFIABLE, h, body));
    };
    put_header(
        &mut h,
        "content-range",
        &format!("bytes {}-{}/{size}", r.start, r.end.saturating_sub(1)),
    );
    put_header(&mut h, "content-length", &(r.end - r.start).to_string());
    let body = if head || r.is_empty() {
        Box::pin(futures::stream::empty()) as ByteStream
    } else {
        first_piece_ready(src.stream(&swift.svc, r)).await?
    };
    let mut resp = http::Response::new(stream_body(body));
    *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
    *resp.headers_mut() = h;
    Ok(resp)
}

/// A `multipart/byteranges` answer; each part is streamed when the client gets to it.
fn multi_range(
    swift: &Swift,
    mut h: HeaderMap,
    src: Source,
    ranges: Vec<Range<u64>>,
    size: u64,
) -> SwiftResult<Response> {
    let boundary = crate::objects::random_hex(16);
    let ct = header(&h, "content-type")
        .unwrap_or("application/octet-stream")
        .to_string();
    let heads: Vec<String> = ranges
        .iter()
        .map(|r| {
            format!(
                "--{boundary}\r\nContent-Type: {ct}\r\nContent-Range: bytes {}-{}/{size}\r\n\r\n",
                r.start,
                r.end - 1
            )
        })
        .collect();
    let tail = format!("\r\n--{boundary}--");
    let length: u64 = heads.iter().map(|s| s.len() as u64).sum::<u64>()
        + ranges.iter().map(|r| r.end - r.start).sum::<u64>()
        + 2 * (ranges.len() as u64 - 1)
        + tail.len() as u64;
    put_header(
        &mut h,
        "content-type",
        &format!("multipart/byteranges;boundary={boundary}"),
    );
    put_header(&mut h, "content-length", &length.to_string());
    let svc = swift.svc.clone();
    let src = std::sync::Arc::new(src);
    let parts = heads
        .into_iter()
        .zip(ranges)
        .enumerate()
        .map(move |(i, (head, r))| {
            let sep = if i == 0 { head } else { format!("\r\n{head}") };
            let data = src.stream(&svc, r);
            futures::stream::once(async move { Ok(Bytes::from(sep)) }).chain(data)
        });
    let body: ByteStream = Box::pin(
        futures::stream::iter(parts)
            .flatten()
            .chain(futures::stream::once(async move { Ok(Bytes::from(tail)) })),
    );
    let mut resp = http::Response::new(stream_body(body));
    *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
    *resp.headers_mut() = h;
    Ok(resp)
}

/// `X-Delete-At` / `X-Delete-After` of a request, as unix seconds (400 when in the past).
fn delete_at(h: &HeaderMap) -> SwiftResult<Option<String>> {
    let now = now_ms() / 1000;
    if let Some(v) = header(h, "x-delete-at") {
        let at: i64 = v
            .parse()
            .map_err(|_| SwiftError::bad_request("Non-integer X-Delete-At"))?;
        if at <= now {
            return Err(SwiftError::bad_request("X-Delete-At in past"));
        }
        return Ok(Some(at.to_string()));
    }
    if let Some(v) = header(h, "x-delete-after") {
        let after: i64 = v
            .parse()
            .ok()
            .filter(|a: &i64| *a >= 0)
            .ok_or_else(|| SwiftError::bad_request("Non-integer X-Delete-After"))?;
        return Ok(Some((now + after.max(1)).to_string()));
    }
    Ok(None)
}

/// Attributes of a new object from the request headers.
fn attrs_from(h: &HeaderMap) -> SwiftResult<ObjectAttrs> {
    let (user_meta, _) = meta_updates(h, "object")?;
    let mut headers = BTreeMap::new();
    for name in KEPT_HEADERS {
        if let Some(v) = header(h, name) {
            headers.insert(name.to_string(), v.to_string());
        }
    }
    if let Some(at) = delete_at(h)? {
        headers.insert(DELETE_AT.to_string(), at);
    }
    if let Some(m) = header(h, DLO_HEADER) {
        if !m.trim_start_matches('/').contains('/') {
            return Err(SwiftError::bad_request(
                "X-Object-Manifest must be in the format container/prefix",
            ));
        }
        headers.insert(DLO_HEADER.to_string(), m.to_string());
    }
    Ok(ObjectAttrs {
        content_type: header(h, "content-type")
            .filter(|t| !t.is_empty())
            .map(str::to_string),
        headers,
        user_meta,
        props: Default::default(),
    })
}

/// The media type of an object name's extension (the common ones, as Python's `mimetypes`
/// names them, which Swift uses), else `application/octet-stream`.
fn guess_content_type(name: &str) -> &'static str {
    let ext = match name.rsplit_once('.') {
        Some((_, e)) if !e.contains('/') => e.to_ascii_lowercase(),
        _ => return "application/octet-stream",
    };
    match ext.as_str() {
        "txt" | "text" | "log" => "text/plain",
        "htm" | "html" => "text/html",
        "css" => "text/css",
        "csv" => "text/csv",
        "xml" => "text/xml",
        "md" => "text/markdown",
        "js" | "mjs" => "text/javascript",
        "json" => "application/json",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "gz" | "tgz" => "application/gzip",
        "tar" => "application/x-tar",
        "bz2" => "application/x-bzip2",
        "xz" => "application/x-xz",
        "doc" => "application/msword",
        "xls" => "application/vnd.ms-excel",
        "ppt" => "application/vnd.ms-powerpoint",
        "wasm" => "application/wasm",
        "png" => "image/png",
        "jpg" | "jpeg" | "jpe" => "image/jpeg",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        "webp" => "image/webp",
        "ico" => "image/vnd.microsoft.icon",
        "tif" | "tiff" => "image/tiff",
        "bmp" => "image/bmp",
        "wav" => "audio/x-wav",
        "mp3" => "audio/mpeg",
        "ogg" => "audio/ogg",
        "flac" => "audio/flac",
        "mp4" => "video/mp4",
        "mpeg" | "mpg" => "video/mpeg",
        "webm" => "video/webm",
        "mov" => "video/quicktime",
        "avi" => "video/x-msvideo",
        _ => "application/octet-stream",
    }
}

fn created(rec: &ObjectRecord, extra: &[(&str, String)]) -> Response {
    let mut h = HeaderMap::new();
    put_header(&mut h, "etag", &rec.etag);
    put_header(&mut h, "last-modified", &http_date(rec.mtime_ms));
    put_header(&mut h, "content-type", "text/html; charset=UTF-8");
    for (k, v) in extra {
        put_header(&mut h, k, v);
    }
    versions::version_header(&mut h, rec);
    respond(StatusCode::CREATED, h, "")
}

async fn put(
    swift: &Arc<Swift>,
    ctx: &Ctx,
    c: &ContainerInfo,
    key: &str,
    body: ReqBody,
) -> SwiftResult<Response> {
    if let Some(id) = ctx.q("version-id") {
        return put_version_id(swift, ctx, c, key, id).await;
    }
    let condition = put_condition(ctx)?;
    // Checked before any work (reading a manifest's segments, archiving the current version);
    // meta checks it again when the object is committed.
    if condition.if_none_match_any && current(swift, c, key).await.is_ok() {
        return Err(SwiftError::status(StatusCode::PRECONDITION_FAILED));
    }
    if let Some(from) = header(&ctx.headers, "x-copy-from") {
        let decoded = percent_encoding::percent_decode_str(from)
            .decode_utf8()
            .map_err(|_| {
                SwiftError::with(StatusCode::PRECONDITION_FAILED, "Invalid X-Copy-From")
            })?;
        let Some((sc, sk)) = large::split_path(&decoded) else {
            return Err(SwiftError::with(
                StatusCode::PRECONDITION_FAILED,
                "X-Copy-From header must be of the form <container name>/<object name>",
            ));
        };
        return copy(swift, ctx, (&sc, &sk), c, key).await;
    }
    let chunked = header(&ctx.headers, "transfer-encoding")
        .is_some_and(|t| t.to_ascii_lowercase().contains("chunked"));
    match header(&ctx.headers, "content-length").map(str::parse::<u64>) {
        Some(Ok(n)) if n > MAX_FILE_SIZE => {
            return Err(SwiftError::status(StatusCode::PAYLOAD_TOO_LARGE));
        }
        Some(Ok(_)) => {}
        Some(Err(_)) => return Err(SwiftError::bad_request("Invalid Content-Length")),
        None if chunked => {}
        None => return Err(SwiftError::status(StatusCode::LENGTH_REQUIRED)),
    }
    let mut attrs = attrs_from(&ctx.headers)?;
    if ctx.headers.contains_key(symlink::TARGET) {
        return put_link(swift, ctx, c, key, attrs, condition, body).await;
    }
    let detect = header(&ctx.headers, "x-detect-content-type")
        .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "yes" | "on"));
    if attrs.content_type.is_none() || detect {
        // No Content-Type: guessed from the name's extension, as Swift does.
        attrs.content_type = Some(guess_content_type(key).to_string());
    }
    if ctx.q("multipart-manifest") == Some("put") {
        return large::put_slo(swift, ctx, c, key, attrs, condition, body).await;
    }
    let want_etag = header(&ctx.headers, "etag").map(|e| e.trim_matches('"').to_ascii_lowercase());
    let policy = swift.svc.resolve_policy(c, None).await?;
    versions::before_overwrite(swift, ctx, c, key).await?;
    let mut received = 0u64;
    let stream = body.into_data_stream().map(move |piece| {
        let piece = piece.map_err(|e| Error::Body(e.to_string()))?;
        received += piece.len() as u64;
        if received > MAX_FILE_SIZE {
            return Err(Error::Body("object larger than max_file_size".to_string()));
        }
        Ok(piece)
    });
    let rec = swift
        .svc
        .put_object(
            c,
            NewObject {
                condition,
                ..NewObject::new(key, policy, attrs).with_default_encryption(c)
            },
            Box::pin(stream),
            Digests::new(None),
            |_, values| match &want_etag {
                Some(e) if *e != hex::encode(values.md5) => Err(Error::BadDigest(format!(
                    "ETag {e} does not match the body"
                ))),
                _ => Ok(()),
            },
        )
        .await?;
    Ok(created(&rec, &[]))
}

/// A symlink PUT: a zero-byte object holding its target (see [`symlink`]).
async fn put_link(
    swift: &Swift,
    ctx: &Ctx,
    c: &ContainerInfo,
    key: &str,
    mut attrs: ObjectAttrs,
    condition: meta_api::wire::PutCondition,
    body: ReqBody,
) -> SwiftResult<Response> {
    let empty = || SwiftError::bad_request("Symlink requests require a zero byte body");
    match header(&ctx.headers, "content-length").map(str::parse::<u64>) {
        Some(Ok(0)) => {}
        Some(_) => return Err(empty()),
        // Chunked: whatever comes must be nothing.
        None => {
            large::small_body(body, 0).await.map_err(|_| empty())?;
        }
    }
    symlink::prepare_put(swift, ctx, c, key, &mut attrs).await?;
    let policy = swift.svc.resolve_policy(c, None).await?;
    versions::before_overwrite(swift, ctx, c, key).await?;
    let nothing = futures::stream::empty::<Result<Bytes, std::io::Error>>();
    let rec = swift
        .svc
        .put_object(
            c,
            NewObject {
                condition,
                ..NewObject::new(key, policy, attrs)
            },
            nothing,
            Digests::new(None),
            |_, _| Ok(()),
        )
        .await?;
    Ok(created(&rec, &[]))
}

/// `PUT ?version-id=ID` (Swift: make that version the latest again, with an empty body).
/// Checked as Swift does (`null` or a malformed id: 400; a body: 400; no such version: 404);
/// making an older version current without writing a new one needs a meta operation Spread
/// does not have yet, so an existing version answers 501 and nothing is written.
async fn put_version_id(
    swift: &Swift,
    ctx: &Ctx,
    c: &ContainerInfo,
    key: &str,
    id: &str,
) -> SwiftResult<Response> {
    // Swift's version ids are timestamps (`1234567890.12345`): well formed, but never one of
    // Spread's (16 hex digits), so no such version.
    let swift_form = !id.is_empty()
        && id.chars().all(|ch| ch.is_ascii_digit() || ch == '.')
        && id.chars().filter(|ch| *ch == '.').count() <= 1
        && id.chars().any(|ch| ch.is_ascii_digit());
    if id == "null" || id.is_empty() {
        return Err(SwiftError::bad_request("Invalid version parameter"));
    }
    match header(&ctx.headers, "content-length").map(str::parse::<u64>) {
        Some(Ok(0)) => {}
        Some(Ok(_)) => {
            return Err(SwiftError::bad_request(
                "PUT version-id requests require a zero byte body",
            ));
        }
        Some(Err(_)) => return Err(SwiftError::bad_request("Invalid Content-Length")),
        None => return Err(SwiftError::status(StatusCode::LENGTH_REQUIRED)),
    }
    let missing = || {
        SwiftError::with(
            StatusCode::NOT_FOUND,
            "The specified version does not exist",
        )
    };
    if swift_form {
        return Err(missing());
    }
    match swift
        .svc
        .meta()
        .get_object_version(&c.name, key, Some(id))
        .await
    {
        Ok(rec) if !rec.delete_marker => Err(SwiftError::with(
            StatusCode::NOT_IMPLEMENTED,
            "Making an older version the latest (PUT ?version-id=) is not supported",
        )),
        Ok(_) | Err(meta_api::Error::NoSuchVersion(_) | meta_api::Error::NoSuchObject(_)) => {
            Err(missing())
        }
        Err(meta_api::Error::InvalidArgument(_)) => {
            Err(SwiftError::bad_request("Invalid version parameter"))
        }
        Err(e) => Err(e.into()),
    }
}

/// `If-None-Match` on a PUT: only `*` (there must be no current object, else 412), as Swift;
/// any other value is a 400.
fn put_condition(ctx: &Ctx) -> SwiftResult<meta_api::wire::PutCondition> {
    let mut cond = meta_api::wire::PutCondition::default();
    if let Some(v) = ctx.headers.get(http::header::IF_NONE_MATCH) {
        let any = v
            .to_str()
            .is_ok_and(|v| v.split(',').any(|t| t.trim() == "*"));
        if !any {
            return Err(SwiftError::bad_request("If-None-Match only supports *"));
        }
        cond.if_none_match_any = true;
    }
    Ok(cond)
}

/// Copies object `sk` of container `sc` (names decoded) into `c`/`key`: source metadata plus
/// the request's (unless `X-Fresh-Metadata`); a large object is copied assembled unless
/// `?multipart-manifest=get`. The answer names the source in `X-Copied-From`, URL-encoded as
/// Swift does.
async fn copy(
    swift: &Swift,
    ctx: &Ctx,
    (sc, sk): (&str, &str),
    c: &ContainerInfo,
    key: &str,
) -> SwiftResult<Response> {
    let source_c = match account_container(swift, &ctx.account, sc).await {
        Ok(s) if ctx.may_read(&s, false) => s,
        Ok(_) => return Err(ctx.caller.denied()),
        Err(e) => return Err(e),
    };
    // `?version-id=` names the version copied (COPY); a symlink copies its target unless
    // `?symlink=get`.
    let rec = match ctx.q("version-id") {
        Some(id) => {
            let r = swift
                .svc
                .meta()
                .get_object_version(&source_c.name, sk, Some(id))
                .await?;
            if r.delete_marker {
                return Err(SwiftError::not_found());
            }
            r
        }
        None => current(swift, &source_c, sk).await?,
    };
    let rec = if symlink::is_link(&rec) && !symlink::link_itself(ctx) {
        symlink::resolve(swift, ctx, rec).await?.0
    } else {
        rec
    };
    let request = attrs_from(&ctx.headers)?;
    let fresh =
        header(&ctx.headers, "x-fresh-metadata").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let mut attrs = if fresh {
        ObjectAttrs::default()
    } else {
        ObjectAttrs::of(&rec)
    };
    attrs.user_meta.extend(request.user_meta);
    attrs.headers.extend(request.headers);
    if request.content_type.is_some() {
        attrs.content_type = request.content_type;
    }
    let manifest = ctx.q("multipart-manifest") == Some("get");
    let src = large::source(swift, ctx, rec.clone(), manifest).await?;
    // `?part-number=N` copies that part of an SLO only, as Swift's copy reads its source.
    let mut range = 0..src.size();
    if let (Source::Large { .. }, true) = (
        &src,
        rec.headers.get(SLO_HEADER).is_some_and(|v| v == "true"),
    ) && let Some(n) = large::part_number(ctx)?
    {
        range = match large::part(swift, &rec, n).await? {
            (_, Some(r)) => r,
            (_, None) => {
                return Err(SwiftError::with(
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    "The requested part number is not satisfiable",
                ));
            }
        };
    }
    let policy = swift.svc.resolve_policy(c, None).await?;
    versions::before_overwrite(swift, ctx, c, key).await?;
    let copied_from = super::quote(&format!("{sc}/{sk}"));
    // A `Range` on the copy copies those bytes only (one range; several, or a malformed one,
    // copy the whole object, as a GET would answer it).
    if let Some(r) = header(&ctx.headers, "range")
        && let Some(mut ranges) = parse_ranges(Some(r), src.size())?
        && ranges.len() == 1
    {
        range = ranges.remove(0);
    }
    let whole = range == (0..src.size());
    let new = match &src {
        Source::Plain(r) if whole => {
            swift
                .svc
                .copy_object(
                    r,
                    None,
                    c,
                    NewObject::new(key, policy, attrs)
                        .keeping_encryption_of(r)
                        .with_default_encryption(c),
                )
                .await?
        }
        _ => {
            attrs.headers.remove(SLO_HEADER);
            attrs.headers.remove(DLO_HEADER);
            attrs.headers.retain(|k, _| !k.starts_with("x-slo-"));
            let body = src.stream(&swift.svc, range);
            swift
                .svc
                .put_object(
                    c,
                    NewObject::new(key, policy, attrs).with_default_encryption(c),
                    body,
                    Digests::new(None),
                    |_, _| Ok(()),
                )
                .await?
        }
    };
    Ok(created(
        &new,
        &[
            ("x-copied-from", copied_from),
            ("x-copied-from-last-modified", http_date(rec.mtime_ms)),
        ],
    ))
}

/// `COPY` with `Destination: /container/object`.
async fn copy_method(
    swift: &Swift,
    ctx: &Ctx,
    c: &ContainerInfo,
    key: &str,
) -> SwiftResult<Response> {
    let Some(dest) = header(&ctx.headers, "destination") else {
        return Err(SwiftError::with(
            StatusCode::PRECONDITION_FAILED,
            "You must provide a Destination header",
        ));
    };
    let decoded = percent_encoding::percent_decode_str(dest)
        .decode_utf8()
        .map_err(|_| SwiftError::with(StatusCode::PRECONDITION_FAILED, "Invalid Destination"))?;
    let Some((dc, dk)) = large::split_path(&decoded) else {
        return Err(SwiftError::with(
            StatusCode::PRECONDITION_FAILED,
            "Destination header must be of the form <container name>/<object name>",
        ));
    };
    let dest_c = match account_container(swift, &ctx.account, &dc).await {
        Ok(d) if ctx.caller.may_write(&d) => d,
        Ok(_) => return Err(ctx.caller.denied()),
        Err(e) => return Err(e),
    };
    copy(swift, ctx, (&c.name, key), &dest_c, &dk).await
}

/// POST: replaces the user metadata (and Content-Type, X-Delete-At, X-Object-Manifest when
/// given); the data is kept.
async fn post(swift: &Swift, ctx: &Ctx, c: &ContainerInfo, key: &str) -> SwiftResult<Response> {
    if ctx.headers.contains_key(symlink::TARGET) {
        return Err(SwiftError::bad_request(
            "A PUT request is required to set a symlink target",
        ));
    }
    let mut rec = current(swift, c, key).await?;
    let new = attrs_from(&ctx.headers)?;
    rec.user_meta = new.user_meta;
    if let Some(ct) = new.content_type {
        rec.content_type = Some(ct);
    }
    // A POST without X-Object-Manifest makes a DLO manifest a plain object (Swift's rule:
    // the manifest header is metadata a POST replaces).
    rec.headers.remove(DLO_HEADER);
    for (k, v) in new.headers {
        rec.headers.insert(k, v);
    }
    if ctx.headers.contains_key("x-remove-delete-at") {
        rec.headers.remove(DELETE_AT);
    }
    rec.mtime_ms = now_ms();
    // Compare-and-swap: a PUT that replaced the object meanwhile wins (412 here). The
    // version is rewritten in place, as Swift's POST: no new version in a versioned container.
    let cond = meta_api::wire::PutCondition {
        if_content_id: Some(rec.content_id.clone()),
        in_place: true,
        ..Default::default()
    };
    swift.svc.meta().put_object_if(&c.name, &rec, &cond).await?;
    if symlink::is_link(&rec) {
        return Ok(symlink::post_redirect(&rec, &ctx.account));
    }
    let mut h = HeaderMap::new();
    put_header(&mut h, "content-type", "text/html; charset=UTF-8");
    Ok(respond(StatusCode::ACCEPTED, h, ""))
}

async fn delete(swift: &Swift, ctx: &Ctx, c: &ContainerInfo, key: &str) -> SwiftResult<Response> {
    let version = ctx.q("version-id");
    if ctx.q("multipart-manifest") == Some("delete") {
        // `&version-id=`: that version of the manifest (and its segments).
        let rec = match version {
            Some(id) => {
                swift
                    .svc
                    .meta()
                    .get_object_version(&c.name, key, Some(id))
                    .await?
            }
            None => current(swift, c, key).await?,
        };
        if !rec.delete_marker && rec.headers.get(SLO_HEADER).is_some_and(|v| v == "true") {
            return large::delete_slo(swift, ctx, c, &rec, version).await;
        }
    }
    // `version-id=null` in a container without object versioning is a plain DELETE (Swift
    // hands it on to the rest of its pipeline: versioned writes still restore or archive).
    let plain_null = version == Some("null")
        && swift.svc.meta().get_versioning(&c.name).await?
            == meta_api::wire::Versioning::Unversioned;
    if let Some(id) = version.filter(|_| !plain_null) {
        let done = swift
            .svc
            .meta()
            .delete_version(&c.name, key, Some(id), false)
            .await?;
        let mut h = HeaderMap::new();
        if let Some(v) = done.version_id.filter(|v| v != "null") {
            put_header(&mut h, "x-object-version-id", &v);
        }
        return Ok(respond(StatusCode::NO_CONTENT, h, ""));
    }
    // The delete marker a versioned container gets, named in the answer (also a 404's).
    let mut marker_id = None;
    let found = match versions::delete(swift, ctx, c, key).await? {
        Some(found) => found,
        None => {
            // In a versioned container the delete writes a marker whether or not there was
            // an object; Swift still answers 404 when there was none (or only a marker).
            let existed = match current(swift, c, key).await {
                Ok(rec) => !rec.delete_marker,
                Err(e) if e.status == StatusCode::NOT_FOUND => false,
                Err(e) => return Err(e),
            };
            let done = swift
                .svc
                .meta()
                .delete_version(&c.name, key, None, false)
                .await?;
            if done.delete_marker {
                marker_id = done.version_id.filter(|v| v != "null");
            }
            existed || done.removed.is_some()
        }
    };
    let (status, body) = if found {
        (StatusCode::NO_CONTENT, String::new())
    } else {
        let e = SwiftError::not_found();
        (e.status, e.body)
    };
    let mut h = HeaderMap::new();
    if let Some(v) = marker_id {
        put_header(&mut h, "x-object-version-id", &v);
    }
    if !body.is_empty() {
        put_header(&mut h, "content-type", "text/html; charset=UTF-8");
    }
    Ok(respond(status, h, body))
}

#[cfg(test)]
mod tests {
    use super::parse_ranges;

    fn ranges(spec: &str, size: u64) -> Option<Vec<(u64, u64)>> {
        parse_ranges(Some(spec), size)
            .ok()
            .flatten()
            .map(|v| v.into_iter().map(|r| (r.start, r.end)).collect())
    }

    #[test]
    fn byte_ranges() {
        assert_eq!(ranges("bytes=0-9", 100), Some(vec![(0, 10)]));
        assert_eq!(ranges("bytes=90-", 100), Some(vec![(90, 100)]));
        assert_eq!(ranges("bytes=-5", 100), Some(vec![(95, 100)]));
        assert_eq!(ranges("bytes=-500", 100), Some(vec![(0, 100)]));
        assert_eq!(ranges("bytes=95-200", 100), Some(vec![(95, 100)]));
        assert_eq!(ranges("bytes=0-1,5-6", 100), Some(vec![(0, 2), (5, 7)]));
        assert_eq!(ranges("bytes=0-1,500-600", 100), Some(vec![(0, 2)]));
        // Malformed: the whole object is answered.
        assert_eq!(ranges("bytes=5-1", 100), None);
        assert_eq!(ranges("items=0-1", 100), None);
        assert_eq!(ranges("bytes=x-1", 100), None);
        // Unsatisfiable.
        assert!(parse_ranges(Some("bytes=100-"), 100).is_err());
        assert!(parse_ranges(Some("bytes=-0"), 100).is_err());
    }
}
