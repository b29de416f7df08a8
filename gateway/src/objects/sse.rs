//! Server-side encryption of content: the segment format, data keys and the SSE-S3 key ring.
//!
//! # Segments (format 1)
//! A content (an object written whole, or one part of a multipart upload) is encrypted with its
//! own random 256-bit data key, in segments of `segment_size` plaintext bytes (64 KiB; the last
//! one shorter, an empty content one empty segment). Segment `i` is stored as its AES-256-GCM
//! ciphertext followed by its 16-byte tag, under the nonce `0u32 ‖ i` (96 bits, big-endian) and
//! the associated data `"spread-sse1" ‖ i ‖ last` (`i` as u64 big-endian, `last` one byte, 1 for
//! the content's last segment). So no nonce repeats under a key (one key per content, one index
//! per segment), a segment moved to another index does not open, and a content cut after a
//! full segment is detected (that segment was sealed as not last). A segment of plaintext `n`
//! bytes is stored as `n + 16`: segment `i` starts at `i * (segment_size + 16)` of the stored
//! content, so a range is read and decrypted from the first segment it covers, never from the
//! start.
//!
//! # Keys
//! - SSE-C: the data key is HKDF-SHA256 of the customer's key with a random 32-byte salt
//!   stored in the record, info `spread sse-c data key`; the record also keeps a check value
//!   (same HKDF, info `spread sse-c key check`) to tell a wrong key from a right one before any
//!   byte is read. The customer's key is never stored.
//! - SSE-S3: the data key is random, stored wrapped (AES-256-GCM, random nonce first, associated
//!   data `spread sse-s3 data key`) by a master key of the gateway's key file, named by its id.
//! - SSE-KMS: the data key is random, stored wrapped (the same way, associated data
//!   `spread sse-kms data key`, followed when the client gave an encryption context by a zero
//!   byte and the context's canonical form: its JSON object with the keys sorted, no spaces)
//!   by a key of the built-in key store ([`KmsKey`], named by the client), so a record whose
//!   stored context was altered does not open. The key-store key's 256-bit material is kept
//!   by meta wrapped by a master key of the key file (associated data `spread kms key
//!   material:` and the key's name, so a material cannot be moved to another key), made by
//!   the first gateway that writes with the key.

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng as AeadRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use bytes::{Bytes, BytesMut};
use hkdf::Hkdf;
use meta_api::encryption::{DataKey, Encryption, FORMAT, KmsContext, KmsMaterial, SseMode};
use rand::RngCore;
use rand::rngs::OsRng;
use sha2::Sha256;

use crate::error::{Error, Result};

/// Plaintext bytes per segment.
pub const SEGMENT_SIZE: u32 = 64 * 1024;
/// Bytes a segment's tag adds.
pub const TAG_LEN: u64 = 16;

const SEGMENT_AAD: &[u8] = b"spread-sse1";
const DERIVE_INFO: &[u8] = b"spread sse-c data key";
const CHECK_INFO: &[u8] = b"spread sse-c key check";
const WRAP_AAD: &[u8] = b"spread sse-s3 data key";
const KMS_WRAP_AAD: &[u8] = b"spread sse-kms data key";
const KMS_MATERIAL_AAD: &str = "spread kms key material:";
const SALT_LEN: usize = 32;
const NONCE_LEN: usize = 12;

/// Segments of a plaintext of `len` bytes (an empty one has one, empty, segment).
pub fn segment_count(len: u64, segment_size: u32) -> u64 {
    len.div_ceil(u64::from(segment_size.max(1))).max(1)
}

/// Stored bytes of a plaintext of `len` bytes.
pub fn sealed_len(len: u64, segment_size: u32) -> u64 {
    len + TAG_LEN * segment_count(len, segment_size)
}

fn nonce(index: u64) -> [u8; NONCE_LEN] {
    let mut n = [0u8; NONCE_LEN];
    n[4..].copy_from_slice(&index.to_be_bytes());
    n
}

fn segment_aad(index: u64, last: bool) -> [u8; 20] {
    let mut a = [0u8; 20];
    a[..11].copy_from_slice(SEGMENT_AAD);
    a[11..19].copy_from_slice(&index.to_be_bytes());
    a[19] = u8::from(last);
    a
}

/// `key` sealed by `cipher` (random nonce first) under associated data `aad`.
fn seal_key(cipher: &Aes256Gcm, key: &[u8; 32], aad: &[u8]) -> Result<Vec<u8>> {
    let n = Aes256Gcm::generate_nonce(&mut AeadRng);
    let sealed = cipher
        .encrypt(&n, Payload { msg: key, aad })
        .map_err(|_| Error::Internal("wrapping a key failed".into()))?;
    let mut wrapped = n.to_vec();
    wrapped.extend_from_slice(&sealed);
    Ok(wrapped)
}

