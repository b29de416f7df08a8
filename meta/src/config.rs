//! Configuration of the meta service (`spread meta --config FILE`): every field has a default and
//! unknown fields are an error.

use crate::score_expr::ScoreExpr;
use meta_api::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// `meta::Config`, read from a TOML file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP server binds to.
    pub listen: SocketAddr,
    /// Root of the LMDB environments (`directory/` and `meta2/`).
    pub data_dir: PathBuf,
    /// A service silent for this long scores 0.
    pub dead_after_secs: u64,
    /// A chunk no longer referenced (object overwritten or deleted, write abandoned) is
    /// deleted from its chunk server no sooner than this, so that reads in progress finish.
    pub gc_grace_secs: u64,
    /// At most this many meta2 environments stay open.
    pub open_env_cache: usize,
    /// LMDB map size of each environment, in MiB.
    pub map_size_mib: usize,
    /// LMDB map size of the directory environment, in MiB: it holds the reverse index (an
    /// entry per chunk copy, a few hundred bytes each), so it is sized apart. The map is
    /// address space, not disk: the file grows only as data is written.
    pub directory_map_size_mib: usize,
    /// Writes that add data (objects, parts, uploads, buckets, accounts, keys, Swift users)
    /// are refused (507, saying which map and what to do) while the LMDB map they would write
    /// (the directory's, or their bucket's meta2) is more than this percent used; reads,
    /// deletes and housekeeping go on. 100 never refuses (a full map then stops meta with
    /// `MDB_MAP_FULL`).
    pub map_refuse_percent: u8,
    /// Conscience score of a chunk server from its stats (see [`crate::score_expr`]): variables
    /// `space` (free/total), `cpu` (CPU idle), `io` (I/O idle), all 0..=1; the result is clamped
    /// to 0..=100 and rounded.
    pub score_expr: String,
    /// On each heartbeat a score rises by at most this much over the previous one (it may
    /// fall at once); a new service starts from 0.
    pub score_max_rise: u8,
    /// A service seen for the first time is stored locked at score 0: it gets no data until an
    /// operator admits it (`spread admin cluster admit`). On by default: a new chunk server
    /// joins the cluster by decision, not by its first heartbeat.
    pub lock_new_services: bool,
    /// Seconds between two passes of the expirer (objects whose `x-delete-at` is due, expired
    /// Swift tokens); 0 disables it.
    pub expirer_interval_secs: u64,
    /// A chunk server silent for this long is declared lost: every copy it held is re-created
    /// elsewhere.
    pub lost_after_secs: u64,
    /// Seconds between two passes of the rebuild planner (declares silent servers lost,
    /// queues their copies); 0 disables it.
    pub rebuild_check_secs: u64,
    /// Seconds between two passes of the lifecycle worker (S3 lifecycle rules); 0 disables it.
    pub lifecycle_interval_secs: u64,
    /// Length of a lifecycle "day" in seconds: rules say days, the worker counts this many
    /// seconds for each (tests shorten it; 0 counts as 1).
    pub lifecycle_day_secs: u64,
    /// This node's id in its meta group: set once per data directory (a directory that
    /// belongs to another id is refused) and never reused for another node.
    pub node_id: u64,
    /// The address other meta nodes and clients reach this node at (default: `listen`).
    pub advertise: Option<String>,
    /// On first start with an empty log, start a group of one (this node). A node meant to
    /// join an existing group sets `false` and is added with `spread admin meta add`.
    pub bootstrap: bool,
    /// Addresses of the group's other nodes (`host:port`, as clients reach them). A node that
    /// is about to start a group of its own (`bootstrap`, an empty data directory) first asks
    /// each of them, and those of `raft_peers`, who they are, and refuses to start if one
    /// already belongs to a group: that node is a wiped member, not the first of a new group.
    /// `SPREAD_META_GROUP_PEERS` overrides it (comma-separated).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub group_peers: Vec<String>,
    /// Leader heartbeat period, in ms.
    pub raft_heartbeat_ms: u64,
    /// Election timeout, in ms: a follower that hears no leader for 1.5 times this (openraft's
    /// leader lease, the longest timeout) plus 1 to 1.5 times this (at random) starts an
    /// election: 2.5 to 3 s with the default. At least 1000 so a busy machine does not elect
    /// for nothing.
    pub raft_election_timeout_ms: u64,
    /// A snapshot is taken every this many log entries; older entries are then purged.
    /// `SPREAD_META_RAFT_SNAPSHOT_LOGS` overrides it.
    pub raft_snapshot_logs: u64,
    /// File holding the cluster secret (64 hex digits; `spread keygen`): requests signed
    /// with it are accepted from the cluster's services. `SPREAD_CLUSTER_KEY_FILE`, or the
    /// secret itself in `SPREAD_CLUSTER_KEY`.
    pub cluster_key_file: Option<PathBuf>,
    /// File holding the admin secret: operators' requests (the admin routes) and the Raft
    /// messages between meta nodes are signed with keys derived from it.
    /// `SPREAD_ADMIN_KEY_FILE`, or the secret itself in `SPREAD_ADMIN_KEY`.
    pub admin_key_file: Option<PathBuf>,
    /// Answer unsigned requests (no internal authentication at all). Only for a closed test
    /// network or the first step of an upgrade; meta warns at every start.
    pub insecure_no_auth: bool,
    /// File of the cluster's master keys, which seal SigV4 secrets and Swift keys at rest
    /// (see [`crate::secrets`]); every node of a group holds the same file. Unset: secrets are
    /// stored in plaintext (a warning at startup). `SPREAD_META_MASTER_KEY_FILE` overrides it.
    pub master_key_file: Option<PathBuf>,
    /// Where this node sends its Raft messages to a peer, by peer node id (decimal), when not
    /// to the address the group's membership records for it (the address clients use): a
    /// separate replication network, NAT, or a test's proxy. `SPREAD_META_RAFT_PEERS`
    /// overrides it (see [`parse_raft_peers`]).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub raft_peers: BTreeMap<String, String>,
}

