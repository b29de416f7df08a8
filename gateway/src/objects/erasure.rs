//! Erasure coding on the data path. A chunk (metachunk) of up to `chunk_size` bytes becomes `k`
//! data fragments of `fragment_size` bytes (the last zero-padded) and `m` parity fragments,
//! each stored on its own chunk server with its own BLAKE3. Reads fetch only the data fragments
//! that cover the requested range; a fragment that is missing, unreadable, corrupt or slower than
//! `fragment_timeout_ms` is rebuilt from any `k` good ones, and when the data fragments have not
//! all arrived within the hedge delay (`hedge_after_ms`, see [`super::deadline`]) the parity
//! fragments are fetched too, whichever `k` arrive first being enough. Encoding and decoding run
//! on the blocking pool.

use std::ops::Range;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use meta_api::wire::{ChunkCopy, ChunkRecord, EcLayout};
use policy::ec::Codec;

use super::ObjectService;
use crate::error::{Error, Result};

/// How one fragment read ended.
enum Fetched {
    Good(Bytes),
    /// Failed, wrong size or corrupt.
    Bad,
    /// Slower than `fragment_timeout_ms`.
    TimedOut,
}

/// Cuts `data` (`size` bytes) into k data + m parity fragments, each with its BLAKE3 hex.
pub async fn encode(
    codec: Arc<dyn Codec>,
    data: Vec<Bytes>,
    size: u64,
    k: usize,
    m: usize,
) -> Result<(Vec<(Bytes, String)>, EcLayout)> {
    let fragment_size = policy::ec::fragment_size(size, k);
    let fs = fragment_size as usize;
    tokio::task::spawn_blocking(move || {
        let mut shards: Vec<Vec<u8>> = (0..k).map(|_| Vec::with_capacity(fs)).collect();
        let mut shard = 0;
        for piece in &data {
            let mut rest: &[u8] = piece;
            while !rest.is_empty() {
                let room = fs - shards[shard].len();
                let n = room.min(rest.len());
                shards[shard].extend_from_slice(&rest[..n]);
                rest = &rest[n..];
                if shards[shard].len() == fs && shard + 1 < k {
                    shard += 1;
                }
            }
        }
        drop(data);
        for s in &mut shards {
            s.resize(fs, 0);
        }
        let refs: Vec<&[u8]> = shards.iter().map(Vec::as_slice).collect();
        let parity = codec
            .encode(&refs)
            .map_err(|e| Error::Internal(format!("erasure encode: {e}")))?;
        let fragments = shards
            .into_iter()
            .chain(parity)
            .map(|f| {
                let hash = blake3::hash(&f).to_hex().to_string();
                (Bytes::from(f), hash)
            })
            .collect::<Vec<_>>();
        debug_assert_eq!(fragments.len(), k + m);
        Ok((
            fragments,
            EcLayout {
                k: k as u32,
                m: m as u32,
                fragment_size,
            },
        ))
    })
    .await
    .map_err(|e| Error::Internal(format!("erasure encode task: {e}")))?
}

impl ObjectService {
    /// The codec for k+m (built once, then shared).
    pub(super) fn codec(&self, k: usize, m: usize) -> Result<Arc<dyn Codec>> {
        let mut codecs = self
            .inner
            .codecs
            .lock()
            .map_err(|_| Error::Internal("codec cache poisoned".into()))?;
        if let Some(c) = codecs.get(&(k, m)) {
            return Ok(c.clone());
        }
        let c: Arc<dyn Codec> = Arc::from(
            policy::ec::codec(k, m).map_err(|e| Error::Internal(format!("codec {k}+{m}: {e}")))?,
        );
        codecs.insert((k, m), c.clone());
        Ok(c)
    }

