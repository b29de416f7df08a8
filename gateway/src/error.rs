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
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
