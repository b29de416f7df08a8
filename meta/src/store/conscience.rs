//! The conscience: services register and refresh themselves with heartbeats (one small write
//! transaction each), scores are computed from their stats at read time, and each heartbeat
//! answer hands the service the GC entries queued for it, confirmed by its next heartbeat.

use super::gc::{gc_key, gc_prefix};
use super::lmdb::{from_json, to_json};
use super::{Store, check_name};
use crate::error::Result;
use crate::ids;
use crate::wire::{Heartbeat, HeartbeatReply, RECORD_VERSION, ServiceRecord};

/// Most GC entries handed out per heartbeat.
pub const GC_BATCH: usize = 1000;

/// Score of a service at `now_ms`: 0 when silent for more than `dead_after_ms`, else the
/// locked value if any, else the free-space percentage clamped to 1..=100.
pub fn score(rec: &ServiceRecord, now_ms: i64, dead_after_ms: i64) -> u8 {
    if now_ms.saturating_sub(rec.last_seen_ms) > dead_after_ms {
        return 0;
    }
    if let Some(n) = rec.locked {
        return n.min(100);
    }
    let total = rec.stats.total_bytes;
    if total == 0 {
        return 1;
    }
    let free = rec.stats.free_bytes.min(total);
    let pct = (free as f64 * 100.0 / total as f64).round();
    pct.clamp(1.0, 100.0) as u8
}

impl Store {
    /// Upserts the service, drops the GC entries it confirms, and answers with the next ones.
    pub fn heartbeat(&self, hb: &Heartbeat) -> Result<HeartbeatReply> {
        check_name("service id", &hb.id, 255)?;
        let now = ids::now_ms();
        let mut txn = self.dir.env.write_txn()?;
        let old: Option<ServiceRecord> = match self.dir.services.get(&txn, hb.id.as_bytes())? {
            Some(v) => Some(from_json(v)?),
            None => None,
        };
        let mut rec = ServiceRecord {
            v: RECORD_VERSION,
            id: hb.id.clone(),
            kind: hb.kind.clone(),
            addr: hb.addr.clone(),
            location: hb.location.clone(),
            slots: hb.slots.clone(),
            stats: hb.stats.clone(),
            first_seen_ms: old.as_ref().map_or(now, |o| o.first_seen_ms),
            last_seen_ms: now,
            score: 0,
            locked: old.as_ref().and_then(|o| o.locked),
        };
        rec.score = score(&rec, now, self.dead_after_ms);
        self.dir
            .services
            .put(&mut txn, hb.id.as_bytes(), &to_json(&rec)?)?;
        for chunk in &hb.deleted {
            self.dir.gc.delete(&mut txn, &gc_key(&hb.id, chunk))?;
        }
        let prefix = gc_prefix(&hb.id);
        let mut delete = Vec::new();
        for item in self.dir.gc.prefix_iter(&txn, &prefix)?.take(GC_BATCH) {
            let (k, _) = item?;
            delete.push(String::from_utf8_lossy(&k[prefix.len()..]).into_owned());
        }
        txn.commit()?;
        if old.is_none() {
            tracing::info!(id = %hb.id, kind = %hb.kind, addr = %hb.addr, location = %hb.location, "service registered");
        }
        Ok(HeartbeatReply { delete })
    }

    /// Services (of `kind` if given) with scores computed now.
    pub fn list_services(&self, kind: Option<&str>) -> Result<Vec<ServiceRecord>> {
        let now = ids::now_ms();
        let txn = self.dir.env.read_txn()?;
        let mut out = Vec::new();
        for item in self.dir.services.iter(&txn)? {
            let (_, v) = item?;
            let mut rec: ServiceRecord = from_json(v)?;
            if kind.is_some_and(|k| k != rec.kind) {
                continue;
            }
            rec.score = score(&rec, now, self.dead_after_ms);
            out.push(rec);
        }
        Ok(out)
    }
}
