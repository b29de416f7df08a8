//! Disk records of the directory environment: accounts, meta1 entries (a container's owner,
//! meta2 address and settings), access keys, Swift users and tokens, services (the
//! conscience's registrations) and expiry index entries.

use super::{Record, Stored, v1};
use meta_api::wire::{
    ContainerSettings, Credential, ServiceRecord, ServiceStats, SwiftToken, SwiftUser,
};
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

/// A meta1 entry: who owns a container, where its meta2 lives and its settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Meta1Record {
    #[serde(default = "v1")]
    pub v: u32,
    pub account: String,
    pub name: String,
    pub meta2: Vec<String>,
    pub created_ms: i64,
    pub settings: SettingsV1,
}

/// A container's settings as stored in its meta1 entry.
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

/// An access key as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CredentialV1 {
    #[serde(default = "v1")]
    pub v: u32,
    pub access_key: String,
    pub secret_key: String,
    pub account: String,
}

/// A Swift user as stored.
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
    Meta1Record => "meta1",
    ExpiryEntry => "expiry",
    CredentialV1 => "credential",
    SwiftUserV1 => "swift user",
    TokenV1 => "token",
    ServiceV1 => "service",
}

impl From<&ContainerSettings> for SettingsV1 {
    fn from(s: &ContainerSettings) -> SettingsV1 {
        let ContainerSettings { policy, properties } = s;
        SettingsV1 {
            policy: policy.clone(),
            properties: properties.clone(),
        }
    }
}

impl From<SettingsV1> for ContainerSettings {
    fn from(s: SettingsV1) -> ContainerSettings {
        let SettingsV1 { policy, properties } = s;
        ContainerSettings { policy, properties }
    }
}

impl Stored for Credential {
    type Record = CredentialV1;

    fn to_record(&self) -> CredentialV1 {
        let Credential {
            access_key,
            secret_key,
            account,
        } = self;
        CredentialV1 {
            v: CredentialV1::VERSION,
            access_key: access_key.clone(),
            secret_key: secret_key.clone(),
            account: account.clone(),
        }
    }

    fn from_record(r: CredentialV1) -> Credential {
        let CredentialV1 {
            v: _,
            access_key,
            secret_key,
            account,
        } = r;
        Credential {
            access_key,
            secret_key,
            account,
        }
    }
}

impl Stored for SwiftUser {
    type Record = SwiftUserV1;

    fn to_record(&self) -> SwiftUserV1 {
        let SwiftUser {
            account,
            user,
            key,
            admin,
        } = self;
        SwiftUserV1 {
            v: SwiftUserV1::VERSION,
            account: account.clone(),
            user: user.clone(),
            key: key.clone(),
            admin: *admin,
        }
    }

    fn from_record(r: SwiftUserV1) -> SwiftUser {
        let SwiftUserV1 {
            v: _,
            account,
            user,
            key,
            admin,
        } = r;
        SwiftUser {
            account,
            user,
            key,
            admin,
        }
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
