//! Large objects. Segments are ordinary objects; a manifest only names them, and reading it
//! streams the segments in order (no copy, never more than the object service's read-ahead in
//! memory).
//! - DLO: an object with `X-Object-Manifest: container/prefix` is the concatenation of the
//!   objects under that prefix, in listing order, at read time.
//! - SLO: `PUT ?multipart-manifest=put` with a JSON list of `{path, etag, size_bytes}` checks
//!   every segment and stores the manifest (JSON) as the object's content, marked with the
//!   header `x-static-large-object`; `?multipart-manifest=get` returns it, and
//!   `?multipart-manifest=delete` deletes the segments and the manifest. A segment `path` is
//!   the segment's name as it is (Swift's rule, and what python-swiftclient sends); a path
//!   naming no object is also tried percent-decoded, for clients that URL-encode it. The
//!   stored manifest always holds the real names. A segment may be an SLO itself (`sub_slo`,
//!   expanded when read, up to 10 deep), a `range` of its object, or inline base64 `data`.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use http::{HeaderMap, StatusCode};
use md5::{Digest as _, Md5};
use meta_api::wire::{ContainerInfo, ListRequest, ObjectRecord};
use serde::{Deserialize, Serialize};

use super::auth::Caller;
use super::bulk::Report;
use super::error::{SwiftError, SwiftResult};
use super::heartbeat;
use super::router::{Ctx, Swift, account_container};
use super::{ByteStream, Response, header, listing_date, put_header, respond};
use crate::error::Error;
use crate::objects::{Digests, NewObject, ObjectAttrs, ObjectService};

/// Most segments of one manifest (SLO) or one prefix (DLO).
pub const SLO_MAX_SEGMENTS: usize = 10_000;
pub const DLO_MAX_SEGMENTS: usize = 10_000;
/// Smallest segment an SLO accepts (as Swift today: any non-empty segment).
pub const SLO_MIN_SEGMENT: u64 = 1;
/// Largest manifest body accepted.
const MAX_MANIFEST: usize = 8 * 1024 * 1024;

/// Header (stored on the record) marking an SLO manifest.
pub const SLO_HEADER: &str = "x-static-large-object";
/// Stored on SLO manifests: assembled size and ETag, so HEAD needs no manifest read.
const SLO_SIZE: &str = meta_api::wire::SLO_SIZE_HEADER;
const SLO_ETAG: &str = meta_api::wire::SLO_ETAG_HEADER;
pub const DLO_HEADER: &str = "x-object-manifest";

/// One piece of a large object as it is read: bytes `range` of a segment object (whose whole
/// size was `size` when the manifest was written), or data inlined in an SLO manifest.
#[derive(Debug, Clone)]
pub enum Piece {
    Object {
        container: String,
        key: String,
        size: u64,
        range: Range<u64>,
    },
    Data(Bytes),
}

impl Piece {
    fn len(&self) -> u64 {
        match self {
            Piece::Object { range, .. } => range.end - range.start,
            Piece::Data(d) => d.len() as u64,
        }
    }
}

/// The pieces of `pieces` that fall in bytes `range` of their concatenation, cut to it.
fn slice(pieces: &[Piece], range: Range<u64>) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut offset = 0u64;
    for p in pieces {
        let (start, end) = (offset, offset + p.len());
        offset = end;
        if end <= range.start || start >= range.end || start == end {
            continue;
        }
        let sub = range.start.max(start) - start..range.end.min(end) - start;
        out.push(match p {
            Piece::Object {
                container,
                key,
                size,
                range: r,
            } => Piece::Object {
                container: container.clone(),
                key: key.clone(),
                size: *size,
                range: r.start + sub.start..r.start + sub.end,
            },
            Piece::Data(d) => Piece::Data(d.slice(sub.start as usize..sub.end as usize)),
        });
    }
    out
}

/// What a GET reads: an object's own chunks, or the pieces its manifest names.
pub enum Source {
    Plain(Box<ObjectRecord>),
    Large {
        pieces: Vec<Piece>,
        size: u64,
        /// The large object's ETag, unquoted.
        etag: String,
    },
}

