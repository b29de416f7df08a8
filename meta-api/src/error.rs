//! The one error type of the meta protocol, shared by the store, the server and the client.
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
    #[error("no such version: {0}")]
    NoSuchVersion(String),
    #[error("precondition failed: {0}")]
    PreconditionFailed(String),
    #[error("object locked: {0}")]
    ObjectLocked(String),
    #[error("no such upload: {0}")]
    NoSuchUpload(String),
    #[error("no such service: {0}")]
    NoSuchService(String),
    #[error("invalid part: {0}")]
    InvalidPart(String),
    #[error("parts are not in ascending order")]
    InvalidPartOrder,
    #[error("part {0} is smaller than the minimum part size")]
    EntityTooSmall(u32),
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The write would take its account or container past a quota (the detail says which
    /// and by how much); nothing was written.
    #[error("quota exceeded: {0}")]
    QuotaExceeded(String),
    /// An LMDB map meta would write is nearly full: the write (one that adds data) was
    /// refused before it was proposed; the detail says which map and what to do.
    #[error("meta store full: {0}")]
    StoreFull(String),
    #[error("database error: {0}")]
    Db(String),
    #[error("I/O error: {0}")]
    Io(String),
    /// This meta node is not the leader of its group; the detail is the leader's address when
    /// the node knows it. Nothing was done: the client asks the leader (or waits for an
    /// election to end).
    #[error("not the meta leader (leader: {})", .0.as_deref().unwrap_or("unknown"))]
    NotLeader(Option<String>),
    /// The request was not signed, or not as a role allowed to make it (401/403): the caller's
    /// cluster or admin secret is missing or is not meta's.
    #[error("not authorized: {0}")]
    Unauthorized(String),
    /// The meta service could not be reached or answered garbage (client side).
    #[error("meta service unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

use crate::wire::ErrorBody;

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
            Error::NoSuchVersion(_) => "NoSuchVersion",
            Error::PreconditionFailed(_) => "PreconditionFailed",
            Error::ObjectLocked(_) => "ObjectLocked",
            Error::NoSuchUpload(_) => "NoSuchUpload",
            Error::NoSuchService(_) => "NoSuchService",
            Error::InvalidPart(_) => "InvalidPart",
            Error::InvalidPartOrder => "InvalidPartOrder",
            Error::EntityTooSmall(_) => "EntityTooSmall",
            Error::InvalidArgument(_) => "InvalidArgument",
            Error::QuotaExceeded(_) => "QuotaExceeded",
            Error::StoreFull(_) => "StoreFull",
            Error::Db(_) => "Db",
            Error::Io(_) => "Io",
            Error::Unavailable(_) => "Unavailable",
            Error::Unauthorized(_) => "Unauthorized",
            Error::Internal(_) => "Internal",
            Error::NotLeader(_) => "NotLeader",
        }
    }
}

impl Error {
    /// True when meta answered that it did not make the change asked: a refusal, or a write
    /// whose transaction failed. False when the outcome is unknown: the answer was lost, timed
    /// out or garbled (`Unavailable`), or the server failed without saying how far it got
    /// (`Internal`); the change may then have been made.
    pub fn refused(&self) -> bool {
        !matches!(self, Error::Unavailable(_) | Error::Internal(_))
    }

    /// The variant's main payload, sent as [`crate::wire::ErrorBody::detail`]; for
    /// `ContainerExists` it is the owning account.
    pub fn detail(&self) -> Option<String> {
        match self {
            Error::NoSuchAccount(s)
            | Error::AccountExists(s)
            | Error::NoSuchCredential(s)
            | Error::CredentialExists(s)
            | Error::NoSuchContainer(s)
            | Error::ContainerNotEmpty(s)
            | Error::NoSuchObject(s)
            | Error::NoSuchUpload(s)
            | Error::PreconditionFailed(s)
            | Error::ObjectLocked(s)
            | Error::NoSuchVersion(s)
            | Error::NoSuchService(s)
            | Error::InvalidPart(s)
            | Error::InvalidArgument(s)
            | Error::QuotaExceeded(s)
            | Error::StoreFull(s)
            | Error::Db(s)
            | Error::Io(s)
            | Error::Unavailable(s)
            | Error::Unauthorized(s)
            | Error::Internal(s) => Some(s.clone()),
            Error::ContainerExists { owner, .. } => Some(owner.clone()),
            Error::EntityTooSmall(n) => Some(n.to_string()),
            Error::NotLeader(leader) => leader.clone(),
            Error::InvalidPartOrder => None,
        }
    }

    /// The wire form of this error.
    pub fn to_body(&self) -> ErrorBody {
        ErrorBody {
            code: self.code().to_string(),
            message: self.to_string(),
            detail: self.detail(),
        }
    }

    /// Rebuilds the variant from an error answer. `name` is the container name of the request,
    /// used for `ContainerExists` (whose detail is the owner).
    pub fn from_body(body: ErrorBody, name: &str) -> Error {
        if body.code == "NotLeader" {
            return Error::NotLeader(body.detail);
        }
        let detail = body.detail.unwrap_or_else(|| body.message.clone());
        match body.code.as_str() {
            "NoSuchAccount" => Error::NoSuchAccount(detail),
            "Unauthorized" => Error::Unauthorized(detail),
            "AccountExists" => Error::AccountExists(detail),
            "NoSuchCredential" => Error::NoSuchCredential(detail),
            "CredentialExists" => Error::CredentialExists(detail),
            "NoSuchContainer" => Error::NoSuchContainer(detail),
            "ContainerExists" => Error::ContainerExists {
                name: name.to_string(),
                owner: detail,
            },
            "ContainerNotEmpty" => Error::ContainerNotEmpty(detail),
            "NoSuchObject" => Error::NoSuchObject(detail),
            "NoSuchUpload" => Error::NoSuchUpload(detail),
            "NoSuchVersion" => Error::NoSuchVersion(detail),
            "PreconditionFailed" => Error::PreconditionFailed(detail),
            "ObjectLocked" => Error::ObjectLocked(detail),
            "NoSuchService" => Error::NoSuchService(detail),
            "InvalidPart" => Error::InvalidPart(detail),
            "InvalidPartOrder" => Error::InvalidPartOrder,
            "EntityTooSmall" => match detail.parse() {
                Ok(n) => Error::EntityTooSmall(n),
                Err(_) => Error::Internal(body.message),
            },
            "InvalidArgument" => Error::InvalidArgument(detail),
            "QuotaExceeded" => Error::QuotaExceeded(detail),
            "StoreFull" => Error::StoreFull(detail),
            "Db" => Error::Db(detail),
            "Io" => Error::Io(detail),
            "Unavailable" => Error::Unavailable(detail),
            _ => Error::Internal(body.message),
        }
    }
}

#[cfg(feature = "heed")]
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

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::Internal(format!("JSON: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::Error;

    #[test]
    fn only_lost_or_unexplained_answers_leave_a_write_unknown() {
        for unknown in [
            Error::Unavailable("timed out".into()),
            Error::Internal("batch abandoned".into()),
        ] {
            assert!(!unknown.refused(), "{unknown}");
        }
        for refused in [
            Error::PreconditionFailed("If-None-Match".into()),
            Error::NoSuchContainer("b".into()),
            Error::ObjectLocked("k".into()),
            Error::Db("commit failed".into()),
            Error::StoreFull("bucket b".into()),
        ] {
            assert!(refused.refused(), "{refused}");
            // The verdict survives the wire.
            assert!(Error::from_body(refused.to_body(), "b").refused());
        }
    }
}
