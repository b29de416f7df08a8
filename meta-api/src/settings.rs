//! A container's settings as typed values: [`ContainerProps`], one field per setting, each of
//! its own type, and [`SettingChange`], the one way to change one of them (the meta command
//! `SetContainerSettings` carries a list of changes and applies them in order).
//!
//! Adding a setting: a field in [`ContainerProps`] with `#[serde(default)]` (records and
//! commands written before it have none), a [`SettingChange`] variant and its arm in
//! [`ContainerProps::apply`]. meta's command version goes up with it (an older node would
//! drop the unknown change silently). On the S3 side a bucket sub-resource is then one
//! `impl BucketSetting` (see `gateway/src/s3/settings.rs`).
//!
//! Before format 5 of meta's directory the settings were a map of strings (`"s3.acl"` holding
//! JSON, `"s3:cors"` XML, `"meta:NAME"`, ...). [`ContainerProps::from_legacy`] reads that map:
//! meta upgrades old meta1 records with it when it reads them, and old commands in the Raft log
//! (`UpdateContainerProperties`, `CreateContainer` with `properties`) are applied through it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::lock::BucketLock;
use crate::wire::LifecycleRule;

/// A container's settings (besides its storage policy), each a typed value; `None` or empty
/// is "not set".
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct ContainerProps {
    /// S3 LocationConstraint given at creation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// S3 bucket ACL (absent: the owner's private ACL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acl: Option<Acl>,
    /// S3 bucket policy, the JSON document as the owner sent it (S3 answers it back verbatim;
    /// the gateway parses and evaluates it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// S3 public access block.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_access_block: Option<PublicAccessBlock>,
    /// S3 bucket tags (`Some(empty)`: a tag set with no tags was put).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
    /// S3 CORS rules.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cors: Option<Cors>,
    /// Lifecycle rules (meta's worker applies them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<Lifecycle>,
    /// Object lock: present on buckets created with it, with their default retention.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_lock: Option<BucketLock>,
    /// S3 object ownership (absent: ACLs apply, each object owned by its writer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ownership: Option<ObjectOwnership>,
    /// S3 default encryption of new objects written without encryption headers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption: Option<DefaultEncryption>,
    /// Swift container settings.
    #[serde(skip_serializing_if = "SwiftProps::is_empty")]
    pub swift: SwiftProps,
    /// Entries of the old string map that no typed field took (kept, never lost).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub other: BTreeMap<String, String>,
}

/// A Swift container's ACLs, metadata and versioning locations.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct SwiftProps {
    /// `X-Container-Read`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_acl: Option<String>,
    /// `X-Container-Write`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub write_acl: Option<String>,
    /// `X-Container-Meta-*`: lower-case names without the prefix.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub meta: BTreeMap<String, String>,
    /// `X-Versions-Location`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub versions_location: Option<String>,
    /// `X-History-Location`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history_location: Option<String>,
}

impl SwiftProps {
    pub fn is_empty(&self) -> bool {
        let SwiftProps {
            read_acl,
            write_acl,
            meta,
            versions_location,
            history_location,
        } = self;
        read_acl.is_none()
            && write_acl.is_none()
            && meta.is_empty()
            && versions_location.is_none()
            && history_location.is_none()
    }
}

/// One change to a container's settings: a value to set, or `None` to remove it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "setting", content = "value", rename_all = "snake_case")]
pub enum SettingChange {
    Location(Option<String>),
    Acl(Option<Acl>),
    Policy(Option<String>),
    PublicAccessBlock(Option<PublicAccessBlock>),
    Tags(Option<BTreeMap<String, String>>),
    Cors(Option<Cors>),
    Lifecycle(Option<Lifecycle>),
    ObjectLock(Option<BucketLock>),
    Ownership(Option<ObjectOwnership>),
    Encryption(Option<DefaultEncryption>),
    SwiftReadAcl(Option<String>),
    SwiftWriteAcl(Option<String>),
    /// Sets then removes Swift metadata entries (lower-case names).
    SwiftMeta {
        set: BTreeMap<String, String>,
        remove: Vec<String>,
    },
    VersionsLocation(Option<String>),
    HistoryLocation(Option<String>),
}

