//! C2SP `tlog-cosignature/v1`: a witness's timestamped Ed25519 statement that a checkpoint is
//! the largest consistent tree it has seen of that log.
//!
//! Why a second signature scheme: a log's own signature proves who wrote a checkpoint, not that
//! everyone was shown the same one. A witness that cosigns only trees extending the last one it
//! cosigned makes a fork (or a log restored from an old copy) visible to anyone who checks for a
//! quorum of cosignatures. The format is the ecosystem's (Sigsum, Go's `note`, omniwitness):
//!
//! ```text
//! signed message:  "cosignature/v1\n" "time <unix seconds>\n" <checkpoint text>
//! signature line:  — <witness name> base64(key id (4) || timestamp (8, big-endian) || sig (64))
//! key id:          SHA-256(<name> "\n" 0x04 || public key)[:4]
//! verifier key:    <name>+<hex key id>+base64(0x04 || public key)
//! ```

use crate::checkpoint::{
    key_id_for, key_text, parse_key_string_for, parse_private_key_for, random_seed, split_note,
    valid_name, NoteError,
};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};

/// Algorithm byte of Ed25519 `cosignature/v1` keys.
pub const ALG_COSIGNATURE_V1: u8 = 0x04;

/// The message a cosignature signs.
fn message(text: &str, timestamp: u64) -> String {
    format!("cosignature/v1\ntime {timestamp}\n{text}")
}

/// A witness's signing key. The secret leaves this type only through
/// [`Cosigner::private_key_string`], which the server writes to an owner-only file.
pub struct Cosigner {
    name: String,
    key: SigningKey,
}

impl std::fmt::Debug for Cosigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cosigner")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Cosigner {
    /// A fresh key from the operating system's random source.
    pub fn generate(name: &str) -> Result<Self, NoteError> {
        Self::from_seed(name, random_seed())
    }

    /// A key from its 32-byte seed.
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Self, NoteError> {
        if !valid_name(name) {
            return Err(NoteError::MalformedKey(format!(
                "invalid witness name `{name}`"
            )));
        }
        Ok(Cosigner {
            name: name.to_string(),
            key: SigningKey::from_bytes(&seed),
        })
    }

    /// Reads `PRIVATE+KEY+<name>+<id>+<base64(0x04 || seed)>`.
    pub fn from_private_key_string(s: &str) -> Result<Self, NoteError> {
        let (name, id, seed) = parse_private_key_for(s, ALG_COSIGNATURE_V1)?;
        let cosigner = Self::from_seed(&name, seed)?;
        if cosigner.verifier().id != id {
            return Err(NoteError::MalformedKey(
                "key id does not match the key".into(),
            ));
        }
        Ok(cosigner)
    }

    /// The private key for the key file.
    pub fn private_key_string(&self) -> String {
        let text = key_text(
            &self.name,
            self.verifier().id,
            ALG_COSIGNATURE_V1,
            &self.key.to_bytes(),
        );
        format!("PRIVATE+KEY+{text}")
    }

    /// The public half, which logs and their auditors are configured with.
    pub fn verifier(&self) -> CosignatureVerifier {
        let key = self.key.verifying_key();
        CosignatureVerifier {
            id: key_id_for(&self.name, ALG_COSIGNATURE_V1, key.as_bytes()),
            name: self.name.clone(),
            key,
        }
    }

    /// The signature line (with its newline) cosigning checkpoint `text` at `timestamp`.
    pub fn cosign(&self, text: &str, timestamp: u64) -> String {
        let signature = self.key.sign(message(text, timestamp).as_bytes());
        let mut blob = self.verifier().id.to_be_bytes().to_vec();
        blob.extend_from_slice(&timestamp.to_be_bytes());
        blob.extend_from_slice(&signature.to_bytes());
        format!("\u{2014} {} {}\n", self.name, B64.encode(blob))
    }
}

/// A witness's public key: what a log and an auditor check cosignatures with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CosignatureVerifier {
    name: String,
    id: u32,
    key: VerifyingKey,
}

impl std::fmt::Display for CosignatureVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&key_text(
            &self.name,
            self.id,
            ALG_COSIGNATURE_V1,
            self.key.as_bytes(),
        ))
    }
}

impl std::str::FromStr for CosignatureVerifier {
    type Err = NoteError;

    /// Parses `<name>+<hex key id>+<base64(0x04 || public key)>`, checking the id.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, id, key) = parse_key_string_for(s, ALG_COSIGNATURE_V1)?;
        if key_id_for(&name, ALG_COSIGNATURE_V1, &key) != id {
            return Err(NoteError::MalformedKey(
                "key id does not match the key".into(),
            ));
        }
        let key = VerifyingKey::from_bytes(&key)
            .map_err(|_| NoteError::MalformedKey("not a valid Ed25519 public key".into()))?;
        Ok(CosignatureVerifier { name, id, key })
    }
}

impl CosignatureVerifier {
    /// The witness's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The time of this witness's valid cosignature on `note`, `None` when the note carries
    /// none by this key; a line by this key that does not verify is an error, not a skip.
    pub fn cosigned_at(&self, note: &str) -> Result<Option<u64>, NoteError> {
        let (text, signatures) = split_note(note)?;
        let mut found = None;
        for signature in signatures {
            if signature.name != self.name || signature.key_id != self.id {
                continue;
            }
            let (time, sig) = signature
                .blob
                .split_at_checked(8)
                .ok_or_else(|| NoteError::MalformedNote("cosignature too short".into()))?;
            let mut stamp = [0u8; 8];
            stamp.copy_from_slice(time);
            let timestamp = u64::from_be_bytes(stamp);
            let sig = Signature::from_slice(sig)
                .map_err(|_| NoteError::MalformedNote("bad Ed25519 signature length".into()))?;
            if timestamp > i64::MAX as u64
                || self
                    .key
                    .verify_strict(message(text, timestamp).as_bytes(), &sig)
                    .is_err()
            {
                return Err(NoteError::Unverified(self.to_string()));
            }
            found = Some(timestamp);
        }
        Ok(found)
    }
}

