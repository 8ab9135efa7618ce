//! Entries as backends store them, before they are opened: the envelope plus the vault slots
//! that open it. Shared by every backend, so "stored row → [`Entry`]" is one piece of code.

use crate::StoreError;
use sealtrail_core::envelope::{self, EntryView, Part, Slot, VaultValue};
use sealtrail_core::filter::{Cursor, Page};
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

/// Rebuilds a slot from its row. A committed value must have a 16-byte salt.
pub(crate) fn slot_from_row(
    part: i64,
    salt: Option<&[u8]>,
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
        .and_then(|s| <[u8; 16]>::try_from(s).ok())
        .ok_or_else(|| StoreError::Corrupt(format!("vault salt of `{}`", part.as_str())))?;
    Ok(Slot::Committed(VaultValue { part, salt, value }))
}

/// One part's `(salt, value)` columns as written: a committed value has both, an erased one
/// only its replacement, a missing one neither.
pub(crate) type PartColumns<'a> = (Option<&'a [u8]>, Option<&'a [u8]>);

/// The columns of each part, in part order. Both backends keep the vault in the entry row, a
/// salt and a value column per part, so writing and reading them is shared here.
pub(crate) fn vault_columns(slots: &[Slot]) -> [PartColumns<'_>; 3] {
    Part::ALL.map(|part| match slots.iter().find(|s| s.part() == part) {
        Some(Slot::Committed(v)) => (Some(v.salt.as_slice()), Some(v.value.as_slice())),
        Some(Slot::Erased { replacement, .. }) => (None, Some(replacement.as_slice())),
        None => (None, None),
    })
}

/// One part's `(salt, value)` columns as read: the salt borrowed from the row (it becomes
/// 16 bytes of the slot), the value owned.
pub(crate) type ReadColumns<'a> = (Option<&'a [u8]>, Option<Vec<u8>>);

/// The slots stored in [`vault_columns`] form, in part order, each decoded on its own so
/// verification can report a damaged one at its seq. A part without a value is left out
/// (verification reports it as missing); a part with a value but no salt was erased.
pub(crate) fn slots_from_columns(columns: [ReadColumns<'_>; 3]) -> Vec<Result<Slot, StoreError>> {
    let mut slots = Vec::with_capacity(3);
    for (part, (salt, value)) in Part::ALL.iter().zip(columns) {
        if let Some(value) = value {
            let erased = salt.is_none();
            slots.push(slot_from_row(part_code(*part), salt, value, erased));
        }
    }
    slots
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
        let mut entry = envelope::open(&self.envelope, &self.slots).map_err(|e| self.corrupt(e))?;
        entry.idempotency_key = self.idempotency_key.clone();
        Ok(entry)
    }

    /// Why this row does not open or read back, naming it.
    fn corrupt(&self, e: envelope::EnvelopeError) -> StoreError {
        StoreError::Corrupt(format!("entry at pk {}: {e}", self.pk))
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

/// An entry as read, not yet opened. An export encodes each run of rows on the thread that
/// opens them (`EventLog::query_sealed`): opening on one thread and encoding and freeing on
/// another had kept an export's encoder serial and its allocator busy with cross-thread frees.
#[derive(Debug, Clone)]
pub struct SealedEntry(StoredEntry);

impl SealedEntry {
    /// Its place in the tenant's log, known without opening it (cursors are built from it).
    pub fn seq(&self) -> u64 {
        self.0.seq.max(0) as u64
    }

    /// Its stored envelope bytes and vault slots, as an evidence bundle ships them: taken from
    /// the page already read rather than read again entry by entry.
    pub fn into_envelope_and_slots(self) -> (Vec<u8>, Vec<Slot>) {
        (self.0.envelope, self.0.slots)
    }

    /// The entry as readers see it, exactly as [`EventLog::query`](crate::EventLog::query)
    /// would have returned it.
    pub fn open(&self) -> Result<Entry, StoreError> {
        self.0.open()
    }

    /// The entry as it serialises, borrowed from the stored bytes: what opening it gives,
    /// without building it (an export writes a million of these).
    pub fn view(&self) -> Result<EntryView<'_>, StoreError> {
        envelope::view(
            &self.0.envelope,
            &self.0.slots,
            self.0.idempotency_key.as_deref(),
        )
        .map_err(|e| self.0.corrupt(e))
    }
}

/// A page of [`SealedEntry`]s, newest first, with the same cursors as the opened page.
#[derive(Debug, Clone)]
pub struct SealedPage {
    /// At most the query's `limit` entries, newest first.
    pub entries: Vec<SealedEntry>,
    /// Present when older entries match the filter.
    pub next_cursor: Option<Cursor>,
    /// Present when newer entries match the filter.
    pub prev_cursor: Option<Cursor>,
}

impl SealedPage {
    /// A page with no entries and no neighbours.
    pub(crate) fn empty() -> Self {
        SealedPage {
            entries: Vec::new(),
            next_cursor: None,
            prev_cursor: None,
        }
    }

    /// The stored rows paging picked, sealed for the page.
    pub(crate) fn sealed(stored: Vec<StoredEntry>) -> Vec<SealedEntry> {
        stored.into_iter().map(SealedEntry).collect()
    }

    /// The page opened, over every core when it is large (an export's).
    pub fn open(self) -> Result<Page, StoreError> {
        Ok(Page {
            entries: sealtrail_core::parallel::map(&self.entries, SealedEntry::open)
                .into_iter()
                .collect::<Result<_, _>>()?,
            next_cursor: self.next_cursor,
            prev_cursor: self.prev_cursor,
        })
    }
}
