//! The global HTTP stack every request passes through, configured by `[http]`.
//!
//! Outermost first:
//!
//! 1. **compression** (when enabled; the `compression` feature) — gzip, br, zstd by
//!    `Accept-Encoding`, error pages too;
//! 2. **the front** ([`crate::front`]) — the **request id** (a valid incoming `X-Request-Id`
//!    is kept, otherwise one is made; it is set on the request and the response), the
//!    **body limit** for declared lengths (413), **panic catching** (a 500 that shows and logs
//!    the request id), **error rendering**, and the **security headers** (`X-Frame-Options`,
//!    `X-Content-Type-Options`, `Referrer-Policy`, optional `Content-Security-Policy` and
//!    `Permissions-Policy`, HSTS in production when the app's URL is `https`);
//! 3. **CORS** (when enabled);
//! 4. **request timeout** — 503 after `timeout_secs` ([`crate::timeout`]: the timer is armed
//!    only once a request has to wait);
//! 5. the body limit for bodies without a declared length (read by `Json`, `Form`, …);
//! 6. ETags (when enabled), `_method` spoofing, static files (when the directory exists),
//!    then the router.
//!
//! The stack is composed once into one service ([`AppService`]), boxed once. When CORS, the
//! undeclared-length body limit, ETags, static files and compression are all off (the usual
//! API app), it is only the front, `_method` spoofing and the router, and the front keeps
//! the timeout itself; otherwise a disabled layer is a branch. No layer is boxed on its own
//! (route middleware, by contrast, is boxed by axum per route).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

#[cfg(feature = "compression")]
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request};
use axum::response::Response;
use http::Method;
use http::header::{self, HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};
use tower::util::ServiceExt as _;
use tower::{Service, ServiceBuilder};
#[cfg(feature = "compression")]
use tower_http::compression::{CompressionBody, CompressionLayer};
use tower_http::cors::{AllowHeaders, AllowMethods, AllowOrigin, CorsLayer};

use crate::etag::EtagLayer;
use crate::front::{Front, FrontLayer, RequestIds};
use crate::maintenance::Maintenance;
use crate::method_override::MethodOverrideLayer;
use crate::metrics::Metrics;
use crate::observe::{AccessLog, Observer};
use crate::proxy::TrustedProxies;
use crate::render::ErrorRenderer;
use crate::static_files::{StaticFiles, StaticFilesLayer};
use crate::timeout::TimeoutLayer;

/// `[http]`: the global middleware stack.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Seconds a request may take before it is answered with 503; `0` turns the timeout off.
    pub timeout_secs: u64,
    /// Largest request body in bytes (413 beyond it).
    pub max_body_bytes: usize,
    /// Response compression.
    pub compression: CompressionConfig,
    /// Request ids.
    pub request_id: RequestIdConfig,
    /// Security headers.
    pub security_headers: SecurityHeadersConfig,
    /// More headers for every response that does not set them itself, by name
    /// (`server = "RustForge"`); checked at boot.
    pub response_headers: BTreeMap<String, String>,
    /// Cross-origin resource sharing.
    pub cors: CorsConfig,
    /// Path of the liveness endpoint; empty to turn it off.
    pub health_path: String,
    /// Path of the readiness endpoint; empty to turn it off.
    pub ready_path: String,
    /// Path of the Prometheus metrics endpoint; empty to turn metrics off.
    pub metrics_path: String,
    /// Middleware groups by name (`web`, `api`, or new ones), each a list of registered
    /// middleware names; a group given here replaces the framework's default for it.
    pub groups: BTreeMap<String, Vec<String>>,
    /// Peers whose `X-Forwarded-For`/`-Proto`/`-Host` are believed: addresses, CIDR ranges
    /// (`10.0.0.0/8`), or `"*"` for any peer.
    pub trusted_proxies: Vec<String>,
    /// The access log.
    pub access_log: AccessLogConfig,
    /// ETags and conditional GET.
    pub etag: EtagConfig,
    /// Static files.
    pub static_files: StaticFilesConfig,
    /// Maintenance mode.
    pub maintenance: MaintenanceConfig,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            timeout_secs: 30,
            max_body_bytes: 2 * 1024 * 1024,
            compression: CompressionConfig::default(),
            request_id: RequestIdConfig::default(),
            security_headers: SecurityHeadersConfig::default(),
            response_headers: BTreeMap::new(),
            cors: CorsConfig::default(),
            health_path: "/health".into(),
            ready_path: "/ready".into(),
            metrics_path: "/metrics".into(),
            groups: BTreeMap::new(),
            trusted_proxies: Vec::new(),
            access_log: AccessLogConfig::default(),
            etag: EtagConfig::default(),
            static_files: StaticFilesConfig::default(),
            maintenance: MaintenanceConfig::default(),
        }
    }
}

