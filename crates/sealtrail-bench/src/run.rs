//! One benchmark run from start to finish: load, start the server, measure every scenario
//! with its raw baseline, stop, and report.

use crate::batches::{Batches, Producer};
use crate::error::BenchError;
use crate::http::Api;
use crate::load::{load, Loaded, LoadedTenant};
use crate::page_cache::ScannedDatabases;
use crate::raw::off_runtime::OffRuntime;
use crate::raw::postgres::RawPostgres;
use crate::raw::singles;
use crate::raw::sqlite::RawSqlite;
use crate::raw::RawEngine;
use crate::report::{check_targets, BatchFigures, Machine, Report, SingleFigures, WorkloadFigures};
use crate::scenarios::ingest::{self, tenant_batches, IngestPlan, Requests};
use crate::scenarios::{bundle, export, overload, read, sink_outage, verify_and_prune, visibility};
use crate::server::ServerProcess;
use crate::workload::{terms, Submission, Workload, WorkloadSpec};
use sealtrail_core::entry::Actor;
use sealtrail_core::users::Role;
use sealtrail_core::{TenantId, Timestamp};
use sealtrail_service::users::{self, Acting};
use sealtrail_store::pg::{PgOptions, PgStore};
use sealtrail_store::sqlite::{SqliteOptions, SqliteStore};
use sealtrail_store::{Clock, Store};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// Seed of the workload.
    pub seed: u64,
    /// Submissions of the Zipf workload.
    pub events: u64,
    /// Tenants sharing them (1,000 in the standard workload; fewer for quick runs).
    pub tenants: u32,
    /// Entries of the one large log (E1, V1, V2, P1).
    pub bulk_events: u64,
    /// Where the databases go; kept afterwards when given, a temporary directory otherwise.
    pub work_dir: Option<PathBuf>,
    /// A PostgreSQL URL (an empty database): the server and the raw baseline run there
    /// instead of on SQLite files.
    pub database: Option<String>,
    /// The `sealtrail` binary to serve with.
    pub binary: PathBuf,
    /// Length of each timed ingest phase.
    pub phase: Duration,
    /// Client counts of I1.
    pub clients: Vec<usize>,
    /// Timed repetitions of each read.
    pub reps: usize,
    /// Leave out the raw-engine baseline.
    pub no_raw: bool,
    /// Clients of O1 (1,000-event batches at once, past what the node may queue); 0 skips it.
    pub overload_clients: usize,
    /// How long K1's receiver stays down under ingest; zero leaves K1 out.
    pub sink_outage: Duration,
    /// Where each scenario's figures are written as one JSON line the moment it finishes, so
    /// a size-M run that fails an hour in keeps what it measured before.
    pub partial: Option<PathBuf>,
}

/// The partial results file of [`BenchConfig::partial`], started empty for each run.
struct PartialResults(Option<PathBuf>);

impl PartialResults {
    fn start(path: &Option<PathBuf>) -> Result<PartialResults, BenchError> {
        if let Some(path) = path {
            std::fs::write(path, b"")
                .map_err(BenchError::io(format!("creating {}", path.display())))?;
        }
        Ok(PartialResults(path.clone()))
    }

    /// Appends `{"scenario": .., "figures": ..}` as one line.
    fn record<T: serde::Serialize>(&self, scenario: &str, figures: T) -> Result<(), BenchError> {
        use std::io::Write as _;
        let Some(path) = &self.0 else { return Ok(()) };
        let line = serde_json::json!({ "scenario": scenario, "figures": figures });
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(BenchError::io(format!("opening {}", path.display())))?;
        writeln!(file, "{line}").map_err(BenchError::io(format!("writing {}", path.display())))
    }
}

/// Progress messages for the person waiting.
pub type Progress<'a> = &'a (dyn Fn(&str) + Sync);

