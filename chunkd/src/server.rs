//! The chunk server's HTTP/1.1 front (hyper 1): `PUT/GET/HEAD/DELETE /v1/chunk/{id}`,
//! `GET /info`, and `GET/POST /v1/scrub` (the scrubber's status, and a pass now:
//! [`crate::scrub`]). Uploads stream into a temp file while hashing, are checked, footed,
//! fsynced and linked into place; reads stream the data part of the file in bounded blocks,
//! each piece (or the whole chunk) checked against the footer before its last block is sent:
//! a chunk found bad is quarantined and the answer ends with an error.

use crate::chunkfile::{self, not_found_or_io};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::heartbeat;
use crate::metrics::Metrics;
use crate::newchunk::NewChunk;
use crate::pieces::{PieceHasher, Pieces, ReadCheck};
use crate::range::{RangeSpec, parse_range};
use crate::scrub::{self, Scrubber};
use crate::volume::{FileIdentity, Volume};
use crate::wire::{self, ChunkMeta, ErrorBody, VolumeInfo};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use internal_auth::{Role, Signer, Verified, Verifier};
use meta_api::client::MetaClient;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::net::TcpListener;
use tracing::Instrument;

/// Size of the blocks read from disk for GET.
const READ_BLOCK: usize = 1024 * 1024;
/// How long `/ready` waits for its probe of the volume.
const READY_TIMEOUT: Duration = Duration::from_secs(2);
/// Bytes of an upload gathered before they are written to its temp file.
const WRITE_BATCH: usize = 1024 * 1024;

type RespBody = UnsyncBoxBody<Bytes, std::io::Error>;

/// Shared state of a running chunk server.
struct State {
    volume: Arc<Volume>,
    scrubber: Arc<Scrubber>,
    metrics: Arc<Metrics>,
    location: String,
    next_request: AtomicU64,
    /// Checks request signatures (`None`: `insecure_no_auth`).
    verifier: Option<Verifier>,
}

/// Bind `config.listen` and [`serve`] forever.
pub async fn run(config: Config) -> Result<()> {
    let listener = TcpListener::bind(config.listen).await?;
    serve(listener, config).await
}

