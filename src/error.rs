//! The CLI's one error type: every failure ends as a clear message and exit code 1.

use std::path::PathBuf;

/// Errors of the `spread` command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Meta(#[from] meta_api::Error),
    #[error(transparent)]
    Chunkd(#[from] chunkd::Error),
    #[error(transparent)]
    Gateway(#[from] gateway::Error),
    #[error("{path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// `spread dev` could not bring the cluster up.
    #[error("startup failed: {0}")]
    Startup(String),
    #[error("{0}")]
    Usage(String),
    /// `spread bench` could not run its workload.
    #[error("bench: {0}")]
    Bench(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An I/O error on a named file.
    pub fn file(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::File {
            path: path.into(),
            source,
        }
    }
}
