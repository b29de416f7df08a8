//! Container records kept by a client for a short time, so that requests on a busy container
//! do not each cost a meta round trip to learn its owner and settings.
//!
//! A change made through the same client (or one of its clones) drops the entry at once; a
//! change made by another process (another gateway, `spread admin`) is seen within the
//! time to live. Usage counters (`objects`, `bytes`) of a kept record may be that old too.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::wire::ContainerInfo;

/// Most containers kept; past it the cache starts over (a crude bound against a client
/// walking many names).
const MAX_ENTRIES: usize = 10_000;

pub(crate) struct ContainerCache {
    ttl: Duration,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    entries: HashMap<String, (Instant, ContainerInfo)>,
    /// Bumped by every invalidation: a lookup that started before one must not store what
    /// it fetched, which may predate the change.
    generation: u64,
}

impl ContainerCache {
    pub(crate) fn new(ttl: Duration) -> ContainerCache {
        ContainerCache {
            ttl,
            state: Mutex::new(State::default()),
        }
    }

    /// The kept record of `name` if it is younger than the time to live, and the generation
    /// to hand back to [`store`](Self::store) after a fetch.
    pub(crate) fn lookup(&self, name: &str) -> (Option<ContainerInfo>, u64) {
        let Ok(state) = self.state.lock() else {
            return (None, u64::MAX);
        };
        let hit = state
            .entries
            .get(name)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, info)| info.clone());
        (hit, state.generation)
    }

    /// Keeps `info` unless an invalidation happened since `generation` was read.
    pub(crate) fn store(&self, info: &ContainerInfo, generation: u64) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        if state.generation != generation {
            return;
        }
        if state.entries.len() >= MAX_ENTRIES {
            state.entries.clear();
        }
        state
            .entries
            .insert(info.name.clone(), (Instant::now(), info.clone()));
    }

    /// Drops the record of `name`: it is being changed.
    pub(crate) fn forget(&self, name: &str) {
        if let Ok(mut state) = self.state.lock() {
            state.generation = state.generation.wrapping_add(1);
            state.entries.remove(name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ContainerSettings;

    fn info(name: &str, account: &str) -> ContainerInfo {
        ContainerInfo {
            account: account.to_string(),
            name: name.to_string(),
            cid: String::new(),
            created_ms: 0,
            settings: ContainerSettings::default(),
            objects: 0,
            bytes: 0,
            meta2: Vec::new(),
        }
    }

    #[test]
    fn kept_until_forgotten_or_expired() {
        let cache = ContainerCache::new(Duration::from_secs(60));
        let (hit, generation) = cache.lookup("b");
        assert!(hit.is_none());
        cache.store(&info("b", "acct"), generation);
        assert_eq!(cache.lookup("b").0.map(|c| c.account), Some("acct".into()));
        cache.forget("b");
        assert!(cache.lookup("b").0.is_none());

        let expired = ContainerCache::new(Duration::ZERO);
        let (_, generation) = expired.lookup("b");
        expired.store(&info("b", "acct"), generation);
        assert!(expired.lookup("b").0.is_none());
    }

    #[test]
    fn a_fetch_that_raced_a_change_is_not_kept() {
        let cache = ContainerCache::new(Duration::from_secs(60));
        let (_, before) = cache.lookup("b");
        // Another request changes the container while this one's fetch is in flight.
        cache.forget("b");
        cache.store(&info("b", "old-owner"), before);
        assert!(cache.lookup("b").0.is_none());
    }
}
