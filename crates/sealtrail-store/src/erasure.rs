//! GDPR erasure, the part every backend shares; the text rules (pseudonym, specificity,
//! whole-token replacement) are in [`crate::scrub`]. An erasure runs in phases:
//!
//! 1. who (read snapshot, [`SubjectIdentifiers`]): the subject's actors — actor id equal to
//!    the subject, or actor e-mail equal to it ignoring ASCII case — come from a backend's
//!    prefilter over its actor columns; then the subject's targets — id equal to the subject
//!    or to the id of one of those actors, or id or name equal to the subject's or those
//!    actors' e-mail address ignoring ASCII case — from a prefilter over the backend's target
//!    copies (an index for ids; e-mails only when there are any). The predicates here decide,
//!    on both backends alike. With neither an actor nor a target the erasure ends in
//!    `NotFound` before anything is written. Identifiers for free text are taken only from
//!    those actors (id, e-mail, name) and targets (id, name), and only when
//!    [`crate::scrub::specific`].
//! 2. scrubbing (bounded write transactions, driven by [`run`]): [`scrub`] gives each entry
//!    of a chunk its erased vault values and facet changes. Structurally, the subject's own
//!    entries get a pseudonymous actor and an empty context, and targets that are the subject
//!    become the pseudonym; everywhere else only whole-token occurrences of the specific
//!    identifiers are replaced. The backend writes the values with the denormalised copies
//!    (filter columns, targets, properties, search words) rebuilt from the scrubbed entry. A
//!    dry run takes the same steps on read snapshots ([`preview`]) and writes nothing, so it
//!    reports exactly what the erasure would change.
//! 3. export jobs: files exported before the erasure are withdrawn, and the job records'
//!    specs (requester, label, filters) are rewritten the same way ([`job_specs`]).
//! 4. traces (backend-specific): whatever the engine keeps of the old values is purged.
//!
//! Envelopes and tree nodes are never touched, so every proof and checkpoint stays valid.

mod job_specs;
pub(crate) mod ledger;
mod subject;

pub(crate) use job_specs::scrub_spec;
pub(crate) use subject::{Plan, SubjectIdentifiers};

use crate::facets::FacetDeltas;
use crate::scrub::{erased_actor, erased_context, erased_target, TextScrub};
use crate::stored_entry::StoredEntry;
use crate::{ErasedEntry, ErasureMode, ErasureOutcome, StoreError, ERASURE_LIST_LIMIT};
use sealtrail_core::envelope::{canonical_json, Part, Slot};
use sealtrail_core::{Entry, TenantId};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::ops::Range;
use subject::is_own_actor;

/// Entries examined per write transaction: every value of every entry is parsed and
/// searched, so chunks are smaller than pruning's.
pub(crate) const CHUNK: u64 = 2_000;

/// Refuses an empty subject: it would match every actor without an id.
pub(crate) fn check_subject(subject: &str) -> Result<(), StoreError> {
    if subject.trim().is_empty() {
        return Err(StoreError::Invalid("the subject to erase is empty".into()));
    }
    Ok(())
}

