//! SigV4 secrets come from meta's credentials table, cached for a few seconds so a busy
//! client does not cost one meta round trip per request.

use std::time::Duration;

use meta_api::client::MetaClient;
use meta_api::wire::Credential;
use s3s::auth::{Credentials, S3Auth, SecretKey};
use s3s::{S3Result, s3_error};

use super::caller::Caller;
use super::error::s3err;
use crate::ttl_cache::TtlCache;

/// Credential lookups with a short-lived cache.
pub struct CredentialCache {
    meta: MetaClient,
    entries: TtlCache<Credential>,
}

impl CredentialCache {
    pub fn new(meta: MetaClient, ttl_secs: u64) -> CredentialCache {
        CredentialCache {
            meta,
            entries: TtlCache::new(Duration::from_secs(ttl_secs)),
        }
    }

    /// The credential of an access key (cached).
    pub async fn lookup(&self, access_key: &str) -> S3Result<Credential> {
        if let Some(cred) = self.entries.get(access_key) {
            return Ok(cred);
        }
        let cred = match self.meta.get_key(access_key).await {
            Ok(c) => c,
            Err(meta_api::Error::NoSuchCredential(_)) => {
                return Err(s3_error!(
                    InvalidAccessKeyId,
                    "The AWS access key Id you provided does not exist in our records."
                ));
            }
            Err(e) => return Err(s3err(e)),
        };
        self.entries.insert(access_key, cred.clone());
        Ok(cred)
    }

    /// Who sends a request: anonymous when unsigned, else the account of its access key
    /// (s3s has already checked the signature).
    pub async fn caller(&self, credentials: Option<&Credentials>) -> S3Result<Caller> {
        match credentials {
            None => Ok(Caller::Anonymous),
            Some(c) => Ok(Caller::Account(self.lookup(&c.access_key).await?.account)),
        }
    }
}

/// The s3s hook: the secret key for signature checks.
pub struct MetaAuth(pub std::sync::Arc<CredentialCache>);

#[async_trait::async_trait]
impl S3Auth for MetaAuth {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        Ok(SecretKey::from(self.0.lookup(access_key).await?.secret_key))
    }
}
