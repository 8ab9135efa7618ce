//! L1: how soon an acknowledged entry can be read, while I1's clients keep the node busy.
//!
//! A probe client sends one event at a time, each with its own actor, target and search word,
//! and as soon as it is acknowledged reads it back four ways: (a) by id, (b) in a list filtered
//! by its actor, (c) by searching its word, (d) in a count filtered by its target and in the
//! facet counts (its actor found by the Actor box's search). Each figure is the time from the acknowledgement to the first answer that holds the
//! entry; an answer without it is counted as a miss and the read repeated until it does.

use super::ingest::{self, IngestPlan, Requests};
use crate::error::BenchError;
use crate::http::Api;
use crate::server::ServerProcess;
use crate::stats::Latency;
use bytes::Bytes;
use serde::Serialize;
use serde_json::{json, Value};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What L1 measured.
#[derive(Debug, Clone, Serialize)]
pub struct VisibilityFigures {
    /// Clients of the background load.
    pub clients: usize,
    /// Background load achieved, events per second.
    pub load_events_per_s: f64,
    /// Probe events sent and read back.
    pub probes: u64,
    /// (a) `GET /v1/events/{id}`.
    pub by_id: Latency,
    /// (b) `GET /v1/events?actor=…`.
    pub list: Latency,
    /// (c) `GET /v1/events?q=…`.
    pub search: Latency,
    /// (d) `GET /v1/events?target_id=…` (its total) and the probe's actor found by
    /// `GET /v1/facets/actors?q=…` (the facet counts).
    pub count_and_facets: Latency,
    /// First answers that did not hold the entry yet, over all four reads (0 expected: every
    /// read waits for the entry's derived indexes).
    pub misses: u64,
}

/// How long a probe waits for an entry to appear before the scenario fails.
const GIVE_UP: Duration = Duration::from_secs(10);

/// Runs L1 for `duration`: `clients` clients send `requests` while the probe sends events
/// with `probe_key` (a small tenant's key, so its facet list stays short).
pub async fn run(
    server: &ServerProcess,
    requests: Arc<Requests>,
    clients: usize,
    duration: Duration,
    probe_key: &str,
) -> Result<VisibilityFigures, BenchError> {
    let stop = Arc::new(AtomicBool::new(false));
    let plan = IngestPlan {
        clients,
        duration,
        pace: None,
        stop: Some(stop.clone()),
    };
    let load = ingest::run(server, requests, plan, "l1");
    let probe = probe(server.url(), probe_key, duration, stop);
    let (load, probe) = tokio::join!(load, probe);
    let (load, _) = load?;
    let mut probe = probe?;
    Ok(VisibilityFigures {
        clients,
        load_events_per_s: load.events_per_s,
        probes: probe.by_id.len() as u64,
        by_id: Latency::of(&mut probe.by_id),
        list: Latency::of(&mut probe.list),
        search: Latency::of(&mut probe.search),
        count_and_facets: Latency::of(&mut probe.count_and_facets),
        misses: probe.misses,
    })
}

/// The probe's samples.
#[derive(Default)]
struct ProbeSamples {
    by_id: Vec<Duration>,
    list: Vec<Duration>,
    search: Vec<Duration>,
    count_and_facets: Vec<Duration>,
    misses: u64,
}

/// Sends probes until `duration` is over (stopping the load early if one fails).
async fn probe(
    url: &str,
    key: &str,
    duration: Duration,
    stop: Arc<AtomicBool>,
) -> Result<ProbeSamples, BenchError> {
    let result = probe_until(url, key, Instant::now() + duration).await;
    stop.store(true, Ordering::Relaxed);
    result
}

async fn probe_until(url: &str, key: &str, deadline: Instant) -> Result<ProbeSamples, BenchError> {
    let api = Api::new(url)?;
    let mut samples = ProbeSamples::default();
    let run = std::process::id();
    let mut n = 0u64;
    while Instant::now() < deadline {
        n += 1;
        let tag = format!("probe{run}x{n}");
        let body = serde_json::to_vec(&json!({
            "action": "visibility.probed",
            "actor": { "id": tag },
            "description": format!("visibility probe {tag}"),
            "targets": [{ "type": "probe", "id": tag }],
        }))
        .map_err(|e| BenchError::Workload(format!("encoding a probe: {e}")))?;
        let answer = api.try_ingest(key, Bytes::from(body), &tag).await?;
        let acked = Instant::now();
        let id = serde_json::from_str::<Value>(&answer.text)
            .ok()
            .and_then(|v| v["id"].as_str().map(str::to_string))
            .ok_or_else(|| {
                BenchError::Http(format!(
                    "probe not acknowledged: {} {}",
                    answer.status, answer.text
                ))
            })?;
        let holds = |page: &Value| {
            page["entries"]
                .as_array()
                .is_some_and(|e| e.iter().any(|e| e["id"] == id.as_str()))
        };
        let (by_id, list, search, count, actor_search) = (
            format!("/v1/events/{id}"),
            format!("/v1/events?actor={tag}&count=false&limit=5"),
            format!("/v1/events?q={tag}&count=false&limit=5"),
            format!("/v1/events?target_id={tag}&limit=1"),
            format!("/v1/facets/actors?q={tag}"),
        );
        // The four reads start together, each timed from the acknowledgement.
        let (a, b, c, d) = tokio::join!(
            visible(acked, || async {
                Ok(api.get(key, &by_id).await?.status().is_success())
            }),
            visible(acked, || async {
                Ok(holds(&api.get_json(key, &list).await?))
            }),
            visible(acked, || async {
                Ok(holds(&api.get_json(key, &search).await?))
            }),
            visible(acked, || async {
                let counted = api.get_json(key, &count).await?["total"] == 1;
                // The probe's actor has one entry, so a tenant's facet list (its most
                // frequent actors) may well not show it: the Actor box's search, which reads
                // the same facet counts, must find it.
                let found = api.get_json(key, &actor_search).await?;
                let listed = found["actors"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|a| a["id"] == tag.as_str() && a["count"] == 1));
                Ok(counted && listed)
            }),
        );
        for ((took, misses), into) in [
            (a?, &mut samples.by_id),
            (b?, &mut samples.list),
            (c?, &mut samples.search),
            (d?, &mut samples.count_and_facets),
        ] {
            into.push(took);
            samples.misses += misses;
        }
    }
    Ok(samples)
}

/// Repeats `read` until it finds the entry: the time from `acked` to that answer, and how
/// many answers before it missed the entry.
async fn visible<F, Fut>(acked: Instant, read: F) -> Result<(Duration, u64), BenchError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<bool, BenchError>>,
{
    let mut misses = 0;
    loop {
        if read().await? {
            return Ok((acked.elapsed(), misses));
        }
        misses += 1;
        if acked.elapsed() > GIVE_UP {
            return Err(BenchError::Http(format!(
                "an acknowledged probe was still not visible after {GIVE_UP:?}"
            )));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
