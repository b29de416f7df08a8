//! A meta node: openraft over the log store ([`LogStore`]) and the state machine
//! ([`StateMachine`]), with the HTTP network ([`Network`]).
//!
//! - Every command of the store goes through the log: the store's write methods call
//!   [`Node::write`] (from the blocking thread they run on), which proposes the command to
//!   the Raft group and returns the answer of its application, on this node, once committed.
//! - Only the leader serves requests; another node answers `NotLeader` naming the leader, and
//!   clients follow. Reads first pass [`Node::read_barrier`] (openraft's linearizable read), so
//!   a leader that was deposed without knowing it answers no stale read.
//! - A storage error makes openraft stop the node; [`Node::start`] watches for that and exits
//!   the process with a clear log line rather than serving from a node that cannot write.

use super::log_store::LogStore;
use super::network::Network;
use super::state_machine::{Digests, StateMachine, StoreHandle};
use super::{Applied, MAX_PROPOSAL, MetaNode, Proposal, TypeConfig};
use crate::config::Config;
use crate::metrics::RaftInstruments;
use crate::store::{Command, Outcome, Submit};
use meta_api::api::{GroupMember, GroupStatus, MarkAnswer, NodeDigest};
use meta_api::error::{Error, Result};
use openraft::error::{ClientWriteError, RaftError};
use openraft::{ChangeMembers, Raft, ServerState, SnapshotPolicy};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc, oneshot};

/// A running meta node.
pub struct Node {
    pub id: u64,
    /// This data directory's incarnation ([`MetaNode`]).
    pub incarnation: u64,
    /// The connections to peers (also used to ask a new node who it is).
    network: Network,
    pub raft: Raft<TypeConfig>,
    store: Arc<StoreHandle>,
    /// Commands waiting to be proposed (see [`propose`]).
    proposals: mpsc::Sender<Pending>,
    /// Reads waiting for a leadership confirmation (see [`confirm_reads`]).
    reads: mpsc::Sender<oneshot::Sender<Barrier>>,
    /// The Raft log's environment.
    log_path: std::path::PathBuf,
    /// What the Raft parts count (the committed index for readiness).
    observer: RaftInstruments,
    /// The node's data directory (its snapshots, for a backup).
    data_dir: std::path::PathBuf,
    /// The state's digests at verify markers.
    digests: Digests,
}

fn unavailable(e: impl std::fmt::Display) -> Error {
    Error::Unavailable(format!("meta group: {e}"))
}

