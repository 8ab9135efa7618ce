//! Slows password guessing: after too many failed sign-ins for one account, or from one
//! address, further attempts are refused for a while without even checking the password.
//!
//! Counts live in this process's memory. With several nodes behind a load balancer each node
//! counts on its own, which still caps an attacker at (nodes × limit) guesses per window; the
//! Argon2 cost and the audit entry of every failure remain either way.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed attempts allowed per account within [`WINDOW`].
pub const PER_ACCOUNT: usize = 5;
/// Failed attempts allowed per client address within [`WINDOW`] (an office shares one address).
pub const PER_ADDRESS: usize = 30;
/// How far back failures count.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Most keys remembered; beyond it the stalest are forgotten, so a flood of made-up e-mails
/// cannot exhaust memory.
const MAX_KEYS: usize = 100_000;

/// Recent failures per key (`account:<tenant>:<email>` or `ip:<address>`).
#[derive(Debug, Default)]
pub struct SignInThrottle {
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

/// Drops attempts older than the window; returns how long until `key` may try again when it is
/// at `limit`.
fn over_limit(times: &mut VecDeque<Instant>, limit: usize, now: Instant) -> Option<Duration> {
    while times
        .front()
        .is_some_and(|t| now.duration_since(*t) >= WINDOW)
    {
        times.pop_front();
    }
    if times.len() < limit {
        return None;
    }
    times
        .front()
        .map(|oldest| WINDOW.saturating_sub(now.duration_since(*oldest)))
}

impl SignInThrottle {
    fn map(&self, now: Instant) -> std::sync::MutexGuard<'_, HashMap<String, VecDeque<Instant>>> {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_KEYS {
            map.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) < WINDOW)
            });
        }
        map
    }

    /// How long until `key` may try again, if it is over `limit` now.
    pub fn retry_after(&self, key: &str, limit: usize, now: Instant) -> Option<Duration> {
        over_limit(self.map(now).get_mut(key)?, limit, now)
    }

    /// Checks `key` against `limit` and, when under it, records this attempt — atomically, so
    /// concurrent attempts cannot all slip under the limit. Returns the wait when over it.
    pub fn attempt(&self, key: &str, limit: usize, now: Instant) -> Option<Duration> {
        let mut map = self.map(now);
        let times = map.entry(key.to_string()).or_default();
        let wait = over_limit(times, limit, now);
        if wait.is_none() {
            times.push_back(now);
        }
        wait
    }

    /// Records a failure for each key.
    pub fn record_failure(&self, keys: &[&str], now: Instant) {
        let mut map = self.map(now);
        for key in keys {
            let times = map.entry((*key).to_string()).or_default();
            times.push_back(now);
            if times.len() > PER_ADDRESS {
                times.pop_front();
            }
        }
    }

    /// Forgets an account's failures after it signs in successfully.
    pub fn clear(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_after_the_limit_until_the_window_passes() {
        let t = SignInThrottle::default();
        let start = Instant::now();
        for i in 0..PER_ACCOUNT {
            assert_eq!(t.retry_after("a", PER_ACCOUNT, start), None, "attempt {i}");
            t.record_failure(&["a"], start);
        }
        let wait = t.retry_after("a", PER_ACCOUNT, start + Duration::from_secs(60));
        assert_eq!(wait, Some(WINDOW - Duration::from_secs(60)));
        assert_eq!(t.retry_after("a", PER_ACCOUNT, start + WINDOW), None);
        assert_eq!(t.retry_after("b", PER_ACCOUNT, start), None);
        t.record_failure(&["b"], start);
        t.clear("b");
        assert_eq!(t.retry_after("b", 1, start), None);
        for _ in 0..3 {
            assert_eq!(t.attempt("c", 3, start), None);
        }
        assert_eq!(
            t.attempt("c", 3, start),
            Some(WINDOW),
            "the fourth is refused"
        );
    }
}
