//! [`CacheError`]: everything the cache, its locks and the rate limiter can fail with.

use std::time::Duration;

use foundry_core::{Error, ErrorKind};

/// A `Result` whose error is [`CacheError`].
pub type CacheResult<T> = Result<T, CacheError>;

/// What went wrong in the cache layer.
///
/// Messages follow the house style: what was being done, the input, the problem, a hint.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    /// `[cache]` names a store that does not exist or cannot be built.
    #[error("cache configuration: {0}")]
    Config(String),
    /// `cache.store(name)` with a name `[cache.stores]` does not define.
    #[error(
        "cache store `{name}` is not defined; defined stores: {known} (add it under [cache.stores.{name}])"
    )]
    UnknownStore {
        /// The name asked for.
        name: String,
        /// The defined names, comma-separated.
        known: String,
    },
    /// A value could not be turned into JSON for storing.
    #[error("cannot store cache key `{key}`: the value does not serialize to JSON: {source}")]
    Serialize {
        /// The key.
        key: String,
        /// Why.
        source: serde_json::Error,
    },
    /// A stored value is not of the type the caller asked for.
    #[error(
        "cache key `{key}` does not hold a `{expected}`: {source} (was it written with another type? `forget` it or read it as that type)"
    )]
    WrongType {
        /// The key.
        key: String,
        /// The Rust type asked for.
        expected: &'static str,
        /// The decoding error.
        source: serde_json::Error,
    },
    /// `increment`/`decrement` on a value that is not an integer.
    #[error("cannot increment cache key `{key}`: its value is not an integer")]
    NotAnInteger {
        /// The key.
        key: String,
    },
    /// Tags on a store whose driver cannot tag.
    #[error(
        "cache store `{store}` (driver `{driver}`) does not support tags; use a memory or redis store for tagged entries"
    )]
    TagsUnsupported {
        /// The store's name.
        store: String,
        /// Its driver.
        driver: &'static str,
    },
    /// `lock.block(timeout)` gave up.
    #[error("could not acquire the cache lock `{key}` within {waited:?}: another owner holds it")]
    LockTimeout {
        /// The lock's key.
        key: String,
        /// How long it waited.
        waited: Duration,
    },
    /// The server of a store could not be reached.
    #[error("cache store `{store}` cannot reach {driver} at {host}: {reason}")]
    Connect {
        /// The store's name.
        store: String,
        /// The driver (`redis`, `database`).
        driver: &'static str,
        /// Where it tried (host and port, never credentials).
        host: String,
        /// Why.
        reason: String,
    },
    /// A command on the store's backend failed.
    #[error("cache store `{store}` ({driver}) failed while {action}: {reason}")]
    Backend {
        /// The store's name.
        store: String,
        /// The driver.
        driver: &'static str,
        /// What it was doing (`reading \`key\``).
        action: String,
        /// The backend's message.
        reason: String,
    },
    /// A rate limit was given that cannot work.
    #[error("invalid rate limit: {0}")]
    InvalidLimit(String),
}

impl From<CacheError> for Error {
    fn from(err: CacheError) -> Self {
        let kind = match &err {
            CacheError::LockTimeout { .. } | CacheError::Connect { .. } => ErrorKind::Unavailable,
            _ => ErrorKind::Internal,
        };
        Error::from_kind(kind).with_source(err)
    }
}
