//! Policy file parsing, validation messages and round trips.

use super::*;
use crate::storage::DataSecurity;

const EXAMPLE: &str = r#"
default = "THREECOPIES"

[storage_classes]
STANDARD = "THREECOPIES"
STANDARD_IA = "EC42"

[pools.ssd]
slots = ["ssd"]

[policies.THREECOPIES]
kind = "replicate"
copies = 3
chunk_size = "8MiB"
min_distance = 1
pool = "all"

[policies.EC42]
kind = "ec"
k = 4
m = 2
write_quorum = 5
chunk_size = "8MiB"
min_distance = 1

[policies.FAST]
kind = "replicate"
copies = 2
chunk_size = 1048576
pool = "ssd"
"#;

/// The whole error text of parsing `text`.
fn err(text: &str) -> String {
    PolicySet::parse(text).unwrap_err().to_string()
}

/// A file with one policy `A` whose table body is `body`.
fn one(body: &str) -> String {
    format!("default = \"A\"\n[policies.A]\n{body}\n")
}

#[test]
fn parses_the_documented_example() {
    let set = PolicySet::parse(EXAMPLE).unwrap();
    assert_eq!(set.default, "THREECOPIES");
    assert_eq!(set.policies.len(), 3);
    let three = set.get("THREECOPIES").unwrap();
    assert_eq!(three.security, DataSecurity::Replicate { copies: 3 });
    assert_eq!(three.chunk_size, 8 << 20);
    assert_eq!(three.min_distance, 1);
    assert_eq!(three.pool, "all");
    assert_eq!(three.write_quorum, 2);
    let ec = set.get("EC42").unwrap();
    assert_eq!(ec.security, DataSecurity::Ec { k: 4, m: 2 });
    assert_eq!(ec.write_quorum(), 5);
    assert_eq!(ec.pieces(), 6);
    let fast = set.get("FAST").unwrap();
    assert_eq!(fast.chunk_size, 1 << 20);
    assert_eq!(fast.pool, "ssd");
    assert_eq!(fast.min_distance, 1, "default min_distance");
    assert_eq!(set.default_policy().name, "THREECOPIES");
    assert_eq!(set.for_storage_class("STANDARD_IA").unwrap().name, "EC42");
    assert!(set.for_storage_class("GLACIER").is_none());
    assert_eq!(set.storage_class_of("EC42"), Some("STANDARD_IA"));
    assert_eq!(set.storage_class_of("THREECOPIES"), Some("STANDARD"));
    assert_eq!(set.storage_class_of("FAST"), None);
    assert_eq!(set.pool("ssd").unwrap().slots, ["ssd"]);
    assert_eq!(set.pool("all"), Some(Pool::default()));
    assert_eq!(set.pool("nope"), None);
    assert!(set.validate().is_ok());
}

#[test]
fn defaults() {
    let set = PolicySet::parse(&one("kind = \"ec\"\nk = 6\nm = 3")).unwrap();
    let p = set.default_policy();
    assert_eq!(p.chunk_size, DEFAULT_CHUNK_SIZE);
    assert_eq!(p.min_distance, 1);
    assert_eq!(p.pool, "all");
    assert_eq!(p.write_quorum, 7);
    assert!(set.storage_classes.is_empty());
    assert!(set.pools.is_empty());
}

#[test]
fn round_trips_through_toml() {
    let set = PolicySet::parse(EXAMPLE).unwrap();
    let text = set.to_toml();
    assert_eq!(PolicySet::parse(&text).unwrap(), set, "{text}");
    assert!(text.contains("chunk_size = \"8MiB\""), "{text}");
    // The default quorum is not written out; a custom one is.
    let custom = PolicySet::parse(&one("kind = \"ec\"\nk = 4\nm = 2\nwrite_quorum = 6")).unwrap();
    let text = custom.to_toml();
    assert!(text.contains("write_quorum = 6"), "{text}");
    assert_eq!(PolicySet::parse(&text).unwrap(), custom);
    let odd = PolicySet::parse(&one(
        "kind = \"replicate\"\ncopies = 1\nchunk_size = 100000",
    ))
    .unwrap();
    assert_eq!(PolicySet::parse(&odd.to_toml()).unwrap(), odd);
}

