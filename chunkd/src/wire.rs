//! What travels between chunk servers and their clients: the reverse metadata of a chunk
//! ([`ChunkMeta`], also stored in the chunk file footer), the `/info` answer ([`VolumeInfo`]),
//! and the HTTP header names.
//!
//! Names travel in headers percent-encoded. Account, container and object names may be any
//! UTF-8 (Swift containers, S3 keys), but a header value is ASCII text: every name a PUT
//! carries ([`ChunkMeta::name_headers`]) is encoded with [`encode_header_value`] by the client
//! and decoded with [`decode_header_value`] by the server ([`ChunkMeta::from_name_headers`]),
//! so the footer holds the real names. The `x-spread-meta` answer of HEAD is encoded the same
//! way. This pair is the only encoding of the protocol.

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

/// Every route of the chunk server that takes signed requests only: (method, path, with
/// `{id}` standing for a chunk id).
pub const ROUTES: &[(&str, &str)] = &[
    ("PUT", "/v1/chunk/{id}"),
    ("GET", "/v1/chunk/{id}"),
    ("HEAD", "/v1/chunk/{id}"),
    ("DELETE", "/v1/chunk/{id}"),
    ("GET", "/info"),
    ("GET", "/v1/scrub"),
    ("POST", "/v1/scrub"),
];

/// The probes, answered without credentials.
pub const OPEN_ROUTES: &[(&str, &str)] =
    &[("GET", "/health"), ("GET", "/ready"), ("GET", "/metrics")];

/// Request headers of a PUT naming the chunk, all percent-encoded ([`encode_header_value`]):
/// account, container, object key, version, content id, position and storage policy.
pub const H_ACCOUNT: &str = "x-spread-account";
pub const H_CONTAINER: &str = "x-spread-container";
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

impl ChunkMeta {
    /// The PUT request headers naming this chunk, each value percent-encoded
    /// ([`encode_header_value`]): always ASCII, whatever the names hold.
    pub fn name_headers(&self) -> [(&'static str, String); 7] {
        [
            (H_ACCOUNT, &self.account),
            (H_CONTAINER, &self.container),
            (H_KEY, &self.key),
            (H_VERSION, &self.version),
            (H_CONTENT, &self.content_id),
            (H_POSITION, &self.position),
            (H_POLICY, &self.policy),
        ]
        .map(|(name, value)| (name, encode_header_value(value)))
    }

    /// The names of a PUT request's headers ([`ChunkMeta::name_headers`]), decoded; an absent
    /// header is an empty name. Size, hash, time and pieces are left empty for the server to
    /// fill in. A value that is not ASCII (a name sent without encoding) or does not decode to
    /// UTF-8 is refused, naming the header but not echoing the value.
    pub fn from_name_headers(headers: &http::HeaderMap) -> crate::Result<ChunkMeta> {
        let name = |header: &str| -> crate::Result<String> {
            let Some(value) = headers.get(header) else {
                return Ok(String::new());
            };
            let value = value.to_str().map_err(|_| {
                crate::Error::BadRequest(format!(
                    "header {header} is not ASCII (names are sent percent-encoded)"
                ))
            })?;
            decode_header_value(value).ok_or_else(|| {
                crate::Error::BadRequest(format!("header {header} is not percent-encoded UTF-8"))
            })
        };
        Ok(ChunkMeta {
            account: name(H_ACCOUNT)?,
            container: name(H_CONTAINER)?,
            key: name(H_KEY)?,
            version: name(H_VERSION)?,
            content_id: name(H_CONTENT)?,
            position: name(H_POSITION)?,
            policy: name(H_POLICY)?,
            size: 0,
            hash: String::new(),
            mtime_ms: 0,
            pieces: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(account: &str, container: &str, key: &str) -> ChunkMeta {
        ChunkMeta {
            account: account.into(),
            container: container.into(),
            key: key.into(),
            version: "1730000000000-00ab".into(),
            content_id: "0123456789abcdef".into(),
            position: "p7:3.1".into(),
            policy: "EC 4+2/rack".into(),
            size: 0,
            hash: String::new(),
            mtime_ms: 0,
            pieces: None,
        }
    }

    #[test]
    fn every_name_goes_out_ascii_and_comes_back_the_same() {
        let cases = [
            names("acct", "bucket", "plain.txt"),
            names("Ünïcödé", "Ünïcödé-容器", "مرحبا/😀📦"),
            names(
                "a b",
                "c%41d+e?f#g",
                "line\nbreak \"quoted\" 'single' e\u{301}",
            ),
            names("", "", ""),
        ];
        for meta in cases {
            let mut headers = http::HeaderMap::new();
            for (name, value) in meta.name_headers() {
                assert!(
                    value.bytes().all(|b| b.is_ascii_graphic()),
                    "{name}: {value:?} is not visible ASCII"
                );
                headers.insert(name, http::HeaderValue::from_str(&value).unwrap());
            }
            assert_eq!(ChunkMeta::from_name_headers(&headers).unwrap(), meta);
        }
    }

    #[test]
    fn names_sent_raw_or_undecodable_are_refused() {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            H_CONTAINER,
            http::HeaderValue::from_bytes("Ünï".as_bytes()).unwrap(),
        );
        let err = ChunkMeta::from_name_headers(&headers).unwrap_err();
        assert!(
            err.to_string().contains("x-spread-container is not ASCII"),
            "{err}"
        );

        let mut headers = http::HeaderMap::new();
        headers.insert(H_KEY, http::HeaderValue::from_static("bad%FFutf8"));
        let err = ChunkMeta::from_name_headers(&headers).unwrap_err();
        assert!(
            err.to_string()
                .contains("x-spread-key is not percent-encoded UTF-8"),
            "{err}"
        );

        // Absent headers are empty names.
        let empty = ChunkMeta::from_name_headers(&http::HeaderMap::new()).unwrap();
        let want = ChunkMeta {
            version: String::new(),
            content_id: String::new(),
            position: String::new(),
            policy: String::new(),
            ..names("", "", "")
        };
        assert_eq!(empty, want);
    }
}
