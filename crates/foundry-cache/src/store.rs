//! [`Store`]: the small contract every cache driver implements.
//!
//! Values cross this seam as JSON text, so every driver stores the same bytes: a counter is the
//! JSON number `5`, which Redis `INCRBY` and SQL casts read as an integer too. Keys are the
//! caller's keys; each store applies its own prefix. The rich, typed API lives on
//! [`Cache`](crate::Cache), written once over this trait.

use std::time::Duration;

use foundry_core::BoxFuture;

use crate::error::{CacheError, CacheResult};

/// A cache driver. Object safe: the manager holds `Arc<dyn Store>`.
///
/// A `ttl` of `None` means forever. Expired entries are never returned.
pub trait Store: Send + Sync + 'static {
    /// The driver's name (`memory`, `database`, `redis`), for messages.
    fn driver(&self) -> &'static str;

    /// The value of `key`, if present and not expired.
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, CacheResult<Option<String>>>;

    /// The values of `keys`, in order.
    fn many<'a>(&'a self, keys: &'a [String]) -> BoxFuture<'a, CacheResult<Vec<Option<String>>>>;

    /// Store `value` under `key`.
    fn put<'a>(
        &'a self,
        key: &'a str,
        value: String,
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, CacheResult<()>>;

    /// Store several entries with one TTL.
    fn put_many<'a>(
        &'a self,
        entries: Vec<(String, String)>,
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, CacheResult<()>>;

    /// Store `value` only if `key` is absent (or expired); atomic. Whether it was stored.
    fn add<'a>(
        &'a self,
        key: &'a str,
        value: String,
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, CacheResult<bool>>;

    /// Add `by` (negative to subtract) to the integer at `key`, atomically; a missing key
    /// counts from 0 and is kept forever, an existing one keeps its TTL. The new value.
    fn increment<'a>(&'a self, key: &'a str, by: i64) -> BoxFuture<'a, CacheResult<i64>>;

    /// Remove `key`; whether it was there.
    fn forget<'a>(&'a self, key: &'a str) -> BoxFuture<'a, CacheResult<bool>>;

    /// Remove every entry of this store's prefix (locks stay).
    fn flush(&self) -> BoxFuture<'_, CacheResult<()>>;

    /// Take the lock `key` for `owner` unless someone holds it; atomic. `None` never expires.
    fn lock_acquire<'a>(
        &'a self,
        key: &'a str,
        owner: &'a str,
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, CacheResult<bool>>;

    /// Release the lock `key` if `owner` holds it; whether it did.
    fn lock_release<'a>(&'a self, key: &'a str, owner: &'a str)
    -> BoxFuture<'a, CacheResult<bool>>;

    /// Release the lock `key` whoever holds it.
    fn lock_force_release<'a>(&'a self, key: &'a str) -> BoxFuture<'a, CacheResult<()>>;

    /// Who holds the lock `key`, if anyone.
    fn lock_owner<'a>(&'a self, key: &'a str) -> BoxFuture<'a, CacheResult<Option<String>>>;

    /// Record that the entry `key` carries `tags` (for [`Store::tags_flush`]).
    ///
    /// Stores without tags keep the default, which refuses with
    /// [`CacheError::TagsUnsupported`].
    fn tags_add<'a>(
        &'a self,
        tags: &'a [String],
        key: &'a str,
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, CacheResult<()>> {
        let _ = (tags, key, ttl);
        Box::pin(async move { Err(self.tags_unsupported()) })
    }

    /// Remove every entry carrying any of `tags`.
    fn tags_flush<'a>(&'a self, tags: &'a [String]) -> BoxFuture<'a, CacheResult<()>> {
        let _ = tags;
        Box::pin(async move { Err(self.tags_unsupported()) })
    }

    /// Whether [`Store::tags_add`] and [`Store::tags_flush`] work.
    fn supports_tags(&self) -> bool {
        false
    }

    /// The error of a tag operation on a store without tags.
    fn tags_unsupported(&self) -> CacheError {
        CacheError::TagsUnsupported {
            store: String::new(),
            driver: self.driver(),
        }
    }

    /// Check the store's backend answers (readiness checks).
    fn ping(&self) -> BoxFuture<'_, CacheResult<()>> {
        Box::pin(async { Ok(()) })
    }
}

/// Milliseconds of a TTL, at least 1 so a tiny TTL still expires rather than meaning forever.
pub(crate) fn ttl_millis(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX).max(1)
}
