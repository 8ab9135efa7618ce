//! `sealtrail export`: downloads `GET /v1/export` to a file, with a progress bar.
//!
//! The download goes to a temporary file beside the target and is renamed only once the server
//! has sent the whole export, so an interrupted export never leaves a file that looks complete.

use crate::client::{describe_error, http_client, Connection};
use crate::filters::FilterArgs;
use anyhow::Context as _;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// Options for `export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    connection: Connection,
    #[command(flatten)]
    filters: FilterArgs,
    /// csv, xlsx, json, ndjson, pdf (a report for auditors) or bundle (a signed evidence
    /// bundle, see `verify --bundle`).
    #[arg(long, default_value = "csv")]
    format: String,
    /// Output file (default: the server's `audit-log-<UTC time>.<ext>` in this directory).
    #[arg(long, short = 'o')]
    out: Option<PathBuf>,
}

/// Runs the export; exit 0 only when the whole file arrived.
pub async fn run(args: ExportArgs) -> anyhow::Result<ExitCode> {
    let mut params = args.filters.params()?;
    params.push(("format".into(), args.format.clone()));
    let mut response = http_client()?
        .get(args.connection.endpoint("/v1/export"))
        .bearer_auth(&args.connection.key)
        .query(&params)
        .timeout(std::time::Duration::from_secs(24 * 3600))
        .send()
        .await?;
    let status = response.status();
    if !status.is_success() {
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        anyhow::bail!("server answered {}", describe_error(status, &body));
    }
    let suggested = response
        .headers()
        .get(reqwest::header::CONTENT_DISPOSITION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split("filename=\"").nth(1))
        .and_then(|v| v.split('"').next())
        .filter(|name| !name.contains('/') && !name.contains('\\') && !name.starts_with('.'))
        .map(str::to_string)
        .unwrap_or_else(|| format!("audit-log.{}", args.format));
    let target = args.out.clone().unwrap_or_else(|| PathBuf::from(suggested));
    let dir = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    let mut partial = tempfile::NamedTempFile::new_in(&dir)
        .with_context(|| format!("cannot create a file in {}", dir.display()))?;

    let progress = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{spinner} {bytes} received ({bytes_per_sec})")
    {
        progress.set_style(style);
    }
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                partial.write_all(&chunk)?;
                progress.inc(chunk.len() as u64);
            }
            Ok(None) => break,
            Err(e) => {
                progress.finish_and_clear();
                anyhow::bail!("the export was interrupted ({e}); no file was written");
            }
        }
    }
    progress.finish_and_clear();
    partial.as_file().sync_all()?;
    let bytes = partial.as_file().metadata().map(|m| m.len()).unwrap_or(0);
    partial
        .persist(&target)
        .with_context(|| format!("cannot write {}", target.display()))?;
    eprintln!("Wrote {} ({bytes} bytes).", target.display());
    Ok(ExitCode::SUCCESS)
}
