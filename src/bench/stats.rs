//! Measurements: per-worker recorders of latencies and counts, the live counters behind the
//! progress line, and latency percentiles.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The kinds of request a workload issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OpKind {
    Put,
    Get,
    Delete,
    List,
}

impl OpKind {
    pub const ALL: [OpKind; 4] = [OpKind::Put, OpKind::Get, OpKind::Delete, OpKind::List];

    fn index(self) -> usize {
        self as usize
    }

    pub fn name(self) -> &'static str {
        match self {
            OpKind::Put => "put",
            OpKind::Get => "get",
            OpKind::Delete => "delete",
            OpKind::List => "list",
        }
    }
}

/// Counters shared by every worker, read once a second for the progress line.
#[derive(Debug, Default)]
pub struct Live {
    pub ops: AtomicU64,
    pub bytes: AtomicU64,
    pub errors: AtomicU64,
}

/// One request kind's numbers.
#[derive(Debug, Default, Clone)]
pub struct KindStats {
    /// Successful requests.
    pub ops: u64,
    pub errors: u64,
    /// Object bytes sent (PUT) or received (GET).
    pub bytes: u64,
    /// Keys seen (LIST).
    pub keys: u64,
    /// Latency of each successful request, in microseconds.
    pub latencies_us: Vec<u64>,
}

/// What one worker measured; merged at the end.
#[derive(Debug, Default, Clone)]
pub struct Recorder {
    kinds: [KindStats; 4],
    /// The first error seen, to show the user what went wrong.
    pub first_error: Option<String>,
}

impl Recorder {
    /// Records a successful request.
    pub fn success(&mut self, live: &Live, kind: OpKind, took: Duration, bytes: u64, keys: u64) {
        let k = &mut self.kinds[kind.index()];
        k.ops += 1;
        k.bytes += bytes;
        k.keys += keys;
        k.latencies_us
            .push(u64::try_from(took.as_micros()).unwrap_or(u64::MAX));
        live.ops.fetch_add(1, Ordering::Relaxed);
        live.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Records a failed request.
    pub fn failure(&mut self, live: &Live, kind: OpKind, error: String) {
        self.kinds[kind.index()].errors += 1;
        live.errors.fetch_add(1, Ordering::Relaxed);
        if self.first_error.is_none() {
            self.first_error = Some(error);
        }
    }

    /// Adds another worker's numbers to these.
    pub fn merge(&mut self, other: Recorder) {
        for (mine, theirs) in self.kinds.iter_mut().zip(other.kinds) {
            mine.ops += theirs.ops;
            mine.errors += theirs.errors;
            mine.bytes += theirs.bytes;
            mine.keys += theirs.keys;
            mine.latencies_us.extend(theirs.latencies_us);
        }
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }

    /// The numbers of one kind.
    pub fn kind(&self, kind: OpKind) -> &KindStats {
        &self.kinds[kind.index()]
    }

    /// Every kind together.
    pub fn total(&self) -> KindStats {
        let mut all = KindStats::default();
        for k in &self.kinds {
            all.ops += k.ops;
            all.errors += k.errors;
            all.bytes += k.bytes;
            all.keys += k.keys;
            all.latencies_us.extend_from_slice(&k.latencies_us);
        }
        all
    }
}

/// Latency summary in milliseconds.
#[derive(Debug, Default, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
}

impl Latency {
    /// Summarizes latencies given in microseconds (in any order).
    pub fn from_micros(latencies: &[u64]) -> Latency {
        if latencies.is_empty() {
            return Latency::default();
        }
        let mut sorted = latencies.to_vec();
        sorted.sort_unstable();
        let ms = |us: u64| us as f64 / 1000.0;
        let sum: u128 = sorted.iter().map(|&v| u128::from(v)).sum();
        Latency {
            p50: ms(percentile(&sorted, 50.0)),
            p90: ms(percentile(&sorted, 90.0)),
            p99: ms(percentile(&sorted, 99.0)),
            max: ms(sorted[sorted.len() - 1]),
            mean: (sum as f64 / sorted.len() as f64) / 1000.0,
        }
    }
}

/// The nearest-rank percentile `p` (0–100] of sorted values: the smallest value such that at
/// least p% of the values are at most it. 0 for no values.
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let values: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&values, 50.0), 50);
        assert_eq!(percentile(&values, 90.0), 90);
        assert_eq!(percentile(&values, 99.0), 99);
        assert_eq!(percentile(&values, 100.0), 100);
        assert_eq!(percentile(&values, 0.0), 1);
        assert_eq!(percentile(&[7], 99.0), 7);
        assert_eq!(percentile(&[], 50.0), 0);
        let ten: Vec<u64> = (1..=10).collect();
        assert_eq!(percentile(&ten, 50.0), 5);
        assert_eq!(percentile(&ten, 99.0), 10);
        assert_eq!(percentile(&ten, 91.0), 10);
    }

    #[test]
    fn latency_summary_in_ms() {
        let mut us: Vec<u64> = (1..=1000).map(|i| i * 1000).collect();
        us.reverse();
        let l = Latency::from_micros(&us);
        assert_eq!(l.p50, 500.0);
        assert_eq!(l.p90, 900.0);
        assert_eq!(l.p99, 990.0);
        assert_eq!(l.max, 1000.0);
        assert_eq!(l.mean, 500.5);
        assert_eq!(Latency::from_micros(&[]), Latency::default());
    }

    #[test]
    fn recorders_merge() {
        let live = Live::default();
        let mut a = Recorder::default();
        a.success(&live, OpKind::Put, Duration::from_millis(2), 10, 0);
        a.failure(&live, OpKind::Get, "first".into());
        let mut b = Recorder::default();
        b.success(&live, OpKind::Get, Duration::from_millis(4), 20, 0);
        b.success(&live, OpKind::List, Duration::from_millis(1), 0, 1000);
        b.failure(&live, OpKind::Get, "second".into());
        a.merge(b);
        assert_eq!(a.kind(OpKind::Get).ops, 1);
        assert_eq!(a.kind(OpKind::Get).errors, 2);
        assert_eq!(a.kind(OpKind::List).keys, 1000);
        let t = a.total();
        assert_eq!((t.ops, t.errors, t.bytes, t.keys), (3, 2, 30, 1000));
        assert_eq!(t.latencies_us.len(), 3);
        assert_eq!(a.first_error.as_deref(), Some("first"));
        assert_eq!(live.ops.load(Ordering::Relaxed), 3);
        assert_eq!(live.errors.load(Ordering::Relaxed), 2);
        assert_eq!(live.bytes.load(Ordering::Relaxed), 30);
    }
}
