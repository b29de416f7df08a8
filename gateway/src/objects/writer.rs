//! The one streaming writer: cuts a body into chunks of `chunk_size`, stores each chunk on
//! `replicas` chunk servers in parallel (quorum N/2+1), and hashes every byte once (MD5 for the
//! ETag, the S3 checksum if any, BLAKE3 per chunk). Memory is bounded by two chunks per request:
//! the one being received and the one being stored. S3 PUT, multipart parts, copies and Swift
//! uploads all go through here.

use bytes::Bytes;
use futures::{Stream, StreamExt};
use meta::wire::{ChunkCopy, ChunkRecord};
use tokio::sync::oneshot;

/// A chunk being stored in the background; dropping the receiver discards the chunk.
type Inflight = oneshot::Receiver<Result<ChunkRecord>>;

use super::digest::{DigestValues, Digests};
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
    pub policy: String,
    /// Prefix of each chunk's position in its reverse metadata: "" for objects, "p7:" for
    /// the chunks of part 7 of a multipart upload.
    pub position_prefix: String,
}

/// What a completed write produced.
#[derive(Debug)]
pub struct Written {
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
    /// kept: an error from it (bad digest) discards every stored chunk.
    pub async fn write_content<S, E>(
        &self,
        mut body: S,
        target: &ContentTarget,
        mut digests: Digests,
        verify: impl FnOnce(u64, &DigestValues) -> Result<()>,
    ) -> Result<Written>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let chunk_size = self.inner.config.chunk_size;
        let mut pending = Pending {
            svc: self.clone(),
            chunks: Vec::new(),
        };
        let mut inflight: Option<Inflight> = None;
        let mut buf: Vec<Bytes> = Vec::new();
        let mut buf_len: u64 = 0;
        let mut pos: u32 = 0;
        let mut offset: u64 = 0;

        let result: Result<()> = async {
            while let Some(frame) = body.next().await {
                let mut frame = frame.map_err(|e| Error::Body(e.to_string()))?;
                digests.update(&frame);
                while !frame.is_empty() {
                    let room = (chunk_size - buf_len) as usize;
                    let piece = frame.split_to(room.min(frame.len()));
                    buf_len += piece.len() as u64;
                    buf.push(piece);
                    if buf_len == chunk_size {
                        self.finish_inflight(&mut inflight, &mut pending).await?;
                        let data = std::mem::take(&mut buf);
                        inflight = Some(self.spawn_store(target, pos, offset, buf_len, data));
                        pos += 1;
                        offset += buf_len;
                        buf_len = 0;
                    }
                }
            }
            if buf_len > 0 {
                self.finish_inflight(&mut inflight, &mut pending).await?;
                let data = std::mem::take(&mut buf);
                inflight = Some(self.spawn_store(target, pos, offset, buf_len, data));
                offset += buf_len;
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
        verify(offset, &values)?;
        Ok(Written {
            size: offset,
            digests: values,
            chunks: pending.take(),
        })
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

    fn spawn_store(
        &self,
        target: &ContentTarget,
        pos: u32,
        offset: u64,
        size: u64,
        data: Vec<Bytes>,
    ) -> Inflight {
        let svc = self.clone();
        let target = target.clone();
        let (tx, rx) = oneshot::channel();
        tokio::spawn(async move {
            let result = svc.store_chunk(&target, pos, offset, size, data).await;
            // The writer is gone (request cancelled): nobody will record this chunk.
            if let Err(Ok(record)) = tx.send(result) {
                svc.discard(super::copies_of(std::slice::from_ref(&record)))
                    .await;
            }
        });
        rx
    }

    /// Stores one chunk on `replicas` chunk servers in parallel; succeeds with a quorum and
    /// returns the record of exactly the copies that were acknowledged.
    async fn store_chunk(
        &self,
        target: &ContentTarget,
        pos: u32,
        offset: u64,
        size: u64,
        data: Vec<Bytes>,
    ) -> Result<ChunkRecord> {
        let hash = {
            let mut h = blake3::Hasher::new();
            for b in &data {
                h.update(b);
            }
            h.finalize().to_hex().to_string()
        };
        let replicas = self.inner.config.replicas;
        let quorum = replicas / 2 + 1;
        let snapshot = self.inner.services.current().await?;
        let mut candidates = snapshot.candidates();
        let chosen = {
            let mut rng = rand::thread_rng();
            policy::select(&candidates, replicas, 0, &mut rng)
        };
        if chosen.len() < quorum {
            return Err(Error::Unavailable(format!(
                "{} chunk server(s) available, policy {} needs at least {quorum}",
                chosen.len(),
                target.policy
            )));
        }
        let chunk_meta = chunkd::ChunkMeta {
            account: target.account.clone(),
            container: target.container.clone(),
            key: target.key.clone(),
            version: target.version.clone(),
            content_id: target.content_id.clone(),
            position: format!("{}{pos}", target.position_prefix),
            policy: target.policy.clone(),
            size,
            hash: hash.clone(),
            mtime_ms: now_ms(),
        };
        let mut copies = self.put_copies(&chosen, &chunk_meta, &data).await;
        // Replace failed servers with spare candidates, once.
        if copies.len() < replicas {
            candidates.retain(|c| !chosen.iter().any(|x| x.id == c.id));
            let spares = {
                let mut rng = rand::thread_rng();
                policy::select(&candidates, replicas - copies.len(), 0, &mut rng)
            };
            if !spares.is_empty() {
                copies.extend(self.put_copies(&spares, &chunk_meta, &data).await);
            }
        }
        if copies.len() < quorum {
            let stored = copies.len();
            self.discard(copies).await;
            return Err(Error::Unavailable(format!(
                "chunk {pos} stored on {stored} server(s), quorum is {quorum}"
            )));
        }
        Ok(ChunkRecord {
            pos,
            offset,
            size,
            hash,
            copies,
            ec: None,
        })
    }

    async fn put_copies(
        &self,
        servers: &[policy::Candidate],
        chunk_meta: &chunkd::ChunkMeta,
        data: &[Bytes],
    ) -> Vec<ChunkCopy> {
        let puts = servers.iter().map(|server| async move {
            let chunk_id = chunkd::new_chunk_id();
            match self
                .inner
                .chunks
                .put(&server.addr, &chunk_id, chunk_meta, data.to_vec())
                .await
            {
                Ok(()) => Some(ChunkCopy {
                    service: server.id.clone(),
                    chunk_id,
                    fragment: None,
                    hash: None,
                }),
                Err(e) => {
                    tracing::warn!(server = %server.addr, error = %e, "chunk upload failed");
                    None
                }
            }
        });
        futures::future::join_all(puts)
            .await
            .into_iter()
            .flatten()
            .collect()
    }
}
