//! Bucket operations: list, create, head, delete, location.

use meta_api::wire::ContainerSettings;
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::access::{Access, AccountAccess, granted};
use super::acl::{acl_with_enforced, grant_headers, owner_only, parse_ownership};
use super::convert::{owner, timestamp};
use super::error::s3err;
use super::lock::BucketLock;
use super::service::SpreadS3;
use meta_api::settings::ObjectOwnership;

pub async fn list_buckets(
    s3: &SpreadS3,
    mut req: S3Request<ListBucketsInput>,
) -> S3Result<S3Response<ListBucketsOutput>> {
    let AccountAccess(account) = granted(&mut req)?;
    let containers = s3
        .svc
        .meta()
        .list_containers(&account)
        .await
        .map_err(s3err)?;
    let input = req.input;
    let max = match input.max_buckets {
        None => MAX_BUCKETS_PAGE,
        Some(n) if (1..=MAX_BUCKETS_PAGE).contains(&n) => n,
        Some(_) => {
            return Err(s3_error!(
                InvalidArgument,
                "max-buckets must be between 1 and {MAX_BUCKETS_PAGE}"
            ));
        }
    };
    let prefix = input.prefix.clone().unwrap_or_default();
    // The continuation token is the name of the last bucket of the previous page.
    let after = input.continuation_token.clone().filter(|t| !t.is_empty());
    let mut names: Vec<_> = containers
        .into_iter()
        .filter(|c| c.name.starts_with(&prefix))
        .filter(|c| after.as_ref().is_none_or(|a| c.name > *a))
        .collect();
    names.sort_by(|a, b| a.name.cmp(&b.name));
    let truncated = names.len() > max as usize;
    names.truncate(max as usize);
    let continuation_token = if truncated {
        names.last().map(|c| c.name.clone())
    } else {
        None
    };
    let buckets = names
        .into_iter()
        .map(|c| Bucket {
            bucket_region: Some(s3.svc.config().region.clone()),
            creation_date: Some(timestamp(c.created_ms)),
            name: Some(c.name),
        })
        .collect();
    Ok(S3Response::new(ListBucketsOutput {
        buckets: Some(buckets),
        owner: Some(owner(&account)),
        prefix: input.prefix,
        continuation_token,
    }))
}

/// The most buckets one ListBuckets page holds (AWS's default and largest page).
const MAX_BUCKETS_PAGE: i32 = 10_000;

/// The region where creating a bucket one already owns succeeds.
const LEGACY_REGION: &str = "us-east-1";

