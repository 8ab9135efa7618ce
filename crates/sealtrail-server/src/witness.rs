//! This process as a witness for other logs (C2SP tlog-witness): `POST /witness/add-checkpoint`.
//!
//! Why: a log's operator can restore an old database, or show different trees to different
//! people, and its own signature makes both look legitimate. A witness run by someone else
//! remembers the largest tree it cosigned for each log and cosigns a new checkpoint only with a
//! consistency proof from that tree, so a log that went back or forked gets no cosignature, and
//! anyone checking for a quorum of cosignatures notices. Any `sealtrail serve` can be a witness
//! for logs it is configured with (origin prefix + the log's verifier key).
//!
//! The record of what was cosigned lives in a file of this node's data directory
//! ([`STATE_FILE`]), replaced durably before a cosignature is returned, and checked and updated
//! under one lock, so two requests can never roll it back (the race the spec warns about).

use crate::secret_file::{self, SecretFileError};
use sealtrail_core::checkpoint::{split_note, Checkpoint, NoteVerifier};
use sealtrail_core::cosignature::{CosignatureVerifier, Cosigner};
use sealtrail_core::witness::{decide, AddCheckpoint, Decision};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The witness's record of the latest checkpoint it cosigned per log origin.
pub const STATE_FILE: &str = "witness-state.json";
/// The witness's key file, unless configured elsewhere.
pub const DEFAULT_KEY_FILE: &str = "witness-signing.key";
/// The witness's default name (on cosignature lines and in its verifier key).
pub const DEFAULT_NAME: &str = "sealtrail-witness";

/// A log this witness cosigns for: checkpoints whose origin starts with `origin_prefix`, signed
/// by `key`. A prefix (such as `sealtrail/0a1b2c3d/`) covers every tenant's log of one
/// Sealtrail installation, and no other key can claim those origins.
#[derive(Debug, Clone)]
pub struct WitnessedLog {
    /// The origins this entry covers.
    pub origin_prefix: String,
    /// The log's checkpoint verifier key.
    pub key: NoteVerifier,
}

impl std::str::FromStr for WitnessedLog {
    type Err = String;

    /// Parses `<origin prefix> <log verifier key>`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (prefix, key) = s
            .trim()
            .split_once(' ')
            .ok_or_else(|| format!("expected `<origin prefix> <log verifier key>`, got `{s}`"))?;
        if prefix.is_empty() {
            return Err("the origin prefix is empty".into());
        }
        let key = key
            .trim()
            .parse()
            .map_err(|e| format!("the log key of `{prefix}`: {e}"))?;
        Ok(WitnessedLog {
            origin_prefix: prefix.to_string(),
            key,
        })
    }
}

/// Why a checkpoint was not cosigned; each maps to the status the protocol prescribes.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// 400: the body is not a request, or the old size is beyond the checkpoint.
    #[error("{0}")]
    Malformed(String),
    /// 404: no configured log has this origin.
    #[error("this witness does not witness log `{0}`")]
    UnknownLog(String),
    /// 403: no signature by a key trusted for the origin verifies.
    #[error("no signature by a key trusted for `{0}` verifies")]
    Unsigned(String),
    /// 409: the old size is not the size last cosigned (which the body carries), or the same
    /// size arrived with another root.
    #[error("{0}")]
    Conflict(u64),
    /// 422: the consistency proof does not verify.
    #[error("the consistency proof from the cosigned size does not verify")]
    BadProof,
    /// 500: the record of cosigned checkpoints could not be made durable; nothing was signed.
    #[error("recording the cosigned checkpoint failed: {0}")]
    Storage(String),
}

