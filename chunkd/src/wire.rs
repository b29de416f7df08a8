//! What travels between chunk servers and their clients: the reverse metadata of a chunk
//! ([`ChunkMeta`], also stored in the chunk file footer), the `/info` answer ([`VolumeInfo`]),
//! and the HTTP header names.

use serde::{Deserialize, Serialize};

/// Reverse metadata of a chunk: enough to rebuild the directory by crawling volumes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChunkMeta {
    pub account: String,
    pub container: String,
    pub key: String,
    pub version: String,
    pub content_id: String,
    /// Position of the chunk in the content: "3", or "3.1" for sub-chunks.
    pub position: String,
    pub policy: String,
    /// Size of the chunk data in bytes.
    pub size: u64,
    /// BLAKE3 of the chunk data, lowercase hex.
    pub hash: String,
    /// When the chunk was stored (ms since the Unix epoch).
    pub mtime_ms: i64,
    /// Piece hashes of a chunk of more than one piece ([`crate::pieces::Pieces::encode`]);
    /// absent in chunks written before they existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pieces: Option<String>,
}

/// Answer of `GET /info`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct VolumeInfo {
    /// Service id of the chunk server.
    pub id: String,
    /// Volume path.
    pub volume: String,
    pub location: String,
    pub free_bytes: u64,
    pub total_bytes: u64,
    pub chunk_count: u64,
}

/// Error body of every non-2xx chunkd answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorBody {
    /// [`crate::Error::code`] of the error.
    pub code: String,
    pub message: String,
}

pub const H_ACCOUNT: &str = "x-spread-account";
pub const H_CONTAINER: &str = "x-spread-container";
/// Percent-encoded object key.
pub const H_KEY: &str = "x-spread-key";
pub const H_VERSION: &str = "x-spread-version";
pub const H_CONTENT: &str = "x-spread-content";
pub const H_POSITION: &str = "x-spread-position";
pub const H_POLICY: &str = "x-spread-policy";
/// Expected (PUT, header or trailer) or stored (GET/HEAD) BLAKE3 hex of the chunk.
pub const H_CHUNK_HASH: &str = "x-spread-chunk-hash";
/// Size of the whole chunk data (GET/HEAD answers).
pub const H_CHUNK_SIZE: &str = "x-spread-chunk-size";
/// Piece hashes of the chunk (GET answers for the whole chunk, when the footer has them).
pub const H_PIECES: &str = "x-spread-pieces";
/// Percent-encoded JSON [`ChunkMeta`] (HEAD answers).
pub const H_META: &str = "x-spread-meta";
/// Request id echoed in every answer.
pub const H_REQUEST_ID: &str = "x-spread-request-id";

/// Characters percent-encoded in header values: everything except unreserved characters.
pub const HEADER_ENCODE_SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encode a value for use in a header.
pub fn encode_header_value(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, HEADER_ENCODE_SET).to_string()
}

/// Decode a percent-encoded header value; `None` if it is not valid UTF-8 once decoded.
pub fn decode_header_value(value: &str) -> Option<String> {
    percent_encoding::percent_decode_str(value)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}
