//! Swift state in the directory environment: Swift users (`swift_users`), auth tokens
//! (`tokens`, expiring, purged lazily and by the expirer), account metadata (in the account
//! record) and container properties (in the meta1 record's settings).

use super::accounts::stored_secret;
use super::batch::Tx;
use super::command::{Command, outcome};
use super::directory::account_prefix;
use super::records::{AccountRecord, Meta1Record, Record, SecretV1, SwiftUserV2};
use super::records::{decode, decode_record, encode, encode_record};
use super::{Store, check_name};
use crate::ids;
use crate::secrets::{MAX_SECRET, Sealed, Subject};
use meta_api::error::{Error, Result};
use meta_api::settings::{ContainerProps, SettingChange};
use meta_api::wire::{AccountInfo, ContainerInfo, SwiftToken, SwiftUser};
use std::collections::BTreeMap;

/// Prefix of every token.
pub const TOKEN_PREFIX: &str = "AUTH_tk";
/// Longest metadata / property name accepted.
const MAX_META_NAME: usize = 1024;
/// Longest metadata / property value accepted.
const MAX_META_VALUE: usize = 64 * 1024;

/// Key of a Swift user: account ‖ NUL ‖ user.
pub(super) fn user_key(account: &str, user: &str) -> Vec<u8> {
    let mut k = account_prefix(account);
    k.extend_from_slice(user.as_bytes());
    k
}

/// Checks the names and values of a metadata update; names are lower-cased.
fn normalize_update(
    set: &BTreeMap<String, String>,
    remove: &[String],
) -> Result<(BTreeMap<String, String>, Vec<String>)> {
    let mut s = BTreeMap::new();
    for (k, v) in set {
        check_name("metadata name", k, MAX_META_NAME)?;
        if v.len() > MAX_META_VALUE {
            return Err(Error::InvalidArgument(format!(
                "metadata value of {k:?} is longer than {MAX_META_VALUE} bytes"
            )));
        }
        s.insert(k.to_lowercase(), v.clone());
    }
    let r = remove.iter().map(|k| k.to_lowercase()).collect();
    Ok((s, r))
}

/// The most a container's meta1 record may take with its settings (a bucket policy may take
/// 20 KiB, 100 CORS rules and 1,000 lifecycle rules some more).
pub const MAX_SETTINGS_BYTES: usize = 1 << 20;

/// Checks the Swift metadata names and values of `changes` as `normalize_update` does, and
/// lower-cases the names.
fn normalize_changes(changes: Vec<SettingChange>) -> Result<Vec<SettingChange>> {
    changes
        .into_iter()
        .map(|c| match c {
            SettingChange::SwiftMeta { set, remove } => {
                let (set, remove) = normalize_update(&set, &remove)?;
                Ok(SettingChange::SwiftMeta { set, remove })
            }
            other => Ok(other),
        })
        .collect()
}

/// Applies `set` then `remove` to `map`.
fn apply(map: &mut BTreeMap<String, String>, set: BTreeMap<String, String>, remove: &[String]) {
    map.extend(set);
    for k in remove {
        map.remove(k);
    }
}

impl Store {
    /// Creates a Swift user `account:user` (`NoSuchAccount`; `CredentialExists` if it exists).
    /// With a master key the key is sealed here, before it becomes a command.
    pub fn create_swift_user(
        &self,
        account: &str,
        user: &str,
        key: &str,
        admin: bool,
    ) -> Result<SwiftUser> {
        check_name("key", key, MAX_SECRET)?;
        let sealed = match self.master_keys() {
            Some(keys) => Some(keys.seal(Subject::SwiftUser { account, user }, key)?),
            None => None,
        };
        let command = Command::CreateSwiftUser {
            account: account.to_string(),
            user: user.to_string(),
            key: if sealed.is_some() {
                String::new()
            } else {
                key.to_string()
            },
            admin,
            sealed,
        };
        let mut created = outcome!(self.apply(command)?, SwiftUser)?;
        created.key = key.to_string();
        Ok(created)
    }

    /// Stores a new Swift user; a sealed key is stored as it comes (the answer then carries no
    /// key).
    pub(super) fn apply_create_swift_user(
        &self,
        tx: &mut Tx<'_, '_, '_>,
        account: &str,
        user: &str,
        key: String,
        admin: bool,
        sealed: Option<Sealed>,
    ) -> Result<SwiftUser> {
        check_name("account name", account, 255)?;
        check_name("user name", user, 255)?;
        let key = stored_secret("key", key, sealed)?;
        if account.contains(':') {
            return Err(Error::InvalidArgument(
                "a Swift account name cannot contain ':'".to_string(),
            ));
        }
        let txn = &mut *tx.dir;
        if self.dir.accounts.get(txn, account.as_bytes())?.is_none() {
            return Err(Error::NoSuchAccount(account.to_string()));
        }
        let k = user_key(account, user);
        if self.dir.swift_users.get(txn, &k)?.is_some() {
            return Err(Error::CredentialExists(format!("{account}:{user}")));
        }
        let rec = SwiftUserV2 {
            v: SwiftUserV2::VERSION,
            account: account.to_string(),
            user: user.to_string(),
            key,
            admin,
        };
        self.dir.swift_users.put(txn, &k, &encode_record(&rec)?)?;
        let sealed = matches!(rec.key, SecretV1::Sealed(_));
        tracing::info!(account, user, admin, sealed, "swift user created");
        Ok(SwiftUser {
            account: rec.account,
            user: rec.user,
            key: match rec.key {
                SecretV1::Plain(k) => k,
                SecretV1::Sealed(_) => String::new(),
            },
            admin: rec.admin,
        })
    }

