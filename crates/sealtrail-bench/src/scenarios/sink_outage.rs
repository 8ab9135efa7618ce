//! K1: a sink's receiver down under ingest. The same batch ingest runs first for the outage's
//! length with no sinks (for reference); then a webhook sink is created on each of the
//! busiest tenants, pointing at a receiver that answers 503, and ingest runs in
//! [`SLICES`] interleaved slices, half with the sinks active (failing, backing off) and half
//! with them paused (no delivery work), in the order B A A B B A so that the logs' growth
//! over the scenario weighs on both alike: the sinks' cost is the ratio of the two, not the
//! drift between a first and a later phase. Each condition gets the outage's length in all;
//! the receiver stays down throughout. Ingest must not slow (the log is the queue; delivery
//! only reads behind the writer) and the server's memory must stay bounded. Then the receiver
//! comes back, the sinks are resumed, and every entry recorded since they were created must
//! arrive; the time that takes is reported.

use super::ingest::{self, IngestFigures, IngestPlan, Requests};
use crate::error::BenchError;
use crate::http::Api;
use crate::server::ServerProcess;
use crate::stats::sample_rss;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// What K1 measured.
#[derive(Debug, Clone, Serialize)]
pub struct SinkOutageFigures {
    /// Sinks, one per tenant (the busiest), all pointing at the receiver that is down.
    pub sinks: usize,
    /// Seconds the receiver was down while ingest ran.
    pub outage_seconds: f64,
    /// The batch ingest phase with no sinks, before the outage (reference only).
    pub without_sinks: IngestFigures,
    /// The slices with the sinks active and their receiver down, taken together.
    pub during_outage: IngestFigures,
    /// The slices interleaved with them, the sinks paused, taken together.
    pub sinks_paused: IngestFigures,
    /// `during_outage` over `sinks_paused` events per second: K1's target wants ≥ 0.9.
    pub ratio: f64,
    /// Delivery attempts the receiver refused during the outage.
    pub refused_attempts: u64,
    /// Server RSS before the outage and its peak during it, in MiB.
    pub server_rss_before_mib: f64,
    /// Peak server RSS during the outage, in MiB.
    pub server_rss_peak_mib: f64,
    /// Entries recorded in the sinks' tenants since the sinks were created.
    pub expected_entries: u64,
    /// Distinct entries the receiver holds in the end.
    pub delivered_entries: u64,
    /// Seconds from the receiver's return until it held every entry (or gave up).
    pub catch_up_seconds: f64,
}

#[derive(Default)]
struct Receiver {
    down: AtomicBool,
    refused: AtomicU64,
    /// (sink, seq) of every entry received.
    seen: Mutex<HashSet<(String, u64)>>,
}

/// What the receiver answers a batch: 503 while down, else 200 once its entries are noted.
fn receive(r: &Receiver, body: &[u8]) -> &'static str {
    if r.down.load(Ordering::Relaxed) {
        r.refused.fetch_add(1, Ordering::Relaxed);
        return "503 Service Unavailable";
    }
    let Ok(batch) = serde_json::from_slice::<Value>(body) else {
        return "400 Bad Request";
    };
    let sink = batch["sink"].as_str().unwrap_or_default().to_string();
    let entries = batch["entries"].as_array().cloned().unwrap_or_default();
    let mut seen = r.seen.lock().unwrap_or_else(|p| p.into_inner());
    for entry in entries {
        if let Some(seq) = entry["seq"].as_u64() {
            seen.insert((sink.clone(), seq));
        }
    }
    "200 OK"
}

/// The receiver's side of one keep-alive connection: a minimal HTTP/1.1 reader of what the
/// deliverer sends (a POST with `Content-Length`). The bench stands in for a SIEM here, so it
/// takes no HTTP server framework: those belong to `sealtrail-server` alone.
async fn serve_connection(stream: TcpStream, r: Arc<Receiver>) -> std::io::Result<()> {
    let mut stream = BufReader::new(stream);
    loop {
        let mut length = 0usize;
        let mut line = String::new();
        if stream.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        loop {
            line.clear();
            if stream.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0u8; length];
        stream.read_exact(&mut body).await?;
        let status = receive(&r, &body);
        let answer = format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\n\r\n");
        stream.get_mut().write_all(answer.as_bytes()).await?;
    }
}

