//! Rules every backend applies the same way (validation, derived names, refusal wording), kept
//! here once so SQLite and PostgreSQL cannot drift apart on what they accept or how they say no.

use crate::{Hash, Retention, StoreError, StoredCheckpoint};
use sealtrail_core::{TenantId, Timestamp};

/// Refuses a retention below the floor ([`Retention::check`]) as an invalid request.
pub(crate) fn check_retention(retention: Retention) -> Result<(), StoreError> {
    retention.check().map(|_| ()).map_err(StoreError::Invalid)
}

/// The export exclusion list as stored: keys trimmed, sorted and deduplicated, so equal lists
/// compare equal; `Invalid` for a key that is empty, longer than 128 characters or holds a
/// control character, since such a key cannot name a property anyone meant to hide.
pub(crate) fn export_exclusions(keys: &[String]) -> Result<Vec<String>, StoreError> {
    let mut keys: Vec<String> = keys.iter().map(|k| k.trim().to_string()).collect();
    if let Some(bad) = keys
        .iter()
        .find(|k| k.is_empty() || k.chars().count() > 128 || k.chars().any(char::is_control))
    {
        return Err(StoreError::Invalid(format!(
            "excluded property key `{}` must be 1-128 characters without control characters",
            bad.chars().take(64).collect::<String>()
        )));
    }
    keys.sort();
    keys.dedup();
    Ok(keys)
}

/// The refusal for a change that would leave a tenant without an active owner
/// ([`sealtrail_core::policy::loses_last_owner`]), as a conflict.
pub(crate) fn last_owner_refusal() -> StoreError {
    StoreError::Conflict(sealtrail_core::policy::LAST_OWNER_REFUSAL.into())
}

/// The equivocation guard, before the tree is consulted: `existing` is the checkpoint already
/// recorded at `size` (if any), `latest` the largest recorded, `log` the log's size now.
/// `Ok(Some(_))`: this exact checkpoint is already recorded; `Ok(None)`: record it once its root
/// is confirmed to be the tree's root at `size`; `Conflict` otherwise.
pub(crate) fn checkpoint_guard(
    size: u64,
    root: Hash,
    existing: Option<StoredCheckpoint>,
    latest: Option<&StoredCheckpoint>,
    log: u64,
) -> Result<Option<StoredCheckpoint>, StoreError> {
    if let Some(existing) = existing {
        return if existing.root == root {
            Ok(Some(existing))
        } else {
            Err(StoreError::Conflict(format!(
                "a different root was already signed for tree size {size}; refusing to equivocate"
            )))
        };
    }
    if let Some(latest) = latest.filter(|l| size < l.size) {
        return Err(StoreError::Conflict(format!(
            "tree size {size} is smaller than the latest signed size {}",
            latest.size
        )));
    }
    if size > log {
        return Err(StoreError::Conflict(format!(
            "tree size {size} is larger than the log ({log} entries)"
        )));
    }
    Ok(None)
}

/// What recording a checkpoint reads and writes inside the backend's transaction, each with
/// the backend's own SQL; [`record_checkpoint`] decides in what order and what to refuse.
pub(crate) trait CheckpointRecords {
    /// The backend's own error (an SQL failure), which can also carry a refusal.
    type Error: From<StoreError>;
    /// The log's size now.
    fn log_size(&mut self, tenant: TenantId) -> Result<u64, Self::Error>;
    /// The checkpoint recorded for exactly `size`.
    fn at(&mut self, tenant: TenantId, size: u64) -> Result<Option<StoredCheckpoint>, Self::Error>;
    /// The checkpoint with the largest size.
    fn latest(&mut self, tenant: TenantId) -> Result<Option<StoredCheckpoint>, Self::Error>;
    /// The tree's root at `size`, from the stored nodes.
    fn root_at(&mut self, tenant: TenantId, size: u64) -> Result<Hash, Self::Error>;
    /// Replaces the note of the checkpoint at `size` (more signature lines, same checkpoint).
    fn set_note(&mut self, tenant: TenantId, size: u64, note: &str) -> Result<(), Self::Error>;
    /// Inserts a new checkpoint.
    fn insert(&mut self, tenant: TenantId, record: &StoredCheckpoint) -> Result<(), Self::Error>;
}

