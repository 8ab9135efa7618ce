//! The erasure ledger: what makes an erased vault value provable.
//!
//! An erased value has no commitment in its envelope any more (that is what erasure means), so
//! by itself nothing distinguishes the stand-in an erasure wrote from a value someone typed
//! into the file. Every erasure therefore runs as a **run** with a random id: each value it
//! replaces is listed in the ledger (`erased_slots`: run, seq, part, SHA-256 of the
//! replacement) in the same transaction as the replacement, and once the run is over its
//! `subject.erased` entry ([`record`]) commits to the run's id, the number of values and a
//! digest of the list ([`ListDigest`]). `verify` recomputes the digest of each run from the
//! ledger, compares it with the entry in the tree, and requires every erased value of the kept
//! log to hash to the ledger row of the latest recorded run that replaced it.
//!
//! A run is recorded after its last chunk, so a crash can leave one unrecorded: the next
//! erasure of the tenant, the nightly job and a start of `serve` record every run that is
//! finished, or has not moved for [`STALE_AFTER_MS`] (interrupted), with what it did. The entry
//! carries an idempotency key derived from the run id, so two nodes recording the same run
//! store one entry.
//!
//! Recording a run is what makes its values pass `verify`, so a run must prove that this
//! deployment started it: its row carries a **seal** ([`run_seal`]), an HMAC of the tenant,
//! the run id and the pseudonym under a key derived from the deployment's pseudonym key (a
//! file, never in the database). A run someone wrote into the database to pass off edited
//! values as erased ones has no valid seal, is never recorded, and `verify` then reports the
//! values it lists. The only unsealed run recorded is the one the upgrade to the ledger wrote
//! for values erased before it, and only as a tenant's first run ([`RunSummary::may_record`]).

use crate::scrub::PseudonymKey;
use crate::{Hash, StoreError};
use sealtrail_core::entry::{Actor, Context, NewEntry, Outcome, Target, ERASURE_ACTION};
use sealtrail_core::TenantId;
use serde_json::{json, Map};
use sha2::{Digest, Sha256};
use std::future::Future;

/// Domain separator of the digest of a run's list.
const DIGEST_DOMAIN: &[u8] = b"sealtrail-erasure-v1\0";

/// A run whose last chunk is older than this (ms) and that never finished was interrupted
/// (a chunk takes well under a second); it is recorded as it stands.
pub(crate) const STALE_AFTER_MS: i64 = 5 * 60 * 1000;

/// The hash of a replacement value as the ledger lists it.
pub(crate) fn value_hash(replacement: &[u8]) -> Hash {
    Sha256::digest(replacement).into()
}

/// The seal of run `run` of `tenant` erasing the subject called `pseudonym`: what
/// [`RunSummary::may_record`] requires before the run's values are vouched for in the log. An
/// HMAC under a key derived for this purpose alone ([`PseudonymKey::derive`], twice: the
/// purpose's key, then the run's fields under it; the run id is hex and the tenant a number,
/// so the fields cannot run into each other).
pub(crate) fn run_seal(
    key: &PseudonymKey,
    tenant: TenantId,
    run: &[u8; 16],
    pseudonym: &str,
) -> Hash {
    PseudonymKey::from_bytes(key.derive("sealtrail-erasure-run-v1")).derive(&format!(
        "{}:{}:{pseudonym}",
        tenant.0,
        hex::encode(run)
    ))
}

/// A fresh run id: 16 bytes from the operating system's generator (the one salts come from),
/// so nobody can guess a run's id, nor the idempotency key of its entry, in advance.
pub(crate) fn new_run_id() -> [u8; 16] {
    sealtrail_core::envelope::random_salts()[0]
}

/// The digest a `subject.erased` entry commits to:
/// `SHA-256("sealtrail-erasure-v1\0" || for each listed value in (seq, part) order:
/// seq as 8 bytes big-endian || part code as 1 byte || SHA-256(replacement))`.
#[derive(Debug, Clone)]
pub(crate) struct ListDigest {
    hasher: Sha256,
    values: u64,
    entries: u64,
    last_seq: Option<u64>,
}

impl ListDigest {
    /// An empty list.
    pub(crate) fn new() -> ListDigest {
        let mut hasher = Sha256::new();
        hasher.update(DIGEST_DOMAIN);
        ListDigest {
            hasher,
            values: 0,
            entries: 0,
            last_seq: None,
        }
    }

    /// Adds the next listed value; callers feed them in (seq, part) order.
    pub(crate) fn add(&mut self, seq: u64, part: u8, hash: &[u8]) {
        self.hasher.update(seq.to_be_bytes());
        self.hasher.update([part]);
        self.hasher.update(hash);
        self.values += 1;
        if self.last_seq != Some(seq) {
            self.entries += 1;
            self.last_seq = Some(seq);
        }
    }

    /// Values listed so far.
    pub(crate) fn values(&self) -> u64 {
        self.values
    }

    /// Distinct entries listed so far.
    pub(crate) fn entries(&self) -> u64 {
        self.entries
    }

