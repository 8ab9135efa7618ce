//! The evidence bundle: one uncompressed tar an auditor verifies offline, with `sealtrail
//! verify --bundle` or with independent tools (the bundled Python script, Go's `sumdb` packages).
//!
//! The bundle proves that every entry it holds is, byte for byte, the entry the log committed to
//! at its position: each envelope's leaf hash has an RFC 6962 inclusion proof to the root of a
//! checkpoint signed with the log's Ed25519 key, each vault value matches the envelope's salted
//! commitment, and the human-readable copy of the entry is exactly what envelope and vault say.
//! The exact layout is specified in `BUNDLE.md` (and, for auditors, in the bundle's README).
//!
//! Writing ([`BundleWriter`]) and verifying ([`verify_bundle`]) both run in constant memory,
//! whatever the number of entries, and share one per-entry check, so a writer cannot produce a
//! bundle its own verifier would refuse.

pub(crate) mod line;
mod manifest;
mod verify;
mod write;

#[cfg(test)]
mod tests;

use sealtrail_core::checkpoint::{NoteError, NoteVerifier};
use sealtrail_core::envelope::Slot;
use sealtrail_core::merkle::Hash;
use sealtrail_core::Timestamp;
use std::fmt;

pub use verify::verify_bundle;
pub use write::{BundleWriter, EncodedLine, LineEncoder};

/// The `format` value of `manifest.json`; a layout change gets a new number, never a reinterpretation.
pub const FORMAT: &str = "sealtrail-evidence-bundle/1";

/// File names inside the tar, in the order the writer emits them.
pub mod files {
    /// What the bundle is and how to verify it by hand.
    pub const README: &str = "README.md";
    /// Stand-alone verifier (Python 3 + `cryptography`) an auditor can read and run.
    pub const SCRIPT: &str = "verify_bundle.py";
    /// Format, log, tree size, root, export time, filters and entry count.
    pub const MANIFEST: &str = "manifest.json";
    /// The log's C2SP verifier key, one line.
    pub const PUBLIC_KEY: &str = "public-key.txt";
    /// The signed checkpoint every inclusion proof leads to.
    pub const CHECKPOINT: &str = "checkpoint.txt";
    /// One JSON line per entry: envelope, proof, vault values and a readable copy.
    pub const ENTRIES: &str = "entries.ndjson";
    /// All of them, in archive order.
    pub const ALL: [&str; 6] = [README, SCRIPT, MANIFEST, PUBLIC_KEY, CHECKPOINT, ENTRIES];
}

/// The bundle's README, written into every bundle so the instructions travel with the evidence.
pub const README_TEXT: &str = include_str!("bundle/README.md");
/// The Python verifier written into every bundle, so auditors need nothing from us to check it.
pub const VERIFY_SCRIPT: &str = include_str!("bundle/verify_bundle.py");

/// Everything about the log the bundle is checked against, known before the first entry.
#[derive(Debug, Clone)]
pub struct BundleHeader {
    /// The log's origin (checkpoint first line, envelope `log` field).
    pub origin: String,
    /// The signed checkpoint note covering `tree_size`; every proof leads to its root.
    pub checkpoint_note: String,
    /// The key that signed `checkpoint_note`; shipped so the bundle verifies offline.
    pub verifier: NoteVerifier,
    /// Size of the tree the proofs are computed against.
    pub tree_size: u64,
    /// Root of that tree.
    pub root: Hash,
    /// When the export was made (recorded, not signed).
    pub exported_at: Timestamp,
    /// The caller's description of what was selected (recorded, not signed).
    pub filters: serde_json::Value,
}

/// One exported entry as the store holds it: the stored envelope bytes, never a re-encoding.
#[derive(Debug, Clone)]
pub struct BundleEntry {
    /// The entry's position in the log.
    pub seq: u64,
    /// The exact envelope bytes (the Merkle leaf).
    pub envelope: Vec<u8>,
    /// The three vault slots (actor, context, payload), committed or erased.
    pub slots: Vec<Slot>,
    /// Inclusion proof of `seq` in the tree of `tree_size` leaves.
    pub inclusion_proof: Vec<Hash>,
}

