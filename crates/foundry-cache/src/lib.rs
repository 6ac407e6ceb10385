//! RustForge cache: stores (memory, database, Redis) behind one small [`Store`] trait, the
//! typed [`Cache`] API over them (Laravel's `Cache`), tags, atomic [`Lock`]s on every store,
//! and rate limiting ([`limiter`], the [`throttle`] middleware).
//!
//! Stores are chosen by configuration (`[cache]`, see [`config`]); the app gets a [`Cache`]
//! on the default store and a [`RateLimiter`] as services. Expiry on
//! the memory and database stores follows the app's [`Clock`](foundry_core::Clock), so
//! tests can travel in time; Redis keeps its own server-side TTLs.
//!
//! Guide: `docs/cache.md` and `docs/rate-limiting.md`.

mod cache;
pub mod config;
#[cfg(feature = "database")]
pub mod database;
mod error;
pub mod limiter;
mod lock;
mod manager;
pub mod memory;
#[cfg(feature = "database")]
pub mod migrations;
#[cfg(feature = "redis")]
pub mod redis;
mod store;
pub mod throttle;

pub use cache::{Cache, TaggedCache};
pub use config::{CacheConfig, StoreConfig};
pub use error::{CacheError, CacheResult};
pub use limiter::{Algorithm, Decision, Limit, RateLimiter};
pub use lock::Lock;
pub use manager::{CacheManager, CacheManagerBuilder};
pub use store::Store;
pub use throttle::{ThrottleLayer, ThrottleRule};
