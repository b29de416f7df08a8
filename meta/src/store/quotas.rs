//! Quotas and the per-account usage counters they are checked against.
//!
//! A quota limits the bytes and the objects an account, or one of its containers, holds. It is
//! enforced inside the command that would exceed it, in the same transactions that write the
//! object (not in the gateway, where two writers race): a meta2 step that makes a container
//! grow ([`super::batch::Tx::meta2_within_quota`]) compares the container's usage after the
//! step with the container's quota, and the account's usage after the step with the account's
//! quota, and refuses with `QuotaExceeded` (nothing written) when either is over. Steps that
//! shrink or keep the usage are never refused, so deletes always work.
//!
//! The container's usage is its meta2 counter (in the step's own transaction). The account's
//! usage spans many meta2 environments, so the directory keeps a counter per account
//! (`account_usage`: account → [`Usage`] encoded), moved by every meta2 step's usage change:
//! the batch measures each step's change, sums it per account while the batch runs (what a
//! later step of the same batch sees) and adds the sums to the counters in the directory's
//! transaction at commit. A step replayed after a crash gets its change from the outbox, like
//! its answer, so the counters stay exact ([`super::batch`]). Directory format 4 added the
//! counters; an older directory gets them computed from every container at open.
//!
//! Layout: `quotas` holds `a` ‖ NUL ‖ account and `c` ‖ NUL ‖ container id →
//! [`QuotaRecord`].

use super::Store;
use super::batch::Tx;
use super::command::{Command, outcome};
use super::directory::{Directory, account_prefix};
use super::meta2::Usage;
use super::records::{QuotaRecord, Record, decode_record, encode_record};
use heed::{RoTxn, RwTxn};
use meta_api::api::{Quota, QuotaInfo};
use meta_api::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// A change of usage made by one step (or the sum of several).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageDelta {
    pub objects: i64,
    pub bytes: i64,
}

impl UsageDelta {
    /// `after - before`.
    pub fn between(before: Usage, after: Usage) -> UsageDelta {
        let d = |a: u64, b: u64| (i128::from(a) - i128::from(b)) as i64;
        UsageDelta {
            objects: d(after.objects, before.objects),
            bytes: d(after.bytes, before.bytes),
        }
    }

    pub fn is_zero(&self) -> bool {
        self.objects == 0 && self.bytes == 0
    }

    /// True when the step made something grow (only such steps can be refused).
    pub fn grows(&self) -> bool {
        self.objects > 0 || self.bytes > 0
    }

    pub fn add(&mut self, other: UsageDelta) {
        self.objects = self.objects.saturating_add(other.objects);
        self.bytes = self.bytes.saturating_add(other.bytes);
    }

    /// `usage` moved by this change.
    pub fn apply_to(&self, usage: Usage) -> Usage {
        usage.plus(i128::from(self.objects), i128::from(self.bytes))
    }
}

fn account_key(account: &str) -> Vec<u8> {
    let mut k = b"a\0".to_vec();
    k.extend_from_slice(account.as_bytes());
    k
}

fn container_key(cid: &str) -> Vec<u8> {
    let mut k = b"c\0".to_vec();
    k.extend_from_slice(cid.as_bytes());
    k
}

fn read_quota(dir: &Directory, txn: &RoTxn, key: &[u8]) -> Result<Option<QuotaRecord>> {
    dir.quotas.get(txn, key)?.map(decode_record).transpose()
}

/// The account's counter as committed (or as written earlier in `txn`).
pub(super) fn account_usage(dir: &Directory, txn: &RoTxn, account: &str) -> Result<Usage> {
    Ok(dir
        .account_usage
        .get(txn, account.as_bytes())?
        .map(Usage::decode)
        .unwrap_or_default())
}

/// Adds `delta` to an account's counter.
pub(super) fn add_account_usage(
    dir: &Directory,
    txn: &mut RwTxn,
    account: &str,
    delta: UsageDelta,
) -> Result<()> {
    let now = delta.apply_to(account_usage(dir, txn, account)?);
    dir.account_usage
        .put(txn, account.as_bytes(), &now.encode())?;
    Ok(())
}