impl Source {
    pub fn size(&self) -> u64 {
        match self {
            Source::Plain(r) => r.size,
            Source::Large { size, .. } => *size,
        }
    }

    /// The ETag as answered: bare for plain objects, quoted for large ones (as Swift).
    pub fn etag_header(&self) -> String {
        match self {
            Source::Plain(r) => r.etag.clone(),
            Source::Large { etag, .. } => format!("\"{etag}\""),
        }
    }

    pub fn etag(&self) -> &str {
        match self {
            Source::Plain(r) => &r.etag,
            Source::Large { etag, .. } => etag,
        }
    }

    /// Streams bytes `range` of the (assembled) object.
    pub fn stream(&self, svc: &ObjectService, range: Range<u64>) -> ByteStream {
        match self {
            Source::Plain(r) => Box::pin(svc.read_stored(r, range)),
            Source::Large { pieces, .. } => {
                let svc = svc.clone();
                Box::pin(
                    futures::stream::iter(slice(pieces, range))
                        .then(move |p| piece_stream(svc.clone(), p))
                        .flatten(),
                )
            }
        }
    }
}

/// Streams one piece, checking a segment object still has the size the manifest recorded.
async fn piece_stream(svc: ObjectService, piece: Piece) -> ByteStream {
    match piece {
        Piece::Data(d) => Box::pin(futures::stream::once(async move { Ok(d) })),
        Piece::Object {
            container,
            key,
            size,
            range,
        } => {
            segment_stream(
                svc,
                Segment {
                    container,
                    key,
                    size,
                },
                range,
            )
            .await
        }
    }
}

struct Segment {
    container: String,
    key: String,
    size: u64,
}

/// Streams part of one segment, checking it still has the size the manifest recorded.
async fn segment_stream(svc: ObjectService, seg: Segment, sub: Range<u64>) -> ByteStream {
    match svc.meta().get_object(&seg.container, &seg.key).await {
        Ok(rec) if rec.size == seg.size => Box::pin(svc.read_stored(&rec, sub)),
        Ok(_) => failed(Error::SegmentUnreadable(format!(
            "segment {}/{} changed size",
            seg.container, seg.key
        ))),
        Err(meta_api::Error::NoSuchObject(_)) => failed(Error::SegmentUnreadable(format!(
            "segment {}/{} is missing",
            seg.container, seg.key
        ))),
        Err(e) => failed(Error::Meta(e)),
    }
}

fn failed(e: Error) -> ByteStream {
    // The message may hold segment names: logged escaped, so no name can break the line.
    tracing::warn!(error = ?e.to_string(), "large object segment unreadable");
    Box::pin(futures::stream::once(async move { Err(e) }))
}

/// What to read for `rec`: its own bytes (plain object, or `manifest` asked), or its segments.
/// Segments are read as the caller: each segment container must belong to the request's
/// account and be readable by the caller (a manifest must not open containers its reader
/// cannot open directly).
pub async fn source(
    swift: &Swift,
    ctx: &Ctx,
    rec: ObjectRecord,
    manifest: bool,
) -> SwiftResult<Source> {
    // Swift has no way to send an S3 customer key: such an object is refused before any
    // byte, rather than cut short after the headers.
    if rec
        .encryption
        .as_ref()
        .is_some_and(|e| e.mode == meta_api::encryption::SseMode::CustomerKey)
    {
        return Err(SwiftError::with(
            StatusCode::FORBIDDEN,
            "the object is encrypted with an S3 customer key (SSE-C): read it through S3 with its key",
        ));
    }
    if manifest {
        return Ok(Source::Plain(Box::new(rec)));
    }
    if is_slo(&rec) {
        let segments = read_manifest(swift, &rec).await?;
        let etag = slo_etag(&segments);
        let mut checked = std::collections::BTreeSet::new();
        let pieces = expand(swift, ctx, segments, 0, &mut checked).await?;
        let size = pieces.iter().map(Piece::len).sum();
        return Ok(Source::Large { pieces, size, etag });
    }
    if let Some(manifest) = rec.headers.get(DLO_HEADER) {
        return dlo_source(swift, ctx, manifest).await;
    }
    Ok(Source::Plain(Box::new(rec)))
}

