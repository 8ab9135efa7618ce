//! One line of `entries.ndjson`: its JSON shape, and the checks every line must pass.
//!
//! The writer runs [`check`] on every entry before writing it and the verifier runs it on every
//! line it reads, so the two can never disagree about what a valid entry is.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use sealtrail_core::envelope::{self, Part, Slot, VaultValue};
use sealtrail_core::merkle::{self, Hash};
use sealtrail_core::Entry;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// The log every line is checked against: from the signed checkpoint.
#[derive(Debug, Clone)]
pub(crate) struct Log {
    pub origin: String,
    pub tree_size: u64,
    pub root: Hash,
}

/// The JSON of one line, field order as written.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LineJson {
    pub seq: u64,
    pub id: Uuid,
    /// Base64 of the exact envelope bytes.
    pub envelope: String,
    /// Hex of `SHA-256(0x00 || envelope)`.
    pub leaf_hash: String,
    /// Hex hashes, leaf to root.
    pub inclusion_proof: Vec<String>,
    pub vault: VaultJson,
    /// The opened entry, for people; checked against envelope and vault.
    pub entry: Value,
}

/// The three vault slots by part name.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct VaultJson {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    actor: Option<SlotJson>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    context: Option<SlotJson>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    payload: Option<SlotJson>,
}

/// `{"salt", "value"}` for a committed value, `{"erased": true, "replacement"}` after erasure.
/// One struct with optional fields (rather than an untagged enum) so errors can say what is wrong.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SlotJson {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    salt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    erased: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    replacement: Option<String>,
}

impl VaultJson {
    /// Encodes slots (already checked to hold each part once).
    pub fn from_slots(slots: &[Slot]) -> Self {
        let mut vault = VaultJson::default();
        for slot in slots {
            let (part, json) = match slot {
                Slot::Committed(v) => (
                    v.part,
                    SlotJson {
                        salt: Some(B64.encode(v.salt)),
                        value: Some(B64.encode(&v.value)),
                        erased: None,
                        replacement: None,
                    },
                ),
                Slot::Erased { part, replacement } => (
                    *part,
                    SlotJson {
                        salt: None,
                        value: None,
                        erased: Some(true),
                        replacement: Some(B64.encode(replacement)),
                    },
                ),
            };
            *vault.slot_mut(part) = Some(json);
        }
        vault
    }

    fn slot_mut(&mut self, part: Part) -> &mut Option<SlotJson> {
        match part {
            Part::Actor => &mut self.actor,
            Part::Context => &mut self.context,
            Part::Payload => &mut self.payload,
        }
    }

    /// Decodes the slots, in [`Part::ALL`] order; every part must be present.
    pub fn to_slots(&self) -> Result<Vec<Slot>, String> {
        let mut slots = Vec::with_capacity(3);
        for (part, slot) in [
            (Part::Actor, &self.actor),
            (Part::Context, &self.context),
            (Part::Payload, &self.payload),
        ] {
            let name = part.as_str();
            let slot = slot
                .as_ref()
                .ok_or_else(|| format!("vault has no `{name}` value"))?;
            slots.push(slot.decode(part)?);
        }
        Ok(slots)
    }
}

impl SlotJson {
    fn decode(&self, part: Part) -> Result<Slot, String> {
        let name = part.as_str();
        let b64 = |field: &str, s: &str| {
            B64.decode(s)
                .map_err(|_| format!("vault `{name}` {field} is not base64"))
        };
        match self {
            SlotJson {
                salt: Some(salt),
                value: Some(value),
                erased: None,
                replacement: None,
            } => {
                let salt: [u8; 16] = b64("salt", salt)?
                    .try_into()
                    .map_err(|_| format!("vault `{name}` salt is not 16 bytes"))?;
                Ok(Slot::Committed(VaultValue {
                    part,
                    salt,
                    value: b64("value", value)?,
                }))
            }
            SlotJson {
                salt: None,
                value: None,
                erased: Some(true),
                replacement: Some(replacement),
            } => Ok(Slot::Erased {
                part,
                replacement: b64("replacement", replacement)?,
            }),
            _ => Err(format!(
                "vault `{name}` must be {{salt, value}} or {{erased: true, replacement}}"
            )),
        }
    }
}

/// A hash as 64 lowercase hex digits, the one spelling [`parse_hash`] accepts; a table lookup
/// per nibble (the `hex` crate's character iterator was an eighth of a bundle export's CPU,
/// for the twenty-odd hashes of every line's proof).
pub(crate) fn hash_hex(hash: &Hash) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(2 * hash.len());
    for byte in hash {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    text
}

/// Parses a SHA-256 hash written as 64 lowercase hex digits (the only spelling the writer
/// uses, so every hash has exactly one accepted form). Decoded in place, one pass: a bundle
/// line holds a proof of about twenty of them, and checking then decoding each into a vector
/// was a seventh of a bundle's verification.
pub(crate) fn parse_hash(s: &str) -> Option<Hash> {
    fn nibble(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            _ => None,
        }
    }
    let mut hash: Hash = [0; 32];
    if s.len() != 2 * hash.len() {
        return None;
    }
    for (out, pair) in hash.iter_mut().zip(s.as_bytes().chunks_exact(2)) {
        *out = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(hash)
}

