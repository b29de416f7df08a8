//! Sealing the stored secrets (SigV4 secret keys, Swift keys) with the master keys
//! ([`crate::secrets`]).
//!
//! New secrets are sealed when their command is prepared. Secrets stored before — in
//! plaintext, by a binary without sealing or a node without a master key — or sealed under a
//! key that is no longer the current one are resealed by a *sealing pass*
//! ([`Store::seal_secrets`], run by the leader at startup, see [`crate::sealer`]): the leader
//! reads each such secret, seals it under the current key and proposes [`Command::SealSecrets`]
//! commands carrying only the new ciphertexts. Applying one replaces a stored secret only if the
//! record still holds the form the leader read (plaintext, or the same key id and nonce), so a
//! pass racing another changes nothing twice, and no node decrypts while applying.

use super::Store;
use super::batch::Tx;
use super::command::{Command, outcome};
use super::records::{CredentialV2, SecretV1, SwiftUserV2, decode_record, encode_record};
use super::swift::user_key;
use crate::secrets::{MasterKeys, Sealed, Subject};
use meta_api::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Most secrets resealed by one command (one Raft log entry).
pub const SEAL_PAGE: usize = 256;

/// One secret to replace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reseal {
    pub target: SealTarget,
    /// The form the record held when the secret was read.
    pub from: SecretForm,
    /// The secret sealed under the current key.
    pub to: Sealed,
}

/// Whose secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SealTarget {
    AccessKey { access_key: String },
    SwiftUser { account: String, user: String },
}

/// The form of a stored secret, without its plaintext: what a reseal compares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretForm {
    Plain,
    Sealed { kid: String, nonce: String },
}

impl SecretForm {
    fn of(secret: &SecretV1) -> SecretForm {
        match secret {
            SecretV1::Plain(_) => SecretForm::Plain,
            SecretV1::Sealed(s) => SecretForm::Sealed {
                kid: s.kid.clone(),
                nonce: s.nonce.clone(),
            },
        }
    }
}

/// What a sealing pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SealPass {
    /// Secrets that were in plaintext and are now sealed.
    pub sealed: u64,
    /// Secrets that were sealed under an older key and are now sealed under the current one.
    pub resealed: u64,
    /// Secrets sealed under a key id the master key file does not hold, by id: they cannot be
    /// read until that key is added back.
    pub missing_keys: BTreeMap<String, u64>,
    /// Secrets whose ciphertext does not open (altered records), by subject.
    pub broken: Vec<String>,
}

impl Store {
    /// Opens a stored secret for `subject`: plaintext as it is, sealed with the master keys.
    pub(super) fn unseal(&self, subject: Subject<'_>, secret: &SecretV1) -> Result<String> {
        match secret {
            SecretV1::Plain(s) => Ok(s.clone()),
            SecretV1::Sealed(sealed) => match self.master_keys() {
                Some(keys) => keys.open(subject, sealed),
                None => Err(Error::Internal(format!(
                    "the secret of {subject} is sealed under master key id {:?}, but this meta \
                     node has no master_key_file",
                    sealed.kid
                ))),
            },
        }
    }

    /// One sealing pass: every secret in plaintext, or sealed under a key other than the
    /// current one, is (re)sealed under the current key, [`SEAL_PAGE`] secrets a command.
    /// Without a master key there is nothing to do. Blocking; on a group's leader.
    pub fn seal_secrets(&self) -> Result<SealPass> {
        let Some(keys) = self.master_keys() else {
            return Ok(SealPass::default());
        };
        let mut pass = SealPass::default();
        let items = self.plan_reseals(keys, &mut pass)?;
        for page in items.chunks(SEAL_PAGE) {
            let plain = page.iter().filter(|r| r.from == SecretForm::Plain).count() as u64;
            let done = outcome!(
                self.apply(Command::SealSecrets {
                    items: page.to_vec()
                })?,
                Count
            )?;
            // A secret changed since it was read was left alone (counted as neither).
            let sealed = plain.min(done);
            pass.sealed += sealed;
            pass.resealed += done - sealed;
        }
        Ok(pass)
    }

