//! Deadlines on the data path: a chunk server that is hung (frozen, stuck disk, cut off
//! without a reset) must cost a request a bounded delay, not the chunk client's minute.
//!
//! - **Hedged reads** ([`Deadlines::race`]): the copies of a chunk are asked one at a time, in
//!   read order. When the one asked has not answered after the hedge delay, the next is asked
//!   too and whichever answers first is used; the others are cancelled (dropped). A copy that
//!   fails is followed by the next one at once; one that has not answered within
//!   `read_timeout_ms` is given up on. The hedge delay is `hedge_after_ms` or four times the
//!   recent first-byte latency, whichever is longer, and hedges are capped at about one read
//!   in ten ([`HEDGE_SHARE`]), so a busy cluster is not asked everything twice.
//! - **Write quorums** ([`Deadlines::gather`]): the copies of a chunk are written in parallel;
//!   once the write quorum has answered, the others get `write_timeout_ms` more (or as long
//!   again as the quorum took; a suspect gets nothing more), then the write goes on without
//!   them. A streamed copy that takes no frame for `write_timeout_ms` is dropped.
//! - **Suspects**: a server that missed a deadline is a suspect for [`SUSPECT_FOR`]: reads ask
//!   it last, new chunks are placed elsewhere when every piece can be (never at the cost of a
//!   piece), and a copy written to it is not waited for past the quorum. One that only lost a
//!   few hedge races in a row without answering any is read last for as long. The conscience does the
//!   same for good once the server misses its heartbeats (`dead_after_secs`).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::stream::FuturesUnordered;

/// How long a server that missed a deadline is asked last and left out of placements.
pub const SUSPECT_FOR: Duration = Duration::from_secs(10);
/// Hedge races a server may lose in a row (never answering first) before it is a suspect.
const LOST_RACES: u32 = 3;
/// Share of reads that may be hedged (a token bucket: each first request adds this much).
const HEDGE_SHARE: f64 = 0.1;
/// Hedges that may be sent in a burst before the share applies.
const HEDGE_BURST: f64 = 10.0;
/// The hedge delay is at least this many times the smoothed first-byte latency.
const LATENCY_FACTOR: u32 = 4;

/// What the data path knows about deadlines and slow servers; shared by all requests.
pub struct Deadlines {
    hedge_after: Option<Duration>,
    read_timeout: Duration,
    write_timeout: Duration,
    state: Mutex<State>,
}

struct State {
    /// Smoothed first-byte latency of chunk reads (`None` before the first one).
    latency: Option<Duration>,
    /// Hedges that may be sent now.
    hedge_tokens: f64,
    /// Servers (by address) that were slow lately.
    servers: HashMap<String, Slow>,
}

#[derive(Default)]
struct Slow {
    /// Hedge races lost in a row.
    lost: u32,
    /// Read last until then (lost races, or a missed deadline).
    read_last: Option<Instant>,
    /// Suspect until then (a missed deadline).
    until: Option<Instant>,
}

/// Whether `until` is still ahead.
fn ahead(until: Option<Instant>) -> bool {
    until.is_some_and(|until| Instant::now() < until)
}

/// How one read attempt of a [`Deadlines::race`] ended, when it did not win.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Miss {
    /// The server answered with an error (or could not be reached).
    Failed(String),
    /// The server did not answer within the read deadline.
    TimedOut,
}

/// The outcome of a [`Deadlines::race`].
pub struct Raced<T> {
    /// The first attempt that succeeded: its index and its answer.
    pub winner: Option<(usize, T)>,
    /// Attempts that failed or timed out (the others were not asked, or were cancelled).
    pub missed: Vec<(usize, Miss)>,
}

/// One write of a [`Deadlines::gather`]: whether it is waited for past the quorum, and the
/// write itself.
pub type Write<'a, T> = (bool, Pin<Box<dyn Future<Output = T> + Send + 'a>>);

