//! A linearizability checker for per-key registers, for histories recorded by concurrent
//! clients during fault tests.
//!
//! Each key is a register: `PUT v` sets it, `GET` returns its value (or absent), `DELETE`
//! clears it. Clients record every operation with the time it was invoked and the time its
//! answer arrived; an operation that failed or timed out is an *unknown outcome*: it may or
//! may not have taken effect, at any time after its invocation (its completion is infinity).
//! A failed read has no effect and is left out.
//!
//! [`check`] decides whether a history of one key has a linearization: a total order of the
//! operations (unknown ones may be left out) that respects real time (an operation that
//! completed before another began comes first) and in which every read returns what the
//! register held. It is the Wing–Gong search with Lowe's memoisation: operations are taken in
//! the order of their call events; an operation may be linearized when no pending operation
//! has already returned; a configuration (set of linearized operations, register value) seen
//! before is not searched again, which makes histories of a few clients and a few hundred
//! operations cheap. The search is bounded ([`SEARCH_LIMIT`] steps) and says so when it gives up.
//!
//! Written here rather than taken from a crate: `stateright`'s linearizability tester checks
//! histories produced by its own actor model and has no way to feed it real clients' timed
//! operations with unknown outcomes, and no maintained crate checks recorded histories.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::sync::Mutex;
use std::time::Instant;

/// At most this many search steps per key.
pub const SEARCH_LIMIT: u64 = 20_000_000;

/// What an operation did (a read: what it returned).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// Wrote this value (values are unique per write).
    Put(u64),
    /// Read: `Some(v)` a value, `None` absent.
    Get(Option<u64>),
    /// Deleted the key.
    Delete,
}

/// One operation of a history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    pub client: usize,
    pub op: Op,
    /// When it was invoked (any monotonic unit, e.g. nanoseconds since the history began).
    pub invoke: u64,
    /// When its answer arrived; `None`: unknown outcome (failed or timed out).
    pub complete: Option<u64>,
}

impl Operation {
    pub fn new(client: usize, op: Op, invoke: u64, complete: Option<u64>) -> Operation {
        Operation {
            client,
            op,
            invoke,
            complete,
        }
    }
}

/// Why a history was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckError {
    /// No linearization exists.
    NotLinearizable {
        /// The most operations any attempt could linearize, and the operation (index in the
        /// history given) that every attempt of that length could not get past.
        longest: usize,
        stuck_at: Option<usize>,
        detail: String,
    },
    /// The search took more than [`SEARCH_LIMIT`] steps (neither verdict).
    SearchLimit { ops: usize },
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckError::NotLinearizable {
                longest, detail, ..
            } => write!(
                f,
                "not linearizable: at most {longest} operations could be ordered; {detail}"
            ),
            CheckError::SearchLimit { ops } => write!(
                f,
                "the search over {ops} operations took more than {SEARCH_LIMIT} steps"
            ),
        }
    }
}

/// What a successful check looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Checked {
    /// Operations checked (failed reads and unknown writes nobody read are left out).
    pub ops: usize,
    /// Of them, unknown outcomes.
    pub unknown: usize,
    pub steps: u64,
}

/// The register: its value after `state`, if `op` may happen now.
fn step(state: Option<u64>, op: Op) -> Option<Option<u64>> {
    match op {
        Op::Put(v) => Some(Some(v)),
        Op::Delete => Some(None),
        Op::Get(seen) => (seen == state).then_some(state),
    }
}

/// One call or return event in the doubly linked list the search walks.
#[derive(Debug, Clone, Copy)]
struct Event {
    /// Index into the operations checked.
    op: usize,
    /// The matching return event of a call (`None`: unknown outcome, or this is a return).
    ret: Option<usize>,
    is_call: bool,
}

/// The events in time order, as a list that operations are lifted out of and put back in
/// (always in reverse order of lifting, so the links can be restored).
struct Events {
    events: Vec<Event>,
    /// Links; index `events.len()` is the head sentinel (and the end).
    next: Vec<usize>,
    prev: Vec<usize>,
}

impl Events {
    fn head(&self) -> usize {
        self.events.len()
    }

    fn unlink(&mut self, i: usize) {
        let (p, n) = (self.prev[i], self.next[i]);
        self.next[p] = n;
        self.prev[n] = p;
    }

    fn relink(&mut self, i: usize) {
        let (p, n) = (self.prev[i], self.next[i]);
        self.next[p] = i;
        self.prev[n] = i;
    }

