//! The HTTP/JSON protocol between [`crate::client::MetaClient`] and meta's server: one
//! `POST /v1/<operation>` route per operation. Each operation is an [`Endpoint`]: its request
//! type names its route and its answer type, so the route, the server's handler and the
//! client's method cannot disagree (the server registers one handler per endpoint and a test
//! checks that every endpoint in [`PATHS`] has one). Names and keys travel inside the JSON
//! bodies, never in the path, so any UTF-8 is safe.
//!
//! Adding an operation: a request struct here, an [`endpoints!`] line naming its route and
//! answer, a handler in meta's `server::routes`, a `MetaClient` method calling
//! [`MetaClient::call`](crate::client::MetaClient::call).

use crate::encryption::{KmsKey, KmsMaterial};
use crate::settings::{SettingChange, VersionChange};
use crate::wire::{
    AccountInfo, ChunkCopy, CompleteRequest, ContainerInfo, ContainerSettings, Credential,
    DeleteOutcome, GcBacklog, Heartbeat, HeartbeatReply, ListPartsReply, ListReply, ListRequest,
    ListUploadsReply, ListUploadsRequest, ObjectRecord, PartRecord, PutCondition, ServiceRecord,
    Stored, SwiftToken, SwiftUser, UploadRecord, VersionListReply, VersionListRequest, Versioning,
};
use crate::wire::{
    AddedCopy, LocatedChunk, LostService, RdirEntry, RebuildStatus, RepairItem, ReplacedCopy,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The routes only an operator may call (requests signed as the admin role): accounts and
/// keys, the conscience's locks, policies, the meta group's membership, rebuilds and the
/// reverse index listing. Every other route also takes requests signed as a service of the
/// cluster (the gateways' rebuild workers locate chunks, claim and report repairs).
pub const ADMIN_PATHS: &[&str] = &[
    AccountCreate::PATH,
    AccountList::PATH,
    KeyCreate::PATH,
    KeyList::PATH,
    ContainerSetPolicy::PATH,
    ServiceLock::PATH,
    ServiceUnlock::PATH,
    ServiceUnlockAll::PATH,
    ServiceForget::PATH,
    PolicyApply::PATH,
    SwiftUserCreate::PATH,
    GroupAdd::PATH,
    GroupRemove::PATH,
    RdirList::PATH,
    RebuildStart::PATH,
    RebuildStatusGet::PATH,
    GcBacklogGet::PATH,
    AccountDelete::PATH,
    KeyDelete::PATH,
    SwiftUserDelete::PATH,
    QuotaSet::PATH,
    QuotaGet::PATH,
    KmsKeyCreate::PATH,
    KmsKeyList::PATH,
    KmsKeySetEnabled::PATH,
    GroupMark::PATH,
    GroupDigest::PATH,
    BACKUP_PATH,
];

/// `spread admin meta backup`: the leader answers a consistent snapshot of the whole state as
/// a backup file (a versioned header, then the snapshot file), streamed. Not a JSON endpoint:
/// the client writes the body to a file as it arrives.
pub const BACKUP_PATH: &str = "/v1/group/backup";

/// The routes answered without credentials (probes).
pub const OPEN_PATHS: &[&str] = &[Health::PATH];

/// True when `path` is one of [`ADMIN_PATHS`].
pub fn admin_only(path: &str) -> bool {
    ADMIN_PATHS.contains(&path)
}

/// One operation of the meta service: `Self` is its request body, [`Endpoint::Response`] its
/// answer, [`Endpoint::PATH`] its route (always `POST`).
pub trait Endpoint: Serialize + DeserializeOwned + Send + 'static {
    /// The route path.
    const PATH: &'static str;
    /// True when the operation changes the record of the container it names: a client's
    /// cached copy of that record is dropped once meta has answered.
    const CHANGES_CONTAINER: bool = false;
    /// The answer.
    type Response: Serialize + DeserializeOwned + Send + 'static;

    /// The container the request names (`""` if none): an answer `ContainerExists` is rebuilt
    /// with it, and [`Endpoint::CHANGES_CONTAINER`] applies to it.
    fn container(&self) -> &str {
        ""
    }
}

