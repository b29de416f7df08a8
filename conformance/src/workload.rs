//! S3 workloads for fault tests, run through the gateway while a test breaks things:
//!
//! - [`PutLoad`]: writers PUT new objects (unique keys and bodies) until stopped, keeping
//!   every acknowledged one and when it was acknowledged, so a test can check that each is
//!   readable afterwards and measure how long writes stopped.
//! - [`RegisterClients`]: a few clients doing PUT / GET / DELETE on a few keys (each write a
//!   unique value), every operation recorded with its invoke and complete times in a
//!   [`Recorder`] for the linearizability check of [`crate::history`].

use crate::history::{Op, Recorder};
use crate::s3::{Request, S3};
use bytes::Bytes;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The longest a workload operation may take before it counts as failed (outcome unknown).
pub const OP_TIMEOUT: Duration = Duration::from_secs(10);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Sends `req`, giving up after [`OP_TIMEOUT`]: the status, or `None` (failed, timed out).
async fn send(s3: &S3, req: Request) -> Option<(u16, Bytes)> {
    match tokio::time::timeout(OP_TIMEOUT, s3.try_send(req)).await {
        Ok(Ok(r)) => Some((r.status.as_u16(), r.body)),
        _ => None,
    }
}

/// The body of PUT-load object `key`.
pub fn load_body(key: &str) -> Bytes {
    Bytes::from(format!("{key} of a fault test's PUT load\n").repeat(3))
}

#[derive(Default)]
struct Acks {
    /// Acknowledged objects (key → body) and when each was acknowledged.
    acked: BTreeMap<String, (Bytes, Instant)>,
    failures: usize,
}

