//! [`SpreadS3`]: what every S3 operation works with — the protocol-neutral object service and
//! the credential cache. Its `s3s::S3` implementation (one method per operation, each handing
//! over to the module of its feature) is in `mod.rs`.

use std::sync::Arc;

use super::auth::CredentialCache;
use crate::objects::ObjectService;

/// Spread's implementation of the s3s `S3` trait.
#[derive(Clone)]
pub struct SpreadS3 {
    pub(crate) svc: ObjectService,
    pub(crate) creds: Arc<CredentialCache>,
}

impl SpreadS3 {
    pub fn new(svc: ObjectService, creds: Arc<CredentialCache>) -> SpreadS3 {
        SpreadS3 { svc, creds }
    }
}
