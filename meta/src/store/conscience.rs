//! The conscience: services register and refresh themselves with heartbeats (one small write
//! transaction each). Each heartbeat computes the service's score from its stats with the
//! configured expression, bounded by the allowed rise over the previous score; a service silent
//! for `dead_after_secs` scores 0 and one locked by an admin scores its locked value. Each
//! heartbeat answer hands the service the GC entries due for it, confirmed by its next
//! heartbeat.

use super::batch::Tx;
use super::command::Scoring;
use super::command::{Command, outcome};
use super::records::{decode, encode};
use super::{Store, check_name};
use crate::ids;
use crate::score_expr::Inputs;
use meta_api::error::{Error, Result};
use meta_api::wire::{Heartbeat, HeartbeatReply, ServiceRecord};

/// Most GC entries handed out per heartbeat.
pub const GC_BATCH: usize = 1000;

/// Live score of a stored service at `now_ms`: 0 when silent for more than `dead_after_ms`,
/// else the locked value if any, else the score stored at its last heartbeat.
pub fn score(rec: &ServiceRecord, now_ms: i64, dead_after_ms: i64) -> u8 {
    if now_ms.saturating_sub(rec.last_seen_ms) > dead_after_ms {
        return 0;
    }
    match rec.locked {
        Some(n) => n.min(100),
        None => rec.score.min(100),
    }
}

/// The next score of a service: `computed`, but at most `max_rise` above `previous` (falling
/// is immediate), and never 0 while `computed` is above 0.
pub fn bounded_score(previous: u8, computed: u8, max_rise: u8) -> u8 {
    if computed == 0 {
        return 0;
    }
    computed.min(previous.saturating_add(max_rise)).max(1)
}

impl Store {
    /// Upserts the service, drops the GC entries it confirms, and answers with the next ones.
    pub fn heartbeat(&self, hb: &Heartbeat) -> Result<HeartbeatReply> {
        let command = Command::Heartbeat {
            heartbeat: hb.clone(),
            now_ms: ids::now_ms(),
            computed_score: self.score_expr.score(&Inputs::from_stats(&hb.stats)),
            lock_if_new: self.lock_new_services,
            dead_after_ms: self.dead_after_ms,
            max_rise: self.score_max_rise,
            merge_short: !hb.bad_chunks.is_empty(),
        };
        outcome!(self.apply(command)?, Heartbeat)
    }

    pub(super) fn apply_heartbeat(
        &self,
        tx: &mut Tx<'_, '_, '_>,
        hb: &Heartbeat,
        now: i64,
        scoring: &Scoring,
        merge_short: bool,
    ) -> Result<HeartbeatReply> {
        let Scoring {
            computed,
            lock_if_new,
            dead_after_ms,
            max_rise,
        } = *scoring;
        check_name("service id", &hb.id, 255)?;
        let txn = &mut *tx.dir;
        let old: Option<ServiceRecord> = match self.dir.services.get(txn, hb.id.as_bytes())? {
            Some(v) => Some(decode(v)?),
            None => None,
        };
        let locked = match &old {
            Some(o) => o.locked,
            None if lock_if_new => Some(0),
            None => None,
        };
        // What the service scored until now: 0 when new or back from silence.
        let previous = old.as_ref().map_or(0, |o| score(o, now, dead_after_ms));
        // Back from a rebuild started for its silence, that rebuild stops; one an operator
        // started keeps it out of placement (score 0).
        let retired = self.service_back(txn, &hb.id)?;
        let locked = if retired { Some(0) } else { locked };
        let rec = ServiceRecord {
            id: hb.id.clone(),
            kind: hb.kind.clone(),
            addr: hb.addr.clone(),
            location: hb.location.clone(),
            slots: hb.slots.clone(),
            stats: hb.stats.clone(),
            first_seen_ms: old.as_ref().map_or(now, |o| o.first_seen_ms),
            last_seen_ms: now,
            // While locked, the stored score follows the lock, so an unlocked service rises
            // from there.
            score: match locked {
                Some(n) => n.min(100),
                None => bounded_score(previous, computed, max_rise),
            },
            locked,
        };
        self.dir
            .services
            .put(txn, hb.id.as_bytes(), &encode(&rec)?)?;
        self.confirm_gc(txn, &hb.id, &hb.deleted)?;
        self.queue_bad_chunks(txn, &hb.id, &hb.bad_chunks, now, merge_short)?;
        let delete = self.due_gc(txn, &hb.id, GC_BATCH, now)?;
        if old.is_none() {
            tracing::info!(id = %hb.id, kind = %hb.kind, addr = %hb.addr, location = %hb.location,
                locked = ?rec.locked, "service registered");
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
            let mut rec: ServiceRecord = decode(v)?;
            if kind.is_some_and(|k| k != rec.kind) {
                continue;
            }
            rec.score = score(&rec, now, self.dead_after_ms);
            out.push(rec);
        }
        Ok(out)
    }