/// Records `(size, root, note)` for `tenant` once the equivocation guard allows it
/// ([`checkpoint_guard`]) and its root is the tree's own root at `size`; an already recorded
/// checkpoint gains the note's new signature lines (a witness's cosignature). A refusal writes
/// nothing. The same steps on every backend, inside the caller's transaction.
pub(crate) fn record_checkpoint<R: CheckpointRecords>(
    records: &mut R,
    tenant: TenantId,
    size: u64,
    root: Hash,
    note: &str,
) -> Result<StoredCheckpoint, R::Error> {
    let log = records.log_size(tenant)?;
    let existing = records.at(tenant, size)?;
    let newest = records.latest(tenant)?;
    if let Some(mut recorded) = checkpoint_guard(size, root, existing, newest.as_ref(), log)? {
        if let Some(merged) = merged_note(&recorded, note) {
            records.set_note(tenant, size, &merged)?;
            recorded.note = merged;
        }
        return Ok(recorded);
    }
    if records.root_at(tenant, size)? != root {
        return Err(wrong_root(size).into());
    }
    let record = StoredCheckpoint {
        size,
        root,
        note: note.to_string(),
        signed_at: Timestamp::now(),
    };
    records.insert(tenant, &record)?;
    Ok(record)
}

/// The node index range `first .. first + count` at tree `level` as stored integers, once a tree
/// of `size` leaves has all of them (complete subtrees only); `Invalid` otherwise.
pub(crate) fn tree_level_range(
    size: u64,
    level: u32,
    first: u64,
    count: u64,
) -> Result<(i64, i64), StoreError> {
    let complete = if level >= 64 { 0 } else { size >> level };
    match first.checked_add(count) {
        Some(end) if end <= complete && count > 0 => Ok((first as i64, end as i64)),
        _ => Err(StoreError::Invalid(format!(
            "the tree of {size} entries has no complete nodes {first}..{} at level {level}",
            first.saturating_add(count)
        ))),
    }
}

/// The hashes of a level range read in index order, checked to be exactly the range: a gap is
/// a damaged tree, not a shorter answer.
pub(crate) fn contiguous_level(
    rows: Vec<(i64, Hash)>,
    level: u32,
    (first, end): (i64, i64),
) -> Result<Vec<Hash>, StoreError> {
    let mut hashes = Vec::with_capacity(rows.len());
    for (expected, (idx, hash)) in (first..end).zip(rows.iter()) {
        if *idx != expected {
            break;
        }
        hashes.push(*hash);
    }
    if hashes.len() as i64 != end - first {
        return Err(StoreError::Corrupt(format!(
            "tree nodes missing at level {level} between {first} and {end}"
        )));
    }
    Ok(hashes)
}

/// Refuses a default period the audit page could not apply, before anything is written.
pub(crate) fn check_default_period(period: Option<&str>) -> Result<(), StoreError> {
    sealtrail_core::filter::check_default_period(period).map_err(StoreError::Invalid)
}

/// A stored default period: the empty string is any time.
pub(crate) fn stored_default_period(stored: String) -> Option<String> {
    (!stored.is_empty()).then_some(stored)
}

/// A stored tile-access value; anything this build did not write is corruption, not "off"
/// or "public".
pub(crate) fn stored_tile_access(stored: String) -> Result<crate::TileAccess, StoreError> {
    crate::TileAccess::parse(&stored)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown tile access `{stored}`")))
}

/// The note to keep for a checkpoint recorded again: the stored one plus any signature line of
/// `note` by a key it does not carry yet (a witness's cosignature), or `None` when nothing is
/// new. A note over another text (or no note at all) adds nothing: the stored text is what
/// was signed, and the caller sees its lines were not kept.
pub(crate) fn merged_note(recorded: &StoredCheckpoint, note: &str) -> Option<String> {
    sealtrail_core::checkpoint::merge_signatures(&recorded.note, note)
        .ok()
        .flatten()
}

/// The guard's refusal when the root given is not the tree's.
pub(crate) fn wrong_root(size: u64) -> StoreError {
    StoreError::Conflict(format!(
        "the root given is not the tree's root at size {size}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclusions_are_trimmed_sorted_and_deduplicated() {
        let keys = [" notes ".to_string(), "dialogue".into(), "notes".into()];
        assert_eq!(
            export_exclusions(&keys).ok(),
            Some(vec!["dialogue".to_string(), "notes".to_string()])
        );
        for bad in [" ".to_string(), "a\tb".into(), "k".repeat(129)] {
            assert!(matches!(
                export_exclusions(&[bad]),
                Err(StoreError::Invalid(_))
            ));
        }
        assert_eq!(
            export_exclusions(&["k".repeat(128)]).map(|k| k.len()).ok(),
            Some(1)
        );
    }

    #[test]
    fn retention_floor() {
        assert!(check_retention(Retention::Days(29)).is_err());
        assert!(check_retention(Retention::Days(30)).is_ok());
        assert!(check_retention(Retention::Forever).is_ok());
    }
}
