//! `ChunkClient`: the async client of chunk servers used by the gateway. One pooled HTTP/1.1
//! keep-alive client serves every chunk server; the server's error answers come back as the
//! matching [`Error`] variant, transport failures and 5xx as [`Error::Unavailable`].

use crate::error::{Error, Result};
use crate::pieces::Pieces;
use crate::wire::{self, ChunkMeta, ErrorBody, VolumeInfo};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Limited, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use internal_auth::Signer;
use std::future::Future;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type ReqBody = UnsyncBoxBody<Bytes, BoxError>;

/// How long to wait for a TCP connection: a dead server must fail fast.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long to wait for the answer headers (for `put`: after the whole body was sent).
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest pause accepted between two body frames of an answer.
const BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest error body read.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Client of chunk servers. Cheap to clone: clones share the connection pool.
#[derive(Clone)]
pub struct ChunkClient {
    http: Client<HttpConnector, ReqBody>,
    /// Signs every request (`None`: unsigned, refused by a chunk server that checks).
    signer: Option<Arc<Signer>>,
}

impl std::fmt::Debug for ChunkClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkClient").finish_non_exhaustive()
    }
}

impl Default for ChunkClient {
    fn default() -> Self {
        Self::new()
    }
}

impl ChunkClient {
    /// A new client with its own connection pool.
    pub fn new() -> ChunkClient {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        connector.set_nodelay(true);
        let http = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .build(connector);
        ChunkClient { http, signer: None }
    }

    /// This client signing its requests as `signer` (the cluster's service role).
    pub fn with_signer(mut self, signer: Signer) -> ChunkClient {
        self.signer = Some(Arc::new(signer));
        self
    }

    /// Store chunk `chunk_id` on the server at `addr` (`host:port`). `meta.size` and
    /// `meta.hash` must describe `data` (the concatenation of the parts, sent in order without
    /// copying); they go out as `Content-Length` and `x-spread-chunk-hash`. Returns when the
    /// chunk is durable.
    pub async fn put(
        &self,
        addr: &str,
        chunk_id: &str,
        meta: &ChunkMeta,
        data: Vec<Bytes>,
    ) -> Result<()> {
        let frames = futures::stream::iter(
            data.into_iter()
                .filter(|b| !b.is_empty())
                .map(|b| Ok::<_, BoxError>(Frame::data(b))),
        );
        let body = StreamBody::new(frames).boxed_unsync();
        let mut req = self.request(Method::PUT, addr, chunk_id, body)?;
        put_headers(req.headers_mut(), meta)?;
        set_header(
            req.headers_mut(),
            header::CONTENT_LENGTH.as_str(),
            &meta.size.to_string(),
        )?;
        set_header(req.headers_mut(), wire::H_CHUNK_HASH, &meta.hash)?;
        let resp = self.send(req, Some(RESPONSE_TIMEOUT)).await?;
        expect_status(resp, StatusCode::CREATED).await.map(drop)
    }

    /// Store chunk `chunk_id` from a stream (chunked transfer encoding). The BLAKE3 hex goes in
    /// the `x-spread-chunk-hash` trailer, taken from `hash` once the body stream has ended;
    /// `None` aborts the upload (the server stores nothing). `meta.size` / `meta.hash` are
    /// ignored. A body stream error aborts the request and surfaces as
    /// [`Error::Unavailable`]. No answer timeout applies (the body may arrive slowly).
    pub async fn put_stream<S, E, H>(
        &self,
        addr: &str,
        chunk_id: &str,
        meta: &ChunkMeta,
        body: S,
        hash: H,
    ) -> Result<()>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Send + 'static,
        E: Into<BoxError> + 'static,
        H: Future<Output = Option<String>> + Send + 'static,
    {
        let data = body.map(|r| r.map(Frame::data).map_err(Into::into));
        // Signed, the request names `trailer` as its content, and the trailer's hash comes
        // with a MAC chained to the request's signature (made before the body is sent).
        let auth = self.signer.as_ref().map(|signer| {
            let target = format!("/v1/chunk/{chunk_id}");
            let value = signer.sign("PUT", &target, internal_auth::TRAILER_CONTENT);
            (signer.clone(), value)
        });
        let trailer_auth = auth.clone();
        let trailer = futures::stream::once(async move {
            match hash.await {
                Some(h) => {
                    let value = HeaderValue::from_str(&h)
                        .map_err(|_| BoxError::from("hash is not a valid header value"))?;
                    let mut trailers = HeaderMap::new();
                    trailers.insert(wire::H_CHUNK_HASH, value);
                    if let Some((signer, auth)) = trailer_auth {
                        let mac = HeaderValue::from_str(&signer.trailer_mac(&auth, &h))
                            .map_err(|_| BoxError::from("bad trailer MAC"))?;
                        trailers.insert(internal_auth::TRAILER_MAC, mac);
                    }
                    Ok(Frame::trailers(trailers))
                }
                None => Err(BoxError::from("upload aborted: no hash")),
            }
        });
        let body = StreamBody::new(data.chain(trailer)).boxed_unsync();
        let mut req = self.request(Method::PUT, addr, chunk_id, body)?;
        if let Some((_, auth)) = &auth {
            set_header(req.headers_mut(), internal_auth::AUTH_HEADER, auth)?;
            set_header(
                req.headers_mut(),
                internal_auth::CONTENT_HEADER,
                internal_auth::TRAILER_CONTENT,
            )?;
        }
        put_headers(req.headers_mut(), meta)?;
        // hyper sends only the trailer fields the `Trailer` header declares.
        let declared = if auth.is_some() {
            format!("{}, {}", wire::H_CHUNK_HASH, internal_auth::TRAILER_MAC)
        } else {
            wire::H_CHUNK_HASH.to_string()
        };
        set_header(req.headers_mut(), header::TRAILER.as_str(), &declared)?;
        let resp = self.send(req, None).await?;
        expect_status(resp, StatusCode::CREATED).await.map(drop)
    }