    fn lift(&mut self, call: usize) {
        self.unlink(call);
        if let Some(r) = self.events[call].ret {
            self.unlink(r);
        }
    }

    fn unlift(&mut self, call: usize) {
        if let Some(r) = self.events[call].ret {
            self.relink(r);
        }
        self.relink(call);
    }
}

/// Checks the history of one register (see the module's doc).
pub fn check(history: &[Operation]) -> Result<Checked, CheckError> {
    // Failed reads did nothing. An unknown write whose value nobody read may be taken as never
    // applied: any linearization with it stays one without it (nothing observed its value).
    let read: HashSet<u64> = history
        .iter()
        .filter_map(|o| match (o.op, o.complete) {
            (Op::Get(Some(v)), Some(_)) => Some(v),
            _ => None,
        })
        .collect();
    let kept: Vec<usize> = (0..history.len())
        .filter(|&i| {
            let o = &history[i];
            match (o.op, o.complete) {
                (Op::Get(_), None) => false,
                (Op::Put(v), None) => read.contains(&v),
                _ => true,
            }
        })
        .collect();
    let ops: Vec<&Operation> = kept.iter().map(|&i| &history[i]).collect();
    let n = ops.len();
    let unknown = ops.iter().filter(|o| o.complete.is_none()).count();

    // Events in time order; at equal times calls first (the two operations then overlap,
    // the more permissive reading).
    let mut order: Vec<(u64, bool, usize)> = Vec::with_capacity(2 * n);
    for (i, o) in ops.iter().enumerate() {
        order.push((o.invoke, false, i));
        if let Some(c) = o.complete {
            order.push((c.max(o.invoke), true, i));
        }
    }
    order.sort_unstable();
    let mut events: Vec<Event> = order
        .iter()
        .map(|&(_, is_return, op)| Event {
            op,
            ret: None,
            is_call: !is_return,
        })
        .collect();
    let mut call_of = vec![usize::MAX; n];
    for (i, e) in events.iter().enumerate() {
        if e.is_call {
            call_of[e.op] = i;
        }
    }
    for i in 0..events.len() {
        if !events[i].is_call {
            let c = call_of[events[i].op];
            events[c].ret = Some(i);
        }
    }
    let len = events.len();
    let mut list = Events {
        events,
        next: (0..=len)
            .map(|i| if i == len { 0 } else { i + 1 })
            .collect(),
        prev: (0..=len)
            .map(|i| if i == 0 { len } else { i - 1 })
            .collect(),
    };
    if len == 0 {
        return Ok(Checked {
            ops: 0,
            unknown: 0,
            steps: 0,
        });
    }
    let head = list.head();

    let words = n.div_ceil(64);
    let mut linearized = vec![0u64; words];
    let mut state: Option<u64> = None;
    let mut seen: HashSet<(Vec<u64>, Option<u64>)> = HashSet::new();
    // (call event lifted, the state before it)
    let mut stack: Vec<(usize, Option<u64>)> = Vec::new();
    let mut returns_left = n - unknown;
    let mut longest = (0usize, None::<usize>);
    let mut steps: u64 = 0;
    let mut at = list.next[head];
    loop {
        if returns_left == 0 {
            return Ok(Checked {
                ops: n,
                unknown,
                steps,
            });
        }
        steps += 1;
        if steps > SEARCH_LIMIT {
            return Err(CheckError::SearchLimit { ops: n });
        }
        let e = if at == head {
            None
        } else {
            Some(list.events[at])
        };
        match e {
            Some(e) if e.is_call => {
                if let Some(next_state) = step(state, ops[e.op].op) {
                    linearized[e.op / 64] |= 1 << (e.op % 64);
                    if seen.insert((linearized.clone(), next_state)) {
                        stack.push((at, state));
                        state = next_state;
                        if e.ret.is_some() {
                            returns_left -= 1;
                        }
                        list.lift(at);
                        at = list.next[head];
                        continue;
                    }
                    linearized[e.op / 64] &= !(1 << (e.op % 64));
                }
                at = list.next[at];
            }
            // A return whose operation could not be linearized before it (or, defensively,
            // the end of the list): undo the last choice.
            _ => {
                if stack.len() >= longest.0 {
                    longest = (stack.len(), e.map(|e| e.op));
                }
                let Some((call, before)) = stack.pop() else {
                    let stuck_at = longest.1.map(|i| kept[i]);
                    let detail = match stuck_at {
                        Some(i) => format!("stuck at {:?}", history[i]),
                        None => "stuck at the end".to_string(),
                    };
                    return Err(CheckError::NotLinearizable {
                        longest: longest.0,
                        stuck_at,
                        detail,
                    });
                };
                let op = list.events[call].op;
                linearized[op / 64] &= !(1 << (op % 64));
                if list.events[call].ret.is_some() {
                    returns_left += 1;
                }
                state = before;
                list.unlift(call);
                at = list.next[call];
            }
        }
    }
}

