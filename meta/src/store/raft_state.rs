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
        let root = self.envs.root();
        let groups = match std::fs::read_dir(root) {
            Ok(g) => g,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::Io(format!("listing {}: {e}", root.display()))),
        };
        for group in groups {
            let group = group.map_err(|e| Error::Io(e.to_string()))?;
            let envs = std::fs::read_dir(group.path())
                .map_err(|e| Error::Io(format!("listing {}: {e}", group.path().display())))?;
            for env in envs {
                let env = env.map_err(|e| Error::Io(e.to_string()))?;
                let cid = env.file_name().to_string_lossy().into_owned();
                if !env.path().join("data.mdb").exists() {
                    continue;
                }
                let m2 = self.envs.get(&cid, false)?;
                let to = dest
                    .join(META2_DIR)
                    .join(group.file_name())
                    .join(env.file_name());
                copy_env(&m2.env, &to)?;
            }
        }
        Ok(())
    }
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
