//! C2SP `tlog-witness`: the `add-checkpoint` request and the witness's decision, with no I/O.
//!
//! Why here: both sides of the protocol — a Sealtrail log asking witnesses for cosignatures and
//! a Sealtrail process acting as a witness for other logs — must agree byte for byte, and the
//! rules that keep a witness honest (never cosign a tree that does not extend the last one it
//! cosigned; check the old size and the proof atomically with the update) are pure logic that
//! should be tested apart from HTTP.
//!
//! ```text
//! old <size>\n
//! <base64 consistency proof hash>\n ...   (at most 63)
//! \n
//! <signed checkpoint note>
//! ```

use crate::checkpoint::Checkpoint;
use crate::merkle::{verify_consistency, Hash};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

/// The most proof lines a request may carry.
pub const MAX_PROOF_LINES: usize = 63;
/// The content type of a 409 body (the witness's latest cosigned size).
pub const SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";

/// A parsed `add-checkpoint` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpoint {
    /// The size the client believes the witness last cosigned.
    pub old: u64,
    /// The RFC 6962 consistency proof from `old` to the checkpoint's size.
    pub proof: Vec<Hash>,
    /// The signed checkpoint note, as sent.
    pub note: String,
}

/// Why a request was malformed (the witness answers 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed add-checkpoint request: {0}")]
pub struct BadRequest(pub String);

impl AddCheckpoint {
    /// Parses a request body.
    pub fn parse(body: &str) -> Result<AddCheckpoint, BadRequest> {
        let bad = |why: &str| BadRequest(why.to_string());
        let (head, note) = body
            .split_once("\n\n")
            .ok_or_else(|| bad("no empty line before the checkpoint"))?;
        let mut lines = head.split('\n');
        let old = lines
            .next()
            .and_then(|l| l.strip_prefix("old "))
            .filter(|s| *s == "0" || !s.starts_with('0'))
            .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or_else(|| bad("the first line must be `old <size>` without leading zeroes"))?;
        let mut proof = Vec::new();
        for line in lines {
            if proof.len() == MAX_PROOF_LINES {
                return Err(bad("more than 63 proof lines"));
            }
            let hash = B64
                .decode(line)
                .ok()
                .and_then(|h| Hash::try_from(h).ok())
                .ok_or_else(|| bad("a proof line is not a base64 SHA-256 hash"))?;
            proof.push(hash);
        }
        Ok(AddCheckpoint {
            old,
            proof,
            note: note.to_string(),
        })
    }

    /// The request body.
    pub fn to_body(&self) -> String {
        let mut body = format!("old {}\n", self.old);
        for hash in &self.proof {
            body.push_str(&B64.encode(hash));
            body.push('\n');
        }
        body.push('\n');
        body.push_str(&self.note);
        body
    }
}

/// What a witness does with a verified checkpoint, given the latest one it cosigned for the
/// log (`None`: never cosigned one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Cosign it and remember it as the latest (the caller persists before answering).
    Cosign,
    /// 400: the old size is beyond the checkpoint.
    OldTooLarge,
    /// 409: the old size is not what the witness cosigned last (the body says its size), or
    /// the same size with another root.
    Conflict(u64),
    /// 422: the proof does not show the checkpoint extends the one cosigned.
    BadProof,
}

