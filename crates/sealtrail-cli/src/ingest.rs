//! `sealtrail ingest`: bulk import of NDJSON events over HTTP.
//!
//! Safe to re-run: every event without its own `idempotency_key` gets one derived from the
//! import scope (the file name), its line number and its content, so retrying a failed or
//! interrupted import never stores an event twice, while identical events on different lines
//! stay distinct. Lines are checked locally with the server's own strict parser first, so a bad
//! line is reported with its line number and never holds back the rest of its batch.

use crate::client::{describe_error, http_client, Connection};
use crate::EXIT_PARTIAL;
use anyhow::Context as _;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use reqwest::StatusCode;
use sealtrail_core::ingest::{parse_body, Limits};
use sealtrail_core::Timestamp;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

/// Options for `ingest`.
#[derive(Debug, Args)]
pub struct IngestArgs {
    /// NDJSON file with one event per line; `-` reads standard input.
    #[arg(default_value = "-")]
    input: String,
    #[command(flatten)]
    connection: Connection,
    /// Events per request (the server accepts at most 1,000).
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u16).range(1..=1000))]
    batch_size: u16,
    /// Requests are also cut at this many bytes, well under the server's body limit.
    #[arg(long, default_value_t = 4 * 1024 * 1024)]
    max_request_bytes: usize,
    /// Names this import in derived idempotency keys (default: the file name, or `stdin`).
    /// Use the same scope when re-running an import so already-stored events are skipped.
    #[arg(long)]
    idempotency_scope: Option<String>,
    /// Do not derive idempotency keys (re-running then stores events again).
    #[arg(long)]
    no_idempotency: bool,
    /// How often to retry a request that failed for a transient reason (network, 408, 429, 5xx).
    #[arg(long, default_value_t = 5)]
    retries: u32,
}

/// What happened to the lines of the input.
#[derive(Debug, Default)]
struct Tally {
    created: u64,
    duplicates: u64,
    rejected: u64,
    blank: u64,
}

/// One event ready to send, with the line it came from for error messages.
struct Pending {
    line: u64,
    event: Value,
    bytes: usize,
}

/// Runs the import; exit 0 when every event is stored (or was already), 2 when some lines were
/// rejected, 1 when the import could not finish.
pub async fn run(args: IngestArgs) -> anyhow::Result<ExitCode> {
    let (reader, total_bytes, default_scope): (Box<dyn Read>, Option<u64>, String) =
        if args.input == "-" {
            (Box::new(std::io::stdin().lock()), None, "stdin".to_string())
        } else {
            let path = Path::new(&args.input);
            let file = std::fs::File::open(path)
                .with_context(|| format!("cannot open {}", path.display()))?;
            let size = file.metadata().ok().map(|m| m.len());
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| args.input.clone());
            (Box::new(file), size, name)
        };
    let scope: String = args
        .idempotency_scope
        .clone()
        .unwrap_or(default_scope)
        .chars()
        .take(100)
        .collect();
    let progress = progress_bar(total_bytes);
    let sender = Sender {
        client: http_client()?,
        url: args.connection.endpoint("/v1/events"),
        key: args.connection.key.clone(),
        retries: args.retries,
    };

    let limits = Limits::default();
    let mut tally = Tally::default();
    let mut batch: Vec<Pending> = Vec::new();
    let mut batch_bytes = 0usize;
    let mut reader = BufReader::with_capacity(1 << 20, reader);
    let mut raw = Vec::new();
    let mut line_no = 0u64;
    loop {
        raw.clear();
        let read = reader
            .read_until(b'\n', &mut raw)
            .with_context(|| format!("reading line {}", line_no + 1))?;
        if read == 0 {
            break;
        }
        line_no += 1;
        progress.inc(read as u64);
        let trimmed = raw.trim_ascii();
        if trimmed.is_empty() {
            tally.blank += 1;
            continue;
        }
        match prepare(trimmed, line_no, &scope, !args.no_idempotency, &limits) {
            Ok(event) => {
                let bytes = trimmed.len() + 64;
                if !batch.is_empty()
                    && (batch.len() >= usize::from(args.batch_size)
                        || batch_bytes + bytes > args.max_request_bytes)
                {
                    sender
                        .send(std::mem::take(&mut batch), &mut tally, &progress)
                        .await?;
                    batch_bytes = 0;
                }
                batch_bytes += bytes;
                batch.push(Pending {
                    line: line_no,
                    event,
                    bytes,
                });
            }
            Err(message) => {
                tally.rejected += 1;
                progress.suspend(|| eprintln!("line {line_no}: rejected: {message}"));
            }
        }
        progress.set_message(summary_short(&tally));
    }
    if !batch.is_empty() {
        sender.send(batch, &mut tally, &progress).await?;
    }
    progress.finish_and_clear();

    eprintln!(
        "Read {line_no} lines: {} created, {} already present, {} rejected{}.",
        tally.created,
        tally.duplicates,
        tally.rejected,
        if tally.blank > 0 {
            format!(", {} blank skipped", tally.blank)
        } else {
            String::new()
        }
    );
    Ok(if tally.rejected > 0 {
        ExitCode::from(EXIT_PARTIAL)
    } else {
        ExitCode::SUCCESS
    })
}

