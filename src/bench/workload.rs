//! The workloads: phases run by `concurrency` workers until a time or operation budget is
//! spent. A phase is measured (the run itself) or not (preparing a set of objects, cleaning
//! up); both show a progress line.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::body::ReqBody;
use super::client::S3Client;
use super::progress;
use super::stats::{Live, OpKind, Recorder};

/// Prefix of every key the bench writes.
pub const PREFIX: &str = "bench/";

/// What a phase does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// PUT new keys.
    Put,
    /// GET random keys of the prepared set.
    Get,
    /// 60% GET of the prepared set, 30% PUT of new keys, 10% DELETE of keys this phase put.
    Mixed,
    /// ListObjectsV2 pages under [`PREFIX`], starting over after the last page.
    List,
    /// DELETE keys taken from the queue until it is empty.
    Delete,
}

/// When a phase stops (besides an empty queue for [`Phase::Delete`] and Ctrl-C).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// After this long (requests under way finish).
    Time(Duration),
    /// After this many requests.
    Count(u64),
}

/// What every phase shares: the client, the bucket, the object size and the random block.
pub struct Ctx {
    pub client: S3Client,
    pub bucket: String,
    pub size: u64,
    pub block: Bytes,
    pub concurrency: u32,
    /// Set on Ctrl-C: every phase stops taking new requests.
    pub stop: Arc<AtomicBool>,
    seq: AtomicU64,
}

impl Ctx {
    pub fn new(
        client: S3Client,
        bucket: String,
        size: u64,
        block: Bytes,
        concurrency: u32,
        stop: Arc<AtomicBool>,
    ) -> Ctx {
        Ctx {
            client,
            bucket,
            size,
            block,
            concurrency,
            stop,
            seq: AtomicU64::new(0),
        }
    }

    /// A key no other request of this run uses: `bench/<worker>/<seq>`, and its seq.
    fn new_key(&self, worker: u32) -> (String, u64) {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        (format!("{PREFIX}{worker}/{seq}"), seq)
    }
}

/// What a phase measured and which keys it left in the bucket.
pub struct PhaseResult {
    pub recorder: Recorder,
    /// Wall time from the first request to the end of the last.
    pub elapsed: Duration,
    /// Keys this phase created (or failed to delete) and that may still exist.
    pub created: Vec<String>,
    /// Keys of the queue this phase did not get to (delete).
    pub untouched: Vec<String>,
}

/// The running state of one phase.
struct Shared {
    ctx: Arc<Ctx>,
    phase: Phase,
    live: Arc<Live>,
    deadline: Option<Instant>,
    remaining: Option<AtomicU64>,
    prepared: Arc<Vec<String>>,
    queue: Mutex<Vec<String>>,
}

impl Shared {
    /// Claims one more request, if the budget allows.
    fn take(&self) -> bool {
        if self.ctx.stop.load(Ordering::Relaxed) {
            return false;
        }
        if let Some(deadline) = self.deadline
            && Instant::now() >= deadline
        {
            return false;
        }
        match &self.remaining {
            Some(r) => r
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_ok(),
            None => true,
        }
    }

    fn pop(&self) -> Option<String> {
        self.queue.lock().ok()?.pop()
    }
}

/// Runs one phase with `ctx.concurrency` workers; `prepared` is the set GET picks from,
/// `queue` the keys DELETE takes. `label` names the progress line.
pub async fn run_phase(
    ctx: &Arc<Ctx>,
    phase: Phase,
    limit: Limit,
    prepared: Arc<Vec<String>>,
    queue: Vec<String>,
    label: &str,
) -> Result<PhaseResult, String> {
    let live = Arc::new(Live::default());
    let started = Instant::now();
    let (deadline, remaining) = match limit {
        Limit::Time(d) => (Some(started + d), None),
        Limit::Count(n) => (None, Some(AtomicU64::new(n))),
    };
    let shared = Arc::new(Shared {
        ctx: ctx.clone(),
        phase,
        live: live.clone(),
        deadline,
        remaining,
        prepared,
        queue: Mutex::new(queue),
    });
    let progress = progress::start(label.to_owned(), live);
    let workers: Vec<_> = (0..ctx.concurrency)
        .map(|w| tokio::spawn(worker(shared.clone(), w)))
        .collect();
    let mut recorder = Recorder::default();
    let mut created = Vec::new();
    let mut failed = None;
    for w in workers {
        match w.await {
            Ok((rec, keys)) => {
                recorder.merge(rec);
                created.extend(keys);
            }
            Err(e) => failed = Some(format!("a {label} worker failed: {e}")),
        }
    }
    let elapsed = started.elapsed();
    progress.finish().await;
    if let Some(e) = failed {
        return Err(e);
    }
    let untouched = shared
        .queue
        .lock()
        .map(|mut q| std::mem::take(&mut *q))
        .unwrap_or_default();
    Ok(PhaseResult {
        recorder,
        elapsed,
        created,
        untouched,
    })
}

