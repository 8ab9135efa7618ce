//! Every metric Sealtrail exposes on `/metrics`, in one list: its name, type, help text and,
//! for a histogram, its buckets. The server describes each to the Prometheus exporter at
//! start (so every family carries `# HELP` and every histogram is a real histogram, which
//! several nodes' series can be summed into, unlike a summary's quantiles), and a test holds
//! the code to the list: a metric recorded anywhere must be here.

/// What kind of series a metric is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MetricKind {
    /// Only ever goes up (`_total`).
    Counter,
    /// Goes up and down.
    Gauge,
    /// Observations counted into these upper bounds.
    Histogram(&'static [f64]),
}

/// One metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metric {
    /// Its name, `sealtrail_…` (or `process_…` for the standard process metrics).
    pub name: &'static str,
    /// Its type.
    pub kind: MetricKind,
    /// What it measures and its labels, for `# HELP`.
    pub help: &'static str,
}

/// Latencies, from a fast page (1 ms) to a slow export request (over a minute).
pub const SECONDS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0,
];
/// Entries per commit group, from one to the largest batch.
pub const ENTRIES: &[f64] = &[
    1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0, 10000.0,
];

const fn counter(name: &'static str, help: &'static str) -> Metric {
    Metric {
        name,
        kind: MetricKind::Counter,
        help,
    }
}

const fn gauge(name: &'static str, help: &'static str) -> Metric {
    Metric {
        name,
        kind: MetricKind::Gauge,
        help,
    }
}

const fn histogram(name: &'static str, buckets: &'static [f64], help: &'static str) -> Metric {
    Metric {
        name,
        kind: MetricKind::Histogram(buckets),
        help,
    }
}

