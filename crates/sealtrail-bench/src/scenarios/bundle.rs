//! V2: the one large log exported over HTTP as a signed evidence bundle (what an auditor is
//! handed for a period) and verified offline, as `sealtrail verify --bundle` does.

use crate::error::BenchError;
use crate::http::Api;
use serde::Serialize;
use std::io::{BufReader, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::Instant;

/// V2 figures.
#[derive(Debug, Clone, Serialize)]
pub struct BundleFigures {
    /// Lines (entries) the bundle holds.
    pub entries: u64,
    /// Bytes of the bundle as downloaded.
    pub bytes: u64,
    /// From sending `GET /v1/export?format=bundle` to the last byte written to disk, in seconds.
    pub export_seconds: f64,
    /// Wall time of verifying the downloaded file, in seconds (target: ≤ 1.5 s for 1M entries).
    pub verify_seconds: f64,
    /// Entries verified per second.
    pub entries_per_s: f64,
    /// Whether every line verified and the whole log was there (it must be).
    pub valid: bool,
}

/// Downloads the bundle of the tenant whose key is `key` into `dir`, verifies it, and removes it.
pub async fn export_and_verify(
    api: &Api,
    key: &str,
    dir: &Path,
) -> Result<BundleFigures, BenchError> {
    let path = dir.join("bulk.bundle.tar");
    let mut file = std::fs::File::options()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(BenchError::io(format!("creating {}", path.display())))?;
    let started = Instant::now();
    let (_, _, bytes) = api
        .download_into(key, "/v1/export?format=bundle", &mut file)
        .await?;
    file.flush()
        .map_err(BenchError::io(format!("writing {}", path.display())))?;
    let export_seconds = started.elapsed().as_secs_f64();
    file.seek(SeekFrom::Start(0))
        .map_err(BenchError::io(format!("reading {}", path.display())))?;
    let started = Instant::now();
    let report = sealtrail_export::bundle::verify_bundle(BufReader::new(&mut file), |_| {})
        .map_err(|e| BenchError::Workload(format!("the bulk log's bundle does not verify: {e}")))?;
    let verify_seconds = started.elapsed().as_secs_f64();
    drop(file);
    std::fs::remove_file(&path).map_err(BenchError::io(format!("removing {}", path.display())))?;
    Ok(BundleFigures {
        entries: report.entries,
        bytes,
        export_seconds,
        verify_seconds,
        entries_per_s: report.entries as f64 / verify_seconds,
        valid: report.is_ok() && report.whole_log,
    })
}