/// What a growing step is checked against.
pub(super) struct Subject<'a> {
    pub account: &'a str,
    pub container: &'a str,
    pub cid: &'a str,
}

fn over(what: &str, used: u64, limit: Option<u64>, grew: bool, unit: &str) -> Option<String> {
    match limit {
        Some(max) if grew && used > max => Some(format!(
            "{what} would hold {used} {unit}, over its quota of {max} {unit}"
        )),
        _ => None,
    }
}

/// Refuses a step that grew its container to `after` (by `delta`) past the container's or
/// the account's quota. `pending` is the account's change made earlier in this batch (not yet
/// in its counter).
pub(super) fn check(
    dir: &Directory,
    txn: &RoTxn,
    who: &Subject<'_>,
    after: Usage,
    delta: UsageDelta,
    pending: UsageDelta,
) -> Result<()> {
    let grew_objects = delta.objects > 0;
    let grew_bytes = delta.bytes > 0;
    if let Some(q) = read_quota(dir, txn, &container_key(who.cid))? {
        let what = format!("bucket {}", who.container);
        let refused = over(&what, after.bytes, q.max_bytes, grew_bytes, "bytes")
            .or_else(|| over(&what, after.objects, q.max_objects, grew_objects, "objects"));
        if let Some(m) = refused {
            return Err(Error::QuotaExceeded(m));
        }
    }
    if let Some(q) = read_quota(dir, txn, &account_key(who.account))? {
        let mut change = pending;
        change.add(delta);
        let total = change.apply_to(account_usage(dir, txn, who.account)?);
        let what = format!("account {}", who.account);
        let refused = over(&what, total.bytes, q.max_bytes, grew_bytes, "bytes")
            .or_else(|| over(&what, total.objects, q.max_objects, grew_objects, "objects"));
        if let Some(m) = refused {
            return Err(Error::QuotaExceeded(m));
        }
    }
    Ok(())
}

/// The answer of a quota call.
fn quota_info(account: &str, container: Option<&str>, quota: Quota, usage: Usage) -> QuotaInfo {
    QuotaInfo {
        account: account.to_string(),
        container: container.map(str::to_string),
        quota,
        objects: usage.objects,
        bytes: usage.bytes,
    }
}

/// Removes every quota of an account (its containers are gone already) and its counter.
pub(super) fn forget_account(dir: &Directory, txn: &mut RwTxn, account: &str) -> Result<()> {
    dir.quotas.delete(txn, &account_key(account))?;
    dir.account_usage.delete(txn, account.as_bytes())?;
    Ok(())
}

/// Removes a deleted container's quota.
pub(super) fn forget_container(dir: &Directory, txn: &mut RwTxn, cid: &str) -> Result<()> {
    dir.quotas.delete(txn, &container_key(cid))?;
    Ok(())
}

impl Store {
    /// Sets (or, with both limits `None`, removes) the quota of an account or of one of its
    /// containers.
    pub fn set_quota(
        &self,
        account: &str,
        container: Option<&str>,
        quota: Quota,
    ) -> Result<QuotaInfo> {
        let command = Command::SetQuota {
            account: account.to_string(),
            container: container.map(str::to_string),
            max_bytes: quota.max_bytes,
            max_objects: quota.max_objects,
        };
        outcome!(self.apply(command)?, Quota)
    }