    /// The reseals a pass proposes, read in one transaction.
    fn plan_reseals(&self, keys: &MasterKeys, pass: &mut SealPass) -> Result<Vec<Reseal>> {
        let current = keys.current_id();
        let txn = self.dir.env.read_txn()?;
        let mut items = Vec::new();
        let mut consider = |subject: Subject<'_>, target: SealTarget, secret: &SecretV1| {
            if let SecretV1::Sealed(s) = secret {
                if s.kid == current {
                    return Ok(());
                }
                if !keys.holds(&s.kid) {
                    *pass.missing_keys.entry(s.kid.clone()).or_default() += 1;
                    return Ok(());
                }
            }
            let plain = match secret {
                SecretV1::Plain(p) => p.clone(),
                SecretV1::Sealed(s) => match keys.open(subject, s) {
                    Ok(p) => p,
                    Err(e) => {
                        tracing::warn!(error = %e, "a stored secret cannot be resealed");
                        pass.broken.push(subject.to_string());
                        return Ok(());
                    }
                },
            };
            items.push(Reseal {
                target,
                from: SecretForm::of(secret),
                to: keys.seal(subject, &plain)?,
            });
            Ok::<(), Error>(())
        };
        for item in self.dir.credentials.iter(&txn)? {
            let (_, v) = item?;
            let rec: CredentialV2 = decode_record(v)?;
            consider(
                Subject::AccessKey {
                    access_key: &rec.access_key,
                    account: &rec.account,
                },
                SealTarget::AccessKey {
                    access_key: rec.access_key.clone(),
                },
                &rec.secret,
            )?;
        }
        for item in self.dir.swift_users.iter(&txn)? {
            let (_, v) = item?;
            let rec: SwiftUserV2 = decode_record(v)?;
            consider(
                Subject::SwiftUser {
                    account: &rec.account,
                    user: &rec.user,
                },
                SealTarget::SwiftUser {
                    account: rec.account.clone(),
                    user: rec.user.clone(),
                },
                &rec.key,
            )?;
        }
        Ok(items)
    }

    /// Replaces each target's secret by its new sealed form if the record still holds the form
    /// it was read in; answers how many were replaced. Deterministic: nothing is decrypted.
    pub(super) fn apply_seal_secrets(
        &self,
        tx: &mut Tx<'_, '_, '_>,
        items: &[Reseal],
    ) -> Result<u64> {
        if items.len() > SEAL_PAGE {
            return Err(Error::InvalidArgument(format!(
                "{} secrets to seal in one command, more than {SEAL_PAGE}",
                items.len()
            )));
        }
        for r in items {
            r.to.check()?;
        }
        let txn = &mut *tx.dir;
        let mut done = 0;
        for r in items {
            match &r.target {
                SealTarget::AccessKey { access_key } => {
                    let Some(v) = self.dir.credentials.get(txn, access_key.as_bytes())? else {
                        continue;
                    };
                    let mut rec: CredentialV2 = decode_record(v)?;
                    if SecretForm::of(&rec.secret) != r.from {
                        continue;
                    }
                    rec.secret = SecretV1::Sealed(r.to.clone());
                    self.dir
                        .credentials
                        .put(txn, access_key.as_bytes(), &encode_record(&rec)?)?;
                }
                SealTarget::SwiftUser { account, user } => {
                    let k = user_key(account, user);
                    let Some(v) = self.dir.swift_users.get(txn, &k)? else {
                        continue;
                    };
                    let mut rec: SwiftUserV2 = decode_record(v)?;
                    if SecretForm::of(&rec.key) != r.from {
                        continue;
                    }
                    rec.key = SecretV1::Sealed(r.to.clone());
                    self.dir.swift_users.put(txn, &k, &encode_record(&rec)?)?;
                }
            }
            done += 1;
        }
        if done > 0 {
            tracing::info!(count = done, "stored secrets sealed");
        }
        Ok(done)
    }
}
