//! Verification of a tenant's log from its stored bytes, the part every backend shares. A
//! backend streams four sorted row sets from one read snapshot into a [`Verifier`], which
//! holds only the leaf hashes (32 bytes per seq, the one O(n) structure) and the tree rebuilt
//! from them:
//!
//! 1. the stored leaf hashes (tree level 0), [`Verifier::leaf`];
//! 2. the entries in seq order, [`Verifier::entry`]: every seq from the prune horizon to the
//!    head must have a row whose envelope names this log, this seq and the row's id, hashes
//!    to the stored leaf, and whose committed vault values match their commitments; rows
//!    outside the log are reported too. The checks that need only the row run on a worker
//!    over every core while the backend reads on ([`checks`]); their results are taken back
//!    in seq order;
//! 3. the erasure ledger in (run, seq, part) order, [`Verifier::listed`];
//! 4. the inner tree nodes in (level, idx) order, [`Verifier::node`], compared with the tree
//!    rebuilt from the leaf hashes.
//!
//! Erased vault values, which no commitment covers any more, are held to the erasure ledger
//! and the `subject.erased` entries that commit to it ([`erasures`], fed by
//! [`Verifier::listed`] after the entries).
//!
//! Each entry's filter columns, target rows and search words must also be exactly what the
//! append path writes for the committed entry ([`copies`]): a read path that trusts an edited
//! copy would hide the entry from lists and filtered exports while every hash still matches.
//!
//! The root returned is recomputed from the leaf hashes: the CLI compares it with the latest
//! signed checkpoint, which also covers pruned seqs (whose bytes are gone by design). Only the
//! lowest-seq problem is reported, the place an operator starts looking.

mod checks;
mod copies;
mod erasures;

pub(crate) use copies::{
    target_from_json, IndexCopies, ScalarCopies, TargetCopy, Words, SCALAR_COLUMNS,
};

use crate::{Hash, LogVerification, StoreError};
use sealtrail_core::entry::PRUNE_ACTION;
use sealtrail_core::envelope::Slot;
use sealtrail_core::merkle::{MemoryTree, NodeSource};
use sealtrail_core::parallel::LaneStopped;
use sealtrail_core::{Entry, TenantId};
use std::collections::HashSet;
use std::future::Future;

/// Entries checked between progress reports.
const PROGRESS_EVERY: u64 = 1_000;

/// One entry row as stored, with whatever of it does not decode kept as an error so it is
/// reported at its seq rather than failing the verification.
#[derive(Debug)]
pub(crate) struct EntryRow {
    /// The seq the row's key places it at.
    pub seq: u64,
    /// The row's own seq column, `None` when it holds no integer.
    pub seq_column: Option<i64>,
    /// Id column; `None` when it does not hold 16 bytes.
    pub id: Option<[u8; 16]>,
    /// Envelope bytes, verbatim.
    pub envelope: Vec<u8>,
    /// The vault values found for the row, in part order.
    pub slots: Vec<Result<Slot, StoreError>>,
    /// The copies of its values that read paths use instead of the vault.
    pub copies: IndexCopies,
}

/// The tree rebuilt from the leaf hashes, and what the node comparison has found so far.
struct TreeCheck {
    /// Rebuilt from the stored leaf hashes (a missing one counted as zeros).
    tree: MemoryTree,
    /// Inner nodes found to differ from the rebuilt tree.
    differing: HashSet<(u32, u64)>,
    /// The level the node stream is at.
    level: u32,
    /// The next index expected at that level; skipped ones are missing nodes.
    next: u64,
}

/// Checks one log from its streamed rows. Feed every leaf, then every entry, then the erasure
/// ledger, then every inner node, then call [`Verifier::finish`].
pub(crate) struct Verifier<'a> {
    /// The log size (tree size) verified.
    size: u64,
    /// The prune horizon: seqs below it have no entry row by design.
    first_seq: u64,
    /// Receives the number of entries checked so far.
    progress: &'a dyn Fn(u64),
    /// The stored level-0 hashes, indexed by seq.
    leaves: Vec<Option<Hash>>,
    /// Seqs whose bytes no longer hash to their stored leaf, or whose leaf is missing.
    bad_leaves: HashSet<u64>,
    /// The lowest-seq problem found so far.
    problem: Option<(u64, String)>,
    /// The next seq the entry stream should show.
    expected: u64,
    /// Entry rows checked.
    checked: u64,
    /// The highest first seq a verified `retention.pruned` entry says its prune kept: the
    /// prune horizon may not pass it.
    prune_claim: u64,
    /// Erased values, erasure entries and the erasure ledger.
    erasures: erasures::ErasureCheck,
    /// The node comparison, once the entry stream has ended.
    tree: Option<TreeCheck>,
    /// The worker checking entry rows over every core.
    checker: checks::Checker,
    /// Entry rows read but not yet handed to the worker.
    pending: Vec<EntryRow>,
    /// Set when the worker stopped before checking every row: the verification fails.
    failure: Option<String>,
}

