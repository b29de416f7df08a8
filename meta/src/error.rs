//! The one error type of the meta crate, shared by the store, the server and the client.
//! Each variant has a stable machine `code()` that travels in [`crate::wire::ErrorBody`], so the
//! client turns an HTTP error answer back into the same variant.

/// Errors of the directory service.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no such account: {0}")]
    NoSuchAccount(String),
    #[error("account already exists: {0}")]
    AccountExists(String),
    #[error("no such access key: {0}")]
    NoSuchCredential(String),
    #[error("access key already exists: {0}")]
    CredentialExists(String),
    #[error("no such container: {0}")]
    NoSuchContainer(String),
    /// The name is taken; `owner` is the account that owns it.
    #[error("container {name} already exists (owned by {owner})")]
    ContainerExists { name: String, owner: String },
    #[error("container is not empty: {0}")]
    ContainerNotEmpty(String),
    #[error("no such object: {0}")]
    NoSuchObject(String),
    #[error("no such upload: {0}")]
    NoSuchUpload(String),
    #[error("invalid part: {0}")]
    InvalidPart(String),
    #[error("parts are not in ascending order")]
    InvalidPartOrder,
    #[error("part {0} is smaller than the minimum part size")]
    EntityTooSmall(u32),
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    #[error("database error: {0}")]
    Db(String),
    #[error("I/O error: {0}")]
    Io(String),
    /// The meta service could not be reached or answered garbage (client side).
    #[error("meta service unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Stable machine code of the variant.
    pub fn code(&self) -> &'static str {
        match self {
            Error::NoSuchAccount(_) => "NoSuchAccount",
            Error::AccountExists(_) => "AccountExists",
            Error::NoSuchCredential(_) => "NoSuchCredential",
            Error::CredentialExists(_) => "CredentialExists",
            Error::NoSuchContainer(_) => "NoSuchContainer",
            Error::ContainerExists { .. } => "ContainerExists",
            Error::ContainerNotEmpty(_) => "ContainerNotEmpty",
            Error::NoSuchObject(_) => "NoSuchObject",
            Error::NoSuchUpload(_) => "NoSuchUpload",
            Error::InvalidPart(_) => "InvalidPart",
            Error::InvalidPartOrder => "InvalidPartOrder",
            Error::EntityTooSmall(_) => "EntityTooSmall",
            Error::InvalidArgument(_) => "InvalidArgument",
            Error::Db(_) => "Db",
            Error::Io(_) => "Io",
            Error::Unavailable(_) => "Unavailable",
            Error::Internal(_) => "Internal",
        }
    }
}

impl From<heed::Error> for Error {
    fn from(e: heed::Error) -> Self {
        Error::Db(e.to_string())
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e.to_string())
    }
}