/// Prefix of the variables that set config keys.
pub const ENV_PREFIX: &str = "SPREAD_META_";
/// Variables with that prefix that are not config keys (`spread dev` and `spread meta` flags),
/// or keys read in a format of their own ([`Config::with_env`]).
const ENV_NOT_KEYS: &[&str] = &[
    "SPREAD_META_CONFIG",
    "SPREAD_META_RESTORE",
    "SPREAD_META_NODES",
    "SPREAD_META_TIMEOUT_MS",
    "SPREAD_META_MASTER_KEY_FILE",
    "SPREAD_META_RAFT_SNAPSHOT_LOGS",
    "SPREAD_META_RAFT_PEERS",
    "SPREAD_META_GROUP_PEERS",
    "SPREAD_META_MAP_SIZE_MIB",
];

/// The default score expression: free space counts fully up to half empty, then the busier of
/// CPU and I/O halves the score at worst.
pub const DEFAULT_SCORE_EXPR: &str = "min(100 * space * 2, 100) * (0.5 + 0.5 * min(cpu, io))";

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 6000)),
            data_dir: PathBuf::from("./spread-data/meta"),
            dead_after_secs: 10,
            gc_grace_secs: 600,
            open_env_cache: 256,
            map_size_mib: 1024,
            directory_map_size_mib: 256 * 1024,
            map_refuse_percent: 90,
            score_expr: DEFAULT_SCORE_EXPR.to_string(),
            score_max_rise: 20,
            lock_new_services: true,
            expirer_interval_secs: 10,
            lost_after_secs: 900,
            rebuild_check_secs: 5,
            lifecycle_interval_secs: 300,
            lifecycle_day_secs: 86_400,
            node_id: 1,
            advertise: None,
            bootstrap: true,
            group_peers: Vec::new(),
            raft_heartbeat_ms: 250,
            raft_election_timeout_ms: 1000,
            raft_snapshot_logs: 20_000,
            cluster_key_file: None,
            admin_key_file: None,
            insecure_no_auth: false,
            master_key_file: None,
            raft_peers: BTreeMap::new(),
        }
    }
}