#[test]
fn builtin_set() {
    let set = PolicySet::builtin(3, 8 << 20);
    assert_eq!(set.default, "REPLICATE3");
    let p = set.default_policy();
    assert_eq!(p.name, "REPLICATE3");
    assert_eq!(p.pieces(), 3);
    assert_eq!(p.write_quorum(), 2);
    assert_eq!(p.min_distance, 0);
    assert!(set.validate().is_ok());
    assert_eq!(PolicySet::parse(&set.to_toml()).unwrap(), set);
}

#[test]
fn hand_built_set_without_default_does_not_panic() {
    let mut set = PolicySet::builtin(2, 8 << 20);
    set.default = "GONE".into();
    assert_eq!(set.default_policy().pieces(), 3);
    assert!(
        set.validate()
            .unwrap_err()
            .to_string()
            .contains("default policy \"GONE\" is not defined")
    );
}

#[test]
fn syntax_errors_have_a_line() {
    let e = err("default = \"A\"\n[policies.A\nkind = 1\n");
    assert!(e.starts_with("policy file: line 2"), "{e}");
    assert!(!e.contains('\n'), "one line: {e}");
    let e = err("defaults = \"A\"\n");
    assert!(e.contains("unknown field `defaults`"), "{e}");
    let e = err("[policies.A]\nkind = \"replicate\"\ncopies = 1\n");
    assert!(e.contains("missing field `default`"), "{e}");
}

#[test]
fn unknown_fields_name_the_policy_or_pool() {
    let e = err(&one("kind = \"replicate\"\ncopise = 3"));
    assert!(e.contains("policy \"A\": unknown field `copise`"), "{e}");
    let e = err(
        "default = \"A\"\n[pools.p]\nslot = [\"x\"]\n[policies.A]\nkind = \"replicate\"\ncopies = 1\n",
    );
    assert!(e.contains("pool \"p\": unknown field `slot`"), "{e}");
}

#[test]
fn ec_limits() {
    let e = err(&one("kind = \"ec\"\nk = 20\nm = 20"));
    assert_eq!(e, "policy \"A\": k + m = 40 is larger than 32");
    let e = err(&one("kind = \"ec\"\nk = 0\nm = 33"));
    assert!(
        e.contains("policy \"A\": k 0 is out of range 1..=32"),
        "{e}"
    );
    assert!(
        e.contains("policy \"A\": m 33 is out of range 1..=32"),
        "{e}"
    );
    let e = err(&one("kind = \"ec\"\nk = 4"));
    assert_eq!(e, "policy \"A\": kind = \"ec\" needs m (1..=32)");
    let e = err(&one("kind = \"ec\"\nk = 4\nm = 2\nwrite_quorum = 3"));
    assert_eq!(
        e,
        "policy \"A\": write_quorum 3 is out of range 4..=6 (k..=k+m)"
    );
    let e = err(&one("kind = \"ec\"\nk = 4\nm = 2\ncopies = 3"));
    assert_eq!(
        e,
        "policy \"A\": copies is only valid for kind = \"replicate\""
    );
}

#[test]
fn replicate_limits() {
    let e = err(&one("kind = \"replicate\""));
    assert_eq!(
        e,
        "policy \"A\": kind = \"replicate\" needs copies (1..=16)"
    );
    let e = err(&one("kind = \"replicate\"\ncopies = 17"));
    assert_eq!(e, "policy \"A\": copies 17 is out of range 1..=16");
    let e = err(&one("kind = \"replicate\"\ncopies = -1"));
    assert_eq!(e, "policy \"A\": copies -1 is out of range 1..=16");
    let e = err(&one("kind = \"replicate\"\ncopies = 3\nk = 2"));
    assert_eq!(e, "policy \"A\": k is only valid for kind = \"ec\"");
    let e = err(&one("kind = \"replicate\"\ncopies = 3\nwrite_quorum = 4"));
    assert_eq!(
        e,
        "policy \"A\": write_quorum 4 is out of range 1..=3 (1..=copies)"
    );
    let e = err(&one("kind = \"raid6\""));
    assert_eq!(
        e,
        "policy \"A\": kind \"raid6\" is unknown: use \"replicate\" or \"ec\""
    );
}