pub async fn create_bucket(
    s3: &SpreadS3,
    mut req: S3Request<CreateBucketInput>,
) -> S3Result<S3Response<CreateBucketOutput>> {
    let AccountAccess(account) = granted(&mut req)?;
    let bucket = &req.input.bucket;
    if let Some(rule) = super::fixups::bucket_name_problem(bucket) {
        return Err(s3_error!(
            InvalidBucketName,
            "The specified bucket is not valid: {rule}."
        ));
    }
    let object_lock = req.input.object_lock_enabled_for_bucket == Some(true);
    let policy = storage_policy_header(&req.headers)?;
    if let Some(name) = &policy {
        // Only a policy the applied policy file defines: a bucket must never be made with
        // one no object could be written under.
        let known = s3.svc.policies().await.map_err(s3err)?;
        if known.get(name).is_none() {
            return Err(s3_error!(
                InvalidArgument,
                "Unknown storage policy {name} in x-spread-storage-policy"
            ));
        }
    }
    let mut settings = ContainerSettings {
        policy,
        ..Default::default()
    };
    if object_lock {
        settings.props.object_lock = Some(BucketLock::default());
    }
    let input = &req.input;
    let grants = grant_headers!(input);
    if let Some(acl) = s3
        .requested_acl(
            input.acl.as_ref().map(|a| a.as_str()),
            &grants,
            &account,
            &account,
        )
        .await?
    {
        settings.props.acl = Some(acl);
    }
    if let Some(o) = &input.object_ownership {
        let o = parse_ownership(o.as_str())?;
        if o == ObjectOwnership::BucketOwnerEnforced
            && settings
                .props
                .acl
                .as_ref()
                .is_some_and(|acl| !owner_only(acl, &account))
        {
            return Err(acl_with_enforced());
        }
        settings.props.ownership = Some(o);
    }
    if let Some(loc) = req
        .input
        .create_bucket_configuration
        .as_ref()
        .and_then(|c| c.location_constraint.as_ref())
    {
        let loc = loc.as_str();
        if !loc.is_empty() && loc != s3.svc.config().region {
            return Err(s3_error!(
                InvalidLocationConstraint,
                "The specified location-constraint is not valid"
            ));
        }
        settings.props.location = Some(loc.to_string());
    }
    match s3
        .svc
        .meta()
        .create_container(&account, bucket, &settings)
        .await
    {
        Ok(_) => {
            if object_lock {
                // Object lock needs versioning, for good (it cannot be suspended later).
                let enabled = s3
                    .svc
                    .meta()
                    .set_versioning(bucket, meta_api::wire::Versioning::Enabled)
                    .await;
                if let Err(e) = enabled {
                    let _ = s3.svc.meta().delete_container(&account, bucket).await;
                    return Err(s3err(e));
                }
            }
            Ok(S3Response::new(CreateBucketOutput {
                location: Some(format!("/{bucket}")),
            }))
        }
        // us-east-1 answers 200 to its owner re-creating a bucket (AWS keeps this for legacy
        // clients); every other region answers BucketAlreadyOwnedByYou.
        Err(meta_api::Error::ContainerExists { owner, .. })
            if owner == account && s3.svc.config().region == LEGACY_REGION =>
        {
            Ok(S3Response::new(CreateBucketOutput {
                location: Some(format!("/{bucket}")),
            }))
        }
        Err(meta_api::Error::ContainerExists { owner, .. }) if owner == account => Err(s3_error!(
            BucketAlreadyOwnedByYou,
            "Your previous request to create the named bucket succeeded and you already own it."
        )),
        Err(meta_api::Error::ContainerExists { .. }) => Err(s3_error!(
            BucketAlreadyExists,
            "The requested bucket name is not available."
        )),
        Err(e) => Err(s3err(e)),
    }
}

pub async fn head_bucket(
    s3: &SpreadS3,
    mut req: S3Request<HeadBucketInput>,
) -> S3Result<S3Response<HeadBucketOutput>> {
    granted::<Access, _>(&mut req)?;
    Ok(S3Response::new(HeadBucketOutput {
        bucket_region: Some(s3.svc.config().region.clone()),
        ..Default::default()
    }))
}

pub async fn delete_bucket(
    s3: &SpreadS3,
    mut req: S3Request<DeleteBucketInput>,
) -> S3Result<S3Response<DeleteBucketOutput>> {
    let container = granted::<Access, _>(&mut req)?.container;
    s3.svc
        .meta()
        .delete_container(&container.account, &container.name)
        .await
        .map_err(s3err)?;
    Ok(S3Response::new(DeleteBucketOutput {}))
}

pub async fn get_bucket_location(
    s3: &SpreadS3,
    mut req: S3Request<GetBucketLocationInput>,
) -> S3Result<S3Response<GetBucketLocationOutput>> {
    granted::<Access, _>(&mut req)?;
    let region = &s3.svc.config().region;
    // us-east-1 is answered with an empty LocationConstraint, as AWS does.
    let location_constraint = if region == "us-east-1" {
        None
    } else {
        Some(BucketLocationConstraint::from(region.clone()))
    };
    Ok(S3Response::new(GetBucketLocationOutput {
        location_constraint,
    }))
}

/// Header naming the storage policy of a new bucket (Spread extension; Swift has
/// X-Storage-Policy for the same thing).
pub const STORAGE_POLICY_HEADER: &str = "x-spread-storage-policy";

fn storage_policy_header(headers: &http::HeaderMap) -> S3Result<Option<String>> {
    match headers.get(STORAGE_POLICY_HEADER) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .ok()
            .map(|s| Some(s.trim().to_string()))
            .ok_or_else(|| s3_error!(InvalidArgument, "x-spread-storage-policy is not valid text")),
    }
}
