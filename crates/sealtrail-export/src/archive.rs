//! Archive chunks: a run of a tenant's log as an archive sink writes it to an object store,
//! in two objects an auditor verifies offline, years later, with nothing but the log's public
//! key.
//!
//! * `<first>-<last>.ndjson.gz`: the entries, one per line, in the sink's format (Sealtrail's
//!   entry JSON or OCSF 6003): what log pipelines and data lakes read.
//! * `<first>-<last>.evidence.ndjson.gz`: a header line (the chunk's range, the data object's
//!   SHA-256, the signed checkpoint that covers the chunk, the `popcount(first)` subtree
//!   hashes of every entry before it, and an RFC 6962 consistency proof from the tree ending
//!   at `last` to the checkpoint), then each entry's envelope and vault values.
//!
//! Verifying a chunk ([`verify_chunk`]) rebuilds the tree from those subtree hashes and the
//! chunk's leaves, checks that it is a prefix of the signed tree, opens every envelope with its
//! vault values, and checks that each data line says exactly what its envelope says. A chunk
//! therefore stands alone (entries pruned before the archive began cost nothing), and a
//! verifier reading chunks in order ([`ChainCheck`]) also checks that each continues the
//! tree of the one before. Erased values carry their replacement, as in evidence bundles.

mod verify;

use crate::bundle::line::{self, VaultJson};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use flate2::write::GzEncoder;
use flate2::Compression;
use sealtrail_core::envelope::Slot;
use sealtrail_core::merkle::{Frontier, Hash};
use sealtrail_core::sinks::{ocsf, SinkFormat};
use sealtrail_core::{Entry, Timestamp};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Write;

pub use verify::{verify_chunk, ChainCheck, ChunkReport};

/// The `format` of a chunk's header; a layout change gets a new number.
pub const FORMAT: &str = "sealtrail-archive-chunk/1";

/// One stored leaf, as the store keeps it: the exact envelope bytes and the vault values.
#[derive(Debug, Clone)]
pub struct ChunkLeaf {
    /// Its position in the log.
    pub seq: u64,
    /// The exact envelope bytes (the Merkle leaf).
    pub envelope: Vec<u8>,
    /// The three vault slots, committed or erased.
    pub slots: Vec<Slot>,
}

/// What a chunk is proven against, known before its entries are encoded.
#[derive(Debug, Clone)]
pub struct ChunkProof {
    /// The log's origin.
    pub origin: String,
    /// The tenant's name (OCSF's `cloud.account.uid` and the folder the chunk is in).
    pub tenant: String,
    /// The data object's format.
    pub format: SinkFormat,
    /// The signed checkpoint covering the chunk (size above its last seq).
    pub checkpoint_note: String,
    /// The subtree hashes of the entries before the chunk's first.
    pub frontier: Frontier,
    /// The consistency proof from the tree ending at the chunk's last entry to the checkpoint.
    pub consistency: Vec<Hash>,
    /// When the chunk was written (recorded, not signed).
    pub created_at: Timestamp,
}

/// A chunk's two objects, ready to upload.
#[derive(Debug, Clone)]
pub struct Chunk {
    /// Its first seq.
    pub first: u64,
    /// Its last seq.
    pub last: u64,
    /// The entries in the sink's format, gzip-compressed NDJSON.
    pub data: Vec<u8>,
    /// Header and evidence lines, gzip-compressed NDJSON.
    pub evidence: Vec<u8>,
}

/// Why a chunk could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The leaves are not one gapless run, or are empty.
    #[error("a chunk is one gapless run of entries: {0}")]
    NotARun(String),
    /// A leaf does not open (its envelope or vault is damaged in the store).
    #[error("seq {seq}: {reason}")]
    BadLeaf {
        /// The leaf.
        seq: u64,
        /// What is wrong.
        reason: String,
    },
    /// Encoding failed.
    #[error("encoding the chunk: {0}")]
    Encode(#[from] std::io::Error),
    /// The chunk did not pass its own verification: nothing is uploaded.
    #[error("the chunk does not verify: {0}")]
    SelfCheck(String),
}

