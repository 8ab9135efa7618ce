//! The `sealtrail` command: one binary that serves the API and talks to it.
//!
//! `serve` runs the service; `ingest` and `query` are HTTP clients (so they work against any
//! Sealtrail, local or remote); `keys`, `tenants` and `users` are operator commands that act on
//! the data directory directly, because they are how the first credentials come to exist.

mod bench;
mod client;
mod config;
mod cors;
mod export;
mod filters;
mod ingest;
mod lifecycle;
mod limits;
mod local;
mod query;
mod serve;
mod sinks;
mod users;
mod verify;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// mimalloc instead of the system allocator: parsing a batch allocates many small values on a
/// request thread that the writer thread frees, the pattern glibc's arenas handle worst (a
/// third of the bulk loader's samples were in `malloc`/`free`); with mimalloc the load runs
/// about 50% faster (BENCHMARKS.md, "Ingest write path, part 3").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Sealtrail: an append-only, tamper-evident audit log as a service.
#[derive(Debug, Parser)]
#[command(name = "sealtrail", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the service: on the embedded SQLite database in --data-dir by default, or on
    /// PostgreSQL with --database.
    Serve(serve::ServeArgs),
    /// Send events from an NDJSON file (or stdin) to a Sealtrail server, in batches.
    Ingest(ingest::IngestArgs),
    /// List entries matching filters, newest first, as a table, JSON or NDJSON.
    Query(Box<query::QueryArgs>),
    /// Download an export of the entries matching filters (CSV, JSON, NDJSON, evidence bundle).
    Export(Box<export::ExportArgs>),
    /// Create, list or revoke API keys (acts on the data directory).
    #[command(subcommand)]
    Keys(local::KeysCommand),
    /// Create or list tenants (acts on the data directory).
    #[command(subcommand)]
    Tenants(local::TenantsCommand),
    /// Create, list, change or deactivate the people who sign in to the web page (acts on the
    /// data directory).
    #[command(subcommand)]
    Users(users::UsersCommand),
    /// Verify a database (every leaf, tree hash and the signed checkpoint) or an evidence bundle.
    Verify(verify::VerifyArgs),
    /// Prune entries older than each tenant's retention window, now (acts on the data directory).
    Prune(lifecycle::PruneArgs),
    /// Erase a data subject's personal data (GDPR), keeping every proof valid.
    Erase(lifecycle::EraseArgs),
    /// Show or set retention and legal hold (acts on the data directory).
    #[command(subcommand)]
    Retention(lifecycle::RetentionCommand),
    /// The period the audit page opens on when its address names none.
    #[command(subcommand)]
    Period(lifecycle::PeriodCommand),
    /// Show or set a tenant's rate limits and daily event quota (acts on the data directory).
    #[command(subcommand)]
    Limits(limits::LimitsCommand),
    /// Create, list, pause, resume, replay, test or delete a tenant's push-delivery sinks
    /// (acts on the data directory).
    #[command(subcommand)]
    Sinks(sinks::SinksCommand),
    /// Print the checkpoint verifier key to give to auditors.
    PublicKey(local::DataDir),
    /// Measure ingest, reads, search, export, verification and pruning against raw-engine
    /// baselines (BENCHMARKS.md); `bench gen` writes the workload.
    Bench(Box<bench::BenchArgs>),
    /// Show or set the web origins whose pages may call a tenant's API from a browser (CORS;
    /// acts on the data directory).
    #[command(subcommand)]
    Cors(cors::CorsCommand),
    /// Check a configuration file for `serve --config` (docs/configuration.md).
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// Print a completion script for your shell: `sealtrail completions bash >
    /// /etc/bash_completion.d/sealtrail` (zsh: into a directory of `$fpath` as `_sealtrail`;
    /// fish: `~/.config/fish/completions/sealtrail.fish`).
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

/// Exit status 2: the command ran, but some input was refused (e.g. rejected events).
pub const EXIT_PARTIAL: u8 = 2;

fn main() -> ExitCode {
    use clap::{CommandFactory, FromArgMatches};
    // `serve --config FILE`: the file's settings join the command line where neither a flag
    // nor the environment set them, then everything is parsed (and checked) as flags are.
    let argv = match config::apply(&Cli::command(), std::env::args_os().collect()) {
        Ok(argv) => argv,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let cli = match Cli::command()
        .try_get_matches_from(argv)
        .and_then(|m| Cli::from_arg_matches(&m))
    {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve::run(args).await,
            Command::Ingest(args) => ingest::run(args).await,
            Command::Query(args) => query::run(*args).await,
            Command::Export(args) => export::run(*args).await,
            Command::Keys(cmd) => local::keys(cmd).await,
            Command::Tenants(cmd) => local::tenants(cmd).await,
            Command::Users(cmd) => users::run(cmd).await,
            Command::Verify(args) => verify::run(args).await,
            Command::Prune(args) => lifecycle::prune(args).await,
            Command::Erase(args) => lifecycle::erase(args).await,
            Command::Retention(cmd) => lifecycle::retention(cmd).await,
            Command::Period(cmd) => lifecycle::period(cmd).await,
            Command::Limits(cmd) => limits::run(cmd).await,
            Command::Sinks(cmd) => sinks::run(cmd).await,
            Command::PublicKey(dir) => verify::public_key(&dir),
            Command::Bench(args) => bench::run_command(*args).await,
            Command::Config(command) => config::run(&Cli::command(), command),
            Command::Cors(command) => cors::run(command).await,
            Command::Completions { shell } => {
                clap_complete::generate(
                    shell,
                    &mut Cli::command(),
                    "sealtrail",
                    &mut std::io::stdout(),
                );
                Ok(ExitCode::SUCCESS)
            }
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;
    use sealtrail_core::policy::Retention;

    /// Clap's help is static text, so the retention floor is typed in it; this keeps that text
    /// equal to the one rule every interface enforces.
    #[test]
    fn retention_help_names_the_policy_floor() {
        let mut cli = Cli::command();
        let set = cli
            .find_subcommand_mut("retention")
            .and_then(|r| r.find_subcommand_mut("set"))
            .expect("retention set");
        let help = set.render_long_help().to_string();
        let floor = Retention::MIN_DAYS;
        assert!(help.contains(&format!("at least {floor}")), "{help}");
        assert!(help.contains(&format!("minimum {floor}")), "{help}");
    }
}