/// Runs every scenario and returns the report (targets checked).
pub async fn run(config: &BenchConfig, say: Progress<'_>) -> Result<Report, BenchError> {
    let started_at = Timestamp::now();
    let partial = PartialResults::start(&config.partial)?;
    // A temporary work directory is removed when the run ends, whatever happens.
    let temp;
    let work: PathBuf = match &config.work_dir {
        Some(dir) => dir.clone(),
        None => {
            temp = tempfile::Builder::new()
                .prefix("sealtrail-bench-")
                .tempdir()
                .map_err(BenchError::io("creating a temporary work directory"))?;
            temp.path().to_path_buf()
        }
    };
    std::fs::create_dir_all(&work)
        .map_err(BenchError::io(format!("creating {}", work.display())))?;
    let data_dir = work.join("data");
    let spec = WorkloadSpec {
        tenants: config.tenants.max(1),
        ..WorkloadSpec::standard(config.seed, config.events, started_at)
    };

    say(&format!(
        "loading {} events over {} tenants + a {}-entry log into Sealtrail…",
        spec.events, spec.tenants, config.bulk_events
    ));
    let loaded = load_sealtrail(config, &data_dir, &spec, say).await?;
    say(&format!(
        "loaded {} entries in {:.1} s ({:.0}/s)",
        loaded.stored,
        loaded.seconds,
        loaded.stored as f64 / loaded.seconds
    ));
    let mut raw: Option<Box<dyn RawEngine>> = None;
    let mut raw_next = RawSeqs::default();
    let mut raw_load_rate = None;
    if !config.no_raw {
        say("loading the same events into the raw baseline…");
        let mut engine: Box<dyn RawEngine> = match &config.database {
            Some(url) => Box::new(OffRuntime::create(|| RawPostgres::create(url))?),
            None => Box::new(RawSqlite::create(&work.join("raw.db"))?),
        };
        let started = Instant::now();
        let stored = load_raw(engine.as_mut(), &spec, config.bulk_events, &mut raw_next)?;
        let rate = stored as f64 / started.elapsed().as_secs_f64();
        say(&format!("raw baseline loaded {stored} rows ({rate:.0}/s)"));
        raw_load_rate = Some(rate);
        raw = Some(engine);
    }

    let server = ServerProcess::start(&config.binary, &data_dir, config.database.as_deref())?;
    say(&format!("server under test at {}", server.url()));
    let keys: Vec<String> = loaded.tenants.iter().map(|t| t.key.clone()).collect();
    let api = Api::new(server.url())?;

    // I1: single events, as fast as answered, at each concurrency.
    // Prepared bodies are reused round-robin (with fresh idempotency keys); 200,000 cover a
    // 10 s phase at 20k events/s without repeating, fewer suffice for small runs.
    let distinct = (config.events / 5).clamp(5_000, 200_000);
    let singles_spec = WorkloadSpec {
        seed: config.seed ^ 0x11,
        events: distinct * 2,
        ..spec.clone()
    };
    let singles = Arc::new(Requests::singles(
        singles_spec.clone(),
        &keys,
        distinct as usize,
    )?);
    let mut raw_singles = None;
    let mut raw_singles_sent = 0u64;
    let mut ingest_single = Vec::new();
    for &clients in &config.clients {
        say(&format!("I1: single events from {clients} clients…"));
        let plan = IngestPlan {
            clients,
            duration: config.phase,
            pace: None,
            stop: None,
        };
        let (http, _) =
            ingest::run(&server, singles.clone(), plan, &format!("i1-{clients}")).await?;
        let raw_figures = match engine(&mut raw) {
            Some(engine) => {
                let events = raw_singles.get_or_insert_with(|| {
                    Workload::new(singles_spec.clone())
                        .filter(|s| !s.duplicate)
                        .take(distinct as usize)
                        .map(|s| (s.tenant, s.event))
                        .collect::<Vec<_>>()
                });
                Some(singles::group_committed(
                    engine,
                    events,
                    clients,
                    config.phase,
                    &mut raw_singles_sent,
                    &mut |tenant| raw_next.take(tenant, 1),
                )?)
            }
            None => None,
        };
        ingest_single.push(SingleFigures {
            ratio: raw_figures.map(|r| http.events_per_s / r.events_per_s),
            raw: raw_figures,
            http,
        });
        partial.record("I1", ingest_single.last())?;
    }

    // L1: how soon an acknowledged entry is readable, under the 64-client load.
    say("L1: visibility of acknowledged entries under 64 clients…");
    let probe_tenant = loaded
        .tenants
        .last()
        .ok_or_else(|| BenchError::Workload("no tenants loaded".into()))?;
    let visibility = Some(
        visibility::run(
            &server,
            singles.clone(),
            64,
            config.phase,
            &probe_tenant.key,
        )
        .await?,
    );
    partial.record("L1", &visibility)?;

    // I2: batches from one client, against the raw engine at the same transaction size.
    let mut ingest_batch = Vec::new();
    let mut thousands = None;
    let mut hundreds = None;
    for batch in [100usize, 1_000] {
        say(&format!("I2: batches of {batch}…"));
        let count = ((config.events / 5) as usize / batch).clamp(1, 200_000 / batch);
        let batches = tenant_batches(
            WorkloadSpec {
                seed: config.seed ^ 0x12 ^ batch as u64,
                events: 2_000_000,
                ..spec.clone()
            },
            batch,
            count,
        )?;
        let requests = Arc::new(Requests::batches(&batches, &keys)?);
        if batch == 1_000 {
            thousands = Some(requests.clone());
        } else {
            hundreds = Some(requests.clone());
        }
        let plan = IngestPlan {
            clients: 1,
            duration: config.phase,
            pace: None,
            stop: None,
        };
        let (http, _) = ingest::run(&server, requests, plan, &format!("i2-{batch}")).await?;
        let raw_rate = match engine(&mut raw) {
            Some(engine) => {
                let sent = (http.requests as usize).clamp(1, batches.len());
                Some(insert_raw_batches(engine, &batches[..sent], &mut raw_next)?)
            }
            None => None,
        };
        ingest_batch.push(BatchFigures {
            ratio: raw_rate.map(|r| http.events_per_s / r),
            raw_events_per_s: raw_rate,
            http,
        });
        partial.record("I2", ingest_batch.last())?;
    }

    // Q1, Q2, S1 on a large, a mid and a small tenant.
    let now = Timestamp::now();
    let pick = |rank: usize| -> Result<&LoadedTenant, BenchError> {
        loaded
            .tenants
            .get(rank.min(loaded.tenants.len() - 1))
            .ok_or_else(|| BenchError::Workload("no tenants loaded".into()))
    };
    let (large, mid, small) = (pick(0)?, pick(30)?, pick(usize::MAX)?);
    let mut pages = Vec::new();
    let mut counts = Vec::new();
    let mut timelines = Vec::new();
    let mut search = Vec::new();
    let mut held = Vec::new();
    for (size, tenant) in [("large", large), ("mid", mid), ("small", small)] {
        // I1 and I2 added to these logs: count what they hold now.
        let entries = read::total(&api, &tenant.key).await?;
        held.push(entries);
        say(&format!(
            "Q1: newest-50 pages, {size} tenant ({entries} entries)…"
        ));
        let target = read::ReadTenant {
            size,
            key: &tenant.key,
            raw_id: tenant.rank,
            entries,
        };
        pages.extend(read::pages(&api, &target, engine(&mut raw), now, config.reps).await?);
        if size == "large" {
            say("Q2: counts; S1: search…");
            counts = read::counts(
                &api,
                &target,
                engine(&mut raw),
                now,
                config.reps.div_ceil(5),
            )
            .await?;
            say("T1: timelines…");
            timelines = read::timelines(
                &api,
                &target,
                engine(&mut raw),
                now,
                config.reps.div_ceil(5),
            )
            .await?;
            search = read::search(&api, &target, engine(&mut raw), &terms(), config.reps).await?;
            partial.record("Q2", &counts)?;
            partial.record("T1", &timelines)?;
            partial.record("S1", &search)?;
        }
    }
    partial.record("Q1", &pages)?;

    // W1: the /audit page itself, signed in as an owner of the large tenant.
    say("W1: the /audit page, signed in…");
    let audit_page = {
        let email = "bench-owner@example.com";
        let store = open_store(config, &data_dir, Clock::System).await?;
        let created = users::create_user(
            store.as_ref(),
            TenantId(large.id),
            email,
            Some("Bench Owner"),
            Role::Owner,
            None,
            &Acting::operator(Actor::system("bench")),
        )
        .await?;
        drop(store);
        let password = created
            .generated_password
            .ok_or_else(|| BenchError::Workload("no first password was generated".into()))?;
        let cookie = api.sign_in(&large.name, email, &password).await?;
        read::audit_page(&api, &cookie, config.reps).await?
    };
    partial.record("W1", &audit_page)?;

    // E1: the one large log as CSV and NDJSON.
    let bulk = &loaded.bulk;
    let databases = match &config.database {
        Some(_) => ScannedDatabases::default(),
        None => ScannedDatabases {
            sealtrail: Some(data_dir.join(sealtrail_store::sqlite::DB_FILE_NAME)),
            raw: (!config.no_raw).then(|| work.join("raw.db")),
        },
    };
    let mut exports = Vec::new();
    for format in ["csv", "ndjson"] {
        say(&format!(
            "E1: exporting {} entries as {format}…",
            bulk.events
        ));
        let raw_bulk = engine(&mut raw).map(|e| (e, bulk_raw_id(&spec)));
        exports.push(
            export::download(
                &api,
                &bulk.key,
                &server,
                format,
                bulk.events,
                raw_bulk,
                &databases,
            )
            .await?,
        );
        partial.record("E1", exports.last())?;
    }

    // V1: verify the large log from the stored bytes (a second handle on the same database).
    say("V1: verifying the large log…");
    let verify = {
        let store = open_store(config, &data_dir, Clock::System).await?;
        databases.warm_sealtrail()?;
        verify_and_prune::verify(store.as_ref(), TenantId(bulk.id)).await?
    };
    partial.record("V1", &verify)?;

    // V2: the large log as an evidence bundle, downloaded and verified offline (before P1
    // prunes it, so the bundle is the whole log).
    say("V2: exporting the large log as an evidence bundle and verifying it…");
    let bundle = bundle::export_and_verify(&api, &bulk.key, &work).await?;
    partial.record("V2", &bundle)?;

    // P1: prune its oldest tenth while I1 runs at half the 64-client rate.
    let half = ingest_single
        .iter()
        .find(|f| f.http.clients == 64)
        .or(ingest_single.last())
        .map_or(1_000.0, |f| f.http.events_per_s / 2.0);
    say(&format!(
        "P1: pruning the oldest tenth while ingesting {half:.0} events/s…"
    ));
    let prune =
        verify_and_prune::prune_during_ingest(&server, &bulk.key, singles, 64, half, 329).await?;
    partial.record("P1", &prune)?;

    // K1: the same batch ingest without sinks, then with ten failing sinks.
    let sink_outage = match hundreds {
        Some(requests) if !config.sink_outage.is_zero() => {
            say(&format!(
                "K1: batches of 100 for {:.0} s without sinks, then with a sink on each of the 10 busiest tenants whose receiver is down…",
                config.sink_outage.as_secs_f64()
            ));
            Some(sink_outage::run(&server, &api, requests, &keys, 10, config.sink_outage).await?)
        }
        _ => None,
    };
    partial.record("K1", &sink_outage)?;

    // O1 last: it fills the node's buffers on purpose.
    let overload = match thousands {
        Some(requests) if config.overload_clients > 0 => {
            say(&format!(
                "O1: {} clients sending 1000-event batches at once…",
                config.overload_clients
            ));
            Some(overload::run(&server, requests, config.overload_clients, config.phase).await?)
        }
        _ => None,
    };
    partial.record("O1", &overload)?;
    server.stop()?;

    let mut report = Report {
        started_at: started_at.to_rfc3339(),
        machine: Machine::describe(
            if config.database.is_some() {
                "PostgreSQL"
            } else {
                "SQLite (embedded)"
            },
            raw.as_ref().map(|r| r.name()),
        ),
        workload: WorkloadFigures {
            seed: config.seed,
            events: spec.events,
            tenants: spec.tenants,
            bulk_events: bulk.events,
            stored: loaded.stored,
            duplicates: loaded.duplicates,
            load_seconds: loaded.seconds,
            load_events_per_s: loaded.stored as f64 / loaded.seconds,
            raw_load_events_per_s: raw_load_rate,
            large_tenant: held[0],
            mid_tenant: held[1],
            small_tenant: held[2],
        },
        ingest_single,
        ingest_batch,
        pages,
        counts,
        timelines,
        search,
        audit_page,
        exports,
        verify,
        bundle,
        prune,
        overload,
        sink_outage,
        visibility,
        targets: Vec::new(),
    };
    report.targets = check_targets(&report);
    Ok(report)
}