/// The key [`seal_key`] sealed; `None` when it does not open (another key, or altered).
fn open_key(cipher: &Aes256Gcm, wrapped: &[u8], aad: &[u8]) -> Option<[u8; 32]> {
    if wrapped.len() < NONCE_LEN {
        return None;
    }
    let (n, ct) = wrapped.split_at(NONCE_LEN);
    let plain = cipher
        .decrypt(Nonce::from_slice(n), Payload { msg: ct, aad })
        .ok()?;
    plain.try_into().ok()
}

/// The associated data of an SSE-KMS data key's wrap: the label, then (with a context) a zero
/// byte and the context's canonical form (a `BTreeMap` serializes its keys sorted).
fn kms_wrap_aad(context: Option<&KmsContext>) -> Result<Vec<u8>> {
    let mut aad = KMS_WRAP_AAD.to_vec();
    if let Some(c) = context.filter(|c| !c.is_empty()) {
        aad.push(0);
        let json = serde_json::to_vec(c)
            .map_err(|e| Error::Internal(format!("encoding an encryption context: {e}")))?;
        aad.extend_from_slice(&json);
    }
    Ok(aad)
}

/// A content's 256-bit data key.
#[derive(Clone)]
pub struct ContentKey([u8; 32]);

impl std::fmt::Debug for ContentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ContentKey(..)")
    }
}

impl ContentKey {
    fn random() -> ContentKey {
        let mut k = [0u8; 32];
        OsRng.fill_bytes(&mut k);
        ContentKey(k)
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&self.0))
    }
}

/// A customer's SSE-C key, as checked from its headers (never stored).
#[derive(Clone)]
pub struct CustomerKey {
    key: [u8; 32],
    /// The key's MD5, base64 (answered back in the response headers).
    pub md5_base64: String,
}

impl std::fmt::Debug for CustomerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CustomerKey(md5 {})", self.md5_base64)
    }
}

impl CustomerKey {
    pub fn new(key: [u8; 32], md5_base64: String) -> CustomerKey {
        CustomerKey { key, md5_base64 }
    }

    fn expand(&self, salt: &[u8]) -> ([u8; 32], [u8; 32]) {
        let hk = Hkdf::<Sha256>::new(Some(salt), &self.key);
        let mut data = [0u8; 32];
        let mut check = [0u8; 32];
        // 32 bytes are always a valid HKDF-SHA256 output length.
        let _ = hk.expand(DERIVE_INFO, &mut data);
        let _ = hk.expand(CHECK_INFO, &mut check);
        (data, check)
    }

    /// A fresh data key for a new content, and its record.
    fn new_content_key(&self) -> (ContentKey, DataKey) {
        let mut salt = vec![0u8; SALT_LEN];
        OsRng.fill_bytes(&mut salt);
        let (data, check) = self.expand(&salt);
        (
            ContentKey(data),
            DataKey::Derived {
                salt,
                check: check.to_vec(),
            },
        )
    }

    /// Whether this is the key `salt` and `check` were derived from.
    pub fn matches(&self, salt: &[u8], check: &[u8]) -> bool {
        let (_, mine) = self.expand(salt);
        mine.len() == check.len() && mine.iter().zip(check).fold(0u8, |d, (a, b)| d | (a ^ b)) == 0
    }
}

/// The gateway's SSE-S3 master keys (`sse_key_file`): the first one wraps new data keys, every
/// one unwraps.
pub struct KeyRing {
    keys: Vec<(String, Aes256Gcm)>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(k, _)| k.as_str()).collect();
        write!(f, "KeyRing({ids:?})")
    }
}

