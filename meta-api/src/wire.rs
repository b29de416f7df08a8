//! Wire types of the meta service: what travels (as JSON) between meta and its clients
//! (gateway, chunkd, admin CLI). What meta stores in LMDB are its own versioned disk records
//! (`meta::store::records`), converted from and to these types at the store's edge.

use crate::encryption::{DataKey, Encryption};
use crate::settings::{ContainerProps, VersionProps};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// An access key and the account it belongs to.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Credential {
    pub access_key: String,
    pub secret_key: String,
    pub account: String,
}

/// An account with its usage, derived from its containers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccountInfo {
    pub name: String,
    pub created_ms: i64,
    pub containers: u64,
    pub objects: u64,
    pub bytes: u64,
    /// Account metadata (Swift `X-Account-Meta-*`), lower-case names without the prefix;
    /// Temp-URL keys are stored as `temp-url-key` / `temp-url-key-2`.
    #[serde(default)]
    pub meta: BTreeMap<String, String>,
}

/// A Swift user (tempauth style `account:user` with a key); admin users own the account.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SwiftUser {
    pub account: String,
    pub user: String,
    pub key: String,
    pub admin: bool,
}

/// A Swift auth token issued to a user; valid until `expires_ms` (ms since the epoch).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SwiftToken {
    pub token: String,
    pub account: String,
    pub user: String,
    pub admin: bool,
    pub expires_ms: i64,
}

/// A container's storage policy and settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(from = "SettingsIn")]
pub struct ContainerSettings {
    /// Storage policy name; `None` means the namespace default.
    pub policy: Option<String>,
    /// Every other setting, typed.
    #[serde(skip_serializing_if = "ContainerProps::is_empty")]
    pub props: ContainerProps,
}

/// [`ContainerSettings`] as read: also the string map (`properties`) that peers and commands
/// written before the settings were typed carry (see [`ContainerProps::from_legacy`]).
#[derive(Deserialize)]
struct SettingsIn {
    #[serde(default)]
    policy: Option<String>,
    #[serde(default)]
    props: ContainerProps,
    #[serde(default)]
    properties: BTreeMap<String, String>,
}

impl From<SettingsIn> for ContainerSettings {
    fn from(s: SettingsIn) -> ContainerSettings {
        let SettingsIn {
            policy,
            mut props,
            properties,
        } = s;
        props.apply_legacy(&properties, &[]);
        ContainerSettings { policy, props }
    }
}

/// A container (S3 bucket, Swift container), with its usage counters.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ContainerInfo {
    pub account: String,
    pub name: String,
    /// SHA-256(account NUL name), hex.
    pub cid: String,
    pub created_ms: i64,
    pub settings: ContainerSettings,
    pub objects: u64,
    pub bytes: u64,
    /// meta2 service(s) holding this container (from meta1).
    pub meta2: Vec<String>,
}

/// One copy (replication) of a chunk on one chunk server.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChunkCopy {
    /// Stable service id of the chunk server (not its address).
    pub service: String,
    /// Chunk id (64 hex chars), the file name on that server.
    pub chunk_id: String,
    /// For erasure-coded chunks: which fragment (0..k are data, k..k+m parity) this is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fragment: Option<u32>,
    /// For erasure-coded chunks: BLAKE3 hex of this fragment's bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
}

/// How an erasure-coded chunk (a "metachunk") is cut: `k` data fragments of `fragment_size`
/// bytes (the last ones zero-padded) plus `m` parity fragments.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct EcLayout {
    pub k: u32,
    pub m: u32,
    pub fragment_size: u64,
}

/// One chunk of an object's content: position, where it sits in the object, and its copies.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChunkRecord {
    /// Position of the chunk in the object (0, 1, 2, ...).
    pub pos: u32,
    /// Byte offset of the chunk in the object.
    pub offset: u64,
    pub size: u64,
    /// BLAKE3 of the chunk bytes, hex.
    pub hash: String,
    /// Copies (replication) or fragments (erasure coding) that exist: only acknowledged ones.
    pub copies: Vec<ChunkCopy>,
    /// Set when the chunk is erasure coded; `copies` then holds one entry per stored fragment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ec: Option<EcLayout>,
    /// The chunk's bytes, kept in this record instead of on chunk servers (`copies` is then
    /// empty): small objects under a one-copy policy, where meta2's own durable copy is as
    /// many copies as the policy asks for.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "base64_bytes"
    )]
    pub inline: Option<Vec<u8>>,
}

