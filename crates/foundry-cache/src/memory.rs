//! The `memory` store: a bounded map in this process, least recently used entries evicted
//! first. Expiry follows the app's [`Clock`], so tests can travel in time.
//!
//! A plain `Mutex<HashMap>` with an ordered recency index, rather than moka: every operation
//! here is a few map lookups under a lock held for microseconds, atomic `add`/`increment`
//! and locks come for free, and the crate stays light to compile.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use foundry_core::{BoxFuture, Clock};

use crate::error::{CacheError, CacheResult};
use crate::store::{Store, ttl_millis};

struct Entry {
    value: String,
    /// Unix milliseconds after which the entry is gone; `None` for forever.
    expires_at: Option<i64>,
    /// Position in the recency index.
    tick: u64,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    /// tick → key, oldest first: the eviction order.
    recency: BTreeMap<u64, String>,
    next_tick: u64,
    locks: HashMap<String, (String, Option<i64>)>,
    tags: HashMap<String, HashSet<String>>,
}

impl Inner {
    fn touch(&mut self, key: &str) {
        let tick = self.next_tick;
        if let Some(entry) = self.entries.get_mut(key) {
            self.recency.remove(&entry.tick);
            entry.tick = tick;
            self.recency.insert(tick, key.to_owned());
            self.next_tick += 1;
        }
    }

    /// The live entry at `key`; an expired one is removed on the way.
    fn live(&mut self, key: &str, now: i64) -> Option<&mut Entry> {
        let expired = self
            .entries
            .get(key)
            .is_some_and(|e| e.expires_at.is_some_and(|at| at <= now));
        if expired {
            self.remove(key);
            return None;
        }
        self.touch(key);
        self.entries.get_mut(key)
    }

    fn remove(&mut self, key: &str) -> bool {
        match self.entries.remove(key) {
            Some(entry) => {
                self.recency.remove(&entry.tick);
                true
            }
            None => false,
        }
    }

    fn insert(&mut self, key: &str, value: String, expires_at: Option<i64>, capacity: usize) {
        self.remove(key);
        while self.entries.len() >= capacity.max(1) {
            let Some((_, oldest)) = self.recency.pop_first() else {
                break;
            };
            self.entries.remove(&oldest);
        }
        let tick = self.next_tick;
        self.next_tick += 1;
        self.recency.insert(tick, key.to_owned());
        self.entries.insert(
            key.to_owned(),
            Entry {
                value,
                expires_at,
                tick,
            },
        );
    }
}

/// The in-process store.
pub struct MemoryStore {
    inner: Mutex<Inner>,
    capacity: usize,
    clock: Clock,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl MemoryStore {
    /// A store keeping at most `capacity` entries, timed by `clock`.
    pub fn new(capacity: usize, clock: Clock) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            capacity,
            clock,
        }
    }

    /// How many entries it holds (expired ones included until touched).
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the maps half-updated in a way that
        // matters for a cache; keep serving.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn expiry(&self, ttl: Option<Duration>) -> Option<i64> {
        ttl.map(|ttl| self.clock.unix_millis().saturating_add(ttl_millis(ttl)))
    }

    fn ready<T: Send + 'static>(value: T) -> BoxFuture<'static, T> {
        Box::pin(std::future::ready(value))
    }
}

