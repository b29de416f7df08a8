//! Lifecycle rules applied to one container (see [`meta_api::wire::LifecycleRule`] and the worker
//! in [`crate::lifecycle`]): expiry of current versions (a delete marker in a versioned
//! container), of non-current versions and of lone delete markers, and the abort of old
//! multipart uploads. Every removal goes through [`Store::delete_version`] or
//! [`Store::abort_upload`], so the chunks go to GC as for a client's request.

use super::Store;
use meta_api::error::Result;
use meta_api::wire::{LifecycleRule, ListUploadsRequest, VersionListRequest, VersionSummary};

/// Versions or uploads read per listing page.
const PAGE: u32 = 1000;

/// What one lifecycle pass over a container did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LifecyclePass {
    /// Current versions expired (deleted, or hidden behind a new delete marker).
    pub expired: u64,
    /// Non-current versions removed.
    pub noncurrent: u64,
    /// Lone delete markers removed.
    pub markers: u64,
    /// Multipart uploads aborted.
    pub aborted: u64,
}

impl std::ops::AddAssign for LifecyclePass {
    fn add_assign(&mut self, o: LifecyclePass) {
        self.expired += o.expired;
        self.noncurrent += o.noncurrent;
        self.markers += o.markers;
        self.aborted += o.aborted;
    }
}

/// Whether `days` lifecycle days of `day_ms` each have passed between `since_ms` and `now_ms`.
fn due(since_ms: i64, days: u64, day_ms: i64, now_ms: i64) -> bool {
    let wait = i64::try_from(days)
        .unwrap_or(i64::MAX)
        .saturating_mul(day_ms);
    since_ms.saturating_add(wait) <= now_ms
}

impl Store {
    /// The enabled lifecycle rules of a container (none when unset).
    pub fn lifecycle_rules(&self, container: &str) -> Result<Vec<LifecycleRule>> {
        let info = self.get_container(container)?;
        let rules = info.settings.props.lifecycle.map(|l| l.rules);
        Ok(rules.into_iter().flatten().filter(|r| r.enabled).collect())
    }

    /// One lifecycle pass over every container that has rules.
    pub fn lifecycle_pass_all(&self, now_ms: i64, day_ms: i64) -> Result<LifecyclePass> {
        let mut total = LifecyclePass::default();
        for account in self.list_accounts()? {
            for c in self.list_containers(&account.name)? {
                if c.settings.props.lifecycle.is_none() {
                    continue;
                }
                match self.lifecycle_pass(&c.name, now_ms, day_ms) {
                    Ok(p) => total += p,
                    Err(e) => {
                        tracing::warn!(container = ?c.name, error = %e, "lifecycle pass failed")
                    }
                }
            }
        }
        Ok(total)
    }

    /// Applies a container's rules as of `now_ms`, a lifecycle day lasting `day_ms`.
    pub fn lifecycle_pass(
        &self,
        container: &str,
        now_ms: i64,
        day_ms: i64,
    ) -> Result<LifecyclePass> {
        let rules = self.lifecycle_rules(container)?;
        let mut pass = LifecyclePass::default();
        if rules.is_empty() {
            return Ok(pass);
        }
        let on_versions = rules.iter().any(|r| {
            r.expiration_days.is_some()
                || r.expiration_date_ms.is_some()
                || r.expired_object_delete_marker
                || r.noncurrent_days.is_some()
        });
        if on_versions {
            let mut req = VersionListRequest {
                max_keys: PAGE,
                ..Default::default()
            };
            // The versions of the key being read, newest first (a key may span pages).
            let mut group: Vec<VersionSummary> = Vec::new();
            loop {
                let page = self.list_versions(container, &req)?;
                for v in page.versions {
                    if group.first().is_some_and(|g| g.key != v.key) {
                        pass += self.apply_to_key(container, &rules, &group, now_ms, day_ms);
                        group.clear();
                    }
                    group.push(v);
                }
                if !page.truncated || page.next_key_marker.is_none() {
                    break;
                }
                req.key_marker = page.next_key_marker;
                req.version_id_marker = page.next_version_id_marker;
            }
            if !group.is_empty() {
                pass += self.apply_to_key(container, &rules, &group, now_ms, day_ms);
            }
        }
        if rules.iter().any(|r| r.abort_multipart_days.is_some()) {
            pass.aborted += self.abort_old_uploads(container, &rules, now_ms, day_ms)?;
        }
        if pass != LifecyclePass::default() {
            tracing::info!(container, ?pass, "lifecycle pass");
        }
        Ok(pass)
    }

