//! The object lock model: a bucket's lock (created with it, `x-amz-bucket-object-lock-enabled:
//! true`; its default retention the typed `object_lock` setting) and the lock properties of a version
//! (`meta_api::lock`): those a write's `x-amz-object-lock-*` headers ask for, and those answered
//! with a version. The object lock operations are in `object_lock`.

use meta_api::lock::{self, COMPLIANCE, GOVERNANCE};
use meta_api::settings::VersionProps;
use meta_api::wire::{ContainerInfo, ObjectRecord};
use s3s::dto::*;
use s3s::{S3Result, s3_error};

use super::convert::{millis, timestamp};
use crate::objects::now_ms;

pub use meta_api::lock::BucketLock;

/// The object lock of `c`, if it was created with one.
pub fn bucket_lock(c: &ContainerInfo) -> Option<&BucketLock> {
    c.settings.props.object_lock.as_ref()
}

pub fn no_lock_configuration() -> s3s::S3Error {
    s3_error!(
        InvalidRequest,
        "Bucket is missing Object Lock Configuration"
    )
}

pub fn retention_mode(mode: &str) -> S3Result<&'static str> {
    match mode {
        GOVERNANCE => Ok(GOVERNANCE),
        COMPLIANCE => Ok(COMPLIANCE),
        _ => Err(s3_error!(
            MalformedXML,
            "The retention mode must be GOVERNANCE or COMPLIANCE"
        )),
    }
}

/// The lock properties a request's `x-amz-object-lock-*` headers give a new version of an
/// object in `c` (meta adds the bucket's default retention when they name none).
pub fn new_version_props(
    c: &ContainerInfo,
    mode: Option<&ObjectLockMode>,
    until: Option<&Timestamp>,
    hold: Option<&ObjectLockLegalHoldStatus>,
) -> S3Result<VersionProps> {
    let mut props = VersionProps::default();
    if bucket_lock(c).is_none() {
        if mode.is_some() || until.is_some() || hold.is_some() {
            return Err(no_lock_configuration());
        }
        return Ok(props);
    }
    let now = now_ms();
    let retention = match (mode, until) {
        (Some(m), Some(u)) => {
            let until = millis(u);
            if until <= now {
                return Err(s3_error!(
                    InvalidArgument,
                    "The retain until date must be in the future!"
                ));
            }
            let mode = retention_mode(m.as_str())
                .map_err(|_| s3_error!(InvalidArgument, "Unknown wormMode directive."))?;
            Some((mode.to_string(), until))
        }
        // Meta gives the bucket's default retention to versions that name none.
        (None, None) => None,
        _ => {
            return Err(s3_error!(
                InvalidArgument,
                "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied"
            ));
        }
    };
    if let Some((mode, until_ms)) = retention {
        props.retention = Some(lock::Retention { mode, until_ms });
    }
    match hold.map(|h| h.as_str()) {
        Some("ON") => props.legal_hold = true,
        Some("OFF") | None => {}
        Some(_) => {
            return Err(s3_error!(
                InvalidArgument,
                "Legal Hold must be either of 'ON' or 'OFF'"
            ));
        }
    }
    Ok(props)
}

/// The `x-amz-object-lock-*` answer headers of a version: mode, retain-until date, legal hold.
pub fn version_fields(
    rec: &ObjectRecord,
) -> (
    Option<ObjectLockMode>,
    Option<Timestamp>,
    Option<ObjectLockLegalHoldStatus>,
) {
    let retention = rec.props.retention.as_ref();
    let hold = rec
        .props
        .legal_hold
        .then(|| ObjectLockLegalHoldStatus::from("ON".to_string()));
    (
        retention
            .as_ref()
            .map(|r| ObjectLockMode::from(r.mode.clone())),
        retention.map(|r| timestamp(r.until_ms)),
        hold,
    )
}