/// `[http.access_log]`; off by default.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct AccessLogConfig {
    /// Log one line per request.
    pub enabled: bool,
    /// The level of the lines: `trace`, `debug`, `info`, `warn` or `error`.
    pub level: String,
}

impl Default for AccessLogConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            level: "info".into(),
        }
    }
}

/// `[http.etag]`; off by default.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct EtagConfig {
    /// Add an `ETag` to successful `GET`/`HEAD` responses and answer `If-None-Match` with 304.
    pub enabled: bool,
    /// Weak ETags (`W/"…"`): the same for a compressed and an uncompressed body.
    pub weak: bool,
    /// Bodies larger than this are left without an ETag (they would have to be buffered).
    pub max_body_bytes: usize,
}

impl Default for EtagConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            weak: true,
            max_body_bytes: 1024 * 1024,
        }
    }
}

/// `[http.static_files]`: files under `dir` (relative to the app root) served at `prefix`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct StaticFilesConfig {
    /// Serve them at all (nothing happens when the directory does not exist).
    pub enabled: bool,
    /// The directory, relative to the app root.
    pub dir: String,
    /// The URL prefix they are served under.
    pub prefix: String,
    /// `Cache-Control` of file responses; empty to send none.
    pub cache_control: String,
}

impl Default for StaticFilesConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            dir: "public".into(),
            prefix: "/".into(),
            cache_control: "public, max-age=3600".into(),
        }
    }
}

/// `[http.maintenance]`
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct MaintenanceConfig {
    /// Honour maintenance mode at all.
    pub enabled: bool,
    /// How often each instance reads the shared state, in milliseconds.
    pub check_interval_ms: u64,
}

impl Default for MaintenanceConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            check_interval_ms: 1000,
        }
    }
}

/// `[http.compression]`; off by default (a reverse proxy usually compresses).
///
/// The codecs are the `compression` Cargo feature (on by default). A build without it accepts
/// these keys but refuses `enabled = true`: [`Stack::new`] fails with a [`StackError`] for
/// `http.compression.enabled` rather than serving uncompressed responses unannounced.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct CompressionConfig {
    /// Compress responses at all.
    pub enabled: bool,
    /// Offer gzip.
    pub gzip: bool,
    /// Offer Brotli.
    pub br: bool,
    /// Offer zstd.
    pub zstd: bool,
}

impl Default for CompressionConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            gzip: true,
            br: true,
            zstd: true,
        }
    }
}

/// `[http.request_id]`
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct RequestIdConfig {
    /// Set and propagate request ids.
    pub enabled: bool,
    /// The header carrying it.
    pub header: String,
}

impl Default for RequestIdConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            header: "x-request-id".into(),
        }
    }
}

