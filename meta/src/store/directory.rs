//! The directory environment (`<data_dir>/directory/`): its databases, its format check and
//! migration at open (records themselves are in [`super::records`]).
//!
//! Databases: `meta0` (slot u16 BE → JSON list of meta1 addresses), `meta1` (cid → [`super::records::Meta1Record`]),
//! `buckets` (container name → owning account), `accounts` (name → [`super::records::AccountRecord`]),
//! `account_containers` (account ‖ NUL ‖ container name → empty; the per-account index),
//! `credentials` (access key → [`super::records::CredentialV2`], its secret plaintext or sealed), `services` (id → `ServiceRecord`), `gc` (service id
//! ‖ NUL ‖ chunk id → due time) and `gc_due` (service id ‖ NUL ‖ due time ‖ chunk id → empty;
//! see [`super::gc`]), `settings` (namespace-wide settings, e.g. `policy` → the applied
//! policy file's TOML text), `swift_users` (account ‖ NUL ‖ user → [`super::records::SwiftUserV2`]), `tokens`
//! (Swift token → `SwiftToken`), `expiry` (delete-at seconds u64 BE ‖ cid ‖ encoded object key →
//! [`super::records::ExpiryEntry`]; the expirer's index of objects carrying `x-delete-at`),
//! the reverse index, repair queue and lost services of [`super::rdir`], and `quotas` and
//! `account_usage` (see [`super::quotas`]), `requests` and `requests_at` (answers remembered by
//! request id: [`super::dedupe`]), `kms_keys` (key name → [`super::records::KmsKeyRecord`]: the
//! built-in key store of SSE-KMS, [`super::kms`]).

use super::format;
use super::lmdb::{self, Db, Env};
use heed::RwTxn;
use meta_api::error::Result;
use std::path::Path;

/// The open directory environment.
pub struct Directory {
    pub env: Env,
    pub meta0: Db,
    pub meta1: Db,
    pub buckets: Db,
    pub accounts: Db,
    pub account_containers: Db,
    pub credentials: Db,
    pub services: Db,
    pub gc: Db,
    pub gc_due: Db,
    pub settings: Db,
    pub swift_users: Db,
    pub tokens: Db,
    pub expiry: Db,
    pub rdir: Db,
    pub repair: Db,
    pub repair_at: Db,
    pub lost: Db,
    pub quotas: Db,
    pub account_usage: Db,
    pub requests: Db,
    pub requests_at: Db,
    pub kms_keys: Db,
    /// Opened before format 4: the account counters must be summed from the containers
    /// ([`super::Store::open`] does it, then writes format 4).
    pub account_usage_missing: bool,
    /// The directory is older than format 5 (see `migrate`).
    pub format_5_missing: bool,
    /// Opened at format 2: the reverse index must be built from the records
    /// ([`super::Store::open`] does it, then writes format 3).
    pub rdir_missing: bool,
}

impl Directory {
    /// Every database of the environment.
    pub fn dbs(&self) -> [Db; 21] {
        [
            self.meta0,
            self.meta1,
            self.buckets,
            self.accounts,
            self.account_containers,
            self.credentials,
            self.services,
            self.gc,
            self.gc_due,
            self.settings,
            self.swift_users,
            self.tokens,
            self.expiry,
            self.rdir,
            self.repair,
            self.repair_at,
            self.lost,
            self.quotas,
            self.account_usage,
            self.requests,
            self.requests_at,
        ]
    }

