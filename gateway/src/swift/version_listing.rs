//! `GET <container>?versions`: Swift's object-versioning listing. Every version of every
//! object, names in order and each name's versions newest first, with `version_id` and
//! `is_latest`; delete markers carry Swift's delete-marker content type. The versions are the
//! container's S3 versions (a container never versioned lists its objects as `null`
//! versions). Swift answers this listing in JSON only, whatever format is asked for.
//!
//! `marker` with `version_marker` pages through it (`version_marker` alone is a 400);
//! `prefix`, `delimiter`, `end_marker` and `limit` work as in object listings; `reverse`
//! turns the whole listing around (read forwards, bounded, then reversed).

use http::{HeaderMap, StatusCode};
use meta_api::wire::{ContainerInfo, VersionListRequest, VersionSummary};
use serde_json::json;

use super::error::{SwiftError, SwiftResult};
use super::listing::{Paged, Params, in_name_order};
use super::router::{Ctx, Swift};
use super::versions::DELETED_TYPE;
use super::{Response, listing_date, put_header, respond};

/// The MD5 of nothing: the hash Swift lists for a (zero-byte) delete marker.
const EMPTY_MD5: &str = "d41d8cd98f00b204e9800998ecf8427e";

/// Most meta pages one listing reads (each holds up to `limit` entries).
const MAX_PAGES: usize = 10_000;

pub async fn list(
    swift: &Swift,
    ctx: &Ctx,
    c: &ContainerInfo,
    mut h: HeaderMap,
) -> SwiftResult<Response> {
    if !accepts_json(ctx) {
        return Err(SwiftError::status(StatusCode::NOT_ACCEPTABLE));
    }
    let params = Params::of(ctx)?;
    let version_marker = ctx.q("version_marker").filter(|v| !v.is_empty());
    if version_marker.is_some() && params.marker.is_none() {
        return Err(SwiftError::bad_request(
            "version_marker param requires marker",
        ));
    }
    if params.reverse {
        return reversed(swift, c, h, &params, version_marker).await;
    }
    let want = params.limit as usize;
    let past_end = |name: &str| params.end_marker.as_deref().is_some_and(|e| name >= e);
    let mut entries: Vec<serde_json::Value> = Vec::new();
    // `version_marker=null` stands before every version of the marker's name: they are listed
    // too, then the names after it.
    let null_marker = version_marker == Some("null");
    if null_marker
        && let Some(m) = params.marker.as_deref()
        && m.starts_with(params.prefix.as_str())
        && !params
            .delimiter
            .as_deref()
            .is_some_and(|d| m[params.prefix.len()..].contains(d))
        && !past_end(m)
    {
        entries = versions_of(swift, c, m, want).await?;
    }
    let mut req = VersionListRequest {
        prefix: params.prefix.clone(),
        delimiter: params.delimiter.clone(),
        key_marker: params.marker.clone(),
        version_id_marker: version_marker.filter(|_| !null_marker).map(str::to_string),
        max_keys: (want - entries.len()).max(1) as u32,
    };
    let meta = swift.svc.meta();
    let mut done = entries.len() >= want;
    for _ in 0..MAX_PAGES {
        if done {
            break;
        }
        let page = meta.list_versions(&c.name, &req).await?;
        for e in in_name_order(page.versions, page.common_prefixes, |v| &v.key) {
            let (name, entry) = match e {
                Paged::Item(v) => (v.key.clone(), entry(v)),
                Paged::Prefix(p) => (p.clone(), json!({ "subdir": p })),
            };
            if past_end(&name) || entries.len() >= want {
                done = true;
                break;
            }
            entries.push(entry);
        }
        if done || !page.truncated || page.next_key_marker.is_none() || entries.len() >= want {
            break;
        }
        req.key_marker = page.next_key_marker;
        req.version_id_marker = page.next_version_id_marker;
        req.max_keys = (want - entries.len()).min(u32::MAX as usize) as u32;
    }
    put_header(&mut h, "content-type", "application/json; charset=utf-8");
    let body = serde_json::Value::Array(entries).to_string();
    Ok(respond(StatusCode::OK, h, body))
}

/// Up to `want` versions of the object `name`, newest first, but its `null` version. As in
/// Swift, none of them is
/// listed as the latest but a delete marker (Swift reads the current version from the
/// container listing after the marker, which leaves the marker's name out).
async fn versions_of(
    swift: &Swift,
    c: &ContainerInfo,
    name: &str,
    want: usize,
) -> SwiftResult<Vec<serde_json::Value>> {
    let mut req = VersionListRequest {
        prefix: name.to_string(),
        delimiter: None,
        key_marker: None,
        version_id_marker: None,
        max_keys: want.min(1000) as u32,
    };
    let mut out = Vec::new();
    for _ in 0..MAX_PAGES {
        let page = swift.svc.meta().list_versions(&c.name, &req).await?;
        let mut other = false;
        for mut v in page.versions {
            if v.key != name || out.len() >= want {
                other = true;
                break;
            }
            // A `null` version is the current object in Swift's model, not listed here.
            if v.version_id == "null" {
                continue;
            }
            v.is_latest &= v.delete_marker;
            out.push(entry(v));
        }
        if other || !page.truncated || page.next_key_marker.is_none() {
            break;
        }
        req.key_marker = page.next_key_marker;
        req.version_id_marker = page.next_version_id_marker;
    }
    Ok(out)
}

