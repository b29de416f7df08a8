//! Writing whole objects and multipart parts: stream through the writer, then commit the record
//! to meta in one transaction. Anything stored for a write that does not commit is discarded.

use meta_api::settings::VersionProps;
use std::collections::BTreeMap;

use bytes::Bytes;
use futures::Stream;
use meta_api::wire::{ContainerInfo, ObjectRecord, PartRecord, PutCondition, UploadRecord};

use super::digest::{DigestValues, Digests};
use super::sse::{CustomerKey, Sealer, SseRequest};
use super::writer::ContentTarget;
use super::{ObjectService, copies_of, keep_unsettled, now_ms, random_hex};
use policy::{Pool, StoragePolicy};

use crate::error::{Error, Result};

/// What describes an object besides its bytes.
#[derive(Debug, Clone, Default)]
pub struct ObjectAttrs {
    pub content_type: Option<String>,
    /// Standard headers kept verbatim (lower-case names).
    pub headers: BTreeMap<String, String>,
    /// User metadata (lower-case names, no prefix).
    pub user_meta: BTreeMap<String, String>,
    /// Per-version properties owned by a front end (S3 tagging, ACL).
    pub props: VersionProps,
}

impl ObjectAttrs {
    pub fn of(rec: &ObjectRecord) -> ObjectAttrs {
        ObjectAttrs {
            content_type: rec.content_type.clone(),
            headers: rec.headers.clone(),
            user_meta: rec.user_meta.clone(),
            props: rec.props.clone(),
        }
    }
}

/// An object about to be written: its key, the storage policy it is written under, its
/// attributes, and the preconditions on the current object that the commit checks.
#[derive(Debug, Clone)]
pub struct NewObject<'a> {
    pub key: &'a str,
    pub policy: StoragePolicy,
    pub attrs: ObjectAttrs,
    pub condition: PutCondition,
    /// Server-side encryption asked for (`None`: stored as sent).
    pub encryption: Option<SseRequest>,
}

impl<'a> NewObject<'a> {
    /// An unconditional write.
    pub fn new(key: &'a str, policy: StoragePolicy, attrs: ObjectAttrs) -> NewObject<'a> {
        NewObject {
            key,
            policy,
            attrs,
            condition: PutCondition::default(),
            encryption: None,
        }
    }

    /// The same, encrypted with SSE-S3 or SSE-KMS when `container` has that default
    /// encryption and no encryption was asked for (Swift writes, which have no encryption
    /// headers).
    pub fn with_default_encryption(mut self, container: &ContainerInfo) -> NewObject<'a> {
        if self.encryption.is_none() {
            self.encryption = match container.settings.props.encryption.as_ref() {
                Some(d) if d.algorithm == "AES256" => Some(SseRequest::Cluster),
                Some(d) if d.algorithm == "aws:kms" => {
                    d.kms_key_id.clone().map(|k| SseRequest::Kms(k, None))
                }
                _ => None,
            };
        }
        self
    }

    /// The same, encrypted with SSE-S3 (or SSE-KMS under the same key and encryption
    /// context) when `source` is (Swift copies and version archives keep such an object
    /// encrypted; they have no customer key to give an SSE-C one).
    pub fn keeping_encryption_of(mut self, source: &ObjectRecord) -> NewObject<'a> {
        use meta_api::encryption::SseMode;
        match source.encryption.as_ref() {
            Some(e) if e.mode == SseMode::ClusterKey => self.encryption = Some(SseRequest::Cluster),
            Some(e) if e.mode == SseMode::KmsKey => {
                if let Some(name) = super::sse::kms_key_of(e) {
                    self.encryption =
                        Some(SseRequest::Kms(name.to_string(), e.kms_context.clone()));
                }
            }
            _ => {}
        }
        self
    }
}

