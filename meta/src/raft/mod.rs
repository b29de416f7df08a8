//! Meta's replication ground: the types, log store and state machine that `openraft` (0.9,
//! `storage-v2`) drives.
//!
//! - [`log_store::LogStore`]: the Raft log and vote in their own LMDB environment
//!   (`<data_dir>/raft`); an append is reported durable only after its transaction commits.
//! - [`state_machine::StateMachine`]: the directory and meta2 environments ([`Store`]),
//!   changed only by applying logged [`Command`]s; the last applied log id and membership are
//!   kept in the directory. Snapshots are compacted LMDB copies of every environment, packed
//!   in one file so openraft can stream them in bounded chunks.
//!
//! Every record written here carries a version (`v`) and a newer one is refused.
//!
//! [`Store`]: crate::store::Store
//! [`Command`]: crate::store::Command

pub mod log_store;
pub mod network;
pub mod node;
pub mod state_machine;

#[cfg(test)]
mod tests;

use crate::store::{Command, Outcome};
use meta_api::wire::ErrorBody;
use serde::{Deserialize, Serialize};

openraft::declare_raft_types!(
    /// Spread meta's Raft types: a log entry carries a [`Proposal`] (commands proposed
    /// together), applying it answers an [`Applied`]; snapshots are files.
    pub TypeConfig:
        D = Proposal,
        R = Applied,
        NodeId = u64,
        Node = MetaNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = tokio::fs::File,
        AsyncRuntime = openraft::TokioRuntime,
);

/// A member of the meta group as its membership records it: where peers reach it, and the
/// incarnation of the data directory it was added with. A node draws its incarnation (a random
/// number) when its data directory is first opened; a peer sends the incarnation it knows with
/// every Raft message, and a node whose own differs (its data directory was wiped or replaced,
/// so it forgot its log and its votes) refuses the message and stops, instead of voting again
/// in terms it already voted in.
///
/// Encoded as openraft's `BasicNode` was (`{"addr": …}`), plus `incarnation`, so memberships
/// written before incarnations existed still read (their incarnation is 0: unknown, unchecked,
/// until the leader learns it; see `Node::learn_incarnations`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetaNode {
    pub addr: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub incarnation: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl MetaNode {
    pub fn new(addr: impl Into<String>, incarnation: u64) -> MetaNode {
        MetaNode {
            addr: addr.into(),
            incarnation,
        }
    }
}

impl std::fmt::Display for MetaNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.incarnation == 0 {
            write!(f, "{}", self.addr)
        } else {
            write!(f, "{} (incarnation {:016x})", self.addr, self.incarnation)
        }
    }
}

/// The commands of one log entry: the leader proposes the commands its clients sent while the
/// previous proposal was being written, together, so one log append (one fsync) and one
/// state-machine batch serve them all.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Proposal {
    /// Version of the command encoding ([`crate::store::COMMAND_VERSION`]); a node refuses to
    /// apply a newer one.
    pub v: u32,
    pub commands: Vec<Command>,
}

/// What applying one log entry answered: per command, its outcome or its error (as the error
/// travels on the wire). A blank or membership entry answers no command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Applied(pub Vec<std::result::Result<Outcome, ErrorBody>>);

/// Most commands in one log entry: a command's position is the low 16 bits of its index in
/// the store (`log index << 16 | position`), so that replay finds each command exactly.
pub const MAX_PROPOSAL: usize = 1024;

/// The store index of command `pos` of log entry `index`.
pub fn command_index(index: u64, pos: usize) -> u64 {
    (index << 16) | (pos as u64 & 0xffff)
}

/// Storage errors as openraft takes them.
pub type StorageError = openraft::StorageError<u64>;
pub type LogId = openraft::LogId<u64>;
pub type Vote = openraft::Vote<u64>;
pub type Entry = openraft::Entry<TypeConfig>;
pub type StoredMembership = openraft::StoredMembership<u64, MetaNode>;
pub type SnapshotMeta = openraft::SnapshotMeta<u64, MetaNode>;

/// Runs blocking LMDB work off the async runtime; a panic in it is reported as an error.
async fn blocking<T, F>(f: F) -> std::result::Result<T, String>
where
    T: Send + 'static,
    F: FnOnce() -> std::result::Result<T, String> + Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) => Err(format!("storage task failed: {e}")),
    }
}

/// An error message as the source openraft's storage errors carry.
fn any(msg: impl Into<String>) -> openraft::AnyError {
    openraft::AnyError::error(msg.into())
}
