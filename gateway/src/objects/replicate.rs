//! A replicated chunk streamed to its copies as its bytes arrive, so a large write holds a
//! few frames per copy in memory instead of whole chunks.
//!
//! Every copy is one chunked `PUT` to its chunk server (`ChunkClient::put_stream`), fed by a
//! small bounded channel: the slowest copy sets the pace at which the client's body is read.
//! The BLAKE3 hash of the chunk goes out as the trailer once the chunk is complete; dropping a
//! [`StreamingChunk`] before [`StreamingChunk::seal`] ends its uploads without a hash, and the
//! chunk servers keep nothing.
//!
//! A copy whose server fails before its connection took any data (a dead or unreachable
//! server, which the conscience has not noticed yet) is replaced by a spare server: until
//! every copy's connection has taken data, the bytes sent so far are kept and replayed to the
//! spare. A copy lost later is not replaced; the chunk is kept if the policy's write quorum
//! of copies is durable (and reported under-replicated).
//!
//! A copy that takes no frame for `write_timeout_ms` (its server is hung: a frozen process
//! still accepts a connection and a few MiB into its socket buffers) is lost like a failed one;
//! once the chunk is sealed and the quorum durable, the others get `write_timeout_ms` more.

use std::time::Duration;

use bytes::Bytes;
use meta_api::wire::{ChunkCopy, ChunkRecord};
use policy::{Candidate, DataSecurity};
use tokio::sync::{mpsc, oneshot};

use super::ObjectService;
use super::writer::{ContentTarget, Placement};
use crate::error::{Error, Result};

/// Frames queued per copy: the bytes a copy may lag behind the fastest one.
const QUEUE_FRAMES: usize = 4;
/// How long a copy on a server that missed a deadline lately may wait for room in its queue
/// (it lags by [`QUEUE_FRAMES`] already) before it is dropped.
const SUSPECT_LAG: Duration = Duration::from_millis(200);
/// How long a copy may take to answer once the chunk is sealed (it fsyncs) while the write
/// quorum is not met; past the quorum the others get `write_timeout_ms` (see `seal`).
const SEAL_TIMEOUT: Duration = Duration::from_secs(60);

/// One copy's upload in progress.
struct CopyUpload {
    server: Candidate,
    chunk_id: String,
    data: mpsc::Sender<Bytes>,
    hash: oneshot::Sender<String>,
    done: tokio::task::JoinHandle<chunkd::Result<()>>,
    /// Some data was queued.
    sent: bool,
}

impl CopyUpload {
    fn start(svc: &ObjectService, server: Candidate, meta: &chunkd::ChunkMeta) -> CopyUpload {
        let chunk_id = chunkd::new_chunk_id();
        let (data, rx) = mpsc::channel::<Bytes>(QUEUE_FRAMES);
        let (hash, hash_rx) = oneshot::channel::<String>();
        let body = futures::stream::unfold(rx, |mut rx| async move {
            rx.recv()
                .await
                .map(|b| (Ok::<_, std::convert::Infallible>(b), rx))
        });
        let client = svc.inner.chunks.clone();
        let (addr, id, meta) = (server.addr.clone(), chunk_id.clone(), meta.clone());
        let done = tokio::spawn(async move {
            let hash = async move { hash_rx.await.ok() };
            client.put_stream(&addr, &id, &meta, body, hash).await
        });
        CopyUpload {
            server,
            chunk_id,
            data,
            hash,
            done,
            sent: false,
        }
    }

    /// True once the connection is up: it took every frame queued so far (hyper reads a
    /// request body only once connected; a failed request closes the queue instead).
    fn connected(&self) -> bool {
        self.sent && !self.data.is_closed() && self.data.capacity() == self.data.max_capacity()
    }

    /// Queues `piece` for this copy, waiting at most `bound` for room in its queue (the copy
    /// took nothing for that long: its server is hung or far too slow).
    async fn send(&mut self, piece: Bytes, bound: Duration) -> Sent {
        self.sent = true;
        match tokio::time::timeout(bound, self.data.send(piece)).await {
            Ok(Ok(())) => Sent::Queued,
            Ok(Err(_)) => Sent::Closed,
            Err(_) => Sent::Stalled,
        }
    }

    /// Logs why the upload of chunk `pos` ended early: its task's error, or a stall (then the
    /// upload is cancelled, and its server avoided for a while).
    async fn log_failure(self, svc: &ObjectService, pos: u32, what: &str, sent: Sent) {
        drop(self.data);
        let why = if sent == Sent::Stalled {
            self.done.abort();
            svc.inner.deadlines.missed_deadline(&self.server.addr);
            "took no data within the write deadline".to_string()
        } else {
            match self.done.await {
                Ok(Err(e)) => e.to_string(),
                Ok(Ok(())) => "upload ended early".to_string(),
                Err(e) => e.to_string(),
            }
        };
        tracing::warn!(server = %self.server.addr, pos, error = %why, "{what} upload failed");
    }
}

