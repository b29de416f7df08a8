//! What the console's JSON API answers: meta's records shaped for the page. Pure functions of
//! meta's answers (and the time), so they are tested without a cluster.
//!
//! - [`cluster`]: the chunk servers as a map of locations, datacenter → rack → host → volume
//!   (the four levels of a location string `dc.rack.host.vol`), each volume with its state
//!   (up, down: silent past `console_down_after_secs`, or locked by an operator), the
//!   conscience's live score, its space and its GC backlog;
//! - [`policies`]: the storage policies in force and whether the live servers can place each;
//! - [`gc`], [`rebuild`]: the GC backlog and the rebuild progress, servers named by address.

use std::collections::{BTreeMap, HashMap};

use meta_api::wire::{
    AccountInfo, ContainerInfo, GcBacklog, LostService, RebuildStatus, RepairItem, ServiceRecord,
};
use policy::{DataSecurity, PolicySet};
use serde::Serialize;

/// Most failing or unrepairable repairs listed (their counts are always given).
pub const REPAIRS_SHOWN: usize = 20;

/// A chunk server's state as the console colours it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Up,
    /// Silent for longer than the console's down threshold.
    Down,
    /// Alive, its score forced by an operator (`spread admin cluster lock`).
    Locked,
}

/// One chunk server (a volume of the map).
#[derive(Debug, Clone, Serialize)]
pub struct Volume {
    /// The last level of its location.
    pub name: String,
    pub id: String,
    pub addr: String,
    pub location: String,
    pub state: State,
    /// The conscience's live score (0: never chosen).
    pub score: u8,
    pub locked: Option<u8>,
    /// Milliseconds since its last heartbeat.
    pub silent_ms: i64,
    pub total_bytes: u64,
    pub free_bytes: u64,
    pub used_bytes: u64,
    pub chunk_count: u64,
    pub slots: Vec<String>,
    pub gc_due: u64,
    pub gc_waiting: u64,
    /// Declared lost (its copies are being re-created): "dead", "operator" or "drain".
    pub lost: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Host {
    pub name: String,
    pub volumes: Vec<Volume>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Rack {
    pub name: String,
    pub hosts: Vec<Host>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Dc {
    pub name: String,
    pub racks: Vec<Rack>,
}

/// How many chunk servers are in each state.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Counts {
    pub total: usize,
    pub up: usize,
    pub down: usize,
    pub locked: usize,
}

/// Answer of `/console/api/cluster`.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterView {
    pub now_ms: i64,
    pub down_after_ms: i64,
    pub counts: Counts,
    pub total_bytes: u64,
    pub free_bytes: u64,
    pub dcs: Vec<Dc>,
}

/// The four levels of a location; missing levels are `?`, extra dots stay in the volume.
pub fn levels(location: &str) -> [String; 4] {
    let mut parts = location.splitn(4, '.').map(|p| {
        if p.is_empty() {
            "?".to_string()
        } else {
            p.to_string()
        }
    });
    std::array::from_fn(|_| parts.next().unwrap_or_else(|| "?".to_string()))
}

/// The state of a service at `now_ms`.
pub fn state(rec: &ServiceRecord, now_ms: i64, down_after_ms: i64) -> State {
    if now_ms.saturating_sub(rec.last_seen_ms) > down_after_ms {
        State::Down
    } else if rec.locked.is_some() {
        State::Locked
    } else {
        State::Up
    }
}

/// The chunk servers as a map of locations, each level sorted by name.
pub fn cluster(
    services: &[ServiceRecord],
    gc: &[GcBacklog],
    lost: &[LostService],
    now_ms: i64,
    down_after_ms: i64,
) -> ClusterView {
    let gc: HashMap<&str, &GcBacklog> = gc.iter().map(|b| (b.service.as_str(), b)).collect();
    let lost: HashMap<&str, &LostService> = lost.iter().map(|l| (l.service.as_str(), l)).collect();
    type Tree = BTreeMap<String, BTreeMap<String, BTreeMap<String, Vec<Volume>>>>;
    let mut tree: Tree = BTreeMap::new();
    let mut counts = Counts::default();
    let (mut total_bytes, mut free_bytes) = (0u64, 0u64);
    for rec in services.iter().filter(|s| s.kind == "chunkd") {
        let [dc, rack, host, name] = levels(&rec.location);
        let state = state(rec, now_ms, down_after_ms);
        counts.total += 1;
        match state {
            State::Up => counts.up += 1,
            State::Down => counts.down += 1,
            State::Locked => counts.locked += 1,
        }
        total_bytes = total_bytes.saturating_add(rec.stats.total_bytes);
        free_bytes = free_bytes.saturating_add(rec.stats.free_bytes);
        let backlog = gc.get(rec.id.as_str());
        tree.entry(dc)
            .or_default()
            .entry(rack)
            .or_default()
            .entry(host)
            .or_default()
            .push(Volume {
                name,
                id: rec.id.clone(),
                addr: rec.addr.clone(),
                location: rec.location.clone(),
                state,
                score: rec.score,
                locked: rec.locked,
                silent_ms: now_ms.saturating_sub(rec.last_seen_ms).max(0),
                total_bytes: rec.stats.total_bytes,
                free_bytes: rec.stats.free_bytes,
                used_bytes: rec.stats.total_bytes.saturating_sub(rec.stats.free_bytes),
                chunk_count: rec.stats.chunk_count,
                slots: rec.slots.clone(),
                gc_due: backlog.map_or(0, |b| b.due),
                gc_waiting: backlog.map_or(0, |b| b.waiting),
                lost: lost.get(rec.id.as_str()).map(|l| l.reason.clone()),
            });
    }
    let dcs = tree
        .into_iter()
        .map(|(name, racks)| Dc {
            name,
            racks: racks
                .into_iter()
                .map(|(name, hosts)| Rack {
                    name,
                    hosts: hosts
                        .into_iter()
                        .map(|(name, mut volumes)| {
                            volumes.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
                            Host { name, volumes }
                        })
                        .collect(),
                })
                .collect(),
        })
        .collect();
    ClusterView {
        now_ms,
        down_after_ms,
        counts,
        total_bytes,
        free_bytes,
        dcs,
    }
}

/// A bucket (container) of an account.
#[derive(Debug, Clone, Serialize)]
pub struct Bucket {
    pub name: String,
    /// Its storage policy (`None`: the default one).
    pub policy: Option<String>,
    pub objects: u64,
    pub bytes: u64,
    pub created_ms: i64,
}

/// An account with its usage and buckets.
#[derive(Debug, Clone, Serialize)]
pub struct Account {
    pub name: String,
    pub created_ms: i64,
    pub containers: u64,
    pub objects: u64,
    pub bytes: u64,
    pub buckets: Vec<Bucket>,
    /// Why the buckets could not be listed, if they could not.
    pub error: Option<String>,
}

/// Answer of `/console/api/accounts`.
#[derive(Debug, Clone, Serialize)]
pub struct AccountsView {
    pub accounts: Vec<Account>,
    /// Accounts left out past the console's limit.
    pub left_out: usize,
}

/// An account and its buckets (or why they could not be listed).
pub fn account(info: AccountInfo, buckets: Result<Vec<ContainerInfo>, String>) -> Account {
    let (buckets, error) = match buckets {
        Ok(list) => {
            let mut list: Vec<Bucket> = list
                .into_iter()
                .map(|c| Bucket {
                    name: c.name,
                    policy: c.settings.policy,
                    objects: c.objects,
                    bytes: c.bytes,
                    created_ms: c.created_ms,
                })
                .collect();
            list.sort_by(|a, b| a.name.cmp(&b.name));
            (list, None)
        }
        Err(e) => (Vec::new(), Some(e)),
    };
    Account {
        name: info.name,
        created_ms: info.created_ms,
        containers: info.containers,
        objects: info.objects,
        bytes: info.bytes,
        buckets,
        error,
    }
}

/// One storage policy.
#[derive(Debug, Clone, Serialize)]
pub struct Policy {
    pub name: String,
    /// `3 copies` or `EC 4+2`.
    pub protection: String,
    pub chunk_size: u64,
    pub min_distance: usize,
    pub pool: String,
    pub write_quorum: usize,
    pub default: bool,
    /// The S3 storage classes naming it.
    pub storage_classes: Vec<String>,
    /// The live chunk servers can place every piece of a chunk at its distance.
    pub placeable: bool,
    /// The feasibility check's sentence.
    pub check: String,
}

/// Answer of `/console/api/policies`.
#[derive(Debug, Clone, Serialize)]
pub struct PoliciesView {
    /// `file` (applied with `spread admin policy apply`) or `builtin` (none applied: the
    /// gateway's `replicas` and `chunk_size`).
    pub source: &'static str,
    pub policies: Vec<Policy>,
}

/// The policies of `set` with their feasibility on `services` (their live scores).
pub fn policies(set: &PolicySet, source: &'static str, services: &[ServiceRecord]) -> PoliciesView {
    let views: Vec<policy::ServiceView> = services
        .iter()
        .filter(|s| s.kind == "chunkd")
        .map(|s| policy::ServiceView {
            id: s.id.clone(),
            location: s.location.clone(),
            slots: s.slots.clone(),
            score: s.score,
        })
        .collect();
    let checks: HashMap<String, policy::CheckReport> = policy::check(set, &views)
        .into_iter()
        .map(|r| (r.policy.clone(), r))
        .collect();
    let policies = set
        .policies
        .values()
        .map(|p| {
            let check = checks.get(&p.name);
            Policy {
                name: p.name.clone(),
                protection: match p.security {
                    DataSecurity::Replicate { copies: 1 } => "1 copy".to_string(),
                    DataSecurity::Replicate { copies } => format!("{copies} copies"),
                    DataSecurity::Ec { k, m } => format!("EC {k}+{m}"),
                },
                chunk_size: p.chunk_size,
                min_distance: p.min_distance,
                pool: p.pool.clone(),
                write_quorum: p.write_quorum(),
                default: p.name == set.default,
                storage_classes: set
                    .storage_classes
                    .iter()
                    .filter(|(_, name)| **name == p.name)
                    .map(|(class, _)| class.clone())
                    .collect(),
                placeable: check.is_some_and(|c| c.ok),
                check: check.map(|c| c.message.clone()).unwrap_or_default(),
            }
        })
        .collect();
    PoliciesView { source, policies }
}

/// One chunk server's GC backlog.
#[derive(Debug, Clone, Serialize)]
pub struct GcRow {
    pub service: String,
    /// Its address (empty when the conscience does not know it any more).
    pub addr: String,
    pub due: u64,
    pub waiting: u64,
    pub next_due_ms: Option<i64>,
}

/// Answer of `/console/api/gc`.
#[derive(Debug, Clone, Serialize)]
pub struct GcView {
    pub due: u64,
    pub waiting: u64,
    pub services: Vec<GcRow>,
}

fn addrs(services: &[ServiceRecord]) -> HashMap<&str, &str> {
    services
        .iter()
        .map(|s| (s.id.as_str(), s.addr.as_str()))
        .collect()
}

/// The GC backlog, servers named by address.
pub fn gc(backlog: Vec<GcBacklog>, services: &[ServiceRecord]) -> GcView {
    let addrs = addrs(services);
    let rows: Vec<GcRow> = backlog
        .into_iter()
        .map(|b| GcRow {
            addr: addrs
                .get(b.service.as_str())
                .map_or_else(String::new, |a| a.to_string()),
            service: b.service,
            due: b.due,
            waiting: b.waiting,
            next_due_ms: b.next_due_ms,
        })
        .collect();
    GcView {
        due: rows.iter().map(|r| r.due).sum(),
        waiting: rows.iter().map(|r| r.waiting).sum(),
        services: rows,
    }
}

/// A lost chunk server's rebuild.
#[derive(Debug, Clone, Serialize)]
pub struct Lost {
    #[serde(flatten)]
    pub lost: LostService,
    pub addr: String,
}

/// Answer of `/console/api/rebuild`.
#[derive(Debug, Clone, Serialize)]
pub struct RebuildView {
    pub lost: Vec<Lost>,
    pub queued: u64,
    pub queued_bytes: u64,
    pub leased: u64,
    pub failing_count: usize,
    /// The first [`REPAIRS_SHOWN`] failing repairs.
    pub failing: Vec<RepairItem>,
    pub unrepairable_count: u64,
    /// The first [`REPAIRS_SHOWN`] unrepairable copies.
    pub unrepairable: Vec<RepairItem>,
}

/// The rebuild progress, servers named by address.
pub fn rebuild(status: RebuildStatus, services: &[ServiceRecord]) -> RebuildView {
    let addrs = addrs(services);
    let failing_count = status.failing.len();
    RebuildView {
        lost: status
            .lost
            .into_iter()
            .map(|l| Lost {
                addr: addrs
                    .get(l.service.as_str())
                    .map_or_else(String::new, |a| a.to_string()),
                lost: l,
            })
            .collect(),
        queued: status.queued,
        queued_bytes: status.queued_bytes,
        leased: status.leased,
        failing_count,
        failing: status.failing.into_iter().take(REPAIRS_SHOWN).collect(),
        unrepairable_count: status.unrepairable_count,
        unrepairable: status
            .unrepairable
            .into_iter()
            .take(REPAIRS_SHOWN)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use meta_api::wire::ServiceStats;

    fn service(id: &str, location: &str, last_seen_ms: i64, locked: Option<u8>) -> ServiceRecord {
        ServiceRecord {
            id: id.to_string(),
            kind: "chunkd".to_string(),
            addr: format!("127.0.0.1:{}", 7000 + id.len()),
            location: location.to_string(),
            slots: Vec::new(),
            stats: ServiceStats {
                free_bytes: 30,
                total_bytes: 100,
                chunk_count: 4,
                io_idle: 1.0,
                cpu_idle: 1.0,
            },
            first_seen_ms: 0,
            last_seen_ms,
            score: 80,
            locked,
        }
    }

    #[test]
    fn locations_split_into_four_levels() {
        assert_eq!(levels("dc1.r2.h3.v4"), ["dc1", "r2", "h3", "v4"]);
        assert_eq!(levels("dc1.r2"), ["dc1", "r2", "?", "?"]);
        assert_eq!(levels("a.b.c.d.e"), ["a", "b", "c", "d.e"]);
        assert_eq!(levels(""), ["?", "?", "?", "?"]);
    }

    #[test]
    fn the_map_nests_servers_by_location_and_colours_them_by_state() {
        let now = 100_000;
        let services = vec![
            service("b", "dc1.rack0.host1.vol0", now - 1000, None),
            service("a", "dc1.rack0.host0.vol0", now - 1000, None),
            service("c", "dc1.rack0.host0.vol1", now - 60_000, None),
            service("d", "dc2.rack9.host0.vol0", now, Some(0)),
        ];
        let gc = vec![GcBacklog {
            service: "a".to_string(),
            due: 3,
            waiting: 5,
            next_due_ms: None,
        }];
        let view = cluster(&services, &gc, &[], now, 10_000);
        assert_eq!(
            view.counts,
            Counts {
                total: 4,
                up: 2,
                down: 1,
                locked: 1
            }
        );
        let names: Vec<&str> = view.dcs.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["dc1", "dc2"]);
        let hosts = &view.dcs[0].racks[0].hosts;
        assert_eq!(hosts.len(), 2);
        assert_eq!(hosts[0].name, "host0");
        let vols: Vec<(&str, State)> = hosts[0]
            .volumes
            .iter()
            .map(|v| (v.id.as_str(), v.state))
            .collect();
        assert_eq!(vols, [("a", State::Up), ("c", State::Down)]);
        let a = &hosts[0].volumes[0];
        assert_eq!((a.used_bytes, a.gc_due, a.gc_waiting), (70, 3, 5));
        assert_eq!(
            view.dcs[1].racks[0].hosts[0].volumes[0].state,
            State::Locked
        );
        assert_eq!(view.total_bytes, 400);
    }

    #[test]
    fn a_silent_locked_server_is_down() {
        let rec = service("x", "a.b.c.d", 0, Some(50));
        assert_eq!(state(&rec, 20_000, 10_000), State::Down);
        assert_eq!(state(&rec, 5_000, 10_000), State::Locked);
    }

    #[test]
    fn policies_name_their_classes_and_whether_they_can_be_placed() {
        let set = PolicySet::builtin(3, 8 << 20);
        let services = vec![
            service("a", "dc.r.h0.v", 0, None),
            service("b", "dc.r.h1.v", 0, None),
        ];
        let view = policies(&set, "builtin", &services);
        assert_eq!(view.policies.len(), 1);
        let p = &view.policies[0];
        assert_eq!(
            (p.name.as_str(), p.protection.as_str()),
            ("REPLICATE3", "3 copies")
        );
        assert!(p.default);
        assert!(!p.placeable, "two servers cannot hold three copies");
        assert!(!p.check.is_empty());
    }
}
