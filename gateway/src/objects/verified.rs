//! Sends bytes of a replicated chunk to a reader piece by piece, each piece checked against
//! its BLAKE3 chaining value before any of it leaves ([`chunkd::pieces`]): the first bytes go
//! out after one piece (1 MiB for an 8 MiB chunk) instead of the whole chunk, a reader holds
//! one piece in flight instead of a chunk, and a range is checked like a whole chunk (the
//! pieces around it are read whole, and trimmed).
//!
//! The piece hashes come from the chunk server and are trusted only once they combine into the
//! chunk hash meta holds. When a copy fails or sends a bad piece, the next copy is asked for
//! the rest from the first piece not sent yet. Copies are asked with deadlines
//! ([`super::deadline`]): a copy that does not answer within the hedge delay gets a hedged
//! request to the next one (first answer wins), one that does not answer within
//! `read_timeout_ms`, or pauses that long mid-stream, is given up on like a failed one. A chunk of one piece is read and checked whole;
//! a larger chunk written before piece hashes existed is checked whole when it is read whole,
//! and not checked when a range of it is read (as before piece hashes).

use std::collections::VecDeque;
use std::ops::Range;

use bytes::Bytes;
use chunkd::pieces::{self, Pieces};
use futures::StreamExt;
use meta_api::wire::ChunkRecord;
use tokio::sync::mpsc::Sender;

use super::ObjectService;
use crate::error::{Error, Result};

