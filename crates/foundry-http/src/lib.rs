//! RustForge HTTP kernel: routes with names and groups, named middleware, error rendering, and
//! serving with graceful shutdown.
//!
//! axum stays visible: handlers are axum handlers, middleware are tower layers, and
//! [`Routes`] builds a plain `axum::Router`.

pub mod middleware;
pub mod render;
pub mod routing;
pub mod server;

pub use middleware::{MiddlewareRegistry, RouteFlag};
pub use render::{ErrorRenderLayer, ErrorRenderer, wants_json};
pub use routing::{Group, RouteError, RouteInfo, Routes};
pub use server::{Shutdown, serve, shutdown_signal};
