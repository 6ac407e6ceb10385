//! What the front records about each finished request: metrics and the access log.
//!
//! Both need the route template (`/posts/{post}`, not `/posts/5`), which axum only knows
//! inside the router; the front matches the path against the app's templates once, after the
//! response, and only when metrics or the access log are on.

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderValue, Method, StatusCode};
use tracing::Level;

use crate::metrics::Metrics;

/// The access log: one `tracing` event per request, target `foundry::access`.
#[derive(Debug, Clone, Copy)]
pub struct AccessLog {
    level: Level,
}

impl AccessLog {
    /// A log at `level` (`trace` … `error`); the error names the bad value.
    pub fn new(level: &str) -> Result<Self, String> {
        level
            .parse::<Level>()
            .map(|level| Self { level })
            .map_err(|_| format!("`{level}` is not a level (trace, debug, info, warn, error)"))
    }

    #[allow(clippy::too_many_arguments)]
    fn log(
        self,
        method: &Method,
        path: &str,
        route: &str,
        status: StatusCode,
        elapsed: Duration,
        request_id: Option<&HeaderValue>,
        bytes: Option<u64>,
    ) {
        let request_id = request_id.and_then(|v| v.to_str().ok()).unwrap_or("-");
        let status = status.as_u16();
        let latency_ms = elapsed.as_secs_f64() * 1000.0;
        let bytes = bytes.map_or(-1, |b| i64::try_from(b).unwrap_or(i64::MAX));
        macro_rules! event {
            ($level:expr) => {
                tracing::event!(
                    target: "foundry::access",
                    $level,
                    %method, path, route, status, latency_ms, request_id, bytes,
                    "{method} {path} {status}"
                )
            };
        }
        match self.level {
            Level::TRACE => event!(Level::TRACE),
            Level::DEBUG => event!(Level::DEBUG),
            Level::INFO => event!(Level::INFO),
            Level::WARN => event!(Level::WARN),
            _ => event!(Level::ERROR),
        }
    }
}

/// Metrics and/or the access log, with the route templates to label them.
#[derive(Debug)]
pub struct Observer {
    routes: matchit::Router<usize>,
    templates: Vec<String>,
    /// Per template: errors on it are rendered as JSON (see [`Observer::mark_json_routes`]).
    json: Vec<bool>,
    /// Metrics, when on.
    pub metrics: Option<Arc<Metrics>>,
    /// The access log, when on.
    pub access_log: Option<AccessLog>,
}

/// One finished request, as the front saw it.
pub(crate) struct Finished<'a> {
    pub(crate) method: &'a Method,
    /// The template it matched, from [`Observer::route`].
    pub(crate) route: Option<usize>,
    /// The path, when the access log is on.
    pub(crate) path: &'a str,
    pub(crate) status: StatusCode,
    pub(crate) elapsed: Duration,
    pub(crate) request_id: Option<&'a HeaderValue>,
    pub(crate) bytes: Option<u64>,
}

impl Observer {
    /// An observer over the app's route templates.
    pub fn new(
        templates: Vec<String>,
        metrics: Option<Arc<Metrics>>,
        access_log: Option<AccessLog>,
    ) -> Self {
        let mut routes = matchit::Router::new();
        for (i, template) in templates.iter().enumerate() {
            // Templates come from the axum router, so they are valid; a path served for
            // several methods appears once per method and is simply already there.
            let _ = routes.insert(template.as_str(), i);
        }
        Self {
            routes,
            json: vec![false; templates.len()],
            templates,
            metrics,
            access_log,
        }
    }

    /// Mark the templates whose errors render as JSON, so the front learns that from the
    /// route it looks up anyway instead of keeping the path for a second lookup.
    pub(crate) fn mark_json_routes(&mut self, is_json: impl Fn(&str) -> bool) {
        for (json, template) in self.json.iter_mut().zip(&self.templates) {
            *json = is_json(template);
        }
    }

    /// The index of the template `path` matches.
    pub(crate) fn route(&self, path: &str) -> Option<usize> {
        self.routes.at(path).ok().map(|m| *m.value)
    }

    /// Whether errors on the route at `index` render as JSON.
    pub(crate) fn is_json_route(&self, index: usize) -> bool {
        self.json.get(index).copied().unwrap_or(false)
    }

    pub(crate) fn finish(&self, done: &Finished<'_>) {
        let route = done.route;
        if let Some(metrics) = &self.metrics {
            metrics.record(route, done.method, done.status, done.elapsed);
        }
        if let Some(log) = self.access_log {
            let template = route
                .and_then(|i| self.templates.get(i))
                .map_or("", String::as_str);
            log.log(
                done.method,
                done.path,
                template,
                done.status,
                done.elapsed,
                done.request_id,
                done.bytes,
            );
        }
    }
}
