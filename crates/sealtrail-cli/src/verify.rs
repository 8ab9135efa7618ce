//! `sealtrail verify`: offline verification of a live database or of an evidence bundle.
//!
//! For a database, every leaf is recomputed from the stored envelope bytes, every tree hash is
//! rebuilt, and the result must extend the latest signed checkpoint (checked with the public
//! key, never with anything the database itself says). The first bad `seq` is named.

use anyhow::Context as _;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use sealtrail_core::checkpoint::{Checkpoint, NoteVerifier};
use sealtrail_core::merkle::verify_consistency;
use sealtrail_core::Tenant;
use sealtrail_store::Store;
use std::path::PathBuf;
use std::process::ExitCode;

/// Options for `verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Verify this evidence bundle instead of a database.
    #[arg(long, conflicts_with_all = ["tenant"])]
    bundle: Option<PathBuf>,
    /// Only this tenant (default: every tenant).
    #[arg(long)]
    tenant: Option<String>,
    /// The verifier key to trust (`name+keyid+base64`). Default: derived from the signing key
    /// file in the data directory. An auditor should pass the key they obtained independently.
    #[arg(long)]
    public_key: Option<String>,
    #[command(flatten)]
    data_dir: crate::local::DataDir,
}

fn bar(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template(&format!(
        "{{bar:30}} {{pos}}/{{len}} {what} ({{per_sec}}, {{eta}})"
    )) {
        bar.set_style(style);
    }
    bar
}

/// Runs the verification; exit 0 when everything verifies, 1 otherwise.
pub async fn run(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    if let Some(path) = &args.bundle {
        return verify_bundle(path, args.public_key.as_deref());
    }
    let verifier = match &args.public_key {
        Some(key) => key
            .parse::<NoteVerifier>()
            .map_err(|e| anyhow::anyhow!("--public-key: {e}"))?,
        None => args.data_dir.verifier()?,
    };
    let store = args.data_dir.open()?;
    let tenants: Vec<Tenant> = match &args.tenant {
        Some(name) => vec![crate::local::tenant_named(store.as_ref(), name).await?],
        None => store.list_tenants().await?,
    };
    let mut failed = false;
    for tenant in tenants {
        match verify_tenant(store.as_ref(), &tenant, &verifier).await? {
            Ok(summary) => println!("{}: OK — {summary}", tenant.name),
            Err(problem) => {
                failed = true;
                println!("{}: FAILED — {problem}", tenant.name);
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Verifies one tenant's log: `Ok(Ok(summary))`, or `Ok(Err(problem))` naming the first bad seq.
async fn verify_tenant(
    store: &dyn Store,
    tenant: &Tenant,
    verifier: &NoteVerifier,
) -> anyhow::Result<Result<String, String>> {
    let size = store.log_size(tenant.id).await?;
    let progress = bar(size, "entries");
    let report = {
        let p = progress.clone();
        store
            .verify_log(tenant.id, &move |n| p.set_position(n))
            .await?
    };
    progress.finish_and_clear();
    if let Some((seq, reason)) = report.first_problem {
        return Ok(Err(format!("first bad entry is seq {seq}: {reason}")));
    }
    let Some(stored) = store.latest_checkpoint(tenant.id).await? else {
        return Ok(Err(format!(
            "{} entries recomputed, but no signed checkpoint exists to compare with",
            report.size
        )));
    };
    let checkpoint = match Checkpoint::open(&stored.note, verifier) {
        Ok(cp) => cp,
        Err(e) => return Ok(Err(format!("the latest checkpoint does not verify: {e}"))),
    };
    let origin = store.log_origin(tenant.id).await?;
    if checkpoint.origin != origin {
        return Ok(Err(format!(
            "the latest checkpoint is for log `{}`, not `{origin}`",
            checkpoint.origin
        )));
    }
    if checkpoint.size > report.size {
        return Ok(Err(format!(
            "the log has {} entries but a checkpoint was signed for {}: entries are missing at the end (first missing seq {})",
            report.size, checkpoint.size, report.size
        )));
    }
    let proof = store
        .consistency_proof(tenant.id, checkpoint.size, report.size)
        .await?;
    if verify_consistency(
        checkpoint.size,
        report.size,
        &checkpoint.root,
        &report.root,
        &proof,
    )
    .is_err()
    {
        return Ok(Err(format!(
            "the recomputed tree does not extend the signed checkpoint of size {}: entries before seq {} were changed",
            checkpoint.size, checkpoint.size
        )));
    }
    Ok(Ok(format!(
        "{} entries ({} verified, {} pruned), root {}, extends the checkpoint of size {} signed {}",
        report.size,
        report.checked,
        report.pruned,
        hex_short(&report.root),
        checkpoint.size,
        stored.signed_at
    )))
}

/// The first 8 bytes of a hash, enough to compare by eye.
fn hex_short(hash: &[u8; 32]) -> String {
    hex::encode(&hash[..8])
}

fn verify_bundle(path: &std::path::Path, trusted_key: Option<&str>) -> anyhow::Result<ExitCode> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let progress = bar(0, "entries");
    progress.set_style(
        ProgressStyle::with_template("{spinner} {pos} entries verified ({per_sec})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    let report = sealtrail_export::bundle::verify_bundle(std::io::BufReader::new(file), |n| {
        progress.set_position(n)
    })?;
    progress.finish_and_clear();
    if let Some(expected) = trusted_key {
        if report.public_key != expected.trim() {
            println!(
                "FAILED — the bundle is signed by {}, not by the key you trust ({})",
                report.public_key,
                expected.trim()
            );
            return Ok(ExitCode::FAILURE);
        }
    } else {
        eprintln!(
            "note: checked against the key inside the bundle ({}); pass --public-key with the key \
             you obtained independently to rule out a re-signed bundle",
            report.public_key
        );
    }
    match report.first_problem {
        None => {
            println!(
                "OK — {} entries of log {} verify against the checkpoint of size {} (root {}){}{}",
                report.entries,
                report.origin,
                report.tree_size,
                hex_short(&report.root),
                if report.whole_log {
                    "; the bundle holds the whole log"
                } else {
                    "; a selection: it cannot show that entries outside it exist or not"
                },
                if report.erased_values > 0 {
                    format!("; {} values were erased", report.erased_values)
                } else {
                    String::new()
                }
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(problem) => {
            println!("FAILED — {problem}");
            Ok(ExitCode::FAILURE)
        }
    }
}
