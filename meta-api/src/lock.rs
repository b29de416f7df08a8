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
//! object lock carries the setting [`crate::settings::ContainerProps::object_lock`]; its default
//! retention is given here to every new version that names none, whichever front end wrote it.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
pub use crate::settings::Retention;
use crate::settings::{ContainerProps, VersionProps};
use crate::wire::ObjectRecord;

pub const GOVERNANCE: &str = "GOVERNANCE";
pub const COMPLIANCE: &str = "COMPLIANCE";

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

/// Gives `rec` the default retention of its container (with `props`) unless it names a
/// retention of its own.
pub fn apply_default(props: &ContainerProps, rec: &mut ObjectRecord, now_ms: i64) {
    if rec.delete_marker || rec.props.retention.is_some() {
        return;
    }
    if let Some(r) = props
        .object_lock
        .as_ref()
        .and_then(|b| b.default_retention(now_ms))
    {
        rec.props.retention = Some(r);
    }
}

/// Refuses deleting the version `rec` at `now_ms` while it is held or retained.
pub fn check_delete(rec: &ObjectRecord, now_ms: i64, bypass_governance: bool) -> Result<()> {
    if rec.props.legal_hold {
        return Err(Error::ObjectLocked(format!(
            "{} version {} is under legal hold",
            rec.key, rec.version_id
        )));
    }
    match &rec.props.retention {
        Some(r) if r.until_ms > now_ms && (r.mode != GOVERNANCE || !bypass_governance) => {
            Err(Error::ObjectLocked(format!(
                "{} version {} is retained ({}) until {} ms",
                rec.key, rec.version_id, r.mode, r.until_ms
            )))
        }
        _ => Ok(()),
    }
}

/// Refuses a change of properties from `old` to `new` that would shorten, weaken or remove an
/// active retention: never for COMPLIANCE, only with `bypass_governance` for GOVERNANCE.
pub fn check_change(
    old: &VersionProps,
    new: &VersionProps,
    now_ms: i64,
    bypass_governance: bool,
) -> Result<()> {
    let Some(before) = old.retention.as_ref().filter(|r| r.until_ms > now_ms) else {
        return Ok(());
    };
    let weaker = match &new.retention {
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

    fn retained(mode: &str, until_ms: i64) -> VersionProps {
        VersionProps {
            retention: Some(Retention {
                mode: mode.to_string(),
                until_ms,
            }),
            ..Default::default()
        }
    }

    fn rec(props: VersionProps) -> ObjectRecord {
        let mut r: ObjectRecord = serde_json::from_value(serde_json::json!({
            "key": "k", "version_id": "v", "content_id": "00", "size": 0, "etag": "",
            "mtime_ms": 0, "content_type": null, "policy": "SINGLE", "chunks": []
        }))
        .expect("record");
        r.props = props;
        r
    }

    #[test]
    fn deletes_refused_while_held_or_retained() {
        let now = 1_000;
        let held = VersionProps {
            legal_hold: true,
            ..Default::default()
        };
        assert!(check_delete(&rec(VersionProps::default()), now, false).is_ok());
        assert!(check_delete(&rec(held), now, true).is_err());
        let gov = retained(GOVERNANCE, 2000);
        assert!(check_delete(&rec(gov.clone()), now, false).is_err());
        assert!(check_delete(&rec(gov.clone()), now, true).is_ok());
        assert!(check_delete(&rec(gov), 2_001, false).is_ok(), "expired");
        let comp = retained(COMPLIANCE, 2000);
        assert!(check_delete(&rec(comp.clone()), now, true).is_err());
        assert!(check_delete(&rec(comp), 2_001, false).is_ok(), "expired");
    }

    #[test]
    fn retention_changes() {
        let now = 1_000;
        let gov = retained(GOVERNANCE, 2000);
        let comp = retained(COMPLIANCE, 2000);
        let longer_gov = retained(GOVERNANCE, 3000);
        let shorter_gov = retained(GOVERNANCE, 1500);
        let none = VersionProps::default();
        let mut comp_held = comp.clone();
        comp_held.legal_hold = true;
        assert!(check_change(&gov, &longer_gov, now, false).is_ok());
        assert!(check_change(&gov, &shorter_gov, now, false).is_err());
        assert!(check_change(&gov, &shorter_gov, now, true).is_ok());
        assert!(check_change(&gov, &comp, now, false).is_err());
        assert!(check_change(&gov, &comp, now, true).is_ok());
        assert!(check_change(&gov, &none, now, false).is_err());
        assert!(check_change(&comp, &gov, now, true).is_err());
        assert!(check_change(&comp, &shorter_gov, now, true).is_err());
        assert!(check_change(&comp, &none, now, true).is_err());
        assert!(check_change(&comp, &comp, now, false).is_ok(), "same");
        assert!(check_change(&comp, &gov, 2_001, false).is_ok(), "expired");
        assert!(
            check_change(&comp, &comp_held, now, false).is_ok(),
            "other props"
        );
    }
}