impl Config {
    /// Reads and parses a TOML config file.
    pub fn load(path: impl AsRef<Path>) -> Result<Config> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Io(format!("reading {}: {e}", path.display())))?;
        Config::parse(&text).map_err(|e| match e {
            Error::InvalidArgument(m) => Error::InvalidArgument(format!("{}: {m}", path.display())),
            other => other,
        })
    }

    /// Parses TOML text and checks it (the score expression must parse).
    pub fn parse(text: &str) -> Result<Config> {
        let config: Config =
            toml::from_str(text).map_err(|e| Error::InvalidArgument(format!("bad config: {e}")))?;
        config.score()?;
        config.peer_addrs()?;
        if !(1..=100).contains(&config.map_refuse_percent) {
            return Err(Error::InvalidArgument(format!(
                "map_refuse_percent = {} is not 1..=100 (100 never refuses)",
                config.map_refuse_percent
            )));
        }
        Ok(config)
    }

    /// The configuration with `master_key_file` taken from `SPREAD_META_MASTER_KEY_FILE` when
    /// that variable is set (an empty value unsets it), `raft_snapshot_logs` from
    /// `SPREAD_META_RAFT_SNAPSHOT_LOGS`, `raft_peers` from `SPREAD_META_RAFT_PEERS` and
    /// `group_peers` from `SPREAD_META_GROUP_PEERS`, `map_size_mib` from
    /// `SPREAD_META_MAP_SIZE_MIB`. Every other key is taken from its `SPREAD_META_<KEY>`
    /// variable when set (see [`config_env`]).
    pub fn with_env(self) -> Result<Config> {
        let var = |name: &str| std::env::var(name).ok();
        Ok(config_env::from_env(self, ENV_PREFIX, ENV_NOT_KEYS)
            .map_err(Error::InvalidArgument)?
            .with_master_key_var(std::env::var_os("SPREAD_META_MASTER_KEY_FILE"))
            .with_map_var(var("SPREAD_META_MAP_SIZE_MIB").as_deref())?
            .with_raft_vars(
                var("SPREAD_META_RAFT_SNAPSHOT_LOGS").as_deref(),
                var("SPREAD_META_RAFT_PEERS").as_deref(),
            )?
            .with_group_peers_var(var("SPREAD_META_GROUP_PEERS").as_deref()))
    }

    /// `group_peers` from a comma-separated list (an empty value means none).
    fn with_group_peers_var(mut self, var: Option<&str>) -> Config {
        if let Some(v) = var {
            self.group_peers = v
                .split(',')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(str::to_string)
                .collect();
        }
        self
    }

    /// Where to ask before bootstrapping: `group_peers` and the addresses of `raft_peers`,
    /// each once, without this node's own `advertise` or `listen` address.
    pub fn bootstrap_peers(&self, advertise: &str) -> Result<Vec<String>> {
        let own = [advertise.to_string(), self.listen.to_string()];
        let mut seen = std::collections::BTreeSet::new();
        Ok(self
            .group_peers
            .iter()
            .map(|a| a.trim().to_string())
            .chain(self.peer_addrs()?.into_values())
            .filter(|a| !a.is_empty() && !own.contains(a) && seen.insert(a.clone()))
            .collect())
    }

    fn with_map_var(mut self, map_size_mib: Option<&str>) -> Result<Config> {
        if let Some(v) = map_size_mib {
            self.map_size_mib = match v.trim().parse() {
                Ok(n) if n > 0 => n,
                _ => {
                    return Err(Error::InvalidArgument(format!(
                        "SPREAD_META_MAP_SIZE_MIB={v:?} is not a size in MiB"
                    )));
                }
            };
        }
        Ok(self)
    }

    fn with_raft_vars(
        mut self,
        snapshot_logs: Option<&str>,
        peers: Option<&str>,
    ) -> Result<Config> {
        if let Some(v) = snapshot_logs {
            self.raft_snapshot_logs = v.trim().parse().map_err(|_| {
                Error::InvalidArgument(format!(
                    "SPREAD_META_RAFT_SNAPSHOT_LOGS={v:?} is not a number of log entries"
                ))
            })?;
        }
        if let Some(v) = peers {
            self.raft_peers = parse_raft_peers(v, self.node_id)?;
        }
        Ok(self)
    }

    /// `raft_peers` with its ids parsed.
    pub fn peer_addrs(&self) -> Result<BTreeMap<u64, String>> {
        self.raft_peers
            .iter()
            .map(|(id, addr)| match id.parse::<u64>() {
                Ok(n) if !addr.trim().is_empty() => Ok((n, addr.trim().to_string())),
                _ => Err(Error::InvalidArgument(format!(
                    "raft_peers: {id:?} = {addr:?} is not a node id with an address"
                ))),
            })
            .collect()
    }

    fn with_master_key_var(mut self, var: Option<std::ffi::OsString>) -> Config {
        if let Some(v) = var {
            self.master_key_file = (!v.is_empty()).then(|| PathBuf::from(v));
        }
        self
    }

    /// The parsed `score_expr` (a clear `InvalidArgument` when it does not parse).
    pub fn score(&self) -> Result<ScoreExpr> {
        ScoreExpr::parse(&self.score_expr).map_err(|e| match e {
            Error::InvalidArgument(m) => Error::InvalidArgument(format!("bad score_expr: {m}")),
            other => other,
        })
    }
}

