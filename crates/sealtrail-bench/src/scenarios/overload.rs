//! O1: more ingest than the node can hold. Many clients send large batches at once, and
//! retry refused requests after a short pause whatever `Retry-After` says (impatient clients,
//! harsher than well-behaved ones). The node must refuse what it cannot queue with 503 and
//! `Retry-After` (never 5xx without it, never a dropped connection), keep acknowledging what it
//! accepted, and keep its memory bounded.

use super::ingest::Requests;
use crate::error::BenchError;
use crate::http::Api;
use crate::server::ServerProcess;
use crate::stats::{sample_rss, Latency};
use reqwest::StatusCode;
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What O1 measured.
#[derive(Debug, Clone, Serialize)]
pub struct OverloadFigures {
    /// Impatient clients sending at once (`--overload-clients`), one connection each.
    pub clients: usize,
    /// Events per request.
    pub batch: u64,
    /// Wall time of the phase, in seconds, including requests in flight at its end.
    pub seconds: f64,
    /// Requests acknowledged (2xx) and their events.
    pub accepted: u64,
    /// Events of the accepted requests; over `seconds`, the accepted rate.
    pub accepted_events: u64,
    /// 503 answers, and how many of them carried `Retry-After`.
    pub refused: u64,
    /// Refusals that carried `Retry-After`; O1's target wants all of them to.
    pub refused_with_retry_after: u64,
    /// Any other answer or a transport error: none is expected.
    pub other: u64,
    /// The first unexpected answer, for the report.
    pub first_other: Option<String>,
    /// Latency of accepted requests.
    pub accepted_latency: Latency,
    /// Server resident memory before and right after the phase, in MiB.
    pub rss_before_mib: f64,
    /// Server RSS read once after the last client finished, in MiB (not sampled).
    pub rss_after_mib: f64,
    /// Highest resident memory seen by sampling every 100 ms during the phase, in MiB.
    pub rss_peak_mib: f64,
}

/// Outcome of one client.
#[derive(Default)]
struct ClientTally {
    accepted: u64,
    accepted_events: u64,
    refused: u64,
    refused_with_retry_after: u64,
    other: u64,
    first_other: Option<String>,
    latencies: Vec<Duration>,
}

/// How long an impatient client waits after a refusal.
const IMPATIENCE: Duration = Duration::from_millis(50);

/// Runs O1: `clients` clients send `requests` round-robin for `duration`.
pub async fn run(
    server: &ServerProcess,
    requests: Arc<Requests>,
    clients: usize,
    duration: Duration,
) -> Result<OverloadFigures, BenchError> {
    if requests.is_empty() {
        return Err(BenchError::Workload("no requests to send".into()));
    }
    let rss_before = server.sample().rss_mib;
    let (sampling, sampler) = sample_rss(server.pid(), Duration::from_millis(100));
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::with_capacity(clients);
    for _ in 0..clients.max(1) {
        let api = Api::new(server.url())?;
        let (requests, next) = (requests.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut tally = ClientTally::default();
            while Instant::now() < deadline {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let (key, body, count) = requests.item(n);
                let sent = Instant::now();
                match api.try_ingest(key, body.clone(), &format!("o1-{n}")).await {
                    Ok(a) if a.status == StatusCode::OK || a.status == StatusCode::CREATED => {
                        tally.accepted += 1;
                        tally.accepted_events += count;
                        tally.latencies.push(sent.elapsed());
                    }
                    Ok(a) if a.status == StatusCode::SERVICE_UNAVAILABLE => {
                        tally.refused += 1;
                        tally.refused_with_retry_after += u64::from(a.retry_after.is_some());
                        tokio::time::sleep(IMPATIENCE).await;
                    }
                    Ok(a) => {
                        tally.other += 1;
                        tally
                            .first_other
                            .get_or_insert_with(|| format!("{}: {}", a.status, a.text));
                    }
                    Err(e) => {
                        tally.other += 1;
                        tally.first_other.get_or_insert_with(|| e.to_string());
                        tokio::time::sleep(IMPATIENCE).await;
                    }
                }
            }
            tally
        }));
    }
    let mut total = ClientTally::default();
    for task in tasks {
        let t = task
            .await
            .map_err(|e| BenchError::Http(format!("overload client: {e}")))?;
        total.accepted += t.accepted;
        total.accepted_events += t.accepted_events;
        total.refused += t.refused;
        total.refused_with_retry_after += t.refused_with_retry_after;
        total.other += t.other;
        if total.first_other.is_none() {
            total.first_other = t.first_other;
        }
        total.latencies.extend(t.latencies);
    }
    let seconds = started.elapsed().as_secs_f64();
    sampling.store(true, Ordering::Relaxed);
    let rss_peak = sampler
        .join()
        .map_err(|_| BenchError::Server("the memory sampler panicked".into()))?;
    let rss_after = server.sample().rss_mib;
    Ok(OverloadFigures {
        clients,
        batch: requests.item(0).2,
        seconds,
        accepted: total.accepted,
        accepted_events: total.accepted_events,
        refused: total.refused,
        refused_with_retry_after: total.refused_with_retry_after,
        other: total.other,
        first_other: total.first_other,
        accepted_latency: Latency::of(&mut total.latencies),
        rss_before_mib: rss_before,
        rss_after_mib: rss_after,
        rss_peak_mib: rss_peak.max(rss_before).max(rss_after),
    })
}
