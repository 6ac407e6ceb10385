//! Counting in this process: one map of states under a mutex, timed by the app's clock.

use std::collections::HashMap;
use std::sync::Mutex;

use foundry_core::{BoxFuture, Clock};

use super::algorithm::{Spec, State, step};
use super::{Algorithm, Decision, LimiterBackend};
use crate::error::CacheResult;

/// Steps between sweeps of expired states.
const SWEEP_EVERY: u64 = 4096;

#[derive(Default)]
struct Inner {
    states: HashMap<String, (State, i64)>,
    steps: u64,
}

/// The in-process limiter backend.
pub(super) struct MemoryLimiter {
    inner: Mutex<Inner>,
    clock: Clock,
}

impl MemoryLimiter {
    pub(super) fn new(clock: Clock) -> Self {
        Self {
            inner: Mutex::default(),
            clock,
        }
    }
}

fn state_key(key: &str, algorithm: Algorithm) -> String {
    format!("{key}:{}", algorithm.name())
}

impl LimiterBackend for MemoryLimiter {
    fn step<'a>(
        &'a self,
        key: &'a str,
        spec: Spec,
        cost: u64,
    ) -> BoxFuture<'a, CacheResult<Decision>> {
        let now = self.clock.unix_millis();
        let mut inner = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        inner.steps += 1;
        if inner.steps.is_multiple_of(SWEEP_EVERY) {
            inner.states.retain(|_, (_, expires_at)| *expires_at > now);
        }
        let key = state_key(key, spec.algorithm);
        let state = inner
            .states
            .get(&key)
            .filter(|(_, expires_at)| *expires_at > now)
            .map(|(state, _)| *state);
        let outcome = step(state, spec, now, cost);
        if cost > 0 {
            inner
                .states
                .insert(key, (outcome.state, outcome.expires_at));
        }
        Box::pin(std::future::ready(Ok(outcome.decision)))
    }

    fn clear<'a>(&'a self, key: &'a str) -> BoxFuture<'a, CacheResult<()>> {
        let mut inner = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for algorithm in Algorithm::ALL {
            inner.states.remove(&state_key(key, algorithm));
        }
        Box::pin(std::future::ready(Ok(())))
    }
}
