//! Storage policies: how an object's chunks are protected (copies or K+M erasure coding), how big
//! they are, how far apart their pieces must be and which chunk servers may hold them.

use serde::{Deserialize, Serialize};

/// The pool every chunk server belongs to.
pub const ALL_POOL: &str = "all";

/// How a chunk is protected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DataSecurity {
    /// `copies` full copies on distinct chunk servers.
    Replicate { copies: usize },
    /// Reed-Solomon: `k` data fragments plus `m` parity fragments, on distinct chunk servers.
    Ec { k: usize, m: usize },
}

/// A named storage policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoragePolicy {
    pub name: String,
    pub security: DataSecurity,
    /// Size objects are cut into (the metachunk size under erasure coding), in bytes.
    pub chunk_size: u64,
    /// Minimum location distance between the pieces of one chunk (0 = anything goes).
    pub min_distance: usize,
    /// The service pool whose chunk servers may hold this policy's pieces (`"all"` = every one).
    #[serde(default = "all_pool")]
    pub pool: String,
    /// Pieces that must be durable for a chunk write to count; 0 = the default for the
    /// security (see [`StoragePolicy::write_quorum`]).
    #[serde(default)]
    pub write_quorum: usize,
}

fn all_pool() -> String {
    ALL_POOL.to_string()
}

/// The write quorum a policy gets when none is given: a majority of the copies, or `k + 1`.
pub fn default_write_quorum(security: &DataSecurity) -> usize {
    match *security {
        DataSecurity::Replicate { copies } => copies / 2 + 1,
        DataSecurity::Ec { k, m } => (k + 1).min(k + m),
    }
}

impl StoragePolicy {
    /// A replication policy with `copies` copies, no minimum distance, pool `"all"` and the
    /// default (majority) write quorum.
    pub fn replicated(name: impl Into<String>, copies: usize, chunk_size: u64) -> Self {
        let security = DataSecurity::Replicate { copies };
        StoragePolicy {
            name: name.into(),
            write_quorum: default_write_quorum(&security),
            security,
            chunk_size,
            min_distance: 0,
            pool: all_pool(),
        }
    }

    /// An erasure-coding policy `k + m` with metachunks of `chunk_size`, minimum distance 1
    /// (distinct locations), pool `"all"` and write quorum `k + 1`.
    pub fn erasure(name: impl Into<String>, k: usize, m: usize, chunk_size: u64) -> Self {
        let security = DataSecurity::Ec { k, m };
        StoragePolicy {
            name: name.into(),
            write_quorum: default_write_quorum(&security),
            security,
            chunk_size,
            min_distance: 1,
            pool: all_pool(),
        }
    }

    /// Number of pieces (copies or EC fragments) written for each chunk.
    pub fn pieces(&self) -> usize {
        match self.security {
            DataSecurity::Replicate { copies } => copies,
            DataSecurity::Ec { k, m } => k + m,
        }
    }

    /// Pieces that must be durable for a chunk write to count: the `write_quorum` field, or when
    /// it is 0 a majority of the copies for replication and `k + 1` for erasure coding; never
    /// more than [`pieces`](Self::pieces), and for erasure coding never less than `k`.
    pub fn write_quorum(&self) -> usize {
        let q = if self.write_quorum == 0 {
            default_write_quorum(&self.security)
        } else {
            self.write_quorum
        };
        let floor = match self.security {
            DataSecurity::Replicate { .. } => 1,
            DataSecurity::Ec { k, .. } => k,
        };
        q.max(floor).min(self.pieces())
    }

    /// `Some((k, m))` for an erasure-coding policy.
    pub fn ec(&self) -> Option<(usize, usize)> {
        match self.security {
            DataSecurity::Ec { k, m } => Some((k, m)),
            DataSecurity::Replicate { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicated_policy() {
        let p = StoragePolicy::replicated("THREECOPIES", 3, 8 << 20);
        assert_eq!(p.name, "THREECOPIES");
        assert_eq!(p.pieces(), 3);
        assert_eq!(p.write_quorum(), 2);
        assert_eq!(p.write_quorum, 2);
        assert_eq!(p.min_distance, 0);
        assert_eq!(p.pool, "all");
        assert_eq!(p.ec(), None);
        assert_eq!(StoragePolicy::replicated("one", 1, 1).write_quorum(), 1);
        assert_eq!(StoragePolicy::replicated("two", 2, 1).write_quorum(), 2);
        assert_eq!(StoragePolicy::replicated("five", 5, 1).write_quorum(), 3);
    }

    #[test]
    fn ec_policy() {
        let p = StoragePolicy::erasure("EC6+3", 6, 3, 1 << 20);
        assert_eq!(p.pieces(), 9);
        assert_eq!(p.write_quorum(), 7);
        assert_eq!(p.min_distance, 1);
        assert_eq!(p.ec(), Some((6, 3)));
    }

    #[test]
    fn explicit_and_out_of_range_write_quorum() {
        let mut p = StoragePolicy::erasure("EC42", 4, 2, 1 << 20);
        p.write_quorum = 6;
        assert_eq!(p.write_quorum(), 6);
        p.write_quorum = 9; // capped at the pieces
        assert_eq!(p.write_quorum(), 6);
        p.write_quorum = 2; // never below k
        assert_eq!(p.write_quorum(), 4);
        p.write_quorum = 0; // default
        assert_eq!(p.write_quorum(), 5);
    }

    #[test]
    fn serde_round_trip() {
        let p = StoragePolicy::replicated("r3", 3, 1024);
        let json = serde_json::to_string(&p).unwrap();
        let back: StoragePolicy = serde_json::from_str(&json).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn serde_defaults_for_records_without_the_new_fields() {
        let json = r#"{"name":"r3","security":{"Replicate":{"copies":3}},"chunk_size":1024,"min_distance":0}"#;
        let p: StoragePolicy = serde_json::from_str(json).unwrap();
        assert_eq!(p.pool, "all");
        assert_eq!(p.write_quorum, 0);
        assert_eq!(p.write_quorum(), 2);
    }
}