/// Open the volume (creating the service id, wiping `tmp/`, counting chunks), start the
/// heartbeat loop to `config.meta` (announcing `config.advertise`, or else the listener's
/// actual address), and serve HTTP on `listener` forever.
pub async fn serve(listener: TcpListener, config: Config) -> Result<()> {
    let root = config.volume.clone();
    let settings = scrub::Settings::from_config(&config);
    let (volume, scrubber) = blocking(move || -> Result<_> {
        let volume = Arc::new(Volume::open(&root)?);
        let scrubber = Arc::new(Scrubber::open(volume.clone(), settings));
        Ok((volume, scrubber))
    })
    .await?;
    let secret = config.secret()?;
    if secret.is_none() {
        tracing::warn!("insecure_no_auth = true: chunkd answers anyone who reaches it");
    }
    let local = listener.local_addr()?;
    let advertise = advertised(&config, local)?;
    tracing::info!(listen = %local, advertise = %advertise, service_id = %volume.service_id(),
        "chunkd serving");
    // Everything this server spawns lives in `tasks`: dropping the `serve` future (e.g.
    // aborting its task) stops the heartbeats and closes every connection.
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(heartbeat::run_loop(
        volume.clone(),
        heartbeat::Settings {
            meta: config.meta.clone(),
            addr: advertise,
            location: config.location.clone(),
            slots: config.slots.clone(),
            interval: Duration::from_secs(config.heartbeat_secs.max(1)),
            signer: secret.as_ref().map(|s| Signer::new(Role::Service, s)),
        },
    ));
    tasks.spawn(scrubber.clone().run());
    let metrics = Arc::new(Metrics::new(volume.clone(), scrubber.clone()));
    {
        let mut meta = MetaClient::new(&config.meta);
        if let Some(s) = &secret {
            meta = meta.with_signer(Signer::new(Role::Service, s));
        }
        tasks.spawn(crate::orphans::run_loop(
            volume.clone(),
            meta,
            metrics.clone(),
            crate::orphans::Settings {
                every: Duration::from_secs(config.orphan_check_secs),
                grace: Duration::from_secs(config.orphan_grace_secs),
                hold: Duration::from_secs(config.orphan_hold_secs),
                max_unknown_percent: config.orphan_max_unknown_percent,
            },
        ));
    }
    let state = Arc::new(State {
        volume,
        scrubber,
        metrics,
        location: config.location.clone(),
        next_request: AtomicU64::new(1),
        verifier: secret.map(|s| Verifier::new().accept(Role::Service, &s)),
    });
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            Some(_) = tasks.join_next() => continue,
        };
        let (stream, peer) = match accepted {
            Ok(conn) => conn,
            Err(e) => {
                // Typically EMFILE: back off briefly instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        tasks.spawn(async move {
            let service = service_fn(move |req| {
                let state = state.clone();
                async move { Ok::<_, Infallible>(handle(state, req).await) }
            });
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(%peer, error = %e, "connection ended with error");
            }
        });
    }
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Response<RespBody> {
    let rid = format!("{:x}", state.next_request.fetch_add(1, Ordering::Relaxed));
    let span =
        tracing::info_span!("req", id = %rid, method = %req.method(), path = %req.uri().path());
    async move {
        let start = std::time::Instant::now();
        let method = req.method().clone();
        let operation = crate::metrics::operation_name(&method, req.uri().path());
        let metrics = state.metrics.clone();
        let result = route(state, req).await;
        let mut resp = match result {
            Ok(resp) => {
                tracing::debug!(status = resp.status().as_u16(), "done");
                resp
            }
            Err(e) => {
                metrics.error(&e);
                error_response(&method, e)
            }
        };
        metrics.request(
            operation,
            resp.status().as_u16(),
            start.elapsed().as_secs_f64(),
        );
        if let Ok(v) = HeaderValue::from_str(&rid) {
            resp.headers_mut().insert(wire::H_REQUEST_ID, v);
        }
        resp
    }
    .instrument(span)
    .await
}

