//! The app kernel: boot an [`App`] into an [`AppContext`] and a ready axum router.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use foundry_core::url::{UrlGenerator, UrlSigner};
use foundry_core::{AppContext, Config, ConfigError, ServiceProvider, ServicesBuilder};
pub use foundry_http::AppService;
use foundry_http::maintenance::Maintenance;
use foundry_http::{
    ErrorRenderer, HttpConfig, MiddlewareRegistry, RouteError, RouteFlag, RouteInfo, Routes, Stack,
    ValidateSignatureLayer,
};

use crate::App;

/// Why an app could not boot.
#[derive(Debug)]
#[non_exhaustive]
pub enum BootError {
    /// The configuration is invalid.
    Config(ConfigError),
    /// A service provider failed to register or boot.
    Provider {
        /// The provider's name.
        provider: &'static str,
        /// `register` or `boot`.
        phase: &'static str,
        /// What went wrong.
        source: foundry_core::Error,
    },
    /// Route definitions have mistakes.
    Routes(Vec<RouteError>),
    /// The `[http]` stack cannot be built from its configuration.
    Http(String),
    /// A component (the database, …) could not start.
    Component {
        /// The component.
        component: &'static str,
        /// What went wrong.
        message: String,
    },
}

impl fmt::Display for BootError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BootError::Config(err) => write!(f, "{err}"),
            BootError::Provider {
                provider,
                phase,
                source,
            } => write!(
                f,
                "service provider `{provider}` failed to {phase}: {}",
                source.chain().join(": ")
            ),
            BootError::Http(message) => f.write_str(message),
            BootError::Component { component, message } => {
                write!(f, "the {component} could not start: {message}")
            }
            BootError::Routes(errors) => {
                write!(f, "the route definitions have {} mistake(s):", errors.len())?;
                for err in errors {
                    write!(f, "\n  - {err}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for BootError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BootError::Config(err) => Some(err),
            BootError::Provider { source, .. } => Some(source),
            BootError::Routes(_) | BootError::Http(_) | BootError::Component { .. } => None,
        }
    }
}

impl From<ConfigError> for BootError {
    fn from(err: ConfigError) -> Self {
        BootError::Config(err)
    }
}

/// A booted app: its context, its service (router with state, wrapped in error rendering) and
/// its route table.
///
/// ```
/// use foundry::prelude::*;
///
/// struct Hello;
/// impl App for Hello {
///     fn routes(routes: Routes) -> Routes {
///         routes.get("/", || async { "hello" }).name("home")
///     }
/// }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let dir = tempfile::tempdir().unwrap();
/// let config = foundry::config::ConfigLoader::new(dir.path()).vars(Vec::<(String, String)>::new()).load().unwrap();
/// let kernel = foundry::Kernel::boot::<Hello>(config).await.unwrap();
/// assert_eq!(kernel.routes()[0].name.as_deref(), Some("home"));
/// # });
/// ```
pub struct Kernel {
    ctx: AppContext,
    service: AppService,
    routes: Vec<RouteInfo>,
    maintenance: Option<Arc<Maintenance>>,
}

impl fmt::Debug for Kernel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Kernel")
            .field("ctx", &self.ctx)
            .field("routes", &self.routes.len())
            .finish_non_exhaustive()
    }
}

/// Adjustments to a boot, for harnesses such as `foundry-testing`; apps use [`Kernel::boot`].
#[derive(Default)]
#[non_exhaustive]
pub struct BootOptions {
    providers: Vec<Box<dyn ServiceProvider>>,
    middleware: Option<MiddlewareHook>,
}

type MiddlewareHook =
    Box<dyn FnOnce(MiddlewareRegistry<AppContext>) -> MiddlewareRegistry<AppContext> + Send>;

impl fmt::Debug for BootOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BootOptions")
            .field(
                "providers",
                &self.providers.iter().map(|p| p.name()).collect::<Vec<_>>(),
            )
            .field("middleware", &self.middleware.is_some())
            .finish()
    }
}

impl BootOptions {
    /// No adjustments: the same boot as [`Kernel::boot`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Register and boot `provider` before the app's own providers (it sees the database
    /// connected and can prepare it before the app's providers boot).
    pub fn provider(mut self, provider: impl ServiceProvider + 'static) -> Self {
        self.providers.push(Box::new(provider));
        self
    }

    /// Change the middleware registry after [`App::middleware`], before routes are built.
    pub fn middleware(
        mut self,
        adjust: impl FnOnce(MiddlewareRegistry<AppContext>) -> MiddlewareRegistry<AppContext>
        + Send
        + 'static,
    ) -> Self {
        self.middleware = Some(Box::new(adjust));
        self
    }
}

impl Kernel {
    /// Register the providers, connect the database, build the routes, boot the providers,
    /// and wrap the router in the global HTTP stack (`[http]`).
    pub async fn boot<A: App>(config: Config) -> Result<Self, BootError> {
        Self::boot_with::<A>(config, BootOptions::new()).await
    }

