//! Feasibility: can the live cluster satisfy each policy of a set? For every policy, the live
//! servers (score > 0) of its pool are counted, and how many of them can be chosen with pairwise
//! location distance >= `min_distance`.

use crate::file::PolicySet;
use crate::location::distance;
use crate::pool::Pool;
use crate::storage::StoragePolicy;

/// A chunk server as the check sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceView {
    pub id: String,
    /// Location `dc.rack.host.vol`.
    pub location: String,
    /// Slots (tags) the server declares; pools select servers by them.
    pub slots: Vec<String>,
    /// Conscience score 0..=100; 0 = never chosen.
    pub score: u8,
}

/// The verdict for one policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    pub policy: String,
    /// Every piece of a chunk can be placed at the policy's distance.
    pub ok: bool,
    /// One line for operators, e.g. `EC42: needs 6 servers at distance >= 1, pool "all" has 5
    /// live servers in 3 distinct hosts`.
    pub message: String,
}

/// Checks every policy of `set` (in name order) against `services`.
pub fn check(set: &PolicySet, services: &[ServiceView]) -> Vec<CheckReport> {
    set.policies
        .values()
        .map(|p| check_policy(p, set.pool(&p.pool).as_ref(), services))
        .collect()
}

/// What distinct groups are called at each minimum distance.
fn level_name(min_distance: usize) -> &'static str {
    match min_distance {
        0 => "servers",
        1 => "locations",
        2 => "hosts",
        3 => "racks",
        _ => "datacenters",
    }
}

fn check_policy(
    policy: &StoragePolicy,
    pool: Option<&Pool>,
    services: &[ServiceView],
) -> CheckReport {
    let needs = policy.pieces();
    let d = policy.min_distance;
    let Some(pool) = pool else {
        return CheckReport {
            policy: policy.name.clone(),
            ok: false,
            message: format!("{}: pool \"{}\" is not defined", policy.name, policy.pool),
        };
    };
    let mut live: Vec<&ServiceView> = Vec::new();
    for s in services
        .iter()
        .filter(|s| s.score > 0 && pool.admits(&s.slots))
    {
        if !live.iter().any(|l| l.id == s.id) {
            live.push(s);
        }
    }
    let spread = max_spread(&live, d);
    let ok = spread >= needs;
    let verdict = if ok {
        "ok".to_string()
    } else if spread >= policy.write_quorum() {
        format!(
            "degraded: only {spread} of {needs} pieces can be placed (writes still reach the quorum of {})",
            policy.write_quorum()
        )
    } else {
        format!(
            "cannot be satisfied: at most {spread} pieces can be placed, the write quorum is {}",
            policy.write_quorum()
        )
    };
    CheckReport {
        policy: policy.name.clone(),
        ok,
        message: format!(
            "{}: needs {needs} servers at distance >= {d}, pool \"{}\" has {} live servers in {spread} distinct {}: {verdict}",
            policy.name,
            policy.pool,
            live.len(),
            level_name(d),
        ),
    }
}

