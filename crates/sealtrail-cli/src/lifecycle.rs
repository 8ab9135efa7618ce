//! `sealtrail prune`, `erase` (with `--dry-run`), `retention` and `period`: operator
//! commands for the log's lifecycle, acting on the data directory and audited in the tenant's
//! own log (a dry run changes and audits nothing).

use crate::local::{cli_actor, tenant_named, DataDir};
use clap::{Args, Subcommand};
use sealtrail_core::Timestamp;
use sealtrail_service::lifecycle::{self, PruneResult};
use sealtrail_store::{ErasureMode, ErasureOutcome, Retention};
use std::process::ExitCode;

/// Options for `prune`.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Only this tenant (default: every tenant, as the nightly run does).
    #[arg(long)]
    tenant: Option<String>,
    #[command(flatten)]
    data_dir: DataDir,
}

/// Options for `erase`.
#[derive(Debug, Args)]
pub struct EraseArgs {
    /// The data subject: an actor or target id, or an e-mail address.
    subject: String,
    /// Only list what the erasure would change (entries, fields, counts); change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Tenant whose log holds the subject.
    #[arg(long, default_value = "default")]
    tenant: String,
    #[command(flatten)]
    data_dir: DataDir,
}

/// `sealtrail retention ...`
#[derive(Debug, Subcommand)]
pub enum RetentionCommand {
    /// Show a tenant's retention window and legal hold.
    Show {
        /// Tenant.
        #[arg(long, default_value = "default")]
        tenant: String,
        #[command(flatten)]
        data_dir: DataDir,
    },
    /// Set the window: `--days N` (at least 30) or `--forever`.
    Set {
        /// Tenant.
        #[arg(long, default_value = "default")]
        tenant: String,
        /// Keep entries this many days (minimum 30).
        #[arg(long, conflicts_with = "forever", required_unless_present = "forever")]
        days: Option<u32>,
        /// Never prune.
        #[arg(long)]
        forever: bool,
        #[command(flatten)]
        data_dir: DataDir,
    },
    /// Place (`on`) or lift (`off`) a legal hold, which blocks pruning.
    LegalHold {
        /// `on` or `off`.
        #[arg(value_parser = ["on", "off"])]
        state: String,
        /// Tenant.
        #[arg(long, default_value = "default")]
        tenant: String,
        #[command(flatten)]
        data_dir: DataDir,
    },
}

/// `sealtrail period ...`: the period the audit page opens on.
#[derive(Debug, Subcommand)]
pub enum PeriodCommand {
    /// Show a tenant's default period.
    Show {
        /// Tenant.
        #[arg(long, default_value = "default")]
        tenant: String,
        #[command(flatten)]
        data_dir: DataDir,
    },
    /// Set it: one of 24h, 7d, 30d, 90d, 3m, this_month, or `any` for any time.
    Set {
        /// The period, or `any`.
        period: String,
        /// Tenant.
        #[arg(long, default_value = "default")]
        tenant: String,
        #[command(flatten)]
        data_dir: DataDir,
    },
}

