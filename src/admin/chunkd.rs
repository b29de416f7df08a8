//! `spread admin chunkd ...`: commands sent to one chunk server (its scrubber), named by
//! address or by service id.

use crate::admin::table;
use crate::error::{Error, Result};
use chunkd::ChunkClient;
use chunkd::scrub::{PassRecord, ScrubStatus};
use meta_api::client::MetaClient;

/// The address of chunk server `given`: an address (`host:port`) as it is, else the address
/// meta knows for that service id.
pub async fn address(meta: &MetaClient, given: &str) -> Result<String> {
    if given.contains(':') {
        return Ok(given.to_string());
    }
    let services = meta.list_services(Some("chunkd")).await?;
    services
        .into_iter()
        .find(|s| s.id == given)
        .map(|s| s.addr)
        .ok_or_else(|| Error::Usage(format!("no chunk server {given} (give an id or host:port)")))
}

/// `scrub-status`: the status as a few lines of text, or JSON.
pub async fn scrub_status(chunks: &ChunkClient, addr: &str, json: bool) -> Result<String> {
    let status = chunks.scrub_status(addr).await?;
    if json {
        return to_json(&status);
    }
    Ok(render(&status, meta::ids::now_ms()))
}

/// `scrub`: asks for a pass now.
pub async fn scrub_start(chunks: &ChunkClient, addr: &str, json: bool) -> Result<String> {
    let status = chunks.scrub_start(addr).await?;
    if json {
        return to_json(&status);
    }
    Ok(format!(
        "scrub pass {} asked for on {addr} (done when `scrub-status` shows it as the last pass)\n",
        status.requested
    ))
}

fn to_json(status: &ScrubStatus) -> Result<String> {
    serde_json::to_string_pretty(status)
        .map(|t| t + "\n")
        .map_err(|e| Error::Usage(format!("cannot encode JSON: {e}")))
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / 1048576.0)
}

fn pass_line(p: &PassRecord) -> String {
    let c = &p.counters;
    format!(
        "{} chunks ({}), {} bad, {} skipped (young), {} errors",
        c.chunks,
        mib(c.bytes),
        c.bad,
        c.skipped,
        c.errors
    )
}

/// The status as text; `now` in ms since the Unix epoch.
pub fn render(s: &ScrubStatus, now: i64) -> String {
    let mut out = String::new();
    if !s.enabled {
        out.push_str("scrubber: off (scrub_mib_per_sec = 0)\n");
    } else {
        let every = if s.interval_days == 0 {
            "passes only when asked".to_string()
        } else {
            format!("a pass every {} days", s.interval_days)
        };
        out.push_str(&format!(
            "scrubber: {} MiB/s, {every}, chunks younger than {} s skipped\n",
            s.mib_per_sec, s.grace_secs
        ));
    }
    match &s.current {
        Some(p) => out.push_str(&format!(
            "pass {} {}: started {}, {:.1}% done, {}\n",
            p.number,
            if s.running {
                "running"
            } else {
                "interrupted, resumes"
            },
            table::ago(now - p.started_ms),
            s.progress.unwrap_or(0.0) * 100.0,
            pass_line(p)
        )),
        None => out.push_str("no pass running\n"),
    }
    match &s.last {
        Some(p) => {
            let took = p.ended_ms.map_or_else(
                || "-".to_string(),
                |end| table::duration(end - p.started_ms),
            );
            out.push_str(&format!(
                "last pass {}: started {}, took {took}, {}\n",
                p.number,
                table::ago(now - p.started_ms),
                pass_line(p)
            ));
        }
        None => out.push_str("last pass: none yet\n"),
    }
    if let Some(next) = s.next_pass_ms {
        out.push_str(&format!("next pass: {}\n", table::after(next - now)));
    }
    let t = &s.totals;
    out.push_str(&format!(
        "since the server started: {} chunks ({}) checked, {} bad found by the scrubber, {} by reads\n",
        t.chunks,
        mib(t.bytes),
        t.bad,
        s.bad_found_by_reads
    ));
    out.push_str(&format!("quarantined chunk files: {}\n", s.quarantined));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chunkd::scrub::PassCounters;

    #[test]
    fn status_renders() {
        let pass = |number, started_ms, ended_ms| PassRecord {
            number,
            started_ms,
            ended_ms,
            cursor: None,
            counters: PassCounters {
                chunks: 10,
                bytes: 3 * 1048576,
                bad: 1,
                skipped: 2,
                errors: 0,
            },
        };
        let s = ScrubStatus {
            enabled: true,
            mib_per_sec: 50,
            interval_days: 14,
            grace_secs: 60,
            running: true,
            current: Some(pass(3, 1_000, None)),
            progress: Some(0.25),
            last: Some(pass(2, 0, Some(90_000))),
            next_pass_ms: None,
            requested: 0,
            totals: PassCounters::default(),
            bad_found_by_reads: 4,
            quarantined: 5,
        };
        let text = render(&s, 61_000);
        for want in [
            "50 MiB/s, a pass every 14 days",
            "pass 3 running: started 1m 0s ago, 25.0% done, 10 chunks (3.0 MiB), 1 bad",
            "last pass 2: started 1m 1s ago, took 1m 30s,",
            "0 bad found by the scrubber, 4 by reads",
            "quarantined chunk files: 5",
        ] {
            assert!(text.contains(want), "{want:?} in\n{text}");
        }
    }
}