fn is_slo(rec: &ObjectRecord) -> bool {
    rec.headers.get(SLO_HEADER).is_some_and(|v| v == "true")
}

/// How deep SLOs may nest (a manifest naming a manifest naming ...), as Swift.
const MAX_SLO_DEPTH: usize = 10;

/// The pieces an SLO manifest's segments stand for: nested manifests expanded (and cut to
/// their ranges), each segment container checked readable by the caller once.
fn expand<'a>(
    swift: &'a Swift,
    ctx: &'a Ctx,
    segments: Vec<SegmentOut>,
    depth: usize,
    checked: &'a mut std::collections::BTreeSet<String>,
) -> futures::future::BoxFuture<'a, SwiftResult<Vec<Piece>>> {
    Box::pin(async move {
        let mut out = Vec::with_capacity(segments.len());
        for seg in segments {
            if let Some(data) = &seg.data {
                out.push(Piece::Data(Bytes::from(
                    decode_data(data).unwrap_or_default(),
                )));
                continue;
            }
            let Some((container, key)) = split_path(&seg.name) else {
                continue;
            };
            if checked.insert(container.clone()) {
                // A segment the caller may not read breaks the large object: 409, as Swift
                // answers an SLO whose segments it cannot fetch.
                readable_segments(swift, ctx, &container, false)
                    .await
                    .map_err(|e| match e.status {
                        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => SwiftError::with(
                            StatusCode::CONFLICT,
                            format!(
                                "Segments of this large object cannot be read ({} on their container)",
                                e.status.as_u16()
                            ),
                        ),
                        _ => e,
                    })?;
            }
            let whole = 0..seg.bytes;
            let range = match seg.range.as_deref().and_then(parse_stored_range) {
                Some(r) => r,
                None => whole.clone(),
            };
            if seg.sub_slo {
                if depth >= MAX_SLO_DEPTH {
                    return Err(SwiftError::with(
                        StatusCode::CONFLICT,
                        "Max recursion depth exceeded on SLO manifest",
                    ));
                }
                let rec = swift.svc.meta().get_object(&container, &key).await?;
                let inner = read_manifest(swift, &rec).await?;
                let pieces = expand(swift, ctx, inner, depth + 1, checked).await?;
                out.extend(slice(&pieces, range));
            } else {
                out.push(Piece::Object {
                    container,
                    key,
                    size: seg.bytes,
                    range,
                });
            }
        }
        Ok(out)
    })
}

/// A stored segment range `start-end` (inclusive) as a byte range.
fn parse_stored_range(s: &str) -> Option<Range<u64>> {
    let (a, b) = s.split_once('-')?;
    let (a, b): (u64, u64) = (a.parse().ok()?, b.parse().ok()?);
    (b >= a).then_some(a..b + 1)
}

/// A client's segment range (`M-N`, `M-` or `-N`, as an HTTP byte range) against a segment of
/// `len` bytes: the satisfiable part, or None.
fn resolve_range(s: &str, len: u64) -> Option<Range<u64>> {
    let (a, b) = s.trim().split_once('-')?;
    let (a, b) = (a.trim(), b.trim());
    let r = match (a.is_empty(), b.is_empty()) {
        (true, false) => {
            let n: u64 = b.parse().ok()?;
            len - n.min(len)..len
        }
        (false, true) => a.parse().ok()?..len,
        (false, false) => {
            let (a, b): (u64, u64) = (a.parse().ok()?, b.parse().ok()?);
            if b < a {
                return None;
            }
            a..(b + 1).min(len)
        }
        (true, true) => return None,
    };
    (r.start < r.end).then_some(r)
}

fn decode_data(data: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(data).ok()
}

