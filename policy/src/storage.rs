//! Storage policies: how an object's chunks are protected and how big they are.

use serde::{Deserialize, Serialize};

/// How a chunk is protected (issue 2 only needs replication; EC is reserved for later).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DataSecurity {
    /// `copies` full copies on distinct chunk servers.
    Replicate { copies: usize },
    /// Reed-Solomon: `k` data pieces plus `m` parity pieces.
    Ec { k: usize, m: usize },
}

/// A named storage policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoragePolicy {
    pub name: String,
    pub security: DataSecurity,
    /// Size objects are cut into, in bytes.
    pub chunk_size: u64,
    /// Minimum location distance between the pieces of one chunk (0 = anything goes).
    pub min_distance: usize,
}

impl StoragePolicy {
    /// A replication policy with `copies` copies and no minimum distance.
    pub fn replicated(name: impl Into<String>, copies: usize, chunk_size: u64) -> Self {
        StoragePolicy {
            name: name.into(),
            security: DataSecurity::Replicate { copies },
            chunk_size,
            min_distance: 0,
        }
    }

    /// Number of pieces (copies or EC fragments) written for each chunk.
    pub fn pieces(&self) -> usize {
        match self.security {
            DataSecurity::Replicate { copies } => copies,
            DataSecurity::Ec { k, m } => k + m,
        }
    }

    /// Pieces that must be durable for a chunk write to count: a majority of the copies for
    /// replication, `k + 1` for erasure coding (capped at the number of pieces).
    pub fn write_quorum(&self) -> usize {
        match self.security {
            DataSecurity::Replicate { copies } => copies / 2 + 1,
            DataSecurity::Ec { k, m } => (k + 1).min(k + m),
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
        assert_eq!(p.min_distance, 0);
        assert_eq!(StoragePolicy::replicated("one", 1, 1).write_quorum(), 1);
        assert_eq!(StoragePolicy::replicated("two", 2, 1).write_quorum(), 2);
        assert_eq!(StoragePolicy::replicated("five", 5, 1).write_quorum(), 3);
    }

    #[test]
    fn ec_policy() {
        let p = StoragePolicy {
            name: "EC6+3".into(),
            security: DataSecurity::Ec { k: 6, m: 3 },
            chunk_size: 1 << 20,
            min_distance: 1,
        };
        assert_eq!(p.pieces(), 9);
        assert_eq!(p.write_quorum(), 7);
    }

    #[test]
    fn serde_round_trip() {
        let p = StoragePolicy::replicated("r3", 3, 1024);
        let json = serde_json::to_string(&p).unwrap();
        let back: StoragePolicy = serde_json::from_str(&json).unwrap();
        assert_eq!(back, p);
    }
}
