//! Latency distributions and process resource readings.
//!
//! Percentiles come from every recorded sample (no histogram buckets): a run records at most a
//! few million latencies, and exact tails are what p99.9 is for.

use serde::Serialize;
use std::time::Duration;

/// Summary of a set of latencies, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Latency {
    /// Number of samples.
    pub n: usize,
    /// Median, nearest rank: the figure compared across runs, as it resists a noisy machine.
    pub p50_ms: f64,
    /// 99th percentile, nearest rank: the tail the p99 targets are checked against.
    pub p99_ms: f64,
    /// 99.9th percentile, nearest rank; equal to `max_ms` with fewer than 1,000 samples.
    pub p999_ms: f64,
    /// Slowest sample; every field is 0 when there are no samples (`n == 0`).
    pub max_ms: f64,
}

impl Latency {
    /// Summarises `samples` (sorted in place).
    pub fn of(samples: &mut [Duration]) -> Latency {
        if samples.is_empty() {
            return Latency::default();
        }
        samples.sort_unstable();
        let at = |q: f64| {
            // Nearest-rank percentile: the smallest sample with at least q of them at or below.
            let rank = ((q * samples.len() as f64).ceil() as usize).clamp(1, samples.len());
            ms(samples[rank - 1])
        };
        Latency {
            n: samples.len(),
            p50_ms: at(0.50),
            p99_ms: at(0.99),
            p999_ms: at(0.999),
            max_ms: ms(samples[samples.len() - 1]),
        }
    }
}

/// The nearest-rank median, as [`Latency::of`] takes its p50 (the lower middle of an even
/// count); 0 for no values.
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values
        .get(values.len().saturating_sub(1) / 2)
        .copied()
        .unwrap_or(0.0)
}

/// A duration in fractional milliseconds.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1_000.0
}

/// CPU time (user + system) and memory of one process, read from `/proc`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProcessSample {
    /// CPU seconds used since the process started.
    pub cpu_seconds: f64,
    /// Resident memory now, in MiB.
    pub rss_mib: f64,
    /// Peak resident memory since start (`VmHWM`), in MiB.
    pub peak_rss_mib: f64,
}

impl ProcessSample {
    /// Reads the process `pid` ("self" for this one). Zeros where `/proc` is unavailable, so a
    /// benchmark on another OS still runs and reports what it can.
    pub fn read(pid: &str) -> ProcessSample {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // Fields after the command name, which is in parentheses and may contain spaces.
        let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let fields: Vec<&str> = after.split_whitespace().collect();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        // utime and stime are fields 14 and 15 of stat, 12 and 13 after the name and state.
        let cpu_seconds = (ticks(11) + ticks(12)) / clock_ticks_per_second();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let kib = |key: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        ProcessSample {
            cpu_seconds,
            rss_mib: kib("VmRSS:") / 1024.0,
            peak_rss_mib: kib("VmHWM:") / 1024.0,
        }
    }
}

/// Linux reports CPU times in clock ticks, 100 per second on every platform Rust targets.
fn clock_ticks_per_second() -> f64 {
    100.0
}

/// Samples the resident memory of `pid` every `every` on a plain thread until told to stop;
/// the thread returns the maximum seen, in MiB (one last sample included).
pub fn sample_rss(
    pid: u32,
    every: std::time::Duration,
) -> (
    std::sync::Arc<std::sync::atomic::AtomicBool>,
    std::thread::JoinHandle<f64>,
) {
    use std::sync::atomic::{AtomicBool, Ordering};
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let handle = std::thread::spawn(move || {
        let pid = pid.to_string();
        let mut max: f64 = 0.0;
        while !flag.load(Ordering::Relaxed) {
            max = max.max(ProcessSample::read(&pid).rss_mib);
            std::thread::sleep(every);
        }
        max.max(ProcessSample::read(&pid).rss_mib)
    });
    (stop, handle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut samples: Vec<Duration> = (1..=1000).map(Duration::from_millis).collect();
        samples.reverse();
        let l = Latency::of(&mut samples);
        assert_eq!(
            (l.n, l.p50_ms, l.p99_ms, l.p999_ms, l.max_ms),
            (1000, 500.0, 990.0, 999.0, 1000.0)
        );
        assert_eq!(Latency::of(&mut []), Latency::default());
    }

    #[test]
    fn the_median_is_the_p50_of_the_same_values() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 2.0);
        assert_eq!(median(Vec::new()), 0.0);
        let values: Vec<f64> = (1..=1000).rev().map(f64::from).collect();
        let mut samples: Vec<Duration> = (1..=1000).map(Duration::from_millis).collect();
        assert_eq!(median(values), Latency::of(&mut samples).p50_ms);
    }

    #[test]
    fn reads_this_process() {
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        assert!(x != 1);
        let me = ProcessSample::read("self");
        assert!(me.rss_mib > 1.0 && me.peak_rss_mib >= me.rss_mib, "{me:?}");
    }
}