/// An SLO's ETag from its segments (Swift's rule): the MD5 of each segment's ETag in order,
/// `ETAG:START-END;` for a ranged segment and the MD5 of the bytes for inlined data.
fn slo_etag(segments: &[SegmentOut]) -> String {
    let mut md5 = Md5::new();
    for s in segments {
        if let Some(data) = &s.data {
            let bytes = decode_data(data).unwrap_or_default();
            md5.update(hex::encode(Md5::digest(&bytes)).as_bytes());
        } else if let Some(r) = &s.range {
            md5.update(format!("{}:{r};", s.hash).as_bytes());
        } else {
            md5.update(s.hash.trim_matches('"').as_bytes());
        }
    }
    hex::encode(md5.finalize())
}

/// Segment container `name` if it belongs to the request's account and the caller may read
/// it (`listing`: list it, as a DLO does). A TempURL reaches segments anywhere in its account,
/// as in Swift.
async fn readable_segments(
    swift: &Swift,
    ctx: &Ctx,
    name: &str,
    listing: bool,
) -> SwiftResult<ContainerInfo> {
    let c = account_container(swift, &ctx.account, name).await?;
    let allowed = match &ctx.caller {
        Caller::TempUrl(scope) => scope.account == c.account,
        _ => ctx.may_read(&c, listing),
    };
    if allowed {
        Ok(c)
    } else {
        Err(ctx.caller.denied())
    }
}

/// Size and ETag of a large object for HEAD: stored on SLOs, summed from the listing for DLOs.
pub async fn head_source(swift: &Swift, ctx: &Ctx, rec: ObjectRecord) -> SwiftResult<Source> {
    if rec.headers.get(SLO_HEADER).is_some_and(|v| v == "true")
        && let (Some(size), Some(etag)) = (
            rec.headers.get(SLO_SIZE).and_then(|s| s.parse().ok()),
            rec.headers.get(SLO_ETAG),
        )
    {
        return Ok(Source::Large {
            pieces: Vec::new(),
            size,
            etag: etag.clone(),
        });
    }
    source(swift, ctx, rec, false).await
}

fn etag_of<'a>(etags: impl Iterator<Item = &'a str>) -> String {
    let mut md5 = Md5::new();
    for e in etags {
        md5.update(e.trim_matches('"').as_bytes());
    }
    hex::encode(md5.finalize())
}

/// `/container/object` (or `container/object`) → (container, object).
pub fn split_path(path: &str) -> Option<(String, String)> {
    let (c, o) = path.trim_start_matches('/').split_once('/')?;
    (!c.is_empty() && !o.is_empty()).then(|| (c.to_string(), o.to_string()))
}

async fn dlo_source(swift: &Swift, ctx: &Ctx, manifest: &str) -> SwiftResult<Source> {
    let decoded = percent_encoding::percent_decode_str(manifest).decode_utf8_lossy();
    let (container, prefix) = decoded
        .trim_start_matches('/')
        .split_once('/')
        .map(|(c, p)| (c.to_string(), p.to_string()))
        .unwrap_or_else(|| (decoded.to_string(), String::new()));
    let c = readable_segments(swift, ctx, &container, true).await?;
    let mut req = ListRequest {
        prefix,
        max_keys: 1000,
        ..Default::default()
    };
    let mut pieces = Vec::new();
    let mut etags = Vec::new();
    loop {
        let page = swift.svc.meta().list_objects(&c.name, &req).await?;
        for o in page.objects {
            etags.push(o.etag);
            pieces.push(Piece::Object {
                container: c.name.clone(),
                key: o.key,
                size: o.size,
                range: 0..o.size,
            });
        }
        if !page.truncated || page.next_after.is_none() || pieces.len() >= DLO_MAX_SEGMENTS {
            break;
        }
        req.after = page.next_after;
    }
    let size = pieces.iter().map(Piece::len).sum();
    Ok(Source::Large {
        pieces,
        size,
        etag: etag_of(etags.iter().map(String::as_str)),
    })
}

/// A segment as the client lists it in `multipart-manifest=put`: an object (`path`, with
/// optional `etag`, `size_bytes`, `range`) or inlined `data` (base64).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SegmentIn {
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    etag: Option<String>,
    #[serde(default)]
    size_bytes: Option<serde_json::Value>,
    #[serde(default)]
    range: Option<String>,
    #[serde(default)]
    data: Option<String>,
}

