//! Streams an object's bytes back, chunk after chunk, read ahead by one piece (or one chunk).
//! Replicated chunks are read from the closest copy that answers and checked piece by piece
//! before their bytes leave ([`super::verified`]); erasure-coded ones are rebuilt from checked
//! fragments ([`super::erasure`]), inline ones checked whole. A reader never receives wrong
//! bytes: at worst the stream ends with an error.

use std::ops::Range;
use std::pin::Pin;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use meta_api::wire::{ChunkRecord, ObjectRecord};

use super::ObjectService;
use super::sse::{self, ContentKey, CustomerKey, KeyRefusal, Opener};
use crate::error::{Error, Result};

/// A stream of object bytes (Send + Sync so protocol layers can hand it to hyper as is).
pub type ObjectStream = Pin<Box<dyn Stream<Item = Result<Bytes>> + Send + Sync>>;

impl ObjectService {
    /// Streams bytes `range` of the content made of `chunks`.
    pub fn read_content(&self, chunks: Vec<ChunkRecord>, range: Range<u64>) -> ObjectStream {
        // One chunk or piece (as the frames it was read in) queued while the next one is read.
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<Bytes>>>(1);
        let svc = self.clone();
        tokio::spawn(async move {
            for chunk in &chunks {
                let chunk_end = chunk.offset + chunk.size;
                if chunk_end <= range.start || chunk.offset >= range.end {
                    continue;
                }
                let start = range.start.max(chunk.offset) - chunk.offset;
                let end = range.end.min(chunk_end) - chunk.offset;
                let piece = match (&chunk.inline, chunk.ec) {
                    (Some(data), _) => inline_piece(chunk, data, start..end),
                    (None, Some(layout)) => svc
                        .fetch_ec_piece(chunk, layout, start..end)
                        .await
                        .map(|b| vec![b]),
                    (None, None) => {
                        if !svc.send_chunk(chunk, start..end, &tx).await {
                            return;
                        }
                        continue;
                    }
                };
                let failed = piece.is_err();
                if tx.send(piece).await.is_err() || failed {
                    return;
                }
            }
        });
        let parts = std::collections::VecDeque::<Bytes>::new();
        Box::pin(futures::stream::unfold(
            (rx, parts),
            |(mut rx, mut parts)| async move {
                loop {
                    if let Some(part) = parts.pop_front() {
                        return Some((Ok(part), (rx, parts)));
                    }
                    match rx.recv().await? {
                        Ok(chunk) => parts.extend(chunk.into_iter().filter(|b| !b.is_empty())),
                        Err(e) => return Some((Err(e), (rx, parts))),
                    }
                }
            },
        ))
    }
}

/// Bytes `range` of a chunk kept in its meta2 record, checked against the chunk's hash.
fn inline_piece(chunk: &ChunkRecord, data: &[u8], range: Range<u64>) -> Result<Vec<Bytes>> {
    if blake3::hash(data).to_hex().as_str() != chunk.hash {
        return Err(Error::Internal(format!(
            "inline chunk {} does not match its hash",
            chunk.pos
        )));
    }
    let piece = usize::try_from(range.start)
        .ok()
        .zip(usize::try_from(range.end).ok())
        .and_then(|(start, end)| data.get(start..end))
        .ok_or_else(|| Error::Internal(format!("inline chunk {} is short", chunk.pos)))?;
    Ok(vec![Bytes::copy_from_slice(piece)])
}

impl ObjectService {
    /// The data keys of `rec`'s content (none for plain content), with `customer` the SSE-C
    /// key the request sent. Refusals are S3's: an SSE-C object read without its key or with
    /// another, a customer key sent for an object that is not SSE-C.
    /// SSE-KMS content is opened with its key-store key, which must exist and be enabled
    /// (`KMS.NotFoundException`, `KMS.DisabledException` otherwise).
    pub async fn unlock(
        &self,
        rec: &ObjectRecord,
        customer: Option<&CustomerKey>,
    ) -> Result<Vec<ContentKey>> {
        let kms = match rec.encryption.as_ref().and_then(sse::kms_key_of) {
            Some(name) if customer.is_none() => Some(self.kms_key(name, false).await?),
            _ => None,
        };
        self.unlock_with(rec, customer, kms.as_ref())
    }

    /// [`ObjectService::unlock`] with the key-store key already opened (`kms`).
    fn unlock_with(
        &self,
        rec: &ObjectRecord,
        customer: Option<&CustomerKey>,
        kms: Option<&sse::KmsKey>,
    ) -> Result<Vec<ContentKey>> {
        let Some(enc) = &rec.encryption else {
            return match customer {
                None => Ok(Vec::new()),
                Some(_) => Err(Error::InvalidRequest(NOT_APPLICABLE.into())),
            };
        };
        match sse::content_keys(enc, customer, self.key_ring(), kms)? {
            Ok(keys) => Ok(keys),
            Err(KeyRefusal::Missing) => Err(Error::InvalidRequest(
                "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.".into(),
            )),
            Err(KeyRefusal::Wrong) => Err(Error::InvalidRequest(
                "The provided encryption key does not match the key the object was stored with (x-amz-server-side-encryption-customer-key).".into(),
            )),
            Err(KeyRefusal::NotCustomer) => Err(Error::InvalidRequest(NOT_APPLICABLE.into())),
        }
    }

