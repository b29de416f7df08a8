//! The per-process TOML configs of a dev cluster, written to `DIR/conf/`.

use crate::cli::DevArgs;
use crate::cluster::PortPlan;
use crate::cluster::write_atomic;
use crate::error::{Error, Result};
use serde::Serialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Location of dev chunk server `i` when the servers are spread over `hosts` hosts:
/// `local.rack0.host{i % hosts}.vol{i / hosts}` (`hosts` 0 counts as 1).
pub fn chunkd_location(i: usize, hosts: usize) -> String {
    let hosts = hosts.max(1);
    format!("local.rack0.host{}.vol{}", i % hosts, i / hosts)
}

/// Number of hosts of a dev cluster: `--hosts`, else one per chunk server.
pub fn host_count(args: &DevArgs) -> usize {
    usize::from(args.hosts.unwrap_or(args.chunkd))
}

/// Name of dev chunk server `i`.
pub fn chunkd_name(i: usize) -> String {
    format!("chunkd-{i}")
}

/// Name (process, config, data directory) of dev meta node `id` (2 and up; node 1 is `meta`).
pub fn meta_name(id: usize) -> String {
    format!("meta-{id}")
}

/// The dev cluster's master key file, under its directory (shared by every meta node).
pub const MASTER_KEY_FILE: &str = "master.key";
/// The dev gateway's SSE-S3 master key file, in the data dir.
pub const SSE_KEY_FILE: &str = "sse.key";

/// The SSE-S3 master key file of the dev gateway, made on the first start and kept (losing it
/// loses every SSE-S3 object written with it). Same format as the master key file.
pub fn ensure_sse_key(dir: &Path) -> Result<std::path::PathBuf> {
    std::fs::create_dir_all(dir).map_err(|e| Error::file(dir, e))?;
    let path = dir.join(SSE_KEY_FILE);
    if meta::secrets::create_key_file(&path, "sse-1")? {
        tracing::info!(path = %path.display(), "SSE-S3 master key created");
    }
    Ok(path)
}

/// Paths of the written config files.
pub struct ConfigPaths {
    pub meta: PathBuf,
    /// Meta nodes 2..
    pub meta_peers: Vec<PathBuf>,
    pub chunkd: Vec<PathBuf>,
    pub gateway: PathBuf,
    /// The secrets every process was given.
    pub keys: crate::cluster::AuthEntry,
}

/// The cluster and admin secrets of a dev cluster, in `dir/keys/`: made at the first start,
/// kept for the later ones.
pub fn ensure_keys(dir: &Path) -> Result<crate::cluster::AuthEntry> {
    let keys = dir.join("keys");
    std::fs::create_dir_all(&keys).map_err(|e| Error::file(&keys, e))?;
    let entry = crate::cluster::AuthEntry {
        cluster_key_file: keys.join("cluster.key"),
        admin_key_file: keys.join("admin.key"),
    };
    for path in [&entry.cluster_key_file, &entry.admin_key_file] {
        internal_auth::Secret::load_or_create(path).map_err(|e| Error::Startup(e.to_string()))?;
    }
    Ok(entry)
}

/// The gateway config of a dev cluster (validated): its admin listener on `admin`, its
/// access log written to `access_log`.
pub fn gateway_config(
    args: &DevArgs,
    meta: &str,
    admin: SocketAddr,
    access_log: &Path,
) -> Result<gateway::Config> {
    let defaults = gateway::Config::default();
    let config = gateway::Config {
        s3_listen: args.s3_listen,
        swift_listen: Some(args.swift_listen),
        meta: meta.to_string(),
        replicas: usize::from(args.replicas),
        chunk_size: args.chunk_size.unwrap_or(defaults.chunk_size),
        s3_domain: args.s3_domain.clone(),
        meta_timeout_ms: args.meta_timeout_ms.unwrap_or(defaults.meta_timeout_ms),
        admin_addr: admin,
        access_log: access_log.display().to_string(),
        ..defaults
    };
    config.validate()?;
    Ok(config)
}

