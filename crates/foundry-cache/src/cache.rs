//! [`Cache`]: the typed API apps use, written once over any [`Store`].

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use foundry_core::Clock;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{CacheError, CacheResult};
use crate::lock::{Lock, random_owner};
use crate::memory::MemoryStore;
use crate::store::Store;

/// The app's cache: one store (the default unless [`Cache::store`] picked another) and the
/// way to reach the other named stores. Cheap to clone.
///
/// Values are stored as JSON, so anything `Serialize` goes in and comes back as any
/// `DeserializeOwned` type that fits; a misfit is a [`CacheError::WrongType`] naming the key
/// and the type.
///
/// ```
/// use std::time::Duration;
/// use foundry_cache::Cache;
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let cache = Cache::memory(foundry_core::Clock::system());
/// cache.put("greeting", &"hello", Duration::from_secs(60)).await.unwrap();
/// assert_eq!(cache.get::<String>("greeting").await.unwrap().as_deref(), Some("hello"));
///
/// let visits = cache.increment("visits", 1).await.unwrap();
/// assert_eq!(visits, 1);
///
/// let answer: u32 = cache.remember("answer", Duration::from_secs(60), || async { 42 }).await.unwrap();
/// assert_eq!(answer, 42);
/// # });
/// ```
#[derive(Clone)]
pub struct Cache {
    stores: Arc<Stores>,
    name: String,
    store: Arc<dyn Store>,
}

pub(crate) struct Stores {
    pub(crate) map: BTreeMap<String, Arc<dyn Store>>,
    pub(crate) default: String,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("store", &self.name)
            .field("driver", &self.store.driver())
            .field("stores", &self.stores.map.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Cache {
    pub(crate) fn from_stores(stores: Stores) -> CacheResult<Self> {
        let stores = Arc::new(stores);
        let store = Self::pick(&stores, &stores.default)?;
        Ok(Self {
            name: stores.default.clone(),
            store,
            stores,
        })
    }

    /// A cache with one store, `name`.
    pub fn single(name: &str, store: impl Store) -> Self {
        let store: Arc<dyn Store> = Arc::new(store);
        Self {
            stores: Arc::new(Stores {
                map: BTreeMap::from([(name.to_owned(), store.clone())]),
                default: name.to_owned(),
            }),
            name: name.to_owned(),
            store,
        }
    }

    /// A cache with one memory store (10,000 entries), for tests and small tools.
    pub fn memory(clock: Clock) -> Self {
        Self::single("memory", MemoryStore::new(10_000, clock))
    }

    fn pick(stores: &Stores, name: &str) -> CacheResult<Arc<dyn Store>> {
        stores
            .map
            .get(name)
            .cloned()
            .ok_or_else(|| CacheError::UnknownStore {
                name: name.to_owned(),
                known: stores.map.keys().cloned().collect::<Vec<_>>().join(", "),
            })
    }

    /// The same cache on the store `name` (Laravel's `Cache::store('redis')`).
    pub fn store(&self, name: &str) -> CacheResult<Cache> {
        Ok(Self {
            store: Self::pick(&self.stores, name)?,
            name: name.to_owned(),
            stores: self.stores.clone(),
        })
    }

    /// The name of the store this handle uses.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The driver of the store this handle uses.
    pub fn driver(&self) -> &'static str {
        self.store.driver()
    }

    /// Every store's name.
    pub fn store_names(&self) -> Vec<String> {
        self.stores.map.keys().cloned().collect()
    }

    /// The store itself, for what the typed API does not cover.
    pub fn raw(&self) -> &Arc<dyn Store> {
        &self.store
    }

    fn encode<T: Serialize + ?Sized>(key: &str, value: &T) -> CacheResult<String> {
        serde_json::to_string(value).map_err(|source| CacheError::Serialize {
            key: key.to_owned(),
            source,
        })
    }

    fn decode<T: DeserializeOwned>(key: &str, text: &str) -> CacheResult<T> {
        serde_json::from_str(text).map_err(|source| CacheError::WrongType {
            key: key.to_owned(),
            expected: std::any::type_name::<T>(),
            source,
        })
    }

    /// The value at `key` as a `T`, or `None` when missing or expired.
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> CacheResult<Option<T>> {
        match self.store.get(key).await? {
            Some(text) => Self::decode(key, &text).map(Some),
            None => Ok(None),
        }
    }

    /// The value at `key`, or `default` when missing.
    pub async fn get_or<T: DeserializeOwned>(&self, key: &str, default: T) -> CacheResult<T> {
        Ok(self.get(key).await?.unwrap_or(default))
    }

    /// Whether `key` holds a value (Laravel: a stored `null` counts as missing).
    pub async fn has(&self, key: &str) -> CacheResult<bool> {
        Ok(self
            .store
            .get(key)
            .await?
            .is_some_and(|text| text != "null"))
    }

    /// The values of `keys`, in order.
    pub async fn many<T: DeserializeOwned>(&self, keys: &[&str]) -> CacheResult<Vec<Option<T>>> {
        let owned: Vec<String> = keys.iter().map(|k| (*k).to_owned()).collect();
        let values = self.store.many(&owned).await?;
        keys.iter()
            .zip(values)
            .map(|(key, value)| value.map(|text| Self::decode(key, &text)).transpose())
            .collect()
    }

    /// Store `value` at `key` for `ttl`; a zero TTL forgets the key (as Laravel's `<= 0`).
    pub async fn put<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
        ttl: Duration,
    ) -> CacheResult<()> {
        if ttl.is_zero() {
            self.store.forget(key).await?;
            return Ok(());
        }
        self.store
            .put(key, Self::encode(key, value)?, Some(ttl))
            .await
    }

