//! The drivers, one per file.

pub mod database;
pub mod memory;
#[cfg(feature = "redis")]
pub mod redis;

#[cfg(feature = "redis")]
/// How long a finished job's status is kept by drivers that expire it.
pub(crate) const STATUS_TTL_SECS: u64 = 86_400;

/// Milliseconds in `secs` seconds.
pub(crate) fn millis(secs: u64) -> i64 {
    i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX)
}
