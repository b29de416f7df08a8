//! The single place where gateway errors become S3 errors (code + HTTP status). Every 503
//! (`ServiceUnavailable`: meta or chunk servers out of reach) carries `Retry-After`.

use s3s::{S3Error, S3ErrorCode};

use crate::error::Error;

impl From<Error> for S3Error {
    fn from(e: Error) -> S3Error {
        let (code, message) = match &e {
            Error::Meta(m) => return meta_to_s3(m),
            Error::Chunk(c) => (S3ErrorCode::ServiceUnavailable, c.to_string()),
            Error::Unavailable(m) => (S3ErrorCode::ServiceUnavailable, m.clone()),
            Error::BadDigest(m) => (S3ErrorCode::BadDigest, m.clone()),
            Error::InvalidDigest(m) => (S3ErrorCode::InvalidDigest, m.clone()),
            Error::InvalidStorageClass(c) => (
                S3ErrorCode::InvalidStorageClass,
                format!("The storage class you specified is not valid: {c}"),
            ),
            Error::InvalidRequest(m) => (S3ErrorCode::InvalidRequest, m.clone()),
            Error::Kms { code, message } => {
                let mut err =
                    S3Error::with_message(S3ErrorCode::Custom((*code).into()), message.clone());
                err.set_status_code(http::StatusCode::BAD_REQUEST);
                return err;
            }
            Error::AccessDenied => (S3ErrorCode::AccessDenied, "Access Denied".into()),
            Error::InvalidRange => (
                S3ErrorCode::InvalidRange,
                "The requested range is not satisfiable".into(),
            ),
            Error::PreconditionFailed => (
                S3ErrorCode::PreconditionFailed,
                "At least one of the pre-conditions you specified did not hold".into(),
            ),
            Error::NotModified => (S3ErrorCode::NotModified, "Not Modified".into()),
            Error::Body(m) => (S3ErrorCode::IncompleteBody, m.clone()),
            Error::Config(m) | Error::Internal(m) | Error::SegmentUnreadable(m) => {
                tracing::error!(error = %m, "internal error");
                (
                    S3ErrorCode::InternalError,
                    "We encountered an internal error".into(),
                )
            }
            Error::Io(err) => {
                tracing::error!(error = %err, "I/O error");
                (
                    S3ErrorCode::InternalError,
                    "We encountered an internal error".into(),
                )
            }
        };
        unavailable_retry(S3Error::with_message(code, message))
    }
}

/// A 503 answer tells the client when to try again (`Retry-After`).
fn unavailable_retry(mut err: S3Error) -> S3Error {
    if *err.code() == S3ErrorCode::ServiceUnavailable {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::RETRY_AFTER,
            http::HeaderValue::from(crate::error::retry_after_secs()),
        );
        err.set_headers(headers);
    }
    err
}

fn meta_to_s3(e: &meta_api::Error) -> S3Error {
    use meta_api::Error as M;
    let code = match e {
        M::NoSuchContainer(_) => S3ErrorCode::NoSuchBucket,
        M::NoSuchObject(_) => S3ErrorCode::NoSuchKey,
        M::NoSuchUpload(_) => S3ErrorCode::NoSuchUpload,
        M::NoSuchVersion(_) => S3ErrorCode::NoSuchVersion,
        M::PreconditionFailed(_) => {
            return S3Error::with_message(
                S3ErrorCode::PreconditionFailed,
                "At least one of the pre-conditions you specified did not hold",
            );
        }
        M::ObjectLocked(_) => S3ErrorCode::AccessDenied,
        M::ContainerExists { .. } => S3ErrorCode::BucketAlreadyExists,
        M::ContainerNotEmpty(_) => S3ErrorCode::BucketNotEmpty,
        M::InvalidPart(_) => S3ErrorCode::InvalidPart,
        M::InvalidPartOrder => S3ErrorCode::InvalidPartOrder,
        M::EntityTooSmall(_) => S3ErrorCode::EntityTooSmall,
        M::InvalidArgument(_) => S3ErrorCode::InvalidArgument,
        M::QuotaExceeded(detail) => {
            // As Ceph RGW answers it: 403 QuotaExceeded.
            let mut err = S3Error::with_message(
                S3ErrorCode::Custom("QuotaExceeded".into()),
                format!("Quota exceeded: {detail}"),
            );
            err.set_status_code(http::StatusCode::FORBIDDEN);
            return err;
        }
        M::StoreFull(_) => {
            // 507 (not retried by SDKs: it lasts until an operator acts), the message saying
            // which map is full and what to do.
            let mut err = S3Error::with_message(
                S3ErrorCode::Custom("InsufficientStorage".into()),
                e.to_string(),
            );
            err.set_status_code(http::StatusCode::INSUFFICIENT_STORAGE);
            return err;
        }
        M::NoSuchCredential(_) => S3ErrorCode::InvalidAccessKeyId,
        M::NoSuchService(_) => {
            return unavailable_retry(S3Error::with_message(
                S3ErrorCode::ServiceUnavailable,
                e.to_string(),
            ));
        }
        M::NoSuchAccount(_) | M::AccountExists(_) | M::CredentialExists(_) => {
            S3ErrorCode::AccessDenied
        }
        M::Unavailable(_) | M::NotLeader(_) => {
            return unavailable_retry(S3Error::with_message(
                S3ErrorCode::ServiceUnavailable,
                crate::error::meta_unavailable_message(e),
            ));
        }
        M::Db(_) | M::Io(_) | M::Internal(_) | M::Unauthorized(_) => {
            // Unauthorized: meta refused this gateway's signature (its cluster secret).
            tracing::error!(error = %e, "meta internal error");
            return S3Error::with_message(
                S3ErrorCode::InternalError,
                "We encountered an internal error",
            );
        }
    };
    S3Error::with_message(code, e.to_string())
}

/// Shorthand used by the operation modules.
pub fn s3err(e: impl Into<Error>) -> S3Error {
    S3Error::from(e.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_meta_timeout_is_a_503_with_retry_after() {
        let err = S3Error::from(Error::Meta(meta_api::Error::Unavailable(
            "127.0.0.1:6000: request timed out".into(),
        )));
        assert_eq!(*err.code(), S3ErrorCode::ServiceUnavailable);
        assert!(
            err.message()
                .is_some_and(|m| m.contains("did not answer in time"))
        );
        let retry = err
            .headers()
            .and_then(|h| h.get(http::header::RETRY_AFTER))
            .and_then(|v| v.to_str().ok());
        assert_eq!(retry, Some("2"));
        let chunks = S3Error::from(Error::Unavailable("no quorum".into()));
        assert!(
            chunks
                .headers()
                .is_some_and(|h| h.contains_key(http::header::RETRY_AFTER))
        );
        let missing = S3Error::from(Error::Meta(meta_api::Error::NoSuchObject("k".into())));
        assert!(missing.headers().is_none());
    }
}