    /// Store several entries for `ttl`.
    pub async fn put_many<T: Serialize>(
        &self,
        entries: &[(&str, T)],
        ttl: Duration,
    ) -> CacheResult<()> {
        let encoded = entries
            .iter()
            .map(|(key, value)| Ok(((*key).to_owned(), Self::encode(key, value)?)))
            .collect::<CacheResult<Vec<_>>>()?;
        self.store
            .put_many(encoded, (!ttl.is_zero()).then_some(ttl))
            .await
    }

    /// Store `value` at `key` only if it is missing; atomic across processes sharing the
    /// store. Whether it was stored.
    pub async fn add<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
        ttl: Duration,
    ) -> CacheResult<bool> {
        self.store
            .add(
                key,
                Self::encode(key, value)?,
                (!ttl.is_zero()).then_some(ttl),
            )
            .await
    }

    /// Store `value` at `key` with no expiry.
    pub async fn forever<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> CacheResult<()> {
        self.store.put(key, Self::encode(key, value)?, None).await
    }

    /// The value at `key`; on a miss, compute it with `f`, store it for `ttl` and return it.
    pub async fn remember<T, F, Fut>(&self, key: &str, ttl: Duration, f: F) -> CacheResult<T>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = T>,
    {
        if let Some(value) = self.get(key).await? {
            return Ok(value);
        }
        let value = f().await;
        self.put(key, &value, ttl).await?;
        Ok(value)
    }

    /// [`Cache::remember`] with a fallible computation; an error is returned, not stored.
    pub async fn try_remember<T, E, F, Fut>(&self, key: &str, ttl: Duration, f: F) -> Result<T, E>
    where
        T: Serialize + DeserializeOwned,
        E: From<CacheError>,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        if let Some(value) = self.get(key).await? {
            return Ok(value);
        }
        let value = f().await?;
        self.put(key, &value, ttl).await?;
        Ok(value)
    }

    /// [`Cache::remember`] with no expiry.
    pub async fn remember_forever<T, F, Fut>(&self, key: &str, f: F) -> CacheResult<T>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = T>,
    {
        if let Some(value) = self.get(key).await? {
            return Ok(value);
        }
        let value = f().await;
        self.forever(key, &value).await?;
        Ok(value)
    }

    /// Add `by` to the integer at `key` atomically (a missing key counts from 0); the new
    /// value.
    pub async fn increment(&self, key: &str, by: i64) -> CacheResult<i64> {
        self.store.increment(key, by).await
    }

    /// Subtract `by` from the integer at `key` atomically; the new value.
    pub async fn decrement(&self, key: &str, by: i64) -> CacheResult<i64> {
        self.store.increment(key, by.saturating_neg()).await
    }

    /// Remove `key`; whether it held a value.
    pub async fn forget(&self, key: &str) -> CacheResult<bool> {
        self.store.forget(key).await
    }

    /// The value at `key`, removed.
    pub async fn pull<T: DeserializeOwned>(&self, key: &str) -> CacheResult<Option<T>> {
        let value = self.get(key).await?;
        if value.is_some() {
            self.store.forget(key).await?;
        }
        Ok(value)
    }

    /// Remove every entry of this app (its key prefix) from the store; locks stay.
    pub async fn flush(&self) -> CacheResult<()> {
        self.store.flush().await
    }

    /// Entries grouped under `tags` (memory and Redis stores): read them with the same tags,
    /// drop them all with [`TaggedCache::flush`].
    pub fn tags<I, S>(&self, tags: I) -> TaggedCache
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        TaggedCache {
            cache: self.clone(),
            tags: tags.into_iter().map(Into::into).collect(),
        }
    }

    /// A lock on `key` held for at most `ttl` (zero: until released), with a fresh owner
    /// token. Nothing is taken until [`Lock::get`] or [`Lock::block`].
    pub fn lock(&self, key: &str, ttl: Duration) -> Lock {
        Lock::new(self.store.clone(), key, random_owner(), ttl)
    }

    /// The lock on `key` as held by `owner` (a token from [`Lock::owner`]), e.g. to release
    /// it in another process.
    pub fn restore_lock(&self, key: &str, owner: &str) -> Lock {
        Lock::new(self.store.clone(), key, owner.to_owned(), Duration::ZERO)
    }
}

