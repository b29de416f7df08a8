//! S3 object lock. A bucket gets it at creation (`x-amz-bucket-object-lock-enabled: true`,
//! which also enables versioning for good); its default retention is the typed `object_lock`
//! setting (Get/PutObjectLockConfiguration through the generic path of `settings`).
//! Each version's retention and legal hold are version properties (`meta_api::lock`), set when the
//! version is written (request headers, else the bucket default) or later through
//! Put/GetObjectRetention and Put/GetObjectLegalHold. Meta enforces them, in the transaction
//! of the delete or change: a locked version cannot be deleted, a COMPLIANCE retention cannot
//! be shortened or weakened, a GOVERNANCE one only with `x-amz-bypass-governance-retention`.

use meta_api::lock;
use meta_api::settings::{ContainerProps, SettingChange, VersionChange};
use s3s::dto::*;
use s3s::{S3Error, S3Request, S3Response, S3Result, s3_error};

use super::access::{Access, granted};
use super::convert::{millis, timestamp};
use super::error::s3err;
use super::lock::{BucketLock, bucket_lock, no_lock_configuration, retention_mode};
use super::service::SpreadS3;
use super::settings::{BucketSetting, FromInput, ToOutput};
use crate::objects::now_ms;

/// The access of an object-lock request on a version, whose bucket must have a lock
/// (`InvalidRequest` without one).
fn locked<T>(req: &mut S3Request<T>) -> S3Result<Access> {
    let access: Access = granted(req)?;
    if bucket_lock(&access.container).is_none() {
        return Err(no_lock_configuration());
    }
    Ok(access)
}

/// The bucket sub-resource `?object-lock`: present on buckets created with object lock, with
/// their default retention.
pub struct BucketObjectLock;

impl BucketSetting for BucketObjectLock {
    type Value = BucketLock;

    fn read(props: &ContainerProps) -> Option<&BucketLock> {
        props.object_lock.as_ref()
    }

    fn change(value: Option<BucketLock>) -> SettingChange {
        SettingChange::ObjectLock(value)
    }

    fn missing() -> S3Error {
        s3_error!(
            ObjectLockConfigurationNotFoundError,
            "Object Lock configuration does not exist for this bucket"
        )
    }
}

impl ToOutput<GetObjectLockConfigurationOutput> for BucketObjectLock {
    fn to_output(_: &Access, lock: &BucketLock) -> S3Result<GetObjectLockConfigurationOutput> {
        let rule = lock.mode.as_ref().map(|mode| ObjectLockRule {
            default_retention: Some(DefaultRetention {
                mode: Some(ObjectLockRetentionMode::from(mode.clone())),
                days: lock.days,
                years: lock.years,
            }),
        });
        Ok(GetObjectLockConfigurationOutput {
            object_lock_configuration: Some(ObjectLockConfiguration {
                object_lock_enabled: Some(ObjectLockEnabled::from_static(
                    ObjectLockEnabled::ENABLED,
                )),
                rule,
            }),
        })
    }
}

impl FromInput<PutObjectLockConfigurationInput> for BucketObjectLock {
    /// A bucket gets object lock at creation only.
    fn from_input(access: &Access, input: PutObjectLockConfigurationInput) -> S3Result<BucketLock> {
        if bucket_lock(&access.container).is_none() {
            return Err(s3_error!(
                InvalidBucketState,
                "Object Lock configuration cannot be enabled on existing buckets"
            ));
        }
        parse_configuration(input.object_lock_configuration.as_ref())
    }
}

/// Checks a configuration and turns it into the bucket's [`BucketLock`].
fn parse_configuration(config: Option<&ObjectLockConfiguration>) -> S3Result<BucketLock> {
    let malformed = || {
        s3_error!(
            MalformedXML,
            "The XML you provided was not well-formed or did not validate against our published schema"
        )
    };
    let config = config.ok_or_else(malformed)?;
    if config.object_lock_enabled.as_ref().map(|e| e.as_str()) != Some(ObjectLockEnabled::ENABLED) {
        return Err(malformed());
    }
    let Some(retention) = config
        .rule
        .as_ref()
        .and_then(|r| r.default_retention.as_ref())
    else {
        return Ok(BucketLock::default());
    };
    let mode = retention_mode(retention.mode.as_ref().ok_or_else(malformed)?.as_str())?;
    let (days, years) = match (retention.days, retention.years) {
        (Some(_), Some(_)) | (None, None) => return Err(malformed()),
        other => other,
    };
    if days.is_some_and(|d| d <= 0) || years.is_some_and(|y| y <= 0) {
        // Not in s3s 0.14's list of codes.
        let mut err = s3s::S3Error::with_message(
            s3s::S3ErrorCode::Custom("InvalidRetentionPeriod".into()),
            "Default retention period must be a positive integer value.",
        );
        err.set_status_code(http::StatusCode::BAD_REQUEST);
        return Err(err);
    }
    Ok(BucketLock {
        mode: Some(mode.to_string()),
        days,
        years,
    })
}

