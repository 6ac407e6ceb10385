//! [`AppContext`]: what every handler can reach — config, services, lifecycle hooks.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use crate::clock::Clock;
use crate::config::Config;
use crate::error::Result;
use crate::services::Services;
use crate::url::UrlGenerator;

/// A boxed, sendable future, the return type of lifecycle hooks.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

type ShutdownHook = Box<dyn FnOnce() -> BoxFuture<'static, ()> + Send>;

/// A readiness check: resolves to `Err(reason)` when a dependency is not usable.
pub type ReadinessCheck = Arc<dyn Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

/// The booted app's shared state; the axum state of every RustForge router.
///
/// Cheap to clone (one `Arc`). Handlers take it with `State<AppContext>`; the framework's
/// extractors (`Service<T>`, …) find it through `FromRef`, so an app may wrap it in its own
/// state type as long as it implements `FromRef<MyState> for AppContext`.
///
/// ```
/// use foundry_core::{AppContext, config::ConfigLoader};
///
/// let dir = tempfile::tempdir().unwrap();
/// let config = ConfigLoader::new(dir.path()).vars([("FOUNDRY_APP__NAME", "Blog")]).load().unwrap();
/// let ctx = AppContext::new(config, Default::default());
/// assert_eq!(ctx.config().app().name, "Blog");
/// ```
#[derive(Clone)]
pub struct AppContext {
    inner: Arc<Inner>,
}

struct Inner {
    config: Arc<Config>,
    services: Services,
    urls: UrlGenerator,
    clock: Clock,
    shutdown_hooks: Mutex<Vec<(String, ShutdownHook)>>,
    readiness_checks: Mutex<Vec<(String, ReadinessCheck)>>,
}

impl std::fmt::Debug for AppContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppContext")
            .field("env", &self.inner.config.environment())
            .field("services", &self.inner.services)
            .finish_non_exhaustive()
    }
}

impl AppContext {
    /// A context over a loaded config and a frozen registry, with no named routes.
    pub fn new(config: Config, services: Services) -> Self {
        let urls = UrlGenerator::new(&config.app().url, config.app().key.clone());
        Self::with_urls(config, services, urls)
    }

    /// A context whose URL generator knows the app's named routes.
    ///
    /// The context's [`Clock`] is the one bound in `services` (the kernel binds one before
    /// anything else so every component shares it), else a fresh system clock.
    pub fn with_urls(config: Config, services: Services, urls: UrlGenerator) -> Self {
        let clock = services
            .get::<Clock>()
            .map(|clock| Clock::clone(&clock))
            .unwrap_or_default();
        Self {
            inner: Arc::new(Inner {
                config: Arc::new(config),
                services,
                urls,
                clock,
                shutdown_hooks: Mutex::new(Vec::new()),
                readiness_checks: Mutex::new(Vec::new()),
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Arc<Config> {
        &self.inner.config
    }

    /// URLs of named routes, absolute URLs and signed URLs.
    pub fn urls(&self) -> &UrlGenerator {
        &self.inner.urls
    }

    /// The app's clock: every component's "now", frozen or moved by tests.
    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// The service registry.
    pub fn services(&self) -> &Services {
        &self.inner.services
    }

    /// Resolve a singleton or transient service (Laravel's `app()->make()`).
    pub fn make<T: Send + Sync + 'static>(&self) -> Result<Arc<T>> {
        self.inner.services.get::<T>()
    }

    /// Run `hook` when the server shuts down, after in-flight requests finished. Hooks run in
    /// the order they were added.
    pub fn on_shutdown<F, Fut>(&self, name: impl Into<String>, hook: F)
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.hooks()
            .push((name.into(), Box::new(move || Box::pin(hook()))));
    }

    /// Add a check `GET /ready` runs (the database, Redis, …); a check that fails or takes
    /// longer than two seconds makes the app "not ready" (503).
    pub fn add_readiness_check<F, Fut>(&self, name: impl Into<String>, check: F)
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        let check: ReadinessCheck = Arc::new(move || Box::pin(check()));
        lock(&self.inner.readiness_checks).push((name.into(), check));
    }

    /// The readiness checks, in the order they were added.
    pub fn readiness_checks(&self) -> Vec<(String, ReadinessCheck)> {
        lock(&self.inner.readiness_checks).clone()
    }

    /// Run and clear the shutdown hooks (the server calls this once).
    pub async fn run_shutdown_hooks(&self) {
        let hooks = std::mem::take(&mut *self.hooks());
        for (name, hook) in hooks {
            tracing::debug!(hook = %name, "running shutdown hook");
            hook().await;
        }
    }

    fn hooks(&self) -> std::sync::MutexGuard<'_, Vec<(String, ShutdownHook)>> {
        lock(&self.inner.shutdown_hooks)
    }
}

/// Lock a mutex that holds plain data; a panic elsewhere cannot leave it half-written.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigLoader;

    #[tokio::test]
    async fn shutdown_hooks_run_once_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = AppContext::new(
            ConfigLoader::new(dir.path())
                .vars(Vec::<(String, String)>::new())
                .load()
                .unwrap(),
            Services::default(),
        );
        let log = Arc::new(Mutex::new(Vec::new()));
        for n in 1..=2 {
            let log = log.clone();
            ctx.on_shutdown(format!("hook {n}"), move || async move {
                log.lock().unwrap().push(n);
            });
        }
        ctx.run_shutdown_hooks().await;
        ctx.run_shutdown_hooks().await;
        assert_eq!(*log.lock().unwrap(), [1, 2]);
    }
}
