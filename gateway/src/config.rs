//! Gateway configuration: one TOML file, every field defaulted.

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::Path;

use crate::error::{Error, Result};

/// Configuration of `spread gateway`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address of the S3 listener.
    pub s3_listen: SocketAddr,
    /// Address of the Swift listener (`None`: no Swift API).
    pub swift_listen: Option<SocketAddr>,
    /// Lifetime of the Swift auth tokens issued by `/auth/v1.0`, in seconds.
    pub swift_token_ttl_secs: u64,
    /// Address of the meta service (host:port).
    pub meta: String,
    /// Size of the chunks objects are cut into, in bytes.
    pub chunk_size: u64,
    /// Copies of each chunk (replication policy of the default storage policy).
    pub replicas: usize,
    /// Location of this gateway (`dc.rack.host.vol`), used to read the closest copy first.
    pub location: String,
    /// S3 region name answered by GetBucketLocation and expected in signatures.
    pub region: String,
    /// How often the list of chunk servers and their scores is refreshed from meta.
    pub services_refresh_ms: u64,
    /// How long a credential looked up in meta is cached.
    pub credential_cache_secs: u64,
    /// How long a container's owner and settings looked up in meta are kept for the requests
    /// on its objects (0: not kept). Changes made through this gateway apply at once, changes
    /// made through another gateway or `spread admin` within this time.
    pub container_cache_ms: u64,
    /// How long one request to meta may take before the gateway gives up on it. A write
    /// whose commit is given up on is then settled with meta by its content id (recorded
    /// after all, or refused from then on and its chunks deleted).
    pub meta_timeout_ms: u64,
    /// An erasure-coded fragment read slower than this is treated as missing and rebuilt from
    /// the other fragments.
    pub fragment_timeout_ms: u64,
    /// Domain of virtual-hosted-style S3 addressing: `bucket.DOMAIN` names `bucket`
    /// (`None`: path-style only; path-style requests are always served).
    pub s3_domain: Option<String>,
    /// Largest file a browser-form POST upload may carry (5 GiB, the largest single PUT of
    /// AWS, by default); a policy's `content-length-range` may only lower it. The file is
    /// streamed (`s3::post_object`), so this does not bound memory.
    pub post_object_max_bytes: u64,
    /// Objects (and multipart parts) up to this size written under a one-copy replication
    /// policy are kept in their meta2 record instead of on a chunk server: one durable copy
    /// either way, without a chunk server round trip and its fsyncs. 0 turns it off. Other
    /// policies always go to chunk servers (meta keeps one copy only).
    pub inline_max_bytes: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            s3_listen: SocketAddr::from(([127, 0, 0, 1], 9000)),
            swift_listen: None,
            swift_token_ttl_secs: 86400,
            meta: "127.0.0.1:6000".to_string(),
            chunk_size: 8 * 1024 * 1024,
            replicas: 3,
            location: "local.rack0.host0.gw".to_string(),
            region: "us-east-1".to_string(),
            services_refresh_ms: 1000,
            credential_cache_secs: 10,
            container_cache_ms: 1000,
            meta_timeout_ms: meta_api::client::REQUEST_TIMEOUT.as_millis() as u64,
            fragment_timeout_ms: 5000,
            s3_domain: None,
            post_object_max_bytes: 5 << 30,
            inline_max_bytes: 16 * 1024,
        }
    }
}

impl Config {
    /// Reads and validates a TOML configuration file.
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
        let config: Config =
            toml::from_str(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks values that serde cannot.
    pub fn validate(&self) -> Result<()> {
        if self.chunk_size < 64 * 1024 || self.chunk_size > 1024 * 1024 * 1024 {
            return Err(Error::Config(format!(
                "chunk_size must be between 64 KiB and 1 GiB, got {}",
                self.chunk_size
            )));
        }
        if self.replicas == 0 || self.replicas > 16 {
            return Err(Error::Config(format!(
                "replicas must be between 1 and 16, got {}",
                self.replicas
            )));
        }
        if self.swift_token_ttl_secs == 0 {
            return Err(Error::Config(
                "swift_token_ttl_secs must be at least 1".to_string(),
            ));
        }
        if self.meta_timeout_ms == 0 {
            return Err(Error::Config(
                "meta_timeout_ms must be at least 1".to_string(),
            ));
        }
        if self.post_object_max_bytes == 0 || self.post_object_max_bytes > 5 << 30 {
            return Err(Error::Config(format!(
                "post_object_max_bytes must be between 1 and 5 GiB, got {}",
                self.post_object_max_bytes
            )));
        }
        if let Some(domain) = &self.s3_domain {
            crate::s3::vhost::check_domain(domain).map_err(Error::Config)?;
        }
        Ok(())
    }
}