/// Bytes as base64 in JSON (inline chunk bytes); `#[serde(with = ...)]` on an
/// `Option<Vec<u8>>` field, here and in meta's disk records.
pub mod base64_bytes {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(bytes) => s.serialize_str(&STANDARD.encode(bytes)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        let Some(text) = Option::<String>::deserialize(d)? else {
            return Ok(None);
        };
        STANDARD
            .decode(text)
            .map(Some)
            .map_err(serde::de::Error::custom)
    }
}

/// Everything meta knows about one object version.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ObjectRecord {
    pub key: String,
    /// Version id; "null" when the container is not versioned.
    pub version_id: String,
    /// Content id (32 hex chars) shared by all chunks of this content.
    pub content_id: String,
    pub size: u64,
    /// Hex MD5 of the body, or `md5-of-md5s-N` for multipart (no quotes).
    pub etag: String,
    pub mtime_ms: i64,
    pub content_type: Option<String>,
    /// Standard headers kept verbatim: cache-control, content-disposition, content-encoding,
    /// content-language, expires (lower-case names).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// User metadata (x-amz-meta-* / X-Object-Meta-*), lower-case names without the prefix.
    #[serde(default)]
    pub user_meta: BTreeMap<String, String>,
    /// Checksums of the whole body by algorithm ("crc32", "crc32c", "sha1", "sha256",
    /// "crc64nvme"), base64 as S3 sends them.
    #[serde(default)]
    pub checksums: BTreeMap<String, String>,
    /// Storage policy used for this object.
    pub policy: String,
    /// Sizes of the parts for multipart objects (empty otherwise).
    #[serde(default)]
    pub parts: Vec<u64>,
    pub chunks: Vec<ChunkRecord>,
    /// A delete marker of a versioned container: no content, no chunks.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub delete_marker: bool,
    /// Per-version properties the front ends own (S3 tags, ACL, object lock), changed in place
    /// by `change_object_props` without making a new version.
    #[serde(default, skip_serializing_if = "VersionProps::is_empty")]
    pub props: VersionProps,
    /// Server-side encryption of the content (`None`: stored as sent). `size` is then the
    /// plaintext's, and the chunks hold the segments (`crate::encryption`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<Encryption>,
}

/// One lifecycle rule, protocol-neutral. Days are counted in lifecycle days (86400 s unless
/// meta's `lifecycle_day_secs` says otherwise) and an expiry falls at the start of a day.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct LifecycleRule {
    pub id: String,
    /// Disabled rules are kept but not applied.
    pub enabled: bool,
    /// The rule applies to keys starting with this.
    pub prefix: String,
    /// ... carrying all these tags ...
    pub tags: BTreeMap<String, String>,
    /// ... larger than this many bytes ...
    pub size_greater_than: Option<u64>,
    /// ... and smaller than this many bytes.
    pub size_less_than: Option<u64>,
    /// The current version expires this many days after it was written.
    pub expiration_days: Option<u64>,
    /// The current version expires at this time (Unix ms).
    pub expiration_date_ms: Option<i64>,
    /// A delete marker left with no older version is removed.
    pub expired_object_delete_marker: bool,
    /// A non-current version is removed this many days after it stopped being current.
    pub noncurrent_days: Option<u64>,
    /// ... but the newest this many non-current versions are kept.
    pub newer_noncurrent_versions: Option<u64>,
    /// A multipart upload is aborted this many days after it was created.
    pub abort_multipart_days: Option<u64>,
}

impl LifecycleRule {
    /// Whether the rule's filter selects an object with this key, size and props.
    pub fn selects(&self, key: &str, size: u64, props: &VersionProps) -> bool {
        if !self.enabled || !key.starts_with(&self.prefix) {
            return false;
        }
        if self.size_greater_than.is_some_and(|n| size <= n)
            || self.size_less_than.is_some_and(|n| size >= n)
        {
            return false;
        }
        if self.tags.is_empty() {
            return true;
        }
        self.tags.iter().all(|(k, v)| props.tags.get(k) == Some(v))
    }
}