/// `[http.security_headers]`; an empty string leaves a header out.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct SecurityHeadersConfig {
    /// Add the headers at all.
    pub enabled: bool,
    /// `X-Frame-Options`.
    pub x_frame_options: String,
    /// `X-Content-Type-Options`.
    pub x_content_type_options: String,
    /// `Referrer-Policy`.
    pub referrer_policy: String,
    /// `Permissions-Policy`.
    pub permissions_policy: String,
    /// `Content-Security-Policy`.
    pub content_security_policy: String,
    /// `Strict-Transport-Security` max-age, sent in production when `[app] url` is https.
    pub hsts_max_age_secs: u64,
    /// Add `includeSubDomains` to HSTS.
    pub hsts_include_subdomains: bool,
}

impl Default for SecurityHeadersConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            x_frame_options: "SAMEORIGIN".into(),
            x_content_type_options: "nosniff".into(),
            referrer_policy: "strict-origin-when-cross-origin".into(),
            permissions_policy: String::new(),
            content_security_policy: String::new(),
            hsts_max_age_secs: 31_536_000,
            hsts_include_subdomains: true,
        }
    }
}

/// `[http.cors]`
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct CorsConfig {
    /// Answer CORS requests at all.
    pub enabled: bool,
    /// Allowed origins (`https://app.test`), or `["*"]` for any.
    pub allowed_origins: Vec<String>,
    /// Allowed methods, or `["*"]`.
    pub allowed_methods: Vec<String>,
    /// Allowed request headers, or `["*"]`.
    pub allowed_headers: Vec<String>,
    /// Response headers the browser may read.
    pub exposed_headers: Vec<String>,
    /// How long a preflight may be cached, in seconds (0: not at all).
    pub max_age_secs: u64,
    /// Allow cookies and credentials (not with `*` origins).
    pub supports_credentials: bool,
}

impl Default for CorsConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            allowed_origins: vec!["*".into()],
            allowed_methods: vec!["*".into()],
            allowed_headers: vec!["*".into()],
            exposed_headers: Vec::new(),
            max_age_secs: 0,
            supports_credentials: false,
        }
    }
}

/// A mistake in `[http]` found when the stack is built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration value for `http.{key}`: {message}")]
pub struct StackError {
    /// The key under `[http]`.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

fn invalid(key: &str, message: impl Into<String>) -> StackError {
    StackError {
        key: key.to_owned(),
        message: message.into(),
    }
}

/// The whole app as one service: the global stack around the router.
///
/// Each clone owns its copy of the composed stack (whose layers are reference counts), so a
/// call goes straight in without copying the stack first; the server clones it once per
/// connection, not per request. A call boxes its future.
pub struct AppService {
    stack: Box<dyn CallStack>,
}

impl AppService {
    /// Type-erase `service`.
    pub fn new<S>(service: S) -> Self
    where
        S: Service<Request, Response = Response, Error = Infallible>
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        Self {
            stack: Box::new(service),
        }
    }
}

impl Clone for AppService {
    fn clone(&self) -> Self {
        Self {
            stack: self.stack.clone_box(),
        }
    }
}

impl std::fmt::Debug for AppService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppService").finish_non_exhaustive()
    }
}

/// The future of [`AppService`].
pub type AppFuture = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

/// A composed stack, type-erased.
trait CallStack: Send + Sync {
    fn call(&mut self, request: Request) -> AppFuture;
    fn clone_box(&self) -> Box<dyn CallStack>;
}

impl<S> CallStack for S
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
{
    fn call(&mut self, request: Request) -> AppFuture {
        // The stack's layers and the router never apply backpressure, so this is ready at once;
        // a service that is not waits for readiness inside the future instead.
        match self.poll_ready(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(Ok(())) => Box::pin(Service::call(self, request)),
            Poll::Ready(Err(never)) => match never {},
            Poll::Pending => Box::pin(self.clone().oneshot(request)),
        }
    }

    fn clone_box(&self) -> Box<dyn CallStack> {
        Box::new(self.clone())
    }
}

impl Service<Request> for AppService {
    type Response = Response;
    type Error = Infallible;
    type Future = AppFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> AppFuture {
        self.stack.call(request)
    }
}

