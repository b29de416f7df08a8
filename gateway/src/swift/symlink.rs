//! Symlinks, as Swift's symlink middleware: a zero-byte object PUT with
//! `X-Symlink-Target: <container>/<object>` (and optionally `X-Symlink-Target-Account`) names
//! another object; GET and HEAD answer the target (followed through at most
//! [`SYMLOOP_MAX`] links, else 409) with `Content-Location` naming it, `?symlink=get` the link
//! itself. With `X-Symlink-Target-Etag` the link is static: the target must exist with that
//! ETag when the link is written and still have it when read (409 otherwise). A copy of a link
//! copies its target (the link itself with `?symlink=get`); a POST to a link answers 307 with
//! the target's location. The link's target is stored in its record headers.

use http::{HeaderMap, StatusCode};
use meta_api::wire::{ContainerInfo, ObjectRecord};

use super::error::{SwiftError, SwiftResult};
use super::router::{Ctx, Swift, account_container};
use super::{header, put_header, respond};
use crate::objects::ObjectAttrs;

/// Record headers of a symlink: its target (`container/object`, URL-encoded as Swift keeps
/// it), the target's account when given, and for a static link the target's ETag and size.
pub const TARGET: &str = "x-symlink-target";
pub const TARGET_ACCOUNT: &str = "x-symlink-target-account";
pub const TARGET_ETAG: &str = "x-symlink-target-etag";
pub const TARGET_BYTES: &str = "x-symlink-target-bytes";
/// Most links one read follows (Swift's default `symloop_max`).
pub const SYMLOOP_MAX: usize = 2;
/// Content type of a dynamic link written without one.
const LINK_TYPE: &str = "application/symlink";

const FORM: &str = "X-Symlink-Target header must be of the form <container name>/<object name>";

pub fn is_link(rec: &ObjectRecord) -> bool {
    rec.headers.contains_key(TARGET)
}

/// `?symlink=get`: the link itself is meant, not its target.
pub fn link_itself(ctx: &Ctx) -> bool {
    ctx.q("symlink") == Some("get")
}

/// The account a link's target lives in (the link's own unless it names one).
fn target_account(rec: &ObjectRecord, own: &str) -> String {
    match rec.headers.get(TARGET_ACCOUNT) {
        Some(a) => {
            let a = percent_encoding::percent_decode_str(a).decode_utf8_lossy();
            a.strip_prefix("AUTH_").unwrap_or(&a).to_string()
        }
        None => own.to_string(),
    }
}

/// Where a link points: `/v1/AUTH_<account>/<target>` (the target as stored, URL-encoded), as
/// Swift's `Content-Location` and `Location` name it.
fn target_path(rec: &ObjectRecord, own: &str) -> String {
    let target = rec.headers.get(TARGET).map(String::as_str).unwrap_or("");
    format!(
        "/v1/{}/{}",
        super::quote(&format!("AUTH_{}", target_account(rec, own))),
        target.trim_start_matches('/')
    )
}

/// The target's container and object names (decoded).
fn target_names(rec: &ObjectRecord) -> SwiftResult<(String, String)> {
    let raw = rec.headers.get(TARGET).map(String::as_str).unwrap_or("");
    let decoded = percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| SwiftError::with(StatusCode::PRECONDITION_FAILED, FORM))?;
    super::large::split_path(&decoded)
        .ok_or_else(|| SwiftError::with(StatusCode::PRECONDITION_FAILED, FORM))
}

fn conflict(msg: String, location: &str) -> SwiftError {
    let mut e = SwiftError::with(StatusCode::CONFLICT, msg);
    e.location = Some(location.to_string());
    e
}

/// What a read of `rec` answers: `rec` itself when it is no link, else the object its links
/// lead to (each target read with the caller's rights), with the path of the last target.
pub async fn resolve(
    swift: &Swift,
    ctx: &Ctx,
    rec: ObjectRecord,
) -> SwiftResult<(ObjectRecord, Option<String>)> {
    let mut cur = rec;
    let mut last: Option<String> = None;
    let mut want_etag: Option<String> = None;
    let mut hops = 0;
    while is_link(&cur) {
        let path = target_path(&cur, &ctx.account);
        let found_etag = cur
            .headers
            .get(TARGET_ETAG)
            .cloned()
            .unwrap_or_else(|| cur.etag.clone());
        if let Some(w) = &want_etag
            && *w != found_etag
        {
            return Err(conflict(
                "X-Symlink-Target-Etag headers do not match".to_string(),
                last.as_deref().unwrap_or(&path),
            ));
        }
        if hops >= SYMLOOP_MAX {
            return Err(SwiftError::with(
                StatusCode::CONFLICT,
                format!("Too many levels of symbolic links, maximum allowed is {SYMLOOP_MAX}"),
            ));
        }
        hops += 1;
        want_etag = cur.headers.get(TARGET_ETAG).cloned();
        let account = target_account(&cur, &ctx.account);
        let (container, key) = target_names(&cur)?;
        last = Some(path.clone());
        cur = match read_target(swift, ctx, &account, &container, &key).await {
            Ok(r) => r,
            Err(mut e) => {
                e.location = Some(path);
                return Err(e);
            }
        };
    }
    if let Some(w) = want_etag
        && w != cur.etag
    {
        return Err(conflict(
            format!(
                "Object Etag {:?} does not match X-Symlink-Target-Etag header {w:?}",
                cur.etag
            ),
            last.as_deref().unwrap_or(""),
        ));
    }
    Ok((cur, last))
}