impl KeyRing {
    /// Reads a key file (`internal_auth::key_file`'s format).
    pub fn load(path: &std::path::Path) -> Result<KeyRing> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::Config(format!("reading the SSE key file {}: {e}", path.display()))
        })?;
        KeyRing::parse(&text)
            .map_err(|e| Error::Config(format!("SSE key file {}: {e}", path.display())))
    }

    pub fn parse(text: &str) -> std::result::Result<KeyRing, String> {
        let keys = internal_auth::key_file::parse(text)?
            .into_iter()
            .map(|(kid, bytes)| (kid, Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&bytes))))
            .collect();
        Ok(KeyRing { keys })
    }

    /// Id of the key that wraps new data keys.
    pub fn current_id(&self) -> &str {
        self.keys.first().map_or("", |(k, _)| k.as_str())
    }

    fn current(&self) -> Result<&(String, Aes256Gcm)> {
        self.keys
            .first()
            .ok_or_else(|| Error::Config("the SSE key file holds no key".into()))
    }

    fn new_content_key(&self) -> Result<(ContentKey, DataKey)> {
        let (kid, cipher) = self.current()?;
        let key = ContentKey::random();
        let wrapped = seal_key(cipher, &key.0, WRAP_AAD)?;
        Ok((
            key,
            DataKey::Wrapped {
                key_id: kid.clone(),
                wrapped,
            },
        ))
    }

    fn unwrap_key(&self, key_id: &str, wrapped: &[u8]) -> Result<ContentKey> {
        let (_, cipher) = self.keys.iter().find(|(k, _)| k == key_id).ok_or_else(|| {
            Error::Internal(format!(
                "the object's data key is wrapped by master key {key_id:?}, which is not in the SSE key file"
            ))
        })?;
        open_key(cipher, wrapped, WRAP_AAD)
            .map(ContentKey)
            .ok_or_else(|| {
                Error::Internal(format!(
                    "the object's data key does not open with master key {key_id:?}"
                ))
            })
    }

    /// A new material for key-store key `name`: the opened key, and its material wrapped by
    /// the current master key (what meta keeps).
    pub fn new_kms_material(&self, name: &str) -> Result<(KmsKey, KmsMaterial)> {
        let (kid, cipher) = self.current()?;
        let mut k = [0u8; 32];
        OsRng.fill_bytes(&mut k);
        let aad = format!("{KMS_MATERIAL_AAD}{name}");
        let wrapped = seal_key(cipher, &k, aad.as_bytes())?;
        Ok((
            KmsKey::new(name, &k),
            KmsMaterial {
                master_key_id: kid.clone(),
                wrapped,
            },
        ))
    }

    /// Opens the material of key-store key `name`.
    pub fn open_kms_material(&self, name: &str, material: &KmsMaterial) -> Result<KmsKey> {
        let kid = &material.master_key_id;
        let (_, cipher) = self.keys.iter().find(|(k, _)| k == kid).ok_or_else(|| {
            Error::Internal(format!(
                "KMS key {name:?} is wrapped by master key {kid:?}, which is not in the SSE key file"
            ))
        })?;
        let aad = format!("{KMS_MATERIAL_AAD}{name}");
        let k = open_key(cipher, &material.wrapped, aad.as_bytes()).ok_or_else(|| {
            Error::Internal(format!(
                "the material of KMS key {name:?} does not open with master key {kid:?}"
            ))
        })?;
        Ok(KmsKey::new(name, &k))
    }

    /// A data key wrapped by another key of this ring, wrapped again by the current key
    /// (rotation); `None` when it already is.
    pub fn rewrap(&self, key: &DataKey) -> Result<Option<DataKey>> {
        match key {
            DataKey::Wrapped { key_id, wrapped } if key_id != self.current_id() => {
                let plain = self.unwrap_key(key_id, wrapped)?;
                let (kid, cipher) = self.current()?;
                let wrapped = seal_key(cipher, &plain.0, WRAP_AAD)?;
                Ok(Some(DataKey::Wrapped {
                    key_id: kid.clone(),
                    wrapped,
                }))
            }
            _ => Ok(None),
        }
    }
}

/// An opened key of the key store (SSE-KMS): it wraps and unwraps data keys.
#[derive(Clone)]
pub struct KmsKey {
    name: String,
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for KmsKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KmsKey({})", self.name)
    }
}

impl KmsKey {
    fn new(name: &str, material: &[u8; 32]) -> KmsKey {
        KmsKey {
            name: name.to_string(),
            cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(material)),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    fn new_content_key(&self, context: Option<&KmsContext>) -> Result<(ContentKey, DataKey)> {
        let key = ContentKey::random();
        let wrapped = seal_key(&self.cipher, &key.0, &kms_wrap_aad(context)?)?;
        Ok((
            key,
            DataKey::Kms {
                key_id: self.name.clone(),
                wrapped,
            },
        ))
    }

    fn unwrap_key(
        &self,
        key_id: &str,
        wrapped: &[u8],
        context: Option<&KmsContext>,
    ) -> Result<ContentKey> {
        if key_id != self.name {
            return Err(Error::Internal(format!(
                "a data key is wrapped by KMS key {key_id:?}, not by {:?}",
                self.name
            )));
        }
        open_key(&self.cipher, wrapped, &kms_wrap_aad(context)?)
            .map(ContentKey)
            .ok_or_else(|| {
                Error::Internal(format!(
                    "the object's data key does not open with KMS key {key_id:?} and the object's encryption context"
                ))
            })
    }
}

/// What a request asks the content it writes to be encrypted with.
#[derive(Debug, Clone)]
pub enum SseRequest {
    Customer(CustomerKey),
    Cluster,
    /// SSE-KMS under the key-store key of this name, with the client's encryption context
    /// (none or a non-empty map).
    Kms(String, Option<KmsContext>),
}

impl SseRequest {
    pub fn mode(&self) -> SseMode {
        match self {
            SseRequest::Customer(_) => SseMode::CustomerKey,
            SseRequest::Cluster => SseMode::ClusterKey,
            SseRequest::Kms(..) => SseMode::KmsKey,
        }
    }

