//! The built-in key store of SSE-KMS (`aws:kms`): named keys that wrap objects' data keys.
//!
//! Meta keeps each key's state (`kms_keys`: name → [`KmsKeyRecord`]) and changes it only by
//! commands (version 11): created enabled and without material by an operator
//! (`spread admin kms key create`), disabled or enabled again, and given its material once by
//! the first gateway that writes with it. The material is made by that gateway and reaches
//! meta only wrapped by a master key of the gateways' key file (`sse_key_file`), which meta
//! never holds: so neither meta's files nor its Raft log ever hold a key-store key in clear.
//! [`Store::set_kms_key_material`] keeps the first material given (two gateways racing on a
//! key's first use both answer with the material that won), so a key never changes material.
//!
//! Keys are never deleted: objects written under a key stay readable only while it exists.

use super::Store;
use super::batch::Tx;
use super::command::{Command, outcome};
use super::records::{KmsKeyRecord, Record, decode_record, encode_record};
use meta_api::encryption::{KmsKey, KmsMaterial, valid_kms_key_name};
use meta_api::error::{Error, Result};

fn to_key(r: KmsKeyRecord) -> KmsKey {
    let KmsKeyRecord {
        v: _,
        name,
        created_ms,
        enabled,
        material,
    } = r;
    KmsKey {
        name,
        created_ms,
        enabled,
        material,
    }
}

fn check_name(name: &str) -> Result<()> {
    if valid_kms_key_name(name) {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "invalid KMS key name {name:?}: 1 to 128 ASCII letters, digits and -_./"
        )))
    }
}

impl Store {
    /// Creates key `name` (enabled, no material yet).
    pub fn create_kms_key(&self, name: &str) -> Result<KmsKey> {
        check_name(name)?;
        let command = Command::CreateKmsKey {
            name: name.to_string(),
            created_ms: crate::ids::now_ms(),
        };
        outcome!(self.apply(command)?, KmsKey)
    }

    /// Enables or disables key `name`.
    pub fn set_kms_key_enabled(&self, name: &str, enabled: bool) -> Result<KmsKey> {
        let command = Command::SetKmsKeyEnabled {
            name: name.to_string(),
            enabled,
        };
        outcome!(self.apply(command)?, KmsKey)
    }

    /// Gives key `name` its wrapped material unless it has some: answers the key as stored.
    pub fn set_kms_key_material(&self, name: &str, material: KmsMaterial) -> Result<KmsKey> {
        let command = Command::SetKmsKeyMaterial {
            name: name.to_string(),
            material,
        };
        outcome!(self.apply(command)?, KmsKey)
    }

    /// Key `name`, if there is one.
    pub fn get_kms_key(&self, name: &str) -> Result<Option<KmsKey>> {
        let txn = self.dir.env.read_txn()?;
        self.dir
            .kms_keys
            .get(&txn, name.as_bytes())?
            .map(|b| decode_record::<KmsKeyRecord>(b).map(to_key))
            .transpose()
    }

    /// Every key, by name.
    pub fn list_kms_keys(&self) -> Result<Vec<KmsKey>> {
        let txn = self.dir.env.read_txn()?;
        let mut out = Vec::new();
        for item in self.dir.kms_keys.iter(&txn)? {
            let (_, v) = item?;
            out.push(to_key(decode_record::<KmsKeyRecord>(v)?));
        }
        Ok(out)
    }

    fn kms_record_in(&self, tx: &mut Tx<'_, '_, '_>, name: &str) -> Result<Option<KmsKeyRecord>> {
        self.dir
            .kms_keys
            .get(tx.dir, name.as_bytes())?
            .map(decode_record::<KmsKeyRecord>)
            .transpose()
    }

    fn put_kms_record(&self, tx: &mut Tx<'_, '_, '_>, rec: &KmsKeyRecord) -> Result<()> {
        self.dir
            .kms_keys
            .put(tx.dir, rec.name.as_bytes(), &encode_record(rec)?)?;
        Ok(())
    }

    /// The record of key `name`, or the error saying there is no such key.
    fn existing_kms_record(&self, tx: &mut Tx<'_, '_, '_>, name: &str) -> Result<KmsKeyRecord> {
        self.kms_record_in(tx, name)?
            .ok_or_else(|| Error::InvalidArgument(format!("no such KMS key: {name}")))
    }

    pub(super) fn apply_create_kms_key(
        &self,
        tx: &mut Tx<'_, '_, '_>,
        name: &str,
        created_ms: i64,
    ) -> Result<KmsKey> {
        check_name(name)?;
        if self.kms_record_in(tx, name)?.is_some() {
            return Err(Error::InvalidArgument(format!(
                "KMS key {name} already exists"
            )));
        }
        let rec = KmsKeyRecord {
            v: KmsKeyRecord::VERSION,
            name: name.to_string(),
            created_ms,
            enabled: true,
            material: None,
        };
        self.put_kms_record(tx, &rec)?;
        tracing::info!(name, "KMS key created");
        Ok(to_key(rec))
    }

    pub(super) fn apply_set_kms_key_enabled(
        &self,
        tx: &mut Tx<'_, '_, '_>,
        name: &str,
        enabled: bool,
    ) -> Result<KmsKey> {
        let mut rec = self.existing_kms_record(tx, name)?;
        rec.v = KmsKeyRecord::VERSION;
        rec.enabled = enabled;
        self.put_kms_record(tx, &rec)?;
        tracing::info!(name, enabled, "KMS key state changed");
        Ok(to_key(rec))
    }

    pub(super) fn apply_set_kms_key_material(
        &self,
        tx: &mut Tx<'_, '_, '_>,
        name: &str,
        material: KmsMaterial,
    ) -> Result<KmsKey> {
        let mut rec = self.existing_kms_record(tx, name)?;
        if rec.material.is_none() {
            rec.v = KmsKeyRecord::VERSION;
            rec.material = Some(material);
            self.put_kms_record(tx, &rec)?;
            tracing::info!(name, "KMS key material made");
        }
        Ok(to_key(rec))
    }
}
