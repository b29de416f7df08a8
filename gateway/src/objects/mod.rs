//! The protocol-neutral object service: everything S3 (and later Swift) does with data goes
//! through here. It talks to meta and chunkd only through their clients, and it never holds a
//! whole object in memory: bodies are cut into chunks of bounded size on the way in and streamed
//! chunk by chunk on the way out.

mod cache;
mod deadline;
mod digest;
mod erasure;
mod policies;
mod put;
mod reader;
pub mod rebuild;
mod replicate;
mod services;
pub mod sse;
mod verified;
mod writer;

pub use digest::{ChecksumAlgo, DigestValues, Digests, checksum_base64};
pub use put::{NewObject, ObjectAttrs};
pub use reader::{ObjectStream, StoredStream};
pub use writer::{ContentTarget, Written};

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chunkd::client::ChunkClient;
use meta_api::client::MetaClient;
use meta_api::wire::ChunkCopy;

use crate::config::Config;
use policies::PolicyDirectory;
use services::ServiceDirectory;

/// Shared handle on the object service (cheap to clone).
#[derive(Clone)]
pub struct ObjectService {
    inner: Arc<Inner>,
}

struct Inner {
    meta: MetaClient,
    chunks: ChunkClient,
    services: ServiceDirectory,
    policies: PolicyDirectory,
    codecs: Mutex<HashMap<(usize, usize), Arc<dyn policy::ec::Codec>>>,
    deadlines: deadline::Deadlines,
    /// SSE-S3 master keys (`sse_key_file`), if given.
    key_ring: Option<sse::KeyRing>,
    /// Key-store keys opened lately (`kms_cache_secs`): enabled, with their material.
    kms_keys: crate::ttl_cache::TtlCache<sse::KmsKey>,
    config: Config,
}

impl ObjectService {
    /// The object service of a gateway; fails when the cluster secret cannot be read.
    pub fn new(config: Config) -> crate::Result<ObjectService> {
        crate::error::set_retry_after_secs(config.retry_after_secs);
        let signer = config.signer()?;
        let mut meta = MetaClient::new(&config.meta)
            .with_container_cache(Duration::from_millis(config.container_cache_ms))
            .with_timeout(Duration::from_millis(config.meta_timeout_ms));
        let mut chunks = ChunkClient::new();
        if let Some(signer) = signer {
            meta = meta.with_signer(signer.clone());
            chunks = chunks.with_signer(signer);
        }
        let services = ServiceDirectory::new(meta.clone(), config.services_refresh_ms);
        let policies = PolicyDirectory::new(
            meta.clone(),
            config.services_refresh_ms,
            config.replicas,
            config.chunk_size,
        );
        let key_ring = match &config.sse_key_file {
            Some(path) => Some(sse::KeyRing::load(path)?),
            None => None,
        };
        Ok(ObjectService {
            inner: Arc::new(Inner {
                key_ring,
                kms_keys: crate::ttl_cache::TtlCache::new(Duration::from_secs(
                    config.kms_cache_secs,
                )),
                meta,
                chunks,
                services,
                policies,
                codecs: Mutex::new(HashMap::new()),
                deadlines: deadline::Deadlines::new(&config),
                config,
            }),
        })
    }

