//! The per-entry checks that need nothing but the row itself — hashing the envelope, decoding
//! it, its commitments against the vault values, opening the entry and comparing its copies —
//! run on worker threads, one per core, while the backend reads the next rows. They were most
//! of a verification's time on one core.
//!
//! What depends on the log as a whole (the stored leaf hashes, seq order, prune claims,
//! erasures) stays with [`super::Verifier`] on the caller's thread, which takes the results
//! back in seq order.

use super::{copies, EntryRow};
use crate::Hash;
use sealtrail_core::entry::{ERASURE_ACTION, PRUNE_ACTION};
use sealtrail_core::envelope::{self, Part, Slot};
use sealtrail_core::merkle::leaf_hash;
use sealtrail_core::{Entry, TenantId};

/// Entry rows handed to the worker at a time.
pub(super) const BATCH: usize = 1024;

/// What the checks found for one entry row.
#[derive(Debug)]
pub(super) struct Checked {
    /// The seq the row's key places it at.
    pub seq: u64,
    /// The hash of the row's envelope bytes.
    pub leaf: Hash,
    /// The outcome, split where the stored leaf hash comes in.
    pub outcome: Outcome,
}

/// The checks' outcome, split at the comparison with the stored leaf hash (which only the
/// verifier holds), so the report names the same first problem as checking in one place.
#[derive(Debug)]
pub(super) enum Outcome {
    /// Wrong before the leaf comparison: the seq column, or the envelope's own claims.
    Claims(String),
    /// The claims hold; past the leaf comparison, what the verifier needs of the opened
    /// entry, or the first thing wrong with it.
    Opened(Result<Kept, String>),
}

/// What the verifier needs of a checked entry. Most entries need nothing more, so the worker
/// drops them where it built them rather than handing every entry's memory across threads.
#[derive(Debug)]
pub(super) struct Kept {
    /// The entry, when it is one the log-wide checks read (a prune's or an erasure's).
    pub entry: Option<Box<Entry>>,
    /// Its erased vault values (the only slots the log-wide checks read).
    pub erased: Vec<Slot>,
}

/// What the worker needs to know about the log to check a row on its own.
#[derive(Debug, Clone)]
struct LogFacts {
    tenant: TenantId,
    origin: String,
}

/// The checking lanes, one per core ([`sealtrail_core::parallel::Lanes`]): each takes a batch of rows
/// and gives back what it found, in the order the batches were read.
pub(super) type Checker = sealtrail_core::parallel::Lanes<Vec<EntryRow>, Vec<Checked>>;

/// Starts the checking lanes for `tenant`'s log named `origin`.
pub(super) fn start(tenant: TenantId, origin: &str) -> Checker {
    let facts = LogFacts {
        tenant,
        origin: origin.to_string(),
    };
    sealtrail_core::parallel::Lanes::start("verification", move |batch: Vec<EntryRow>| {
        batch.into_iter().map(|row| check(&facts, row)).collect()
    })
}

/// Every check of one row that needs only the row.
fn check(facts: &LogFacts, row: EntryRow) -> Checked {
    let seq = row.seq;
    let leaf = leaf_hash(&row.envelope);
    let outcome = match row.seq_column {
        Some(column) if u64::try_from(column).ok() == Some(seq) => open(facts, row),
        column => Outcome::Claims(format!("row's seq column says {column:?}")),
    };
    Checked { seq, leaf, outcome }
}

/// The envelope's claims, then the entry as committed with its vault slots. The envelope is
/// decoded once for its claims, its commitments and the entry.
fn open(facts: &LogFacts, row: EntryRow) -> Outcome {
    let decoded = match envelope::decode(&row.envelope) {
        Ok(decoded) => decoded,
        Err(e) => return Outcome::Claims(format!("envelope does not decode: {e}")),
    };
    if decoded.log() != facts.origin {
        return Outcome::Claims(format!("envelope names another log: `{}`", decoded.log()));
    }
    if decoded.seq() != row.seq {
        return Outcome::Claims(format!("envelope claims seq {}", decoded.seq()));
    }
    if row.id.as_ref() != Some(decoded.id().as_bytes()) {
        return Outcome::Claims(format!(
            "envelope claims id {}: the entry was moved",
            decoded.id()
        ));
    }
    Outcome::Opened((|| {
        let mut slots = Vec::with_capacity(row.slots.len());
        for slot in row.slots {
            match slot {
                Ok(slot) => slots.push(slot),
                Err(e) => return Err(format!("vault row malformed: {e}")),
            }
        }
        let bad = decoded.mismatched_commitments(&slots);
        if !bad.is_empty() {
            let parts: Vec<&str> = bad.iter().map(|p| p.as_str()).collect();
            return Err(format!("vault value `{}` changed", parts.join("`, `")));
        }
        if let Some(part) = Part::ALL
            .into_iter()
            .find(|part| !slots.iter().any(|s| s.part() == *part))
        {
            return Err(format!("vault value `{}` missing", part.as_str()));
        }
        // The copies are compared with the entry's view, borrowed from the row's bytes; only
        // the few entries the log-wide checks read (a prune's, an erasure's) are built.
        let (difference, kept) = match decoded.view(&slots) {
            Ok(view) => (
                copies::first_difference(facts.tenant, &view, &row.copies),
                [PRUNE_ACTION, ERASURE_ACTION].contains(&view.action.as_ref()),
            ),
            Err(e) => return Err(format!("entry does not open: {e}")),
        };
        if let Some(column) = difference {
            return Err(format!(
                "the `{column}` copy that filters read differs from the committed entry"
            ));
        }
        let entry = match kept.then(|| envelope::open(&row.envelope, &slots)) {
            Some(Ok(entry)) => Some(Box::new(entry)),
            Some(Err(e)) => return Err(format!("entry does not open: {e}")),
            None => None,
        };
        Ok(Kept {
            entry,
            erased: slots
                .into_iter()
                .filter(|s| matches!(s, Slot::Erased { .. }))
                .collect(),
        })
    })())
}
