//! Swift errors: the gateway's `Error` (and the few protocol-level failures) mapped once to
//! Swift's status codes and bodies (HTML snippets for the standard statuses, as Swift answers).

use http::StatusCode;

use crate::error::Error;

/// A Swift error answer: status plus body text.
#[derive(Debug)]
pub struct SwiftError {
    pub status: StatusCode,
    pub body: String,
    /// `Content-Location` of the answer (the symlink target a failed read reached).
    pub location: Option<String>,
}

pub type SwiftResult<T> = std::result::Result<T, SwiftError>;

impl SwiftError {
    /// The standard answer for `status` (Swift's wording).
    pub fn status(status: StatusCode) -> SwiftError {
        let body = match status.as_u16() {
            401 => {
                "<html><h1>Unauthorized</h1><p>This server could not verify that you are authorized to access the document you requested.</p></html>"
            }
            403 => "<html><h1>Forbidden</h1><p>Access was denied to this resource.</p></html>",
            404 => "<html><h1>Not Found</h1><p>The resource could not be found.</p></html>",
            405 => {
                "<html><h1>Method Not Allowed</h1><p>The method is not allowed for this resource.</p></html>"
            }
            409 => {
                "<html><h1>Conflict</h1><p>There was a conflict when trying to complete your request.</p></html>"
            }
            411 => "<html><h1>Length Required</h1><p>Length Required</p></html>",
            412 => {
                "<html><h1>Precondition Failed</h1><p>A precondition for this request was not met.</p></html>"
            }
            413 => {
                "<html><h1>Request Entity Too Large</h1><p>The body of your request was too large for this server.</p></html>"
            }
            416 => {
                "<html><h1>Requested Range Not Satisfiable</h1><p>The Range requested is not available.</p></html>"
            }
            422 => {
                "<html><h1>Unprocessable Entity</h1><p>Unable to process the contained instructions</p></html>"
            }
            501 => {
                "<html><h1>Not Implemented</h1><p>The requested feature is not implemented.</p></html>"
            }
            503 => {
                "<html><h1>Service Unavailable</h1><p>The server is currently unavailable. Please try again at a later time.</p></html>"
            }
            _ => {
                "<html><h1>Internal Error</h1><p>The server has either erred or is incapable of performing the requested operation.</p></html>"
            }
        };
        SwiftError {
            status,
            body: body.to_string(),
            location: None,
        }
    }

    /// 400 with a plain explanation (Swift answers bad requests with a sentence).
    pub fn bad_request(msg: impl Into<String>) -> SwiftError {
        SwiftError {
            status: StatusCode::BAD_REQUEST,
            body: msg.into(),
            location: None,
        }
    }

    /// Any status with a plain explanation.
    pub fn with(status: StatusCode, msg: impl Into<String>) -> SwiftError {
        SwiftError {
            status,
            body: msg.into(),
            location: None,
        }
    }

    pub fn unauthorized() -> SwiftError {
        SwiftError::status(StatusCode::UNAUTHORIZED)
    }
    pub fn forbidden() -> SwiftError {
        SwiftError::status(StatusCode::FORBIDDEN)
    }
    pub fn not_found() -> SwiftError {
        SwiftError::status(StatusCode::NOT_FOUND)
    }
}

impl From<meta_api::Error> for SwiftError {
    fn from(e: meta_api::Error) -> SwiftError {
        SwiftError::from(Error::Meta(e))
    }
}

impl From<Error> for SwiftError {
    fn from(e: Error) -> SwiftError {
        use meta_api::Error as M;
        let status = match &e {
            Error::Meta(m) => match m {
                M::NoSuchAccount(_)
                | M::NoSuchContainer(_)
                | M::NoSuchObject(_)
                | M::NoSuchUpload(_)
                | M::NoSuchVersion(_)
                | M::NoSuchService(_) => StatusCode::NOT_FOUND,
                M::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
                M::ObjectLocked(_) => StatusCode::FORBIDDEN,
                M::NoSuchCredential(_) => StatusCode::UNAUTHORIZED,
                M::AccountExists(_)
                | M::CredentialExists(_)
                | M::ContainerExists { .. }
                | M::ContainerNotEmpty(_) => StatusCode::CONFLICT,
                M::InvalidArgument(msg) => return SwiftError::bad_request(msg.clone()),
                // As Swift's quota middlewares answer it.
                M::QuotaExceeded(_) => {
                    return SwiftError::with(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "Upload exceeds quota.",
                    );
                }
                // As Swift answers a full drive: 507.
                M::StoreFull(_) => {
                    return SwiftError::with(StatusCode::INSUFFICIENT_STORAGE, m.to_string());
                }
                M::InvalidPart(_) | M::InvalidPartOrder | M::EntityTooSmall(_) => {
                    return SwiftError::bad_request(m.to_string());
                }
                M::Unavailable(_) | M::NotLeader(_) => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            },
            Error::Unavailable(_) | Error::Chunk(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::BadDigest(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Error::Kms { message, .. } => return SwiftError::bad_request(message.clone()),
            Error::InvalidDigest(msg) | Error::InvalidRequest(msg) => {
                return SwiftError::bad_request(msg.clone());
            }
            Error::InvalidStorageClass(name) => {
                return SwiftError::bad_request(format!("Invalid X-Storage-Policy {name:?}"));
            }
            Error::AccessDenied => StatusCode::FORBIDDEN,
            Error::InvalidRange => StatusCode::RANGE_NOT_SATISFIABLE,
            Error::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Error::NotModified => StatusCode::NOT_MODIFIED,
            Error::Body(_) => StatusCode::BAD_REQUEST,
            Error::Config(_) | Error::Io(_) | Error::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            // As Swift: a large object whose (first) segment cannot be read is a conflict.
            Error::SegmentUnreadable(_) => {
                return SwiftError::with(
                    StatusCode::CONFLICT,
                    "A segment of this large object is missing or changed",
                );
            }
        };
        // Messages may hold names (`no such object: KEY`), and a name may hold a newline:
        // logged escaped, so a name can never forge a log line. A client error is logged
        // once, by the listener's closing line (`refused`, at debug), not here.
        if status.is_server_error() {
            tracing::warn!(error = ?e.to_string(), "request failed");
        }
        if status == StatusCode::NOT_MODIFIED {
            return SwiftError::with(status, "");
        }
        SwiftError::status(status)
    }
}