async fn route(state: Arc<State>, req: Request<Incoming>) -> Result<Response<RespBody>> {
    let path = req.uri().path().to_string();
    match path.as_str() {
        "/metrics" | "/health" | "/ready" if *req.method() != Method::GET => {
            return Ok(status_only(StatusCode::METHOD_NOT_ALLOWED));
        }
        "/metrics" => {
            let metrics = state.metrics.clone();
            let text = blocking(move || metrics.encode()).await?;
            let mut resp = Response::new(full(text.into_bytes()));
            insert_header(
                resp.headers_mut(),
                header::CONTENT_TYPE.as_str(),
                crate::metrics::CONTENT_TYPE,
            );
            return Ok(resp);
        }
        "/health" => return Ok(text_response(StatusCode::OK, "ok\n".to_string())),
        "/ready" => return Ok(ready(&state).await),
        _ => {}
    }
    // Every other route takes signed requests only; a state change is taken once.
    let verified = match &state.verifier {
        Some(verifier) => {
            let once = matches!(*req.method(), Method::PUT | Method::DELETE | Method::POST);
            let verified = verifier
                .verify(req.method(), req.uri(), req.headers(), once)
                .map_err(|e| Error::Unauthorized(format!("{path}: {e}")))?;
            Some(verified)
        }
        None => None,
    };
    if path == "/info" {
        return match *req.method() {
            Method::GET => info(&state).await,
            _ => Ok(status_only(StatusCode::METHOD_NOT_ALLOWED)),
        };
    }
    if path == "/v1/scrub" {
        return match *req.method() {
            Method::GET => scrub_status(&state, StatusCode::OK).await,
            Method::POST => {
                state.scrubber.request_pass()?;
                scrub_status(&state, StatusCode::ACCEPTED).await
            }
            _ => Ok(status_only(StatusCode::METHOD_NOT_ALLOWED)),
        };
    }
    let Some(id) = path.strip_prefix("/v1/chunk/") else {
        return Ok(status_only(StatusCode::NOT_FOUND));
    };
    if !crate::is_valid_chunk_id(id) {
        return Err(Error::BadRequest(format!("invalid chunk id {id:?}")));
    }
    let id = id.to_string();
    match *req.method() {
        Method::PUT => {
            // Run the upload in its own task: if the client goes away hyper drops this future,
            // but the upload task still sees the body error and cleans up its temp file.
            let task = tokio::spawn(put_chunk(state, id, req, verified).in_current_span());
            task.await
                .map_err(|e| Error::Io(std::io::Error::other(e)))?
        }
        Method::GET => get_chunk(&state, &id, req.headers(), false).await,
        Method::HEAD => get_chunk(&state, &id, req.headers(), true).await,
        Method::DELETE => delete_chunk(&state, id).await,
        _ => Ok(status_only(StatusCode::METHOD_NOT_ALLOWED)),
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>> {
    headers
        .get(name)
        .map(|v| {
            v.to_str()
                .map_err(|_| Error::BadRequest(format!("header {name} is not ASCII")))
        })
        .transpose()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

async fn put_chunk(
    state: Arc<State>,
    id: String,
    req: Request<Incoming>,
    verified: Option<Verified>,
) -> Result<Response<RespBody>> {
    let headers = req.headers();
    // The names arrive percent-encoded; the footer gets them decoded (real UTF-8).
    let mut meta = ChunkMeta::from_name_headers(headers)?;
    let header_hash = header_str(headers, wire::H_CHUNK_HASH)?.map(str::to_ascii_lowercase);
    // A signed upload names its hash in what it signed: the hash header itself, or
    // `trailer` (then the trailer's hash comes with a MAC, checked below).
    let signed_trailer = verified
        .as_ref()
        .is_some_and(|v| v.content == internal_auth::TRAILER_CONTENT);
    if let Some(v) = &verified
        && !signed_trailer
        && header_hash.as_deref() != Some(v.content.to_ascii_lowercase().as_str())
    {
        return Err(Error::Unauthorized(
            "the chunk hash header is not the content signed".to_string(),
        ));
    }
    let content_length = match header_str(headers, header::CONTENT_LENGTH.as_str())? {
        Some(v) => Some(
            v.parse::<u64>()
                .map_err(|_| Error::BadRequest("bad content-length".to_string()))?,
        ),
        None => None,
    };

    let mut writer = BatchWriter::new(state.volume.clone(), id.clone());
    let mut hasher = PieceHasher::new();
    let mut received: u64 = 0;
    let mut trailer_hash: Option<String> = None;
    let mut trailer_mac: Option<String> = None;
    let mut body = req.into_body();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| Error::BadRequest(format!("body aborted: {e}")))?;
        match frame.into_data() {
            Ok(data) => {
                received += data.len() as u64;
                if content_length.is_some_and(|cl| received > cl) {
                    return Err(Error::BadRequest("body longer than content-length".into()));
                }
                hasher.update(&data);
                writer.push(data).await?;
            }
            Err(frame) => {
                if let Ok(trailers) = frame.into_trailers() {
                    if let Some(v) = trailers.get(wire::H_CHUNK_HASH) {
                        let v = v.to_str().map_err(|_| {
                            Error::BadRequest("trailer hash is not ASCII".to_string())
                        })?;
                        trailer_hash = Some(v.to_ascii_lowercase());
                    }
                    if let Some(v) = trailers.get(internal_auth::TRAILER_MAC) {
                        let v = v.to_str().map_err(|_| {
                            Error::BadRequest("trailer MAC is not ASCII".to_string())
                        })?;
                        trailer_mac = Some(v.to_string());
                    }
                }
            }
        }
    }
    if let Some(cl) = content_length
        && cl != received
    {
        return Err(Error::BadRequest(format!(
            "received {received} bytes, content-length {cl}"
        )));
    }
    let expected = header_hash.or(trailer_hash).ok_or_else(|| {
        Error::BadRequest("missing x-spread-chunk-hash (header or trailer)".to_string())
    })?;
    let hashed = hasher.finish();
    let actual = hashed.hash.to_hex().to_string();
    if expected != actual {
        tracing::warn!(%expected, %actual, size = received, "chunk hash mismatch");
        return Err(Error::HashMismatch);
    }
    if let Some(v) = verified.as_ref().filter(|_| signed_trailer) {
        let mac = trailer_mac.ok_or_else(|| {
            Error::Unauthorized("a signed streamed upload ended without its trailer MAC".into())
        })?;
        v.check_trailer(&actual, &mac)
            .map_err(|e| Error::Unauthorized(format!("trailer: {e}")))?;
    }
    meta.size = received;
    meta.hash = actual;
    meta.pieces = (!hashed.pieces.cvs.is_empty()).then(|| hashed.pieces.encode());
    meta.mtime_ms = now_ms();
    let footer = chunkfile::encode_footer(&meta)?;
    writer.finish(Bytes::from(footer)).await?;
    state.metrics.written_bytes.inc_by(received);
    tracing::info!(chunk = %id, size = received, "chunk stored");
    let mut resp = Response::new(empty());
    *resp.status_mut() = StatusCode::CREATED;
    insert_header(resp.headers_mut(), wire::H_CHUNK_HASH, &meta.hash);
    Ok(resp)
}

async fn get_chunk(
    state: &State,
    id: &str,
    headers: &HeaderMap,
    head_only: bool,
) -> Result<Response<RespBody>> {
    let path = state.volume.chunk_path(id);
    let (scrubber, chunk) = (state.scrubber.clone(), id.to_string());
    let (file, meta, identity) = blocking(move || -> Result<_> {
        let mut file = std::fs::File::open(&path).map_err(not_found_or_io)?;
        let identity = crate::volume::file_identity(&file.metadata()?);
        match chunkfile::read_footer_from(&mut file) {
            Ok(meta) => Ok((file, meta, identity)),
            Err(Error::Corrupt(why)) => {
                scrubber.bad_read(&chunk, identity, &format!("bad footer: {why}"));
                Err(Error::Corrupt(why))
            }
            Err(e) => Err(e),
        }
    })
    .await?;

    let size = meta.size;
    let range = match header_str(headers, header::RANGE.as_str())? {
        Some(v) => parse_range(v, size),
        None => RangeSpec::Full,
    };
    let (status, start, end) = match range {
        RangeSpec::Full => (StatusCode::OK, 0, size),
        RangeSpec::Partial { start, end } => (StatusCode::PARTIAL_CONTENT, start, end),
        RangeSpec::Unsatisfiable => {
            let mut resp = status_only(StatusCode::RANGE_NOT_SATISFIABLE);
            insert_header(
                resp.headers_mut(),
                header::CONTENT_RANGE.as_str(),
                &format!("bytes */{size}"),
            );
            return Ok(resp);
        }
    };
    let len = end - start;
    let body = if head_only || len == 0 {
        empty()
    } else {
        let check = blake3::Hash::from_hex(&meta.hash).ok().and_then(|hash| {
            let pieces = meta.pieces.as_deref().and_then(Pieces::decode);
            ReadCheck::plan(size, hash, pieces, start, end)
        });
        let verify = check.map(|check| Verify {
            check,
            scrubber: state.scrubber.clone(),
            id: id.to_string(),
            identity,
        });
        file_body(file, start, len, verify, state.metrics.read_bytes.clone())
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    insert_header(h, header::CONTENT_LENGTH.as_str(), &len.to_string());
    insert_header(h, header::CONTENT_TYPE.as_str(), "application/octet-stream");
    insert_header(h, header::ACCEPT_RANGES.as_str(), "bytes");
    insert_header(h, wire::H_CHUNK_HASH, &meta.hash);
    insert_header(h, wire::H_CHUNK_SIZE, &size.to_string());
    if status == StatusCode::PARTIAL_CONTENT {
        let value = format!("bytes {start}-{}/{size}", end - 1);
        insert_header(h, header::CONTENT_RANGE.as_str(), &value);
    }
    if let Some(pieces) = meta.pieces.as_deref().filter(|_| !head_only) {
        insert_header(h, wire::H_PIECES, pieces);
    }
    if head_only {
        let json = serde_json::to_string(&meta)
            .map_err(|e| Error::Corrupt(format!("cannot encode metadata: {e}")))?;
        insert_header(h, wire::H_META, &wire::encode_header_value(&json));
    }
    Ok(resp)
}

/// How a read is checked against the chunk's footer, and what to quarantine if it fails.
struct Verify {
    check: ReadCheck,
    scrubber: Arc<Scrubber>,
    id: String,
    identity: FileIdentity,
}

/// A body streaming `len` bytes of `file` from `start`, in blocks of at most [`READ_BLOCK`]
/// bytes, each read on a blocking thread straight into the buffer that is sent. With `verify`,
/// no block crosses a piece boundary and each block is hashed as it is read: the block that
/// completes a bad piece (or a bad chunk, checked whole) is not sent; the chunk is quarantined
/// and the body ends with an error, so the reader goes to another copy.
fn file_body(
    file: std::fs::File,
    start: u64,
    len: u64,
    verify: Option<Verify>,
    read_bytes: prometheus_client::metrics::counter::Counter,
) -> RespBody {
    use std::os::unix::fs::FileExt;
    let file = Arc::new(file);
    let init = (file, start, len, verify);
    let stream = futures::stream::unfold(init, |(file, pos, remaining, verify)| async move {
        if remaining == 0 {
            return None;
        }
        let mut n = usize::try_from(remaining).map_or(READ_BLOCK, |r| r.min(READ_BLOCK));
        let verify = verify.filter(|v| v.check.until_boundary() > 0);
        if let Some(v) = &verify {
            n = usize::try_from(v.check.until_boundary()).map_or(n, |b| b.min(n));
        }
        let reader = file.clone();
        let read = blocking(move || -> std::io::Result<_> {
            let mut verify = verify;
            let mut buf = vec![0u8; n];
            reader.read_exact_at(&mut buf, pos)?;
            let sound = verify.as_mut().and_then(|v| v.check.update(&buf)) != Some(false);
            if !sound && let Some(v) = &verify {
                let reason = format!(
                    "data does not match the footer's hashes (found reading bytes up to {})",
                    pos + n as u64
                );
                v.scrubber.bad_read(&v.id, v.identity, &reason);
            }
            Ok((Bytes::from(buf), verify, sound))
        })
        .await;
        match read {
            Ok((data, verify, true)) => Some((
                Ok(Frame::data(data)),
                (file, pos + n as u64, remaining - n as u64, verify),
            )),
            Ok((_, _, false)) => Some((
                Err(std::io::Error::other(
                    "chunk data does not match its hash: copy quarantined",
                )),
                (file, pos, 0, None),
            )),
            Err(e) => {
                tracing::warn!(error = %e, "chunk read failed mid-stream");
                Some((Err(e), (file, pos, 0, None)))
            }
        }
    });
    let counted = futures::StreamExt::map(stream, move |item| {
        if let Ok(frame) = &item
            && let Some(data) = frame.data_ref()
        {
            read_bytes.inc_by(data.len() as u64);
        }
        item
    });
    StreamBody::new(counted).boxed_unsync()
}

/// The address announced to meta: `advertise`, else the listener's address, which must then be
/// one that gateways can connect to (not `0.0.0.0` or `[::]`).
fn advertised(config: &Config, local: std::net::SocketAddr) -> Result<String> {
    match &config.advertise {
        Some(a) => Ok(a.clone()),
        None if local.ip().is_unspecified() => Err(Error::Config(format!(
            "listen = {local} accepts connections on every address, but that is no address \
             gateways can connect to: set advertise in the chunkd configuration to this \
             server's address, e.g. \"10.0.0.5:{}\"",
            local.port()
        ))),
        None => Ok(local.to_string()),
    }
}

/// Runs blocking file I/O on tokio's blocking pool (a task that panicked is an I/O error).
async fn blocking<T, E, F>(f: F) -> std::result::Result<T, E>
where
    F: FnOnce() -> std::result::Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: From<std::io::Error> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(E::from(std::io::Error::other(e))))
}

