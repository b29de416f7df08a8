//! The policy file as written (TOML shapes, optional fields), its conversion into a
//! [`PolicySet`] and back, and the validation rules shared by parsed and hand-built sets.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Display;

use serde::{Deserialize, Serialize};

use super::{
    DEFAULT_CHUNK_SIZE, MAX_CHUNK_SIZE, MAX_COPIES, MAX_DISTANCE, MAX_FRAGMENTS, MIN_CHUNK_SIZE,
    PolicySet,
};
use crate::error::PolicyError;
use crate::pool::Pool;
use crate::size::{format_size, parse_size};
use crate::storage::{ALL_POOL, DataSecurity, StoragePolicy, default_write_quorum};

/// The top level of a policy file; policies and pools are kept as raw TOML so that their errors
/// can name them.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileIn {
    default: String,
    #[serde(default)]
    storage_classes: BTreeMap<String, String>,
    #[serde(default)]
    pools: BTreeMap<String, toml::Value>,
    #[serde(default)]
    policies: BTreeMap<String, toml::Value>,
}

/// One `[policies.NAME]` table as written. Numbers are signed so that `-1` gets a range error.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyIn {
    kind: String,
    copies: Option<i64>,
    k: Option<i64>,
    m: Option<i64>,
    write_quorum: Option<i64>,
    chunk_size: Option<toml::Value>,
    min_distance: Option<i64>,
    pool: Option<String>,
}

#[derive(Serialize)]
struct FileOut<'a> {
    default: &'a str,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    storage_classes: &'a BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pools: &'a BTreeMap<String, Pool>,
    policies: BTreeMap<&'a str, PolicyOut<'a>>,
}

#[derive(Serialize)]
struct PolicyOut<'a> {
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    copies: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    k: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    m: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    write_quorum: Option<usize>,
    chunk_size: toml::Value,
    min_distance: usize,
    pool: &'a str,
}

pub(super) fn parse(text: &str) -> Result<PolicySet, PolicyError> {
    let file: FileIn = toml::from_str(text).map_err(|e| PolicyError::Syntax(one_line(&e)))?;
    let mut errors = Vec::new();

    let mut pools = BTreeMap::new();
    for (name, value) in file.pools {
        match value.try_into::<Pool>() {
            Ok(pool) => {
                pools.insert(name, pool);
            }
            Err(e) => errors.push(format!("pool \"{name}\": {}", one_line(&e))),
        }
    }

    let mut policies = BTreeMap::new();
    let mut broken = BTreeSet::new();
    for (name, value) in file.policies {
        let before = errors.len();
        let policy = value
            .try_into::<PolicyIn>()
            .map_err(|e| errors.push(format!("policy \"{name}\": {}", one_line(&e))))
            .ok()
            .and_then(|p| convert(&name, p, &mut errors));
        match policy {
            Some(p) if errors.len() == before => {
                policies.insert(name, p);
            }
            _ => {
                broken.insert(name);
            }
        }
    }

    let set = PolicySet {
        default: file.default,
        storage_classes: file.storage_classes,
        pools,
        policies,
    };
    check(&set, &broken, &mut errors);
    if errors.is_empty() {
        Ok(set)
    } else {
        Err(PolicyError::Invalid(errors))
    }
}

pub(super) fn validate(set: &PolicySet) -> Result<(), PolicyError> {
    let mut errors = Vec::new();
    check(set, &BTreeSet::new(), &mut errors);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(PolicyError::Invalid(errors))
    }
}

pub(super) fn to_toml(set: &PolicySet) -> String {
    let policies = set
        .policies
        .iter()
        .map(|(name, p)| {
            let (kind, copies, k, m) = match p.security {
                DataSecurity::Replicate { copies } => ("replicate", Some(copies), None, None),
                DataSecurity::Ec { k, m } => ("ec", None, Some(k), Some(m)),
            };
            let write_quorum = (p.write_quorum != 0
                && p.write_quorum != default_write_quorum(&p.security))
            .then_some(p.write_quorum);
            let chunk_size = if p.chunk_size.is_multiple_of(1024) {
                toml::Value::String(format_size(p.chunk_size))
            } else {
                toml::Value::Integer(i64::try_from(p.chunk_size).unwrap_or(i64::MAX))
            };
            let out = PolicyOut {
                kind,
                copies,
                k,
                m,
                write_quorum,
                chunk_size,
                min_distance: p.min_distance,
                pool: &p.pool,
            };
            (name.as_str(), out)
        })
        .collect();
    let file = FileOut {
        default: &set.default,
        storage_classes: &set.storage_classes,
        pools: &set.pools,
        policies,
    };
    toml::to_string(&file)
        .unwrap_or_else(|e| format!("# the policy set cannot be written as TOML: {e}\n"))
}