/// Writes meta, chunkd-I and gateway configs under `dir/conf/`.
pub fn write_all(
    dir: &Path,
    plan: &PortPlan,
    gateway: &gateway::Config,
    hosts: usize,
    args: &DevArgs,
) -> Result<ConfigPaths> {
    let conf = dir.join("conf");
    std::fs::create_dir_all(&conf).map_err(|e| Error::file(&conf, e))?;
    let keys = ensure_keys(dir)?;
    let meta_defaults = meta::Config::default();
    // The master key sealing secrets at rest, made on the first start and kept (losing it
    // loses every secret).
    let master_key = dir.join(MASTER_KEY_FILE);
    if meta::secrets::create_key_file(&master_key, "dev-1")? {
        tracing::info!(path = %master_key.display(), "master key created");
    }
    let meta_cfg = meta::Config {
        listen: plan.meta,
        data_dir: dir.join("meta"),
        master_key_file: Some(master_key),
        lifecycle_interval_secs: args.lifecycle_interval_secs,
        lifecycle_day_secs: args.lifecycle_day_secs,
        gc_grace_secs: args.gc_grace_secs.unwrap_or(meta_defaults.gc_grace_secs),
        lost_after_secs: args.lost_after_secs,
        rebuild_check_secs: 2,
        // The dev cluster's chunk servers are its own: admitted as they come.
        lock_new_services: false,
        cluster_key_file: Some(keys.cluster_key_file.clone()),
        admin_key_file: Some(keys.admin_key_file.clone()),
        // Asked by node 1 before it bootstraps: with its data dir wiped it must not start a
        // group of its own beside the others (each node leaves its own address out).
        group_peers: std::iter::once(plan.meta)
            .chain(plan.meta_peers.iter().copied())
            .map(|a| a.to_string())
            .collect(),
        ..meta_defaults
    };
    let meta_path = conf.join("meta.toml");
    write_toml(&meta_path, &meta_cfg)?;
    // Nodes 2.. join node 1's group (they do not start one of their own).
    let mut meta_peers = Vec::with_capacity(plan.meta_peers.len());
    for (i, addr) in plan.meta_peers.iter().enumerate() {
        let name = meta_name(i + 2);
        let cfg = meta::Config {
            listen: *addr,
            data_dir: dir.join(&name),
            node_id: i as u64 + 2,
            bootstrap: false,
            ..meta_cfg.clone()
        };
        let path = conf.join(format!("{name}.toml"));
        write_toml(&path, &cfg)?;
        meta_peers.push(path);
    }
    let mut chunkd_paths = Vec::with_capacity(plan.chunkd.len());
    let chunkd_defaults = chunkd::Config::default();
    for (i, addr) in plan.chunkd.iter().enumerate() {
        let volume = dir.join(chunkd_name(i));
        std::fs::create_dir_all(&volume).map_err(|e| Error::file(&volume, e))?;
        let cfg = chunkd::Config {
            listen: *addr,
            advertise: None,
            volume,
            location: chunkd_location(i, hosts),
            meta: plan.meta_list(),
            scrub_mib_per_sec: args
                .scrub_mib_per_sec
                .unwrap_or(chunkd_defaults.scrub_mib_per_sec),
            scrub_interval_days: args
                .scrub_interval_days
                .unwrap_or(chunkd_defaults.scrub_interval_days),
            scrub_grace_secs: args
                .scrub_grace_secs
                .unwrap_or(chunkd_defaults.scrub_grace_secs),
            cluster_key_file: Some(keys.cluster_key_file.clone()),
            ..chunkd_defaults.clone()
        };
        let path = conf.join(format!("{}.toml", chunkd_name(i)));
        write_toml(&path, &cfg)?;
        chunkd_paths.push(path);
    }
    let gateway_path = conf.join("gateway.toml");
    let gateway = gateway::Config {
        cluster_key_file: Some(keys.cluster_key_file.clone()),
        ..gateway.clone()
    };
    write_toml(&gateway_path, &gateway)?;
    Ok(ConfigPaths {
        meta: meta_path,
        meta_peers,
        chunkd: chunkd_paths,
        gateway: gateway_path,
        keys,
    })
}

fn write_toml<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = toml::to_string(value).map_err(|e| Error::Parse {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    write_atomic(path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_spread_over_hosts() {
        let six: Vec<String> = (0..6).map(|i| chunkd_location(i, 3)).collect();
        assert_eq!(
            six,
            [
                "local.rack0.host0.vol0",
                "local.rack0.host1.vol0",
                "local.rack0.host2.vol0",
                "local.rack0.host0.vol1",
                "local.rack0.host1.vol1",
                "local.rack0.host2.vol1",
            ]
        );
        assert_eq!(chunkd_location(4, 6), "local.rack0.host4.vol0");
        assert_eq!(chunkd_location(2, 1), "local.rack0.host0.vol2");
        assert_eq!(chunkd_location(2, 0), "local.rack0.host0.vol2");
    }
}
