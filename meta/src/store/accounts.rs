//! Accounts and credentials (access key → secret and account) in the directory environment.

use super::batch::Tx;
use super::command::{Command, outcome};
use super::directory::account_prefix;
use super::records::{AccountRecord, CredentialV2, Record, SecretV1, decode_record, encode_record};
use super::{Store, check_name};
use crate::ids;
use crate::secrets::{MAX_SECRET, Sealed, Subject};
use meta_api::error::{Error, Result};
use meta_api::wire::{AccountInfo, Credential};

impl Store {
    /// Creates an account (`AccountExists` if the name is taken).
    pub fn create_account(&self, name: &str) -> Result<AccountInfo> {
        let command = Command::CreateAccount {
            name: name.to_string(),
            created_ms: ids::now_ms(),
        };
        outcome!(self.apply(command)?, Account)
    }

    pub(super) fn apply_create_account(
        &self,
        tx: &mut Tx<'_, '_, '_>,
        name: &str,
        created_ms: i64,
    ) -> Result<AccountInfo> {
        check_name("account name", name, 255)?;
        let txn = &mut *tx.dir;
        if self.dir.accounts.get(txn, name.as_bytes())?.is_some() {
            return Err(Error::AccountExists(name.to_string()));
        }
        let rec = AccountRecord {
            v: 1,
            name: name.to_string(),
            created_ms,
            meta: Default::default(),
        };
        self.dir
            .accounts
            .put(txn, name.as_bytes(), &encode_record(&rec)?)?;
        tracing::info!(account = name, "account created");
        Ok(AccountInfo {
            name: rec.name,
            created_ms: rec.created_ms,
            containers: 0,
            objects: 0,
            bytes: 0,
            meta: rec.meta,
        })
    }

    /// All accounts, sorted by name, with usage summed over their containers.
    pub fn list_accounts(&self) -> Result<Vec<AccountInfo>> {
        let mut out = Vec::new();
        let mut cids = Vec::new();
        {
            let txn = self.dir.env.read_txn()?;
            for item in self.dir.accounts.iter(&txn)? {
                let (_, v) = item?;
                let rec: AccountRecord = decode_record(v)?;
                let mut mine = Vec::new();
                for item in self
                    .dir
                    .account_containers
                    .prefix_iter(&txn, &account_prefix(&rec.name))?
                {
                    let (k, _) = item?;
                    let name = String::from_utf8_lossy(&k[rec.name.len() + 1..]).into_owned();
                    mine.push(super::containers::container_id(&rec.name, &name));
                }
                cids.push(mine);
                out.push(AccountInfo {
                    name: rec.name,
                    created_ms: rec.created_ms,
                    containers: 0,
                    objects: 0,
                    bytes: 0,
                    meta: rec.meta,
                });
            }
        }
        for (info, mine) in out.iter_mut().zip(cids) {
            info.containers = mine.len() as u64;
            for cid in mine {
                let usage = self.envs.get(&cid, false)?.usage_now()?;
                info.objects += usage.objects;
                info.bytes += usage.bytes;
            }
        }
        Ok(out)
    }

    /// Creates an access key for an existing account; random keys are generated when `None`.
    /// With a master key the secret is sealed here, before it becomes a command; the answer
    /// carries it in plaintext (to the one who asked for the key).
    pub fn create_key(
        &self,
        account: &str,
        access_key: Option<&str>,
        secret_key: Option<&str>,
    ) -> Result<Credential> {
        let access_key = access_key.map_or_else(ids::new_access_key, str::to_string);
        let secret = secret_key.map_or_else(ids::new_secret_key, str::to_string);
        check_name("access key", &access_key, 128)?;
        check_name("secret key", &secret, MAX_SECRET)?;
        let sealed = match self.master_keys() {
            Some(keys) => Some(keys.seal(
                Subject::AccessKey {
                    access_key: &access_key,
                    account,
                },
                &secret,
            )?),
            None => None,
        };
        let command = Command::CreateKey {
            account: account.to_string(),
            access_key,
            secret_key: if sealed.is_some() {
                String::new()
            } else {
                secret.clone()
            },
            sealed,
        };
        let mut cred = outcome!(self.apply(command)?, Credential)?;
        cred.secret_key = secret;
        Ok(cred)
    }

