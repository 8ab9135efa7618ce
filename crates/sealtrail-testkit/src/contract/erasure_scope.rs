//! Cases on what an erasure may touch: only the subject's actors and targets and whole-token
//! mentions of their specific identifiers — never a number that merely contains a short id,
//! never a word that names no actor or target — and a dry run that predicts the erasure
//! exactly while changing nothing.

use super::erasure::{by_subject, mentioning_subject, SUBJECT_EMAIL};
use super::fixtures::*;
use super::integrity::head;
use sealtrail_core::entry::{NewEntry, Target};
use sealtrail_core::envelope::Part;
use sealtrail_core::filter::Filter;
use sealtrail_core::TenantId;
use sealtrail_store::{ErasureMode, LeafRecord, Store, StoreError};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Another person's entry full of numbers that contain `100` and a city that is no subject.
pub fn invoice_paid_by_bob() -> NewEntry {
    let mut e = event("invoice.paid", "bob");
    e.description = "Invoice 1005 paid, 3100 EUR".into();
    e.properties = props(json!({ "city": "Berlin", "amount": 3100, "invoice": "1005" }));
    e.targets = vec![Target {
        kind: "invoice".into(),
        id: Some("inv-1005".into()),
        name: Some("Invoice 1005".into()),
    }];
    e
}

/// Every kept leaf with its vault slots, as stored.
async fn all_leaves(store: &Arc<dyn Store>, t: TenantId) -> Vec<LeafRecord> {
    let mut out: Vec<LeafRecord> = Vec::new();
    loop {
        let from = out.last().map_or(0, |l| l.seq + 1);
        match store.leaves(t, from, 50).await {
            Ok(page) if page.is_empty() => return out,
            Ok(page) => out.extend(page),
            Err(e) => panic!("leaves from {from}: {e}"),
        }
    }
}

/// The log's verification finds no problem.
async fn verifies(store: &Arc<dyn Store>, t: TenantId) {
    let v = store.verify_log(t, &|_| {}).await;
    assert_eq!(v.map(|v| v.first_problem).ok(), Some(None));
}

/// A field → count map from literals.
fn counts(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(k, n)| (k.to_string(), *n)).collect()
}

/// A subject string that names no actor and no target is `NotFound`, in a dry run too, and
/// nothing changes: not a vault value, not a facet, not the tree.
pub async fn erasing_an_unknown_subject_changes_nothing(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    append(
        &store,
        t,
        vec![by_subject("a.created"), invoice_paid_by_bob()],
    )
    .await;
    let leaves = all_leaves(&store, t).await;
    let facets = store.facets(t).await.ok();
    let before = head(&store, t).await;
    // A city, a full name (names are not subjects), an amount, an address nobody has.
    for subject in ["Berlin", "Zoë Martin", "3100", "nobody@example.com"] {
        for mode in [ErasureMode::DryRun, ErasureMode::Erase] {
            let r = store
                .erase_subject(
                    t,
                    subject,
                    mode,
                    &sealtrail_core::entry::Actor::system("Erasure"),
                    &crate::contract::fixtures::pseudonym_key(),
                )
                .await;
            assert!(
                matches!(&r, Err(StoreError::NotFound(m)) if m.contains(&format!("`{subject}`"))),
                "{subject} ({mode:?}): {r:?}"
            );
        }
    }
    assert_eq!(all_leaves(&store, t).await, leaves);
    assert_eq!(store.facets(t).await.ok(), facets);
    assert_eq!(head(&store, t).await, before);
}

/// The attack: erasing actor `100` pseudonymises that actor's entries and leaves
/// another person's entry mentioning `1005` and `3100` byte for byte as it was.
pub async fn erasing_a_short_id_leaves_other_entries_byte_identical(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    let mut own = event("invoice.created", "100");
    own.actor.name = Some("Ann".into());
    own.actor.email = Some("ann@example.com".into());
    own.context.ip = Some("10.1.2.3".into());
    let acks = append(&store, t, vec![own, invoice_paid_by_bob()]).await;
    let before = all_leaves(&store, t).await;

    let outcome = erase(&store, t, "100", ErasureMode::Erase).await;
    assert_eq!(outcome.entries_scrubbed, 1, "{outcome:?}");
    assert_eq!(outcome.fields, counts(&[("actor", 1), ("context", 1)]));
    let after = all_leaves(&store, t).await;
    assert_eq!(after[1], before[1], "the other entry is byte-identical");
    let theirs = found(&store, t, acks[0].id).await;
    let theirs = theirs.unwrap_or_else(|| panic!("own entry"));
    assert_eq!(theirs.actor.id.as_deref(), Some(outcome.pseudonym.as_str()));
    assert_eq!(
        theirs.description, "100 did invoice.created",
        "a three-digit id is never replaced inside text"
    );
    assert!(theirs.context.is_empty());
    let by_city = Filter {
        properties: vec![("city".into(), "Berlin".into())],
        ..Filter::default()
    };
    assert_eq!(count(&store, t, &by_city).await, 1);
    verifies(&store, t).await;
}

