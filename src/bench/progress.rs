//! The live progress line: once a second, on stderr, rewritten in place with `\r`.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::stats::Live;

/// A running progress line; [`Progress::finish`] prints the last state and ends the line.
pub struct Progress {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

/// Starts printing `label`'s progress from `live` every second.
pub fn start(label: String, live: Arc<Live>) -> Progress {
    let (stop, mut stopped) = oneshot::channel();
    let task = tokio::spawn(async move {
        let started = Instant::now();
        let mut last = (started, 0u64, 0u64);
        let mut ticker = tokio::time::interval(Duration::from_secs(1));
        ticker.tick().await;
        loop {
            let done = tokio::select! {
                _ = ticker.tick() => false,
                _ = &mut stopped => true,
            };
            let now = Instant::now();
            let ops = live.ops.load(Ordering::Relaxed);
            let bytes = live.bytes.load(Ordering::Relaxed);
            let errors = live.errors.load(Ordering::Relaxed);
            // While running: the rates of the last second; at the end: the averages.
            let (since, ops0, bytes0) = if done { (started, 0, 0) } else { last };
            let secs = now.duration_since(since).as_secs_f64().max(1e-9);
            let text = line(
                &label,
                now.duration_since(started),
                ops,
                (ops - ops0) as f64 / secs,
                (bytes - bytes0) as f64 / secs / (1u64 << 20) as f64,
                errors,
            );
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r{text}");
            if done {
                let _ = writeln!(err);
            }
            let _ = err.flush();
            if done {
                break;
            }
            last = (now, ops, bytes);
        }
    });
    Progress { stop, task }
}

impl Progress {
    /// Prints the final line (averages over the whole phase) and stops.
    pub async fn finish(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// One progress line, padded so a shorter line fully covers a longer previous one.
pub fn line(
    label: &str,
    elapsed: Duration,
    ops: u64,
    ops_per_s: f64,
    mib_per_s: f64,
    errors: u64,
) -> String {
    format!(
        "{label:<8} {:>7.1}s  ops {ops:>9}  {ops_per_s:>9.1} ops/s  {mib_per_s:>9.2} MiB/s  errors {errors:<6}",
        elapsed.as_secs_f64()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_layout() {
        let text = line("put", Duration::from_millis(12_340), 1234, 101.25, 0.5, 2);
        assert_eq!(
            text,
            "put         12.3s  ops      1234      101.2 ops/s       0.50 MiB/s  errors 2     "
        );
        let longer = line("put", Duration::from_secs(1000), 1 << 30, 1e6, 1e4, 100_000);
        assert!(text.len() <= longer.len());
    }

    #[tokio::test]
    async fn finishes() {
        let live = Arc::new(Live::default());
        let p = start("test".into(), live);
        p.finish().await;
    }
}
