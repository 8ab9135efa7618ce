//! The store's single-event write path alone, without HTTP: `CLIENTS` tasks (default 64) each
//! append one event at a time straight into an embedded store, over the benchmark's 1,000
//! Zipf-sized tenants, for two phases of `SECS` seconds (default 8), and print the rate.
//!
//! Used to measure what one change to the writer is worth (BENCHMARKS.md, issue #16) with
//! far less noise than a whole `sealtrail bench` run; `perf record -g -p <pid>` during a phase
//! shows the writer thread (`sealtrail-write`) alone.
//!
//! `cargo run --release -p sealtrail-bench --example store_singles`

use sealtrail_bench::workload::{Workload, WorkloadSpec};
use sealtrail_core::entry::{Actor, ActorType, NewEntry};
use sealtrail_core::ingest::{parse_body, Limits};
use sealtrail_core::{TenantId, Timestamp};
use sealtrail_store::sqlite::{SqliteOptions, SqliteStore};
use sealtrail_store::{Store, TenantLimits};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A whole-number setting from the environment.
fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let clients = setting("CLIENTS", 64) as usize;
    let seconds = setting("SECS", 8);
    let dir = tempfile::tempdir_in(std::env::temp_dir())?;
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path(), SqliteOptions::default())?);
    let actor = Actor {
        kind: ActorType::System,
        id: Some("store-singles".into()),
        name: None,
        email: None,
        via: None,
    };
    let mut tenants = Vec::new();
    for rank in 0..1_000u32 {
        let tenant =
            sealtrail_service::tenants::create_tenant(store.as_ref(), &format!("t{rank}"), &actor)
                .await?;
        store.set_limits(tenant.id, TenantLimits::UNLIMITED).await?;
        tenants.push(tenant.id);
    }
    // Parsed exactly as the ingest endpoint parses them.
    let spec = WorkloadSpec::standard(1, 400_000, Timestamp::now());
    let mut events: Vec<(TenantId, NewEntry)> = Vec::new();
    for submission in Workload::new(spec).filter(|s| !s.duplicate).take(120_000) {
        let body =
            serde_json::to_vec(&serde_json::json!({ "events": [submission.event.to_json()] }))?;
        let parsed = parse_body(&body, &Limits::default(), Timestamp::now())?;
        if let Some(Ok(entry)) = parsed.items.into_iter().next() {
            events.push((tenants[submission.tenant as usize], entry));
        }
    }
    let events = Arc::new(events);
    let next = Arc::new(AtomicU64::new(0));
    eprintln!(
        "ready: {} tenants, {} prepared events",
        tenants.len(),
        events.len()
    );
    for phase in 0..2 {
        let done = Arc::new(AtomicU64::new(0));
        let started = Instant::now();
        let deadline = started + Duration::from_secs(seconds);
        let mut tasks = Vec::new();
        for _ in 0..clients {
            let (store, events, next, done) =
                (store.clone(), events.clone(), next.clone(), done.clone());
            tasks.push(tokio::spawn(async move {
                while Instant::now() < deadline {
                    let n = next.fetch_add(1, Ordering::Relaxed) as usize % events.len();
                    let (tenant, entry) = &events[n];
                    store.append(*tenant, vec![entry.clone()]).await?;
                    done.fetch_add(1, Ordering::Relaxed);
                }
                Ok::<_, sealtrail_store::StoreError>(())
            }));
        }
        for task in tasks {
            task.await??;
        }
        let rate = done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
        println!("phase {phase}: {rate:.0} events/s");
    }
    Ok(())
}