/// The first thing wrong with the entries, located so an auditor can find the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line number in `entries.ndjson` (0 for a problem with the file as a whole).
    pub line: u64,
    /// The seq the line claims, when it can be read.
    pub seq: Option<u64>,
    /// What is wrong, in words.
    pub reason: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.seq) {
            (0, _) => write!(f, "{}: {}", files::ENTRIES, self.reason),
            (line, Some(seq)) => write!(f, "line {line} (seq {seq}): {}", self.reason),
            (line, None) => write!(f, "line {line}: {}", self.reason),
        }
    }
}

/// The outcome of verifying a bundle whose structure and signature were sound.
#[derive(Debug, Clone, PartialEq)]
pub struct BundleReport {
    /// The log the checkpoint names.
    pub origin: String,
    /// The signed tree size.
    pub tree_size: u64,
    /// The signed root.
    pub root: Hash,
    /// The verifier key string the checkpoint was checked with. It came from the bundle itself,
    /// so it must be compared with the operator's published key before the result means anything.
    pub public_key: String,
    /// The signed checkpoint note as bundled, with any witnesses' cosignatures, for checking
    /// them against witness keys the auditor trusts.
    pub checkpoint_note: String,
    /// Export time as the manifest claims it (not signed).
    pub exported_at: Timestamp,
    /// Filters as the manifest claims them (not signed).
    pub filters: serde_json::Value,
    /// Lines read from `entries.ndjson`.
    pub entries: u64,
    /// Vault values that were erased (GDPR) and shown as replacements instead.
    pub erased_values: u64,
    /// True when the entries are exactly seq `0..tree_size`: then nothing was left out.
    pub whole_log: bool,
    /// The first bad line, or `None` when every entry verified.
    pub first_problem: Option<Problem>,
}

impl BundleReport {
    /// True when every entry verified.
    pub fn is_ok(&self) -> bool {
        self.first_problem.is_none()
    }
}

/// Why a bundle could not be written or could not be checked at all.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// Reading or writing failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The input is not a readable tar archive.
    #[error("not a readable tar archive: {0}")]
    NotTar(std::io::Error),
    /// A required file is absent (or comes after `entries.ndjson`, which must be last).
    #[error("the bundle has no {0} before entries.ndjson")]
    Missing(&'static str),
    /// The bundle has no entries file at all.
    #[error("the bundle has no entries.ndjson")]
    NoEntries,
    /// A file whose name is not part of the format, or which is not a regular file.
    #[error(
        "unexpected member `{0}` in the bundle (only the files listed in its README belong there)"
    )]
    UnexpectedFile(String),
    /// A file appears twice (an unpacked copy would show only the last one).
    #[error("`{0}` appears more than once in the bundle")]
    Duplicate(String),
    /// A file is larger than its format allows.
    #[error("`{file}` is larger than {limit} bytes")]
    TooLarge {
        /// Which file.
        file: &'static str,
        /// Its limit.
        limit: u64,
    },
    /// `manifest.json` is not a manifest of this format.
    #[error("manifest.json: {0}")]
    Manifest(String),
    /// `public-key.txt` is not a verifier key.
    #[error("public-key.txt: {0}")]
    PublicKey(NoteError),
    /// `checkpoint.txt` is not a checkpoint signed by the bundle's key.
    #[error("checkpoint.txt: {0}")]
    Checkpoint(NoteError),
    /// The manifest and the signed checkpoint (or the writer's header) disagree.
    #[error("manifest does not match the signed checkpoint: {0}")]
    Mismatch(String),
    /// A thread checking lines stopped before it finished (a bug, logged); the lines it held
    /// were not checked, so the bundle is not reported as verified.
    #[error("{0}")]
    Stopped(#[from] sealtrail_core::parallel::LaneStopped),
    /// The writer was given an entry that would not verify; nothing invalid is ever written.
    #[error("entry {seq} cannot be exported: {reason}")]
    InvalidEntry {
        /// The entry's seq.
        seq: u64,
        /// What is wrong with it.
        reason: String,
    },
}
