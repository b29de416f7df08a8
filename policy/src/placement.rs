//! Placement: choose chunk servers for a write (weighted by score, distinct locations first,
//! within the policy's pool and minimum distance) and order the copies of a chunk for a read
//! (closest first).

use crate::error::PlacementError;
use crate::location::distance;
use crate::pool::Pool;
use crate::storage::StoragePolicy;
use rand::Rng;

/// A chunk server that may receive or serve a chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Stable service id.
    pub id: String,
    /// `host:port` where it serves.
    pub addr: String,
    /// Location `dc.rack.host.vol`.
    pub location: String,
    /// Conscience score 0..=100; 0 = never chosen.
    pub score: u8,
    /// Slots (tags) the server declares; pools select servers by them.
    pub slots: Vec<String>,
}

/// Chooses the chunk servers for the pieces of one chunk under `policy`: candidates of `pool`
/// with score > 0, [`select`]ed for [`StoragePolicy::pieces`] at the policy's minimum distance.
/// Returns as many as could be placed (at most `pieces()`), or an error naming the policy when
/// fewer than [`StoragePolicy::write_quorum`] can be.
pub fn place<R: Rng + ?Sized>(
    policy: &StoragePolicy,
    pool: &Pool,
    candidates: &[Candidate],
    rng: &mut R,
) -> Result<Vec<Candidate>, PlacementError> {
    let eligible: Vec<Candidate> = candidates
        .iter()
        .filter(|c| pool.admits(&c.slots))
        .cloned()
        .collect();
    let chosen = select(&eligible, policy.pieces(), policy.min_distance, rng);
    let quorum = policy.write_quorum();
    if chosen.len() >= quorum {
        return Ok(chosen);
    }
    let live = eligible.iter().filter(|c| c.score > 0).count();
    Err(PlacementError::Placement {
        policy: policy.name.clone(),
        reason: format!(
            "needs {} chunk servers at location distance >= {} (at least {quorum} to write), \
             but only {} can be chosen among the {live} live servers of pool \"{}\"",
            policy.pieces(),
            policy.min_distance,
            chosen.len(),
            policy.pool
        ),
    })
}

/// Choose up to `n` distinct candidates with score > 0: weighted random by score; each next pick
/// is taken among the remaining candidates whose minimum distance to those already chosen is the
/// largest (distinct locations first), never below `min_distance` (0 = anything goes). Returns
/// fewer than `n` if not enough qualify.
pub fn select<R: Rng + ?Sized>(
    candidates: &[Candidate],
    n: usize,
    min_distance: usize,
    rng: &mut R,
) -> Vec<Candidate> {
    let mut remaining: Vec<&Candidate> = Vec::new();
    for c in candidates.iter().filter(|c| c.score > 0) {
        if !remaining.iter().any(|r| r.id == c.id) {
            remaining.push(c);
        }
    }
    let mut chosen: Vec<Candidate> = Vec::with_capacity(n.min(remaining.len()));
    while chosen.len() < n && !remaining.is_empty() {
        // Minimum distance of every remaining candidate to the ones already chosen.
        let spread: Vec<usize> = remaining
            .iter()
            .map(|c| {
                chosen
                    .iter()
                    .map(|s| distance(&c.location, &s.location))
                    .min()
                    .unwrap_or(usize::MAX)
            })
            .collect();
        let best = spread.iter().copied().max().unwrap_or(0);
        if best < min_distance {
            break;
        }
        let pool: Vec<usize> = (0..remaining.len())
            .filter(|&i| spread[i] == best)
            .collect();
        let picked = weighted_pick(&pool, |i| remaining[i].score, rng);
        chosen.push(remaining.swap_remove(picked).clone());
    }
    chosen
}

/// Picks one index of `pool` at random, weighted by `weight` (all weights are > 0).
fn weighted_pick<R: Rng + ?Sized>(
    pool: &[usize],
    weight: impl Fn(usize) -> u8,
    rng: &mut R,
) -> usize {
    let total: u32 = pool.iter().map(|&i| u32::from(weight(i))).sum();
    if total == 0 {
        return pool[0];
    }
    let mut ticket = rng.gen_range(0..total);
    for &i in pool {
        let w = u32::from(weight(i));
        if ticket < w {
            return i;
        }
        ticket -= w;
    }
    pool[pool.len() - 1]
}

