//! The gateway's view of the conscience: the chunk servers meta knows, with live scores,
//! refreshed from meta at most every `services_refresh_ms` and shared by all requests.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use meta::client::MetaClient;
use meta::wire::ServiceRecord;

use crate::error::Result;

/// A snapshot of the chunk servers, by service id.
pub struct Snapshot {
    pub by_id: HashMap<String, ServiceRecord>,
}

impl Snapshot {
    /// Chunk servers that may receive new chunks, as placement candidates.
    pub fn candidates(&self) -> Vec<policy::Candidate> {
        self.by_id
            .values()
            .filter(|s| s.score > 0)
            .map(|s| policy::Candidate {
                id: s.id.clone(),
                addr: s.addr.clone(),
                location: s.location.clone(),
                score: s.score,
            })
            .collect()
    }
}

pub struct ServiceDirectory {
    meta: MetaClient,
    refresh: Duration,
    cached: Mutex<Option<(Instant, Arc<Snapshot>)>>,
    /// Serialises refreshes so a burst of requests triggers one meta call.
    refreshing: tokio::sync::Mutex<()>,
}

impl ServiceDirectory {
    pub fn new(meta: MetaClient, refresh_ms: u64) -> ServiceDirectory {
        ServiceDirectory {
            meta,
            refresh: Duration::from_millis(refresh_ms.max(50)),
            cached: Mutex::new(None),
            refreshing: tokio::sync::Mutex::new(()),
        }
    }

    fn fresh(&self) -> Option<Arc<Snapshot>> {
        let guard = self.cached.lock().ok()?;
        match &*guard {
            Some((at, snap)) if at.elapsed() < self.refresh => Some(snap.clone()),
            _ => None,
        }
    }

    /// The current snapshot, refreshed from meta when stale.
    pub async fn current(&self) -> Result<Arc<Snapshot>> {
        if let Some(s) = self.fresh() {
            return Ok(s);
        }
        let _one = self.refreshing.lock().await;
        if let Some(s) = self.fresh() {
            return Ok(s);
        }
        let list = self.meta.list_services(Some("chunkd")).await?;
        let snap = Arc::new(Snapshot {
            by_id: list.into_iter().map(|s| (s.id.clone(), s)).collect(),
        });
        if let Ok(mut guard) = self.cached.lock() {
            *guard = Some((Instant::now(), snap.clone()));
        }
        Ok(snap)
    }
}