/// Preconditions checked against the current object in the transaction that stores a new one
/// (S3 conditional writes, Swift read-modify-write). Failing ones answer `PreconditionFailed`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct PutCondition {
    /// `If-None-Match: *`: there must be no current object.
    #[serde(default)]
    pub if_none_match_any: bool,
    /// `If-None-Match: ETag`: the current object, if any, must have another ETag.
    #[serde(default)]
    pub if_none_match_etag: Option<String>,
    /// `If-Match`: the current object's ETag (no quotes); `NoSuchObject` when there is none.
    #[serde(default)]
    pub if_match_etag: Option<String>,
    /// `If-Match: *`: there must be a current object (`PreconditionFailed` otherwise).
    #[serde(default)]
    pub if_match_any: bool,
    /// The current object must still be this content (compare-and-swap on the content id).
    #[serde(default)]
    pub if_content_id: Option<String>,
    /// Rewrite the current version in place rather than store a new one: it keeps its version
    /// id and content (the record must have the current content id), only its metadata
    /// changes (a Swift POST in a versioned container). There must be a current object.
    /// Commands carrying it are of command version 8.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub in_place: bool,
}

/// What a put stored: the version id meta assigned (`null` outside versioning).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Stored {
    pub version_id: String,
}

/// Versioning state of a container (S3 PutBucketVersioning).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub enum Versioning {
    /// Never enabled: one version per key, id `null`.
    #[default]
    Unversioned,
    Enabled,
    Suspended,
}

/// What a delete did.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeleteOutcome {
    /// The version whose content was removed (its chunks went to GC), if any.
    pub removed: Option<ObjectRecord>,
    /// The version id the delete created (a delete marker) or removed; `None` when nothing
    /// existed in an unversioned container.
    pub version_id: Option<String>,
    /// True when a delete marker was created or removed.
    pub delete_marker: bool,
}

/// ListObjectVersions request.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct VersionListRequest {
    #[serde(default)]
    pub prefix: String,
    pub delimiter: Option<String>,
    pub key_marker: Option<String>,
    pub version_id_marker: Option<String>,
    pub max_keys: u32,
}

/// One version in a version listing.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct VersionSummary {
    pub key: String,
    pub version_id: String,
    pub is_latest: bool,
    pub delete_marker: bool,
    pub size: u64,
    pub etag: String,
    pub mtime_ms: i64,
    pub policy: String,
    /// The version's content type (Swift `?versions` listings show it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// As [`ObjectSummary::assembled_size`]: a Swift SLO manifest's assembled size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assembled_size: Option<u64>,
    /// As [`ObjectSummary::slo_etag`]: a Swift SLO manifest's assembled ETag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo_etag: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct VersionListReply {
    pub versions: Vec<VersionSummary>,
    pub common_prefixes: Vec<String>,
    pub truncated: bool,
    pub next_key_marker: Option<String>,
    pub next_version_id_marker: Option<String>,
}

/// Listing request (S3 ListObjects/V2, Swift container GET).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ListRequest {
    #[serde(default)]
    pub prefix: String,
    pub delimiter: Option<String>,
    /// Return keys strictly after this one (marker / start-after / continuation).
    pub after: Option<String>,
    /// Stop before this key (Swift end_marker).
    pub end_before: Option<String>,
    pub max_keys: u32,
}

/// One object in a listing.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ObjectSummary {
    pub key: String,
    pub size: u64,
    pub etag: String,
    pub mtime_ms: i64,
    pub content_type: Option<String>,
    /// For a Swift static large object manifest: the size of the assembled object (from the
    /// record's [`SLO_SIZE_HEADER`]), which Swift listings show instead of the manifest's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assembled_size: Option<u64>,
    /// For a Swift static large object manifest: the assembled object's ETag, unquoted (from
    /// the record's [`SLO_ETAG_HEADER`]; None when an older meta answered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo_etag: Option<String>,
    /// The current version's id when it has one (not `null`; None when an older meta
    /// answered): Swift's listings mark such objects `version_symlink`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// The storage policy the object is stored under (empty when an older meta answered).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub policy: String,
}

/// Record header the gateway stores on a Swift SLO manifest: the assembled object's size.
pub const SLO_SIZE_HEADER: &str = "x-slo-size";
/// Record header the gateway stores on a Swift SLO manifest: the assembled object's ETag.
pub const SLO_ETAG_HEADER: &str = "x-slo-etag";

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ListReply {
    pub objects: Vec<ObjectSummary>,
    pub common_prefixes: Vec<String>,
    pub truncated: bool,
    /// Last key or common prefix returned; pass as `after` to continue.
    pub next_after: Option<String>,
}

/// A multipart upload in progress.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct UploadRecord {
    pub upload_id: String,
    pub key: String,
    pub initiated_ms: i64,
    pub content_type: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub user_meta: BTreeMap<String, String>,
    pub policy: String,
    /// Checksum algorithm requested at creation, if any.
    pub checksum_algorithm: Option<String>,
    /// Per-version properties the completed object starts with (S3 tags, ACL, lock).
    #[serde(default, skip_serializing_if = "VersionProps::is_empty")]
    pub props: VersionProps,
    /// Server-side encryption every part gets (each with its own data key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<Encryption>,
}

