//! chunkd — the Spread chunk server.
//!
//! A chunk server stores chunks as plain files on one volume, each file carrying its reverse
//! metadata in a footer (see [`chunkfile`]), serves them over HTTP ([`server`]), and registers
//! and heartbeats to meta ([`heartbeat`]). [`client::ChunkClient`] is what the gateway uses to
//! talk to chunk servers.

pub mod chunkfile;
pub mod client;
pub mod config;
mod dirsync;
pub mod error;
pub mod heartbeat;
pub mod metrics;
pub mod newchunk;
pub mod orphans;
pub mod pieces;
pub mod range;
pub mod scrub;
pub mod server;
pub mod sysstats;
pub mod volume;
pub mod wire;

use bytes::Bytes;
use rand::RngCore;

pub use client::ChunkClient;
pub use config::Config;
pub use error::{Error, Result};
pub use wire::{ChunkMeta, VolumeInfo};

/// A fresh random chunk id: 64 lowercase hex characters (256 random bits).
pub fn new_chunk_id() -> String {
    let mut buf = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

/// BLAKE3 of the concatenation of `parts`, lowercase hex.
pub fn blake3_hex(parts: &[Bytes]) -> String {
    let mut hasher = blake3::Hasher::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().to_hex().to_string()
}

/// True if `id` is a valid chunk id: exactly 64 lowercase hex characters.
pub fn is_valid_chunk_id(id: &str) -> bool {
    id.len() == 64
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}
