//! Object lock (S3 retention and legal hold), kept in a version's properties and enforced here,
//! in the same meta2 transaction as the delete or the change it guards, so a concurrent
//! request cannot slip between a check and the write.
//!
//! - Legal hold `ON`: the version cannot be deleted, whatever its retention.
//! - Retention `COMPLIANCE` until a date: nobody deletes the version or shortens or weakens its
//!   retention before that date.
//! - Retention `GOVERNANCE` until a date: the same, unless the request bypasses governance
//!   (`x-amz-bypass-governance-retention: true`, which the gateway only honours for callers
//!   allowed to).
//!
//! Adding a delete marker deletes no version and is always allowed. A bucket created with
//! object lock carries the container property [`BUCKET_PROP`]; its default retention is given
//! here to every new version that names none, whichever front end wrote it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::wire::ObjectRecord;

/// Property: retention mode of the version (`GOVERNANCE` or `COMPLIANCE`).
pub const MODE: &str = "lock-mode";
/// Property: retention end, Unix milliseconds.
pub const UNTIL_MS: &str = "lock-until-ms";
/// Property: `ON` while the version is under legal hold (absent otherwise).
pub const LEGAL_HOLD: &str = "legal-hold";

pub const GOVERNANCE: &str = "GOVERNANCE";
pub const COMPLIANCE: &str = "COMPLIANCE";

/// Container property present on buckets created with object lock: JSON [`BucketLock`].
pub const BUCKET_PROP: &str = "object-lock";

const DAY_MS: i64 = 86_400_000;

/// A bucket's object lock: its default retention, if any.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketLock {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub years: Option<i32>,
}

impl BucketLock {
    /// The object lock of a container with `properties`, if it was created with one.
    pub fn of(properties: &BTreeMap<String, String>) -> Option<BucketLock> {
        properties
            .get(BUCKET_PROP)
            .map(|j| serde_json::from_str(j).unwrap_or_default())
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_string())
    }

    /// The default retention of a version written at `now_ms`: mode and end.
    pub fn default_retention(&self, now_ms: i64) -> Option<Retention> {
        let mode = self.mode.clone()?;
        let days = match (self.days, self.years) {
            (Some(d), _) => i64::from(d),
            (None, Some(y)) => i64::from(y) * 365,
            (None, None) => return None,
        };
        Some(Retention {
            mode,
            until_ms: now_ms.saturating_add(days.saturating_mul(DAY_MS)),
        })
    }
}

/// Gives `rec` the default retention of its container (with `properties`) unless it names a
/// retention of its own.
pub fn apply_default(properties: &BTreeMap<String, String>, rec: &mut ObjectRecord, now_ms: i64) {
    if rec.delete_marker || rec.props.contains_key(MODE) {
        return;
    }
    if let Some(r) = BucketLock::of(properties).and_then(|b| b.default_retention(now_ms)) {
        rec.props.insert(MODE.to_string(), r.mode);
        rec.props
            .insert(UNTIL_MS.to_string(), r.until_ms.to_string());
    }
}

/// Retention of a version: mode and end (Unix ms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retention {
    pub mode: String,
    pub until_ms: i64,
}

/// The retention recorded in `props`, if any.
pub fn retention(props: &BTreeMap<String, String>) -> Option<Retention> {
    Some(Retention {
        mode: props.get(MODE)?.clone(),
        until_ms: props.get(UNTIL_MS)?.parse().ok()?,
    })
}

/// Whether `props` holds a legal hold.
pub fn legal_hold(props: &BTreeMap<String, String>) -> bool {
    props.get(LEGAL_HOLD).is_some_and(|v| v == "ON")
}

/// Refuses deleting the version `rec` at `now_ms` while it is held or retained.
pub fn check_delete(rec: &ObjectRecord, now_ms: i64, bypass_governance: bool) -> Result<()> {
    if legal_hold(&rec.props) {
        return Err(Error::ObjectLocked(format!(
            "{} version {} is under legal hold",
            rec.key, rec.version_id
        )));
    }
    match retention(&rec.props) {
        Some(r) if r.until_ms > now_ms && (r.mode != GOVERNANCE || !bypass_governance) => {
            Err(Error::ObjectLocked(format!(
                "{} version {} is retained ({}) until {} ms",
                rec.key, rec.version_id, r.mode, r.until_ms
            )))
        }
        _ => Ok(()),
    }
}

