//! The one streaming writer: cuts a body into chunks of the storage policy's `chunk_size` and
//! stores each chunk as N copies or K+M erasure-coded fragments on distinct chunk servers in
//! parallel (placement from `policy`, success at the policy's write quorum). Every byte is
//! hashed once per purpose (MD5 for the ETag, the S3 checksum if any, BLAKE3 per chunk).
//! S3 PUT, multipart parts, copies and Swift uploads all go through here.
//!
//! Memory per request: a replicated chunk streams to its copies once its first
//! [`STREAM_AFTER`] bytes have arrived (`super::replicate`), so a large write holds about
//! that much; an erasure-coded chunk is encoded whole, so its write holds up to two chunks
//! (the one being received and the one being stored). Small chunks are sent whole.

use bytes::Bytes;
use futures::{Stream, StreamExt};
use meta_api::wire::{ChunkCopy, ChunkRecord};
use tokio::sync::oneshot;

/// A chunk being stored in the background; dropping the receiver discards the chunk.
type Inflight = oneshot::Receiver<Result<ChunkRecord>>;

use policy::{DataSecurity, Pool, StoragePolicy};

use super::digest::{DigestValues, Digests};
use super::replicate::StreamingChunk;
use super::{ObjectService, now_ms};
use crate::error::{Error, Result};

/// Where the bytes being written belong; becomes the chunks' reverse metadata.
#[derive(Debug, Clone)]
pub struct ContentTarget {
    pub account: String,
    pub container: String,
    pub key: String,
    pub version: String,
    pub content_id: String,
    /// Storage policy the chunks are written under, and the pool it draws servers from.
    pub policy: StoragePolicy,
    pub pool: Pool,
    /// Prefix of each chunk's position in its reverse metadata: "" for objects, "p7:" for
    /// the chunks of part 7 of a multipart upload.
    pub position_prefix: String,
}

impl ContentTarget {
    /// The reverse metadata of chunk `pos` (`size` and `hash` as far as known).
    pub(super) fn chunk_meta(&self, pos: u32, size: u64, hash: String) -> chunkd::ChunkMeta {
        chunkd::ChunkMeta {
            account: self.account.clone(),
            container: self.container.clone(),
            key: self.key.clone(),
            version: self.version.clone(),
            content_id: self.content_id.clone(),
            position: format!("{}{pos}", self.position_prefix),
            policy: self.policy.name.clone(),
            size,
            hash,
            mtime_ms: now_ms(),
            pieces: None,
        }
    }
}

/// Where one chunk goes: the servers chosen for it, and what spares are chosen from.
pub(super) struct Placement {
    pub chosen: Vec<policy::Candidate>,
    policy_name: String,
    candidates: Vec<policy::Candidate>,
    /// Ids of the candidates that missed a deadline lately: spares of last resort.
    suspects: Vec<String>,
    min_distance: usize,
}

impl Placement {
    /// Up to `wanted` servers to replace failed copies with: in the pool, not `tried` yet,
    /// and at the policy's minimum distance from every location a copy is `stored` at.
    /// Servers that missed a deadline lately only if `short` (the write quorum is not met
    /// yet) and the others do not suffice.
    pub fn spares(
        &self,
        tried: &[policy::Candidate],
        stored: &[&str],
        wanted: usize,
        short: bool,
    ) -> Vec<policy::Candidate> {
        let eligible = |suspect: bool, taken: &[policy::Candidate]| -> Vec<policy::Candidate> {
            self.candidates
                .iter()
                .filter(|c| self.suspects.contains(&c.id) == suspect)
                .filter(|c| !tried.iter().any(|t| t.id == c.id))
                .filter(|c| {
                    stored
                        .iter()
                        .copied()
                        .chain(taken.iter().map(|t| t.location.as_str()))
                        .all(|l| policy::distance(l, &c.location) >= self.min_distance)
                })
                .cloned()
                .collect()
        };
        let mut rng = rand::thread_rng();
        let mut spares = policy::select(&eligible(false, &[]), wanted, self.min_distance, &mut rng);
        if spares.len() < wanted && short {
            let more = policy::select(
                &eligible(true, &spares),
                wanted - spares.len(),
                self.min_distance,
                &mut rng,
            );
            spares.extend(more);
        }
        spares
    }