/// Declares endpoints: `Request => "path" -> Response`, optionally followed by
/// `[container: field]` (the request names a container in `field`) or
/// `[changes: field]` (... and changes its record). Also builds [`PATHS`].
macro_rules! endpoints {
    ($($req:ty => $path:literal -> $resp:ty $([$kind:ident : $field:ident])?;)*) => {
        $(
            impl Endpoint for $req {
                const PATH: &'static str = $path;
                $(const CHANGES_CONTAINER: bool = endpoints!(@changes $kind);)?
                type Response = $resp;
                $(fn container(&self) -> &str {
                    &self.$field
                })?
            }
        )*
        /// The route of every endpoint.
        pub const PATHS: &[&str] = &[$($path),*];
    };
    (@changes container) => { false };
    (@changes changes) => { true };
}

endpoints! {
    Health => "/v1/health" -> HealthAnswer;
    AccountCreate => "/v1/accounts/create" -> AccountInfo;
    AccountList => "/v1/accounts/list" -> Vec<AccountInfo>;
    AccountGet => "/v1/accounts/get" -> AccountInfo;
    AccountMeta => "/v1/accounts/meta" -> AccountInfo;
    KeyCreate => "/v1/keys/create" -> Credential;
    KeyList => "/v1/keys/list" -> Vec<Credential>;
    KeyGet => "/v1/keys/get" -> Credential;
    ContainerCreate => "/v1/containers/create" -> ContainerInfo [changes: name];
    ContainerGet => "/v1/containers/get" -> ContainerInfo [container: name];
    ContainerList => "/v1/containers/list" -> Vec<ContainerInfo>;
    ContainerDelete => "/v1/containers/delete" -> () [changes: name];
    ContainerSetPolicy => "/v1/containers/set-policy" -> ContainerInfo [changes: name];
    ContainerProperties => "/v1/containers/properties" -> ContainerInfo [changes: name];
    ContainerSettingsSet => "/v1/containers/settings" -> ContainerInfo [changes: name];
    VersioningSet => "/v1/containers/set-versioning" -> () [changes: name];
    VersioningGet => "/v1/containers/get-versioning" -> Versioning [container: name];
    ObjectPut => "/v1/objects/put" -> Stored [container: container];
    ObjectGet => "/v1/objects/get" -> ObjectRecord [container: container];
    ObjectDelete => "/v1/objects/delete" -> DeleteOutcome [container: container];
    ObjectList => "/v1/objects/list" -> ListReply [container: container];
    VersionList => "/v1/objects/list-versions" -> VersionListReply [container: container];
    ObjectProps => "/v1/objects/props" -> ObjectRecord [container: container];
    ObjectPropsChange => "/v1/objects/change-props" -> ObjectRecord [container: container];
    ObjectAbandon => "/v1/objects/abandon" -> Abandoned [container: container];
    UploadCreate => "/v1/uploads/create" -> () [container: container];
    UploadGet => "/v1/uploads/get" -> UploadRecord [container: container];
    PartPut => "/v1/uploads/put-part" -> () [container: container];
    PartList => "/v1/uploads/list-parts" -> ListPartsReply [container: container];
    UploadComplete => "/v1/uploads/complete" -> ObjectRecord [container: container];
    UploadAbort => "/v1/uploads/abort" -> () [container: container];
    UploadList => "/v1/uploads/list" -> ListUploadsReply [container: container];
    GcQueue => "/v1/gc/queue" -> ();
    GcBacklogGet => "/v1/gc/backlog" -> Vec<GcBacklog>;
    Heartbeat => "/v1/services/heartbeat" -> HeartbeatReply;
    ServiceList => "/v1/services/list" -> Vec<ServiceRecord>;
    ServiceLock => "/v1/services/lock" -> ServiceRecord;
    ServiceUnlock => "/v1/services/unlock" -> ServiceRecord;
    ServiceUnlockAll => "/v1/services/unlock-all" -> Unlocked;
    PolicyApply => "/v1/policy/apply" -> Empty;
    PolicyGet => "/v1/policy/get" -> PolicyAnswer;
    SwiftUserCreate => "/v1/swift/users/create" -> SwiftUser;
    SwiftUserGet => "/v1/swift/users/get" -> SwiftUser;
    TokenCreate => "/v1/swift/tokens/create" -> SwiftToken;
    TokenGet => "/v1/swift/tokens/get" -> SwiftToken;
    GroupStatusGet => "/v1/group/status" -> GroupStatus;
    GroupAdd => "/v1/group/add" -> GroupStatus;
    GroupRemove => "/v1/group/remove" -> GroupStatus;
    GroupMark => "/v1/group/mark" -> MarkAnswer;
    GroupDigest => "/v1/group/digest" -> NodeDigest;
    RdirList => "/v1/rdir/list" -> RdirAnswer;
    RdirCheck => "/v1/rdir/check" -> RdirUnknown;
    ChunkLocate => "/v1/rdir/locate" -> Option<LocatedChunk>;
    RebuildStart => "/v1/rebuild/start" -> LostService;
    ServiceForget => "/v1/services/forget" -> Empty;
    RebuildStatusGet => "/v1/rebuild/status" -> RebuildStatus;
    RepairClaim => "/v1/repair/claim" -> Vec<RepairItem>;
    RepairDone => "/v1/repair/done" -> RepairOutcome;
    RepairFail => "/v1/repair/fail" -> Empty;
    AccountDelete => "/v1/accounts/delete" -> Empty;
    KeyDelete => "/v1/keys/delete" -> Empty;
    SwiftUserDelete => "/v1/swift/users/delete" -> Empty;
    QuotaSet => "/v1/quotas/set" -> QuotaInfo;
    QuotaGet => "/v1/quotas/get" -> QuotaInfo;
    KmsKeyCreate => "/v1/kms/keys/create" -> KmsKey;
    KmsKeyList => "/v1/kms/keys/list" -> Vec<KmsKey>;
    KmsKeySetEnabled => "/v1/kms/keys/enable" -> KmsKey;
    KmsKeyGet => "/v1/kms/keys/get" -> Option<KmsKey>;
    KmsKeySetMaterial => "/v1/kms/keys/material" -> KmsKey;
}

