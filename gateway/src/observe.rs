//! What the gateway shows an operator: Prometheus metrics and the access log, both fed once
//! per request by the listener ([`Observer::record`]) when the answer's body has been sent
//! (or dropped), and the metrics served by the admin listener (`crate::admin`).
//!
//! The per-request cost is kept small: label values are static strings (the API, the
//! operation name s3s or the Swift router gives, the status code), the byte counts are
//! atomics bumped as the bodies stream, and the access log line is built only when the log
//! is on and handed to a writer thread (never written on the request's task).

use std::fs::OpenOptions;
use std::io::{BufWriter, Write};
use std::net::IpAddr;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::time::{Duration, SystemTime};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use serde::Serialize;

use crate::{Config, Error, Result};

/// Upper bounds of the request duration histogram, in seconds.
pub const LATENCY_BUCKETS: [f64; 16] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0,
];

/// Lines the access log may hold waiting for its writer; past it lines are dropped (and
/// counted in `spread_gateway_access_log_dropped_lines_total`) rather than slowing requests.
const LOG_QUEUE: usize = 16 * 1024;

/// How long the access log's writer waits for another line before it flushes.
const FLUSH_AFTER: Duration = Duration::from_millis(50);
/// The longest a line waits in the writer's buffer while lines keep coming.
const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// Content type of the Prometheus text exposition format.
pub const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    api: &'static str,
    operation: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    api: &'static str,
    operation: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ApiLabels {
    api: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// The operation name of a request nothing named (refused before its operation was known:
/// a bad signature, an unparsable request).
pub const UNKNOWN_OPERATION: &str = "unknown";

/// What the front end learnt of a request while serving it, for the metrics and the log.
#[derive(Debug, Default)]
pub struct Note {
    /// The operation (`GetObject`, ...); empty while unknown.
    pub operation: &'static str,
    /// Who sent it, its bucket (container) and key (object): filled only when the access
    /// log is on.
    pub account: Option<String>,
    pub bucket: Option<String>,
    pub key: Option<String>,
}

/// One request, finished: what [`Observer::record`] takes.
pub struct Finished<'a> {
    pub api: &'static str,
    /// The request id (only kept when the access log is on).
    pub id: Option<&'a str>,
    pub method: &'a http::Method,
    pub remote: IpAddr,
    pub note: &'a Note,
    pub status: u16,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub elapsed: Duration,
    /// When the request arrived (only taken when the access log is on).
    pub started: Option<SystemTime>,
}

/// The metrics of one API whose only label is the API (resolved once, not per request).
struct PerApi {
    in_flight: Gauge,
    received: Counter,
    sent: Counter,
}

impl PerApi {
    fn of(
        api: &'static str,
        in_flight: &Family<ApiLabels, Gauge>,
        received: &Family<ApiLabels, Counter>,
        sent: &Family<ApiLabels, Counter>,
    ) -> PerApi {
        let labels = ApiLabels { api };
        PerApi {
            in_flight: in_flight.get_or_create(&labels).clone(),
            received: received.get_or_create(&labels).clone(),
            sent: sent.get_or_create(&labels).clone(),
        }
    }
}

/// The gateway's metrics registry and access log.
pub struct Observer {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    duration: HistogramFamily<OperationLabels>,
    s3: PerApi,
    swift: PerApi,
    log_dropped: Counter,
    log: Option<AccessLog>,
}

impl Observer {
    /// The metrics, and the access log `config.access_log` names (opened now).
    pub fn new(config: &Config) -> Result<Observer> {
        let log = AccessLog::open(&config.access_log)?;
        Ok(Observer::with_log(log))
    }

