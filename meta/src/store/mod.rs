//! The directory store: one LMDB "directory" environment (meta0, meta1, buckets, accounts,
//! credentials, services, gc, settings, swift_users, tokens, expiry) and one meta2 environment per container, behind a
//! bounded cache. Every method is blocking (LMDB); async callers run them in `spawn_blocking`.

mod accounts;
mod batch;
mod cache;
pub mod command;
mod conscience;
mod containers;
pub mod dedupe;
mod deletes;
mod directory;
pub mod expirer;
pub mod format;
mod gc;
pub mod keys;
pub mod kms;
mod lifecycle;
mod listing;
pub mod lmdb;
mod meta2;
mod multipart;
mod objects;
pub mod observe;
mod policies;
mod quotas;
mod raft_state;
mod rdir;
pub mod records;
mod repair;
mod room;
pub mod sealing;
mod swift;
mod versions;

pub use batch::Item;
pub use command::{COMMAND_VERSION, Command, Outcome, Submit};
pub use conscience::{bounded_score, score};
pub use expirer::ExpiryPass;
pub use lifecycle::LifecyclePass;
pub use meta2::Usage;
pub use raft_state::StateDigest;
pub use repair::{Changes as RepairChanges, LostReason, QUEUE_PAGE};
pub use sealing::SealPass;
pub use swift::TOKEN_PREFIX;

use crate::config::Config;
use crate::score_expr::ScoreExpr;
use cache::EnvCache;
use directory::Directory;
use meta_api::error::{Error, Result};

/// Environments per directory: the meta2 envs live under `<data_dir>/meta2`.
const META2_DIR: &str = "meta2";
const DIRECTORY_DIR: &str = "directory";

/// Where a background task gets the store when it should run (on a meta group's leader).
pub type StoreSource = std::sync::Arc<dyn Fn() -> Option<std::sync::Arc<Store>> + Send + Sync>;

/// Directory `settings` key of the Raft state machine's record (written with each batch).
pub(crate) const RAFT_KEY: &[u8] = b"raft";

/// The whole state of a meta service.
pub struct Store {
    dir: Directory,
    envs: EnvCache,
    dead_after_ms: i64,
    /// How long a queued GC entry waits before it is handed out.
    gc_grace_ms: u64,
    own_addr: String,
    score_expr: ScoreExpr,
    score_max_rise: u8,
    lock_new_services: bool,
    /// The master keys sealing secrets at rest (`None`: secrets are stored in plaintext).
    keys: Option<std::sync::Arc<crate::secrets::MasterKeys>>,
    /// Commands waiting for this process's next local batch (when not routed to Raft).
    local: std::sync::Mutex<command::LocalQueue>,
    local_done: std::sync::Condvar,
    /// Writes that add data are refused while a map they write is fuller than this percent
    /// ([`room`]).
    map_refuse_percent: u8,
    /// Writes refused so (since the process started).
    map_refusals: std::sync::atomic::AtomicU64,
    /// Set when the store belongs to a Raft node: where commands go.
    submit: std::sync::OnceLock<std::sync::Arc<std::sync::OnceLock<Submit>>>,
}

impl Store {
    /// Opens (creating on first start) the store under `config.data_dir`; `own_addr` is the
    /// address this meta serves on, recorded in meta0 and meta1.
    pub fn open(config: &Config, own_addr: &str) -> Result<Store> {
        let score_expr = config.score()?;
        let map_size = config
            .map_size_mib
            .max(1)
            .checked_mul(1024 * 1024)
            .ok_or_else(|| Error::InvalidArgument("map_size_mib is too large".into()))?;
        let dir_map_size = config
            .directory_map_size_mib
            .max(config.map_size_mib)
            .max(1)
            .checked_mul(1024 * 1024)
            .ok_or_else(|| Error::InvalidArgument("directory_map_size_mib is too large".into()))?;
        let keys = match &config.master_key_file {
            Some(path) => Some(std::sync::Arc::new(crate::secrets::MasterKeys::load(path)?)),
            None => None,
        };
        let dir = Directory::open(&config.data_dir.join(DIRECTORY_DIR), dir_map_size, own_addr)?;
        let envs = EnvCache::new(
            config.data_dir.join(META2_DIR),
            map_size,
            config.open_env_cache,
        );
        let dead_after_ms =
            i64::try_from(config.dead_after_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        let store = Store {
            dir,
            envs,
            dead_after_ms,
            gc_grace_ms: config.gc_grace_secs.saturating_mul(1000),
            own_addr: own_addr.to_string(),
            score_expr,
            score_max_rise: config.score_max_rise,
            lock_new_services: config.lock_new_services,
            keys,
            map_refuse_percent: config.map_refuse_percent,
            map_refusals: Default::default(),
            local: Default::default(),
            local_done: Default::default(),
            submit: Default::default(),
        };
        if store.dir.rdir_missing {
            store.build_rdir()?;
        }
        if store.dir.account_usage_missing {
            store.build_account_usage()?;
        }
        if store.dir.format_5_missing {
            let mut txn = store.dir.env.write_txn()?;
            format::write(&store.dir.settings, &mut txn, 5)?;
            txn.commit()?;
            tracing::info!("directory format 4 -> 5: container settings are typed records");
        }
        Ok(store)
    }

    /// Address recorded for this meta.
    pub fn own_addr(&self) -> &str {
        &self.own_addr
    }

    /// The master keys sealing secrets, if configured.
    pub fn master_keys(&self) -> Option<&crate::secrets::MasterKeys> {
        self.keys.as_deref()
    }

    /// Number of meta2 environments currently held by the cache.
    pub fn open_envs(&self) -> usize {
        self.envs.len()
    }
}

/// Rejects empty names, NUL bytes and control characters; `what` names the field.
fn check_name(what: &str, name: &str, max: usize) -> Result<()> {
    if name.is_empty() {
        return Err(Error::InvalidArgument(format!("{what} is empty")));
    }
    if name.len() > max {
        return Err(Error::InvalidArgument(format!(
            "{what} is longer than {max} bytes"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::InvalidArgument(format!(
            "{what} contains control characters"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod batch_tests;
#[cfg(test)]
pub(crate) mod command_tests;
#[cfg(test)]
mod dedupe_tests;
#[cfg(test)]
mod format_tests;
#[cfg(test)]
mod kms_tests;
#[cfg(test)]
mod lifecycle_tests;
#[cfg(test)]
mod quotas_tests;
#[cfg(test)]
mod rdir_tests;
#[cfg(test)]
mod sealing_tests;
#[cfg(test)]
mod swift_tests;
#[cfg(test)]
pub(crate) mod test_fixtures;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod versions_tests;
