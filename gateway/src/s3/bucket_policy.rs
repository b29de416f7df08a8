//! Bucket policy operations (Put/Get/DeleteBucketPolicy, GetBucketPolicyStatus) and the public
//! access block ones (Put/Get/DeletePublicAccessBlock). The policy model is in `policy`; who
//! may call these is decided before they run (`operations`: the bucket owner).

use std::collections::BTreeMap;

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::access::{Access, granted};
use super::error::s3err;
use super::policy::{
    PAB_PROP, POLICY_PROP, Policy, PublicAccessBlock, public_access_block, stored,
};
use super::service::SpreadS3;

async fn set_prop(s3: &SpreadS3, bucket: &str, name: &str, value: Option<String>) -> S3Result<()> {
    let (set, remove) = match value {
        Some(v) => (BTreeMap::from([(name.to_string(), v)]), Vec::new()),
        None => (BTreeMap::new(), vec![name.to_string()]),
    };
    s3.svc
        .meta()
        .update_container_properties(bucket, &set, &remove)
        .await
        .map_err(s3err)?;
    Ok(())
}

pub async fn put_bucket_policy(
    s3: &SpreadS3,
    mut req: S3Request<PutBucketPolicyInput>,
) -> S3Result<S3Response<PutBucketPolicyOutput>> {
    let access: Access = granted(&mut req)?;
    let bucket = &access.container.name;
    let policy = Policy::parse(&req.input.policy, bucket)?;
    if policy.is_public() && public_access_block(&access.container).block_public_policy {
        return Err(s3_error!(AccessDenied, "Access Denied"));
    }
    set_prop(s3, bucket, POLICY_PROP, Some(req.input.policy.clone())).await?;
    Ok(S3Response::new(PutBucketPolicyOutput {}))
}

pub async fn get_bucket_policy(
    _s3: &SpreadS3,
    mut req: S3Request<GetBucketPolicyInput>,
) -> S3Result<S3Response<GetBucketPolicyOutput>> {
    let access: Access = granted(&mut req)?;
    match access.container.settings.properties.get(POLICY_PROP) {
        Some(doc) => Ok(S3Response::new(GetBucketPolicyOutput {
            policy: Some(doc.clone()),
        })),
        None => Err(s3_error!(
            NoSuchBucketPolicy,
            "The bucket policy does not exist"
        )),
    }
}

pub async fn delete_bucket_policy(
    s3: &SpreadS3,
    mut req: S3Request<DeleteBucketPolicyInput>,
) -> S3Result<S3Response<DeleteBucketPolicyOutput>> {
    let access: Access = granted(&mut req)?;
    set_prop(s3, &access.container.name, POLICY_PROP, None).await?;
    Ok(S3Response::new(DeleteBucketPolicyOutput {}))
}

pub async fn get_bucket_policy_status(
    _s3: &SpreadS3,
    mut req: S3Request<GetBucketPolicyStatusInput>,
) -> S3Result<S3Response<GetBucketPolicyStatusOutput>> {
    let access: Access = granted(&mut req)?;
    let public =
        stored(&access.container).is_some_and(|p| p.is_public()) || access.bucket_acl().is_public();
    Ok(S3Response::new(GetBucketPolicyStatusOutput {
        policy_status: Some(PolicyStatus {
            is_public: Some(public),
        }),
    }))
}

pub async fn put_public_access_block(
    s3: &SpreadS3,
    mut req: S3Request<PutPublicAccessBlockInput>,
) -> S3Result<S3Response<PutPublicAccessBlockOutput>> {
    let access: Access = granted(&mut req)?;
    let c = &req.input.public_access_block_configuration;
    let pab = PublicAccessBlock {
        block_public_acls: c.block_public_acls.unwrap_or(false),
        ignore_public_acls: c.ignore_public_acls.unwrap_or(false),
        block_public_policy: c.block_public_policy.unwrap_or(false),
        restrict_public_buckets: c.restrict_public_buckets.unwrap_or(false),
    };
    let json = serde_json::to_string(&pab)
        .map_err(|e| s3err(crate::error::Error::Internal(e.to_string())))?;
    set_prop(s3, &access.container.name, PAB_PROP, Some(json)).await?;
    Ok(S3Response::new(PutPublicAccessBlockOutput {}))
}

pub async fn get_public_access_block(
    _s3: &SpreadS3,
    mut req: S3Request<GetPublicAccessBlockInput>,
) -> S3Result<S3Response<GetPublicAccessBlockOutput>> {
    let access: Access = granted(&mut req)?;
    let pab = public_access_block(&access.container);
    Ok(S3Response::new(GetPublicAccessBlockOutput {
        public_access_block_configuration: Some(PublicAccessBlockConfiguration {
            block_public_acls: Some(pab.block_public_acls),
            ignore_public_acls: Some(pab.ignore_public_acls),
            block_public_policy: Some(pab.block_public_policy),
            restrict_public_buckets: Some(pab.restrict_public_buckets),
        }),
    }))
}

pub async fn delete_public_access_block(
    s3: &SpreadS3,
    mut req: S3Request<DeletePublicAccessBlockInput>,
) -> S3Result<S3Response<DeletePublicAccessBlockOutput>> {
    let access: Access = granted(&mut req)?;
    set_prop(s3, &access.container.name, PAB_PROP, None).await?;
    Ok(S3Response::new(DeletePublicAccessBlockOutput {}))
}
