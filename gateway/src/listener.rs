//! The accept loop both front ends (S3 and Swift) run: one task per connection (HTTP/1 or
//! HTTP/2 through hyper-util), each request given a request id and run in a tracing span named
//! after the protocol.
//!
//! The edge limits live here, the same for both front ends ([`Edge`]):
//! - at most `max_connections_per_ip` connections at once per client address (one past it is
//!   closed as soon as it is accepted);
//! - a request head must arrive within `header_read_timeout_ms` (hyper's header read
//!   timeout, counted from when hyper starts waiting for a head: so on HTTP/1 it also closes
//!   a keep-alive connection that stays silent after an answer);
//! - a connection with no request in progress for `idle_timeout_ms` is shut down;
//! - a request whose answer is ready before its body was read to the end (an early error:
//!   no such bucket, a bad Content-MD5, 503 without quorum…) never leaves the rest of its
//!   body to be read as the next request: the rest is drained when it is small
//!   ([`DRAIN_MAX_BYTES`], within [`DRAIN_MAX_TIME`]) and the connection kept; otherwise the
//!   answer carries `Connection: close` and the connection is closed after it;
//! - a connection is closed "lingering" ([`Lingering`]): after the last answer the write side
//!   is shut down and what the client still sends is read and thrown away for a short time,
//!   so the close does not reset the connection under an answer the client has not read yet.
//!
//! Every request is also recorded (`crate::observe`): its body and its answer's body count
//! their bytes as they stream, the front end names its operation through the [`Exchange`] in
//! the request's extensions, and when the answer's body is dropped the metrics are counted
//! and, when the access log is on, its line written.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use bytes::{Buf as _, Bytes};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tracing::Instrument as _;

use crate::Config;
use crate::observe::{Finished, Note, Observer};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The most of an unread request body drained after an early answer to keep the connection.
pub const DRAIN_MAX_BYTES: u64 = 1 << 20;
/// The longest the drain of [`DRAIN_MAX_BYTES`] may take.
pub const DRAIN_MAX_TIME: Duration = Duration::from_millis(500);
/// How long a closing connection keeps reading (and discarding) what the client sends.
pub const LINGER_TIME: Duration = Duration::from_secs(2);
/// The most bytes a closing connection reads and discards.
pub const LINGER_MAX_BYTES: u64 = 64 << 20;
/// How long a connection told to shut down (idle) may take to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// The client's address, in every request's extensions.
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub std::net::SocketAddr);

/// The connection limits of a listener (from the gateway config).
#[derive(Debug, Clone, Copy)]
pub struct Edge {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    /// 0: no cap.
    pub max_connections_per_ip: u64,
}

impl Edge {
    pub fn of(config: &Config) -> Edge {
        Edge {
            header_read_timeout: Duration::from_millis(config.header_read_timeout_ms.max(1)),
            idle_timeout: Duration::from_millis(config.idle_timeout_ms.max(1)),
            max_connections_per_ip: config.max_connections_per_ip,
        }
    }
}

/// The body of a request as the handlers get it: hyper's body, watched so that the listener
/// knows whether it was read to the end, and handed back to the listener when the handler
/// drops it unfinished (to be drained or the connection closed).
pub struct ReqBody {
    inner: Option<Incoming>,
    shared: Arc<BodyShared>,
}

#[derive(Default)]
struct BodyShared {
    /// The body was read to its end (or failed: nothing more to drain either way).
    finished: AtomicBool,
    /// The body, unfinished, as its handler dropped it.
    returned: Mutex<Option<Incoming>>,
    /// Body bytes read so far (by the handler).
    received: AtomicU64,
    /// Whether the handler should note the account, bucket and key (the access log is on).
    names: bool,
    /// What the handler noted of the request, for the metrics and the access log.
    note: Mutex<Note>,
}

/// A request as the listener follows it, in every request's extensions: the front end
/// names its operation (and, when [`Exchange::wants_names`], who sent it and what it
/// names) for the metrics and the access log.
#[derive(Clone)]
pub struct Exchange(Arc<BodyShared>);

impl Exchange {
    /// Names the request's operation (a static name: a metric label).
    pub fn set_operation(&self, operation: &'static str) {
        if let Ok(mut note) = self.0.note.lock() {
            note.operation = operation;
        }
    }

    /// Whether the account, bucket and key are wanted (only for the access log: skipped
    /// otherwise, to spare their copies).
    pub fn wants_names(&self) -> bool {
        self.0.names
    }

