//! The source of a CopyObject or UploadPartCopy (`x-amz-copy-source`): the version read through
//! the access the hook decided for it, and the `x-amz-copy-source-if-*` conditions.

use meta_api::wire::{ContainerInfo, ObjectRecord};
use s3s::dto::{CopySource, ETagCondition, Timestamp};
use s3s::{S3ErrorCode, S3Request, S3Result, s3_error};

use super::access::{SourceAccess, denied};
use super::conditions::check_conditions;
use super::error::s3err;
use super::service::SpreadS3;
use crate::error::Error;

/// The source of a CopyObject or UploadPartCopy, read and checked.
pub struct CopiedFrom {
    pub container: ContainerInfo,
    pub record: ObjectRecord,
    pub key: String,
    /// The copy source named a version.
    pub version_named: bool,
}

/// Resolves `x-amz-copy-source`: the access hook decided whether the caller may read that
/// object (GetObject on its bucket and key: `access`, taken from the request's extensions by
/// [`granted_source`]), the version asked for (or the current one)
/// is read through that decision ([`Access::read_version`](super::access::Access::read_version):
/// object ACL; a delete marker named by its id is 400 InvalidRequest here), and the `x-amz-copy-source-if-*` conditions are checked
/// (`etags`: If-Match, If-None-Match; `times`: If-Unmodified-Since, If-Modified-Since), a
/// failed one answering 412.
pub async fn read(
    s3: &SpreadS3,
    access: Option<SourceAccess>,
    source: &CopySource,
    etags: [Option<&ETagCondition>; 2],
    times: [Option<&Timestamp>; 2],
) -> S3Result<CopiedFrom> {
    let CopySource::Bucket {
        bucket,
        key,
        version_id,
    } = source
    else {
        return Err(s3_error!(
            NotImplemented,
            "Only bucket copy sources are supported"
        ));
    };
    // The hook parsed the same header; anything else than that object is not authorized.
    let access = access
        .filter(|s| *s.bucket == **bucket && *s.key == **key)
        .ok_or_else(|| {
            tracing::error!(%bucket, %key, "no authorization decision for the copy source");
            denied()
        })?
        .access;
    let record = access
        .read_version(s3, key, version_id.as_deref())
        .await
        .map_err(|e| {
            // The one 405 of `read_version`: a delete marker named by its id, which a copy
            // answers as AWS does (without the marker's headers: they describe the source).
            if *e.code() == S3ErrorCode::MethodNotAllowed {
                s3_error!(
                    InvalidRequest,
                    "The source of a copy request may not specifically refer to a delete marker by version id."
                )
            } else {
                e
            }
        })?;
    check_conditions(&record, etags[0], times[0], etags[1], times[1]).map_err(|e| match e {
        Error::NotModified => s3err(Error::PreconditionFailed),
        other => s3err(other),
    })?;
    Ok(CopiedFrom {
        container: access.container,
        record,
        key: key.to_string(),
        version_named: version_id.is_some(),
    })
}

/// The decision of the access hook on the copy source of `req` (none when the header names
/// no bucket object, which [`read`] refuses anyway).
pub fn granted_source<T>(req: &mut S3Request<T>) -> Option<SourceAccess> {
    req.extensions.remove::<SourceAccess>()
}