/// Most entries a reversed versions listing reads (it reads forwards, then turns around).
const MAX_REVERSED: usize = 100_000;

/// `reverse=true`: names from last to first, each name's versions oldest first (Swift's
/// listing turned around). `marker` (with `version_marker`) and `end_marker` are read in
/// that order: entries after the marker, before the end marker.
async fn reversed(
    swift: &Swift,
    c: &ContainerInfo,
    mut h: HeaderMap,
    params: &Params,
    version_marker: Option<&str>,
) -> SwiftResult<Response> {
    let mut req = VersionListRequest {
        prefix: params.prefix.clone(),
        delimiter: params.delimiter.clone(),
        key_marker: None,
        version_id_marker: None,
        max_keys: 1000,
    };
    let meta = swift.svc.meta();
    // (name, version id, entry) in forward order.
    let mut all: Vec<(String, Option<String>, serde_json::Value)> = Vec::new();
    for _ in 0..MAX_PAGES {
        let page = meta.list_versions(&c.name, &req).await?;
        for e in in_name_order(page.versions, page.common_prefixes, |v| &v.key) {
            all.push(match e {
                Paged::Item(v) => (v.key.clone(), Some(v.version_id.clone()), entry(v)),
                Paged::Prefix(p) => (p.clone(), None, json!({ "subdir": p })),
            });
        }
        if !page.truncated || page.next_key_marker.is_none() || all.len() >= MAX_REVERSED {
            break;
        }
        req.key_marker = page.next_key_marker;
        req.version_id_marker = page.next_version_id_marker;
    }
    all.reverse();
    let mut start = 0;
    if let Some(m) = params.marker.as_deref() {
        start = match version_marker {
            Some(vm) => all
                .iter()
                .position(|(n, v, _)| n == m && v.as_deref() == Some(vm))
                .map(|i| i + 1)
                .unwrap_or_else(|| {
                    all.iter()
                        .position(|(n, _, _)| n.as_str() < m)
                        .unwrap_or(all.len())
                }),
            None => all
                .iter()
                .position(|(n, _, _)| n.as_str() < m)
                .unwrap_or(all.len()),
        };
    }
    let entries: Vec<serde_json::Value> = all
        .into_iter()
        .skip(start)
        .take_while(|(n, _, _)| params.end_marker.as_deref().is_none_or(|e| n.as_str() > e))
        .take(params.limit as usize)
        .map(|(_, _, v)| v)
        .collect();
    put_header(&mut h, "content-type", "application/json; charset=utf-8");
    let body = serde_json::Value::Array(entries).to_string();
    Ok(respond(StatusCode::OK, h, body))
}

/// Whether the client takes JSON, the only format of this listing: `?format=json`, or an
/// `Accept` header naming `application/json`, `application/*` or `*/*` (or none). Another
/// `format` (`plain`, `xml`) or `Accept` is a 406, as in Swift.
fn accepts_json(ctx: &Ctx) -> bool {
    if let Some(f) = ctx.q("format").filter(|f| !f.is_empty()) {
        return f.eq_ignore_ascii_case("json");
    }
    let Some(accept) = super::header(&ctx.headers, "accept").filter(|a| !a.trim().is_empty())
    else {
        return true;
    };
    accept.split(',').any(|range| {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or("").to_ascii_lowercase();
        let refused = parts.any(|p| {
            p.split_once('=').is_some_and(|(k, v)| {
                k.trim().eq_ignore_ascii_case("q")
                    && v.trim().parse::<f32>().is_ok_and(|q| q <= 0.0)
            })
        });
        !refused && matches!(media.as_str(), "application/json" | "application/*" | "*/*")
    })
}

/// One version as Swift lists it.
fn entry(v: VersionSummary) -> serde_json::Value {
    let (hash, bytes, content_type) = if v.delete_marker {
        (EMPTY_MD5.to_string(), 0, DELETED_TYPE.to_string())
    } else {
        (
            v.etag,
            // An SLO manifest is listed with its assembled size, as in object listings.
            v.assembled_size.unwrap_or(v.size),
            v.content_type
                .unwrap_or_else(|| "application/octet-stream".to_string()),
        )
    };
    json!({
        "name": v.key,
        "hash": hash,
        "bytes": bytes,
        "content_type": content_type,
        "last_modified": listing_date(v.mtime_ms),
        "version_id": v.version_id,
        "is_latest": v.is_latest,
    })
}
