//! The one error type of the chunkd crate, shared by the server, the client and the volume code.
//! Variants are chosen so that callers (the gateway) can tell a dead server
//! ([`Error::Unavailable`]) from a missing chunk, a conflict or a corrupt upload.

/// Errors of the chunk server and its client.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The chunk server could not be reached, timed out, or answered 5xx / garbage.
    #[error("chunk server unavailable: {0}")]
    Unavailable(String),
    /// No chunk with that id.
    #[error("chunk not found")]
    NotFound,
    /// A chunk with that id already exists.
    #[error("chunk already exists")]
    Conflict,
    /// The received bytes do not match the announced BLAKE3 hash.
    #[error("chunk hash mismatch")]
    HashMismatch,
    /// The request was malformed (bad id, missing hash, size mismatch, ...).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The requested byte range lies outside the chunk.
    #[error("range not satisfiable")]
    RangeNotSatisfiable,
    /// The volume is full.
    #[error("insufficient storage")]
    InsufficientStorage,
    /// A chunk file on disk is malformed.
    #[error("corrupt chunk file: {0}")]
    Corrupt(String),
    /// The request was not signed with the cluster secret, or its signed content did not
    /// match (401).
    #[error("not authorized: {0}")]
    Unauthorized(String),
    /// The configuration file could not be read or parsed.
    #[error("configuration error: {0}")]
    Config(String),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Stable machine code of the variant, sent by the server in error bodies so the client can
    /// rebuild the variant.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Unavailable(_) => "Unavailable",
            Error::NotFound => "NotFound",
            Error::Conflict => "Conflict",
            Error::HashMismatch => "HashMismatch",
            Error::BadRequest(_) => "BadRequest",
            Error::RangeNotSatisfiable => "RangeNotSatisfiable",
            Error::InsufficientStorage => "InsufficientStorage",
            Error::Corrupt(_) => "Corrupt",
            Error::Unauthorized(_) => "Unauthorized",
            Error::Config(_) => "Config",
            Error::Io(_) => "Io",
        }
    }

    /// Classify an I/O error from a write path: ENOSPC / EDQUOT become
    /// [`Error::InsufficientStorage`], everything else stays [`Error::Io`].
    pub fn from_write_io(e: std::io::Error) -> Error {
        match e.raw_os_error() {
            Some(code) if code == libc::ENOSPC || code == libc::EDQUOT => {
                Error::InsufficientStorage
            }
            _ => Error::Io(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enospc_is_insufficient_storage() {
        let e = Error::from_write_io(std::io::Error::from_raw_os_error(libc::ENOSPC));
        assert!(matches!(e, Error::InsufficientStorage));
        let e = Error::from_write_io(std::io::Error::from_raw_os_error(libc::EIO));
        assert!(matches!(e, Error::Io(_)));
    }
}
