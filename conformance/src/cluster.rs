//! A real Spread cluster for a test: `spread dev` in a temporary directory.
//!
//! [`Cluster::start`] finds the `spread` binary (`SPREAD_BIN`, else the workspace's
//! `target/release/spread`, else `target/debug/spread`), picks a free loopback port for S3,
//! starts `spread dev`, waits (bounded) for its `S3 endpoint: ...` line and reads the
//! `cluster.toml` it wrote (addresses, volumes and pids of meta, gateway and every chunkd).
//!
//! The harness can SIGKILL one chunk server ([`Cluster::kill_chunkd`]), freeze a chunk server
//! or meta (SIGSTOP, [`Cluster::freeze_chunkd`], thawed when the [`Frozen`] guard drops), stop the whole cluster
//! the way an operator would (SIGTERM, [`Cluster::stop`]), start it again on the same directory
//! ([`Cluster::restart`]) and run `spread admin` against it ([`Cluster::admin`]). Dropping it
//! kills every process it started; if the test is panicking, the tail of the cluster's log
//! (stderr of `spread dev` and its children) is printed first.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use rand::Rng;
use serde::Deserialize;

/// How long `spread dev` may take to print its endpoint line.
pub const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long `spread dev` may take to exit after SIGTERM.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one `spread admin` command may take.
pub const ADMIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Options of `spread dev`.
#[derive(Debug, Clone)]
pub struct DevOptions {
    pub chunkd: usize,
    pub replicas: usize,
    pub chunk_size: Option<u64>,
    /// `--policy FILE`: a storage policy file applied at startup.
    pub policy: Option<PathBuf>,
    /// `--hosts N`: chunk server i gets location `local.rack0.host{i % N}.vol{i / N}`.
    pub hosts: Option<usize>,
    /// `--s3-domain DOMAIN`: virtual-hosted-style addressing under DOMAIN.
    pub s3_domain: Option<String>,
    /// `--gc-grace-secs`: how long chunks of deleted objects wait before deletion.
    pub gc_grace_secs: Option<u64>,
    /// `--meta-timeout-ms`: how long the gateway waits for one answer of meta.
    pub meta_timeout_ms: Option<u64>,
    /// `--meta N`: meta nodes (a Raft group).
    pub meta: usize,
    /// `--scrub-mib-per-sec`: each chunk server's scrub rate (0: no scrubber).
    pub scrub_mib_per_sec: Option<u64>,
    /// `--scrub-interval-days`: days between scrub passes (0: only when asked).
    pub scrub_interval_days: Option<u64>,
    /// `--scrub-grace-secs`: how old a chunk must be before the scrubber checks it.
    pub scrub_grace_secs: Option<u64>,
    /// Environment variables set for `spread dev` (and so for its children), e.g. the
    /// gateway's `SPREAD_GATEWAY_*` edge settings.
    pub env: Vec<(String, String)>,
    /// `--tls`: S3 and Swift over HTTPS, the test CA at [`Cluster::tls_ca`] (the harness's
    /// own S3 and Swift clients speak plain HTTP: a TLS test brings its own, see `tests/tls.rs`).
    pub tls: bool,
}

impl DevOptions {
    /// Three meta nodes (a Raft group), three chunk servers, two copies. A request stuck on an
    /// unreachable or frozen meta node gives up after 3 s, then tries another node.
    pub fn three_metas() -> DevOptions {
        DevOptions {
            meta: 3,
            chunkd: 3,
            replicas: 2,
            meta_timeout_ms: Some(3_000),
            ..DevOptions::default()
        }
    }
}

impl Default for DevOptions {
    fn default() -> Self {
        DevOptions {
            chunkd: 3,
            replicas: 3,
            chunk_size: None,
            policy: None,
            hosts: None,
            s3_domain: None,
            gc_grace_secs: None,
            meta_timeout_ms: None,
            meta: 1,
            scrub_mib_per_sec: None,
            scrub_interval_days: None,
            scrub_grace_secs: None,
            env: Vec::new(),
            tls: false,
        }
    }
}

