//! `sealtrail bench`: the benchmark suite of BENCHMARKS.md from one command, and
//! `sealtrail bench gen` to write its workload out for other tools.

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use sealtrail_bench::report::markdown;
use sealtrail_bench::run::{run, BenchConfig};
use sealtrail_bench::workload::{tenant_name, Workload, WorkloadSpec};
use sealtrail_core::Timestamp;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Run every benchmark scenario (or `gen` to write the workload as NDJSON).
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BenchArgs {
    #[command(subcommand)]
    command: Option<BenchCommand>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Write the seeded workload as NDJSON: one `{"tenant", "duplicate", "event"}` per line.
    Gen(GenArgs),
}

/// Workload sizes of BENCHMARKS.md.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Size {
    /// 1,000,000 events.
    S,
    /// 5,000,000 events.
    M,
}

impl Size {
    fn events(self) -> u64 {
        match self {
            Size::S => 1_000_000,
            Size::M => 5_000_000,
        }
    }
}

#[derive(Debug, Args)]
struct WorkloadArgs {
    /// Workload size: S = 1M events, M = 5M events over 1,000 tenants.
    #[arg(long, value_enum, default_value = "s")]
    size: Size,
    /// Exact number of events instead of a size (small runs, CI).
    #[arg(long, conflicts_with = "size")]
    events: Option<u64>,
    /// Seed: the same seed gives the same workload.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Tenants sharing the events (Zipf 1.0 by rank).
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    tenants: u32,
}

impl WorkloadArgs {
    fn events(&self) -> u64 {
        self.events.unwrap_or_else(|| self.size.events())
    }
}

#[derive(Debug, Args)]
struct RunArgs {
    #[command(flatten)]
    workload: WorkloadArgs,
    /// Entries of the one large log that E1 exports, V1 verifies, V2 exports as an evidence
    /// bundle and verifies, and P1 prunes.
    #[arg(long, default_value_t = 1_000_000)]
    bulk_events: u64,
    /// Keep the databases here (default: a temporary directory, removed afterwards).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Run the server and the raw baseline on this PostgreSQL database (must be empty)
    /// instead of SQLite files.
    #[arg(long = "database")]
    database: Option<String>,
    /// Seconds of each timed ingest phase.
    #[arg(long, default_value_t = 10.0)]
    phase_seconds: f64,
    /// Concurrent clients of each I1 phase.
    #[arg(long, value_delimiter = ',', default_values_t = [1usize, 8, 64, 256])]
    clients: Vec<usize>,
    /// Timed repetitions of each read.
    #[arg(long, default_value_t = 100)]
    reps: usize,
    /// Leave out the raw-engine baseline.
    #[arg(long)]
    no_raw: bool,
    /// Clients of O1, the overload scenario: each sends 1,000-event batches at once, retrying
    /// refusals after 50 ms (0 leaves it out).
    #[arg(long, default_value_t = 512)]
    overload_clients: usize,
    /// Seconds K1's webhook receiver stays down while batches are ingested (0 leaves K1 out).
    #[arg(long, default_value_t = 60.0)]
    sink_outage_seconds: f64,
    /// Where to write the machine-readable results (each scenario's figures also go to
    /// `<name>.partial.ndjson` beside it as they are measured).
    #[arg(long, default_value = "bench-results.json")]
    json: PathBuf,
}

#[derive(Debug, Args)]
struct GenArgs {
    #[command(flatten)]
    workload: WorkloadArgs,
    /// Output file; `-` for standard output.
    #[arg(long, short, default_value = "-")]
    output: PathBuf,
    /// Time of the newest event (RFC 3339); events spread over the year before it. Defaults
    /// to now; give it to get byte-identical output on another day.
    #[arg(long)]
    end: Option<String>,
}

/// Runs `sealtrail bench`.
pub async fn run_command(args: BenchArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        Some(BenchCommand::Gen(gen)) => generate(gen),
        None => benchmark(args.run).await,
    }
}

fn generate(args: GenArgs) -> anyhow::Result<ExitCode> {
    let end = match &args.end {
        Some(text) => Timestamp::parse_rfc3339(text).map_err(|e| anyhow::anyhow!("--end: {e}"))?,
        None => Timestamp::now(),
    };
    let spec = WorkloadSpec {
        tenants: args.workload.tenants,
        ..WorkloadSpec::standard(args.workload.seed, args.workload.events(), end)
    };
    let mut out: Box<dyn Write> = if args.output.as_os_str() == "-" {
        Box::new(std::io::BufWriter::new(std::io::stdout().lock()))
    } else {
        let file = std::fs::File::create(&args.output)
            .with_context(|| format!("creating {}", args.output.display()))?;
        Box::new(std::io::BufWriter::new(file))
    };
    for s in Workload::new(spec) {
        let line = serde_json::json!({
            "tenant": tenant_name(s.tenant),
            "duplicate": s.duplicate,
            "event": s.event.to_json(),
        });
        serde_json::to_writer(&mut out, &line)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

async fn benchmark(args: RunArgs) -> anyhow::Result<ExitCode> {
    let config = BenchConfig {
        seed: args.workload.seed,
        events: args.workload.events(),
        tenants: args.workload.tenants,
        bulk_events: args.bulk_events,
        work_dir: args.work_dir,
        database: args.database,
        binary: std::env::current_exe().context("finding the sealtrail binary")?,
        phase: Duration::from_secs_f64(args.phase_seconds.max(0.1)),
        clients: args.clients,
        overload_clients: args.overload_clients,
        sink_outage: Duration::from_secs_f64(args.sink_outage_seconds.max(0.0)),
        reps: args.reps.max(1),
        no_raw: args.no_raw,
        partial: Some(args.json.with_extension("partial.ndjson")),
    };
    if cfg!(debug_assertions) {
        eprintln!("warning: this is a debug build; figures are only meaningful from `cargo run --release -- bench`");
    }
    let say = |message: &str| eprintln!("[bench] {message}");
    let report = run(&config, &say).await?;
    let json = serde_json::to_vec_pretty(&report)?;
    std::fs::write(&args.json, json).with_context(|| format!("writing {}", args.json.display()))?;
    println!("{}", markdown(&report));
    eprintln!("[bench] results written to {}", args.json.display());
    Ok(ExitCode::SUCCESS)
}
