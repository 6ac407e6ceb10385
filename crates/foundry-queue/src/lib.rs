//! RustForge queues: jobs with a serde payload and a registered name, dispatched to a
//! connection (`sync`, `memory`, `database` on SQLite or PostgreSQL, `redis`) and run by a
//! worker with Laravel's semantics: tries, backoff, timeouts, `release`, `fail`, at-least-once
//! delivery (`retry_after`), failed jobs, unique jobs, chains, batches, statuses and events.
//!
//! Design: one small driver seam ([`QueueDriver`] + [`JobStore`], implemented once per file
//! under `driver/`); everything above it (retries, chains, batches) is written once in the
//! worker, so every driver behaves the same and one test suite checks them all. Callbacks of
//! chains and batches are jobs, not closures, so they survive restarts and run on any worker.
//! Delivery is at least once: jobs must be idempotent.
//!
//! The guide is `docs/queues.md`.

mod batch;
mod config;
mod contract;
pub mod driver;
mod error;
mod events;
mod job;
mod manager;
pub mod migrations;
mod worker;

pub use batch::{Batch, PendingBatch, PendingChain};
pub use config::{
    ConnectionConfig, DEFAULT_QUEUE, DatabaseConfig, MemoryConfig, QueueConfig, RedisConfig,
};
pub use contract::{
    BatchRecord, Driver, FailedJob, JobStatus, JobStore, NewJob, QueueDriver, Reserved,
};
pub use error::{QueueError, QueueResult};
pub use events::QueueEvent;
pub use job::{Backoff, Failure, Job, JobContext, JobError, JobRegistry, JobResult, Payload};
pub use manager::{Connection, Dispatched, PendingDispatch, QueueManager};
pub use worker::{Worker, WorkerOptions, WorkerReport};

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// An error and its causes on one line.
fn error_text(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut next = err.source();
    while let Some(cause) = next {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        next = cause.source();
    }
    text
}
