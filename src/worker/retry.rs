//! The retry policy: exponential backoff with jitter (computed with `backon`), bounded by a
//! number of attempts and by the total time since the first attempt.
//!
//! The queue is durable, so a retry is not a loop in memory: the worker computes the delay
//! for the attempt that just failed and schedules the message that far ahead. The schedule
//! therefore survives restarts.

use crate::config::RetryConfig;
use backon::{BackoffBuilder, ExponentialBuilder};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    cfg: RetryConfig,
}

/// What to do after a transient failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    RetryIn(Duration),
    /// Attempts or total time exhausted.
    GiveUp,
}

impl RetryPolicy {
    pub fn new(cfg: RetryConfig) -> Self {
        RetryPolicy { cfg }
    }

    pub fn max_attempts(&self) -> u32 {
        self.cfg.max_attempts
    }

    /// Decides after failed attempt number `attempt` (1-based), `elapsed` after the first
    /// attempt started. `hint` is the target's own `Retry-After`, honoured up to `max_delay`.
    pub fn after_failure(&self, attempt: u32, elapsed: Duration, hint: Option<Duration>) -> Next {
        if attempt >= self.cfg.max_attempts {
            return Next::GiveUp;
        }
        let mut builder = ExponentialBuilder::default()
            .with_min_delay(self.cfg.initial_delay)
            .with_max_delay(self.cfg.max_delay)
            .with_factor(self.cfg.factor)
            .with_max_times(self.cfg.max_attempts.saturating_sub(1) as usize);
        if self.cfg.jitter {
            builder = builder.with_jitter();
        }
        let Some(delay) = builder.build().nth(attempt as usize - 1) else {
            return Next::GiveUp;
        };
        // Jitter may add up to the delay again; `max_delay` stays the upper bound.
        let delay = delay.min(self.cfg.max_delay);
        let delay = match hint {
            Some(h) => h.min(self.cfg.max_delay).max(delay.min(h)),
            None => delay,
        };
        if elapsed + delay > self.cfg.max_total {
            return Next::GiveUp;
        }
        Next::RetryIn(delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(jitter: bool) -> RetryPolicy {
        RetryPolicy::new(RetryConfig {
            initial_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            factor: 2.0,
            jitter,
            max_attempts: 5,
            max_total: Duration::from_secs(3600),
        })
    }

    #[test]
    fn grows_exponentially_up_to_the_attempt_limit() {
        let p = policy(false);
        let z = Duration::ZERO;
        assert_eq!(
            p.after_failure(1, z, None),
            Next::RetryIn(Duration::from_secs(1))
        );
        assert_eq!(
            p.after_failure(2, z, None),
            Next::RetryIn(Duration::from_secs(2))
        );
        assert_eq!(
            p.after_failure(4, z, None),
            Next::RetryIn(Duration::from_secs(8))
        );
        assert_eq!(p.after_failure(5, z, None), Next::GiveUp);
    }

    #[test]
    fn jitter_stays_within_double_the_base() {
        let p = policy(true);
        for _ in 0..100 {
            match p.after_failure(3, Duration::ZERO, None) {
                Next::RetryIn(d) => assert!(
                    d >= Duration::from_secs(4) && d <= Duration::from_secs(8),
                    "{d:?}"
                ),
                Next::GiveUp => panic!("gave up early"),
            }
        }
    }

    #[test]
    fn max_delay_bounds_jittered_delays_too() {
        let p = policy(true);
        let p = RetryPolicy::new(RetryConfig {
            max_attempts: 20,
            ..p.cfg
        });
        for _ in 0..50 {
            match p.after_failure(10, Duration::ZERO, None) {
                Next::RetryIn(d) => assert!(d <= Duration::from_secs(60), "{d:?}"),
                Next::GiveUp => panic!("gave up early"),
            }
        }
    }

    #[test]
    fn defaults_keep_trying_for_a_day() {
        let p = RetryPolicy::new(RetryConfig {
            jitter: false,
            ..RetryConfig::default()
        });
        let (mut elapsed, mut attempt) = (Duration::ZERO, 1);
        while let Next::RetryIn(d) = p.after_failure(attempt, elapsed, None) {
            elapsed += d;
            attempt += 1;
        }
        assert!(
            elapsed > Duration::from_secs(23 * 3600),
            "gives up after {elapsed:?}, {attempt} attempts"
        );
        assert!(elapsed <= Duration::from_secs(24 * 3600));
    }

    #[test]
    fn total_time_bound_and_retry_after_hint() {
        let p = policy(false);
        assert_eq!(
            p.after_failure(2, Duration::from_secs(3599), None),
            Next::GiveUp
        );
        assert_eq!(
            p.after_failure(1, Duration::ZERO, Some(Duration::from_secs(30))),
            Next::RetryIn(Duration::from_secs(30))
        );
        assert_eq!(
            p.after_failure(1, Duration::ZERO, Some(Duration::from_secs(9999))),
            Next::RetryIn(Duration::from_secs(60)),
            "a hint is capped at max_delay"
        );
    }
}