impl<'a> Verifier<'a> {
    /// A verifier for `tenant`'s log of `size` seqs pruned below `first_seq`, named `origin`;
    /// `progress` receives the number of entries checked so far.
    pub(crate) fn new(
        tenant: TenantId,
        size: u64,
        first_seq: u64,
        origin: &'a str,
        progress: &'a dyn Fn(u64),
    ) -> Result<Self, StoreError> {
        let len = usize::try_from(size).map_err(|_| StoreError::Backend("log too large".into()))?;
        Ok(Verifier {
            size,
            first_seq,
            progress,
            leaves: vec![None; len],
            bad_leaves: HashSet::new(),
            problem: None,
            expected: first_seq,
            checked: 0,
            prune_claim: 0,
            erasures: erasures::ErasureCheck::default(),
            tree: None,
            checker: checks::start(tenant, origin),
            pending: Vec::with_capacity(checks::BATCH),
            failure: None,
        })
    }

    /// Records a problem at `seq`, kept if it is the lowest so far. Backends call it for rows
    /// they cannot even place in the log.
    pub(crate) fn note(&mut self, seq: u64, reason: impl Into<String>) {
        if self.problem.as_ref().is_none_or(|(s, _)| seq < *s) {
            self.problem = Some((seq, reason.into()));
        }
    }

    /// One stored leaf hash (tree level 0, index `idx`).
    pub(crate) fn leaf(&mut self, idx: u64, hash: &[u8]) {
        let parsed = <Hash>::try_from(hash);
        match (
            usize::try_from(idx)
                .ok()
                .and_then(|i| self.leaves.get_mut(i)),
            parsed,
        ) {
            (Some(slot), Ok(h)) => *slot = Some(h),
            (Some(_), Err(_)) => self.note(idx, "stored leaf hash is malformed"),
            (None, _) => self.note(idx, "tree leaf beyond the log"),
        }
    }

    /// The stored leaf hash of `seq`, if there is one.
    fn stored_leaf(&self, seq: u64) -> Option<Hash> {
        usize::try_from(seq)
            .ok()
            .and_then(|i| self.leaves.get(i).copied().flatten())
    }

    /// One entry row, in seq order (after every leaf). Its place in the log is checked here;
    /// the rest of its checks run on the worker, and their results come back in seq order.
    pub(crate) fn entry(&mut self, row: EntryRow) {
        let seq = row.seq;
        if seq >= self.size {
            return self.note(seq, "entry beyond the log");
        }
        if seq < self.first_seq {
            return self.note(seq, "entry in the pruned range");
        }
        if seq > self.expected {
            self.note(self.expected, "missing entry");
        }
        self.expected = self.expected.max(seq + 1);
        self.pending.push(row);
        if self.pending.len() >= checks::BATCH {
            self.hand_over();
        }
    }

    /// Hands the rows read so far to the workers and takes the results already finished.
    fn hand_over(&mut self) {
        if !self.pending.is_empty() {
            let batch = std::mem::replace(&mut self.pending, Vec::with_capacity(checks::BATCH));
            let ready = self.checker.submit(batch);
            self.take_results(ready);
        }
    }

    /// Waits for every entry row read so far to be checked, and takes the results.
    fn drain_entries(&mut self) {
        self.hand_over();
        let ready = self.checker.drain();
        self.take_results(ready);
    }

    /// Takes finished batches of checks, in seq order.
    fn take_results(&mut self, ready: Result<Vec<Vec<checks::Checked>>, LaneStopped>) {
        match ready {
            Ok(batches) => batches
                .into_iter()
                .flatten()
                .for_each(|checked| self.absorb(checked)),
            Err(stopped) => self.failure = Some(format!("verification: {stopped}")),
        }
    }