/// A segment as stored in the manifest (and answered by `multipart-manifest=get`).
#[derive(Serialize, Deserialize, Default)]
struct SegmentOut {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    hash: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    bytes: u64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    content_type: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    last_modified: String,
    /// The part of the segment used, `START-END` (inclusive), when not all of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    range: Option<String>,
    /// The segment is itself an SLO manifest.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    sub_slo: bool,
    /// Inlined bytes (base64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    data: Option<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

async fn read_manifest(swift: &Swift, rec: &ObjectRecord) -> SwiftResult<Vec<SegmentOut>> {
    if rec.size as usize > MAX_MANIFEST {
        return Err(SwiftError::with(
            StatusCode::INTERNAL_SERVER_ERROR,
            "manifest too large",
        ));
    }
    let mut stream = swift.svc.read_stored(rec, 0..rec.size);
    let mut buf = Vec::with_capacity(rec.size as usize);
    while let Some(piece) = stream.try_next().await? {
        buf.extend_from_slice(&piece);
    }
    serde_json::from_slice(&buf)
        .map_err(|e| Error::Internal(format!("unreadable SLO manifest: {e}")).into())
}

/// `?part-number=N` on a GET, HEAD or copy of an SLO (Swift's check): None without it; 400
/// unless it is an integer above 0, or with a `Range` header as well.
pub fn part_number(ctx: &Ctx) -> SwiftResult<Option<usize>> {
    let Some(v) = ctx.q("part-number") else {
        return Ok(None);
    };
    let n = v
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| SwiftError::bad_request("Part number must be an integer greater than 0"))?;
    if ctx.headers.contains_key(http::header::RANGE) {
        return Err(SwiftError::bad_request(
            "Range requests are not supported with part number queries",
        ));
    }
    Ok(Some(usize::try_from(n).unwrap_or(usize::MAX)))
}

/// Part `n` (from 1) of SLO manifest `rec`: the number of parts (the manifest's top-level
/// segments, a nested SLO counting as one) and the bytes of the assembled object that part
/// stands for (None: there is no such part).
pub async fn part(
    swift: &Swift,
    rec: &ObjectRecord,
    n: usize,
) -> SwiftResult<(usize, Option<Range<u64>>)> {
    let segments = read_manifest(swift, rec).await?;
    let lengths: Vec<u64> = segments
        .iter()
        .map(|s| match &s.data {
            Some(d) => decode_data(d).map_or(0, |b| b.len() as u64),
            None => s
                .range
                .as_deref()
                .and_then(parse_stored_range)
                .map_or(s.bytes, |r| r.end - r.start),
        })
        .collect();
    if n == 0 || n > lengths.len() {
        return Ok((lengths.len(), None));
    }
    let start: u64 = lengths[..n - 1].iter().sum();
    Ok((lengths.len(), Some(start..start + lengths[n - 1])))
}

/// An SLO manifest in the form a client PUTs it (`?multipart-manifest=get&format=raw`):
/// `path`, `etag`, `size_bytes` (and `range`) per segment, inline `data` as stored.
pub async fn raw_manifest(swift: &Swift, rec: &ObjectRecord) -> SwiftResult<Vec<u8>> {
    let segments = read_manifest(swift, rec).await?;
    let raw: Vec<serde_json::Value> = segments
        .into_iter()
        .map(|s| match s.data {
            Some(data) => serde_json::json!({ "data": data }),
            None => {
                let mut v = serde_json::json!({
                    "path": s.name,
                    "etag": s.hash,
                    "size_bytes": s.bytes,
                });
                if let Some(r) = s.range {
                    v["range"] = serde_json::Value::String(r);
                }
                v
            }
        })
        .collect();
    serde_json::to_vec(&raw).map_err(|e| Error::Internal(e.to_string()).into())
}