    /// Opens the environment, creating its databases and (re)filling meta0 when it is empty or
    /// points to another address.
    pub fn open(path: &Path, map_size: usize, own_addr: &str) -> Result<Directory> {
        let env = lmdb::open_env_with(path, map_size, 24, lmdb::Sync::DataOnly)?;
        let mut txn = env.write_txn()?;
        let dir = Directory {
            meta0: lmdb::create_db(&env, &mut txn, "meta0")?,
            meta1: lmdb::create_db(&env, &mut txn, "meta1")?,
            buckets: lmdb::create_db(&env, &mut txn, "buckets")?,
            accounts: lmdb::create_db(&env, &mut txn, "accounts")?,
            account_containers: lmdb::create_db(&env, &mut txn, "account_containers")?,
            credentials: lmdb::create_db(&env, &mut txn, "credentials")?,
            services: lmdb::create_db(&env, &mut txn, "services")?,
            gc: lmdb::create_db(&env, &mut txn, "gc")?,
            gc_due: lmdb::create_db(&env, &mut txn, "gc_due")?,
            settings: lmdb::create_db(&env, &mut txn, "settings")?,
            swift_users: lmdb::create_db(&env, &mut txn, "swift_users")?,
            tokens: lmdb::create_db(&env, &mut txn, "tokens")?,
            expiry: lmdb::create_db(&env, &mut txn, "expiry")?,
            rdir: lmdb::create_db(&env, &mut txn, "rdir")?,
            repair: lmdb::create_db(&env, &mut txn, "repair")?,
            repair_at: lmdb::create_db(&env, &mut txn, "repair_at")?,
            lost: lmdb::create_db(&env, &mut txn, "lost")?,
            quotas: lmdb::create_db(&env, &mut txn, "quotas")?,
            account_usage: lmdb::create_db(&env, &mut txn, "account_usage")?,
            requests: lmdb::create_db(&env, &mut txn, "requests")?,
            requests_at: lmdb::create_db(&env, &mut txn, "requests_at")?,
            // Added with the key store; created empty in an older directory (no format change:
            // an older binary never opens it, and nothing else moves).
            kms_keys: lmdb::create_db(&env, &mut txn, "kms_keys")?,
            account_usage_missing: false,
            format_5_missing: false,
            rdir_missing: false,
            env: env.clone(),
        };
        let mut dir = dir;
        // Nothing stored yet: a new directory, written in the current format from the start.
        let fresh = [
            dir.meta0,
            dir.meta1,
            dir.accounts,
            dir.credentials,
            dir.services,
            dir.gc,
        ]
        .iter()
        .try_fold(true, |empty, db| {
            Ok::<_, heed::Error>(empty && db.is_empty(&txn)?)
        })?;
        // A layout newer than this binary is refused before anything is written.
        dir.migrate(&mut txn, path, fresh)?;
        let addrs = lmdb::to_json(&vec![own_addr.to_string()])?;
        let current = dir
            .meta0
            .get(&txn, &0u16.to_be_bytes())?
            .map(<[u8]>::to_vec);
        if current.as_deref() != Some(addrs.as_slice()) {
            tracing::info!(addr = own_addr, "filling the 65,536 meta0 slots");
            for slot in 0..=u16::MAX {
                dir.meta0.put(&mut txn, &slot.to_be_bytes(), &addrs)?;
            }
        }
        txn.commit()?;
        Ok(dir)
    }

    /// Checks the layout's format number and migrates an older layout to
    /// [`format::DIRECTORY`]; `fresh` when the environment was just created.
    fn migrate(&mut self, txn: &mut RwTxn, path: &Path, fresh: bool) -> Result<()> {
        let stored = format::stored(&self.settings, txn)?;
        let found = match stored {
            Some(f) => f,
            None if fresh => format::DIRECTORY,
            None => 1,
        };
        format::check_not_newer("the directory", path, found, format::DIRECTORY)?;
        if found < 2 {
            let dated = super::gc::date_old_entries(self, txn)?;
            tracing::info!(
                entries = dated,
                "directory format 1 -> 2: GC entries from before due times are due now"
            );
        }
        // 2 -> 3 (the reverse index) and 3 -> 4 (account counters) read every meta2
        // environment: the store does them.
        let reached = if found < 3 { 2 } else { found };
        self.rdir_missing = found < 3;
        self.account_usage_missing = found < 4;
        // 4 -> 5: meta1 records may be version 2 (typed settings). Nothing to rewrite (records
        // upgrade lazily); the number is written once the steps before it are done, so a
        // binary that knows only 4 refuses the directory rather than some of its records.
        self.format_5_missing = found < 5;
        if stored != Some(reached) {
            format::write(&self.settings, txn, reached)?;
        }
        Ok(())
    }
}

/// Key of the per-account container index.
pub fn account_container_key(account: &str, name: &str) -> Vec<u8> {
    let mut k = account_prefix(account);
    k.extend_from_slice(name.as_bytes());
    k
}

/// Prefix of all index keys of one account.
pub fn account_prefix(account: &str) -> Vec<u8> {
    let mut k = account.as_bytes().to_vec();
    k.push(0);
    k
}