    /// Read chunk `chunk_id` (or `range` of it) whole, in one buffer (a copy, when the answer
    /// came in several frames; [`ChunkClient::get_parts`] avoids it). The answer length is
    /// checked against `Content-Length`. An empty range returns empty bytes without asking
    /// the server.
    pub async fn get(
        &self,
        addr: &str,
        chunk_id: &str,
        range: Option<Range<u64>>,
    ) -> Result<Bytes> {
        let mut parts = self.get_parts(addr, chunk_id, range).await?;
        Ok(match parts.len() {
            0 => Bytes::new(),
            1 => parts.swap_remove(0),
            _ => Bytes::from(parts.concat()),
        })
    }

    /// Read chunk `chunk_id` (or `range` of it) whole, as the frames it arrived in.
    pub async fn get_parts(
        &self,
        addr: &str,
        chunk_id: &str,
        range: Option<Range<u64>>,
    ) -> Result<Vec<Bytes>> {
        let mut stream = std::pin::pin!(self.get_stream(addr, chunk_id, range).await?);
        let mut parts: Vec<Bytes> = Vec::new();
        while let Some(part) = stream.next().await {
            parts.push(part?);
        }
        Ok(parts)
    }

    /// Stream chunk `chunk_id` (or `range` of it). The stream ends with an error if the server
    /// sends fewer or more bytes than announced, or pauses too long.
    pub async fn get_stream(
        &self,
        addr: &str,
        chunk_id: &str,
        range: Option<Range<u64>>,
    ) -> Result<impl Stream<Item = Result<Bytes>> + Send + 'static + use<>> {
        Ok(self.get_with_pieces(addr, chunk_id, range).await?.1)
    }

    /// [`get_stream`](Self::get_stream), with the piece hashes the server keeps for the chunk
    /// (`None` for chunks of one piece and chunks written before piece hashes). The caller
    /// must check them ([`Pieces::describe`](crate::pieces::Pieces::describe)) against the
    /// chunk hash it trusts.
    pub async fn get_with_pieces(
        &self,
        addr: &str,
        chunk_id: &str,
        range: Option<Range<u64>>,
    ) -> Result<(
        Option<Pieces>,
        impl Stream<Item = Result<Bytes>> + Send + 'static + use<>,
    )> {
        if let Some(r) = &range
            && r.start >= r.end
        {
            return Ok((None, BodyStream::empty().into_stream()));
        }
        let mut req = self.request(Method::GET, addr, chunk_id, empty_body())?;
        if let Some(r) = &range {
            set_header(
                req.headers_mut(),
                header::RANGE.as_str(),
                &format!("bytes={}-{}", r.start, r.end - 1),
            )?;
        }
        let resp = self.send(req, Some(RESPONSE_TIMEOUT)).await?;
        let expected_status = if range.is_some() {
            StatusCode::PARTIAL_CONTENT
        } else {
            StatusCode::OK
        };
        let resp = expect_status(resp, expected_status).await?;
        let expected = content_length(resp.headers())?;
        if let Some(r) = &range
            && expected > r.end - r.start
        {
            return Err(Error::Unavailable(format!(
                "server answered {expected} bytes for a {} byte range",
                r.end - r.start
            )));
        }
        let pieces = resp
            .headers()
            .get(wire::H_PIECES)
            .and_then(|v| v.to_str().ok())
            .and_then(Pieces::decode);
        let stream = BodyStream {
            body: Some(resp.into_body()),
            expected,
            received: 0,
        }
        .into_stream();
        Ok((pieces, stream))
    }

    /// The reverse metadata of chunk `chunk_id` (from `HEAD`).
    pub async fn head(&self, addr: &str, chunk_id: &str) -> Result<ChunkMeta> {
        let req = self.request(Method::HEAD, addr, chunk_id, empty_body())?;
        let resp = self.send(req, Some(RESPONSE_TIMEOUT)).await?;
        let resp = expect_status(resp, StatusCode::OK).await?;
        let raw = resp
            .headers()
            .get(wire::H_META)
            .and_then(|v| v.to_str().ok())
            .and_then(wire::decode_header_value)
            .ok_or_else(|| Error::Unavailable("answer lacks x-spread-meta".to_string()))?;
        serde_json::from_str(&raw)
            .map_err(|e| Error::Unavailable(format!("bad x-spread-meta: {e}")))
    }

    /// Delete chunk `chunk_id` ([`Error::NotFound`] if absent).
    pub async fn delete(&self, addr: &str, chunk_id: &str) -> Result<()> {
        let req = self.request(Method::DELETE, addr, chunk_id, empty_body())?;
        let resp = self.send(req, Some(RESPONSE_TIMEOUT)).await?;
        expect_status(resp, StatusCode::NO_CONTENT).await.map(drop)
    }

    /// The server's `/info`: service id, location, space and chunk count.
    pub async fn info(&self, addr: &str) -> Result<VolumeInfo> {
        let req = Request::builder()
            .method(Method::GET)
            .uri(format!("http://{addr}/info"))
            .body(empty_body())
            .map_err(|e| Error::BadRequest(format!("bad chunk server address {addr}: {e}")))?;
        let resp = self.send(req, Some(RESPONSE_TIMEOUT)).await?;
        let resp = expect_status(resp, StatusCode::OK).await?;
        let body = read_limited(resp.into_body(), MAX_ERROR_BODY).await?;
        serde_json::from_slice(&body).map_err(|e| Error::Unavailable(format!("bad /info: {e}")))
    }

    /// The server's scrubber: settings, passes, counters (`GET /v1/scrub`).
    pub async fn scrub_status(&self, addr: &str) -> Result<crate::scrub::ScrubStatus> {
        self.scrub(Method::GET, addr, StatusCode::OK).await
    }

    /// Asks the server for a scrub pass now (`POST /v1/scrub`); the answer's `requested` is
    /// the number of that pass, done when `last.number` reaches it.
    pub async fn scrub_start(&self, addr: &str) -> Result<crate::scrub::ScrubStatus> {
        self.scrub(Method::POST, addr, StatusCode::ACCEPTED).await
    }

    async fn scrub(
        &self,
        method: Method,
        addr: &str,
        expected: StatusCode,
    ) -> Result<crate::scrub::ScrubStatus> {
        let req = Request::builder()
            .method(method)
            .uri(format!("http://{addr}/v1/scrub"))
            .body(empty_body())
            .map_err(|e| Error::BadRequest(format!("bad chunk server address {addr}: {e}")))?;
        let resp = self.send(req, Some(RESPONSE_TIMEOUT)).await?;
        let resp = expect_status(resp, expected).await?;
        let body = read_limited(resp.into_body(), MAX_ERROR_BODY).await?;
        serde_json::from_slice(&body)
            .map_err(|e| Error::Unavailable(format!("bad /v1/scrub answer: {e}")))
    }

    fn request(
        &self,
        method: Method,
        addr: &str,
        chunk_id: &str,
        body: ReqBody,
    ) -> Result<Request<ReqBody>> {
        if !crate::is_valid_chunk_id(chunk_id) {
            return Err(Error::BadRequest(format!("invalid chunk id {chunk_id:?}")));
        }
        Request::builder()
            .method(method)
            .uri(format!("http://{addr}/v1/chunk/{chunk_id}"))
            .body(body)
            .map_err(|e| Error::BadRequest(format!("bad chunk server address {addr}: {e}")))
    }

    async fn send(
        &self,
        mut req: Request<ReqBody>,
        timeout: Option<Duration>,
    ) -> Result<Response<Incoming>> {
        if let Some(signer) = &self.signer
            && !req.headers().contains_key(internal_auth::AUTH_HEADER)
        {
            // An upload signs the chunk hash it announces; other requests have no body.
            let content = match *req.method() {
                Method::PUT => req
                    .headers()
                    .get(wire::H_CHUNK_HASH)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string(),
                _ => String::new(),
            };
            let (method, uri) = (req.method().clone(), req.uri().clone());
            signer
                .sign_headers(req.headers_mut(), &method, &uri, &content)
                .map_err(|e| Error::BadRequest(format!("signing: {e}")))?;
        }
        let target = req.uri().to_string();
        let fut = self.http.request(req);
        let res = match timeout {
            Some(t) => tokio::time::timeout(t, fut)
                .await
                .map_err(|_| Error::Unavailable(format!("{target}: timed out")))?,
            None => fut.await,
        };
        res.map_err(|e| Error::Unavailable(format!("{target}: {}", error_chain(&e))))
    }
}

