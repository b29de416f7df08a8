//! SigV4 request signing and S3 request helpers shared by `spread bench` and the conformance
//! tests.
//!
//! Both are small path-style S3 clients over plain HTTP/1; what they have in common lives here:
//!
//! - [`encode`]: percent-encoding of object paths and query values, path-style URIs.
//! - [`sign`]: a [`Signer`] that signs a request's head with SigV4 (header signatures, the
//!   payload hash given by the caller: a hex SHA-256, [`UNSIGNED_PAYLOAD`] or
//!   [`STREAMING_PAYLOAD`]) and the chunks of an `aws-chunked` body.
//!
//! Transport, timeouts and response handling stay with each client.

pub mod encode;
pub mod sign;

pub use sign::{STREAMING_PAYLOAD, SignError, Signer, UNSIGNED_PAYLOAD};