impl Node {
    /// Opens the node's log and state under `config.data_dir` and starts Raft. A node whose
    /// log is empty and whose config says `bootstrap` starts a group of one (itself, at
    /// `advertise`); others wait to be added by the leader (`meta add`).
    pub async fn start(
        config: &Config,
        advertise: &str,
        peer_signer: Option<internal_auth::Signer>,
        observer: RaftInstruments,
    ) -> Result<Arc<Node>> {
        let path = config.data_dir.join("raft");
        let wanted = config.node_id;
        let log_observer = observer.clone();
        let (log, incarnation) = tokio::task::spawn_blocking(move || -> Result<(LogStore, u64)> {
            let log = LogStore::open(&path)?;
            let incarnation = log.claim_node_id(wanted)?;
            Ok((log.observed(log_observer)?, incarnation))
        })
        .await
        .map_err(|e| Error::Internal(format!("opening the Raft log: {e}")))??;
        let submit: Arc<OnceLock<Submit>> = Arc::new(OnceLock::new());
        let sm = {
            let (config, addr, submit) = (config.clone(), advertise.to_string(), submit.clone());
            tokio::task::spawn_blocking(move || StateMachine::open(&config, &addr, Some(submit)))
                .await
                .map_err(|e| Error::Internal(format!("opening the store: {e}")))??
                .observed(observer.clone())
        };
        let store = sm.store();
        let digests = sm.digests();
        let raft_config = openraft::Config {
            cluster_name: "spread-meta".to_string(),
            heartbeat_interval: config.raft_heartbeat_ms,
            election_timeout_min: config.raft_election_timeout_ms,
            election_timeout_max: election_timeout_max(config.raft_election_timeout_ms),
            snapshot_policy: SnapshotPolicy::LogsSinceLast(config.raft_snapshot_logs),
            max_in_snapshot_log_to_keep: config.raft_snapshot_logs / 2,
            install_snapshot_timeout: 10_000,
            ..Default::default()
        }
        .validate()
        .map_err(|e| Error::InvalidArgument(format!("Raft settings: {e}")))?;
        let network = Network::new(peer_signer, config.peer_addrs()?);
        let raft = Raft::new(
            config.node_id,
            Arc::new(raft_config),
            network.clone(),
            log,
            sm,
        )
        .await
        .map_err(|e| Error::Internal(format!("starting Raft: {e}")))?;
        if config.bootstrap && !raft.is_initialized().await.map_err(unavailable)? {
            if let Err(line) = no_group_among(
                &network,
                config.node_id,
                &config.bootstrap_peers(advertise)?,
            )
            .await
            {
                // Nothing is served yet: stop at once (code 78, as other refusals).
                say_refused(&line);
                std::process::exit(78);
            }
            let members = BTreeMap::from([(config.node_id, MetaNode::new(advertise, incarnation))]);
            match raft.initialize(members).await {
                Ok(()) => tracing::info!(id = config.node_id, "started a meta group of one"),
                Err(e) => tracing::warn!(error = %e, "initializing the meta group"),
            }
        }
        let (proposals, queue) = mpsc::channel(PROPOSAL_QUEUE);
        tokio::spawn(propose(raft.clone(), queue, observer.clone()));
        let (reads, waiting) = mpsc::channel(READ_QUEUE);
        tokio::spawn(confirm_reads(raft.clone(), waiting));
        let node = Arc::new(Node {
            id: config.node_id,
            incarnation,
            network,
            raft,
            store,
            proposals,
            reads,
            log_path: config.data_dir.join("raft"),
            observer,
            data_dir: config.data_dir.clone(),
            digests,
        });
        let weak = Arc::downgrade(&node);
        let handle = tokio::runtime::Handle::current();
        let route: Submit = Arc::new(move |command: Command| {
            let node = weak
                .upgrade()
                .ok_or_else(|| Error::Unavailable("the meta node is stopping".into()))?;
            handle.block_on(node.write(command))
        });
        if submit.set(route).is_err() {
            return Err(Error::Internal("the write path was set twice".into()));
        }
        watch_fatal(&node);
        tokio::spawn(learn_incarnations(Arc::downgrade(&node)));
        node.await_leader(config.bootstrap).await;
        Ok(node)
    }

    /// Waits (bounded) until the group has a leader. A group of one elects itself at once
    /// rather than after an election timeout, so a restarted single meta serves again quickly;
    /// a joining node (`bootstrap = false`, in no group yet) does not wait: it is added later.
    async fn await_leader(&self, bootstrap: bool) {
        let (alone, outside) = {
            let m = self.raft.metrics().borrow().clone();
            let voters: Vec<u64> = m.membership_config.membership().voter_ids().collect();
            (voters == [self.id], voters.is_empty() && !bootstrap)
        };
        if outside {
            // A new node learns of the group only when the leader adds it.
            tracing::info!(
                id = self.id,
                "not a member of a meta group yet: waiting to be added (spread admin meta add)"
            );
            return;
        }
        if alone && let Err(e) = self.raft.trigger().elect().await {
            tracing::warn!(error = %e, "starting an election");
        }
        let waited = self
            .raft
            .wait(Some(Duration::from_secs(10)))
            .metrics(|m| m.current_leader.is_some(), "a leader is known")
            .await;
        match waited {
            Ok(m) => {
                tracing::info!(leader = ?m.current_leader, term = m.current_term, "meta group ready")
            }
            Err(e) => tracing::warn!(error = %e, "no meta leader yet; serving anyway"),
        }
    }

    /// What this node's Raft parts count.
    pub fn observer(&self) -> &RaftInstruments {
        &self.observer
    }

    /// The store requests read.
    pub fn store(&self) -> Arc<crate::store::Store> {
        self.store.get()
    }

    /// `Ok` when this node is the leader, else `NotLeader` with the leader's address if known.
    pub fn check_leader(&self) -> Result<()> {
        let m = self.raft.metrics().borrow().clone();
        if m.state == ServerState::Leader {
            return Ok(());
        }
        let addr = m.current_leader.and_then(|l| {
            m.membership_config
                .membership()
                .get_node(&l)
                .map(|n| n.addr.clone())
        });
        Err(Error::NotLeader(addr))
    }

