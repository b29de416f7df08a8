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
    /// For a short chunk: the pieces its policy asks for (also kept by a lost or rotten copy
    /// whose entry took over a short one, command version 12).
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
///
/// Version 1: `total_chunks`/`total_bytes` were counted when the server was declared lost, by
/// one walk over its whole reverse index (a `MarkLost` of command version < 10, still applied
/// that way when replayed: see `Store::apply_mark_lost`). Version 2: they are counted as the
/// pages of copies are queued (`QueueRebuild`), so they grow until `queued_all` and are final
/// only then. The fields are the same; the version says what the totals mean, and a version-1
/// record keeps version 1 when it is rewritten (its totals stay final), so the directory a log
/// of older commands builds is the same as the older binary built it.
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

/// The lost record version whose totals are counted page by page.
pub const LOST_COUNTED_BY_PAGE: u32 = 2;

impl LostRecord {
    /// Whether the totals grow as pages are queued (version 2), rather than being counted at
    /// once when the server was declared lost (version 1).
    pub fn counted_by_page(&self) -> bool {
        self.v >= LOST_COUNTED_BY_PAGE
    }

    /// Whether the totals are still being counted (more pages to queue).
    pub fn counting(&self) -> bool {
        self.counted_by_page() && !self.queued_all
    }

    /// Whether copy `chunk_id` is in the totals: every copy of a version-1 record; of a
    /// version-2 one, those up to the cursor (the pages queued so far).
    pub fn counts(&self, chunk_id: &str) -> bool {
        !self.counted_by_page()
            || self
                .cursor
                .as_deref()
                .is_some_and(|c| chunk_id.as_bytes() <= c.as_bytes())
    }
}

impl Record for LostRecord {
    const KIND: &'static str = "lost";
    const VERSION: u32 = LOST_COUNTED_BY_PAGE;
    fn version(&self) -> u32 {
        self.v
    }

    /// A version-1 record has the same fields: it is read as it is and keeps its version (its
    /// totals were counted at once).
    fn upgrade(version: u32, bytes: &[u8]) -> meta_api::error::Result<Self> {
        if version != 1 {
            return Err(meta_api::error::Error::Db(format!(
                "lost record version {version} has no upgrade path"
            )));
        }
        serde_json::from_slice::<LostRecord>(bytes)
            .map(|r| LostRecord { v: 1, ..r })
            .map_err(|e| meta_api::error::Error::Db(format!("corrupt lost record (v1): {e}")))
    }
}
