//! What meta writes into LMDB: one disk record type per kind of value, separate from the wire
//! types of `meta_api::wire`, each with an explicit version.
//!
//! A record is JSON whose `v` field is its version ([`Record::VERSION`] when written by this
//! binary; records written before versions existed have none and read as version 1). Reading
//! is one parse in the common case: the bytes are decoded as the current version, and only when
//! that fails or names another version is the version looked at:
//! - an older version is upgraded in memory by [`Record::upgrade`] (lazily, per record: the
//!   store never rewrites a record on a read path; the next write of the record stores the
//!   current version). Lazily because a store holds millions of records over thousands of
//!   meta2 environments, which an upgrade at open would read and rewrite all at once;
//! - a newer version is refused with an error naming both versions (an older binary must not
//!   guess at a newer record).
//!
//! The store keeps the wire types in memory; [`Stored`] pairs each with its disk record, and
//! the conversions destructure every field, so a field added to a wire type does not compile
//! until its disk record says what becomes of it. Layout changes (databases, key schemes) are
//! versioned separately by the format key ([`super::format`]).
//!
//! Adding a field to a record: give it `#[serde(default)]` (old records lack it) — no version
//! change. Changing a field's meaning or type: bump the kind's `VERSION`, keep the previous
//! struct in its module as `...V<n>` and map it in `upgrade`.

mod directory;
mod object;
pub mod repair;

pub use directory::{
    AccountRecord, CredentialV2, ExpiryEntry, KmsKeyRecord, Meta1Record, QuotaRecord, SecretV1,
    SwiftUserV2,
};

use meta_api::error::{Error, Result};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A kind of disk record.
pub trait Record: Serialize + DeserializeOwned {
    /// Kind name, for errors.
    const KIND: &'static str;
    /// The version this binary writes.
    const VERSION: u32;

    /// The version the record carries.
    fn version(&self) -> u32;

    /// Reads a record stored at the older `version` (`< VERSION`). Kinds still at their
    /// first version have nothing older.
    fn upgrade(version: u32, bytes: &[u8]) -> Result<Self> {
        let _ = bytes;
        Err(Error::Db(format!(
            "{} record version {version} has no upgrade path",
            Self::KIND
        )))
    }
}

/// An in-memory value (a wire type) that meta stores as the disk record `Record`.
pub trait Stored: Sized {
    type Record: Record;
    fn to_record(&self) -> Self::Record;
    fn from_record(r: Self::Record) -> Self;
}

/// The version of records written before records carried one.
pub(crate) fn v1() -> u32 {
    1
}

/// Only the version of a stored record.
#[derive(serde::Deserialize)]
struct Peek {
    #[serde(default = "v1")]
    v: u32,
}

/// Encodes `value` as its disk record, at the current version.
pub fn encode<T: Stored>(value: &T) -> Result<Vec<u8>> {
    encode_record(&value.to_record())
}

/// Encodes a disk record.
pub fn encode_record<R: Record>(r: &R) -> Result<Vec<u8>> {
    serde_json::to_vec(r)
        .map_err(|e| Error::Internal(format!("encoding a {} record: {e}", R::KIND)))
}

/// Decodes a stored value, upgrading an older record; a newer or unreadable one is an error.
pub fn decode<T: Stored>(bytes: &[u8]) -> Result<T> {
    decode_record::<T::Record>(bytes).map(T::from_record)
}

/// Decodes a disk record (see [`decode`]).
pub fn decode_record<R: Record>(bytes: &[u8]) -> Result<R> {
    let first = match serde_json::from_slice::<R>(bytes) {
        Ok(r) if r.version() == R::VERSION => return Ok(r),
        other => other,
    };
    let corrupt = |e: serde_json::Error| Error::Db(format!("corrupt {} record: {e}", R::KIND));
    let version = serde_json::from_slice::<Peek>(bytes).map_err(corrupt)?.v;
    if version > R::VERSION {
        return Err(Error::Db(format!(
            "a {} record has version {version}, newer than this binary's {}: run a newer Spread",
            R::KIND,
            R::VERSION
        )));
    }
    if version < R::VERSION {
        return R::upgrade(version, bytes);
    }
    match first {
        Ok(r) => Ok(r),
        Err(e) => Err(corrupt(e)),
    }
}

#[cfg(test)]
mod tests;
