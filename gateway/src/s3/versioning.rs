//! Bucket versioning: Get/PutBucketVersioning and ListObjectVersions. The versions themselves
//! live in meta2 (see `meta::store::versions`); object operations take their `versionId` in
//! `object.rs`.

use meta_api::wire::{VersionListRequest, Versioning};
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::access::{Access, granted};
use super::convert::{class_name, etag, max_keys, owner, timestamp, url_encode, wants_url};
use super::error::s3err;
use super::lock::bucket_lock;
use super::service::SpreadS3;

pub async fn get_bucket_versioning(
    s3: &SpreadS3,
    mut req: S3Request<GetBucketVersioningInput>,
) -> S3Result<S3Response<GetBucketVersioningOutput>> {
    let container = granted::<Access, _>(&mut req)?.container;
    let state = s3
        .svc
        .meta()
        .get_versioning(&container.name)
        .await
        .map_err(s3err)?;
    let status = match state {
        Versioning::Unversioned => None,
        Versioning::Enabled => Some(BucketVersioningStatus::ENABLED),
        Versioning::Suspended => Some(BucketVersioningStatus::SUSPENDED),
    };
    Ok(S3Response::new(GetBucketVersioningOutput {
        status: status.map(BucketVersioningStatus::from_static),
        ..Default::default()
    }))
}

pub async fn put_bucket_versioning(
    s3: &SpreadS3,
    mut req: S3Request<PutBucketVersioningInput>,
) -> S3Result<S3Response<PutBucketVersioningOutput>> {
    let container = granted::<Access, _>(&mut req)?.container;
    let config = &req.input.versioning_configuration;
    if config
        .mfa_delete
        .as_ref()
        .is_some_and(|m| m.as_str() == MFADelete::ENABLED)
    {
        return Err(s3_error!(
            NotImplemented,
            "MFA Delete is not supported by this server"
        ));
    }
    let state = match config.status.as_ref().map(|s| s.as_str()) {
        Some(BucketVersioningStatus::ENABLED) => Versioning::Enabled,
        Some(BucketVersioningStatus::SUSPENDED) => Versioning::Suspended,
        Some(_) => {
            return Err(s3_error!(
                MalformedXML,
                "The versioning Status must be Enabled or Suspended"
            ));
        }
        // No Status: nothing changes.
        None => return Ok(S3Response::new(PutBucketVersioningOutput {})),
    };
    if state != Versioning::Enabled && bucket_lock(&container).is_some() {
        return Err(s3_error!(
            InvalidBucketState,
            "An Object Lock configuration is present on this bucket, so the versioning state cannot be changed."
        ));
    }
    s3.svc
        .meta()
        .set_versioning(&container.name, state)
        .await
        .map_err(s3err)?;
    Ok(S3Response::new(PutBucketVersioningOutput {}))
}

pub async fn list_object_versions(
    s3: &SpreadS3,
    mut req: S3Request<ListObjectVersionsInput>,
) -> S3Result<S3Response<ListObjectVersionsOutput>> {
    let container = granted::<Access, _>(&mut req)?.container;
    let input = req.input;
    let url = wants_url(input.encoding_type.as_ref())?;
    let max = max_keys(input.max_keys)?;
    if input
        .version_id_marker
        .as_ref()
        .is_some_and(|v| !v.is_empty())
        && input.key_marker.as_ref().is_none_or(|k| k.is_empty())
    {
        return Err(s3_error!(
            InvalidArgument,
            "A version-id marker cannot be specified without a key marker."
        ));
    }
    let reply = if max == 0 {
        Default::default()
    } else {
        s3.svc
            .meta()
            .list_versions(
                &container.name,
                &VersionListRequest {
                    prefix: input.prefix.clone().unwrap_or_default(),
                    delimiter: input.delimiter.clone().filter(|d| !d.is_empty()),
                    key_marker: input.key_marker.clone(),
                    version_id_marker: input.version_id_marker.clone(),
                    max_keys: max,
                },
            )
            .await
            .map_err(s3err)?
    };
    let enc = |s: &str| if url { url_encode(s) } else { s.to_string() };
    let owner = owner(&container.account);
    let policies = s3.svc.policies().await.ok();
    let mut versions = Vec::new();
    let mut markers = Vec::new();
    for v in &reply.versions {
        if v.delete_marker {
            markers.push(DeleteMarkerEntry {
                is_latest: Some(v.is_latest),
                key: Some(enc(&v.key)),
                last_modified: Some(timestamp(v.mtime_ms)),
                owner: Some(owner.clone()),
                version_id: Some(v.version_id.clone()),
            });
        } else {
            versions.push(ObjectVersion {
                e_tag: Some(etag(&v.etag)),
                is_latest: Some(v.is_latest),
                key: Some(enc(&v.key)),
                last_modified: Some(timestamp(v.mtime_ms)),
                owner: Some(owner.clone()),
                size: Some(v.size as i64),
                storage_class: Some(ObjectVersionStorageClass::from(class_name(
                    policies.as_deref(),
                    &v.policy,
                ))),
                version_id: Some(v.version_id.clone()),
                ..Default::default()
            });
        }
    }
    let prefixes = reply
        .common_prefixes
        .iter()
        .map(|p| CommonPrefix {
            prefix: Some(enc(p)),
        })
        .collect();
    Ok(S3Response::new(ListObjectVersionsOutput {
        name: Some(container.name),
        prefix: Some(enc(input.prefix.as_deref().unwrap_or_default())),
        delimiter: input.delimiter.as_deref().map(enc),
        key_marker: Some(enc(input.key_marker.as_deref().unwrap_or_default())),
        version_id_marker: Some(input.version_id_marker.unwrap_or_default()),
        max_keys: Some(max as i32),
        is_truncated: Some(reply.truncated),
        next_key_marker: reply.next_key_marker.as_deref().map(enc),
        next_version_id_marker: reply.next_version_id_marker,
        versions: Some(versions),
        delete_markers: Some(markers),
        common_prefixes: Some(prefixes),
        encoding_type: input.encoding_type,
        ..Default::default()
    }))
}