/// Kind-specific fields and value conversions of one policy; ranges and references are left to
/// [`check`].
fn convert(name: &str, p: PolicyIn, errors: &mut Vec<String>) -> Option<StoragePolicy> {
    let at = |msg: String| format!("policy \"{name}\": {msg}");
    let mut count = |field: &str, value: Option<i64>, lo: usize, hi: usize| {
        value.and_then(|v| match usize::try_from(v) {
            Ok(v) => Some(v),
            Err(_) => {
                errors.push(at(out_of_range(field, v, lo, hi)));
                None
            }
        })
    };
    let copies = count("copies", p.copies, 1, MAX_COPIES);
    let k = count("k", p.k, 1, MAX_FRAGMENTS);
    let m = count("m", p.m, 1, MAX_FRAGMENTS);
    let write_quorum = count("write_quorum", p.write_quorum, 1, MAX_FRAGMENTS);
    let min_distance = count("min_distance", p.min_distance, 0, MAX_DISTANCE);
    let security = match p.kind.as_str() {
        "replicate" => {
            for (field, given) in [("k", p.k.is_some()), ("m", p.m.is_some())] {
                if given {
                    errors.push(at(format!("{field} is only valid for kind = \"ec\"")));
                }
            }
            match copies {
                Some(copies) => Some(DataSecurity::Replicate { copies }),
                None if p.copies.is_none() => {
                    errors.push(at(format!(
                        "kind = \"replicate\" needs copies (1..={MAX_COPIES})"
                    )));
                    None
                }
                None => None,
            }
        }
        "ec" => {
            if p.copies.is_some() {
                errors.push(at("copies is only valid for kind = \"replicate\"".into()));
            }
            for (field, given) in [("k", p.k), ("m", p.m)] {
                if given.is_none() {
                    errors.push(at(format!(
                        "kind = \"ec\" needs {field} (1..={MAX_FRAGMENTS})"
                    )));
                }
            }
            match (k, m) {
                (Some(k), Some(m)) => Some(DataSecurity::Ec { k, m }),
                _ => None,
            }
        }
        other => {
            errors.push(at(format!(
                "kind \"{other}\" is unknown: use \"replicate\" or \"ec\""
            )));
            None
        }
    };
    let chunk_size = match p.chunk_size {
        None => Some(DEFAULT_CHUNK_SIZE),
        Some(toml::Value::Integer(n)) => match u64::try_from(n) {
            Ok(n) => Some(n),
            Err(_) => {
                errors.push(at(format!(
                    "chunk_size {n} is out of range {}..={}",
                    format_size(MIN_CHUNK_SIZE),
                    format_size(MAX_CHUNK_SIZE)
                )));
                None
            }
        },
        Some(toml::Value::String(s)) => match parse_size(&s) {
            Ok(n) => Some(n),
            Err(e) => {
                errors.push(at(format!("chunk_size {e}")));
                None
            }
        },
        Some(other) => {
            errors.push(at(format!(
                "chunk_size must be a number of bytes or a string like \"8MiB\", not {other}"
            )));
            None
        }
    };
    let security = security?;
    Some(StoragePolicy {
        name: name.to_string(),
        write_quorum: write_quorum.unwrap_or_else(|| default_write_quorum(&security)),
        security,
        chunk_size: chunk_size?,
        min_distance: min_distance.unwrap_or(1),
        pool: p.pool.unwrap_or_else(|| ALL_POOL.to_string()),
    })
}