/// Order copies for reading: closest location to `here` first; ties by higher score; score 0
/// (dead/unknown) last.
pub fn read_order(here: &str, copies: &mut [Candidate]) {
    copies.sort_by_key(|c| {
        (
            c.score == 0,
            distance(here, &c.location),
            std::cmp::Reverse(c.score),
        )
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use std::collections::{HashMap, HashSet};

    fn cand(id: &str, location: &str, score: u8) -> Candidate {
        Candidate {
            id: id.to_string(),
            addr: format!("{id}:1"),
            location: location.to_string(),
            score,
            slots: Vec::new(),
        }
    }

    fn with_slots(mut c: Candidate, slots: &[&str]) -> Candidate {
        c.slots = slots.iter().map(|s| s.to_string()).collect();
        c
    }

    #[test]
    fn place_fills_every_piece_at_distance() {
        let cs: Vec<Candidate> = (0..6)
            .map(|i| cand(&format!("s{i}"), &format!("l.r0.h{}.v{}", i / 2, i % 2), 50))
            .collect();
        let mut r = rng();
        let ec = StoragePolicy::erasure("EC42", 4, 2, 1 << 20);
        for _ in 0..100 {
            let got = place(&ec, &Pool::default(), &cs, &mut r).unwrap();
            assert_eq!(got.len(), 6);
            let ids: HashSet<_> = got.iter().map(|c| c.id.clone()).collect();
            assert_eq!(ids.len(), 6);
        }
        // Three copies at host distance: one per host, every time.
        let mut three = StoragePolicy::replicated("THREE", 3, 1 << 20);
        three.min_distance = 2;
        for _ in 0..100 {
            let got = place(&three, &Pool::default(), &cs, &mut r).unwrap();
            let hosts: HashSet<_> = got
                .iter()
                .map(|c| c.location.split('.').nth(2).unwrap_or("").to_string())
                .collect();
            assert_eq!(hosts.len(), 3, "{got:?}");
        }
    }

    #[test]
    fn place_returns_partial_above_quorum_and_fails_below() {
        let mut cs: Vec<Candidate> = (0..5)
            .map(|i| cand(&format!("s{i}"), &format!("l.r0.h{i}.v0"), 50))
            .collect();
        let ec = StoragePolicy::erasure("EC42", 4, 2, 1 << 20);
        let mut r = rng();
        // 5 servers for 6 pieces: the quorum (5) is met.
        assert_eq!(place(&ec, &Pool::default(), &cs, &mut r).unwrap().len(), 5);
        // One more down: 4 < 5.
        cs[0].score = 0;
        let err = place(&ec, &Pool::default(), &cs, &mut r).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("storage policy \"EC42\""), "{msg}");
        assert!(
            msg.contains("only 4 can be chosen among the 4 live servers"),
            "{msg}"
        );
    }

    #[test]
    fn place_requires_min_distance() {
        // Four volumes on one host: a 3-copy policy at host distance cannot be placed.
        let cs: Vec<Candidate> = (0..4)
            .map(|i| cand(&format!("v{i}"), &format!("l.r0.h0.v{i}"), 50))
            .collect();
        let mut three = StoragePolicy::replicated("THREE", 3, 1 << 20);
        three.min_distance = 2;
        let err = place(&three, &Pool::default(), &cs, &mut rng()).unwrap_err();
        assert!(err.to_string().contains("\"THREE\""), "{err}");
        three.min_distance = 1;
        assert_eq!(
            place(&three, &Pool::default(), &cs, &mut rng())
                .unwrap()
                .len(),
            3
        );
    }

    #[test]
    fn place_honours_the_pool() {
        let cs = vec![
            with_slots(cand("hdd0", "l.r0.h0.v0", 100), &["hdd"]),
            with_slots(cand("ssd0", "l.r0.h1.v0", 1), &["ssd"]),
            with_slots(cand("ssd1", "l.r0.h2.v0", 1), &["ssd", "hdd"]),
            cand("none", "l.r0.h3.v0", 100),
        ];
        let pool = Pool {
            slots: vec!["ssd".into()],
        };
        let two = StoragePolicy::replicated("FAST", 2, 1 << 20);
        let mut r = rng();
        for _ in 0..50 {
            let got = place(&two, &pool, &cs, &mut r).unwrap();
            let mut ids: Vec<_> = got.iter().map(|c| c.id.as_str()).collect();
            ids.sort();
            assert_eq!(ids, ["ssd0", "ssd1"]);
        }
        let three = StoragePolicy::replicated("FAST3", 3, 1 << 20);
        assert_eq!(place(&three, &pool, &cs, &mut r).unwrap().len(), 2);
        let five = StoragePolicy::replicated("FAST5", 5, 1 << 20);
        assert!(place(&five, &pool, &cs, &mut r).is_err());
    }

    #[test]
    fn locked_server_receives_nothing() {
        let cs = vec![
            cand("a", "l.r0.h0.v0", 50),
            cand("locked", "l.r0.h1.v0", 0),
            cand("b", "l.r0.h2.v0", 50),
            cand("c", "l.r0.h3.v0", 50),
        ];
        let three = StoragePolicy::replicated("THREE", 3, 1 << 20);
        let mut r = rng();
        for _ in 0..100 {
            let got = place(&three, &Pool::default(), &cs, &mut r).unwrap();
            assert!(got.iter().all(|c| c.id != "locked"));
        }
    }

    fn rng() -> StdRng {
        StdRng::seed_from_u64(42)
    }

    #[test]
    fn empty_and_zero_n() {
        let mut r = rng();
        assert!(select(&[], 3, 0, &mut r).is_empty());
        let cs = vec![cand("a", "l.r.h1.v", 50)];
        assert!(select(&cs, 0, 0, &mut r).is_empty());
    }

    #[test]
    fn returns_distinct_candidates() {
        let cs: Vec<Candidate> = (0..5)
            .map(|i| cand(&format!("s{i}"), &format!("l.r0.h{i}.v0"), 50))
            .collect();
        let mut r = rng();
        for _ in 0..100 {
            let got = select(&cs, 3, 0, &mut r);
            assert_eq!(got.len(), 3);
            let ids: HashSet<_> = got.iter().map(|c| c.id.clone()).collect();
            assert_eq!(ids.len(), 3);
        }
    }

    #[test]
    fn duplicate_ids_are_counted_once() {
        let cs = vec![cand("a", "l.r.h1.v", 50), cand("a", "l.r.h1.v", 50)];
        assert_eq!(select(&cs, 2, 0, &mut rng()).len(), 1);
    }

    #[test]
    fn zero_scores_never_chosen() {
        let cs = vec![
            cand("dead1", "l.r0.h0.v0", 0),
            cand("live", "l.r0.h1.v0", 10),
            cand("dead2", "l.r0.h2.v0", 0),
        ];
        let mut r = rng();
        for _ in 0..200 {
            let got = select(&cs, 3, 0, &mut r);
            assert_eq!(got.len(), 1);
            assert_eq!(got[0].id, "live");
        }
    }

    #[test]
    fn fewer_than_n_when_not_enough() {
        let cs = vec![cand("a", "l.r0.h0.v0", 10), cand("b", "l.r0.h1.v0", 10)];
        assert_eq!(select(&cs, 3, 0, &mut rng()).len(), 2);
    }

    #[test]
    fn weighted_by_score() {
        let cs = vec![
            cand("low", "l.r0.h0.v0", 10),
            cand("high", "l.r0.h1.v0", 90),
        ];
        let mut r = rng();
        let mut counts: HashMap<String, u32> = HashMap::new();
        let rounds = 20_000;
        for _ in 0..rounds {
            let got = select(&cs, 1, 0, &mut r);
            *counts.entry(got[0].id.clone()).or_default() += 1;
        }
        let high = f64::from(counts["high"]) / f64::from(rounds);
        assert!((0.87..0.93).contains(&high), "high chosen {high}");
    }

    #[test]
    fn weighted_among_equal_spread() {
        // Three hosts with scores 20/30/50: first picks must follow the weights.
        let cs = vec![
            cand("a", "l.r0.h0.v0", 20),
            cand("b", "l.r0.h1.v0", 30),
            cand("c", "l.r0.h2.v0", 50),
        ];
        let mut r = rng();
        let mut counts: HashMap<String, u32> = HashMap::new();
        let rounds = 30_000;
        for _ in 0..rounds {
            let got = select(&cs, 1, 0, &mut r);
            *counts.entry(got[0].id.clone()).or_default() += 1;
        }
        for (id, expect) in [("a", 0.2), ("b", 0.3), ("c", 0.5)] {
            let share = f64::from(counts[id]) / f64::from(rounds);
            assert!((share - expect).abs() < 0.02, "{id}: {share}");
        }
    }

    #[test]
    fn distinct_hosts_preferred() {
        // host0 has three volumes with high scores, host1/host2 one volume with a low score:
        // three copies must land on three different hosts every time.
        let cs = vec![
            cand("h0v0", "l.r0.h0.v0", 100),
            cand("h0v1", "l.r0.h0.v1", 100),
            cand("h0v2", "l.r0.h0.v2", 100),
            cand("h1v0", "l.r0.h1.v0", 1),
            cand("h2v0", "l.r0.h2.v0", 1),
        ];
        let mut r = rng();
        for _ in 0..500 {
            let got = select(&cs, 3, 0, &mut r);
            assert_eq!(got.len(), 3);
            let hosts: HashSet<_> = got
                .iter()
                .map(|c| c.location.split('.').nth(2).unwrap_or("").to_string())
                .collect();
            assert_eq!(hosts.len(), 3, "{got:?}");
        }
    }

    #[test]
    fn distinct_racks_before_hosts() {
        let cs = vec![
            cand("r0h0", "dc.r0.h0.v0", 100),
            cand("r0h1", "dc.r0.h1.v0", 100),
            cand("r1h0", "dc.r1.h0.v0", 1),
        ];
        let mut r = rng();
        for _ in 0..200 {
            let got = select(&cs, 2, 0, &mut r);
            let racks: HashSet<_> = got
                .iter()
                .map(|c| c.location.split('.').nth(1).unwrap_or("").to_string())
                .collect();
            assert_eq!(racks.len(), 2, "{got:?}");
        }
    }

    #[test]
    fn same_location_allowed_without_min_distance() {
        let cs = vec![
            cand("a", "l.r0.h0.v0", 50),
            cand("b", "l.r0.h0.v0", 50),
            cand("c", "l.r0.h0.v0", 50),
        ];
        assert_eq!(select(&cs, 3, 0, &mut rng()).len(), 3);
    }

    #[test]
    fn min_distance_honoured() {
        // Two hosts with two volumes each: with min_distance 2 (distinct hosts), only two copies.
        let cs = vec![
            cand("h0v0", "l.r0.h0.v0", 50),
            cand("h0v1", "l.r0.h0.v1", 50),
            cand("h1v0", "l.r0.h1.v0", 50),
            cand("h1v1", "l.r0.h1.v1", 50),
        ];
        let mut r = rng();
        for _ in 0..200 {
            let got = select(&cs, 3, 2, &mut r);
            assert_eq!(got.len(), 2, "{got:?}");
            for (i, a) in got.iter().enumerate() {
                for b in &got[i + 1..] {
                    assert!(distance(&a.location, &b.location) >= 2);
                }
            }
        }
        // min_distance 1 allows distinct volumes of the same host.
        assert_eq!(select(&cs, 4, 1, &mut r).len(), 4);
        // Larger than any achievable distance: only the first pick.
        assert_eq!(select(&cs, 3, 3, &mut r).len(), 1);
    }

    #[test]
    fn read_order_closest_then_score_then_dead_last() {
        let mut copies = vec![
            cand("dead_here", "l.r0.h0.v0", 0),
            cand("far", "x.r9.h9.v9", 100),
            cand("same_rack_low", "l.r0.h1.v0", 10),
            cand("same_rack_high", "l.r0.h2.v0", 90),
            cand("here", "l.r0.h0.v0", 5),
        ];
        read_order("l.r0.h0.v0", &mut copies);
        let ids: Vec<_> = copies.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "here",
                "same_rack_high",
                "same_rack_low",
                "far",
                "dead_here"
            ]
        );
    }
}
