//! Container requests: PUT (create, `X-Storage-Policy`), HEAD (counts, bytes, metadata),
//! GET (object listing), POST (metadata and ACLs), DELETE (409 when not empty). A Swift
//! container is the S3 bucket of the same name; its Swift state lives in the container's
//! properties (`meta:<name>`, `read-acl`, `write-acl`).

use http::{HeaderMap, Method, StatusCode};
use meta_api::settings::SettingChange;
use meta_api::wire::{ContainerInfo, ContainerSettings, ListRequest};

use super::error::{SwiftError, SwiftResult};
use super::listing::{self, ObjectEntry, Paged, Params};
use super::router::{Ctx, Swift, account_container, account_container_now};
use super::tempurl::KEY_META;
use super::{MAX_CONTAINER_NAME, Response, header, meta_updates, put_header, respond, x_timestamp};
use super::{version_listing, versions};

pub async fn handle(swift: &Swift, ctx: &Ctx) -> SwiftResult<Response> {
    let name = ctx.container.as_deref().unwrap_or_default();
    match ctx.method {
        Method::PUT => {
            if !ctx.caller.owns(&ctx.account) {
                return Err(ctx.caller.denied());
            }
            create(swift, ctx, name).await
        }
        Method::HEAD | Method::GET => {
            let c = account_container_now(swift, &ctx.account, name).await;
            let c = match c {
                Ok(c) if ctx.may_read(&c, true) => c,
                // Callers without rights learn nothing about the container's existence.
                Ok(_) => return Err(ctx.caller.denied()),
                Err(e) if ctx.caller.owns(&ctx.account) => return Err(e),
                Err(_) => return Err(ctx.caller.denied()),
            };
            let h = headers(swift, &c, ctx.caller.owns(&ctx.account)).await;
            if ctx.method == Method::HEAD {
                Ok(respond(StatusCode::NO_CONTENT, h, ""))
            } else {
                list(swift, ctx, &c, h).await
            }
        }
        Method::POST => {
            if !ctx.caller.owns(&ctx.account) {
                return Err(ctx.caller.denied());
            }
            account_container(swift, &ctx.account, name).await?;
            let changes = setting_changes(ctx)?;
            swift
                .svc
                .meta()
                .set_container_settings(name, changes)
                .await?;
            versions::apply_enabled(swift, ctx, name).await?;
            Ok(respond(StatusCode::NO_CONTENT, HeaderMap::new(), ""))
        }
        Method::DELETE => {
            if !ctx.caller.owns(&ctx.account) {
                return Err(ctx.caller.denied());
            }
            let c = account_container(swift, &ctx.account, name).await?;
            swift
                .svc
                .meta()
                .delete_container(&c.account, &c.name)
                .await?;
            Ok(respond(StatusCode::NO_CONTENT, HeaderMap::new(), ""))
        }
        _ => Err(SwiftError::status(StatusCode::METHOD_NOT_ALLOWED)),
    }
}

/// Setting changes asked by a PUT or POST: metadata, ACLs, versioning locations; removals
/// after the values set (a header and its `X-Remove-` removes).
fn setting_changes(ctx: &Ctx) -> SwiftResult<Vec<SettingChange>> {
    let (set, remove) = meta_updates(&ctx.headers, "container")?;
    let mut changes = Vec::new();
    let mut removals = Vec::new();
    if !set.is_empty() || !remove.is_empty() {
        changes.push(SettingChange::SwiftMeta { set, remove });
    }
    let acls: [(&str, versions::Change); 2] = [
        ("x-container-read", SettingChange::SwiftReadAcl),
        ("x-container-write", SettingChange::SwiftWriteAcl),
    ];
    for (hdr, change) in acls {
        match header(&ctx.headers, hdr) {
            Some("") => removals.push(change(None)),
            Some(v) => changes.push(change(Some(v.to_string()))),
            None => {}
        }
        if ctx
            .headers
            .contains_key(format!("x-remove-{}", &hdr[2..]).as_str())
        {
            removals.push(change(None));
        }
    }
    versions::location_changes(&ctx.headers, &mut changes, &mut removals)?;
    changes.extend(removals);
    Ok(changes)
}

async fn create(swift: &Swift, ctx: &Ctx, name: &str) -> SwiftResult<Response> {
    if name.len() > MAX_CONTAINER_NAME {
        return Err(SwiftError::bad_request(format!(
            "Container name length of {} longer than {MAX_CONTAINER_NAME}",
            name.len()
        )));
    }
    let policy = match header(&ctx.headers, "x-storage-policy") {
        None | Some("") => None,
        Some(p) => {
            let set = swift.svc.policies().await?;
            if set.get(p).is_none() {
                return Err(SwiftError::bad_request(format!(
                    "Invalid X-Storage-Policy {p:?}"
                )));
            }
            Some(p.to_string())
        }
    };
    let changes = setting_changes(ctx)?;
    let mut settings = ContainerSettings {
        policy,
        ..Default::default()
    };
    for change in changes.iter().cloned() {
        settings.props.apply(change);
    }
    let meta = swift.svc.meta();
    match meta.create_container(&ctx.account, name, &settings).await {
        Ok(_) => {
            versions::apply_enabled(swift, ctx, name).await?;
            Ok(respond(StatusCode::CREATED, HeaderMap::new(), ""))
        }
        Err(meta_api::Error::ContainerExists { owner, .. }) if owner == ctx.account => {
            if !changes.is_empty() {
                meta.set_container_settings(name, changes).await?;
            }
            versions::apply_enabled(swift, ctx, name).await?;
            Ok(respond(StatusCode::ACCEPTED, HeaderMap::new(), ""))
        }
        Err(meta_api::Error::ContainerExists { .. }) => Err(SwiftError::with(
            StatusCode::CONFLICT,
            "Container name is used by another account",
        )),
        Err(e) => Err(e.into()),
    }
}

