//! Erased vault values held to the log: every erased value of the kept log must be the one the
//! latest recorded erasure run listed for it, and every run's list must be exactly what its
//! `subject.erased` entry in the tree commits to (see [`crate::erasure::ledger`]).

use crate::erasure::ledger::{value_hash, ListDigest};
use crate::stored_entry::part_code;
use crate::Hash;
use sealtrail_core::entry::ERASURE_ACTION;
use sealtrail_core::envelope::{Part, Slot};
use sealtrail_core::Entry;
use std::collections::HashMap;

/// What a verified `subject.erased` entry says about its run.
#[derive(Debug, Clone, Copy)]
struct Recorded {
    /// The entry's seq.
    seq: u64,
    /// The number of values it says the run listed.
    values: u64,
    /// The digest of the list it commits to.
    digest: Hash,
}

/// The ledger rows of one run, folded as they stream in.
#[derive(Debug)]
struct Listed {
    digest: ListDigest,
    /// The lowest seq the run lists, where a problem with it is reported.
    first_seq: u64,
    /// The highest: a run whose values were all pruned (and its entry with them) is past
    /// checking.
    last_seq: u64,
}

/// A run's id.
type RunId = [u8; 16];

/// Collects erased values, erasure entries and ledger rows, then checks them against each
/// other ([`ErasureCheck::finish`]).
#[derive(Debug, Default)]
pub(super) struct ErasureCheck {
    /// Erased values of verified entries: seq, part code, hash of the replacement shown.
    erased: Vec<(u64, u8, Hash)>,
    /// Runs named by verified `subject.erased` entries.
    records: HashMap<[u8; 16], Recorded>,
    /// Later entries naming a run already recorded (seq, run): the store writes one per run.
    duplicates: Vec<(u64, RunId)>,
    /// Runs found in the ledger.
    runs: HashMap<[u8; 16], Listed>,
    /// For each listed value: the runs that listed it, with the hash each listed.
    listed: HashMap<(u64, u8), Vec<(RunId, Hash)>>,
}

/// A fixed-size byte string from hex, if it is one.
fn from_hex<const N: usize>(text: Option<&str>) -> Option<[u8; N]> {
    hex::decode(text?).ok()?.try_into().ok()
}

impl ErasureCheck {
    /// Takes note of a verified entry: its erased values, and what it records if it is an
    /// erasure's entry (`entry` is given at least for those). `Err` when an erasure entry is
    /// malformed.
    pub(super) fn entry(
        &mut self,
        seq: u64,
        slots: &[Slot],
        entry: Option<&Entry>,
    ) -> Result<(), String> {
        for slot in slots {
            if let Slot::Erased { part, replacement } = slot {
                self.erased
                    .push((seq, code(*part), value_hash(replacement)));
            }
        }
        let Some(entry) = entry.filter(|e| e.action == ERASURE_ACTION) else {
            return Ok(());
        };
        let p = &entry.properties;
        let Some(run) = p.get("erasure_run") else {
            // Written before erasures kept a ledger; the values it erased were listed on
            // upgrade by a run of their own.
            return Ok(());
        };
        let run = from_hex::<16>(run.as_str());
        let values = p.get("erased_values").and_then(serde_json::Value::as_u64);
        let digest = from_hex::<32>(p.get("erased_digest").and_then(serde_json::Value::as_str));
        match (run, values, digest) {
            (Some(run), Some(values), Some(digest)) => {
                let record = Recorded {
                    seq,
                    values,
                    digest,
                };
                if self.records.insert(run, record).is_some() {
                    self.duplicates.push((seq, run));
                }
                Ok(())
            }
            _ => Err(format!(
                "a `{ERASURE_ACTION}` entry whose run, value count or digest is malformed"
            )),
        }
    }

    /// One ledger row, in (run, seq, part) order.
    pub(super) fn listed(&mut self, run: [u8; 16], seq: u64, part: u8, hash: Hash) {
        let listed = self.runs.entry(run).or_insert_with(|| Listed {
            digest: ListDigest::new(),
            first_seq: seq,
            last_seq: seq,
        });
        listed.digest.add(seq, part, &hash);
        listed.first_seq = listed.first_seq.min(seq);
        listed.last_seq = listed.last_seq.max(seq);
        self.listed
            .entry((seq, part))
            .or_default()
            .push((run, hash));
    }

    /// Every problem found, each at the seq to report it at; `first_seq` is the prune horizon
    /// (runs whose values and entry were all pruned are past checking).
    pub(super) fn finish(self, first_seq: u64) -> Vec<(u64, String)> {
        let mut problems = Vec::new();
        for (run, listed) in &self.runs {
            let values = listed.digest.values();
            let digest = listed.digest.clone().finish();
            match self.records.get(run) {
                Some(r) if r.values == values && r.digest == digest => {}
                Some(r) => problems.push((
                    r.seq,
                    "the erasure ledger no longer matches this `subject.erased` entry: erased values were added, removed or changed".to_string(),
                )),
                None if listed.last_seq < first_seq => {}
                None => problems.push((
                    listed.first_seq,
                    format!(
                        "erased values listed by run {} that no `subject.erased` entry records (a run interrupted by a crash is recorded at the next start of `serve`; otherwise they were written by hand)",
                        hex::encode(run)
                    ),
                )),
            }
        }
        for (seq, run) in &self.duplicates {
            problems.push((
                *seq,
                format!(
                    "a second `subject.erased` entry for erasure run {}: the store writes one",
                    hex::encode(run)
                ),
            ));
        }
        let empty = ListDigest::new().finish();
        for (run, record) in &self.records {
            let listed = self.runs.contains_key(run);
            if !listed && (record.values > 0 || record.digest != empty) {
                problems.push((
                    record.seq,
                    "the erased values this `subject.erased` entry lists are missing from the erasure ledger".into(),
                ));
            }
        }
        for (seq, part, hash) in &self.erased {
            let latest = self
                .listed
                .get(&(*seq, *part))
                .into_iter()
                .flatten()
                .filter_map(|(run, listed)| self.records.get(run).map(|r| (r.seq, listed)))
                .max_by_key(|(recorded_at, _)| *recorded_at);
            let name = Part::ALL
                .get(usize::from(*part))
                .map_or("?", |p| p.as_str());
            match latest {
                Some((_, listed)) if listed == hash => {}
                Some(_) => problems.push((
                    *seq,
                    format!("erased vault value `{name}` differs from what its erasure wrote"),
                )),
                None => problems.push((
                    *seq,
                    format!(
                        "vault value `{name}` is marked erased, but no erasure recorded in the log replaced it"
                    ),
                )),
            }
        }
        problems
    }
}

/// A part's code as one byte (the ledger's and the digest's spelling).
pub(crate) fn code(part: Part) -> u8 {
    part_code(part) as u8
}