impl ObjectService {
    /// Sends bytes `range` (relative to the chunk) of replicated chunk `chunk` to `tx`, a
    /// checked piece per message. False when the reader went away or an error was sent: stop.
    pub(super) async fn send_chunk(
        &self,
        chunk: &ChunkRecord,
        range: Range<u64>,
        tx: &Sender<Result<Vec<Bytes>>>,
    ) -> bool {
        match self.stream_chunk(chunk, &range, tx).await {
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
        range: &Range<u64>,
        tx: &Sender<Result<Vec<Bytes>>>,
    ) -> Result<bool> {
        let hash = blake3::Hash::from_hex(&chunk.hash)
            .map_err(|e| Error::Internal(format!("chunk {} hash: {e}", chunk.pos)))?;
        let size = chunk.size;
        let piece = pieces::piece_size(size);
        // The pieces covering the range; a chunk of one piece is one piece.
        let (first, end) = if size <= piece {
            (0, 1)
        } else {
            (range.start / piece, range.end.div_ceil(piece))
        };
        let (first, end) = (first as usize, end as usize);
        let mut trusted: Option<Pieces> = None;
        let mut next = first;
        // Copies not given up on yet, in read order.
        let mut left = self.copies_in_read_order(chunk).await?;
        let deadlines = &self.inner.deadlines;
        while !left.is_empty() {
            let from = next as u64 * piece;
            let to = (end as u64 * piece).min(size);
            let asked = (from > 0 || to < size).then_some(from..to);
            let addrs: Vec<String> = left.iter().map(|(a, _)| a.clone()).collect();
            let raced = deadlines
                .race(&addrs, |i| {
                    let (addr, chunk_id) = left[i].clone();
                    let chunks = self.inner.chunks.clone();
                    let asked = asked.clone();
                    async move {
                        chunks
                            .get_with_pieces(&addr, &chunk_id, asked)
                            .await
                            .map_err(|e| e.to_string())
                    }
                })
                .await;
            for (i, miss) in &raced.missed {
                let (addr, chunk_id) = &left[*i];
                tracing::warn!(server = %addr, chunk_id, ?miss, "chunk read failed");
            }
            let Some((won, (offered, stream))) = raced.winner else {
                break;
            };
            let (addr, chunk_id) = left[won].clone();
            // Neither the copies that failed nor the one used are asked again (as before
            // deadlines, each copy is read at most once); the others stay in read order.
            let mut gone: Vec<usize> = raced.missed.iter().map(|(i, _)| *i).collect();
            gone.push(won);
            gone.sort_unstable();
            for i in gone.into_iter().rev() {
                left.remove(i);
            }
            // A copy that pauses longer than the read deadline between two frames is given up
            // on when another copy is left to ask.
            let frame_bound = (!left.is_empty()).then(|| deadlines.read_timeout());
            let mut stream = std::pin::pin!(stream);
            if trusted.is_none() && size > piece {
                trusted = offered.filter(|p| p.size == piece && p.describe(size, &hash));
            }
            let Some(pieces) = &trusted else {
                // No piece hashes: a whole chunk is checked whole, a range is passed on as read.
                let check = (from == 0 && to == size).then_some(&hash);
                match collect(&mut stream, to - from, check, frame_bound).await {
                    Ok(parts) => {
                        let parts = trim(parts, from, range);
                        return Ok(tx.send(Ok(parts)).await.is_ok());
                    }
                    Err(why) => {
                        if why == STALLED {
                            deadlines.missed_deadline(&addr);
                        }
                        tracing::error!(server = %addr, chunk_id, why, "chunk copy unusable, trying another");
                        continue;
                    }
                }
            };
            let mut buffered = Buffered::default();
            let mut failed = false;
            while next < end && !failed {
                let bounds = pieces.range(next, size);
                let want = (bounds.end - bounds.start) as usize;
                while buffered.len < want {
                    match next_frame(&mut stream, frame_bound).await {
                        Some(Ok(frame)) => buffered.push(frame),
                        Some(Err(e)) => {
                            if e == STALLED {
                                deadlines.missed_deadline(&addr);
                            }
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
                let data = buffered.take(want);
                let slices: Vec<&[u8]> = data.iter().map(|b| b.as_ref()).collect();
                if !pieces.check(next, &slices) {
                    tracing::error!(server = %addr, chunk_id, piece = next, "chunk copy is corrupt, trying another");
                    break;
                }
                if tx.send(Ok(trim(data, bounds.start, range))).await.is_err() {
                    return Ok(false);
                }
                next += 1;
            }
            if next == end {
                return Ok(true);
            }
        }
        Err(no_readable_copy(chunk))
    }

    /// The copies of a replicated chunk as (server address, chunk id), closest first; copies
    /// on servers the conscience no longer knows are left out.
    async fn copies_in_read_order(&self, chunk: &ChunkRecord) -> Result<Vec<(String, String)>> {
        let snapshot = self.inner.services.current().await?;
        let mut copies: Vec<(policy::Candidate, &str)> = chunk
            .copies
            .iter()
            .filter_map(|copy| {
                let service = snapshot.by_id.get(&copy.service)?;
                Some((super::services::candidate(service), copy.chunk_id.as_str()))
            })
            .collect();
        let mut order: Vec<policy::Candidate> = copies.iter().map(|(c, _)| c.clone()).collect();
        policy::read_order(&self.inner.config.location, &mut order);
        // Servers that missed a deadline or lost hedge races lately are asked last (the sort is stable).
        order.sort_by_key(|c| self.inner.deadlines.read_last(&c.addr));
        let mut out = Vec::with_capacity(order.len());
        for candidate in order {
            if let Some(idx) = copies.iter().position(|(c, _)| c.id == candidate.id) {
                let (c, chunk_id) = copies.swap_remove(idx);
                out.push((c.addr, chunk_id.to_string()));
            }
        }
        Ok(out)
    }
}

fn no_readable_copy(chunk: &ChunkRecord) -> Error {
    Error::Unavailable(format!(
        "no readable copy of chunk {} ({} copies known)",
        chunk.pos,
        chunk.copies.len()
    ))
}

/// The part of `frames` (chunk bytes from offset `at` on) that falls inside `range`.
fn trim(frames: Vec<Bytes>, at: u64, range: &Range<u64>) -> Vec<Bytes> {
    let mut out = Vec::with_capacity(frames.len());
    let mut pos = at;
    for frame in frames {
        let (start, end) = (pos, pos + frame.len() as u64);
        pos = end;
        let (lo, hi) = (start.max(range.start), end.min(range.end));
        if lo < hi {
            out.push(frame.slice((lo - start) as usize..(hi - start) as usize));
        }
    }
    out
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

/// Why a read was given up on when its server paused past the read deadline.
const STALLED: &str = "no data within the read deadline";

/// The next frame of `stream`, waiting at most `bound` for it (errors as text).
async fn next_frame<S>(
    stream: &mut S,
    bound: Option<std::time::Duration>,
) -> Option<std::result::Result<Bytes, String>>
where
    S: futures::Stream<Item = chunkd::Result<Bytes>> + Unpin,
{
    let frame = match bound {
        Some(t) => match tokio::time::timeout(t, stream.next()).await {
            Ok(frame) => frame,
            Err(_) => return Some(Err(STALLED.to_string())),
        },
        None => stream.next().await,
    };
    frame.map(|f| f.map_err(|e| format!("read failed: {e}")))
}

/// `len` bytes from `stream`, checked against `hash` when given (a whole chunk); a pause
/// longer than `bound` between two frames fails with [`STALLED`].
async fn collect<S>(
    stream: &mut S,
    len: u64,
    hash: Option<&blake3::Hash>,
    bound: Option<std::time::Duration>,
) -> std::result::Result<Vec<Bytes>, String>
where
    S: futures::Stream<Item = chunkd::Result<Bytes>> + Unpin,
{
    let mut parts = Vec::new();
    let mut hasher = blake3::Hasher::new();
    let mut received = 0u64;
    while let Some(frame) = next_frame(stream, bound).await {
        let frame = frame?;
        received += frame.len() as u64;
        if hash.is_some() {
            hasher.update(&frame);
        }
        parts.push(frame);
    }
    if received != len {
        return Err(format!("{received} bytes instead of {len}"));
    }
    if hash.is_some_and(|h| hasher.finalize() != *h) {
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

    #[test]
    fn trimmed_to_the_range() {
        let frames = vec![Bytes::from_static(b"0123"), Bytes::from_static(b"4567")];
        // Frames hold chunk bytes 10..18.
        assert_eq!(trim(frames.clone(), 10, &(0..100)).concat(), b"01234567");
        assert_eq!(trim(frames.clone(), 10, &(12..15)).concat(), b"234");
        assert_eq!(trim(frames.clone(), 10, &(14..30)).concat(), b"4567");
        assert!(trim(frames, 10, &(18..30)).is_empty());
    }
}
