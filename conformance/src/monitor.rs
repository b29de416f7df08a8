//! Plain HTTP GETs of the processes' monitoring endpoints (`/metrics`, `/health`, `/ready`)
//! and the Prometheus text they serve, parsed.

use std::collections::BTreeMap;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// `GET path` on `addr` over a fresh connection: (status, body).
pub async fn http_get(addr: &str, path: &str) -> (u16, String) {
    http_get_with(addr, path, "").await
}

/// [`http_get`] with extra header lines (each ending in CRLF).
pub async fn http_get_with(addr: &str, path: &str, extra: &str) -> (u16, String) {
    let attempt = async {
        let mut s = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        let head =
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}Connection: close\r\n\r\n");
        s.write_all(head.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).await.map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = text
            .split_once("\r\n\r\n")
            .ok_or_else(|| format!("no head end in {text:?}"))?;
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(|| format!("bad status line in {head:?}"))?;
        assert!(
            !head
                .to_ascii_lowercase()
                .contains("transfer-encoding: chunked"),
            "expected a sized body: {head}"
        );
        Ok::<_, String>((status, body.to_string()))
    };
    tokio::time::timeout(Duration::from_secs(10), attempt)
        .await
        .unwrap_or_else(|_| panic!("GET {path} on {addr}: timed out"))
        .unwrap_or_else(|e| panic!("GET {path} on {addr}: {e}"))
}

/// Parses the Prometheus text format: `name{labels}` → value (comments skipped; every other
/// line must be a sample).
pub fn parse_metrics(text: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("not a sample line: {line:?}"));
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v
                .parse()
                .unwrap_or_else(|_| panic!("bad value in sample line: {line:?}")),
        };
        out.insert(series.to_string(), value);
    }
    out
}

pub async fn scrape(addr: &str) -> BTreeMap<String, f64> {
    let (status, body) = http_get(addr, "/metrics").await;
    assert_eq!(status, 200, "GET /metrics on {addr}: {body}");
    parse_metrics(&body)
}