/// When `Strict-Transport-Security` is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hsts {
    /// Never (outside production).
    Never,
    /// On every response (production, and the app's URL is https).
    Always,
    /// To clients a trusted proxy says came over https (production, http URL).
    ForwardedHttps,
}

/// What the stack needs besides `[http]`, from the kernel.
#[derive(Debug)]
pub struct StackParts {
    /// When HSTS applies.
    pub hsts: Hsts,
    /// The app's root directory, for static files; `None` turns them off.
    pub root: Option<PathBuf>,
    /// Index static files at boot instead of looking at the disk per request (outside
    /// `local`).
    pub index_static_files: bool,
    /// The app's distinct route templates, to label metrics and the access log.
    pub route_templates: Vec<String>,
    /// Metrics to record into, when on.
    pub metrics: Option<Arc<Metrics>>,
    /// Maintenance mode, when on.
    pub maintenance: Option<Arc<Maintenance>>,
}

impl Default for StackParts {
    fn default() -> Self {
        Self {
            hsts: Hsts::Never,
            root: None,
            index_static_files: true,
            route_templates: Vec::new(),
            metrics: None,
            maintenance: None,
        }
    }
}

/// The configured global stack, ready to wrap a router.
#[derive(Clone)]
pub struct Stack {
    #[cfg(feature = "compression")]
    compression: Option<CompressionLayer>,
    front: FrontLayer,
    /// Nothing between the front and the router but method spoofing (see [`Stack::wrap`]).
    bare: bool,
    cors: Option<CorsLayer>,
    /// The timeout as a layer, when the front does not keep it.
    timeout: Option<Duration>,
    body_limit: Option<usize>,
    etag: Option<EtagLayer>,
    static_files: Option<StaticFilesLayer>,
}

impl std::fmt::Debug for Stack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut stack = f.debug_struct("Stack");
        stack.field("front", &self.front);
        #[cfg(feature = "compression")]
        stack.field("compression", &self.compression.is_some());
        stack
            .field("cors", &self.cors.is_some())
            .field("timeout", &self.timeout)
            .field("body_limit", &self.body_limit)
            .field("etag", &self.etag)
            .field("static_files", &self.static_files.is_some())
            .finish()
    }
}

/// axum's own default for extractors; a different limit needs its layer.
const AXUM_DEFAULT_BODY_LIMIT: usize = 2 * 1024 * 1024;