    /// One entry's checks, completed with what only the whole log knows: the stored leaf
    /// hash, prune claims and erasures.
    fn absorb(&mut self, checked: checks::Checked) {
        let seq = checked.seq;
        let changed = self
            .stored_leaf(seq)
            .is_some_and(|stored| stored != checked.leaf);
        if changed {
            self.bad_leaves.insert(seq);
        }
        let outcome = match checked.outcome {
            checks::Outcome::Claims(reason) => Err(reason),
            // A missing leaf hash is reported by the tree check.
            checks::Outcome::Opened(_) if changed => {
                Err("entry bytes changed: they no longer hash to the stored leaf".into())
            }
            checks::Outcome::Opened(opened) => opened,
        };
        match outcome {
            Ok(kept) => {
                if let Some(entry) = &kept.entry {
                    self.note_prune(seq, entry);
                }
                if let Err(reason) = self
                    .erasures
                    .entry(seq, &kept.erased, kept.entry.as_deref())
                {
                    self.note(seq, reason);
                }
            }
            Err(reason) => self.note(seq, reason),
        }
        self.checked += 1;
        if self.checked % PROGRESS_EVERY == 0 {
            (self.progress)(self.checked);
        }
    }

    /// Takes note of what a verified `retention.pruned` entry says the prune kept. A prune
    /// writes its entry before it removes anything and only ever removes older entries, so
    /// the first seq it names is never after its own.
    fn note_prune(&mut self, seq: u64, entry: &Entry) {
        if entry.action != PRUNE_ACTION {
            return;
        }
        match entry
            .properties
            .get("first_kept_seq")
            .and_then(serde_json::Value::as_u64)
        {
            Some(kept) if kept <= seq => self.prune_claim = self.prune_claim.max(kept),
            Some(kept) => self.note(
                seq,
                format!("a `{PRUNE_ACTION}` entry may not remove itself or later entries (it names seq {kept})"),
            ),
            None => self.note(
                seq,
                format!("a `{PRUNE_ACTION}` entry without the first seq it kept"),
            ),
        }
    }

    /// One row of the erasure ledger, in (run, seq, part) order (after every entry).
    pub(crate) fn listed(&mut self, run: &[u8], seq: i64, part: i64, hash: &[u8]) {
        if self.tree.is_none() {
            self.drain_entries();
        }
        let position = u64::try_from(seq).ok();
        match (
            <[u8; 16]>::try_from(run),
            position,
            u8::try_from(part).ok().filter(|p| *p < 3),
            <Hash>::try_from(hash),
        ) {
            (Ok(run), Some(seq), Some(part), Ok(hash)) => {
                self.erasures.listed(run, seq, part, hash)
            }
            _ => self.note(
                position.unwrap_or(0),
                "a malformed row in the erasure ledger",
            ),
        }
    }

    /// Nodes expected at a level: one per complete subtree of 2^level leaves.
    fn width(&self, level: u32) -> u64 {
        self.size.checked_shr(level).unwrap_or(0)
    }

    /// Reports the first node of `level` in `[from, to)` that should exist, if any.
    fn missing_up_to(&mut self, level: u32, from: u64, to: u64) {
        if from < to.min(self.width(level)) {
            self.note(
                first_leaf(level, from),
                format!("tree node (level {level}, index {from}) missing"),
            );
        }
    }

    /// Ends the entry stream and rebuilds the tree from the leaf hashes, on first use.
    fn tree_check(&mut self) -> TreeCheck {
        if let Some(check) = self.tree.take() {
            return check;
        }
        self.drain_entries();
        if self.expected < self.size {
            self.note(self.expected, "missing entry");
        }
        if self.first_seq > self.prune_claim {
            self.note(
                self.prune_claim,
                format!(
                    "seqs {}-{} are gone, but no `{PRUNE_ACTION}` entry in the log removed them",
                    self.prune_claim,
                    self.first_seq - 1
                ),
            );
        }
        // The entries are done with the leaf hashes; the rebuilt tree holds them from now on.
        let leaves = std::mem::take(&mut self.leaves);
        let mut tree = MemoryTree::new();
        for (seq, leaf) in (0u64..).zip(leaves) {
            match leaf {
                Some(hash) => tree.push(hash),
                None => {
                    self.note(seq, "tree leaf hash missing");
                    self.bad_leaves.insert(seq);
                    tree.push([0; 32]);
                }
            }
        }
        TreeCheck {
            tree,
            differing: HashSet::new(),
            level: 1,
            next: 0,
        }
    }

