//! Server-side encryption parameters of an object version, an upload or a part: what the
//! gateway needs to decrypt the content (its mode, the segment size, and per object or per
//! part the material its data key comes from). The keys themselves are never here: an SSE-C
//! data key is derived from the customer's key (which is never stored) and a salt, an SSE-S3
//! data key is kept wrapped by a cluster master key that lives outside meta's data.
//!
//! Meta stores these values and, when it completes a multipart upload, gathers the parts' keys
//! into the object's (in part order); it never encrypts or decrypts anything. The segment format
//! is the gateway's (`gateway/src/objects/sse.rs`); `format` names its version.

use serde::{Deserialize, Serialize};

/// The segment format this crate's users write (AES-256-GCM segments, see the gateway).
pub const FORMAT: u32 = 1;

/// How an object version (or an upload) is encrypted.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Encryption {
    /// Version of the segment format (1: AES-256-GCM, index and last flag in the AAD).
    pub format: u32,
    pub mode: SseMode,
    /// Plaintext bytes per segment (each segment is stored with its 16-byte tag).
    pub segment_size: u32,
    /// The data keys: one for an object written whole, one per part (in part order) for a
    /// completed multipart object. An upload's record holds the key check of its SSE-C key
    /// (so each part can be checked against the key the upload was created with), or none.
    #[serde(default)]
    pub keys: Vec<DataKey>,
}

/// Who holds the key.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SseMode {
    /// SSE-C: the client sends its key with every request.
    CustomerKey,
    /// SSE-S3 (`AES256`): the data key is wrapped by a cluster master key.
    ClusterKey,
}

/// Where one data key comes from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DataKey {
    /// SSE-C: derived (HKDF-SHA256) from the customer key and `salt`; `check`, derived from the
    /// same two with another label, tells whether a key presented later is the one.
    Derived {
        #[serde(with = "b64")]
        salt: Vec<u8>,
        #[serde(with = "b64")]
        check: Vec<u8>,
    },
    /// SSE-S3: the data key sealed (AES-256-GCM, nonce first) by master key `key_id`.
    Wrapped {
        key_id: String,
        #[serde(with = "b64")]
        wrapped: Vec<u8>,
    },
}

impl DataKey {
    /// The mode a key of this kind belongs to.
    pub fn mode(&self) -> SseMode {
        match self {
            DataKey::Derived { .. } => SseMode::CustomerKey,
            DataKey::Wrapped { .. } => SseMode::ClusterKey,
        }
    }
}

/// Bytes as base64 strings in JSON.
mod b64 {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_serialize_tagged_with_base64_bytes() {
        let e = Encryption {
            format: FORMAT,
            mode: SseMode::ClusterKey,
            segment_size: 65536,
            keys: vec![
                DataKey::Wrapped {
                    key_id: "k1".into(),
                    wrapped: vec![1, 2, 3],
                },
                DataKey::Derived {
                    salt: vec![4],
                    check: vec![5],
                },
            ],
        };
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(
            json,
            r#"{"format":1,"mode":"cluster_key","segment_size":65536,"keys":[{"kind":"wrapped","key_id":"k1","wrapped":"AQID"},{"kind":"derived","salt":"BA==","check":"BQ=="}]}"#
        );
        assert_eq!(serde_json::from_str::<Encryption>(&json).unwrap(), e);
        assert_eq!(e.keys[1].mode(), SseMode::CustomerKey);
    }
}
