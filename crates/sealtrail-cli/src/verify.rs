//! `sealtrail verify`: offline verification of a live database or of an evidence bundle; and
//! `sealtrail public-key`, which prints the key that verification trusts.
//!
//! For a database, every leaf is recomputed from the stored envelope bytes, every tree hash is
//! rebuilt, and the result must extend the latest signed checkpoint (checked with the public
//! key, never with anything the database itself says), every checkpoint the server remembers
//! signing outside the database (`signed-checkpoints.json`), and every one passed with
//! `--checkpoint`. The first bad `seq` is named.

mod archive;

use anyhow::Context as _;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use sealtrail_core::checkpoint::{Checkpoint, NoteVerifier};
use sealtrail_core::cosignature::{count_cosignatures, CosignatureVerifier};
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
    /// Verify an archive sink's chunks instead of a database: its `s3://bucket/prefix?…` URL
    /// (the access key from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or
    /// --archive-credential-file), or a folder holding a copy of it.
    #[arg(long, value_name = "LOCATION", conflicts_with_all = ["tenant", "bundle"])]
    archive: Option<String>,
    /// A file holding the archive's access key as ACCESS_KEY_ID:SECRET_ACCESS_KEY.
    #[arg(long, requires = "archive")]
    archive_credential_file: Option<PathBuf>,
    /// Only this tenant (default: every tenant).
    #[arg(long)]
    tenant: Option<String>,
    /// A signed checkpoint you kept from earlier (file with the note, as `GET /v1/checkpoint`
    /// returned it); the log must still extend it. Repeatable. This is what catches a log that
    /// was truncated together with the database's own record of later checkpoints.
    #[arg(long = "checkpoint", value_name = "FILE")]
    checkpoints: Vec<PathBuf>,
    /// Do not also check the log against the checkpoints this server remembers signing
    /// (`signed-checkpoints.json` in the data directory, read by default).
    #[arg(long)]
    no_signed_memory: bool,
    /// The verifier key to trust (`name+keyid+base64`). Default: derived from the signing key
    /// file in the data directory. An auditor should pass the key they obtained independently.
    #[arg(long)]
    public_key: Option<String>,
    /// A witness's cosignature key (`name+keyid+base64`, algorithm 0x04) whose cosignature on
    /// the latest checkpoint (or the bundle's) counts. Repeatable.
    #[arg(long = "witness", value_name = "KEY")]
    witnesses: Vec<String>,
    /// How many of the --witness keys must have cosigned (default: all of them).
    #[arg(long, requires = "witnesses")]
    witness_quorum: Option<usize>,
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
    let witnesses = WitnessPolicy::from_args(&args.witnesses, args.witness_quorum)?;
    if let Some(path) = &args.bundle {
        return verify_bundle(path, args.public_key.as_deref(), &witnesses);
    }
    let verifier = match &args.public_key {
        Some(key) => key
            .parse::<NoteVerifier>()
            .map_err(|e| anyhow::anyhow!("--public-key: {e}"))?,
        None => args.data_dir.verifier()?,
    };
    if let Some(location) = &args.archive {
        let credential = archive::credential(args.archive_credential_file.as_deref())?;
        return archive::run(location, credential.as_deref(), &verifier).await;
    }
    let store = args.data_dir.open().await?;
    let tenants: Vec<Tenant> = match &args.tenant {
        Some(name) => vec![crate::local::tenant_named(store.as_ref(), name).await?],
        None => store.list_tenants().await?,
    };
    // Checkpoints kept outside the database: what this server remembers signing (unless the
    // auditor brings only their own), then every one passed with --checkpoint.
    let mut kept: Vec<(Checkpoint, &str)> = Vec::new();
    let mut failed = false;
    if !args.no_signed_memory {
        let memory = args.data_dir.signed_memory_file();
        match sealtrail_service::signed_memory::read(&memory, &verifier) {
            Ok(remembered) => kept.extend(remembered.into_values().map(|(checkpoint, _)| {
                (checkpoint, "the checkpoint this server remembers signing")
            })),
            // Not signed by the trusted key, or damaged: itself a finding, and no reason to
            // skip the rest.
            Err(e) => {
                failed = true;
                println!("{}: FAILED — {e}", memory.display());
            }
        }
    }
    for path in &args.checkpoints {
        let note = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let checkpoint = Checkpoint::open(&note, &verifier).map_err(|e| {
            anyhow::anyhow!(
                "{}: not a checkpoint signed by the trusted key: {e}",
                path.display()
            )
        })?;
        kept.push((checkpoint, "your kept checkpoint"));
    }
    for tenant in tenants {
        match verify_tenant(store.as_ref(), &tenant, &verifier, &kept, &witnesses).await? {
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
    kept: &[(Checkpoint, &str)],
    witnesses: &WitnessPolicy,
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
    let mut also = String::new();
    for (held, whose) in kept.iter().filter(|(c, _)| c.origin == origin) {
        if let Err(problem) = extends(store, tenant, held, &report).await? {
            return Ok(Err(format!("against {whose}: {problem}")));
        }
        also.push_str(&format!(", and {whose} of size {}", held.size));
    }
    if checkpoint.origin != origin {
        return Ok(Err(format!(
            "the latest checkpoint is for log `{}`, not `{origin}`",
            checkpoint.origin
        )));
    }
    if let Err(problem) = extends(store, tenant, &checkpoint, &report).await? {
        return Ok(Err(problem));
    }
    match witnesses.check(&stored.note) {
        Ok(cosigned) => also.push_str(&cosigned),
        Err(problem) => {
            return Ok(Err(format!(
                "the latest checkpoint (size {}): {problem}",
                checkpoint.size
            )))
        }
    }
    Ok(Ok(format!(
        "{} entries ({} verified, {} pruned), root {}, extends the checkpoint of size {} signed {}{also}",
        report.size,
        report.checked,
        report.pruned,
        hex_short(&report.root),
        checkpoint.size,
        stored.signed_at
    )))
}

/// Whether the recomputed log (`report`) extends `checkpoint`: it is at least as large and a
/// consistency proof from the stored (and just re-verified) tree hashes leads from the signed
/// root to the recomputed root.
async fn extends(
    store: &dyn Store,
    tenant: &Tenant,
    checkpoint: &Checkpoint,
    report: &sealtrail_store::LogVerification,
) -> anyhow::Result<Result<(), String>> {
    Ok(sealtrail_service::signed_memory::extends(
        store,
        tenant.id,
        checkpoint,
        report.size,
        &report.root,
    )
    .await?)
}

/// The first 8 bytes of a hash, enough to compare by eye.
fn hex_short(hash: &[u8; 32]) -> String {
    hex::encode(&hash[..8])
}

/// The witnesses an auditor trusts and how many must have cosigned.
struct WitnessPolicy {
    keys: Vec<CosignatureVerifier>,
    quorum: usize,
}

impl WitnessPolicy {
    fn from_args(keys: &[String], quorum: Option<usize>) -> anyhow::Result<WitnessPolicy> {
        let mut parsed: Vec<CosignatureVerifier> = Vec::new();
        for k in keys {
            let key = k
                .parse::<CosignatureVerifier>()
                .map_err(|e| anyhow::anyhow!("--witness {k}: {e}"))?;
            // The same witness twice would count twice toward the quorum.
            if !parsed.contains(&key) {
                parsed.push(key);
            }
        }
        let keys = parsed;
        let quorum = quorum.unwrap_or(keys.len());
        if !keys.is_empty() && !(1..=keys.len()).contains(&quorum) {
            anyhow::bail!(
                "--witness-quorum must be between 1 and the {} distinct witness keys given",
                keys.len()
            );
        }
        Ok(WitnessPolicy { keys, quorum })
    }

    /// `Ok(summary)` when `note` carries at least the quorum of valid cosignatures (an empty
    /// summary when no witness was asked for), `Err(problem)` otherwise.
    fn check(&self, note: &str) -> Result<String, String> {
        if self.keys.is_empty() {
            return Ok(String::new());
        }
        let (valid, invalid) = count_cosignatures(note, &self.keys);
        if !invalid.is_empty() {
            return Err(format!(
                "the cosignature of {} does not verify",
                invalid.join(", ")
            ));
        }
        if valid < self.quorum {
            return Err(format!(
                "{valid} of the {} required witness cosignatures (the witnesses have not cosigned it, or refused to)",
                self.quorum
            ));
        }
        Ok(format!(
            ", cosigned by {valid} of {} witnesses",
            self.keys.len()
        ))
    }
}

fn verify_bundle(
    path: &std::path::Path,
    trusted_key: Option<&str>,
    witnesses: &WitnessPolicy,
) -> anyhow::Result<ExitCode> {
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
    let cosigned = match witnesses.check(&report.checkpoint_note) {
        Ok(summary) => summary,
        Err(problem) => {
            println!("FAILED — the bundle's checkpoint: {problem}");
            return Ok(ExitCode::FAILURE);
        }
    };
    match report.first_problem {
        None => {
            println!(
                "OK — {} entries of log {} verify against the checkpoint of size {} (root {}){cosigned}{}{}",
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

/// Runs `public-key`: prints the verifier key auditors need.
pub fn public_key(data_dir: &crate::local::DataDir) -> anyhow::Result<ExitCode> {
    println!("{}", data_dir.verifier()?);
    Ok(ExitCode::SUCCESS)
}
