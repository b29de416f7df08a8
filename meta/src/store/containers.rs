//! Containers: meta0/meta1/buckets entries in the directory and the container's meta2
//! environment. Container names are global (S3 bucket names).

use super::batch::Tx;
use super::command::{Command, outcome};
use super::directory::{account_container_key, account_prefix};
use super::lmdb::to_json;
use super::meta2::Meta2;
use super::records::{Meta1Record, Record, decode, decode_record, encode_record};
use super::{Store, check_name};
use crate::ids;
use heed::RoTxn;
use meta_api::error::{Error, Result};
use meta_api::wire::{ChunkCopy, ContainerInfo, ContainerSettings, PartRecord};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// Container id: hex(SHA-256(account ‖ NUL ‖ name)).
pub fn container_id(account: &str, name: &str) -> String {
    let mut h = Sha256::new();
    h.update(account.as_bytes());
    h.update([0u8]);
    h.update(name.as_bytes());
    hex::encode(h.finalize())
}

/// meta0 slot of a container id: its first 16 bits.
fn meta0_slot(cid: &str) -> Result<[u8; 2]> {
    let b = cid
        .get(..4)
        .and_then(|s| hex::decode(s).ok())
        .ok_or_else(|| Error::Internal(format!("bad container id {cid}")))?;
    Ok([b[0], b[1]])
}

fn check_container_name(name: &str) -> Result<()> {
    check_name("container name", name, 255)?;
    if name.contains('/') {
        return Err(Error::InvalidArgument(
            "container name contains '/'".to_string(),
        ));
    }
    Ok(())
}

/// A container resolved through the directory.
pub struct Resolved {
    pub cid: String,
    pub meta1: Meta1Record,
    pub env: Arc<Meta2>,
}

impl Store {
    /// Finds a container by name (`NoSuchContainer`) and opens its meta2.
    pub(crate) fn resolve(&self, name: &str) -> Result<Resolved> {
        let txn = self.dir.env.read_txn()?;
        self.resolve_in(&txn, name)
    }

    /// [`Store::resolve`] through the transaction `txn` (a batch sees its own changes).
    pub(crate) fn resolve_in(&self, txn: &RoTxn, name: &str) -> Result<Resolved> {
        let (cid, meta1) = {
            let Some(owner) = self.dir.buckets.get(txn, name.as_bytes())? else {
                return Err(Error::NoSuchContainer(name.to_string()));
            };
            let owner = String::from_utf8_lossy(owner).into_owned();
            let cid = container_id(&owner, name);
            let Some(m1) = self.dir.meta1.get(txn, cid.as_bytes())? else {
                return Err(Error::NoSuchContainer(name.to_string()));
            };
            (cid, decode_record::<Meta1Record>(m1)?)
        };
        let env = self.envs.get(&cid, false)?;
        Ok(Resolved { cid, meta1, env })
    }

    /// Creates a container owned by `account`, its meta2 on this meta.
    pub fn create_container(
        &self,
        account: &str,
        name: &str,
        settings: &ContainerSettings,
    ) -> Result<ContainerInfo> {
        let command = Command::CreateContainer {
            account: account.to_string(),
            name: name.to_string(),
            settings: Box::new(settings.clone()),
            meta2: vec![self.own_addr.clone()],
            created_ms: ids::now_ms(),
        };
        outcome!(self.apply(command)?, Container)
    }

    pub(super) fn apply_create_container(
        &self,
        tx: &mut Tx<'_, '_, '_>,
        account: &str,
        name: &str,
        settings: &ContainerSettings,
        meta2: Vec<String>,
        created_ms: i64,
    ) -> Result<ContainerInfo> {
        check_container_name(name)?;
        let cid = container_id(account, name);
        let txn = &mut *tx.dir;
        if self.dir.accounts.get(txn, account.as_bytes())?.is_none() {
            return Err(Error::NoSuchAccount(account.to_string()));
        }
        if let Some(owner) = self.dir.buckets.get(txn, name.as_bytes())? {
            return Err(Error::ContainerExists {
                name: name.to_string(),
                owner: String::from_utf8_lossy(owner).into_owned(),
            });
        }
        if let Some(p) = &settings.policy {
            self.check_policy_name(txn, p)?;
        }
        // The meta2 environment exists (durably) before the directory points to it (a
        // command creating a container runs in a batch of its own).
        self.envs.get(&cid, true)?;
        let m1 = Meta1Record {
            v: Meta1Record::VERSION,
            account: account.to_string(),
            name: name.to_string(),
            meta2,
            created_ms,
            settings: settings.into(),
        };
        self.dir
            .meta0
            .put(txn, &meta0_slot(&cid)?, &to_json(&m1.meta2)?)?;
        self.dir
            .meta1
            .put(txn, cid.as_bytes(), &encode_record(&m1)?)?;
        self.dir
            .buckets
            .put(txn, name.as_bytes(), account.as_bytes())?;
        self.dir
            .account_containers
            .put(txn, &account_container_key(account, name), &[])?;
        tracing::info!(account, container = name, cid = %cid, "container created");
        Ok(info(cid, m1, Default::default()))
    }