/// Every metric, grouped as docs/operations.md lists them.
pub const ALL: &[Metric] = &[
    // The build and the process.
    gauge("sealtrail_build_info", "Always 1; the labels say which Sealtrail runs (version) on which backend (sqlite, postgres)."),
    counter("process_cpu_seconds_total", "CPU time the server process has used, user and system, in seconds."),
    gauge("process_resident_memory_bytes", "The server process's resident memory, in bytes."),
    gauge("process_virtual_memory_bytes", "The server process's virtual memory, in bytes."),
    gauge("process_open_fds", "File descriptors the server process holds open."),
    gauge("process_max_fds", "The most file descriptors the server process may open."),
    gauge("process_start_time_seconds", "When the server process started, in seconds since 1970."),
    // HTTP.
    counter("sealtrail_http_requests_total", "HTTP requests answered, by method, route template and status."),
    histogram("sealtrail_http_request_seconds", SECONDS, "Time to answer an HTTP request (to its first byte for a streamed export), by method and route template."),
    counter("sealtrail_connections_refused_total", "Connections refused because the server held its most connections."),
    counter("sealtrail_connections_evicted_total", "Idle keep-alive connections closed to make room for new ones."),
    counter("sealtrail_requests_refused_total", "Requests refused before their handler ran, by reason (concurrency, key_rate)."),
    // Ingest.
    counter("sealtrail_events_ingested_total", "Events received, by status: created, duplicate (an idempotency key seen before) or rejected."),
    counter("sealtrail_ingest_refused_total", "Ingest requests refused by a tenant's limit, by reason."),
    counter("sealtrail_ingest_refused_events_total", "Events in ingest requests refused by a tenant's limit, by reason."),
    // The writer.
    counter("sealtrail_entries_appended_total", "Entries committed to the log (acknowledged only after this)."),
    counter("sealtrail_writer_failures_total", "Commit groups the writer could not commit; their requests were answered with an error, nothing acknowledged."),
    gauge("sealtrail_writer_queue_requests", "Append requests waiting for the writer."),
    histogram("sealtrail_commit_seconds", SECONDS, "Time to commit one group of appends, durably."),
    histogram("sealtrail_commit_group_entries", ENTRIES, "Entries stored per committed group."),
    histogram("sealtrail_writer_group_entries", ENTRIES, "Entries the writer took into one group."),
    histogram("sealtrail_writer_busy_seconds", SECONDS, "Time the writer spent on one job, by kind."),
    histogram("sealtrail_index_lag_seconds", SECONDS, "Time from an entry's commit to its search and filter indexes being written."),
    gauge("sealtrail_index_pending_entries", "Committed entries whose search and filter indexes are still to be written."),
    gauge("sealtrail_wal_frames", "Frames in SQLite's write-ahead log after the last checkpoint of it."),
    counter("sealtrail_wal_restarts_total", "Times SQLite's write-ahead log was restarted from its beginning."),
    counter("sealtrail_wal_backstops_total", "Times the write-ahead log grew past its bound and was checkpointed with writes held."),
    // Integrity.
    counter("sealtrail_checkpoints_signed_total", "Checkpoints signed."),
    gauge("sealtrail_checkpoint_age_seconds", "Seconds each tenant's log (label tenant, its id) has held entries no signed checkpoint covers, as this node saw it (from its start at most); 0 when covered."),
    counter("sealtrail_witness_cosignatures_total", "Witness cosignatures received and kept."),
    counter("sealtrail_witness_refusals_total", "Witnesses that refused to cosign or could not be reached."),
    counter("sealtrail_witness_inconsistent_checkpoints_total", "Checkpoints a witness was shown that do not extend the one it cosigned before."),
    // People.
    counter("sealtrail_sign_in_refused_total", "Sign-ins refused by a throttle, by limit."),
    counter("sealtrail_password_checks_refused_total", "Password checks refused because the pool that runs them was full."),
    // Exports and lifecycle.
    gauge("sealtrail_export_jobs_running", "Background export jobs this node is writing now."),
    counter("sealtrail_export_jobs_total", "Background export jobs finished on this node, by outcome (ready, failed)."),
    counter("sealtrail_prune_runs_total", "Prune runs, by outcome (done, failed)."),
    counter("sealtrail_pruned_entries_total", "Entries removed by prune (their leaves stay in the tree)."),
    gauge("sealtrail_last_prune_timestamp_seconds", "When the last prune run ended, in seconds since 1970."),
    // Sinks.
    gauge("sealtrail_sinks", "Sinks of every tenant by state (active, paused, dead_letter), read from the database at each scrape: a dead letter waits for a person."),
    gauge("sealtrail_sink_lag_entries", "Entries recorded and not yet acknowledged by a sink's receiver, by sink id. Reported by the node delivering the sink; 0 on other nodes and once it is paused, dead or deleted."),
    gauge("sealtrail_sink_lag_seconds", "How long the oldest entry a sink has not delivered has waited, by sink id. Reported by the node delivering the sink; 0 on other nodes and once it is paused, dead or deleted."),
    counter("sealtrail_sink_delivered_entries_total", "Entries a sink's receiver acknowledged, by sink id."),
    counter("sealtrail_sink_failures_total", "Failed deliveries, by sink id."),
];

/// The metric called `name`, if the catalog has it.
pub fn find(name: &str) -> Option<&'static Metric> {
    ALL.iter().find(|m| m.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_prometheus_conventions() {
        for metric in ALL {
            let counter = matches!(metric.kind, MetricKind::Counter);
            assert_eq!(metric.name.ends_with("_total"), counter, "{}", metric.name);
            assert!(
                metric.name.starts_with("sealtrail_") || metric.name.starts_with("process_"),
                "{}",
                metric.name
            );
            assert!(metric.help.ends_with('.'), "{}", metric.name);
            if let MetricKind::Histogram(buckets) = metric.kind {
                assert!(!buckets.is_empty(), "{}", metric.name);
                assert!(buckets.windows(2).all(|w| w[0] < w[1]), "{}", metric.name);
            }
        }
        let mut names: Vec<&str> = ALL.iter().map(|m| m.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len(), "each metric once");
    }
}