fn summary_short(t: &Tally) -> String {
    format!(
        "{} created, {} duplicates, {} rejected",
        t.created, t.duplicates, t.rejected
    )
}

fn progress_bar(total_bytes: Option<u64>) -> ProgressBar {
    match total_bytes {
        Some(total) => {
            let bar = ProgressBar::new(total);
            if let Ok(style) = ProgressStyle::with_template(
                "{bar:30} {bytes}/{total_bytes} ({bytes_per_sec}, {eta}) {msg}",
            ) {
                bar.set_style(style);
            }
            bar
        }
        None => {
            let spinner = ProgressBar::new_spinner();
            if let Ok(style) = ProgressStyle::with_template("{spinner} {bytes} read {msg}") {
                spinner.set_style(style);
            }
            spinner
        }
    }
}

/// Checks one line with the server's strict rules and adds a derived idempotency key.
fn prepare(
    line: &[u8],
    line_no: u64,
    scope: &str,
    derive_key: bool,
    limits: &Limits,
) -> Result<Value, String> {
    let parsed = parse_body(line, limits, Timestamp::now()).map_err(|e| e.to_string())?;
    if parsed.is_batch {
        return Err("each line must be one event object, not {\"events\": [...]}".into());
    }
    if let Some(Err(e)) = parsed.items.first() {
        return Err(e.to_string());
    }
    // The strict parse above refused duplicate keys and excessive depth, so this plain parse
    // sees exactly the same document.
    let mut event: Value = serde_json::from_slice(line).map_err(|e| e.to_string())?;
    if derive_key {
        if let Some(object) = event.as_object_mut() {
            if !object.contains_key("idempotency_key") {
                let digest = Sha256::digest(line);
                let key = format!("{scope}:{line_no}:{}", hex::encode(&digest[..8]));
                object.insert("idempotency_key".into(), Value::String(key));
            }
        }
    }
    Ok(event)
}

/// Sends batches, retrying transient failures with exponential back-off.
struct Sender {
    client: reqwest::Client,
    url: String,
    key: String,
    retries: u32,
}

