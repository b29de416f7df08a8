//! The chunk server's metrics, served at `GET /metrics` in the Prometheus text format:
//! requests by operation and status and their latency, chunk bytes read and written, errors
//! by kind — counted as requests are served — and the volume's space, chunk count and the
//! scrubber's progress, read from the volume and the scrubber at each scrape
//! ([`VolumeCollector`]).

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::error::{Error, Result};
use crate::scrub::Scrubber;
use crate::volume::Volume;

/// Content type of the Prometheus text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Upper bounds of the request duration histogram, in seconds.
const LATENCY_BUCKETS: [f64; 15] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    operation: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    kind: &'static str,
}

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// The chunk server's registry and the metrics it counts itself.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    duration: Family<OperationLabels, Histogram, fn() -> Histogram>,
    errors: Family<ErrorLabels, Counter>,
    /// Chunk bytes read from the volume for GETs (counted block by block as they are sent).
    pub read_bytes: Counter,
    /// Chunk data bytes of the chunks PUT and stored.
    pub written_bytes: Counter,
    /// Chunk files the orphan sweep set aside (unknown to the directory).
    pub orphans_set_aside: Counter,
    /// Orphans deleted after their hold.
    pub orphans_purged: Counter,
}

impl Metrics {
    /// The metrics of a chunk server on `volume`, whose space and scrub progress are read at
    /// each scrape.
    pub fn new(volume: Arc<Volume>, scrubber: Arc<Scrubber>) -> Metrics {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "spread_chunkd_requests",
            "Requests answered, by operation and HTTP status",
            requests.clone(),
        );
        let duration =
            Family::<OperationLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                latency_histogram as fn() -> Histogram,
            );
        registry.register(
            "spread_chunkd_request_duration_seconds",
            "Time from a request's arrival to its answer's head, by operation",
            duration.clone(),
        );
        let errors = Family::<ErrorLabels, Counter>::default();
        registry.register(
            "spread_chunkd_errors",
            "Requests that failed, by error kind (NotFound, HashMismatch, Io, ...)",
            errors.clone(),
        );
        let read_bytes = Counter::default();
        registry.register(
            "spread_chunkd_read_bytes",
            "Chunk bytes read from the volume and sent to readers",
            read_bytes.clone(),
        );
        let written_bytes = Counter::default();
        registry.register(
            "spread_chunkd_written_bytes",
            "Chunk data bytes written to the volume by stored uploads",
            written_bytes.clone(),
        );
        let orphans_set_aside = Counter::default();
        registry.register(
            "spread_chunkd_orphans_set_aside",
            "Chunk files the orphan sweep moved to orphans/ (no record points to them)",
            orphans_set_aside.clone(),
        );
        let orphans_purged = Counter::default();
        registry.register(
            "spread_chunkd_orphans_purged",
            "Orphan chunk files deleted after their hold",
            orphans_purged.clone(),
        );
        registry.register_collector(Box::new(VolumeCollector { volume, scrubber }));
        Metrics {
            registry,
            requests,
            duration,
            errors,
            read_bytes,
            written_bytes,
            orphans_set_aside,
            orphans_purged,
        }
    }

    /// Counts a request of `operation` answered with `status` after `seconds`.
    pub fn request(&self, operation: &'static str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels { operation, status })
            .inc();
        self.duration
            .get_or_create(&OperationLabels { operation })
            .observe(seconds);
    }

    /// Counts a failed request.
    pub fn error(&self, e: &Error) {
        self.errors
            .get_or_create(&ErrorLabels { kind: e.code() })
            .inc();
    }

    /// The metrics in the Prometheus text format. Blocking (reads the volume's space and
    /// the quarantine directory).
    pub fn encode(&self) -> Result<String> {
        let mut out = String::with_capacity(8192);
        prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)
            .map_err(|e| Error::Io(std::io::Error::other(format!("encoding metrics: {e}"))))?;
        Ok(out)
    }
}

/// The name of the operation a request does, by method and path (a metric label).
pub fn operation_name(method: &http::Method, path: &str) -> &'static str {
    let m = method.as_str();
    match path {
        "/metrics" => "Metrics",
        "/health" => "Health",
        "/ready" => "Ready",
        "/info" => "Info",
        "/v1/scrub" if m == "POST" => "ScrubRequest",
        "/v1/scrub" => "ScrubStatus",
        p if p.starts_with("/v1/chunk/") => match m {
            "PUT" => "PutChunk",
            "GET" => "GetChunk",
            "HEAD" => "HeadChunk",
            "DELETE" => "DeleteChunk",
            _ => "Other",
        },
        _ => "Other",
    }
}

/// Reads the volume's space and chunk count and the scrubber's status at each scrape.
struct VolumeCollector {
    volume: Arc<Volume>,
    scrubber: Arc<Scrubber>,
}

impl std::fmt::Debug for VolumeCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VolumeCollector")
            .field("volume", &self.volume.root())
            .finish()
    }
}

fn gauge<N>(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    value: N,
) -> std::result::Result<(), std::fmt::Error>
where
    ConstGauge<N>: EncodeMetric,
{
    let g = ConstGauge::new(value);
    g.encode(encoder.encode_descriptor(name, help, None, g.metric_type())?)
}

fn counter(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    value: u64,
) -> std::result::Result<(), std::fmt::Error> {
    let c = ConstCounter::new(value);
    c.encode(encoder.encode_descriptor(name, help, None, c.metric_type())?)
}