    /// Streams plaintext bytes `range` of `rec`'s content, `keys` from [`ObjectService::unlock`]:
    /// for encrypted content, only the segments the range covers are read, part by part, each
    /// with its own key; memory stays one chunk read ahead plus a segment.
    pub fn read_object(
        &self,
        rec: &ObjectRecord,
        keys: Vec<ContentKey>,
        range: Range<u64>,
    ) -> Result<ObjectStream> {
        let Some(enc) = &rec.encryption else {
            return Ok(self.read_content(rec.chunks.clone(), range));
        };
        let sizes: Vec<u64> = if rec.parts.is_empty() {
            vec![rec.size]
        } else {
            rec.parts.clone()
        };
        if keys.len() != sizes.len() {
            return Err(Error::Internal(format!(
                "object {:?} has {} data key(s) for {} part(s)",
                rec.key,
                keys.len(),
                sizes.len()
            )));
        }
        let seg = enc.segment_size;
        let mut plans = Vec::new();
        let (mut plain_start, mut stored_start) = (0u64, 0u64);
        for (len, key) in sizes.iter().zip(keys) {
            let plain_end = plain_start + len;
            let (a, b) = (range.start.max(plain_start), range.end.min(plain_end));
            if a < b {
                let r = sse::sealed_range(a - plain_start..b - plain_start, *len, seg);
                let opener = Opener::new(&key, seg, *len, &r);
                plans.push((
                    stored_start + r.stored.start..stored_start + r.stored.end,
                    opener,
                ));
            }
            plain_start = plain_end;
            stored_start += sse::sealed_len(*len, seg);
        }
        let svc = self.clone();
        let chunks = std::sync::Arc::new(rec.chunks.clone());
        Ok(Box::pin(
            futures::stream::iter(plans)
                .map(move |(stored, opener)| {
                    let covering: Vec<ChunkRecord> = chunks
                        .iter()
                        .filter(|c| c.offset < stored.end && c.offset + c.size > stored.start)
                        .cloned()
                        .collect();
                    decrypt(svc.read_content(covering, stored), opener)
                })
                .flatten(),
        ))
    }
}

impl ObjectService {
    /// Streams plaintext `range` of an object read without a customer key (Swift, internal
    /// copies): plain, SSE-S3 and SSE-KMS content; for SSE-C content the stream is one error.
    /// (Only `Send`: an SSE-KMS read first asks meta for its key, inside the stream.)
    pub fn read_stored(&self, rec: &ObjectRecord, range: Range<u64>) -> StoredStream {
        if rec.encryption.as_ref().and_then(sse::kms_key_of).is_some() {
            let svc = self.clone();
            let rec = rec.clone();
            return Box::pin(
                futures::stream::once(async move {
                    match svc.unlock(&rec, None).await {
                        Ok(keys) => match svc.read_object(&rec, keys, range) {
                            Ok(stream) => stream,
                            Err(e) => one_error(e),
                        },
                        Err(e) => one_error(e),
                    }
                })
                .flatten(),
            );
        }
        let stream: ObjectStream = match self
            .unlock_with(rec, None, None)
            .and_then(|keys| self.read_object(rec, keys, range))
        {
            Ok(stream) => stream,
            Err(e) => one_error(e),
        };
        stream
    }
}

/// What [`ObjectService::read_stored`] answers.
pub type StoredStream = Pin<Box<dyn Stream<Item = Result<Bytes>> + Send>>;

fn one_error(e: Error) -> ObjectStream {
    Box::pin(futures::stream::once(async move { Err(e) }))
}

const NOT_APPLICABLE: &str = "The encryption parameters are not applicable to this object.";

/// The plaintext of a stream of stored segments.
fn decrypt(raw: ObjectStream, opener: Opener) -> ObjectStream {
    let queue = std::collections::VecDeque::<Bytes>::new();
    Box::pin(futures::stream::unfold(
        (raw, opener, queue, false),
        |(mut raw, mut opener, mut queue, mut done)| async move {
            loop {
                if let Some(b) = queue.pop_front() {
                    return Some((Ok(b), (raw, opener, queue, done)));
                }
                if done {
                    return None;
                }
                let failed = match raw.next().await {
                    Some(Ok(bytes)) => match opener.push(&bytes) {
                        Ok(plain) => {
                            queue.extend(plain);
                            continue;
                        }
                        Err(e) => e,
                    },
                    Some(Err(e)) => e,
                    None => match opener.finish() {
                        Ok(()) => return None,
                        Err(e) => e,
                    },
                };
                done = true;
                return Some((Err(failed), (raw, opener, queue, done)));
            }
        },
    ))
}