    /// Stores a new access key; a sealed secret is stored as it comes (the answer then carries
    /// no secret).
    pub(super) fn apply_create_key(
        &self,
        tx: &mut Tx<'_, '_, '_>,
        account: &str,
        access_key: String,
        secret_key: String,
        sealed: Option<Sealed>,
    ) -> Result<Credential> {
        check_name("access key", &access_key, 128)?;
        let secret = stored_secret("secret key", secret_key, sealed)?;
        let txn = &mut *tx.dir;
        if self.dir.accounts.get(txn, account.as_bytes())?.is_none() {
            return Err(Error::NoSuchAccount(account.to_string()));
        }
        if self
            .dir
            .credentials
            .get(txn, access_key.as_bytes())?
            .is_some()
        {
            return Err(Error::CredentialExists(access_key));
        }
        let rec = CredentialV2 {
            v: CredentialV2::VERSION,
            access_key,
            account: account.to_string(),
            secret,
        };
        self.dir
            .credentials
            .put(txn, rec.access_key.as_bytes(), &encode_record(&rec)?)?;
        tracing::info!(account, access_key = ?rec.access_key, sealed = matches!(rec.secret, SecretV1::Sealed(_)), "access key created");
        let secret_key = match rec.secret {
            SecretV1::Plain(s) => s,
            SecretV1::Sealed(_) => String::new(),
        };
        Ok(Credential {
            access_key: rec.access_key,
            secret_key,
            account: rec.account,
        })
    }

    /// All access keys, sorted by key, without their secrets (`secret_key` is empty): a
    /// listing never carries one.
    pub fn list_keys(&self) -> Result<Vec<Credential>> {
        let txn = self.dir.env.read_txn()?;
        let mut out = Vec::new();
        for item in self.dir.credentials.iter(&txn)? {
            let (_, v) = item?;
            let rec: CredentialV2 = decode_record(v)?;
            out.push(Credential {
                access_key: rec.access_key,
                secret_key: String::new(),
                account: rec.account,
            });
        }
        Ok(out)
    }

    /// One access key with its secret, opened with the master keys (`NoSuchCredential`; a
    /// secret that does not open is an `Internal` error naming the key id).
    pub fn get_key(&self, access_key: &str) -> Result<Credential> {
        let rec: CredentialV2 = {
            let txn = self.dir.env.read_txn()?;
            match self.dir.credentials.get(&txn, access_key.as_bytes())? {
                Some(v) => decode_record(v)?,
                None => return Err(Error::NoSuchCredential(access_key.to_string())),
            }
        };
        let secret_key = self.unseal(
            Subject::AccessKey {
                access_key: &rec.access_key,
                account: &rec.account,
            },
            &rec.secret,
        )?;
        Ok(Credential {
            access_key: rec.access_key,
            secret_key,
            account: rec.account,
        })
    }
}

/// The stored form of a secret a command carries: sealed (then the plaintext field must be
/// empty) or plaintext (checked as a name of at most [`MAX_SECRET`] bytes).
pub(super) fn stored_secret(what: &str, plain: String, sealed: Option<Sealed>) -> Result<SecretV1> {
    match sealed {
        Some(s) => {
            if !plain.is_empty() {
                return Err(Error::InvalidArgument(format!(
                    "a command carries the {what} both sealed and in plaintext"
                )));
            }
            s.check()?;
            Ok(SecretV1::Sealed(s))
        }
        None => {
            check_name(what, &plain, MAX_SECRET)?;
            Ok(SecretV1::Plain(plain))
        }
    }
}