/// A `LIKE` pattern matching `s` literally (escape character `\`), for the prefilters that
/// find e-mail addresses ignoring case.
pub(crate) fn like_literal(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// The payload's fields: targets are judged one by one, `changes` and `request` keep their
/// own keys, everything else is free text.
fn scrub_payload(walk: &mut TextScrub<'_>, payload: &mut Value, plan: &Plan) {
    let Value::Object(map) = payload else {
        return walk.text(payload);
    };
    for (key, value) in map.iter_mut() {
        walk.key(key, |w| match key.as_str() {
            "targets" => scrub_targets(w, value, plan),
            "changes" | "request" => w.fields(value),
            _ => w.text(value),
        });
    }
}

/// Targets that are the subject become [`erased_target`]s; the others are free text.
fn scrub_targets(walk: &mut TextScrub<'_>, targets: &mut Value, plan: &Plan) {
    let Value::Array(items) = targets else {
        return walk.text(targets);
    };
    for (i, target) in items.iter_mut().enumerate() {
        walk.index(i, |w| {
            if plan.is_subject_target(target) {
                *target = erased_target(target, &plan.pseudonym);
                w.mark();
            } else {
                w.fields(target);
            }
        });
    }
}

/// The value `part` should show after erasure (`None` if it stays), adding the field paths
/// that change to `fields`. `own` says whether the entry's actor is the subject.
fn part_after(
    part: Part,
    bytes: &[u8],
    own: bool,
    plan: &Plan,
    fields: &mut BTreeSet<String>,
) -> Option<Vec<u8>> {
    let stand_in = match part {
        Part::Actor if own => Some(erased_actor(&plan.pseudonym)),
        Part::Context if own => Some(erased_context()),
        _ => None,
    };
    if let Some(stand_in) = stand_in {
        if stand_in == bytes {
            return None;
        }
        fields.insert(part.as_str().to_string());
        return Some(stand_in);
    }
    if part != Part::Payload && plan.text.is_empty() {
        return None;
    }
    let mut value = serde_json::from_slice::<Value>(bytes).ok()?;
    let mut walk = TextScrub::new(&plan.text, &plan.pseudonym);
    match part {
        Part::Payload => scrub_payload(&mut walk, &mut value, plan),
        Part::Actor | Part::Context => walk.key(part.as_str(), |w| w.fields(&mut value)),
    }
    if walk.changed.is_empty() {
        return None;
    }
    fields.extend(walk.changed);
    Some(canonical_json(&value))
}

/// One entry after erasure.
#[derive(Debug)]
pub(crate) struct Scrubbed {
    /// All its vault slots, in part order, erased ones replaced.
    pub slots: Vec<Slot>,
    /// The entry as readers now see it: what the filter columns, targets, properties and
    /// search words are rebuilt from.
    pub entry: Entry,
    /// What changed, for the outcome.
    pub summary: ErasedEntry,
}

/// What erasure does to one stored entry, or `None` if it stays as it is. The scrubbed entry
/// is opened here, so a dry run fails exactly where the erasure would.
fn change(row: &StoredEntry, plan: &Plan) -> Result<Option<Scrubbed>, StoreError> {
    let own = row
        .slots
        .iter()
        .find(|s| s.part() == Part::Actor)
        .and_then(|s| serde_json::from_slice::<Value>(s.bytes()).ok())
        .is_some_and(|a| is_own_actor(&a, &plan.subject));
    let mut fields = BTreeSet::new();
    let mut parts = Vec::new();
    let slots: Vec<Slot> = row
        .slots
        .iter()
        .map(|slot| {
            let part = slot.part();
            match part_after(part, slot.bytes(), own, plan, &mut fields) {
                Some(replacement) => {
                    parts.push(part);
                    Slot::Erased { part, replacement }
                }
                None => slot.clone(),
            }
        })
        .collect();
    if parts.is_empty() {
        return Ok(None);
    }
    let id = uuid::Uuid::from_slice(&row.id)
        .map_err(|e| StoreError::Corrupt(format!("entry id at pk {}: {e}", row.pk)))?;
    let after = StoredEntry {
        slots,
        ..row.clone()
    };
    let entry = after.open()?;
    Ok(Some(Scrubbed {
        slots: after.slots,
        entry,
        summary: ErasedEntry {
            id,
            seq: row.seq.max(0) as u64,
            parts,
            fields: fields.into_iter().collect(),
        },
    }))
}

/// Phase 2 for one entry: its scrubbed slots and entry, or `None` if the erasure does not
/// touch it. The facet counts move from the old values to the new ones in `facets`.
pub(crate) fn scrub(
    tenant: TenantId,
    row: &StoredEntry,
    plan: &Plan,
    facets: &mut FacetDeltas,
) -> Result<Option<Scrubbed>, StoreError> {
    let Some(scrubbed) = change(row, plan)? else {
        return Ok(None);
    };
    facets.add(tenant, &row.open()?, -1);
    facets.add(tenant, &scrubbed.entry, 1);
    Ok(Some(scrubbed))
}

/// Phase 2 of a dry run for one chunk: what [`scrub`] would change, changing nothing.
pub(crate) fn preview(rows: &[StoredEntry], plan: &Plan) -> Result<Vec<ErasedEntry>, StoreError> {
    let mut changed = Vec::new();
    for row in rows {
        if let Some(scrubbed) = change(row, plan)? {
            changed.push(scrubbed.summary);
        }
    }
    Ok(changed)
}

/// The seqs a step examines: `[from_seq, from_seq + CHUNK)` clamped to the kept log
/// `[first_seq, size)`, or `None` once the scan has passed the head.
pub(crate) fn chunk(from_seq: u64, first_seq: u64, size: u64) -> Option<Range<u64>> {
    let lo = from_seq.max(first_seq);
    let hi = size.min(lo.saturating_add(CHUNK));
    (lo < hi).then_some(lo..hi)
}

/// Where one step got to.
#[derive(Debug, Clone)]
pub(crate) struct Step {
    /// Entries this step changed (or, in a dry run, would change), in seq order.
    pub changed: Vec<ErasedEntry>,
    /// The seq the next step starts at.
    pub next_seq: u64,
    /// True once the scan has reached the head of the log.
    pub done: bool,
}

impl Step {
    /// The step that found nothing left to scan.
    pub(crate) fn finished(at: u64) -> Step {
        Step {
            changed: Vec::new(),
            next_seq: at,
            done: true,
        }
    }
}

impl ErasureOutcome {
    /// An outcome with nothing changed yet.
    fn empty(pseudonym: &str) -> Self {
        ErasureOutcome {
            entries_scrubbed: 0,
            pseudonym: pseudonym.to_string(),
            fields: BTreeMap::new(),
            entries: Vec::new(),
            truncated: false,
            rewrites_pending: Vec::new(),
        }
    }

    /// Counts one changed entry, listing it while the list is under [`ERASURE_LIST_LIMIT`].
    /// Every changed entry passes here, in seq order: the one place to also fold the
    /// `(seq, part)` pairs into a digest if a record of the erasure should commit to them.
    fn record(&mut self, entry: ErasedEntry) {
        self.entries_scrubbed += 1;
        for field in &entry.fields {
            *self.fields.entry(field.clone()).or_insert(0) += 1;
        }
        if self.entries.len() < ERASURE_LIST_LIMIT {
            self.entries.push(entry);
        } else {
            self.truncated = true;
        }
    }
}

/// Phase 2 over the whole log: `step(from_seq)` scrubs (or previews) one chunk, in one write
/// transaction (or read snapshot), and steps continue until one reaches the head.
pub(crate) async fn run<F, Fut>(
    tenant: TenantId,
    plan: &Plan,
    mode: ErasureMode,
    mut step: F,
) -> Result<ErasureOutcome, StoreError>
where
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = Result<Step, StoreError>>,
{
    let mut outcome = ErasureOutcome::empty(&plan.pseudonym);
    let mut from = 0;
    loop {
        let step = step(from).await?;
        for entry in step.changed {
            outcome.record(entry);
        }
        from = step.next_seq;
        if step.done {
            break;
        }
    }
    if mode == ErasureMode::Erase && outcome.entries_scrubbed > 0 {
        tracing::info!(
            tenant = tenant.0,
            scrubbed = outcome.entries_scrubbed,
            "erased a data subject"
        );
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests;