    /// Proposes `command` (with the other commands waiting, in one log entry) and returns
    /// the answer of its application. A deposed leader's pending write may still be committed
    /// by the next leader, so losing leadership while writing answers `Unavailable` (outcome
    /// unknown), not `NotLeader`.
    pub async fn write(&self, command: Command) -> Result<Outcome> {
        let (reply, answer) = oneshot::channel();
        self.proposals
            .send(Pending { command, reply })
            .await
            .map_err(|_| Error::Unavailable("the meta node is stopping".into()))?;
        answer
            .await
            .map_err(|_| Error::Unavailable("the meta node stopped before answering".into()))?
    }

    /// Waits until this node may answer a read linearizably (it is the leader, confirmed by a
    /// quorum, and has applied everything committed before the read began).
    /// Concurrent reads share confirmations ([`confirm_reads`]).
    pub async fn read_barrier(&self) -> Result<()> {
        let (reply, answer) = oneshot::channel();
        self.reads
            .send(reply)
            .await
            .map_err(|_| Error::Unavailable("the meta node is stopping".into()))?;
        match answer.await {
            Ok(Barrier::Passed) => Ok(()),
            Ok(Barrier::NotLeader(addr)) => Err(Error::NotLeader(addr)),
            Ok(Barrier::Unavailable(why)) => Err(Error::Unavailable(why)),
            Err(_) => Err(Error::Unavailable(
                "the meta node stopped before confirming a read".into(),
            )),
        }
    }

    /// This node's view of the group.
    pub fn status(&self) -> GroupStatus {
        let m = self.raft.metrics().borrow().clone();
        let membership = m.membership_config.membership();
        let voters: BTreeSet<u64> = membership.voter_ids().collect();
        let matched: BTreeMap<u64, Option<u64>> = m
            .replication
            .as_ref()
            .map(|r| r.iter().map(|(id, l)| (*id, l.map(|l| l.index))).collect())
            .unwrap_or_default();
        let members = membership
            .nodes()
            .map(|(id, n)| GroupMember {
                id: *id,
                addr: n.addr.clone(),
                voter: voters.contains(id),
                matched: matched.get(id).copied().flatten(),
            })
            .collect();
        let leader_addr = m
            .current_leader
            .and_then(|l| membership.get_node(&l).map(|n| n.addr.clone()));
        GroupStatus {
            id: self.id,
            state: format!("{:?}", m.state),
            term: m.current_term,
            leader: m.current_leader,
            leader_addr,
            last_log_index: m.last_log_index,
            last_applied: m.last_applied.map(|l| l.index),
            snapshot: m.snapshot.map(|l| l.index),
            purged: m.purged.map(|l| l.index),
            members,
        }
    }

