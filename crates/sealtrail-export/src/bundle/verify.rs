//! [`verify_bundle`]: checks a bundle offline, streaming `entries.ndjson` line by line.
//!
//! Structure comes first and fails hard ([`BundleError`]): the archive must hold only the
//! format's files, each once, with manifest, key and checkpoint before the entries; the
//! checkpoint must carry a valid signature by the bundled key and agree with the manifest.
//! Entries then fail soft: every line is checked and the first bad one is reported with its
//! line number and seq, so an auditor learns *which* entry is wrong, not just that one is.

use super::line::{self, LineJson, Log};
use super::manifest::Manifest;
use super::{files, BundleError, BundleReport, Problem, FORMAT};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use sealtrail_core::checkpoint::{Checkpoint, NoteVerifier};
use sealtrail_core::envelope::Slot;
use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read};

/// Largest accepted `README.md` / `verify_bundle.py` / `manifest.json` (the filters are free JSON).
const MAX_SMALL_FILE: u64 = 1 << 20;
/// Largest accepted `public-key.txt` or `checkpoint.txt` (a key line; a note with cosignatures).
const MAX_NOTE_FILE: u64 = 64 << 10;
/// Largest accepted line of `entries.ndjson`: far above any entry the 64 KiB event limit allows,
/// and what bounds the verifier's memory.
const MAX_LINE: u64 = 16 << 20;

/// Verifies a bundle read from `r`. `progress` is called with the number of entries checked so
/// far after each one (a CLI progress bar). Structural failures are errors; bad entries are
/// reported in [`BundleReport::first_problem`].
pub fn verify_bundle<R: Read>(
    r: R,
    mut progress: impl FnMut(u64),
) -> Result<BundleReport, BundleError> {
    let mut archive = tar::Archive::new(r);
    let mut seen = HashSet::new();
    let mut meta = Meta::default();
    let mut report = None;
    for member in archive.entries().map_err(BundleError::NotTar)? {
        let mut member = member.map_err(BundleError::NotTar)?;
        let path = member.path().map_err(BundleError::NotTar)?;
        let name = path.to_string_lossy().into_owned();
        let known = files::ALL.iter().find(|f| **f == name).copied();
        let Some(name) = known.filter(|_| member.header().entry_type().is_file()) else {
            return Err(BundleError::UnexpectedFile(name));
        };
        if !seen.insert(name) {
            return Err(BundleError::Duplicate(name.to_string()));
        }
        let size = member.header().size().map_err(BundleError::NotTar)?;
        match name {
            files::ENTRIES => {
                let log = meta.log()?;
                let mut reader = BufReader::new(&mut member);
                report = Some(verify_entries(&mut reader, log, &mut progress)?);
            }
            files::PUBLIC_KEY | files::CHECKPOINT => {
                let text = read_small(&mut member, name, size, MAX_NOTE_FILE)?;
                if name == files::PUBLIC_KEY {
                    meta.key = Some(text);
                } else {
                    meta.checkpoint = Some(text);
                }
            }
            files::MANIFEST => {
                let text = read_small(&mut member, name, size, MAX_SMALL_FILE)?;
                let manifest: Manifest = serde_json::from_str(&text)
                    .map_err(|e| BundleError::Manifest(e.to_string()))?;
                if manifest.format != FORMAT {
                    return Err(BundleError::Manifest(format!(
                        "format is `{}`, this verifier reads `{FORMAT}`",
                        manifest.format
                    )));
                }
                meta.manifest = Some(manifest);
            }
            // README and script are for people; their content proves nothing.
            _ => {
                read_small(&mut member, name, size, MAX_SMALL_FILE)?;
            }
        }
    }
    report.ok_or(BundleError::NoEntries)
}

/// Reads a small member whole, refusing it past `limit` bytes or when it is not UTF-8.
fn read_small(
    member: &mut impl Read,
    file: &'static str,
    size: u64,
    limit: u64,
) -> Result<String, BundleError> {
    if size > limit {
        return Err(BundleError::TooLarge { file, limit });
    }
    let mut bytes = Vec::new();
    member
        .take(limit)
        .read_to_end(&mut bytes)
        .map_err(BundleError::NotTar)?;
    String::from_utf8(bytes).map_err(|_| BundleError::UnexpectedFile(format!("{file} (not UTF-8)")))
}

/// The small files, gathered before `entries.ndjson`.
#[derive(Default)]
struct Meta {
    manifest: Option<Manifest>,
    key: Option<String>,
    checkpoint: Option<String>,
}

/// What the entries are checked against once manifest, key and checkpoint agree.
struct Verified {
    log: Log,
    manifest: Manifest,
    public_key: String,
    note: String,
}

