//! Bounded retries: which failures are retried, how long to wait (the server's `Retry-After`
//! when it sends one, else exponential backoff with jitter), and a total time budget that no
//! sequence of waits may exceed. This is the only retry loop between retune and a provider: the
//! HTTP client below it retries nothing on its own, so attempts never multiply.

use crate::error::ProviderError;
use rand::Rng;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One retry about to happen, for progress output.
#[derive(Debug, Clone)]
pub struct RetryEvent {
    /// 1-based number of the attempt that failed.
    pub attempt: u32,
    /// The failure.
    pub error: String,
    /// How long until the next attempt.
    pub wait: Duration,
}

/// Called before each wait.
pub type RetryHook = Arc<dyn Fn(&RetryEvent) + Send + Sync>;

/// How often and how long to retry.
#[derive(Clone)]
pub struct RetryPolicy {
    /// Retries after the first attempt (so `max_retries + 1` attempts at most).
    pub max_retries: u32,
    /// Backoff before the first retry, doubled each time, when the server names no wait.
    pub base_delay: Duration,
    /// No single wait is longer than this (a longer `Retry-After` ends the retries instead).
    pub max_delay: Duration,
    /// All attempts and waits together stay within this budget.
    pub total_budget: Duration,
    /// Told of every retry.
    pub on_retry: Option<RetryHook>,
}

impl std::fmt::Debug for RetryPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RetryPolicy")
            .field("max_retries", &self.max_retries)
            .field("base_delay", &self.base_delay)
            .field("max_delay", &self.max_delay)
            .field("total_budget", &self.total_budget)
            .finish_non_exhaustive()
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            total_budget: Duration::from_secs(180),
            on_retry: None,
        }
    }
}

/// A failed attempt: the error and the server's `Retry-After`, if any.
pub(crate) struct Failure {
    pub error: ProviderError,
    pub retry_after: Option<Duration>,
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        Self {
            max_retries: 0,
            ..Self::default()
        }
    }

    /// Backoff for the `retry`-th retry (0-based) without a server hint: `base * 2^retry`,
    /// capped, times a jitter factor in [0.5, 1].
    fn backoff(&self, retry: u32) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32.checked_shl(retry.min(20)).unwrap_or(u32::MAX));
        let capped = exp.min(self.max_delay);
        capped.mul_f64(rand::rng().random_range(0.5..=1.0))
    }

    /// Runs `attempt` until it succeeds, fails with a non-retryable error, or the retries or
    /// budget run out.
    pub(crate) fn run<T>(
        &self,
        mut attempt: impl FnMut() -> Result<T, Failure>,
    ) -> Result<T, ProviderError> {
        let start = Instant::now();
        let mut n = 0u32;
        loop {
            n += 1;
            let failure = match attempt() {
                Ok(v) => return Ok(v),
                Err(f) => f,
            };
            if !failure.error.is_retryable() {
                return Err(failure.error);
            }
            let exhausted = |error: ProviderError| {
                if n == 1 {
                    error
                } else {
                    ProviderError::RetriesExhausted {
                        attempts: n,
                        elapsed: start.elapsed(),
                        last: Box::new(error),
                    }
                }
            };
            if n > self.max_retries {
                return Err(exhausted(failure.error));
            }
            let wait = match failure.retry_after {
                Some(d) if d > self.max_delay => return Err(exhausted(failure.error)),
                Some(d) => d,
                None => self.backoff(n - 1),
            };
            if start.elapsed() + wait > self.total_budget {
                return Err(exhausted(failure.error));
            }
            if let Some(hook) = &self.on_retry {
                hook(&RetryEvent {
                    attempt: n,
                    error: failure.error.to_string(),
                    wait,
                });
            }
            std::thread::sleep(wait);
        }
    }
}

/// Parses `Retry-After` given in seconds (integer or decimal); HTTP dates are read as absent.
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    let secs: f64 = value.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn api(status: u16) -> ProviderError {
        ProviderError::Api {
            method: "GET".into(),
            url: "http://x".into(),
            status,
            message: "m".into(),
            code: None,
        }
    }

    fn fast() -> RetryPolicy {
        RetryPolicy {
            max_retries: 3,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(50),
            total_budget: Duration::from_secs(5),
            on_retry: None,
        }
    }

    #[test]
    fn retries_retryable_statuses_then_succeeds() {
        let calls = AtomicU32::new(0);
        let out = fast().run(|| {
            if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                Err(Failure {
                    error: api(503),
                    retry_after: None,
                })
            } else {
                Ok(7)
            }
        });
        assert_eq!(out.unwrap(), 7);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn does_not_retry_client_errors() {
        let calls = AtomicU32::new(0);
        let out: Result<(), _> = fast().run(|| {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(Failure {
                error: api(400),
                retry_after: None,
            })
        });
        assert_eq!(out.unwrap_err().status(), Some(400));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn stops_after_max_retries_and_says_how_many() {
        let calls = AtomicU32::new(0);
        let out: Result<(), _> = fast().run(|| {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(Failure {
                error: api(500),
                retry_after: None,
            })
        });
        assert_eq!(calls.load(Ordering::SeqCst), 4);
        match out.unwrap_err() {
            ProviderError::RetriesExhausted { attempts, last, .. } => {
                assert_eq!(attempts, 4);
                assert_eq!(last.status(), Some(500));
            }
            e => panic!("{e}"),
        }
    }

    #[test]
    fn honors_retry_after_and_the_budget() {
        let p = RetryPolicy {
            total_budget: Duration::from_millis(100),
            max_delay: Duration::from_secs(10),
            ..fast()
        };
        let calls = AtomicU32::new(0);
        let start = Instant::now();
        let out: Result<(), _> = p.run(|| {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(Failure {
                error: api(429),
                retry_after: Some(Duration::from_millis(60)),
            })
        });
        assert!(out.is_err());
        // one wait of 60 ms fits the 100 ms budget, a second does not
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert!(start.elapsed() >= Duration::from_millis(60));
    }

    #[test]
    fn insufficient_quota_is_final() {
        let e = ProviderError::Api {
            method: "POST".into(),
            url: "u".into(),
            status: 429,
            message: "quota".into(),
            code: Some("insufficient_quota".into()),
        };
        assert!(!e.is_retryable());
    }

    #[test]
    fn retry_after_parsing() {
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after("0.5"), Some(Duration::from_millis(500)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }

    #[test]
    fn backoff_doubles_with_jitter_and_caps() {
        let p = RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(350),
            ..fast()
        };
        for _ in 0..20 {
            let d0 = p.backoff(0);
            assert!(d0 >= Duration::from_millis(50) && d0 <= Duration::from_millis(100));
            let d2 = p.backoff(2);
            assert!(d2 >= Duration::from_millis(175) && d2 <= Duration::from_millis(350));
        }
    }
}
