//! Bucket default encryption: Spread stores no encryption configuration, so every bucket answers
//! "none configured". (Request headers asking for SSE-C or SSE-KMS are refused in `fixups.rs`.)

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::access::{Access, granted};
use super::service::SpreadS3;

pub async fn get_bucket_encryption(
    _s3: &SpreadS3,
    mut req: S3Request<GetBucketEncryptionInput>,
) -> S3Result<S3Response<GetBucketEncryptionOutput>> {
    granted::<Access, _>(&mut req)?;
    let mut err = s3_error!(
        ServerSideEncryptionConfigurationNotFoundError,
        "The server side encryption configuration was not found"
    );
    err.set_status_code(http::StatusCode::NOT_FOUND);
    Err(err)
}
