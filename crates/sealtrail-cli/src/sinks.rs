//! `sealtrail sinks …`: a tenant's push-delivery sinks from the operator's shell, acting on
//! the data directory (or database) like the other operator commands; each change recorded
//! in the tenant's log by the service, as the API's are. Running servers pick a change up on
//! their next delivery pass (within a second).

use crate::local::{cli_actor, tenant_named, DataDir};
use clap::Subcommand;
use sealtrail_core::sinks::{SinkFormat, SinkKind};
use sealtrail_core::Timestamp;
use sealtrail_service::sinks::delivery::{Deliverer, Reach};
use sealtrail_service::sinks::{self, CreateSink, ReplayFrom, StartAt};
use sealtrail_store::SinkRecord;
use std::process::ExitCode;
use std::sync::Arc;

/// `sealtrail sinks ...`
#[derive(Debug, Subcommand)]
pub enum SinksCommand {
    /// List a tenant's sinks with their state, cursor, lag and last failure.
    List {
        /// Tenant.
        #[arg(long, default_value = "default")]
        tenant: String,
        #[command(flatten)]
        data_dir: DataDir,
    },
    /// Create a sink (a webhook, or a Splunk HTTP Event Collector); its signing secret is
    /// printed once on stdout.
    Create {
        /// Tenant.
        #[arg(long, default_value = "default")]
        tenant: String,
        /// A name unique within the tenant.
        #[arg(long)]
        name: String,
        /// Where to POST the batches (for Splunk, the collector's
        /// `https://…:8088/services/collector/event`).
        #[arg(long)]
        url: String,
        /// `webhook`, `splunk_hec`, `syslog` (then `--url syslog+tls://host:port`) or
        /// `archive` (then `--url s3://bucket/prefix?endpoint=…`, and `--token-file` holds
        /// `ACCESS_KEY_ID:SECRET_ACCESS_KEY`).
        #[arg(long, default_value = "webhook")]
        kind: String,
        /// `sealtrail` (the entry as the API gives it) or `ocsf` (OCSF 6003 API Activity).
        #[arg(long, default_value = "sealtrail")]
        format: String,
        /// A file holding the receiver's token (Splunk HEC; an archive's access key), `-` for stdin: never a flag's
        /// value, which other users of the machine could read from the process list.
        #[arg(long)]
        token_file: Option<std::path::PathBuf>,
        /// Deliver only entries recorded from now on (default: the whole log first).
        #[arg(long)]
        from_now: bool,
        /// Allow a receiver on a private network (the operator's consent, as
        /// `serve --sink-private-networks` gives it to the API).
        #[arg(long)]
        private_network: bool,
        #[command(flatten)]
        data_dir: DataDir,
    },
    /// Stop delivering; `resume` continues from the same entry.
    Pause(SinkRef),
    /// Deliver again from the cursor (after a pause, or a dead letter once the receiver works).
    Resume(SinkRef),
    /// Deliver again from a seq (0: the whole log) or a time, and resume.
    Replay {
        #[command(flatten)]
        sink: SinkRef,
        /// The first seq to deliver again.
        #[arg(
            long,
            conflicts_with = "from_time",
            required_unless_present = "from_time"
        )]
        from_seq: Option<u64>,
        /// Deliver again from the first entry recorded at or after this time (RFC 3339).
        #[arg(long)]
        from_time: Option<String>,
    },
    /// Send a signed test batch (no entries) from this machine and report the answer.
    Test {
        #[command(flatten)]
        sink: SinkRef,
        /// Allow a receiver on a private network.
        #[arg(long)]
        private_network: bool,
        /// A PEM file of CA certificates to trust beside Mozilla's roots (as `serve
        /// --sink-ca`).
        #[arg(long, env = "SEALTRAIL_SINK_CA")]
        ca: Option<std::path::PathBuf>,
    },
    /// Delete a sink.
    Delete(SinkRef),
}

/// One sink of one tenant.
#[derive(Debug, clap::Args)]
pub struct SinkRef {
    /// The sink's id (as `sinks list` shows it).
    id: String,
    /// Tenant.
    #[arg(long, default_value = "default")]
    tenant: String,
    #[command(flatten)]
    data_dir: DataDir,
}

fn print(sink: &SinkRecord, lag: sinks::Lag) {
    println!(
        "{}  {:<20} {:<10} {:<9} {:<11} cursor {:>8}  lag {:>8} ({:>6})  {}",
        sink.id,
        sink.name,
        sink.kind.as_str(),
        sink.format.as_str(),
        sink.state.as_str(),
        sink.cursor,
        lag.entries,
        sinks::lag_text(lag.seconds),
        sink.url
    );
    if let Some(error) = &sink.last_error {
        println!("    {} failure(s) in a row; last: {error}", sink.failures);
    }
}

/// A sink's lag now.
async fn lag_now(
    store: &dyn sealtrail_store::Store,
    sink: &SinkRecord,
) -> anyhow::Result<sinks::Lag> {
    let size = store.log_size(sink.tenant).await?;
    Ok(sinks::lag(store, sink, size, sealtrail_core::Timestamp::now()).await?)
}

