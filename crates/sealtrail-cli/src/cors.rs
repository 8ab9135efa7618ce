//! `sealtrail cors show|set|clear`: the web origins whose pages may call a tenant's API from a
//! browser (docs/security.md#browser-origins-cors), on the data directory, each change audited
//! through the same service call as the API and the page.

use crate::local::{cli_actor, tenant_named, DataDir};
use clap::Subcommand;
use sealtrail_service::users::{self, Acting};
use std::process::ExitCode;

/// `sealtrail cors ...`.
#[derive(Debug, Subcommand)]
pub enum CorsCommand {
    /// Show a tenant's allowed origins.
    Show {
        /// Tenant.
        #[arg(long, default_value = "default")]
        tenant: String,
        #[command(flatten)]
        data_dir: DataDir,
    },
    /// Replace them: exact origins such as https://app.example.com (scheme, host, port).
    Set {
        /// The origins.
        #[arg(required = true)]
        origins: Vec<String>,
        /// Tenant.
        #[arg(long, default_value = "default")]
        tenant: String,
        #[command(flatten)]
        data_dir: DataDir,
    },
    /// Allow none (the default).
    Clear {
        /// Tenant.
        #[arg(long, default_value = "default")]
        tenant: String,
        #[command(flatten)]
        data_dir: DataDir,
    },
}

/// Runs a `cors` subcommand.
pub async fn run(command: CorsCommand) -> anyhow::Result<ExitCode> {
    let (tenant, data_dir, origins) = match command {
        CorsCommand::Show { tenant, data_dir } => {
            let store = data_dir.open().await?;
            let tenant = tenant_named(store.as_ref(), &tenant).await?;
            print(&tenant.name, &store.settings(tenant.id).await?.cors_origins);
            return Ok(ExitCode::SUCCESS);
        }
        CorsCommand::Set {
            origins,
            tenant,
            data_dir,
        } => (tenant, data_dir, origins),
        CorsCommand::Clear { tenant, data_dir } => (tenant, data_dir, Vec::new()),
    };
    let store = data_dir.open().await?;
    let tenant = tenant_named(store.as_ref(), &tenant).await?;
    let now = users::set_cors_origins(
        store.as_ref(),
        tenant.id,
        origins,
        &Acting::operator(cli_actor()),
    )
    .await?;
    print(&tenant.name, &now);
    Ok(ExitCode::SUCCESS)
}

fn print(tenant: &str, origins: &[String]) {
    if origins.is_empty() {
        println!("{tenant}: no web origin may call the API from a browser");
    } else {
        println!(
            "{tenant}: browsers on {} may call the API",
            origins.join(", ")
        );
    }
}