/// The header line of an evidence object.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Header {
    pub format: String,
    pub origin: String,
    pub tenant: String,
    pub data_format: SinkFormat,
    pub first_seq: u64,
    pub last_seq: u64,
    pub entries: u64,
    /// Hex SHA-256 of the data object's bytes, as stored (compressed).
    pub data_sha256: String,
    pub checkpoint: String,
    /// Hex subtree hashes of seq `0..first_seq`, largest first.
    pub frontier: Vec<String>,
    /// Hex consistency proof from size `last_seq + 1` to the checkpoint's size.
    pub consistency_proof: Vec<String>,
    pub created_at: Timestamp,
}

/// One evidence line after the header.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EvidenceLine {
    pub seq: u64,
    /// Base64 of the exact envelope bytes.
    pub envelope: String,
    pub vault: VaultJson,
}

/// The data line of an opened entry in `format`: Sealtrail's entry JSON (as the API shows
/// it), or its OCSF 6003 event.
pub(crate) fn data_value(
    entry: &Entry,
    format: SinkFormat,
    tenant: &str,
    origin: &str,
) -> Result<serde_json::Value, String> {
    match format {
        SinkFormat::Sealtrail => line::entry_json(entry),
        SinkFormat::Ocsf => Ok(ocsf::api_activity(entry, tenant, origin)),
    }
}

/// Writes a chunk of `leaves` (one gapless run, ascending) proven by `proof`, and checks it
/// with [`verify_chunk`] before returning it, so nothing this writer makes fails its reader.
pub fn write_chunk(
    proof: &ChunkProof,
    leaves: &[ChunkLeaf],
    verifier: &sealtrail_core::checkpoint::NoteVerifier,
) -> Result<Chunk, ArchiveError> {
    let (Some(first), Some(last)) = (leaves.first(), leaves.last()) else {
        return Err(ArchiveError::NotARun("no entries".into()));
    };
    let (first, last) = (first.seq, last.seq);
    if last - first + 1 != leaves.len() as u64 || first != proof.frontier.size() {
        return Err(ArchiveError::NotARun(format!(
            "{} entries from seq {first} to {last} after {} proven",
            leaves.len(),
            proof.frontier.size()
        )));
    }
    let mut data = GzEncoder::new(Vec::new(), Compression::default());
    let mut evidence_lines = Vec::with_capacity(leaves.len());
    for leaf in leaves {
        let bad = |reason: String| ArchiveError::BadLeaf {
            seq: leaf.seq,
            reason,
        };
        let entry = line::open_checked(&proof.origin, leaf.seq, &leaf.envelope, &leaf.slots)
            .map_err(bad)?;
        let value = data_value(&entry, proof.format, &proof.tenant, &proof.origin).map_err(bad)?;
        serde_json::to_writer(&mut data, &value).map_err(std::io::Error::from)?;
        data.write_all(b"\n")?;
        evidence_lines.push(EvidenceLine {
            seq: leaf.seq,
            envelope: B64.encode(&leaf.envelope),
            vault: VaultJson::from_slots(&leaf.slots),
        });
    }
    let data = data.finish()?;
    let header = Header {
        format: FORMAT.to_string(),
        origin: proof.origin.clone(),
        tenant: proof.tenant.clone(),
        data_format: proof.format,
        first_seq: first,
        last_seq: last,
        entries: leaves.len() as u64,
        data_sha256: hex::encode(Sha256::digest(&data)),
        checkpoint: proof.checkpoint_note.clone(),
        frontier: proof.frontier.nodes().iter().map(hex::encode).collect(),
        consistency_proof: proof.consistency.iter().map(hex::encode).collect(),
        created_at: proof.created_at,
    };
    let mut evidence = GzEncoder::new(Vec::new(), Compression::default());
    serde_json::to_writer(&mut evidence, &header).map_err(std::io::Error::from)?;
    evidence.write_all(b"\n")?;
    for line in &evidence_lines {
        serde_json::to_writer(&mut evidence, line).map_err(std::io::Error::from)?;
        evidence.write_all(b"\n")?;
    }
    let evidence = evidence.finish()?;
    verify_chunk(&evidence, &data, verifier).map_err(ArchiveError::SelfCheck)?;
    Ok(Chunk {
        first,
        last,
        data,
        evidence,
    })
}

#[cfg(test)]
mod tests;
