//! I1 (single events from 1–256 concurrent clients) and I2 (batches) over HTTP, and the paced
//! ingest that runs during P1's prune.

use crate::error::BenchError;
use crate::http::Api;
use crate::server::ServerProcess;
use crate::stats::{Latency, ProcessSample};
use crate::workload::{Submission, Workload, WorkloadSpec};
use bytes::Bytes;
use serde::Serialize;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Prepared request bodies and the key each is sent with.
pub struct Requests {
    /// `(tenant key, body, events in the body)`.
    items: Vec<(Arc<str>, Bytes, u64)>,
}

impl Requests {
    /// Single-event bodies for the workload's next `count` submissions (their own tenants).
    pub fn singles(
        spec: WorkloadSpec,
        keys: &[String],
        count: usize,
    ) -> Result<Requests, BenchError> {
        let keys: Vec<Arc<str>> = keys.iter().map(|k| Arc::from(k.as_str())).collect();
        let mut items = Vec::with_capacity(count);
        for s in Workload::new(spec).filter(|s| !s.duplicate).take(count) {
            items.push((keys[s.tenant as usize].clone(), body(&[&s])?, 1));
        }
        Ok(Requests { items })
    }

    /// One body per batch, sent with its tenant's key.
    pub fn batches(batches: &[TenantBatch], keys: &[String]) -> Result<Requests, BenchError> {
        let mut items = Vec::with_capacity(batches.len());
        for (tenant, submissions) in batches {
            let refs: Vec<&Submission> = submissions.iter().collect();
            let key = Arc::from(keys[*tenant as usize].as_str());
            items.push((key, body(&refs)?, submissions.len() as u64));
        }
        Ok(Requests { items })
    }
}

impl Requests {
    /// True when there is nothing to send.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The `n`-th request round-robin: (tenant key, body, events in it).
    pub fn item(&self, n: u64) -> (&str, &Bytes, u64) {
        let (key, body, count) = &self.items[(n % self.items.len().max(1) as u64) as usize];
        (key, body, *count)
    }
}

/// One producer's batch: a tenant rank and its events.
pub type TenantBatch = (u32, Vec<Submission>);

/// The first `count` batches of exactly `batch` events that the workload's tenants fill (each
/// batch from one tenant, as one producer sends them), duplicates left out.
pub fn tenant_batches(
    spec: WorkloadSpec,
    batch: usize,
    count: usize,
) -> Result<Vec<TenantBatch>, BenchError> {
    let mut pending: Vec<Vec<Submission>> = vec![Vec::new(); spec.tenants as usize];
    let mut out = Vec::with_capacity(count);
    for s in Workload::new(spec).filter(|s| !s.duplicate) {
        let tenant = s.tenant;
        pending[tenant as usize].push(s);
        if pending[tenant as usize].len() == batch {
            out.push((tenant, std::mem::take(&mut pending[tenant as usize])));
            if out.len() == count {
                return Ok(out);
            }
        }
    }
    Err(BenchError::Workload(format!(
        "the workload gave only {} batches of {batch}",
        out.len()
    )))
}

/// A body without idempotency keys: each request carries a fresh `Idempotency-Key` header,
/// so prepared bodies can be sent more than once and still store new events. Live traffic
/// happens as it is sent, so each event's `occurred_at` is the time the body is prepared
/// (seconds before it goes out), not the historical time the workload drew for the loaded
/// year: history stamped last year but received now would be a bulk import at the head of
/// every log, which is a different scenario.
fn body(submissions: &[&Submission]) -> Result<Bytes, BenchError> {
    let now = sealtrail_core::Timestamp::now().to_rfc3339();
    let events: Vec<Value> = submissions
        .iter()
        .map(|s| {
            let mut event = s.event.to_json();
            if let Some(map) = event.as_object_mut() {
                map.remove("idempotency_key");
                map.insert("occurred_at".into(), Value::String(now.clone()));
            }
            event
        })
        .collect();
    let value = match events.as_slice() {
        [one] => one.clone(),
        _ => json!({ "events": events }),
    };
    serde_json::to_vec(&value)
        .map(Bytes::from)
        .map_err(|e| BenchError::Workload(format!("encoding a request: {e}")))
}

