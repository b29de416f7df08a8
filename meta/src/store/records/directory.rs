//! Disk records of the directory environment: accounts, meta1 entries (a container's owner,
//! meta2 address and settings), access keys and Swift users (version 2: their secret in
//! plaintext or sealed, [`SecretV1`]; they have no wire type to map to, since a sealed secret
//! is opened only when a read answers), Swift tokens, services (the conscience's
//! registrations) and expiry index entries.

use super::{Record, Stored, v1};
use crate::secrets::Sealed;
use meta_api::error::{Error, Result};
use meta_api::settings::ContainerProps;
use meta_api::wire::{ContainerSettings, ServiceRecord, ServiceStats, SwiftToken};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// An account as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccountRecord {
    #[serde(default = "v1")]
    pub v: u32,
    pub name: String,
    pub created_ms: i64,
    /// Account metadata (Swift `X-Account-Meta-*`), lower-case names without the prefix.
    #[serde(default)]
    pub meta: BTreeMap<String, String>,
}

/// A quota of an account or a container (`None`: no limit; see `store::quotas`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct QuotaRecord {
    #[serde(default = "v1")]
    pub v: u32,
    #[serde(default)]
    pub max_bytes: Option<u64>,
    #[serde(default)]
    pub max_objects: Option<u64>,
}

/// A key of the SSE-KMS key store (`store::kms`): its state and, once made, its material
/// wrapped by a master key of the gateways (never in clear).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct KmsKeyRecord {
    #[serde(default = "v1")]
    pub v: u32,
    pub name: String,
    pub created_ms: i64,
    pub enabled: bool,
    #[serde(default)]
    pub material: Option<meta_api::encryption::KmsMaterial>,
}

/// A meta1 entry: who owns a container, where its meta2 lives and its settings (version 2:
/// typed settings).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Meta1Record {
    #[serde(default = "v1")]
    pub v: u32,
    pub account: String,
    pub name: String,
    pub meta2: Vec<String>,
    pub created_ms: i64,
    pub settings: SettingsV2,
}

/// A container's settings as stored in its meta1 entry (version 2). The setting values are
/// `meta_api::settings` types: their JSON form is part of this record's format, so a field
/// only ever gets added there with a default, and a changed meaning is a new version of this
/// record.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct SettingsV2 {
    pub policy: Option<String>,
    #[serde(default)]
    pub props: ContainerProps,
}

/// A meta1 entry as stored by version 1: the settings a map of strings.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Meta1V1 {
    #[serde(default = "v1")]
    pub v: u32,
    pub account: String,
    pub name: String,
    pub meta2: Vec<String>,
    pub created_ms: i64,
    pub settings: SettingsV1,
}

/// A container's settings as stored by version 1 of the meta1 entry.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct SettingsV1 {
    pub policy: Option<String>,
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
}

/// Value of an `expiry` entry: where the object lives.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExpiryEntry {
    #[serde(default = "v1")]
    pub v: u32,
    pub container: String,
    pub key: String,
}

/// A stored secret: in plaintext (written without a master key, or before secrets were sealed)
/// or sealed under a master key ([`crate::secrets`]). Its `Debug` shows no plaintext.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretV1 {
    Plain(String),
    Sealed(Sealed),
}

impl std::fmt::Debug for SecretV1 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretV1::Plain(_) => f.write_str("Plain(..)"),
            SecretV1::Sealed(s) => f.debug_tuple("Sealed").field(s).finish(),
        }
    }
}

/// An access key as stored (version 2: the secret may be sealed).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CredentialV2 {
    pub v: u32,
    pub access_key: String,
    pub account: String,
    pub secret: SecretV1,
}

/// An access key as stored by version 1: the secret in plaintext.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CredentialV1 {
    #[serde(default = "v1")]
    pub v: u32,
    pub access_key: String,
    pub secret_key: String,
    pub account: String,
}

/// A Swift user as stored (version 2: the key may be sealed).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SwiftUserV2 {
    pub v: u32,
    pub account: String,
    pub user: String,
    pub key: SecretV1,
    pub admin: bool,
}

/// A Swift user as stored by version 1: the key in plaintext.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SwiftUserV1 {
    #[serde(default = "v1")]
    pub v: u32,
    pub account: String,
    pub user: String,
    pub key: String,
    pub admin: bool,
}

/// A Swift token as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenV1 {
    #[serde(default = "v1")]
    pub v: u32,
    pub token: String,
    pub account: String,
    pub user: String,
    pub admin: bool,
    pub expires_ms: i64,
}

/// A service registration as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceV1 {
    #[serde(default = "v1")]
    pub v: u32,
    pub id: String,
    pub kind: String,
    pub addr: String,
    pub location: String,
    #[serde(default)]
    pub slots: Vec<String>,
    pub stats: StatsV1,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    pub score: u8,
    pub locked: Option<u8>,
}

/// The last statistics a service reported, as stored.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StatsV1 {
    pub free_bytes: u64,
    pub total_bytes: u64,
    pub chunk_count: u64,
    pub io_idle: f64,
    pub cpu_idle: f64,
}

/// `Record` for kinds at version 1 with a `v` field.
macro_rules! record_v1 {
    ($($ty:ty => $kind:literal),* $(,)?) => {$(
        impl Record for $ty {
            const KIND: &'static str = $kind;
            const VERSION: u32 = 1;
            fn version(&self) -> u32 {
                self.v
            }
        }
    )*};
}

record_v1! {
    AccountRecord => "account",
    QuotaRecord => "quota",
    KmsKeyRecord => "kms key",
    ExpiryEntry => "expiry",
    TokenV1 => "token",
    ServiceV1 => "service",
}

