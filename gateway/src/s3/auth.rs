//! SigV4 secrets come from meta's credentials table, cached for a few seconds so a busy
//! client does not cost one meta round trip per request.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use meta_api::client::MetaClient;
use meta_api::wire::Credential;
use s3s::auth::{Credentials, S3Auth, SecretKey};
use s3s::{S3Result, s3_error};

use super::caller::Caller;
use super::error::s3err;

/// Credential lookups with a short-lived cache.
pub struct CredentialCache {
    meta: MetaClient,
    ttl: Duration,
    entries: Mutex<HashMap<String, (Instant, Credential)>>,
}

impl CredentialCache {
    pub fn new(meta: MetaClient, ttl_secs: u64) -> CredentialCache {
        CredentialCache {
            meta,
            ttl: Duration::from_secs(ttl_secs),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The credential of an access key (cached).
    pub async fn lookup(&self, access_key: &str) -> S3Result<Credential> {
        if let Ok(entries) = self.entries.lock()
            && let Some((at, cred)) = entries.get(access_key)
            && at.elapsed() < self.ttl
        {
            return Ok(cred.clone());
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
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() > 10_000 {
                entries.clear();
            }
            entries.insert(access_key.to_string(), (Instant::now(), cred.clone()));
        }
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