impl ContainerProps {
    /// No setting set. (Field by field: comparing with a `default()` value was miscompiled by
    /// rustc 1.95 in release builds where a command's variant was known — see
    /// `Command::version`'s test in `sealing_tests`.)
    pub fn is_empty(&self) -> bool {
        let ContainerProps {
            location,
            acl,
            policy,
            public_access_block,
            tags,
            cors,
            lifecycle,
            object_lock,
            ownership,
            encryption,
            swift,
            other,
        } = self;
        location.is_none()
            && acl.is_none()
            && policy.is_none()
            && public_access_block.is_none()
            && tags.is_none()
            && cors.is_none()
            && lifecycle.is_none()
            && object_lock.is_none()
            && ownership.is_none()
            && encryption.is_none()
            && swift.is_empty()
            && other.is_empty()
    }

    /// Applies one change.
    pub fn apply(&mut self, change: SettingChange) {
        use SettingChange as S;
        match change {
            S::Location(v) => self.location = v,
            S::Acl(v) => self.acl = v,
            S::Policy(v) => self.policy = v,
            S::PublicAccessBlock(v) => self.public_access_block = v,
            S::Tags(v) => self.tags = v,
            S::Cors(v) => self.cors = v,
            S::Lifecycle(v) => self.lifecycle = v,
            S::ObjectLock(v) => self.object_lock = v,
            S::Ownership(v) => self.ownership = v,
            S::Encryption(v) => self.encryption = v,
            S::SwiftReadAcl(v) => self.swift.read_acl = v,
            S::SwiftWriteAcl(v) => self.swift.write_acl = v,
            S::SwiftMeta { set, remove } => {
                self.swift.meta.extend(set);
                for k in &remove {
                    self.swift.meta.remove(k);
                }
            }
            S::VersionsLocation(v) => self.swift.versions_location = v,
            S::HistoryLocation(v) => self.swift.history_location = v,
        }
    }

    /// The settings held by an old string map (see the module comment).
    pub fn from_legacy(map: &BTreeMap<String, String>) -> ContainerProps {
        let mut props = ContainerProps::default();
        props.apply_legacy(map, &[]);
        props
    }

    /// Sets then removes entries given as the old string map's names and values: what the
    /// old `UpdateContainerProperties` command did, on the typed settings.
    pub fn apply_legacy(&mut self, set: &BTreeMap<String, String>, remove: &[String]) {
        // The lifecycle lived in two entries: S3's document and meta's rules.
        let doc = set.get(legacy::LIFECYCLE_DOC);
        let rules = set.get(legacy::LIFECYCLE_RULES);
        if doc.is_some() || rules.is_some() {
            let mut l = self.lifecycle.take().unwrap_or_default();
            if let Some(d) = doc {
                l.document = d.clone();
            }
            if let Some(r) = rules {
                l.rules = serde_json::from_str(r).unwrap_or_default();
            }
            self.lifecycle = Some(l);
        }
        for (k, v) in set {
            match legacy::change(k, Some(v)) {
                Some(change) => self.apply(change),
                None if legacy::is_lifecycle(k) => {}
                None => {
                    self.other.insert(k.clone(), v.clone());
                }
            }
        }
        for k in remove {
            self.other.remove(k);
            match legacy::change(k, None) {
                Some(change) => self.apply(change),
                None if legacy::is_lifecycle(k) => self.lifecycle = None,
                None => {}
            }
        }
    }
}

/// The old string map's names, read only to upgrade.
mod legacy {
    use super::*;

    pub const LIFECYCLE_DOC: &str = "s3:lifecycle";
    // Version properties.
    pub const TAGS: &str = "tags";
    pub const ACL: &str = "s3.acl";
    pub const MODE: &str = "lock-mode";
    pub const UNTIL_MS: &str = "lock-until-ms";
    pub const LEGAL_HOLD: &str = "legal-hold";

    /// The value of `name` in `old` after setting `set` and removing `remove`.
    pub fn entry(
        old: &BTreeMap<String, String>,
        set: &BTreeMap<String, String>,
        remove: &[String],
        name: &str,
    ) -> Option<String> {
        if remove.iter().any(|r| r == name) {
            return None;
        }
        set.get(name).or_else(|| old.get(name)).cloned()
    }
    pub const LIFECYCLE_RULES: &str = "lifecycle";