impl ObjectService {
    /// Stores `body` as the new current object `obj.key` of `container`.
    pub async fn put_object<S, E>(
        &self,
        container: &ContainerInfo,
        obj: NewObject<'_>,
        body: S,
        digests: Digests,
        verify: impl FnOnce(u64, &DigestValues) -> Result<()>,
    ) -> Result<ObjectRecord>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let NewObject {
            key,
            policy,
            attrs,
            condition,
            encryption,
        } = obj;
        let kms = self.kms_key_for(encryption.as_ref()).await?;
        let (sealer, encryption) = match &encryption {
            Some(sse) => {
                let (content_key, data_key) = sse.new_key(self.key_ring(), kms.as_ref())?;
                let mut enc = sse.encryption();
                enc.keys.push(data_key);
                (Some(Sealer::new(&content_key, enc.segment_size)), Some(enc))
            }
            None => (None, None),
        };
        let target = ContentTarget {
            account: container.account.clone(),
            container: container.name.clone(),
            key: key.to_string(),
            version: "null".to_string(),
            content_id: random_hex(16),
            pool: self.pool_of(&policy).await?,
            policy,
            position_prefix: String::new(),
        };
        let written = self
            .write_content(body, &target, digests, sealer, verify)
            .await?;
        let mut checksums = BTreeMap::new();
        if let Some((algo, value)) = &written.digests.checksum {
            checksums.insert(algo.name().to_string(), value.clone());
        }
        let record = ObjectRecord {
            key: key.to_string(),
            version_id: target.version,
            content_id: target.content_id,
            size: written.size,
            etag: etag_of(
                encryption.as_ref().and_then(|e| e.keys.first()),
                &written.digests.md5,
            ),
            mtime_ms: now_ms(),
            content_type: attrs.content_type,
            headers: attrs.headers,
            user_meta: attrs.user_meta,
            checksums,
            policy: target.policy.name.clone(),
            parts: Vec::new(),
            chunks: written.chunks,
            delete_marker: false,
            props: attrs.props,
            encryption,
        };
        let pieces = u32::try_from(target.policy.pieces()).unwrap_or(u32::MAX);
        self.commit_object(&container.name, record, &condition, pieces)
            .await
    }

    /// Records `record` in meta if `condition` holds; on failure its chunks are discarded.
    /// Returns the record with the version id meta assigned.
    pub async fn commit_object(
        &self,
        container: &str,
        mut record: ObjectRecord,
        condition: &PutCondition,
        pieces_wanted: u32,
    ) -> Result<ObjectRecord> {
        match self
            .meta()
            .put_object_wanting(container, &record, condition, pieces_wanted)
            .await
        {
            Ok(stored) => {
                record.version_id = stored.version_id;
                Ok(record)
            }
            Err(e) if e.refused() => {
                self.discard(copies_of(&record.chunks)).await;
                Err(e.into())
            }
            Err(e) => match self.settle_unknown(container, &record).await {
                Some(version_id) => {
                    record.version_id = version_id;
                    Ok(record)
                }
                None => Err(e.into()),
            },
        }
    }

    /// After a commit whose answer never came: asks meta to settle it. Meta answers the version
    /// that holds the write if it recorded it after all (the write succeeded); otherwise it
    /// refuses that commit from now on and queues the chunks for deletion. If meta cannot be
    /// asked either, the chunks are kept: nobody can know yet whether a record points at them.
    async fn settle_unknown(&self, container: &str, record: &ObjectRecord) -> Option<String> {
        let copies = copies_of(&record.chunks);
        match self
            .meta()
            .abandon_write(container, &record.key, &record.content_id, &copies)
            .await
        {
            Ok(recorded) => recorded,
            Err(e) => {
                keep_unsettled(&e, &copies);
                None
            }
        }
    }

    /// Stores `body` as part `part_number` of a multipart upload, encrypted with its own data
    /// key when the upload is (`sse`, checked by the caller against the upload's mode).
    #[allow(clippy::too_many_arguments)]
    pub async fn put_part<S, E>(
        &self,
        container: &ContainerInfo,
        upload: &UploadRecord,
        part_number: u32,
        sse: Option<&SseRequest>,
        body: S,
        digests: Digests,
        verify: impl FnOnce(u64, &DigestValues) -> Result<()>,
    ) -> Result<PartRecord>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let policy = self.policy_named(&upload.policy).await?;
        let pieces_wanted = u32::try_from(policy.pieces()).unwrap_or(u32::MAX);
        let target = ContentTarget {
            account: container.account.clone(),
            container: container.name.clone(),
            key: upload.key.clone(),
            version: "null".to_string(),
            content_id: upload.upload_id.clone(),
            pool: self.pool_of(&policy).await?,
            policy,
            position_prefix: format!("p{part_number}:"),
        };
        let kms = self.kms_key_for(sse).await?;
        let (sealer, key) = match (sse, &upload.encryption) {
            (Some(sse), Some(enc)) if sse.mode() == enc.mode => {
                let (content_key, data_key) = sse.new_key(self.key_ring(), kms.as_ref())?;
                (
                    Some(Sealer::new(&content_key, enc.segment_size)),
                    Some(data_key),
                )
            }
            (None, None) => (None, None),
            _ => {
                return Err(Error::InvalidRequest(
                    "the part's encryption differs from its upload's".into(),
                ));
            }
        };
        let written = self
            .write_content(body, &target, digests, sealer, verify)
            .await?;
        let mut checksums = BTreeMap::new();
        if let Some((algo, value)) = &written.digests.checksum {
            checksums.insert(algo.name().to_string(), value.clone());
        }
        let part = PartRecord {
            part_number,
            size: written.size,
            etag: etag_of(key.as_ref(), &written.digests.md5),
            mtime_ms: now_ms(),
            checksums,
            chunks: written.chunks,
            key,
        };
        if let Err(e) = self
            .meta()
            .put_part_wanting(&container.name, &upload.upload_id, &part, pieces_wanted)
            .await
        {
            // A part's content id is its upload's, shared with the other parts: an unknown
            // outcome cannot be settled by content, so its chunks are kept.
            let copies = copies_of(&part.chunks);
            if e.refused() {
                self.discard(copies).await;
            } else {
                keep_unsettled(&e, &copies);
            }
            return Err(e.into());
        }
        Ok(part)
    }

    /// Copies an object's bytes into a new object (the copy has its own chunks, and its own
    /// encryption as `obj` asks). `source_key`: the SSE-C key of an SSE-C source.
    pub async fn copy_object(
        &self,
        source: &ObjectRecord,
        source_key: Option<&CustomerKey>,
        container: &ContainerInfo,
        obj: NewObject<'_>,
    ) -> Result<ObjectRecord> {
        let keys = self.unlock(source, source_key).await?;
        let body = self.read_object(source, keys, 0..source.size)?;
        let algo = source
            .checksums
            .keys()
            .next()
            .and_then(|name| super::ChecksumAlgo::parse(name));
        self.put_object(container, obj, body, Digests::new(algo), |_, _| Ok(()))
            .await
    }

    /// A policy by name (multipart uploads keep the name chosen at creation).
    pub async fn policy_named(&self, name: &str) -> Result<StoragePolicy> {
        let set = self.policies().await?;
        set.get(name).cloned().ok_or_else(|| {
            Error::Unavailable(format!(
                "storage policy {name} is not defined in the applied policy file"
            ))
        })
    }

    /// The server pool a policy draws from.
    pub(super) async fn pool_of(&self, policy: &StoragePolicy) -> Result<Pool> {
        let set = self.policies().await?;
        set.pool(&policy.pool).ok_or_else(|| {
            Error::Unavailable(format!(
                "storage policy {} uses pool {}, which is not defined",
                policy.name, policy.pool
            ))
        })
    }
}

/// The ETag of a content: the MD5 of its bytes, or for SSE-C [`super::sse::customer_etag`].
fn etag_of(key: Option<&meta_api::encryption::DataKey>, md5: &[u8]) -> String {
    match key {
        Some(k) => super::sse::customer_etag(k, md5),
        None => hex::encode(md5),
    }
}
