//! Entries as backends store them, before they are opened: the envelope plus the vault slots
//! that open it. Shared by every backend, so "stored row → [`Entry`]" is one piece of code.

use crate::StoreError;
use sealtrail_core::envelope::{self, Part, Slot, VaultValue};
use sealtrail_core::Entry;

/// The `vault.part` code of a part; the order of [`Part::ALL`].
pub(crate) fn part_code(part: Part) -> i64 {
    match part {
        Part::Actor => 0,
        Part::Context => 1,
        Part::Payload => 2,
    }
}

/// The part a stored code names; anything else was not written by this build.
pub(crate) fn part_from_code(code: i64) -> Result<Part, StoreError> {
    usize::try_from(code)
        .ok()
        .and_then(|i| Part::ALL.get(i).copied())
        .ok_or_else(|| StoreError::Corrupt(format!("vault part code {code}")))
}

/// The part a slot belongs to (core keeps its own accessor private).
pub(crate) fn slot_part(slot: &Slot) -> Part {
    match slot {
        Slot::Committed(v) => v.part,
        Slot::Erased { part, .. } => *part,
    }
}

/// The bytes a slot shows: the committed value or the erasure's replacement.
pub(crate) fn slot_bytes(slot: &Slot) -> &[u8] {
    match slot {
        Slot::Committed(v) => &v.value,
        Slot::Erased { replacement, .. } => replacement,
    }
}

/// Rebuilds a slot from its row. A committed value must have a 16-byte salt.
pub(crate) fn slot_from_row(
    part: i64,
    salt: Option<Vec<u8>>,
    value: Vec<u8>,
    erased: bool,
) -> Result<Slot, StoreError> {
    let part = part_from_code(part)?;
    if erased {
        return Ok(Slot::Erased {
            part,
            replacement: value,
        });
    }
    let salt = salt
        .and_then(|s| <[u8; 16]>::try_from(s.as_slice()).ok())
        .ok_or_else(|| StoreError::Corrupt(format!("vault salt of `{}`", part.as_str())))?;
    Ok(Slot::Committed(VaultValue { part, salt, value }))
}

/// One entry as stored, before it is opened.
#[derive(Debug, Clone)]
pub(crate) struct StoredEntry {
    /// The backend's row key, named in error messages (SQLite: `(tenant << 40) | seq`;
    /// PostgreSQL: the seq).
    pub pk: i64,
    /// Seq column.
    pub seq: i64,
    /// Id column (16 bytes).
    pub id: Vec<u8>,
    /// Envelope bytes, verbatim.
    pub envelope: Vec<u8>,
    /// Idempotency key column (not part of the envelope).
    pub idempotency_key: Option<String>,
    /// Vault slots found, in part order.
    pub slots: Vec<Slot>,
}

impl StoredEntry {
    /// The entry as readers see it.
    pub(crate) fn open(&self) -> Result<Entry, StoreError> {
        let mut entry = envelope::open(&self.envelope, &self.slots)
            .map_err(|e| StoreError::Corrupt(format!("entry at pk {}: {e}", self.pk)))?;
        entry.idempotency_key = self.idempotency_key.clone();
        Ok(entry)
    }

    /// The leaf as evidence bundles need it: the stored envelope, its hash and the slots.
    pub(crate) fn into_leaf(self) -> Result<crate::LeafRecord, StoreError> {
        let id = uuid::Uuid::from_slice(&self.id)
            .map_err(|e| StoreError::Corrupt(format!("entry id at pk {}: {e}", self.pk)))?;
        Ok(crate::LeafRecord {
            seq: self.seq.max(0) as u64,
            id,
            leaf_hash: sealtrail_core::merkle::leaf_hash(&self.envelope),
            envelope: self.envelope,
            slots: self.slots,
        })
    }
}
