//! [`QueueError`]: what can go wrong dispatching, storing or running jobs.

use foundry_core::Error;
use foundry_db::DbError;

/// The result of queue operations.
pub type QueueResult<T> = Result<T, QueueError>;

/// What went wrong in the queue component.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueueError {
    /// `on_connection(name)` or `[queue] default` names a connection that is not configured.
    #[error(
        "queue connection `{name}` is not configured; configured: {configured}; add [queue.connections.{name}] to foundry.toml"
    )]
    UnknownConnection {
        /// The name asked for.
        name: String,
        /// The configured names.
        configured: String,
    },
    /// A job could not be turned into its JSON payload.
    #[error("cannot serialize job `{job}` into its payload: {source}")]
    Serialize {
        /// The job's registered name.
        job: String,
        /// The serde error.
        source: serde_json::Error,
    },
    /// The database under a `database` queue connection failed.
    #[error("database queue: {0}")]
    Db(#[from] DbError),
    /// The Redis server under a `redis` queue connection failed or is unreachable.
    #[error("redis queue at {host}: {reason}")]
    Redis {
        /// `host:port` of the server.
        host: String,
        /// What happened.
        reason: String,
    },
    /// The `[queue]` configuration cannot be used.
    #[error("invalid [queue] configuration: {0}")]
    Config(String),
    /// A job run with `dispatch_sync` (or on the `sync` driver) failed.
    #[error("job `{job}` failed: {message}")]
    JobFailed {
        /// The job's registered name.
        job: String,
        /// The failure.
        message: String,
    },
    /// Something that needs the app's cache (job middleware, `queue:restart`) ran on a queue
    /// manager without one.
    #[error(
        "{0} needs the app's cache, but this queue manager has none; the kernel gives it one when \
         foundry's `cache` feature is on (QueueManager::use_cache)"
    )]
    NoCache(String),
    /// The cache under job middleware or the restart signal failed.
    #[cfg(feature = "cache")]
    #[error("queue cache: {0}")]
    Cache(#[from] foundry_cache::CacheError),
    /// No batch has this id.
    #[error("no job batch with id `{0}`")]
    BatchNotFound(String),
    /// No failed job has this id.
    #[error("no failed job with id `{0}`; `queue:failed` lists them")]
    FailedJobNotFound(String),
}

impl From<QueueError> for Error {
    fn from(err: QueueError) -> Self {
        match err {
            QueueError::Db(db) => Error::from(db),
            other => Error::internal(other),
        }
    }
}
