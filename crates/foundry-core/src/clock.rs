//! The framework's one source of wall-clock time.
//!
//! Every component that stamps, expires or schedules something (cache TTLs, queued jobs,
//! rate limiters, model timestamps, signed URLs) asks a [`Clock`] instead of the system, so a
//! test can freeze time or travel through it and every component sees the same "now".
//!
//! ```
//! use std::time::Duration;
//! use foundry_core::Clock;
//!
//! let clock = Clock::system();
//! let frozen = clock.freeze();
//! assert_eq!(clock.now(), frozen);
//! clock.travel(Duration::from_secs(90));
//! assert_eq!(clock.now() - frozen, chrono::Duration::seconds(90));
//! clock.resume();
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, TimeZone, Utc};

/// A shared, cheaply cloned clock. Clones observe the same frozen instant and travel offset.
///
/// Outside tests it is the system clock; `freeze`, `travel` and `travel_to` exist for tests and
/// affect every component holding a clone.
#[derive(Clone, Default)]
pub struct Clock {
    state: Arc<State>,
}

#[derive(Default)]
struct State {
    frozen: AtomicBool,
    /// While frozen: the instant, in microseconds since the epoch.
    frozen_at_micros: AtomicI64,
    /// While running: microseconds added to the system time (time travel).
    offset_micros: AtomicI64,
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clock")
            .field("now", &self.now())
            .field("frozen", &self.is_frozen())
            .finish()
    }
}

impl Clock {
    /// The system clock (no offset, not frozen).
    pub fn system() -> Self {
        Self::default()
    }

    /// A clock frozen at `instant`; handy for tests that need exact timestamps.
    pub fn frozen_at(instant: DateTime<Utc>) -> Self {
        let clock = Self::system();
        // Frozen first: travelling a running clock lands a few microseconds past `instant`.
        clock.freeze();
        clock.travel_to(instant);
        clock
    }

    /// The current instant.
    pub fn now(&self) -> DateTime<Utc> {
        micros_to_datetime(self.now_micros())
    }

    /// The current instant in whole seconds since the Unix epoch.
    pub fn unix_timestamp(&self) -> i64 {
        self.now_micros().div_euclid(1_000_000)
    }

    /// The current instant in milliseconds since the Unix epoch.
    pub fn unix_millis(&self) -> i64 {
        self.now_micros().div_euclid(1_000)
    }

    /// The current instant as a [`SystemTime`].
    pub fn system_time(&self) -> SystemTime {
        let micros = self.now_micros();
        if micros >= 0 {
            UNIX_EPOCH + Duration::from_micros(micros.unsigned_abs())
        } else {
            UNIX_EPOCH - Duration::from_micros(micros.unsigned_abs())
        }
    }

    /// The current instant in microseconds since the Unix epoch.
    pub fn now_micros(&self) -> i64 {
        if self.state.frozen.load(Ordering::Acquire) {
            self.state.frozen_at_micros.load(Ordering::Acquire)
        } else {
            system_micros().saturating_add(self.state.offset_micros.load(Ordering::Acquire))
        }
    }

    /// Whether time stands still.
    pub fn is_frozen(&self) -> bool {
        self.state.frozen.load(Ordering::Acquire)
    }

    /// Stop time at the current instant and return it.
    pub fn freeze(&self) -> DateTime<Utc> {
        let now = self.now_micros();
        self.state.frozen_at_micros.store(now, Ordering::Release);
        self.state.frozen.store(true, Ordering::Release);
        micros_to_datetime(now)
    }

    /// Move time forward by `by` (frozen or not).
    pub fn travel(&self, by: Duration) {
        let micros = i64::try_from(by.as_micros()).unwrap_or(i64::MAX);
        self.shift(micros);
    }

    /// Move time back by `by` (frozen or not).
    pub fn travel_back(&self, by: Duration) {
        let micros = i64::try_from(by.as_micros()).unwrap_or(i64::MAX);
        self.shift(micros.saturating_neg());
    }

    /// Jump to `instant` (frozen or not; a running clock keeps running from there).
    pub fn travel_to(&self, instant: DateTime<Utc>) {
        let target = instant.timestamp_micros();
        if self.is_frozen() {
            self.state.frozen_at_micros.store(target, Ordering::Release);
        } else {
            self.state
                .offset_micros
                .store(target.saturating_sub(system_micros()), Ordering::Release);
        }
    }

    /// Back to the real system time: unfrozen, no offset.
    pub fn resume(&self) {
        self.state.frozen.store(false, Ordering::Release);
        self.state.offset_micros.store(0, Ordering::Release);
    }

    fn shift(&self, micros: i64) {
        if self.is_frozen() {
            self.state
                .frozen_at_micros
                .fetch_add(micros, Ordering::AcqRel);
        } else {
            self.state.offset_micros.fetch_add(micros, Ordering::AcqRel);
        }
    }
}

fn system_micros() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(since) => i64::try_from(since.as_micros()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_micros())
            .map(i64::wrapping_neg)
            .unwrap_or(i64::MIN),
    }
}

fn micros_to_datetime(micros: i64) -> DateTime<Utc> {
    Utc.timestamp_micros(micros)
        .single()
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_clock_follows_the_system() {
        let clock = Clock::system();
        // The clock counts whole microseconds; compare at that precision.
        let before = Utc::now().timestamp_micros();
        let now = clock.now_micros();
        let after = Utc::now().timestamp_micros();
        assert!(
            before <= now && now <= after,
            "{before} <= {now} <= {after}"
        );
        assert!(!clock.is_frozen());
    }

    #[test]
    fn frozen_time_stands_still_and_travels_exactly() {
        let start = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        let clock = Clock::frozen_at(start);
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(clock.now(), start);
        assert_eq!(clock.unix_timestamp(), start.timestamp());
        clock.travel(Duration::from_secs(3600));
        assert_eq!(clock.now(), start + chrono::Duration::hours(1));
        clock.travel_back(Duration::from_secs(7200));
        assert_eq!(clock.now(), start - chrono::Duration::hours(1));
        assert_eq!(
            clock.system_time(),
            UNIX_EPOCH + Duration::from_secs((start.timestamp() - 3600) as u64)
        );
    }

    #[test]
    fn clones_share_the_same_time() {
        let clock = Clock::system();
        let other = clock.clone();
        let frozen = clock.freeze();
        assert_eq!(other.now(), frozen);
        other.travel(Duration::from_secs(60));
        assert_eq!(clock.now(), frozen + chrono::Duration::seconds(60));
    }

    #[test]
    fn a_running_clock_can_travel_and_resume() {
        let clock = Clock::system();
        let target = Utc.with_ymd_and_hms(2030, 6, 1, 0, 0, 0).unwrap();
        clock.travel_to(target);
        let now = clock.now();
        assert!(
            now >= target && now < target + chrono::Duration::seconds(5),
            "{now}"
        );
        clock.travel(Duration::from_secs(86_400));
        assert!(clock.now() >= target + chrono::Duration::days(1));
        clock.resume();
        assert!((clock.now() - Utc::now()).num_seconds().abs() < 5);
    }
}
