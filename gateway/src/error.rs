//! The gateway's one error type. The object service returns it; the S3 (and later Swift) front
//! end maps each variant once to its protocol's error (see `s3::error`).

/// Errors of the gateway and its object service.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Meta(#[from] meta_api::Error),
    #[error("chunk server: {0}")]
    Chunk(#[from] chunkd::Error),
    /// Not enough chunk servers to write with the required quorum.
    #[error("not enough chunk servers available: {0}")]
    Unavailable(String),
    /// Body does not match Content-MD5 or x-amz-checksum-*.
    #[error("bad digest: {0}")]
    BadDigest(String),
    /// Content-MD5 or a checksum header is malformed.
    #[error("invalid digest: {0}")]
    InvalidDigest(String),
    /// The request names a storage class no policy is mapped to.
    #[error("invalid storage class: {0}")]
    InvalidStorageClass(String),
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error("access denied")]
    AccessDenied,
    #[error("range not satisfiable")]
    InvalidRange,
    #[error("precondition failed")]
    PreconditionFailed,
    #[error("not modified")]
    NotModified,
    #[error("client body: {0}")]
    Body(String),
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("internal: {0}")]
    Internal(String),
    /// A refusal of the SSE-KMS key store, with AWS's code (`KMS.NotFoundException`,
    /// `KMS.DisabledException`): 400.
    #[error("{code}: {message}")]
    Kms { code: &'static str, message: String },
    /// A segment of a Swift large object is missing or no longer what its manifest says.
    #[error("large object segment unreadable: {0}")]
    SegmentUnreadable(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Seconds a client is told to wait (`Retry-After`) before retrying a request answered 503.
static RETRY_AFTER_SECS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(2);

/// Sets the `Retry-After` of 503 answers (`retry_after_secs`; once, at startup).
pub fn set_retry_after_secs(secs: u64) {
    RETRY_AFTER_SECS.store(secs, std::sync::atomic::Ordering::Relaxed);
}

/// The `Retry-After` value of 503 answers, in seconds.
pub fn retry_after_secs() -> u64 {
    RETRY_AFTER_SECS.load(std::sync::atomic::Ordering::Relaxed)
}

/// The client-facing sentence of a 503 caused by meta being out of reach, its cause logged.
pub fn meta_unavailable_message(e: &meta_api::Error) -> String {
    tracing::warn!(error = %e, "meta did not answer in time: answering 503");
    "The metadata service did not answer in time; please retry later".to_string()
}