    pub fn is_lifecycle(name: &str) -> bool {
        name == LIFECYCLE_DOC || name == LIFECYCLE_RULES
    }

    /// `Some(parsed)` for a value, `Some(None)` for a removal, `None` when the value does
    /// not parse (the entry is then kept as it is, in `other`).
    fn typed<T>(
        value: Option<&String>,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Option<Option<T>> {
        match value {
            None => Some(None),
            Some(v) => parse(v).map(Some),
        }
    }

    fn json<T: serde::de::DeserializeOwned>(v: &str) -> Option<T> {
        serde_json::from_str(v).ok()
    }

    /// The change an old entry (`value` `None`: its removal) stands for; `None` for a name no
    /// typed setting takes, or a value that does not parse as that setting.
    pub fn change(name: &str, value: Option<&String>) -> Option<SettingChange> {
        use SettingChange as S;
        if let Some(meta) = name.strip_prefix("meta:") {
            let (set, remove) = match value {
                Some(v) => (BTreeMap::from([(meta.to_string(), v.clone())]), vec![]),
                None => (BTreeMap::new(), vec![meta.to_string()]),
            };
            return Some(S::SwiftMeta { set, remove });
        }
        let text = |v: &str| Some(v.to_string());
        Some(match name {
            "location" => S::Location(typed(value, text)?),
            "s3.acl" => S::Acl(typed(value, json)?),
            "s3.policy" => S::Policy(typed(value, text)?),
            "s3.public-access-block" => S::PublicAccessBlock(typed(value, json)?),
            "s3:tagging" => S::Tags(typed(value, json)?),
            "s3:cors" => S::Cors(typed(value, Cors::from_s3_xml)?),
            "object-lock" => S::ObjectLock(typed(value, json)?),
            "read-acl" => S::SwiftReadAcl(typed(value, text)?),
            "write-acl" => S::SwiftWriteAcl(typed(value, text)?),
            "versions-location" => S::VersionsLocation(typed(value, text)?),
            "history-location" => S::HistoryLocation(typed(value, text)?),
            _ => return None,
        })
    }
}

/// An object version's properties the front ends own, typed. Meta enforces the lock ones
/// (`crate::lock`) and filters lifecycle rules on the tags.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct VersionProps {
    /// S3 object tags.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// S3 object ACL (absent: its owner's private ACL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acl: Option<Acl>,
    /// Object lock retention.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention: Option<Retention>,
    /// Object lock legal hold.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub legal_hold: bool,
    /// Entries of the old string map that no typed field took (kept, never lost).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub other: BTreeMap<String, String>,
}

/// Retention of a version: mode (`GOVERNANCE` or `COMPLIANCE`) and end (Unix ms).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    pub mode: String,
    pub until_ms: i64,
}

/// One change to a version's properties.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "prop", content = "value", rename_all = "snake_case")]
pub enum VersionChange {
    /// Replaces the tags (empty: none).
    Tags(BTreeMap<String, String>),
    Acl(Option<Acl>),
    Retention(Option<Retention>),
    LegalHold(bool),
}

impl VersionProps {
    /// No property set (field by field, as [`ContainerProps::is_empty`]).
    pub fn is_empty(&self) -> bool {
        let VersionProps {
            tags,
            acl,
            retention,
            legal_hold,
            other,
        } = self;
        tags.is_empty() && acl.is_none() && retention.is_none() && !legal_hold && other.is_empty()
    }

    /// Applies one change.
    pub fn apply(&mut self, change: VersionChange) {
        match change {
            VersionChange::Tags(t) => self.tags = t,
            VersionChange::Acl(a) => self.acl = a,
            VersionChange::Retention(r) => self.retention = r,
            VersionChange::LegalHold(h) => self.legal_hold = h,
        }
    }

    /// Adds what `other` sets: its tags, and its ACL, retention, legal hold and other entries
    /// where it has them.
    pub fn merge(&mut self, other: VersionProps) {
        let VersionProps {
            tags,
            acl,
            retention,
            legal_hold,
            other,
        } = other;
        self.tags.extend(tags);
        if acl.is_some() {
            self.acl = acl;
        }
        if retention.is_some() {
            self.retention = retention;
        }
        self.legal_hold |= legal_hold;
        self.other.extend(other);
    }