/// Writes an upload's frames to its new chunk file in batches of about [`WRITE_BATCH`] bytes,
/// each batch on a blocking thread straight from the received buffers (no copy in between).
/// The file is created by the first batch, so a chunk that fits in one batch costs one trip
/// to a blocking thread: create, write, fsync, link into place. Dropped before the end, the
/// file goes with it.
struct BatchWriter {
    volume: Arc<Volume>,
    id: String,
    chunk: Option<NewChunk>,
    pending: Vec<Bytes>,
    pending_len: usize,
}

impl BatchWriter {
    fn new(volume: Arc<Volume>, id: String) -> BatchWriter {
        BatchWriter {
            volume,
            id,
            chunk: None,
            pending: Vec::new(),
            pending_len: 0,
        }
    }

    async fn push(&mut self, data: Bytes) -> Result<()> {
        self.pending_len += data.len();
        self.pending.push(data);
        if self.pending_len >= WRITE_BATCH {
            self.chunk = self.write(false).await?;
        }
        Ok(())
    }

    /// Writes what is left and `footer`, fsyncs the file and commits it under its chunk id.
    async fn finish(mut self, footer: Bytes) -> Result<()> {
        self.pending.push(footer);
        self.write(true).await.map(drop)
    }

    /// Writes the pending buffers (creating the file first if needed) and returns the open
    /// file; when `last`, fsyncs and commits it instead.
    async fn write(&mut self, last: bool) -> Result<Option<NewChunk>> {
        use std::io::Write;
        let chunk = self.chunk.take();
        let pending = std::mem::take(&mut self.pending);
        self.pending_len = 0;
        let (volume, id) = (self.volume.clone(), self.id.clone());
        blocking(move || -> Result<_> {
            let mut chunk = match chunk {
                Some(c) => c,
                None => volume.create(&id)?,
            };
            for data in &pending {
                chunk.file().write_all(data).map_err(Error::from_write_io)?;
            }
            if !last {
                return Ok(Some(chunk));
            }
            chunk.file().sync_all().map_err(Error::from_write_io)?;
            volume.commit(chunk, &id)?;
            Ok(None)
        })
        .await
    }
}

