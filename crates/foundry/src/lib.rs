//! RustForge: a batteries-included web framework with Laravel's developer experience.
//!
//! An app is a type implementing [`App`] and a `main` that hands control to [`run`]:
//!
//! ```no_run
//! use foundry::prelude::*;
//!
//! struct Blog;
//!
//! impl App for Blog {
//!     fn routes(routes: Routes) -> Routes {
//!         routes
//!             .get("/", || async { "Welcome" }).name("home")
//!             .group(|g| g.prefix("/api").name("api.").middleware("api"), |r| {
//!                 r.get("/hello", || async { Json(serde_json::json!({"message": "hello"})) })
//!                     .name("hello")
//!             })
//!     }
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     foundry::run::<Blog>()
//! }
//! ```
//!
//! The binary is then the app's own command line: `serve` (the default), `about`,
//! `key:generate`, `route:list`, `completions`, and the commands the app adds.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

/// Cache, locks and rate limiting (the `cache` feature).
#[cfg(feature = "cache")]
pub mod cache;
pub mod cli;
mod commands;
#[cfg(feature = "db")]
pub mod db;
pub mod kernel;
pub mod logging;
pub mod maintenance;
mod operations;
#[cfg(feature = "queue")]
pub mod queue;
/// Task scheduling: `App::schedule` and the `schedule:*` commands (the `schedule` feature).
#[cfg(feature = "schedule")]
pub mod schedule;

pub use foundry_core::{
    AppContext, AppKey, BoxFuture, Clock, Config, ConfigError, Environment, Error, ErrorKind,
    OptionExt, Result, ResultExt, Service, ServiceProvider, Services, ServicesBuilder, config,
    error, provider, services,
};
pub use foundry_http as http;
pub use foundry_http::{MiddlewareRegistry, RouteInfo, Routes};
/// Templates compiled into the binary for `App::views`: `foundry::embed_views!("resources/views")`.
#[cfg(feature = "views")]
pub use foundry_macros::embed_views;
/// Validation: rules, messages, `Validated<T>` and form requests (the `validation` feature).
#[cfg(feature = "validation")]
pub use foundry_validation as validation;
pub use kernel::{AppService, BootError, BootOptions, Kernel};

/// The guides in `docs/`, compiled as doctests so their examples cannot drift.
#[cfg(doctest)]
mod guides {
    #[doc = include_str!("../../../docs/kernel.md")]
    struct Kernel;
    #[doc = include_str!("../../../docs/configuration.md")]
    struct Configuration;
    #[doc = include_str!("../../../docs/errors.md")]
    struct Errors;
    #[doc = include_str!("../../../docs/cli.md")]
    struct Cli;
    #[doc = include_str!("../../../docs/http.md")]
    struct Http;
    #[cfg(feature = "views")]
    #[doc = include_str!("../../../docs/views.md")]
    struct Views;
    #[cfg(all(feature = "db", feature = "views"))]
    #[doc = include_str!("../../../docs/responses.md")]
    struct Responses;
    #[cfg(feature = "cache")]
    #[doc = include_str!("../../../docs/cache.md")]
    struct Cache;
    #[cfg(feature = "cache")]
    #[doc = include_str!("../../../docs/rate-limiting.md")]
    struct RateLimiting;
    #[cfg(feature = "queue")]
    #[doc = include_str!("../../../docs/queues.md")]
    struct Queues;
    #[cfg(all(feature = "schedule", feature = "queue"))]
    #[doc = include_str!("../../../docs/scheduling.md")]
    struct Scheduling;
}

/// The framework's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// What most apps import.
pub mod prelude {
    pub use crate::cli::{CommandResult, Commands, Invocation};
    pub use crate::{
        App, AppContext, Config, Error, ErrorKind, Result, Routes, Service, ServiceProvider,
    };
    pub use axum::extract::State;
    pub use axum::response::{Html, IntoResponse};
    #[cfg(any(feature = "views", feature = "typed-views"))]
    pub use foundry_http::View;
    #[cfg(feature = "views")]
    pub use foundry_http::Views;
    pub use foundry_http::{Form, Json, Path, Query};
}

