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
        if !prefix.ends_with('/') || prefix.len() < 2 {
            return Err(format!(
                "the origin prefix `{prefix}` must end with `/` (e.g. `sealtrail/1a2b3c4d/`), so it names whole origins"
            ));
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
    /// The configured logs contradict each other.
    #[error("{0}")]
    Config(String),
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
    /// Origin → the latest cosigned checkpoint and the log-signed note it came in.
    latest: Mutex<BTreeMap<String, (Checkpoint, String)>>,
    /// Requests handled at once; more are answered 503, so a flood cannot tie up the blocking
    /// threads the store's reads also use.
    slots: std::sync::Arc<tokio::sync::Semaphore>,
}

/// Requests a witness handles at once.
const CONCURRENT_REQUESTS: usize = 4;
/// The directory (beside the state file) where the witness keeps a log's conflicting signed
/// notes: proof, for anyone, that the log showed two histories.
pub const EVIDENCE_DIR: &str = "witness-evidence";

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
        for (i, log) in logs.iter().enumerate() {
            if let Some(other) = logs.iter().take(i).find(|o| {
                o.origin_prefix.starts_with(&log.origin_prefix)
                    || log.origin_prefix.starts_with(&o.origin_prefix)
            }) {
                return Err(WitnessError::Config(format!(
                    "the origin prefixes `{}` and `{}` overlap: each origin must belong to one log key",
                    other.origin_prefix, log.origin_prefix
                )));
            }
        }
        let latest = read_state(state_file, &logs)?;
        Ok(Witness {
            cosigner,
            logs,
            path: state_file.to_path_buf(),
            latest: Mutex::new(latest),
            slots: std::sync::Arc::new(tokio::sync::Semaphore::new(CONCURRENT_REQUESTS)),
        })
    }

    /// A slot to handle one request in (held until the work ends, even if the request
    /// timed out first), or `None` when the witness is busy (answer 503).
    pub fn slot(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        self.slots.clone().try_acquire_owned().ok()
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
        // Prefixes never overlap (checked at open), so at most one log key speaks for an origin.
        let Some(log) = self
            .logs
            .iter()
            .find(|log| checkpoint.origin.starts_with(&log.origin_prefix))
        else {
            return Err(Refusal::UnknownLog(checkpoint.origin));
        };
        if log.key.open(&request.note).is_err() {
            return Err(Refusal::Unsigned(checkpoint.origin));
        }
        let mut latest = crate::lock(&self.latest);
        let previous = latest.get(&checkpoint.origin);
        match decide(previous.map(|(c, _)| c), &request, &checkpoint) {
            Decision::Cosign => {}
            Decision::OldTooLarge => {
                return Err(Refusal::Malformed(format!(
                    "old size {} is larger than the checkpoint's size {}",
                    request.old, checkpoint.size
                )))
            }
            Decision::Conflict(size) => {
                if let Some((seen, seen_note)) = previous.filter(|(c, _)| c.size == checkpoint.size)
                {
                    if seen.root != checkpoint.root {
                        self.keep_evidence(&checkpoint, &[seen_note.as_str(), &request.note]);
                    }
                }
                return Err(Refusal::Conflict(size));
            }
            Decision::BadProof => {
                let seen = previous.map(|(_, note)| note.as_str()).unwrap_or_default();
                self.keep_evidence(&checkpoint, &[seen, body]);
                return Err(Refusal::BadProof);
            }
        }
        // The same checkpoint again (a retry, or anyone replaying it) changes nothing on disk.
        let unchanged = previous.is_some_and(|(c, _)| c == &checkpoint);
        if !unchanged {
            let mut next = latest.clone();
            next.insert(
                checkpoint.origin.clone(),
                (checkpoint.clone(), request.note.clone()),
            );
            write_state(&self.path, &next).map_err(|e| Refusal::Storage(e.to_string()))?;
            *latest = next;
        }
        Ok(self.cosigner.cosign(text, now))
    }

    /// Keeps what a log signed that contradicts what this witness cosigned (two roots for one
    /// size, or a tree its proof does not connect), and says so loudly: the log forked or went
    /// back. Only a log's valid signature gets here, so only a misbehaving log fills it.
    fn keep_evidence(&self, checkpoint: &Checkpoint, notes: &[&str]) {
        metrics::counter!("sealtrail_witness_inconsistent_checkpoints_total").increment(1);
        tracing::error!(origin = %checkpoint.origin, size = checkpoint.size, "the log signed a checkpoint inconsistent with the one this witness cosigned: it forked or was rolled back; evidence kept");
        let dir = self.path.with_file_name(EVIDENCE_DIR);
        let name: String = format!(
            "{}-{}-{}",
            checkpoint.origin,
            checkpoint.size,
            hex::encode(&checkpoint.root[..8])
        )
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
        let evidence = notes.join("\n----\n");
        if let Err(e) =
            crate::durable_file::replace(&dir.join(format!("{name}.txt")), evidence.as_bytes())
        {
            tracing::error!(error = %e, "keeping the evidence failed");
        }
    }
}

