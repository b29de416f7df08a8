//! `cluster.toml`, written by `spread dev` and read by `spread admin` and the tests: where every
//! process of a dev cluster listens, its pid, and the dev credentials. Also the port planning
//! that keeps the addresses of a first start for every later start on the same directory.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};

/// The whole `cluster.toml` file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterFile {
    pub data_dir: PathBuf,
    pub access_key: String,
    pub secret_key: String,
    pub account: String,
    pub meta: MetaEntry,
    pub gateway: GatewayEntry,
    #[serde(default)]
    pub chunkd: Vec<ChunkdEntry>,
    /// Every meta node of the group (node 1 is also `[meta]`); absent in older files.
    #[serde(default)]
    pub meta_nodes: Vec<MetaNodeEntry>,
    /// The secrets' files; absent in files of versions before internal authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthEntry>,
}

/// `[auth]`: where the cluster's secrets are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthEntry {
    pub cluster_key_file: PathBuf,
    pub admin_key_file: PathBuf,
}

/// One `[[meta_nodes]]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetaNodeEntry {
    pub id: u64,
    pub addr: String,
    pub data_dir: PathBuf,
    #[serde(default)]
    pub pid: u32,
}

/// `[meta]`: `addr` lists every meta node (`a,b,c`), as clients take it; `pid` is node 1's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetaEntry {
    pub addr: String,
    #[serde(default)]
    pub pid: u32,
}

/// `[gateway]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayEntry {
    pub s3_addr: String,
    /// Swift endpoint (`http://ADDR/auth/v1.0`); absent in files of older versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swift_addr: Option<String>,
    /// Admin listener (`/metrics`, `/health`, `/ready`); absent in files of older versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_addr: Option<String>,
    /// The gateway's access log file; absent in files of older versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_log: Option<PathBuf>,
    #[serde(default)]
    pub pid: u32,
}

/// One `[[chunkd]]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkdEntry {
    pub name: String,
    pub addr: String,
    pub volume: PathBuf,
    pub location: String,
    #[serde(default)]
    pub pid: u32,
}

impl ClusterFile {
    /// Reads and parses a cluster file.
    pub fn load(path: &Path) -> Result<ClusterFile> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::file(path, e))?;
        toml::from_str(&text).map_err(|e| Error::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    /// Writes the file atomically (temp file, fsync, rename).
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = toml::to_string(self).map_err(|e| Error::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        write_atomic(path, text.as_bytes())
    }
}

/// Reads only `[meta] addr` and `[auth]` from a cluster file (what `spread admin` needs).
pub fn admin_view(path: &Path) -> Result<(String, Option<AuthEntry>)> {
    #[derive(Deserialize)]
    struct Partial {
        meta: PartialMeta,
        #[serde(default)]
        auth: Option<AuthEntry>,
    }
    #[derive(Deserialize)]
    struct PartialMeta {
        addr: String,
    }
    let text = std::fs::read_to_string(path).map_err(|e| Error::file(path, e))?;
    let partial: Partial = toml::from_str(&text).map_err(|e| Error::Parse {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    Ok((partial.meta.addr, partial.auth))
}

/// Writes `bytes` to `path` through a temp file in the same directory, fsynced, then renamed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp).map_err(|e| Error::file(&tmp, e))?;
    f.write_all(bytes).map_err(|e| Error::file(&tmp, e))?;
    f.sync_all().map_err(|e| Error::file(&tmp, e))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(|e| Error::file(path, e))?;
    Ok(())
}

/// Addresses of the internal processes of a dev cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortPlan {
    /// Meta node 1.
    pub meta: SocketAddr,
    /// Meta nodes 2.. (a group of more than one).
    pub meta_peers: Vec<SocketAddr>,
    pub chunkd: Vec<SocketAddr>,
}

