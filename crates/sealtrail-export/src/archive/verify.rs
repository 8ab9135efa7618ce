//! Checking archive chunks: one chunk on its own ([`verify_chunk`]), and a folder's chunks in
//! order ([`ChainCheck`]), which catches a missing chunk and two chunks from different trees.

use super::{data_value, EvidenceLine, Header, FORMAT};
use crate::bundle::line;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use flate2::read::GzDecoder;
use sealtrail_core::checkpoint::{Checkpoint, NoteVerifier};
use sealtrail_core::envelope::Slot;
use sealtrail_core::merkle::{self, Frontier, Hash};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};

/// What one chunk proved.
#[derive(Debug, Clone)]
pub struct ChunkReport {
    /// The log the checkpoint names.
    pub origin: String,
    /// The tenant the header names (not signed).
    pub tenant: String,
    /// First seq.
    pub first: u64,
    /// Last seq.
    pub last: u64,
    /// Vault values erased (GDPR) and shown as replacements.
    pub erased_values: u64,
    /// The covering checkpoint's size.
    pub checkpoint_size: u64,
    /// The tree before the chunk, as the chunk carries it.
    pub start: Frontier,
    /// The tree after its last entry.
    pub end: Frontier,
}

fn parse_hashes(what: &str, hexes: &[String]) -> Result<Vec<Hash>, String> {
    hexes
        .iter()
        .map(|h| line::parse_hash(h))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| format!("the header's {what} holds a value that is not 64 hex digits"))
}

/// Reads the next line, without its newline; `None` at the end.
fn next_line(reader: &mut impl BufRead, what: &str) -> Result<Option<Vec<u8>>, String> {
    let mut line = Vec::new();
    let read = reader
        .read_until(b'\n', &mut line)
        .map_err(|e| format!("the {what} object does not decompress: {e}"))?;
    if read == 0 {
        return Ok(None);
    }
    if line.pop() != Some(b'\n') {
        return Err(format!(
            "the {what} object's last line has no newline (truncated?)"
        ));
    }
    Ok(Some(line))
}

/// Verifies one chunk: its evidence object (gzip NDJSON: header, then one line per entry)
/// against the log's key `verifier`, and its data object against the evidence. The error
/// names the first thing wrong (and the seq, for an entry).
pub fn verify_chunk(
    evidence_gz: &[u8],
    data_gz: &[u8],
    verifier: &NoteVerifier,
) -> Result<ChunkReport, String> {
    let mut evidence = BufReader::new(GzDecoder::new(evidence_gz));
    let header = next_line(&mut evidence, "evidence")?.ok_or("the evidence object is empty")?;
    let header: Header = serde_json::from_slice(&header)
        .map_err(|e| format!("the evidence header is not readable: {e}"))?;
    if header.format != FORMAT {
        return Err(format!(
            "unknown chunk format `{}` (this verifier reads {FORMAT})",
            header.format
        ));
    }
    let checkpoint = Checkpoint::open(&header.checkpoint, verifier)
        .map_err(|e| format!("the checkpoint is not signed by this key: {e}"))?;
    if checkpoint.origin != header.origin {
        return Err(format!(
            "the checkpoint is for log `{}`, the header says `{}`",
            checkpoint.origin, header.origin
        ));
    }
    let (first, last) = (header.first_seq, header.last_seq);
    if last < first || header.entries != last - first + 1 {
        return Err(format!(
            "the header's range {first}..={last} does not hold {} entries",
            header.entries
        ));
    }
    if last >= checkpoint.size {
        return Err(format!(
            "the checkpoint (size {}) does not cover seq {last}",
            checkpoint.size
        ));
    }
    if hex::encode(Sha256::digest(data_gz)) != header.data_sha256 {
        return Err("the data object is not the one the evidence describes (SHA-256)".into());
    }
    let start = Frontier::from_nodes(first, parse_hashes("frontier", &header.frontier)?)
        .map_err(|e| format!("the header's frontier does not fit seq {first}: {e}"))?;
    let consistency = parse_hashes("consistency_proof", &header.consistency_proof)?;
    let mut tree = start.clone();
    let mut data = BufReader::new(GzDecoder::new(data_gz));
    let mut erased_values = 0;
    for seq in first..=last {
        let at = |reason: String| format!("seq {seq}: {reason}");
        let bytes = next_line(&mut evidence, "evidence")?
            .ok_or_else(|| at("the evidence object ends early".into()))?;
        let line: EvidenceLine =
            serde_json::from_slice(&bytes).map_err(|e| at(format!("not an evidence line: {e}")))?;
        if line.seq != seq {
            return Err(at(format!("the evidence line says seq {}", line.seq)));
        }
        let envelope = B64
            .decode(&line.envelope)
            .map_err(|_| at("the envelope is not base64".into()))?;
        let slots = line.vault.to_slots().map_err(at)?;
        let entry = line::open_checked(&header.origin, seq, &envelope, &slots).map_err(at)?;
        tree.push(merkle::leaf_hash(&envelope));
        erased_values += slots
            .iter()
            .filter(|s| matches!(s, Slot::Erased { .. }))
            .count() as u64;
        let claimed =
            next_line(&mut data, "data")?.ok_or_else(|| at("the data object ends early".into()))?;
        let claimed: serde_json::Value = serde_json::from_slice(&claimed)
            .map_err(|e| at(format!("the data line is not JSON: {e}")))?;
        let expected =
            data_value(&entry, header.data_format, &header.tenant, &header.origin).map_err(at)?;
        line::compare_entry(&claimed, &expected)
            .map_err(|e| at(e.replace("readable `entry`", "data line")))?;
    }
    if next_line(&mut evidence, "evidence")?.is_some() {
        return Err(format!("the evidence object has lines after seq {last}"));
    }
    if next_line(&mut data, "data")?.is_some() {
        return Err(format!("the data object has lines after seq {last}"));
    }
    merkle::verify_consistency(
        tree.size(),
        checkpoint.size,
        &tree.root(),
        &checkpoint.root,
        &consistency,
    )
    .map_err(|e| {
        format!(
            "the entries and the frontier do not form a prefix of the signed tree of size {} ({e})",
            checkpoint.size
        )
    })?;
    Ok(ChunkReport {
        origin: header.origin,
        tenant: header.tenant,
        first,
        last,
        erased_values,
        checkpoint_size: checkpoint.size,
        start,
        end: tree,
    })
}