/// Refuses a property change that would shorten, weaken or remove an active retention: never
/// for COMPLIANCE, only with `bypass_governance` for GOVERNANCE.
pub fn check_change(
    old: &BTreeMap<String, String>,
    set: &BTreeMap<String, String>,
    remove: &[String],
    now_ms: i64,
    bypass_governance: bool,
) -> Result<()> {
    let touches = |k: &str| set.contains_key(k) || remove.iter().any(|r| r == k);
    if !touches(MODE) && !touches(UNTIL_MS) {
        return Ok(());
    }
    let Some(before) = retention(old).filter(|r| r.until_ms > now_ms) else {
        return Ok(());
    };
    let mut props = old.clone();
    props.extend(set.iter().map(|(k, v)| (k.clone(), v.clone())));
    for k in remove {
        props.remove(k);
    }
    let weaker = match retention(&props) {
        None => true,
        Some(after) => after.until_ms < before.until_ms || after.mode != before.mode,
    };
    // COMPLIANCE → COMPLIANCE later is the only change a COMPLIANCE retention accepts;
    // a GOVERNANCE one may also become COMPLIANCE or shorter, with bypass.
    let allowed = !weaker || (before.mode == GOVERNANCE && bypass_governance);
    if allowed {
        Ok(())
    } else {
        Err(Error::ObjectLocked(format!(
            "the {} retention until {} ms cannot be shortened or changed",
            before.mode, before.until_ms
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn rec(pairs: &[(&str, &str)]) -> ObjectRecord {
        let mut r: ObjectRecord = serde_json::from_value(serde_json::json!({
            "key": "k", "version_id": "v", "content_id": "00", "size": 0, "etag": "",
            "mtime_ms": 0, "content_type": null, "policy": "SINGLE", "chunks": []
        }))
        .expect("record");
        r.props = props(pairs);
        r
    }

    #[test]
    fn deletes_refused_while_held_or_retained() {
        let now = 1_000;
        assert!(check_delete(&rec(&[]), now, false).is_ok());
        assert!(check_delete(&rec(&[(LEGAL_HOLD, "ON")]), now, true).is_err());
        assert!(check_delete(&rec(&[(LEGAL_HOLD, "OFF")]), now, false).is_ok());
        let gov = [(MODE, GOVERNANCE), (UNTIL_MS, "2000")];
        assert!(check_delete(&rec(&gov), now, false).is_err());
        assert!(check_delete(&rec(&gov), now, true).is_ok());
        assert!(check_delete(&rec(&gov), 2_001, false).is_ok(), "expired");
        let comp = [(MODE, COMPLIANCE), (UNTIL_MS, "2000")];
        assert!(check_delete(&rec(&comp), now, true).is_err());
        assert!(check_delete(&rec(&comp), 2_001, false).is_ok(), "expired");
    }

    #[test]
    fn retention_changes() {
        let now = 1_000;
        let gov = props(&[(MODE, GOVERNANCE), (UNTIL_MS, "2000")]);
        let comp = props(&[(MODE, COMPLIANCE), (UNTIL_MS, "2000")]);
        let longer_gov = props(&[(MODE, GOVERNANCE), (UNTIL_MS, "3000")]);
        let shorter_gov = props(&[(MODE, GOVERNANCE), (UNTIL_MS, "1500")]);
        let to_comp = props(&[(MODE, COMPLIANCE), (UNTIL_MS, "2000")]);
        let to_gov = props(&[(MODE, GOVERNANCE), (UNTIL_MS, "2000")]);
        let hold = props(&[(LEGAL_HOLD, "ON")]);
        let all = [MODE.to_string(), UNTIL_MS.to_string()];
        assert!(check_change(&gov, &longer_gov, &[], now, false).is_ok());
        assert!(check_change(&gov, &shorter_gov, &[], now, false).is_err());
        assert!(check_change(&gov, &shorter_gov, &[], now, true).is_ok());
        assert!(check_change(&gov, &to_comp, &[], now, false).is_err());
        assert!(check_change(&gov, &to_comp, &[], now, true).is_ok());
        assert!(check_change(&gov, &BTreeMap::new(), &all, now, false).is_err());
        assert!(check_change(&comp, &to_gov, &[], now, true).is_err());
        assert!(check_change(&comp, &shorter_gov, &[], now, true).is_err());
        assert!(check_change(&comp, &BTreeMap::new(), &all, now, true).is_err());
        assert!(
            check_change(&comp, &to_comp, &[], now, false).is_ok(),
            "same"
        );
        assert!(
            check_change(&comp, &to_gov, &[], 2_001, false).is_ok(),
            "expired"
        );
        assert!(
            check_change(&comp, &hold, &[], now, false).is_ok(),
            "other props"
        );
    }
}