    /// The meta client (directory operations that involve no data).
    pub fn meta(&self) -> &MetaClient {
        &self.inner.meta
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The SSE-S3 master keys, when the gateway was given a key file.
    pub fn key_ring(&self) -> Option<&sse::KeyRing> {
        self.inner.key_ring.as_ref()
    }

    /// The key-store key `name` (SSE-KMS), opened with the master key file: it must exist
    /// (else `KMS.NotFoundException`) and be enabled (else `KMS.DisabledException`, for
    /// writes and reads alike, as AWS KMS refuses both). A key without material yet gets it
    /// now when `writing` (made here, wrapped by the current master key; meta keeps the first
    /// material it is given, so of two gateways racing both use the winner's).
    ///
    /// An opened key is kept for `kms_cache_secs`: a key disabled meanwhile still serves this
    /// gateway until then. Refusals are not kept.
    pub async fn kms_key(&self, name: &str, writing: bool) -> crate::Result<sse::KmsKey> {
        if let Some(key) = self.inner.kms_keys.get(name) {
            return Ok(key);
        }
        let key = self.fetch_kms_key(name, writing).await?;
        self.inner.kms_keys.insert(name, key.clone());
        Ok(key)
    }

    /// [`kms_key`](Self::kms_key) from meta.
    async fn fetch_kms_key(&self, name: &str, writing: bool) -> crate::Result<sse::KmsKey> {
        use crate::error::Error;
        let ring = self.key_ring().ok_or_else(|| {
            Error::InvalidRequest(
                "server-side encryption with KMS keys (aws:kms) needs an SSE key file, which this gateway has not been given (sse_key_file)".into(),
            )
        })?;
        let key = self
            .meta()
            .call(&meta_api::api::KmsKeyGet {
                name: name.to_string(),
            })
            .await?
            .ok_or_else(|| Error::Kms {
                code: "KMS.NotFoundException",
                message: format!("Invalid keyId '{name}': no such key in the key store"),
            })?;
        if !key.enabled {
            return Err(Error::Kms {
                code: "KMS.DisabledException",
                message: format!("The KMS key '{name}' is disabled"),
            });
        }
        match &key.material {
            Some(m) => ring.open_kms_material(name, m),
            None if writing => {
                let (opened, material) = ring.new_kms_material(name)?;
                let stored = self
                    .meta()
                    .call(&meta_api::api::KmsKeySetMaterial {
                        name: name.to_string(),
                        material: material.clone(),
                    })
                    .await?;
                match stored.material {
                    Some(m) if m == material => Ok(opened),
                    Some(m) => ring.open_kms_material(name, &m),
                    None => Err(Error::Internal(format!(
                        "meta kept no material for KMS key {name:?}"
                    ))),
                }
            }
            None => Err(Error::Internal(format!(
                "KMS key {name:?} has no material, yet an object is encrypted under it"
            ))),
        }
    }

    /// The opened key-store key an SSE-KMS request names (`None` for other requests).
    pub async fn kms_key_for(
        &self,
        sse: Option<&sse::SseRequest>,
    ) -> crate::Result<Option<sse::KmsKey>> {
        match sse.and_then(sse::SseRequest::kms_key_id) {
            Some(name) => Ok(Some(self.kms_key(name, true).await?)),
            None => Ok(None),
        }
    }

    /// The storage policies in force (applied policy file, or the built-in default).
    pub async fn policies(&self) -> crate::Result<Arc<policy::PolicySet>> {
        self.inner.policies.current().await
    }

    /// The policy a new object in `container` gets for the requested storage class.
    pub async fn resolve_policy(
        &self,
        container: &meta_api::wire::ContainerInfo,
        storage_class: Option<&str>,
    ) -> crate::Result<policy::StoragePolicy> {
        Ok(self
            .inner
            .policies
            .resolve(container, storage_class)
            .await?
            .1)
    }

    /// Hands chunks of a failed or abandoned write to meta's garbage collector.
    pub async fn discard(&self, copies: Vec<ChunkCopy>) {
        if copies.is_empty() {
            return;
        }
        if let Err(e) = self.inner.meta.queue_gc(&copies).await {
            tracing::warn!(error = %e, count = copies.len(), "could not queue orphan chunks for deletion");
        }
    }
}

/// A chunk was stored with fewer pieces than its policy asks for (a copy or fragment given up
/// on: its server failed, or missed its deadline), though with its write quorum. `chunk` is its
/// reverse metadata (object and position), `stored` and `wanted` count its pieces, `servers`
/// name the servers that did not store theirs.
///
/// Logged (WARN, "under-replicated chunk") for the operator. Meta queues the chunk for repair
/// by itself when the object (or part) is committed: the commit says how many pieces the
/// policy wants (`pieces_wanted`), and a chunk recorded with fewer is queued as `short`.
pub fn under_replicated(
    chunk: &chunkd::ChunkMeta,
    stored: usize,
    wanted: usize,
    servers: &[String],
) {
    tracing::warn!(
        account = %chunk.account,
        container = %chunk.container,
        key = ?chunk.key,
        version = %chunk.version,
        content_id = %chunk.content_id,
        position = %chunk.position,
        policy = %chunk.policy,
        stored,
        wanted,
        ?servers,
        "under-replicated chunk: stored with its write quorum, pieces missing"
    );
}

/// Logs the chunks of a write whose outcome stays unknown (meta could not be asked): they are
/// kept, since a record in meta may point at them.
pub fn keep_unsettled(failure: &meta_api::Error, copies: &[ChunkCopy]) {
    if !copies.is_empty() {
        let chunks: Vec<&str> = copies.iter().map(|c| c.chunk_id.as_str()).collect();
        tracing::warn!(error = %failure, ?chunks, "write outcome unknown: its chunks are kept");
    }
}

/// All copies referenced by a list of chunk records.
pub fn copies_of(chunks: &[meta_api::wire::ChunkRecord]) -> Vec<ChunkCopy> {
    chunks
        .iter()
        .flat_map(|c| c.copies.iter().cloned())
        .collect()
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A fresh random id of `bytes` random bytes, hex encoded.
pub fn random_hex(bytes: usize) -> String {
    use rand::RngCore;
    let mut buf = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut buf);
    hex::encode(buf)
}
