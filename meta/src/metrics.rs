//! Meta's metrics, served at `GET /metrics` in the Prometheus text format, and its readiness
//! (`GET /ready`).
//!
//! Counted where the events happen, at the cost of an atomic or a histogram bucket each:
//! requests by endpoint and status and their latency (the server), proposal sizes and commit
//! latency (the proposer), log appends (the log store, fsync included), state machine batches
//! (the state machine), the committed index (the log store, as openraft saves it).
//!
//! Read at each scrape ([`Scraped`]): the Raft state (term, leadership, indexes) from
//! openraft's metrics, and from the store ([`crate::store::observe`]) the GC backlog, the
//! rebuild queue, the conscience's services and the LMDB map usage of the directory, of the
//! open meta2 environments and (from the log store's last write) of the Raft log.

use crate::raft::node::Node;
use crate::store::observe::{Figures, MapUsage, ServiceFigure};
use meta_api::error::{Error, Result};
use openraft::ServerState;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

/// Content type of the Prometheus text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Upper bounds of the request, commit, apply and append duration histograms, in seconds.
const LATENCY_BUCKETS: [f64; 15] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Upper bounds of the proposal size histogram, in commands (a proposal holds at most
/// [`crate::raft::MAX_PROPOSAL`]).
const PROPOSAL_BUCKETS: [f64; 11] = [
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
];

/// A meta2 environment whose map is used beyond this ratio is counted in
/// `spread_meta_lmdb_meta2_envs_above_threshold` (the documented alert threshold).
pub const MAP_ALERT_RATIO: f64 = 0.8;

/// A node whose applied index is more than this many entries behind its committed index is
/// not ready (it is catching up).
pub const READY_MAX_LAG: u64 = 100;

/// How long `/ready` waits for a leader's quorum check.
pub const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// The endpoint label of a request to no known route.
pub const OTHER_ENDPOINT: &str = "other";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    endpoint: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabels {
    endpoint: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServiceLabels {
    service: String,
    kind: String,
    location: String,
}

impl ServiceLabels {
    fn of(s: &ServiceFigure) -> Self {
        ServiceLabels {
            service: s.id.clone(),
            kind: s.kind.clone(),
            location: s.location.clone(),
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OnlyService {
    service: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EnvLabels {
    env: &'static str,
}

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// What the Raft parts of a node count as they work; clones share the counts.
#[derive(Clone, Debug)]
pub struct RaftInstruments {
    /// Commands per proposal (one log entry).
    pub proposal_commands: Histogram,
    /// From a proposal's submission to its answer (appended, replicated to a quorum,
    /// committed and applied), on the leader.
    pub commit: Histogram,
    /// One state machine batch (entries applied to LMDB and committed).
    pub apply: Histogram,
    /// One log append (the LMDB commit, fsync included).
    pub append: Histogram,
    /// The committed log index plus one (0: none yet).
    committed: Arc<AtomicU64>,
    /// The Raft log environment's map usage after its last write.
    log_used: Arc<AtomicU64>,
    log_map: Arc<AtomicU64>,
}

impl Default for RaftInstruments {
    fn default() -> Self {
        RaftInstruments {
            proposal_commands: Histogram::new(PROPOSAL_BUCKETS),
            commit: latency_histogram(),
            apply: latency_histogram(),
            append: latency_histogram(),
            committed: Arc::default(),
            log_used: Arc::default(),
            log_map: Arc::default(),
        }
    }
}

impl RaftInstruments {
    /// Records the committed log index (as saved by the log store).
    pub fn set_committed(&self, index: Option<u64>) {
        let v = index.map_or(0, |i| i.saturating_add(1));
        self.committed.store(v, Ordering::Relaxed);
    }

    /// The committed log index this node knows of.
    pub fn committed(&self) -> Option<u64> {
        self.committed.load(Ordering::Relaxed).checked_sub(1)
    }

    /// Records the Raft log environment's map usage.
    pub fn set_log_usage(&self, usage: MapUsage) {
        self.log_used.store(usage.used, Ordering::Relaxed);
        self.log_map.store(usage.map, Ordering::Relaxed);
    }

    /// The Raft log environment's map usage after its last write.
    pub fn log_usage(&self) -> MapUsage {
        MapUsage {
            used: self.log_used.load(Ordering::Relaxed),
            map: self.log_map.load(Ordering::Relaxed),
        }
    }
}

/// Meta's registry and the metrics it counts itself.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    duration: Family<EndpointLabels, Histogram, fn() -> Histogram>,
    raft: RaftInstruments,
    node: Arc<OnceLock<Weak<Node>>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// The metrics of a meta node, whose Raft state and store are read at each scrape once
    /// [`attach`](Self::attach)ed.
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "spread_meta_requests",
            "Requests answered, by endpoint (route path) and HTTP status",
            requests.clone(),
        );
        let duration = Family::<EndpointLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        registry.register(
            "spread_meta_request_duration_seconds",
            "Time from a request's arrival to its answer, by endpoint",
            duration.clone(),
        );
        let raft = RaftInstruments::default();
        registry.register(
            "spread_meta_raft_proposal_commands",
            "Commands per Raft proposal (one log entry, one append, one state machine batch)",
            raft.proposal_commands.clone(),
        );
        registry.register(
            "spread_meta_raft_commit_duration_seconds",
            "From a proposal's submission to its answer (appended, replicated to a quorum, \
             committed, applied), on the leader",
            raft.commit.clone(),
        );
        registry.register(
            "spread_meta_raft_apply_duration_seconds",
            "One state machine batch: log entries applied to LMDB and committed",
            raft.apply.clone(),
        );
        registry.register(
            "spread_meta_raft_append_duration_seconds",
            "One append to the Raft log (its LMDB commit, fsync included)",
            raft.append.clone(),
        );
        let node: Arc<OnceLock<Weak<Node>>> = Arc::default();
        registry.register_collector(Box::new(Scraped {
            node: node.clone(),
            raft: raft.clone(),
        }));
        Metrics {
            registry,
            requests,
            duration,
            raft,
            node,
        }
    }

    /// What the node's Raft parts count (give it to [`Node::start`]).
    pub fn raft(&self) -> RaftInstruments {
        self.raft.clone()
    }

    /// Reads `node`'s state at each scrape from now on.
    pub fn attach(&self, node: &Arc<Node>) {
        if self.node.set(Arc::downgrade(node)).is_err() {
            tracing::warn!("metrics attached to a node twice");
        }
    }

    /// Counts a request to `endpoint` answered with `status` after `seconds`.
    pub fn request(&self, endpoint: &'static str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels { endpoint, status })
            .inc();
        self.duration
            .get_or_create(&EndpointLabels { endpoint })
            .observe(seconds);
    }

    /// The metrics in the Prometheus text format. Blocking (reads the store).
    pub fn encode(&self) -> Result<String> {
        let mut out = String::with_capacity(16 * 1024);
        prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)
            .map_err(|e| Error::Internal(format!("encoding metrics: {e}")))?;
        Ok(out)
    }
}

/// Whether `node` can serve: `Ok` when it is the leader and a quorum confirms it (within
/// [`READY_TIMEOUT`]), or a follower that knows a leader; in both cases its applied index
/// must be at most [`READY_MAX_LAG`] entries behind its committed one. `Err` says why not, in
/// one line.
pub async fn readiness(node: &Node, raft: &RaftInstruments) -> std::result::Result<(), String> {
    let (state, leader, applied, running) = {
        let m = node.raft.metrics();
        let m = m.borrow();
        (
            m.state,
            m.current_leader,
            m.last_applied.map(|l| l.index),
            m.running_state.is_ok(),
        )
    };
    if !running {
        return Err("Raft has stopped".to_string());
    }
    if let Some(committed) = raft.committed() {
        let applied_next = applied.map_or(0, |a| a.saturating_add(1));
        let lag = committed.saturating_add(1).saturating_sub(applied_next);
        if lag > READY_MAX_LAG {
            return Err(format!(
                "applied index {applied:?} is {lag} entries behind the committed index \
                 {committed} (more than {READY_MAX_LAG})"
            ));
        }
    }
    match state {
        ServerState::Leader => match tokio::time::timeout(READY_TIMEOUT, node.read_barrier()).await
        {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("leader without a quorum: {e}")),
            Err(_) => Err(format!(
                "the leader's quorum check took more than {} ms",
                READY_TIMEOUT.as_millis()
            )),
        },
        _ if leader.is_none() => Err(format!("{state:?} without a known leader")),
        _ => Ok(()),
    }
}

/// Reads the node's Raft state and its store's figures at each scrape.
struct Scraped {
    node: Arc<OnceLock<Weak<Node>>>,
    raft: RaftInstruments,
}

impl std::fmt::Debug for Scraped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scraped").finish_non_exhaustive()
    }
}

