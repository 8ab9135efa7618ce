//! Signed checkpoints: the C2SP `signed-note` and `tlog-checkpoint` formats with Ed25519.
//!
//! A checkpoint commits the log to a size and root hash. Using the ecosystem's formats (the
//! ones Go's sumdb, Sigstore and transparency-dev tooling read) means an auditor can check our
//! checkpoints with tools we did not write.
//!
//! ```text
//! <origin>\n<tree size>\n<base64 root>\n
//! \n
//! — <key name> <base64(key id (4 bytes) || Ed25519 signature (64 bytes))>\n
//! ```
//!
//! The key id is the first four bytes of `SHA-256(name || "\n" || 0x01 || public key)`; a
//! verifier key is written `<name>+<hex key id>+<base64(0x01 || public key)>`.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::merkle::Hash;

/// Algorithm byte for Ed25519 in C2SP signed-note key encodings.
const ALG_ED25519: u8 = 0x01;
/// The signature line prefix: an em dash and a space.
pub(crate) const SIG_PREFIX: &str = "\u{2014} ";

/// Why a key, note or checkpoint was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// A key string is not in the `name+keyid+base64` form or has the wrong algorithm/length.
    #[error("malformed key: {0}")]
    MalformedKey(String),
    /// The note text or a signature line is not well formed.
    #[error("malformed note: {0}")]
    MalformedNote(String),
    /// No signature by the given key verified.
    #[error("no valid signature by key `{0}`")]
    Unverified(String),
    /// The note verified but its text is not a checkpoint.
    #[error("malformed checkpoint: {0}")]
    MalformedCheckpoint(String),
}

/// Key names must be non-empty and contain no whitespace or `+` (they are `+`-delimited).
pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c == '+')
}

/// The 4-byte key id binding a name and a signature algorithm to a public key.
pub(crate) fn key_id_for(name: &str, alg: u8, public: &[u8; 32]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([alg]);
    h.update(public);
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// The key id of an Ed25519 note key.
fn key_id(name: &str, public: &[u8; 32]) -> u32 {
    key_id_for(name, ALG_ED25519, public)
}

/// Splits an Ed25519 note key `name+hex+base64`.
fn parse_key_string(s: &str) -> Result<(String, u32, [u8; 32]), NoteError> {
    parse_key_string_for(s, ALG_ED25519)
}

/// `name+hex key id+base64(alg || 32-byte key)`: the text of a verifier key, and (after
/// `PRIVATE+KEY+`) of a private key, for every key kind (note signers, cosigners).
pub(crate) fn key_text(name: &str, id: u32, alg: u8, key: &[u8; 32]) -> String {
    let mut raw = vec![alg];
    raw.extend_from_slice(key);
    format!("{name}+{id:08x}+{}", B64.encode(raw))
}

/// A fresh 32-byte Ed25519 seed from the operating system's random source.
pub(crate) fn random_seed() -> [u8; 32] {
    let mut seed = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut seed);
    seed
}

/// Splits `PRIVATE+KEY+<name>+<id>+<base64(alg || seed)>` (the Go `note` encoding); the
/// caller checks the id against the key the seed makes.
pub(crate) fn parse_private_key_for(
    s: &str,
    alg: u8,
) -> Result<(String, u32, [u8; 32]), NoteError> {
    let rest = s
        .trim()
        .strip_prefix("PRIVATE+KEY+")
        .ok_or_else(|| NoteError::MalformedKey("expected PRIVATE+KEY+...".into()))?;
    parse_key_string_for(rest, alg)
}

/// Splits `name+hex+base64(alg || 32-byte key)`, refusing any other algorithm byte.
pub(crate) fn parse_key_string_for(
    s: &str,
    expected_alg: u8,
) -> Result<(String, u32, [u8; 32]), NoteError> {
    let bad = |why: &str| NoteError::MalformedKey(why.to_string());
    // The base64 key may itself contain '+', so only the first two '+' delimit.
    let mut parts = s.trim().splitn(3, '+');
    let (Some(name), Some(id_hex), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad("expected <name>+<key id>+<base64 key>"));
    };
    if !valid_name(name) {
        return Err(bad("invalid key name"));
    }
    if id_hex.len() != 8 {
        return Err(bad("key id must be 8 hex digits"));
    }
    let id = u32::from_str_radix(id_hex, 16).map_err(|_| bad("key id is not hex"))?;
    let raw = B64.decode(b64).map_err(|_| bad("key is not base64"))?;
    let (alg, key) = raw.split_first().ok_or_else(|| bad("empty key"))?;
    if *alg != expected_alg {
        return Err(bad(&format!(
            "expected a key of algorithm 0x{expected_alg:02x}, found 0x{alg:02x}"
        )));
    }
    let key: [u8; 32] = key
        .try_into()
        .map_err(|_| bad("Ed25519 keys are 32 bytes"))?;
    Ok((name.to_string(), id, key))
}

