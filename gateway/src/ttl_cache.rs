//! Values looked up in meta by name and kept for a bounded time, so a busy client does not
//! cost one meta round trip per request: S3 credentials, Swift tokens and opened SSE-KMS keys.
//!
//! Only what was found is kept (a miss or a refusal is asked again every time), so a new
//! credential or a key enabled again works at once, while a change that takes something away
//! (a deleted credential, a disabled key) is seen once the kept value is older than the time
//! to live. A time to live of 0 keeps nothing.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most values kept; past it the expired ones are dropped, and if that frees nothing the
/// cache starts over (a crude bound against a client walking many names).
const MAX_ENTRIES: usize = 10_000;

pub struct TtlCache<V> {
    ttl: Duration,
    entries: Mutex<HashMap<String, (Instant, V)>>,
}

impl<V: Clone> TtlCache<V> {
    pub fn new(ttl: Duration) -> TtlCache<V> {
        TtlCache {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The value kept for `key` if it was stored less than the time to live ago.
    pub fn get(&self, key: &str) -> Option<V> {
        self.get_at(key, Instant::now())
    }

    fn get_at(&self, key: &str, now: Instant) -> Option<V> {
        let entries = self.entries.lock().ok()?;
        let (at, value) = entries.get(key)?;
        (now.saturating_duration_since(*at) < self.ttl).then(|| value.clone())
    }

    /// Keeps `value` for `key` from now on.
    pub fn insert(&self, key: &str, value: V) {
        self.insert_at(key, value, Instant::now());
    }

    fn insert_at(&self, key: &str, value: V, now: Instant) {
        if self.ttl.is_zero() {
            return;
        }
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= MAX_ENTRIES {
            let ttl = self.ttl;
            entries.retain(|_, (at, _)| now.saturating_duration_since(*at) < ttl);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(key.to_string(), (now, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_kept_for_the_time_to_live_only() {
        let c = TtlCache::new(Duration::from_secs(10));
        let t0 = Instant::now();
        assert_eq!(c.get_at("a", t0), None);
        c.insert_at("a", 1, t0);
        assert_eq!(c.get_at("a", t0), Some(1));
        assert_eq!(c.get_at("a", t0 + Duration::from_millis(9_999)), Some(1));
        assert_eq!(c.get_at("a", t0 + Duration::from_secs(10)), None, "expired");
        assert_eq!(c.get_at("b", t0), None);
        // Stored again: kept from then on.
        c.insert_at("a", 2, t0 + Duration::from_secs(10));
        assert_eq!(c.get_at("a", t0 + Duration::from_secs(19)), Some(2));
        assert_eq!(c.get_at("a", t0 + Duration::from_secs(20)), None);
    }

    #[test]
    fn a_zero_time_to_live_keeps_nothing() {
        let c = TtlCache::new(Duration::ZERO);
        let t0 = Instant::now();
        c.insert_at("a", 1, t0);
        assert_eq!(c.get_at("a", t0), None);
    }

    #[test]
    fn a_full_cache_drops_the_expired_values_first() {
        let c = TtlCache::new(Duration::from_secs(10));
        let t0 = Instant::now();
        for i in 0..MAX_ENTRIES - 1 {
            c.insert_at(&format!("old{i}"), i, t0);
        }
        c.insert_at("young", 0, t0 + Duration::from_secs(5));
        // Full: the expired ones go, the young one stays.
        let later = t0 + Duration::from_secs(12);
        c.insert_at("new", 1, later);
        assert_eq!(c.get_at("young", later), Some(0));
        assert_eq!(c.get_at("new", later), Some(1));
        assert_eq!(c.entries.lock().map(|e| e.len()).unwrap_or(0), 2);
    }
}
