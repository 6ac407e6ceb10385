//! The four algorithms as pure functions of (state, now), shared by the memory limiter and the
//! store-backed limiter. The Redis limiter runs the same arithmetic in Lua (`redis.rs`).
//!
//! Times are Unix milliseconds. A step with `cost == 0` only inspects.

use serde::{Deserialize, Serialize};

use super::{Algorithm, Decision};

/// What one limit needs to step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Spec {
    pub(crate) algorithm: Algorithm,
    pub(crate) max: u64,
    pub(crate) period_ms: i64,
}

/// What a limiter remembers about one key.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "a")]
pub(crate) enum State {
    Fixed { count: u64, reset_at: i64 },
    Sliding { window: i64, prev: u64, curr: u64 },
    Bucket { tokens: f64, at: i64 },
    Gcra { tat: f64 },
}

/// The outcome of one step: the state to keep (until `expires_at`), and the decision.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Outcome {
    pub(crate) state: State,
    pub(crate) expires_at: i64,
    pub(crate) decision: Decision,
}

fn ceil_ms(ms: f64) -> i64 {
    // Saturating float → int: rates and periods are bounded far below i64::MAX.
    ms.max(0.0).ceil() as i64
}

/// A consuming step is allowed unless denied; an inspection (`cost == 0`) "would allow" while
/// something remains.
fn allowed(denied: bool, cost: u64, remaining: u64) -> bool {
    !denied && (cost > 0 || remaining > 0)
}

