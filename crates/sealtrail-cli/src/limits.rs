//! `sealtrail limits show|set`: a tenant's rate limits and daily quota, acting on the data
//! directory (or database) and audited in the tenant's own log as `limits.changed`.

use crate::local::{cli_actor, tenant_named, DataDir};
use clap::Subcommand;
use sealtrail_service::tenants;
use sealtrail_store::TenantLimits;
use std::process::ExitCode;

/// One limit on the command line: a whole number, or `unlimited`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(Option<u64>);

impl std::str::FromStr for Limit {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("unlimited") || s.eq_ignore_ascii_case("none") {
            return Ok(Limit(None));
        }
        s.replace('_', "")
            .parse()
            .map(|n| Limit(Some(n)))
            .map_err(|_| format!("`{s}` is not a whole number or `unlimited`"))
    }
}

/// `sealtrail limits ...`
#[derive(Debug, Subcommand)]
pub enum LimitsCommand {
    /// Show a tenant's limits.
    Show {
        /// Tenant.
        #[arg(long, default_value = "default")]
        tenant: String,
        #[command(flatten)]
        data_dir: DataDir,
    },
    /// Change some of a tenant's limits (the others keep their values). Running servers apply
    /// the change within a few seconds.
    Set {
        /// Tenant.
        #[arg(long, default_value = "default")]
        tenant: String,
        /// Requests per second one API key may make (`unlimited` to lift).
        #[arg(long)]
        key_rate: Option<Limit>,
        /// Events per second the tenant may ingest (`unlimited` to lift).
        #[arg(long)]
        ingest_rate: Option<Limit>,
        /// Events the tenant's log may grow by per UTC day (`unlimited` to lift).
        #[arg(long)]
        daily_quota: Option<Limit>,
        #[command(flatten)]
        data_dir: DataDir,
    },
}

fn text<T: std::fmt::Display>(value: Option<T>) -> String {
    value.map_or_else(|| "unlimited".to_string(), |v| v.to_string())
}

fn print(tenant: &str, limits: &TenantLimits) {
    println!("{tenant}:");
    println!(
        "  requests per second per API key: {}",
        text(limits.requests_per_second_per_key)
    );
    println!(
        "  ingested events per second:      {}",
        text(limits.ingest_events_per_second)
    );
    println!(
        "  events per day (UTC):            {}",
        text(limits.daily_event_quota)
    );
}

/// A rate from the command line; rates are 32-bit in the store.
fn rate(limit: Limit, flag: &str) -> anyhow::Result<Option<u32>> {
    limit
        .0
        .map(|n| {
            u32::try_from(n).map_err(|_| anyhow::anyhow!("{flag} {n} is larger than supported"))
        })
        .transpose()
}

/// Runs `limits`.
pub async fn run(command: LimitsCommand) -> anyhow::Result<ExitCode> {
    match command {
        LimitsCommand::Show { tenant, data_dir } => {
            let store = data_dir.open().await?;
            let tenant = tenant_named(store.as_ref(), &tenant).await?;
            print(&tenant.name, &store.settings(tenant.id).await?.limits);
        }
        LimitsCommand::Set {
            tenant,
            key_rate,
            ingest_rate,
            daily_quota,
            data_dir,
        } => {
            if key_rate.is_none() && ingest_rate.is_none() && daily_quota.is_none() {
                anyhow::bail!("give at least one of --key-rate, --ingest-rate, --daily-quota");
            }
            let store = data_dir.open().await?;
            let tenant = tenant_named(store.as_ref(), &tenant).await?;
            let mut limits = store.settings(tenant.id).await?.limits;
            if let Some(l) = key_rate {
                limits.requests_per_second_per_key = rate(l, "--key-rate")?;
            }
            if let Some(l) = ingest_rate {
                limits.ingest_events_per_second = rate(l, "--ingest-rate")?;
            }
            if let Some(l) = daily_quota {
                limits.daily_event_quota = l.0;
            }
            let now = tenants::set_limits(store.as_ref(), tenant.id, limits, &cli_actor()).await?;
            print(&tenant.name, &now);
        }
    }
    Ok(ExitCode::SUCCESS)
}