/// Reads a request body into memory (SLO manifests, bulk-delete lists), refusing more than
/// `max` bytes with 413: at once when its `Content-Length` says so, else as soon as more has
/// arrived (the listener then closes the connection rather than read the rest).
pub async fn small_body(body: crate::listener::ReqBody, max: usize) -> SwiftResult<Vec<u8>> {
    use http_body_util::BodyExt;
    if http_body::Body::size_hint(&body).lower() > max as u64 {
        return Err(SwiftError::status(StatusCode::PAYLOAD_TOO_LARGE));
    }
    let mut stream = body.into_data_stream();
    let mut buf = Vec::new();
    while let Some(piece) = stream.next().await {
        let piece = piece.map_err(|e| SwiftError::bad_request(format!("body: {e}")))?;
        if buf.len() + piece.len() > max {
            return Err(SwiftError::status(StatusCode::PAYLOAD_TOO_LARGE));
        }
        buf.extend_from_slice(&piece);
    }
    Ok(buf)
}

/// The segment a manifest `path` names: (container, object, record), `None` when there is no
/// such object, or the error (e.g. 403) that keeps the caller from it. The path is the name
/// as it is (Swift's rule); when that names nothing and the path percent-decodes to another
/// name, that name is tried too (clients that URL-encode segment paths).
async fn find_segment(
    swift: &Swift,
    ctx: &Ctx,
    path: &str,
) -> SwiftResult<Option<(String, String, ObjectRecord)>> {
    let decoded = percent_encoding::percent_decode_str(path)
        .decode_utf8()
        .ok()
        .filter(|d| d != path);
    for candidate in std::iter::once(path).chain(decoded.as_deref()) {
        let Some((sc, sk)) = split_path(candidate) else {
            continue;
        };
        let c = match readable_segments(swift, ctx, &sc, false).await {
            Ok(c) => c,
            Err(e) if e.status == StatusCode::NOT_FOUND => continue,
            Err(e) => return Err(e),
        };
        match swift.svc.meta().get_object(&c.name, &sk).await {
            Ok(rec) => return Ok(Some((sc, sk, rec))),
            Err(meta_api::Error::NoSuchObject(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(None)
}

/// `PUT ?multipart-manifest=put`: checks the segments and stores the manifest.
pub async fn put_slo(
    swift: &Arc<Swift>,
    ctx: &Ctx,
    c: &ContainerInfo,
    key: &str,
    attrs: ObjectAttrs,
    condition: meta_api::wire::PutCondition,
    body: crate::listener::ReqBody,
) -> SwiftResult<Response> {
    let raw = small_body(body, MAX_MANIFEST).await?;
    let list: Vec<SegmentIn> = serde_json::from_slice(&raw)
        .map_err(|e| SwiftError::bad_request(format!("Manifest must be valid JSON: {e}")))?;
    if list.is_empty() || list.len() > SLO_MAX_SEGMENTS {
        return Err(SwiftError::bad_request(format!(
            "Manifest must have between 1 and {SLO_MAX_SEGMENTS} segments"
        )));
    }
    if list.iter().all(|s| s.data.is_some()) {
        return Err(SwiftError::bad_request(
            "Inline data segments require at least one object-backed segment.",
        ));
    }
    let work = store_slo(
        swift.clone(),
        ctx.clone(),
        c.clone(),
        key.to_string(),
        attrs,
        condition,
        list,
    );
    if ctx
        .q("heartbeat")
        .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "on" | "true" | "1" | "yes"))
    {
        return Ok(heartbeat::answer(ctx, Box::pin(work)));
    }
    match work.await {
        Ok((rec, etag)) => {
            let mut h = HeaderMap::new();
            put_header(&mut h, "etag", &format!("\"{etag}\""));
            put_header(&mut h, "last-modified", &super::http_date(rec.mtime_ms));
            put_header(&mut h, "content-type", "text/html; charset=UTF-8");
            super::versions::version_header(&mut h, &rec);
            Ok(respond(StatusCode::CREATED, h, ""))
        }
        Err(SloFailure::Problems(problems)) => Err(SwiftError::bad_request(format!(
            "Errors:\n{}",
            problems.join("\n")
        ))),
        Err(SloFailure::Refused(e)) => Err(e),
    }
}

/// Why a manifest was not stored: problems with its segments (one line each, `NAME, REASON`
/// or `Index N: ...`), or another refusal.
pub enum SloFailure {
    Problems(Vec<String>),
    Refused(SwiftError),
}

impl From<SwiftError> for SloFailure {
    fn from(e: SwiftError) -> SloFailure {
        SloFailure::Refused(e)
    }
}

impl From<Error> for SloFailure {
    fn from(e: Error) -> SloFailure {
        SloFailure::Refused(e.into())
    }
}

impl From<meta_api::Error> for SloFailure {
    fn from(e: meta_api::Error) -> SloFailure {
        SloFailure::Refused(e.into())
    }
}

/// Checks every segment of a parsed manifest and stores it: the stored record and the SLO's
/// ETag. Owns what it uses, so a heartbeating answer can run it while it streams.
async fn store_slo(
    swift: Arc<Swift>,
    ctx: Ctx,
    c: ContainerInfo,
    key: String,
    mut attrs: ObjectAttrs,
    condition: meta_api::wire::PutCondition,
    list: Vec<SegmentIn>,
) -> Result<(ObjectRecord, String), SloFailure> {
    let mut problems = Vec::new();
    let mut out = Vec::with_capacity(list.len());
    let mut size = 0u64;
    let last = list.len() - 1;
    for (i, seg) in list.iter().enumerate() {
        if let Some(data) = &seg.data {
            match decode_data(data) {
                Some(bytes) if !bytes.is_empty() && seg.path.is_none() => {
                    use base64::Engine as _;
                    size += bytes.len() as u64;
                    out.push(SegmentOut {
                        data: Some(base64::engine::general_purpose::STANDARD.encode(&bytes)),
                        ..SegmentOut::default()
                    });
                }
                _ => problems.push(format!("Index {i}: data must be valid, non-empty base64")),
            }
            continue;
        }
        let Some(path) = seg.path.as_deref() else {
            problems.push(format!(
                "Index {i}: expected keys to include one of 'path' or 'data'"
            ));
            continue;
        };
        // Problems name the segment URL-encoded, as Swift does (a name may hold a newline).
        let quoted = super::quote(path);
        if split_path(path).is_none() {
            problems.push(format!(
                "Index {i}: path does not refer to an object. Path must be of the form /container/object."
            ));
            continue;
        }
        let size_bytes = match &seg.size_bytes {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::Number(n)) => n.as_u64(),
            Some(serde_json::Value::String(s)) => s.parse::<u64>().ok(),
            Some(_) => None,
        };
        if size_bytes.is_none() && !matches!(seg.size_bytes, None | Some(serde_json::Value::Null)) {
            problems.push(format!("Index {i}: invalid size_bytes"));
            continue;
        }
        let found = match find_segment(&swift, &ctx, path).await {
            Ok(found) => found,
            Err(e) => {
                let reason = e.status.canonical_reason().unwrap_or("");
                problems.push(format!("{quoted}, {} {reason}", e.status.as_u16()));
                continue;
            }
        };
        let Some((sc, sk, rec)) = found else {
            problems.push(format!("{quoted}, 404 Not Found"));
            continue;
        };
        if sc == c.name && sk == key {
            problems.push(format!(
                "Index {i}: manifest must not include itself as a segment"
            ));
            continue;
        }
        // A segment that is itself an SLO counts with its assembled size and ETag.
        let sub_slo = is_slo(&rec);
        let (seg_size, seg_etag) = if sub_slo {
            (
                rec.headers
                    .get(SLO_SIZE)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(rec.size),
                rec.headers.get(SLO_ETAG).cloned().unwrap_or_default(),
            )
        } else {
            (rec.size, rec.etag.clone())
        };
        let mut length = seg_size;
        let mut range = None;
        if let Some(r) = seg.range.as_deref().filter(|r| !r.is_empty()) {
            match resolve_range(r, seg_size) {
                None => {
                    problems.push(format!("{quoted}, Unsatisfiable Range"));
                    continue;
                }
                Some(r) if r == (0..seg_size) => {}
                Some(r) => {
                    length = r.end - r.start;
                    range = Some(format!("{}-{}", r.start, r.end - 1));
                }
            }
        }
        if length < SLO_MIN_SEGMENT && i != last {
            problems.push(format!(
                "{quoted}, Too small; each segment must be at least {SLO_MIN_SEGMENT} byte."
            ));
            continue;
        }
        if let Some(s) = size_bytes
            && s != seg_size
        {
            problems.push(format!("{quoted}, Size Mismatch"));
            continue;
        }
        if let Some(e) = seg.etag.as_deref().filter(|e| !e.is_empty())
            && e.trim_matches('"') != seg_etag
        {
            problems.push(format!("{quoted}, Etag Mismatch"));
            continue;
        }
        size += length;
        out.push(SegmentOut {
            name: format!("/{sc}/{sk}"),
            hash: seg_etag,
            bytes: seg_size,
            content_type: rec
                .content_type
                .clone()
                .unwrap_or_else(|| "application/octet-stream".to_string()),
            last_modified: listing_date(rec.mtime_ms),
            range,
            sub_slo,
            data: None,
        });
    }
    if !problems.is_empty() {
        return Err(SloFailure::Problems(problems));
    }
    let etag = slo_etag(&out);
    if let Some(want) = header(&ctx.headers, "etag")
        && want.trim_matches('"') != etag
    {
        return Err(SwiftError::status(StatusCode::UNPROCESSABLE_ENTITY).into());
    }
    let manifest = serde_json::to_vec(&out).map_err(|e| Error::Internal(e.to_string()))?;
    attrs
        .headers
        .insert(SLO_HEADER.to_string(), "true".to_string());
    attrs.headers.insert(SLO_SIZE.to_string(), size.to_string());
    attrs.headers.insert(SLO_ETAG.to_string(), etag.clone());
    attrs.headers.remove(DLO_HEADER);
    let policy = swift.svc.resolve_policy(&c, None).await?;
    let body = futures::stream::once(async move { Ok::<_, Error>(Bytes::from(manifest)) });
    let rec = swift
        .svc
        .put_object(
            &c,
            NewObject {
                condition,
                ..NewObject::new(&key, policy, attrs)
            },
            Box::pin(body),
            Digests::new(None),
            |_, _| Ok(()),
        )
        .await?;
    Ok((rec, etag))
}

/// `DELETE ?multipart-manifest=delete`: deletes the segments, then the manifest.
pub async fn delete_slo(
    swift: &Swift,
    ctx: &Ctx,
    c: &ContainerInfo,
    rec: &ObjectRecord,
    version: Option<&str>,
) -> SwiftResult<Response> {
    let mut report = Report::default();
    // Nested manifests are deleted with their own segments, as Swift does (bounded depth).
    let mut todo = vec![(read_manifest(swift, rec).await?, 0usize)];
    while let Some((segments, depth)) = todo.pop() {
        for s in &segments {
            let Some((sc, sk)) = split_path(&s.name) else {
                continue;
            };
            if s.sub_slo && depth < MAX_SLO_DEPTH {
                let inner = match swift.svc.meta().get_object(&sc, &sk).await {
                    Ok(r) if is_slo(&r) => read_manifest(swift, &r).await.ok(),
                    _ => None,
                };
                if let Some(inner) = inner {
                    todo.push((inner, depth + 1));
                }
            }
            report.delete_object(swift, ctx, &sc, &sk).await;
        }
    }
    match version {
        // That version of the manifest, by id.
        Some(id) => match swift
            .svc
            .meta()
            .delete_version(&c.name, &rec.key, Some(id), false)
            .await
        {
            Ok(_) => report.deleted += 1,
            Err(e) => report.fail(format!("/{}/{}", c.name, rec.key), &SwiftError::from(e)),
        },
        None => report.delete_object(swift, ctx, &c.name, &rec.key).await,
    }
    Ok(report.answer(ctx))
}
