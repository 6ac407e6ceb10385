//! What stops or pauses workers from outside: `queue:restart` (a timestamp in the app's cache
//! that every worker watches) and a pause check (maintenance mode: while it says so, workers
//! take no jobs). Kept apart from the worker loop, which only asks [`PauseCheck::paused`] and
//! treats a restart like a shutdown signal.

use std::sync::Arc;
use std::time::Duration;

use foundry_core::BoxFuture;

use crate::manager::QueueManager;

/// The cache key `queue:restart` writes (Laravel's `illuminate:queue:restart`): the time of
/// the last restart request, in milliseconds since the epoch.
pub const RESTART_KEY: &str = "foundry:queue:restart";

/// The longest a worker waits between two looks at [`RESTART_KEY`].
#[cfg_attr(not(feature = "cache"), allow(dead_code))]
const RESTART_POLL: Duration = Duration::from_secs(1);

#[cfg(feature = "cache")]
impl QueueManager {
    /// Ask every worker sharing the app's cache to stop once its running jobs are done
    /// (`queue:restart`; a process supervisor then starts them again on new code). Returns
    /// the restart time written to [`RESTART_KEY`].
    ///
    /// Workers only see it through a cache they share: a `memory` store reaches the workers
    /// of this process only; use the database or Redis store across processes.
    pub async fn restart_workers(&self) -> crate::QueueResult<i64> {
        let (cache, _) = self
            .cache_services()
            .ok_or_else(|| crate::QueueError::NoCache("queue:restart".to_owned()))?;
        let previous: Option<i64> = cache.get(RESTART_KEY).await?;
        // Always a new value, so a worker started in the same millisecond still sees a change.
        let at = self
            .clock()
            .unix_millis()
            .max(previous.map_or(i64::MIN, |p| p.saturating_add(1)));
        cache.forever(RESTART_KEY, &at).await?;
        Ok(at)
    }
}

/// A future that resolves once `queue:restart` is asked after this call (never without a
/// cache). It reads the key now, then every `poll` (at most a second).
pub(crate) async fn restart_requested(
    manager: &QueueManager,
    poll: Duration,
) -> BoxFuture<'static, ()> {
    #[cfg(feature = "cache")]
    if let Some((cache, _)) = manager.cache_services() {
        let poll = poll.clamp(Duration::from_millis(10), RESTART_POLL);
        let read = move || {
            let cache = cache.clone();
            async move {
                cache
                    .get::<i64>(RESTART_KEY)
                    .await
                    .inspect_err(|err| tracing::warn!(error = %err, "cannot read the queue restart signal from the cache"))
                    .ok()
            }
        };
        // `None` until the cache answered once: a change is only a change from a known value.
        let mut baseline: Option<Option<i64>> = read().await;
        return Box::pin(async move {
            loop {
                tokio::time::sleep(poll).await;
                let Some(now) = read().await else { continue };
                match baseline {
                    Some(start) if start != now => {
                        tracing::info!(
                            "queue:restart was asked; stopping once the running jobs are done"
                        );
                        return;
                    }
                    Some(_) => {}
                    None => baseline = Some(now),
                }
            }
        });
    }
    let _ = (manager, poll);
    Box::pin(std::future::pending())
}

/// Whether workers should take no jobs now (the app is down for maintenance).
pub(crate) type PauseFn = Arc<dyn Fn() -> bool + Send + Sync>;

/// A worker's pause check and whether it was paused last time (to log changes once).
pub(crate) struct PauseCheck {
    check: Option<PauseFn>,
    paused: bool,
}

impl PauseCheck {
    pub(crate) fn new(check: Option<PauseFn>) -> Self {
        Self {
            check,
            paused: false,
        }
    }

    /// Whether to take no jobs now.
    pub(crate) fn paused(&mut self) -> bool {
        let paused = self.check.as_ref().is_some_and(|check| check());
        if paused != self.paused {
            self.paused = paused;
            if paused {
                tracing::info!(
                    "the app is down for maintenance: taking no jobs until it is up (queue:work --force takes them anyway)"
                );
            } else {
                tracing::info!("the app is up again: taking jobs");
            }
        }
        paused
    }
}
