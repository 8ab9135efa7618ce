//! The standard `process_*` metrics every Prometheus exporter gives (CPU, memory, file
//! descriptors, start time), read from `/proc/self` when `/metrics` is scraped. Linux only;
//! elsewhere they are simply absent.

use std::fs;

/// Linux reports CPU times in clock ticks of `USER_HZ`, 100 on every platform Rust targets.
const TICKS_PER_SECOND: f64 = 100.0;

/// Records the process metrics as of now.
pub fn record() {
    let Ok(stat) = fs::read_to_string("/proc/self/stat") else {
        return;
    };
    // Fields after the command name (which is in parentheses and may hold spaces).
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<f64>().ok());
    if let (Some(utime), Some(stime)) = (field(14), field(15)) {
        metrics::counter!("process_cpu_seconds_total")
            .absolute(((utime + stime) / TICKS_PER_SECOND) as u64);
    }
    if let (Some(started), Some(boot)) = (field(22), boot_time()) {
        metrics::gauge!("process_start_time_seconds").set(boot + started / TICKS_PER_SECOND);
    }
    if let Ok(status) = fs::read_to_string("/proc/self/status") {
        for (key, name) in [
            ("VmRSS:", "process_resident_memory_bytes"),
            ("VmSize:", "process_virtual_memory_bytes"),
        ] {
            if let Some(kib) = status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            {
                metrics::gauge!(name).set(kib * 1024.0);
            }
        }
    }
    if let Ok(fds) = fs::read_dir("/proc/self/fd") {
        metrics::gauge!("process_open_fds").set(fds.count() as f64);
    }
    if let Some(max) = fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|limits| {
            limits
                .lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3))
                .and_then(|soft| soft.parse::<f64>().ok())
        })
    {
        metrics::gauge!("process_max_fds").set(max);
    }
}

/// When the machine booted, in seconds since 1970.
fn boot_time() -> Option<f64> {
    fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}
