//! Sends a whole replicated chunk to a reader piece by piece, each piece checked against its
//! BLAKE3 chaining value before it leaves ([`chunkd::pieces`]): the first bytes go out after
//! one piece (1 MiB for an 8 MiB chunk) instead of the whole chunk, and a reader holds one
//! piece in flight instead of a chunk.
//!
//! The piece hashes come from the chunk server and are trusted only once they combine into the
//! chunk hash meta holds. When a copy fails or sends a bad piece, the next copy is asked for
//! the rest of the chunk from the first piece not sent yet. Chunks without piece hashes
//! (one piece, or written before them) are checked whole, as before.

use std::collections::VecDeque;

use bytes::Bytes;
use chunkd::pieces::Pieces;
use futures::StreamExt;
use meta::wire::ChunkRecord;
use tokio::sync::mpsc::Sender;

use super::ObjectService;
use super::reader::no_readable_copy;
use crate::error::{Error, Result};

impl ObjectService {
    /// Sends chunk `chunk` to `tx`, a verified piece per message (or the whole chunk once
    /// verified). False when the reader went away or an error was sent: stop reading.
    pub(super) async fn send_whole_chunk(
        &self,
        chunk: &ChunkRecord,
        tx: &Sender<Result<Vec<Bytes>>>,
    ) -> bool {
        match self.stream_chunk(chunk, tx).await {
            Ok(delivered) => delivered,
            Err(e) => {
                let _ = tx.send(Err(e)).await;
                false
            }
        }
    }

    async fn stream_chunk(
        &self,
        chunk: &ChunkRecord,
        tx: &Sender<Result<Vec<Bytes>>>,
    ) -> Result<bool> {
        let hash = blake3::Hash::from_hex(&chunk.hash)
            .map_err(|e| Error::Internal(format!("chunk {} hash: {e}", chunk.pos)))?;
        let mut trusted: Option<Pieces> = None;
        let mut next = 0usize;
        for (addr, chunk_id) in self.copies_in_read_order(chunk).await? {
            let from = trusted
                .as_ref()
                .map_or(0, |p| p.range(next, chunk.size).start);
            let range = (from > 0).then_some(from..chunk.size);
            let (offered, stream) = match self
                .inner
                .chunks
                .get_with_pieces(&addr, &chunk_id, range)
                .await
            {
                Ok(answer) => answer,
                Err(e) => {
                    tracing::warn!(server = %addr, chunk_id, error = %e, "chunk read failed");
                    continue;
                }
            };
            let mut stream = std::pin::pin!(stream);
            if trusted.is_none() {
                trusted = offered.filter(|p| p.describe(chunk.size, &hash));
            }
            let Some(pieces) = &trusted else {
                // No piece hashes: the whole chunk is checked before any of it leaves.
                match collect_whole(&mut stream, chunk.size, &hash).await {
                    Ok(parts) => return Ok(tx.send(Ok(parts)).await.is_ok()),
                    Err(why) => {
                        tracing::error!(server = %addr, chunk_id, why, "chunk copy unusable, trying another");
                        continue;
                    }
                }
            };
            let mut buffered = Buffered::default();
            let mut failed = false;
            while next < pieces.cvs.len() && !failed {
                let want = pieces.range(next, chunk.size);
                let want = (want.end - want.start) as usize;
                while buffered.len < want {
                    match stream.next().await {
                        Some(Ok(frame)) => buffered.push(frame),
                        Some(Err(e)) => {
                            tracing::warn!(server = %addr, chunk_id, error = %e, "chunk read failed mid-stream");
                            failed = true;
                            break;
                        }
                        None => {
                            tracing::warn!(server = %addr, chunk_id, "chunk read ended early");
                            failed = true;
                            break;
                        }
                    }
                }
                if failed {
                    break;
                }
                let piece = buffered.take(want);
                let slices: Vec<&[u8]> = piece.iter().map(|b| b.as_ref()).collect();
                if !pieces.check(next, &slices) {
                    tracing::error!(server = %addr, chunk_id, piece = next, "chunk copy is corrupt, trying another");
                    break;
                }
                if tx.send(Ok(piece)).await.is_err() {
                    return Ok(false);
                }
                next += 1;
            }
            if next == pieces.cvs.len() {
                return Ok(true);
            }
        }
        Err(no_readable_copy(chunk))
    }
}

/// Frames received and not sent yet.
#[derive(Default)]
struct Buffered {
    frames: VecDeque<Bytes>,
    len: usize,
}

impl Buffered {
    fn push(&mut self, frame: Bytes) {
        self.len += frame.len();
        self.frames.push_back(frame);
    }

    /// The first `n` bytes (there are at least `n`), as frames; a frame that straddles the
    /// end is split without copying.
    fn take(&mut self, mut n: usize) -> Vec<Bytes> {
        let mut out = Vec::new();
        while n > 0 {
            let Some(mut frame) = self.frames.pop_front() else {
                break;
            };
            if frame.len() > n {
                let rest = frame.split_off(n);
                self.frames.push_front(rest);
            }
            n -= frame.len();
            self.len -= frame.len();
            out.push(frame);
        }
        out
    }
}

/// The whole chunk from `stream`, if it has `size` bytes hashing to `hash`.
async fn collect_whole<S>(
    stream: &mut S,
    size: u64,
    hash: &blake3::Hash,
) -> std::result::Result<Vec<Bytes>, String>
where
    S: futures::Stream<Item = chunkd::Result<Bytes>> + Unpin,
{
    let mut parts = Vec::new();
    let mut hasher = blake3::Hasher::new();
    let mut received = 0u64;
    while let Some(frame) = stream.next().await {
        let frame = frame.map_err(|e| format!("read failed: {e}"))?;
        received += frame.len() as u64;
        hasher.update(&frame);
        parts.push(frame);
    }
    if received != size {
        return Err(format!("{received} bytes instead of {size}"));
    }
    if hasher.finalize() != *hash {
        return Err("hash mismatch".to_string());
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffered_frames_split_at_piece_boundaries() {
        let mut b = Buffered::default();
        b.push(Bytes::from_static(b"abcde"));
        b.push(Bytes::from_static(b"fgh"));
        let first = b.take(3);
        assert_eq!(first, vec![Bytes::from_static(b"abc")]);
        let second = b.take(4);
        assert_eq!(second.concat(), b"defg");
        assert_eq!(b.len, 1);
        assert_eq!(b.take(1).concat(), b"h");
        assert_eq!(b.len, 0);
    }
}
