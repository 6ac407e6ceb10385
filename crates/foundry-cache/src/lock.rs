//! Atomic locks: one owner at a time per key, on every store, across processes sharing it.
//!
//! ```
//! use std::time::Duration;
//! use foundry_cache::Cache;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let cache = Cache::memory(foundry_core::Clock::system());
//! let lock = cache.lock("reports", Duration::from_secs(10));
//! assert!(lock.get().await.unwrap());
//! // Someone else (another request, process or job) cannot take it…
//! assert!(!cache.lock("reports", Duration::from_secs(10)).get().await.unwrap());
//! // …nor release it without the owner token, which can travel to them:
//! let token = lock.owner().to_owned();
//! assert!(!cache.lock("reports", Duration::from_secs(10)).release().await.unwrap());
//! assert!(cache.restore_lock("reports", &token).release().await.unwrap());
//! # });
//! ```

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::{CacheError, CacheResult};
use crate::store::Store;

/// Laravel's poll interval for `block`.
const DEFAULT_POLL: Duration = Duration::from_millis(250);

/// A lock on a key of one store, held by an owner token. Cheap to clone; clones are the same
/// owner.
#[derive(Clone)]
pub struct Lock {
    store: Arc<dyn Store>,
    key: String,
    owner: String,
    ttl: Option<Duration>,
    poll: Duration,
}

impl std::fmt::Debug for Lock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lock")
            .field("key", &self.key)
            .field("owner", &self.owner)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

/// A random owner token (128 bits, hex).
pub(crate) fn random_owner() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // No OS randomness: time, process and a counter still make tokens differ.
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let count = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        bytes = (nanos ^ (u128::from(std::process::id()) << 64) ^ u128::from(count)).to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Lock {
    /// A lock on `key` for `owner`; `ttl` zero means it never expires on its own.
    pub(crate) fn new(store: Arc<dyn Store>, key: &str, owner: String, ttl: Duration) -> Self {
        Self {
            store,
            key: key.to_owned(),
            owner,
            ttl: (!ttl.is_zero()).then_some(ttl),
            poll: DEFAULT_POLL,
        }
    }

    /// Poll every `interval` in [`Lock::block`] instead of every 250 ms.
    pub fn poll_every(mut self, interval: Duration) -> Self {
        self.poll = interval.max(Duration::from_millis(1));
        self
    }

    /// The lock's key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The owner token: hand it to another process to release the lock there
    /// ([`Cache::restore_lock`](crate::Cache::restore_lock)).
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Try once to take the lock; whether it is now ours.
    pub async fn get(&self) -> CacheResult<bool> {
        self.store
            .lock_acquire(&self.key, &self.owner, self.ttl)
            .await
    }

    /// Take the lock, run `f`, release it; `None` (and `f` not run) when it was taken.
    pub async fn get_then<F, Fut, T>(&self, f: F) -> CacheResult<Option<T>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = T>,
    {
        if !self.get().await? {
            return Ok(None);
        }
        let value = f().await;
        self.release().await?;
        Ok(Some(value))
    }

    /// Wait up to `timeout` for the lock, polling; [`CacheError::LockTimeout`] when it stays
    /// taken.
    pub async fn block(&self, timeout: Duration) -> CacheResult<()> {
        let started = Instant::now();
        loop {
            if self.get().await? {
                return Ok(());
            }
            let waited = started.elapsed();
            if waited >= timeout {
                return Err(CacheError::LockTimeout {
                    key: self.key.clone(),
                    waited,
                });
            }
            tokio::time::sleep(self.poll.min(timeout - waited)).await;
        }
    }

    /// [`Lock::block`], then run `f` and release.
    pub async fn block_then<F, Fut, T>(&self, timeout: Duration, f: F) -> CacheResult<T>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = T>,
    {
        self.block(timeout).await?;
        let value = f().await;
        self.release().await?;
        Ok(value)
    }

    /// Release the lock if this owner holds it; whether it did (false when someone else
    /// holds it or it expired).
    pub async fn release(&self) -> CacheResult<bool> {
        self.store.lock_release(&self.key, &self.owner).await
    }

    /// Release the lock whoever holds it.
    pub async fn force_release(&self) -> CacheResult<()> {
        self.store.lock_force_release(&self.key).await
    }

    /// Whether this owner holds the lock now.
    pub async fn is_owned(&self) -> CacheResult<bool> {
        Ok(self.store.lock_owner(&self.key).await?.as_deref() == Some(self.owner.as_str()))
    }
}
