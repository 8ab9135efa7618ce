//! E1: the one large log downloaded over HTTP as CSV and NDJSON, with the server's memory
//! sampled while it streams, against the raw engine writing the same rows as CSV.

use crate::error::BenchError;
use crate::http::Api;
use crate::page_cache::ScannedDatabases;
use crate::raw::RawEngine;
use crate::server::ServerProcess;
use crate::stats::{median, ms, sample_rss};
use serde::Serialize;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// How many times the CSV download and the raw engine's CSV are each timed, interleaved
/// (Sealtrail, raw, Sealtrail, raw, …): one pair's ratio moved between 1.1× and 1.7× from hour
/// to hour on this machine with no change to either side, so the target is held to the median
/// of several pairs, each taken within seconds of itself.
const CSV_PAIRS: usize = 3;

/// What one format's downloads measured.
#[derive(Debug, Clone, Serialize)]
pub struct ExportFigures {
    /// "csv" or "ndjson", as passed to `/v1/export?format=`.
    pub format: &'static str,
    /// Entries in the log exported.
    pub entries: u64,
    /// Bytes of the response body received; the report shows them in MiB.
    pub bytes: u64,
    /// From sending the request to the last byte received, in seconds: the median of the
    /// downloads (one for NDJSON, [`CSV_PAIRS`] for CSV).
    pub seconds: f64,
    /// From sending the request to the first non-empty body chunk, in ms (median).
    pub time_to_first_byte_ms: f64,
    /// Server RSS before the first download.
    pub server_rss_before_mib: f64,
    /// Highest server RSS seen during any of the downloads, in MiB (never below the value
    /// before; sampled every 10 ms).
    pub server_rss_max_mib: f64,
    /// Max minus before, in MiB (0 if it shrank); the CSV target is ≤ 100 MB (95.4 MiB).
    pub server_rss_growth_mib: f64,
    /// The raw engine writing the same entries as CSV to nowhere (CSV only): the median of
    /// its timed runs, in seconds.
    pub raw_seconds: Option<f64>,
    /// Each interleaved pair, in order: Sealtrail's seconds and the raw engine's (CSV only).
    pub pairs: Vec<[f64; 2]>,
    /// The median of the pairs' ratios (Sealtrail over raw): what the target holds (CSV only).
    pub ratio: Option<f64>,
}

/// Downloads `/v1/export?format=<format>` of the tenant whose key is `key`, and for CSV times
/// the raw engine writing the same rows right after each download ([`CSV_PAIRS`] pairs).
/// Each side's database files are read into the page cache just before it is timed, or on
/// PostgreSQL each side's export runs once untimed first ([`crate::page_cache`]).
pub async fn download(
    api: &Api,
    key: &str,
    server: &ServerProcess,
    format: &'static str,
    entries: u64,
    raw: Option<(&mut dyn RawEngine, u32)>,
    databases: &ScannedDatabases,
) -> Result<ExportFigures, BenchError> {
    let path = format!("/v1/export?format={format}");
    // Only CSV has a raw side to pair with.
    let mut raw = raw.filter(|_| format == "csv");
    let runs = if raw.is_some() { CSV_PAIRS } else { 1 };
    let before = server.sample();
    let mut max_rss = before.rss_mib;
    let (mut seconds, mut first_bytes, mut pairs) = (Vec::new(), Vec::new(), Vec::new());
    let mut bytes = 0;
    for run in 0..runs {
        databases.warm_sealtrail()?;
        if run == 0 && !databases.reads_sealtrail() {
            api.download(key, &path).await?;
        }
        let (stop, sampler) = sample_rss(server.pid(), Duration::from_millis(10));
        let result = api.download(key, &path).await;
        stop.store(true, Ordering::Relaxed);
        let sampled = sampler
            .join()
            .map_err(|_| BenchError::Server("the memory sampler panicked".into()))?;
        max_rss = max_rss.max(sampled);
        let (first_byte, total, received) = result?;
        bytes = received;
        seconds.push(total.as_secs_f64());
        first_bytes.push(ms(first_byte));
        if let Some((engine, tenant)) = raw.as_mut() {
            databases.warm_raw()?;
            if run == 0 && !databases.reads_raw() {
                engine.export_csv(*tenant, &mut std::io::sink())?;
            }
            let started = Instant::now();
            engine.export_csv(*tenant, &mut std::io::sink())?;
            pairs.push([total.as_secs_f64(), started.elapsed().as_secs_f64()]);
        }
    }
    let raw_seconds = (!pairs.is_empty()).then(|| median(pairs.iter().map(|p| p[1]).collect()));
    let ratio = (!pairs.is_empty()).then(|| median(pairs.iter().map(|p| p[0] / p[1]).collect()));
    Ok(ExportFigures {
        format,
        entries,
        bytes,
        seconds: median(seconds),
        time_to_first_byte_ms: median(first_bytes),
        server_rss_before_mib: before.rss_mib,
        server_rss_max_mib: max_rss,
        server_rss_growth_mib: (max_rss - before.rss_mib).max(0.0),
        raw_seconds,
        pairs,
        ratio,
    })
}