/// Writers PUT objects `w{writer}-{n}` into a bucket until [`PutLoad::stop`].
pub struct PutLoad {
    acks: Arc<Mutex<Acks>>,
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// What a [`PutLoad`] saw.
pub struct PutOutcome {
    pub acked: BTreeMap<String, Bytes>,
    /// When each acknowledgement arrived, sorted.
    pub acked_at: Vec<Instant>,
    /// PUTs that failed or timed out (their objects may or may not exist).
    pub failures: usize,
}

impl PutLoad {
    pub fn start(s3: &S3, bucket: &str, writers: usize) -> PutLoad {
        let acks = Arc::new(Mutex::new(Acks::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let tasks = (0..writers)
            .map(|w| {
                let (s3, acks, stop, bucket) =
                    (s3.clone(), acks.clone(), stop.clone(), bucket.to_string());
                tokio::spawn(async move {
                    let mut n = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        let key = format!("w{w:02}-{n:07}");
                        n += 1;
                        let body = load_body(&key);
                        let req = Request::new(http::Method::PUT, Some(&bucket), Some(&key))
                            .body(body.clone());
                        let ok = matches!(send(&s3, req).await, Some((200, _)));
                        {
                            let mut a = lock(&acks);
                            if ok {
                                a.acked.insert(key, (body, Instant::now()));
                            } else {
                                a.failures += 1;
                            }
                        }
                        if !ok {
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                })
            })
            .collect();
        PutLoad { acks, stop, tasks }
    }

    /// Objects acknowledged so far.
    pub fn acked(&self) -> usize {
        lock(&self.acks).acked.len()
    }

    /// Objects acknowledged after `t`.
    pub fn acked_after(&self, t: Instant) -> usize {
        lock(&self.acks)
            .acked
            .values()
            .filter(|(_, at)| *at > t)
            .count()
    }

    /// Waits (at most `limit`) until `n` more objects than now are acknowledged; how long
    /// that took, or `None` if it did not happen.
    pub async fn wait_for_more(&self, n: usize, limit: Duration) -> Option<Duration> {
        let started = Instant::now();
        let target = self.acked() + n;
        while self.acked() < target {
            if started.elapsed() > limit {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Some(started.elapsed())
    }

    /// Stops the writers (each finishes the PUT it is sending) and returns what they saw.
    pub async fn stop(self) -> PutOutcome {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            let _ = t.await;
        }
        let a = std::mem::take(&mut *lock(&self.acks));
        let mut acked_at: Vec<Instant> = a.acked.values().map(|(_, t)| *t).collect();
        acked_at.sort();
        PutOutcome {
            acked: a.acked.into_iter().map(|(k, (b, _))| (k, b)).collect(),
            acked_at,
            failures: a.failures,
        }
    }
}

impl PutOutcome {
    /// The longest time without an acknowledgement between `from` and `to` (PUTs in flight
    /// when a fault began may still be acknowledged at once).
    pub fn longest_gap(&self, from: Instant, to: Instant) -> Duration {
        let mut gap = Duration::ZERO;
        let mut prev = from;
        for t in self.acked_at.iter().filter(|t| **t > from && **t <= to) {
            gap = gap.max(*t - prev);
            prev = *t;
        }
        gap.max(to.saturating_duration_since(prev))
    }

    /// Every acknowledged object, read back: the keys that are missing or differ (with what
    /// was answered).
    pub async fn unreadable(&self, s3: &S3, bucket: &str) -> Vec<String> {
        let mut wrong = Vec::new();
        for (key, want) in &self.acked {
            let r = s3.get_object(bucket, key).await;
            if r.status != 200 || r.body != *want {
                wrong.push(format!("{key}: {} ({} bytes)", r.status, r.body.len()));
            }
        }
        wrong
    }
}

/// Settings of [`RegisterClients`].
#[derive(Debug, Clone)]
pub struct RegisterSettings {
    pub clients: usize,
    pub keys: usize,
    /// Operations per key at most (the checker's search grows fast with more).
    pub ops_per_key: usize,
    /// Pause between two operations of a client.
    pub pause: Duration,
    pub seed: u64,
}

/// Clients doing PUT / GET / DELETE on keys `reg-{i}` of a bucket, recorded in a [`Recorder`].
pub struct RegisterClients {
    pub recorder: Arc<Recorder>,
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// The value a register PUT writes (values are unique: client, then sequence number).
fn value_body(v: u64) -> Bytes {
    Bytes::from(format!("register value {v}"))
}

/// The value a GET read; a body that is no value written by these clients reads as
/// `u64::MAX`, which no PUT wrote (the checker rejects it).
fn value_of(body: &[u8]) -> u64 {
    std::str::from_utf8(body)
        .ok()
        .and_then(|s| s.strip_prefix("register value "))
        .and_then(|v| v.parse().ok())
        .unwrap_or(u64::MAX)
}

impl RegisterClients {
    pub fn start(s3: &S3, bucket: &str, settings: RegisterSettings) -> RegisterClients {
        let recorder = Arc::new(Recorder::new());
        let stop = Arc::new(AtomicBool::new(false));
        let budget: Arc<Mutex<Vec<usize>>> =
            Arc::new(Mutex::new(vec![settings.ops_per_key; settings.keys]));
        let tasks = (0..settings.clients)
            .map(|client| {
                let (s3, recorder, stop, budget, bucket, settings) = (
                    s3.clone(),
                    recorder.clone(),
                    stop.clone(),
                    budget.clone(),
                    bucket.to_string(),
                    settings.clone(),
                );
                tokio::spawn(async move {
                    let mut rng = rand::rngs::StdRng::seed_from_u64(settings.seed + client as u64);
                    let mut seq = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        // A key with operations left, at random.
                        let k = {
                            let mut b = lock(&budget);
                            let open: Vec<usize> = (0..b.len()).filter(|&i| b[i] > 0).collect();
                            if open.is_empty() {
                                return;
                            }
                            let k = open[rng.gen_range(0..open.len())];
                            b[k] -= 1;
                            k
                        };
                        let key = format!("reg-{k}");
                        let roll = rng.gen_range(0..20);
                        let invoke = recorder.now();
                        match roll {
                            0..=7 => {
                                seq += 1;
                                let v = (client as u64 + 1) * 1_000_000 + seq;
                                let req =
                                    Request::new(http::Method::PUT, Some(&bucket), Some(&key))
                                        .body(value_body(v));
                                let done = matches!(send(&s3, req).await, Some((200, _)));
                                let complete = done.then(|| recorder.now());
                                recorder.record(&key, client, Op::Put(v), invoke, complete);
                            }
                            8..=10 => {
                                let req =
                                    Request::new(http::Method::DELETE, Some(&bucket), Some(&key));
                                let done = matches!(send(&s3, req).await, Some((204, _)));
                                let complete = done.then(|| recorder.now());
                                recorder.record(&key, client, Op::Delete, invoke, complete);
                            }
                            _ => {
                                let req =
                                    Request::new(http::Method::GET, Some(&bucket), Some(&key));
                                let (op, complete) = match send(&s3, req).await {
                                    Some((200, body)) => {
                                        (Op::Get(Some(value_of(&body))), Some(recorder.now()))
                                    }
                                    Some((404, _)) => (Op::Get(None), Some(recorder.now())),
                                    // A failed read did nothing (the checker leaves it out).
                                    _ => (Op::Get(None), None),
                                };
                                recorder.record(&key, client, op, invoke, complete);
                            }
                        }
                        tokio::time::sleep(settings.pause).await;
                    }
                })
            })
            .collect();
        RegisterClients {
            recorder,
            stop,
            tasks,
        }
    }

    /// Stops the clients (each finishes its operation in flight) and returns the recorder.
    pub async fn stop(self) -> Arc<Recorder> {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            let _ = t.await;
        }
        self.recorder
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_and_foreign_bodies_read_as_unwritten() {
        assert_eq!(value_of(&value_body(2_000_017)), 2_000_017);
        assert_eq!(value_of(b"something else"), u64::MAX);
        assert_eq!(value_of(b"register value x"), u64::MAX);
    }
}
