//! Server-side encryption parameters of an object version, an upload or a part: what the
//! gateway needs to decrypt the content (its mode, the segment size, and per object or per
//! part the material its data key comes from). The keys themselves are never here: an SSE-C
//! data key is derived from the customer's key (which is never stored) and a salt, an SSE-S3
//! data key is kept wrapped by a cluster master key that lives outside meta's data.
//!
//! Meta stores these values and, when it completes a multipart upload, gathers the parts' keys
//! into the object's (in part order); it never encrypts or decrypts anything. The segment format
//! is the gateway's (`gateway/src/objects/sse.rs`); `format` names its version.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// An SSE-KMS encryption context: the string map a client sends (base64 JSON) in
/// `x-amz-server-side-encryption-context`.
pub type KmsContext = BTreeMap<String, String>;

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
    /// SSE-KMS: the name of the key-store key that wraps the data keys (an upload's record
    /// has no data key yet, and HEAD answers the name without opening any). Absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    /// SSE-KMS: the encryption context the object (or upload) was written with, kept to be
    /// answered back and bound: the gateway wraps each data key with the context's canonical
    /// form as associated data, so a record whose context was altered does not open. Absent
    /// when none (or an empty one) was given, and in records written before contexts were
    /// kept (their data keys were wrapped without one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_context: Option<KmsContext>,
}

/// Who holds the key.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SseMode {
    /// SSE-C: the client sends its key with every request.
    CustomerKey,
    /// SSE-S3 (`AES256`): the data key is wrapped by a cluster master key.
    ClusterKey,
    /// SSE-KMS (`aws:kms`): the data key is wrapped by a key of the built-in key store
    /// ([`KmsKey`]), whose own material is wrapped by a cluster master key.
    KmsKey,
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
    /// SSE-KMS: the data key sealed (AES-256-GCM, nonce first) by key-store key `key_id`.
    Kms {
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
            DataKey::Kms { .. } => SseMode::KmsKey,
        }
    }
}

/// A key of the built-in key store (SSE-KMS, `spread admin kms key ...`). Meta keeps its
/// state; its material, once a gateway has made it, only wrapped by a master key of the
/// gateways' key file (meta never holds a master key, so never the material in clear).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct KmsKey {
    /// The key id clients name in `x-amz-server-side-encryption-aws-kms-key-id`.
    pub name: String,
    pub created_ms: i64,
    /// A disabled key wraps no new data key and unwraps none (as AWS KMS refuses both).
    pub enabled: bool,
    /// `None` until the first write that uses the key (the gateway makes it then).
    #[serde(default)]
    pub material: Option<KmsMaterial>,
}

/// A key-store key's 256-bit material sealed (AES-256-GCM, nonce first, associated data
/// naming the key) by master key `master_key_id`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct KmsMaterial {
    pub master_key_id: String,
    #[serde(with = "b64")]
    pub wrapped: Vec<u8>,
}

/// Whether `name` may name a key-store key: 1 to 128 ASCII letters, digits and `-_./`
/// (what AWS key ids and aliases use, `testkey-1`, `alias/app`, UUIDs).
pub fn valid_kms_key_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/'))
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
            kms_key_id: None,
            kms_context: None,
        };
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(
            json,
            r#"{"format":1,"mode":"cluster_key","segment_size":65536,"keys":[{"kind":"wrapped","key_id":"k1","wrapped":"AQID"},{"kind":"derived","salt":"BA==","check":"BQ=="}]}"#
        );
        assert_eq!(serde_json::from_str::<Encryption>(&json).unwrap(), e);
        assert_eq!(e.keys[1].mode(), SseMode::CustomerKey);
    }

    #[test]
    fn kms_records_name_their_key_and_old_records_have_none() {
        let e = Encryption {
            format: FORMAT,
            mode: SseMode::KmsKey,
            segment_size: 65536,
            keys: vec![DataKey::Kms {
                key_id: "app".into(),
                wrapped: vec![1],
            }],
            kms_key_id: Some("app".into()),
            kms_context: None,
        };
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(
            json,
            r#"{"format":1,"mode":"kms_key","segment_size":65536,"keys":[{"kind":"kms","key_id":"app","wrapped":"AQ=="}],"kms_key_id":"app"}"#
        );
        assert_eq!(serde_json::from_str::<Encryption>(&json).unwrap(), e);
        assert_eq!(e.keys[0].mode(), SseMode::KmsKey);
        let old: Encryption =
            serde_json::from_str(r#"{"format":1,"mode":"cluster_key","segment_size":65536}"#)
                .unwrap();
        assert_eq!((old.kms_key_id, old.kms_context), (None, None));
        // A context is kept as a JSON object; records without one (older ones) read as none.
        let with = Encryption {
            kms_context: Some(KmsContext::from([(
                "app".to_string(),
                "spread".to_string(),
            )])),
            ..e.clone()
        };
        let json = serde_json::to_string(&with).unwrap();
        assert!(json.ends_with(r#","kms_key_id":"app","kms_context":{"app":"spread"}}"#));
        assert_eq!(serde_json::from_str::<Encryption>(&json).unwrap(), with);
        assert!(valid_kms_key_name("testkey-1") && valid_kms_key_name("alias/app"));
        assert!(!valid_kms_key_name("") && !valid_kms_key_name("a b") && !valid_kms_key_name("é"));
    }
}
