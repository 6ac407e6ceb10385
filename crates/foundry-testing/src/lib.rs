//! RustForge's testing kit: boot the real app on a database of its own, call it without a
//! socket, and assert on responses and rows the way Laravel's tests do.
//!
//! ```
//! use foundry::prelude::*;
//! use foundry_testing::prelude::*;
//!
//! struct Hello;
//! impl App for Hello {
//!     fn routes(routes: Routes) -> Routes {
//!         routes.get("/hello", || async { Json(json!({"data": {"message": "hello"}})) })
//!     }
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let app = TestApp::boot::<Hello>().await;
//! app.get("/hello")
//!     .await
//!     .assert_ok()
//!     .assert_json_path("data.message", &json!("hello"));
//! # });
//! ```
//!
//! The guide is `docs/testing.md`.

mod app;
mod client;
mod database;
mod json;
mod response;

pub use app::{TestApp, TestAppBuilder};
pub use client::TestRequest;
pub use database::{TestDatabase, postgres_url, template_builds};
pub use response::TestResponse;

/// What tests import: [`TestApp`], [`TestResponse`], [`TestDatabase`] and `json!`.
pub mod prelude {
    pub use crate::{TestApp, TestDatabase, TestRequest, TestResponse};
    pub use serde_json::json;
}

/// The guide, compiled as doctests so its examples cannot drift.
#[cfg(doctest)]
mod guides {
    #[doc = include_str!("../../../docs/testing.md")]
    struct Testing;
}
