//! GDPR erasure, the part every backend shares; the text rules (pseudonym, identifiers,
//! replacing them in JSON) are in [`crate::scrub`]. An erasure runs in phases:
//!
//! 1. identifiers (read snapshot): the subject's entries (actor id equal to the subject, or
//!    actor e-mail equal ignoring case) are found with a backend's SQL prefilter over its
//!    filter columns, then [`SubjectIdentifiers`] decides from the vault value and gathers the
//!    subject string and every id, e-mail and name found in those actors;
//! 2. scrubbing (bounded write transactions, driven by [`scrub_all`]): [`scrub`] gives each
//!    entry of a chunk its erased vault values (the subject's own entries get a pseudonymous
//!    actor and an empty context; any other value naming an identifier is replaced by an
//!    erased stand-in with the identifiers swapped for the pseudonym) and the facet changes;
//!    the backend writes them with the denormalised copies (filter columns, targets,
//!    properties, search words) rebuilt from the scrubbed entry;
//! 3. traces (backend-specific): whatever the engine keeps of the old values is purged.
//!
//! Envelopes and tree nodes are never touched, so every proof and checkpoint stays valid.

use crate::facets::FacetDeltas;
use crate::scrub::{erased_actor, erased_context, pseudonym, same_text, Identifiers};
use crate::stored::{slot_bytes, slot_part, StoredEntry};
use crate::{ErasureOutcome, StoreError};
use sealtrail_core::envelope::{canonical_json, Part, Slot};
use sealtrail_core::{Entry, TenantId};
use serde_json::Value;
use std::collections::BTreeSet;
use std::future::Future;
use std::ops::Range;

/// Entries examined per write transaction: every value of every entry is parsed and
/// searched, so chunks are smaller than pruning's.
pub(crate) const CHUNK: u64 = 2_000;

/// Names shorter than this (in characters) are too ambiguous to erase wherever they occur.
const MIN_NAME_CHARS: usize = 3;

/// Everything a scrub step needs, computed once per erasure.
#[derive(Debug)]
pub(crate) struct Plan {
    /// The actor id or e-mail being erased.
    pub subject: String,
    /// Its stand-in.
    pub pseudonym: String,
    /// What to replace wherever it appears.
    pub identifiers: Identifiers,
}

impl Plan {
    /// The plan for erasing `subject` from the log named `log_origin` (the pseudonym depends
    /// on both, so it is stable per log and never comparable across logs).
    pub(crate) fn new(subject: &str, log_origin: &str, identifiers: Identifiers) -> Plan {
        Plan {
            subject: subject.to_string(),
            pseudonym: pseudonym(log_origin, subject),
            identifiers,
        }
    }
}

/// Where one step got to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Step {
    /// Entries changed by this step.
    pub scrubbed: u64,
    /// The seq the next step starts at.
    pub next_seq: u64,
    /// True once the scan has reached the head of the log.
    pub done: bool,
}

impl Step {
    /// The step that found nothing left to scan.
    pub(crate) fn finished(at: u64) -> Step {
        Step {
            scrubbed: 0,
            next_seq: at,
            done: true,
        }
    }
}

/// Refuses an empty subject: it would match every actor without an id.
pub(crate) fn check_subject(subject: &str) -> Result<(), StoreError> {
    if subject.trim().is_empty() {
        return Err(StoreError::Invalid("the subject to erase is empty".into()));
    }
    Ok(())
}

/// True when this actor value (vault JSON) is the subject.
fn is_subject(actor: &Value, subject: &str) -> bool {
    let id = actor.get("id").and_then(Value::as_str);
    let email = actor.get("email").and_then(Value::as_str);
    id == Some(subject) || email.is_some_and(|e| same_text(e, subject))
}

