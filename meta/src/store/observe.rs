//! Read-only figures for meta's metrics ([`crate::metrics`]): the GC backlog, the rebuild
//! queue, the conscience's services and the LMDB map usage of the store's environments.
//!
//! Each is read in one read transaction (LMDB readers never block the writer) and kept cheap
//! enough for every scrape: counts come from the databases' statistics (O(1)) or from range
//! scans over keys only (no record decoded), except the lost services and the services,
//! which are few and decoded.

use super::Store;
use super::gc::gc_prefix;
use super::lmdb::Env;
use super::rdir::UNREPAIRABLE;
use super::records::decode_record;
use super::records::repair::LostRecord;
use crate::ids;
use meta_api::error::Result;
use std::ops::Bound;

/// How much of an LMDB environment's map is used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MapUsage {
    /// Bytes up to the last page written (the high-water mark of the data file: pages freed
    /// inside it are reused before the file grows, so this is what runs into the map).
    pub used: u64,
    /// The map size: what the environment can hold at most.
    pub map: u64,
}

impl MapUsage {
    /// The usage of `env` now.
    pub fn of(env: &Env) -> MapUsage {
        let info = env.info();
        let page = u64::from(env.stat().page_size);
        let pages = u64::try_from(info.last_page_number)
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        MapUsage {
            used: pages.saturating_mul(page),
            map: u64::try_from(info.map_size).unwrap_or(u64::MAX),
        }
    }

    /// `used / map` (0 for an empty map).
    pub fn ratio(&self) -> f64 {
        if self.map == 0 {
            0.0
        } else {
            self.used as f64 / self.map as f64
        }
    }
}

/// One chunk server (or other service) as the conscience sees it now.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceFigure {
    pub id: String,
    pub kind: String,
    pub location: String,
    /// The score given to placement (0 when silent or locked at 0).
    pub score: u8,
    /// Heard from within `dead_after_secs`.
    pub up: bool,
}

/// A chunk server declared lost, and how far its rebuild is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LostFigure {
    pub service: String,
    pub total_chunks: u64,
    pub done_chunks: u64,
}

/// Everything the metrics read from the store at a scrape.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Figures {
    /// GC entries queued, all services, due or not.
    pub gc_entries: u64,
    /// Per service the conscience knows: GC entries whose grace is over.
    pub gc_due: Vec<(String, u64)>,
    /// Repair queue entries waiting (unrepairable ones excluded).
    pub repair_queued: u64,
    /// Repair queue entries given up (no copy left to rebuild from).
    pub repair_unrepairable: u64,
    pub lost: Vec<LostFigure>,
    pub services: Vec<ServiceFigure>,
}

impl Store {
    /// The GC, rebuild and conscience figures now.
    pub fn figures(&self) -> Result<Figures> {
        let now = ids::now_ms();
        let services = self.list_services(None)?;
        let txn = self.dir.env.read_txn()?;
        let gc_entries = self.dir.gc.len(&txn)?;
        let due_end = u64::try_from(now)
            .unwrap_or(0)
            .saturating_add(1)
            .to_be_bytes();
        let mut gc_due = Vec::with_capacity(services.len());
        for s in &services {
            let start = gc_prefix(&s.id);
            let mut end = start.clone();
            end.extend_from_slice(&due_end);
            let range = (Bound::Included(&start[..]), Bound::Excluded(&end[..]));
            let mut due = 0u64;
            for item in self.dir.gc_due.range(&txn, &range)? {
                item?;
                due += 1;
            }
            gc_due.push((s.id.clone(), due));
        }
        let queue = self.dir.repair.len(&txn)?;
        let mut repair_unrepairable = 0u64;
        for item in self.dir.repair.prefix_iter(&txn, &[UNREPAIRABLE][..])? {
            item?;
            repair_unrepairable += 1;
        }
        let mut lost = Vec::new();
        for item in self.dir.lost.iter(&txn)? {
            let (k, v) = item?;
            let r: LostRecord = decode_record(v)?;
            lost.push(LostFigure {
                service: String::from_utf8_lossy(k).into_owned(),
                total_chunks: r.total_chunks,
                done_chunks: r.done_chunks,
            });
        }
        let services = services
            .into_iter()
            .map(|s| ServiceFigure {
                up: now.saturating_sub(s.last_seen_ms) <= self.dead_after_ms,
                id: s.id,
                kind: s.kind,
                location: s.location,
                score: s.score,
            })
            .collect();
        Ok(Figures {
            gc_entries,
            gc_due,
            repair_queued: queue.saturating_sub(repair_unrepairable),
            repair_unrepairable,
            lost,
            services,
        })
    }

    /// The map usage of the directory environment.
    pub fn directory_usage(&self) -> MapUsage {
        MapUsage::of(&self.dir.env)
    }

    /// The map usage of every meta2 environment open now (at most `open_env_cache`): a
    /// container's environment is open while it is written, so one that grows is among them.
    pub fn open_meta2_usage(&self) -> Vec<MapUsage> {
        self.envs.usage()
    }
}
