//! The database store's tables, shipped as framework migrations. As in Laravel, an app lists
//! them in its own migration list:
//!
//! ```
//! use std::sync::Arc;
//! use foundry_db::migrate::Migration;
//!
//! fn migrations() -> Vec<Arc<dyn Migration>> {
//!     vec![
//!         Arc::new(foundry_cache::migrations::CreateCacheTable),
//!         // … the app's own migrations
//!     ]
//! }
//! # assert_eq!(migrations()[0].name(), "0001_01_01_000001_create_cache_table");
//! ```

use foundry_db::migrate::Migration;
use foundry_db::schema::Schema;

/// Creates `cache` (`key`, `value`, `expiration`) and `cache_locks` (`key`, `owner`,
/// `expiration`); expirations are Unix milliseconds, `NULL` for forever.
#[derive(Debug, Clone, Copy, Default)]
pub struct CreateCacheTable;

impl Migration for CreateCacheTable {
    fn name(&self) -> &str {
        "0001_01_01_000001_create_cache_table"
    }

    fn up(&self, schema: &mut Schema) {
        schema.create("cache", |t| {
            t.string("key", 255).primary();
            t.text("value");
            t.big_integer("expiration").nullable().index();
        });
        schema.create("cache_locks", |t| {
            t.string("key", 255).primary();
            t.string("owner", 255);
            t.big_integer("expiration").nullable().index();
        });
    }

    fn down(&self, schema: &mut Schema) {
        schema.drop_if_exists("cache_locks");
        schema.drop_if_exists("cache");
    }
}