type Attempt<'a, T> = Pin<Box<dyn Future<Output = (usize, Instant, Result<T, Miss>)> + Send + 'a>>;

impl Deadlines {
    pub fn new(config: &crate::Config) -> Deadlines {
        Deadlines {
            hedge_after: (config.hedge_after_ms > 0)
                .then(|| Duration::from_millis(config.hedge_after_ms)),
            read_timeout: Duration::from_millis(config.read_timeout_ms),
            write_timeout: Duration::from_millis(config.write_timeout_ms),
            state: Mutex::new(State {
                latency: None,
                hedge_tokens: HEDGE_BURST,
                servers: HashMap::new(),
            }),
        }
    }

    pub fn read_timeout(&self) -> Duration {
        self.read_timeout
    }

    pub fn write_timeout(&self) -> Duration {
        self.write_timeout
    }

    /// How long the copy asked waits before the next one is asked too (`None`: never).
    pub fn hedge_delay(&self) -> Option<Duration> {
        let floor = self.hedge_after?;
        let observed = self
            .state
            .lock()
            .ok()
            .and_then(|s| s.latency)
            .map_or(Duration::ZERO, |l| l * LATENCY_FACTOR);
        Some(floor.max(observed).min(self.read_timeout))
    }

    /// Whether `addr` missed a deadline lately: it is left out of placements that can do
    /// without it, and a write to it is not waited for past the quorum.
    pub fn is_suspect(&self, addr: &str) -> bool {
        let Ok(state) = self.state.lock() else {
            return false;
        };
        state.servers.get(addr).is_some_and(|s| ahead(s.until))
    }

    /// Whether `addr` is to be read last: it missed a deadline, or lost a few hedge races in
    /// a row, lately. (Lost races alone do not make a suspect: a server that is only slower
    /// than the others under load still gets its copies written.)
    pub fn read_last(&self, addr: &str) -> bool {
        let Ok(state) = self.state.lock() else {
            return false;
        };
        state
            .servers
            .get(addr)
            .is_some_and(|s| ahead(s.until) || ahead(s.read_last))
    }

    /// `addr` answered a read after `elapsed`.
    pub fn answered(&self, addr: &str, elapsed: Duration) {
        if let Ok(mut state) = self.state.lock() {
            state.latency = Some(match state.latency {
                None => elapsed,
                // An exponentially weighted mean, 1/8 for the new sample.
                Some(l) => (l * 7 + elapsed) / 8,
            });
            if let Some(s) = state.servers.get_mut(addr) {
                s.lost = 0;
                s.read_last = None;
                s.until = None;
            }
        }
    }

    /// `addr` was asked, and another copy answered first although it was asked later.
    fn lost_race(&self, addr: &str) {
        if let Ok(mut state) = self.state.lock() {
            let s = state.servers.entry(addr.to_string()).or_default();
            s.lost += 1;
            if s.lost >= LOST_RACES {
                s.read_last = Some(Instant::now() + SUSPECT_FOR);
            }
        }
    }

    /// `addr` missed a deadline: it is a suspect for [`SUSPECT_FOR`].
    pub fn missed_deadline(&self, addr: &str) {
        if let Ok(mut state) = self.state.lock() {
            let s = state.servers.entry(addr.to_string()).or_default();
            s.until = Some(Instant::now() + SUSPECT_FOR);
            s.read_last = s.until;
        }
        tracing::warn!(server = %addr, "chunk server missed a deadline: asked last and left out of placements for {}s", SUSPECT_FOR.as_secs());
    }

    /// A first request was sent: the hedge budget grows.
    pub fn first_request(&self) {
        if let Ok(mut state) = self.state.lock() {
            state.hedge_tokens = (state.hedge_tokens + HEDGE_SHARE).min(HEDGE_BURST);
        }
    }

