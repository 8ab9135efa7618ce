//! The canonical envelope: the exact bytes of an entry that its Merkle leaf commits to.
//!
//! Produced once, when the writer gives an entry its place, and stored verbatim; verification
//! hashes the stored bytes and never re-serialises. Personal data stays *out* of the envelope:
//! the actor's identity, the network context and the free-form payload are each represented by
//! a salted commitment `SHA-256("sealtrail-commit-v1\0" || salt || value)`, while the values and
//! salts live in a separate vault. Deleting a vault value (GDPR erasure) therefore leaves every
//! leaf, root, proof and checkpoint valid, and the random salt stops anyone confirming a guess
//! of the erased value from the commitment.

use crate::entry::{
    Actor, ActorType, Changes, Context, Entry, NewEntry, Outcome, RequestInfo, Target,
};
use crate::merkle::{leaf_hash, Hash};
use crate::timestamp::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use uuid::Uuid;

/// Domain separator of value commitments, so they can never collide with tree hashes.
pub const COMMIT_DOMAIN: &[u8] = b"sealtrail-commit-v1\0";
/// Envelope format version; a new version is a new leaf format, never a reinterpretation.
pub const ENVELOPE_VERSION: u32 = 1;

/// Why stored envelope or vault bytes could not be used.
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    /// The envelope bytes are not a version-1 envelope.
    #[error("envelope does not decode: {0}")]
    Envelope(String),
    /// A vault value does not decode to its part.
    #[error("vault value for `{part}` does not decode: {message}")]
    Vault {
        /// Which part.
        part: &'static str,
        /// Decoder message.
        message: String,
    },
}

/// The three vaulted parts of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Part {
    /// Who: actor id, name, e-mail, via.
    Actor,
    /// From where: IP, user agent, location.
    Context,
    /// What: description, targets, changes, properties, request body/response.
    Payload,
}

impl Part {
    /// Every part, in envelope order.
    pub const ALL: [Part; 3] = [Part::Actor, Part::Context, Part::Payload];

    /// Storage and envelope spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Part::Actor => "actor",
            Part::Context => "context",
            Part::Payload => "payload",
        }
    }
}

/// `SHA-256(COMMIT_DOMAIN || salt || value)`.
pub fn commitment(salt: &[u8; 16], value: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update(COMMIT_DOMAIN);
    h.update(salt);
    h.update(value);
    h.finalize().into()
}

/// JSON with object keys sorted (by UTF-8 bytes) and no insignificant whitespace, so equal
/// values always encode to equal bytes whatever order a client sent keys in.
pub fn canonical_json(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (key, member)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_scalar(key.as_str(), out);
                out.push(b':');
                write_canonical(member, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        scalar => write_scalar(scalar, out),
    }
}

/// A string, number, boolean or null exactly as serde_json writes it, straight into `out`.
fn write_scalar<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) {
    // Writing a scalar into a Vec cannot fail; an empty write would only make verification fail.
    let _ = serde_json::to_writer(&mut *out, value);
}

/// One vaulted value: the canonical bytes and the salt of its commitment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultValue {
    /// Which part of the entry.
    pub part: Part,
    /// Random per value, so commitments cannot be brute-forced from guesses.
    pub salt: [u8; 16],
    /// Canonical JSON of the part.
    pub value: Vec<u8>,
}

impl VaultValue {
    /// The commitment the envelope holds for this value.
    pub fn commitment(&self) -> Hash {
        commitment(&self.salt, &self.value)
    }
}

/// What the writer stores for one entry.
#[derive(Debug, Clone)]
pub struct Sealed {
    /// The envelope bytes: the Merkle leaf.
    pub envelope: Vec<u8>,
    /// `leaf_hash(envelope)`.
    pub leaf_hash: Hash,
    /// The three vault values, in [`Part::ALL`] order.
    pub vault: [VaultValue; 3],
}

/// Salts for the three parts. Random in production; fixed in tests for known answers.
pub fn random_salts() -> [[u8; 16]; 3] {
    // One system call for all three: this runs for every event ingested.
    let mut bytes = [0u8; 48];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    let mut salts = [[0u8; 16]; 3];
    for (salt, chunk) in salts.iter_mut().zip(bytes.chunks_exact(16)) {
        salt.copy_from_slice(chunk);
    }
    salts
}