    /// Adds node `id` at `addr` as a voter: first as a learner until it has caught up (by log
    /// or snapshot), then into the voting configuration. Leader only.
    pub async fn add_member(&self, id: u64, addr: &str) -> Result<GroupStatus> {
        self.check_leader()?;
        let status = self.status();
        if status.members.iter().any(|m| m.id == id) {
            return Err(Error::InvalidArgument(format!(
                "node id {id} is already a member"
            )));
        }
        let store = self.store();
        let retired =
            tokio::task::spawn_blocking(move || super::state_machine::retired_node_ids(&store))
                .await
                .map_err(|e| Error::Internal(format!("reading the group's record: {e}")))??;
        if retired.contains(&id) {
            return Err(Error::InvalidArgument(format!(
                "node id {id} was removed from the group and ids are never reused: start the \
                 node with an empty data directory and a new node_id, then add it under that id"
            )));
        }
        // Record which data directory joins, so that the node refuses the group's messages
        // if that directory is ever wiped and it comes back under this id.
        let identity = self
            .network
            .identity(id, addr)
            .await
            .map_err(Error::Unavailable)?;
        if identity.node_id != id {
            return Err(Error::InvalidArgument(format!(
                "the meta node at {addr} is node {}, not {id}: add it as {}, or start it with \
                 node_id = {id} and an empty data directory",
                identity.node_id, identity.node_id
            )));
        }
        self.raft
            .add_learner(id, MetaNode::new(addr, identity.incarnation), true)
            .await
            .map_err(unavailable)?;
        self.raft
            .change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([id])), false)
            .await
            .map_err(unavailable)?;
        tracing::info!(id, addr, "meta node added");
        Ok(self.status())
    }

    /// Removes node `id` from the group. Leader only.
    pub async fn remove_member(&self, id: u64) -> Result<GroupStatus> {
        self.check_leader()?;
        if !self.status().members.iter().any(|m| m.id == id) {
            return Err(Error::InvalidArgument(format!(
                "node id {id} is not a member"
            )));
        }
        self.raft
            .change_membership(ChangeMembers::RemoveVoters(BTreeSet::from([id])), false)
            .await
            .map_err(unavailable)?;
        tracing::info!(id, "meta node removed");
        Ok(self.status())
    }

    /// A consistent snapshot of the whole state for a backup (leader only): a snapshot is
    /// built now (openraft's own, the file a lagging node would get) covering at least
    /// everything applied when the request came, and its file is opened. Returns the
    /// snapshot's description and the open file.
    pub async fn backup_snapshot(
        &self,
        wait: Duration,
    ) -> Result<(super::SnapshotMeta, std::fs::File)> {
        self.read_barrier().await?;
        let wanted = self.raft.metrics().borrow().last_applied;
        let has = |m: &openraft::RaftMetrics<u64, MetaNode>| {
            m.snapshot.map(|s| s.index) >= wanted.map(|w| w.index)
        };
        // A trigger while a build is under way is dropped, and that build may end short of
        // `wanted`: trigger again every few seconds, within `wait`.
        let deadline = tokio::time::Instant::now() + wait;
        while !has(&self.raft.metrics().borrow()) {
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::Unavailable(format!(
                    "no snapshot covering {wanted:?} within {wait:?}"
                )));
            }
            self.raft.trigger().snapshot().await.map_err(unavailable)?;
            let _ = self
                .raft
                .wait(Some(Duration::from_secs(5)))
                .metrics(|m| has(m), "a snapshot for the backup")
                .await;
        }
        let dir = self.data_dir.clone();
        let opened =
            tokio::task::spawn_blocking(move || super::state_machine::open_current_snapshot(&dir))
                .await
                .map_err(|e| Error::Internal(format!("opening the snapshot: {e}")))?
                .map_err(Error::Io)?;
        match opened {
            Some((meta, file)) if meta.last_log_id.map(|l| l.index) >= wanted.map(|w| w.index) => {
                Ok((meta, file))
            }
            Some((meta, _)) => Err(Error::Unavailable(format!(
                "the snapshot covers {:?}, older than the applied {:?}; try again",
                meta.last_log_id, wanted
            ))),
            None => Err(Error::Unavailable("no snapshot was built".into())),
        }
    }

    /// Writes a verify marker (leader only): an entry without commands, upon whose
    /// application every node digests its state. Answers the marker's log position once it
    /// is applied here.
    pub async fn mark(&self) -> Result<MarkAnswer> {
        self.check_leader()?;
        let proposal = Proposal {
            v: 1,
            commands: Vec::new(),
        };
        match self.raft.client_write(proposal).await {
            Ok(r) => Ok(MarkAnswer {
                index: r.log_id.index,
                term: r.log_id.leader_id.term,
            }),
            Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f))) => {
                Err(Error::NotLeader(f.leader_node.map(|n| n.addr)))
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    /// This node's digest of its state at the marker of log index `index`, waiting (up to
    /// `wait`) until it has applied it. A node that skipped the marker (it caught up by
    /// snapshot) or keeps it no more answers `InvalidArgument`.
    pub async fn digest_at(&self, index: u64, wait: Duration) -> Result<NodeDigest> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let found = {
                let kept = self.digests.lock().unwrap_or_else(|e| e.into_inner());
                kept.iter().find(|(id, _)| id.index == index).cloned()
            };
            if let Some((id, digest)) = found {
                let d = digest.map_err(|e| Error::Internal(format!("digesting: {e}")))?;
                return Ok(NodeDigest {
                    id: self.id,
                    index: id.index,
                    term: id.leader_id.term,
                    digest: d.digest,
                    entries: d.entries,
                    envs: d.envs,
                });
            }
            let applied = self.raft.metrics().borrow().last_applied.map(|l| l.index);
            if applied.is_some_and(|a| a >= index) {
                return Err(Error::InvalidArgument(format!(
                    "node {} has applied past index {index} without a digest there (it caught \
                     up by snapshot, or the marker is too old): verify again",
                    self.id
                )));
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::Unavailable(format!(
                    "node {} has not applied index {index} (it is at {applied:?})",
                    self.id
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops Raft and waits (bounded) until the log and the store are closed, so the same
    /// data directory can be opened again at once. Call with the last handle of the node.
    pub async fn close(self: Arc<Self>) {
        if let Err(e) = self.raft.shutdown().await {
            tracing::warn!(error = %e, "stopping Raft");
        }
        let paths = [self.log_path.clone(), self.store.get().directory_path()];
        drop(self);
        let _ = tokio::task::spawn_blocking(move || {
            for p in &paths {
                crate::store::lmdb::wait_closed(p);
            }
        })
        .await;
    }
}

/// Commands waiting for the proposer, at most (writers wait beyond).
const PROPOSAL_QUEUE: usize = 16 * MAX_PROPOSAL;
/// Proposals being written at once: while they are, new commands gather for the next one.
const IN_FLIGHT: usize = 2;

/// A command waiting to be proposed, and where its answer goes.
struct Pending {
    command: Command,
    reply: oneshot::Sender<Result<Outcome>>,
}

/// Gathers the commands that arrive while earlier proposals are being written and proposes
/// them together: one log entry, one append (fsync), one state-machine batch for all.
async fn propose(
    raft: Raft<TypeConfig>,
    mut queue: mpsc::Receiver<Pending>,
    observer: RaftInstruments,
) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    while let Some(first) = queue.recv().await {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let mut batch = vec![first];
        while batch.len() < MAX_PROPOSAL {
            match queue.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        let raft = raft.clone();
        let observer = observer.clone();
        observer.proposal_commands.observe(batch.len() as f64);
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            let (commands, replies): (Vec<Command>, Vec<_>) =
                batch.into_iter().map(|p| (p.command, p.reply)).unzip();
            // The container name a `ContainerExists` answer names.
            let names: Vec<String> = commands
                .iter()
                .map(|c| match c {
                    Command::CreateContainer { name, .. } => name.clone(),
                    _ => String::new(),
                })
                .collect();
            let proposal = Proposal {
                v: commands.iter().map(Command::version).max().unwrap_or(1),
                commands,
            };
            let written = raft.client_write(proposal).await;
            observer.commit.observe(started.elapsed().as_secs_f64());
            match written {
                Ok(r) => {
                    let Applied(answers) = r.data;
                    let mut answers = answers.into_iter();
                    for (reply, name) in replies.into_iter().zip(names) {
                        let a = match answers.next() {
                            Some(a) => a.map_err(|b| Error::from_body(b, &name)),
                            None => Err(Error::Internal("a proposal lost an answer".into())),
                        };
                        let _ = reply.send(a);
                    }
                }
                Err(e) => {
                    let msg = match e {
                        RaftError::APIError(ClientWriteError::ForwardToLeader(f)) => format!(
                            "meta leadership moved while writing (to {:?}); the write may have \
                             been applied",
                            f.leader_id
                        ),
                        e => format!("meta group: {e}"),
                    };
                    for reply in replies {
                        let _ = reply.send(Err(Error::Unavailable(msg.clone())));
                    }
                }
            }
            drop(slot);
        });
    }
}

/// How many reads may wait for the next confirmation before callers queue behind them.
const READ_QUEUE: usize = 4096;

/// The outcome of one leadership confirmation, handed to every read that waited for it.
#[derive(Clone, Debug)]
enum Barrier {
    Passed,
    NotLeader(Option<String>),
    Unavailable(String),
}

/// Confirms leadership for reads in rounds: each round takes every read waiting when it
/// starts and runs one `ensure_linearizable` for all of them (one heartbeat round to the
/// followers instead of one per read). A read that arrives during a round waits for the next
/// one, which starts after it arrived, so its read index covers every write acknowledged
/// before the read began: sharing a round never makes a read stale.
async fn confirm_reads(
    raft: Raft<TypeConfig>,
    mut waiting: mpsc::Receiver<oneshot::Sender<Barrier>>,
) {
    while let Some(first) = waiting.recv().await {
        let mut round = vec![first];
        while let Ok(next) = waiting.try_recv() {
            round.push(next);
        }
        let outcome = match raft.ensure_linearizable().await {
            Ok(_) => Barrier::Passed,
            Err(RaftError::APIError(openraft::error::CheckIsLeaderError::ForwardToLeader(f))) => {
                Barrier::NotLeader(f.leader_node.map(|n| n.addr))
            }
            Err(e) => Barrier::Unavailable(format!("meta group: {e}")),
        };
        for reply in round {
            let _ = reply.send(outcome.clone());
        }
    }
}

/// Exits the process when Raft stops on a fatal error (a storage failure): openraft does not
/// recover from one, and a node that cannot write must not keep answering.
impl Node {
    /// Checks that a Raft message meant for node `to` with incarnation `incarnation` (0: the
    /// sender does not know it) is for this node. A message for another incarnation of this
    /// id means this data directory was wiped or replaced after the node joined: it forgot
    /// its log and its votes, so taking part could elect a leader without the newest writes.
    /// The message is refused and the process exits with one line saying what to do.
    pub fn check_target(&self, to: u64, incarnation: u64) -> std::result::Result<(), String> {
        if to != self.id {
            return Err(format!(
                "this is meta node {}, not node {to}: check the group's addresses (`spread \
                 admin meta status`) and meta's raft_peers",
                self.id
            ));
        }
        if incarnation != 0 && incarnation != self.incarnation {
            let line = format!(
                "the meta group knows node {to} with data directory incarnation {incarnation:016x}, \
                 but this data directory is incarnation {:016x} (wiped or replaced since it \
                 joined), so it must not rejoin as node {to}: run `spread admin meta remove \
                 {to}`, then start this node with a new node_id and an empty data directory and \
                 `spread admin meta add` it",
                self.incarnation
            );
            exit_refused(&line);
            return Err(line);
        }
        Ok(())
    }

    /// Who this node is, for a leader about to add it or a node about to bootstrap.
    pub fn identity(&self) -> super::network::Identity {
        let member = self
            .raft
            .metrics()
            .borrow()
            .membership_config
            .membership()
            .nodes()
            .next()
            .is_some();
        super::network::Identity {
            v: super::network::IDENTITY_VERSION,
            node_id: self.id,
            incarnation: self.incarnation,
            member,
        }
    }
}

/// Before a node with an empty log starts a group of one: `Ok` unless a node at one of
/// `peers` belongs to a group (then this node is a wiped member, and a group of its own would
/// take writes the real group never sees) or answers without saying whether it does. An
/// address where nothing answers does not stop it (a new group's other nodes may not run
/// yet; a wiped member that bootstraps while its group is unreachable is stopped by the
/// group's first message, which names its old incarnation).
pub(super) async fn no_group_among(
    network: &Network,
    own_id: u64,
    peers: &[String],
) -> std::result::Result<(), String> {
    use super::network::Asked;
    // Asked together: a frozen peer costs its timeout once, not once per peer.
    let tasks: Vec<_> = peers
        .iter()
        .map(|a| {
            let (network, a) = (network.clone(), a.clone());
            tokio::spawn(async move { network.identity_at(&a).await })
        })
        .collect();
    let mut asked = Vec::with_capacity(tasks.len());
    for t in tasks {
        asked.push(
            t.await
                .unwrap_or_else(|e| Asked::Failed(format!("asking task failed: {e}"))),
        );
    }
    let what_to_do = format!(
        "if this node's data directory was wiped or replaced, do not start a new group: run \
         `spread admin meta remove {own_id}` if the group still lists node {own_id}, then start \
         this node with `bootstrap = false`, a new node_id and an empty data directory, and \
         `spread admin meta add` it; to start a new group instead, stop the old group's nodes \
         (or leave them out of `group_peers` and `raft_peers`)"
    );
    for (addr, answer) in peers.iter().zip(asked) {
        match answer {
            Asked::Identity(id) if id.member => {
                return Err(format!(
                    "not starting a new meta group: this data directory is empty, but meta \
                     node {} at {addr} already belongs to a group; {what_to_do}",
                    id.node_id
                ));
            }
            Asked::Identity(id) if id.v < 2 => {
                return Err(format!(
                    "not starting a new meta group: meta node {} at {addr} runs an older \
                     version that cannot say whether it belongs to a group; upgrade it first, \
                     or {what_to_do}",
                    id.node_id
                ));
            }
            Asked::Identity(_) => {}
            Asked::Failed(e) => {
                return Err(format!(
                    "not starting a new meta group: cannot tell whether the node at {addr} \
                     belongs to a group ({e}); {what_to_do}"
                ));
            }
            Asked::Unreachable(e) => {
                tracing::warn!(%addr, error = %e, "no meta node answers there before bootstrapping; starting a group of one");
            }
        }
    }
    Ok(())
}

/// Logs `line` and exits (code 78) a moment later, once the refusal has been answered.
fn exit_refused(line: &str) {
    static EXITING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if EXITING.swap(true, std::sync::atomic::Ordering::SeqCst) {
        return;
    }
    say_refused(line);
    tokio::spawn(async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        std::process::exit(78);
    });
}

