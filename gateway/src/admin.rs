//! The gateway's admin listener (`admin_addr`), apart from the S3 listener where `/metrics`
//! would be a bucket name:
//! - `GET /metrics`: the metrics in the Prometheus text format (`crate::observe`);
//! - `GET /health`: 200 while the process runs;
//! - `GET /ready`: 200 when the gateway can serve — meta answers a health call within
//!   [`ready_timeout`] — else 503 with the reason in one line of text;
//! - `/console` and below: the web console (`crate::console`), unless `console = false`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use meta_api::client::MetaClient;
use tokio::net::TcpListener;

use crate::Config;
use crate::console::Console;
use crate::observe::{METRICS_CONTENT_TYPE, Observer};

/// The longest `/ready` waits for meta.
const READY_TIMEOUT_MAX: Duration = Duration::from_secs(2);
/// How long a client of the admin listener has to send its request head.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// How long `/ready` waits for meta: `meta_timeout_ms`, at most 2 s.
pub fn ready_timeout(config: &Config) -> Duration {
    Duration::from_millis(config.meta_timeout_ms).min(READY_TIMEOUT_MAX)
}

/// Serves the admin routes on `listener` forever.
pub async fn serve(
    listener: TcpListener,
    observer: Arc<Observer>,
    meta: MetaClient,
    ready_timeout: Duration,
    console: Option<Arc<Console>>,
) -> std::io::Result<()> {
    tracing::info!(addr = %listener.local_addr()?, "admin listener (metrics, health, ready)");
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "admin accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let (observer, meta, console) = (observer.clone(), meta.clone(), console.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let (observer, meta, console) = (observer.clone(), meta.clone(), console.clone());
                async move {
                    Ok::<_, Infallible>(match console {
                        Some(console) if Console::serves(req.uri().path()) => {
                            console.handle(req).await
                        }
                        _ => route(&req, &observer, &meta, ready_timeout).await,
                    })
                }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
            if let Err(e) = conn.await {
                tracing::debug!(%peer, error = %e, "admin connection ended with an error");
            }
        });
    }
}

async fn route(
    req: &Request<Incoming>,
    observer: &Observer,
    meta: &MetaClient,
    ready_timeout: Duration,
) -> Response<Full<Bytes>> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
    }
    match req.uri().path() {
        "/metrics" => match observer.encode() {
            Ok(body) => {
                let mut resp = Response::new(Full::new(Bytes::from(body)));
                resp.headers_mut().insert(
                    header::CONTENT_TYPE,
                    http::HeaderValue::from_static(METRICS_CONTENT_TYPE),
                );
                resp
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot encode the metrics");
                text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "cannot encode the metrics\n",
                )
            }
        },
        "/health" => text(StatusCode::OK, "ok\n"),
        "/ready" => match tokio::time::timeout(ready_timeout, meta.health()).await {
            Ok(Ok(())) => text(StatusCode::OK, "ready\n"),
            Ok(Err(e)) => {
                let reason = format!("not ready: meta: {e}");
                text(StatusCode::SERVICE_UNAVAILABLE, &one_line(&reason))
            }
            Err(_) => text(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!(
                    "not ready: meta did not answer within {} ms\n",
                    ready_timeout.as_millis()
                ),
            ),
        },
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    }
}

/// `s` on one line (control characters replaced), ending with a newline.
fn one_line(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    out.push('\n');
    out
}

fn text(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::copy_from_slice(body.as_bytes())));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}