    /// [`Kernel::boot`] with [`BootOptions`].
    pub async fn boot_with<A: App>(
        config: Config,
        options: BootOptions,
    ) -> Result<Self, BootError> {
        let mut providers = options.providers;
        providers.extend(A::providers());
        let mut services = ServicesBuilder::new();
        // One clock for every component, bound first so providers and drivers can take it.
        let clock = foundry_core::Clock::system();
        services.singleton(clock.clone());
        for provider in &providers {
            provider
                .register(&mut services, &config)
                .map_err(|source| BootError::Provider {
                    provider: provider.name(),
                    phase: "register",
                    source,
                })?;
        }
        #[cfg(feature = "db")]
        let database = connect_database::<A>(&config, &mut services, &clock).await?;
        #[cfg(all(feature = "validation", feature = "db"))]
        bind_validation_settings(
            &mut services,
            database.as_ref().map(crate::db::DbManager::default_db),
        );
        #[cfg(all(feature = "validation", not(feature = "db")))]
        bind_validation_settings(&mut services);
        #[cfg(all(feature = "cache", feature = "db"))]
        let cache =
            crate::cache::connect(&config, &mut services, &clock, database.as_ref()).await?;
        #[cfg(all(feature = "cache", not(feature = "db")))]
        let cache = crate::cache::connect(&config, &mut services, &clock).await?;
        #[cfg(feature = "queue")]
        let queue = connect_queue::<A>(&config, &mut services, &clock, database.as_ref()).await?;
        // Job middleware and queue:restart use the app's cache.
        #[cfg(all(feature = "queue", feature = "cache"))]
        queue.use_cache(cache.cache.clone(), cache.limiter.clone());
        #[cfg(feature = "schedule")]
        services.singleton(crate::schedule::build::<A>(&config, &cache)?);
        // Routes are built before providers boot so `ctx.urls()` knows every named route
        // from the first `boot` on; building them needs nothing a provider makes.
        let key = config.app().key.clone();
        let registry = MiddlewareRegistry::with_defaults().register(
            "signed",
            ValidateSignatureLayer::new(UrlSigner::new(key.clone())),
        );
        #[cfg(feature = "cache")]
        let registry = crate::cache::middleware(registry, &cache);
        let http: HttpConfig = config.section("http")?;
        let mut registry = crate::operations::middleware_groups(A::middleware, registry, &http)?;
        if let Some(adjust) = options.middleware {
            registry = adjust(registry);
        }
        let mut routes = A::routes(Routes::new(registry));
        // An app's own route at the same path wins over the built-in endpoint.
        let taken = |routes: &Routes, path: &str| routes.list().iter().any(|r| r.path == path);
        if !http.health_path.is_empty() && !taken(&routes, &http.health_path) {
            routes = routes.get(&http.health_path, foundry_http::health::health);
        }
        if !http.ready_path.is_empty() && !taken(&routes, &http.ready_path) {
            routes = routes.get(&http.ready_path, foundry_http::health::ready);
        }
        let (routes, metrics) = crate::operations::metrics_route(routes, &http);
        let (router, routes) = routes.build().map_err(BootError::Routes)?;
        let urls = UrlGenerator::new(&config.app().url, key).with_routes(
            routes
                .iter()
                .filter_map(|r| Some((r.name.clone()?, r.path.clone()))),
        );
        let renderer = ErrorRenderer::new(config.debug(), &config.app().name).with_json_routes(
            routes
                .iter()
                .filter(|r| r.has_flag(RouteFlag::JsonErrors))
                .map(|r| r.path.as_str()),
        );
        // Views: a service for handlers, and the source of `errors/<status>.html` pages.
        #[cfg(feature = "views")]
        let renderer = {
            let views = foundry_http::Views::for_app(&config, &urls, A::views())?;
            services.singleton(views.clone());
            renderer.with_pages(std::sync::Arc::new(views))
        };
        #[cfg(feature = "db")]
        let store = crate::operations::maintenance_store::<A>(
            &config,
            database.as_ref().map(crate::db::DbManager::default_db),
        );
        #[cfg(not(feature = "db"))]
        let store = crate::operations::maintenance_store::<A>(&config);
        #[cfg(feature = "db")]
        if let (Some(metrics), Some(db)) = (&metrics, &database) {
            crate::operations::pool_gauges(metrics, db.default_db());
        }
        let parts = crate::operations::stack_parts(&config, &http, &routes, metrics, store);
        let maintenance = parts.maintenance.clone();
        let ctx = AppContext::with_urls(config, services.build(), urls);
        let stack =
            Stack::new(&http, renderer, parts).map_err(|err| BootError::Http(err.to_string()))?;
        #[cfg(feature = "queue")]
        queue.attach(ctx.clone());
        #[cfg(feature = "cache")]
        crate::cache::readiness(&ctx, &cache);
        #[cfg(feature = "db")]
        if let Some(db) = database.map(|m| m.default_db().clone()) {
            ctx.add_readiness_check("database", move || {
                let db = db.clone();
                async move { db.ping().await.map_err(|e| e.to_string()) }
            });
        }
        for provider in &providers {
            provider
                .boot(&ctx)
                .await
                .map_err(|source| BootError::Provider {
                    provider: provider.name(),
                    phase: "boot",
                    source,
                })?;
        }
        crate::operations::watch_maintenance(maintenance.as_ref(), &http).await;
        // The global stack wraps the router from outside: method spoofing must run before
        // routing, and the renderer must see the fallback's 404s.
        let router = router.with_state(ctx.clone());
        let service = stack.wrap(router);
        Ok(Self {
            ctx,
            service,
            routes,
            maintenance,
        })
    }