impl Sender {
    async fn send(
        &self,
        batch: Vec<Pending>,
        tally: &mut Tally,
        progress: &ProgressBar,
    ) -> anyhow::Result<()> {
        let lines: Vec<u64> = batch.iter().map(|p| p.line).collect();
        let bytes: usize = batch.iter().map(|p| p.bytes).sum();
        let body = json!({ "events": batch.into_iter().map(|p| p.event).collect::<Vec<_>>() });
        let first = lines.first().copied().unwrap_or(0);
        let last = lines.last().copied().unwrap_or(0);
        let mut attempt = 0u32;
        loop {
            let outcome = self
                .client
                .post(&self.url)
                .bearer_auth(&self.key)
                .json(&body)
                .send()
                .await;
            let transient = match outcome {
                Ok(response) => {
                    let status = response.status();
                    let text = response.bytes().await.unwrap_or_default();
                    let answer: Value = serde_json::from_slice(&text).unwrap_or(Value::Null);
                    if status == StatusCode::OK || status == StatusCode::MULTI_STATUS {
                        record_results(&answer, &lines, tally, progress);
                        return Ok(());
                    }
                    let message = describe_error(status, &answer);
                    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
                        anyhow::bail!("the server refused the key: {message}");
                    }
                    let retryable = status == StatusCode::REQUEST_TIMEOUT
                        || status == StatusCode::TOO_MANY_REQUESTS
                        || status.is_server_error();
                    if !retryable {
                        tally.rejected += lines.len() as u64;
                        progress.suspend(|| {
                            eprintln!(
                                "lines {first}-{last} ({bytes} bytes): request refused: {message}"
                            )
                        });
                        return Ok(());
                    }
                    message
                }
                Err(e) => format!("{e}"),
            };
            attempt += 1;
            if attempt > self.retries {
                anyhow::bail!(
                    "lines {first}-{last} could not be sent after {} attempts: {transient} \
                     (re-run the same command: events already stored are skipped)",
                    attempt
                );
            }
            let wait = Duration::from_millis(200u64 << attempt.min(6));
            progress
                .suspend(|| eprintln!("lines {first}-{last}: {transient}; retrying in {wait:?}"));
            tokio::time::sleep(wait).await;
        }
    }
}

/// Counts the per-event results of a batch answer and prints each rejection with its line.
fn record_results(answer: &Value, lines: &[u64], tally: &mut Tally, progress: &ProgressBar) {
    let results = answer["results"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    for result in results {
        let line = result["index"]
            .as_u64()
            .and_then(|i| lines.get(i as usize))
            .copied()
            .unwrap_or(0);
        match result["status"].as_str() {
            Some("created") => tally.created += 1,
            Some("duplicate") => tally.duplicates += 1,
            _ => {
                tally.rejected += 1;
                let error = &result["error"];
                let field = error["field"].as_str().unwrap_or("");
                let message = error["message"].as_str().unwrap_or("rejected");
                progress.suspend(|| eprintln!("line {line}: rejected: {field}: {message}"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_keys_are_stable_per_line_and_content() {
        let limits = Limits::default();
        let line = br#"{"action":"a.created","actor":{"id":"u"}}"#;
        let a = prepare(line, 3, "f.ndjson", true, &limits).unwrap();
        let b = prepare(line, 3, "f.ndjson", true, &limits).unwrap();
        let c = prepare(line, 4, "f.ndjson", true, &limits).unwrap();
        assert_eq!(a["idempotency_key"], b["idempotency_key"]);
        assert_ne!(a["idempotency_key"], c["idempotency_key"]);
        let none = prepare(line, 3, "f.ndjson", false, &limits).unwrap();
        assert!(none.get("idempotency_key").is_none());
    }

    #[test]
    fn an_event_s_own_key_wins() {
        let line = br#"{"action":"a.created","actor":{"id":"u"},"idempotency_key":"mine"}"#;
        let v = prepare(line, 1, "s", true, &Limits::default()).unwrap();
        assert_eq!(v["idempotency_key"], "mine");
    }

    #[test]
    fn bad_lines_are_explained() {
        let limits = Limits::default();
        let dup = br#"{"action":"a.b","actor":{"id":"x","id":"y"}}"#;
        assert!(prepare(dup, 1, "s", true, &limits)
            .unwrap_err()
            .contains("actor.id"));
        let batch = br#"{"events":[{"action":"a.b","actor":{"id":"x"}}]}"#;
        assert!(prepare(batch, 1, "s", true, &limits)
            .unwrap_err()
            .contains("one event"));
        let invalid = br#"{"action":"a.b"}"#;
        assert!(prepare(invalid, 1, "s", true, &limits)
            .unwrap_err()
            .contains("actor"));
    }
}