/// One uploaded part: its own chunks, referenced (not copied) by the final object.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PartRecord {
    pub part_number: u32,
    pub size: u64,
    /// Hex MD5 of the part (no quotes).
    pub etag: String,
    pub mtime_ms: i64,
    #[serde(default)]
    pub checksums: BTreeMap<String, String>,
    /// Chunks with offsets relative to the start of the part.
    pub chunks: Vec<ChunkRecord>,
    /// The part's data key when its upload is encrypted (`size` is then the plaintext's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<DataKey>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ListUploadsRequest {
    #[serde(default)]
    pub prefix: String,
    pub delimiter: Option<String>,
    pub key_marker: Option<String>,
    pub upload_id_marker: Option<String>,
    pub max_uploads: u32,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ListUploadsReply {
    pub uploads: Vec<UploadRecord>,
    pub common_prefixes: Vec<String>,
    pub truncated: bool,
    pub next_key_marker: Option<String>,
    pub next_upload_id_marker: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ListPartsReply {
    pub parts: Vec<PartRecord>,
    pub truncated: bool,
    pub next_part_number_marker: Option<u32>,
}

/// Completing a multipart upload: the parts the client chose, in order.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CompleteRequest {
    pub parts: Vec<CompletePart>,
    /// Whole-object checksums to store, computed by the gateway (may be empty).
    #[serde(default)]
    pub checksums: BTreeMap<String, String>,
    /// Preconditions on the current object (If-Match / If-None-Match on Complete).
    #[serde(default)]
    pub condition: PutCondition,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CompletePart {
    pub part_number: u32,
    /// ETag the client sent (quotes allowed; meta strips them).
    pub etag: String,
}

/// What a chunk server reports on every heartbeat.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ServiceStats {
    pub free_bytes: u64,
    pub total_bytes: u64,
    pub chunk_count: u64,
    /// 0.0 ..= 1.0
    pub io_idle: f64,
    /// 0.0 ..= 1.0
    pub cpu_idle: f64,
}

/// Heartbeat (also the first registration) of a service.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Heartbeat {
    /// Stable service id (persisted by the service in its volume).
    pub id: String,
    /// "chunkd"
    pub kind: String,
    /// host:port where it serves.
    pub addr: String,
    /// Location string `dc.rack.host.vol`.
    pub location: String,
    /// Slots (tags) of the service; storage-policy pools select chunk servers by slot.
    #[serde(default)]
    pub slots: Vec<String>,
    pub stats: ServiceStats,
    /// Chunk ids the service deleted since the last heartbeat, as asked by meta.
    #[serde(default)]
    pub deleted: Vec<String>,
    /// Chunk ids the service found rotten and quarantined since its last heartbeat: meta
    /// queues their repair.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bad_chunks: Vec<String>,
}

/// Meta's answer to a heartbeat: chunks the service must delete (garbage from overwritten,
/// deleted or aborted objects).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct HeartbeatReply {
    pub delete: Vec<String>,
}

/// The GC backlog of one chunk server: copies it will be told to delete.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct GcBacklog {
    pub service: String,
    /// Entries handed out at the next heartbeat (their grace is over).
    pub due: u64,
    /// Entries still in their grace period.
    pub waiting: u64,
    /// When the next waiting entry becomes due (ms since the Unix epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_due_ms: Option<i64>,
}

/// A service as the conscience sees it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ServiceRecord {
    pub id: String,
    pub kind: String,
    pub addr: String,
    pub location: String,
    #[serde(default)]
    pub slots: Vec<String>,
    pub stats: ServiceStats,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    /// 0..=100; 0 = never chosen (silent, full, or locked at 0).
    pub score: u8,
    /// Score forced by an admin (`cluster lock`), if any.
    pub locked: Option<u8>,
}

/// Error body of every non-2xx meta answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorBody {
    /// Machine code, one per `meta::Error` variant (e.g. "NoSuchContainer").
    pub code: String,
    pub message: String,
    /// The variant's main payload (the name, or for `ContainerExists` the owning account),
    /// so the client can rebuild the exact variant.
    #[serde(default)]
    pub detail: Option<String>,
}