    /// Notes the bucket (container) and key (object) the request names.
    pub fn set_target(&self, bucket: Option<&str>, key: Option<&str>) {
        if self.0.names
            && let Ok(mut note) = self.0.note.lock()
        {
            note.bucket = bucket.map(str::to_string);
            note.key = key.map(str::to_string);
        }
    }

    /// Notes who sent the request.
    pub fn set_account(&self, account: &str) {
        if self.0.names
            && let Ok(mut note) = self.0.note.lock()
        {
            note.account = Some(account.to_string());
        }
    }
}

impl ReqBody {
    fn new(body: Incoming, names: bool) -> (ReqBody, Arc<BodyShared>) {
        let shared = Arc::new(BodyShared {
            names,
            ..BodyShared::default()
        });
        if body.is_end_stream() {
            shared.finished.store(true, Ordering::Relaxed);
        }
        (
            ReqBody {
                inner: Some(body),
                shared: shared.clone(),
            },
            shared,
        )
    }
}

impl Body for ReqBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        let Some(body) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        let frame = ready!(Pin::new(&mut *body).poll_frame(cx));
        let finished = match &frame {
            None | Some(Err(_)) => true,
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    this.shared
                        .received
                        .fetch_add(data.len() as u64, Ordering::Relaxed);
                }
                body.is_end_stream()
            }
        };
        if finished {
            this.shared.finished.store(true, Ordering::Relaxed);
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), Body::size_hint)
    }
}

impl Drop for ReqBody {
    fn drop(&mut self) {
        if self.shared.finished.load(Ordering::Relaxed) {
            return;
        }
        if let Some(body) = self.inner.take()
            && let Ok(mut slot) = self.shared.returned.lock()
        {
            *slot = Some(body);
        }
    }
}

/// Reads and discards the rest of `body`, at most `max_bytes` within `max_time`, adding
/// what it reads to `received`. True when the body ended within both.
async fn drain(
    mut body: Incoming,
    max_bytes: u64,
    max_time: Duration,
    received: &AtomicU64,
) -> bool {
    if body.size_hint().lower() > max_bytes {
        return false;
    }
    let read = async {
        let mut seen = 0u64;
        loop {
            match body.frame().await {
                None => return true,
                Some(Err(_)) => return false,
                Some(Ok(frame)) => {
                    if let Some(data) = frame.data_ref() {
                        seen += data.len() as u64;
                        received.fetch_add(data.len() as u64, Ordering::Relaxed);
                        if seen > max_bytes {
                            return false;
                        }
                    }
                }
            }
        }
    };
    tokio::time::timeout(max_time, read).await.unwrap_or(false)
}

/// What one connection's requests share with its task: requests in progress and when the
/// last one ended (for the idle timeout).
struct ConnState {
    active: AtomicUsize,
    /// Milliseconds since `start` when the last request ended.
    last_end_ms: AtomicU64,
    start: Instant,
}

impl ConnState {
    fn new() -> ConnState {
        ConnState {
            active: AtomicUsize::new(0),
            last_end_ms: AtomicU64::new(0),
            start: Instant::now(),
        }
    }

    /// How long the connection has had no request in progress (zero while one is).
    fn idle_for(&self) -> Duration {
        if self.active.load(Ordering::Acquire) > 0 {
            return Duration::ZERO;
        }
        let since = Duration::from_millis(self.last_end_ms.load(Ordering::Acquire));
        self.start.elapsed().saturating_sub(since)
    }
}

/// A request in progress on its connection, until its answer's body is sent (or dropped).
struct InFlight(Arc<ConnState>);

impl InFlight {
    fn new(state: Arc<ConnState>) -> InFlight {
        state.active.fetch_add(1, Ordering::AcqRel);
        InFlight(state)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let now = self.0.start.elapsed().as_millis() as u64;
        self.0.last_end_ms.store(now, Ordering::Release);
        self.0.active.fetch_sub(1, Ordering::AcqRel);
    }
}

/// An answer's body, holding its request's [`InFlight`] until it is sent, counting the
/// bytes it sends; when it is dropped (sent, or given up) the request is recorded.
pub struct Tracked<B> {
    inner: Pin<Box<B>>,
    _in_flight: InFlight,
    done: Done,
}

/// What is recorded of a request once its answer's body is dropped.
struct Done {
    observer: Arc<Observer>,
    shared: Arc<BodyShared>,
    protocol: &'static str,
    id: Option<String>,
    method: http::Method,
    remote: IpAddr,
    status: u16,
    start: Instant,
    started: Option<std::time::SystemTime>,
    sent: u64,
}