/// Runs `sinks`.
pub async fn run(command: SinksCommand) -> anyhow::Result<ExitCode> {
    let actor = cli_actor();
    match command {
        SinksCommand::List { tenant, data_dir } => {
            let store = data_dir.open().await?;
            let tenant = tenant_named(store.as_ref(), &tenant).await?;
            let size = store.log_size(tenant.id).await?;
            let listed = store.sinks(tenant.id).await?;
            if listed.is_empty() {
                eprintln!("{} has no sinks", tenant.name);
            }
            let now = sealtrail_core::Timestamp::now();
            for sink in &listed {
                print(sink, sinks::lag(store.as_ref(), sink, size, now).await?);
            }
        }
        SinksCommand::Create {
            tenant,
            name,
            url,
            kind,
            format,
            token_file,
            from_now,
            private_network,
            data_dir,
        } => {
            let kind = SinkKind::parse_named(&kind.replace('-', "_"))
                .map_err(|e| anyhow::anyhow!("--{e}"))?;
            let format = SinkFormat::parse_named(&format).map_err(|e| anyhow::anyhow!("--{e}"))?;
            let token = match token_file {
                None => None,
                Some(path) if path.as_os_str() == "-" => {
                    let mut text = String::new();
                    std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)?;
                    Some(text.trim().to_string())
                }
                Some(path) => Some(
                    std::fs::read_to_string(&path)
                        .map_err(|e| anyhow::anyhow!("--token-file {}: {e}", path.display()))?
                        .trim()
                        .to_string(),
                ),
            };
            let store = data_dir.open().await?;
            let key = data_dir.pseudonym_key()?;
            let tenant = tenant_named(store.as_ref(), &tenant).await?;
            let request = CreateSink {
                name,
                kind,
                url,
                format,
                token,
                start: if from_now {
                    StartAt::Now
                } else {
                    StartAt::Beginning
                },
            };
            let created = sinks::create(
                store.as_ref(),
                &key,
                tenant.id,
                request,
                private_network,
                &actor,
            )
            .await?;
            eprintln!(
                "created sink {} for {}; its signing secret follows, shown only now:",
                created.sink.id, tenant.name
            );
            println!("{}", created.secret);
        }
        SinksCommand::Pause(r) => {
            let (store, tenant) = open(&r).await?;
            let sink = sinks::pause(store.as_ref(), tenant, &r.id, &actor).await?;
            print(&sink, lag_now(store.as_ref(), &sink).await?);
        }
        SinksCommand::Resume(r) => {
            let (store, tenant) = open(&r).await?;
            let sink = sinks::resume(store.as_ref(), tenant, &r.id, &actor).await?;
            print(&sink, lag_now(store.as_ref(), &sink).await?);
        }
        SinksCommand::Replay {
            sink: r,
            from_seq,
            from_time,
        } => {
            let from = match (from_seq, from_time) {
                (Some(seq), None) => ReplayFrom::Seq(seq),
                (None, Some(time)) => {
                    ReplayFrom::Time(Timestamp::parse_rfc3339(&time).map_err(|_| {
                        anyhow::anyhow!("--from-time is not an RFC 3339 time: `{time}`")
                    })?)
                }
                _ => anyhow::bail!("give exactly one of --from-seq and --from-time"),
            };
            let (store, tenant) = open(&r).await?;
            let sink = sinks::replay(store.as_ref(), tenant, &r.id, from, &actor).await?;
            print(&sink, lag_now(store.as_ref(), &sink).await?);
        }
        SinksCommand::Test {
            sink: r,
            private_network,
            ca,
        } => {
            let (store, tenant) = open(&r).await?;
            let sink = sinks::find(store.as_ref(), tenant, &r.id).await?;
            let name = store
                .tenant_by_id(tenant)
                .await?
                .map(|t| t.name)
                .unwrap_or_default();
            let key = Arc::new(r.data_dir.pseudonym_key()?);
            // A test batch claims no lease and moves no cursor: any name will do.
            let reach = Reach {
                private_networks: private_network,
                extra_roots: match &ca {
                    Some(path) => sealtrail_store::pg::read_ca_certificates(path)?,
                    None => Vec::new(),
                },
            };
            let verifier = r.data_dir.verifier()?;
            let deliverer = Deliverer::new(store.clone(), "cli".to_string(), key, verifier, reach)?;
            if let Err(error) = deliverer.test(&sink, &name).await {
                eprintln!("the receiver did not take the test batch: {error}");
                return Ok(ExitCode::FAILURE);
            }
            println!("the receiver took a signed test batch (an archive: a test object written and removed)");
        }
        SinksCommand::Delete(r) => {
            let (store, tenant) = open(&r).await?;
            sinks::delete(store.as_ref(), tenant, &r.id, &actor).await?;
            eprintln!("deleted sink {}", r.id);
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn open(
    r: &SinkRef,
) -> anyhow::Result<(Arc<dyn sealtrail_store::Store>, sealtrail_core::TenantId)> {
    let store = r.data_dir.open().await?;
    let tenant = tenant_named(store.as_ref(), &r.tenant).await?;
    Ok((store, tenant.id))
}