/// The error and its sources, joined (hyper-util's top-level message alone is vague).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

fn empty_body() -> ReqBody {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

fn set_header(headers: &mut HeaderMap, name: &str, value: &str) -> Result<()> {
    let name = http::HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| Error::BadRequest(format!("bad header name {name}")))?;
    let value = HeaderValue::from_str(value)
        .map_err(|_| Error::BadRequest(format!("bad value for header {name}")))?;
    headers.insert(name, value);
    Ok(())
}

/// The headers naming the chunk, percent-encoded ([`ChunkMeta::name_headers`]).
fn put_headers(headers: &mut HeaderMap, meta: &ChunkMeta) -> Result<()> {
    for (name, value) in meta.name_headers() {
        set_header(headers, name, &value)?;
    }
    Ok(())
}

fn content_length(headers: &HeaderMap) -> Result<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| Error::Unavailable("answer lacks content-length".to_string()))
}

async fn read_limited(body: Incoming, limit: usize) -> Result<Bytes> {
    let collected = tokio::time::timeout(BODY_IDLE_TIMEOUT, Limited::new(body, limit).collect())
        .await
        .map_err(|_| Error::Unavailable("timed out reading answer".to_string()))?
        .map_err(|e| Error::Unavailable(format!("reading answer: {e}")))?;
    Ok(collected.to_bytes())
}