/// `cluster.toml` as written by `spread dev` (see docs/architecture.md).
#[derive(Debug, Clone, Deserialize)]
pub struct ClusterInfo {
    pub data_dir: PathBuf,
    pub access_key: String,
    pub secret_key: String,
    pub account: String,
    pub meta: ProcessInfo,
    pub gateway: GatewayInfo,
    #[serde(default)]
    pub chunkd: Vec<ChunkdInfo>,
    /// Every meta node (node 1 is also `meta`).
    #[serde(default)]
    pub meta_nodes: Vec<MetaNodeInfo>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MetaNodeInfo {
    pub id: u64,
    pub addr: String,
    pub data_dir: PathBuf,
    #[serde(default)]
    pub pid: Option<u32>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ProcessInfo {
    pub addr: String,
    #[serde(default)]
    pub pid: Option<u32>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct GatewayInfo {
    pub s3_addr: String,
    /// Swift listener (`host:port`), when the gateway serves Swift.
    #[serde(default)]
    pub swift_addr: Option<String>,
    /// Admin listener (`host:port`: `/metrics`, `/health`, `/ready`).
    #[serde(default)]
    pub admin_addr: Option<String>,
    /// The access log file `spread dev` gives the gateway.
    #[serde(default)]
    pub access_log: Option<PathBuf>,
    #[serde(default)]
    pub pid: Option<u32>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ChunkdInfo {
    pub name: String,
    pub addr: String,
    pub volume: PathBuf,
    pub location: String,
    #[serde(default)]
    pub pid: Option<u32>,
}

impl ClusterInfo {
    /// Every child pid listed (meta, gateway, chunk servers).
    pub fn pids(&self) -> Vec<u32> {
        let mut pids: Vec<u32> = self.chunkd.iter().filter_map(|c| c.pid).collect();
        pids.extend(self.meta.pid);
        pids.extend(self.meta_nodes.iter().filter_map(|m| m.pid));
        pids.extend(self.gateway.pid);
        pids.sort_unstable();
        pids.dedup();
        pids
    }
}

/// Output of `spread admin object locate --json`.
#[derive(Debug, Clone, Deserialize)]
pub struct Located {
    pub bucket: String,
    pub key: String,
    pub size: u64,
    pub etag: String,
    pub policy: serde_json::Value,
    pub chunks: Vec<LocatedChunk>,
}

impl Located {
    /// The name of the storage policy recorded on the object (empty when absent).
    pub fn policy_name(&self) -> &str {
        self.policy.as_str().unwrap_or_default()
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct LocatedChunk {
    pub pos: u64,
    pub offset: u64,
    pub size: u64,
    pub hash: String,
    pub copies: Vec<LocatedCopy>,
    /// Erasure-coding layout; `None` for replicated chunks.
    #[serde(default)]
    pub ec: Option<LocatedEc>,
    /// Fragment indexes that were not stored (erasure-coded chunks).
    #[serde(default)]
    pub missing_fragments: Option<Vec<u32>>,
    /// The bytes are kept in the meta2 record (no copies on chunk servers).
    #[serde(default)]
    pub inline: bool,
}

impl LocatedChunk {
    /// `missing_fragments`, empty when absent.
    pub fn missing(&self) -> Vec<u32> {
        self.missing_fragments.clone().unwrap_or_default()
    }
}

/// How an erasure-coded chunk is cut: `k` data + `m` parity fragments of `fragment_size` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct LocatedEc {
    pub k: u32,
    pub m: u32,
    pub fragment_size: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LocatedCopy {
    pub service: String,
    pub addr: String,
    pub location: String,
    pub chunk_id: String,
    /// Fragment index (erasure-coded chunks); `None` for a copy.
    #[serde(default)]
    pub fragment: Option<u32>,
    /// BLAKE3 hex of this fragment, when reported.
    #[serde(default)]
    pub hash: Option<String>,
}

/// A chunk file split into its parts: `[data][footer JSON][u32 LE footer length]["SPRDCHK1"]`.
pub fn split_chunk_file(file: &[u8]) -> Result<(&[u8], serde_json::Value), String> {
    if file.len() < 12 || &file[file.len() - 8..] != b"SPRDCHK1" {
        return Err(format!(
            "no SPRDCHK1 magic at the end of a {}-byte chunk file",
            file.len()
        ));
    }
    let len_at = file.len() - 12;
    let footer_len = u32::from_le_bytes(
        file[len_at..len_at + 4]
            .try_into()
            .map_err(|_| "footer length".to_string())?,
    ) as usize;
    if footer_len > len_at {
        return Err(format!(
            "footer length {footer_len} larger than the file ({} bytes)",
            file.len()
        ));
    }
    let data_len = len_at - footer_len;
    let footer: serde_json::Value = serde_json::from_slice(&file[data_len..len_at])
        .map_err(|e| format!("footer is not JSON: {e}"))?;
    Ok((&file[..data_len], footer))
}

/// Parses the table of `spread admin cluster list` into service id → score, using the `ID`
/// and `SCORE` columns of its header line.
pub fn parse_service_scores(table: &str) -> Result<BTreeMap<String, u8>, String> {
    let mut lines = table.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines
        .next()
        .ok_or("empty cluster list")?
        .split_whitespace()
        .collect();
    let id_col = header
        .iter()
        .position(|h| *h == "ID")
        .ok_or_else(|| format!("no ID column in {header:?}"))?;
    let score_col = header
        .iter()
        .position(|h| *h == "SCORE")
        .ok_or_else(|| format!("no SCORE column in {header:?}"))?;
    let mut scores = BTreeMap::new();
    for line in lines {
        let cells: Vec<&str> = line.split_whitespace().collect();
        let (Some(id), Some(score)) = (cells.get(id_col), cells.get(score_col)) else {
            return Err(format!("short line in cluster list: {line:?}"));
        };
        let score: u8 = score
            .parse()
            .map_err(|e| format!("score {score:?} in {line:?}: {e}"))?;
        scores.insert(id.to_string(), score);
    }
    Ok(scores)
}

/// The `spread` binary the tests drive.
pub fn spread_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("SPREAD_BIN") {
        let p = PathBuf::from(p);
        assert!(p.is_file(), "SPREAD_BIN={} is not a file", p.display());
        return p;
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("conformance lives inside the workspace")
        .to_path_buf();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"));
    for profile in ["release", "debug"] {
        let p = target.join(profile).join("spread");
        if p.is_file() {
            return p;
        }
    }
    panic!(
        "no spread binary: set SPREAD_BIN or run `cargo build --release` first (looked in {})",
        target.display()
    );
}

/// The S3 address given to a new `spread dev`: it picks a free port itself, below the kernel's
/// ephemeral range, so a restart on the same port is not refused because an outgoing
/// connection took it meanwhile.
const ANY_S3_PORT: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 0);

/// The S3 address a started `spread dev` chose, from its `cluster.toml`.
fn chosen_s3_addr(info: &ClusterInfo) -> Result<SocketAddr, String> {
    let addr = &info.gateway.s3_addr;
    addr.parse()
        .map_err(|_| format!("cluster.toml: bad gateway s3_addr {addr:?}"))
}

/// Whether a process exists and has not finished exiting (a zombie whose threads are all
/// gone counts as dead).
pub fn pid_alive(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name, which may contain spaces.
        Ok(stat) => match stat.rfind(')') {
            Some(i) => match stat[i + 1..].trim_start().chars().next() {
                // A killed process's main thread shows `Z` as soon as it has exited, while
                // its other threads may still be exiting and its sockets still open (a
                // restart on its port would then fail): dead once no other thread is left.
                Some('Z') | Some('X') => other_threads(pid),
                _ => true,
            },
            None => true,
        },
        Err(_) => false,
    }
}

/// Whether `pid` has threads other than its main one (false once it is gone).
fn other_threads(pid: u32) -> bool {
    fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .any(|e| e.file_name().to_str() != Some(&pid.to_string()))
        })
        .unwrap_or(false)
}

/// Sends `sig` to `pid` (e.g. `SIGSTOP` / `SIGCONT` to freeze a service of the cluster).
pub fn signal(pid: u32, sig: libc::c_int) {
    // SAFETY: kill(2) has no memory-safety preconditions; the pid is one this harness started
    // (directly or as a child of `spread dev`).
    unsafe {
        libc::kill(pid as libc::pid_t, sig);
    }
}

/// A process frozen with SIGSTOP, thawed (SIGCONT) when this guard is dropped, so no frozen
/// process outlives a test, even one that fails.
#[derive(Debug)]
pub struct Frozen {
    pid: u32,
    what: String,
    thawed: bool,
}

impl Frozen {
    /// SIGSTOPs `pid` (named `what` in messages) and waits until the kernel shows it stopped.
    pub fn freeze(pid: u32, what: &str) -> Frozen {
        assert!(pid_alive(pid), "{what} (pid {pid}) is not running");
        let guard = Frozen {
            pid,
            what: what.to_string(),
            thawed: false,
        };
        signal(pid, libc::SIGSTOP);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !pid_stopped(pid) {
            assert!(
                Instant::now() < deadline,
                "{what} (pid {pid}) not stopped 10 s after SIGSTOP"
            );
            thread::sleep(Duration::from_millis(5));
        }
        guard
    }

    /// SIGCONTs the process now.
    pub fn thaw(mut self) {
        self.cont();
    }

    fn cont(&mut self) {
        if !self.thawed {
            self.thawed = true;
            signal(self.pid, libc::SIGCONT);
        }
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    pub fn what(&self) -> &str {
        &self.what
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        self.cont();
    }
}

/// Whether a process is stopped (state `T`, by a signal).
pub fn pid_stopped(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rfind(')')
            .is_some_and(|i| stat[i + 1..].trim_start().starts_with('T')),
        Err(_) => false,
    }
}

/// Runs a command with a time limit, capturing stdout and stderr.
pub fn run_bounded(cmd: &mut Command, timeout: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {cmd:?}: {e}"));
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let t_out = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let t_err = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} did not finish within {timeout:?}");
        }
        thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: t_out.join().unwrap_or_default(),
        stderr: t_err.join().unwrap_or_default(),
    }
}

