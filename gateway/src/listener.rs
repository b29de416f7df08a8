//! The accept loop both front ends (S3 and Swift) run: one task per connection (HTTP/1 or
//! HTTP/2 through hyper-util), each request given a request id and run in a tracing span named
//! after the protocol.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use http_body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tracing::Instrument as _;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The client's address, in every request's extensions.
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub std::net::SocketAddr);

/// Serves `listener` forever. `handle` gets each request (with its [`Peer`]) and its id
/// (`id_prefix` + a random per-process part + a counter) and runs inside a `protocol` span.
pub async fn serve<H, Fut, B, E>(
    listener: TcpListener,
    protocol: &'static str,
    id_prefix: &'static str,
    handle: H,
) -> std::io::Result<()>
where
    H: Fn(http::Request<Incoming>, String) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<http::Response<B>, E>> + Send + 'static,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
    E: Into<BoxError>,
{
    let next_id = Arc::new(AtomicU64::new(1));
    let process = crate::objects::random_hex(4);
    tracing::info!(addr = %listener.local_addr()?, protocol, "listening");
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, protocol, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let (handle, next_id, process) = (handle.clone(), next_id.clone(), process.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |mut req: http::Request<Incoming>| {
                req.extensions_mut().insert(Peer(peer));
                let n = next_id.fetch_add(1, Ordering::Relaxed);
                let id = format!("{id_prefix}{process}{n:012x}");
                let span = tracing::info_span!(
                    "request",
                    protocol,
                    id = %id,
                    method = %req.method(),
                    path = %req.uri().path()
                );
                handle(req, id).instrument(span)
            });
            let conn = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
            if let Err(e) = conn {
                tracing::debug!(peer = %peer, error = %e, protocol, "connection ended with an error");
            }
        });
    }
}
