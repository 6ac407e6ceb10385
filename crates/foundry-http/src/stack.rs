//! The global HTTP stack every request passes through, configured by `[http]`.
//!
//! Outermost first:
//!
//! 1. **compression** (when enabled) — gzip, br, zstd by `Accept-Encoding`, error pages too;
//! 2. **the front** ([`crate::front`]) — the **request id** (a valid incoming `X-Request-Id`
//!    is kept, otherwise one is made; it is set on the request and the response), the
//!    **body limit** for declared lengths (413), **panic catching** (a 500 that shows and logs
//!    the request id), **error rendering**, and the **security headers** (`X-Frame-Options`,
//!    `X-Content-Type-Options`, `Referrer-Policy`, optional `Content-Security-Policy` and
//!    `Permissions-Policy`, HSTS in production when the app's URL is `https`);
//! 3. **CORS** (when enabled);
//! 4. **request timeout** — 503 after `timeout_secs`;
//! 5. the body limit for bodies without a declared length (read by `Json`, `Form`, …);
//! 6. `_method` spoofing, then the router.
//!
//! The stack is composed once into one service: a disabled layer is absent or a branch, and
//! no layer is boxed on its own (route middleware, by contrast, is boxed by axum per route).

use std::convert::Infallible;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request};
use axum::response::Response;
use http::header::{self, HeaderName, HeaderValue};
use http::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use tower::util::BoxCloneSyncService;
use tower::{Service, ServiceBuilder};
use tower_http::compression::{CompressionBody, CompressionLayer};
use tower_http::cors::{AllowHeaders, AllowMethods, AllowOrigin, CorsLayer};
use tower_http::timeout::TimeoutLayer;

use crate::front::{Front, FrontLayer, RequestIds};
use crate::method_override::MethodOverrideLayer;
use crate::render::ErrorRenderer;

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
    /// Cross-origin resource sharing.
    pub cors: CorsConfig,
    /// Path of the liveness endpoint; empty to turn it off.
    pub health_path: String,
    /// Path of the readiness endpoint; empty to turn it off.
    pub ready_path: String,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            timeout_secs: 30,
            max_body_bytes: 2 * 1024 * 1024,
            compression: CompressionConfig::default(),
            request_id: RequestIdConfig::default(),
            security_headers: SecurityHeadersConfig::default(),
            cors: CorsConfig::default(),
            health_path: "/health".into(),
            ready_path: "/ready".into(),
        }
    }
}

/// `[http.compression]`; off by default (a reverse proxy usually compresses).
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
pub type AppService = BoxCloneSyncService<Request, Response, Infallible>;

/// The configured global stack, ready to wrap a router.
#[derive(Clone)]
pub struct Stack {
    compression: Option<CompressionLayer>,
    front: FrontLayer,
    cors: Option<CorsLayer>,
    timeout: Option<Duration>,
    body_limit: Option<usize>,
}

impl std::fmt::Debug for Stack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stack")
            .field("front", &self.front)
            .field("compression", &self.compression.is_some())
            .field("cors", &self.cors.is_some())
            .field("timeout", &self.timeout)
            .field("body_limit", &self.body_limit)
            .finish()
    }
}

/// axum's own default for extractors; a different limit needs its layer.
const AXUM_DEFAULT_BODY_LIMIT: usize = 2 * 1024 * 1024;

impl Stack {
    /// Build the stack; `hsts` says whether HSTS applies (production over https).
    pub fn new(
        config: &HttpConfig,
        renderer: ErrorRenderer,
        hsts: bool,
    ) -> Result<Self, StackError> {
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
        let request_ids = if config.request_id.enabled {
            let name = HeaderName::try_from(config.request_id.header.as_str())
                .map_err(|e| invalid("request_id.header", format!("not a header name ({e})")))?;
            Some(RequestIds::new(name))
        } else {
            None
        };
        let front = Front {
            renderer,
            request_ids,
            headers: security_headers(&config.security_headers, hsts)?,
            max_body_bytes: Some(config.max_body_bytes),
        };
        Ok(Self {
            compression,
            front: FrontLayer::new(front),
            cors: config
                .cors
                .enabled
                .then(|| cors_layer(&config.cors))
                .transpose()?,
            timeout: (config.timeout_secs > 0).then(|| Duration::from_secs(config.timeout_secs)),
            body_limit: (config.max_body_bytes != AXUM_DEFAULT_BODY_LIMIT)
                .then_some(config.max_body_bytes),
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
        let inner = ServiceBuilder::new()
            .layer(self.front.clone())
            .option_layer(self.cors.clone())
            .option_layer(
                self.timeout
                    .map(|t| TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, t)),
            )
            .option_layer(self.body_limit.map(DefaultBodyLimit::max))
            .layer(MethodOverrideLayer)
            .service(router);
        match &self.compression {
            None => BoxCloneSyncService::new(inner),
            Some(compression) => BoxCloneSyncService::new(
                ServiceBuilder::new()
                    // axum's server wants its own body type back.
                    .map_response(|response: Response<CompressionBody<Body>>| {
                        response.map(Body::new)
                    })
                    .layer(compression.clone())
                    .service(inner),
            ),
        }
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

/// The configured security headers; HSTS only when `hsts`.
fn security_headers(
    config: &SecurityHeadersConfig,
    hsts: bool,
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
    if hsts && config.hsts_max_age_secs > 0 {
        let mut value = format!("max-age={}", config.hsts_max_age_secs);
        if config.hsts_include_subdomains {
            value.push_str("; includeSubDomains");
        }
        let value = HeaderValue::from_str(&value).map_err(|_| {
            invalid(
                "security_headers.hsts_max_age_secs",
                "not a valid header value",
            )
        })?;
        headers.push((header::STRICT_TRANSPORT_SECURITY, value));
    }
    Ok(headers)
}
