//! RustForge queues: jobs with a serde payload and a registered name, dispatched to a
//! connection (`sync`, `memory`, `database` on SQLite or PostgreSQL, `redis`) and run by a
//! worker with Laravel's semantics: tries, backoff, timeouts, `release`, `fail`, at-least-once
//! delivery (`retry_after`), failed jobs, unique jobs, chains, batches, statuses and events;
//! job middleware (`rate_limited`, `without_overlapping`), `queue:restart` and pausing in
//! maintenance mode.
//!
//! Design: one small driver seam ([`QueueDriver`] + [`JobStore`], implemented once per file
//! under `driver/`); everything above it (retries, chains, batches) is written once in the
//! worker, so every driver behaves the same and one test suite checks them all. Callbacks of
//! chains and batches are jobs, not closures, so they survive restarts and run on any worker.
//! Delivery is at least once: jobs must be idempotent.
//!
//! The cache seam: job middleware and `queue:restart` need the app's cache locks, rate
//! limiter and a shared key, which `foundry-cache` already has. The optional `cache` feature
//! uses it directly (`QueueManager::use_cache`) rather than a trait declared here, which
//! would repeat part of the cache's contract and need a second implementation; without the
//! feature the crate has no cache dependency, and a job with middleware fails with a message
//! saying so. Maintenance mode lives in the HTTP layer, so the worker only takes a pause
//! check ([`Worker::pause_while`]).
//!
//! The guide is `docs/queues.md`.

mod batch;
mod config;
mod contract;
mod control;
pub mod driver;
mod error;
mod events;
mod job;
mod manager;
mod middleware;
pub mod migrations;
mod worker;

pub use batch::{Batch, PendingBatch, PendingChain};
pub use config::{
    ConnectionConfig, DEFAULT_QUEUE, DatabaseConfig, MemoryConfig, QueueConfig, RedisConfig,
};
pub use contract::{
    BatchRecord, Driver, FailedJob, JobStatus, JobStore, NewJob, QueueDriver, Reserved,
};
pub use control::RESTART_KEY;
pub use error::{QueueError, QueueResult};
pub use events::QueueEvent;
pub use job::{Backoff, Failure, Job, JobContext, JobError, JobRegistry, JobResult, Payload};
pub use manager::{Connection, Dispatched, PendingDispatch, QueueManager};
pub use middleware::{
    JobMiddleware, RateLimited, WithoutOverlapping, rate_limited, without_overlapping,
};
pub use worker::{Worker, WorkerOptions, WorkerReport};

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