impl From<&ContainerSettings> for SettingsV2 {
    fn from(s: &ContainerSettings) -> SettingsV2 {
        let ContainerSettings { policy, props } = s;
        SettingsV2 {
            policy: policy.clone(),
            props: props.clone(),
        }
    }
}

impl From<SettingsV2> for ContainerSettings {
    fn from(s: SettingsV2) -> ContainerSettings {
        let SettingsV2 { policy, props } = s;
        ContainerSettings { policy, props }
    }
}

impl Record for Meta1Record {
    const KIND: &'static str = "meta1";
    const VERSION: u32 = 2;

    fn version(&self) -> u32 {
        self.v
    }

    /// Version 1 held the settings as a map of strings.
    fn upgrade(version: u32, bytes: &[u8]) -> Result<Self> {
        let Meta1V1 {
            v: _,
            account,
            name,
            meta2,
            created_ms,
            settings: SettingsV1 { policy, properties },
        } = parse_v1(Self::KIND, version, bytes)?;
        Ok(Meta1Record {
            v: Self::VERSION,
            account,
            name,
            meta2,
            created_ms,
            settings: SettingsV2 {
                policy,
                props: ContainerProps::from_legacy(&properties),
            },
        })
    }
}

/// A version-1 record of a kind at version 2 (`version` is the one the bytes carry: any
/// other has no upgrade path), or a corrupt-record error.
fn parse_v1<T: serde::de::DeserializeOwned>(kind: &str, version: u32, bytes: &[u8]) -> Result<T> {
    if version != 1 {
        return Err(Error::Db(format!(
            "{kind} record version {version} has no upgrade path"
        )));
    }
    serde_json::from_slice(bytes)
        .map_err(|e| Error::Db(format!("corrupt {kind} record (version 1): {e}")))
}

impl Record for CredentialV2 {
    const KIND: &'static str = "credential";
    const VERSION: u32 = 2;

    fn version(&self) -> u32 {
        self.v
    }

    /// Version 1 held the secret in plaintext.
    fn upgrade(version: u32, bytes: &[u8]) -> Result<Self> {
        let CredentialV1 {
            v: _,
            access_key,
            secret_key,
            account,
        } = parse_v1(Self::KIND, version, bytes)?;
        Ok(CredentialV2 {
            v: Self::VERSION,
            access_key,
            account,
            secret: SecretV1::Plain(secret_key),
        })
    }
}

impl Record for SwiftUserV2 {
    const KIND: &'static str = "swift user";
    const VERSION: u32 = 2;

    fn version(&self) -> u32 {
        self.v
    }

    /// Version 1 held the key in plaintext.
    fn upgrade(version: u32, bytes: &[u8]) -> Result<Self> {
        let SwiftUserV1 {
            v: _,
            account,
            user,
            key,
            admin,
        } = parse_v1(Self::KIND, version, bytes)?;
        Ok(SwiftUserV2 {
            v: Self::VERSION,
            account,
            user,
            key: SecretV1::Plain(key),
            admin,
        })
    }
}

impl Stored for SwiftToken {
    type Record = TokenV1;

    fn to_record(&self) -> TokenV1 {
        let SwiftToken {
            token,
            account,
            user,
            admin,
            expires_ms,
        } = self;
        TokenV1 {
            v: TokenV1::VERSION,
            token: token.clone(),
            account: account.clone(),
            user: user.clone(),
            admin: *admin,
            expires_ms: *expires_ms,
        }
    }

    fn from_record(r: TokenV1) -> SwiftToken {
        let TokenV1 {
            v: _,
            token,
            account,
            user,
            admin,
            expires_ms,
        } = r;
        SwiftToken {
            token,
            account,
            user,
            admin,
            expires_ms,
        }
    }
}

impl Stored for ServiceRecord {
    type Record = ServiceV1;

    fn to_record(&self) -> ServiceV1 {
        let ServiceRecord {
            id,
            kind,
            addr,
            location,
            slots,
            stats,
            first_seen_ms,
            last_seen_ms,
            score,
            locked,
        } = self;
        let ServiceStats {
            free_bytes,
            total_bytes,
            chunk_count,
            io_idle,
            cpu_idle,
        } = stats;
        ServiceV1 {
            v: ServiceV1::VERSION,
            id: id.clone(),
            kind: kind.clone(),
            addr: addr.clone(),
            location: location.clone(),
            slots: slots.clone(),
            stats: StatsV1 {
                free_bytes: *free_bytes,
                total_bytes: *total_bytes,
                chunk_count: *chunk_count,
                io_idle: *io_idle,
                cpu_idle: *cpu_idle,
            },
            first_seen_ms: *first_seen_ms,
            last_seen_ms: *last_seen_ms,
            score: *score,
            locked: *locked,
        }
    }

    fn from_record(r: ServiceV1) -> ServiceRecord {
        let ServiceV1 {
            v: _,
            id,
            kind,
            addr,
            location,
            slots,
            stats,
            first_seen_ms,
            last_seen_ms,
            score,
            locked,
        } = r;
        let StatsV1 {
            free_bytes,
            total_bytes,
            chunk_count,
            io_idle,
            cpu_idle,
        } = stats;
        ServiceRecord {
            id,
            kind,
            addr,
            location,
            slots,
            stats: ServiceStats {
                free_bytes,
                total_bytes,
                chunk_count,
                io_idle,
                cpu_idle,
            },
            first_seen_ms,
            last_seen_ms,
            score,
            locked,
        }
    }
}