/// One entry of a chunk server's reverse index (rdir): a chunk copy (or EC fragment) the
/// server holds, and the object it belongs to. Written by the same command as the object
/// record, so the two cannot drift.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RdirEntry {
    pub service: String,
    pub chunk_id: String,
    pub container: String,
    pub key: String,
    /// The multipart upload whose part holds the chunk, when it was written as a part (the
    /// completed object then holds it under `key`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload: Option<String>,
    /// Position of the chunk in its object (or part).
    pub pos: u32,
    /// Bytes of this copy or fragment.
    pub size: u64,
    pub policy: String,
    /// Pieces a read needs: 1 for copies, k for an erasure-coded chunk.
    pub needed: u32,
    /// Every copy or fragment of the chunk (this one included); `hash` is left out.
    pub copies: Vec<ChunkCopy>,
}

/// Why a chunk copy is queued for repair.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RepairReason {
    /// Its chunk server is lost (dead for `lost_after_secs`, or declared lost by an operator).
    Lost,
    /// Its chunk server found it rotten (scrubber or a read) and quarantined it.
    Corrupt,
    /// Its chunk was written with fewer pieces than its policy asks (a write that met its
    /// quorum with a server down): pieces are added, this copy stays.
    Short,
}

/// One entry of the repair queue: a copy to re-create elsewhere.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RepairItem {
    /// The copy to replace (its server and chunk id).
    pub service: String,
    pub chunk_id: String,
    pub container: String,
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload: Option<String>,
    pub reason: RepairReason,
    /// Redundancy left when queued: pieces still good beyond those a read needs (0: one more
    /// loss loses data). The queue hands out the lowest first.
    pub redundancy: u8,
    pub size: u64,
    pub queued_ms: i64,
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Not handed out again before this time (backoff after a failure).
    pub next_try_ms: i64,
    /// Handed out to a worker until this time.
    pub lease_until_ms: i64,
    /// No good copy is left: kept on the unrepairable list, never handed out.
    #[serde(default)]
    pub unrepairable: bool,
    /// For [`RepairReason::Short`]: the pieces the chunk's policy asks for. Also set on a
    /// `Lost` or `Corrupt` copy that anchored a short chunk's entry (meta merges the two):
    /// the worker then adds the missing pieces as it replaces the copy.
    #[serde(default)]
    pub wanted: u32,
}

/// A chunk server whose copies are being re-created elsewhere.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LostService {
    pub service: String,
    /// "dead" (silent for `lost_after_secs`), "operator" (`spread admin cluster rebuild`) or
    /// "drain" (`spread admin cluster drain`).
    pub reason: String,
    pub since_ms: i64,
    /// Copies and bytes it held when it was declared lost (so far, while `counting`).
    pub total_chunks: u64,
    pub total_bytes: u64,
    /// Copies re-created elsewhere, or whose object was deleted meanwhile.
    pub done_chunks: u64,
    pub done_bytes: u64,
    /// When the last copy was done (0: none yet): the rate is `done_bytes` over
    /// `last_done_ms - since_ms`.
    #[serde(default)]
    pub last_done_ms: i64,
    /// Every copy it held is in the repair queue (or done).
    pub queued_all: bool,
    /// The totals are still being counted: they grow as its copies are queued, page by page,
    /// and are final once `queued_all` (absent from older meta servers, whose totals were
    /// counted at once).
    #[serde(default)]
    pub counting: bool,
}

/// Answer of `rebuild/status`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct RebuildStatus {
    pub lost: Vec<LostService>,
    /// Entries waiting in the repair queue (not unrepairable).
    pub queued: u64,
    pub queued_bytes: u64,
    /// Entries handed out to a worker right now.
    pub leased: u64,
    /// Entries waiting after a failure (with their last error).
    pub failing: Vec<RepairItem>,
    pub unrepairable: Vec<RepairItem>,
    pub unrepairable_count: u64,
}

/// A chunk located for its repair: the record fields a chunk server's reverse metadata needs,
/// and the chunk itself.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LocatedChunk {
    pub account: String,
    pub container: String,
    pub key: String,
    pub version_id: String,
    pub content_id: String,
    pub policy: String,
    pub mtime_ms: i64,
    pub chunk: ChunkRecord,
}

/// A piece a repair added to a short chunk: `new` joins every chunk holding `anchor`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AddedCopy {
    pub anchor: ChunkCopy,
    pub new: ChunkCopy,
}

/// One copy a repair re-created: `old` is replaced by `new` in every record holding it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ReplacedCopy {
    pub old: ChunkCopy,
    pub new: ChunkCopy,
}