/// A named Ed25519 signing key. The secret never leaves this type except through
/// [`NoteSigner::private_key_string`], which the server writes to a 0600 file.
pub struct NoteSigner {
    name: String,
    key: SigningKey,
}

impl std::fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NoteSigner")
            .field("name", &self.name)
            .field("key_id", &format_args!("{:08x}", self.key_id()))
            .finish_non_exhaustive()
    }
}

impl NoteSigner {
    /// A fresh key from the operating system's random source.
    pub fn generate(name: &str) -> Result<Self, NoteError> {
        Self::from_seed(name, random_seed())
    }

    /// A key from its 32-byte seed.
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Self, NoteError> {
        if !valid_name(name) {
            return Err(NoteError::MalformedKey(format!(
                "invalid key name `{name}`"
            )));
        }
        Ok(NoteSigner {
            name: name.to_string(),
            key: SigningKey::from_bytes(&seed),
        })
    }

    /// Reads `PRIVATE+KEY+<name>+<id>+<base64(0x01 || seed)>`, the Go `note` encoding.
    pub fn from_private_key_string(s: &str) -> Result<Self, NoteError> {
        let (name, id, seed) = parse_private_key_for(s, ALG_ED25519)?;
        let signer = Self::from_seed(&name, seed)?;
        if signer.key_id() != id {
            return Err(NoteError::MalformedKey(
                "key id does not match the key".into(),
            ));
        }
        Ok(signer)
    }

    /// The private key in the Go `note` encoding, for the key file.
    pub fn private_key_string(&self) -> String {
        let text = key_text(&self.name, self.key_id(), ALG_ED25519, &self.key.to_bytes());
        format!("PRIVATE+KEY+{text}")
    }

    /// The key's name, which appears on every signature line.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The 4-byte key id.
    pub fn key_id(&self) -> u32 {
        key_id(&self.name, self.key.verifying_key().as_bytes())
    }

    /// The matching verifier.
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier {
            name: self.name.clone(),
            id: self.key_id(),
            key: self.key.verifying_key(),
        }
    }

    /// Signs `text` (which must end in a newline and contain no blank line) as a note.
    pub fn sign(&self, text: &str) -> Result<String, NoteError> {
        check_text(text)?;
        let signature = self.key.sign(text.as_bytes());
        let mut blob = self.key_id().to_be_bytes().to_vec();
        blob.extend_from_slice(&signature.to_bytes());
        Ok(format!(
            "{text}\n{SIG_PREFIX}{} {}\n",
            self.name,
            B64.encode(blob)
        ))
    }
}

/// The public half: what auditors are given (as [`NoteVerifier::to_string`]) to check notes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    id: u32,
    key: VerifyingKey,
}

impl std::fmt::Display for NoteVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&key_text(
            &self.name,
            self.id,
            ALG_ED25519,
            self.key.as_bytes(),
        ))
    }
}

impl std::str::FromStr for NoteVerifier {
    type Err = NoteError;

    /// Parses `<name>+<hex key id>+<base64(0x01 || public key)>`, checking the id.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, id, key) = parse_key_string(s)?;
        if key_id(&name, &key) != id {
            return Err(NoteError::MalformedKey(
                "key id does not match the key".into(),
            ));
        }
        let key = VerifyingKey::from_bytes(&key)
            .map_err(|_| NoteError::MalformedKey("not a valid Ed25519 public key".into()))?;
        Ok(NoteVerifier { name, id, key })
    }
}

impl NoteVerifier {
    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The raw 32-byte public key (for tools that want it without the note encoding).
    pub fn public_key(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// Verifies `note` and returns its text. Signatures by other keys are ignored, as the
    /// format intends (a note may carry cosignatures); at least one line must be ours and valid.
    pub fn open<'n>(&self, note: &'n str) -> Result<&'n str, NoteError> {
        let (text, signatures) = split_note(note)?;
        let mut found = false;
        for signature in signatures {
            if signature.name != self.name || signature.key_id != self.id {
                continue;
            }
            let signature = Signature::from_slice(&signature.blob)
                .map_err(|_| NoteError::MalformedNote("bad Ed25519 signature length".into()))?;
            if self.key.verify_strict(text.as_bytes(), &signature).is_err() {
                return Err(NoteError::Unverified(self.to_string()));
            }
            found = true;
        }
        if found {
            Ok(text)
        } else {
            Err(NoteError::Unverified(self.to_string()))
        }
    }
}