/// Runs K1 with `requests` (batches over the tenants) for `outage`, with sinks on the tenants
/// of `keys` (the busiest first; `sinks` of them).
pub async fn run(
    server: &ServerProcess,
    api: &Api,
    requests: Arc<Requests>,
    keys: &[String],
    sinks: usize,
    outage: Duration,
) -> Result<SinkOutageFigures, BenchError> {
    let receiver = Arc::new(Receiver::default());
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(BenchError::io("binding the K1 receiver"))?;
    let url = format!(
        "http://{}/in",
        listener
            .local_addr()
            .map_err(BenchError::io("the K1 receiver's address"))?
    );
    let accepting = receiver.clone();
    let serving = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve_connection(stream, accepting.clone()));
        }
    });
    let plan = || IngestPlan {
        clients: 1,
        duration: outage,
        pace: None,
        stop: None,
    };

    let (without_sinks, _) = ingest::run(server, requests.clone(), plan(), "k1-without").await?;

    receiver.down.store(true, Ordering::Relaxed);
    let mut created = Vec::new();
    for key in keys.iter().take(sinks) {
        let size = log_size(api, key).await?;
        let answer = api
            .send_json(
                reqwest::Method::POST,
                key,
                "/v1/sinks",
                &json!({"name": "K1", "url": url, "start": "now"}),
            )
            .await?;
        let id = answer["sink"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        created.push((key.clone(), id, size));
    }
    let before = server.sample().rss_mib;
    let (stop_sampling, peak) = sample_rss(server.pid(), Duration::from_millis(250));
    let slice = outage / (SLICES as u32 / 2);
    let (mut active, mut paused) = (Vec::new(), Vec::new());
    let mut sinks_active = true;
    for (i, with_sinks) in ORDER.into_iter().enumerate() {
        if with_sinks != sinks_active {
            let verb = if with_sinks { "resume" } else { "pause" };
            for (key, id, _) in &created {
                let path = format!("/v1/sinks/{id}/{verb}");
                api.send_json(reqwest::Method::POST, key, &path, &json!({}))
                    .await?;
            }
            sinks_active = with_sinks;
        }
        let plan = IngestPlan {
            duration: slice,
            ..plan()
        };
        let label = format!("k1-slice-{i}");
        let measured = ingest::run(server, requests.clone(), plan, &label).await?;
        if with_sinks {
            active.push(measured);
        } else {
            paused.push(measured);
        }
    }
    stop_sampling.store(true, Ordering::Relaxed);
    let peak = peak.join().unwrap_or(f64::NAN);
    let refused_attempts = receiver.refused.load(Ordering::Relaxed);
    let during_outage = combine(active);
    let sinks_paused = combine(paused);

    receiver.down.store(false, Ordering::Relaxed);
    let back = Instant::now();
    for (key, id, _) in &created {
        let resume = format!("/v1/sinks/{id}/resume");
        api.send_json(reqwest::Method::POST, key, &resume, &json!({}))
            .await?;
    }
    // Counted after the resumes, whose own entries (`sink.resumed`) are delivered too.
    let mut expected = 0;
    for (key, _, size) in &created {
        expected += log_size(api, key).await?.saturating_sub(*size);
    }
    // Backoff reaches 64 s after a minute of failures; give it room, then report what came.
    let deadline = back + outage * 3 + Duration::from_secs(120);
    let delivered = loop {
        let held = receiver
            .seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len() as u64;
        if held >= expected || Instant::now() > deadline {
            break held;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let catch_up_seconds = back.elapsed().as_secs_f64();
    for (key, id, _) in &created {
        api.delete(key, &format!("/v1/sinks/{id}")).await?;
    }
    serving.abort();
    Ok(SinkOutageFigures {
        sinks: created.len(),
        outage_seconds: outage.as_secs_f64(),
        ratio: during_outage.events_per_s / sinks_paused.events_per_s,
        without_sinks,
        during_outage,
        sinks_paused,
        refused_attempts,
        server_rss_before_mib: before,
        server_rss_peak_mib: peak,
        expected_entries: expected,
        delivered_entries: delivered,
        catch_up_seconds,
    })
}

/// Interleaved slices of the outage: half with the sinks active, half paused.
pub const SLICES: usize = 6;
/// Which slices have the sinks active: B A A B B A, so a steady drift weighs on both alike.
const ORDER: [bool; SLICES] = [true, false, false, true, true, false];

/// Slices of one condition as one phase: events and seconds summed, latencies pooled, CPU
/// weighted by time.
fn combine(slices: Vec<(IngestFigures, ingest::Timeline)>) -> IngestFigures {
    let mut latencies: Vec<Duration> = slices
        .iter()
        .flat_map(|(_, timeline)| timeline.iter().map(|(_, latency)| *latency))
        .collect();
    let seconds: f64 = slices.iter().map(|(f, _)| f.seconds).sum();
    let events: u64 = slices.iter().map(|(f, _)| f.events).sum();
    let weighted = |cores: fn(&IngestFigures) -> f64| {
        slices
            .iter()
            .map(|(f, _)| cores(f) * f.seconds)
            .sum::<f64>()
            / seconds.max(f64::EPSILON)
    };
    let first = slices.first().map(|(f, _)| f);
    IngestFigures {
        clients: first.map_or(0, |f| f.clients),
        batch: first.map_or(0, |f| f.batch),
        requests: slices.iter().map(|(f, _)| f.requests).sum(),
        events,
        seconds,
        events_per_s: events as f64 / seconds.max(f64::EPSILON),
        latency: crate::stats::Latency::of(&mut latencies),
        server_cpu_cores: weighted(|f| f.server_cpu_cores),
        client_cpu_cores: weighted(|f| f.client_cpu_cores),
    }
}

async fn log_size(api: &Api, key: &str) -> Result<u64, BenchError> {
    let tenant = api.get_json(key, "/v1/tenant").await?;
    tenant["log_size"]
        .as_u64()
        .ok_or_else(|| BenchError::Http(format!("GET /v1/tenant: no log_size in {tenant}")))
}