/// X-Container-* headers; ACLs and Temp-URL keys only for the owner.
async fn headers(swift: &Swift, c: &ContainerInfo, owner: bool) -> HeaderMap {
    let mut h = HeaderMap::new();
    put_header(&mut h, "x-container-object-count", &c.objects.to_string());
    put_header(&mut h, "x-container-bytes-used", &c.bytes.to_string());
    put_header(&mut h, "x-timestamp", &x_timestamp(c.created_ms));
    // Swift answers the time of the container's last PUT; Spread keeps its creation.
    put_header(
        &mut h,
        "last-modified",
        &super::http_date_ceil(c.created_ms),
    );
    let policy = match &c.settings.policy {
        Some(p) => Some(p.clone()),
        None => swift
            .svc
            .policies()
            .await
            .ok()
            .map(|s| s.default_policy().name.clone()),
    };
    if let Some(p) = policy {
        put_header(&mut h, "x-storage-policy", &p);
    }
    let swift_props = &c.settings.props.swift;
    for (m, v) in &swift_props.meta {
        if owner || !KEY_META.contains(&m.as_str()) {
            put_header(&mut h, &format!("x-container-meta-{m}"), v);
        }
    }
    if owner {
        if let Some(v) = &swift_props.read_acl {
            put_header(&mut h, "x-container-read", v);
        }
        if let Some(v) = &swift_props.write_acl {
            put_header(&mut h, "x-container-write", v);
        }
    }
    versions::container_headers(swift, c, &mut h).await;
    h
}

/// Most entries a reverse listing collects before ordering them backwards.
const REVERSE_SCAN_LIMIT: usize = 1_000_000;

async fn list(swift: &Swift, ctx: &Ctx, c: &ContainerInfo, h: HeaderMap) -> SwiftResult<Response> {
    if ctx.q("versions").is_some() {
        return version_listing::list(swift, ctx, c, h).await;
    }
    let mut params = Params::of(ctx)?;
    let mut only_objects = false;
    if let Some(path) = ctx.q("path") {
        // `path=dir` lists the objects directly under `dir/` (no subdirectories).
        // Swift's rule: the path without its trailing slashes, plus one (none for "").
        params.prefix = if path.is_empty() {
            String::new()
        } else {
            format!("{}/", path.trim_end_matches('/'))
        };
        params.delimiter = Some("/".to_string());
        only_objects = true;
    }
    let meta = swift.svc.meta();
    let mut entries: Vec<ObjectEntry> = Vec::new();
    let mut req = ListRequest {
        prefix: params.prefix.clone(),
        delimiter: params.delimiter.clone(),
        after: if params.reverse {
            None
        } else {
            params.marker.clone()
        },
        end_before: if params.reverse {
            None
        } else {
            params.end_marker.clone()
        },
        max_keys: params.limit,
    };
    let want = if params.reverse {
        REVERSE_SCAN_LIMIT
    } else {
        params.limit as usize
    };
    loop {
        let page = meta.list_objects(&c.name, &req).await?;
        for e in listing::in_name_order(page.objects, page.common_prefixes, |o| &o.key) {
            match e {
                // With `path=`, the directory marker named by the path itself is left out,
                // as Swift does.
                Paged::Item(o) if only_objects && o.key == params.prefix => {}
                Paged::Item(o) => entries.push(object_entry(o, &ctx.account, &c.name)),
                Paged::Prefix(p) if !only_objects => entries.push(ObjectEntry::Subdir(p)),
                // With `path=`, a directory marker (an object named `dir/`) is listed as an
                // object, as Swift does; other subdirectories are left out.
                Paged::Prefix(p) => match meta.get_object(&c.name, &p).await {
                    Ok(rec) if !rec.delete_marker => entries.push(ObjectEntry::Object {
                        name: rec.key,
                        hash: rec.etag,
                        bytes: rec.size,
                        content_type: rec
                            .content_type
                            .unwrap_or_else(|| "application/octet-stream".to_string()),
                        last_modified_ms: rec.mtime_ms,
                        slo_etag: None,
                        version_path: None,
                    }),
                    Ok(_) | Err(meta_api::Error::NoSuchObject(_)) => {}
                    Err(e) => return Err(e.into()),
                },
            }
        }
        if !page.truncated || entries.len() >= want || page.next_after.is_none() {
            break;
        }
        req.after = page.next_after;
        req.max_keys = (want - entries.len()).min(u32::MAX as usize) as u32;
    }
    if params.reverse {
        // Meta listed forwards; the delimiter is already applied.
        params.delimiter = None;
        params.prefix = String::new();
        entries = listing::select(entries, ObjectEntry::name, ObjectEntry::Subdir, &params);
    } else {
        entries.truncate(params.limit as usize);
    }
    Ok(listing::objects(listing::format(ctx), &c.name, &entries, h))
}

/// One object of a meta listing page (of container `container` in `account`) as Swift
/// lists it.
fn object_entry(o: meta_api::wire::ObjectSummary, account: &str, container: &str) -> ObjectEntry {
    let version_path = o.version_id.as_ref().map(|v| {
        let path = super::quote(&format!("/v1/AUTH_{account}/{container}/{}", o.key));
        format!("{path}?version-id={v}")
    });
    ObjectEntry::Object {
        name: o.key,
        hash: o.etag,
        // An SLO manifest is listed with its assembled size, as Swift does.
        bytes: o.assembled_size.unwrap_or(o.size),
        content_type: o
            .content_type
            .unwrap_or_else(|| "application/octet-stream".to_string()),
        last_modified_ms: o.mtime_ms,
        slo_etag: o.slo_etag,
        version_path,
    }
}