    /// The digest of the list.
    pub(crate) fn finish(self) -> Hash {
        self.hasher.finalize().into()
    }
}

/// A run that has no `subject.erased` entry yet, summarised from its ledger rows.
#[derive(Debug, Clone)]
pub(crate) struct RunSummary {
    /// The run's id.
    pub run: [u8; 16],
    /// The subject's pseudonym (empty for the run that lists values erased before the ledger
    /// existed).
    pub pseudonym: String,
    /// Who erased.
    pub by: Actor,
    /// Whether the run reached the head of the log (otherwise it was interrupted).
    pub finished: bool,
    /// Entries with a value in the list.
    pub entries: u64,
    /// Values in the list.
    pub values: u64,
    /// The list's digest.
    pub digest: Hash,
    /// The seal stored with the run (`None` for a run written without one).
    pub seal: Option<Vec<u8>>,
    /// Whether the tenant already has a run that was recorded or sealed: an unsealed upgrade
    /// run can only ever be a tenant's first.
    pub tenant_had_runs: bool,
}

impl RunSummary {
    /// Whether this run may be recorded: its seal is this deployment's for `tenant`, or it is
    /// the unsealed run the upgrade to the ledger wrote (no pseudonym, finished, the tenant's
    /// first run).
    pub(crate) fn may_record(&self, key: &PseudonymKey, tenant: TenantId) -> bool {
        match &self.seal {
            // Checked in the background against the database's own bytes, with no answer an
            // attacker could time: a plain comparison.
            Some(seal) => seal[..] == run_seal(key, tenant, &self.run, &self.pseudonym)[..],
            None => self.pseudonym.is_empty() && self.finished && !self.tenant_had_runs,
        }
    }

    /// Adds what [`RunSummary::may_record`] reads besides the rows.
    pub(crate) fn with_seal(mut self, seal: Option<Vec<u8>>, tenant_had_runs: bool) -> Self {
        self.seal = seal;
        self.tenant_had_runs = tenant_had_runs;
        self
    }

    /// The summary of run `run` from its ledger rows `(seq, part, hash)` in (seq, part) order.
    pub(crate) fn from_rows<'r>(
        run: [u8; 16],
        pseudonym: String,
        by: Actor,
        finished: bool,
        rows: impl IntoIterator<Item = (u64, u8, &'r [u8])>,
    ) -> RunSummary {
        let mut digest = ListDigest::new();
        for (seq, part, hash) in rows {
            digest.add(seq, part, hash);
        }
        RunSummary {
            run,
            pseudonym,
            by,
            finished,
            entries: digest.entries(),
            values: digest.values(),
            digest: digest.finish(),
            seal: None,
            tenant_had_runs: false,
        }
    }
}

/// Records every run of `tenant` that needs its entry: `pending()` summarises the runs that
/// are finished or interrupted and not yet recorded, `append` writes one run's entry (durably;
/// an entry already written for the run comes back as its duplicate) and returns its seq,
/// `mark` remembers the seq. A run without this deployment's seal (`key`) is left unrecorded,
/// with a warning. Returns the number of runs recorded.
pub(crate) async fn record_pending<P, PF, A, AF, M, MF>(
    key: &PseudonymKey,
    tenant: TenantId,
    pending: P,
    append: A,
    mark: M,
) -> Result<u64, StoreError>
where
    P: FnOnce() -> PF,
    PF: Future<Output = Result<Vec<RunSummary>, StoreError>>,
    A: Fn(NewEntry) -> AF,
    AF: Future<Output = Result<u64, StoreError>>,
    M: Fn([u8; 16], u64) -> MF,
    MF: Future<Output = Result<(), StoreError>>,
{
    let mut runs = pending().await?;
    runs.retain(|summary| {
        let sealed = summary.may_record(key, tenant);
        if !sealed {
            tracing::warn!(
                run = %hex::encode(summary.run),
                tenant = tenant.0,
                "an erasure run in the database was not started by this deployment (no valid seal); \
                 it is not recorded, and verify reports the values it lists"
            );
        }
        sealed
    });
    for summary in &runs {
        let seq = append(record(summary)).await?;
        mark(summary.run, seq).await?;
        tracing::info!(
            run = %hex::encode(summary.run),
            seq,
            values = summary.values,
            finished = summary.finished,
            "recorded an erasure run"
        );
    }
    Ok(runs.len() as u64)
}

/// The idempotency key of a run's entry, so that recording a run twice stores one entry.
pub(crate) fn record_key(run: &[u8; 16]) -> String {
    format!("sealtrail:erasure:{}", hex::encode(run))
}