    /// The error of chunk `pos` when only `stored` of the `quorum` pieces it needs are durable.
    pub fn short(&self, pos: u32, stored: usize, quorum: usize) -> Error {
        Error::Unavailable(format!(
            "chunk {pos}: {stored} piece(s) stored, storage policy {} needs {quorum}",
            self.policy_name
        ))
    }
}

/// Chunks of a replicated policy start streaming to their copies once this many bytes have
/// arrived; smaller chunks (most small objects) are sent whole, with their length and hash
/// up front.
const STREAM_AFTER: u64 = 1024 * 1024;

/// The chunk being received.
enum Receiving {
    /// Kept in memory until it is complete (small so far, or erasure-coded).
    Buffered { pieces: Vec<Bytes>, len: u64 },
    /// Sent to its copies as it arrives.
    Streaming(Box<StreamingChunk>),
}

impl Receiving {
    fn len(&self) -> u64 {
        match self {
            Receiving::Buffered { len, .. } => *len,
            Receiving::Streaming(s) => s.len(),
        }
    }
}

/// What a completed write produced.
#[derive(Debug)]
pub struct Written {
    /// Bytes of the body (the plaintext's when encrypted).
    pub size: u64,
    pub digests: DigestValues,
    /// Chunks in order, offsets relative to the start of this body.
    pub chunks: Vec<ChunkRecord>,
}

/// Chunks stored so far by a write that has not been committed. If the write is dropped
/// (client gone) or fails, its chunks go to meta's garbage collector.
struct Pending {
    svc: ObjectService,
    chunks: Vec<ChunkRecord>,
}

impl Pending {
    fn take(&mut self) -> Vec<ChunkRecord> {
        std::mem::take(&mut self.chunks)
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        let copies = super::copies_of(&self.chunks);
        if copies.is_empty() {
            return;
        }
        let svc = self.svc.clone();
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move { svc.discard(copies).await });
        }
    }
}

impl ObjectService {
    /// Streams `body` into chunks. `verify` runs once the body has ended, before anything is
    /// kept: an error from it (bad digest) discards every stored chunk. With a `sealer` the
    /// chunks hold the body's encrypted segments ([`super::sse`]): digests and the size are
    /// the plaintext's, chunk offsets the stored bytes'.
    pub async fn write_content<S, E>(
        &self,
        mut body: S,
        target: &ContentTarget,
        mut digests: Digests,
        mut sealer: Option<super::sse::Sealer>,
        verify: impl FnOnce(u64, &DigestValues) -> Result<()>,
    ) -> Result<Written>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let chunk_size = target.policy.chunk_size.max(1);
        let mut pending = Pending {
            svc: self.clone(),
            chunks: Vec::new(),
        };
        let mut inflight: Option<Inflight> = None;
        let streams = matches!(target.policy.security, DataSecurity::Replicate { .. })
            && chunk_size > STREAM_AFTER;
        let mut current = Receiving::Buffered {
            pieces: Vec::new(),
            len: 0,
        };
        let mut pos: u32 = 0;
        let mut offset: u64 = 0;
        let mut plain_len: u64 = 0;

        let result: Result<()> = async {
            let mut ended = false;
            while !ended {
                let frames = match body.next().await {
                    Some(frame) => {
                        let frame = frame.map_err(|e| Error::Body(e.to_string()))?;
                        digests.update(&frame);
                        plain_len += frame.len() as u64;
                        match &mut sealer {
                            Some(s) => s.push(frame)?,
                            None => vec![frame],
                        }
                    }
                    None => {
                        ended = true;
                        match sealer.take() {
                            Some(s) => vec![s.finish()?],
                            None => Vec::new(),
                        }
                    }
                };
                for mut frame in frames {
                    while !frame.is_empty() {
                        let room = (chunk_size - current.len()) as usize;
                        let piece = frame.split_to(room.min(frame.len()));
                        match &mut current {
                            Receiving::Streaming(chunk) => chunk.push(piece).await?,
                            Receiving::Buffered { pieces, len } => {
                                *len += piece.len() as u64;
                                pieces.push(piece);
                                if streams && *len > STREAM_AFTER && *len < chunk_size {
                                    let head = std::mem::take(pieces);
                                    let chunk =
                                        StreamingChunk::open(self, target, pos, offset, head)
                                            .await?;
                                    current = Receiving::Streaming(Box::new(chunk));
                                }
                            }
                        }
                        if current.len() == chunk_size {
                            self.finish_inflight(&mut inflight, &mut pending).await?;
                            inflight = Some(self.spawn_store(target, pos, offset, &mut current));
                            pos += 1;
                            offset += chunk_size;
                        }
                    }
                }
            }
            if current.len() > 0 {
                self.finish_inflight(&mut inflight, &mut pending).await?;
                let len = current.len();
                if pos == 0
                    && self.inlines(target, len)
                    && let Receiving::Buffered { pieces, .. } = &mut current
                {
                    // The only chunk, without copies: nothing to discard if the write fails.
                    pending.chunks.push(inline_chunk(std::mem::take(pieces)));
                } else {
                    inflight = Some(self.spawn_store(target, pos, offset, &mut current));
                }
                offset += len;
            }
            self.finish_inflight(&mut inflight, &mut pending).await?;
            Ok(())
        }
        .await;

