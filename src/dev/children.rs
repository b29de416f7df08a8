//! The child processes of `spread dev`: spawning them (same binary, logs appended to
//! `DIR/logs/<name>.log`), noticing when one dies, and stopping them all (SIGTERM, grace period,
//! then SIGKILL).

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;
use tokio::process::{Child, Command};

/// One child process.
struct Proc {
    name: String,
    pid: u32,
    child: Child,
    /// Set once the exit has been observed.
    exit: Option<ExitStatus>,
}

/// Every child process of a dev cluster.
pub struct Children {
    exe: PathBuf,
    logs: PathBuf,
    procs: Vec<Proc>,
}

impl Children {
    /// Children of executable `exe`, logging to files in `logs`.
    pub fn new(exe: PathBuf, logs: PathBuf) -> Children {
        Children {
            exe,
            logs,
            procs: Vec::new(),
        }
    }

    /// Path of the log file of child `name`.
    pub fn log_path(&self, name: &str) -> PathBuf {
        self.logs.join(format!("{name}.log"))
    }

    /// Starts `spread <subcommand> --config <config>` as child `name`; returns its pid.
    pub fn spawn(&mut self, name: &str, subcommand: &str, config: &Path) -> Result<u32> {
        let log_path = self.log_path(name);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| Error::file(&log_path, e))?;
        let log_err = log.try_clone().map_err(|e| Error::file(&log_path, e))?;
        let rust_log = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_string());
        let mut cmd = Command::new(&self.exe);
        cmd.arg(subcommand)
            .arg("--config")
            .arg(config)
            .env("RUST_LOG", rust_log)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err))
            .kill_on_drop(true);
        die_with_parent(&mut cmd);
        let child = cmd
            .spawn()
            .map_err(|e| Error::Startup(format!("cannot start {name}: {e}")))?;
        let pid = child
            .id()
            .ok_or_else(|| Error::Startup(format!("{name} exited immediately")))?;
        tracing::info!(%name, pid, log = %log_path.display(), "started");
        self.procs.push(Proc {
            name: name.to_string(),
            pid,
            child,
            exit: None,
        });
        Ok(pid)
    }

    /// Children that exited since the last call, with their status.
    pub fn reap(&mut self) -> Vec<(String, ExitStatus)> {
        let mut gone = Vec::new();
        for p in self.procs.iter_mut().filter(|p| p.exit.is_none()) {
            match p.child.try_wait() {
                Ok(Some(status)) => {
                    p.exit = Some(status);
                    gone.push((p.name.clone(), status));
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(name = %p.name, "cannot check child: {e}"),
            }
        }
        gone
    }

    /// Fails with a clear message if any child has exited (used during startup).
    pub fn ensure_running(&mut self) -> Result<()> {
        self.reap();
        match self.procs.iter().find(|p| p.exit.is_some()) {
            Some(p) => Err(Error::Startup(format!(
                "{} exited ({}); see {}",
                p.name,
                p.exit.map(|s| s.to_string()).unwrap_or_default(),
                self.log_path(&p.name).display()
            ))),
            None => Ok(()),
        }
    }

    /// SIGTERM to every running child, wait up to `grace`, then SIGKILL the rest.
    pub async fn stop_all(&mut self, grace: Duration) {
        self.reap();
        for p in self.procs.iter().filter(|p| p.exit.is_none()) {
            send_sigterm(p.pid);
        }
        let deadline = tokio::time::Instant::now() + grace;
        for p in self.procs.iter_mut().filter(|p| p.exit.is_none()) {
            match tokio::time::timeout_at(deadline, p.child.wait()).await {
                Ok(Ok(status)) => {
                    tracing::info!(name = %p.name, %status, "stopped");
                    p.exit = Some(status);
                }
                Ok(Err(e)) => tracing::warn!(name = %p.name, "cannot wait for child: {e}"),
                Err(_) => {
                    tracing::warn!(name = %p.name, "did not stop in time, killing it");
                    if let Err(e) = p.child.start_kill() {
                        tracing::warn!(name = %p.name, "cannot kill: {e}");
                    }
                    match tokio::time::timeout(Duration::from_secs(5), p.child.wait()).await {
                        Ok(Ok(status)) => p.exit = Some(status),
                        _ => tracing::warn!(name = %p.name, "still not gone after SIGKILL"),
                    }
                }
            }
        }
    }
}

/// Sends SIGTERM to `pid`.
fn send_sigterm(pid: u32) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    // SAFETY: kill(2) has no memory-safety preconditions; pid is one of our own children.
    let rc = unsafe { libc::kill(pid, libc::SIGTERM) };
    if rc != 0 {
        tracing::debug!(pid, "SIGTERM failed: {}", std::io::Error::last_os_error());
    }
}

/// On Linux, asks the kernel to SIGTERM the child if `spread dev` itself dies (e.g. SIGKILL),
/// so no orphan keeps the cluster's ports.
#[cfg(target_os = "linux")]
fn die_with_parent(cmd: &mut Command) {
    // SAFETY: the closure runs between fork and exec and only calls prctl(2), which is
    // async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_cmd: &mut Command) {}
