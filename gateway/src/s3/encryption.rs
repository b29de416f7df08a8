//! Bucket default encryption: Spread stores no encryption configuration, so every bucket answers
//! "none configured". (Request headers asking for SSE-C or SSE-KMS are refused in `fixups.rs`.)

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::SpreadS3;
use super::access::Action;

pub async fn get_bucket_encryption(
    s3: &SpreadS3,
    req: S3Request<GetBucketEncryptionInput>,
) -> S3Result<S3Response<GetBucketEncryptionOutput>> {
    s3.authorize(
        &req,
        &req.input.bucket,
        None,
        Action::Owner("s3:GetEncryptionConfiguration"),
    )
    .await?;
    let mut err = s3_error!(
        ServerSideEncryptionConfigurationNotFoundError,
        "The server side encryption configuration was not found"
    );
    err.set_status_code(http::StatusCode::NOT_FOUND);
    Err(err)
}
