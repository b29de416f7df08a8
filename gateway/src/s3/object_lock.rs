//! Object lock is not implemented: buckets never have it, and the object-lock operations
//! answer what AWS answers for a bucket created without object lock (CreateBucket asking for
//! object lock is refused in `bucket.rs`).

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::SpreadS3;
use super::access::Action;

fn no_lock_configuration() -> s3s::S3Error {
    s3_error!(
        InvalidRequest,
        "Bucket is missing Object Lock Configuration"
    )
}

pub async fn get_configuration(
    s3: &SpreadS3,
    req: S3Request<GetObjectLockConfigurationInput>,
) -> S3Result<S3Response<GetObjectLockConfigurationOutput>> {
    s3.authorize(
        &req,
        &req.input.bucket,
        None,
        Action::Owner("s3:GetBucketObjectLockConfiguration"),
    )
    .await?;
    Err(s3_error!(
        ObjectLockConfigurationNotFoundError,
        "Object Lock configuration does not exist for this bucket"
    ))
}

pub async fn put_configuration(
    s3: &SpreadS3,
    req: S3Request<PutObjectLockConfigurationInput>,
) -> S3Result<S3Response<PutObjectLockConfigurationOutput>> {
    s3.authorize(
        &req,
        &req.input.bucket,
        None,
        Action::Owner("s3:PutBucketObjectLockConfiguration"),
    )
    .await?;
    Err(s3_error!(
        InvalidBucketState,
        "Object Lock configuration cannot be enabled on existing buckets"
    ))
}

pub async fn get_retention(
    s3: &SpreadS3,
    req: S3Request<GetObjectRetentionInput>,
) -> S3Result<S3Response<GetObjectRetentionOutput>> {
    s3.authorize(
        &req,
        &req.input.bucket,
        None,
        Action::Owner("s3:GetObjectRetention"),
    )
    .await?;
    Err(no_lock_configuration())
}

pub async fn put_retention(
    s3: &SpreadS3,
    req: S3Request<PutObjectRetentionInput>,
) -> S3Result<S3Response<PutObjectRetentionOutput>> {
    s3.authorize(
        &req,
        &req.input.bucket,
        None,
        Action::Owner("s3:PutObjectRetention"),
    )
    .await?;
    Err(no_lock_configuration())
}

pub async fn get_legal_hold(
    s3: &SpreadS3,
    req: S3Request<GetObjectLegalHoldInput>,
) -> S3Result<S3Response<GetObjectLegalHoldOutput>> {
    s3.authorize(
        &req,
        &req.input.bucket,
        None,
        Action::Owner("s3:GetObjectLegalHold"),
    )
    .await?;
    Err(no_lock_configuration())
}

pub async fn put_legal_hold(
    s3: &SpreadS3,
    req: S3Request<PutObjectLegalHoldInput>,
) -> S3Result<S3Response<PutObjectLegalHoldOutput>> {
    s3.authorize(
        &req,
        &req.input.bucket,
        None,
        Action::Owner("s3:PutObjectLegalHold"),
    )
    .await?;
    Err(no_lock_configuration())
}