impl CosignatureVerifier {
    /// This witness's valid cosignature line for checkpoint `text` among the lines of a
    /// witness's answer (`body`), without its newline: lines by other keys, lines that do not
    /// verify and anything else in the body are left out, so an answer can add nothing to a
    /// note but this witness's own cosignature.
    pub fn verified_line(&self, text: &str, body: &str) -> Option<String> {
        body.lines().find_map(|line| {
            let signature = crate::checkpoint::signature_line(line).ok()?;
            if signature.name != self.name || signature.key_id != self.id {
                return None;
            }
            match self.cosigned_at(&format!("{text}\n{line}\n")) {
                Ok(Some(_)) => Some(line.to_string()),
                _ => None,
            }
        })
    }
}

/// How many of `witnesses` validly cosigned `note` (each counted once), with the names of
/// those whose lines do not verify.
/// A key given twice counts once.
pub fn count_cosignatures(note: &str, witnesses: &[CosignatureVerifier]) -> (usize, Vec<String>) {
    let mut valid = 0;
    let mut invalid = Vec::new();
    let mut seen: Vec<&CosignatureVerifier> = Vec::new();
    for witness in witnesses {
        if seen.contains(&witness) {
            continue;
        }
        seen.push(witness);
        match witness.cosigned_at(note) {
            Ok(Some(_)) => valid += 1,
            Ok(None) => {}
            Err(_) => invalid.push(witness.name().to_string()),
        }
    }
    (valid, invalid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::{merge_signatures, Checkpoint, NoteSigner};

    fn signed() -> (NoteSigner, String) {
        let log = NoteSigner::from_seed("sealtrail", [3; 32]).unwrap();
        let cp = Checkpoint {
            origin: "sealtrail/00aa/acme".into(),
            size: 5,
            root: [9; 32],
        };
        let note = cp.sign(&log).unwrap();
        (log, note)
    }

    #[test]
    fn a_cosignature_verifies_and_merges_into_the_note_once() {
        let (log, note) = signed();
        let witness = Cosigner::from_seed("witness.example/w1", [4; 32]).unwrap();
        let text = note.split_once("\n\n").unwrap().0.to_string() + "\n";
        let line = witness.cosign(&text, 1_700_000_000);
        let cosigned = merge_signatures(&note, &format!("{text}\n{line}"))
            .unwrap()
            .unwrap();
        assert_eq!(
            witness.verifier().cosigned_at(&cosigned).unwrap(),
            Some(1_700_000_000)
        );
        assert_eq!(log.verifier().open(&cosigned).unwrap(), text);
        // The same witness again (a later timestamp) adds nothing.
        let again = witness.cosign(&text, 1_700_000_999);
        assert_eq!(
            merge_signatures(&cosigned, &format!("{text}\n{again}")).unwrap(),
            None
        );
        // A verifier key round-trips, and is not a note key.
        let vkey = witness.verifier().to_string();
        assert_eq!(
            vkey.parse::<CosignatureVerifier>().unwrap(),
            witness.verifier()
        );
        assert!(vkey.parse::<crate::checkpoint::NoteVerifier>().is_err());
        let reloaded = Cosigner::from_private_key_string(&witness.private_key_string()).unwrap();
        assert_eq!(reloaded.verifier(), witness.verifier());
        assert_eq!(
            count_cosignatures(&cosigned, &[witness.verifier()]),
            (1, vec![])
        );
    }

    #[test]
    fn only_the_witness_own_valid_line_is_taken_from_an_answer() {
        let (_, note) = signed();
        let text = note.split_once("\n\n").unwrap().0.to_string() + "\n";
        let witness = Cosigner::from_seed("w1", [5; 32]).unwrap();
        let other = Cosigner::from_seed("w2", [6; 32]).unwrap();
        let mine = witness.cosign(&text, 9);
        let forged = mine.replacen('A', "B", 1);
        let body = format!(
            "junk\n{}{forged}{}{mine}",
            other.cosign(&text, 1),
            "\u{2014} w1 AAAA\n"
        );
        assert_eq!(
            witness.verifier().verified_line(&text, &body),
            Some(mine.trim_end().to_string())
        );
        assert_eq!(witness.verifier().verified_line(&text, "nothing\n"), None);
        let twice = [witness.verifier(), witness.verifier()];
        let cosigned = format!("{note}{mine}");
        assert_eq!(count_cosignatures(&cosigned, &twice), (1, vec![]));
    }

    #[test]
    fn altered_cosignatures_and_other_texts_are_refused() {
        let (_, note) = signed();
        let witness = Cosigner::from_seed("w", [5; 32]).unwrap();
        let text = note.split_once("\n\n").unwrap().0.to_string() + "\n";
        let other_text = text.replacen("\n5\n", "\n6\n", 1);
        let line = witness.cosign(&other_text, 7);
        let forged = format!("{note}{line}");
        assert!(witness.verifier().cosigned_at(&forged).is_err());
        assert_eq!(count_cosignatures(&forged, &[witness.verifier()]).0, 0);
        assert!(merge_signatures(&note, &format!("{other_text}\n{line}")).is_err());
        assert_eq!(witness.verifier().cosigned_at(&note).unwrap(), None);
    }
}