/// Why the witness could not start.
#[derive(Debug, thiserror::Error)]
pub enum WitnessError {
    /// The key file.
    #[error(transparent)]
    Key(#[from] SecretFileError),
    /// The state file exists but cannot be read as one.
    #[error("witness state {path}: {message}")]
    State {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
}

/// The witness: its key, the logs it follows and what it cosigned.
pub struct Witness {
    cosigner: Cosigner,
    logs: Vec<WitnessedLog>,
    path: PathBuf,
    latest: Mutex<BTreeMap<String, Checkpoint>>,
}

impl Witness {
    /// Loads the key from `key_file` (created owner-only under `name` when missing) and the
    /// state from `state_file`.
    pub fn open(
        key_file: &Path,
        name: &str,
        state_file: &Path,
        logs: Vec<WitnessedLog>,
    ) -> Result<Witness, WitnessError> {
        let (cosigner, created) = secret_file::load_or_create(
            key_file,
            "witness key",
            |text| Cosigner::from_private_key_string(text).map_err(|e| e.to_string()),
            || {
                let cosigner = Cosigner::generate(name).map_err(|e| e.to_string())?;
                let text = cosigner.private_key_string();
                Ok((cosigner, text))
            },
        )?;
        if created {
            tracing::info!(path = %key_file.display(), key = %cosigner.verifier(), "created the witness key");
        }
        let latest = read_state(state_file)?;
        Ok(Witness {
            cosigner,
            logs,
            path: state_file.to_path_buf(),
            latest: Mutex::new(latest),
        })
    }

    /// The key logs configure to check this witness's cosignatures.
    pub fn verifier(&self) -> CosignatureVerifier {
        self.cosigner.verifier()
    }

    /// Handles one `add-checkpoint` body at `now` (Unix seconds): the cosignature line to
    /// return, or why not. Blocking: it fsyncs the state file before answering.
    pub fn add_checkpoint(&self, body: &str, now: u64) -> Result<String, Refusal> {
        let request = AddCheckpoint::parse(body).map_err(|e| Refusal::Malformed(e.to_string()))?;
        let (text, _) = split_note(&request.note).map_err(|e| Refusal::Malformed(e.to_string()))?;
        let checkpoint = Checkpoint::parse(text).map_err(|e| Refusal::Malformed(e.to_string()))?;
        let trusted: Vec<&WitnessedLog> = self
            .logs
            .iter()
            .filter(|log| checkpoint.origin.starts_with(&log.origin_prefix))
            .collect();
        if trusted.is_empty() {
            return Err(Refusal::UnknownLog(checkpoint.origin));
        }
        if !trusted
            .iter()
            .any(|log| log.key.open(&request.note).is_ok())
        {
            return Err(Refusal::Unsigned(checkpoint.origin));
        }
        let mut latest = self.latest.lock().unwrap_or_else(|p| p.into_inner());
        match decide(latest.get(&checkpoint.origin), &request, &checkpoint) {
            Decision::Cosign => {}
            Decision::OldTooLarge => {
                return Err(Refusal::Malformed(format!(
                    "old size {} is larger than the checkpoint's size {}",
                    request.old, checkpoint.size
                )))
            }
            Decision::Conflict(size) => return Err(Refusal::Conflict(size)),
            Decision::BadProof => {
                tracing::warn!(origin = %checkpoint.origin, old = request.old, size = checkpoint.size, "refused a checkpoint whose consistency proof does not verify: the log may have forked");
                return Err(Refusal::BadProof);
            }
        }
        let mut next = latest.clone();
        next.insert(checkpoint.origin.clone(), checkpoint.clone());
        write_state(&self.path, &next).map_err(|e| Refusal::Storage(e.to_string()))?;
        *latest = next;
        Ok(self.cosigner.cosign(text, now))
    }
}

/// The state file: origin → the checkpoint text last cosigned.
fn read_state(path: &Path) -> Result<BTreeMap<String, Checkpoint>, WitnessError> {
    let invalid = |message: String| WitnessError::State {
        path: path.to_path_buf(),
        message,
    };
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(invalid(e.to_string())),
    };
    let stored: BTreeMap<String, String> =
        serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?;
    let mut latest = BTreeMap::new();
    for (origin, body) in stored {
        let checkpoint = Checkpoint::parse(&body).map_err(|e| invalid(e.to_string()))?;
        if checkpoint.origin != origin {
            return Err(invalid(format!(
                "a checkpoint of `{}` filed under `{origin}`",
                checkpoint.origin
            )));
        }
        latest.insert(origin, checkpoint);
    }
    Ok(latest)
}

fn write_state(path: &Path, latest: &BTreeMap<String, Checkpoint>) -> std::io::Result<()> {
    let stored: BTreeMap<&str, String> = latest
        .iter()
        .map(|(origin, checkpoint)| (origin.as_str(), checkpoint.to_text()))
        .collect();
    let text = serde_json::to_string_pretty(&stored).map_err(std::io::Error::other)?;
    crate::durable_file::replace(path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealtrail_core::checkpoint::NoteSigner;
    use sealtrail_core::merkle::{consistency_proof, leaf_hash, MemoryTree};

    fn tree(n: u64, salt: u8) -> MemoryTree {
        let mut tree = MemoryTree::new();
        for i in 0..n {
            tree.push(leaf_hash(&[salt, i as u8]));
        }
        tree
    }

    fn signed(log: &NoteSigner, tree: &mut MemoryTree, origin: &str, size: u64) -> String {
        let checkpoint = Checkpoint {
            origin: origin.into(),
            size,
            root: tree.root_at(size).unwrap(),
        };
        checkpoint.sign(log).unwrap()
    }

    #[test]
    fn cosigns_extensions_remembers_them_across_restarts_and_refuses_rollbacks() {
        let dir = tempfile::tempdir().unwrap();
        let log = NoteSigner::from_seed("sealtrail", [1; 32]).unwrap();
        let logs = vec![format!("sealtrail/aa/ {}", log.verifier()).parse().unwrap()];
        let open = || {
            Witness::open(
                &dir.path().join(DEFAULT_KEY_FILE),
                "w.example",
                &dir.path().join(STATE_FILE),
                logs.clone(),
            )
            .unwrap()
        };
        let witness = open();
        let mut t = tree(30, 1);
        let first = signed(&log, &mut t, "sealtrail/aa/acme", 10);
        let body = |old: u64, proof: Vec<[u8; 32]>, note: &str| {
            AddCheckpoint {
                old,
                proof,
                note: note.into(),
            }
            .to_body()
        };
        let line = witness
            .add_checkpoint(&body(0, vec![], &first), 1000)
            .unwrap();
        let cosigned = format!("{first}{line}");
        assert_eq!(
            witness.verifier().cosigned_at(&cosigned).unwrap(),
            Some(1000)
        );

        let restarted = open();
        assert_eq!(restarted.verifier(), witness.verifier());
        let second = signed(&log, &mut t, "sealtrail/aa/acme", 30);
        assert!(matches!(
            restarted.add_checkpoint(&body(0, vec![], &second), 1001),
            Err(Refusal::Conflict(10))
        ));
        let proof = consistency_proof(&mut t, 10, 30).unwrap();
        assert!(restarted
            .add_checkpoint(&body(10, proof, &second), 1002)
            .is_ok());

        // The log went back to an older copy and grew differently.
        let mut forked = tree(40, 2);
        let rolled_back = signed(&log, &mut forked, "sealtrail/aa/acme", 20);
        assert!(matches!(
            restarted.add_checkpoint(&body(30, vec![], &rolled_back), 1003),
            Err(Refusal::Malformed(_))
        ));
        let grown = signed(&log, &mut forked, "sealtrail/aa/acme", 40);
        let forged = consistency_proof(&mut forked, 30, 40).unwrap();
        assert!(matches!(
            restarted.add_checkpoint(&body(30, forged, &grown), 1004),
            Err(Refusal::BadProof)
        ));

        let stranger = NoteSigner::from_seed("sealtrail", [9; 32]).unwrap();
        let foreign = signed(&stranger, &mut t, "sealtrail/aa/acme", 30);
        assert!(matches!(
            restarted.add_checkpoint(&body(30, vec![], &foreign), 1005),
            Err(Refusal::Unsigned(_))
        ));
        let elsewhere = signed(&log, &mut t, "sealtrail/bb/acme", 3);
        assert!(matches!(
            restarted.add_checkpoint(&body(0, vec![], &elsewhere), 1006),
            Err(Refusal::UnknownLog(_))
        ));
        assert!(matches!(
            restarted.add_checkpoint("garbage", 1007),
            Err(Refusal::Malformed(_))
        ));
    }
}
