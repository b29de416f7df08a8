//! A real Spread cluster for a test: `spread dev` in a temporary directory.
//!
//! [`Cluster::start`] finds the `spread` binary (`SPREAD_BIN`, else the workspace's
//! `target/release/spread`, else `target/debug/spread`), picks a free loopback port for S3,
//! starts `spread dev`, waits (bounded) for its `S3 endpoint: ...` line and reads the
//! `cluster.toml` it wrote (addresses, volumes and pids of meta, gateway and every chunkd).
//!
//! The harness can SIGKILL one chunk server ([`Cluster::kill_chunkd`]), stop the whole cluster
//! the way an operator would (SIGTERM, [`Cluster::stop`]), start it again on the same directory
//! ([`Cluster::restart`]) and run `spread admin` against it ([`Cluster::admin`]). Dropping it
//! kills every process it started; if the test is panicking, the tail of the cluster's log
//! (stderr of `spread dev` and its children) is printed first.

use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
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
}

impl Default for DevOptions {
    fn default() -> Self {
        DevOptions {
            chunkd: 3,
            replicas: 3,
            chunk_size: None,
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
        pids.extend(self.gateway.pid);
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

#[derive(Debug, Clone, Deserialize)]
pub struct LocatedChunk {
    pub pos: u64,
    pub offset: u64,
    pub size: u64,
    pub hash: String,
    pub copies: Vec<LocatedCopy>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LocatedCopy {
    pub service: String,
    pub addr: String,
    pub location: String,
    pub chunk_id: String,
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

/// A loopback address with a port that was free a moment ago.
pub fn free_addr() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local_addr")
}

/// Whether a process exists and is not a zombie.
pub fn pid_alive(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name, which may contain spaces.
        Ok(stat) => match stat.rfind(')') {
            Some(i) => !matches!(
                stat[i + 1..].trim_start().chars().next(),
                Some('Z') | Some('X')
            ),
            None => true,
        },
        Err(_) => false,
    }
}

fn signal(pid: u32, sig: libc::c_int) {
    // SAFETY: kill(2) has no memory-safety preconditions; the pid is one this harness started
    // (directly or as a child of `spread dev`).
    unsafe {
        libc::kill(pid as libc::pid_t, sig);
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
        let dir = tempfile::Builder::new()
            .prefix("spread-conformance-")
            .tempdir()
            .expect("temp dir");
        let data_dir = dir.path().join("data");
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
        let mut last_err = String::new();
        // A port picked by free_addr may be taken by someone else before spread binds it:
        // try a few fresh ports before giving up.
        for _ in 0..3 {
            let s3_addr = free_addr();
            match Cluster::spawn(&dir, &data_dir, s3_addr, &opts, &access_key, &secret_key) {
                Ok((child, endpoint, info)) => {
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
        if std::env::var_os("RUST_LOG").is_none() {
            cmd.env("RUST_LOG", "info");
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

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
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

/// Parses `S3 endpoint: http://ADDR  access key: AK  secret key: SK`.
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
    fn pid_alive_sees_self_and_not_a_reaped_child() {
        assert!(pid_alive(std::process::id()));
        let mut c = Command::new("true").spawn().expect("spawn true");
        let pid = c.id();
        c.wait().expect("wait");
        assert!(!pid_alive(pid));
    }
}