/// One operation on a key, as a client recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub key: String,
    pub operation: Operation,
}

/// Collects the operations of concurrent clients (times in nanoseconds since it was made)
/// and checks them per key.
#[derive(Debug)]
pub struct Recorder {
    start: Instant,
    ops: Mutex<Vec<Recorded>>,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder::new()
    }
}

impl Recorder {
    pub fn new() -> Recorder {
        Recorder {
            start: Instant::now(),
            ops: Mutex::new(Vec::new()),
        }
    }

    /// Now, in the recorder's time.
    pub fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Records one operation (`complete: None` for an unknown outcome).
    pub fn record(&self, key: &str, client: usize, op: Op, invoke: u64, complete: Option<u64>) {
        let mut ops = self.ops.lock().unwrap_or_else(|e| e.into_inner());
        ops.push(Recorded {
            key: key.to_string(),
            operation: Operation::new(client, op, invoke, complete),
        });
    }

    /// Every operation recorded so far, by key.
    pub fn by_key(&self) -> BTreeMap<String, Vec<Operation>> {
        let ops = self.ops.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: BTreeMap<String, Vec<Operation>> = BTreeMap::new();
        for r in ops.iter() {
            out.entry(r.key.clone())
                .or_default()
                .push(r.operation.clone());
        }
        out
    }