/// An application: its routes, services, middleware and commands.
///
/// Every method but `routes` has a default; components add their hooks (migrations, jobs,
/// schedules) as they arrive, always with a default so existing apps keep compiling.
pub trait App: Send + Sync + 'static {
    /// The app's routes.
    fn routes(routes: Routes) -> Routes;

    /// Service providers, registered then booted in this order.
    fn providers() -> Vec<Box<dyn ServiceProvider>> {
        Vec::new()
    }

    /// Add or replace named middleware and groups (the registry starts with `web` and `api`).
    fn middleware(registry: MiddlewareRegistry<AppContext>) -> MiddlewareRegistry<AppContext> {
        registry
    }

    /// Add commands to the app's command line.
    fn commands(commands: &mut Commands) {
        let _ = commands;
    }

    /// Where the app's `foundry.toml` lives when the binary runs from elsewhere, e.g.
    /// `Some(env!("CARGO_MANIFEST_DIR").into())` so `cargo run -p app` works from a workspace
    /// root. The current directory wins when it has a `foundry.toml`; `FOUNDRY_ROOT` wins over
    /// both.
    fn root() -> Option<PathBuf> {
        None
    }

    /// Templates compiled into the binary, used whenever hot reload is off (see
    /// `docs/views.md`): `foundry::embed_views!("resources/views")`.
    #[cfg(feature = "views")]
    fn views() -> foundry_http::views::Embedded {
        &[]
    }

    /// The app's migrations, in the order they run (`migrate` and friends).
    #[cfg(feature = "db")]
    fn migrations() -> db::MigrationList {
        Vec::new()
    }

    /// The app's seeders, in the order `db:seed` runs them.
    #[cfg(feature = "db")]
    fn seeders() -> Vec<Box<dyn db::seed::Seeder>> {
        Vec::new()
    }

    /// The app's queued jobs, so workers can run them by name (`jobs.register::<MyJob>()`).
    #[cfg(feature = "queue")]
    fn jobs(jobs: &mut queue::JobRegistry) {
        let _ = jobs;
    }

    /// The app's scheduled tasks (`schedule:run`, `schedule:work`, `schedule:list`):
    /// `s.call("name", |ctx| async { … }).daily_at("3:00")`, `s.job(…)`, `s.command(…)`.
    /// Mistakes in it (a bad time, an unknown command) fail the boot, each one named.
    #[cfg(feature = "schedule")]
    fn schedule(s: &mut schedule::Schedule) {
        let _ = s;
    }
}

use cli::Commands;

/// Run the app's command line with the process arguments; returns the exit status.
pub fn run<A: App>() -> ExitCode {
    run_with_args::<A>(std::env::args_os().collect())
}

/// Run the app's command line with explicit arguments (program name first).
pub fn run_with_args<A: App>(args: Vec<OsString>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let commands = command_registry::<A>();
    let root = kernel::resolve_root(A::root());
    runtime.block_on(commands.dispatch(args, root, boot_boxed::<A>))
}

/// Every command of the app: the framework's, its components', then the app's own.
pub(crate) fn command_registry<A: App>() -> Commands {
    let mut commands = Commands::new();
    commands::register(&mut commands);
    #[cfg(feature = "db")]
    db::register::<A>(&mut commands);
    maintenance::register::<A>(&mut commands);
    #[cfg(feature = "queue")]
    queue::register(&mut commands);
    #[cfg(feature = "schedule")]
    schedule::register(&mut commands);
    A::commands(&mut commands);
    commands
}

fn boot_boxed<A: App>(
    config: Config,
) -> BoxFuture<'static, std::result::Result<Kernel, BootError>> {
    Box::pin(Kernel::boot::<A>(config))
}