/// The rules every set obeys: names, ranges, and references between the parts. `broken` names
/// policies that exist in the file but failed to convert (already reported), so references to
/// them are not reported twice.
fn check(set: &PolicySet, broken: &BTreeSet<String>, errors: &mut Vec<String>) {
    let defined = |name: &str| set.policies.contains_key(name) || broken.contains(name);

    for (name, pool) in &set.pools {
        check_name("pool", name, errors);
        if name == ALL_POOL {
            errors.push(format!(
                "pool \"{ALL_POOL}\" is built in (every chunk server) and cannot be redefined"
            ));
        }
        for slot in &pool.slots {
            if !valid_name(slot) {
                errors.push(format!(
                    "pool \"{name}\": slot \"{slot}\" is invalid: {NAME_RULE}"
                ));
            }
        }
    }

    for (name, p) in &set.policies {
        check_name("policy", name, errors);
        let at = |msg: String| format!("policy \"{name}\": {msg}");
        if &p.name != name {
            errors.push(at(format!("is recorded under the name \"{}\"", p.name)));
        }
        match p.security {
            DataSecurity::Replicate { copies } => {
                if !(1..=MAX_COPIES).contains(&copies) {
                    errors.push(at(out_of_range("copies", copies, 1, MAX_COPIES)));
                }
                if p.write_quorum != 0 && !(1..=copies.max(1)).contains(&p.write_quorum) {
                    errors.push(at(format!(
                        "write_quorum {} is out of range 1..={copies} (1..=copies)",
                        p.write_quorum
                    )));
                }
            }
            DataSecurity::Ec { k, m } => {
                let mut ok = true;
                for (field, v) in [("k", k), ("m", m)] {
                    if !(1..=MAX_FRAGMENTS).contains(&v) {
                        errors.push(at(out_of_range(field, v, 1, MAX_FRAGMENTS)));
                        ok = false;
                    }
                }
                if ok && k + m > MAX_FRAGMENTS {
                    errors.push(at(format!(
                        "k + m = {} is larger than {MAX_FRAGMENTS}",
                        k + m
                    )));
                } else if ok && p.write_quorum != 0 && !(k..=k + m).contains(&p.write_quorum) {
                    errors.push(at(format!(
                        "write_quorum {} is out of range {k}..={} (k..=k+m)",
                        p.write_quorum,
                        k + m
                    )));
                }
            }
        }
        if !(MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&p.chunk_size) {
            errors.push(at(format!(
                "chunk_size {} is out of range {}..={}",
                format_size(p.chunk_size),
                format_size(MIN_CHUNK_SIZE),
                format_size(MAX_CHUNK_SIZE)
            )));
        }
        if p.min_distance > MAX_DISTANCE {
            errors.push(at(out_of_range(
                "min_distance",
                p.min_distance,
                0,
                MAX_DISTANCE,
            )));
        }
        if p.pool != ALL_POOL && !set.pools.contains_key(&p.pool) {
            errors.push(at(format!("pool \"{}\" is not defined", p.pool)));
        }
    }

    for (class, policy) in &set.storage_classes {
        check_name("storage class", class, errors);
        if !defined(policy) {
            errors.push(format!(
                "storage class \"{class}\" names unknown policy \"{policy}\""
            ));
        }
    }

    if !defined(&set.default) {
        errors.push(format!("default policy \"{}\" is not defined", set.default));
    }
}

const NAME_RULE: &str = "use 1 to 64 letters, digits, '-', '_', '.' or '+'";

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+'))
}

fn check_name(what: &str, name: &str, errors: &mut Vec<String>) {
    if !valid_name(name) {
        errors.push(format!("{what} name \"{name}\" is invalid: {NAME_RULE}"));
    }
}

fn out_of_range(field: &str, value: impl Display, lo: usize, hi: usize) -> String {
    format!("{field} {value} is out of range {lo}..={hi}")
}

/// A TOML error on one line: `line 3, column 1: unknown field ...` (the snippet is dropped).
fn one_line(e: &toml::de::Error) -> String {
    let message = e
        .message()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(": ");
    match e.span() {
        Some(_) => {
            let text = e.to_string();
            let position = text
                .lines()
                .next()
                .and_then(|l| l.strip_prefix("TOML parse error at "))
                .map(str::to_string);
            match position {
                Some(p) => format!("{p}: {message}"),
                None => message,
            }
        }
        None => message,
    }
}