impl Store for MemoryStore {
    fn driver(&self) -> &'static str {
        "memory"
    }

    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, CacheResult<Option<String>>> {
        let now = self.clock.unix_millis();
        let value = self.lock().live(key, now).map(|e| e.value.clone());
        Self::ready(Ok(value))
    }

    fn many<'a>(&'a self, keys: &'a [String]) -> BoxFuture<'a, CacheResult<Vec<Option<String>>>> {
        let now = self.clock.unix_millis();
        let mut inner = self.lock();
        let values = keys
            .iter()
            .map(|key| inner.live(key, now).map(|e| e.value.clone()))
            .collect();
        Self::ready(Ok(values))
    }

    fn put<'a>(
        &'a self,
        key: &'a str,
        value: String,
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, CacheResult<()>> {
        let expires_at = self.expiry(ttl);
        self.lock().insert(key, value, expires_at, self.capacity);
        Self::ready(Ok(()))
    }

    fn put_many<'a>(
        &'a self,
        entries: Vec<(String, String)>,
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, CacheResult<()>> {
        let expires_at = self.expiry(ttl);
        let mut inner = self.lock();
        for (key, value) in entries {
            inner.insert(&key, value, expires_at, self.capacity);
        }
        Self::ready(Ok(()))
    }

    fn add<'a>(
        &'a self,
        key: &'a str,
        value: String,
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, CacheResult<bool>> {
        let now = self.clock.unix_millis();
        let expires_at = self.expiry(ttl);
        let mut inner = self.lock();
        if inner.live(key, now).is_some() {
            return Self::ready(Ok(false));
        }
        inner.insert(key, value, expires_at, self.capacity);
        Self::ready(Ok(true))
    }

    fn increment<'a>(&'a self, key: &'a str, by: i64) -> BoxFuture<'a, CacheResult<i64>> {
        let now = self.clock.unix_millis();
        let mut inner = self.lock();
        let result = match inner.live(key, now) {
            Some(entry) => match entry.value.trim().parse::<i64>() {
                Ok(current) => {
                    let next = current.saturating_add(by);
                    entry.value = next.to_string();
                    Ok(next)
                }
                Err(_) => Err(CacheError::NotAnInteger {
                    key: key.to_owned(),
                }),
            },
            None => {
                inner.insert(key, by.to_string(), None, self.capacity);
                Ok(by)
            }
        };
        Self::ready(result)
    }

    fn forget<'a>(&'a self, key: &'a str) -> BoxFuture<'a, CacheResult<bool>> {
        let now = self.clock.unix_millis();
        let mut inner = self.lock();
        let live = inner.live(key, now).is_some();
        inner.remove(key);
        Self::ready(Ok(live))
    }

    fn flush(&self) -> BoxFuture<'_, CacheResult<()>> {
        let mut inner = self.lock();
        inner.entries.clear();
        inner.recency.clear();
        inner.tags.clear();
        Self::ready(Ok(()))
    }

    fn lock_acquire<'a>(
        &'a self,
        key: &'a str,
        owner: &'a str,
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, CacheResult<bool>> {
        let now = self.clock.unix_millis();
        let expires_at = self.expiry(ttl);
        let mut inner = self.lock();
        let held = inner
            .locks
            .get(key)
            .is_some_and(|(_, at)| at.is_none_or(|at| at > now));
        if !held {
            inner
                .locks
                .insert(key.to_owned(), (owner.to_owned(), expires_at));
        }
        Self::ready(Ok(!held))
    }

    fn lock_release<'a>(
        &'a self,
        key: &'a str,
        owner: &'a str,
    ) -> BoxFuture<'a, CacheResult<bool>> {
        let now = self.clock.unix_millis();
        let mut inner = self.lock();
        let owns = inner
            .locks
            .get(key)
            .is_some_and(|(o, at)| o == owner && at.is_none_or(|at| at > now));
        if owns {
            inner.locks.remove(key);
        }
        Self::ready(Ok(owns))
    }

    fn lock_force_release<'a>(&'a self, key: &'a str) -> BoxFuture<'a, CacheResult<()>> {
        self.lock().locks.remove(key);
        Self::ready(Ok(()))
    }

    fn lock_owner<'a>(&'a self, key: &'a str) -> BoxFuture<'a, CacheResult<Option<String>>> {
        let now = self.clock.unix_millis();
        let owner = self
            .lock()
            .locks
            .get(key)
            .filter(|(_, at)| at.is_none_or(|at| at > now))
            .map(|(owner, _)| owner.clone());
        Self::ready(Ok(owner))
    }

    fn supports_tags(&self) -> bool {
        true
    }

    fn tags_add<'a>(
        &'a self,
        tags: &'a [String],
        key: &'a str,
        _ttl: Option<Duration>,
    ) -> BoxFuture<'a, CacheResult<()>> {
        let mut inner = self.lock();
        for tag in tags {
            inner
                .tags
                .entry(tag.clone())
                .or_default()
                .insert(key.to_owned());
        }
        Self::ready(Ok(()))
    }

    fn tags_flush<'a>(&'a self, tags: &'a [String]) -> BoxFuture<'a, CacheResult<()>> {
        let mut inner = self.lock();
        for tag in tags {
            for key in inner.tags.remove(tag).unwrap_or_default() {
                inner.remove(&key);
            }
        }
        Self::ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_least_recently_used_entry_is_evicted_at_capacity() {
        let store = MemoryStore::new(2, Clock::system());
        store.put("a", "1".into(), None).await.unwrap();
        store.put("b", "2".into(), None).await.unwrap();
        // Reading `a` makes `b` the least recently used.
        assert_eq!(store.get("a").await.unwrap().as_deref(), Some("1"));
        store.put("c", "3".into(), None).await.unwrap();
        assert_eq!(store.len(), 2);
        assert_eq!(store.get("b").await.unwrap(), None);
        assert_eq!(store.get("a").await.unwrap().as_deref(), Some("1"));
        assert_eq!(store.get("c").await.unwrap().as_deref(), Some("3"));
    }
}