    /// The properties held by the string map of records and commands from before they were
    /// typed: `tags` (a JSON object), `s3.acl` (JSON), `lock-mode`, `lock-until-ms`,
    /// `legal-hold` (`ON`).
    pub fn from_legacy(map: &BTreeMap<String, String>) -> VersionProps {
        let mut props = VersionProps::default();
        props.apply_legacy(map, &[]);
        props
    }

    /// Sets then removes entries named as in that string map: what the old
    /// `UpdateObjectProps` command did, on the typed properties.
    pub fn apply_legacy(&mut self, set: &BTreeMap<String, String>, remove: &[String]) {
        // The retention was two entries; read the pair as it stands after the change.
        let mode = legacy::entry(&self.retention_entries(), set, remove, legacy::MODE);
        let until = legacy::entry(&self.retention_entries(), set, remove, legacy::UNTIL_MS);
        for (k, v) in set {
            let parsed = match k.as_str() {
                legacy::TAGS => serde_json::from_str(v).ok().map(VersionChange::Tags),
                legacy::ACL => serde_json::from_str(v)
                    .ok()
                    .map(|a| VersionChange::Acl(Some(a))),
                legacy::LEGAL_HOLD => Some(VersionChange::LegalHold(v == "ON")),
                legacy::MODE | legacy::UNTIL_MS => continue,
                _ => None,
            };
            match parsed {
                Some(change) => {
                    self.other.remove(k);
                    self.apply(change);
                }
                None => {
                    self.other.insert(k.clone(), v.clone());
                }
            }
        }
        for k in remove {
            self.other.remove(k);
            match k.as_str() {
                legacy::TAGS => self.tags.clear(),
                legacy::ACL => self.acl = None,
                legacy::LEGAL_HOLD => self.legal_hold = false,
                _ => {}
            }
        }
        let touched = |name: &str| set.contains_key(name) || remove.iter().any(|r| r == name);
        if touched(legacy::MODE) || touched(legacy::UNTIL_MS) {
            self.retention = match (mode, until.and_then(|u| u.parse().ok())) {
                (Some(mode), Some(until_ms)) => Some(Retention { mode, until_ms }),
                _ => None,
            };
        }
    }

    /// The retention as the old map's two entries.
    fn retention_entries(&self) -> BTreeMap<String, String> {
        match &self.retention {
            Some(r) => BTreeMap::from([
                (legacy::MODE.to_string(), r.mode.clone()),
                (legacy::UNTIL_MS.to_string(), r.until_ms.to_string()),
            ]),
            None => BTreeMap::new(),
        }
    }
}

/// Reads both forms: the typed one, and the string map of records and commands from before
/// (whose names the typed form does not have, so the typed form refuses it first).
impl<'de> Deserialize<'de> for VersionProps {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<VersionProps, D::Error> {
        #[derive(Deserialize)]
        #[serde(default, deny_unknown_fields)]
        struct Typed {
            tags: BTreeMap<String, String>,
            acl: Option<Acl>,
            retention: Option<Retention>,
            legal_hold: bool,
            other: BTreeMap<String, String>,
        }
        impl Default for Typed {
            fn default() -> Typed {
                let VersionProps {
                    tags,
                    acl,
                    retention,
                    legal_hold,
                    other,
                } = VersionProps::default();
                Typed {
                    tags,
                    acl,
                    retention,
                    legal_hold,
                    other,
                }
            }
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Typed(Typed),
            Legacy(BTreeMap<String, String>),
        }
        Ok(match Either::deserialize(d)? {
            Either::Typed(Typed {
                tags,
                acl,
                retention,
                legal_hold,
                other,
            }) => VersionProps {
                tags,
                acl,
                retention,
                legal_hold,
                other,
            },
            Either::Legacy(map) => VersionProps::from_legacy(&map),
        })
    }
}