    /// A container with its usage counters.
    pub fn get_container(&self, name: &str) -> Result<ContainerInfo> {
        let r = self.resolve(name)?;
        let usage = r.env.usage_now()?;
        Ok(info(r.cid, r.meta1, usage))
    }

    /// The containers of `account`, sorted by name (`NoSuchAccount`).
    pub fn list_containers(&self, account: &str) -> Result<Vec<ContainerInfo>> {
        let mut found = Vec::new();
        {
            let txn = self.dir.env.read_txn()?;
            if self.dir.accounts.get(&txn, account.as_bytes())?.is_none() {
                return Err(Error::NoSuchAccount(account.to_string()));
            }
            for item in self
                .dir
                .account_containers
                .prefix_iter(&txn, &account_prefix(account))?
            {
                let (k, _) = item?;
                let name = String::from_utf8_lossy(&k[account.len() + 1..]).into_owned();
                let cid = container_id(account, &name);
                match self.dir.meta1.get(&txn, cid.as_bytes())? {
                    Some(m1) => found.push((cid, decode_record::<Meta1Record>(m1)?)),
                    None => tracing::warn!(account, container = ?name, "index entry without meta1"),
                }
            }
        }
        let mut out = Vec::with_capacity(found.len());
        for (cid, m1) in found {
            let usage = self.envs.get(&cid, false)?.usage_now()?;
            out.push(info(cid, m1, usage));
        }
        Ok(out)
    }

    /// Deletes an empty container of `account`: aborts its uploads (their chunks go to GC),
    /// removes its directory entries and its meta2 environment.
    pub fn delete_container(&self, account: &str, name: &str) -> Result<()> {
        let command = Command::DeleteContainer {
            account: account.to_string(),
            name: name.to_string(),
            gc_due_ms: self.gc_due_ms(),
        };
        outcome!(self.apply(command)?, Done)
    }

    pub(super) fn apply_delete_container(
        &self,
        tx: &mut Tx<'_, '_, '_>,
        account: &str,
        name: &str,
        gc_due_ms: u64,
    ) -> Result<()> {
        let r = self.resolve_in(tx.dir, name)?;
        if r.meta1.account != account {
            return Err(Error::NoSuchContainer(name.to_string()));
        }
        let garbage: Vec<ChunkCopy> = tx.meta2(&r.cid, |env, txn| {
            if !env.objects.is_empty(txn)? || !env.versions.is_empty(txn)? {
                return Err(Error::ContainerNotEmpty(name.to_string()));
            }
            let mut garbage = Vec::new();
            for item in env.parts.iter(txn)? {
                let (_, v) = item?;
                let part: PartRecord = decode(v)?;
                garbage.extend(part.chunks.into_iter().flat_map(|c| c.copies));
            }
            env.parts.clear(txn)?;
            env.uploads.clear(txn)?;
            // Whatever the counters still say leaves the account's counter with the container.
            let left = env.read_usage(txn)?;
            env.add_usage(txn, -(left.objects as i64), -i128::from(left.bytes))?;
            Ok(garbage)
        })?;
        self.dir.meta1.delete(tx.dir, r.cid.as_bytes())?;
        super::quotas::forget_container(&self.dir, tx.dir, &r.cid)?;
        self.dir.buckets.delete(tx.dir, name.as_bytes())?;
        self.dir
            .account_containers
            .delete(tx.dir, &account_container_key(account, name))?;
        self.push_gc(tx.dir, &garbage, gc_due_ms)?;
        // The environment's files go once the batch (which runs this command alone) is
        // committed; a crash before leaves a directory nothing points to.
        let cid = r.cid;
        drop(r.env);
        tx.remove_after.push(cid.clone());
        tracing::info!(account, container = name, cid = %cid, "container deleted");
        Ok(())
    }
}

pub(super) fn info(cid: String, m1: Meta1Record, usage: super::Usage) -> ContainerInfo {
    ContainerInfo {
        account: m1.account,
        name: m1.name,
        cid,
        created_ms: m1.created_ms,
        settings: m1.settings.into(),
        objects: usage.objects,
        bytes: usage.bytes,
        meta2: m1.meta2,
    }
}
