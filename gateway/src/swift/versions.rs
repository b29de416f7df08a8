//! Swift versioning, both kinds:
//! - versioned writes (`X-Versions-Location`: stack mode, `X-History-Location`: history mode)
//!   name an archive container of the same account. Before an object is overwritten its current
//!   content is copied there as `<3-hex-digit key length><key>/<X-Timestamp>`. On DELETE, stack
//!   mode deletes the object and restores the newest archived copy; history mode archives the
//!   object, adds a delete marker (`application/x-deleted;swift_versions_deleted=1`) and deletes.
//! - object versioning (`X-Versions-Enabled`) is the container's S3 versioning: the same
//!   versions, version ids and delete markers S3 clients see (`?version-id=` on objects,
//!   `X-Object-Version-Id` in answers).

use http::{HeaderMap, StatusCode};
use meta_api::settings::SettingChange;
use meta_api::wire::{ContainerInfo, ListRequest, ObjectRecord, Versioning};

use super::error::{SwiftError, SwiftResult};
use super::router::{Ctx, Swift, account_container};
use super::{header, put_header, x_timestamp};
use crate::objects::{Digests, NewObject, ObjectAttrs, now_ms};

/// Container properties holding the archive container's name.
/// Content type of a history-mode delete marker.
pub(super) const DELETED_TYPE: &str = "application/x-deleted;swift_versions_deleted=1";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Stack,
    History,
}

fn archive_of(c: &ContainerInfo) -> Option<(Mode, &str)> {
    let props = &c.settings.props.swift;
    if let Some(loc) = &props.versions_location {
        return Some((Mode::Stack, loc.as_str()));
    }
    props
        .history_location
        .as_deref()
        .map(|l| (Mode::History, l))
}

/// The archive name prefix of `key`.
fn archive_prefix(key: &str) -> String {
    format!("{:03x}{key}/", key.len())
}

/// A setting change of one optional value (`None`: removed).
pub(super) type Change = fn(Option<String>) -> SettingChange;

/// Setting changes of the versioning headers on a container PUT or POST, added to `set` /
/// `remove` (applied after `set`). Both locations at once is a 400.
pub fn location_changes(
    headers: &HeaderMap,
    set: &mut Vec<SettingChange>,
    remove: &mut Vec<SettingChange>,
) -> SwiftResult<()> {
    let (versions_change, history_change): (Change, Change) = (
        SettingChange::VersionsLocation,
        SettingChange::HistoryLocation,
    );
    let versions = header(headers, "x-versions-location");
    let history = header(headers, "x-history-location");
    if versions.is_some_and(|v| !v.is_empty()) && history.is_some_and(|v| !v.is_empty()) {
        return Err(SwiftError::bad_request(
            "Only one of X-Versions-Location or X-History-Location may be specified",
        ));
    }
    for (value, name, change, other) in [
        (
            versions,
            "versions-location",
            versions_change,
            history_change,
        ),
        (history, "history-location", history_change, versions_change),
    ] {
        match value {
            Some("") => remove.push(change(None)),
            Some(v) => {
                let location = percent_encoding::percent_decode_str(v)
                    .decode_utf8()
                    .map_err(|_| SwiftError::bad_request("Invalid versions location"))?;
                if location.contains('/') {
                    return Err(SwiftError::bad_request(
                        "The versions location must be a container name",
                    ));
                }
                set.push(change(Some(location.into_owned())));
                remove.push(other(None));
            }
            None => {}
        }
        if headers.contains_key(format!("x-remove-{name}").as_str()) {
            remove.push(change(None));
        }
    }
    Ok(())
}

/// `X-Versions-Enabled` on a container PUT or POST: `true` enables S3 versioning, `false`
/// suspends it once enabled.
pub async fn apply_enabled(swift: &Swift, ctx: &Ctx, name: &str) -> SwiftResult<()> {
    let Some(v) = header(&ctx.headers, "x-versions-enabled") else {
        return Ok(());
    };
    let on = matches!(
        v.to_ascii_lowercase().as_str(),
        "true" | "1" | "yes" | "on" | "t" | "y"
    );
    let meta = swift.svc.meta();
    if on {
        meta.set_versioning(name, Versioning::Enabled).await?;
    } else if meta.get_versioning(name).await? != Versioning::Unversioned {
        meta.set_versioning(name, Versioning::Suspended).await?;
    }
    Ok(())
}

/// Container HEAD/GET headers about versioning.
pub async fn container_headers(swift: &Swift, c: &ContainerInfo, h: &mut HeaderMap) {
    if let Some((mode, loc)) = archive_of(c) {
        let name = match mode {
            Mode::Stack => "x-versions-location",
            Mode::History => "x-history-location",
        };
        put_header(h, name, loc);
    }
    match swift.svc.meta().get_versioning(&c.name).await {
        Ok(Versioning::Enabled) => put_header(h, "x-versions-enabled", "True"),
        Ok(Versioning::Suspended) => put_header(h, "x-versions-enabled", "False"),
        _ => {}
    }
}