    /// The rules that select one version (its tags read from its record when a rule filters
    /// on tags).
    fn selecting<'r>(
        &self,
        container: &str,
        rules: &'r [LifecycleRule],
        v: &VersionSummary,
    ) -> Vec<&'r LifecycleRule> {
        let needs_props = rules.iter().any(|r| !r.tags.is_empty());
        let props = if needs_props {
            self.get_object_version(container, &v.key, Some(&v.version_id))
                .map(|r| r.props)
                .unwrap_or_default()
        } else {
            Default::default()
        };
        rules
            .iter()
            .filter(|r| r.selects(&v.key, v.size, &props))
            .collect()
    }

    /// Applies the rules to the versions of one key (newest first). Failures are logged and
    /// retried on the next pass.
    fn apply_to_key(
        &self,
        container: &str,
        rules: &[LifecycleRule],
        versions: &[VersionSummary],
        now_ms: i64,
        day_ms: i64,
    ) -> LifecyclePass {
        let mut pass = LifecyclePass::default();
        let delete = |version: Option<&str>| match self.delete_version(
            container,
            &versions[0].key,
            version,
            false,
        ) {
            Ok(_) => true,
            // Object lock wins over lifecycle: the version stays until its lock ends.
            Err(crate::Error::ObjectLocked(why)) => {
                tracing::debug!(container, %why, "lifecycle skips a locked version");
                false
            }
            Err(e) => {
                tracing::warn!(container, key = ?versions[0].key, error = %e,
                    "lifecycle delete failed; will retry");
                false
            }
        };
        let Some(latest) = versions.first() else {
            return pass;
        };
        // The current version.
        if latest.is_latest && !latest.delete_marker {
            let expire = self.selecting(container, rules, latest).iter().any(|r| {
                r.expiration_days
                    .is_some_and(|d| due(latest.mtime_ms, d, day_ms, now_ms))
                    || r.expiration_date_ms.is_some_and(|at| at <= now_ms)
            });
            if expire && delete(None) {
                pass.expired += 1;
            }
        }
        // A delete marker with nothing behind it.
        if latest.is_latest && latest.delete_marker && versions.len() == 1 {
            let remove = self
                .selecting(container, rules, latest)
                .iter()
                .any(|r| r.expired_object_delete_marker);
            if remove && delete(Some(&latest.version_id)) {
                pass.markers += 1;
            }
        }
        // Non-current versions: each became non-current when the next newer one was written.
        for (i, v) in versions.iter().enumerate().skip(1) {
            let since = versions[i - 1].mtime_ms;
            let newer_noncurrent = (i - 1) as u64;
            let remove = self.selecting(container, rules, v).iter().any(|r| {
                r.noncurrent_days
                    .is_some_and(|d| due(since, d, day_ms, now_ms))
                    && r.newer_noncurrent_versions
                        .is_none_or(|keep| newer_noncurrent >= keep)
            });
            if remove && delete(Some(&v.version_id)) {
                pass.noncurrent += 1;
            }
        }
        pass
    }

    /// Aborts the uploads some rule says are too old; returns how many.
    fn abort_old_uploads(
        &self,
        container: &str,
        rules: &[LifecycleRule],
        now_ms: i64,
        day_ms: i64,
    ) -> Result<u64> {
        let mut req = ListUploadsRequest {
            max_uploads: PAGE,
            ..Default::default()
        };
        let mut aborted = 0;
        loop {
            let page = self.list_uploads(container, &req)?;
            for u in &page.uploads {
                let old = rules.iter().any(|r| {
                    r.abort_multipart_days
                        .is_some_and(|d| due(u.initiated_ms, d, day_ms, now_ms))
                        && r.selects(&u.key, 0, &u.props)
                });
                if !old {
                    continue;
                }
                match self.abort_upload(container, &u.upload_id) {
                    Ok(()) => aborted += 1,
                    Err(e) => tracing::warn!(container, upload = %u.upload_id, error = %e,
                        "lifecycle abort failed; will retry"),
                }
            }
            if !page.truncated || page.next_key_marker.is_none() {
                break;
            }
            req.key_marker = page.next_key_marker;
            req.upload_id_marker = page.next_upload_id_marker;
        }
        Ok(aborted)
    }
}