impl Stack {
    /// Build the stack from `[http]` and what the kernel knows.
    ///
    /// Fails on a value the stack cannot use, naming its key: a bad header name or value, a
    /// CORS configuration that allows credentials with `*`, and `compression.enabled = true`
    /// in a build without the `compression` feature.
    pub fn new(
        config: &HttpConfig,
        renderer: ErrorRenderer,
        parts: StackParts,
    ) -> Result<Self, StackError> {
        #[cfg(feature = "compression")]
        let compression = config.compression.enabled.then(|| {
            let mut layer = CompressionLayer::new();
            if !config.compression.gzip {
                layer = layer.no_gzip();
            }
            if !config.compression.br {
                layer = layer.no_br();
            }
            if !config.compression.zstd {
                layer = layer.no_zstd();
            }
            layer
        });
        #[cfg(not(feature = "compression"))]
        if config.compression.enabled {
            return Err(invalid(
                "compression.enabled",
                "response compression is not compiled in: turn on the `compression` feature of \
                 `foundry` (or `foundry-http`), or set it to `false` and compress in a reverse proxy",
            ));
        }
        let request_ids = if config.request_id.enabled {
            let name = HeaderName::try_from(config.request_id.header.as_str())
                .map_err(|e| invalid("request_id.header", format!("not a header name ({e})")))?;
            Some(RequestIds::new(lasting_name(name)))
        } else {
            None
        };
        let proxies = TrustedProxies::parse(&config.trusted_proxies)
            .map_err(|message| invalid("trusted_proxies", message))?;
        let access_log = config
            .access_log
            .enabled
            .then(|| AccessLog::new(&config.access_log.level))
            .transpose()
            .map_err(|message| invalid("access_log.level", message))?;
        let observer = (parts.metrics.is_some() || access_log.is_some()).then(|| {
            let mut observer = Observer::new(parts.route_templates, parts.metrics, access_log);
            observer.mark_json_routes(|template| renderer.is_json_route(template));
            observer
        });
        let static_files = match &parts.root {
            Some(root) if config.static_files.enabled => {
                let prefix = &config.static_files.prefix;
                if !prefix.starts_with('/') {
                    return Err(invalid(
                        "static_files.prefix",
                        format!("`{prefix}` must start with `/`"),
                    ));
                }
                let cache_control = (!config.static_files.cache_control.is_empty())
                    .then(|| HeaderValue::from_str(&config.static_files.cache_control))
                    .transpose()
                    .map_err(|_| {
                        invalid("static_files.cache_control", "not a valid header value")
                    })?;
                StaticFiles::new(
                    &root.join(&config.static_files.dir),
                    prefix,
                    cache_control,
                    parts.index_static_files,
                )
                .map(StaticFilesLayer::new)
            }
            _ => None,
        };
        let (hsts_always, hsts_allowed) = match parts.hsts {
            Hsts::Never => (false, false),
            Hsts::Always => (true, true),
            Hsts::ForwardedHttps => (false, !proxies.is_empty()),
        };
        let timeout = (config.timeout_secs > 0).then(|| Duration::from_secs(config.timeout_secs));
        let cors = config
            .cors
            .enabled
            .then(|| cors_layer(&config.cors))
            .transpose()?;
        let body_limit =
            (config.max_body_bytes != AXUM_DEFAULT_BODY_LIMIT).then_some(config.max_body_bytes);
        let etag = config
            .etag
            .enabled
            .then(|| EtagLayer::new(config.etag.weak, config.etag.max_body_bytes));
        #[cfg(feature = "compression")]
        let compressed = compression.is_some();
        #[cfg(not(feature = "compression"))]
        let compressed = false;
        // With nothing between the front and the router, the front times requests itself.
        let bare = !compressed
            && cors.is_none()
            && body_limit.is_none()
            && etag.is_none()
            && static_files.is_none();
        let front = Front {
            timeout: timeout.filter(|_| bare),
            renderer,
            request_ids,
            headers: response_headers(config)?
                .into_iter()
                .map(|(name, value)| (lasting_name(name), lasting(value)))
                .collect(),
            hsts: if hsts_allowed {
                hsts_header(&config.security_headers)?.map(lasting)
            } else {
                None
            },
            hsts_always,
            max_body_bytes: Some(config.max_body_bytes),
            proxies: (!proxies.is_empty()).then_some(proxies),
            maintenance: parts.maintenance,
            observer,
        };
        Ok(Self {
            #[cfg(feature = "compression")]
            compression,
            front: FrontLayer::new(front),
            bare,
            cors,
            timeout: timeout.filter(|_| !bare),
            body_limit,
            etag,
            static_files,
        })
    }

    /// Wrap `router` (or any service in front of it) in the stack.
    pub fn wrap<S>(&self, router: S) -> AppService
    where
        S: Service<Request, Response = Response, Error = Infallible>
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        if self.bare {
            // The usual API stack: the front (which also keeps the time), method spoofing, the
            // router. Absent layers are left out, not passed through: each would still wrap
            // every request's future in one more (moved) level.
            return AppService::new(
                ServiceBuilder::new()
                    .layer(self.front.clone())
                    .layer(MethodOverrideLayer)
                    .service(router),
            );
        }
        let inner = ServiceBuilder::new()
            .layer(self.front.clone())
            .option_layer(self.cors.clone())
            .layer(
                self.timeout
                    .map_or_else(TimeoutLayer::off, TimeoutLayer::new),
            )
            .option_layer(self.body_limit.map(DefaultBodyLimit::max))
            .option_layer(self.etag)
            .layer(MethodOverrideLayer)
            .option_layer(self.static_files.clone())
            .service(router);
        #[cfg(feature = "compression")]
        if let Some(compression) = &self.compression {
            return AppService::new(
                ServiceBuilder::new()
                    // axum's server wants its own body type back.
                    .map_response(|response: Response<CompressionBody<Body>>| {
                        response.map(Body::new)
                    })
                    .layer(compression.clone())
                    .service(inner),
            );
        }
        AppService::new(inner)
    }
}

