//! Token buckets keyed by name (an API key, a tenant), for rate limits that allow short bursts
//! but hold a steady rate.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a bucket may stay untouched before it is forgotten (it would be full again anyway).
const IDLE_FORGET: Duration = Duration::from_secs(600);
/// Buckets kept before idle ones are swept; keys and tenants are created by admins, so this is
/// only reached by a very large installation.
const SWEEP_AT: usize = 10_000;

/// One bucket: `tokens` refill at `rate` per second up to `capacity`.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// A rate of `rate` units per second with bursts up to `burst` units. A request may take more
/// units than the burst (a 1,000-event batch under a 100 events/s limit): it passes once the
/// bucket is full and leaves it in debt, which later requests wait out — so the long-run rate
/// holds whatever the request sizes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Units per second.
    pub per_second: f64,
    /// Units a full bucket holds.
    pub burst: f64,
}

impl Rate {
    /// `per_second` with a burst of two seconds' worth (at least one unit).
    pub fn per_second(per_second: u32) -> Rate {
        let per_second = f64::from(per_second.max(1));
        Rate {
            per_second,
            burst: (per_second * 2.0).max(1.0),
        }
    }
}

/// Buckets by key.
#[derive(Debug, Default)]
pub struct Buckets {
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl Buckets {
    /// Takes `units` from `key`'s bucket, or says how long until they would be available.
    pub fn take(&self, key: &str, units: u64, rate: Rate, now: Instant) -> Result<(), Duration> {
        let mut buckets = crate::lock(&self.buckets);
        if buckets.len() >= SWEEP_AT {
            buckets.retain(|_, b| now.saturating_duration_since(b.updated) < IDLE_FORGET);
        }
        let bucket = buckets.entry(key.to_string()).or_insert(Bucket {
            tokens: rate.burst,
            updated: now,
        });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate.per_second).min(rate.burst);
        bucket.updated = now;
        // A request larger than the burst needs a full bucket, then runs it into debt.
        let needed = (units as f64).min(rate.burst);
        if bucket.tokens >= needed {
            bucket.tokens -= units as f64;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (needed - bucket.tokens) / rate.per_second,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_pass_then_the_rate_holds() {
        let b = Buckets::default();
        let rate = Rate::per_second(10);
        let t0 = Instant::now();
        for _ in 0..20 {
            assert!(b.take("k", 1, rate, t0).is_ok());
        }
        let wait = b.take("k", 1, rate, t0).unwrap_err();
        assert!((wait.as_secs_f64() - 0.1).abs() < 1e-9, "{wait:?}");
        assert!(b
            .take("k", 1, rate, t0 + Duration::from_millis(100))
            .is_ok());
        assert!(b.take("other", 1, rate, t0).is_ok(), "keys are separate");
    }

    #[test]
    fn a_request_larger_than_the_burst_passes_when_full_and_is_paid_back() {
        let b = Buckets::default();
        let rate = Rate::per_second(100);
        let t0 = Instant::now();
        assert!(b.take("t", 1_000, rate, t0).is_ok());
        // 800 units of debt plus a full burst of 200 to refill before the next big one.
        let wait = b.take("t", 1_000, rate, t0).unwrap_err();
        assert!((wait.as_secs_f64() - 10.0).abs() < 1e-6, "{wait:?}");
        assert!(b.take("t", 1, rate, t0 + Duration::from_secs(9)).is_ok());
    }
}