/// A running (or stopped) `spread dev` cluster owned by one test.
pub struct Cluster {
    dir: tempfile::TempDir,
    data_dir: PathBuf,
    s3_addr: SocketAddr,
    opts: DevOptions,
    access_key: String,
    secret_key: String,
    child: Option<Child>,
    /// Every pid ever read from cluster.toml, so Drop can clean up after restarts too.
    known_pids: Vec<u32>,
    pub endpoint: String,
    pub info: ClusterInfo,
}

impl Cluster {
    /// Starts `spread dev` with 3 chunk servers and 3 replicas.
    pub fn start() -> Cluster {
        Cluster::start_with(DevOptions::default())
    }

    pub fn start_with(opts: DevOptions) -> Cluster {
        Cluster::start_in(opts, Cluster::temp_dir())
    }

    /// A new temporary directory for [`Cluster::start_in`].
    pub fn temp_dir() -> tempfile::TempDir {
        tempfile::Builder::new()
            .prefix("spread-conformance-")
            .tempdir()
            .expect("temp dir")
    }

    /// Starts `spread dev` with its data directory at `dir/data`, so a test can look at the
    /// files `spread dev` writes (e.g. `data/conf/*.toml`) while it starts.
    pub fn start_in(opts: DevOptions, dir: tempfile::TempDir) -> Cluster {
        let data_dir = dir.path().join("data");
        let (access_key, secret_key) = new_credentials();
        let mut last_err = String::new();
        // A port `spread dev` picked may be taken by someone else before it binds it: try a
        // few times before giving up.
        for _ in 0..3 {
            match Cluster::spawn_new(&dir, &data_dir, &opts, &access_key, &secret_key) {
                Ok((child, endpoint, info, s3_addr)) => {
                    let known_pids = info.pids();
                    return Cluster {
                        dir,
                        data_dir,
                        s3_addr,
                        opts,
                        access_key,
                        secret_key,
                        child: Some(child),
                        known_pids,
                        endpoint,
                        info,
                    };
                }
                Err(e) => {
                    last_err = e;
                    let _ = fs::remove_dir_all(&data_dir);
                }
            }
        }
        let log = tail(&dir.path().join("dev.log"), 200);
        panic!("spread dev did not start: {last_err}\n--- log ---\n{log}");
    }