/// The `subject.erased` entry of a run. It names only the pseudonym, never the subject.
pub(crate) fn record(summary: &RunSummary) -> NewEntry {
    let description = match (summary.pseudonym.is_empty(), summary.finished) {
        (true, _) => format!(
            "Values erased before this version of Sealtrail, listed on upgrade: {} values in {} entries",
            summary.values, summary.entries
        ),
        (false, true) => format!(
            "Personal data of subject {} erased from {} entries",
            summary.pseudonym, summary.entries
        ),
        (false, false) => format!(
            "Erasure of subject {} interrupted after {} entries; erase the subject again to finish",
            summary.pseudonym, summary.entries
        ),
    };
    let mut properties = Map::new();
    properties.insert("entries_scrubbed".into(), json!(summary.entries));
    properties.insert("erased_values".into(), json!(summary.values));
    properties.insert("erased_digest".into(), json!(hex::encode(summary.digest)));
    properties.insert("erasure_run".into(), json!(hex::encode(summary.run)));
    if !summary.finished {
        properties.insert("interrupted".into(), json!(true));
    }
    let targets = (!summary.pseudonym.is_empty())
        .then(|| Target {
            kind: "subject".into(),
            id: Some(summary.pseudonym.clone()),
            name: None,
        })
        .into_iter()
        .collect();
    NewEntry {
        occurred_at: None,
        channel: "compliance".into(),
        action: ERASURE_ACTION.into(),
        event: "deleted".into(),
        category: Some("Security Events".into()),
        description,
        result: if summary.finished {
            Outcome::Success
        } else {
            Outcome::Warning
        },
        actor: summary.by.clone(),
        targets,
        context: Context::default(),
        changes: None,
        properties,
        redacted: Vec::new(),
        idempotency_key: Some(record_key(&summary.run)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_depends_on_every_listed_value_and_its_place() {
        let h = value_hash(b"{\"id\":\"erased-1\"}");
        let digest = |rows: &[(u64, u8, Hash)]| {
            let mut d = ListDigest::new();
            for (seq, part, hash) in rows {
                d.add(*seq, *part, hash);
            }
            (d.entries(), d.values(), d.finish())
        };
        let base = digest(&[(3, 0, h), (3, 2, h), (9, 0, h)]);
        assert_eq!((base.0, base.1), (2, 3));
        assert_ne!(base, digest(&[(3, 0, h), (3, 2, h), (10, 0, h)]));
        assert_ne!(base, digest(&[(3, 0, h), (3, 1, h), (9, 0, h)]));
        assert_ne!(
            base,
            digest(&[(3, 0, h), (3, 2, h), (9, 0, value_hash(b"x"))])
        );
        assert_ne!(base, digest(&[(3, 0, h), (3, 2, h)]));
        assert_eq!(base, digest(&[(3, 0, h), (3, 2, h), (9, 0, h)]));
    }

    #[test]
    fn only_a_run_sealed_for_its_tenant_or_the_first_upgrade_run_may_be_recorded() {
        let key = PseudonymKey::from_bytes([3; 32]);
        let (acme, other) = (TenantId(1), TenantId(2));
        let rows = [(4u64, 0u8, [1u8; 32].as_slice())];
        let run = |pseudonym: &str, finished| {
            RunSummary::from_rows(
                [7; 16],
                pseudonym.into(),
                Actor::system("Erasure"),
                finished,
                rows,
            )
        };
        let seal = run_seal(&key, acme, &[7; 16], "erased-abc").to_vec();
        let sealed = run("erased-abc", true).with_seal(Some(seal.clone()), true);
        assert!(sealed.may_record(&key, acme));
        assert!(!sealed.may_record(&key, other), "another tenant's seal");
        assert!(
            !sealed.may_record(&PseudonymKey::from_bytes([4; 32]), acme),
            "another key"
        );
        let renamed = run("erased-xyz", true).with_seal(Some(seal.clone()), true);
        assert!(
            !renamed.may_record(&key, acme),
            "the pseudonym is sealed too"
        );
        let mut cut = seal;
        cut.pop();
        assert!(!run("erased-abc", true)
            .with_seal(Some(cut), true)
            .may_record(&key, acme));
        assert!(!run("erased-abc", true)
            .with_seal(None, false)
            .may_record(&key, acme));
        assert!(
            run("", true).with_seal(None, false).may_record(&key, acme),
            "the upgrade's run"
        );
        assert!(
            !run("", true).with_seal(None, true).may_record(&key, acme),
            "only as the first"
        );
        assert!(!run("", false).with_seal(None, false).may_record(&key, acme));
    }

    #[test]
    fn a_record_names_the_run_and_never_the_subject() {
        let summary = RunSummary::from_rows(
            [7; 16],
            "erased-abc".into(),
            Actor::system("Erasure"),
            true,
            [(4u64, 0u8, [1u8; 32].as_slice())],
        );
        let entry = record(&summary);
        assert_eq!(entry.action, ERASURE_ACTION);
        assert_eq!(
            entry.properties["erasure_run"],
            json!(hex::encode([7u8; 16]))
        );
        assert_eq!(entry.properties["erased_values"], json!(1));
        assert_eq!(entry.idempotency_key, Some(record_key(&[7; 16])));
        assert!(entry.description.contains("erased-abc"));
    }
}
