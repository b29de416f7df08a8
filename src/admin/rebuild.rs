//! `spread admin cluster rebuild-status` and `spread admin chunkd chunks`: rebuild progress
//! and a chunk server's reverse index, as meta keeps them.

use super::table::{self, Table};
use crate::error::Result;
use meta_api::client::MetaClient;
use meta_api::wire::{RebuildStatus, RepairItem};

/// Bytes in binary units with one decimal ("1.5 GiB").
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// A text progress bar of `done` out of `total`, 30 cells wide.
pub fn bar(done: u64, total: u64) -> String {
    const WIDTH: u64 = 30;
    let filled = (done.min(total) * WIDTH)
        .checked_div(total)
        .unwrap_or(WIDTH);
    format!(
        "[{}{}]",
        "#".repeat(filled as usize),
        ".".repeat((WIDTH - filled) as usize)
    )
}

/// How many copies a server just declared lost holds, for the message that says so: while
/// meta counts them as it queues them, the figure is not known yet.
pub fn declared(l: &meta_api::wire::LostService) -> String {
    if l.counting {
        "its chunk copies are counted as they are queued".to_string()
    } else {
        format!(
            "{} chunk copies ({})",
            table::count(l.total_chunks),
            size(l.total_bytes)
        )
    }
}

/// The status as text: one progress block per lost server, then the queue and its failures.
pub fn render(s: &RebuildStatus, now_ms: i64) -> String {
    let mut out = String::new();
    if s.lost.is_empty() {
        out.push_str("no chunk server is being rebuilt\n");
    }
    for l in &s.lost {
        let finished = !l.counting && l.done_chunks >= l.total_chunks;
        let until = if finished && l.last_done_ms > 0 {
            l.last_done_ms
        } else {
            now_ms
        };
        let secs = ((until - l.since_ms).max(1)) as f64 / 1000.0;
        let rate = l.done_bytes as f64 / secs;
        // While the totals are being counted (they grow as the copies are queued, page by
        // page), they are lower bounds: no percentage, and no ETA from them.
        let (bar, pct, chunks, bytes, eta) = if l.counting {
            (
                format!("[{:.<30}]", "counting"),
                "    ?%".to_string(),
                format!(
                    "{}/≥ {} chunks (counting)",
                    table::count(l.done_chunks),
                    table::count(l.total_chunks)
                ),
                format!("{}/≥ {}", size(l.done_bytes), size(l.total_bytes)),
                "ETA once counted".to_string(),
            )
        } else {
            let pct = if l.total_chunks == 0 {
                100.0
            } else {
                100.0 * l.done_chunks.min(l.total_chunks) as f64 / l.total_chunks as f64
            };
            let left_bytes = l.total_bytes.saturating_sub(l.done_bytes);
            let eta = if finished {
                "done".to_string()
            } else if rate > 0.0 {
                format!(
                    "ETA {}",
                    table::duration((left_bytes as f64 / rate * 1000.0) as i64)
                )
            } else {
                "ETA unknown".to_string()
            };
            (
                bar(l.done_chunks, l.total_chunks),
                format!("{pct:5.1}%"),
                format!(
                    "{}/{} chunks",
                    table::count(l.done_chunks),
                    table::count(l.total_chunks)
                ),
                format!("{}/{}", size(l.done_bytes), size(l.total_bytes)),
                eta,
            )
        };
        out.push_str(&format!(
            "{} (lost: {}, {})\n  {bar} {pct}  {chunks}  {bytes}  {}/s  {eta}{}\n",
            l.service,
            l.reason,
            table::ago(now_ms - l.since_ms),
            size(rate as u64),
            if l.queued_all {
                ""
            } else {
                "  (still queueing)"
            },
        ));
    }
    out.push_str(&format!(
        "repair queue: {} copies ({}), {} in progress, {} unrepairable\n",
        s.queued,
        size(s.queued_bytes),
        s.leased,
        s.unrepairable_count
    ));
    let list = |title: &str, items: &[RepairItem], out: &mut String| {
        if items.is_empty() {
            return;
        }
        out.push_str(title);
        let mut t = Table::new(["SERVICE", "CHUNK", "BUCKET", "KEY", "TRIES", "ERROR"]);
        for i in items {
            t.row([
                i.service.clone(),
                i.chunk_id.chars().take(16).collect(),
                i.container.clone(),
                i.key.escape_debug().to_string(),
                i.attempts.to_string(),
                i.last_error.clone().unwrap_or_default(),
            ]);
        }
        out.push_str(&t.to_string());
    };
    list("failing (retried with backoff):\n", &s.failing, &mut out);
    list(
        "unrepairable (no good copy left):\n",
        &s.unrepairable,
        &mut out,
    );
    out
}

