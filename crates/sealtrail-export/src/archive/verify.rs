//! Checking archive chunks: one chunk on its own ([`verify_chunk`]), and a folder's chunks in
//! order ([`ChainCheck`]), which catches a missing chunk and two chunks from different trees.

use super::{data_value, EvidenceLine, Header, FORMAT};
use crate::bundle::line;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use flate2::read::GzDecoder;
use sealtrail_core::checkpoint::{Checkpoint, NoteVerifier};
use sealtrail_core::envelope::{Part, Slot};
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
    /// The values erased (GDPR) in this chunk, by seq and part: their replacements are what
    /// the data lines show, and no commitment covers a replacement, so a verifier must say
    /// which they are.
    pub erased: Vec<(u64, Part)>,
    /// The chunk's leaf hashes, in seq order (for [`ChainCheck`]).
    pub leaves: Vec<Hash>,
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
    let mut erased = Vec::new();
    let mut leaves = Vec::with_capacity(header.entries.min(1 << 20) as usize);
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
        let leaf = merkle::leaf_hash(&envelope);
        tree.push(leaf);
        leaves.push(leaf);
        erased.extend(slots.iter().filter_map(|s| match s {
            Slot::Erased { part, .. } => Some((seq, *part)),
            Slot::Committed(_) => None,
        }));
        let claimed =
            next_line(&mut data, "data")?.ok_or_else(|| at("the data object ends early".into()))?;
        let expected =
            data_value(&entry, header.data_format, &header.tenant, &header.origin).map_err(at)?;
        // Byte for byte, as the writer wrote it: a JSON reader keeps the last of two equal
        // keys, another the first, so a line is only what its envelope says if it is exactly
        // the writer's rendering of it.
        let expected = serde_json::to_vec(&expected).map_err(|e| at(e.to_string()))?;
        if claimed != expected {
            let field = serde_json::from_slice::<serde_json::Value>(&claimed)
                .ok()
                .and_then(|claimed| {
                    let expected: serde_json::Value = serde_json::from_slice(&expected).ok()?;
                    line::compare_entry(&claimed, &expected).err()
                })
                .unwrap_or_else(|| "the data line is not what its envelope says".into());
            return Err(at(field.replace("readable `entry`", "data line")));
        }
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
        erased,
        leaves,
        checkpoint_size: checkpoint.size,
        start,
        end: tree,
    })
}

/// A folder's chunks checked together, added in order of their first seq: every chunk must
/// belong to one log and one tenant, each chunk's tree before it must be the tree the chunks
/// before it built (so no chunk comes from a fork, wherever its boundaries fall), leaves two
/// chunks both hold must be the same, and no seq may be missing between the first chunk and
/// the last. Chunks sent twice (delivery is at least once, a sink may be replayed) are
/// allowed. Keeps every leaf hash of the run (32 bytes an entry).
#[derive(Debug, Default)]
pub struct ChainCheck {
    origin: Option<String>,
    tenant: Option<String>,
    /// The tree before the first leaf in `leaves`.
    base: Option<Frontier>,
    /// Every leaf from `base` on that a chunk vouched for.
    leaves: Vec<Hash>,
    /// The tree at chunk boundaries, so the tree at any seq is a short rebuild away.
    snapshots: BTreeMap<u64, Frontier>,
    /// The first seq of the first chunk.
    first: Option<u64>,
    /// Ranges of seqs no chunk holds, between chunks.
    gaps: Vec<(u64, u64)>,
    /// Chunks wholly inside ranges already covered (sent again).
    repeated: u64,
}

impl ChainCheck {
    /// An empty check.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a verified chunk; an error names the inconsistency.
    pub fn add(&mut self, chunk: &ChunkReport) -> Result<(), String> {
        let range = format!("seq {}..={}", chunk.first, chunk.last);
        for (seen, now, what) in [
            (&mut self.origin, &chunk.origin, "log"),
            (&mut self.tenant, &chunk.tenant, "tenant"),
        ] {
            match seen {
                Some(before) if before != now => {
                    return Err(format!(
                        "{range} belongs to {what} `{now}`, the chunks before it to `{before}`"
                    ))
                }
                Some(_) => {}
                None => *seen = Some(now.clone()),
            }
        }
        if chunk.leaves.len() as u64 != chunk.last - chunk.first + 1 {
            return Err(format!(
                "{range}: the report holds {} leaves",
                chunk.leaves.len()
            ));
        }
        let covered = self.covered();
        let Some(base) = self.base.clone().filter(|_| chunk.first <= covered) else {
            // The first chunk, or one after a gap: a new run starts with what it says came
            // before (a gap is reported; what is on either side cannot be compared).
            if self.first.is_some() {
                self.gaps.push((covered, chunk.first - 1));
            } else {
                self.first = Some(chunk.first);
            }
            self.base = Some(chunk.start.clone());
            self.leaves = chunk.leaves.clone();
            self.snapshots.clear();
            self.snapshots
                .insert(chunk.start.size(), chunk.start.clone());
            self.snapshots.insert(chunk.end.size(), chunk.end.clone());
            return Ok(());
        };
        if chunk.first < base.size() {
            return Err(format!(
                "{range} starts before the chunks it is listed after"
            ));
        }
        if self.tree_at(chunk.first) != chunk.start {
            return Err(format!(
                "{range}: the tree before seq {} differs from the one the chunks before it built (a fork)",
                chunk.first
            ));
        }
        let offset = |seq: u64| (seq - base.size()) as usize;
        let overlap_end = covered.min(chunk.last + 1);
        for seq in chunk.first..overlap_end {
            if self.leaves[offset(seq)] != chunk.leaves[(seq - chunk.first) as usize] {
                return Err(format!(
                    "{range}: seq {seq} differs from the same seq in a chunk before it (a fork)"
                ));
            }
        }
        if chunk.last < covered {
            self.repeated += 1;
        } else {
            self.leaves
                .extend_from_slice(&chunk.leaves[(covered - chunk.first) as usize..]);
        }
        self.snapshots.insert(chunk.end.size(), chunk.end.clone());
        Ok(())
    }

    /// The tree of the first `size` leaves (`size` within the run), from the nearest
    /// boundary below it.
    fn tree_at(&self, size: u64) -> Frontier {
        let Some((at, snapshot)) = self.snapshots.range(..=size).next_back() else {
            return Frontier::new();
        };
        let mut tree = snapshot.clone();
        let base = self.base.as_ref().map_or(0, Frontier::size);
        let from = (*at - base) as usize;
        let to = (size - base) as usize;
        for leaf in self.leaves.get(from..to).unwrap_or_default() {
            tree.push(*leaf);
        }
        tree
    }

    /// The first seq archived (`None` before any chunk).
    pub fn first(&self) -> Option<u64> {
        self.first
    }

    /// The tree size the chunks so far cover up to.
    pub fn covered(&self) -> u64 {
        self.base
            .as_ref()
            .map_or(0, |b| b.size() + self.leaves.len() as u64)
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