    /// Takes one hedge from the budget, if there is one.
    pub fn take_hedge(&self) -> bool {
        let Ok(mut state) = self.state.lock() else {
            return false;
        };
        if state.hedge_tokens >= 1.0 {
            state.hedge_tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Asks the servers `addrs` (in this order) with `ask(i)`, hedged: the first at once, the
    /// next when no request in flight has answered within the hedge delay (and the hedge budget
    /// allows), or at once when one fails. Every request but one to the last server left is
    /// bounded by the read deadline. Returns the first success; the requests still in flight
    /// are dropped, which cancels them.
    pub async fn race<'a, T, F, Fut>(&self, addrs: &[String], ask: F) -> Raced<T>
    where
        F: Fn(usize) -> Fut,
        Fut: Future<Output = Result<T, String>> + Send + 'a,
        T: Send + 'a,
    {
        let n = addrs.len();
        let mut missed = Vec::new();
        let mut running: FuturesUnordered<Attempt<'a, T>> = FuturesUnordered::new();
        // When each request in flight was sent, by index.
        let mut sent: Vec<Option<Instant>> = vec![None; n];
        let mut next = 0usize;
        let mut hedging = self.hedge_delay();
        // The request to the last server left is not bounded here: past it there is nothing
        // else to try (the chunk client's own, longer bounds apply).
        let launch = |i: usize,
                      running: &mut FuturesUnordered<Attempt<'a, T>>,
                      sent: &mut Vec<Option<Instant>>| {
            let started = Instant::now();
            sent[i] = Some(started);
            let fut = ask(i);
            let bound = (i + 1 < n).then_some(self.read_timeout);
            running.push(Box::pin(async move {
                let result = match bound {
                    Some(t) => match tokio::time::timeout(t, fut).await {
                        Ok(r) => r.map_err(Miss::Failed),
                        Err(_) => Err(Miss::TimedOut),
                    },
                    None => fut.await.map_err(Miss::Failed),
                };
                (i, started, result)
            }));
        };
        if n == 0 {
            return Raced {
                winner: None,
                missed,
            };
        }
        self.first_request();
        launch(0, &mut running, &mut sent);
        next += 1;
        loop {
            let wait = hedging.filter(|_| next < n);
            let hedge = async move {
                match wait {
                    Some(d) => tokio::time::sleep(d).await,
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                done = running.next() => {
                    let Some((i, started, result)) = done else {
                        return Raced { winner: None, missed };
                    };
                    sent[i] = None;
                    match result {
                        Ok(value) => {
                            self.answered(&addrs[i], started.elapsed());
                            for (j, at) in sent.iter().enumerate() {
                                if at.is_some_and(|at| at < started) {
                                    self.lost_race(&addrs[j]);
                                }
                            }
                            return Raced { winner: Some((i, value)), missed };
                        }
                        Err(miss) => {
                            if miss == Miss::TimedOut {
                                self.missed_deadline(&addrs[i]);
                            }
                            missed.push((i, miss));
                            if next < n {
                                launch(next, &mut running, &mut sent);
                                next += 1;
                            }
                        }
                    }
                }
                () = hedge => {
                    if self.take_hedge() {
                        tracing::debug!(server = %addrs[next], "hedged read");
                        launch(next, &mut running, &mut sent);
                        next += 1;
                    } else {
                        // Out of budget: the next copy is asked when one fails or times out.
                        hedging = None;
                    }
                }
            }
        }
    }

    /// Runs the writes `puts` (one per copy, each with whether its server is to be waited
    /// for past the quorum: a suspect is not) in parallel until `quorum` of them succeeded and
    /// the others finished or got their grace: `write_timeout_ms`, or as long again as the
    /// quorum took if that is longer. Returns each write's outcome by index: `None` for one
    /// given up on (still running: it is dropped).
    pub async fn gather<'a, T>(
        &self,
        puts: Vec<Write<'a, T>>,
        quorum: usize,
        ok: impl Fn(&T) -> bool,
    ) -> Vec<Option<T>> {
        let n = puts.len();
        let mut out: Vec<Option<T>> = (0..n).map(|_| None).collect();
        let mut patient_left = puts.iter().filter(|(patient, _)| *patient).count();
        let patient: Vec<bool> = puts.iter().map(|(p, _)| *p).collect();
        let mut running: FuturesUnordered<_> = puts
            .into_iter()
            .enumerate()
            .map(|(i, (_, f))| async move { (i, f.await) })
            .collect();
        let started = Instant::now();
        let mut succeeded = 0usize;
        let mut grace_until: Option<tokio::time::Instant> =
            (quorum == 0).then(|| tokio::time::Instant::now() + self.write_timeout);
        loop {
            if grace_until.is_some() && patient_left == 0 {
                break;
            }
            let next = match grace_until {
                None => running.next().await,
                Some(until) => match tokio::time::timeout_at(until, running.next()).await {
                    Ok(next) => next,
                    Err(_) => break,
                },
            };
            let Some((i, result)) = next else { break };
            if ok(&result) {
                succeeded += 1;
            }
            if patient[i] {
                patient_left -= 1;
            }
            out[i] = Some(result);
            if succeeded >= quorum && grace_until.is_none() {
                let grace = self.write_timeout.max(started.elapsed());
                grace_until = Some(tokio::time::Instant::now() + grace);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deadlines(hedge_ms: u64, read_ms: u64) -> Deadlines {
        let config = crate::Config {
            hedge_after_ms: hedge_ms,
            read_timeout_ms: read_ms,
            write_timeout_ms: 200,
            ..crate::Config::default()
        };
        Deadlines::new(&config)
    }

    fn addrs(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("server{i}:1")).collect()
    }

    /// Server 0 hangs, the others answer at once: the hedge answers after the hedge delay.
    #[tokio::test]
    async fn a_hung_copy_is_hedged_after_the_delay() {
        let d = deadlines(50, 5_000);
        let started = Instant::now();
        let raced = d
            .race(&addrs(3), |i| async move {
                if i == 0 {
                    std::future::pending::<()>().await;
                }
                Ok::<usize, String>(i)
            })
            .await;
        let took = started.elapsed();
        assert_eq!(raced.winner, Some((1, 1)));
        assert!(raced.missed.is_empty());
        assert!(took >= Duration::from_millis(50), "{took:?}");
        assert!(took < Duration::from_millis(1_000), "{took:?}");
    }

    /// Losing a few races makes a server read last, not a suspect (its writes still count).
    #[tokio::test]
    async fn lost_races_make_a_server_read_last_only() {
        let d = deadlines(10, 5_000);
        for _ in 0..LOST_RACES {
            let raced = d
                .race(&addrs(2), |i| async move {
                    if i == 0 {
                        std::future::pending::<()>().await;
                    }
                    Ok::<usize, String>(i)
                })
                .await;
            assert_eq!(raced.winner.map(|(i, _)| i), Some(1));
        }
        assert!(d.read_last("server0:1"));
        assert!(!d.is_suspect("server0:1"));
        assert!(!d.read_last("server1:1"));
    }

    /// Without hedging, a hung copy is given up on at the read deadline.
    #[tokio::test]
    async fn without_hedges_a_hung_copy_times_out() {
        let d = deadlines(0, 100);
        let started = Instant::now();
        let raced = d
            .race(&addrs(2), |i| async move {
                if i == 0 {
                    std::future::pending::<()>().await;
                }
                Ok::<usize, String>(i)
            })
            .await;
        assert_eq!(raced.winner.map(|(i, _)| i), Some(1));
        assert_eq!(raced.missed, vec![(0, Miss::TimedOut)]);
        assert!(started.elapsed() < Duration::from_millis(1_000));
        assert!(d.is_suspect("server0:1"));
        assert!(!d.is_suspect("server1:1"));
    }

    /// A failed copy is followed by the next at once; all failing gives no winner.
    #[tokio::test]
    async fn failures_move_on_and_all_failing_gives_no_winner() {
        let d = deadlines(10_000, 10_000);
        let started = Instant::now();
        let raced = d
            .race(&addrs(3), |i| async move {
                Err::<(), String>(format!("no {i}"))
            })
            .await;
        assert!(raced.winner.is_none());
        assert_eq!(raced.missed.len(), 3);
        assert!(started.elapsed() < Duration::from_millis(1_000));
    }

    /// A fast first copy is never hedged.
    #[tokio::test]
    async fn a_fast_copy_sends_no_hedge() {
        let d = deadlines(50, 5_000);
        let asked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        for _ in 0..20 {
            let asked = asked.clone();
            let raced = d
                .race(&addrs(3), move |i| {
                    asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    async move { Ok::<usize, String>(i) }
                })
                .await;
            assert_eq!(raced.winner.map(|(i, _)| i), Some(0));
        }
        assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 20);
    }

    /// Hedges stop once the budget is spent; the read deadline still applies.
    #[tokio::test]
    async fn hedges_are_budgeted() {
        let d = deadlines(1, 5_000);
        let hedged = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        for _ in 0..40 {
            let hedged = hedged.clone();
            // The first copy answers after 30 ms, the second at once: every hedge wins.
            d.race(&addrs(2), move |i| {
                if i == 1 {
                    hedged.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
                async move {
                    if i == 0 {
                        tokio::time::sleep(Duration::from_millis(30)).await;
                    }
                    Ok::<usize, String>(i)
                }
            })
            .await;
        }
        let hedged = hedged.load(std::sync::atomic::Ordering::SeqCst);
        assert!(hedged >= 5, "{hedged} hedges for 40 reads");
        assert!(hedged <= 10 + 40 / 10 + 1, "{hedged} hedges for 40 reads");
    }

    /// Past the quorum, stragglers get the write deadline and are dropped after it.
    #[tokio::test]
    async fn writes_go_on_with_their_quorum() {
        let d = deadlines(50, 5_000);
        let started = Instant::now();
        let puts: Vec<Write<'_, bool>> = vec![
            (true, Box::pin(async { true })),
            (
                true,
                Box::pin(async {
                    std::future::pending::<()>().await;
                    true
                }),
            ),
            (
                true,
                Box::pin(async {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    true
                }),
            ),
        ];
        let out = d.gather(puts, 2, |ok| *ok).await;
        assert_eq!(out, vec![Some(true), None, Some(true)]);
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(200), "{took:?}");
        assert!(took < Duration::from_millis(2_000), "{took:?}");
    }

    /// A suspect's write is not waited for once the quorum is there.
    #[tokio::test]
    async fn a_suspect_gets_no_grace() {
        let d = deadlines(50, 5_000);
        let started = Instant::now();
        let puts: Vec<Write<'_, bool>> = vec![
            (true, Box::pin(async { true })),
            (
                false,
                Box::pin(async {
                    std::future::pending::<()>().await;
                    true
                }),
            ),
            (true, Box::pin(async { true })),
        ];
        let out = d.gather(puts, 2, |ok| *ok).await;
        assert_eq!(out, vec![Some(true), None, Some(true)]);
        assert!(started.elapsed() < Duration::from_millis(150));
    }

    /// Below the quorum, writes are waited for (their own bounds apply).
    #[tokio::test]
    async fn below_the_quorum_every_write_is_waited_for() {
        let d = deadlines(50, 5_000);
        let puts: Vec<Write<'_, bool>> = vec![
            (true, Box::pin(async { false })),
            (
                false,
                Box::pin(async {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    true
                }),
            ),
        ];
        let out = d.gather(puts, 2, |ok| *ok).await;
        assert_eq!(out, vec![Some(false), Some(true)]);
    }
}
