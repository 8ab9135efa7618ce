//! Verification of a tenant's log from its stored bytes, in one read snapshot, streaming:
//!
//! 1. the stored leaf hashes (tree level 0) are loaded — the one O(n) structure, 32 bytes each;
//! 2. entries and their vault rows are merge-joined in seq order: every seq from the prune
//!    horizon to the head must have a row whose envelope names this log, this seq and the
//!    row's id, hashes to the stored leaf, and whose committed vault values match their
//!    commitments; rows outside the log are reported too;
//! 3. the tree is rebuilt from the leaf hashes and every stored inner node is compared with it.
//!
//! The root returned is recomputed from the leaf hashes: the CLI compares it with the latest
//! signed checkpoint, which also covers pruned seqs (whose bytes are gone by design).

use super::admin::tenant_origin;
use super::append::{tenant_base, SEQ_LIMIT};
use super::error::backend;
use super::read::log_head;
use super::tree::hash_from_blob;
use super::vault::{bytes, integer, slot_from_row, slot_part};
use crate::{Hash, LogVerification, StoreError};
use rusqlite::{Connection, Rows};
use sealtrail_core::envelope::{self, Part, Slot};
use sealtrail_core::merkle::{leaf_hash, MemoryTree, NodeSource};
use sealtrail_core::TenantId;
use std::collections::HashSet;

/// Entries checked between progress reports.
const PROGRESS_EVERY: u64 = 1_000;

/// The lowest-seq problem found so far.
#[derive(Debug, Default)]
struct Problems(Option<(u64, String)>);

impl Problems {
    fn note(&mut self, seq: u64, reason: impl Into<String>) {
        if self.0.as_ref().is_none_or(|(s, _)| seq < *s) {
            self.0 = Some((seq, reason.into()));
        }
    }
}

/// Verifies `tenant`'s log; `progress` receives the number of entries checked so far.
pub(crate) fn verify_log(
    conn: &Connection,
    tenant: TenantId,
    progress: &dyn Fn(u64),
) -> Result<LogVerification, StoreError> {
    let (Some(head), Some(base)) = (log_head(conn, tenant)?, tenant_base(tenant)) else {
        return Err(StoreError::NotFound(format!("tenant {}", tenant.0)));
    };
    let origin = tenant_origin(conn, tenant)?;
    let mut problems = Problems::default();
    let leaves = stored_leaves(conn, tenant, head.size, &mut problems)?;
    let scan = Scan {
        base,
        size: head.size,
        first_seq: head.first_seq,
        origin: &origin,
        leaves: &leaves,
    };
    let (checked, bad_leaves) = scan.entries(conn, &mut problems, progress)?;
    let root = check_tree(conn, tenant, head.size, &leaves, bad_leaves, &mut problems)?;
    progress(checked);
    Ok(LogVerification {
        size: head.size,
        root,
        first_problem: problems.0,
        checked,
        pruned: head.first_seq,
    })
}

/// The stored level-0 hashes, indexed by seq.
fn stored_leaves(
    conn: &Connection,
    tenant: TenantId,
    size: u64,
    problems: &mut Problems,
) -> Result<Vec<Option<Hash>>, StoreError> {
    let len = usize::try_from(size).map_err(|_| StoreError::Backend("log too large".into()))?;
    let mut leaves = vec![None; len];
    let mut stmt = conn
        .prepare("SELECT idx, hash FROM tree_nodes WHERE tenant = ?1 AND level = 0 ORDER BY idx")
        .map_err(backend("reading leaf hashes"))?;
    let mut rows = stmt
        .query([tenant.0])
        .map_err(backend("reading leaf hashes"))?;
    while let Some(row) = rows.next().map_err(backend("reading leaf hashes"))? {
        let idx = row
            .get::<_, i64>(0)
            .map_err(backend("reading leaf hashes"))?
            .max(0) as u64;
        let hash = bytes(row, 1)
            .map_err(backend("reading leaf hashes"))?
            .unwrap_or_default();
        match (leaves.get_mut(idx as usize), hash_from_blob(&hash)) {
            (Some(slot), Ok(h)) => *slot = Some(h),
            (Some(_), Err(_)) => problems.note(idx, "stored leaf hash is malformed"),
            (None, _) => problems.note(idx, "tree leaf beyond the log"),
        }
    }
    Ok(leaves)
}

/// Vault rows streamed in pk order alongside the entries.
struct VaultCursor<'s> {
    rows: Rows<'s>,
    pending: Option<(i64, Result<Slot, StoreError>)>,
}

