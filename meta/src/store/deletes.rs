//! Deleting accounts, access keys and Swift users (operator commands).
//!
//! An account is deleted only once it owns no container (its objects are the operator's to
//! remove first, through S3 or Swift, so no data goes with a typo); its access keys, Swift
//! users, their tokens, its quotas and its usage counter go with it. A deleted key or user
//! stops authenticating as soon as the gateways' caches let go of it (`credential_cache_secs`
//! for keys, `token_cache_secs` for tokens).

use super::Store;
use super::batch::Tx;
use super::command::{Command, outcome};
use super::directory::account_prefix;
use super::quotas;
use super::records::{CredentialV2, decode, decode_record};
use super::swift::user_key;
use heed::RwTxn;
use meta_api::error::{Error, Result};
use meta_api::wire::SwiftToken;

impl Store {
    /// Deletes an account (`NoSuchAccount`; `ContainerNotEmpty` naming how many containers
    /// it still owns).
    pub fn delete_account(&self, name: &str) -> Result<()> {
        outcome!(
            self.apply(Command::DeleteAccount {
                name: name.to_string()
            })?,
            Done
        )
    }

    pub(super) fn apply_delete_account(&self, tx: &mut Tx<'_, '_, '_>, name: &str) -> Result<()> {
        let txn = &mut *tx.dir;
        if self.dir.accounts.get(txn, name.as_bytes())?.is_none() {
            return Err(Error::NoSuchAccount(name.to_string()));
        }
        let owned = quotas::owns_containers(&self.dir, txn, name)?;
        if owned > 0 {
            return Err(Error::ContainerNotEmpty(format!(
                "account {name} still owns {owned} container(s): delete them first"
            )));
        }
        let mut keys = Vec::new();
        for item in self.dir.credentials.iter(txn)? {
            let (k, v) = item?;
            let rec: CredentialV2 = decode_record(v)?;
            if rec.account == name {
                keys.push(k.to_vec());
            }
        }
        for k in &keys {
            self.dir.credentials.delete(txn, k)?;
        }
        let mut users = Vec::new();
        for item in self
            .dir
            .swift_users
            .prefix_iter(txn, &account_prefix(name))?
        {
            users.push(item?.0.to_vec());
        }
        for k in &users {
            self.dir.swift_users.delete(txn, k)?;
        }
        let tokens = self.drop_tokens(txn, |t| t.account == name)?;
        quotas::forget_account(&self.dir, txn, name)?;
        self.dir.accounts.delete(txn, name.as_bytes())?;
        tracing::info!(
            account = name,
            keys = keys.len(),
            swift_users = users.len(),
            tokens,
            "account deleted"
        );
        Ok(())
    }

    /// Deletes an access key (`NoSuchCredential`).
    pub fn delete_key(&self, access_key: &str) -> Result<()> {
        outcome!(
            self.apply(Command::DeleteKey {
                access_key: access_key.to_string()
            })?,
            Done
        )
    }

    pub(super) fn apply_delete_key(&self, tx: &mut Tx<'_, '_, '_>, access_key: &str) -> Result<()> {
        if !self.dir.credentials.delete(tx.dir, access_key.as_bytes())? {
            return Err(Error::NoSuchCredential(access_key.to_string()));
        }
        tracing::info!(access_key, "access key deleted");
        Ok(())
    }

    /// Deletes a Swift user and its tokens (`NoSuchCredential`).
    pub fn delete_swift_user(&self, account: &str, user: &str) -> Result<()> {
        outcome!(
            self.apply(Command::DeleteSwiftUser {
                account: account.to_string(),
                user: user.to_string(),
            })?,
            Done
        )
    }

    pub(super) fn apply_delete_swift_user(
        &self,
        tx: &mut Tx<'_, '_, '_>,
        account: &str,
        user: &str,
    ) -> Result<()> {
        let txn = &mut *tx.dir;
        if !self.dir.swift_users.delete(txn, &user_key(account, user))? {
            return Err(Error::NoSuchCredential(format!("{account}:{user}")));
        }
        let tokens = self.drop_tokens(txn, |t| t.account == account && t.user == user)?;
        tracing::info!(account, user, tokens, "swift user deleted");
        Ok(())
    }

    /// Removes the tokens `which` selects; answers how many.
    fn drop_tokens(&self, txn: &mut RwTxn, which: impl Fn(&SwiftToken) -> bool) -> Result<usize> {
        let mut gone = Vec::new();
        for item in self.dir.tokens.iter(txn)? {
            let (k, v) = item?;
            let t: SwiftToken = decode(v)?;
            if which(&t) {
                gone.push(k.to_vec());
            }
        }
        for k in &gone {
            self.dir.tokens.delete(txn, k)?;
        }
        Ok(gone.len())
    }
}
