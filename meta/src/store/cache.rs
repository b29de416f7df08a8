//! The bounded cache of open meta2 environments. At most `capacity` stay referenced by the cache
//! (least recently used evicted first); an evicted environment still in use by a request stays
//! open until that request drops it, and is found again (not reopened) if asked for meanwhile.

use super::meta2::Meta2;
use meta_api::error::{Error, Result};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

/// Cache of open meta2 environments keyed by container id.
pub struct EnvCache {
    root: PathBuf,
    map_size: usize,
    capacity: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    open: HashMap<String, (Arc<Meta2>, u64)>,
    retired: HashMap<String, Weak<Meta2>>,
    tick: u64,
}

impl EnvCache {
    /// A cache of environments under `root` (`<root>/<cid[0..3]>/<cid>`).
    pub fn new(root: PathBuf, map_size: usize, capacity: usize) -> EnvCache {
        EnvCache {
            root,
            map_size,
            capacity: capacity.max(1),
            inner: Mutex::new(Inner::default()),
        }
    }

    /// The directory holding the environments.
    pub fn root(&self) -> &std::path::Path {
        &self.root
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Directory of the environment of container `cid`.
    pub fn path_of(&self, cid: &str) -> Result<PathBuf> {
        if cid.len() < 3 || !cid.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::Internal(format!("bad container id {cid:?}")));
        }
        Ok(self.root.join(&cid[..3]).join(cid))
    }

    /// The environment of `cid`, opened if needed; with `create` false a missing environment
    /// directory is an error.
    pub fn get(&self, cid: &str, create: bool) -> Result<Arc<Meta2>> {
        let mut inner = self.lock();
        inner.tick += 1;
        let tick = inner.tick;
        if let Some((env, used)) = inner.open.get_mut(cid) {
            *used = tick;
            return Ok(env.clone());
        }
        let revived = inner.retired.remove(cid).and_then(|w| w.upgrade());
        let env = match revived {
            Some(env) => env,
            None => {
                let path = self.path_of(cid)?;
                if !create && !path.join("data.mdb").exists() {
                    return Err(Error::Db(format!(
                        "meta2 environment of {cid} is missing at {}",
                        path.display()
                    )));
                }
                Arc::new(Meta2::open(&path, self.map_size)?)
            }
        };
        while inner.open.len() >= self.capacity {
            Self::evict_lru(&mut inner);
        }
        inner.open.insert(cid.to_string(), (env.clone(), tick));
        Ok(env)
    }

    fn evict_lru(inner: &mut Inner) {
        let victim = inner
            .open
            .iter()
            .min_by_key(|(_, (_, used))| *used)
            .map(|(cid, _)| cid.clone());
        if let Some(cid) = victim
            && let Some((env, _)) = inner.open.remove(&cid)
        {
            inner.retired.retain(|_, w| w.strong_count() > 0);
            if Arc::strong_count(&env) > 1 {
                inner.retired.insert(cid, Arc::downgrade(&env));
            }
        }
    }

    /// Forgets `cid` and waits (bounded) until its environment is closed, so its directory can
    /// be removed.
    pub fn close(&self, cid: &str) -> Result<PathBuf> {
        let path = self.path_of(cid)?;
        let (open, retired) = {
            let mut inner = self.lock();
            (inner.open.remove(cid), inner.retired.remove(cid))
        };
        let was_open = open.is_some() || retired.is_some_and(|w| w.strong_count() > 0);
        drop(open);
        if was_open {
            super::lmdb::wait_closed(&path);
        }
        Ok(path)
    }

    /// Number of environments the cache holds.
    pub fn len(&self) -> usize {
        self.lock().open.len()
    }

    /// The map usage of every environment the cache holds.
    pub fn usage(&self) -> Vec<super::observe::MapUsage> {
        let inner = self.lock();
        inner
            .open
            .values()
            .map(|(m, _)| super::observe::MapUsage::of(&m.env))
            .collect()
    }
}