/// One worker: issues requests until the budget is spent; returns its measurements and the
/// keys it created and left in place.
async fn worker(shared: Arc<Shared>, id: u32) -> (Recorder, Vec<String>) {
    let mut rec = Recorder::default();
    let mut created = Vec::new();
    let mut rng = StdRng::from_entropy();
    let mut token: Option<String> = None;
    while shared.take() {
        match shared.phase {
            Phase::Put => put(&shared, id, &mut rec, &mut created).await,
            Phase::Get => get(&shared, &mut rng, &mut rec).await,
            Phase::Mixed => {
                let dice = rng.gen_range(0..100);
                if dice < 60 {
                    get(&shared, &mut rng, &mut rec).await;
                } else if dice < 90 || created.is_empty() {
                    put(&shared, id, &mut rec, &mut created).await;
                } else {
                    let i = rng.gen_range(0..created.len());
                    let key = created.swap_remove(i);
                    if !delete(&shared, &key, &mut rec).await {
                        created.push(key);
                    }
                }
            }
            Phase::List => list(&shared, &mut token, &mut rec).await,
            Phase::Delete => {
                let Some(key) = shared.pop() else { break };
                if !delete(&shared, &key, &mut rec).await {
                    // Still there: left for the clean-up.
                    created.push(key);
                }
            }
        }
    }
    (rec, created)
}

async fn put(shared: &Shared, worker: u32, rec: &mut Recorder, created: &mut Vec<String>) {
    let ctx = &shared.ctx;
    let (key, seq) = ctx.new_key(worker);
    let body = ReqBody::generated(&ctx.block, ctx.size, seq.wrapping_mul(4099));
    let start = Instant::now();
    match ctx.client.put(&ctx.bucket, &key, body).await {
        Ok(bytes) => {
            rec.success(&shared.live, OpKind::Put, start.elapsed(), bytes, 0);
            created.push(key);
        }
        Err(e) => rec.failure(&shared.live, OpKind::Put, format!("PUT {key}: {e}")),
    }
}

async fn get(shared: &Shared, rng: &mut StdRng, rec: &mut Recorder) {
    let ctx = &shared.ctx;
    if shared.prepared.is_empty() {
        rec.failure(&shared.live, OpKind::Get, "no prepared object".to_owned());
        return;
    }
    let key = &shared.prepared[rng.gen_range(0..shared.prepared.len())];
    let start = Instant::now();
    match ctx.client.get(&ctx.bucket, key).await {
        Ok(bytes) => rec.success(&shared.live, OpKind::Get, start.elapsed(), bytes, 0),
        Err(e) => rec.failure(&shared.live, OpKind::Get, format!("GET {key}: {e}")),
    }
}

/// Deletes `key`; whether it worked.
async fn delete(shared: &Shared, key: &str, rec: &mut Recorder) -> bool {
    let ctx = &shared.ctx;
    let start = Instant::now();
    match ctx.client.delete(&ctx.bucket, key).await {
        Ok(()) => {
            rec.success(&shared.live, OpKind::Delete, start.elapsed(), 0, 0);
            true
        }
        Err(e) => {
            rec.failure(&shared.live, OpKind::Delete, format!("DELETE {key}: {e}"));
            false
        }
    }
}

async fn list(shared: &Shared, token: &mut Option<String>, rec: &mut Recorder) {
    let ctx = &shared.ctx;
    let start = Instant::now();
    match ctx
        .client
        .list_page(&ctx.bucket, PREFIX, token.as_deref())
        .await
    {
        Ok(page) => {
            rec.success(&shared.live, OpKind::List, start.elapsed(), 0, page.keys);
            *token = page.next;
        }
        Err(e) => {
            rec.failure(&shared.live, OpKind::List, format!("LIST: {e}"));
            *token = None;
        }
    }
}