fn list(values: &[String]) -> Option<&[String]> {
    (!(values.len() == 1 && values[0] == "*")).then_some(values)
}

fn cors_layer(config: &CorsConfig) -> Result<CorsLayer, StackError> {
    let origins = list(&config.allowed_origins);
    let any_header = list(&config.allowed_headers).is_none();
    let any_method = list(&config.allowed_methods).is_none();
    if config.supports_credentials && (origins.is_none() || any_header || any_method) {
        return Err(invalid(
            "cors.supports_credentials",
            "credentials cannot be combined with `*` origins, methods or headers; list them",
        ));
    }
    let mut layer = CorsLayer::new().allow_credentials(config.supports_credentials);
    layer = match origins {
        None => layer.allow_origin(AllowOrigin::any()),
        Some(origins) => {
            let values = origins
                .iter()
                .map(|o| {
                    HeaderValue::from_str(o).map_err(|_| {
                        invalid(
                            "cors.allowed_origins",
                            format!("`{o}` is not a valid origin"),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            layer.allow_origin(AllowOrigin::list(values))
        }
    };
    layer = match list(&config.allowed_methods) {
        None => layer.allow_methods(AllowMethods::any()),
        Some(methods) => {
            let values = methods
                .iter()
                .map(|m| {
                    Method::from_bytes(m.to_ascii_uppercase().as_bytes()).map_err(|_| {
                        invalid("cors.allowed_methods", format!("`{m}` is not a method"))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            layer.allow_methods(AllowMethods::list(values))
        }
    };
    layer = match list(&config.allowed_headers) {
        None => layer.allow_headers(AllowHeaders::any()),
        Some(headers) => layer.allow_headers(AllowHeaders::list(header_names(
            "cors.allowed_headers",
            headers,
        )?)),
    };
    if !config.exposed_headers.is_empty() {
        layer = layer.expose_headers(header_names(
            "cors.exposed_headers",
            &config.exposed_headers,
        )?);
    }
    if config.max_age_secs > 0 {
        layer = layer.max_age(Duration::from_secs(config.max_age_secs));
    }
    Ok(layer)
}

fn header_names(key: &str, names: &[String]) -> Result<Vec<HeaderName>, StackError> {
    names
        .iter()
        .map(|n| {
            HeaderName::try_from(n.as_str())
                .map_err(|_| invalid(key, format!("`{n}` is not a header name")))
        })
        .collect()
}

/// The security headers (HSTS aside), then `response_headers`; both are added to every
/// response from one precomputed list, so a configured header costs one insert per request.
fn response_headers(config: &HttpConfig) -> Result<Vec<(HeaderName, HeaderValue)>, StackError> {
    let mut headers = security_headers(&config.security_headers)?;
    for (name, value) in &config.response_headers {
        let key = format!("response_headers.{name}");
        let name = HeaderName::try_from(name.as_str())
            .map_err(|_| invalid(&key, format!("`{name}` is not a header name")))?;
        let value = HeaderValue::from_str(value)
            .map_err(|_| invalid(&key, format!("`{value}` is not a valid header value")))?;
        headers.push((name, value));
    }
    Ok(headers)
}

/// `bytes`, kept for the life of the process: each distinct value once, so building the
/// stack again (tests, a second app) does not add to them.
fn kept(bytes: &[u8]) -> &'static [u8] {
    static KEPT: Mutex<Vec<&'static [u8]>> = Mutex::new(Vec::new());
    let mut kept = KEPT.lock().unwrap_or_else(PoisonError::into_inner);
    match kept.iter().find(|kept| **kept == bytes) {
        Some(bytes) => bytes,
        None => {
            let bytes: &'static [u8] = Box::leak(bytes.into());
            kept.push(bytes);
            bytes
        }
    }
}

/// `value`, kept for the life of the process. The front copies these onto every response: a
/// copy of a static value is a pointer copy, where a copy of a shared one is an atomic
/// reference count up and, when the response is dropped, down again.
fn lasting(value: HeaderValue) -> HeaderValue {
    // The bytes came from a valid value, so they make one again.
    HeaderValue::from_maybe_shared(bytes::Bytes::from_static(kept(value.as_bytes())))
        .unwrap_or(value)
}

/// `name`, kept for the life of the process, as [`lasting`] keeps values: a name that is not
/// one of the standard ones is otherwise shared bytes, counted up and down on every copy.
fn lasting_name(name: HeaderName) -> HeaderName {
    match std::str::from_utf8(kept(name.as_str().as_bytes())) {
        // A header name's text is a valid, lowercase name.
        Ok(text) => HeaderName::from_static(text),
        Err(_) => name,
    }
}

/// The configured security headers, HSTS aside.
fn security_headers(
    config: &SecurityHeadersConfig,
) -> Result<Vec<(HeaderName, HeaderValue)>, StackError> {
    let mut headers = Vec::new();
    if !config.enabled {
        return Ok(headers);
    }
    let pairs = [
        (
            header::X_FRAME_OPTIONS,
            "security_headers.x_frame_options",
            &config.x_frame_options,
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            "security_headers.x_content_type_options",
            &config.x_content_type_options,
        ),
        (
            header::REFERRER_POLICY,
            "security_headers.referrer_policy",
            &config.referrer_policy,
        ),
        (
            HeaderName::from_static("permissions-policy"),
            "security_headers.permissions_policy",
            &config.permissions_policy,
        ),
        (
            header::CONTENT_SECURITY_POLICY,
            "security_headers.content_security_policy",
            &config.content_security_policy,
        ),
    ];
    for (name, key, value) in pairs {
        if !value.is_empty() {
            let value = HeaderValue::from_str(value)
                .map_err(|_| invalid(key, "not a valid header value"))?;
            headers.push((name, value));
        }
    }
    Ok(headers)
}

/// The `Strict-Transport-Security` value, when security headers and HSTS are on.
fn hsts_header(config: &SecurityHeadersConfig) -> Result<Option<HeaderValue>, StackError> {
    if !config.enabled || config.hsts_max_age_secs == 0 {
        return Ok(None);
    }
    let mut value = format!("max-age={}", config.hsts_max_age_secs);
    if config.hsts_include_subdomains {
        value.push_str("; includeSubDomains");
    }
    HeaderValue::from_str(&value).map(Some).map_err(|_| {
        invalid(
            "security_headers.hsts_max_age_secs",
            "not a valid header value",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_compression(enabled: bool) -> HttpConfig {
        let mut config = HttpConfig::default();
        config.compression.enabled = enabled;
        config
    }

    fn stack(config: &HttpConfig) -> Result<Stack, StackError> {
        Stack::new(
            config,
            ErrorRenderer::new(false, "test"),
            StackParts::default(),
        )
    }

    /// The raw response (lower-cased) to `method path` from the default stack around
    /// `router`, over TCP.
    async fn raw_response(router: axum::Router, method: &str, path: &str) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let request = format!("{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let app = stack(&HttpConfig::default()).unwrap().wrap(router);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(crate::serve(
            listener,
            app,
            async {
                stopped.await.ok();
            },
            Duration::from_secs(5),
        ));
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut out = String::new();
        stream.read_to_string(&mut out).await.unwrap();
        stop.send(()).unwrap();
        server.await.unwrap().unwrap();
        out.to_ascii_lowercase()
    }

    #[tokio::test]
    async fn content_length_reaches_the_client_for_get_head_and_empty_bodies() {
        use axum::routing::get;
        let router = axum::Router::new()
            .route("/hello", get(|| async { "hello" }))
            .route("/blank", get(|| async { "" }))
            .route("/empty", get(|| async { http::StatusCode::NO_CONTENT }));
        let get = raw_response(router.clone(), "GET", "/hello").await;
        assert!(get.contains("\r\ncontent-length: 5\r\n"), "{get}");
        assert!(get.ends_with("\r\n\r\nhello"), "{get}");
        assert!(get.contains("\r\nx-frame-options: sameorigin\r\n"), "{get}");
        let head = raw_response(router.clone(), "HEAD", "/hello").await;
        assert!(head.contains("\r\ncontent-length: 5\r\n"), "{head}");
        assert!(head.ends_with("\r\n\r\n"), "{head}");
        // A HEAD of an empty body: hyper would not write the zero itself.
        let head = raw_response(router.clone(), "HEAD", "/blank").await;
        assert!(head.contains("\r\ncontent-length: 0\r\n"), "{head}");
        let empty = raw_response(router, "GET", "/empty").await;
        assert!(empty.starts_with("http/1.1 204"), "{empty}");
        assert!(!empty.contains("content-length"), "{empty}");
    }

    #[test]
    fn lasting_names_are_the_given_ones_kept_once() {
        let first = lasting_name(HeaderName::from_bytes(b"x-kept-once-test").unwrap());
        let again = lasting_name(HeaderName::from_bytes(b"X-Kept-Once-Test").unwrap());
        assert_eq!(first, "x-kept-once-test");
        assert_eq!(first.as_str().as_ptr(), again.as_str().as_ptr());
        assert_eq!(lasting_name(header::SERVER), header::SERVER);
    }

    #[test]
    fn lasting_values_are_the_given_ones_kept_once() {
        let first = lasting(HeaderValue::from_str("kept-once-test").unwrap());
        let again = lasting(HeaderValue::from_str("kept-once-test").unwrap());
        assert_eq!(first, "kept-once-test");
        assert_eq!(first.as_bytes().as_ptr(), again.as_bytes().as_ptr());
        let other = lasting(HeaderValue::from_static("another-test-value"));
        assert_eq!(other, "another-test-value");
        assert_ne!(other.as_bytes().as_ptr(), first.as_bytes().as_ptr());
    }

    #[test]
    fn compression_off_builds_with_or_without_the_feature() {
        assert!(stack(&with_compression(false)).is_ok());
    }

    #[cfg(feature = "compression")]
    #[tokio::test]
    async fn compression_on_compresses() {
        use tower::ServiceExt;

        let stack = stack(&with_compression(true)).unwrap();
        let app = stack.wrap(tower::service_fn(|_request: Request| async {
            Ok::<_, Infallible>(Response::new(Body::from("RustForge ".repeat(500))))
        }));
        let request = Request::builder()
            .uri("/")
            .header(header::ACCEPT_ENCODING, "gzip")
            .body(axum::body::Body::empty())
            .unwrap();
        let response = app.oneshot(request).await.unwrap();
        assert_eq!(response.headers()[header::CONTENT_ENCODING], "gzip");
    }

    #[cfg(not(feature = "compression"))]
    #[test]
    fn compression_on_without_the_feature_is_a_configuration_error() {
        let err = stack(&with_compression(true)).unwrap_err();
        assert_eq!(err.key, "compression.enabled");
        let message = err.to_string();
        assert!(
            message.contains("`http.compression.enabled`")
                && message.contains("`compression` feature"),
            "{message}"
        );
    }
}
