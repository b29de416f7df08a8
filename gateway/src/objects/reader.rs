//! Streams an object's bytes back, chunk after chunk, read ahead by one piece (or one chunk).
//! Replicated chunks are read from the closest copy that answers and checked piece by piece
//! before their bytes leave ([`super::verified`]); erasure-coded ones are rebuilt from checked
//! fragments ([`super::erasure`]), inline ones checked whole. A reader never receives wrong
//! bytes: at worst the stream ends with an error.

use std::ops::Range;
use std::pin::Pin;

use bytes::Bytes;
use futures::Stream;
use meta_api::wire::ChunkRecord;

use super::ObjectService;
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
