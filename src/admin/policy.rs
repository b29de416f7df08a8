//! `spread admin policy check|apply|list`: storage-policy files, validated locally with the
//! `policy` crate before anything is sent, checked against the live cluster, applied through
//! meta, and listed from what meta has stored.

use super::table::Table;
use crate::error::{Error, Result};
use meta_api::wire::ServiceRecord;
use policy::PolicySet;
use policy::check::{CheckReport, ServiceView};
use policy::storage::{DataSecurity, StoragePolicy};
use std::path::Path;

/// Reads and parses a policy file; a bad file is an error naming the file.
pub fn load(path: &Path) -> Result<(String, PolicySet)> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::file(path, e))?;
    let set = PolicySet::parse(&text).map_err(|e| Error::Parse {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    Ok((text, set))
}

/// The conscience's chunk servers as the feasibility check sees them.
pub fn views(services: &[ServiceRecord]) -> Vec<ServiceView> {
    services
        .iter()
        .filter(|s| s.kind == "chunkd")
        .map(|s| ServiceView {
            id: s.id.clone(),
            location: s.location.clone(),
            slots: s.slots.clone(),
            score: s.score,
        })
        .collect()
}

/// One line per policy (`OK  ` / `FAIL` then `NAME: message`), and whether all passed.
pub fn render_check(reports: &[CheckReport]) -> (String, bool) {
    let mut out = String::new();
    for r in reports {
        let verdict = if r.ok { "OK  " } else { "FAIL" };
        // The message usually starts with the policy name already.
        if r.message.starts_with(&format!("{}:", r.policy)) {
            out.push_str(&format!("{verdict}  {}\n", r.message));
        } else {
            out.push_str(&format!("{verdict}  {}: {}\n", r.policy, r.message));
        }
    }
    (out, reports.iter().all(|r| r.ok))
}

/// Kind and protection of a policy: (`replicate`, `copies=3`) or (`ec`, `k+m=4+2`).
fn protection(p: &StoragePolicy) -> (&'static str, String) {
    match p.security {
        DataSecurity::Replicate { copies } => ("replicate", format!("copies={copies}")),
        DataSecurity::Ec { k, m } => ("ec", format!("k+m={k}+{m}")),
    }
}

/// The `policy list` table of an applied set (the default policy is marked `*`).
pub fn render_list(set: &PolicySet) -> String {
    let mut t = Table::new([
        "NAME",
        "KIND",
        "PROTECTION",
        "CHUNK SIZE",
        "MIN DISTANCE",
        "POOL",
        "QUORUM",
        "STORAGE CLASSES",
    ]);
    for (name, p) in &set.policies {
        let (kind, prot) = protection(p);
        let classes: Vec<&str> = set
            .storage_classes
            .iter()
            .filter(|(_, target)| *target == name)
            .map(|(class, _)| class.as_str())
            .collect();
        let marked = if *name == set.default {
            format!("{name} *")
        } else {
            name.clone()
        };
        t.row([
            marked,
            kind.to_string(),
            prot,
            policy::size::format_size(p.chunk_size),
            p.min_distance.to_string(),
            p.pool.clone(),
            p.write_quorum().to_string(),
            if classes.is_empty() {
                "-".to_string()
            } else {
                classes.join(",")
            },
        ]);
    }
    format!("default policy: {}\n{t}", set.default)
}

/// What `policy list` prints without an applied file.
pub const NO_POLICY_FILE: &str = "no policy file applied (built-in default)\n";

#[cfg(test)]
mod tests {
    use super::*;
    use meta_api::wire::ServiceStats;

    const FILE: &str = r#"
default = "THREECOPIES"

[storage_classes]
STANDARD = "THREECOPIES"
STANDARD_IA = "EC42"
GLACIER = "EC42"

[policies.THREECOPIES]
kind = "replicate"
copies = 3

[policies.EC42]
kind = "ec"
k = 4
m = 2
chunk_size = "4MiB"
min_distance = 2
"#;

    fn service(id: &str, location: &str, score: u8) -> ServiceRecord {
        ServiceRecord {
            id: id.into(),
            kind: "chunkd".into(),
            addr: format!("127.0.0.1:{}", id.len()),
            location: location.into(),
            slots: vec![],
            stats: ServiceStats::default(),
            first_seen_ms: 0,
            last_seen_ms: 0,
            score,
            locked: None,
        }
    }

    #[test]
    fn list_shows_every_policy_with_its_classes() {
        let set = PolicySet::parse(FILE).unwrap();
        let text = render_list(&set);
        assert!(text.starts_with("default policy: THREECOPIES\n"), "{text}");
        let ec = text.lines().find(|l| l.starts_with("EC42")).unwrap();
        for needle in [
            "ec",
            "k+m=4+2",
            "4MiB",
            "  2  ",
            "all",
            "GLACIER,STANDARD_IA",
        ] {
            assert!(ec.contains(needle), "{needle:?} in {ec:?}");
        }
        let three = text
            .lines()
            .find(|l| l.starts_with("THREECOPIES *"))
            .unwrap();
        for needle in ["replicate", "copies=3", "8MiB", "STANDARD"] {
            assert!(three.contains(needle), "{needle:?} in {three:?}");
        }
    }

    #[test]
    fn check_lines_and_verdict() {
        let set = PolicySet::parse(FILE).unwrap();
        let few: Vec<ServiceRecord> = (0..3)
            .map(|i| service(&format!("s{i}"), &format!("dc.r.h{i}.v0"), 50))
            .collect();
        let (text, ok) = render_check(&policy::check::check(&set, &views(&few)));
        assert!(!ok, "{text}");
        assert!(text.contains("FAIL  EC42: "), "{text}");
        assert!(text.contains("OK    THREECOPIES: "), "{text}");
        assert!(!text.contains("EC42: EC42:"), "{text}");
        let other = [CheckReport {
            policy: "P".into(),
            ok: true,
            message: "fine".into(),
        }];
        assert_eq!(render_check(&other), ("OK    P: fine\n".to_string(), true));
        let many: Vec<ServiceRecord> = (0..6)
            .map(|i| service(&format!("s{i}"), &format!("dc.r{i}.h{i}.v0"), 50))
            .collect();
        let (text, ok) = render_check(&policy::check::check(&set, &views(&many)));
        assert!(ok, "{text}");
        // Dead servers do not count.
        let mut dead = many.clone();
        dead[0].score = 0;
        let (_, ok) = render_check(&policy::check::check(&set, &views(&dead)));
        assert!(!ok);
    }

    #[test]
    fn load_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.toml");
        std::fs::write(&p, FILE.replace("copies = 3", "copise = 3")).unwrap();
        let e = load(&p).unwrap_err().to_string();
        assert!(e.contains("bad.toml") && e.contains("copise"), "{e}");
        let e = load(&dir.path().join("missing.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing.toml"), "{e}");
        std::fs::write(&p, FILE).unwrap();
        let (text, set) = load(&p).unwrap();
        assert_eq!(text, FILE);
        assert_eq!(set.policies.len(), 2);
    }
}
