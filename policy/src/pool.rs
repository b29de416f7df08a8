//! Service pools: which chunk servers qualify for a policy, by the slots (tags) they declare.

use serde::{Deserialize, Serialize};

/// A set of chunk servers: those declaring at least one of `slots`. No slots = every server.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pool {
    #[serde(default)]
    pub slots: Vec<String>,
}

impl Pool {
    /// Whether a chunk server with these `slots` belongs to the pool.
    pub fn admits(&self, slots: &[String]) -> bool {
        self.slots.is_empty() || self.slots.iter().any(|s| slots.contains(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn empty_pool_admits_everyone() {
        let p = Pool::default();
        assert!(p.admits(&[]));
        assert!(p.admits(&v(&["hdd"])));
    }

    #[test]
    fn needs_one_matching_slot() {
        let p = Pool {
            slots: v(&["ssd", "nvme"]),
        };
        assert!(p.admits(&v(&["nvme"])));
        assert!(p.admits(&v(&["hdd", "ssd"])));
        assert!(!p.admits(&v(&["hdd"])));
        assert!(!p.admits(&[]));
    }
}