    /// One Swift user with its key, opened with the master keys (`NoSuchCredential`; a key
    /// that does not open is an `Internal` error naming the key id).
    pub fn get_swift_user(&self, account: &str, user: &str) -> Result<SwiftUser> {
        let rec: SwiftUserV2 = {
            let txn = self.dir.env.read_txn()?;
            match self.dir.swift_users.get(&txn, &user_key(account, user))? {
                Some(v) => decode_record(v)?,
                None => return Err(Error::NoSuchCredential(format!("{account}:{user}"))),
            }
        };
        let key = self.unseal(
            Subject::SwiftUser {
                account: &rec.account,
                user: &rec.user,
            },
            &rec.key,
        )?;
        Ok(SwiftUser {
            account: rec.account,
            user: rec.user,
            key,
            admin: rec.admin,
        })
    }

    /// Issues a token for an existing user, valid for `ttl_secs` (at least 1 s).
    pub fn create_token(&self, account: &str, user: &str, ttl_secs: u64) -> Result<SwiftToken> {
        let ttl_ms = i64::try_from(ttl_secs.max(1).saturating_mul(1000)).unwrap_or(i64::MAX);
        let command = Command::CreateToken {
            account: account.to_string(),
            user: user.to_string(),
            token: format!("{TOKEN_PREFIX}{}", ids::random_hex(16)),
            expires_ms: ids::now_ms().saturating_add(ttl_ms),
        };
        outcome!(self.apply(command)?, Token)
    }

    pub(super) fn apply_create_token(
        &self,
        tx: &mut Tx<'_, '_, '_>,
        account: &str,
        user: &str,
        token: String,
        expires_ms: i64,
    ) -> Result<SwiftToken> {
        let txn = &mut *tx.dir;
        let u: SwiftUserV2 = match self.dir.swift_users.get(txn, &user_key(account, user))? {
            Some(v) => decode_record(v)?,
            None => return Err(Error::NoSuchCredential(format!("{account}:{user}"))),
        };
        let tok = SwiftToken {
            token,
            account: u.account,
            user: u.user,
            admin: u.admin,
            expires_ms,
        };
        self.dir
            .tokens
            .put(txn, tok.token.as_bytes(), &encode(&tok)?)?;
        tracing::debug!(account, user, "swift token issued");
        Ok(tok)
    }

    /// A valid token (`NoSuchCredential` if unknown or expired; expired ones are removed by
    /// [`Store::purge_tokens`], not by this read).
    pub fn get_token(&self, token: &str) -> Result<SwiftToken> {
        let unknown = || Error::NoSuchCredential("token".to_string());
        let tok: SwiftToken = {
            let txn = self.dir.env.read_txn()?;
            match self.dir.tokens.get(&txn, token.as_bytes())? {
                Some(v) => decode(v)?,
                None => return Err(unknown()),
            }
        };
        if tok.expires_ms > ids::now_ms() {
            return Ok(tok);
        }
        Err(unknown())
    }

    /// Removes every token expired at `now_ms`; returns how many.
    pub fn purge_tokens(&self, now_ms: i64) -> Result<u64> {
        outcome!(self.apply(Command::PurgeTokens { now_ms })?, Count)
    }

    pub(super) fn apply_purge_tokens(&self, tx: &mut Tx<'_, '_, '_>, now_ms: i64) -> Result<u64> {
        let txn = &mut *tx.dir;
        let mut expired = Vec::new();
        for item in self.dir.tokens.iter(txn)? {
            let (k, v) = item?;
            match decode::<SwiftToken>(v) {
                Ok(t) if t.expires_ms > now_ms => {}
                _ => expired.push(k.to_vec()),
            }
        }
        for k in &expired {
            self.dir.tokens.delete(txn, k)?;
        }
        Ok(expired.len() as u64)
    }

    /// One account with its usage and metadata (`NoSuchAccount`).
    pub fn get_account(&self, name: &str) -> Result<AccountInfo> {
        let txn = self.dir.env.read_txn()?;
        self.get_account_in(&txn, name)
    }