/// Runs a `period` subcommand.
pub async fn period(command: PeriodCommand) -> anyhow::Result<ExitCode> {
    let shown = |p: Option<&str>| p.unwrap_or("any time").to_string();
    match command {
        PeriodCommand::Show { tenant, data_dir } => {
            let store = data_dir.open().await?;
            let tenant = tenant_named(store.as_ref(), &tenant).await?;
            let settings = store.settings(tenant.id).await?;
            println!(
                "{}: the audit page opens on {}",
                tenant.name,
                shown(settings.default_period.as_deref())
            );
        }
        PeriodCommand::Set {
            period,
            tenant,
            data_dir,
        } => {
            let store = data_dir.open().await?;
            let tenant = tenant_named(store.as_ref(), &tenant).await?;
            let period = Some(period).filter(|p| p != "any");
            lifecycle::set_default_period(store.as_ref(), tenant.id, period.clone(), &cli_actor())
                .await?;
            println!(
                "{}: the audit page now opens on {}",
                tenant.name,
                shown(period.as_deref())
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `prune`.
pub async fn prune(args: PruneArgs) -> anyhow::Result<ExitCode> {
    let store = args.data_dir.open().await?;
    let tenants = match &args.tenant {
        Some(name) => vec![tenant_named(store.as_ref(), name).await?],
        None => store.list_tenants().await?,
    };
    let actor = cli_actor();
    let mut refused = false;
    for tenant in tenants {
        match lifecycle::prune_tenant(store.as_ref(), tenant.id, &actor, Timestamp::now()).await {
            Ok(PruneResult::Pruned(o)) => println!(
                "{}: removed {} entries recorded before {} (log now starts at seq {})",
                tenant.name,
                o.removed,
                o.cutoff.to_rfc3339(),
                o.first_kept_seq
            ),
            Ok(PruneResult::KeepForever) => {
                println!("{}: keeps entries forever; nothing pruned", tenant.name)
            }
            Err(e) => {
                refused = true;
                println!("{}: not pruned: {e}", tenant.name);
            }
        }
    }
    Ok(if refused {
        ExitCode::from(crate::EXIT_PARTIAL)
    } else {
        ExitCode::SUCCESS
    })
}

/// Runs `erase`, or with `--dry-run` prints what it would change and changes nothing.
pub async fn erase(args: EraseArgs) -> anyhow::Result<ExitCode> {
    let store = args.data_dir.open().await?;
    let tenant = tenant_named(store.as_ref(), &args.tenant).await?;
    let mode = if args.dry_run {
        ErasureMode::DryRun
    } else {
        ErasureMode::Erase
    };
    let key = args.data_dir.pseudonym_key()?;
    let outcome = lifecycle::erase_subject(
        store.as_ref(),
        tenant.id,
        &args.subject,
        mode,
        &cli_actor(),
        &key,
    )
    .await?;
    print!("{}", erasure_summary(&outcome, mode));
    Ok(ExitCode::SUCCESS)
}

/// What an erasure changed (or would change), for a person: the count and pseudonym, each
/// field with the number of entries it was replaced in, then the entries.
fn erasure_summary(outcome: &ErasureOutcome, mode: ErasureMode) -> String {
    let (n, p) = (outcome.entries_scrubbed, &outcome.pseudonym);
    let mut out = match mode {
        ErasureMode::DryRun => format!(
            "Dry run, nothing was changed: erasing would change {n} entries; they would show \
             the pseudonym {p}.\n"
        ),
        ErasureMode::Erase => format!(
            "Erased the subject's personal data from {n} entries; they now show the pseudonym \
             {p}.\n"
        ),
    };
    if !outcome.rewrites_pending.is_empty() {
        out.push_str(&format!(
            "Old copies may remain on disk until these are rewritten (in the background): {}\n",
            outcome.rewrites_pending.join(", ")
        ));
    }
    let width = outcome.fields.keys().map(|f| f.chars().count()).max();
    let width = width.unwrap_or(0);
    out.push_str("Fields (entries):\n");
    for (field, count) in &outcome.fields {
        out.push_str(&format!("  {field:<width$}  {count}\n"));
    }
    out.push_str("Entries:\n");
    for e in &outcome.entries {
        out.push_str(&format!(
            "  seq {}  {}  {}\n",
            e.seq,
            e.id,
            e.fields.join(", ")
        ));
    }
    if outcome.truncated {
        let listed = outcome.entries.len();
        out.push_str(&format!(
            "  … and {} more (only the first {listed} are listed)\n",
            n.saturating_sub(listed as u64)
        ));
    }
    out
}

fn describe(retention: Retention) -> String {
    match retention {
        Retention::Days(d) => format!("{d} days"),
        Retention::Forever => "forever".into(),
    }
}

/// Runs a `retention` subcommand.
pub async fn retention(command: RetentionCommand) -> anyhow::Result<ExitCode> {
    match command {
        RetentionCommand::Show { tenant, data_dir } => {
            let store = data_dir.open().await?;
            let tenant = tenant_named(store.as_ref(), &tenant).await?;
            let settings = store.settings(tenant.id).await?;
            println!(
                "{}: retention {}, legal hold {}",
                tenant.name,
                describe(settings.retention),
                if settings.legal_hold { "on" } else { "off" }
            );
        }
        RetentionCommand::Set {
            tenant,
            days,
            forever,
            data_dir,
        } => {
            let store = data_dir.open().await?;
            let tenant = tenant_named(store.as_ref(), &tenant).await?;
            let retention = match (forever, days) {
                (true, _) => Retention::Forever,
                (false, Some(d)) => Retention::Days(d),
                (false, None) => anyhow::bail!("give --days N or --forever"),
            };
            lifecycle::set_retention(store.as_ref(), tenant.id, retention, &cli_actor()).await?;
            println!("{}: retention is now {}", tenant.name, describe(retention));
        }
        RetentionCommand::LegalHold {
            state,
            tenant,
            data_dir,
        } => {
            let store = data_dir.open().await?;
            let tenant = tenant_named(store.as_ref(), &tenant).await?;
            let on = state == "on";
            lifecycle::set_legal_hold(store.as_ref(), tenant.id, on, &cli_actor()).await?;
            println!("{}: legal hold {state}", tenant.name);
        }
    }
    Ok(ExitCode::SUCCESS)
}