    pub(super) fn apply_set_quota(
        &self,
        tx: &mut Tx<'_, '_, '_>,
        account: &str,
        container: Option<&str>,
        quota: Quota,
    ) -> Result<QuotaInfo> {
        let key = self.quota_key_in(tx.dir, account, container)?;
        if quota == Quota::default() {
            self.dir.quotas.delete(tx.dir, &key)?;
        } else {
            let rec = QuotaRecord {
                v: QuotaRecord::VERSION,
                max_bytes: quota.max_bytes,
                max_objects: quota.max_objects,
            };
            self.dir.quotas.put(tx.dir, &key, &encode_record(&rec)?)?;
        }
        tracing::info!(account, container, ?quota, "quota set");
        // Usage as the batch sees it (writes earlier in the batch are not committed yet).
        let usage = match container {
            Some(name) => {
                let r = self.resolve_in(tx.dir, name)?;
                tx.meta2(&r.cid, |m2, txn| m2.read_usage(txn))?
            }
            None => tx.account_usage(account)?,
        };
        Ok(quota_info(account, container, quota, usage))
    }

    /// The quota (no limits when none is set) and usage of an account or of one of its
    /// containers.
    pub fn get_quota(&self, account: &str, container: Option<&str>) -> Result<QuotaInfo> {
        let txn = self.dir.env.read_txn()?;
        self.quota_info_in(&txn, account, container)
    }

    /// The `quotas` key of an account or container, checking that it exists and that the
    /// container belongs to the account.
    fn quota_key_in(&self, txn: &RoTxn, account: &str, container: Option<&str>) -> Result<Vec<u8>> {
        if self.dir.accounts.get(txn, account.as_bytes())?.is_none() {
            return Err(Error::NoSuchAccount(account.to_string()));
        }
        Ok(match container {
            None => account_key(account),
            Some(name) => {
                let r = self.resolve_in(txn, name)?;
                if r.meta1.account != account {
                    return Err(Error::NoSuchContainer(format!(
                        "{name} (not a container of account {account})"
                    )));
                }
                container_key(&r.cid)
            }
        })
    }

    fn quota_info_in(
        &self,
        txn: &RoTxn,
        account: &str,
        container: Option<&str>,
    ) -> Result<QuotaInfo> {
        let key = self.quota_key_in(txn, account, container)?;
        let quota = read_quota(&self.dir, txn, &key)?
            .map(|q| Quota {
                max_bytes: q.max_bytes,
                max_objects: q.max_objects,
            })
            .unwrap_or_default();
        let usage = match container {
            None => account_usage(&self.dir, txn, account)?,
            Some(name) => self.resolve_in(txn, name)?.env.usage_now()?,
        };
        Ok(quota_info(account, container, quota, usage))
    }

    /// Directory format 3 -> 4: every account's counter, summed from its containers' meta2
    /// counters (at open, before any command; see the module docs).
    pub(crate) fn build_account_usage(&self) -> Result<()> {
        let started = std::time::Instant::now();
        let mut txn = self.dir.env.write_txn()?;
        let mut containers = Vec::new();
        for item in self.dir.meta1.iter(&txn)? {
            let (k, v) = item?;
            let m1: super::records::Meta1Record = decode_record(v)?;
            containers.push((String::from_utf8_lossy(k).into_owned(), m1.account));
        }
        self.dir.account_usage.clear(&mut txn)?;
        let mut sums: std::collections::BTreeMap<String, UsageDelta> = Default::default();
        for (cid, account) in &containers {
            let usage = self.envs.get(cid, false)?.usage_now()?;
            sums.entry(account.clone())
                .or_default()
                .add(UsageDelta::between(Usage::default(), usage));
        }
        for (account, sum) in &sums {
            add_account_usage(&self.dir, &mut txn, account, *sum)?;
        }
        super::format::write(&self.dir.settings, &mut txn, 4)?;
        txn.commit()?;
        tracing::info!(
            containers = containers.len(),
            accounts = sums.len(),
            secs = started.elapsed().as_secs_f64(),
            "directory format 3 -> 4: account usage counters summed from the containers"
        );
        Ok(())
    }
}

/// How many containers `account` owns.
pub(super) fn owns_containers(dir: &Directory, txn: &RoTxn, account: &str) -> Result<usize> {
    Ok(dir
        .account_containers
        .prefix_iter(txn, &account_prefix(account))?
        .count())
}