/// The envelope's structure (field names are the wire format; keep them stable).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvelopeFields<'a> {
    v: u32,
    /// Borrowed from the envelope's bytes when decoding: opening an entry never needs it.
    #[serde(borrow)]
    log: Cow<'a, str>,
    seq: u64,
    id: Uuid,
    recorded_at: Timestamp,
    occurred_at: Timestamp,
    /// These are borrowed too where they need no unescaping: an export's view of an entry
    /// ([`view::view`]) then copies none of them.
    #[serde(borrow)]
    channel: Cow<'a, str>,
    #[serde(borrow)]
    action: Cow<'a, str>,
    #[serde(borrow)]
    event: Cow<'a, str>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    category: Option<Cow<'a, str>>,
    result: Outcome,
    actor_type: ActorType,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    redacted: Vec<String>,
    #[serde(borrow)]
    commitments: Commitments<'a>,
}

/// The parts' commitments as hex; borrowed from the envelope's bytes when decoding (only
/// verification reads them), owned when sealing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Commitments<'a> {
    #[serde(borrow)]
    actor: Cow<'a, str>,
    #[serde(borrow)]
    context: Cow<'a, str>,
    #[serde(borrow)]
    payload: Cow<'a, str>,
}

/// The payload part's structure.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Payload {
    description: String,
    #[serde(default)]
    targets: Vec<Target>,
    #[serde(default)]
    changes: Option<Changes>,
    #[serde(default)]
    properties: Map<String, Value>,
    #[serde(default)]
    request: Option<RequestInfo>,
}

/// The context part: network origin, without the request (which is payload).
#[derive(Debug, Default, Serialize, Deserialize)]
struct NetworkContext {
    #[serde(default)]
    ip: Option<String>,
    #[serde(default)]
    user_agent: Option<String>,
    #[serde(default)]
    location: Option<String>,
}

/// The actor part, without its type (which stays in the envelope for the System badge).
#[derive(Debug, Default, Serialize, Deserialize)]
struct ActorIdentity {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    via: Option<String>,
}

fn to_canonical<T: Serialize>(value: &T) -> Vec<u8> {
    // Serialising these plain structs into a Value cannot fail.
    canonical_json(&serde_json::to_value(value).unwrap_or(Value::Null))
}

/// Seals an entry of the log named `log` (the tenant's checkpoint origin).
pub fn seal(entry: &Entry, log: &str, salts: [[u8; 16]; 3]) -> Sealed {
    let parts = VaultParts {
        actor: &entry.actor,
        context: &entry.context,
        description: &entry.description,
        targets: &entry.targets,
        changes: &entry.changes,
        properties: &entry.properties,
    };
    let (vault, commitments) = parts.seal(salts);
    seal_placed(entry, log, vault, commitments)
}

/// An event whose vaulted parts are already sealed: their canonical bytes, fresh salts and
/// commitments. None of that depends on the entry's place in the log, so it is done on the
/// request's own thread before the event reaches the group writer, the one serial step of
/// ingest, which then only encodes the small envelope around it ([`Presealed::place`]).
#[derive(Debug, Clone)]
pub struct Presealed {
    entry: NewEntry,
    vault: [VaultValue; 3],
    commitments: Commitments<'static>,
}

impl Presealed {
    /// Seals the vaulted parts of `entry` with `salts` ([`random_salts`] outside tests).
    pub fn new(entry: NewEntry, salts: [[u8; 16]; 3]) -> Presealed {
        let parts = VaultParts {
            actor: &entry.actor,
            context: &entry.context,
            description: &entry.description,
            targets: &entry.targets,
            changes: &entry.changes,
            properties: &entry.properties,
        };
        let (vault, commitments) = parts.seal(salts);
        Presealed {
            entry,
            vault,
            commitments,
        }
    }

    /// The event as validated (for its idempotency key and tenant checks).
    pub fn entry(&self) -> &NewEntry {
        &self.entry
    }

    /// The stored entry and its seal once the writer has given it an id, a seq and a time in
    /// the log named `log`: byte for byte what [`seal`] gives for the same entry and salts.
    pub fn place(&self, id: Uuid, seq: u64, recorded_at: Timestamp, log: &str) -> (Entry, Sealed) {
        let entry = Entry::from_new(self.entry.clone(), id, seq, recorded_at);
        let sealed = seal_placed(&entry, log, self.vault.clone(), self.commitments.clone());
        (entry, sealed)
    }
}

/// The fields of an entry that go into its vault, borrowed from a new or a stored entry.
struct VaultParts<'a> {
    actor: &'a Actor,
    context: &'a Context,
    description: &'a str,
    targets: &'a [Target],
    changes: &'a Option<Changes>,
    properties: &'a Map<String, Value>,
}