    fn with_log(log: Option<AccessLog>) -> Observer {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "spread_gateway_requests",
            "Requests answered, by API (s3, swift), operation and HTTP status",
            requests.clone(),
        );
        let duration = HistogramFamily::<OperationLabels>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        registry.register(
            "spread_gateway_request_duration_seconds",
            "Time from a request's arrival to the end of its answer's body, by API and operation",
            duration.clone(),
        );
        let received = Family::<ApiLabels, Counter>::default();
        registry.register(
            "spread_gateway_received_bytes",
            "Request body bytes read from clients, by API",
            received.clone(),
        );
        let sent = Family::<ApiLabels, Counter>::default();
        registry.register(
            "spread_gateway_sent_bytes",
            "Answer body bytes sent to clients, by API",
            sent.clone(),
        );
        let in_flight = Family::<ApiLabels, Gauge>::default();
        registry.register(
            "spread_gateway_requests_in_flight",
            "Requests being served now, by API",
            in_flight.clone(),
        );
        let log_dropped = Counter::default();
        registry.register(
            "spread_gateway_access_log_dropped_lines",
            "Access log lines dropped because the writer could not keep up",
            log_dropped.clone(),
        );
        Observer {
            registry,
            requests,
            duration,
            s3: PerApi::of("s3", &in_flight, &received, &sent),
            swift: PerApi::of("swift", &in_flight, &received, &sent),
            log_dropped,
            log,
        }
    }

    /// Whether the access log is on (then requests note their account, bucket and key).
    pub fn logging(&self) -> bool {
        self.log.is_some()
    }

    fn per_api(&self, api: &str) -> &PerApi {
        if api == "swift" {
            &self.swift
        } else {
            &self.s3
        }
    }

    /// A request of `api` (`s3` or `swift`) starts (the in-flight gauge).
    pub fn started(&self, api: &'static str) {
        self.per_api(api).in_flight.inc();
    }

    /// Counts a finished request and writes its access log line.
    pub fn record(&self, f: &Finished<'_>) {
        let operation = if f.note.operation.is_empty() {
            UNKNOWN_OPERATION
        } else {
            f.note.operation
        };
        let api = f.api;
        let per_api = self.per_api(api);
        per_api.in_flight.dec();
        self.requests
            .get_or_create(&RequestLabels {
                api,
                operation,
                status: f.status,
            })
            .inc();
        self.duration
            .get_or_create(&OperationLabels { api, operation })
            .observe(f.elapsed.as_secs_f64());
        if f.bytes_in > 0 {
            per_api.received.inc_by(f.bytes_in);
        }
        if f.bytes_out > 0 {
            per_api.sent.inc_by(f.bytes_out);
        }
        if let Some(log) = &self.log {
            let line = log_line(f, operation);
            if !log.send(line) {
                self.log_dropped.inc();
            }
        }
    }

    /// The metrics in the Prometheus text format.
    pub fn encode(&self) -> Result<String> {
        let mut out = String::with_capacity(8192);
        prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)
            .map_err(|e| Error::Internal(format!("encoding metrics: {e}")))?;
        Ok(out)
    }
}

/// One access log line: a JSON object (names escaped, so a key holding a newline or a quote
/// cannot forge a line), ending with a newline.
#[derive(Serialize)]
struct Line<'a> {
    time: String,
    id: &'a str,
    api: &'a str,
    remote: IpAddr,
    method: &'a str,
    account: Option<&'a str>,
    operation: &'a str,
    bucket: Option<&'a str>,
    key: Option<&'a str>,
    status: u16,
    bytes_in: u64,
    bytes_out: u64,
    duration_ms: f64,
}

fn log_line(f: &Finished<'_>, operation: &str) -> String {
    let time = f
        .started
        .map(time::OffsetDateTime::from)
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default();
    let line = Line {
        time,
        id: f.id.unwrap_or_default(),
        api: f.api,
        remote: f.remote,
        method: f.method.as_str(),
        account: f.note.account.as_deref(),
        operation,
        bucket: f.note.bucket.as_deref(),
        key: f.note.key.as_deref(),
        status: f.status,
        bytes_in: f.bytes_in,
        bytes_out: f.bytes_out,
        duration_ms: (f.elapsed.as_secs_f64() * 1e6).round() / 1e3,
    };
    let mut text = serde_json::to_string(&line).unwrap_or_default();
    text.push('\n');
    text
}

/// Where the access log goes, as `access_log` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    Off,
    Stderr,
    File(std::path::PathBuf),
}

impl Destination {
    /// `off` (or empty), `stderr`, or a file path (appended to).
    pub fn parse(text: &str) -> Destination {
        match text.trim() {
            "" | "off" => Destination::Off,
            "stderr" => Destination::Stderr,
            path => Destination::File(path.into()),
        }
    }
}

/// The access log: lines go through a bounded queue to a writer thread ([`write_lines`]).
struct AccessLog {
    tx: SyncSender<String>,
}

impl AccessLog {
    /// Opens `dest` (`off`: no log).
    fn open(dest: &str) -> Result<Option<AccessLog>> {
        let sink: Box<dyn Write + Send> = match Destination::parse(dest) {
            Destination::Off => return Ok(None),
            Destination::Stderr => Box::new(std::io::stderr()),
            Destination::File(path) => Box::new(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .map_err(|e| Error::Config(format!("access_log {}: {e}", path.display())))?,
            ),
        };
        let (tx, rx) = std::sync::mpsc::sync_channel(LOG_QUEUE);
        std::thread::Builder::new()
            .name("access-log".into())
            .spawn(move || write_lines(rx, sink))
            .map_err(|e| Error::Config(format!("access_log: cannot start its writer: {e}")))?;
        Ok(Some(AccessLog { tx }))
    }

    /// Queues a line; false when it was dropped (queue full or writer gone).
    fn send(&self, line: String) -> bool {
        match self.tx.try_send(line) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
        }
    }
}