/// Pass `resp` through if it has `want`, else turn it into the matching error.
async fn expect_status(resp: Response<Incoming>, want: StatusCode) -> Result<Response<Incoming>> {
    let status = resp.status();
    if status == want {
        return Ok(resp);
    }
    if status.is_success() {
        return Err(Error::Unavailable(format!(
            "unexpected status {status} (wanted {want})"
        )));
    }
    let body = read_limited(resp.into_body(), MAX_ERROR_BODY)
        .await
        .unwrap_or_default();
    let parsed: Option<ErrorBody> = serde_json::from_slice(&body).ok();
    let message = parsed
        .as_ref()
        .map(|b| b.message.clone())
        .unwrap_or_else(|| status.to_string());
    Err(match status {
        StatusCode::NOT_FOUND => Error::NotFound,
        StatusCode::CONFLICT => Error::Conflict,
        StatusCode::RANGE_NOT_SATISFIABLE => Error::RangeNotSatisfiable,
        StatusCode::INSUFFICIENT_STORAGE => Error::InsufficientStorage,
        StatusCode::BAD_REQUEST if parsed.as_ref().is_some_and(|b| b.code == "HashMismatch") => {
            Error::HashMismatch
        }
        // A server refusing this client's signature is no use to it: like a dead one.
        StatusCode::UNAUTHORIZED => Error::Unavailable(format!("refused (401): {message}")),
        s if s.is_server_error() => Error::Unavailable(message),
        _ => Error::BadRequest(message),
    })
}

/// An answer body as a stream of data, checked against the announced length.
struct BodyStream {
    body: Option<Incoming>,
    expected: u64,
    received: u64,
}

impl BodyStream {
    fn empty() -> BodyStream {
        BodyStream {
            body: None,
            expected: 0,
            received: 0,
        }
    }

    fn into_stream(self) -> impl Stream<Item = Result<Bytes>> + Send + 'static + use<> {
        futures::stream::unfold(self, |mut st| async move {
            let body = st.body.as_mut()?;
            loop {
                let frame = match tokio::time::timeout(BODY_IDLE_TIMEOUT, body.frame()).await {
                    Err(_) => Some(Err(Error::Unavailable("chunk read timed out".to_string()))),
                    Ok(None) if st.received != st.expected => Some(Err(Error::Unavailable(
                        format!("short chunk read: {} of {} bytes", st.received, st.expected),
                    ))),
                    Ok(None) => None,
                    Ok(Some(Err(e))) => {
                        Some(Err(Error::Unavailable(format!("chunk read failed: {e}"))))
                    }
                    Ok(Some(Ok(frame))) => match frame.into_data() {
                        Ok(data) => {
                            st.received += data.len() as u64;
                            if st.received > st.expected {
                                Some(Err(Error::Unavailable("chunk read too long".to_string())))
                            } else if data.is_empty() {
                                continue;
                            } else {
                                Some(Ok(data))
                            }
                        }
                        Err(_) => continue, // trailers: ignored
                    },
                };
                return match frame {
                    None => None,
                    Some(Ok(data)) => Some((Ok(data), st)),
                    Some(Err(e)) => {
                        st.body = None;
                        Some((Err(e), st))
                    }
                };
            }
        })
    }
}