/// Creates a key of the built-in key store (SSE-KMS), enabled, without material yet (the
/// first gateway write that uses it makes the material: see [`KmsKeySetMaterial`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KmsKeyCreate {
    pub name: String,
}

/// Every key of the key store, by name.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KmsKeyList {}

/// Enables or disables a key-store key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KmsKeySetEnabled {
    pub name: String,
    pub enabled: bool,
}

/// One key-store key (`None` when there is no such key).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KmsKeyGet {
    pub name: String,
}

/// Gives a key-store key its wrapped material if it has none yet (a gateway, on the key's
/// first use); answers the key as stored, so of two gateways racing the second one takes the
/// first one's material.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KmsKeySetMaterial {
    pub name: String,
    pub material: KmsMaterial,
}

/// The reverse index of one chunk server: its copies in chunk id order after `after`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RdirList {
    pub service: String,
    #[serde(default)]
    pub after: Option<String>,
    /// Most entries answered (0: only the count).
    #[serde(default)]
    pub limit: u32,
}

/// Which of a chunk server's chunk files the directory does not know: neither a copy in the
/// reverse index nor one queued for deletion. The chunk server's orphan sweep asks with the
/// files older than any write can take; the unknown ones are orphans of writes that never
/// committed (a gateway that died mid-write).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RdirCheck {
    pub service: String,
    /// At most [`RDIR_CHECK_MAX`] ids.
    pub chunk_ids: Vec<String>,
}