/// Everything that makes one entry valid in the bundle, except its order relative to the
/// others: position within the tree, leaf hash, inclusion proof, envelope claims, one slot per
/// part, vault commitments. Returns the opened entry, which is what the line's `entry` must say.
pub(crate) fn check(
    log: &Log,
    seq: u64,
    envelope_bytes: &[u8],
    leaf: &Hash,
    proof: &[Hash],
    slots: &[Slot],
) -> Result<Entry, String> {
    if seq >= log.tree_size {
        return Err(format!(
            "seq {seq} is not below the checkpoint's tree size {}",
            log.tree_size
        ));
    }
    if merkle::leaf_hash(envelope_bytes) != *leaf {
        return Err("leaf_hash is not the hash of the envelope bytes".into());
    }
    merkle::verify_inclusion(seq, log.tree_size, leaf, proof, &log.root)
        .map_err(|e| format!("inclusion proof does not lead to the checkpoint root ({e})"))?;
    open_checked(&log.origin, seq, envelope_bytes, slots)
}

/// The checks of one entry that need no proof: the envelope names the log `origin` and
/// position `seq`, one vault value per part, each matching the envelope's commitment.
/// Returns the opened entry. Shared by bundles and archive chunks.
pub(crate) fn open_checked(
    origin: &str,
    seq: u64,
    envelope_bytes: &[u8],
    slots: &[Slot],
) -> Result<Entry, String> {
    let head = envelope::head(envelope_bytes).map_err(|e| e.to_string())?;
    if head.log != origin {
        return Err(format!(
            "envelope belongs to log `{}`, not `{origin}`",
            head.log
        ));
    }
    if head.seq != seq {
        return Err(format!("envelope claims seq {}", head.seq));
    }
    for part in Part::ALL {
        let count = slots.iter().filter(|s| s.part() == part).count();
        if count != 1 {
            return Err(format!(
                "expected one `{}` vault value, found {count}",
                part.as_str()
            ));
        }
    }
    let bad = envelope::mismatched_commitments(envelope_bytes, slots).map_err(|e| e.to_string())?;
    if let Some(part) = bad.first() {
        return Err(format!(
            "vault `{}` value does not match the envelope's commitment",
            part.as_str()
        ));
    }
    envelope::open(envelope_bytes, slots).map_err(|e| e.to_string())
}

/// The readable copy of an opened entry, as written to the line's `entry` field.
pub(crate) fn entry_json(entry: &Entry) -> Result<Value, String> {
    serde_json::to_value(entry).map_err(|e| e.to_string())
}

/// Compares a line's readable `entry` with the opened one; an `idempotency_key` is ignored
/// (it is not part of the envelope). Names the first differing field.
pub(crate) fn compare_entry(claimed: &Value, opened: &Value) -> Result<(), String> {
    let (Value::Object(claimed), Value::Object(opened)) = (claimed, opened) else {
        return Err("`entry` is not a JSON object".into());
    };
    // Compared in place, the claimed entry read as if it had no key (a copy of every line's
    // entry without it cost a tenth of a bundle's verification).
    const IGNORED: &str = "idempotency_key";
    let differing = opened
        .iter()
        .find(|(k, v)| k.as_str() == IGNORED || claimed.get(*k) != Some(v))
        .map(|(k, _)| k)
        .or_else(|| {
            claimed
                .keys()
                .find(|k| k.as_str() != IGNORED && !opened.contains_key(*k))
        });
    let Some(field) = differing else {
        return Ok(());
    };
    Err(format!(
        "the readable `entry` differs from what envelope and vault say (field `{field}`)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The rule as first written: lowercase hex digits only, then 32 bytes.
    fn reference(s: &str) -> Option<Hash> {
        if !s
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return None;
        }
        hex::decode(s).ok()?.try_into().ok()
    }

    proptest! {
        /// Every hash reads back from its lowercase hex, and nothing else reads at all.
        #[test]
        fn hashes_parse_exactly_as_the_rule_says(
            bytes in any::<[u8; 32]>(),
            noise in "[0-9a-fA-F g-z]{0,70}",
            at in 0usize..64,
        ) {
            let written = hex::encode(bytes);
            prop_assert_eq!(&hash_hex(&bytes), &written);
            prop_assert_eq!(parse_hash(&written), Some(bytes));
            prop_assert_eq!(parse_hash(&written.to_uppercase()), reference(&written.to_uppercase()));
            prop_assert_eq!(parse_hash(&noise), reference(&noise));
            let mut edited = written.clone();
            edited.replace_range(at..at + 1, "G");
            prop_assert_eq!(parse_hash(&edited), None);
            prop_assert_eq!(parse_hash(&written[1..]), None);
            prop_assert_eq!(parse_hash(&format!("{written}0")), None);
        }
    }
}
