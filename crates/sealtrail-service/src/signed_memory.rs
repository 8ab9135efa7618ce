//! The newest checkpoint this node signed for each log, remembered outside the database.
//!
//! Why: a log must never sign two checkpoints that do not extend one another (C2SP
//! tlog-checkpoint). The database's own record of signed checkpoints cannot guarantee that,
//! because restoring an older copy of the database restores the older record too: the server
//! would then sign a tree that forks from what it signed before, and nothing would notice. So
//! the node keeps the latest note of every log in a file of its own data directory
//! ([`FILE_NAME`], replaced atomically and fsynced *before* a new checkpoint is recorded or
//! returned), checks the database's tree against it at start and before every signature
//! ([`extends`]), and refuses — saying why and how to recover — when the tree is shorter or
//! does not extend it. `sealtrail verify` reads the same file by default.
//!
//! On PostgreSQL every node has its own file; each guards against the database going back
//! behind anything that node signed.

use sealtrail_core::checkpoint::{Checkpoint, NoteVerifier};
use sealtrail_core::merkle::{verify_consistency, Hash};
use sealtrail_core::TenantId;
use sealtrail_store::{Store, StoreError};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The file in the data directory.
pub const FILE_NAME: &str = "signed-checkpoints.json";

/// Why the memory could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    /// Reading or writing the file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file holds something this build did not write, or a note the key does not sign.
    #[error("{path} is not a record of signed checkpoints: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
}

/// The remembered checkpoints with their notes, by log origin (each note verified once, when
/// read or signed).
pub struct SignedMemory {
    path: PathBuf,
    notes: Mutex<BTreeMap<String, (Checkpoint, String)>>,
}

impl SignedMemory {
    /// Reads the file at `path` (none yet: nothing remembered), keeping only notes that
    /// `verifier` opens: a note the key never signed is refused, not trusted.
    pub fn open(path: &Path, verifier: &NoteVerifier) -> Result<SignedMemory, MemoryError> {
        let notes = read(path, verifier)?;
        Ok(SignedMemory {
            path: path.to_path_buf(),
            notes: Mutex::new(notes),
        })
    }

    /// Where the memory is kept.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The remembered checkpoint of log `origin`, if any.
    pub fn get(&self, origin: &str) -> Option<Checkpoint> {
        let notes = crate::lock(&self.notes);
        notes.get(origin).map(|(checkpoint, _)| checkpoint.clone())
    }

    /// Remembers `signed` (each checkpoint with its note, of a tree that extends the one
    /// remembered for its log) and makes the file durable before returning.
    pub fn remember(&self, signed: &[(Checkpoint, String)]) -> Result<(), MemoryError> {
        if signed.is_empty() {
            return Ok(());
        }
        let mut held = crate::lock(&self.notes);
        let mut next = held.clone();
        for (checkpoint, note) in signed {
            next.insert(
                checkpoint.origin.clone(),
                (checkpoint.clone(), note.clone()),
            );
        }
        write(&self.path, &next)?;
        *held = next;
        Ok(())
    }
}

/// Every remembered note in the file at `path`, with the checkpoint it signs, by origin.
pub fn read(
    path: &Path,
    verifier: &NoteVerifier,
) -> Result<BTreeMap<String, (Checkpoint, String)>, MemoryError> {
    let invalid = |message: String| MemoryError::Invalid {
        path: path.to_path_buf(),
        message,
    };
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(source) => {
            return Err(MemoryError::Io {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let notes: BTreeMap<String, String> =
        serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?;
    let mut opened = BTreeMap::new();
    for (origin, note) in notes {
        let checkpoint = Checkpoint::open(&note, verifier)
            .map_err(|e| invalid(format!("the note of `{origin}` does not verify: {e}")))?;
        if checkpoint.origin != origin {
            return Err(invalid(format!(
                "a note of `{}` filed under `{origin}`",
                checkpoint.origin
            )));
        }
        opened.insert(origin, (checkpoint, note));
    }
    Ok(opened)
}

/// Replaces the file whole ([`crate::durable_file::replace`]).
fn write(path: &Path, notes: &BTreeMap<String, (Checkpoint, String)>) -> Result<(), MemoryError> {
    let notes: BTreeMap<&str, &str> = notes
        .iter()
        .map(|(origin, (_, note))| (origin.as_str(), note.as_str()))
        .collect();
    let text = serde_json::to_string_pretty(&notes).map_err(|e| MemoryError::Invalid {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    crate::durable_file::replace(path, text.as_bytes()).map_err(|source| MemoryError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Whether the tree of `size` leaves with `root` in `tenant`'s log extends `remembered`:
/// `Ok(Err(why))` when it is shorter or forks from it.
pub async fn extends(
    store: &dyn Store,
    tenant: TenantId,
    remembered: &Checkpoint,
    size: u64,
    root: &Hash,
) -> Result<Result<(), String>, StoreError> {
    if remembered.size > size {
        return Ok(Err(format!(
            "the log has {size} entries but a checkpoint was signed for {}: entries are missing at the end (first missing seq {size})",
            remembered.size
        )));
    }
    let proof = store
        .consistency_proof(tenant, remembered.size, size)
        .await?;
    if verify_consistency(remembered.size, size, &remembered.root, root, &proof).is_err() {
        return Ok(Err(format!(
            "the tree does not extend the signed checkpoint of size {}: entries before seq {} were changed",
            remembered.size, remembered.size
        )));
    }
    Ok(Ok(()))
}

/// The refusal to sign a log that went back behind what this node signed, with the way out.
pub fn rollback_message(origin: &str, why: &str, path: &Path) -> String {
    format!(
        "log `{origin}`: {why}. This node signed that checkpoint, so the database was restored from an older copy or changed behind its back; signing now would fork the log. Restore the newest copy of the database. If the loss is accepted, move {} aside and start again: anyone holding the newer checkpoint will still see the fork.",
        path.display()
    )
}
