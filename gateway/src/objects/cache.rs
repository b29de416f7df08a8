//! A value fetched from meta and shared by all requests, refreshed at most every `refresh`:
//! the conscience view and the storage policies both use it. A burst of requests that find it
//! stale triggers one fetch.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::Result;

pub struct Refreshed<T> {
    refresh: Duration,
    cached: Mutex<Option<(Instant, Arc<T>)>>,
    refreshing: tokio::sync::Mutex<()>,
}

impl<T> Refreshed<T> {
    pub fn new(refresh: Duration) -> Refreshed<T> {
        Refreshed {
            refresh,
            cached: Mutex::new(None),
            refreshing: tokio::sync::Mutex::new(()),
        }
    }

    fn fresh(&self) -> Option<Arc<T>> {
        let guard = self.cached.lock().ok()?;
        match &*guard {
            Some((at, value)) if at.elapsed() < self.refresh => Some(value.clone()),
            _ => None,
        }
    }

    /// The cached value, or a new one from `load` when it is stale.
    pub async fn get<F, Fut>(&self, load: F) -> Result<Arc<T>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        if let Some(v) = self.fresh() {
            return Ok(v);
        }
        let _one = self.refreshing.lock().await;
        if let Some(v) = self.fresh() {
            return Ok(v);
        }
        let value = Arc::new(load().await?);
        if let Ok(mut guard) = self.cached.lock() {
            *guard = Some((Instant::now(), value.clone()));
        }
        Ok(value)
    }
}