async fn delete_chunk(state: &State, id: String) -> Result<Response<RespBody>> {
    let volume = state.volume.clone();
    let existed = blocking(move || volume.delete(&id)).await?;
    if existed {
        Ok(status_only(StatusCode::NO_CONTENT))
    } else {
        Err(Error::NotFound)
    }
}

async fn info(state: &State) -> Result<Response<RespBody>> {
    let volume = state.volume.clone();
    let (free_bytes, total_bytes) = blocking(move || volume.space()).await?;
    let info = VolumeInfo {
        id: state.volume.service_id().to_string(),
        volume: state.volume.root().display().to_string(),
        location: state.location.clone(),
        free_bytes,
        total_bytes,
        chunk_count: state.volume.chunk_count(),
    };
    json_response(StatusCode::OK, &info)
}

/// `GET /ready`: 200 when the volume can be written and read back (a small probe file in its
/// `tmp/`, within [`READY_TIMEOUT`]), else 503 with the reason.
async fn ready(state: &State) -> Response<RespBody> {
    let volume = state.volume.clone();
    let probe = tokio::time::timeout(READY_TIMEOUT, blocking(move || volume.probe())).await;
    match probe {
        Ok(Ok(())) => text_response(StatusCode::OK, "ready\n".to_string()),
        Ok(Err(e)) => text_response(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: volume: {}\n", e.to_string().replace('\n', " ")),
        ),
        Err(_) => text_response(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "not ready: the volume did not answer within {} ms\n",
                READY_TIMEOUT.as_millis()
            ),
        ),
    }
}