    /// The app context.
    pub fn context(&self) -> &AppContext {
        &self.ctx
    }

    /// The app's service, ready to serve or to call in tests (`tower::ServiceExt::oneshot`).
    pub fn service(&self) -> AppService {
        self.service.clone()
    }

    /// Maintenance mode of this instance (`None` when `[http.maintenance] enabled = false`).
    pub fn maintenance(&self) -> Option<&Arc<Maintenance>> {
        self.maintenance.as_ref()
    }

    /// Every route, in definition order.
    pub fn routes(&self) -> &[RouteInfo] {
        &self.routes
    }
}

/// Connect `[database]` when the app configures it or has migrations, and bind the
/// connections as services: `DbManager` (all of them) and `Db` (the default one), so handlers
/// take `Service<Db>`.
#[cfg(feature = "db")]
async fn connect_database<A: App>(
    config: &Config,
    services: &mut ServicesBuilder,
    clock: &foundry_core::Clock,
) -> Result<Option<crate::db::DbManager>, BootError> {
    if !config.has_section("database") && A::migrations().is_empty() {
        return Ok(None);
    }
    let settings: crate::db::DatabaseConfig = config.section("database")?;
    let manager = crate::db::DbManager::connect(&settings, config.root(), config.environment())
        .await
        .map_err(|err| BootError::Component {
            component: "database",
            message: err.to_string(),
        })?;
    manager.use_clock(clock);
    services.singleton(manager.clone());
    services.singleton(manager.default_db().clone());
    Ok(Some(manager))
}

/// Build the queue manager from `[queue]` with the app's jobs, hand it the database
/// connections, connect the default queue connection (a dead Redis fails the boot, naming
/// the host) and bind it as a service, so handlers take `Service<QueueManager>`.
#[cfg(feature = "queue")]
async fn connect_queue<A: App>(
    config: &Config,
    services: &mut ServicesBuilder,
    clock: &foundry_core::Clock,
    databases: Option<&crate::db::DbManager>,
) -> Result<crate::queue::QueueManager, BootError> {
    let settings: crate::queue::QueueConfig = config.section("queue")?;
    let mut jobs = crate::queue::JobRegistry::new();
    A::jobs(&mut jobs);
    let queue = crate::queue::QueueManager::new(settings.clone(), jobs, clock.clone());
    if let Some(databases) = databases {
        for name in settings.names() {
            if let Some(crate::queue::ConnectionConfig::Database(db)) = settings.connection(&name)
                && let Ok(connection) = databases.connection(&db.connection)
            {
                queue.add_database(connection.clone());
            }
        }
    }
    queue
        .connection(None)
        .await
        .map_err(|err| BootError::Component {
            component: "queue",
            message: err.to_string(),
        })?;
    services.singleton(queue.clone());
    Ok(queue)
}

/// `Validated<T>`'s settings, bound as a service unless the app bound its own: with a
/// database, `unique` and `exists` rules count rows on it.
#[cfg(feature = "validation")]
fn bind_validation_settings(
    services: &mut ServicesBuilder,
    #[cfg(feature = "db")] db: Option<&crate::db::Db>,
) {
    if services.contains::<foundry_validation::ValidationSettings>() {
        return;
    }
    #[cfg(feature = "db")]
    let presence_verifier = db.map(|db| {
        std::sync::Arc::new(foundry_validation::DbPresenceVerifier::new(db.clone()))
            as std::sync::Arc<dyn foundry_validation::PresenceVerifier>
    });
    #[cfg(not(feature = "db"))]
    let presence_verifier = None;
    services.singleton(foundry_validation::ValidationSettings {
        presence_verifier,
        ..Default::default()
    });
}

/// Where the app's files are: `FOUNDRY_ROOT`, else the current directory when it has a
/// `foundry.toml`, else the app's own hint ([`App::root`]) when it exists, else the current
/// directory.
pub fn resolve_root(hint: Option<PathBuf>) -> PathBuf {
    if let Some(root) = std::env::var_os("FOUNDRY_ROOT") {
        return PathBuf::from(root);
    }
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    if has_config(&cwd) {
        return cwd;
    }
    match hint {
        Some(hint) if has_config(&hint) => hint,
        _ => cwd,
    }
}

fn has_config(dir: &Path) -> bool {
    dir.join("foundry.toml").is_file()
}
