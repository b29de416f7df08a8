//! Opening LMDB environments with heed: map size and database count from the config, and a
//! bounded retry when the same path is still being closed by a previous owner
//! (heed refuses to open one path twice: `EnvAlreadyOpened`).

use heed::types::Bytes;
use heed::{Database, EnvOpenOptions, RwTxn, WithoutTls};
use meta_api::error::{Error, Result};
use std::path::Path;
use std::time::Duration;

/// The environment type used everywhere (read transactions are not tied to a thread).
pub type Env = heed::Env<WithoutTls>;
/// Every database stores raw bytes; values are JSON or fixed-width integers.
pub type Db = Database<Bytes, Bytes>;

/// How many times an `EnvAlreadyOpened` is waited out before giving up.
const OPEN_RETRIES: usize = 5;

/// How a commit reaches the disk.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Sync {
    /// Data pages, then the meta page, each synced: a commit is durable when it returns.
    Full,
    /// Data pages synced, the meta page written but synced only with the next commit
    /// (LMDB's `MDB_NOMETASYNC`): the database stays consistent, but a machine crash may undo
    /// the last commit. For the state machine's environments, whose every commit the Raft log
    /// (opened `Full`) replays exactly.
    DataOnly,
}

/// Opens (creating the directory if needed) the environment at `path`, commits fully synced.
pub fn open_env(path: &Path, map_size: usize, max_dbs: u32) -> Result<Env> {
    open_env_with(path, map_size, max_dbs, Sync::Full)
}

/// Opens the environment at `path` with commits synced as `sync` says.
pub fn open_env_with(path: &Path, map_size: usize, max_dbs: u32, sync: Sync) -> Result<Env> {
    std::fs::create_dir_all(path)
        .map_err(|e| Error::Io(format!("creating {}: {e}", path.display())))?;
    let mut opts = EnvOpenOptions::new().read_txn_without_tls();
    opts.map_size(map_size).max_dbs(max_dbs);
    if sync == Sync::DataOnly {
        // SAFETY: NO_META_SYNC only defers the meta page's sync to the next commit; LMDB keeps
        // the database consistent with it (the last commit may be undone by a machine crash).
        unsafe {
            opts.flags(heed::EnvFlags::NO_META_SYNC);
        }
    }
    let mut attempt = 0;
    loop {
        // SAFETY: every environment is opened through this function, only once per path at a
        // time (heed itself refuses a second open of the same path, handled below), and the
        // files are only ever modified through LMDB.
        match unsafe { opts.open(path) } {
            Ok(env) => return Ok(env),
            Err(heed::Error::EnvAlreadyOpened) if attempt < OPEN_RETRIES => {
                attempt += 1;
                tracing::debug!(path = %path.display(), attempt, "environment still closing, waiting");
                match heed::env_closing_event(path) {
                    Some(event) => {
                        event.wait_timeout(Duration::from_secs(2));
                    }
                    None => std::thread::sleep(Duration::from_millis(20)),
                }
            }
            Err(e) => {
                return Err(Error::Db(format!("opening {}: {e}", path.display())));
            }
        }
    }
}

/// Creates (or opens) the named database inside a write transaction.
pub fn create_db(env: &Env, txn: &mut RwTxn, name: &str) -> Result<Db> {
    Ok(env.create_database::<Bytes, Bytes>(txn, Some(name))?)
}

/// Calls `f(database, key, value)` for every entry of every named database of `env`, in one
/// read transaction: databases in name order, entries in key order. What a state digest
/// (`spread admin meta verify`) and the tests' dumps read.
pub fn for_each_entry(
    env: &Env,
    mut f: impl FnMut(&str, &[u8], &[u8]) -> Result<()>,
) -> Result<()> {
    let txn = env.read_txn()?;
    let Some(main) = env.open_database::<Bytes, Bytes>(&txn, None)? else {
        return Ok(());
    };
    let mut names = Vec::new();
    for entry in main.iter(&txn)? {
        let (name, _) = entry?;
        let name = String::from_utf8(name.to_vec()).map_err(|_| {
            Error::Db(format!(
                "{}: a database name is not UTF-8",
                env.path().display()
            ))
        })?;
        names.push(name);
    }
    for name in names {
        let Some(db) = env.open_database::<Bytes, Bytes>(&txn, Some(&name))? else {
            continue;
        };
        for entry in db.iter(&txn)? {
            let (k, v) = entry?;
            f(&name, k, v)?;
        }
    }
    Ok(())
}

/// Waits (bounded) until the environment at `path` is closed by its last owner.
pub fn wait_closed(path: &Path) {
    if let Some(event) = heed::env_closing_event(path)
        && !event.wait_timeout(Duration::from_secs(5))
    {
        tracing::warn!(path = %path.display(), "environment still open after 5 s");
    }
}

/// Encodes a plain JSON value for storage (meta0's address lists; records go through
/// [`super::records`]).
pub fn to_json<T: serde::Serialize>(v: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(v).map_err(|e| Error::Internal(format!("encoding record: {e}")))
}