    /// True when a differing node is explained by a differing child: a changed leaf hash
    /// makes every ancestor differ from the rebuilt tree, while a changed inner node differs
    /// alone, so the report names the deepest place, not the first leaf of the largest
    /// subtree above it.
    fn explained(&self, check: &TreeCheck, level: u32, idx: u64) -> bool {
        let children = [2 * idx, 2 * idx + 1];
        if level == 1 {
            children.iter().any(|c| self.bad_leaves.contains(c))
        } else {
            children
                .iter()
                .any(|c| check.differing.contains(&(level - 1, *c)))
        }
    }

    /// One stored inner node, in (level, idx) order (after every entry); `None` for a
    /// position column that holds no integer.
    pub(crate) fn node(&mut self, level: Option<i64>, idx: Option<i64>, hash: &[u8]) {
        let mut check = self.tree_check();
        self.compare_node(&mut check, level, idx, hash);
        self.tree = Some(check);
    }

    /// Compares one stored inner node with the rebuilt tree, reporting nodes skipped before
    /// it as missing.
    fn compare_node(
        &mut self,
        check: &mut TreeCheck,
        level: Option<i64>,
        idx: Option<i64>,
        hash: &[u8],
    ) {
        let (Some(row_level), Some(idx)) = (level, idx) else {
            return self.note(self.size, "tree node with a malformed position");
        };
        let row_level = u32::try_from(row_level).unwrap_or(u32::MAX);
        let idx = idx.max(0) as u64;
        if row_level >= u64::BITS {
            return self.note(
                self.size,
                format!("tree node at level {row_level} beyond the log"),
            );
        }
        while check.level < row_level {
            self.missing_up_to(check.level, check.next, u64::MAX);
            check.level += 1;
            check.next = 0;
        }
        let level = check.level;
        self.missing_up_to(level, check.next, idx);
        check.next = idx + 1;
        if idx >= self.width(level) {
            self.note(
                self.size,
                format!("tree node (level {level}, index {idx}) beyond the log"),
            );
        } else if check.tree.node(level, idx).ok() != <Hash>::try_from(hash).ok() {
            if !self.explained(check, level, idx) {
                self.note(
                    first_leaf(level, idx),
                    format!(
                        "tree node (level {level}, index {idx}) does not match the leaves below it"
                    ),
                );
            }
            check.differing.insert((level, idx));
        }
    }

    /// Ends the node stream, reports nodes that should exist but never came, and returns the
    /// result with the root recomputed from the leaf hashes.
    pub(crate) fn finish(mut self) -> Result<LogVerification, StoreError> {
        let mut check = self.tree_check();
        if let Some(failure) = self.failure.take() {
            return Err(StoreError::Backend(failure));
        }
        let erasures = std::mem::take(&mut self.erasures);
        for (seq, reason) in erasures.finish(self.first_seq) {
            self.note(seq, reason);
        }
        while self.width(check.level) > 0 {
            self.missing_up_to(check.level, check.next, u64::MAX);
            check.level += 1;
            check.next = 0;
        }
        let root = check
            .tree
            .root_at(self.size)
            .map_err(|e| StoreError::Corrupt(format!("rebuilding the tree: {e}")))?;
        (self.progress)(self.checked);
        Ok(LogVerification {
            size: self.size,
            root,
            first_problem: self.problem,
            checked: self.checked,
            pruned: self.first_seq,
        })
    }
}

/// The first leaf under node (`level`, `idx`): where a problem with it is reported.
fn first_leaf(level: u32, idx: u64) -> u64 {
    idx.checked_shl(level).unwrap_or(u64::MAX)
}

/// Progress reports from a verification running on a blocking thread.
pub(crate) struct ProgressSender(tokio::sync::mpsc::UnboundedSender<u64>);

impl ProgressSender {
    /// Passes on one report; the caller may have stopped listening, and the verification
    /// carries on regardless.
    pub(crate) fn report(&self, checked: u64) {
        let _ = self.0.send(checked);
    }
}

/// Runs `work` (a verification on a blocking thread, given a [`ProgressSender`]) and relays
/// its reports to `progress` on this task, so the caller's callback needs no `'static`
/// lifetime.
pub(crate) async fn relay_progress<T, Fut>(
    progress: &(dyn Fn(u64) + Send + Sync),
    work: impl FnOnce(ProgressSender) -> Fut,
) -> T
where
    Fut: Future<Output = T>,
{
    let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel();
    let work = work(ProgressSender(sender));
    let relay = async {
        while let Some(n) = receiver.recv().await {
            progress(n);
        }
    };
    let (result, ()) = tokio::join!(work, relay);
    result
}