    /// [`Store::get_account`] through `txn` (usage as the containers' last commits hold it).
    fn get_account_in(&self, txn: &heed::RoTxn, name: &str) -> Result<AccountInfo> {
        let (rec, cids) = {
            let rec: AccountRecord = match self.dir.accounts.get(txn, name.as_bytes())? {
                Some(v) => decode_record(v)?,
                None => return Err(Error::NoSuchAccount(name.to_string())),
            };
            let mut cids = Vec::new();
            for item in self
                .dir
                .account_containers
                .prefix_iter(txn, &account_prefix(name))?
            {
                let (k, _) = item?;
                let c = String::from_utf8_lossy(&k[name.len() + 1..]).into_owned();
                cids.push(super::containers::container_id(name, &c));
            }
            (rec, cids)
        };
        let mut info = AccountInfo {
            name: rec.name,
            created_ms: rec.created_ms,
            containers: cids.len() as u64,
            objects: 0,
            bytes: 0,
            meta: rec.meta,
        };
        for cid in cids {
            let usage = self.envs.get(&cid, false)?.usage_now()?;
            info.objects += usage.objects;
            info.bytes += usage.bytes;
        }
        Ok(info)
    }

    /// Sets then removes account metadata entries (names lower-cased; `NoSuchAccount`).
    pub fn update_account_meta(
        &self,
        name: &str,
        set: &BTreeMap<String, String>,
        remove: &[String],
    ) -> Result<AccountInfo> {
        let command = Command::UpdateAccountMeta {
            name: name.to_string(),
            set: set.clone(),
            remove: remove.to_vec(),
        };
        outcome!(self.apply(command)?, Account)
    }

    pub(super) fn apply_update_account_meta(
        &self,
        tx: &mut Tx<'_, '_, '_>,
        name: &str,
        set: BTreeMap<String, String>,
        remove: &[String],
    ) -> Result<AccountInfo> {
        let (set, remove) = normalize_update(&set, remove)?;
        {
            let txn = &mut *tx.dir;
            let mut rec: AccountRecord = match self.dir.accounts.get(txn, name.as_bytes())? {
                Some(v) => decode_record(v)?,
                None => return Err(Error::NoSuchAccount(name.to_string())),
            };
            apply(&mut rec.meta, set, &remove);
            self.dir
                .accounts
                .put(txn, name.as_bytes(), &encode_record(&rec)?)?;
        }
        tracing::debug!(account = name, "account metadata updated");
        self.get_account_in(tx.dir, name)
    }

    /// Applies `changes` to a container's settings, in order (`NoSuchContainer`).
    pub fn set_container_settings(
        &self,
        name: &str,
        changes: Vec<SettingChange>,
    ) -> Result<ContainerInfo> {
        let changes = normalize_changes(changes)?;
        let command = Command::SetContainerSettings {
            name: name.to_string(),
            changes,
        };
        outcome!(self.apply(command)?, Container)
    }

    /// Sets then removes settings named as in the string map they were before they were typed
    /// (names lower-cased; `NoSuchContainer`): the requests of older gateways.
    pub fn update_container_properties(
        &self,
        name: &str,
        set: &BTreeMap<String, String>,
        remove: &[String],
    ) -> Result<ContainerInfo> {
        let command = Command::UpdateContainerProperties {
            name: name.to_string(),
            set: set.clone(),
            remove: remove.to_vec(),
        };
        outcome!(self.apply(command)?, Container)
    }

    pub(super) fn apply_update_container_properties(
        &self,
        tx: &mut Tx<'_, '_, '_>,
        name: &str,
        set: BTreeMap<String, String>,
        remove: &[String],
    ) -> Result<ContainerInfo> {
        let (set, remove) = normalize_update(&set, remove)?;
        self.change_settings(tx, name, |props| props.apply_legacy(&set, &remove))
    }

    pub(super) fn apply_set_container_settings(
        &self,
        tx: &mut Tx<'_, '_, '_>,
        name: &str,
        changes: Vec<SettingChange>,
    ) -> Result<ContainerInfo> {
        self.change_settings(tx, name, |props| {
            for change in changes {
                props.apply(change);
            }
        })
    }

    /// Changes a container's settings with `change` and stores them; refuses settings that
    /// would grow past [`MAX_SETTINGS_BYTES`].
    fn change_settings(
        &self,
        tx: &mut Tx<'_, '_, '_>,
        name: &str,
        change: impl FnOnce(&mut ContainerProps),
    ) -> Result<ContainerInfo> {
        let r = self.resolve_in(tx.dir, name)?;
        let m1 = {
            let txn = &mut *tx.dir;
            let mut m1: Meta1Record = match self.dir.meta1.get(txn, r.cid.as_bytes())? {
                Some(v) => decode_record(v)?,
                None => return Err(Error::NoSuchContainer(name.to_string())),
            };
            change(&mut m1.settings.props);
            let bytes = encode_record(&m1)?;
            if bytes.len() > MAX_SETTINGS_BYTES {
                return Err(Error::InvalidArgument(format!(
                    "the settings of container {name} would take {} bytes, over the limit of {MAX_SETTINGS_BYTES}",
                    bytes.len()
                )));
            }
            self.dir.meta1.put(txn, r.cid.as_bytes(), &bytes)?;
            m1
        };
        tracing::debug!(container = name, "container settings changed");
        let usage = tx.meta2(&r.cid, |m2, txn| m2.read_usage(txn))?;
        Ok(super::containers::info(r.cid, m1, usage))
    }
}