#[test]
fn distance_and_chunk_size_limits() {
    let e = err(&one("kind = \"replicate\"\ncopies = 3\nmin_distance = 7"));
    assert_eq!(e, "policy \"A\": min_distance 7 is out of range 0..=4");
    let e = err(&one("kind = \"replicate\"\ncopies = 3\nmin_distance = -1"));
    assert_eq!(e, "policy \"A\": min_distance -1 is out of range 0..=4");
    let e = err(&one(
        "kind = \"replicate\"\ncopies = 3\nchunk_size = \"1KiB\"",
    ));
    assert_eq!(
        e,
        "policy \"A\": chunk_size 1KiB is out of range 64KiB..=1GiB"
    );
    let e = err(&one(
        "kind = \"replicate\"\ncopies = 3\nchunk_size = \"2GiB\"",
    ));
    assert_eq!(
        e,
        "policy \"A\": chunk_size 2GiB is out of range 64KiB..=1GiB"
    );
    let e = err(&one(
        "kind = \"replicate\"\ncopies = 3\nchunk_size = \"8MB\"",
    ));
    assert!(
        e.contains("policy \"A\": chunk_size \"8MB\": use KiB, MiB or GiB"),
        "{e}"
    );
    let e = err(&one("kind = \"replicate\"\ncopies = 3\nchunk_size = true"));
    assert!(
        e.contains("policy \"A\": chunk_size must be a number of bytes"),
        "{e}"
    );
    let ok = PolicySet::parse(&one(
        "kind = \"replicate\"\ncopies = 3\nchunk_size = \"64KiB\"\nmin_distance = 0",
    ));
    assert_eq!(ok.unwrap().default_policy().chunk_size, 64 << 10);
}

#[test]
fn references_must_resolve() {
    let e = err("default = \"FOO\"\n[policies.A]\nkind = \"replicate\"\ncopies = 1\n");
    assert_eq!(e, "default policy \"FOO\" is not defined");
    let e = err(&format!(
        "{}[storage_classes]\nSTANDARD_IA = \"EC24\"\n",
        one("kind = \"replicate\"\ncopies = 1")
    ));
    assert_eq!(
        e,
        "storage class \"STANDARD_IA\" names unknown policy \"EC24\""
    );
    let e = err(&one("kind = \"replicate\"\ncopies = 1\npool = \"fast\""));
    assert_eq!(e, "policy \"A\": pool \"fast\" is not defined");
    let e = err(
        "default = \"A\"\n[pools.all]\nslots = []\n[policies.A]\nkind = \"replicate\"\ncopies = 1\n",
    );
    assert!(e.contains("pool \"all\" is built in"), "{e}");
}

#[test]
fn broken_policies_are_not_reported_twice() {
    // The default names a policy that is broken: only the policy's own error is reported.
    let e = err(
        "default = \"A\"\n[storage_classes]\nSTANDARD = \"A\"\n[policies.A]\nkind = \"replicate\"\ncopies = 0\n",
    );
    assert_eq!(e, "policy \"A\": copies 0 is out of range 1..=16");
}

#[test]
fn every_problem_is_reported() {
    let e = err(r#"
default = "NOPE"
[policies.A]
kind = "ec"
k = 30
m = 3
[policies.B]
kind = "replicate"
copies = 2
min_distance = 9
"#);
    assert!(
        e.contains("policy \"A\": k + m = 33 is larger than 32"),
        "{e}"
    );
    assert!(
        e.contains("policy \"B\": min_distance 9 is out of range 0..=4"),
        "{e}"
    );
    assert!(e.contains("default policy \"NOPE\" is not defined"), "{e}");
    assert_eq!(e.matches("; ").count(), 2, "{e}");
}

#[test]
fn names_are_checked() {
    let e = err("default = \"a b\"\n[policies.\"a b\"]\nkind = \"replicate\"\ncopies = 1\n");
    assert!(e.contains("policy name \"a b\" is invalid"), "{e}");
    let e = err(&format!(
        "{}[pools.p]\nslots = [\"\"]\n",
        one("kind = \"replicate\"\ncopies = 1")
    ));
    assert!(e.contains("pool \"p\": slot \"\" is invalid"), "{e}");
}
