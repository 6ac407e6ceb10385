//! Service providers: how the app and components register services and boot.
//!
//! Boot runs in two phases, as in Laravel: every provider's [`register`](ServiceProvider::register)
//! first (bind services; nothing is resolved yet), then every provider's
//! [`boot`](ServiceProvider::boot) with the finished [`AppContext`] (resolve services, add
//! shutdown hooks, warm caches).
//!
//! ```
//! use foundry_core::{AppContext, BoxFuture, Config, Result, ServicesBuilder};
//! use foundry_core::provider::ServiceProvider;
//!
//! struct Greeter(String);
//!
//! struct GreeterProvider;
//! impl ServiceProvider for GreeterProvider {
//!     fn register(&self, services: &mut ServicesBuilder, config: &Config) -> Result<()> {
//!         services.singleton(Greeter(format!("Hello from {}", config.app().name)));
//!         Ok(())
//!     }
//!
//!     fn boot<'a>(&'a self, ctx: &'a AppContext) -> BoxFuture<'a, Result<()>> {
//!         Box::pin(async move {
//!             let greeter = ctx.make::<Greeter>()?;
//!             tracing::info!(greeting = %greeter.0, "booted");
//!             Ok(())
//!         })
//!     }
//! }
//! ```

use std::any::type_name;

use crate::config::Config;
use crate::context::{AppContext, BoxFuture};
use crate::error::Result;
use crate::services::ServicesBuilder;

/// Registers services, then boots once every provider has registered.
pub trait ServiceProvider: Send + Sync + 'static {
    /// A name for logs and boot errors; the type name by default.
    fn name(&self) -> &'static str {
        type_name::<Self>()
    }

    /// Bind services. Runs before any provider boots.
    fn register(&self, services: &mut ServicesBuilder, config: &Config) -> Result<()>;

    /// Run once every provider has registered; may resolve services.
    fn boot<'a>(&'a self, ctx: &'a AppContext) -> BoxFuture<'a, Result<()>> {
        let _ = ctx;
        Box::pin(async { Ok(()) })
    }
}
