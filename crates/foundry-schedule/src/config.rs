//! `[schedule]`: the scheduler's time zone and the cache store that holds its locks.

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::error::ScheduleError;

/// `[schedule]` in `foundry.toml`.
///
/// ```toml
/// [schedule]
/// timezone = "Europe/Paris"   # default for every task and for `schedule:list`; default "UTC"
/// cache = "redis"             # store of [cache.stores] holding the locks; default: the default store
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScheduleConfig {
    /// IANA time zone the tasks' times are read in unless a task sets its own
    /// (Laravel's `schedule_timezone`).
    pub timezone: String,
    /// The cache store for `without_overlapping` and `on_one_server` locks; empty: the
    /// default store. Every server must use a shared store (database or Redis) for
    /// `on_one_server` to mean anything.
    pub cache: String,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        Self {
            timezone: "UTC".to_owned(),
            cache: String::new(),
        }
    }
}

impl ScheduleConfig {
    /// The time zone, or an error naming the key and the closest known names.
    pub fn tz(&self) -> Result<Tz, ScheduleError> {
        parse_tz(&self.timezone)
            .map_err(|problem| ScheduleError::Config(format!("[schedule] timezone: {problem}")))
    }
}

/// Parse an IANA time zone name; the error suggests close names.
pub(crate) fn parse_tz(name: &str) -> Result<Tz, String> {
    name.parse::<Tz>().map_err(|_| {
        let mut close: Vec<(usize, &str)> = chrono_tz::TZ_VARIANTS
            .iter()
            .map(|tz| {
                let known = tz.name();
                (
                    strsim::levenshtein(&name.to_lowercase(), &known.to_lowercase()),
                    known,
                )
            })
            .filter(|(distance, _)| *distance <= 3)
            .collect();
        close.sort_unstable();
        let hint = match close.first() {
            Some((_, known)) => format!("did you mean `{known}`?"),
            None => "use an IANA name such as `Europe/Paris` or `UTC`".to_owned(),
        };
        format!("unknown time zone `{name}`; {hint}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_zones_parse_and_typos_get_a_suggestion() {
        assert_eq!(parse_tz("Europe/Paris"), Ok(Tz::Europe__Paris));
        let err = parse_tz("Europe/Pari").unwrap_err();
        assert!(err.contains("did you mean `Europe/Paris`"), "{err}");
        let err = parse_tz("Mars/Olympus").unwrap_err();
        assert!(err.contains("unknown time zone `Mars/Olympus`"), "{err}");
        let config = ScheduleConfig {
            timezone: "Nowhere".into(),
            ..ScheduleConfig::default()
        };
        assert!(
            config
                .tz()
                .unwrap_err()
                .to_string()
                .contains("[schedule] timezone")
        );
        assert_eq!(ScheduleConfig::default().tz().unwrap(), Tz::UTC);
    }
}