impl VaultCursor<'_> {
    fn fetch(&mut self) -> Result<(), StoreError> {
        let read = backend("reading vault rows");
        self.pending = match self.rows.next().map_err(&read)? {
            None => None,
            Some(r) => {
                let pk: i64 = r.get(0).map_err(&read)?;
                let slot = slot_from_row(
                    integer(r, 1).map_err(&read)?.unwrap_or(-1),
                    bytes(r, 2).map_err(&read)?,
                    bytes(r, 3).map_err(&read)?.unwrap_or_default(),
                    integer(r, 4).map_err(&read)?.unwrap_or(0) != 0,
                );
                Some((pk, slot))
            }
        };
        Ok(())
    }

    /// The slots of entry `pk`, skipping rows of entries that no longer exist.
    fn slots_for(&mut self, pk: i64) -> Result<Vec<Result<Slot, StoreError>>, StoreError> {
        let mut slots = Vec::with_capacity(3);
        loop {
            match self.pending.take() {
                None => return Ok(slots),
                Some((p, slot)) if p <= pk => {
                    if p == pk {
                        slots.push(slot);
                    }
                    self.fetch()?;
                }
                Some(later) => {
                    self.pending = Some(later);
                    return Ok(slots);
                }
            }
        }
    }
}

/// What the entry scan compares rows with.
struct Scan<'a> {
    base: i64,
    size: u64,
    first_seq: u64,
    origin: &'a str,
    leaves: &'a [Option<Hash>],
}

impl Scan<'_> {
    /// Checks every entry row of the tenant; returns how many were checked and the seqs whose
    /// bytes no longer hash to their stored leaf.
    fn entries(
        &self,
        conn: &Connection,
        problems: &mut Problems,
        progress: &dyn Fn(u64),
    ) -> Result<(u64, HashSet<u64>), StoreError> {
        let read = backend("reading entries");
        let bounds = (self.base, self.base | (SEQ_LIMIT - 1));
        let mut entries = conn
            .prepare(
                "SELECT pk, seq, id, envelope FROM entries WHERE pk >= ?1 AND pk <= ?2 ORDER BY pk",
            )
            .map_err(&read)?;
        let mut vault = conn
            .prepare("SELECT pk, part, salt, value, erased FROM vault WHERE pk >= ?1 AND pk <= ?2 ORDER BY pk, part")
            .map_err(&read)?;
        let mut slots = VaultCursor {
            rows: vault.query(bounds).map_err(&read)?,
            pending: None,
        };
        slots.fetch()?;
        let mut rows = entries.query(bounds).map_err(&read)?;
        let (mut expected, mut checked) = (self.first_seq, 0u64);
        let mut bad_leaves = HashSet::new();
        while let Some(row) = rows.next().map_err(&read)? {
            let pk: i64 = row.get(0).map_err(&read)?;
            let column_seq = integer(row, 1).map_err(&read)?;
            let id = bytes(row, 2).map_err(&read)?.unwrap_or_default();
            let envelope = bytes(row, 3).map_err(&read)?;
            let entry_slots = slots.slots_for(pk)?;
            let seq = (pk - self.base) as u64;
            if seq >= self.size {
                problems.note(seq, "entry beyond the log");
                continue;
            }
            if seq < self.first_seq {
                problems.note(seq, "entry in the pruned range");
                continue;
            }
            if seq > expected {
                problems.note(expected, "missing entry");
            }
            expected = expected.max(seq + 1);
            let envelope = envelope.unwrap_or_default();
            let leaf = leaf_hash(&envelope);
            if matches!(self.leaves.get(seq as usize), Some(Some(stored)) if *stored != leaf) {
                bad_leaves.insert(seq);
            }
            let reason = if column_seq != Some(seq as i64) {
                Some(format!("row's seq column says {column_seq:?}"))
            } else {
                self.check(seq, &id, &envelope, leaf, entry_slots)
            };
            if let Some(reason) = reason {
                problems.note(seq, reason);
            }
            checked += 1;
            if checked % PROGRESS_EVERY == 0 {
                progress(checked);
            }
        }
        if expected < self.size {
            problems.note(expected, "missing entry");
        }
        Ok((checked, bad_leaves))
    }

    /// The first thing wrong with one entry, if any.
    fn check(
        &self,
        seq: u64,
        id: &[u8],
        envelope: &[u8],
        leaf: Hash,
        slots: Vec<Result<Slot, StoreError>>,
    ) -> Option<String> {
        let head = match envelope::head(envelope) {
            Ok(head) => head,
            Err(e) => return Some(format!("envelope does not decode: {e}")),
        };
        if head.log != self.origin {
            return Some(format!("envelope names another log: `{}`", head.log));
        }
        if head.seq != seq {
            return Some(format!("envelope claims seq {}", head.seq));
        }
        if head.id.as_bytes().as_slice() != id {
            return Some(format!(
                "envelope claims id {}: the entry was moved",
                head.id
            ));
        }
        match self.leaves.get(seq as usize) {
            Some(Some(stored)) if *stored != leaf => {
                return Some("entry bytes changed: they no longer hash to the stored leaf".into())
            }
            _ => {} // a missing leaf hash is reported by the tree check
        }
        let slots: Vec<Slot> = match slots.into_iter().collect::<Result<_, _>>() {
            Ok(slots) => slots,
            Err(e) => return Some(format!("vault row malformed: {e}")),
        };
        match envelope::mismatched_commitments(envelope, &slots) {
            Err(e) => return Some(format!("envelope does not decode: {e}")),
            Ok(bad) if !bad.is_empty() => {
                let parts: Vec<&str> = bad.iter().map(|p| p.as_str()).collect();
                return Some(format!("vault value `{}` changed", parts.join("`, `")));
            }
            Ok(_) => {}
        }
        Part::ALL
            .into_iter()
            .find(|part| !slots.iter().any(|s| slot_part(s) == *part))
            .map(|part| format!("vault value `{}` missing", part.as_str()))
    }
}

