//! The gateway's view of the conscience: the chunk servers meta knows, with live scores,
//! refreshed from meta at most every `services_refresh_ms` and shared by all requests.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use meta_api::client::MetaClient;
use meta_api::wire::ServiceRecord;

use super::cache::Refreshed;
use crate::error::Result;

/// A snapshot of the chunk servers, by service id.
pub struct Snapshot {
    pub by_id: HashMap<String, ServiceRecord>,
}

/// A service as a placement candidate.
pub fn candidate(s: &ServiceRecord) -> policy::Candidate {
    policy::Candidate {
        id: s.id.clone(),
        addr: s.addr.clone(),
        location: s.location.clone(),
        score: s.score,
        slots: s.slots.clone(),
    }
}

impl Snapshot {
    /// Chunk servers that may receive new chunks, as placement candidates.
    pub fn candidates(&self) -> Vec<policy::Candidate> {
        self.by_id
            .values()
            .filter(|s| s.score > 0)
            .map(candidate)
            .collect()
    }
}

pub struct ServiceDirectory {
    meta: MetaClient,
    cache: Refreshed<Snapshot>,
}

impl ServiceDirectory {
    pub fn new(meta: MetaClient, refresh_ms: u64) -> ServiceDirectory {
        ServiceDirectory {
            meta,
            cache: Refreshed::new(Duration::from_millis(refresh_ms.max(50))),
        }
    }

    /// The current snapshot, refreshed from meta when stale.
    pub async fn current(&self) -> Result<Arc<Snapshot>> {
        self.cache
            .get(|| async {
                let list = self.meta.list_services(Some("chunkd")).await?;
                Ok(Snapshot {
                    by_id: list.into_iter().map(|s| (s.id.clone(), s)).collect(),
                })
            })
            .await
    }
}
