//! Disk records of self-healing: the reverse index (`rdir`), the repair queue (`repair`) and
//! lost services (`lost`), all in the directory environment.

use super::{Record, v1};
use meta_api::wire::RepairReason;
use serde::{Deserialize, Serialize};

/// A copy or fragment of one chunk, as listed in an rdir entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PieceV1 {
    pub service: String,
    pub chunk_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fragment: Option<u32>,
}

/// Value of `rdir[service ‖ NUL ‖ chunk id]`: the object holding the copy.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RdirRecord {
    #[serde(default = "v1")]
    pub v: u32,
    pub container: String,
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload: Option<String>,
    pub pos: u32,
    pub size: u64,
    pub policy: String,
    pub needed: u32,
    pub copies: Vec<PieceV1>,
}

impl Record for RdirRecord {
    const KIND: &'static str = "rdir";
    const VERSION: u32 = 1;
    fn version(&self) -> u32 {
        self.v
    }
}

/// Value of a repair queue entry (`repair[redundancy ‖ service ‖ NUL ‖ chunk id]`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RepairRecord {
    #[serde(default = "v1")]
    pub v: u32,
    pub container: String,
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload: Option<String>,
    pub reason: RepairReason,
    pub size: u64,
    pub queued_ms: i64,
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    pub next_try_ms: i64,
    pub lease_until_ms: i64,
    /// For a short chunk: the pieces its policy asks for.
    #[serde(default)]
    pub wanted: u32,
}

impl Record for RepairRecord {
    const KIND: &'static str = "repair";
    const VERSION: u32 = 1;
    fn version(&self) -> u32 {
        self.v
    }
}

/// Value of `lost[service]`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LostRecord {
    #[serde(default = "v1")]
    pub v: u32,
    pub reason: String,
    pub since_ms: i64,
    pub total_chunks: u64,
    pub total_bytes: u64,
    pub done_chunks: u64,
    pub done_bytes: u64,
    #[serde(default)]
    pub last_done_ms: i64,
    /// The last chunk id queued (rdir order); `None` before the first page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    pub queued_all: bool,
}

impl Record for LostRecord {
    const KIND: &'static str = "lost";
    const VERSION: u32 = 1;
    fn version(&self) -> u32 {
        self.v
    }
}
