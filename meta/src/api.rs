//! The HTTP/JSON protocol between [`crate::client::MetaClient`] and [`crate::server`]: one
//! `POST /v1/<operation>` route per operation, each with a JSON request body defined here.
//! Names and keys travel inside the JSON bodies, never in the path, so any UTF-8 is safe.

use crate::wire::{
    ChunkCopy, CompleteRequest, ContainerSettings, ListRequest, ListUploadsRequest, ObjectRecord,
    PartRecord, PutCondition, UploadRecord, VersionListRequest, Versioning,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Route paths (all `POST`, except [`HEALTH`] which also answers `GET`).
pub mod route {
    pub const HEALTH: &str = "/v1/health";
    pub const ACCOUNT_CREATE: &str = "/v1/accounts/create";
    pub const ACCOUNT_LIST: &str = "/v1/accounts/list";
    pub const KEY_CREATE: &str = "/v1/keys/create";
    pub const KEY_LIST: &str = "/v1/keys/list";
    pub const KEY_GET: &str = "/v1/keys/get";
    pub const CONTAINER_CREATE: &str = "/v1/containers/create";
    pub const CONTAINER_GET: &str = "/v1/containers/get";
    pub const CONTAINER_LIST: &str = "/v1/containers/list";
    pub const CONTAINER_DELETE: &str = "/v1/containers/delete";
    pub const OBJECT_PUT: &str = "/v1/objects/put";
    pub const OBJECT_GET: &str = "/v1/objects/get";
    pub const OBJECT_DELETE: &str = "/v1/objects/delete";
    pub const OBJECT_LIST: &str = "/v1/objects/list";
    pub const VERSION_LIST: &str = "/v1/objects/list-versions";
    pub const OBJECT_PROPS: &str = "/v1/objects/props";
    pub const OBJECT_ABANDON: &str = "/v1/objects/abandon";
    pub const VERSIONING_SET: &str = "/v1/containers/set-versioning";
    pub const VERSIONING_GET: &str = "/v1/containers/get-versioning";
    pub const UPLOAD_CREATE: &str = "/v1/uploads/create";
    pub const UPLOAD_GET: &str = "/v1/uploads/get";
    pub const PART_PUT: &str = "/v1/uploads/put-part";
    pub const PART_LIST: &str = "/v1/uploads/list-parts";
    pub const UPLOAD_COMPLETE: &str = "/v1/uploads/complete";
    pub const UPLOAD_ABORT: &str = "/v1/uploads/abort";
    pub const UPLOAD_LIST: &str = "/v1/uploads/list";
    pub const GC_QUEUE: &str = "/v1/gc/queue";
    pub const GC_BACKLOG: &str = "/v1/gc/backlog";
    pub const HEARTBEAT: &str = "/v1/services/heartbeat";
    pub const SERVICE_LIST: &str = "/v1/services/list";
    pub const SERVICE_LOCK: &str = "/v1/services/lock";
    pub const SERVICE_UNLOCK: &str = "/v1/services/unlock";
    pub const SERVICE_UNLOCK_ALL: &str = "/v1/services/unlock-all";
    pub const POLICY_APPLY: &str = "/v1/policy/apply";
    pub const POLICY_GET: &str = "/v1/policy/get";
    pub const CONTAINER_SET_POLICY: &str = "/v1/containers/set-policy";
    pub const CONTAINER_PROPERTIES: &str = "/v1/containers/properties";
    pub const ACCOUNT_GET: &str = "/v1/accounts/get";
    pub const ACCOUNT_META: &str = "/v1/accounts/meta";
    pub const SWIFT_USER_CREATE: &str = "/v1/swift/users/create";
    pub const SWIFT_USER_GET: &str = "/v1/swift/users/get";
    pub const TOKEN_CREATE: &str = "/v1/swift/tokens/create";
    pub const TOKEN_GET: &str = "/v1/swift/tokens/get";
}

/// Body of operations without arguments.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Empty {}

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
pub struct ContainerName {
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
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ObjectKey {
    pub container: String,
    pub key: String,
    /// A version id (`None`: the current version).
    #[serde(default)]
    pub version_id: Option<String>,
}

/// Sets then removes per-version properties of an object.
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
pub struct UploadRef {
    pub container: String,
    pub upload_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PartPut {
    pub container: String,
    pub upload_id: String,
    pub part: PartRecord,
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
pub struct ServiceId {
    pub id: String,
}

/// Answer of `unlock-all`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Unlocked {
    pub count: u32,
}

/// A policy file's TOML text.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PolicyText {
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
pub struct AccountName {
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

/// Sets then removes container properties.
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

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SwiftUserRef {
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
pub struct TokenRef {
    pub token: String,
}