/// An ACL permission (S3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Perm {
    #[serde(rename = "FULL_CONTROL")]
    FullControl,
    #[serde(rename = "READ")]
    Read,
    #[serde(rename = "WRITE")]
    Write,
    #[serde(rename = "READ_ACP")]
    ReadAcp,
    #[serde(rename = "WRITE_ACP")]
    WriteAcp,
}

impl Perm {
    pub fn parse(s: &str) -> Option<Perm> {
        Some(match s {
            "FULL_CONTROL" => Perm::FullControl,
            "READ" => Perm::Read,
            "WRITE" => Perm::Write,
            "READ_ACP" => Perm::ReadAcp,
            "WRITE_ACP" => Perm::WriteAcp,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Perm::FullControl => "FULL_CONTROL",
            Perm::Read => "READ",
            Perm::Write => "WRITE",
            Perm::ReadAcp => "READ_ACP",
            Perm::WriteAcp => "WRITE_ACP",
        }
    }

    /// Whether holding `self` gives `wanted`.
    pub fn covers(self, wanted: Perm) -> bool {
        self == Perm::FullControl || self == wanted
    }
}

/// Who an ACL grant is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Grantee {
    /// An account, by name.
    User(String),
    /// A predefined group, by URI.
    Group(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AclGrant {
    pub grantee: Grantee,
    pub perm: Perm,
}

/// An S3 access control list: its owner and the grants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acl {
    pub owner: String,
    pub grants: Vec<AclGrant>,
}

impl Acl {
    /// `owner` with FULL_CONTROL and nothing else.
    pub fn private(owner: &str) -> Acl {
        Acl {
            owner: owner.to_string(),
            grants: vec![AclGrant {
                grantee: Grantee::User(owner.to_string()),
                perm: Perm::FullControl,
            }],
        }
    }
}

/// S3 object ownership: who owns the objects written to a bucket, and whether ACLs apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ObjectOwnership {
    /// ACLs apply; an object belongs to the account that wrote it.
    ObjectWriter,
    /// ACLs apply; an object written with `bucket-owner-full-control` belongs to the bucket
    /// owner.
    BucketOwnerPreferred,
    /// ACLs are off: the bucket owner owns every object, access is by policy only.
    BucketOwnerEnforced,
}

/// A bucket's default encryption (S3 PutBucketEncryption): what a PUT without encryption
/// headers gets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefaultEncryption {
    /// `AES256` (SSE-S3); other algorithms are refused by the gateway for now.
    pub algorithm: String,
    /// The KMS key named with `aws:kms` (kept as sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    /// `BucketKeyEnabled` as sent.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bucket_key: bool,
}

/// The four S3 public access block switches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicAccessBlock {
    pub block_public_acls: bool,
    pub ignore_public_acls: bool,
    pub block_public_policy: bool,
    pub restrict_public_buckets: bool,
}

/// A bucket's CORS rules (S3).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cors {
    pub rules: Vec<CorsRule>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CorsRule {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub allowed_methods: Vec<String>,
    pub allowed_origins: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_headers: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub expose_headers: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_age_seconds: Option<i32>,
}

impl Cors {
    /// Reads the S3 XML the gateway stored before the settings were typed
    /// (`<CORSConfiguration><CORSRule><AllowedMethod>…`); `None` if it is not such a document.
    pub fn from_s3_xml(xml: &str) -> Option<Cors> {
        #[derive(Deserialize)]
        struct Doc {
            #[serde(rename = "CORSRule", default)]
            rules: Vec<Rule>,
        }
        #[derive(Deserialize)]
        struct Rule {
            #[serde(rename = "ID")]
            id: Option<String>,
            #[serde(rename = "AllowedMethod", default)]
            methods: Vec<String>,
            #[serde(rename = "AllowedOrigin", default)]
            origins: Vec<String>,
            #[serde(rename = "AllowedHeader", default)]
            headers: Vec<String>,
            #[serde(rename = "ExposeHeader", default)]
            expose: Vec<String>,
            #[serde(rename = "MaxAgeSeconds")]
            max_age: Option<i32>,
        }
        let body = xml.trim_start();
        let body = match body.strip_prefix("<?").and_then(|b| b.split_once("?>")) {
            Some((_, rest)) => rest.trim_start(),
            None => body,
        };
        if !body.starts_with("<CORSConfiguration") {
            return None;
        }
        let doc: Doc = quick_xml::de::from_str(xml).ok()?;
        Some(Cors {
            rules: doc
                .rules
                .into_iter()
                .map(|r| CorsRule {
                    id: r.id,
                    allowed_methods: r.methods,
                    allowed_origins: r.origins,
                    allowed_headers: r.headers,
                    expose_headers: r.expose,
                    max_age_seconds: r.max_age,
                })
                .collect(),
        })
    }
}

