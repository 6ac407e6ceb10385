//! The tables of the `database` driver, shipped as a framework migration the app lists with
//! its own (as Laravel ships `create_jobs_table`):
//!
//! ```
//! use std::sync::Arc;
//! use foundry_db::Migration;
//!
//! fn migrations() -> Vec<Arc<dyn Migration>> {
//!     let mut list = foundry_queue::migrations::all();
//!     // … the app's own migrations follow
//!     list
//! }
//! assert_eq!(migrations()[0].name(), "0001_01_01_000002_create_jobs_table");
//! ```
//!
//! Times are milliseconds since the epoch (`BIGINT`), so delays and backoff below a second
//! work; Laravel stores seconds.

use std::sync::Arc;

use foundry_db::Migration;
use foundry_db::schema::Schema;

/// `jobs`, `job_batches`, `failed_jobs`, `job_statuses` and `job_unique_locks`.
#[derive(Debug, Clone, Copy)]
pub struct CreateJobsTable;

impl Migration for CreateJobsTable {
    fn name(&self) -> &str {
        "0001_01_01_000002_create_jobs_table"
    }

    fn up(&self, schema: &mut Schema) {
        schema.create("jobs", |t| {
            t.id();
            t.string("uuid", 36).index();
            t.string("queue", 255);
            t.text("payload");
            t.integer("attempts").default(0);
            t.big_integer("reserved_at").nullable();
            t.big_integer("available_at");
            t.big_integer("created_at");
            // Reserving walks this index in order: ready rows by time, then id.
            t.index(&["queue", "reserved_at", "available_at", "id"]);
        });
        schema.create("job_batches", |t| {
            t.string("id", 36).primary();
            t.string("name", 255);
            t.big_integer("total_jobs");
            t.big_integer("pending_jobs");
            t.big_integer("failed_jobs");
            t.text("failed_job_ids");
            t.text("options").nullable();
            t.big_integer("cancelled_at").nullable();
            t.big_integer("created_at");
            t.big_integer("finished_at").nullable();
        });
        schema.create("failed_jobs", |t| {
            t.id();
            t.string("uuid", 36).unique();
            t.text("connection");
            t.text("queue");
            t.text("payload");
            t.text("exception");
            t.big_integer("failed_at");
        });
        schema.create("job_statuses", |t| {
            t.string("uuid", 36).primary();
            t.string("status", 16);
            t.big_integer("updated_at");
        });
        schema.create("job_unique_locks", |t| {
            t.string("key", 255).primary();
            t.big_integer("expires_at");
        });
    }

    fn down(&self, schema: &mut Schema) {
        for table in [
            "job_unique_locks",
            "job_statuses",
            "failed_jobs",
            "job_batches",
            "jobs",
        ] {
            schema.drop_if_exists(table);
        }
    }
}

/// Every queue migration, in order.
pub fn all() -> Vec<Arc<dyn Migration>> {
    vec![Arc::new(CreateJobsTable)]
}
