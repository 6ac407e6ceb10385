//! RustForge core: configuration, the error type, the service registry and the app context.
//!
//! Every other `foundry-*` crate builds on these. Apps normally use them through the
//! `foundry` crate's re-exports.

pub mod body;
pub mod client;
pub mod clock;
pub mod config;
pub mod context;
pub mod error;
pub mod key;
pub mod provider;
pub mod services;
pub mod url;

pub use clock::Clock;
pub use config::{Config, ConfigError, Environment};
pub use context::{AppContext, BoxFuture};
pub use error::{Error, ErrorKind, ErrorReport, OptionExt, Result, ResultExt};
pub use key::AppKey;
pub use provider::ServiceProvider;
pub use services::{Service, Services, ServicesBuilder};
pub use url::UrlGenerator;