/// A bucket's lifecycle: the rules meta's worker applies, and the S3 document they came from.
/// The document is kept because S3 answers GetBucketLifecycleConfiguration with the rules as
/// they were written (a `Prefix` or a `Filter`, `And` or not), which the rules alone do not
/// say; meta never reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Lifecycle {
    pub rules: Vec<LifecycleRule>,
    /// S3 `LifecycleConfiguration` XML (empty when set by another front end).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub document: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(entries: &[(&str, &str)]) -> BTreeMap<String, String> {
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Every name the old string map used lands in its typed field; unknown names are kept.
    #[test]
    fn legacy_map_upgrades_to_typed_settings() {
        let old = map(&[
            ("location", "eu-west-3"),
            (
                "s3.acl",
                r#"{"owner":"a","grants":[{"grantee":{"group":"http://acs.amazonaws.com/groups/global/AllUsers"},"perm":"READ"}]}"#,
            ),
            ("s3.policy", r#"{"Version":"2012-10-17","Statement":[]}"#),
            (
                "s3.public-access-block",
                r#"{"block_public_acls":true,"ignore_public_acls":false,"block_public_policy":true,"restrict_public_buckets":false}"#,
            ),
            ("s3:tagging", r#"{"team":"blue"}"#),
            (
                "s3:cors",
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CORSConfiguration><CORSRule><AllowedHeader>*</AllowedHeader><AllowedMethod>GET</AllowedMethod><AllowedMethod>PUT</AllowedMethod><AllowedOrigin>*.example</AllowedOrigin><ExposeHeader>etag</ExposeHeader><ID>r1</ID><MaxAgeSeconds>30</MaxAgeSeconds></CORSRule></CORSConfiguration>",
            ),
            (
                "s3:lifecycle",
                "<LifecycleConfiguration><Rule/></LifecycleConfiguration>",
            ),
            (
                "lifecycle",
                r#"[{"id":"r","enabled":true,"prefix":"logs/","expiration_days":3}]"#,
            ),
            ("object-lock", r#"{"mode":"GOVERNANCE","days":2}"#),
            ("read-acl", ".r:*,.rlistings"),
            ("write-acl", "acct:bob"),
            ("meta:temp-url-key", "k1"),
            ("meta:colour", "red"),
            ("versions-location", "old"),
            ("history-location", "hist"),
            ("abandoned\0x", "kept"),
        ]);
        let mut unreadable = old.clone();
        unreadable.insert("s3:cors".into(), "<x/>".into());
        unreadable.insert("s3.acl".into(), "not json".into());
        let u = ContainerProps::from_legacy(&unreadable);
        assert_eq!((u.cors, u.acl), (None, None));
        assert_eq!(
            u.other["s3:cors"], "<x/>",
            "an unreadable value is kept as it was"
        );
        assert_eq!(u.other["s3.acl"], "not json");
        let p = ContainerProps::from_legacy(&old);
        assert_eq!(p.location.as_deref(), Some("eu-west-3"));
        let acl = p.acl.as_ref().unwrap();
        assert_eq!(acl.owner, "a");
        assert_eq!(acl.grants[0].perm, Perm::Read);
        assert!(p.policy.as_ref().unwrap().contains("2012-10-17"));
        let pab = p.public_access_block.unwrap();
        assert!(pab.block_public_acls && pab.block_public_policy && !pab.ignore_public_acls);
        assert_eq!(p.tags, Some(map(&[("team", "blue")])));
        let cors = p.cors.as_ref().unwrap();
        assert_eq!(cors.rules.len(), 1);
        let r = &cors.rules[0];
        assert_eq!(r.id.as_deref(), Some("r1"));
        assert_eq!(r.allowed_methods, ["GET", "PUT"]);
        assert_eq!(r.allowed_origins, ["*.example"]);
        assert_eq!(r.allowed_headers, ["*"]);
        assert_eq!(r.expose_headers, ["etag"]);
        assert_eq!(r.max_age_seconds, Some(30));
        let l = p.lifecycle.as_ref().unwrap();
        assert_eq!(l.rules.len(), 1);
        assert_eq!(l.rules[0].prefix, "logs/");
        assert_eq!(l.rules[0].expiration_days, Some(3));
        assert!(l.document.starts_with("<LifecycleConfiguration>"));
        let lock = p.object_lock.as_ref().unwrap();
        assert_eq!(
            (lock.mode.as_deref(), lock.days),
            (Some("GOVERNANCE"), Some(2))
        );
        assert_eq!(p.swift.read_acl.as_deref(), Some(".r:*,.rlistings"));
        assert_eq!(p.swift.write_acl.as_deref(), Some("acct:bob"));
        assert_eq!(
            p.swift.meta,
            map(&[("temp-url-key", "k1"), ("colour", "red")])
        );
        assert_eq!(p.swift.versions_location.as_deref(), Some("old"));
        assert_eq!(p.swift.history_location.as_deref(), Some("hist"));
        assert_eq!(p.other, map(&[("abandoned\0x", "kept")]));

        // The old removals clear the typed fields.
        let mut q = p.clone();
        let names: Vec<String> = old.keys().cloned().collect();
        q.apply_legacy(&BTreeMap::new(), &names);
        assert!(q.is_empty(), "{q:?}");
    }

    /// An object-lock bucket created before locks had a default retention held `{}`.
    #[test]
    fn legacy_empty_object_lock_is_still_a_lock() {
        let p = ContainerProps::from_legacy(&map(&[("object-lock", "{}")]));
        assert_eq!(p.object_lock, Some(BucketLock::default()));
    }

    #[test]
    fn changes_apply_and_serialize_with_their_setting_name() {
        let mut p = ContainerProps::default();
        let c = SettingChange::Tags(Some(map(&[("a", "1")])));
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(json, r#"{"setting":"tags","value":{"a":"1"}}"#);
        p.apply(serde_json::from_str(&json).unwrap());
        assert_eq!(p.tags, Some(map(&[("a", "1")])));
        p.apply(SettingChange::Tags(None));
        assert_eq!(p.tags, None);
        // An empty settings value serializes to `{}` and reads back.
        assert_eq!(
            serde_json::to_string(&ContainerProps::default()).unwrap(),
            "{}"
        );
    }

    /// The old `UpdateObjectProps` names on typed version properties: the retention's two
    /// entries read as a pair; removing either removes the retention; the typed form and the
    /// old map both deserialize.
    #[test]
    fn version_props_legacy_changes() {
        let mut p = VersionProps::default();
        p.apply_legacy(
            &map(&[
                ("lock-mode", "COMPLIANCE"),
                ("lock-until-ms", "5"),
                ("legal-hold", "ON"),
            ]),
            &[],
        );
        assert_eq!(
            p.retention,
            Some(Retention {
                mode: "COMPLIANCE".into(),
                until_ms: 5
            })
        );
        assert!(p.legal_hold);
        // Only the date changes: the mode stays.
        p.apply_legacy(&map(&[("lock-until-ms", "9")]), &[]);
        assert_eq!(
            p.retention.as_ref().map(|r| (r.mode.as_str(), r.until_ms)),
            Some(("COMPLIANCE", 9))
        );
        p.apply_legacy(&BTreeMap::new(), &["lock-mode".into(), "legal-hold".into()]);
        assert_eq!((p.retention.clone(), p.legal_hold), (None, false));
        let typed: VersionProps =
            serde_json::from_str(r#"{"tags":{"a":"1"},"legal_hold":true}"#).unwrap();
        assert_eq!((typed.tags["a"].as_str(), typed.legal_hold), ("1", true));
        let old: VersionProps = serde_json::from_str(r#"{"tags":"{\"a\":\"1\"}"}"#).unwrap();
        assert_eq!(old.tags["a"], "1");
        let empty: VersionProps = serde_json::from_str("{}").unwrap();
        assert!(empty.is_empty());
    }
}