/// The archive container, checked: it exists in the account and the caller may write to it.
async fn archive_container(swift: &Swift, ctx: &Ctx, name: &str) -> SwiftResult<ContainerInfo> {
    let archive = match account_container(swift, &ctx.account, name).await {
        Ok(a) => a,
        Err(e) if e.status == StatusCode::NOT_FOUND => {
            return Err(SwiftError::with(
                StatusCode::PRECONDITION_FAILED,
                format!("The versions container {name} does not exist"),
            ));
        }
        Err(e) => return Err(e),
    };
    if !ctx.caller.may_write(&archive) {
        return Err(ctx.caller.denied());
    }
    Ok(archive)
}

/// The current object, if any.
async fn current(swift: &Swift, c: &ContainerInfo, key: &str) -> SwiftResult<Option<ObjectRecord>> {
    match swift.svc.meta().get_object(&c.name, key).await {
        Ok(r) => Ok(Some(r)),
        Err(meta_api::Error::NoSuchObject(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Copies `rec` (its bytes, metadata and timestamp name) into the archive.
async fn archive_copy(
    swift: &Swift,
    archive: &ContainerInfo,
    rec: &ObjectRecord,
) -> SwiftResult<()> {
    let name = format!("{}{}", archive_prefix(&rec.key), x_timestamp(rec.mtime_ms));
    let policy = swift.svc.resolve_policy(archive, None).await?;
    swift
        .svc
        .copy_object(
            rec,
            None,
            archive,
            NewObject::new(&name, policy, ObjectAttrs::of(rec)).keeping_encryption_of(rec),
        )
        .await?;
    Ok(())
}

/// Before `key` of `c` is overwritten: archives its current content when the container has
/// versioned writes.
pub async fn before_overwrite(
    swift: &Swift,
    ctx: &Ctx,
    c: &ContainerInfo,
    key: &str,
) -> SwiftResult<()> {
    let Some((_, loc)) = archive_of(c) else {
        return Ok(());
    };
    let Some(rec) = current(swift, c, key).await? else {
        return Ok(());
    };
    let archive = archive_container(swift, ctx, loc).await?;
    archive_copy(swift, &archive, &rec).await
}

/// DELETE in a container with versioned writes; `None` when it has none (plain delete).
pub async fn delete(
    swift: &Swift,
    ctx: &Ctx,
    c: &ContainerInfo,
    key: &str,
) -> SwiftResult<Option<bool>> {
    let Some((mode, loc)) = archive_of(c) else {
        return Ok(None);
    };
    let archive = archive_container(swift, ctx, loc).await?;
    let meta = swift.svc.meta();
    let existing = current(swift, c, key).await?;
    match mode {
        Mode::History => {
            let Some(rec) = existing else {
                return Ok(Some(false));
            };
            archive_copy(swift, &archive, &rec).await?;
            let name = format!("{}{}", archive_prefix(key), x_timestamp(now_ms()));
            let policy = swift.svc.resolve_policy(&archive, None).await?;
            let attrs = ObjectAttrs {
                content_type: Some(DELETED_TYPE.to_string()),
                ..Default::default()
            };
            let empty = futures::stream::empty::<Result<bytes::Bytes, std::io::Error>>();
            swift
                .svc
                .put_object(
                    &archive,
                    NewObject::new(&name, policy, attrs),
                    empty,
                    Digests::new(None),
                    |_, _| Ok(()),
                )
                .await?;
            meta.delete_object(&c.name, key).await?;
            Ok(Some(true))
        }
        Mode::Stack => {
            let deleted = match existing {
                Some(_) => meta.delete_object(&c.name, key).await?.is_some(),
                None => false,
            };
            let restored = restore_newest(swift, &archive, c, key).await?;
            Ok(Some(deleted || restored))
        }
    }
}

/// Stack mode: moves the newest archived copy of `key` back into `c`.
async fn restore_newest(
    swift: &Swift,
    archive: &ContainerInfo,
    c: &ContainerInfo,
    key: &str,
) -> SwiftResult<bool> {
    let meta = swift.svc.meta();
    let mut req = ListRequest {
        prefix: archive_prefix(key),
        max_keys: 1000,
        ..Default::default()
    };
    let mut newest = None;
    for _ in 0..10_000 {
        let page = meta.list_objects(&archive.name, &req).await?;
        if let Some(last) = page.objects.last() {
            newest = Some(last.key.clone());
        }
        if !page.truncated || page.next_after.is_none() {
            break;
        }
        req.after = page.next_after;
    }
    let Some(name) = newest else {
        return Ok(false);
    };
    let rec = meta.get_object(&archive.name, &name).await?;
    let policy = swift.svc.resolve_policy(c, None).await?;
    swift
        .svc
        .copy_object(
            &rec,
            None,
            c,
            NewObject::new(key, policy, ObjectAttrs::of(&rec)).keeping_encryption_of(&rec),
        )
        .await?;
    meta.delete_object(&archive.name, &name).await?;
    Ok(true)
}

/// `X-Object-Version-Id` for a stored version (none for the `null` version).
pub fn version_header(h: &mut HeaderMap, rec: &ObjectRecord) {
    if rec.version_id != "null" && !rec.version_id.is_empty() {
        put_header(h, "x-object-version-id", &rec.version_id);
    }
}
