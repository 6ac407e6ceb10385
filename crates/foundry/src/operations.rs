//! The kernel's HTTP operations wiring: middleware groups from `[http.groups]`, maintenance
//! mode, metrics and static files.

use std::sync::Arc;
use std::time::Duration;

use foundry_core::{AppContext, Config, Environment};
use foundry_http::maintenance::{FileStore, Maintenance, MaintenanceStore};
#[cfg(feature = "db")]
use foundry_http::metrics::Gauge;
use foundry_http::metrics::Metrics;
use foundry_http::{Hsts, HttpConfig, MiddlewareRegistry, RouteInfo, Routes, StackParts};

use crate::kernel::BootError;

/// Apply `[http.groups]` over the framework's groups, let the app add its middleware, then
/// check every configured group names registered middleware only.
pub(crate) fn middleware_groups(
    app: fn(MiddlewareRegistry<AppContext>) -> MiddlewareRegistry<AppContext>,
    mut registry: MiddlewareRegistry<AppContext>,
    http: &HttpConfig,
) -> Result<MiddlewareRegistry<AppContext>, BootError> {
    for (name, members) in &http.groups {
        registry = registry.group(name, members.iter().cloned());
    }
    let registry = app(registry);
    let errors: Vec<_> = http
        .groups
        .keys()
        .filter_map(|name| {
            registry
                .check(name, &format!("`http.groups.{name}` in the configuration"))
                .err()
        })
        .collect();
    if errors.is_empty() {
        Ok(registry)
    } else {
        Err(BootError::Routes(errors))
    }
}

/// Add `GET <metrics_path>` unless it is off (empty) or the app has its own route there.
pub(crate) fn metrics_route(routes: Routes, http: &HttpConfig) -> (Routes, Option<Arc<Metrics>>) {
    let path = &http.metrics_path;
    if path.is_empty() || routes.list().iter().any(|r| &r.path == path) {
        return (routes, None);
    }
    let metrics = Arc::new(Metrics::new());
    let routes = routes.get(path, foundry_http::metrics::handler(metrics.clone()));
    (routes, Some(metrics))
}

/// Everything the global stack needs besides `[http]`: HSTS policy, static files, route
/// templates, metrics and maintenance mode.
pub(crate) fn stack_parts(
    config: &Config,
    http: &HttpConfig,
    routes: &[RouteInfo],
    metrics: Option<Arc<Metrics>>,
    store: Arc<dyn MaintenanceStore>,
) -> StackParts {
    let production = config.environment() == Environment::Production;
    let hsts = match (production, config.app().url.starts_with("https://")) {
        (false, _) => Hsts::Never,
        (true, true) => Hsts::Always,
        (true, false) => Hsts::ForwardedHttps,
    };
    let mut templates: Vec<String> = Vec::new();
    for route in routes {
        if route.path != "{fallback}" && !templates.contains(&route.path) {
            templates.push(route.path.clone());
        }
    }
    if let Some(metrics) = &metrics {
        metrics.set_routes(templates.clone());
    }
    let maintenance = http.maintenance.enabled.then(|| {
        let exempt = [&http.health_path, &http.ready_path, &http.metrics_path]
            .into_iter()
            .filter(|p| !p.is_empty())
            .cloned()
            .collect();
        Arc::new(Maintenance::new(store, config.app().key.clone(), exempt))
    });
    StackParts {
        hsts,
        root: Some(config.root().to_path_buf()),
        index_static_files: config.environment() != Environment::Local,
        route_templates: templates,
        metrics,
        maintenance,
    }
}

/// Read the maintenance state once, then every `check_interval_ms`; after the providers
/// booted, so a provider that migrates (the blog in `local`) runs first.
pub(crate) async fn watch_maintenance(maintenance: Option<&Arc<Maintenance>>, http: &HttpConfig) {
    let Some(maintenance) = maintenance else {
        return;
    };
    if let Err(reason) = maintenance.refresh().await {
        tracing::warn!(%reason, "cannot read the maintenance state; starting as up");
    }
    let interval = Duration::from_millis(http.maintenance.check_interval_ms.max(10));
    Maintenance::watch(maintenance, interval);
}

/// The maintenance store of `A`: its database when it lists the maintenance migration.
#[cfg(feature = "db")]
pub(crate) fn maintenance_store<A: crate::App>(
    config: &Config,
    database: Option<&crate::db::Db>,
) -> Arc<dyn MaintenanceStore> {
    match database {
        Some(db) if crate::maintenance::uses_database::<A>() => {
            Arc::new(crate::maintenance::DbStore::new(db.clone()))
        }
        _ => Arc::new(FileStore::new(crate::maintenance::file_path(config))),
    }
}

/// The maintenance store without the database feature: the file.
#[cfg(not(feature = "db"))]
#[allow(clippy::extra_unused_type_parameters)] // the same call as with the database feature
pub(crate) fn maintenance_store<A: crate::App>(config: &Config) -> Arc<dyn MaintenanceStore> {
    Arc::new(FileStore::new(crate::maintenance::file_path(config)))
}

/// Pool size and idle connections of `db` as gauges.
#[cfg(feature = "db")]
pub(crate) fn pool_gauges(metrics: &Metrics, db: &crate::db::Db) {
    let db = db.clone();
    metrics.add_gauge(move || {
        let (size, idle) = match db.pool() {
            crate::db::Pool::Sqlite(pool) => (pool.size(), pool.num_idle()),
            #[cfg(feature = "postgres")]
            crate::db::Pool::Postgres(pool) => (pool.size(), pool.num_idle()),
            _ => (0, 0),
        };
        let name = db.name().to_owned();
        Gauge {
            name: "db_pool_connections",
            help: "Connections in the database pool, by state.",
            samples: vec![
                (
                    vec![("connection", name.clone()), ("state", "open".to_owned())],
                    f64::from(size),
                ),
                (
                    vec![("connection", name), ("state", "idle".to_owned())],
                    idle as f64,
                ),
            ],
        }
    });
}