/// A folder's chunks checked together, added in order of their first seq: every chunk must
/// belong to one log, the tree at each chunk boundary must be the same whichever chunk
/// vouches for it (so no chunk comes from a fork), and no seq may be missing between the
/// first chunk and the last. Chunks sent twice (delivery is at least once) are allowed.
#[derive(Debug, Default)]
pub struct ChainCheck {
    origin: Option<String>,
    /// The tree's root at every chunk boundary seen.
    roots: BTreeMap<u64, Hash>,
    /// The first seq of the first chunk.
    first: Option<u64>,
    /// The tree size the chunks so far cover up to.
    covered: u64,
    /// Ranges of seqs no chunk holds, between chunks.
    gaps: Vec<(u64, u64)>,
    /// Chunks whose range other chunks already covered.
    repeated: u64,
}

impl ChainCheck {
    /// An empty check.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a verified chunk; an error names the inconsistency.
    pub fn add(&mut self, chunk: &ChunkReport) -> Result<(), String> {
        match &self.origin {
            Some(origin) if *origin != chunk.origin => {
                return Err(format!(
                    "seq {}..={} belongs to log `{}`, the chunks before it to `{origin}`",
                    chunk.first, chunk.last, chunk.origin
                ))
            }
            Some(_) => {}
            None => self.origin = Some(chunk.origin.clone()),
        }
        for tree in [&chunk.start, &chunk.end] {
            if tree.size() == 0 {
                continue;
            }
            let root = tree.root();
            if let Some(seen) = self.roots.insert(tree.size(), root) {
                if seen != root {
                    return Err(format!(
                        "seq {}..={}: the tree of size {} differs from the one the other chunks show (a fork)",
                        chunk.first,
                        chunk.last,
                        tree.size()
                    ));
                }
            }
        }
        match self.first {
            None => self.first = Some(chunk.first),
            Some(_) if chunk.first > self.covered => {
                self.gaps.push((self.covered, chunk.first - 1));
            }
            Some(_) if chunk.last < self.covered => self.repeated += 1,
            Some(_) => {}
        }
        self.covered = self.covered.max(chunk.last + 1);
        Ok(())
    }

    /// The first seq archived (`None` before any chunk).
    pub fn first(&self) -> Option<u64> {
        self.first
    }

    /// The tree size covered up to.
    pub fn covered(&self) -> u64 {
        self.covered
    }

    /// Ranges no chunk holds, between the first chunk and the last.
    pub fn gaps(&self) -> &[(u64, u64)] {
        &self.gaps
    }

    /// Chunks wholly inside ranges already covered (sent again).
    pub fn repeated(&self) -> u64 {
        self.repeated
    }
}