/// The witness's rules (C2SP tlog-witness, `add-checkpoint`).
pub fn decide(
    latest: Option<&Checkpoint>,
    request: &AddCheckpoint,
    checkpoint: &Checkpoint,
) -> Decision {
    if request.old > checkpoint.size {
        return Decision::OldTooLarge;
    }
    let known = latest.map_or(0, |l| l.size);
    if request.old != known {
        return Decision::Conflict(known);
    }
    let Some(latest) = latest else {
        return if request.proof.is_empty() {
            Decision::Cosign
        } else {
            Decision::BadProof
        };
    };
    if latest.size == checkpoint.size {
        return if latest.root == checkpoint.root && request.proof.is_empty() {
            Decision::Cosign
        } else if latest.root != checkpoint.root {
            Decision::Conflict(known)
        } else {
            Decision::BadProof
        };
    }
    if latest.size == 0 {
        return if request.proof.is_empty() {
            Decision::Cosign
        } else {
            Decision::BadProof
        };
    }
    match verify_consistency(
        latest.size,
        checkpoint.size,
        &latest.root,
        &checkpoint.root,
        &request.proof,
    ) {
        Ok(()) => Decision::Cosign,
        Err(_) => Decision::BadProof,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{consistency_proof, leaf_hash, root, MemoryTree};
    use proptest::prelude::*;

    fn tree_of(leaves: &[Hash]) -> MemoryTree {
        let mut tree = MemoryTree::new();
        for leaf in leaves {
            tree.push(*leaf);
        }
        tree
    }

    fn checkpoint(tree: &mut MemoryTree, size: u64) -> Checkpoint {
        Checkpoint {
            origin: "o".into(),
            size,
            root: root(tree, size).unwrap(),
        }
    }

    fn leaves(n: u64, salt: u8) -> Vec<Hash> {
        (0..n)
            .map(|i| leaf_hash(&[salt, i as u8, (i >> 8) as u8]))
            .collect()
    }

    #[test]
    fn bodies_round_trip_and_malformed_ones_are_refused() {
        let request = AddCheckpoint {
            old: 15,
            proof: vec![[1; 32], [2; 32]],
            note: "o\n20\nAAAA\n\n\u{2014} k AAAA\n".into(),
        };
        assert_eq!(AddCheckpoint::parse(&request.to_body()), Ok(request));
        for bad in [
            "old 01\n\nx",
            "old 1\nnot-base64\n\nx",
            "new 1\n\nx",
            "old 1\n",
        ] {
            assert!(AddCheckpoint::parse(bad).is_err(), "accepted {bad:?}");
        }
        let too_many = format!(
            "old 1\n{}\nx",
            format!("{}\n", B64.encode([0u8; 32])).repeat(64)
        );
        assert!(AddCheckpoint::parse(&too_many).is_err());
    }

    #[test]
    fn the_witness_rules() {
        let mut tree = tree_of(&leaves(20, 1));
        let (c7, c20) = (checkpoint(&mut tree, 7), checkpoint(&mut tree, 20));
        let proof = consistency_proof(&mut tree, 7, 20).unwrap();
        let ask = |old, proof: Vec<Hash>| AddCheckpoint {
            old,
            proof,
            note: String::new(),
        };
        assert_eq!(decide(None, &ask(0, vec![]), &c7), Decision::Cosign);
        assert_eq!(decide(None, &ask(3, vec![]), &c7), Decision::Conflict(0));
        assert_eq!(
            decide(Some(&c7), &ask(0, vec![]), &c20),
            Decision::Conflict(7)
        );
        assert_eq!(
            decide(Some(&c7), &ask(7, proof.clone()), &c20),
            Decision::Cosign
        );
        assert_eq!(decide(Some(&c20), &ask(20, vec![]), &c20), Decision::Cosign);
        assert_eq!(
            decide(Some(&c7), &ask(30, vec![]), &c20),
            Decision::OldTooLarge
        );
        // A rolled-back log: the witness saw 20, the log now shows 7.
        assert_eq!(
            decide(Some(&c20), &ask(7, vec![]), &c7),
            Decision::Conflict(20)
        );
        assert_eq!(
            decide(Some(&c20), &ask(0, vec![]), &c7),
            Decision::Conflict(20)
        );
        // A fork: another tree of the same or a larger size.
        let mut forked = tree_of(&leaves(20, 2));
        let f20 = checkpoint(&mut forked, 20);
        assert_eq!(
            decide(Some(&c20), &ask(20, vec![]), &f20),
            Decision::Conflict(20)
        );
        let forged = consistency_proof(&mut forked, 7, 20).unwrap();
        assert_eq!(decide(Some(&c7), &ask(7, forged), &f20), Decision::BadProof);
    }

    proptest! {
        #[test]
        fn only_honest_extensions_are_cosigned(old in 1u64..40, extra in 0u64..40, fork: bool) {
            let new = old + extra;
            let mut tree = tree_of(&leaves(new, 1));
            let before = checkpoint(&mut tree, old);
            let proof = consistency_proof(&mut tree, old, new).unwrap();
            let mut other = tree_of(&leaves(new, if fork { 2 } else { 1 }));
            let after = checkpoint(&mut other, new);
            let request = AddCheckpoint { old, proof, note: String::new() };
            let decision = decide(Some(&before), &request, &after);
            prop_assert_eq!(decision == Decision::Cosign, !fork);
        }
    }
}