/// The raw engine borrowed for one scenario.
fn engine(raw: &mut Option<Box<dyn RawEngine>>) -> Option<&mut dyn RawEngine> {
    match raw {
        Some(engine) => Some(engine.as_mut()),
        None => None,
    }
}

/// The raw engine's id of the bulk tenant: the rank after the workload's last.
fn bulk_raw_id(spec: &WorkloadSpec) -> u32 {
    spec.tenants
}

async fn open_store(
    config: &BenchConfig,
    data_dir: &Path,
    clock: Clock,
) -> Result<Arc<dyn Store>, BenchError> {
    Ok(match &config.database {
        Some(url) => Arc::new(
            PgStore::connect(
                url,
                PgOptions {
                    clock,
                    ..PgOptions::default()
                },
            )
            .await
            .map_err(BenchError::store("connecting to PostgreSQL"))?,
        ),
        None => Arc::new(
            SqliteStore::open(
                data_dir,
                SqliteOptions {
                    clock,
                    ..SqliteOptions::default()
                },
            )
            .map_err(BenchError::store("opening the data directory"))?,
        ),
    })
}

async fn load_sealtrail(
    config: &BenchConfig,
    data_dir: &Path,
    spec: &WorkloadSpec,
    say: Progress<'_>,
) -> Result<Loaded, BenchError> {
    let (clock, handle) = Clock::replayed(spec.start());
    let store = open_store(config, data_dir, clock).await?;
    let progress = |n: u64| say(&format!("  {n} submissions loaded"));
    load(store, &handle, spec, config.bulk_events, 1_000, &progress).await
}