/// Says why this node refuses to run: on its log and on stderr (the line an operator reads).
fn say_refused(line: &str) {
    tracing::error!("{line}");
    eprintln!("spread meta: {line}");
}

/// The longest election timeout for a shortest of `min` ms: 1.5 times it. openraft 0.9 makes a
/// follower that heard a leader wait its leader lease (this longest timeout) and then a random
/// timeout between the two before it campaigns, so a leader's loss is noticed after 2.5 to 3
/// times `min`; half of `min` of spread still keeps two followers from campaigning together.
fn election_timeout_max(min: u64) -> u64 {
    min.saturating_add(min / 2).max(min + 1)
}

/// How often the leader looks for members whose incarnation it does not know yet (the unit
/// test's nodes look every second).
const LEARN_INCARNATIONS_EVERY: Duration = if cfg!(test) {
    Duration::from_secs(1)
} else {
    Duration::from_secs(10)
};

/// On the leader: members recorded before incarnations existed (incarnation 0) are asked
/// who they are, and their membership entry is completed, so that from then on they are
/// checked too. Stops when the node does.
async fn learn_incarnations(node: std::sync::Weak<Node>) {
    loop {
        tokio::time::sleep(LEARN_INCARNATIONS_EVERY).await;
        let Some(node) = node.upgrade() else {
            return;
        };
        if node.check_leader().is_err() {
            continue;
        }
        let unknown: Vec<(u64, MetaNode)> = node
            .raft
            .metrics()
            .borrow()
            .membership_config
            .membership()
            .nodes()
            .filter(|(_, n)| n.incarnation == 0)
            .map(|(id, n)| (*id, n.clone()))
            .collect();
        for (id, member) in unknown {
            let incarnation = if id == node.id {
                node.incarnation
            } else {
                match node.network.identity(id, &member.addr).await {
                    Ok(identity) if identity.node_id == id => identity.incarnation,
                    Ok(identity) => {
                        tracing::warn!(
                            id,
                            addr = %member.addr,
                            answered = identity.node_id,
                            "a member's address answers as another node"
                        );
                        continue;
                    }
                    Err(e) => {
                        tracing::debug!(id, error = %e, "member's incarnation not learned yet");
                        continue;
                    }
                }
            };
            let update = BTreeMap::from([(id, MetaNode::new(member.addr.clone(), incarnation))]);
            match node
                .raft
                .change_membership(ChangeMembers::SetNodes(update), false)
                .await
            {
                Ok(_) => {
                    tracing::info!(id, incarnation = %format!("{incarnation:016x}"), "recorded a member's incarnation")
                }
                Err(e) => tracing::warn!(id, error = %e, "recording a member's incarnation"),
            }
        }
    }
}

fn watch_fatal(node: &Arc<Node>) {
    let mut rx = node.raft.metrics();
    tokio::spawn(async move {
        loop {
            if let Err(fatal) = &rx.borrow().running_state {
                match fatal {
                    openraft::error::Fatal::Stopped => return,
                    other => {
                        tracing::error!(error = %other, "meta node stopped on a fatal Raft error; exiting");
                        std::process::exit(70);
                    }
                }
            }
            if rx.changed().await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    });
}
