//! Readiness probes of `spread dev`: wait (bounded) until meta answers, every chunk server is
//! registered with a live score, and the S3 and Swift endpoints answer HTTP.

use crate::dev::children::Children;
use crate::error::{Error, Result};
use meta_api::client::MetaClient;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Pause between two probes.
const POLL: Duration = Duration::from_millis(100);

/// Waits until meta's health check succeeds.
pub async fn meta_ready(
    client: &MetaClient,
    children: &mut Children,
    within: Duration,
) -> Result<()> {
    let deadline = Instant::now() + within;
    loop {
        children.ensure_running()?;
        let last = match client.health().await {
            Ok(()) => return Ok(()),
            Err(e) => e.to_string(),
        };
        if Instant::now() >= deadline {
            return Err(Error::Startup(format!(
                "meta at {} did not become ready within {}s: {last}",
                client.addr(),
                within.as_secs()
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Waits until meta lists a chunk server at every address of `addrs` with a score > 0 and a
/// heartbeat newer than `since_ms`.
pub async fn chunkds_ready(
    client: &MetaClient,
    addrs: &[SocketAddr],
    since_ms: i64,
    children: &mut Children,
    within: Duration,
) -> Result<()> {
    let deadline = Instant::now() + within;
    loop {
        children.ensure_running()?;
        let missing: Vec<String> = match client.list_services(Some("chunkd")).await {
            Ok(services) => addrs
                .iter()
                .map(|a| a.to_string())
                .filter(|a| {
                    !services
                        .iter()
                        .any(|s| &s.addr == a && s.score > 0 && s.last_seen_ms >= since_ms)
                })
                .collect(),
            Err(e) => vec![format!("(meta: {e})")],
        };
        if missing.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(Error::Startup(format!(
                "chunk servers not registered with meta within {}s: {}",
                within.as_secs(),
                missing.join(", ")
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Waits until an HTTP GET to `addr` gets any HTTP answer; `what` names the endpoint in errors
/// (e.g. "S3 endpoint"). A TLS listener counts too: it answers a plain request 400.
pub async fn http_ready(
    what: &str,
    addr: SocketAddr,
    children: &mut Children,
    within: Duration,
) -> Result<()> {
    let deadline = Instant::now() + within;
    loop {
        children.ensure_running()?;
        let last = match http_answers(addr).await {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        if Instant::now() >= deadline {
            return Err(Error::Startup(format!(
                "{what} {addr} did not answer within {}s: {last}",
                within.as_secs()
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// One probe: connect, send `GET /`, expect the answer to start with `HTTP/1.`.
async fn http_answers(addr: SocketAddr) -> Result<(), String> {
    let probe = async {
        let mut s = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        let req = format!("GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut buf = [0u8; 16];
        let mut got = 0;
        while got < 7 {
            let n = s.read(&mut buf[got..]).await.map_err(|e| e.to_string())?;
            if n == 0 {
                break;
            }
            got += n;
        }
        if buf[..got].starts_with(b"HTTP/1.") {
            Ok(())
        } else {
            Err("not an HTTP answer".to_string())
        }
    };
    tokio::time::timeout(Duration::from_secs(2), probe)
        .await
        .map_err(|_| "timed out".to_string())?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn http_probe_accepts_any_status_and_rejects_silence() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut buf = [0u8; 256];
            let _ = s.read(&mut buf).await.unwrap();
            s.write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                .await
                .unwrap();
        });
        assert_eq!(http_answers(addr).await, Ok(()));
        server.await.unwrap();
        // Nobody listens any more.
        assert!(http_answers(addr).await.is_err());
    }
}