/// How queueing a frame for a copy went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sent {
    Queued,
    /// The upload ended (its task tells why).
    Closed,
    /// No room within the write deadline.
    Stalled,
}

/// A chunk of a replicated policy being streamed to its copies.
pub struct StreamingChunk {
    svc: ObjectService,
    pos: u32,
    offset: u64,
    meta: chunkd::ChunkMeta,
    placement: Placement,
    copies: usize,
    quorum: usize,
    uploads: Vec<CopyUpload>,
    /// Servers asked so far, spares included.
    tried: Vec<Candidate>,
    /// Every byte sent so far, while some copy's connection has not taken data yet.
    replay: Option<Vec<Bytes>>,
    /// Servers whose copy was lost (addresses), for the under-replication report.
    lost: Vec<String>,
    hasher: blake3::Hasher,
    size: u64,
}

impl StreamingChunk {
    /// Opens one upload per copy of chunk `pos` (at `offset` in the body) and sends `head`.
    pub async fn open(
        svc: &ObjectService,
        target: &ContentTarget,
        pos: u32,
        offset: u64,
        head: Vec<Bytes>,
    ) -> Result<StreamingChunk> {
        let DataSecurity::Replicate { copies } = target.policy.security else {
            return Err(Error::Internal(
                "streaming chunks are for replicated policies".into(),
            ));
        };
        let placement = svc.place(target).await?;
        let meta = target.chunk_meta(pos, 0, String::new());
        let uploads = placement
            .chosen
            .iter()
            .map(|server| CopyUpload::start(svc, server.clone(), &meta))
            .collect();
        let mut chunk = StreamingChunk {
            svc: svc.clone(),
            pos,
            offset,
            meta,
            tried: placement.chosen.clone(),
            placement,
            copies,
            quorum: target.policy.write_quorum(),
            uploads,
            replay: Some(Vec::new()),
            lost: Vec::new(),
            hasher: blake3::Hasher::new(),
            size: 0,
        };
        for piece in head {
            chunk.push(piece).await?;
        }
        Ok(chunk)
    }

    /// Bytes received so far.
    pub fn len(&self) -> u64 {
        self.size
    }

    /// Sends the next bytes of the chunk to every copy.
    pub async fn push(&mut self, piece: Bytes) -> Result<()> {
        if piece.is_empty() {
            return Ok(());
        }
        if self.replay.is_some() && self.uploads.iter().all(CopyUpload::connected) {
            // Every connection took data: a failure from now on is not replayed.
            self.replay = None;
        }
        self.hasher.update(&piece);
        self.size += piece.len() as u64;
        if let Some(replay) = &mut self.replay {
            replay.push(piece.clone());
        }
        let deadlines = &self.svc.inner.deadlines;
        let sends = self.uploads.iter_mut().map(|upload| {
            // A server that missed a deadline lately may lag only briefly.
            let bound = if deadlines.is_suspect(&upload.server.addr) {
                SUSPECT_LAG
            } else {
                deadlines.write_timeout()
            };
            upload.send(piece.clone(), bound)
        });
        let failed: Vec<(usize, Sent)> = futures::future::join_all(sends)
            .await
            .into_iter()
            .enumerate()
            .filter(|(_, sent)| *sent != Sent::Queued)
            .collect();
        if failed.is_empty() {
            return Ok(());
        }
        for (i, sent) in failed.into_iter().rev() {
            let upload = self.uploads.swap_remove(i);
            self.lost.push(upload.server.addr.clone());
            upload
                .log_failure(&self.svc, self.pos, "chunk copy", sent)
                .await;
        }
        self.replace_lost().await
    }

    /// Replaces lost copies by spares while the bytes can be replayed; fails if fewer than
    /// the write quorum of copies are left.
    async fn replace_lost(&mut self) -> Result<()> {
        while let Some(replay) = &self.replay
            && self.uploads.len() < self.copies
        {
            let stored: Vec<&str> = self
                .uploads
                .iter()
                .map(|u| u.server.location.as_str())
                .collect();
            let short = self.uploads.len() < self.quorum;
            let spares = self.placement.spares(&self.tried, &stored, 1, short);
            let Some(spare) = spares.into_iter().next() else {
                break;
            };
            self.tried.push(spare.clone());
            let mut upload = CopyUpload::start(&self.svc, spare, &self.meta);
            let bound = self.svc.inner.deadlines.write_timeout();
            let mut sent = Sent::Queued;
            for piece in replay {
                sent = upload.send(piece.clone(), bound).await;
                if sent != Sent::Queued {
                    break;
                }
            }
            if sent == Sent::Queued {
                self.uploads.push(upload);
            } else {
                self.lost.push(upload.server.addr.clone());
                upload
                    .log_failure(&self.svc, self.pos, "spare copy", sent)
                    .await;
            }
        }
        if self.uploads.len() < self.quorum {
            return Err(self
                .placement
                .short(self.pos, self.uploads.len(), self.quorum));
        }
        Ok(())
    }