/// Most chunk ids in one [`RdirCheck`].
pub const RDIR_CHECK_MAX: usize = 1000;

/// Answer of [`RdirCheck`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RdirUnknown {
    /// The ids asked about that the directory does not know, in the order asked.
    pub unknown: Vec<String>,
}

/// Answer of [`RdirList`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RdirAnswer {
    /// Copies the server holds (all of them, not only those answered); on the first page
    /// only (`after` unset), 0 on the others.
    pub count: u64,
    /// Their bytes, likewise.
    pub bytes: u64,
    pub entries: Vec<RdirEntry>,
    /// Where the next page starts, when there is one.
    pub next: Option<String>,
}

/// Finds the chunk holding copy `chunk_id` on `service` in `key`'s versions (or in the
/// upload's parts); `None` when no record holds it any more.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChunkLocate {
    pub container: String,
    pub key: String,
    #[serde(default)]
    pub upload: Option<String>,
    pub service: String,
    pub chunk_id: String,
}

/// Declares a chunk server lost: every copy it holds is re-created elsewhere.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RebuildStart {
    pub service: String,
    /// "operator" (the default: the server is gone) or "drain" (it is alive and being
    /// emptied); either way it stays out of placement.
    #[serde(default)]
    pub reason: Option<String>,
}

/// Removes a retired chunk server from the conscience: refused while meta's reverse index says
/// it holds any chunk copy, or while it still heartbeats.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceForget {
    pub service: String,
}

/// Progress of every rebuild, the repair queue and its failures.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RebuildStatusGet {}

/// Hands out up to `max` repair queue entries (least redundancy first) to `worker` for
/// `lease_ms`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RepairClaim {
    pub worker: String,
    pub max: u32,
    pub lease_ms: u64,
}

/// A repair is done: in the records of `key` (or the upload's parts), each `old` copy is
/// replaced by its `new` one, only where `old` is still referenced; the queue entries of the
/// `old` copies and of `dropped` are removed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RepairDone {
    pub container: String,
    pub key: String,
    #[serde(default)]
    pub upload: Option<String>,
    pub replaced: Vec<ReplacedCopy>,
    /// Queue entries to drop without a replacement (the chunk is not referenced any more).
    #[serde(default)]
    pub dropped: Vec<ChunkCopy>,
    /// Pieces added to short chunks (their anchors' queue entries are removed).
    #[serde(default)]
    pub added: Vec<AddedCopy>,
}

/// Answer of [`RepairDone`].
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct RepairOutcome {
    /// Copies replaced in a record.
    pub replaced: u32,
    /// Pieces added to a chunk.
    #[serde(default)]
    pub added: u32,
    /// New copies no record took (the chunk was deleted meanwhile, or the new copy's server
    /// already held a piece of the chunk): queued for GC.
    pub discarded: u32,
}

/// A repair failed: the entry is handed out again after `retry_after_ms`, or (None) moved to
/// the unrepairable list.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RepairFail {
    pub service: String,
    pub chunk_id: String,
    pub error: String,
    pub retry_after_ms: Option<u64>,
}

/// This meta node's view of its group (`spread admin meta status`); any node answers.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GroupStatusGet {}

/// Adds meta node `id`, reachable at `addr`, as a voter (leader only; ids are never reused).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupAdd {
    pub id: u64,
    pub addr: String,
}

/// Removes meta node `id` from the group (leader only).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupRemove {
    pub id: u64,
}

/// Writes a verify marker in the group's log (leader only): every node digests its state when
/// it applies the marker (`spread admin meta verify`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GroupMark {}

/// Where a verify marker landed in the log.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MarkAnswer {
    pub index: u64,
    pub term: u64,
}

/// The answering node's digest of its state at the verify marker at log `index` (it waits up
/// to `wait_ms` to apply it).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GroupDigest {
    pub index: u64,
    pub wait_ms: u64,
}