impl Drop for Done {
    fn drop(&mut self) {
        let note = match self.shared.note.lock() {
            Ok(note) => note,
            Err(poisoned) => poisoned.into_inner(),
        };
        self.observer.record(&Finished {
            api: self.protocol,
            id: self.id.as_deref(),
            method: &self.method,
            remote: self.remote,
            note: &note,
            status: self.status,
            bytes_in: self.shared.received.load(Ordering::Relaxed),
            bytes_out: self.sent,
            elapsed: self.start.elapsed(),
            started: self.started,
        });
    }
}

impl<B: Body> Body for Tracked<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let this = self.get_mut();
        let frame = ready!(this.inner.as_mut().poll_frame(cx));
        if let Some(Ok(frame)) = &frame
            && let Some(data) = frame.data_ref()
        {
            this.done.sent += data.remaining() as u64;
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Connections open per client address.
#[derive(Default)]
struct PerIp(Mutex<HashMap<IpAddr, u64>>);

/// One connection counted in [`PerIp`], until dropped.
struct IpSlot {
    table: Arc<PerIp>,
    ip: IpAddr,
}

impl PerIp {
    /// Counts a connection from `ip`, unless `cap` (non-zero) are already open.
    fn take(table: &Arc<PerIp>, ip: IpAddr, cap: u64) -> Option<IpSlot> {
        let mut map = table.0.lock().ok()?;
        let open = map.entry(ip).or_insert(0);
        if cap > 0 && *open >= cap {
            return None;
        }
        *open += 1;
        Some(IpSlot {
            table: table.clone(),
            ip,
        })
    }
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        if let Ok(mut map) = self.table.0.lock()
            && let Some(open) = map.get_mut(&self.ip)
        {
            *open = open.saturating_sub(1);
            if *open == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

/// A TCP stream closed lingering: its shutdown closes the write side, then reads and discards
/// what the peer still sends until it closes too, [`LINGER_TIME`] passes or
/// [`LINGER_MAX_BYTES`] were read — so that data the server never read does not make the
/// kernel reset the connection under an answer the client has not read yet.
pub struct Lingering {
    stream: TcpStream,
    write_closed: bool,
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
    discarded: u64,
}

impl Lingering {
    fn new(stream: TcpStream) -> Lingering {
        Lingering {
            stream,
            write_closed: false,
            deadline: None,
            discarded: 0,
        }
    }
}

impl AsyncRead for Lingering {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Lingering {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.write_closed {
            ready!(Pin::new(&mut this.stream).poll_shutdown(cx))?;
            this.write_closed = true;
        }
        let deadline = this
            .deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(LINGER_TIME)));
        let mut scratch = [0u8; 8192];
        loop {
            if this.discarded >= LINGER_MAX_BYTES || deadline.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Ok(()));
            }
            let mut buf = ReadBuf::new(&mut scratch);
            match Pin::new(&mut this.stream).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) if buf.filled().is_empty() => return Poll::Ready(Ok(())),
                Poll::Ready(Ok(())) => this.discarded += buf.filled().len() as u64,
                Poll::Ready(Err(_)) => return Poll::Ready(Ok(())),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// Serves `listener` forever with the limits of `edge`. `handle` gets each request (with its
/// [`Peer`] and its [`Exchange`]) and its id (`id_prefix` + a random per-process part + a
/// counter) and runs inside a `protocol` span; each request is recorded by `observer`.
pub async fn serve<H, Fut, B, E>(
    listener: TcpListener,
    protocol: &'static str,
    id_prefix: &'static str,
    edge: Edge,
    observer: Arc<Observer>,
    handle: H,
) -> std::io::Result<()>
where
    H: Fn(http::Request<ReqBody>, String) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<http::Response<B>, E>> + Send + 'static,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
    E: Into<BoxError>,
{
    let next_id = Arc::new(AtomicU64::new(1));
    let process = crate::objects::random_hex(4);
    let per_ip = Arc::new(PerIp::default());
    let refused = Arc::new(AtomicU64::new(0));
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(edge.header_read_timeout);
    builder.http2().timer(TokioTimer::new());
    let builder = Arc::new(builder);
    tracing::info!(
        addr = %listener.local_addr()?,
        protocol,
        header_read_timeout_ms = edge.header_read_timeout.as_millis() as u64,
        idle_timeout_ms = edge.idle_timeout.as_millis() as u64,
        max_connections_per_ip = edge.max_connections_per_ip,
        "listening"
    );
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, protocol, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(slot) = PerIp::take(&per_ip, peer.ip(), edge.max_connections_per_ip) else {
            // Counted, and logged once per 1000, so that a flood does not flood the log.
            let n = refused.fetch_add(1, Ordering::Relaxed);
            if n.is_multiple_of(1000) {
                tracing::warn!(
                    peer = %peer.ip(),
                    protocol,
                    refused_so_far = n + 1,
                    "connection refused: max_connections_per_ip reached"
                );
            }
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (handle, next_id, process, builder, observer) = (
            handle.clone(),
            next_id.clone(),
            process.clone(),
            builder.clone(),
            observer.clone(),
        );
        tokio::spawn(async move {
            let _slot = slot;
            let state = Arc::new(ConnState::new());
            let conn_state = state.clone();
            let service = hyper::service::service_fn(move |req: http::Request<Incoming>| {
                let in_flight = InFlight::new(conn_state.clone());
                let n = next_id.fetch_add(1, Ordering::Relaxed);
                let id = format!("{id_prefix}{process}{n:012x}");
                let span = tracing::info_span!(
                    "request",
                    protocol,
                    id = %id,
                    method = %req.method(),
                    path = %req.uri().path()
                );
                let handle = handle.clone();
                let observer = observer.clone();
                async move {
                    let start = Instant::now();
                    let logging = observer.logging();
                    let started = logging.then(std::time::SystemTime::now);
                    let log_id = logging.then(|| id.clone());
                    let method = req.method().clone();
                    observer.started(protocol);
                    let http1 = req.version() <= http::Version::HTTP_11;
                    let expects_continue = req
                        .headers()
                        .get(http::header::EXPECT)
                        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
                    let (parts, body) = req.into_parts();
                    let (body, shared) = ReqBody::new(body, logging);
                    let mut req = http::Request::from_parts(parts, body);
                    req.extensions_mut().insert(Peer(peer));
                    req.extensions_mut().insert(Exchange(shared.clone()));
                    let mut done = Done {
                        observer,
                        shared: shared.clone(),
                        protocol,
                        id: log_id,
                        method,
                        remote: peer.ip(),
                        // Recorded as 499 (nginx's "client closed request") unless an
                        // answer comes: the client went away, or the handler failed.
                        status: 499,
                        start,
                        started,
                        sent: 0,
                    };
                    let resp = handle(req, id).await?;
                    done.status = resp.status().as_u16();
                    let (mut parts, body) = resp.into_parts();
                    if http1 && !shared.finished.load(Ordering::Relaxed) {
                        let returned = shared.returned.lock().ok().and_then(|mut s| s.take());
                        // Without 100 Continue sent, the client waits for this answer
                        // rather than sending the body: do not invite it by reading.
                        let drained = match returned {
                            Some(body) if !expects_continue => {
                                drain(body, DRAIN_MAX_BYTES, DRAIN_MAX_TIME, &shared.received).await
                            }
                            _ => false,
                        };
                        if !drained {
                            tracing::debug!("answered before the body was read: closing");
                            parts.headers.insert(
                                http::header::CONNECTION,
                                http::HeaderValue::from_static("close"),
                            );
                        }
                    }
                    let body = Tracked {
                        inner: Box::pin(body),
                        _in_flight: in_flight,
                        done,
                    };
                    Ok::<_, E>(http::Response::from_parts(parts, body))
                }
                .instrument(span)
            });
            let io = TokioIo::new(Lingering::new(stream));
            let mut conn = std::pin::pin!(builder.serve_connection(io, service));
            let result = loop {
                let idle = state.idle_for();
                let wait = edge.idle_timeout.saturating_sub(idle);
                if wait.is_zero() {
                    tracing::debug!(peer = %peer, protocol, "idle connection closed");
                    conn.as_mut().graceful_shutdown();
                    break tokio::time::timeout(SHUTDOWN_GRACE, conn.as_mut())
                        .await
                        .unwrap_or(Ok(()));
                }
                tokio::select! {
                    r = conn.as_mut() => break r,
                    () = tokio::time::sleep(wait.max(Duration::from_millis(10))) => {}
                }
            };
            if let Err(e) = result {
                tracing::debug!(peer = %peer, error = %e, protocol, "connection ended with an error");
            }
        });
    }
}