/// The writer thread: writes every queued line into a buffer, written out when full, and
/// flushed once no line has come for [`FLUSH_AFTER`] or [`FLUSH_EVERY`] after the last flush
/// (so a busy gateway makes a write call per buffer, not per line, and every line is out
/// within about a second).
fn write_lines(rx: Receiver<String>, sink: Box<dyn Write + Send>) {
    let mut out = BufWriter::with_capacity(64 * 1024, sink);
    let mut failing = false;
    let mut unflushed = false;
    let mut flushed_at = std::time::Instant::now();
    loop {
        let next = if unflushed {
            rx.recv_timeout(FLUSH_AFTER)
        } else {
            rx.recv().map_err(|_| RecvTimeoutError::Disconnected)
        };
        let result = match next {
            Ok(line) => {
                unflushed = true;
                let written = out.write_all(line.as_bytes());
                if flushed_at.elapsed() >= FLUSH_EVERY {
                    unflushed = false;
                    flushed_at = std::time::Instant::now();
                    written.and_then(|()| out.flush())
                } else {
                    written
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                unflushed = false;
                flushed_at = std::time::Instant::now();
                out.flush()
            }
            Err(RecvTimeoutError::Disconnected) => {
                let _ = out.flush();
                return;
            }
        };
        match result {
            Err(e) if !failing => {
                tracing::warn!(error = %e, "cannot write the access log");
                failing = true;
            }
            Err(_) => {}
            Ok(()) => failing = false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finished<'a>(note: &'a Note, method: &'a http::Method) -> Finished<'a> {
        Finished {
            api: "s3",
            id: Some("abc"),
            method,
            remote: IpAddr::from([127, 0, 0, 1]),
            note,
            status: 200,
            bytes_in: 5,
            bytes_out: 0,
            elapsed: Duration::from_micros(1500),
            started: Some(SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_123)),
        }
    }

    #[test]
    fn a_key_with_a_newline_stays_on_its_line() {
        let note = Note {
            operation: "PutObject",
            account: Some("dev".into()),
            bucket: Some("b".into()),
            key: Some("a\nb\"c\u{7}".into()),
        };
        let method = http::Method::PUT;
        let line = log_line(&finished(&note, &method), "PutObject");
        assert!(line.ends_with('\n'));
        assert_eq!(line.matches('\n').count(), 1, "{line}");
        let v: serde_json::Value = serde_json::from_str(line.trim_end()).expect("json");
        assert_eq!(v["key"], "a\nb\"c\u{7}");
        assert_eq!(v["time"], "2023-11-14T22:13:20.123Z");
        assert_eq!(v["operation"], "PutObject");
        assert_eq!(v["status"], 200);
        assert_eq!(v["bytes_in"], 5);
        assert_eq!(v["duration_ms"], 1.5);
        assert_eq!(v["account"], "dev");
        assert_eq!(v["remote"], "127.0.0.1");
    }

    #[test]
    fn counts_land_in_the_text_format() {
        let o = Observer::with_log(None);
        let note = Note {
            operation: "GetObject",
            ..Note::default()
        };
        let method = http::Method::GET;
        o.started("s3");
        let mut f = finished(&note, &method);
        f.bytes_out = 42;
        o.record(&f);
        let unknown = Note::default();
        o.started("s3");
        o.record(&finished(&unknown, &method));
        let text = o.encode().expect("encodes");
        assert!(
            text.contains(
                "spread_gateway_requests_total{api=\"s3\",operation=\"GetObject\",status=\"200\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains("operation=\"unknown\",status=\"200\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("spread_gateway_sent_bytes_total{api=\"s3\"} 42"),
            "{text}"
        );
        assert!(
            text.contains("spread_gateway_received_bytes_total{api=\"s3\"} 10"),
            "{text}"
        );
        assert!(
            text.contains("spread_gateway_requests_in_flight{api=\"s3\"} 0"),
            "{text}"
        );
        assert!(
            text.contains(
                "spread_gateway_request_duration_seconds_count{api=\"s3\",operation=\"GetObject\"} 1"
            ),
            "{text}"
        );
    }

    /// A sink tests can read back.
    #[derive(Clone, Default)]
    struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_writer_flushes_when_lines_stop_coming_and_at_the_end() {
        let sink = Shared::default();
        let (tx, rx) = std::sync::mpsc::sync_channel(16);
        let writer = {
            let sink = sink.clone();
            std::thread::spawn(move || write_lines(rx, Box::new(sink)))
        };
        tx.send("one\n".to_string()).expect("send");
        tx.send("two\n".to_string()).expect("send");
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while sink.0.lock().expect("lock").len() < 8 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(&*sink.0.lock().expect("lock"), b"one\ntwo\n");
        tx.send("three\n".to_string()).expect("send");
        drop(tx);
        writer.join().expect("writer");
        assert_eq!(&*sink.0.lock().expect("lock"), b"one\ntwo\nthree\n");
    }

    #[test]
    fn destinations() {
        assert_eq!(Destination::parse("off"), Destination::Off);
        assert_eq!(Destination::parse(""), Destination::Off);
        assert_eq!(Destination::parse("stderr"), Destination::Stderr);
        assert_eq!(
            Destination::parse("/var/log/spread/access.log"),
            Destination::File("/var/log/spread/access.log".into())
        );
    }
}
