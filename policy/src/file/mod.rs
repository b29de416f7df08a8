//! Policy files (TOML): the storage policies an operator defines, the service pools they draw
//! from, the S3 storage classes that name them and the default. See `docs/policies.md`.
//!
//! [`PolicySet::parse`] validates everything and reports every problem with its place
//! (`policy "EC42": k + m = 40 is larger than 32`); [`PolicySet::to_toml`] writes a file that
//! parses back to the same set.

mod raw;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::LazyLock;

use crate::error::PolicyError;
use crate::pool::Pool;
use crate::storage::{ALL_POOL, StoragePolicy};

/// Default chunk size when a policy does not give one: 8 MiB.
pub const DEFAULT_CHUNK_SIZE: u64 = 8 << 20;
/// Smallest chunk size a policy file may ask for.
pub const MIN_CHUNK_SIZE: u64 = 64 << 10;
/// Largest chunk size a policy file may ask for.
pub const MAX_CHUNK_SIZE: u64 = 1 << 30;
/// Largest `copies` of a replicate policy.
pub const MAX_COPIES: usize = 16;
/// Largest `k`, `m` and `k + m` of an ec policy.
pub const MAX_FRAGMENTS: usize = 32;
/// Largest `min_distance` (location strings have four levels: `dc.rack.host.vol`).
pub const MAX_DISTANCE: usize = 4;

/// A validated set of storage policies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicySet {
    /// Name of the policy used when nothing else chooses one.
    pub default: String,
    /// S3 storage class (`x-amz-storage-class`) → policy name.
    pub storage_classes: BTreeMap<String, String>,
    /// Named pools; `"all"` is implicit and never listed here.
    pub pools: BTreeMap<String, Pool>,
    /// Policies by name (each `StoragePolicy::name` equals its key).
    pub policies: BTreeMap<String, StoragePolicy>,
}

/// Returned by [`PolicySet::default_policy`] on a hand-built set whose default is missing.
static FALLBACK: LazyLock<StoragePolicy> =
    LazyLock::new(|| StoragePolicy::replicated("REPLICATE3", 3, DEFAULT_CHUNK_SIZE));

impl PolicySet {
    /// Parses and validates a policy file. Every error names the policy, pool or storage class
    /// it is about; all problems found are reported together.
    pub fn parse(text: &str) -> Result<PolicySet, PolicyError> {
        raw::parse(text)
    }

    /// The set used when no policy file was applied: one replicate policy `REPLICATE{copies}`
    /// (minimum distance 0, pool `"all"`) as the default, no storage classes.
    pub fn builtin(copies: usize, chunk_size: u64) -> PolicySet {
        let policy = StoragePolicy::replicated(format!("REPLICATE{copies}"), copies, chunk_size);
        PolicySet {
            default: policy.name.clone(),
            storage_classes: BTreeMap::new(),
            pools: BTreeMap::new(),
            policies: BTreeMap::from([(policy.name.clone(), policy)]),
        }
    }

    /// The set as a policy file; [`parse`](Self::parse) reads it back to an equal set (provided
    /// the set is valid, e.g. its chunk sizes are within the file limits).
    pub fn to_toml(&self) -> String {
        raw::to_toml(self)
    }

    /// Checks a set built by hand (or [`builtin`](Self::builtin)) against the same rules as
    /// [`parse`](Self::parse).
    pub fn validate(&self) -> Result<(), PolicyError> {
        raw::validate(self)
    }

    /// The policy named `name`.
    pub fn get(&self, name: &str) -> Option<&StoragePolicy> {
        self.policies.get(name)
    }

    /// The default policy. A parsed set always has it; on a hand-built set without it this is a
    /// 3-copy replicate policy rather than a panic.
    pub fn default_policy(&self) -> &StoragePolicy {
        self.policies.get(&self.default).unwrap_or(&FALLBACK)
    }

    /// The policy an S3 storage class maps to.
    pub fn for_storage_class(&self, class: &str) -> Option<&StoragePolicy> {
        self.storage_classes
            .get(class)
            .and_then(|name| self.policies.get(name))
    }

    /// The storage class to report for objects stored under `policy_name`: `STANDARD` if it maps
    /// there, otherwise the first class (by name) that does.
    pub fn storage_class_of(&self, policy_name: &str) -> Option<&str> {
        if self.storage_classes.get("STANDARD").map(String::as_str) == Some(policy_name) {
            return Some("STANDARD");
        }
        self.storage_classes
            .iter()
            .find(|(_, p)| p.as_str() == policy_name)
            .map(|(c, _)| c.as_str())
    }

    /// The pool named `name`; `"all"` is the empty pool (every server).
    pub fn pool(&self, name: &str) -> Option<Pool> {
        if name == ALL_POOL {
            return Some(Pool::default());
        }
        self.pools.get(name).cloned()
    }
}
