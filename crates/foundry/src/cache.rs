//! Cache, locks and rate limiting (the `cache` feature): everything from `foundry-cache`, and
//! how the kernel boots it from `[cache]`.
//!
//! Handlers take the cache and the limiter as services:
//!
//! ```
//! use std::time::Duration;
//! use foundry::cache::Cache;
//! use foundry::prelude::*;
//!
//! async fn visits(Service(cache): Service<Cache>) -> Result<String> {
//!     let n = cache.increment("visits", 1).await?;
//!     Ok(format!("visit number {n}"))
//! }
//! ```
//!
//! Named rate limiters are defined when a service provider boots, and used by the
//! `throttle:<name>` middleware (see `docs/rate-limiting.md`).

pub use foundry_cache::*;

use foundry_core::{AppContext, Clock, Config, ServicesBuilder};
use foundry_http::MiddlewareRegistry;

use crate::kernel::BootError;

fn failed(err: impl std::fmt::Display) -> BootError {
    BootError::Component {
        component: "cache",
        message: err.to_string(),
    }
}

/// Build `[cache]` and bind [`Cache`], [`RateLimiter`] and [`CacheManager`] as services.
pub(crate) async fn connect(
    config: &Config,
    services: &mut ServicesBuilder,
    clock: &Clock,
    #[cfg(feature = "db")] databases: Option<&crate::db::DbManager>,
) -> Result<CacheManager, BootError> {
    let settings: CacheConfig = config.section("cache")?;
    let prefix = settings.resolved_prefix(&config.app().name);
    #[allow(unused_mut)]
    let mut builder = CacheManager::builder(&settings, &prefix, clock.clone());
    #[cfg(feature = "db")]
    if let Some(databases) = databases {
        builder = builder.databases(databases);
    }
    let manager = builder.build().await.map_err(failed)?;
    services.singleton(manager.cache.clone());
    services.singleton(manager.limiter.clone());
    services.singleton(manager.clone());
    Ok(manager)
}

/// Register `throttle` (`throttle:<limiter>`, `throttle:<max>,<minutes>`).
pub(crate) fn middleware(
    registry: MiddlewareRegistry<AppContext>,
    manager: &CacheManager,
) -> MiddlewareRegistry<AppContext> {
    let limiter = manager.limiter.clone();
    registry.register_with_params("throttle", move |params| {
        ThrottleLayer::from_params(&limiter, params)
    })
}

/// A readiness check per Redis store (`cache:<store>`).
pub(crate) fn readiness(ctx: &AppContext, manager: &CacheManager) {
    #[cfg(feature = "redis")]
    for name in manager.redis_connections().keys() {
        let Ok(cache) = manager.cache.store(name) else {
            continue;
        };
        ctx.add_readiness_check(format!("cache:{name}"), move || {
            let cache = cache.clone();
            async move { cache.raw().ping().await.map_err(|e| e.to_string()) }
        });
    }
    let _ = (ctx, manager);
}