    /// The key-store key an SSE-KMS request names.
    pub fn kms_key_id(&self) -> Option<&str> {
        match self {
            SseRequest::Kms(name, _) => Some(name),
            _ => None,
        }
    }

    /// The encryption record of a new content (no key yet: see [`SseRequest::new_key`]).
    pub fn encryption(&self) -> Encryption {
        Encryption {
            format: FORMAT,
            mode: self.mode(),
            segment_size: SEGMENT_SIZE,
            keys: Vec::new(),
            kms_key_id: self.kms_key_id().map(str::to_string),
            kms_context: match self {
                SseRequest::Kms(_, context) => context.clone(),
                _ => None,
            },
        }
    }

    /// The encryption record of a new multipart upload: its mode and, for SSE-C, a check of
    /// the key (every part must come with the same key); for SSE-KMS the key's name. Refused
    /// at once when SSE-S3 has no key file, or the KMS key cannot be used (`kms`: the key an
    /// SSE-KMS request names, opened).
    pub fn upload_encryption(
        &self,
        ring: Option<&KeyRing>,
        kms: Option<&KmsKey>,
    ) -> Result<Encryption> {
        let (_, check) = self.new_key(ring, kms)?;
        let mut enc = self.encryption();
        if matches!(self, SseRequest::Customer(_)) {
            enc.keys.push(check);
        }
        Ok(enc)
    }

    /// A fresh data key for one content (an object, or one part); `kms` is the opened key an
    /// SSE-KMS request names.
    pub fn new_key(
        &self,
        ring: Option<&KeyRing>,
        kms: Option<&KmsKey>,
    ) -> Result<(ContentKey, DataKey)> {
        match self {
            SseRequest::Customer(k) => Ok(k.new_content_key()),
            SseRequest::Kms(name, context) => match kms {
                Some(k) if k.name == *name => k.new_content_key(context.as_ref()),
                _ => Err(Error::Internal(format!("KMS key {name:?} was not opened"))),
            },
            SseRequest::Cluster => ring
                .ok_or_else(|| {
                    Error::InvalidRequest(
                        "server-side encryption (AES256) needs an SSE key file, which this gateway has not been given (sse_key_file)".into(),
                    )
                })?
                .new_content_key(),
        }
    }
}

/// The ETag of an SSE-C content: not the MD5 of its plaintext (as AWS, which does not answer
/// that either), but a digest of it with the content's key check, so equal plaintexts under
/// different keys or salts do not show.
pub fn customer_etag(key: &DataKey, md5: &[u8]) -> String {
    match key {
        DataKey::Derived { check, .. } => {
            let mut h = blake3::Hasher::new();
            h.update(b"spread sse-c etag");
            h.update(check);
            h.update(md5);
            hex::encode(&h.finalize().as_bytes()[..16])
        }
        DataKey::Wrapped { .. } | DataKey::Kms { .. } => hex::encode(md5),
    }
}

/// Why a content's keys cannot be had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRefusal {
    /// SSE-C content read without the customer key.
    Missing,
    /// SSE-C content read with another key.
    Wrong,
    /// The request sends a customer key for content that is not SSE-C.
    NotCustomer,
}

/// The key-store key whose data keys `enc` holds (SSE-KMS), if any.
pub fn kms_key_of(enc: &Encryption) -> Option<&str> {
    if enc.mode != SseMode::KmsKey {
        return None;
    }
    enc.kms_key_id.as_deref().or_else(|| {
        enc.keys.iter().find_map(|k| match k {
            DataKey::Kms { key_id, .. } => Some(key_id.as_str()),
            _ => None,
        })
    })
}