/// How many of `servers` can be chosen with pairwise distance >= `d`. Greedy; exact when all
/// locations have the same number of levels, since "distance < d" then means "same first
/// `levels - d + 1` tokens", an equivalence, and greedy keeps one server of each class.
fn max_spread(servers: &[&ServiceView], d: usize) -> usize {
    let mut chosen: Vec<&str> = Vec::new();
    for s in servers {
        if chosen.iter().all(|c| distance(c, &s.location) >= d) {
            chosen.push(&s.location);
        }
    }
    chosen.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(id: &str, location: &str, score: u8, slots: &[&str]) -> ServiceView {
        ServiceView {
            id: id.into(),
            location: location.into(),
            slots: slots.iter().map(|s| s.to_string()).collect(),
            score,
        }
    }

    const FILE: &str = r#"
default = "THREECOPIES"
[pools.ssd]
slots = ["ssd"]
[policies.THREECOPIES]
kind = "replicate"
copies = 3
min_distance = 2
[policies.EC42]
kind = "ec"
k = 4
m = 2
[policies.FAST]
kind = "replicate"
copies = 2
pool = "ssd"
"#;

    /// Six servers: two per host on three hosts; host2 is the only one with ssd slots.
    fn cluster() -> Vec<ServiceView> {
        vec![
            server("a", "dc.r0.h0.v0", 50, &[]),
            server("b", "dc.r0.h0.v1", 50, &[]),
            server("c", "dc.r0.h1.v0", 50, &[]),
            server("d", "dc.r0.h1.v1", 50, &[]),
            server("e", "dc.r0.h2.v0", 50, &["ssd"]),
            server("f", "dc.r0.h2.v1", 50, &["ssd"]),
        ]
    }

    fn report<'a>(reports: &'a [CheckReport], name: &str) -> &'a CheckReport {
        reports.iter().find(|r| r.policy == name).unwrap()
    }

    #[test]
    fn all_satisfied() {
        let set = PolicySet::parse(FILE).unwrap();
        let reports = check(&set, &cluster());
        assert_eq!(reports.len(), 3);
        assert!(reports.iter().all(|r| r.ok), "{reports:?}");
        let three = report(&reports, "THREECOPIES");
        assert!(
            three
                .message
                .contains("has 6 live servers in 3 distinct hosts"),
            "{}",
            three.message
        );
        assert!(
            report(&reports, "EC42")
                .message
                .contains("6 distinct locations")
        );
        assert!(
            report(&reports, "FAST")
                .message
                .contains("pool \"ssd\" has 2 live servers")
        );
    }

    #[test]
    fn dead_servers_and_host_distance() {
        let set = PolicySet::parse(FILE).unwrap();
        let mut servers = cluster();
        servers[4].score = 0; // e: one ssd server left
        let reports = check(&set, &servers);
        let ec = report(&reports, "EC42");
        assert!(!ec.ok);
        assert_eq!(
            ec.message,
            "EC42: needs 6 servers at distance >= 1, pool \"all\" has 5 live servers in 5 distinct locations: degraded: only 5 of 6 pieces can be placed (writes still reach the quorum of 5)"
        );
        assert!(report(&reports, "THREECOPIES").ok);
        let fast = report(&reports, "FAST");
        assert!(!fast.ok);
        assert!(
            fast.message.contains("has 1 live servers"),
            "{}",
            fast.message
        );
        assert!(
            fast.message.contains("the write quorum is 2"),
            "{}",
            fast.message
        );

        // Only two hosts alive: 3 copies at host distance cannot be placed.
        servers[5].score = 0;
        let reports = check(&set, &servers);
        let three = report(&reports, "THREECOPIES");
        assert!(!three.ok);
        assert!(
            three.message.contains("4 live servers in 2 distinct hosts"),
            "{}",
            three.message
        );
    }

    #[test]
    fn duplicate_ids_and_distance_zero() {
        let set = PolicySet::parse(
            "default = \"R\"\n[policies.R]\nkind = \"replicate\"\ncopies = 3\nmin_distance = 0\n",
        )
        .unwrap();
        let same = vec![
            server("a", "l.r.h.v", 10, &[]),
            server("a", "l.r.h.v", 10, &[]),
            server("b", "l.r.h.v", 10, &[]),
        ];
        let r = &check(&set, &same)[0];
        assert!(!r.ok, "duplicate ids count once");
        let mut more = same.clone();
        more.push(server("c", "l.r.h.v", 10, &[]));
        assert!(check(&set, &more)[0].ok, "distance 0 allows one location");
    }

    #[test]
    fn spread_is_exact_for_equal_levels() {
        let servers = cluster();
        let refs: Vec<&ServiceView> = servers.iter().collect();
        assert_eq!(max_spread(&refs, 0), 6);
        assert_eq!(max_spread(&refs, 1), 6);
        assert_eq!(max_spread(&refs, 2), 3);
        assert_eq!(max_spread(&refs, 3), 1);
        assert_eq!(max_spread(&refs, 4), 1);
        assert_eq!(max_spread(&[], 2), 0);
    }
}