/// How an ingest phase runs.
#[derive(Debug, Clone)]
pub struct IngestPlan {
    /// Concurrent clients, each with its own keep-alive connection.
    pub clients: usize,
    /// How long to keep sending.
    pub duration: Duration,
    /// Total events per second to aim for across clients; `None` sends as fast as answered.
    pub pace: Option<f64>,
    /// Ends the phase early when set (checked before every request).
    pub stop: Option<Arc<AtomicBool>>,
}

/// What one ingest phase measured.
#[derive(Debug, Clone, Serialize)]
pub struct IngestFigures {
    /// Concurrent clients, each on its own keep-alive connection.
    pub clients: usize,
    /// Events per request.
    pub batch: u64,
    /// Requests acknowledged; any refused or failed request ends the run with an error.
    pub requests: u64,
    /// Events in the acknowledged requests.
    pub events: u64,
    /// Wall time until every client's last answer, in seconds (requests in flight included).
    pub seconds: f64,
    /// Acknowledged events per second of wall time: the phase's throughput.
    pub events_per_s: f64,
    /// Acknowledgement latency of each request.
    pub latency: Latency,
    /// CPU cores the server used on average.
    pub server_cpu_cores: f64,
    /// CPU cores this benchmark client used on average.
    pub client_cpu_cores: f64,
}

/// Every request's start (since the phase began) and latency, for scenarios that look at a
/// window of the phase.
pub type Timeline = Vec<(Duration, Duration)>;

/// Runs one ingest phase: `plan.clients` clients send `requests` round-robin (with fresh
/// idempotency keys) until the duration is over.
pub async fn run(
    server: &ServerProcess,
    requests: Arc<Requests>,
    plan: IngestPlan,
    label: &str,
) -> Result<(IngestFigures, Timeline), BenchError> {
    if requests.items.is_empty() {
        return Err(BenchError::Workload("no requests to send".into()));
    }
    let next = Arc::new(AtomicU64::new(0));
    let server_before = server.sample();
    let client_before = ProcessSample::read("self");
    let started = Instant::now();
    let deadline = started + plan.duration;
    let mut tasks = Vec::with_capacity(plan.clients);
    for client in 0..plan.clients {
        let api = Api::new(server.url())?;
        let (requests, next, label) = (requests.clone(), next.clone(), label.to_string());
        let stop = plan.stop.clone();
        // Spread the clients' first requests over one interval so paced clients do not
        // all fire together.
        let interval = plan
            .pace
            .map(|rate| Duration::from_secs_f64(plan.clients as f64 / rate.max(1.0)));
        let offset = interval.map(|i| i.mul_f64(client as f64 / plan.clients as f64));
        tasks.push(tokio::spawn(async move {
            let mut timeline = Vec::new();
            let mut events = 0u64;
            let mut due = started + offset.unwrap_or_default();
            while Instant::now() < deadline
                && !stop.as_ref().is_some_and(|s| s.load(Ordering::Relaxed))
            {
                if let Some(interval) = interval {
                    tokio::time::sleep_until(due.into()).await;
                    due += interval;
                }
                let n = next.fetch_add(1, Ordering::Relaxed);
                let (key, body, count) =
                    &requests.items[(n % requests.items.len() as u64) as usize];
                let sent = Instant::now();
                api.ingest(key, body.clone(), &format!("{label}-{n}"))
                    .await?;
                timeline.push((sent - started, sent.elapsed()));
                events += count;
            }
            Ok::<_, BenchError>((timeline, events))
        }));
    }
    let mut timeline = Vec::new();
    let mut events = 0;
    for task in tasks {
        let (t, e) = task
            .await
            .map_err(|e| BenchError::Http(format!("client task: {e}")))??;
        timeline.extend(t);
        events += e;
    }
    let seconds = started.elapsed().as_secs_f64();
    let server_after = server.sample();
    let client_after = ProcessSample::read("self");
    let mut latencies: Vec<Duration> = timeline.iter().map(|(_, l)| *l).collect();
    let figures = IngestFigures {
        clients: plan.clients,
        batch: requests.items[0].2,
        requests: timeline.len() as u64,
        events,
        seconds,
        events_per_s: events as f64 / seconds,
        latency: Latency::of(&mut latencies),
        server_cpu_cores: (server_after.cpu_seconds - server_before.cpu_seconds) / seconds,
        client_cpu_cores: (client_after.cpu_seconds - client_before.cpu_seconds) / seconds,
    };
    Ok((figures, timeline))
}
