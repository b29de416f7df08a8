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
//! With TLS (`crate::tls`, the `tls_*` config keys) every limit above applies the same, inside
//! the TLS session: the per-address cap counts a connection from its accept (its handshake
//! included), the handshake must complete within `tls_handshake_timeout_ms`, and the lingering
//! close runs on the TCP stream under TLS (after TLS's own close_notify). A connection whose
//! first bytes are not a TLS handshake (plain HTTP sent to the HTTPS port) is answered
//! `400 Bad Request` in plain HTTP, saying the port speaks HTTPS, and closed. Requests that
//! came over TLS carry [`Secure`] in their extensions.
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
use crate::tls::Tls;

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

/// In the extensions of every request that came over TLS (for `aws:SecureTransport`, and
/// the `https` of the URLs the gateway answers with).
#[derive(Debug, Clone, Copy)]
pub struct Secure;

/// The connection limits of a listener (from the gateway config), and its TLS if any.
#[derive(Debug, Clone)]
pub struct Edge {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    /// 0: no cap.
    pub max_connections_per_ip: u64,
    pub tls_handshake_timeout: Duration,
    /// `None`: plain HTTP.
    pub tls: Option<Tls>,
    /// Most headers one HTTP/1 request may have (more: 431); `None`: hyper's default, 100.
    pub max_headers: Option<usize>,
}

impl Edge {
    /// The limits of `config`, plain HTTP ([`Edge::with_tls`] adds TLS).
    pub fn of(config: &Config) -> Edge {
        Edge {
            header_read_timeout: Duration::from_millis(config.header_read_timeout_ms.max(1)),
            idle_timeout: Duration::from_millis(config.idle_timeout_ms.max(1)),
            max_connections_per_ip: config.max_connections_per_ip,
            tls_handshake_timeout: Duration::from_millis(config.tls_handshake_timeout_ms.max(1)),
            tls: None,
            max_headers: None,
        }
    }

