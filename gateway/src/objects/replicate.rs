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
//! of copies is durable.

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
/// How long the copies may take to answer once the chunk is sealed (they fsync).
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

    async fn send(&mut self, piece: Bytes) -> bool {
        self.sent = true;
        self.data.send(piece).await.is_ok()
    }

    /// Logs why the upload of chunk `pos` ended early (its task's error).
    async fn log_failure(self, pos: u32, what: &str) {
        drop(self.data);
        let why = match self.done.await {
            Ok(Err(e)) => e.to_string(),
            Ok(Ok(())) => "upload ended early".to_string(),
            Err(e) => e.to_string(),
        };
        tracing::warn!(server = %self.server.addr, pos, error = %why, "{what} upload failed");
    }
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
        let mut failed = Vec::new();
        for (i, upload) in self.uploads.iter_mut().enumerate() {
            if !upload.send(piece.clone()).await {
                failed.push(i);
            }
        }
        if failed.is_empty() {
            return Ok(());
        }
        for i in failed.into_iter().rev() {
            let upload = self.uploads.swap_remove(i);
            upload.log_failure(self.pos, "chunk copy").await;
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
            let spares = self.placement.spares(&self.tried, &stored, 1);
            let Some(spare) = spares.into_iter().next() else {
                break;
            };
            self.tried.push(spare.clone());
            let mut upload = CopyUpload::start(&self.svc, spare, &self.meta);
            let mut ok = true;
            for piece in replay {
                if !upload.send(piece.clone()).await {
                    ok = false;
                    break;
                }
            }
            if ok {
                self.uploads.push(upload);
            } else {
                upload.log_failure(self.pos, "spare copy").await;
            }
        }
        if self.uploads.len() < self.quorum {
            return Err(self
                .placement
                .short(self.pos, self.uploads.len(), self.quorum));
        }
        Ok(())
    }

    /// Ends the chunk: sends its hash to every copy and waits until they are durable.
    /// Copies that fail now are stored again on spares when the chunk's bytes are still
    /// kept for replay (a chunk whose connections never all took data).
    pub async fn seal(self) -> Result<ChunkRecord> {
        let hash = self.hasher.finalize().to_hex().to_string();
        let mut waits = Vec::with_capacity(self.uploads.len());
        for upload in self.uploads {
            drop(upload.data);
            // A send error means the upload already ended: its task tells why.
            let _ = upload.hash.send(hash.clone());
            waits.push(async move {
                let result = match tokio::time::timeout(SEAL_TIMEOUT, upload.done).await {
                    Err(_) => Err("timed out".to_string()),
                    Ok(Err(e)) => Err(e.to_string()),
                    Ok(Ok(Err(e))) => Err(e.to_string()),
                    Ok(Ok(Ok(()))) => Ok(()),
                };
                (upload.server, upload.chunk_id, result)
            });
        }
        let mut stored: Vec<ChunkCopy> = Vec::new();
        let mut stored_at: Vec<Candidate> = Vec::new();
        for (server, chunk_id, result) in futures::future::join_all(waits).await {
            match result {
                Ok(()) => {
                    stored.push(ChunkCopy {
                        service: server.id.clone(),
                        chunk_id,
                        fragment: None,
                        hash: None,
                    });
                    stored_at.push(server);
                }
                Err(e) => {
                    tracing::warn!(server = %server.addr, pos = self.pos, error = %e, "chunk copy upload failed")
                }
            }
        }
        if stored.len() < self.copies
            && let Some(data) = &self.replay
        {
            let locations: Vec<&str> = stored_at.iter().map(|s| s.location.as_str()).collect();
            let spares = self
                .placement
                .spares(&self.tried, &locations, self.copies - stored.len());
            let mut meta = self.meta.clone();
            meta.size = self.size;
            meta.hash = hash.clone();
            stored.extend(self.svc.put_copies(&spares, &meta, data).await);
        }
        if stored.len() < self.quorum {
            let count = stored.len();
            self.svc.discard(stored).await;
            return Err(self.placement.short(self.pos, count, self.quorum));
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