impl Meta {
    fn log(&mut self) -> Result<Verified, BundleError> {
        let manifest = self
            .manifest
            .take()
            .ok_or(BundleError::Missing(files::MANIFEST))?;
        let key = self
            .key
            .as_deref()
            .ok_or(BundleError::Missing(files::PUBLIC_KEY))?;
        let note = self
            .checkpoint
            .as_deref()
            .ok_or(BundleError::Missing(files::CHECKPOINT))?;
        let verifier: NoteVerifier = key.trim_end().parse().map_err(BundleError::PublicKey)?;
        let cp = Checkpoint::open(note, &verifier).map_err(BundleError::Checkpoint)?;
        let root = line::parse_hash(&manifest.root)
            .ok_or_else(|| BundleError::Manifest("root is not 64 hex digits".into()))?;
        let mut differences = Vec::new();
        if cp.origin != manifest.origin {
            differences.push(format!("origin {} vs {}", manifest.origin, cp.origin));
        }
        if cp.size != manifest.tree_size {
            differences.push(format!("tree_size {} vs {}", manifest.tree_size, cp.size));
        }
        if cp.root != root {
            differences.push(format!(
                "root {} vs {}",
                manifest.root,
                hex::encode(cp.root)
            ));
        }
        if !differences.is_empty() {
            return Err(BundleError::Mismatch(differences.join(", ")));
        }
        Ok(Verified {
            log: Log {
                origin: cp.origin,
                tree_size: cp.size,
                root: cp.root,
            },
            manifest,
            public_key: verifier.to_string(),
            note: note.to_string(),
        })
    }
}

/// Checks every line, keeping only counters and the first problem.
fn verify_entries(
    reader: &mut impl BufRead,
    verified: Verified,
    progress: &mut impl FnMut(u64),
) -> Result<BundleReport, BundleError> {
    let Verified {
        log,
        manifest,
        public_key,
        note,
    } = verified;
    let mut first_problem: Option<Problem> = None;
    let (mut count, mut erased_values) = (0u64, 0u64);
    let mut last_seq: Option<u64> = None;
    let mut whole_log = true;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        reader
            .by_ref()
            .take(MAX_LINE + 1)
            .read_until(b'\n', &mut buf)
            .map_err(BundleError::NotTar)?;
        if buf.is_empty() {
            break;
        }
        if buf.len() as u64 > MAX_LINE {
            return Err(BundleError::TooLarge {
                file: files::ENTRIES,
                limit: MAX_LINE,
            });
        }
        count += 1;
        let seq = match check_line(&log, &buf, last_seq) {
            Ok((seq, erased)) => {
                erased_values += erased;
                Some(seq)
            }
            Err(reason) => {
                // Parse again, leniently, only to say where the problem is.
                let seq = claimed_seq(&buf);
                first_problem.get_or_insert(Problem {
                    line: count,
                    seq,
                    reason,
                });
                seq
            }
        };
        whole_log &= seq == Some(count - 1);
        if let Some(seq) = seq {
            last_seq = Some(last_seq.map_or(seq, |l| l.max(seq)));
        }
        progress(count);
    }
    if count != manifest.entries {
        first_problem.get_or_insert(Problem {
            line: 0,
            seq: None,
            reason: format!(
                "manifest.json says {} entries, the file has {count}",
                manifest.entries
            ),
        });
    }
    Ok(BundleReport {
        origin: log.origin,
        tree_size: log.tree_size,
        root: log.root,
        public_key,
        checkpoint_note: note,
        exported_at: manifest.exported_at,
        filters: manifest.filters,
        entries: count,
        erased_values,
        whole_log: whole_log && count == log.tree_size,
        first_problem,
    })
}

/// The seq a line claims, read leniently so even a malformed line can be located.
fn claimed_seq(line: &[u8]) -> Option<u64> {
    serde_json::from_slice::<serde_json::Value>(line)
        .ok()?
        .get("seq")?
        .as_u64()
}

/// Checks one line; returns its seq and number of erased slots.
fn check_line(log: &Log, bytes: &[u8], last_seq: Option<u64>) -> Result<(u64, u64), String> {
    if !bytes.ends_with(b"\n") {
        return Err("the last line does not end with a newline (truncated file?)".into());
    }
    let line: LineJson =
        serde_json::from_slice(bytes).map_err(|e| format!("not a bundle line: {e}"))?;
    if let Some(last) = last_seq {
        if line.seq <= last {
            return Err(format!(
                "out of order: comes after seq {last} (entries must be in increasing seq order)"
            ));
        }
    }
    let envelope = B64
        .decode(&line.envelope)
        .map_err(|_| "envelope is not base64".to_string())?;
    let leaf = line::parse_hash(&line.leaf_hash)
        .ok_or_else(|| "leaf_hash is not 64 hex digits".to_string())?;
    let proof = line
        .inclusion_proof
        .iter()
        .map(|h| line::parse_hash(h))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| "inclusion_proof holds a value that is not 64 hex digits".to_string())?;
    let slots = line.vault.to_slots()?;
    let opened = line::check(log, line.seq, &envelope, &leaf, &proof, &slots)?;
    if opened.id != line.id {
        return Err(format!(
            "id {} is not the envelope's id {}",
            line.id, opened.id
        ));
    }
    line::compare_entry(&line.entry, &line::entry_json(&opened)?)?;
    let erased = slots
        .iter()
        .filter(|s| matches!(s, Slot::Erased { .. }))
        .count() as u64;
    Ok((line.seq, erased))
}