    /// Starts `spread dev` once; on failure returns the reason followed by the cluster's log
    /// (for tests that expect `spread dev` to refuse to start).
    pub fn try_start_with(opts: DevOptions) -> Result<Cluster, String> {
        let dir = tempfile::Builder::new()
            .prefix("spread-conformance-")
            .tempdir()
            .map_err(|e| format!("temp dir: {e}"))?;
        let data_dir = dir.path().join("data");
        let (access_key, secret_key) = new_credentials();
        match Cluster::spawn_new(&dir, &data_dir, &opts, &access_key, &secret_key) {
            Ok((child, endpoint, info, s3_addr)) => {
                let known_pids = info.pids();
                Ok(Cluster {
                    dir,
                    data_dir,
                    s3_addr,
                    opts,
                    access_key,
                    secret_key,
                    child: Some(child),
                    known_pids,
                    endpoint,
                    info,
                })
            }
            Err(e) => {
                let log = tail(&dir.path().join("dev.log"), 200);
                Err(format!("{e}\n--- log ---\n{log}"))
            }
        }
    }

    /// Starts a new `spread dev` on a port it picks; also returns the S3 address it chose.
    fn spawn_new(
        dir: &tempfile::TempDir,
        data_dir: &Path,
        opts: &DevOptions,
        access_key: &str,
        secret_key: &str,
    ) -> Result<(Child, String, ClusterInfo, SocketAddr), String> {
        let (child, endpoint, info) =
            Cluster::spawn(dir, data_dir, ANY_S3_PORT, opts, access_key, secret_key)?;
        let s3_addr = chosen_s3_addr(&info)?;
        Ok((child, endpoint, info, s3_addr))
    }