/// One node's digest of its whole state at a verify marker.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct NodeDigest {
    /// The answering node.
    pub id: u64,
    /// The marker's log position.
    pub index: u64,
    pub term: u64,
    /// BLAKE3 (hex) over every environment's digest.
    pub digest: String,
    /// Entries digested.
    pub entries: u64,
    /// Each environment (path under the state's root) and its digest.
    pub envs: Vec<(String, String)>,
}

/// One node's view of its meta group.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GroupStatus {
    /// The answering node.
    pub id: u64,
    /// `Leader`, `Follower`, `Candidate` or `Learner`.
    pub state: String,
    pub term: u64,
    pub leader: Option<u64>,
    pub leader_addr: Option<String>,
    pub last_log_index: Option<u64>,
    pub last_applied: Option<u64>,
    pub snapshot: Option<u64>,
    pub purged: Option<u64>,
    pub members: Vec<GroupMember>,
}

/// A member of a meta group.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GroupMember {
    pub id: u64,
    pub addr: String,
    pub voter: bool,
    /// On the leader: the last log index this node is known to hold.
    pub matched: Option<u64>,
}

/// An answer without content.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Empty {}

/// Liveness check (also answers `GET`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Health {}

/// Answer of [`Health`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct HealthAnswer {
    pub status: String,
}

/// All accounts with their usage.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AccountList {}

/// All access keys.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct KeyList {}

/// Each chunk server's GC backlog.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GcBacklogGet {}

/// Unlocks every locked service.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ServiceUnlockAll {}

/// The applied policy file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PolicyGet {}

/// A container's versioning state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VersioningGet {
    pub name: String,
}

/// Aborts a multipart upload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UploadAbort {
    pub container: String,
    pub upload_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccountCreate {
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyCreate {
    pub account: String,
    pub access_key: Option<String>,
    pub secret_key: Option<String>,
}

/// Deletes an access key (requests signed with it are refused once the gateways' credential
/// caches expire it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyDelete {
    pub access_key: String,
}

/// Deletes an account that owns no container, with its access keys, Swift users, tokens and
/// quotas.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccountDelete {
    pub name: String,
}

/// Sets the quota of an account, or of one of its containers when `container` is set; a
/// limit left `None` is removed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QuotaSet {
    pub account: String,
    #[serde(default)]
    pub container: Option<String>,
    pub quota: Quota,
}

/// The quota and usage of an account, or of one of its containers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QuotaGet {
    pub account: String,
    #[serde(default)]
    pub container: Option<String>,
}

/// Limits on what an account or a container holds (`None`: no limit).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quota {
    #[serde(default)]
    pub max_bytes: Option<u64>,
    #[serde(default)]
    pub max_objects: Option<u64>,
}