impl VaultParts<'_> {
    /// The three vault values with `salts`, and the envelope's commitments to them.
    fn seal(&self, salts: [[u8; 16]; 3]) -> ([VaultValue; 3], Commitments<'static>) {
        let actor = ActorIdentity {
            id: self.actor.id.clone(),
            name: self.actor.name.clone(),
            email: self.actor.email.clone(),
            via: self.actor.via.clone(),
        };
        let context = NetworkContext {
            ip: self.context.ip.clone(),
            user_agent: self.context.user_agent.clone(),
            location: self.context.location.clone(),
        };
        let payload = Payload {
            description: self.description.to_string(),
            targets: self.targets.to_vec(),
            changes: self.changes.clone(),
            properties: self.properties.clone(),
            request: self.context.request.clone(),
        };
        let [s_actor, s_context, s_payload] = salts;
        let vault = [
            VaultValue {
                part: Part::Actor,
                salt: s_actor,
                value: to_canonical(&actor),
            },
            VaultValue {
                part: Part::Context,
                salt: s_context,
                value: to_canonical(&context),
            },
            VaultValue {
                part: Part::Payload,
                salt: s_payload,
                value: to_canonical(&payload),
            },
        ];
        let commitments = Commitments {
            actor: Cow::Owned(hex::encode(vault[0].commitment())),
            context: Cow::Owned(hex::encode(vault[1].commitment())),
            payload: Cow::Owned(hex::encode(vault[2].commitment())),
        };
        (vault, commitments)
    }
}

/// The envelope of `entry` around already sealed vault values, and its leaf hash.
fn seal_placed(
    entry: &Entry,
    log: &str,
    vault: [VaultValue; 3],
    commitments: Commitments<'_>,
) -> Sealed {
    let fields = EnvelopeFields {
        v: ENVELOPE_VERSION,
        log: Cow::Borrowed(log),
        seq: entry.seq,
        id: entry.id,
        recorded_at: entry.recorded_at,
        occurred_at: entry.occurred_at,
        channel: Cow::Borrowed(&entry.channel),
        action: Cow::Borrowed(&entry.action),
        event: Cow::Borrowed(&entry.event),
        category: entry.category.as_deref().map(Cow::Borrowed),
        result: entry.result,
        actor_type: entry.actor.kind,
        redacted: entry.redacted.clone(),
        commitments,
    };
    let envelope = to_canonical(&fields);
    Sealed {
        leaf_hash: leaf_hash(&envelope),
        envelope,
        vault,
    }
}

/// A vault slot as stored: the committed value, or what erasure left in its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot {
    /// The original value and salt; its commitment must match the envelope.
    Committed(VaultValue),
    /// Erased: the value and salt are gone; `replacement` (canonical JSON of the same part,
    /// e.g. a pseudonymous actor) is shown instead and is not covered by any commitment.
    Erased {
        /// The part.
        part: Part,
        /// Stand-in value shown after erasure.
        replacement: Vec<u8>,
    },
}

impl Slot {
    /// The part this slot holds, committed or erased: readers (verification, erasure, bundle
    /// lines) match slots to parts without caring which state a slot is in.
    pub fn part(&self) -> Part {
        match self {
            Slot::Committed(v) => v.part,
            Slot::Erased { part, .. } => *part,
        }
    }

    /// The bytes shown for this slot: the committed value, or the erasure's stand-in.
    pub fn bytes(&self) -> &[u8] {
        match self {
            Slot::Committed(v) => &v.value,
            Slot::Erased { replacement, .. } => replacement,
        }
    }
}

/// Facts from the envelope that later checks need without decoding the vault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeHead {
    /// Log (origin) the envelope names.
    pub log: String,
    /// Position it claims.
    pub seq: u64,
    /// Entry id it claims.
    pub id: Uuid,
}

/// Decodes stored JSON whose bytes are checked as UTF-8 once, whole: reading bytes, serde_json
/// checks each string on its own, a call per string that was a sixth of an export's decoding.
/// Either way invalid text is refused.
fn json_of<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| e.to_string())?;
    serde_json::from_str(text).map_err(|e| e.to_string())
}

/// The vault value of `part` among `slots`, decoded; `None` when the row has no such slot (a
/// missing slot reads as empty, so a pruned or half-written row shows what is known). Opening
/// an entry and viewing one read the vault the same way.
fn vault_part<'a, T: Deserialize<'a>>(
    slots: &'a [Slot],
    part: Part,
) -> Result<Option<T>, EnvelopeError> {
    slots
        .iter()
        .find(|s| s.part() == part)
        .map(|slot| {
            json_of(slot.bytes()).map_err(|message| EnvelopeError::Vault {
                part: part.as_str(),
                message,
            })
        })
        .transpose()
}