    /// [`check`] of every key's history.
    pub fn check(&self) -> BTreeMap<String, Result<Checked, CheckError>> {
        self.by_key()
            .into_iter()
            .map(|(k, h)| {
                let verdict = check(&h);
                (k, verdict)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn op(client: usize, op: Op, invoke: u64, complete: u64) -> Operation {
        Operation::new(client, op, invoke, Some(complete))
    }

    fn unknown(client: usize, op: Op, invoke: u64) -> Operation {
        Operation::new(client, op, invoke, None)
    }

    fn rejected(h: &[Operation]) -> bool {
        matches!(check(h), Err(CheckError::NotLinearizable { .. }))
    }

    #[test]
    fn sequential_and_overlapping_histories_are_accepted() {
        let h = [
            op(0, Op::Get(None), 0, 1),
            op(0, Op::Put(1), 2, 3),
            op(1, Op::Get(Some(1)), 4, 5),
            op(2, Op::Delete, 6, 7),
            op(0, Op::Get(None), 8, 9),
        ];
        assert_eq!(check(&h).map(|c| c.ops), Ok(5));
        // A read overlapping a write may see either value.
        for seen in [None, Some(1)] {
            let h = [op(0, Op::Put(1), 0, 10), op(1, Op::Get(seen), 5, 6)];
            assert!(check(&h).is_ok(), "{seen:?}");
        }
        // Two overlapping writes, then reads agreeing on the one that came last.
        let h = [
            op(0, Op::Put(1), 0, 10),
            op(1, Op::Put(2), 1, 9),
            op(2, Op::Get(Some(1)), 11, 12),
            op(2, Op::Get(Some(1)), 13, 14),
        ];
        assert!(check(&h).is_ok());
        assert_eq!(check(&[]).map(|c| c.ops), Ok(0));
    }

    #[test]
    fn unknown_outcomes_may_or_may_not_have_happened() {
        // A write that timed out, read much later: it took effect late.
        let h = [
            op(0, Op::Put(1), 0, 1),
            unknown(1, Op::Put(2), 2),
            op(0, Op::Get(Some(1)), 10, 11),
            op(2, Op::Get(Some(2)), 20, 21),
        ];
        assert!(check(&h).is_ok());
        // ... or never: nobody read it (it is left out).
        let h = [
            op(0, Op::Put(1), 0, 1),
            unknown(1, Op::Put(2), 2),
            op(0, Op::Get(Some(1)), 10, 11),
        ];
        assert_eq!(check(&h).map(|c| (c.ops, c.unknown)), Ok((2, 0)));
        // A failed read is no evidence of anything.
        let h = [op(0, Op::Put(1), 0, 1), unknown(1, Op::Get(Some(9)), 2)];
        assert!(check(&h).is_ok());
        // An unknown delete may explain an absent read.
        let h = [
            op(0, Op::Put(1), 0, 1),
            unknown(1, Op::Delete, 2),
            op(2, Op::Get(None), 5, 6),
        ];
        assert!(check(&h).is_ok());
    }

    #[test]
    fn a_stale_read_after_a_completed_write_is_rejected() {
        let h = [
            op(0, Op::Put(1), 0, 1),
            op(1, Op::Put(2), 2, 3),
            op(2, Op::Get(Some(1)), 4, 5),
        ];
        assert!(rejected(&h), "{:?}", check(&h));
        // Absent after a completed write and no delete.
        let h = [op(0, Op::Put(1), 0, 1), op(1, Op::Get(None), 2, 3)];
        assert!(rejected(&h));
        // Two reads after both writes completed, seeing them in turn: the value changed
        // with no write in between.
        let h = [
            op(0, Op::Put(1), 0, 10),
            op(1, Op::Put(2), 1, 9),
            op(2, Op::Get(Some(1)), 11, 12),
            op(2, Op::Get(Some(2)), 13, 14),
        ];
        assert!(rejected(&h));
    }

    #[test]
    fn a_read_of_a_value_never_written_is_rejected() {
        let h = [op(0, Op::Put(1), 0, 1), op(1, Op::Get(Some(7)), 2, 3)];
        assert!(rejected(&h));
        let h = [op(1, Op::Get(Some(7)), 0, 3)];
        assert!(rejected(&h));
    }

    #[test]
    fn a_value_reappearing_after_a_delete_is_rejected() {
        let h = [
            op(0, Op::Put(1), 0, 1),
            op(1, Op::Delete, 2, 3),
            op(2, Op::Get(Some(1)), 4, 5),
        ];
        assert!(rejected(&h));
        // The same with the delete's outcome unknown but observed by a read.
        let h = [
            op(0, Op::Put(1), 0, 1),
            unknown(1, Op::Delete, 2),
            op(2, Op::Get(None), 4, 5),
            op(2, Op::Get(Some(1)), 6, 7),
        ];
        assert!(rejected(&h));
        let e = check(&h).unwrap_err();
        assert!(
            matches!(
                e,
                CheckError::NotLinearizable {
                    stuck_at: Some(_),
                    ..
                }
            ),
            "{e}"
        );
    }

    /// Histories of a correct register: three clients, random overlapping intervals, each
    /// operation taking effect at a random instant inside its interval; some writes' answers
    /// lost. Every one must be accepted, quickly.
    #[test]
    fn random_histories_of_a_correct_register_are_accepted() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(15);
        for round in 0..30 {
            let mut clock = [0u64; 3];
            // (effect time, client, kind, invoke, complete, answer lost)
            let mut planned = Vec::new();
            let mut next_value = 1u64;
            for _ in 0..100 {
                let c = rng.gen_range(0..3);
                let invoke = clock[c] + rng.gen_range(0..20);
                let complete = invoke + rng.gen_range(1..40);
                let effect = rng.gen_range(invoke..complete);
                clock[c] = complete;
                let kind = match rng.gen_range(0..10) {
                    0..=3 => Op::Put({
                        next_value += 1;
                        next_value
                    }),
                    4 => Op::Delete,
                    _ => Op::Get(None),
                };
                let lost = !matches!(kind, Op::Get(_)) && rng.gen_range(0..10) == 0;
                planned.push((effect, c, kind, invoke, complete, lost));
            }
            planned.sort_by_key(|p| p.0);
            let mut state = None;
            let mut h = Vec::new();
            for (_, c, kind, invoke, complete, lost) in planned {
                let kind = match kind {
                    Op::Get(_) => Op::Get(state),
                    other => other,
                };
                state = step(state, kind).expect("a write always applies");
                h.push(Operation::new(c, kind, invoke, (!lost).then_some(complete)));
            }
            let verdict = check(&h);
            assert!(verdict.is_ok(), "round {round}: {verdict:?}");
            // Corrupt one read that saw a value: it now reads a value never written.
            if let Some(i) = h
                .iter()
                .rposition(|o| matches!(o.op, Op::Get(Some(_))) && o.complete.is_some())
            {
                h[i].op = Op::Get(Some(0));
                assert!(rejected(&h), "round {round}: corrupted read accepted");
            }
        }
    }
}