/// A quota with the usage it limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaInfo {
    pub account: String,
    #[serde(default)]
    pub container: Option<String>,
    pub quota: Quota,
    pub objects: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyGet {
    pub access_key: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerCreate {
    pub account: String,
    pub name: String,
    pub settings: ContainerSettings,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerGet {
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerList {
    pub account: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerDelete {
    pub account: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ObjectPut {
    pub container: String,
    pub record: ObjectRecord,
    #[serde(default)]
    pub condition: PutCondition,
    /// Pieces per chunk the record's policy asks for (0: not said): a chunk stored with
    /// fewer is queued for repair.
    #[serde(default)]
    pub pieces_wanted: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ObjectGet {
    pub container: String,
    pub key: String,
    /// A version id (`None`: the current version).
    #[serde(default)]
    pub version_id: Option<String>,
}

/// Sets then removes per-version properties of an object.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ObjectPropsChange {
    pub container: String,
    pub key: String,
    #[serde(default)]
    pub version_id: Option<String>,
    pub changes: Vec<VersionChange>,
    /// May shorten or change a GOVERNANCE retention (see `crate::lock`).
    #[serde(default)]
    pub bypass_governance: bool,
}

/// Sets then removes version properties named as in the string map they were before they were
/// typed (sent by gateways of that time; see `VersionProps::apply_legacy`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ObjectProps {
    pub container: String,
    pub key: String,
    #[serde(default)]
    pub version_id: Option<String>,
    #[serde(default)]
    pub set: BTreeMap<String, String>,
    #[serde(default)]
    pub remove: Vec<String>,
    /// May shorten or change a GOVERNANCE retention (see `crate::lock`).
    #[serde(default)]
    pub bypass_governance: bool,
}

/// Deletes an object (a delete marker when versioned) or one version of it.
/// A gateway gives up on a write whose commit answer it never got (see
/// `Store::abandon_write`): the version holding `content_id` under `key`, if meta recorded it;
/// otherwise the content is refused from now on and `chunks` go to GC.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ObjectAbandon {
    pub container: String,
    pub key: String,
    pub content_id: String,
    pub chunks: Vec<ChunkCopy>,
}

/// Answer to [`ObjectAbandon`]: the id of the version that holds the content, when the write
/// was recorded after all.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Abandoned {
    pub recorded_version: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ObjectDelete {
    pub container: String,
    pub key: String,
    #[serde(default)]
    pub version_id: Option<String>,
    /// May delete a version under an unexpired GOVERNANCE retention (see `crate::lock`).
    #[serde(default)]
    pub bypass_governance: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VersionList {
    pub container: String,
    pub request: VersionListRequest,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VersioningSet {
    pub name: String,
    pub state: Versioning,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ObjectList {
    pub container: String,
    pub request: ListRequest,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UploadCreate {
    pub container: String,
    pub record: UploadRecord,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UploadGet {
    pub container: String,
    pub upload_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PartPut {
    pub container: String,
    pub upload_id: String,
    pub part: PartRecord,
    /// As [`ObjectPut::pieces_wanted`].
    #[serde(default)]
    pub pieces_wanted: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PartList {
    pub container: String,
    pub upload_id: String,
    pub marker: Option<u32>,
    pub max_parts: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UploadComplete {
    pub container: String,
    pub upload_id: String,
    pub request: CompleteRequest,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UploadList {
    pub container: String,
    pub request: ListUploadsRequest,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GcQueue {
    pub chunks: Vec<ChunkCopy>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceList {
    pub kind: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceLock {
    pub id: String,
    pub score: u8,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceUnlock {
    pub id: String,
}

/// Answer of `unlock-all`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Unlocked {
    pub count: u32,
}

/// A policy file's TOML text.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PolicyApply {
    pub text: String,
}

/// The applied policy file, if any.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PolicyAnswer {
    pub text: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerSetPolicy {
    pub name: String,
    pub policy: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccountGet {
    pub name: String,
}

/// Sets then removes account metadata entries.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccountMeta {
    pub name: String,
    #[serde(default)]
    pub set: BTreeMap<String, String>,
    #[serde(default)]
    pub remove: Vec<String>,
}

/// Changes a container's settings, in order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerSettingsSet {
    pub name: String,
    pub changes: Vec<SettingChange>,
}

/// Sets then removes container properties named as in the string map the settings were before
/// they were typed (sent by gateways of that time; applied through
/// [`crate::settings::ContainerProps::apply_legacy`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerProperties {
    pub name: String,
    #[serde(default)]
    pub set: BTreeMap<String, String>,
    #[serde(default)]
    pub remove: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SwiftUserCreate {
    pub account: String,
    pub user: String,
    pub key: String,
    pub admin: bool,
}

/// Deletes a Swift user and its tokens.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SwiftUserDelete {
    pub account: String,
    pub user: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SwiftUserGet {
    pub account: String,
    pub user: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenCreate {
    pub account: String,
    pub user: String,
    pub ttl_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenGet {
    pub token: String,
}
