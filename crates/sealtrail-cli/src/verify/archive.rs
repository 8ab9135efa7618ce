//! `sealtrail verify --archive`: every chunk an archive sink wrote, checked offline against
//! the log's public key, folder by folder (one per tenant), in seq order: each chunk on its
//! own (entries, evidence, signed checkpoint), then together (no seq missing between the
//! first chunk and the last, no chunk from another tree).

use sealtrail_core::checkpoint::NoteVerifier;
use sealtrail_export::archive::{verify_chunk, ChainCheck};
use sealtrail_service::sinks::archive::{
    fetch, list_chunks, open_location, ObjectStore, StoredChunk,
};
use std::process::ExitCode;

/// The access key: a file's `ACCESS_KEY_ID:SECRET`, else the usual AWS variables.
pub fn credential(file: Option<&std::path::Path>) -> anyhow::Result<Option<String>> {
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("--archive-credential-file {}: {e}", path.display()))?;
        return Ok(Some(text.trim().to_string()));
    }
    Ok(
        match (
            std::env::var("AWS_ACCESS_KEY_ID"),
            std::env::var("AWS_SECRET_ACCESS_KEY"),
        ) {
            (Ok(id), Ok(secret)) => Some(format!("{id}:{secret}")),
            _ => None,
        },
    )
}

/// Verifies the archive at `location`; exit 0 only when every chunk verifies and each
/// folder's chunks leave no gap.
pub async fn run(
    location: &str,
    credential: Option<&str>,
    verifier: &NoteVerifier,
) -> anyhow::Result<ExitCode> {
    let (store, prefix) = open_location(location, credential).map_err(anyhow::Error::msg)?;
    let chunks = list_chunks(store.as_ref(), &prefix)
        .await
        .map_err(anyhow::Error::msg)?;
    if chunks.is_empty() {
        println!("FAILED — no archive chunks under {location}");
        return Ok(ExitCode::FAILURE);
    }
    println!("verifying with {verifier}");
    let mut failed = false;
    let mut folders: Vec<&str> = chunks.iter().map(|c| c.folder.as_str()).collect();
    folders.dedup();
    for folder in folders {
        let mine: Vec<&StoredChunk> = chunks.iter().filter(|c| c.folder == folder).collect();
        match verify_folder(store.as_ref(), &mine, verifier).await? {
            Ok(summary) => println!("{folder}: OK — {summary}"),
            Err(problem) => {
                failed = true;
                println!("{folder}: FAILED — {problem}");
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// One folder's chunks: a summary, or the first problem.
async fn verify_folder(
    store: &dyn ObjectStore,
    chunks: &[&StoredChunk],
    verifier: &NoteVerifier,
) -> anyhow::Result<Result<String, String>> {
    let mut chain = ChainCheck::new();
    let (mut verified, mut origin, mut signed) = (0u64, String::new(), 0u64);
    let mut erased: Vec<(u64, sealtrail_core::envelope::Part)> = Vec::new();
    let folder_tenant = chunks
        .first()
        .map(|c| c.folder.rsplit('/').next().unwrap_or_default().to_string())
        .unwrap_or_default();
    let mut incomplete = Vec::new();
    for chunk in chunks {
        let range = format!("seq {}..={}", chunk.first, chunk.last);
        let (Some(evidence), Some(data)) = (&chunk.evidence, &chunk.data) else {
            if chunk.evidence.is_some() {
                return Ok(Err(format!(
                    "{range}: the evidence has no data object beside it"
                )));
            }
            // A data object whose evidence never followed: an upload cut short.
            incomplete.push(chunk);
            continue;
        };
        let evidence = fetch(store, evidence).await.map_err(anyhow::Error::msg)?;
        let data = fetch(store, data).await.map_err(anyhow::Error::msg)?;
        let report = match verify_chunk(&evidence, &data, verifier) {
            Ok(report) => report,
            Err(problem) => return Ok(Err(format!("chunk {range}: {problem}"))),
        };
        if (report.first, report.last) != (chunk.first, chunk.last) {
            return Ok(Err(format!(
                "chunk {range} holds seq {}..={} (renamed?)",
                report.first, report.last
            )));
        }
        if report.tenant != folder_tenant {
            return Ok(Err(format!(
                "chunk {range} names tenant `{}` but is in the folder of `{folder_tenant}`",
                report.tenant
            )));
        }
        if let Err(problem) = chain.add(&report) {
            return Ok(Err(problem));
        }
        verified += 1;
        erased.extend(report.erased.iter().copied());
        signed = signed.max(report.checkpoint_size);
        origin = report.origin;
    }
    let Some(first) = chain.first() else {
        return Ok(Err(
            "no complete chunk (data objects without evidence only)".into(),
        ));
    };
    if let Some((from, to)) = chain.gaps().first() {
        return Ok(Err(format!(
            "seq {from}..={to} is in no chunk: a chunk is missing ({} gap(s) in all)",
            chain.gaps().len()
        )));
    }
    let covered = chain.covered();
    erased.sort_unstable_by_key(|(seq, part)| (*seq, part.as_str()));
    erased.dedup();
    let mut summary = format!(
        "log {origin}, {verified} chunk(s), seq {first}..={} ({} entries), latest signed tree size {signed}",
        covered - 1,
        covered - first,
    );
    if !erased.is_empty() {
        // A replacement is what erasure left in place of a value; no commitment covers it, so
        // these values are not verified: name them for the auditor to check against the
        // log's erasure records (its `subject.erased` entries).
        let shown: Vec<String> = erased
            .iter()
            .take(20)
            .map(|(seq, part)| format!("seq {seq} {}", part.as_str()))
            .collect();
        summary.push_str(&format!(
            "; {} erased value(s), shown as replacements no commitment covers: {}{}",
            erased.len(),
            shown.join(", "),
            if erased.len() > shown.len() {
                ", …"
            } else {
                ""
            }
        ));
    }
    if first > 0 {
        summary.push_str(&format!(
            "; starts at seq {first} (earlier entries were pruned, or delivered elsewhere, before the archive began)"
        ));
    }
    if chain.repeated() > 0 {
        summary.push_str(&format!("; {} chunk(s) written twice", chain.repeated()));
    }
    let stray = incomplete
        .iter()
        .filter(|c| c.last >= covered || c.first < first)
        .count();
    if !incomplete.is_empty() {
        summary.push_str(&format!(
            "; {} data object(s) without evidence (uploads cut short, {} outside the verified range) ignored",
            incomplete.len(),
            stray
        ));
    }
    Ok(Ok(summary))
}
