//! The final report: printed as text on stdout and, with `--json FILE`, written as JSON.

use std::fmt::Write;

use serde::Serialize;

use super::args::Workload;
use super::parse::format_size;
use super::stats::{Latency, OpKind, Recorder};

/// Everything `spread bench` reports about the measured phase.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub endpoint: String,
    pub bucket: String,
    pub op: Workload,
    pub size_bytes: u64,
    pub concurrency: u32,
    /// Objects put before the measured phase (get, mixed, list, delete).
    pub prepared_objects: u64,
    pub duration_s: f64,
    /// Successful requests.
    pub ops: u64,
    pub errors: u64,
    /// Object bytes sent and received.
    pub bytes: u64,
    pub mib_per_s: f64,
    pub objects_per_s: f64,
    /// Latency of successful requests (until the last byte of the answer), in ms.
    pub latency_ms: Latency,
    /// Keys returned by ListObjectsV2 (list and mixed workloads).
    pub keys_listed: u64,
    /// The same per request kind, for the kinds the workload issued.
    pub by_op: Vec<OpReport>,
    /// The first error, if any.
    pub first_error: Option<String>,
}

/// One request kind's figures.
#[derive(Debug, Clone, Serialize)]
pub struct OpReport {
    pub op: OpKind,
    pub ops: u64,
    pub errors: u64,
    pub bytes: u64,
    pub mib_per_s: f64,
    pub objects_per_s: f64,
    pub latency_ms: Latency,
}

/// The run's identity, copied into the report.
pub struct RunInfo<'a> {
    pub endpoint: &'a str,
    pub bucket: &'a str,
    pub op: Workload,
    pub size: u64,
    pub concurrency: u32,
    pub prepared: u64,
}

const MIB: f64 = (1u64 << 20) as f64;

impl Report {
    /// Builds the report of a phase that took `secs` seconds.
    pub fn new(info: &RunInfo<'_>, recorder: &Recorder, secs: f64) -> Report {
        let secs = secs.max(1e-9);
        let total = recorder.total();
        let by_op = OpKind::ALL
            .iter()
            .map(|&kind| (kind, recorder.kind(kind)))
            .filter(|(_, k)| k.ops + k.errors > 0)
            .map(|(op, k)| OpReport {
                op,
                ops: k.ops,
                errors: k.errors,
                bytes: k.bytes,
                mib_per_s: k.bytes as f64 / MIB / secs,
                objects_per_s: k.ops as f64 / secs,
                latency_ms: Latency::from_micros(&k.latencies_us),
            })
            .collect();
        Report {
            endpoint: info.endpoint.to_owned(),
            bucket: info.bucket.to_owned(),
            op: info.op,
            size_bytes: info.size,
            concurrency: info.concurrency,
            prepared_objects: info.prepared,
            duration_s: secs,
            ops: total.ops,
            errors: total.errors,
            bytes: total.bytes,
            mib_per_s: total.bytes as f64 / MIB / secs,
            objects_per_s: total.ops as f64 / secs,
            latency_ms: Latency::from_micros(&total.latencies_us),
            keys_listed: total.keys,
            by_op,
            first_error: recorder.first_error.clone(),
        }
    }

    /// The human-readable report.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let op = serde_json::to_value(self.op)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "spread bench: {op} of {} objects, concurrency {}, against {} (bucket {})",
            format_size(self.size_bytes),
            self.concurrency,
            self.endpoint,
            self.bucket
        );
        if self.prepared_objects > 0 {
            let _ = writeln!(out, "prepared:   {} objects", self.prepared_objects);
        }
        let _ = writeln!(out, "duration:   {:.2} s", self.duration_s);
        let _ = writeln!(out, "operations: {} ({} errors)", self.ops, self.errors);
        let _ = writeln!(
            out,
            "throughput: {:.2} MiB/s, {:.1} objects/s",
            self.mib_per_s, self.objects_per_s
        );
        if self.keys_listed > 0 {
            let _ = writeln!(
                out,
                "listed:     {} keys ({:.0} keys/s)",
                self.keys_listed,
                self.keys_listed as f64 / self.duration_s
            );
        }
        let _ = writeln!(out, "latency:    {}", latency_text(&self.latency_ms));
        if self.by_op.len() > 1 {
            for o in &self.by_op {
                let _ = writeln!(
                    out,
                    "  {:<6} {:>8} ops {:>6} errors {:>9.2} MiB/s {:>9.1} obj/s  {}",
                    o.op.name(),
                    o.ops,
                    o.errors,
                    o.mib_per_s,
                    o.objects_per_s,
                    latency_text(&o.latency_ms)
                );
            }
        }
        if let Some(e) = &self.first_error {
            let _ = writeln!(out, "first error: {e}");
        }
        out
    }
}

fn latency_text(l: &Latency) -> String {
    format!(
        "p50 {:.2} ms  p90 {:.2} ms  p99 {:.2} ms  max {:.2} ms  (mean {:.2} ms)",
        l.p50, l.p90, l.p99, l.max, l.mean
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::stats::Live;
    use std::time::Duration;

    #[test]
    fn figures_and_text() {
        let live = Live::default();
        let mut rec = Recorder::default();
        for ms in 1..=10 {
            rec.success(&live, OpKind::Get, Duration::from_millis(ms), 1 << 20, 0);
        }
        rec.success(&live, OpKind::Put, Duration::from_millis(20), 1 << 20, 0);
        rec.failure(&live, OpKind::Delete, "DELETE k: HTTP 500".into());
        let info = RunInfo {
            endpoint: "http://127.0.0.1:9000",
            bucket: "b",
            op: Workload::Mixed,
            size: 1 << 20,
            concurrency: 4,
            prepared: 10,
        };
        let r = Report::new(&info, &rec, 2.0);
        assert_eq!((r.ops, r.errors), (11, 1));
        assert_eq!(r.mib_per_s, 5.5);
        assert_eq!(r.objects_per_s, 5.5);
        assert_eq!(r.latency_ms.p50, 6.0);
        assert_eq!(r.latency_ms.max, 20.0);
        assert_eq!(r.by_op.len(), 3);
        assert_eq!(r.by_op[1].op, OpKind::Get);
        assert_eq!(r.by_op[1].latency_ms.p90, 9.0);
        let text = r.text();
        assert!(
            text.contains("mixed of 1 MiB objects, concurrency 4"),
            "{text}"
        );
        assert!(text.contains("operations: 11 (1 errors)"), "{text}");
        assert!(
            text.contains("throughput: 5.50 MiB/s, 5.5 objects/s"),
            "{text}"
        );
        assert!(text.contains("first error: DELETE k: HTTP 500"), "{text}");
        let json: serde_json::Value = serde_json::to_value(&r).unwrap();
        assert_eq!(json["op"], "mixed");
        assert_eq!(json["latency_ms"]["p99"], 20.0);
        assert_eq!(json["by_op"][2]["op"], "delete");
        assert_eq!(json["by_op"][2]["errors"], 1);
    }
}
