//! One container's meta2 environment (`meta2/<cid[0..3]>/<cid>/`): its databases and usage
//! counters.
//!
//! Databases: `objects` (encoded key → `ObjectRecord` JSON), `usage` (`"usage"` → objects u64 BE
//! ‖ bytes u64 BE), `uploads` (upload id → `UploadRecord` JSON), `parts` (upload id ‖ NUL ‖ part
//! number u32 BE → `PartRecord` JSON), `versions` (encoded key ‖ NUL ‖ inverted sequence u64 BE →
//! `ObjectRecord` JSON, every version of a versioned container, newest first per key; see
//! `versions.rs`), `props` (container properties kept next to the objects: the versioning state,
//! the version sequence, the content ids of writes their gateway abandoned, and the layout's
//! format number, see [`super::format`]).

use super::format;
use super::lmdb::{self, Db, Env};
use heed::{RoTxn, RwTxn};
use meta_api::error::Result;
use std::path::Path;

const USAGE_KEY: &[u8] = b"usage";

/// An open meta2 environment.
pub struct Meta2 {
    pub env: Env,
    pub objects: Db,
    pub usage: Db,
    pub uploads: Db,
    pub parts: Db,
    pub versions: Db,
    pub props: Db,
    /// Answers of the steps of log entries applied here, kept until the directory has
    /// committed past them (see `batch`).
    pub outbox: Db,
}

/// Object and byte counters of a container.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Usage {
    pub objects: u64,
    pub bytes: u64,
}

impl Usage {
    /// The stored form: objects and bytes, u64 big-endian each (16 bytes; anything else reads
    /// as zero). Also the directory's per-account counters ([`super::quotas`]).
    pub fn encode(&self) -> [u8; 16] {
        let mut v = [0u8; 16];
        v[..8].copy_from_slice(&self.objects.to_be_bytes());
        v[8..].copy_from_slice(&self.bytes.to_be_bytes());
        v
    }

    pub fn decode(b: &[u8]) -> Usage {
        match (b.get(..8), b.get(8..)) {
            (Some(o), Some(s)) if b.len() == 16 => {
                let mut oa = [0u8; 8];
                let mut sa = [0u8; 8];
                oa.copy_from_slice(o);
                sa.copy_from_slice(s);
                Usage {
                    objects: u64::from_be_bytes(oa),
                    bytes: u64::from_be_bytes(sa),
                }
            }
            _ => Usage::default(),
        }
    }

    /// These counters moved by the deltas, saturating at 0 and `u64::MAX`.
    pub fn plus(self, objects: i128, bytes: i128) -> Usage {
        let clamp = |v: i128| v.clamp(0, i128::from(u64::MAX)) as u64;
        Usage {
            objects: clamp(i128::from(self.objects) + objects),
            bytes: clamp(i128::from(self.bytes) + bytes),
        }
    }
}

impl Meta2 {
    /// Every database of the environment.
    pub fn dbs(&self) -> [Db; 7] {
        [
            self.objects,
            self.usage,
            self.uploads,
            self.parts,
            self.versions,
            self.props,
            self.outbox,
        ]
    }

    /// Opens (or creates) the environment at `path`.
    pub fn open(path: &Path, map_size: usize) -> Result<Meta2> {
        let env = lmdb::open_env_with(path, map_size, 8, lmdb::Sync::DataOnly)?;
        let mut txn = env.write_txn()?;
        let objects = lmdb::create_db(&env, &mut txn, "objects")?;
        let usage = lmdb::create_db(&env, &mut txn, "usage")?;
        let uploads = lmdb::create_db(&env, &mut txn, "uploads")?;
        let parts = lmdb::create_db(&env, &mut txn, "parts")?;
        let versions = lmdb::create_db(&env, &mut txn, "versions")?;
        let props = lmdb::create_db(&env, &mut txn, "props")?;
        let outbox = lmdb::create_db(&env, &mut txn, "outbox")?;
        match format::stored(&props, &txn)? {
            // Environments from before format numbers have format 1's layout.
            None => format::write(&props, &mut txn, format::META2)?,
            Some(found) => {
                format::check_not_newer("meta2 environment", path, found, format::META2)?;
                // 1 -> 2 rewrites nothing (see `format`).
                if found < format::META2 {
                    format::write(&props, &mut txn, format::META2)?;
                }
            }
        }
        txn.commit()?;
        Ok(Meta2 {
            env,
            objects,
            usage,
            uploads,
            parts,
            versions,
            props,
            outbox,
        })
    }

    pub fn read_usage(&self, txn: &RoTxn) -> Result<Usage> {
        Ok(self
            .usage
            .get(txn, USAGE_KEY)?
            .map(Usage::decode)
            .unwrap_or_default())
    }

    /// Adds `objects` / `bytes` deltas to the counters (saturating at 0).
    pub fn add_usage(&self, txn: &mut RwTxn, objects: i64, bytes: i128) -> Result<()> {
        let u = self.read_usage(txn)?.plus(i128::from(objects), bytes);
        self.usage.put(txn, USAGE_KEY, &u.encode())?;
        Ok(())
    }

    /// Usage of this container in a fresh read transaction.
    pub fn usage_now(&self) -> Result<Usage> {
        let txn = self.env.read_txn()?;
        self.read_usage(&txn)
    }
}

/// LMDB key of a part: upload id ‖ NUL ‖ part number (u32 BE).
pub fn part_key(upload_id: &str, part_number: u32) -> Vec<u8> {
    let mut k = part_prefix(upload_id);
    k.extend_from_slice(&part_number.to_be_bytes());
    k
}

/// Prefix of all part keys of one upload.
pub fn part_prefix(upload_id: &str) -> Vec<u8> {
    let mut k = upload_id.as_bytes().to_vec();
    k.push(0);
    k
}
