//! What the Raft state machine keeps beside the data: its last applied log id and membership
//! (one opaque record in the directory's `settings`, written with each batch), and
//! compacted copies of every environment for a snapshot.

use super::{DIRECTORY_DIR, META2_DIR, RAFT_KEY, Store};
use heed::CompactionOption;
use meta_api::error::{Error, Result};
use std::path::Path;

impl Store {
    /// The state machine's record, if one was written.
    pub fn raft_state(&self) -> Result<Option<Vec<u8>>> {
        let txn = self.dir.env.read_txn()?;
        Ok(self.dir.settings.get(&txn, RAFT_KEY)?.map(<[u8]>::to_vec))
    }

    /// Where the directory environment lives.
    pub fn directory_path(&self) -> std::path::PathBuf {
        self.dir.env.path().to_path_buf()
    }

    /// The last log index whose changes the directory holds (0 before any).
    pub fn applied_index(&self) -> Result<u64> {
        let txn = self.dir.env.read_txn()?;
        let v = self.dir.settings.get(&txn, super::batch::DIR_APPLIED_KEY)?;
        Ok(match v {
            Some(b) if b.len() == 8 => {
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                u64::from_be_bytes(a)
            }
            _ => 0,
        })
    }

    /// Copies every environment, compacted, under `dest` in the store's own layout
    /// (`directory/data.mdb`, `meta2/<cid[0..3]>/<cid>/data.mdb`). The caller keeps writers out
    /// meanwhile, so the copies are of one state.
    pub fn copy_to(&self, dest: &Path) -> Result<()> {
        copy_env(&self.dir.env, &dest.join(DIRECTORY_DIR))?;
        for (group, cid) in self.meta2_envs()? {
            let m2 = self.envs.get(&cid, false)?;
            copy_env(&m2.env, &dest.join(META2_DIR).join(group).join(&cid))?;
        }
        Ok(())
    }

    /// Every meta2 environment on disk, as (group directory, container id), sorted.
    fn meta2_envs(&self) -> Result<Vec<(String, String)>> {
        let root = self.envs.root();
        let groups = match std::fs::read_dir(root) {
            Ok(g) => g,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::Io(format!("listing {}: {e}", root.display()))),
        };
        let mut out = Vec::new();
        for group in groups {
            let group = group.map_err(|e| Error::Io(e.to_string()))?;
            let envs = std::fs::read_dir(group.path())
                .map_err(|e| Error::Io(format!("listing {}: {e}", group.path().display())))?;
            for env in envs {
                let env = env.map_err(|e| Error::Io(e.to_string()))?;
                if !env.path().join("data.mdb").exists() {
                    continue;
                }
                out.push((
                    group.file_name().to_string_lossy().into_owned(),
                    env.file_name().to_string_lossy().into_owned(),
                ));
            }
        }
        out.sort();
        Ok(out)
    }

    /// A digest of the whole state: every key and value of every database of every
    /// environment, except what is not the same on every node by design (`directory/meta0`,
    /// this node's own address in every slot; the `outbox` of each meta2, answers kept for a
    /// replay, which depend on where this node's batches ended). The caller keeps writers out
    /// meanwhile (the state machine digests between two applies), so it is of one state.
    pub fn digest(&self) -> Result<StateDigest> {
        let mut total = blake3::Hasher::new();
        let mut out = StateDigest::default();
        let mut one = |rel: String, env: &super::lmdb::Env| -> Result<()> {
            let mut h = blake3::Hasher::new();
            super::lmdb::for_each_entry(env, |db, k, v| {
                if (rel == DIRECTORY_DIR && db == "meta0") || db == "outbox" {
                    return Ok(());
                }
                for part in [db.as_bytes(), k, v] {
                    h.update(&(part.len() as u64).to_be_bytes());
                    h.update(part);
                }
                out.entries += 1;
                Ok(())
            })?;
            let d = h.finalize();
            total.update(&(rel.len() as u64).to_be_bytes());
            total.update(rel.as_bytes());
            total.update(d.as_bytes());
            out.envs.push((rel, d.to_hex().to_string()));
            Ok(())
        };
        one(DIRECTORY_DIR.to_string(), &self.dir.env)?;
        for (group, cid) in self.meta2_envs()? {
            let m2 = self.envs.get(&cid, false)?;
            one(format!("{META2_DIR}/{group}/{cid}"), &m2.env)?;
        }
        out.digest = total.finalize().to_hex().to_string();
        Ok(out)
    }

    /// Forgets the replicated log this state came from: the applied indexes (the directory's
    /// and each meta2's), the state machine's record and the answers kept for a replay. A
    /// restored backup starts a new group whose log begins again at 1; a command of it must
    /// not be taken for one already applied.
    pub fn forget_log(&self) -> Result<()> {
        for (_, cid) in self.meta2_envs()? {
            let m2 = self.envs.get(&cid, false)?;
            let mut txn = m2.env.write_txn()?;
            m2.props.delete(&mut txn, super::batch::APPLIED_KEY)?;
            m2.outbox.clear(&mut txn)?;
            txn.commit()?;
        }
        let mut txn = self.dir.env.write_txn()?;
        self.dir
            .settings
            .delete(&mut txn, super::batch::DIR_APPLIED_KEY)?;
        self.dir.settings.delete(&mut txn, RAFT_KEY)?;
        txn.commit()?;
        self.dir
            .env
            .force_sync()
            .map_err(|e| Error::Db(format!("syncing the directory: {e}")))?;
        Ok(())
    }
}

/// What [`Store::digest`] computes.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct StateDigest {
    /// BLAKE3 (hex) over every environment's path and digest, in order.
    pub digest: String,
    /// Entries digested (all environments).
    pub entries: u64,
    /// Each environment's path (relative to the state's root) and digest, in order.
    pub envs: Vec<(String, String)>,
}

fn copy_env(env: &super::lmdb::Env, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)
        .map_err(|e| Error::Io(format!("creating {}: {e}", to.display())))?;
    let path = to.join("data.mdb");
    let mut file = std::fs::File::create(&path)
        .map_err(|e| Error::Io(format!("creating {}: {e}", path.display())))?;
    env.copy_to_file(&mut file, CompactionOption::Enabled)
        .map_err(|e| Error::Db(format!("copying to {}: {e}", path.display())))?;
    file.sync_all()
        .map_err(|e| Error::Io(format!("syncing {}: {e}", path.display())))?;
    Ok(())
}