/// `spread admin chunkd chunks`: the copies a server holds, from meta's reverse index.
pub async fn chunks(client: &MetaClient, service: &str, count: bool, limit: u32) -> Result<String> {
    if count {
        let a = client.rdir_list(service, None, 0).await?;
        return Ok(format!(
            "{service}: {} chunk copies, {}\n",
            a.count,
            size(a.bytes)
        ));
    }
    let mut t = Table::new(["CHUNK", "BUCKET", "KEY", "POS", "SIZE", "POLICY", "PIECES"]);
    let mut after: Option<String> = None;
    let mut shown = 0u32;
    let mut total = 0;
    while shown < limit {
        let page = client
            .rdir_list(service, after.as_deref(), (limit - shown).min(1000))
            .await?;
        if after.is_none() {
            total = page.count;
        }
        for e in &page.entries {
            t.row([
                e.chunk_id.clone(),
                e.container.clone(),
                e.key.escape_debug().to_string(),
                e.pos.to_string(),
                e.size.to_string(),
                e.policy.clone(),
                e.copies.len().to_string(),
            ]);
        }
        shown += page.entries.len() as u32;
        match page.next {
            Some(n) if !page.entries.is_empty() => after = Some(n),
            _ => break,
        }
    }
    Ok(format!(
        "{t}{service}: {total} chunk copies ({shown} shown)\n"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use meta_api::wire::LostService;

    #[test]
    fn progress_rate_and_eta() {
        assert_eq!(bar(0, 10), format!("[{}]", ".".repeat(30)));
        assert_eq!(
            bar(5, 10),
            format!("[{}{}]", "#".repeat(15), ".".repeat(15))
        );
        assert_eq!(bar(0, 0), format!("[{}]", "#".repeat(30)));
        let s = RebuildStatus {
            lost: vec![LostService {
                service: "svc-1".into(),
                reason: "dead".into(),
                since_ms: 0,
                total_chunks: 100,
                total_bytes: 100 << 20,
                done_chunks: 50,
                done_bytes: 50 << 20,
                last_done_ms: 9_000,
                queued_all: true,
                counting: false,
            }],
            queued: 50,
            queued_bytes: 50 << 20,
            ..Default::default()
        };
        let text = render(&s, 10_000);
        assert!(text.contains(" 50.0%"), "{text}");
        assert!(text.contains("50/100 chunks"), "{text}");
        assert!(text.contains("ETA 10.0s"), "{text}");
        assert!(
            text.contains("repair queue: 50 copies (50.0 MiB)"),
            "{text}"
        );
        assert!(text.contains("5.0 MiB/s"), "{text}");
    }

    #[test]
    fn a_total_still_counted_is_shown_as_a_lower_bound_without_eta() {
        let mut l = LostService {
            service: "svc-1".into(),
            reason: "operator".into(),
            since_ms: 0,
            total_chunks: 12_000,
            total_bytes: 12_000 << 20,
            done_chunks: 3_000,
            done_bytes: 3_000 << 20,
            last_done_ms: 9_000,
            queued_all: false,
            counting: true,
        };
        let status = |l: &LostService| RebuildStatus {
            lost: vec![l.clone()],
            ..Default::default()
        };
        let text = render(&status(&l), 10_000);
        assert!(text.contains("3,000/≥ 12,000 chunks (counting)"), "{text}");
        assert!(text.contains("2.9 GiB/≥ 11.7 GiB"), "{text}");
        assert!(text.contains("ETA once counted"), "{text}");
        assert!(!text.contains("ETA 3"), "{text}");
        assert!(text.contains("    ?%"), "{text}");
        // Counted: the same figures are final, with a percentage and an ETA.
        l.counting = false;
        l.queued_all = true;
        let text = render(&status(&l), 10_000);
        assert!(text.contains("3,000/12,000 chunks"), "{text}");
        assert!(text.contains(" 25.0%"), "{text}");
        assert!(text.contains("ETA 30.0s"), "{text}");
        assert!(!text.contains("counting"), "{text}");
    }

    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(table::count(0), "0");
        assert_eq!(table::count(999), "999");
        assert_eq!(table::count(1_000), "1,000");
        assert_eq!(table::count(12_000), "12,000");
        assert_eq!(table::count(1_234_567), "1,234,567");
    }
}