/// A `LIKE` pattern matching `s` literally (escape character `\`), for the prefilters that
/// find the subject's entries by e-mail ignoring case.
pub(crate) fn like_literal(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// Phase 1: gathers the subject's identifiers from the actor values the backend's prefilter
/// found; only actors that really are the subject count.
#[derive(Debug)]
pub(crate) struct SubjectIdentifiers {
    /// The actor id or e-mail being erased.
    subject: String,
    /// The identifiers gathered so far, the subject string included.
    found: BTreeSet<String>,
}

impl SubjectIdentifiers {
    /// Starts with the subject string itself.
    pub(crate) fn new(subject: &str) -> Self {
        SubjectIdentifiers {
            subject: subject.to_string(),
            found: BTreeSet::from([subject.to_string()]),
        }
    }

    /// Takes the id, e-mail and name of this actor value (vault bytes) if it is the subject.
    pub(crate) fn add_actor(&mut self, actor: &[u8]) {
        let Ok(actor) = serde_json::from_slice::<Value>(actor) else {
            return;
        };
        if !is_subject(&actor, &self.subject) {
            return;
        }
        for (field, min_chars) in [("id", 1), ("email", 1), ("name", MIN_NAME_CHARS)] {
            if let Some(v) = actor.get(field).and_then(Value::as_str) {
                if v.trim().chars().count() >= min_chars {
                    self.found.insert(v.to_string());
                }
            }
        }
    }

    /// The matcher for phase 2.
    pub(crate) fn finish(self) -> Identifiers {
        Identifiers::new(self.found.iter().map(String::as_str))
    }
}

/// The seqs a step examines: `[from_seq, from_seq + CHUNK)` clamped to the kept log
/// `[first_seq, size)`, or `None` once the scan has passed the head.
pub(crate) fn chunk(from_seq: u64, first_seq: u64, size: u64) -> Option<Range<u64>> {
    let lo = from_seq.max(first_seq);
    let hi = size.min(lo.saturating_add(CHUNK));
    (lo < hi).then_some(lo..hi)
}

/// The slots an entry should have after erasure, or `None` if nothing changes.
fn scrubbed_slots(stored: &StoredEntry, plan: &Plan) -> Option<Vec<Slot>> {
    let actor = stored
        .slots
        .iter()
        .find(|s| slot_part(s) == Part::Actor)
        .and_then(|s| serde_json::from_slice::<Value>(slot_bytes(s)).ok());
    let own = actor.is_some_and(|a| is_subject(&a, &plan.subject));
    let mut changed = false;
    let slots = stored
        .slots
        .iter()
        .map(|slot| {
            let part = slot_part(slot);
            let replacement = match part {
                Part::Actor if own => Some(erased_actor(&plan.pseudonym)),
                Part::Context if own => Some(erased_context()),
                _ => serde_json::from_slice::<Value>(slot_bytes(slot))
                    .ok()
                    .and_then(|mut v| {
                        plan.identifiers
                            .scrub_json(&mut v, &plan.pseudonym)
                            .then(|| canonical_json(&v))
                    }),
            };
            match replacement {
                Some(replacement) => {
                    let new = Slot::Erased { part, replacement };
                    changed |= new != *slot;
                    new
                }
                None => slot.clone(),
            }
        })
        .collect();
    changed.then_some(slots)
}

/// One entry after erasure.
#[derive(Debug)]
pub(crate) struct Scrubbed {
    /// All its vault slots, in part order, erased ones replaced.
    pub slots: Vec<Slot>,
    /// The entry as readers now see it: what the filter columns, targets, properties and
    /// search words are rebuilt from.
    pub entry: Entry,
}

/// Phase 2 for one entry: its scrubbed slots and entry, or `None` if the erasure does not
/// touch it. The facet counts move from the old values to the new ones in `facets`.
pub(crate) fn scrub(
    tenant: TenantId,
    row: &StoredEntry,
    plan: &Plan,
    facets: &mut FacetDeltas,
) -> Result<Option<Scrubbed>, StoreError> {
    let Some(slots) = scrubbed_slots(row, plan) else {
        return Ok(None);
    };
    let before = row.open()?;
    let after = StoredEntry {
        slots,
        ..row.clone()
    };
    let entry = after.open()?;
    facets.add(tenant, &before, -1);
    facets.add(tenant, &entry, 1);
    Ok(Some(Scrubbed {
        slots: after.slots,
        entry,
    }))
}

/// Phase 2 over the whole log: `step(from_seq)` scrubs one chunk in one write transaction,
/// and steps continue until one reaches the head.
pub(crate) async fn scrub_all<F, Fut>(
    tenant: TenantId,
    plan: &Plan,
    mut step: F,
) -> Result<ErasureOutcome, StoreError>
where
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = Result<Step, StoreError>>,
{
    let (mut from, mut scrubbed) = (0, 0);
    loop {
        let step = step(from).await?;
        scrubbed += step.scrubbed;
        from = step.next_seq;
        if step.done {
            break;
        }
    }
    if scrubbed > 0 {
        tracing::info!(tenant = tenant.0, scrubbed, "erased a data subject");
    }
    Ok(ErasureOutcome {
        entries_scrubbed: scrubbed,
        pseudonym: plan.pseudonym.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_the_subjects_own_actors_give_identifiers() {
        let mut ids = SubjectIdentifiers::new("zoe@example.com");
        let own = json!({ "id": "u-zoe", "email": "ZOE@example.com", "name": "Zoë Martin" });
        let other = json!({ "id": "bob", "email": "bob@example.com", "name": "Bob Stone" });
        let short = json!({ "id": "u2", "email": "zoe@example.com", "name": "Zo" });
        for actor in [own, other, short] {
            ids.add_actor(&canonical_json(&actor));
        }
        ids.add_actor(b"not json");
        let ids = ids.finish();
        assert_eq!(ids.scrub_str("u-zoe", "p").as_deref(), Some("p"));
        assert_eq!(ids.scrub_str("u2", "p").as_deref(), Some("p"));
        assert_eq!(ids.scrub_str("Zoë Martin", "p").as_deref(), Some("p"));
        assert_eq!(
            ids.scrub_str("Zo", "p"),
            None,
            "names under 3 characters are ignored"
        );
        assert_eq!(ids.scrub_str("Bob Stone", "p"), None);
    }

    #[test]
    fn chunks_stay_inside_the_kept_log() {
        assert_eq!(chunk(0, 10, 5_000), Some(10..2_010));
        assert_eq!(chunk(4_010, 10, 5_000), Some(4_010..5_000));
        assert_eq!(chunk(5_000, 10, 5_000), None);
        assert_eq!(like_literal(r"a_b%c\d"), r"a\_b\%c\\d");
        assert!(check_subject(" \t").is_err() && check_subject("u1").is_ok());
    }
}
