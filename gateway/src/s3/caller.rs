//! Who sends an S3 request, as ACLs and bucket policies name it.

/// Who sends a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// An unsigned request.
    Anonymous,
    /// A signed request of this account.
    Account(String),
}