/// One signature line of a note, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureLine<'n> {
    /// The key name on the line.
    pub name: &'n str,
    /// The 4-byte key id that starts the base64 blob.
    pub key_id: u32,
    /// The rest of the blob: the signature (with a timestamp first, for cosignatures).
    pub blob: Vec<u8>,
    /// The whole line without its newline, as written.
    pub line: &'n str,
}

/// Splits a note into its text (ending in a newline) and decoded signature lines, refusing
/// anything that is not a well-formed note.
pub fn split_note(note: &str) -> Result<(&str, Vec<SignatureLine<'_>>), NoteError> {
    let split = note
        .rfind("\n\n")
        .ok_or_else(|| NoteError::MalformedNote("no blank line before signatures".into()))?;
    let text = &note[..split + 1];
    let signatures = &note[split + 2..];
    check_text(text)?;
    if !signatures.ends_with('\n') {
        return Err(NoteError::MalformedNote(
            "signature block must end with a newline".into(),
        ));
    }
    let mut lines = Vec::new();
    for line in signatures.lines() {
        lines.push(signature_line(line)?);
    }
    Ok((text, lines))
}

/// Decodes one `— <name> <base64(key id || signature)>` line.
pub fn signature_line(line: &str) -> Result<SignatureLine<'_>, NoteError> {
    let rest = line.strip_prefix(SIG_PREFIX).ok_or_else(|| {
        NoteError::MalformedNote(format!(
            "signature line must start with an em dash: {line:?}"
        ))
    })?;
    let (name, b64) = rest.split_once(' ').ok_or_else(|| {
        NoteError::MalformedNote("signature line needs a name and a signature".into())
    })?;
    let blob = B64
        .decode(b64)
        .map_err(|_| NoteError::MalformedNote("signature is not base64".into()))?;
    if blob.len() < 4 || !valid_name(name) {
        return Err(NoteError::MalformedNote(
            "signature too short or key name invalid".into(),
        ));
    }
    Ok(SignatureLine {
        name,
        key_id: u32::from_be_bytes([blob[0], blob[1], blob[2], blob[3]]),
        blob: blob[4..].to_vec(),
        line,
    })
}

/// `existing` with the signature lines of `incoming` (a note over the same text) whose key it
/// does not carry yet, or `None` when it already has them all: how a checkpoint collects its
/// witnesses' cosignatures. A note over another text is refused, not merged.
pub fn merge_signatures(existing: &str, incoming: &str) -> Result<Option<String>, NoteError> {
    let (text, have) = split_note(existing)?;
    let (other_text, offered) = split_note(incoming)?;
    if text != other_text {
        return Err(NoteError::MalformedNote(
            "the signatures are over another text".into(),
        ));
    }
    let mut merged = existing.to_string();
    let mut added = false;
    let mut keys: Vec<(&str, u32)> = have.iter().map(|s| (s.name, s.key_id)).collect();
    for signature in offered {
        if keys.contains(&(signature.name, signature.key_id)) {
            continue;
        }
        keys.push((signature.name, signature.key_id));
        merged.push_str(signature.line);
        merged.push('\n');
        added = true;
    }
    Ok(added.then_some(merged))
}

/// Note text is UTF-8 lines, each ending in a newline, none blank, no control characters.
fn check_text(text: &str) -> Result<(), NoteError> {
    if !text.ends_with('\n') {
        return Err(NoteError::MalformedNote(
            "text must end with a newline".into(),
        ));
    }
    if text.split_terminator('\n').any(str::is_empty) {
        return Err(NoteError::MalformedNote(
            "text must not contain blank lines".into(),
        ));
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(NoteError::MalformedNote(
            "text must not contain control characters".into(),
        ));
    }
    Ok(())
}

/// A log's commitment to its first `size` entries (C2SP `tlog-checkpoint` body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Unique name of the log (one per tenant).
    pub origin: String,
    /// Number of entries covered.
    pub size: u64,
    /// RFC 6962 root of those entries.
    pub root: Hash,
}