/// A view of a cache whose entries carry tags (see [`Cache::tags`]).
#[derive(Debug, Clone)]
pub struct TaggedCache {
    cache: Cache,
    tags: Vec<String>,
}

impl TaggedCache {
    fn check(&self) -> CacheResult<()> {
        if self.cache.store.supports_tags() {
            Ok(())
        } else {
            Err(CacheError::TagsUnsupported {
                store: self.cache.name.clone(),
                driver: self.cache.store.driver(),
            })
        }
    }

    /// Where a tagged entry lives: the same key under other tags is another entry.
    fn item_key(&self, key: &str) -> String {
        format!("tagged:{}:{key}", self.tags.join("|"))
    }

    /// The value at `key` under these tags.
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> CacheResult<Option<T>> {
        self.check()?;
        self.cache.get(&self.item_key(key)).await
    }

    /// Store `value` at `key` under these tags for `ttl` (zero: forever).
    pub async fn put<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
        ttl: Duration,
    ) -> CacheResult<()> {
        self.check()?;
        let item = self.item_key(key);
        let ttl = (!ttl.is_zero()).then_some(ttl);
        let store = &self.cache.store;
        store.put(&item, Cache::encode(key, value)?, ttl).await?;
        store.tags_add(&self.tags, &item, ttl).await
    }

    /// Store `value` at `key` under these tags with no expiry.
    pub async fn forever<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> CacheResult<()> {
        self.put(key, value, Duration::ZERO).await
    }

    /// [`Cache::remember`] under these tags.
    pub async fn remember<T, F, Fut>(&self, key: &str, ttl: Duration, f: F) -> CacheResult<T>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = T>,
    {
        if let Some(value) = self.get(key).await? {
            return Ok(value);
        }
        let value = f().await;
        self.put(key, &value, ttl).await?;
        Ok(value)
    }

    /// Remove `key` under these tags.
    pub async fn forget(&self, key: &str) -> CacheResult<bool> {
        self.check()?;
        self.cache.forget(&self.item_key(key)).await
    }

    /// Remove every entry carrying any of these tags.
    pub async fn flush(&self) -> CacheResult<()> {
        self.check()?;
        self.cache.store.tags_flush(&self.tags).await
    }
}