/// The state file: origin → the log-signed note of the checkpoint last cosigned, each checked
/// again with its log's key (a state file edited by hand is refused, not trusted).
fn read_state(
    path: &Path,
    logs: &[WitnessedLog],
) -> Result<BTreeMap<String, (Checkpoint, String)>, WitnessError> {
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
    for (origin, note) in stored {
        let Some(log) = logs.iter().find(|l| origin.starts_with(&l.origin_prefix)) else {
            // A log no longer witnessed: keep its record, in case it is configured again.
            let (body, _) = split_note(&note).map_err(|e| invalid(e.to_string()))?;
            let checkpoint = Checkpoint::parse(body).map_err(|e| invalid(e.to_string()))?;
            latest.insert(origin, (checkpoint, note));
            continue;
        };
        let checkpoint = Checkpoint::open(&note, &log.key)
            .map_err(|e| invalid(format!("the note of `{origin}`: {e}")))?;
        if checkpoint.origin != origin {
            return Err(invalid(format!(
                "a checkpoint of `{}` filed under `{origin}`",
                checkpoint.origin
            )));
        }
        latest.insert(origin, (checkpoint, note));
    }
    Ok(latest)
}

fn write_state(
    path: &Path,
    latest: &BTreeMap<String, (Checkpoint, String)>,
) -> std::io::Result<()> {
    let stored: BTreeMap<&str, &str> = latest
        .iter()
        .map(|(origin, (_, note))| (origin.as_str(), note.as_str()))
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

        // The fork and the rolled-back proof left evidence: the log's own conflicting notes.
        let evidence: Vec<_> = std::fs::read_dir(dir.path().join(EVIDENCE_DIR))
            .unwrap()
            .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
            .collect();
        assert_eq!(evidence.len(), 1, "{evidence:?}");
        assert!(
            evidence[0].contains(&grown),
            "the forked checkpoint is kept"
        );

        // The same checkpoint again is cosigned without rewriting the state.
        std::fs::remove_file(dir.path().join(STATE_FILE)).unwrap();
        let again = restarted.add_checkpoint(&body(30, vec![], &second), 1008);
        assert!(again.is_ok());
        assert!(
            !dir.path().join(STATE_FILE).exists(),
            "a replay writes nothing"
        );
    }
}

#[cfg(test)]
mod configuration_and_race_tests {
    use super::*;
    use sealtrail_core::checkpoint::NoteSigner;
    use sealtrail_core::merkle::{consistency_proof, leaf_hash, MemoryTree};
    use std::sync::{Arc, Mutex as StdMutex};

    #[test]
    fn prefixes_name_whole_origins_and_never_overlap() {
        let key = NoteSigner::from_seed("sealtrail", [1; 32])
            .unwrap()
            .verifier();
        assert!(format!("sealtrail/1a2b {key}")
            .parse::<WitnessedLog>()
            .is_err());
        let dir = tempfile::tempdir().unwrap();
        let overlapping = vec![
            format!("sealtrail/ {key}").parse().unwrap(),
            format!("sealtrail/1a2b/ {key}").parse().unwrap(),
        ];
        let opened = Witness::open(
            &dir.path().join(DEFAULT_KEY_FILE),
            "w",
            &dir.path().join(STATE_FILE),
            overlapping,
        );
        assert!(matches!(opened, Err(WitnessError::Config(_))));
    }

    /// Many requests at once, each racing to extend the log to a size of its own: whatever
    /// order they run in, the witness ends at the largest size it cosigned, never behind it.
    #[test]
    fn concurrent_requests_never_move_the_witness_back() {
        let dir = tempfile::tempdir().unwrap();
        let log = Arc::new(NoteSigner::from_seed("sealtrail", [1; 32]).unwrap());
        let logs = vec![format!("sealtrail/aa/ {}", log.verifier()).parse().unwrap()];
        let witness = Arc::new(
            Witness::open(
                &dir.path().join(DEFAULT_KEY_FILE),
                "w",
                &dir.path().join(STATE_FILE),
                logs,
            )
            .unwrap(),
        );
        let mut tree = MemoryTree::new();
        for i in 0..64u8 {
            tree.push(leaf_hash(&[i]));
        }
        let tree = Arc::new(StdMutex::new(tree));
        let cosigned = Arc::new(StdMutex::new(Vec::new()));
        let threads: Vec<_> = (0..8u64)
            .map(|t| {
                let (witness, log, tree, cosigned) =
                    (witness.clone(), log.clone(), tree.clone(), cosigned.clone());
                std::thread::spawn(move || {
                    for round in 0..16u64 {
                        let target = 1 + (t * 7 + round * 13) % 64;
                        let (note, proof_from) = {
                            let mut tree = tree.lock().unwrap();
                            let root = tree.root_at(target).unwrap();
                            let cp = Checkpoint {
                                origin: "sealtrail/aa/x".into(),
                                size: target,
                                root,
                            };
                            (
                                cp.sign(&log).unwrap(),
                                |tree: &mut MemoryTree, old: u64, new: u64| {
                                    consistency_proof(tree, old, new).unwrap()
                                },
                            )
                        };
                        let mut old = 0;
                        for _ in 0..3 {
                            let proof = if old == 0 || old > target {
                                Vec::new()
                            } else {
                                proof_from(&mut tree.lock().unwrap(), old, target)
                            };
                            let body = AddCheckpoint {
                                old,
                                proof,
                                note: note.clone(),
                            }
                            .to_body();
                            match witness.add_checkpoint(&body, round) {
                                Ok(_) => {
                                    cosigned.lock().unwrap().push(target);
                                    break;
                                }
                                Err(Refusal::Conflict(size)) => old = size,
                                Err(_) => break,
                            }
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let largest = cosigned.lock().unwrap().iter().copied().max().unwrap();
        let state = read_state(&dir.path().join(STATE_FILE), &[]).unwrap();
        assert_eq!(state["sealtrail/aa/x"].0.size, largest);
        assert_eq!(
            witness.latest.lock().unwrap()["sealtrail/aa/x"].0.size,
            largest
        );
    }
}