impl Collector for VolumeCollector {
    fn encode(&self, mut e: DescriptorEncoder) -> std::result::Result<(), std::fmt::Error> {
        match self.volume.space() {
            Ok((free, total)) => {
                let (free, total) = (clamp(free), clamp(total));
                gauge(
                    &mut e,
                    "spread_chunkd_volume_free_bytes",
                    "Bytes free (available to chunkd) on the volume's filesystem",
                    free,
                )?;
                gauge(
                    &mut e,
                    "spread_chunkd_volume_total_bytes",
                    "Size of the volume's filesystem in bytes",
                    total,
                )?;
                gauge(
                    &mut e,
                    "spread_chunkd_volume_used_bytes",
                    "Bytes of the volume's filesystem not free (total minus free)",
                    total.saturating_sub(free),
                )?;
            }
            Err(err) => tracing::warn!(error = %err, "cannot read the volume's space"),
        }
        gauge(
            &mut e,
            "spread_chunkd_chunks",
            "Chunks stored on the volume",
            clamp(self.volume.chunk_count()),
        )?;
        let s = self.scrubber.status();
        gauge(
            &mut e,
            "spread_chunkd_scrub_running",
            "1 while a scrub pass runs, else 0",
            i64::from(s.running),
        )?;
        gauge(
            &mut e,
            "spread_chunkd_scrub_progress_ratio",
            "How far the current scrub pass is through the volume (0 to 1; 0 with no pass)",
            s.progress.unwrap_or(0.0),
        )?;
        let pass = s.current.as_ref().map(|c| c.counters).unwrap_or_default();
        gauge(
            &mut e,
            "spread_chunkd_scrub_pass_checked_chunks",
            "Chunks the current scrub pass has checked so far",
            clamp(pass.chunks),
        )?;
        if let Some(end) = s.last.as_ref().and_then(|l| l.ended_ms) {
            gauge(
                &mut e,
                "spread_chunkd_scrub_last_pass_end_timestamp_seconds",
                "When the last finished scrub pass ended (Unix time)",
                end as f64 / 1000.0,
            )?;
        }
        counter(
            &mut e,
            "spread_chunkd_scrub_checked_chunks",
            "Chunks checked by the scrubber since chunkd started",
            s.totals.chunks,
        )?;
        counter(
            &mut e,
            "spread_chunkd_scrub_checked_bytes",
            "Bytes checked by the scrubber since chunkd started",
            s.totals.bytes,
        )?;
        counter(
            &mut e,
            "spread_chunkd_scrub_bad_chunks",
            "Chunks the scrubber found bad (and quarantined) since chunkd started",
            s.totals.bad,
        )?;
        counter(
            &mut e,
            "spread_chunkd_scrub_errors",
            "Chunks the scrubber could not check (I/O errors) since chunkd started",
            s.totals.errors,
        )?;
        counter(
            &mut e,
            "spread_chunkd_bad_reads",
            "Chunks found bad by reads (GET) since chunkd started",
            s.bad_found_by_reads,
        )?;
        gauge(
            &mut e,
            "spread_chunkd_quarantined_chunks",
            "Chunk files in the volume's quarantine",
            clamp(s.quarantined),
        )?;
        Ok(())
    }
}

fn clamp(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_by_method_and_path() {
        use http::Method;
        let chunk = format!("/v1/chunk/{}", "a".repeat(64));
        assert_eq!(operation_name(&Method::PUT, &chunk), "PutChunk");
        assert_eq!(operation_name(&Method::GET, &chunk), "GetChunk");
        assert_eq!(operation_name(&Method::HEAD, &chunk), "HeadChunk");
        assert_eq!(operation_name(&Method::DELETE, &chunk), "DeleteChunk");
        assert_eq!(operation_name(&Method::POST, &chunk), "Other");
        assert_eq!(operation_name(&Method::POST, "/v1/scrub"), "ScrubRequest");
        assert_eq!(operation_name(&Method::GET, "/v1/scrub"), "ScrubStatus");
        assert_eq!(operation_name(&Method::GET, "/metrics"), "Metrics");
        assert_eq!(operation_name(&Method::GET, "/nope"), "Other");
    }

    #[test]
    fn the_volume_and_the_scrubber_are_read_at_each_scrape() {
        let dir = tempfile::tempdir().expect("tempdir");
        let volume = Arc::new(Volume::open(dir.path()).expect("volume"));
        let settings = crate::scrub::Settings::from_config(&crate::Config::default());
        let scrubber = Arc::new(Scrubber::open(volume.clone(), settings));
        let m = Metrics::new(volume, scrubber);
        m.request("GetChunk", 200, 0.002);
        m.read_bytes.inc_by(10);
        m.error(&Error::NotFound);
        let text = m.encode().expect("encodes");
        for want in [
            "spread_chunkd_requests_total{operation=\"GetChunk\",status=\"200\"} 1",
            "spread_chunkd_read_bytes_total 10",
            "spread_chunkd_errors_total{kind=\"NotFound\"} 1",
            "spread_chunkd_chunks 0",
            "spread_chunkd_scrub_running 0",
            "spread_chunkd_scrub_checked_chunks_total 0",
            "spread_chunkd_quarantined_chunks 0",
            "# TYPE spread_chunkd_volume_free_bytes gauge",
        ] {
            assert!(text.contains(want), "{want} missing from\n{text}");
        }
    }
}