impl PortPlan {
    /// Every meta node's address, node 1 first, as clients take them (`a,b,c`).
    pub fn meta_list(&self) -> String {
        std::iter::once(self.meta)
            .chain(self.meta_peers.iter().copied())
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Adds addresses for meta nodes 2..=`nodes`: those of `previous` are kept, others asked
    /// from `fresh`.
    pub fn plan_meta_peers(
        &mut self,
        previous: Option<&ClusterFile>,
        nodes: usize,
        mut fresh: impl FnMut() -> Result<SocketAddr>,
    ) -> Result<()> {
        for id in 2..=nodes as u64 {
            let kept = previous.and_then(|p| p.meta_nodes.iter().find(|m| m.id == id));
            let addr = match kept {
                Some(m) => m.addr.parse().map_err(|_| {
                    Error::Usage(format!(
                        "cluster.toml: bad meta node {id} address {:?}",
                        m.addr
                    ))
                })?,
                None => {
                    let mut taken = self.chunkd.clone();
                    taken.extend(&self.meta_peers);
                    loop_fresh(&mut fresh, self.meta, &taken)?
                }
            };
            self.meta_peers.push(addr);
        }
        Ok(())
    }
}

/// Plans the meta and chunkd addresses: those of `previous` (a former `cluster.toml`) are kept,
/// missing ones are asked from `fresh` (normally [`free_loopback_addr`]).
pub fn plan_ports(
    previous: Option<&ClusterFile>,
    chunkds: usize,
    mut fresh: impl FnMut() -> Result<SocketAddr>,
) -> Result<PortPlan> {
    let parse = |s: &str, what: &str| -> Result<SocketAddr> {
        s.parse()
            .map_err(|_| Error::Usage(format!("cluster.toml: bad {what} address {s:?}")))
    };
    let meta = match previous {
        Some(p) => parse(p.meta.addr.split(',').next().unwrap_or_default(), "meta")?,
        None => fresh()?,
    };
    let mut chunkd = Vec::with_capacity(chunkds);
    for i in 0..chunkds {
        let name = format!("chunkd-{i}");
        let kept = previous.and_then(|p| p.chunkd.iter().find(|c| c.name == name));
        let addr = match kept {
            Some(c) => parse(&c.addr, &name)?,
            None => loop_fresh(&mut fresh, meta, &chunkd)?,
        };
        chunkd.push(addr);
    }
    Ok(PortPlan {
        meta,
        meta_peers: Vec::new(),
        chunkd,
    })
}

/// Asks `fresh` for an address not already planned (bounded retries).
fn loop_fresh(
    fresh: &mut impl FnMut() -> Result<SocketAddr>,
    meta: SocketAddr,
    taken: &[SocketAddr],
) -> Result<SocketAddr> {
    for _ in 0..32 {
        let a = fresh()?;
        if a != meta && !taken.contains(&a) {
            return Ok(a);
        }
    }
    Err(Error::Startup("could not find a free loopback port".into()))
}

/// A loopback address with a port that is free right now and lies below the kernel's
/// ephemeral range.
///
/// `spread dev` keeps its ports across restarts (they are in `cluster.toml`), and a killed
/// process is restarted on the same port. A port from the ephemeral range (what binding port 0
/// hands out) can meanwhile become the local end of some outgoing connection, and the restart
/// then fails with "Address already in use". Ports below that range are only ever taken by a
/// process that binds them on purpose. Falls back to port 0 if no such port is free.
pub fn free_loopback_addr() -> Result<SocketAddr> {
    use rand::Rng;
    let ephemeral_low = ephemeral_port_low();
    const LOWEST: u16 = 10_000;
    if ephemeral_low > LOWEST + 1000 {
        let mut rng = rand::thread_rng();
        for _ in 0..64 {
            let port = rng.gen_range(LOWEST..ephemeral_low);
            if let Ok(l) = TcpListener::bind(("127.0.0.1", port)) {
                return Ok(l.local_addr()?);
            }
        }
    }
    let l = TcpListener::bind("127.0.0.1:0")
        .map_err(|e| Error::Startup(format!("cannot bind a loopback port: {e}")))?;
    Ok(l.local_addr()?)
}

/// The lowest port of the kernel's ephemeral range (Linux's default if it cannot be read).
fn ephemeral_port_low() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(32768)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ClusterFile {
        ClusterFile {
            data_dir: PathBuf::from("/abs/spread-data"),
            access_key: "AK".into(),
            secret_key: "SK".into(),
            account: "dev".into(),
            meta: MetaEntry {
                addr: "127.0.0.1:34567".into(),
                pid: 1234,
            },
            gateway: GatewayEntry {
                s3_addr: "127.0.0.1:9000".into(),
                swift_addr: Some("127.0.0.1:8080".into()),
                admin_addr: Some("127.0.0.1:9001".into()),
                access_log: Some(PathBuf::from("/tmp/spread-data/logs/access.log")),
                pid: 1240,
            },
            meta_nodes: vec![],
            auth: Some(AuthEntry {
                cluster_key_file: PathBuf::from("/abs/spread-data/keys/cluster.key"),
                admin_key_file: PathBuf::from("/abs/spread-data/keys/admin.key"),
            }),
            chunkd: (0..2)
                .map(|i| ChunkdEntry {
                    name: format!("chunkd-{i}"),
                    addr: format!("127.0.0.1:3456{}", 8 + i),
                    volume: PathBuf::from(format!("/abs/spread-data/chunkd-{i}")),
                    location: format!("local.rack0.host{i}.vol0"),
                    pid: 1235 + i,
                })
                .collect(),
        }
    }

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cluster.toml");
        let c = sample();
        c.save(&path).unwrap();
        assert_eq!(ClusterFile::load(&path).unwrap(), c);
        let (addr, auth) = admin_view(&path).unwrap();
        assert_eq!(addr, "127.0.0.1:34567");
        assert_eq!(auth, c.auth);
        assert!(!path.with_extension("tmp").exists());
    }

    #[test]
    fn documented_format_parses() {
        let text = r#"
data_dir = "/abs/spread-data"
access_key = "..."
secret_key = "..."
account = "dev"

[meta]
addr = "127.0.0.1:34567"
pid = 1234

[gateway]
s3_addr = "127.0.0.1:9000"
pid = 1240

[[chunkd]]
name = "chunkd-0"
addr = "127.0.0.1:34568"
volume = "/abs/spread-data/chunkd-0"
location = "local.rack0.host0.vol0"
pid = 1235
"#;
        let c: ClusterFile = toml::from_str(text).unwrap();
        assert_eq!(c.meta.addr, "127.0.0.1:34567");
        assert_eq!(c.gateway.pid, 1240);
        assert_eq!(c.gateway.swift_addr, None);
        let with_swift = text.replace("pid = 1240", "swift_addr = \"127.0.0.1:8080\"\npid = 1240");
        let c2: ClusterFile = toml::from_str(&with_swift).unwrap();
        assert_eq!(c2.gateway.swift_addr.as_deref(), Some("127.0.0.1:8080"));
        assert_eq!(c.chunkd.len(), 1);
        assert_eq!(c.chunkd[0].location, "local.rack0.host0.vol0");
        // Our own output has the same shape: top-level keys, then [meta], [gateway], [[chunkd]].
        let out = toml::to_string(&sample()).unwrap();
        let meta = out.find("[meta]").unwrap();
        let gw = out.find("[gateway]").unwrap();
        let ck = out.find("[[chunkd]]").unwrap();
        assert!(out.starts_with("data_dir = "));
        assert!(meta < gw && gw < ck, "{out}");
    }

    #[test]
    fn fresh_ports_without_previous_file() {
        let mut next = 40000;
        let plan = plan_ports(None, 3, || {
            next += 1;
            Ok(SocketAddr::from(([127, 0, 0, 1], next)))
        })
        .unwrap();
        assert_eq!(plan.meta.port(), 40001);
        let ports: Vec<u16> = plan.chunkd.iter().map(|a| a.port()).collect();
        assert_eq!(ports, [40002, 40003, 40004]);
    }

    #[test]
    fn previous_ports_are_reused_and_missing_ones_added() {
        let prev = sample();
        let mut asked = 0;
        let plan = plan_ports(Some(&prev), 3, || {
            asked += 1;
            Ok(SocketAddr::from(([127, 0, 0, 1], 41000)))
        })
        .unwrap();
        assert_eq!(plan.meta.to_string(), "127.0.0.1:34567");
        assert_eq!(plan.chunkd[0].to_string(), "127.0.0.1:34568");
        assert_eq!(plan.chunkd[1].to_string(), "127.0.0.1:34569");
        assert_eq!(plan.chunkd[2].to_string(), "127.0.0.1:41000");
        assert_eq!(asked, 1);
        // Fewer chunk servers than before: the first ones keep their ports.
        let plan = plan_ports(Some(&prev), 1, || unreachable!()).unwrap();
        assert_eq!(plan.chunkd, vec!["127.0.0.1:34568".parse().unwrap()]);
    }

    #[test]
    fn duplicate_fresh_ports_are_skipped() {
        let mut seq = [42000u16, 42000, 42001, 42001, 42002].into_iter();
        let plan = plan_ports(None, 2, || {
            Ok(SocketAddr::from(([127, 0, 0, 1], seq.next().unwrap())))
        })
        .unwrap();
        assert_eq!(plan.meta.port(), 42000);
        let ports: Vec<u16> = plan.chunkd.iter().map(|a| a.port()).collect();
        assert_eq!(ports, [42001, 42002]);
    }

    #[test]
    fn bad_previous_address_is_an_error() {
        let mut prev = sample();
        prev.meta.addr = "nope".into();
        assert!(plan_ports(Some(&prev), 1, || unreachable!()).is_err());
    }

    #[test]
    fn free_port_is_loopback() {
        let a = free_loopback_addr().unwrap();
        assert!(a.ip().is_loopback());
        assert_ne!(a.port(), 0);
        // Below the ephemeral range, where outgoing connections never take it.
        let low = ephemeral_port_low();
        if low > 11_000 {
            assert!(a.port() < low, "{a} is in the ephemeral range");
        }
    }
}
