//! Disk records of meta2: object versions (`objects`, `versions`), multipart uploads and parts.

use super::{Record, Stored, v1};
use meta_api::encryption::{DataKey, Encryption};
use meta_api::error::{Error, Result};
use meta_api::settings::VersionProps;
use meta_api::wire::{ChunkCopy, ChunkRecord, EcLayout, ObjectRecord, PartRecord, UploadRecord};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One object version as stored (current in `objects`, every version in `versions`). Version
/// 2: `props` typed; version 1 held them as a map of strings, which `VersionProps` also reads
/// (so version 1 is this struct read from older bytes).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ObjectV2 {
    #[serde(default = "v1")]
    pub v: u32,
    pub key: String,
    pub version_id: String,
    pub content_id: String,
    pub size: u64,
    pub etag: String,
    pub mtime_ms: i64,
    pub content_type: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub user_meta: BTreeMap<String, String>,
    #[serde(default)]
    pub checksums: BTreeMap<String, String>,
    pub policy: String,
    #[serde(default)]
    pub parts: Vec<u64>,
    pub chunks: Vec<ChunkV1>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub delete_marker: bool,
    #[serde(default, skip_serializing_if = "VersionProps::is_empty")]
    pub props: VersionProps,
    /// Server-side encryption (absent in records written before it, and for plain content).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<Encryption>,
}

/// A chunk of a stored version or part.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChunkV1 {
    pub pos: u32,
    pub offset: u64,
    pub size: u64,
    pub hash: String,
    pub copies: Vec<CopyV1>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ec: Option<EcV1>,
    /// Inline bytes, base64 in JSON.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "meta_api::wire::base64_bytes"
    )]
    pub inline: Option<Vec<u8>>,
}

/// One copy or fragment of a stored chunk.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CopyV1 {
    pub service: String,
    pub chunk_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fragment: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
}

/// The erasure-coding layout of a stored chunk.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct EcV1 {
    pub k: u32,
    pub m: u32,
    pub fragment_size: u64,
}

/// A multipart upload in progress, as stored (version 2: `props` typed, as [`ObjectV2`]).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct UploadV2 {
    #[serde(default = "v1")]
    pub v: u32,
    pub upload_id: String,
    pub key: String,
    pub initiated_ms: i64,
    pub content_type: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub user_meta: BTreeMap<String, String>,
    pub policy: String,
    pub checksum_algorithm: Option<String>,
    #[serde(default, skip_serializing_if = "VersionProps::is_empty")]
    pub props: VersionProps,
    /// Server-side encryption (absent in records written before it, and for plain content).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<Encryption>,
}

/// An uploaded part, as stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PartV1 {
    #[serde(default = "v1")]
    pub v: u32,
    pub part_number: u32,
    pub size: u64,
    pub etag: String,
    pub mtime_ms: i64,
    #[serde(default)]
    pub checksums: BTreeMap<String, String>,
    pub chunks: Vec<ChunkV1>,
    /// The part's data key when its upload is encrypted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<DataKey>,
}

impl Record for ObjectV2 {
    const KIND: &'static str = "object";
    const VERSION: u32 = 2;
    fn version(&self) -> u32 {
        self.v
    }

    /// Version 1 differs only in its properties' form, which [`VersionProps`] reads.
    fn upgrade(version: u32, bytes: &[u8]) -> Result<Self> {
        if version != 1 {
            return Err(Error::Db(format!(
                "{} record version {version} has no upgrade path",
                Self::KIND
            )));
        }
        let mut r: ObjectV2 = serde_json::from_slice(bytes)
            .map_err(|e| Error::Db(format!("corrupt {} record (version 1): {e}", Self::KIND)))?;
        r.v = Self::VERSION;
        Ok(r)
    }
}

impl Record for UploadV2 {
    const KIND: &'static str = "upload";
    const VERSION: u32 = 2;
    fn version(&self) -> u32 {
        self.v
    }

    /// Version 1 differs only in its properties' form, which [`VersionProps`] reads.
    fn upgrade(version: u32, bytes: &[u8]) -> Result<Self> {
        if version != 1 {
            return Err(Error::Db(format!(
                "{} record version {version} has no upgrade path",
                Self::KIND
            )));
        }
        let mut r: UploadV2 = serde_json::from_slice(bytes)
            .map_err(|e| Error::Db(format!("corrupt {} record (version 1): {e}", Self::KIND)))?;
        r.v = Self::VERSION;
        Ok(r)
    }
}

impl Record for PartV1 {
    const KIND: &'static str = "part";
    const VERSION: u32 = 1;
    fn version(&self) -> u32 {
        self.v
    }
}

fn chunks_to(chunks: &[ChunkRecord]) -> Vec<ChunkV1> {
    chunks.iter().map(chunk_to).collect()
}

fn chunks_from(chunks: Vec<ChunkV1>) -> Vec<ChunkRecord> {
    chunks.into_iter().map(chunk_from).collect()
}

