//! E1: the one large log downloaded over HTTP as CSV and NDJSON, with the server's memory
//! sampled while it streams, against the raw engine writing the same rows as CSV.

use crate::error::BenchError;
use crate::http::Api;
use crate::page_cache::ScannedDatabases;
use crate::raw::RawEngine;
use crate::server::ServerProcess;
use crate::stats::{ms, sample_rss};
use serde::Serialize;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// What one download measured.
#[derive(Debug, Clone, Serialize)]
pub struct ExportFigures {
    /// "csv" or "ndjson", as passed to `/v1/export?format=`.
    pub format: &'static str,
    /// Entries in the log exported.
    pub entries: u64,
    /// Bytes of the response body received; the report shows them in MiB.
    pub bytes: u64,
    /// From sending the request to the last byte received, in seconds (CSV target: ≤ 2.5 s).
    pub seconds: f64,
    /// From sending the request to the first non-empty body chunk, in ms.
    pub time_to_first_byte_ms: f64,
    /// Server RSS before the download and its maximum during it (sampled every 10 ms).
    pub server_rss_before_mib: f64,
    /// Highest server RSS seen during the download, in MiB (never below the value before).
    pub server_rss_max_mib: f64,
    /// Max minus before, in MiB (0 if it shrank); the CSV target is ≤ 100 MB (95.4 MiB).
    pub server_rss_growth_mib: f64,
    /// The raw engine writing the same entries as CSV to nowhere (CSV only).
    pub raw_seconds: Option<f64>,
}

/// Downloads `/v1/export?format=<format>` of the tenant whose key is `key`; each side's
/// database files are read into the page cache just before it is timed, or on PostgreSQL
/// each side's export runs once untimed first ([`crate::page_cache`]).
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
    databases.warm_sealtrail()?;
    if !databases.reads_sealtrail() {
        api.download(key, &path).await?;
    }
    let before = server.sample();
    let (stop, sampler) = sample_rss(server.pid(), Duration::from_millis(10));
    let result = api.download(key, &path).await;
    stop.store(true, Ordering::Relaxed);
    let max_rss = sampler
        .join()
        .map_err(|_| BenchError::Server("the memory sampler panicked".into()))?;
    let (first_byte, total, bytes) = result?;
    let raw_seconds = match raw {
        Some((engine, tenant)) if format == "csv" => {
            databases.warm_raw()?;
            if !databases.reads_raw() {
                engine.export_csv(tenant, &mut std::io::sink())?;
            }
            let started = Instant::now();
            engine.export_csv(tenant, &mut std::io::sink())?;
            Some(started.elapsed().as_secs_f64())
        }
        _ => None,
    };
    Ok(ExportFigures {
        format,
        entries,
        bytes,
        seconds: total.as_secs_f64(),
        time_to_first_byte_ms: ms(first_byte),
        server_rss_before_mib: before.rss_mib,
        server_rss_max_mib: max_rss.max(before.rss_mib),
        server_rss_growth_mib: (max_rss - before.rss_mib).max(0.0),
        raw_seconds,
    })
}