    /// Reads bytes `range` (relative to the chunk) of an erasure-coded chunk.
    pub(super) async fn fetch_ec_piece(
        &self,
        chunk: &ChunkRecord,
        layout: EcLayout,
        range: Range<u64>,
    ) -> Result<Bytes> {
        let k = layout.k as usize;
        let n = k + layout.m as usize;
        let fs = layout.fragment_size;
        if range.is_empty() {
            return Ok(Bytes::new());
        }
        let first = (range.start / fs) as usize;
        let last = ((range.end - 1) / fs) as usize;
        let mut shards: Vec<Option<Bytes>> = vec![None; n];
        let needed: Vec<usize> = (first..=last.min(k - 1)).collect();
        self.fetch_fragments(chunk, layout, &needed, &mut shards)
            .await?;
        if needed.iter().any(|&i| shards[i].is_none()) {
            let present = shards.iter().filter(|s| s.is_some()).count();
            if present < k {
                return Err(Error::Unavailable(format!(
                    "chunk {}: only {present} of {n} fragments readable, {k} needed",
                    chunk.pos
                )));
            }
            tracing::warn!(
                chunk = chunk.pos,
                present,
                "degraded read: rebuilding fragments"
            );
            shards = self.reconstruct(k, layout.m as usize, shards).await?;
        }
        let mut out = BytesMut::with_capacity((range.end - range.start) as usize);
        for (i, shard) in shards.iter().enumerate().take(last + 1).skip(first) {
            let Some(frag) = shard else {
                return Err(Error::Internal(format!(
                    "fragment {i} missing after rebuild"
                )));
            };
            let base = i as u64 * fs;
            let from = (range.start.max(base) - base) as usize;
            let to = (range.end.min(base + fs) - base) as usize;
            if first == last {
                return Ok(frag.slice(from..to));
            }
            out.extend_from_slice(&frag[from..to]);
        }
        Ok(out.freeze())
    }