type Encoded = std::result::Result<(), std::fmt::Error>;

fn gauge<N>(e: &mut DescriptorEncoder<'_>, name: &str, help: &str, value: N) -> Encoded
where
    ConstGauge<N>: EncodeMetric,
{
    let g = ConstGauge::new(value);
    g.encode(e.encode_descriptor(name, help, None, MetricType::Gauge)?)
}

/// A gauge with one series per label set (the descriptor is written even with none).
fn gauges<L, N>(
    e: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    series: impl IntoIterator<Item = (L, N)>,
) -> Encoded
where
    L: EncodeLabelSet,
    ConstGauge<N>: EncodeMetric,
{
    let mut m = e.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, value) in series {
        ConstGauge::new(value).encode(m.encode_family(&labels)?)?;
    }
    Ok(())
}

fn clamp(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl Scraped {
    fn encode_raft(&self, e: &mut DescriptorEncoder<'_>, node: &Node) -> Encoded {
        let (term, leader, known, last_log, applied) = {
            let m = node.raft.metrics();
            let m = m.borrow();
            (
                m.current_term,
                m.state == ServerState::Leader,
                m.current_leader.is_some(),
                m.last_log_index,
                m.last_applied.map(|l| l.index),
            )
        };
        gauge(e, "spread_meta_raft_term", "Current Raft term", clamp(term))?;
        gauge(
            e,
            "spread_meta_raft_is_leader",
            "1 on the group's leader, else 0",
            i64::from(leader),
        )?;
        gauge(
            e,
            "spread_meta_raft_leader_known",
            "1 when this node knows a leader, else 0",
            i64::from(known),
        )?;
        let index = |i: Option<u64>| i.map_or(-1, clamp);
        gauge(
            e,
            "spread_meta_raft_last_log_index",
            "Index of the last entry in this node's log (-1: empty)",
            index(last_log),
        )?;
        gauge(
            e,
            "spread_meta_raft_committed_index",
            "Index of the last entry this node knows committed (-1: none)",
            index(self.raft.committed()),
        )?;
        gauge(
            e,
            "spread_meta_raft_applied_index",
            "Index of the last entry applied to this node's state (-1: none)",
            index(applied),
        )
    }

    fn encode_store(&self, e: &mut DescriptorEncoder<'_>, f: &Figures) -> Encoded {
        gauge(
            e,
            "spread_meta_gc_entries",
            "Chunk copies queued for deletion on chunk servers (due or in their grace)",
            clamp(f.gc_entries),
        )?;
        gauges(
            e,
            "spread_meta_gc_due_entries",
            "GC entries whose grace is over, handed out at the service's next heartbeat",
            f.gc_due
                .iter()
                .map(|(s, n)| (OnlyService { service: s.clone() }, clamp(*n))),
        )?;
        gauge(
            e,
            "spread_meta_rebuild_lost_services",
            "Chunk servers declared lost whose rebuild record is kept",
            clamp(f.lost.len() as u64),
        )?;
        gauges(
            e,
            "spread_meta_rebuild_lost_chunks",
            "Chunk copies a lost server held when it was declared lost (counted as they are queued)",
            f.lost.iter().map(|l| {
                (
                    OnlyService {
                        service: l.service.clone(),
                    },
                    clamp(l.total_chunks),
                )
            }),
        )?;
        gauges(
            e,
            "spread_meta_rebuild_done_chunks",
            "Copies of a lost server re-created elsewhere (or whose object was deleted)",
            f.lost.iter().map(|l| {
                (
                    OnlyService {
                        service: l.service.clone(),
                    },
                    clamp(l.done_chunks),
                )
            }),
        )?;
        gauge(
            e,
            "spread_meta_rebuild_queued_entries",
            "Repair queue entries waiting for a rebuild worker (or leased to one)",
            clamp(f.repair_queued),
        )?;
        gauge(
            e,
            "spread_meta_rebuild_unrepairable_entries",
            "Repair queue entries given up: no copy or piece left to rebuild from",
            clamp(f.repair_unrepairable),
        )?;
        gauges(
            e,
            "spread_meta_service_score",
            "The conscience's placement score of a service, 0..100 (0: silent, full or locked at 0)",
            f.services
                .iter()
                .map(|s| (ServiceLabels::of(s), i64::from(s.score))),
        )?;
        gauges(
            e,
            "spread_meta_service_up",
            "1 when the service was heard from within dead_after_secs, else 0",
            f.services
                .iter()
                .map(|s| (ServiceLabels::of(s), i64::from(s.up))),
        )
    }

    fn encode_maps(
        &self,
        e: &mut DescriptorEncoder<'_>,
        directory: MapUsage,
        meta2: &[MapUsage],
    ) -> Encoded {
        let envs = [("directory", directory), ("raft", self.raft.log_usage())];
        gauges(
            e,
            "spread_meta_lmdb_used_bytes",
            "Bytes of an LMDB environment's map in use (up to its last page written)",
            envs.iter()
                .map(|(env, u)| (EnvLabels { env }, clamp(u.used))),
        )?;
        gauges(
            e,
            "spread_meta_lmdb_map_bytes",
            "Map size of an LMDB environment: the most it can hold",
            envs.iter()
                .map(|(env, u)| (EnvLabels { env }, clamp(u.map))),
        )?;
        gauges(
            e,
            "spread_meta_lmdb_usage_ratio",
            "Used bytes over map size of an LMDB environment (alert above 0.8)",
            envs.iter().map(|(env, u)| (EnvLabels { env }, u.ratio())),
        )?;
        let max = meta2.iter().map(MapUsage::ratio).fold(0.0, f64::max);
        gauge(
            e,
            "spread_meta_lmdb_meta2_max_usage_ratio",
            "Highest used-over-map ratio among the open meta2 (bucket) environments",
            max,
        )?;
        let above = meta2.iter().filter(|u| u.ratio() > MAP_ALERT_RATIO).count();
        gauge(
            e,
            "spread_meta_lmdb_meta2_envs_above_threshold",
            "Open meta2 environments whose map is more than 80% used",
            clamp(above as u64),
        )?;
        gauge(
            e,
            "spread_meta_lmdb_meta2_open_envs",
            "meta2 environments open now (the ones the two figures above cover)",
            clamp(meta2.len() as u64),
        )
    }
}

impl Collector for Scraped {
    fn encode(&self, mut e: DescriptorEncoder) -> Encoded {
        let Some(node) = self.node.get().and_then(Weak::upgrade) else {
            return Ok(());
        };
        self.encode_raft(&mut e, &node)?;
        let store = node.store();
        match store.figures() {
            Ok(f) => self.encode_store(&mut e, &f)?,
            Err(err) => tracing::warn!(error = %err, "cannot read the store's figures"),
        }
        self.encode_maps(&mut e, store.directory_usage(), &store.open_meta2_usage())?;
        ConstCounter::new(store.map_refusals()).encode(e.encode_descriptor(
            "spread_meta_writes_refused_map_full",
            "Writes refused because an LMDB map they would write was more than \
             map_refuse_percent used (since the process started)",
            None,
            MetricType::Counter,
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_index_and_log_usage_round_trip() {
        let r = RaftInstruments::default();
        assert_eq!(r.committed(), None);
        r.set_committed(Some(0));
        assert_eq!(r.committed(), Some(0));
        r.set_committed(Some(41));
        assert_eq!(r.committed(), Some(41));
        r.set_committed(None);
        assert_eq!(r.committed(), None);
        let u = MapUsage {
            used: 1 << 20,
            map: 4 << 20,
        };
        r.set_log_usage(u);
        assert_eq!(r.log_usage(), u);
        assert_eq!(u.ratio(), 0.25);
        assert_eq!(MapUsage::default().ratio(), 0.0);
    }

    #[test]
    fn requests_are_counted_by_endpoint_and_status() {
        let m = Metrics::new();
        m.request("/v1/objects/put", 200, 0.002);
        m.request("/v1/objects/put", 200, 0.003);
        m.request("/v1/objects/get", 404, 0.001);
        let text = m.encode().expect("encodes");
        for want in [
            "spread_meta_requests_total{endpoint=\"/v1/objects/put\",status=\"200\"} 2",
            "spread_meta_requests_total{endpoint=\"/v1/objects/get\",status=\"404\"} 1",
            "spread_meta_request_duration_seconds_count{endpoint=\"/v1/objects/put\"} 2",
            "# TYPE spread_meta_raft_commit_duration_seconds histogram",
        ] {
            assert!(text.contains(want), "{want} missing from\n{text}");
        }
        // Without a node, nothing of the store is read.
        assert!(!text.contains("spread_meta_raft_term"), "{text}");
    }
}