/// Rebuilds the tree from the leaf hashes, compares every stored inner node with it, and
/// returns the recomputed root.
///
/// A changed leaf hash makes every ancestor differ from the rebuilt tree, while a changed
/// inner node differs alone. So a differing node whose child differs too (or, at level 1,
/// whose leaf is known bad) is explained by that child and not reported: the report names
/// the deepest place, not the first leaf of the largest subtree above it.
fn check_tree(
    conn: &Connection,
    tenant: TenantId,
    size: u64,
    leaves: &[Option<Hash>],
    mut bad_leaves: HashSet<u64>,
    problems: &mut Problems,
) -> Result<Hash, StoreError> {
    let mut tree = MemoryTree::new();
    for (seq, leaf) in leaves.iter().enumerate() {
        match leaf {
            Some(hash) => tree.push(*hash),
            None => {
                problems.note(seq as u64, "tree leaf hash missing");
                bad_leaves.insert(seq as u64);
                tree.push([0; 32]);
            }
        }
    }
    let mut differing: HashSet<(u32, u64)> = HashSet::new();
    let explained = |differing: &HashSet<(u32, u64)>, level: u32, idx: u64| {
        let children = [2 * idx, 2 * idx + 1];
        if level == 1 {
            children.iter().any(|c| bad_leaves.contains(c))
        } else {
            children
                .iter()
                .any(|c| differing.contains(&(level - 1, *c)))
        }
    };
    let read = backend("reading tree nodes");
    let mut stmt = conn
        .prepare("SELECT level, idx, hash FROM tree_nodes WHERE tenant = ?1 AND level > 0 ORDER BY level, idx")
        .map_err(&read)?;
    let mut rows = stmt.query([tenant.0]).map_err(&read)?;
    // Nodes expected at a level: one per complete subtree of 2^level leaves.
    let width = |level: u32| size.checked_shr(level).unwrap_or(0);
    let first_leaf = |level: u32, idx: u64| idx.checked_shl(level).unwrap_or(u64::MAX);
    let (mut level, mut next) = (1u32, 0u64);
    let missing_up_to = |problems: &mut Problems, level: u32, from: u64, to: u64| {
        if from < to.min(width(level)) {
            problems.note(
                first_leaf(level, from),
                format!("tree node (level {level}, index {from}) missing"),
            );
        }
    };
    while let Some(row) = rows.next().map_err(&read)? {
        let (Some(row_level), Some(idx)) = (
            integer(row, 0).map_err(&read)?,
            integer(row, 1).map_err(&read)?,
        ) else {
            problems.note(size, "tree node with a malformed position");
            continue;
        };
        let row_level = u32::try_from(row_level).unwrap_or(u32::MAX);
        let idx = idx.max(0) as u64;
        let hash = bytes(row, 2).map_err(&read)?.unwrap_or_default();
        if row_level >= u64::BITS {
            problems.note(
                size,
                format!("tree node at level {row_level} beyond the log"),
            );
            continue;
        }
        while level < row_level {
            missing_up_to(problems, level, next, u64::MAX);
            level += 1;
            next = 0;
        }
        missing_up_to(problems, level, next, idx);
        next = idx + 1;
        if idx >= width(level) {
            problems.note(
                size,
                format!("tree node (level {level}, index {idx}) beyond the log"),
            );
        } else if tree.node(level, idx).ok() != hash_from_blob(&hash).ok() {
            if !explained(&differing, level, idx) {
                problems.note(
                    first_leaf(level, idx),
                    format!(
                        "tree node (level {level}, index {idx}) does not match the leaves below it"
                    ),
                );
            }
            differing.insert((level, idx));
        }
    }
    while width(level) > 0 {
        missing_up_to(problems, level, next, u64::MAX);
        level += 1;
        next = 0;
    }
    tree.root_at(size)
        .map_err(|e| StoreError::Corrupt(format!("rebuilding the tree: {e}")))
}
