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
use sealtrail_core::parallel::Lanes;
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

/// Lines handed to a checking lane at a time (few in tests, so every test crosses batches).
const BATCH_LINES: usize = if cfg!(test) { 3 } else { 1024 };

/// Bytes after which a batch is handed over however few lines it holds: a line may be up to
/// [`MAX_LINE`], and memory stays a few batches per lane.
const BATCH_BYTES: usize = 4 << 20;

/// Lines of `entries.ndjson` read one after another into one buffer, each with its newline.
#[derive(Default)]
struct LineBatch {
    bytes: Vec<u8>,
    /// Where each line ends in `bytes`.
    ends: Vec<usize>,
}

impl LineBatch {
    fn lines(&self) -> impl Iterator<Item = &[u8]> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts
            .zip(&self.ends)
            .filter_map(|(start, &end)| self.bytes.get(start..end))
    }
}

/// What a lane found for one line: everything but its order relative to the lines before it,
/// which only the reading thread knows.
struct CheckedLine {
    /// The line's seq when it reads as a bundle line, for the order check.
    seq: Option<u64>,
    /// Its erased values, or the first thing wrong with it apart from order.
    outcome: Result<u64, String>,
    /// For a line with a problem, the seq it claims, read leniently to locate it.
    claimed: Option<u64>,
}

/// Checks every line, keeping only counters and the first problem. Each line's own checks
/// (its proof, envelope, vault and readable entry: all of a bundle's CPU) run on a lane per
/// core while this thread reads on; order, counts and the first problem are taken back here
/// in line order, so the report is the one a single thread would give.
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
    let mut lanes = Lanes::start("bundle verification", {
        let log = log.clone();
        move |batch: LineBatch| {
            batch
                .lines()
                .map(|line| check_line(&log, line))
                .collect::<Vec<CheckedLine>>()
        }
    });
    let mut tally = Tally::default();
    let mut batch = LineBatch::default();
    loop {
        let start = batch.bytes.len();
        reader
            .by_ref()
            .take(MAX_LINE + 1)
            .read_until(b'\n', &mut batch.bytes)
            .map_err(BundleError::NotTar)?;
        let read = batch.bytes.len() - start;
        if read == 0 {
            break;
        }
        if read as u64 > MAX_LINE {
            return Err(BundleError::TooLarge {
                file: files::ENTRIES,
                limit: MAX_LINE,
            });
        }
        batch.ends.push(batch.bytes.len());
        if batch.ends.len() >= BATCH_LINES || batch.bytes.len() >= BATCH_BYTES {
            tally.batches(lanes.submit(std::mem::take(&mut batch))?, progress);
        }
    }
    if !batch.ends.is_empty() {
        tally.batches(lanes.submit(batch)?, progress);
    }
    tally.batches(lanes.drain()?, progress);
    let Tally {
        count,
        erased_values,
        whole_log,
        mut first_problem,
        ..
    } = tally;
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

/// What the checked lines add up to, taken in line order.
struct Tally {
    count: u64,
    erased_values: u64,
    last_seq: Option<u64>,
    whole_log: bool,
    first_problem: Option<Problem>,
}

impl Default for Tally {
    fn default() -> Self {
        Tally {
            count: 0,
            erased_values: 0,
            last_seq: None,
            whole_log: true,
            first_problem: None,
        }
    }
}

impl Tally {
    /// Checked batches the lanes gave back, in line order.
    fn batches(&mut self, ready: Vec<Vec<CheckedLine>>, progress: &mut impl FnMut(u64)) {
        for checked in ready.into_iter().flatten() {
            self.line(checked, progress);
        }
    }

    /// The next line's checks, with its order against the lines before it: a line out of
    /// order is reported as that, whatever else is wrong with it.
    fn line(&mut self, checked: CheckedLine, progress: &mut impl FnMut(u64)) {
        self.count += 1;
        let out_of_order = checked
            .seq
            .zip(self.last_seq)
            .filter(|(seq, last)| seq <= last);
        let outcome = match out_of_order {
            Some((_, last)) => Err(format!(
                "out of order: comes after seq {last} (entries must be in increasing seq order)"
            )),
            None => checked.outcome,
        };
        let seq = match outcome {
            Ok(erased) => {
                self.erased_values += erased;
                checked.seq
            }
            Err(reason) => {
                let seq = checked.seq.or(checked.claimed);
                self.first_problem.get_or_insert(Problem {
                    line: self.count,
                    seq,
                    reason,
                });
                seq
            }
        };
        self.whole_log &= seq == Some(self.count - 1);
        if let Some(seq) = seq {
            self.last_seq = Some(self.last_seq.map_or(seq, |l| l.max(seq)));
        }
        progress(self.count);
    }
}

/// The seq a line claims, read leniently so even a malformed line can be located.
fn claimed_seq(line: &[u8]) -> Option<u64> {
    serde_json::from_slice::<serde_json::Value>(line)
        .ok()?
        .get("seq")?
        .as_u64()
}

/// Every check of one line but its order: its seq when it reads as a bundle line, and its
/// number of erased slots or what is wrong with it.
fn check_line(log: &Log, bytes: &[u8]) -> CheckedLine {
    let parsed = if bytes.ends_with(b"\n") {
        serde_json::from_slice::<LineJson>(bytes).map_err(|e| format!("not a bundle line: {e}"))
    } else {
        Err("the last line does not end with a newline (truncated file?)".into())
    };
    let (seq, outcome) = match parsed {
        Ok(line) => (Some(line.seq), check_parsed(log, &line)),
        Err(reason) => (None, Err(reason)),
    };
    CheckedLine {
        seq,
        claimed: outcome.is_err().then(|| claimed_seq(bytes)).flatten(),
        outcome,
    }
}

/// The checks of a line that reads as a bundle line; its number of erased slots.
fn check_parsed(log: &Log, line: &LineJson) -> Result<u64, String> {
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
    Ok(slots
        .iter()
        .filter(|s| matches!(s, Slot::Erased { .. }))
        .count() as u64)
}
