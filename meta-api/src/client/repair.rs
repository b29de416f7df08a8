//! The reverse index, rebuilds and the repair queue.

use super::MetaClient;
use crate::api::{self, RdirAnswer, RepairOutcome};
use crate::error::Result;
use crate::wire::{
    AddedCopy, ChunkCopy, LocatedChunk, LostService, RebuildStatus, RepairItem, ReplacedCopy,
};

impl MetaClient {
    /// One page of a chunk server's reverse index (`limit` 0: only the count).
    /// Which of `chunk_ids` (at most [`api::RDIR_CHECK_MAX`]) the directory knows nothing of
    /// on `service` (no copy in the reverse index, none queued for deletion).
    pub async fn rdir_unknown(&self, service: &str, chunk_ids: Vec<String>) -> Result<Vec<String>> {
        let req = api::RdirCheck {
            service: service.to_string(),
            chunk_ids,
        };
        Ok(self.call(&req).await?.unknown)
    }

    pub async fn rdir_list(
        &self,
        service: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<RdirAnswer> {
        let req = api::RdirList {
            service: service.to_string(),
            after: after.map(str::to_string),
            limit,
        };
        self.call(&req).await
    }

    /// The chunk holding copy `chunk_id` on `service`, from the record that references it.
    pub async fn locate_chunk(
        &self,
        container: &str,
        key: &str,
        upload: Option<&str>,
        service: &str,
        chunk_id: &str,
    ) -> Result<Option<LocatedChunk>> {
        let req = api::ChunkLocate {
            container: container.to_string(),
            key: key.to_string(),
            upload: upload.map(str::to_string),
            service: service.to_string(),
            chunk_id: chunk_id.to_string(),
        };
        self.call(&req).await
    }

    /// Declares a chunk server lost: its copies are queued for re-creation elsewhere.
    pub async fn rebuild_start(&self, service: &str) -> Result<LostService> {
        let req = api::RebuildStart {
            service: service.to_string(),
            reason: None,
        };
        self.call(&req).await
    }

    /// Moves every copy off a live chunk server (it stays out of placement).
    pub async fn drain(&self, service: &str) -> Result<LostService> {
        let req = api::RebuildStart {
            service: service.to_string(),
            reason: Some("drain".to_string()),
        };
        self.call(&req).await
    }

    /// Removes a retired chunk server that holds nothing from the conscience.
    pub async fn forget_service(&self, service: &str) -> Result<()> {
        let req = api::ServiceForget {
            service: service.to_string(),
        };
        self.call(&req).await.map(drop)
    }

    /// Rebuild progress, the repair queue and its failures.
    pub async fn rebuild_status(&self) -> Result<RebuildStatus> {
        self.call(&api::RebuildStatusGet {}).await
    }

    /// Takes up to `max` repair entries for `lease_ms`.
    pub async fn repair_claim(
        &self,
        worker: &str,
        max: u32,
        lease_ms: u64,
    ) -> Result<Vec<RepairItem>> {
        let req = api::RepairClaim {
            worker: worker.to_string(),
            max,
            lease_ms,
        };
        self.call(&req).await
    }

    /// Records re-created copies (compare-and-set on the records of `key`).
    pub async fn repair_done(
        &self,
        container: &str,
        key: &str,
        upload: Option<&str>,
        replaced: Vec<ReplacedCopy>,
        dropped: Vec<ChunkCopy>,
        added: Vec<AddedCopy>,
    ) -> Result<RepairOutcome> {
        let req = api::RepairDone {
            container: container.to_string(),
            key: key.to_string(),
            upload: upload.map(str::to_string),
            replaced,
            dropped,
            added,
        };
        self.call(&req).await
    }

    /// Reports a failed repair: retried after `retry_after_ms`, or (None) unrepairable.
    pub async fn repair_fail(
        &self,
        service: &str,
        chunk_id: &str,
        error: &str,
        retry_after_ms: Option<u64>,
    ) -> Result<()> {
        let req = api::RepairFail {
            service: service.to_string(),
            chunk_id: chunk_id.to_string(),
            error: error.to_string(),
            retry_after_ms,
        };
        self.call(&req).await.map(drop)
    }
}