fn chunk_to(c: &ChunkRecord) -> ChunkV1 {
    let ChunkRecord {
        pos,
        offset,
        size,
        hash,
        copies,
        ec,
        inline,
    } = c;
    ChunkV1 {
        pos: *pos,
        offset: *offset,
        size: *size,
        hash: hash.clone(),
        copies: copies
            .iter()
            .map(|c| {
                let ChunkCopy {
                    service,
                    chunk_id,
                    fragment,
                    hash,
                } = c;
                CopyV1 {
                    service: service.clone(),
                    chunk_id: chunk_id.clone(),
                    fragment: *fragment,
                    hash: hash.clone(),
                }
            })
            .collect(),
        ec: ec.map(
            |EcLayout {
                 k,
                 m,
                 fragment_size,
             }| EcV1 {
                k,
                m,
                fragment_size,
            },
        ),
        inline: inline.clone(),
    }
}

fn chunk_from(c: ChunkV1) -> ChunkRecord {
    let ChunkV1 {
        pos,
        offset,
        size,
        hash,
        copies,
        ec,
        inline,
    } = c;
    ChunkRecord {
        pos,
        offset,
        size,
        hash,
        copies: copies
            .into_iter()
            .map(
                |CopyV1 {
                     service,
                     chunk_id,
                     fragment,
                     hash,
                 }| ChunkCopy {
                    service,
                    chunk_id,
                    fragment,
                    hash,
                },
            )
            .collect(),
        ec: ec.map(
            |EcV1 {
                 k,
                 m,
                 fragment_size,
             }| EcLayout {
                k,
                m,
                fragment_size,
            },
        ),
        inline,
    }
}

impl Stored for ObjectRecord {
    type Record = ObjectV2;

    fn to_record(&self) -> ObjectV2 {
        let ObjectRecord {
            key,
            version_id,
            content_id,
            size,
            etag,
            mtime_ms,
            content_type,
            headers,
            user_meta,
            checksums,
            policy,
            parts,
            chunks,
            delete_marker,
            props,
            encryption,
        } = self;
        ObjectV2 {
            v: ObjectV2::VERSION,
            key: key.clone(),
            version_id: version_id.clone(),
            content_id: content_id.clone(),
            size: *size,
            etag: etag.clone(),
            mtime_ms: *mtime_ms,
            content_type: content_type.clone(),
            headers: headers.clone(),
            user_meta: user_meta.clone(),
            checksums: checksums.clone(),
            policy: policy.clone(),
            parts: parts.clone(),
            chunks: chunks_to(chunks),
            delete_marker: *delete_marker,
            props: props.clone(),
            encryption: encryption.clone(),
        }
    }

    fn from_record(r: ObjectV2) -> ObjectRecord {
        let ObjectV2 {
            v: _,
            key,
            version_id,
            content_id,
            size,
            etag,
            mtime_ms,
            content_type,
            headers,
            user_meta,
            checksums,
            policy,
            parts,
            chunks,
            delete_marker,
            props,
            encryption,
        } = r;
        ObjectRecord {
            key,
            version_id,
            content_id,
            size,
            etag,
            mtime_ms,
            content_type,
            headers,
            user_meta,
            checksums,
            policy,
            parts,
            chunks: chunks_from(chunks),
            delete_marker,
            props,
            encryption,
        }
    }
}

impl Stored for UploadRecord {
    type Record = UploadV2;

    fn to_record(&self) -> UploadV2 {
        let UploadRecord {
            upload_id,
            key,
            initiated_ms,
            content_type,
            headers,
            user_meta,
            policy,
            checksum_algorithm,
            props,
            encryption,
        } = self;
        UploadV2 {
            v: UploadV2::VERSION,
            upload_id: upload_id.clone(),
            key: key.clone(),
            initiated_ms: *initiated_ms,
            content_type: content_type.clone(),
            headers: headers.clone(),
            user_meta: user_meta.clone(),
            policy: policy.clone(),
            checksum_algorithm: checksum_algorithm.clone(),
            props: props.clone(),
            encryption: encryption.clone(),
        }
    }

    fn from_record(r: UploadV2) -> UploadRecord {
        let UploadV2 {
            v: _,
            upload_id,
            key,
            initiated_ms,
            content_type,
            headers,
            user_meta,
            policy,
            checksum_algorithm,
            props,
            encryption,
        } = r;
        UploadRecord {
            upload_id,
            key,
            initiated_ms,
            content_type,
            headers,
            user_meta,
            policy,
            checksum_algorithm,
            props,
            encryption,
        }
    }
}

impl Stored for PartRecord {
    type Record = PartV1;

    fn to_record(&self) -> PartV1 {
        let PartRecord {
            part_number,
            size,
            etag,
            mtime_ms,
            checksums,
            chunks,
            key,
        } = self;
        PartV1 {
            v: PartV1::VERSION,
            part_number: *part_number,
            size: *size,
            etag: etag.clone(),
            mtime_ms: *mtime_ms,
            checksums: checksums.clone(),
            chunks: chunks_to(chunks),
            key: key.clone(),
        }
    }

    fn from_record(r: PartV1) -> PartRecord {
        let PartV1 {
            v: _,
            part_number,
            size,
            etag,
            mtime_ms,
            checksums,
            chunks,
            key,
        } = r;
        PartRecord {
            part_number,
            size,
            etag,
            mtime_ms,
            checksums,
            chunks: chunks_from(chunks),
            key,
        }
    }
}