fn text_response(status: StatusCode, text: String) -> Response<RespBody> {
    let mut resp = Response::new(full(text.into_bytes()));
    *resp.status_mut() = status;
    insert_header(
        resp.headers_mut(),
        header::CONTENT_TYPE.as_str(),
        "text/plain; charset=utf-8",
    );
    resp
}

async fn scrub_status(state: &State, status: StatusCode) -> Result<Response<RespBody>> {
    let scrubber = state.scrubber.clone();
    let answer = blocking(move || Ok::<_, Error>(scrubber.status())).await?;
    json_response(status, &answer)
}

fn json_response<T: serde::Serialize>(status: StatusCode, value: &T) -> Result<Response<RespBody>> {
    let body = serde_json::to_vec(value).map_err(|e| Error::Io(std::io::Error::other(e)))?;
    let mut resp = Response::new(full(body));
    *resp.status_mut() = status;
    insert_header(
        resp.headers_mut(),
        header::CONTENT_TYPE.as_str(),
        "application/json",
    );
    Ok(resp)
}

fn error_status(e: &Error) -> StatusCode {
    match e {
        Error::NotFound => StatusCode::NOT_FOUND,
        Error::Conflict => StatusCode::CONFLICT,
        Error::HashMismatch | Error::BadRequest(_) => StatusCode::BAD_REQUEST,
        Error::RangeNotSatisfiable => StatusCode::RANGE_NOT_SATISFIABLE,
        Error::InsufficientStorage => StatusCode::INSUFFICIENT_STORAGE,
        Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        Error::Unauthorized(_) => StatusCode::UNAUTHORIZED,
        Error::Corrupt(_) | Error::Config(_) | Error::Io(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn error_response(method: &Method, e: Error) -> Response<RespBody> {
    let status = error_status(&e);
    if status.is_server_error() {
        tracing::error!(error = %e, "request failed");
    } else if status == StatusCode::UNAUTHORIZED {
        tracing::warn!(error = %e, "request refused");
    } else {
        tracing::debug!(error = %e, status = status.as_u16(), "request refused");
    }
    let body = ErrorBody {
        code: e.code().to_string(),
        message: e.to_string(),
    };
    let mut resp = if *method == Method::HEAD {
        status_only(status)
    } else {
        match json_response(status, &body) {
            Ok(r) => r,
            Err(_) => status_only(status),
        }
    };
    *resp.status_mut() = status;
    resp
}

fn insert_header(headers: &mut HeaderMap, name: &str, value: &str) {
    match (
        http::HeaderName::from_bytes(name.as_bytes()),
        HeaderValue::from_str(value),
    ) {
        (Ok(n), Ok(v)) => {
            headers.insert(n, v);
        }
        _ => tracing::warn!(name, "cannot encode header"),
    }
}

fn empty() -> RespBody {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

fn full(data: Vec<u8>) -> RespBody {
    Full::new(Bytes::from(data))
        .map_err(|never| match never {})
        .boxed_unsync()
}

fn status_only(status: StatusCode) -> Response<RespBody> {
    let mut resp = Response::new(empty());
    *resp.status_mut() = status;
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wildcard_listener_needs_an_advertised_address() {
        let any: std::net::SocketAddr = "0.0.0.0:6100".parse().unwrap();
        let any6: std::net::SocketAddr = "[::]:6100".parse().unwrap();
        let lo: std::net::SocketAddr = "127.0.0.1:6100".parse().unwrap();
        let plain = Config::default();
        for wildcard in [any, any6] {
            let err = advertised(&plain, wildcard).unwrap_err().to_string();
            assert!(err.contains("set advertise"), "{err}");
        }
        assert_eq!(advertised(&plain, lo).unwrap(), "127.0.0.1:6100");
        let set = Config {
            advertise: Some("10.0.0.5:6100".into()),
            ..Config::default()
        };
        assert_eq!(advertised(&set, any).unwrap(), "10.0.0.5:6100");
    }
}