    /// Forces the score of service `id` to `score` (0..=100) until unlocked.
    pub fn lock_service(&self, id: &str, score_value: u8) -> Result<ServiceRecord> {
        let command = Command::LockService {
            id: id.to_string(),
            score: score_value,
        };
        outcome!(self.apply(command)?, Service).map(|rec| self.live(rec))
    }

    pub(super) fn apply_lock_service(
        &self,
        tx: &mut Tx<'_, '_, '_>,
        id: &str,
        score_value: u8,
    ) -> Result<ServiceRecord> {
        if score_value > 100 {
            return Err(Error::InvalidArgument(format!(
                "score {score_value} is out of range 0..=100"
            )));
        }
        let rec = self.update_service(tx, id, |rec| {
            rec.locked = Some(score_value);
            rec.score = score_value;
        })?;
        tracing::info!(id, score = score_value, "service locked");
        Ok(rec)
    }

    /// Lets the conscience score service `id` again (it rises from its locked score).
    pub fn unlock_service(&self, id: &str) -> Result<ServiceRecord> {
        let command = Command::UnlockService { id: id.to_string() };
        outcome!(self.apply(command)?, Service).map(|rec| self.live(rec))
    }

    pub(super) fn apply_unlock_service(
        &self,
        tx: &mut Tx<'_, '_, '_>,
        id: &str,
    ) -> Result<ServiceRecord> {
        let rec = self.update_service(tx, id, |rec| rec.locked = None)?;
        tracing::info!(id, "service unlocked");
        Ok(rec)
    }

    /// Unlocks every locked service; returns how many were locked.
    pub fn unlock_all(&self) -> Result<u32> {
        let count = outcome!(self.apply(Command::UnlockAll)?, Count)?;
        Ok(u32::try_from(count).unwrap_or(u32::MAX))
    }

    pub(super) fn apply_unlock_all(&self, tx: &mut Tx<'_, '_, '_>) -> Result<u64> {
        let txn = &mut *tx.dir;
        let mut unlocked = Vec::new();
        for item in self.dir.services.iter(txn)? {
            let (k, v) = item?;
            let mut rec: ServiceRecord = decode(v)?;
            if rec.locked.take().is_some() {
                unlocked.push((k.to_vec(), encode(&rec)?));
            }
        }
        for (k, v) in &unlocked {
            self.dir.services.put(txn, k, v)?;
        }
        let n = unlocked.len() as u64;
        tracing::info!(count = n, "all services unlocked");
        Ok(n)
    }

    /// `rec` with its score computed now.
    fn live(&self, mut rec: ServiceRecord) -> ServiceRecord {
        rec.score = score(&rec, ids::now_ms(), self.dead_after_ms);
        rec
    }

    /// Applies `change` to the stored record of `id` (`NoSuchService`) and returns it.
    fn update_service(
        &self,
        tx: &mut Tx<'_, '_, '_>,
        id: &str,
        change: impl FnOnce(&mut ServiceRecord),
    ) -> Result<ServiceRecord> {
        let txn = &mut *tx.dir;
        let mut rec: ServiceRecord = match self.dir.services.get(txn, id.as_bytes())? {
            Some(v) => decode(v)?,
            None => return Err(Error::NoSuchService(id.to_string())),
        };
        change(&mut rec);
        self.dir.services.put(txn, id.as_bytes(), &encode(&rec)?)?;
        Ok(rec)
    }
}