/// The next seq of each raw tenant, so baseline inserts continue each log.
#[derive(Default)]
struct RawSeqs(std::collections::HashMap<u32, i64>);

impl RawSeqs {
    fn take(&mut self, tenant: u32, n: usize) -> i64 {
        let next = self.0.entry(tenant).or_insert(0);
        let first = *next;
        *next += n as i64;
        first
    }
}

/// Loads the workload and the bulk log into the raw engine in exactly the batches Sealtrail's
/// load sent, duplicates left out (a plain table has no idempotency to answer them with).
fn load_raw(
    engine: &mut dyn RawEngine,
    spec: &WorkloadSpec,
    bulk_events: u64,
    seqs: &mut RawSeqs,
) -> Result<u64, BenchError> {
    let mut stored = 0u64;
    for (producer, batch) in Batches::new(spec, bulk_events, 1_000) {
        let tenant = match producer {
            Producer::Tenant(rank) => rank,
            Producer::Bulk => bulk_raw_id(spec),
        };
        stored += insert_raw(engine, tenant, &batch, seqs)? as u64;
    }
    Ok(stored)
}

/// Inserts one batch's new events (duplicates left out) in one transaction, continuing the
/// tenant's seq; returns how many were inserted.
fn insert_raw(
    engine: &mut dyn RawEngine,
    tenant: u32,
    batch: &[Submission],
    seqs: &mut RawSeqs,
) -> Result<usize, BenchError> {
    let events: Vec<_> = batch
        .iter()
        .filter(|s| !s.duplicate)
        .map(|s| &s.event)
        .collect();
    if events.is_empty() {
        return Ok(0);
    }
    let first = seqs.take(tenant, events.len());
    engine.insert_batch(tenant, first, &events)?;
    Ok(events.len())
}

/// Inserts `batches` one transaction each and returns events per second.
fn insert_raw_batches(
    engine: &mut dyn RawEngine,
    batches: &[ingest::TenantBatch],
    seqs: &mut RawSeqs,
) -> Result<f64, BenchError> {
    let started = Instant::now();
    let mut events = 0usize;
    for (tenant, submissions) in batches {
        events += insert_raw(engine, *tenant, submissions, seqs)?;
    }
    Ok(events as f64 / started.elapsed().as_secs_f64())
}