pub async fn get_retention(
    s3: &SpreadS3,
    mut req: S3Request<GetObjectRetentionInput>,
) -> S3Result<S3Response<GetObjectRetentionOutput>> {
    let access = locked(&mut req)?;
    let input = &req.input;
    let rec = access
        .read_version(s3, &input.key, input.version_id.as_deref())
        .await?;
    let Some(r) = rec.props.retention.clone() else {
        return Err(s3_error!(
            NoSuchObjectLockConfiguration,
            "The specified object does not have a ObjectLock configuration"
        ));
    };
    Ok(S3Response::new(GetObjectRetentionOutput {
        retention: Some(ObjectLockRetention {
            mode: Some(ObjectLockRetentionMode::from(r.mode)),
            retain_until_date: Some(timestamp(r.until_ms)),
        }),
    }))
}

pub async fn put_retention(
    s3: &SpreadS3,
    mut req: S3Request<PutObjectRetentionInput>,
) -> S3Result<S3Response<PutObjectRetentionOutput>> {
    let access = locked(&mut req)?;
    let input = &req.input;
    let retention = input.retention.as_ref();
    let mode = retention.and_then(|r| r.mode.as_ref());
    let until = retention.and_then(|r| r.retain_until_date.as_ref());
    let retention = match (mode, until) {
        (Some(m), Some(u)) => {
            let mode = retention_mode(m.as_str())?;
            let until = millis(u);
            if until <= now_ms() {
                return Err(s3_error!(
                    InvalidArgument,
                    "The retain until date must be in the future!"
                ));
            }
            Some(lock::Retention {
                mode: mode.to_string(),
                until_ms: until,
            })
        }
        // An empty retention removes it (allowed by meta once expired, or with bypass).
        (None, None) => None,
        _ => {
            return Err(s3_error!(
                MalformedXML,
                "A retention needs both Mode and RetainUntilDate"
            ));
        }
    };
    let rec = access
        .read_version(s3, &input.key, input.version_id.as_deref())
        .await?;
    s3.svc
        .meta()
        .change_object_props(
            &access.container.name,
            &input.key,
            Some(&rec.version_id),
            vec![VersionChange::Retention(retention)],
            input.bypass_governance_retention == Some(true),
        )
        .await
        .map_err(s3err)?;
    Ok(S3Response::new(PutObjectRetentionOutput::default()))
}

pub async fn get_legal_hold(
    s3: &SpreadS3,
    mut req: S3Request<GetObjectLegalHoldInput>,
) -> S3Result<S3Response<GetObjectLegalHoldOutput>> {
    let access = locked(&mut req)?;
    let input = &req.input;
    let rec = access
        .read_version(s3, &input.key, input.version_id.as_deref())
        .await?;
    let status = if rec.props.legal_hold { "ON" } else { "OFF" };
    Ok(S3Response::new(GetObjectLegalHoldOutput {
        legal_hold: Some(ObjectLockLegalHold {
            status: Some(ObjectLockLegalHoldStatus::from(status.to_string())),
        }),
    }))
}

pub async fn put_legal_hold(
    s3: &SpreadS3,
    mut req: S3Request<PutObjectLegalHoldInput>,
) -> S3Result<S3Response<PutObjectLegalHoldOutput>> {
    let access = locked(&mut req)?;
    let input = &req.input;
    let on = match input
        .legal_hold
        .as_ref()
        .and_then(|h| h.status.as_ref())
        .map(|s| s.as_str())
    {
        Some("ON") => true,
        Some("OFF") => false,
        _ => {
            return Err(s3_error!(
                MalformedXML,
                "The legal hold Status must be ON or OFF"
            ));
        }
    };
    let rec = access
        .read_version(s3, &input.key, input.version_id.as_deref())
        .await?;
    s3.svc
        .meta()
        .change_object_props(
            &access.container.name,
            &input.key,
            Some(&rec.version_id),
            vec![VersionChange::LegalHold(on)],
            false,
        )
        .await
        .map_err(s3err)?;
    Ok(S3Response::new(PutObjectLegalHoldOutput::default()))
}
