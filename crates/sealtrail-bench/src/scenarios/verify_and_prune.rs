//! V1 (verifying the one large log) and P1 (pruning its oldest tenth while single events keep
//! arriving at half the measured rate).

use crate::error::BenchError;
use crate::http::Api;
use crate::scenarios::ingest::{self, IngestFigures, IngestPlan, Requests};
use crate::server::ServerProcess;
use crate::stats::Latency;
use sealtrail_core::TenantId;
use sealtrail_store::Store;
use serde::Serialize;
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// V1 figures.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyFigures {
    /// Leaves checked (the log's size).
    pub entries: u64,
    /// Wall time of `verify_log`, in seconds (target: ≤ 1.5 s).
    pub seconds: f64,
    /// Entries verified per second.
    pub entries_per_s: f64,
    /// Whether the log verified (it must).
    pub valid: bool,
}

/// Verifies `tenant`'s whole log from the stored bytes, as `sealtrail verify` does.
pub async fn verify(store: &dyn Store, tenant: TenantId) -> Result<VerifyFigures, BenchError> {
    let started = Instant::now();
    let report = store
        .verify_log(tenant, &|_| {})
        .await
        .map_err(BenchError::store("verifying the bulk log"))?;
    let seconds = started.elapsed().as_secs_f64();
    Ok(VerifyFigures {
        entries: report.size,
        seconds,
        entries_per_s: report.size as f64 / seconds,
        valid: report.first_problem.is_none(),
    })
}

/// P1 figures.
#[derive(Debug, Clone, Serialize)]
pub struct PruneFigures {
    /// Entries the prune removed.
    pub removed: u64,
    /// Until `POST /v1/admin/prune` answered, in seconds; the window of `during_prune`.
    pub prune_seconds: f64,
    /// The paced ingest over the whole phase.
    pub ingest: IngestFigures,
    /// Acknowledgement latency of the requests sent before the prune started.
    pub before_prune: Latency,
    /// Acknowledgement latency of the requests sent while the prune ran.
    pub during_prune: Latency,
}

/// Sets the bulk tenant's retention so its oldest ~10% fall outside it, then prunes over HTTP
/// while `clients` clients send single events at `rate` events/s in total.
pub async fn prune_during_ingest(
    server: &ServerProcess,
    bulk_key: &str,
    requests: Arc<Requests>,
    clients: usize,
    rate: f64,
    retention_days: u32,
) -> Result<PruneFigures, BenchError> {
    let api = Api::new(server.url())?;
    api.send_json(
        reqwest::Method::PUT,
        bulk_key,
        "/v1/settings/retention",
        &json!({ "days": retention_days }),
    )
    .await?;
    let stop = Arc::new(AtomicBool::new(false));
    let plan = IngestPlan {
        clients,
        duration: Duration::from_secs(3_600),
        pace: Some(rate),
        stop: Some(stop.clone()),
    };
    let phase_start = Instant::now();
    let phase = ingest::run(server, requests, plan, "p1");
    let prune = async {
        // Let the paced ingest settle before pruning, then keep it running a while after.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let started = Instant::now();
        let answer = api
            .send_json(
                reqwest::Method::POST,
                bulk_key,
                "/v1/admin/prune",
                &json!({}),
            )
            .await;
        let window = (started - phase_start, started.elapsed());
        tokio::time::sleep(Duration::from_secs(2)).await;
        stop.store(true, Ordering::Relaxed);
        answer.map(|a| (a, window))
    };
    let (phase, pruned) = tokio::join!(phase, prune);
    let (figures, timeline) = phase?;
    let (answer, (prune_start, prune_time)) = pruned?;
    let mut before: Vec<Duration> = timeline
        .iter()
        .filter(|(at, _)| *at < prune_start)
        .map(|(_, l)| *l)
        .collect();
    let mut during: Vec<Duration> = timeline
        .iter()
        .filter(|(at, _)| *at >= prune_start && *at < prune_start + prune_time)
        .map(|(_, l)| *l)
        .collect();
    Ok(PruneFigures {
        removed: answer["removed"].as_u64().unwrap_or(0),
        prune_seconds: prune_time.as_secs_f64(),
        ingest: figures,
        before_prune: Latency::of(&mut before),
        during_prune: Latency::of(&mut during),
    })
}