/// The data key of each content of a record's `encryption` (one per part), with `customer`
/// the SSE-C key the request sent, if any, and `kms` the opened key of [`kms_key_of`].
pub fn content_keys(
    enc: &Encryption,
    customer: Option<&CustomerKey>,
    ring: Option<&KeyRing>,
    kms: Option<&KmsKey>,
) -> Result<std::result::Result<Vec<ContentKey>, KeyRefusal>> {
    if enc.format != FORMAT {
        return Err(Error::Internal(format!(
            "encryption format {} is not known to this gateway",
            enc.format
        )));
    }
    match (enc.mode, customer) {
        (SseMode::CustomerKey, None) => return Ok(Err(KeyRefusal::Missing)),
        (SseMode::ClusterKey | SseMode::KmsKey, Some(_)) => {
            return Ok(Err(KeyRefusal::NotCustomer));
        }
        _ => {}
    }
    let mut keys = Vec::with_capacity(enc.keys.len());
    for k in &enc.keys {
        match (k, customer) {
            (DataKey::Derived { salt, check }, Some(c)) => {
                if !c.matches(salt, check) {
                    return Ok(Err(KeyRefusal::Wrong));
                }
                keys.push(ContentKey(c.expand(salt).0));
            }
            (DataKey::Wrapped { key_id, wrapped }, None) => {
                let ring = ring.ok_or_else(|| {
                    Error::Internal(
                        "the object is encrypted with a master key and this gateway has no SSE key file"
                            .into(),
                    )
                })?;
                keys.push(ring.unwrap_key(key_id, wrapped)?);
            }
            (DataKey::Kms { key_id, wrapped }, None) => {
                let kms = kms
                    .ok_or_else(|| Error::Internal(format!("KMS key {key_id:?} was not opened")))?;
                keys.push(kms.unwrap_key(key_id, wrapped, enc.kms_context.as_ref())?);
            }
            _ => {
                return Err(Error::Internal(
                    "an object's data key is not of its encryption mode".into(),
                ));
            }
        }
    }
    Ok(Ok(keys))
}

/// Encrypts a content as it streams: plaintext in, sealed segments out. A segment is sealed
/// once a byte after it has arrived (or at [`Sealer::finish`]), so the last one is known.
pub struct Sealer {
    cipher: Aes256Gcm,
    segment: usize,
    index: u64,
    buf: BytesMut,
}

impl Sealer {
    pub fn new(key: &ContentKey, segment_size: u32) -> Sealer {
        let segment = segment_size.max(1) as usize;
        Sealer {
            cipher: key.cipher(),
            segment,
            index: 0,
            buf: BytesMut::with_capacity(segment),
        }
    }

    /// Takes plaintext; returns the segments completed by it.
    pub fn push(&mut self, mut data: Bytes) -> Result<Vec<Bytes>> {
        let mut out = Vec::new();
        while !data.is_empty() {
            if self.buf.len() == self.segment {
                out.push(self.seal(false)?);
            }
            let take = (self.segment - self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data.split_to(take));
        }
        Ok(out)
    }

    /// Seals the last segment (possibly empty).
    pub fn finish(mut self) -> Result<Bytes> {
        self.seal(true)
    }

    fn seal(&mut self, last: bool) -> Result<Bytes> {
        let ct = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce(self.index)),
                Payload {
                    msg: &self.buf,
                    aad: &segment_aad(self.index, last),
                },
            )
            .map_err(|_| Error::Internal(format!("encrypting segment {} failed", self.index)))?;
        self.index += 1;
        self.buf.clear();
        Ok(Bytes::from(ct))
    }
}

/// Where a plaintext range of one content lies in its stored form, and how to open it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedRange {
    /// Stored bytes to read (relative to the content's start).
    pub stored: std::ops::Range<u64>,
    /// Index of the first segment read.
    pub first: u64,
    /// Plaintext bytes to drop from the first segment.
    pub skip: u64,
    /// Plaintext bytes to answer.
    pub len: u64,
}

/// The stored bytes holding plaintext `range` (non-empty, within `len`) of a content of `len`
/// plaintext bytes.
pub fn sealed_range(range: std::ops::Range<u64>, len: u64, segment_size: u32) -> SealedRange {
    let seg = u64::from(segment_size.max(1));
    let first = range.start / seg;
    let last = range.end.saturating_sub(1) / seg;
    let start = first * (seg + TAG_LEN);
    let end = ((last + 1) * (seg + TAG_LEN)).min(sealed_len(len, segment_size));
    SealedRange {
        stored: start..end,
        first,
        skip: range.start - first * seg,
        len: range.end - range.start,
    }
}

/// Decrypts the stored bytes of a [`SealedRange`] as they stream.
pub struct Opener {
    cipher: Aes256Gcm,
    segment: u64,
    index: u64,
    /// Index of the content's last segment.
    last: u64,
    /// Plaintext length of the content's last segment.
    last_len: u64,
    buf: BytesMut,
    skip: u64,
    remaining: u64,
}

impl Opener {
    /// Opens `range` of a content of `len` plaintext bytes.
    pub fn new(key: &ContentKey, segment_size: u32, len: u64, range: &SealedRange) -> Opener {
        let segment = u64::from(segment_size.max(1));
        let last = segment_count(len, segment_size) - 1;
        Opener {
            cipher: key.cipher(),
            segment,
            index: range.first,
            last,
            last_len: len - last * segment,
            buf: BytesMut::new(),
            skip: range.skip,
            remaining: range.len,
        }
    }