/// The current object `key` of `container` in `account`, if the caller may read it.
async fn read_target(
    swift: &Swift,
    ctx: &Ctx,
    account: &str,
    container: &str,
    key: &str,
) -> SwiftResult<ObjectRecord> {
    let c = match account_container(swift, account, container).await {
        Ok(c) => c,
        Err(e) if ctx.caller.may_see_missing(account, container) => return Err(e),
        Err(_) => return Err(ctx.caller.denied()),
    };
    if !ctx.may_read(&c, false) {
        return Err(ctx.caller.denied());
    }
    super::object::current(swift, &c, key).await
}

/// A symlink PUT (`X-Symlink-Target` given): checks it as Swift does and adds the link's
/// headers to `attrs` (the body must be empty; the caller stores a zero-byte object).
pub async fn prepare_put(
    swift: &Swift,
    ctx: &Ctx,
    c: &ContainerInfo,
    key: &str,
    attrs: &mut ObjectAttrs,
) -> SwiftResult<()> {
    let raw = header(&ctx.headers, "x-symlink-target").unwrap_or("");
    let decoded = percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| SwiftError::with(StatusCode::PRECONDITION_FAILED, FORM))?;
    if decoded.starts_with('/') {
        return Err(SwiftError::with(StatusCode::PRECONDITION_FAILED, FORM));
    }
    let Some((tc, tk)) = super::large::split_path(&decoded) else {
        return Err(SwiftError::with(StatusCode::PRECONDITION_FAILED, FORM));
    };
    let account = match header(&ctx.headers, "x-symlink-target-account") {
        Some(a) => {
            let a = percent_encoding::percent_decode_str(a)
                .decode_utf8()
                .map_err(|_| {
                    SwiftError::with(StatusCode::PRECONDITION_FAILED, "Invalid account")
                })?;
            if a.is_empty() || a.contains('/') {
                return Err(SwiftError::with(
                    StatusCode::PRECONDITION_FAILED,
                    "Account name cannot contain slashes",
                ));
            }
            attrs
                .headers
                .insert(TARGET_ACCOUNT.to_string(), super::quote(&a));
            a.strip_prefix("AUTH_").unwrap_or(&a).to_string()
        }
        None => ctx.account.clone(),
    };
    if account == ctx.account && tc == c.name && tk == key {
        return Err(SwiftError::bad_request("Symlink cannot target itself"));
    }
    attrs
        .headers
        .insert(TARGET.to_string(), super::quote(&format!("{tc}/{tk}")));
    let etag = header(&ctx.headers, "x-symlink-target-etag")
        .map(|e| e.trim().trim_matches('"').to_string())
        .filter(|e| !e.is_empty());
    let typed = header(&ctx.headers, "content-type").is_some_and(|t| !t.is_empty());
    let Some(etag) = etag else {
        if !typed {
            attrs.content_type = Some(LINK_TYPE.to_string());
        }
        return Ok(());
    };
    if etag.contains([';', '"', '\\']) {
        return Err(SwiftError::bad_request("Bad X-Symlink-Target-Etag format"));
    }
    // A static link: its target must exist now, with that ETag (a link is compared by its
    // own stored target ETag, or its zero-byte ETag).
    let path = format!(
        "/v1/{}/{}",
        super::quote(&format!("AUTH_{account}")),
        super::quote(&format!("{tc}/{tk}"))
    );
    let target = match read_target(swift, ctx, &account, &tc, &tk).await {
        Ok(t) => t,
        Err(e) if e.status == StatusCode::NOT_FOUND => {
            return Err(conflict(
                "X-Symlink-Target does not exist".to_string(),
                &path,
            ));
        }
        Err(e) => return Err(e),
    };
    let found = target
        .headers
        .get(TARGET_ETAG)
        .cloned()
        .unwrap_or_else(|| target.etag.clone());
    if found != etag {
        return Err(conflict(
            format!("Object Etag {found:?} does not match X-Symlink-Target-Etag header {etag:?}"),
            &path,
        ));
    }
    let bytes = target
        .headers
        .get(meta_api::wire::SLO_SIZE_HEADER)
        .cloned()
        .unwrap_or_else(|| target.size.to_string());
    attrs.headers.insert(TARGET_ETAG.to_string(), etag);
    attrs.headers.insert(TARGET_BYTES.to_string(), bytes);
    if !typed {
        attrs.content_type = target.content_type.clone();
    }
    Ok(())
}

/// The link's own headers, as `?symlink=get` answers them.
pub fn link_headers(h: &mut HeaderMap, rec: &ObjectRecord) {
    for name in [TARGET, TARGET_ACCOUNT, TARGET_ETAG, TARGET_BYTES] {
        if let Some(v) = rec.headers.get(name) {
            put_header(h, name, v);
        }
    }
}

/// The answer to a POST that reached a link: its metadata was changed, but Swift answers 307
/// with the target's location (the POST is not applied to the target).
pub fn post_redirect(rec: &ObjectRecord, own_account: &str) -> super::Response {
    let mut h = HeaderMap::new();
    put_header(&mut h, "location", &target_path(rec, own_account));
    if let Some(e) = rec.headers.get(TARGET_ETAG) {
        put_header(&mut h, TARGET_ETAG, e);
    }
    put_header(&mut h, "content-type", "text/html; charset=UTF-8");
    respond(
        StatusCode::TEMPORARY_REDIRECT,
        h,
        "The requested POST was applied to a symlink. POST directly to the target to apply requested metadata.",
    )
}