    /// Ends the chunk: sends its hash to every copy and waits until they are durable: every
    /// one, or the write quorum and then the others for their grace
    /// ([`super::deadline::Deadlines::gather`]). Copies that fail are stored again on spares
    /// when the chunk's bytes are still kept for replay (a chunk whose connections never all
    /// took data). A chunk left with fewer copies than its policy's, though with its quorum,
    /// is reported [`super::under_replicated`].
    pub async fn seal(mut self) -> Result<ChunkRecord> {
        let hash = self.hasher.finalize().to_hex().to_string();
        let mut waits: Vec<(bool, SealWait)> = Vec::with_capacity(self.uploads.len());
        let mut sealed: Vec<(Candidate, String)> = Vec::with_capacity(self.uploads.len());
        for upload in std::mem::take(&mut self.uploads) {
            drop(upload.data);
            // A send error means the upload already ended: its task tells why.
            let _ = upload.hash.send(hash.clone());
            sealed.push((upload.server.clone(), upload.chunk_id.clone()));
            let done = upload.done;
            let patient = !self.svc.inner.deadlines.is_suspect(&upload.server.addr);
            waits.push((
                patient,
                Box::pin(async move {
                    let abort = done.abort_handle();
                    // Given up on (dropped) past its grace: the upload is cancelled.
                    let _cancel = AbortOnDrop(abort);
                    match tokio::time::timeout(SEAL_TIMEOUT, done).await {
                        Err(_) => Err("timed out".to_string()),
                        Ok(Err(e)) => Err(e.to_string()),
                        Ok(Ok(Err(e))) => Err(e.to_string()),
                        Ok(Ok(Ok(()))) => Ok(()),
                    }
                }),
            ));
        }
        let outcomes = self
            .svc
            .inner
            .deadlines
            .gather(waits, self.quorum, |r| r.is_ok())
            .await;
        let mut stored: Vec<ChunkCopy> = Vec::new();
        let mut stored_at: Vec<Candidate> = Vec::new();
        let mut abandoned: Vec<ChunkCopy> = Vec::new();
        for (outcome, (server, chunk_id)) in outcomes.into_iter().zip(sealed) {
            let copy = ChunkCopy {
                service: server.id.clone(),
                chunk_id,
                fragment: None,
                hash: None,
            };
            match outcome {
                Some(Ok(())) => {
                    stored.push(copy);
                    stored_at.push(server);
                }
                Some(Err(e)) => {
                    tracing::warn!(server = %server.addr, pos = self.pos, error = %e, "chunk copy upload failed");
                    self.lost.push(server.addr.clone());
                }
                None => {
                    tracing::warn!(server = %server.addr, pos = self.pos, chunk_id = %copy.chunk_id, "chunk copy given up on: not durable within the write deadline after the quorum");
                    self.svc.inner.deadlines.missed_deadline(&server.addr);
                    self.lost.push(server.addr.clone());
                    // It had every byte and the hash: its server may still store it.
                    abandoned.push(copy);
                }
            }
        }
        self.svc.discard(abandoned).await;
        let mut meta = self.meta.clone();
        meta.size = self.size;
        meta.hash = hash.clone();
        if stored.len() < self.copies
            && let Some(data) = &self.replay
        {
            let locations: Vec<&str> = stored_at.iter().map(|s| s.location.as_str()).collect();
            let spares = self.placement.spares(
                &self.tried,
                &locations,
                self.copies - stored.len(),
                stored.len() < self.quorum,
            );
            let still = self.quorum.saturating_sub(stored.len());
            let more = self.svc.put_copies(&spares, &meta, data, still).await;
            let missed = super::writer::missing(&spares, &more);
            self.lost.retain(|a| !spares.iter().any(|s| &s.addr == a));
            self.lost.extend(missed);
            stored.extend(more);
        }
        if stored.len() < self.quorum {
            let count = stored.len();
            self.svc.discard(stored).await;
            return Err(self.placement.short(self.pos, count, self.quorum));
        }
        if stored.len() < self.copies {
            super::under_replicated(&meta, stored.len(), self.copies, &self.lost);
        }
        Ok(ChunkRecord {
            pos: self.pos,
            offset: self.offset,
            size: self.size,
            hash,
            copies: stored,
            ec: None,
            inline: None,
        })
    }
}

/// What waiting for one sealed copy gave.
type Sealed = std::result::Result<(), String>;
/// Waiting for one sealed copy.
type SealWait = std::pin::Pin<Box<dyn std::future::Future<Output = Sealed> + Send>>;

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
