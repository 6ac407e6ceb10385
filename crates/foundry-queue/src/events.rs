//! Events a worker fires as jobs run; listen with [`crate::QueueManager::listen`].

use std::time::Duration;

/// Something that happened to a job.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum QueueEvent {
    /// A worker is about to run the job.
    Processing {
        /// The connection.
        connection: String,
        /// The job's id.
        id: String,
        /// Its name.
        name: String,
        /// This attempt, from 1.
        attempt: u32,
    },
    /// The job finished without error.
    Processed {
        /// The connection.
        connection: String,
        /// The job's id.
        id: String,
        /// Its name.
        name: String,
        /// This attempt, from 1.
        attempt: u32,
        /// How long it ran.
        duration: Duration,
    },
    /// The job went back on its queue (an error with tries left, or `release`).
    Released {
        /// The connection.
        connection: String,
        /// The job's id.
        id: String,
        /// Its name.
        name: String,
        /// This attempt, from 1.
        attempt: u32,
        /// When it is available again.
        delay: Duration,
        /// The error, when it failed this attempt.
        error: Option<String>,
    },
    /// The job failed for good and was stored with the failed jobs.
    Failed {
        /// The connection.
        connection: String,
        /// The job's id.
        id: String,
        /// Its name (empty when the payload could not be read).
        name: String,
        /// The error.
        exception: String,
    },
}