/// Parses `SPREAD_META_RAFT_PEERS`: comma-separated `ID=HOST:PORT` entries (where this node
/// reaches peer `ID`), each optionally prefixed `FROM>` to apply only on node `FROM`, so one
/// value can serve a whole group started from one environment (`spread dev`):
/// `1>2=127.0.0.1:7012,2>1=127.0.0.1:7021`. An empty value means none.
pub fn parse_raft_peers(text: &str, node_id: u64) -> Result<BTreeMap<String, String>> {
    let mut peers = BTreeMap::new();
    for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let bad = || {
            Error::InvalidArgument(format!(
                "SPREAD_META_RAFT_PEERS: {entry:?} is not [FROM>]ID=HOST:PORT"
            ))
        };
        let (target, addr) = entry.split_once('=').ok_or_else(bad)?;
        let (from, to) = match target.split_once('>') {
            Some((f, t)) => (Some(f.trim().parse::<u64>().map_err(|_| bad())?), t),
            None => (None, target),
        };
        let to: u64 = to.trim().parse().map_err(|_| bad())?;
        if addr.trim().is_empty() {
            return Err(bad());
        }
        if from.is_none_or(|f| f == node_id) {
            peers.insert(to.to_string(), addr.trim().to_string());
        }
    }
    Ok(peers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let c = Config::parse("").unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.listen.to_string(), "127.0.0.1:6000");
        let c = Config::parse("dead_after_secs = 3\nlisten = \"0.0.0.0:7000\"").unwrap();
        assert_eq!(c.dead_after_secs, 3);
        assert_eq!(c.listen.port(), 7000);
        assert_eq!(c.open_env_cache, 256);
        assert_eq!(c.expirer_interval_secs, 10);
        let c = Config::parse("expirer_interval_secs = 0").unwrap();
        assert_eq!(c.expirer_interval_secs, 0);
        assert_eq!(
            (c.lifecycle_interval_secs, c.lifecycle_day_secs),
            (300, 86_400)
        );
        let c = Config::parse("lifecycle_interval_secs = 2\nlifecycle_day_secs = 10").unwrap();
        assert_eq!((c.lifecycle_interval_secs, c.lifecycle_day_secs), (2, 10));
    }

    #[test]
    fn master_key_file_from_the_file_or_the_environment() {
        assert_eq!(Config::default().master_key_file, None);
        let c = Config::parse("master_key_file = \"/etc/spread/master.key\"").unwrap();
        assert_eq!(
            c.master_key_file.as_deref(),
            Some(Path::new("/etc/spread/master.key"))
        );
        let c = c.with_master_key_var(Some("/run/keys/m".into()));
        assert_eq!(c.master_key_file.as_deref(), Some(Path::new("/run/keys/m")));
        assert_eq!(c.clone().with_master_key_var(None), c);
        assert_eq!(c.with_master_key_var(Some("".into())).master_key_file, None);
    }

    #[test]
    fn keys_from_the_environment() {
        let c = config_env::overlay(
            Config::default(),
            ENV_PREFIX,
            ENV_NOT_KEYS,
            [
                ("SPREAD_META_DEAD_AFTER_SECS", "30"),
                ("SPREAD_META_LOCK_NEW_SERVICES", "false"),
                ("SPREAD_META_DATA_DIR", "/var/lib/spread/meta"),
                ("SPREAD_META_NODES", "3"),
                ("SPREAD_META_RAFT_PEERS", "2=a:1"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string())),
        )
        .unwrap();
        assert_eq!(c.dead_after_secs, 30);
        assert!(!c.lock_new_services);
        assert_eq!(c.data_dir, Path::new("/var/lib/spread/meta"));
        assert!(c.raft_peers.is_empty(), "read by with_raft_vars, not here");
        let e = config_env::overlay(
            Config::default(),
            ENV_PREFIX,
            ENV_NOT_KEYS,
            [("SPREAD_META_DEAD_AFTER".to_string(), "3".to_string())],
        )
        .unwrap_err();
        assert!(e.contains("SPREAD_META_DEAD_AFTER"), "{e}");
    }

    #[test]
    fn group_peers_from_the_file_or_the_environment() {
        let c = Config::parse(
            "listen = \"10.0.0.1:6000\"\ngroup_peers = [\"10.0.0.1:6000\", \"10.0.0.2:6000\", \"10.0.0.3:6000\"]\n[raft_peers]\n2 = \"10.0.1.2:6100\"\n3 = \"10.0.0.3:6000\"\n",
        )
        .unwrap();
        assert_eq!(
            c.bootstrap_peers("10.0.0.1:6000").unwrap(),
            ["10.0.0.2:6000", "10.0.0.3:6000", "10.0.1.2:6100"]
        );
        let text = toml::to_string(&c).unwrap();
        assert_eq!(Config::parse(&text).unwrap(), c);
        let c = c.with_group_peers_var(Some(" a:1, ,b:2 "));
        assert_eq!(c.group_peers, ["a:1", "b:2"]);
        assert!(c.with_group_peers_var(Some("")).group_peers.is_empty());
        assert!(
            Config::default()
                .bootstrap_peers("127.0.0.1:6000")
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn raft_peers_from_the_file_or_the_environment() {
        let c = Config::parse("[raft_peers]\n2 = \"10.0.0.2:6100\"\n").unwrap();
        assert_eq!(
            c.peer_addrs().unwrap(),
            BTreeMap::from([(2, "10.0.0.2:6100".to_string())])
        );
        assert!(Config::parse("[raft_peers]\nx = \"a:1\"\n").is_err());
        let text = toml::to_string(&c).unwrap();
        assert_eq!(Config::parse(&text).unwrap(), c);
        let node2 = Config {
            node_id: 2,
            ..Config::default()
        };
        let c = node2
            .clone()
            .with_raft_vars(Some("64"), Some("1>2=a:1, 2>1=b:2,2>3=c:3,9=d:4"))
            .unwrap();
        assert_eq!(c.raft_snapshot_logs, 64);
        assert_eq!(
            c.peer_addrs().unwrap(),
            BTreeMap::from([
                (1, "b:2".to_string()),
                (3, "c:3".to_string()),
                (9, "d:4".to_string())
            ])
        );
        assert!(node2.clone().with_raft_vars(Some("x"), None).is_err());
        assert!(node2.clone().with_raft_vars(None, Some("2>=a:1")).is_err());
        assert!(node2.clone().with_raft_vars(None, Some("3")).is_err());
        assert_eq!(node2.clone().with_raft_vars(None, Some("")).unwrap(), node2);
    }

    #[test]
    fn unknown_field_is_an_error() {
        assert!(matches!(
            Config::parse("nope = 1"),
            Err(Error::InvalidArgument(_))
        ));
    }

    #[test]
    fn conscience_settings_and_bad_expression() {
        let c = Config::default();
        assert_eq!((c.score_max_rise, c.lock_new_services), (20, true));
        c.score().unwrap();
        let c = Config::parse(
            "score_expr = \"100 * space\"\nscore_max_rise = 5\nlock_new_services = true",
        )
        .unwrap();
        assert_eq!((c.score_max_rise, c.lock_new_services), (5, true));
        let e = Config::parse("score_expr = \"100 * free\"").unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)));
        let msg = e.to_string();
        assert!(msg.contains("bad score_expr"), "{msg}");
        assert!(msg.contains("unknown variable \"free\""), "{msg}");
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("meta.toml");
        std::fs::write(&p, "score_expr = \"min(space\"\n").unwrap();
        let msg = Config::load(&p).unwrap_err().to_string();
        assert!(
            msg.contains("meta.toml") && msg.contains("score_expr"),
            "{msg}"
        );
    }

    #[test]
    fn load_from_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("meta.toml");
        std::fs::write(&p, "map_size_mib = 64\nmap_refuse_percent = 80\n").unwrap();
        let c = Config::load(&p).unwrap();
        assert_eq!((c.map_size_mib, c.map_refuse_percent), (64, 80));
        assert_eq!(Config::default().map_refuse_percent, 90);
        // SPREAD_META_MAP_SIZE_MIB overrides the file (tests shrink the bucket maps with it).
        let c = c.with_map_var(Some(" 2 ")).unwrap();
        assert_eq!(c.map_size_mib, 2);
        for bad in ["0", "x", ""] {
            let e = c.clone().with_map_var(Some(bad)).unwrap_err().to_string();
            assert!(e.contains("SPREAD_META_MAP_SIZE_MIB"), "{e}");
        }
        for bad in ["0", "101"] {
            let e = Config::parse(&format!("map_refuse_percent = {bad}\n")).unwrap_err();
            assert!(e.to_string().contains("map_refuse_percent"), "{e}");
        }
        assert!(matches!(
            Config::load(dir.path().join("missing.toml")),
            Err(Error::Io(_))
        ));
    }
}