    /// The same limits, connections going through `tls` (none: plain HTTP).
    pub fn with_tls(mut self, tls: Option<Tls>) -> Edge {
        self.tls = tls;
        self
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

/// A connection as hyper reads and writes it: the lingering TCP stream, or TLS over it.
enum Conn {
    Plain(Lingering),
    Tls(Box<tokio_rustls::server::TlsStream<Lingering>>),
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Conn::Plain(s) => s.is_write_vectored(),
            Conn::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// The first byte of a TLS record carrying a handshake message (a ClientHello first).
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// The plain-HTTP answer to a plain request on a TLS port.
const PLAIN_TO_TLS_ANSWER: &[u8] = b"HTTP/1.1 400 Bad Request\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Length: 62\r\n\
Connection: close\r\n\
\r\n\
This port speaks HTTPS: send the request over TLS (https://).\n";

/// Why a TLS connection was not served.
#[derive(Debug)]
enum Refused {
    /// Closed, or timed out, before a complete handshake.
    Handshake(String),
    /// Plain HTTP (answered 400).
    Plain,
}

/// Runs the TLS handshake of `stream` within `timeout`. A stream whose first byte is not a TLS
/// handshake record gets [`PLAIN_TO_TLS_ANSWER`] and is closed.
async fn handshake(
    tls: &Tls,
    stream: TcpStream,
    timeout: Duration,
) -> Result<tokio_rustls::server::TlsStream<Lingering>, Refused> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut first = [0u8; 1];
    let peeked = tokio::time::timeout_at(deadline, stream.peek(&mut first)).await;
    match peeked {
        Err(_) => return Err(Refused::Handshake("timed out".to_string())),
        Ok(Err(e)) => return Err(Refused::Handshake(e.to_string())),
        Ok(Ok(0)) => return Err(Refused::Handshake("closed".to_string())),
        Ok(Ok(_)) if first[0] != TLS_HANDSHAKE_RECORD => {
            use tokio::io::AsyncWriteExt as _;
            let mut conn = Lingering::new(stream);
            // Bounded: the answer is small, the lingering close bounded by LINGER_TIME.
            let answer = async {
                conn.write_all(PLAIN_TO_TLS_ANSWER).await?;
                conn.shutdown().await
            };
            let _ = tokio::time::timeout(timeout + LINGER_TIME, answer).await;
            return Err(Refused::Plain);
        }
        Ok(Ok(_)) => {}
    }
    match tokio::time::timeout_at(deadline, tls.acceptor().accept(Lingering::new(stream))).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(e)) => Err(Refused::Handshake(e.to_string())),
        Err(_) => Err(Refused::Handshake("timed out".to_string())),
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
    if let Some(n) = edge.max_headers {
        builder.http1().max_headers(n);
    }
    builder.http2().timer(TokioTimer::new());
    let builder = Arc::new(builder);
    tracing::info!(
        addr = %listener.local_addr()?,
        protocol,
        header_read_timeout_ms = edge.header_read_timeout.as_millis() as u64,
        idle_timeout_ms = edge.idle_timeout.as_millis() as u64,
        max_connections_per_ip = edge.max_connections_per_ip,
        tls = edge.tls.is_some(),
        "listening"
    );
    let idle_timeout = edge.idle_timeout;
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
        let (handle, next_id, process, builder, observer, tls) = (
            handle.clone(),
            next_id.clone(),
            process.clone(),
            builder.clone(),
            observer.clone(),
            edge.tls.clone(),
        );
        let handshake_timeout = edge.tls_handshake_timeout;
        tokio::spawn(async move {
            let _slot = slot;
            // The TLS handshake first (the slot held meanwhile, bounded by its timeout).
            let io = match &tls {
                None => Conn::Plain(Lingering::new(stream)),
                Some(tls) => match handshake(tls, stream, handshake_timeout).await {
                    Ok(stream) => Conn::Tls(Box::new(stream)),
                    Err(Refused::Plain) => {
                        tracing::debug!(peer = %peer, protocol, "plain HTTP on the TLS port: answered 400");
                        return;
                    }
                    Err(Refused::Handshake(reason)) => {
                        tracing::debug!(peer = %peer, protocol, reason, "TLS handshake failed");
                        return;
                    }
                },
            };
            let secure = matches!(io, Conn::Tls(_));
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
                    if secure {
                        req.extensions_mut().insert(Secure);
                    }
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
            let io = TokioIo::new(io);
            let mut conn = std::pin::pin!(builder.serve_connection(io, service));
            let result = loop {
                let idle = state.idle_for();
                let wait = idle_timeout.saturating_sub(idle);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::testing::{Pki, pki};
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    #[test]
    fn the_plain_answer_is_well_formed() {
        let text = std::str::from_utf8(PLAIN_TO_TLS_ANSWER).expect("ASCII");
        let (head, body) = text.split_once("\r\n\r\n").expect("a head");
        assert!(head.starts_with("HTTP/1.1 400 "));
        let length = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .expect("Content-Length");
        assert_eq!(length.parse::<usize>().expect("a number"), body.len());
    }

    /// A TLS listener on a free loopback port, answering `secure` or `plain` (whether the
    /// request carries [`Secure`]) and the HTTP version.
    async fn tls_listener(
        tls: Tls,
        handshake_ms: u64,
        per_ip: u64,
    ) -> (SocketAddr, tokio::task::JoinHandle<io::Result<()>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let config = Config {
            tls_handshake_timeout_ms: handshake_ms,
            max_connections_per_ip: per_ip,
            ..Config::default()
        };
        let edge = Edge::of(&config).with_tls(Some(tls));
        let observer = Arc::new(Observer::new(&config).expect("observer"));
        let task = tokio::spawn(serve(
            listener,
            "test",
            "",
            edge,
            observer,
            |req: http::Request<ReqBody>, _id: String| async move {
                let secure = req.extensions().get::<Secure>().is_some();
                let text = format!(
                    "{} {:?}",
                    if secure { "secure" } else { "plain" },
                    req.version()
                );
                Ok::<_, std::convert::Infallible>(http::Response::new(http_body_util::Full::new(
                    Bytes::from(text),
                )))
            },
        ));
        (addr, task)
    }

    use std::net::SocketAddr;

    /// A TLS client trusting `ca` only, offering `alpn`.
    async fn connect(
        addr: SocketAddr,
        ca: &rustls_pki_types::CertificateDer<'static>,
        alpn: &[&[u8]],
    ) -> io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.clone()).map_err(io::Error::other)?;
        let mut config =
            rustls::ClientConfig::builder_with_provider(Arc::new(crate::tls::ring_provider()))
                .with_safe_default_protocol_versions()
                .map_err(io::Error::other)?
                .with_root_certificates(roots)
                .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let name = rustls_pki_types::ServerName::try_from("localhost").map_err(io::Error::other)?;
        let tcp = TcpStream::connect(addr).await?;
        connector.connect(name, tcp).await
    }

    /// One HTTP/1.1 GET on `stream` (kept alive); the answer's head and body.
    async fn get_http1<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S) -> String {
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .expect("write");
        let mut got = Vec::new();
        let mut buf = [0u8; 1024];
        loop {
            let n = stream.read(&mut buf).await.expect("read");
            assert!(n > 0, "closed after {:?}", String::from_utf8_lossy(&got));
            got.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&got);
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length: "))
                    .and_then(|v| v.parse().ok())
                    .expect("content-length");
                if body.len() >= length {
                    return text.into_owned();
                }
            }
        }
    }

    fn write_pki(dir: &std::path::Path, pki: &Pki) -> (PathBuf, PathBuf) {
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert, &pki.cert_pem).expect("write");
        std::fs::write(&key, &pki.key_pem).expect("write");
        (cert, key)
    }

    use std::path::PathBuf;

    #[tokio::test]
    async fn tls_serves_http1_and_h2_and_reloads_for_new_handshakes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = pki(&["localhost", "127.0.0.1"]);
        let (cert, key) = write_pki(dir.path(), &first);
        let tls = Tls::load(&cert, &key).expect("loads");
        let (addr, _task) = tls_listener(tls.clone(), 5000, 0).await;

        // HTTP/1.1 by ALPN, on a connection kept open across the reload.
        let mut kept = connect(addr, &first.ca_der, &[b"http/1.1"])
            .await
            .expect("TLS");
        assert_eq!(kept.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
        let answer = get_http1(&mut kept).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.ends_with("secure HTTP/1.1"), "{answer}");

        // HTTP/2 by ALPN.
        let h2 = connect(addr, &first.ca_der, &[b"h2", b"http/1.1"])
            .await
            .expect("TLS");
        assert_eq!(h2.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
        let (mut sender, conn) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(h2))
                .await
                .expect("h2 handshake");
        tokio::spawn(conn);
        let req = http::Request::get("https://localhost/")
            .body(http_body_util::Empty::<Bytes>::new())
            .expect("request");
        let resp = sender.send_request(req).await.expect("h2 answer");
        assert_eq!(resp.status(), 200);
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        assert_eq!(&body[..], b"secure HTTP/2.0");

        // New files: new handshakes get the new certificate, the old CA no longer verifies it.
        let second = pki(&["localhost", "127.0.0.1"]);
        write_pki(dir.path(), &second);
        tls.reload().expect("reloads");
        let mut fresh = connect(addr, &second.ca_der, &[b"http/1.1"])
            .await
            .expect("new CA");
        assert!(get_http1(&mut fresh).await.ends_with("secure HTTP/1.1"));
        let err = connect(addr, &first.ca_der, &[b"http/1.1"])
            .await
            .expect_err("the old CA does not verify the new certificate");
        assert!(err.to_string().contains("certificate"), "{err}");
        // The connection opened before the reload still serves.
        assert!(get_http1(&mut kept).await.ends_with("secure HTTP/1.1"));
    }

    #[tokio::test]
    async fn plain_http_is_answered_400_and_slow_handshakes_are_closed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pki = pki(&["localhost"]);
        let (cert, key) = write_pki(dir.path(), &pki);
        let tls = Tls::load(&cert, &key).expect("loads");
        let (addr, _task) = tls_listener(tls, 300, 2).await;

        let mut plain = TcpStream::connect(addr).await.expect("connect");
        plain
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("write");
        let mut answer = String::new();
        tokio::time::timeout(Duration::from_secs(5), plain.read_to_string(&mut answer))
            .await
            .expect("answered and closed in time")
            .expect("read");
        assert!(
            answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
            "{answer}"
        );
        assert!(answer.contains("HTTPS"), "{answer}");

        // Two silent connections take this address's two slots: a third is closed at once;
        // the silent ones at the handshake timeout, after which a client gets in again.
        let start = Instant::now();
        let mut silent: Vec<TcpStream> = Vec::new();
        for _ in 0..2 {
            silent.push(TcpStream::connect(addr).await.expect("connect"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut third = TcpStream::connect(addr).await.expect("connect");
        let mut buf = [0u8; 16];
        let n = tokio::time::timeout(Duration::from_secs(1), third.read(&mut buf))
            .await
            .expect("the third is closed at once");
        assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");
        for s in &mut silent {
            let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
                .await
                .expect("closed at the handshake timeout");
            assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");
        }
        assert!(
            start.elapsed() >= Duration::from_millis(250),
            "{:?}",
            start.elapsed()
        );
        drop(silent);
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut ok = connect(addr, &pki.ca_der, &[b"http/1.1"])
            .await
            .expect("TLS");
        assert!(get_http1(&mut ok).await.ends_with("secure HTTP/1.1"));
    }
}
