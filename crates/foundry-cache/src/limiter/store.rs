//! Counting in any cache store: each step reads the key's state, steps it and writes it back
//! while holding a cache lock on the key, so processes sharing the store (a database) count
//! exactly. Slower than memory or Redis (a lock, a read and a write per step).

use std::time::Duration;

use foundry_core::{BoxFuture, Clock};

use super::algorithm::{Spec, State, step};
use super::{Algorithm, Decision, LimiterBackend};
use crate::Cache;
use crate::error::CacheResult;

/// How long one step may hold the key's lock before another process may take it.
const LOCK_TTL: Duration = Duration::from_secs(5);
/// How long a step waits for the key's lock.
const LOCK_WAIT: Duration = Duration::from_secs(5);

pub(super) struct StoreLimiter {
    cache: Cache,
    clock: Clock,
}

impl StoreLimiter {
    pub(super) fn new(cache: Cache, clock: Clock) -> Self {
        Self { cache, clock }
    }
}

fn state_key(key: &str, algorithm: Algorithm) -> String {
    format!("limiter:{key}:{}", algorithm.name())
}

impl LimiterBackend for StoreLimiter {
    fn step<'a>(
        &'a self,
        key: &'a str,
        spec: Spec,
        cost: u64,
    ) -> BoxFuture<'a, CacheResult<Decision>> {
        Box::pin(async move {
            let state_key = state_key(key, spec.algorithm);
            let lock = self
                .cache
                .lock(&format!("limiter:{key}"), LOCK_TTL)
                .poll_every(Duration::from_millis(5));
            lock.block(LOCK_WAIT).await?;
            let result = async {
                let now = self.clock.unix_millis();
                let state: Option<State> = self.cache.get(&state_key).await?;
                let outcome = step(state, spec, now, cost);
                if cost > 0 {
                    let ttl = u64::try_from(outcome.expires_at - now).unwrap_or(0).max(1);
                    self.cache
                        .put(&state_key, &outcome.state, Duration::from_millis(ttl))
                        .await?;
                }
                Ok(outcome.decision)
            }
            .await;
            lock.release().await?;
            result
        })
    }

    fn clear<'a>(&'a self, key: &'a str) -> BoxFuture<'a, CacheResult<()>> {
        Box::pin(async move {
            for algorithm in Algorithm::ALL {
                self.cache.forget(&state_key(key, algorithm)).await?;
            }
            Ok(())
        })
    }
}