impl Checkpoint {
    /// The three-line body that gets signed.
    pub fn to_text(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        )
    }

    /// Parses a body; extension lines after the root are allowed and ignored, per the spec.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let bad = |why: &str| NoteError::MalformedCheckpoint(why.to_string());
        let mut lines = text.lines();
        let origin = lines
            .next()
            .filter(|o| !o.is_empty())
            .ok_or_else(|| bad("no origin"))?;
        let size = lines
            .next()
            .filter(|s| s == &"0" || !s.starts_with('0'))
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or_else(|| bad("tree size must be a decimal number without leading zeros"))?;
        let root = lines
            .next()
            .and_then(|r| B64.decode(r).ok())
            .and_then(|r| <Hash>::try_from(r).ok())
            .ok_or_else(|| bad("root must be 32 bytes of base64"))?;
        Ok(Checkpoint {
            origin: origin.to_string(),
            size,
            root,
        })
    }

    /// Signs the checkpoint as a note.
    pub fn sign(&self, signer: &NoteSigner) -> Result<String, NoteError> {
        signer.sign(&self.to_text())
    }

    /// Verifies a signed checkpoint and returns what it commits to.
    pub fn open(note: &str, verifier: &NoteVerifier) -> Result<Self, NoteError> {
        Checkpoint::parse(verifier.open(note)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const SKEY: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                        then you don't know what your problem is.\n";
    const SIG: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

    #[test]
    fn the_c2sp_example_signs_and_verifies_byte_for_byte() {
        let signer = NoteSigner::from_private_key_string(SKEY).unwrap();
        assert_eq!(signer.verifier().to_string(), VKEY);
        assert_eq!(signer.private_key_string(), SKEY);
        let note = signer.sign(TEXT).unwrap();
        assert_eq!(note, format!("{TEXT}\n{SIG}"));
        let verifier: NoteVerifier = VKEY.parse().unwrap();
        assert_eq!(verifier.open(&note).unwrap(), TEXT);
    }

    #[test]
    fn tampered_notes_and_wrong_keys_are_refused() {
        let verifier: NoteVerifier = VKEY.parse().unwrap();
        let note = format!("{TEXT}\n{SIG}");
        let altered = note.replacen("problem,", "problem;", 1);
        assert!(matches!(
            verifier.open(&altered),
            Err(NoteError::Unverified(_))
        ));
        let other = NoteSigner::generate("PeterNeumann").unwrap().verifier();
        assert!(matches!(other.open(&note), Err(NoteError::Unverified(_))));
        assert!(verifier.open(TEXT).is_err());
        assert!(
            "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
                .parse::<NoteVerifier>()
                .is_err()
        );
    }

    #[test]
    fn other_signers_lines_are_ignored() {
        let signer = NoteSigner::from_private_key_string(SKEY).unwrap();
        let cosigner = NoteSigner::generate("witness.example").unwrap();
        let note = signer.sign(TEXT).unwrap();
        let cosigned = note.clone() + cosigner.sign(TEXT).unwrap().rsplit_once("\n\n").unwrap().1;
        assert_eq!(signer.verifier().open(&cosigned).unwrap(), TEXT);
        assert_eq!(cosigner.verifier().open(&cosigned).unwrap(), TEXT);
    }

    proptest::proptest! {
        #[test]
        fn any_bit_flip_in_a_signed_checkpoint_is_rejected(
            size in 0u64..1_000_000,
            root: [u8; 32],
            position: usize,
            bit in 0u8..8,
        ) {
            let signer = NoteSigner::from_private_key_string(SKEY).unwrap();
            let cp = Checkpoint { origin: "sealtrail/0a1b2c3d/acme".into(), size, root };
            let note = cp.sign(&signer).unwrap();
            let mut bytes = note.into_bytes();
            let i = position % bytes.len();
            bytes[i] ^= 1 << bit;
            // A flip may break UTF-8 (rejected before parsing) or yield another valid text.
            if let Ok(flipped) = String::from_utf8(bytes) {
                let opened = Checkpoint::open(&flipped, &signer.verifier());
                proptest::prop_assert!(opened.is_err(), "accepted a flipped note: {flipped:?}");
            }
        }
    }

    #[test]
    fn checkpoints_round_trip_and_bind_size_and_root() {
        let signer = NoteSigner::generate("sealtrail.example").unwrap();
        let cp = Checkpoint {
            origin: "sealtrail.example/acme".into(),
            size: 8,
            root: [7u8; 32],
        };
        let note = cp.sign(&signer).unwrap();
        assert!(note.starts_with("sealtrail.example/acme\n8\nBwcH"));
        assert_eq!(Checkpoint::open(&note, &signer.verifier()).unwrap(), cp);
        let bigger = note.replacen("\n8\n", "\n9\n", 1);
        assert!(Checkpoint::open(&bigger, &signer.verifier()).is_err());
        assert!(Checkpoint::parse("o\n08\nBwcH\n").is_err());
        assert!(Checkpoint::parse("o\n+8\nBwcH\n").is_err());
        assert!(Checkpoint::parse("o\n8\nnot-base64\n").is_err());
        assert!(signer.sign("two\n\nparagraphs\n").is_err());
    }
}