    fn stored_len(&self, index: u64) -> u64 {
        if index == self.last {
            self.last_len + TAG_LEN
        } else {
            self.segment + TAG_LEN
        }
    }

    /// Takes stored bytes; returns the plaintext of the segments they complete.
    pub fn push(&mut self, data: &[u8]) -> Result<Vec<Bytes>> {
        self.buf.extend_from_slice(data);
        let mut out = Vec::new();
        while self.remaining > 0 && self.index <= self.last {
            let need = self.stored_len(self.index) as usize;
            if self.buf.len() < need {
                break;
            }
            let sealed = self.buf.split_to(need);
            let last = self.index == self.last;
            let plain = self
                .cipher
                .decrypt(
                    Nonce::from_slice(&nonce(self.index)),
                    Payload {
                        msg: &sealed,
                        aad: &segment_aad(self.index, last),
                    },
                )
                .map_err(|_| {
                    Error::Internal(format!(
                        "encrypted segment {} does not authenticate (tampered, moved or cut)",
                        self.index
                    ))
                })?;
            self.index += 1;
            let mut plain = Bytes::from(plain);
            let skip = (self.skip as usize).min(plain.len());
            let _ = plain.split_to(skip);
            self.skip -= skip as u64;
            let keep = (self.remaining as usize).min(plain.len());
            plain.truncate(keep);
            self.remaining -= keep as u64;
            if !plain.is_empty() {
                out.push(plain);
            }
        }
        Ok(out)
    }