fn decode_fields(envelope: &[u8]) -> Result<EnvelopeFields<'_>, EnvelopeError> {
    let fields: EnvelopeFields<'_> = json_of(envelope).map_err(EnvelopeError::Envelope)?;
    if fields.v != ENVELOPE_VERSION {
        return Err(EnvelopeError::Envelope(format!(
            "unsupported envelope version {}",
            fields.v
        )));
    }
    Ok(fields)
}

/// An envelope decoded once. `verify` needs its position claims, its commitments and the entry
/// it opens to; decoding the JSON once for each was most of the time it spent per entry.
#[derive(Debug)]
pub struct DecodedEnvelope<'a>(EnvelopeFields<'a>);

/// Decodes an envelope's bytes (version 1 only).
pub fn decode(envelope: &[u8]) -> Result<DecodedEnvelope<'_>, EnvelopeError> {
    decode_fields(envelope).map(DecodedEnvelope)
}

impl DecodedEnvelope<'_> {
    /// The log the envelope names.
    pub fn log(&self) -> &str {
        &self.0.log
    }

    /// The seq the envelope claims.
    pub fn seq(&self) -> u64 {
        self.0.seq
    }

    /// The id the envelope claims.
    pub fn id(&self) -> Uuid {
        self.0.id
    }

    /// Which committed vault values do not match their commitment (tampered vault rows).
    /// Erased slots are skipped: that is what erasure means.
    pub fn mismatched_commitments(&self, slots: &[Slot]) -> Vec<Part> {
        let c = &self.0.commitments;
        let mut bad = Vec::new();
        for slot in slots {
            if let Slot::Committed(v) = slot {
                let expected = match v.part {
                    Part::Actor => &c.actor,
                    Part::Context => &c.context,
                    Part::Payload => &c.payload,
                };
                // Hex into a buffer on the stack: this runs three times per verified entry.
                let mut hex = [0u8; 64];
                let matches = hex::encode_to_slice(v.commitment(), &mut hex).is_ok()
                    && hex.as_slice() == expected.as_bytes();
                if !matches {
                    bad.push(v.part);
                }
            }
        }
        bad
    }

    /// Rebuilds the entry from the envelope and its vault slots. A missing slot reads as empty
    /// (e.g. a pruned or half-written row shows what is known rather than failing the page).
    pub fn open(self, slots: &[Slot]) -> Result<Entry, EnvelopeError> {
        let f = self.0;
        let actor: ActorIdentity = vault_part(slots, Part::Actor)?.unwrap_or_default();
        let context: NetworkContext = vault_part(slots, Part::Context)?.unwrap_or_default();
        let payload: Payload = vault_part(slots, Part::Payload)?.unwrap_or_default();
        Ok(Entry {
            id: f.id,
            seq: f.seq,
            recorded_at: f.recorded_at,
            occurred_at: f.occurred_at,
            channel: f.channel.into_owned(),
            action: f.action.into_owned(),
            event: f.event.into_owned(),
            category: f.category.map(Cow::into_owned),
            description: payload.description,
            result: f.result,
            actor: Actor {
                kind: f.actor_type,
                id: actor.id,
                name: actor.name,
                email: actor.email,
                via: actor.via,
            },
            targets: payload.targets,
            context: Context {
                ip: context.ip,
                user_agent: context.user_agent,
                location: context.location,
                request: payload.request,
            },
            changes: payload.changes,
            properties: payload.properties,
            redacted: f.redacted,
            idempotency_key: None,
        })
    }
}

/// Reads the position claims of an envelope (what `verify` compares with the row's place).
pub fn head(envelope: &[u8]) -> Result<EnvelopeHead, EnvelopeError> {
    let f = decode_fields(envelope)?;
    Ok(EnvelopeHead {
        log: f.log.into_owned(),
        seq: f.seq,
        id: f.id,
    })
}

/// Which committed vault values do not match their envelope commitment (tampered vault rows).
/// Erased slots are skipped: that is what erasure means.
pub fn mismatched_commitments(envelope: &[u8], slots: &[Slot]) -> Result<Vec<Part>, EnvelopeError> {
    Ok(decode(envelope)?.mismatched_commitments(slots))
}

/// Rebuilds the entry from its envelope and vault slots ([`DecodedEnvelope::open`]).
pub fn open(envelope: &[u8], slots: &[Slot]) -> Result<Entry, EnvelopeError> {
    decode(envelope)?.open(slots)
}

mod view;
pub use view::{
    view, ActorView, ChangesView, ContextView, EntryView, Json, RequestView, TargetView, Text,
};

#[cfg(test)]
mod tests;