    /// Fetches fragments `wanted` in parallel into `shards`, keeping only those whose length
    /// and BLAKE3 match the record. A fragment that fails, or is slower than
    /// `fragment_timeout_ms`, is left out; when one of `wanted` fails, or they have not all
    /// arrived within the hedge delay, the other fragments are fetched too, and fetching stops
    /// as soon as `wanted` are all there or any `k` are (enough to rebuild the rest). What is
    /// still in flight then is cancelled.
    pub(super) async fn fetch_fragments(
        &self,
        chunk: &ChunkRecord,
        layout: EcLayout,
        wanted: &[usize],
        shards: &mut [Option<Bytes>],
    ) -> Result<()> {
        let snapshot = self.inner.services.current().await?;
        let deadlines = &self.inner.deadlines;
        let k = layout.k as usize;
        // Every fragment with a known server: the wanted ones first, then the others (data
        // before parity), servers read last lately (missed deadline, lost races) last.
        let mut sources: Vec<(usize, String, &ChunkCopy)> = chunk
            .copies
            .iter()
            .filter_map(|copy| {
                let i = copy.fragment? as usize;
                if i >= shards.len() {
                    return None;
                }
                let addr = snapshot.by_id.get(&copy.service)?.addr.clone();
                Some((i, addr, copy))
            })
            .collect();
        sources.sort_by_key(|(i, addr, _)| (!wanted.contains(i), deadlines.read_last(addr), *i));
        let first_wave = sources
            .iter()
            .filter(|(i, _, _)| wanted.contains(i))
            .count();
        let wanted_suspect = sources
            .iter()
            .take(first_wave)
            .any(|(_, addr, _)| deadlines.read_last(addr));
        let slow = std::time::Duration::from_millis(self.inner.config.fragment_timeout_ms);
        let fetch = |(i, addr, copy): (usize, String, &ChunkCopy)| {
            let chunks = self.inner.chunks.clone();
            let chunk_id = copy.chunk_id.clone();
            let hash = copy.hash.clone();
            async move {
                let started = std::time::Instant::now();
                let outcome = match tokio::time::timeout(slow, chunks.get(&addr, &chunk_id, None))
                    .await
                {
                    Err(_) => {
                        tracing::warn!(server = %addr, fragment = i, "fragment read too slow, decoding around it");
                        Fetched::TimedOut
                    }
                    Ok(Ok(bytes)) if bytes.len() as u64 != layout.fragment_size => {
                        tracing::warn!(server = %addr, fragment = i, "fragment has the wrong size");
                        Fetched::Bad
                    }
                    Ok(Ok(bytes)) => {
                        let ok = hash
                            .as_deref()
                            .is_some_and(|h| blake3::hash(&bytes).to_hex().as_str() == h);
                        if ok {
                            Fetched::Good(bytes)
                        } else {
                            tracing::error!(server = %addr, fragment = i, chunk_id = %chunk_id, "fragment is corrupt");
                            Fetched::Bad
                        }
                    }
                    Ok(Err(e)) => {
                        tracing::warn!(server = %addr, fragment = i, error = %e, "fragment read failed");
                        Fetched::Bad
                    }
                };
                (i, addr, started, outcome)
            }
        };
        let mut queue = sources.into_iter();
        let mut running = futures::stream::FuturesUnordered::new();
        for source in queue.by_ref().take(first_wave) {
            running.push(fetch(source));
        }
        deadlines.first_request();
        // Whether the other fragments are being fetched too: at once when a wanted one has no
        // known server or one that missed a deadline lately.
        let mut widened = first_wave < wanted.len() || wanted_suspect;
        if widened {
            running.extend(queue.by_ref().map(fetch));
        }
        let mut hedge = deadlines.hedge_delay();
        loop {
            let complete = wanted.iter().all(|&i| shards[i].is_some());
            let present = shards.iter().filter(|s| s.is_some()).count();
            if complete || (widened && present >= k) {
                return Ok(());
            }
            let wait = hedge.filter(|_| !widened);
            let timer = async move {
                match wait {
                    Some(d) => tokio::time::sleep(d).await,
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                done = futures::StreamExt::next(&mut running) => {
                    let Some((i, addr, started, outcome)) = done else {
                        return Ok(());
                    };
                    match outcome {
                        Fetched::Good(bytes) => {
                            deadlines.answered(&addr, started.elapsed());
                            shards[i] = Some(bytes);
                        }
                        Fetched::TimedOut | Fetched::Bad => {
                            if matches!(outcome, Fetched::TimedOut) {
                                deadlines.missed_deadline(&addr);
                            }
                            if !widened {
                                widened = true;
                                running.extend(queue.by_ref().map(fetch));
                            }
                        }
                    }
                }
                () = timer => {
                    if deadlines.take_hedge() {
                        tracing::debug!(chunk = chunk.pos, "hedged fragment read: fetching the others too");
                        widened = true;
                        running.extend(queue.by_ref().map(fetch));
                    } else {
                        hedge = None;
                    }
                }
            }
        }
    }

    pub(super) async fn reconstruct(
        &self,
        k: usize,
        m: usize,
        shards: Vec<Option<Bytes>>,
    ) -> Result<Vec<Option<Bytes>>> {
        let codec = self.codec(k, m)?;
        tokio::task::spawn_blocking(move || {
            let mut owned: Vec<Option<Vec<u8>>> =
                shards.into_iter().map(|s| s.map(|b| b.to_vec())).collect();
            codec
                .reconstruct(&mut owned)
                .map_err(|e| Error::Unavailable(format!("erasure decode: {e}")))?;
            Ok(owned.into_iter().map(|s| s.map(Bytes::from)).collect())
        })
        .await
        .map_err(|e| Error::Internal(format!("erasure decode task: {e}")))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn encode_splits_pads_and_hashes() {
        let k = 4;
        let m = 2;
        let codec: Arc<dyn Codec> = Arc::from(policy::ec::codec(k, m).unwrap());
        // 10,001 bytes in uneven pieces: fragment size ceil(10001/4) = 2501, last one padded.
        let data: Vec<u8> = (0..10_001u32).map(|i| (i * 7 % 251) as u8).collect();
        let pieces = vec![
            Bytes::copy_from_slice(&data[..3]),
            Bytes::copy_from_slice(&data[3..5000]),
            Bytes::copy_from_slice(&data[5000..]),
        ];
        let (fragments, layout) = encode(codec.clone(), pieces, data.len() as u64, k, m)
            .await
            .unwrap();
        assert_eq!(layout.fragment_size, 2501);
        assert_eq!(fragments.len(), k + m);
        let mut joined = Vec::new();
        for (bytes, hash) in &fragments {
            assert_eq!(bytes.len(), 2501);
            assert_eq!(blake3::hash(bytes).to_hex().as_str(), hash);
        }
        for (bytes, _) in &fragments[..k] {
            joined.extend_from_slice(bytes);
        }
        assert_eq!(&joined[..data.len()], &data[..]);
        assert!(joined[data.len()..].iter().all(|b| *b == 0));
        // Any two lost fragments come back from the other four.
        let mut shards: Vec<Option<Vec<u8>>> =
            fragments.iter().map(|(b, _)| Some(b.to_vec())).collect();
        shards[1] = None;
        shards[4] = None;
        codec.reconstruct(&mut shards).unwrap();
        assert_eq!(shards[1].as_deref(), Some(&fragments[1].0[..]));
    }
}