    /// Checks that every byte asked for was answered.
    pub fn finish(&self) -> Result<()> {
        if self.remaining > 0 {
            return Err(Error::Internal(format!(
                "encrypted content ends {} byte(s) short of segment {}",
                self.remaining, self.index
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEG: u32 = 16;

    fn key() -> ContentKey {
        ContentKey::random()
    }

    fn seal_all(k: &ContentKey, data: &[u8], frames: usize) -> Vec<u8> {
        let mut s = Sealer::new(k, SEG);
        let mut out = Vec::new();
        for f in data.chunks(frames.max(1)) {
            for b in s.push(Bytes::copy_from_slice(f)).unwrap() {
                out.extend_from_slice(&b);
            }
        }
        out.extend_from_slice(&s.finish().unwrap());
        out
    }

    fn open(
        k: &ContentKey,
        stored: &[u8],
        len: u64,
        range: std::ops::Range<u64>,
    ) -> Result<Vec<u8>> {
        let r = sealed_range(range, len, SEG);
        let mut o = Opener::new(k, SEG, len, &r);
        let mut out = Vec::new();
        let slice = stored
            .get(r.stored.start as usize..(r.stored.end as usize).min(stored.len()))
            .unwrap_or(&[]);
        // Fed in odd pieces, as chunks and frames arrive.
        for piece in slice.chunks(7) {
            for b in o.push(piece)? {
                out.extend_from_slice(&b);
            }
        }
        o.finish()?;
        Ok(out)
    }

    #[test]
    fn round_trip_every_length_and_frame_size() {
        let k = key();
        for len in [0usize, 1, 15, 16, 17, 31, 32, 33, 100] {
            let data: Vec<u8> = (0..len).map(|i| i as u8).collect();
            for frames in [1, 5, 16, 64] {
                let stored = seal_all(&k, &data, frames);
                assert_eq!(
                    stored.len() as u64,
                    sealed_len(len as u64, SEG),
                    "len {len}"
                );
                if len > 0 {
                    assert_eq!(open(&k, &stored, len as u64, 0..len as u64).unwrap(), data);
                    assert_ne!(
                        &stored[..len.min(16)],
                        &data[..len.min(16)],
                        "stored in clear"
                    );
                }
            }
        }
    }

    #[test]
    fn ranges_at_segment_edges_read_only_their_segments() {
        let k = key();
        let data: Vec<u8> = (0..100u32).map(|i| (i * 7) as u8).collect();
        let stored = seal_all(&k, &data, 9);
        for (a, b) in [
            (0, 1),
            (15, 16),
            (15, 17),
            (16, 32),
            (16, 33),
            (31, 65),
            (96, 100),
            (99, 100),
            (0, 100),
            (40, 41),
        ] {
            assert_eq!(
                open(&k, &stored, 100, a..b).unwrap(),
                &data[a as usize..b as usize],
                "{a}..{b}"
            );
        }
        // 16..32 is exactly segment 1.
        let r = sealed_range(16..32, 100, SEG);
        assert_eq!((r.stored, r.first, r.skip), (32..64, 1, 0));
        // The last segment (4 bytes) is read to the end of the content, not past it.
        let r = sealed_range(99..100, 100, SEG);
        assert_eq!((r.stored, r.first, r.skip), (192..212, 6, 3));
    }

    #[test]
    fn tampering_reordering_truncation_and_wrong_keys_are_detected() {
        let k = key();
        let data = vec![7u8; 48]; // three full segments: equal plaintexts
        let stored = seal_all(&k, &data, 48);
        let s = (SEG as u64 + TAG_LEN) as usize;
        // A flipped bit.
        let mut bad = stored.clone();
        bad[3] ^= 1;
        assert!(open(&k, &bad, 48, 0..48).is_err());
        // Two segments swapped (same plaintext, so only the index in nonce and AAD tells).
        let mut swapped = stored.clone();
        swapped[..s].copy_from_slice(&stored[s..2 * s]);
        swapped[s..2 * s].copy_from_slice(&stored[..s]);
        assert!(open(&k, &swapped, 48, 0..16).is_err());
        // Cut after two segments, told the content was 32 bytes: segment 1 was not sealed last.
        assert!(open(&k, &stored[..2 * s], 32, 0..32).is_err());
        // Cut short of what the record says.
        assert!(open(&k, &stored[..2 * s], 48, 0..48).is_err());
        // Another key.
        assert!(open(&key(), &stored, 48, 0..48).is_err());
        assert_eq!(open(&k, &stored, 48, 0..48).unwrap(), data);
    }

    #[test]
    fn customer_keys_derive_per_salt_and_check() {
        let c = CustomerKey::new([1u8; 32], String::new());
        let (k1, r1) = c.new_content_key();
        let (k2, r2) = c.new_content_key();
        assert_ne!(k1.0, k2.0, "a fresh data key per content");
        let DataKey::Derived { salt, check } = &r1 else {
            panic!("{r1:?}")
        };
        assert!(c.matches(salt, check));
        assert!(!CustomerKey::new([2u8; 32], String::new()).matches(salt, check));
        assert!(
            !check.windows(32).any(|w| w == [1u8; 32]),
            "the key is not stored"
        );
        let enc = Encryption {
            keys: vec![r1, r2],
            ..SseRequest::Customer(c.clone()).encryption()
        };
        let keys = content_keys(&enc, Some(&c), None, None).unwrap().unwrap();
        assert_eq!((keys[0].0, keys[1].0), (k1.0, k2.0));
        let other = CustomerKey::new([2u8; 32], String::new());
        assert_eq!(
            content_keys(&enc, Some(&other), None, None)
                .unwrap()
                .unwrap_err(),
            KeyRefusal::Wrong
        );
        assert_eq!(
            content_keys(&enc, None, None, None).unwrap().unwrap_err(),
            KeyRefusal::Missing
        );
    }

    #[test]
    fn master_keys_wrap_unwrap_and_rotate() {
        let a = "11".repeat(32);
        let b = "22".repeat(32);
        let old = KeyRing::parse(&format!("k1 {a}\n")).unwrap();
        let (k, rec) = old.new_content_key().unwrap();
        let enc = Encryption {
            keys: vec![rec.clone()],
            ..SseRequest::Cluster.encryption()
        };
        let got = content_keys(&enc, None, Some(&old), None).unwrap().unwrap();
        assert_eq!(got[0].0, k.0);
        // Rotated: k2 wraps, k1 still opens; rewrapping moves the key to k2.
        let ring = KeyRing::parse(&format!("k2 {b}\nk1 {a}\n")).unwrap();
        assert_eq!(
            content_keys(&enc, None, Some(&ring), None)
                .unwrap()
                .unwrap()[0]
                .0,
            k.0
        );
        let moved = ring.rewrap(&rec).unwrap().unwrap();
        assert!(matches!(&moved, DataKey::Wrapped { key_id, .. } if key_id == "k2"));
        assert!(ring.rewrap(&moved).unwrap().is_none());
        let only_new = KeyRing::parse(&format!("k2 {b}\n")).unwrap();
        let enc2 = Encryption {
            keys: vec![moved],
            ..enc.clone()
        };
        assert_eq!(
            content_keys(&enc2, None, Some(&only_new), None)
                .unwrap()
                .unwrap()[0]
                .0,
            k.0
        );
        // Without k1 the old record does not open; a customer key on SSE-S3 is refused.
        assert!(content_keys(&enc, None, Some(&only_new), None).is_err());
        let c = CustomerKey::new([1u8; 32], String::new());
        assert_eq!(
            content_keys(&enc, Some(&c), Some(&ring), None)
                .unwrap()
                .unwrap_err(),
            KeyRefusal::NotCustomer
        );
    }

    #[test]
    fn kms_keys_wrap_data_keys_and_their_material_only_opens_under_its_name() {
        let a = "11".repeat(32);
        let ring = KeyRing::parse(&format!("m1 {a}\n")).unwrap();
        let (kms, material) = ring.new_kms_material("testkey-1").unwrap();
        assert_eq!(material.master_key_id, "m1");
        assert_eq!(
            material.wrapped.len(),
            12 + 32 + 16,
            "nonce, sealed key, tag"
        );
        let req = SseRequest::Kms("testkey-1".into(), None);
        assert!(
            req.new_key(Some(&ring), None).is_err(),
            "the key must be opened"
        );
        let (k, rec) = req.new_key(Some(&ring), Some(&kms)).unwrap();
        assert!(matches!(&rec, DataKey::Kms { key_id, .. } if key_id == "testkey-1"));
        let enc = Encryption {
            keys: vec![rec],
            ..req.encryption()
        };
        assert_eq!(enc.mode, SseMode::KmsKey);
        assert_eq!(kms_key_of(&enc), Some("testkey-1"));
        // The material as meta keeps it opens again (another gateway, a restart).
        let again = ring.open_kms_material("testkey-1", &material).unwrap();
        let got = content_keys(&enc, None, Some(&ring), Some(&again))
            .unwrap()
            .unwrap();
        assert_eq!(got[0].0, k.0);
        // Not under another key's name, not without the master key, not with a customer key.
        assert!(ring.open_kms_material("testkey-2", &material).is_err());
        let other = KeyRing::parse(&format!("m1 {}\n", "22".repeat(32))).unwrap();
        assert!(other.open_kms_material("testkey-1", &material).is_err());
        let (kms2, _) = ring.new_kms_material("testkey-2").unwrap();
        assert!(content_keys(&enc, None, Some(&ring), Some(&kms2)).is_err());
        assert!(content_keys(&enc, None, Some(&ring), None).is_err());
        let c = CustomerKey::new([1u8; 32], String::new());
        assert_eq!(
            content_keys(&enc, Some(&c), Some(&ring), Some(&again))
                .unwrap()
                .unwrap_err(),
            KeyRefusal::NotCustomer
        );
    }

    #[test]
    fn an_encryption_context_is_bound_to_the_data_key() {
        let ring = KeyRing::parse(&format!("m1 {}\n", "11".repeat(32))).unwrap();
        let (kms, _) = ring.new_kms_material("testkey-1").unwrap();
        let context = KmsContext::from([
            ("b".to_string(), "2".to_string()),
            ("a".to_string(), "1".to_string()),
        ]);
        let req = SseRequest::Kms("testkey-1".into(), Some(context.clone()));
        let (k, rec) = req.new_key(Some(&ring), Some(&kms)).unwrap();
        let enc = Encryption {
            keys: vec![rec],
            ..req.encryption()
        };
        assert_eq!(
            enc.kms_context.as_ref(),
            Some(&context),
            "stored with the record"
        );
        let open = |enc: &Encryption| content_keys(enc, None, Some(&ring), Some(&kms));
        assert_eq!(open(&enc).unwrap().unwrap()[0].0, k.0);
        // The canonical form: sorted keys, so the order a client sent does not matter.
        assert_eq!(
            kms_wrap_aad(Some(&context)).unwrap(),
            b"spread sse-kms data key\0{\"a\":\"1\",\"b\":\"2\"}".to_vec()
        );
        // A stored context altered, added to or taken away: the data key does not open.
        let mut altered = enc.clone();
        altered.kms_context = Some(KmsContext::from([
            ("a".to_string(), "1".to_string()),
            ("b".to_string(), "3".to_string()),
        ]));
        assert!(open(&altered).is_err());
        let mut more = enc.clone();
        if let Some(c) = more.kms_context.as_mut() {
            c.insert("c".into(), "3".into());
        }
        assert!(open(&more).is_err());
        let mut dropped = enc.clone();
        dropped.kms_context = None;
        assert!(open(&dropped).is_err());
        // A record without a context (as written before contexts were kept) still opens, and
        // an empty context is none.
        let plain = SseRequest::Kms("testkey-1".into(), None);
        let (k2, rec2) = plain.new_key(Some(&ring), Some(&kms)).unwrap();
        let old = Encryption {
            keys: vec![rec2],
            ..plain.encryption()
        };
        assert_eq!(old.kms_context, None);
        assert_eq!(open(&old).unwrap().unwrap()[0].0, k2.0);
        let mut empty = old.clone();
        empty.kms_context = Some(KmsContext::new());
        assert_eq!(open(&empty).unwrap().unwrap()[0].0, k2.0);
        let mut added = old;
        added.kms_context = Some(context);
        assert!(open(&added).is_err());
    }
}