/// A subject that never acted but is a target is found there: by target id, or by an e-mail
/// address as a target's name. The target becomes the pseudonym, short target ids included;
/// the same short id on another target, and names that only begin like theirs, stay.
pub async fn a_subject_known_only_as_a_target_is_erased_there(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    let target = |kind: &str, id: &str, name: Option<&str>| Target {
        kind: kind.into(),
        id: Some(id.into()),
        name: name.map(str::to_string),
    };
    let mut deleted = event("user.deleted", "admin");
    deleted.description = "Deleted account cust-4711 on request".into();
    deleted.targets = vec![
        target("user", "cust-4711", Some("Ann Lee")),
        target("invoice", "42", None),
    ];
    let mut mailed = event("mail.sent", "mailer");
    mailed.description = "Reminder sent to ann.lee@example.com.".into();
    mailed.targets = vec![target("recipient", "42", Some("Ann.Lee@Example.com"))];
    let mut paid = event("invoice.paid", "bob");
    paid.description = "Invoice 42 paid by Ann Leeds".into();
    paid.targets = vec![target("invoice", "42", Some("Invoice 42"))];
    let acks = append(&store, t, vec![deleted, mailed, paid]).await;
    let before = all_leaves(&store, t).await;

    let by_id = erase(&store, t, "cust-4711", ErasureMode::Erase).await;
    assert_eq!(
        (by_id.entries_scrubbed, &by_id.fields),
        (1, &counts(&[("description", 1), ("targets[0]", 1)]))
    );
    let entry = found(&store, t, acks[0].id).await;
    let entry = entry.unwrap_or_else(|| panic!("deleted"));
    let p = by_id.pseudonym.as_str();
    assert_eq!(entry.description, format!("Deleted account {p} on request"));
    assert_eq!(
        (
            entry.targets[0].id.as_deref(),
            entry.targets[0].name.as_deref()
        ),
        (Some(p), Some("Erased subject"))
    );
    assert_eq!(entry.targets[1].id.as_deref(), Some("42"));

    let by_email = erase(&store, t, "ann.lee@example.com", ErasureMode::Erase).await;
    assert_eq!(
        (by_email.entries_scrubbed, &by_email.fields),
        (1, &counts(&[("description", 1), ("targets[0]", 1)]))
    );
    let entry = found(&store, t, acks[1].id).await;
    let entry = entry.unwrap_or_else(|| panic!("mailed"));
    let q = by_email.pseudonym.as_str();
    assert_eq!(entry.description, format!("Reminder sent to {q}."));
    assert_eq!(
        entry.targets[0].id.as_deref(),
        Some(q),
        "a short id, as a target"
    );

    let after = all_leaves(&store, t).await;
    assert_eq!(after[2], before[2], "invoice 42 and Ann Leeds stay");
    let target_42 = Filter {
        target_id: Some("42".into()),
        ..Filter::default()
    };
    assert_eq!(count(&store, t, &target_42).await, 2);
    let target_name = Filter {
        target_name: Some("Ann.Lee@Example.com".into()),
        ..Filter::default()
    };
    assert_eq!(count(&store, t, &target_name).await, 0);
    verifies(&store, t).await;
}

/// A dry run changes nothing and reports exactly what the erasure then does: the same
/// outcome, and the `(seq, part)` pairs it lists are exactly the vault values that changed.
pub async fn erasure_dry_run_predicts_exactly_what_changes(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    let news = vec![
        by_subject("session.created"),
        mentioning_subject(),
        event("report.created", "alice"),
        invoice_paid_by_bob(),
        by_subject("profile.updated"),
    ];
    append(&store, t, news).await;
    let leaves = all_leaves(&store, t).await;
    let entries = all_pages(&store, t, &Filter::default(), 100).await;
    let facets = store.facets(t).await.ok();
    let before = head(&store, t).await;

    let dry = erase(&store, t, SUBJECT_EMAIL, ErasureMode::DryRun).await;
    assert_eq!(
        all_leaves(&store, t).await,
        leaves,
        "a dry run writes nothing"
    );
    assert_eq!(all_pages(&store, t, &Filter::default(), 100).await, entries);
    assert_eq!(store.facets(t).await.ok(), facets);
    assert_eq!(head(&store, t).await, before);
    assert_eq!(dry.entries_scrubbed, 3);
    let seqs: Vec<u64> = dry.entries.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [0, 1, 4]);
    assert_eq!(
        dry.fields,
        counts(&[
            ("actor", 2),
            ("changes.after.owner", 1),
            ("context", 2),
            ("description", 3),
            ("properties.assignee", 1),
            ("properties.note", 1),
            ("targets[1]", 1),
        ])
    );
    assert!(!dry.truncated);

    let real = erase(&store, t, SUBJECT_EMAIL, ErasureMode::Erase).await;
    assert_eq!(real, dry, "the erasure does what the dry run said");
    let changed: BTreeSet<(u64, Part)> = leaves
        .iter()
        .zip(all_leaves(&store, t).await)
        .flat_map(|(old, new)| {
            let seq = old.seq;
            old.slots
                .iter()
                .zip(new.slots)
                .filter(|(o, n)| *o != n)
                .map(move |(o, _)| (seq, o.part()))
                .collect::<Vec<_>>()
        })
        .collect();
    let listed: BTreeSet<(u64, Part)> = real
        .entries
        .iter()
        .flat_map(|e| e.parts.iter().map(move |p| (e.seq, *p)))
        .collect();
    assert_eq!(changed, listed);
    assert_eq!(
        head(&store, t).await.size,
        before.size + 1,
        "the tree only grew by the erasure's own entry"
    );
    verifies(&store, t).await;
}