/// Step `spec` for one key holding `state` at `now`, consuming `cost`.
pub(crate) fn step(state: Option<State>, spec: Spec, now: i64, cost: u64) -> Outcome {
    let period = spec.period_ms.max(1);
    let max = spec.max;
    match spec.algorithm {
        Algorithm::FixedWindow => {
            let (mut count, reset_at) = match state {
                Some(State::Fixed { count, reset_at }) if reset_at > now => (count, reset_at),
                _ => (0, now + period),
            };
            let denied = cost > 0 && count.saturating_add(cost) > max;
            if !denied {
                count += cost;
            }
            let remaining = max.saturating_sub(count);
            let window_left = reset_at - now;
            Outcome {
                state: State::Fixed { count, reset_at },
                expires_at: reset_at,
                decision: Decision::new(
                    max,
                    allowed(denied, cost, remaining),
                    remaining,
                    if denied { window_left } else { 0 },
                    window_left,
                ),
            }
        }
        Algorithm::SlidingWindow => {
            let window = now - now.rem_euclid(period);
            let (prev, mut curr) = match state {
                Some(State::Sliding {
                    window: w,
                    prev,
                    curr,
                }) if w == window => (prev, curr),
                Some(State::Sliding {
                    window: w, curr, ..
                }) if w == window - period => (curr, 0),
                _ => (0, 0),
            };
            let left = period - (now - window);
            let weight = left as f64 / period as f64;
            let estimate = prev as f64 * weight + curr as f64;
            let denied = cost > 0 && estimate + cost as f64 > max as f64;
            let retry = if !denied {
                curr += cost;
                0
            } else if cost > max {
                2 * period
            } else if curr + cost <= max {
                // Wait in this window until the previous window's share has decayed enough.
                let room = (max - cost - curr) as f64;
                ceil_ms(left as f64 - room * period as f64 / prev.max(1) as f64).max(1)
            } else {
                // Wait into the next window, where this window's count decays instead.
                let room = (max - cost) as f64;
                left + ceil_ms(period as f64 - room * period as f64 / curr.max(1) as f64)
            };
            let estimate = prev as f64 * weight + curr as f64;
            let remaining = (max as f64 - estimate).floor().max(0.0) as u64;
            let reset = if curr > 0 {
                left + period
            } else if prev > 0 {
                left
            } else {
                0
            };
            Outcome {
                state: State::Sliding { window, prev, curr },
                expires_at: window + 2 * period,
                decision: Decision::new(
                    max,
                    allowed(denied, cost, remaining),
                    remaining,
                    retry,
                    reset,
                ),
            }
        }
        Algorithm::TokenBucket => {
            let rate = max as f64 / period as f64;
            let (tokens, at) = match state {
                Some(State::Bucket { tokens, at }) => (tokens, at),
                _ => (max as f64, now),
            };
            let mut tokens = (tokens + (now - at).max(0) as f64 * rate).min(max as f64);
            let denied = cost > 0 && tokens < cost as f64;
            if !denied {
                tokens -= cost as f64;
            }
            let remaining = tokens.floor().max(0.0) as u64;
            let retry = if denied && rate > 0.0 {
                ceil_ms((cost as f64 - tokens) / rate)
            } else {
                0
            };
            let reset = if rate <= 0.0 {
                0
            } else {
                ceil_ms((max as f64 - tokens) / rate)
            };
            Outcome {
                state: State::Bucket { tokens, at: now },
                expires_at: now + reset.max(1),
                decision: Decision::new(
                    max,
                    allowed(denied, cost, remaining),
                    remaining,
                    retry,
                    reset,
                ),
            }
        }
        Algorithm::Gcra => {
            let interval = period as f64 / max.max(1) as f64;
            let now_f = now as f64;
            let mut tat = match state {
                Some(State::Gcra { tat }) => tat.max(now_f),
                _ => now_f,
            };
            let new_tat = tat + cost as f64 * interval;
            let allow_at = new_tat - period as f64;
            let denied = cost > 0 && (allow_at > now_f || max == 0);
            if !denied {
                tat = new_tat;
            }
            let remaining = ((period as f64 - (tat - now_f)) / interval)
                .floor()
                .max(0.0) as u64;
            let retry = if denied { ceil_ms(allow_at - now_f) } else { 0 };
            let reset = ceil_ms(tat - now_f);
            Outcome {
                state: State::Gcra { tat },
                expires_at: now + reset.max(1),
                decision: Decision::new(
                    max,
                    allowed(denied, cost, remaining),
                    remaining,
                    retry,
                    reset,
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(algorithm: Algorithm, max: u64, period_ms: i64, times: &[i64]) -> Vec<bool> {
        let spec = Spec {
            algorithm,
            max,
            period_ms,
        };
        let mut state = None;
        times
            .iter()
            .map(|&now| {
                let outcome = step(state, spec, now, 1);
                state = Some(outcome.state);
                outcome.decision.allowed
            })
            .collect()
    }

    #[test]
    fn every_algorithm_allows_exactly_max_in_a_burst_then_recovers() {
        for algorithm in Algorithm::ALL {
            let allowed = run(algorithm, 5, 1000, &[0; 8]);
            assert_eq!(
                allowed,
                [true, true, true, true, true, false, false, false],
                "{algorithm:?}"
            );
            // Two full periods later everything has recovered.
            let mut times = vec![0; 5];
            times.push(2000);
            assert!(run(algorithm, 5, 1000, &times)[5], "{algorithm:?}");
        }
    }

    #[test]
    fn a_denied_step_says_when_to_come_back_and_that_is_true() {
        for algorithm in Algorithm::ALL {
            let spec = Spec {
                algorithm,
                max: 3,
                period_ms: 1000,
            };
            let mut state = None;
            let mut now = 10;
            for _ in 0..3 {
                state = Some(step(state, spec, now, 1).state);
            }
            let denied = step(state, spec, now, 1);
            assert!(!denied.decision.allowed, "{algorithm:?}");
            let wait = i64::try_from(denied.decision.retry_after.as_millis()).unwrap();
            assert!(wait > 0, "{algorithm:?}");
            now += wait;
            assert!(
                step(state, spec, now, 1).decision.allowed,
                "{algorithm:?} after {wait} ms"
            );
        }
    }
}
