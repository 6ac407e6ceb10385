//! RustForge HTTP kernel: routes with names and groups, named middleware, error rendering, and
//! serving with graceful shutdown.
//!
//! axum stays visible: handlers are axum handlers, middleware are tower layers, and
//! [`Routes`] builds a plain `axum::Router`.
//!
//! Cargo features: `compression` (on by default) links the gzip, Brotli and zstd codecs of the
//! global stack's response compression (`[http.compression]`); `views` adds minijinja views and
//! error page templates; `typed-views` adds templates compiled at build time (`View::template`),
//! with or without `views`; `db` adds route-model binding and API resources over `foundry-db`.

#[cfg(feature = "db")]
pub mod binding;
pub mod constraint;
pub mod etag;
pub mod extract;
pub mod front;
pub mod health;
#[cfg(feature = "db")]
pub mod json_resource;
pub mod maintenance;
pub mod method_override;
pub mod metrics;
pub mod middleware;
pub mod observe;
pub mod proxy;
pub mod render;
pub mod resource;
pub mod respond;
pub mod routing;
pub mod server;
pub mod signed;
pub mod stack;
pub mod static_files;
pub mod timeout;
#[cfg(any(feature = "views", feature = "typed-views"))]
pub mod views;

#[cfg(feature = "db")]
pub use binding::{Bound, RouteKey, WithTrashed};
pub use extract::{Form, Json, Path, Query};
#[cfg(feature = "db")]
pub use json_resource::{Fields, JsonResource, ResourceResponse};
pub use method_override::MethodOverrideLayer;
pub use middleware::{MiddlewareRegistry, RouteFlag};
pub use proxy::{ClientInfo, ClientIp};
pub use render::{ErrorPage, ErrorPages, ErrorRenderer, wants_json};
pub use resource::{Action, Resource};
pub use routing::{Group, RouteError, RouteInfo, Routes};
pub use server::{Shutdown, serve, shutdown_signal};
pub use signed::ValidateSignatureLayer;
pub use stack::{AppFuture, AppService, Hsts, HttpConfig, Stack, StackParts};
#[cfg(any(feature = "views", feature = "typed-views"))]
pub use views::View;
#[cfg(feature = "views")]
pub use views::Views;