        if let Err(e) = result {
            // Collect what the in-flight chunk stored so it is discarded with the rest.
            let _ = self.finish_inflight(&mut inflight, &mut pending).await;
            return Err(e);
        }
        let values = digests.finish();
        verify(plain_len, &values)?;
        Ok(Written {
            size: plain_len,
            digests: values,
            chunks: pending.take(),
        })
    }

    /// True if a whole body of `len` bytes under `target`'s policy is kept in meta2.
    fn inlines(&self, target: &ContentTarget, len: u64) -> bool {
        len <= self.inner.config.inline_max_bytes
            && matches!(
                target.policy.security,
                DataSecurity::Replicate { copies: 1 }
            )
    }

    async fn finish_inflight(
        &self,
        inflight: &mut Option<Inflight>,
        pending: &mut Pending,
    ) -> Result<()> {
        if let Some(handle) = inflight.take() {
            let record = handle.await.map_err(|_| {
                Error::Internal("chunk upload task ended without a result".into())
            })??;
            pending.chunks.push(record);
        }
        Ok(())
    }

    /// Completes the chunk being received in the background (stores a buffered one, seals a
    /// streaming one) and starts a new, empty one in its place.
    fn spawn_store(
        &self,
        target: &ContentTarget,
        pos: u32,
        offset: u64,
        current: &mut Receiving,
    ) -> Inflight {
        let chunk = std::mem::replace(
            current,
            Receiving::Buffered {
                pieces: Vec::new(),
                len: 0,
            },
        );
        let svc = self.clone();
        let target = target.clone();
        let (tx, rx) = oneshot::channel();
        tokio::spawn(async move {
            let result = match chunk {
                Receiving::Buffered { pieces, len } => {
                    svc.store_chunk(&target, pos, offset, len, pieces).await
                }
                Receiving::Streaming(chunk) => chunk.seal().await,
            };
            // The writer is gone (request cancelled): nobody will record this chunk.
            if let Err(Ok(record)) = tx.send(result) {
                svc.discard(super::copies_of(std::slice::from_ref(&record)))
                    .await;
            }
        });
        rx
    }

    /// Chooses the servers for a chunk of `target` (its policy, among its pool's servers).
    pub(super) async fn place(&self, target: &ContentTarget) -> Result<Placement> {
        let snapshot = self.inner.services.current().await?;
        let candidates: Vec<policy::Candidate> = snapshot
            .candidates()
            .into_iter()
            .filter(|c| target.pool.admits(&c.slots))
            .collect();
        let chosen = {
            let mut rng = rand::thread_rng();
            // Servers that missed a deadline lately are left out when every piece can be placed
            // without them (they score 0 for this placement, as a dead one does); otherwise
            // they get their piece, and are not waited for past the quorum.
            let deadlines = &self.inner.deadlines;
            let avoided: Vec<policy::Candidate> = candidates
                .iter()
                .map(|c| {
                    let mut c = c.clone();
                    if deadlines.is_suspect(&c.addr) {
                        c.score = 0;
                    }
                    c
                })
                .collect();
            match policy::place(&target.policy, &target.pool, &avoided, &mut rng) {
                Ok(chosen) if chosen.len() >= target.policy.pieces() => chosen,
                _ => policy::place(&target.policy, &target.pool, &candidates, &mut rng)
                    .map_err(|e| Error::Unavailable(e.to_string()))?,
            }
        };
        let suspects = candidates
            .iter()
            .filter(|c| self.inner.deadlines.is_suspect(&c.addr))
            .map(|c| c.id.clone())
            .collect();
        Ok(Placement {
            chosen,
            policy_name: target.policy.name.clone(),
            candidates,
            suspects,
            min_distance: target.policy.min_distance,
        })
    }

    /// Stores one chunk under the target's storage policy: `copies` full copies, or `k + m`
    /// erasure-coded fragments, each on its own chunk server, in parallel. Succeeds when the
    /// policy's write quorum is durable and returns the record of exactly what was stored.
    async fn store_chunk(
        &self,
        target: &ContentTarget,
        pos: u32,
        offset: u64,
        size: u64,
        data: Vec<Bytes>,
    ) -> Result<ChunkRecord> {
        let hash = chunkd::blake3_hex(&data);
        let placement = self.place(target).await?;
        let chosen = &placement.chosen;
        let chunk_meta = target.chunk_meta(pos, size, hash.clone());
        let quorum = target.policy.write_quorum();
        let (copies, ec) = match target.policy.security {
            DataSecurity::Replicate { copies } => {
                let mut stored = self.put_copies(chosen, &chunk_meta, &data, quorum).await;
                let mut tried = chosen.clone();
                if stored.len() < copies {
                    let at: Vec<&str> = chosen
                        .iter()
                        .filter(|c| stored.iter().any(|s| s.service == c.id))
                        .map(|c| c.location.as_str())
                        .collect();
                    let short = stored.len() < quorum;
                    let spares = placement.spares(chosen, &at, copies - stored.len(), short);
                    let still = quorum.saturating_sub(stored.len());
                    stored.extend(self.put_copies(&spares, &chunk_meta, &data, still).await);
                    tried.extend(spares);
                }
                if stored.len() >= quorum && stored.len() < copies {
                    super::under_replicated(
                        &chunk_meta,
                        stored.len(),
                        copies,
                        &missing(&tried, &stored),
                    );
                }
                (stored, None)
            }
            DataSecurity::Ec { k, m } => {
                let codec = self.codec(k, m)?;
                let (fragments, layout) = super::erasure::encode(codec, data, size, k, m).await?;
                let stored = self
                    .put_fragments(chosen, &chunk_meta, fragments, quorum)
                    .await;
                if stored.len() >= quorum && stored.len() < k + m {
                    super::under_replicated(
                        &chunk_meta,
                        stored.len(),
                        k + m,
                        &missing(chosen, &stored),
                    );
                }
                (stored, Some(layout))
            }
        };
        if copies.len() < quorum {
            let stored = copies.len();
            self.discard(copies).await;
            return Err(placement.short(pos, stored, quorum));
        }
        Ok(ChunkRecord {
            pos,
            offset,
            size,
            hash,
            copies,
            ec,
            inline: None,
        })
    }

    /// Sends fragment i to server i, in parallel, until `quorum` are stored and the others
    /// stored or given up on ([`super::deadline::Deadlines::gather`]); returns the fragments
    /// that were stored.
    async fn put_fragments(
        &self,
        servers: &[policy::Candidate],
        chunk_meta: &chunkd::ChunkMeta,
        fragments: Vec<(Bytes, String)>,
        quorum: usize,
    ) -> Vec<ChunkCopy> {
        let mut sent = Vec::new();
        let mut puts: Vec<Put<'_>> = Vec::new();
        for (i, (server, (bytes, hash))) in servers.iter().zip(fragments).enumerate() {
            let mut meta = chunk_meta.clone();
            meta.position = format!("{}.{i}", chunk_meta.position);
            meta.size = bytes.len() as u64;
            meta.hash = hash.clone();
            let copy = ChunkCopy {
                service: server.id.clone(),
                chunk_id: chunkd::new_chunk_id(),
                fragment: Some(i as u32),
                hash: Some(hash),
            };
            sent.push((server.addr.clone(), copy.clone()));
            let chunks = self.inner.chunks.clone();
            let addr = server.addr.clone();
            let patient = !self.inner.deadlines.is_suspect(&addr);
            puts.push((patient, Box::pin(async move {
                match chunks.put(&addr, &copy.chunk_id, &meta, vec![bytes]).await {
                    Ok(()) => Some(copy),
                    Err(e) => {
                        tracing::warn!(server = %addr, fragment = i, error = %e, "fragment upload failed");
                        None
                    }
                }
            })));
        }
        self.settle_puts(sent, puts, quorum).await
    }

    /// Stores `data` as one copy on each of `servers`, in parallel, until `quorum` are stored
    /// and the others stored or given up on; returns the copies that were stored.
    pub(super) async fn put_copies(
        &self,
        servers: &[policy::Candidate],
        chunk_meta: &chunkd::ChunkMeta,
        data: &[Bytes],
        quorum: usize,
    ) -> Vec<ChunkCopy> {
        let mut sent = Vec::new();
        let mut puts: Vec<Put<'_>> = Vec::new();
        for server in servers {
            let copy = ChunkCopy {
                service: server.id.clone(),
                chunk_id: chunkd::new_chunk_id(),
                fragment: None,
                hash: None,
            };
            sent.push((server.addr.clone(), copy.clone()));
            let chunks = self.inner.chunks.clone();
            let addr = server.addr.clone();
            let data = data.to_vec();
            let patient = !self.inner.deadlines.is_suspect(&addr);
            puts.push((
                patient,
                Box::pin(async move {
                    match chunks.put(&addr, &copy.chunk_id, chunk_meta, data).await {
                        Ok(()) => Some(copy),
                        Err(e) => {
                            tracing::warn!(server = %addr, error = %e, "chunk upload failed");
                            None
                        }
                    }
                }),
            ));
        }
        self.settle_puts(sent, puts, quorum).await
    }

    /// Runs the uploads `puts` of the pieces `sent` (server address, piece) until `quorum`
    /// are stored and the others stored or past their deadline: the grace past the quorum
    /// ([`super::deadline::Deadlines::gather`]), and in any case twice `write_timeout_ms`
    /// (the whole body was sent: only the server's write and fsync are waited for; the
    /// caller may then try a spare). A piece given up on may still be stored by its server
    /// (it had the whole body): it goes to meta's garbage collector, and its server is
    /// avoided for a while.
    async fn settle_puts(
        &self,
        sent: Vec<(String, ChunkCopy)>,
        puts: Vec<Put<'_>>,
        quorum: usize,
    ) -> Vec<ChunkCopy> {
        let deadlines = &self.inner.deadlines;
        let bound = deadlines.write_timeout() * 2;
        type Bounded<'b> = std::pin::Pin<
            Box<dyn std::future::Future<Output = Option<Option<ChunkCopy>>> + Send + 'b>,
        >;
        let bounded: Vec<(bool, Bounded<'_>)> = puts
            .into_iter()
            .map(|(patient, put)| {
                let put: Bounded<'_> =
                    Box::pin(async move { tokio::time::timeout(bound, put).await.ok() });
                (patient, put)
            })
            .collect();
        let outcomes = deadlines
            .gather(bounded, quorum, |stored| matches!(stored, Some(Some(_))))
            .await;
        let mut stored = Vec::new();
        let mut abandoned = Vec::new();
        for (outcome, (addr, copy)) in outcomes.into_iter().zip(sent) {
            match outcome {
                Some(Some(Some(copy))) => stored.push(copy),
                Some(Some(None)) => {}
                Some(None) | None => {
                    let when = if outcome.is_some() {
                        "before the write quorum"
                    } else {
                        "after the write quorum"
                    };
                    tracing::warn!(server = %addr, chunk_id = %copy.chunk_id, "chunk upload given up on: no answer within the write deadline {when}");
                    deadlines.missed_deadline(&addr);
                    abandoned.push(copy);
                }
            }
        }
        self.discard(abandoned).await;
        stored
    }
}

/// One piece's upload (whether it is waited for past the quorum, and the piece when stored).
type Put<'a> = (
    bool,
    std::pin::Pin<Box<dyn std::future::Future<Output = Option<ChunkCopy>> + Send + 'a>>,
);

/// The servers of `tried` that hold none of `stored` (by service id), by address.
pub(super) fn missing(tried: &[policy::Candidate], stored: &[ChunkCopy]) -> Vec<String> {
    tried
        .iter()
        .filter(|c| !stored.iter().any(|s| s.service == c.id))
        .map(|c| c.addr.clone())
        .collect()
}

/// The record of a body kept whole in meta2.
fn inline_chunk(pieces: Vec<Bytes>) -> ChunkRecord {
    ChunkRecord {
        pos: 0,
        offset: 0,
        size: pieces.iter().map(|p| p.len() as u64).sum(),
        hash: chunkd::blake3_hex(&pieces),
        copies: Vec::new(),
        ec: None,
        inline: Some(pieces.concat()),
    }
}