    fn spawn(
        dir: &tempfile::TempDir,
        data_dir: &Path,
        s3_addr: SocketAddr,
        opts: &DevOptions,
        access_key: &str,
        secret_key: &str,
    ) -> Result<(Child, String, ClusterInfo), String> {
        let log_path = dir.path().join("dev.log");
        let mut log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| format!("opening {}: {e}", log_path.display()))?;
        let _ = writeln!(log, "=== spread dev --s3-listen {s3_addr} ===");
        let mut cmd = Command::new(spread_bin());
        cmd.arg("dev")
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--s3-listen")
            .arg(s3_addr.to_string())
            // Parallel test clusters must not all ask for the default Swift port.
            .arg("--swift-listen")
            .arg("127.0.0.1:0")
            .arg("--chunkd")
            .arg(opts.chunkd.to_string())
            .arg("--replicas")
            .arg(opts.replicas.to_string())
            .arg("--access-key")
            .arg(access_key)
            .arg("--secret-key")
            .arg(secret_key);
        if let Some(cs) = opts.chunk_size {
            cmd.arg("--chunk-size").arg(cs.to_string());
        }
        if let Some(policy) = &opts.policy {
            cmd.arg("--policy").arg(policy);
        }
        if let Some(hosts) = opts.hosts {
            cmd.arg("--hosts").arg(hosts.to_string());
        }
        if let Some(domain) = &opts.s3_domain {
            cmd.arg("--s3-domain").arg(domain);
        }
        if let Some(secs) = opts.gc_grace_secs {
            cmd.arg("--gc-grace-secs").arg(secs.to_string());
        }
        if let Some(ms) = opts.meta_timeout_ms {
            cmd.arg("--meta-timeout-ms").arg(ms.to_string());
        }
        // Always given: `spread dev` starts three by default, the harness one unless asked.
        cmd.arg("--meta").arg(opts.meta.to_string());
        if opts.tls {
            cmd.arg("--tls");
        }
        for (flag, value) in [
            ("--scrub-mib-per-sec", opts.scrub_mib_per_sec),
            ("--scrub-interval-days", opts.scrub_interval_days),
            ("--scrub-grace-secs", opts.scrub_grace_secs),
        ] {
            if let Some(v) = value {
                cmd.arg(flag).arg(v.to_string());
            }
        }
        if std::env::var_os("RUST_LOG").is_none() {
            cmd.env("RUST_LOG", "info");
        }
        for (name, value) in &opts.env {
            cmd.env(name, value);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log.try_clone().map_err(|e| e.to_string())?));
        let mut child = cmd.spawn().map_err(|e| format!("spawning {cmd:?}: {e}"))?;

        // Forward stdout to the log and hand the endpoint line over.
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel::<String>();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = writeln!(log, "[stdout] {line}");
                if line.contains("S3 endpoint:") {
                    let _ = tx.send(line);
                }
            }
        });

        let deadline = Instant::now() + START_TIMEOUT;
        let line = loop {
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(line) => break line,
                Err(mpsc::RecvTimeoutError::Disconnected)
                | Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Ok(Some(status)) = child.try_wait() {
                        return Err(format!("spread dev exited early: {status}"));
                    }
                    if Instant::now() > deadline {
                        let _ = child.kill();
                        let _ = child.wait();
                        return Err(format!("no `S3 endpoint:` line within {START_TIMEOUT:?}"));
                    }
                }
            }
        };
        let (endpoint, ak, sk) =
            parse_endpoint_line(&line).ok_or_else(|| format!("unparsable line: {line:?}"))?;
        let info = read_cluster_toml(&data_dir.join("cluster.toml"))?;
        if ak != access_key || sk != secret_key {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "spread dev printed other credentials than requested: {line:?}"
            ));
        }
        Ok((child, endpoint, info))
    }

    /// The dev account's access key.
    pub fn access_key(&self) -> &str {
        &self.access_key
    }

    /// The dev account's secret key.
    pub fn secret_key(&self) -> &str {
        &self.secret_key
    }

    /// An S3 client for the dev account.
    pub fn s3(&self) -> crate::s3::S3 {
        crate::s3::S3::new(&self.endpoint, &self.access_key, &self.secret_key)
    }

    /// The Swift auth URL (`http://ADDR/auth/v1.0`, `https://` with TLS) of the gateway.
    pub fn swift_auth_url(&self) -> String {
        let addr = self
            .info
            .gateway
            .swift_addr
            .clone()
            .unwrap_or_else(|| panic!("cluster.toml has no [gateway] swift_addr"));
        let scheme = if self.opts.tls { "https" } else { "http" };
        format!("{scheme}://{addr}/auth/v1.0")
    }

    /// The CA certificate (PEM) of a cluster started with [`DevOptions::tls`].
    pub fn tls_ca(&self) -> PathBuf {
        self.data_dir.join("tls").join("ca.pem")
    }

    /// A Swift client authenticated as the dev admin user (`dev:admin`, key = secret key).
    pub async fn swift(&self) -> crate::swift::Swift {
        let user = format!("{}:admin", self.info.account);
        crate::swift::Swift::login(&self.swift_auth_url(), &user, &self.secret_key)
            .await
            .unwrap_or_else(|e| panic!("Swift login as {user}: {e}"))
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// A signer with the cluster's secret, as its services sign (for requests made by hand
    /// to meta or a chunk server).
    pub fn service_signer(&self) -> internal_auth::Signer {
        let path = self.data_dir.join("keys").join("cluster.key");
        let secret = internal_auth::Secret::load(&path)
            .unwrap_or_else(|e| panic!("the dev cluster's secret: {e}"));
        internal_auth::Signer::new(internal_auth::Role::Service, &secret)
    }

    /// A signer with the dev cluster's admin secret, as `spread admin` signs (for admin
    /// requests made by hand to one meta node).
    pub fn admin_signer(&self) -> internal_auth::Signer {
        let path = self.data_dir.join("keys").join("admin.key");
        let secret = internal_auth::Secret::load(&path)
            .unwrap_or_else(|e| panic!("the dev cluster's admin secret: {e}"));
        internal_auth::Signer::new(internal_auth::Role::Admin, &secret)
    }

    pub fn cluster_toml(&self) -> PathBuf {
        self.data_dir.join("cluster.toml")
    }

    pub fn options(&self) -> &DevOptions {
        &self.opts
    }

    /// The log file (stderr of `spread dev` and its children, plus its stdout).
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("dev.log")
    }

    /// The last `lines` lines of the log of `spread dev` and of each child's log file
    /// (`DATA_DIR/logs/*.log`).
    pub fn log_tail(&self, lines: usize) -> String {
        let mut out = tail(&self.log_path(), lines);
        let mut logs: Vec<PathBuf> = fs::read_dir(self.data_dir.join("logs"))
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        logs.sort();
        for log in logs {
            out.push_str(&format!("\n--- {} ---\n", log.display()));
            out.push_str(&tail(&log, lines));
        }
        out
    }

    /// The id of the meta group's leader, as the nodes answering `spread admin meta status`
    /// agree (`None` while there is none).
    pub fn meta_leader(&self) -> Option<u64> {
        let out = self.admin(&["meta", "status", "--json"]);
        if !out.status.success() {
            return None;
        }
        let views: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).ok()?;
        views.iter().find_map(|v| {
            let s = v.get("status")?;
            (s.get("state")?.as_str()? == "Leader").then(|| s.get("id")?.as_u64())?
        })
    }

    /// SIGKILLs meta node `id` and waits until it is gone.
    pub fn kill_meta(&mut self, id: u64) {
        let node = self
            .info
            .meta_nodes
            .iter()
            .find(|m| m.id == id)
            .unwrap_or_else(|| panic!("cluster.toml has no meta node {id}"));
        let pid = node
            .pid
            .unwrap_or_else(|| panic!("cluster.toml has no pid for meta node {id}"));
        assert!(pid_alive(pid), "meta node {id} (pid {pid}) was not running");
        signal(pid, libc::SIGKILL);
        let deadline = Instant::now() + Duration::from_secs(10);
        while pid_alive(pid) {
            assert!(
                Instant::now() < deadline,
                "meta node {id} (pid {pid}) still alive 10 s after SIGKILL"
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILLs chunk server `i` (by the pid in cluster.toml) and waits until it is gone.
    pub fn kill_chunkd(&mut self, i: usize) {
        let c = &self.info.chunkd[i];
        let pid = c
            .pid
            .unwrap_or_else(|| panic!("cluster.toml has no pid for {}", c.name));
        assert!(pid_alive(pid), "{} (pid {pid}) was not running", c.name);
        signal(pid, libc::SIGKILL);
        let deadline = Instant::now() + Duration::from_secs(10);
        while pid_alive(pid) {
            assert!(
                Instant::now() < deadline,
                "{} (pid {pid}) still alive 10 s after SIGKILL",
                c.name
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Freezes chunk server `i` (SIGSTOP) until the returned guard is dropped or thawed.
    pub fn freeze_chunkd(&self, i: usize) -> Frozen {
        let c = &self.info.chunkd[i];
        let pid = c
            .pid
            .unwrap_or_else(|| panic!("cluster.toml has no pid for {}", c.name));
        Frozen::freeze(pid, &c.name)
    }

    /// Freezes meta node `id` (1: the first, the only one of a one-node group) until the
    /// returned guard is dropped or thawed.
    pub fn freeze_meta(&self, id: u64) -> Frozen {
        let pid = self
            .info
            .meta_nodes
            .iter()
            .find(|m| m.id == id)
            .and_then(|m| m.pid)
            .or(if id == 1 { self.info.meta.pid } else { None })
            .unwrap_or_else(|| panic!("cluster.toml has no pid for meta node {id}"));
        Frozen::freeze(pid, &format!("meta node {id}"))
    }

    /// SIGTERMs `spread dev` and waits (bounded) for it and all its children to exit.
    pub fn stop(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("cluster is running");
        signal(child.id(), libc::SIGTERM);
        let deadline = Instant::now() + STOP_TIMEOUT;
        let status = loop {
            if let Some(s) = child.try_wait().expect("try_wait") {
                break s;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "spread dev did not exit within {STOP_TIMEOUT:?} of SIGTERM\n{}",
                    self.log_tail(100)
                );
            }
            thread::sleep(Duration::from_millis(50));
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        for pid in self.info.pids() {
            while pid_alive(pid) {
                assert!(
                    Instant::now() < deadline,
                    "child pid {pid} of spread dev still alive after it exited"
                );
                thread::sleep(Duration::from_millis(50));
            }
        }
        status
    }

    /// Starts `spread dev` again on the same data directory and S3 address.
    pub fn restart(&mut self) {
        if self.child.is_some() {
            self.stop();
        }
        let result = Cluster::spawn(
            &self.dir,
            &self.data_dir,
            self.s3_addr,
            &self.opts,
            &self.access_key,
            &self.secret_key,
        );
        match result {
            Ok((child, endpoint, info)) => {
                self.child = Some(child);
                self.endpoint = endpoint;
                self.known_pids.extend(info.pids());
                self.info = info;
            }
            Err(e) => panic!("restart failed: {e}\n--- log ---\n{}", self.log_tail(200)),
        }
    }

    /// Runs `spread admin --cluster DIR/cluster.toml ARGS...` (bounded).
    pub fn admin(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(spread_bin());
        cmd.arg("admin")
            .arg("--cluster")
            .arg(self.cluster_toml())
            .args(args);
        run_bounded(&mut cmd, ADMIN_TIMEOUT)
    }

    /// Runs `spread admin` and panics unless it succeeds; returns its stdout.
    #[track_caller]
    pub fn admin_ok(&self, args: &[&str]) -> String {
        let out = self.admin(args);
        assert!(
            out.status.success(),
            "spread admin {args:?} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The service id of chunk server `i` (`<volume>/service-id`).
    #[track_caller]
    pub fn service_id(&self, i: usize) -> String {
        let volume = &self.info.chunkd[i].volume;
        fs::read_to_string(volume.join("service-id"))
            .unwrap_or_else(|e| panic!("{}/service-id: {e}", volume.display()))
            .trim()
            .to_string()
    }

    /// Index (in cluster.toml) of the chunk server listening on `addr`.
    pub fn chunkd_index(&self, addr: &str) -> Option<usize> {
        self.info.chunkd.iter().position(|c| c.addr == addr)
    }

    /// The chunk file of a located copy or fragment: `<volume>/<id[0..3]>/<id>`.
    #[track_caller]
    pub fn chunk_file(&self, copy: &LocatedCopy) -> PathBuf {
        let i = self.chunkd_index(&copy.addr).unwrap_or_else(|| {
            panic!(
                "copy on {:?}, which is no chunk server of cluster.toml",
                copy.addr
            )
        });
        assert!(copy.chunk_id.len() > 3, "chunk id {:?}", copy.chunk_id);
        self.info.chunkd[i]
            .volume
            .join(&copy.chunk_id[..3])
            .join(&copy.chunk_id)
    }

    /// `spread admin cluster list`, as service id → score.
    #[track_caller]
    pub fn service_scores(&self) -> BTreeMap<String, u8> {
        let out = self.admin_ok(&["cluster", "list"]);
        parse_service_scores(&out).unwrap_or_else(|e| panic!("cluster list: {e}:\n{out}"))
    }

    /// Creates `bucket` and PUTs every `(key, bytes)` into it through S3, each answered 200.
    pub async fn put_all(&self, bucket: &str, objects: &[(String, Vec<u8>)]) {
        let s3 = self.s3();
        s3.create_bucket(bucket)
            .await
            .expect_status(200, "CreateBucket");
        for (key, data) in objects {
            s3.put_object(bucket, key, data.clone())
                .await
                .expect_status(200, &format!("PUT {key}"));
        }
    }

    /// GETs every `(key, bytes)` from `bucket` through S3 and checks each body byte for byte.
    pub async fn get_all(&self, bucket: &str, objects: &[(String, Vec<u8>)]) {
        let s3 = self.s3();
        for (key, data) in objects {
            let resp = s3.get_object(bucket, key).await;
            resp.expect_status(200, &format!("GET {key}"));
            assert!(
                resp.body == *data,
                "GET {key}: {} bytes (md5 {}), want {} (md5 {})",
                resp.body.len(),
                crate::md5_hex(&resp.body),
                data.len(),
                crate::md5_hex(data)
            );
        }
    }

    /// `spread admin object locate BUCKET KEY --json`, parsed.
    #[track_caller]
    pub fn locate(&self, bucket: &str, key: &str) -> Located {
        let out = self.admin_ok(&["object", "locate", bucket, key, "--json"]);
        serde_json::from_str(out.trim())
            .unwrap_or_else(|e| panic!("object locate --json output: {e}: {out}"))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if thread::panicking() {
            eprintln!(
                "--- spread dev log ({}) ---\n{}\n--- end of log ---",
                self.log_path().display(),
                self.log_tail(60)
            );
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        for &pid in &self.known_pids {
            if pid_alive(pid) {
                signal(pid, libc::SIGKILL);
            }
        }
    }
}

/// A random access key and secret for a test cluster's dev account.
fn new_credentials() -> (String, String) {
    let mut rng = rand::thread_rng();
    let access_key = format!("SPREADTEST{:010}", rng.gen_range(0..10_000_000_000u64));
    let secret_key: String = (0..40)
        .map(|_| {
            let c = rng.gen_range(0..62u8);
            (match c {
                0..=25 => b'a' + c,
                26..=51 => b'A' + c - 26,
                _ => b'0' + c - 52,
            }) as char
        })
        .collect();
    (access_key, secret_key)
}

/// Parses `S3 endpoint: http://ADDR  access key: AK  secret key: SK`.
/// Sends an admin request to the meta node at `addr` alone (no failover, no retry): its HTTP
/// status, or `None` when no answer came within `limit`.
pub async fn post_to_one_node(
    signer: internal_auth::Signer,
    addr: String,
    path: &'static str,
    body: &'static [u8],
    limit: Duration,
) -> Option<u16> {
    let http = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<bytes::Bytes>>();
    let mut req = http::Request::post(format!("http://{addr}{path}"))
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(http_body_util::Full::new(bytes::Bytes::from_static(body)))
        .expect("request");
    let (method, uri) = (req.method().clone(), req.uri().clone());
    signer
        .sign_headers(
            req.headers_mut(),
            &method,
            &uri,
            &internal_auth::content_hash(body),
        )
        .expect("signing");
    match tokio::time::timeout(limit, http.request(req)).await {
        Ok(Ok(r)) => Some(r.status().as_u16()),
        _ => None,
    }
}

pub fn parse_endpoint_line(line: &str) -> Option<(String, String, String)> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let after = |label: &str, nth: usize| -> Option<String> {
        let i = words
            .iter()
            .enumerate()
            .filter(|(_, w)| **w == label)
            .nth(nth)?
            .0;
        words.get(i + 1).map(|s| s.to_string())
    };
    let endpoint = after("endpoint:", 0)?;
    let ak = after("key:", 0)?;
    let sk = after("key:", 1)?;
    Some((endpoint, ak, sk))
}

fn read_cluster_toml(path: &Path) -> Result<ClusterInfo, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| format!("parsing {}: {e}\n{text}", path.display()))
}

fn tail(path: &Path, lines: usize) -> String {
    let mut text = String::new();
    if let Ok(mut f) = File::open(path) {
        let mut bytes = Vec::new();
        let _ = f.read_to_end(&mut bytes);
        text = String::from_utf8_lossy(&bytes).into_owned();
    }
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_line_parses() {
        let l = "S3 endpoint: http://127.0.0.1:9000  access key: AK1  secret key: SK/2+x";
        assert_eq!(
            parse_endpoint_line(l),
            Some((
                "http://127.0.0.1:9000".into(),
                "AK1".into(),
                "SK/2+x".into()
            ))
        );
        assert_eq!(parse_endpoint_line("S3 endpoint: http://x"), None);
    }

    #[test]
    fn cluster_list_scores_parse() {
        let t = "ID    KIND    ADDR            LOCATION                SCORE  LAST SEEN\n\
                 abc1  chunkd  127.0.0.1:1000  local.rack0.host0.vol0  87     1s ago\n\
                 def2  chunkd  127.0.0.1:1001  local.rack0.host1.vol0  0      12s ago\n";
        let s = parse_service_scores(t).expect("parses");
        assert_eq!(s.len(), 2);
        assert_eq!(s["abc1"], 87);
        assert_eq!(s["def2"], 0);
        assert!(parse_service_scores("ID  KIND\nabc  chunkd\n").is_err());
    }

    #[test]
    fn chunk_files_split() {
        let mut f = b"hello".to_vec();
        let footer = br#"{"position":"0.1"}"#;
        f.extend_from_slice(footer);
        f.extend_from_slice(&(footer.len() as u32).to_le_bytes());
        f.extend_from_slice(b"SPRDCHK1");
        let (data, meta) = split_chunk_file(&f).expect("splits");
        assert_eq!(data, b"hello");
        assert_eq!(meta["position"], "0.1");
        assert!(split_chunk_file(b"short").is_err());
    }

    #[test]
    fn pid_alive_sees_self_and_not_a_reaped_child() {
        assert!(pid_alive(std::process::id()));
        let mut c = Command::new("true").spawn().expect("spawn true");
        let pid = c.id();
        c.wait().expect("wait");
        assert!(!pid_alive(pid));
    }
}
