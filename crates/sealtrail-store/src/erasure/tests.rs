//! Who the subject is, and what erasure changes in one sealed entry.

use super::*;
use sealtrail_core::envelope::{seal, Slot};
use serde_json::json;

const LOG: &str = "sealtrail/0011aabb/acme";

/// A stored entry sealed from the JSON of an entry (defaults filled in).
fn stored(seq: i64, entry: Value) -> StoredEntry {
    let mut full = json!({
        "id": uuid::Uuid::from_u128(seq as u128 + 1),
        "seq": seq,
        "recorded_at": "2026-01-02T03:04:05.000Z",
        "occurred_at": "2026-01-02T03:04:05.000Z",
        "channel": "billing",
        "action": "invoice.paid",
        "event": "paid",
        "description": "",
        "result": "success",
        "actor": { "type": "user" },
    });
    if let (Some(full), Value::Object(fields)) = (full.as_object_mut(), entry) {
        full.extend(fields);
    }
    let entry: Entry = serde_json::from_value(full).unwrap_or_else(|e| panic!("entry: {e}"));
    let sealed = seal(&entry, LOG, [[1; 16], [2; 16], [3; 16]]);
    StoredEntry {
        pk: seq,
        seq,
        id: entry.id.as_bytes().to_vec(),
        envelope: sealed.envelope,
        idempotency_key: None,
        slots: sealed.vault.into_iter().map(Slot::Committed).collect(),
    }
}

/// Phase 1 as a backend runs it: every actor of `rows`, then every target of `rows`.
fn plan(subject: &str, rows: &[StoredEntry]) -> Result<Plan, StoreError> {
    let mut found = SubjectIdentifiers::new(subject);
    for row in rows {
        found.add_actor(row.slots[0].bytes());
    }
    for row in rows {
        let entry = row.open()?;
        for t in &entry.targets {
            found.add_target(t.id.as_deref(), t.name.as_deref());
        }
    }
    found.finish(LOG, &crate::PseudonymKey::from_bytes([7; 32]))
}

fn opened(row: &StoredEntry, plan: &Plan) -> Option<(Entry, ErasedEntry)> {
    change(row, plan)
        .unwrap_or_else(|e| panic!("change: {e}"))
        .map(|s| (s.entry, s.summary))
}

/// The issue's case: erasing actor `100` leaves another person's invoice numbers and city
/// alone, and `Berlin`, which names no actor or target, is not a subject at all.
#[test]
fn short_ids_and_single_words_never_touch_other_text() {
    let rows = [
        stored(
            0,
            json!({ "actor": { "id": "100", "name": "Ann", "email": "ann@example.com" },
                          "description": "100 paid" }),
        ),
        stored(
            1,
            json!({
                "actor": { "id": "u-bob1", "name": "Bob Stone", "email": "bob@example.com" },
                "description": "Invoice 1005 paid, 3100 EUR",
                "properties": { "city": "Berlin", "amount": 100, "ref": "100" },
                "targets": [{ "type": "invoice", "id": "1005", "name": "Invoice 100" }],
            }),
        ),
    ];
    let berlin = plan("Berlin", &rows);
    assert!(
        matches!(&berlin, Err(StoreError::NotFound(m)) if m.contains("`Berlin`")),
        "{berlin:?}"
    );
    let p = plan("100", &rows).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(opened(&rows[1], &p), None, "another person's entry stays");
    let (own, summary) = opened(&rows[0], &p).unwrap_or_else(|| panic!("own entry"));
    assert_eq!(own.actor.id.as_deref(), Some(p.pseudonym.as_str()));
    assert_eq!(own.actor.email, None);
    assert_eq!(
        own.description, "100 paid",
        "a short id is never replaced in text"
    );
    assert_eq!(
        summary.fields,
        ["actor"],
        "an empty context stays as it was"
    );
    assert_eq!(summary.parts, [Part::Actor]);
}

#[test]
fn the_subject_is_its_actors_and_targets_and_their_specific_identifiers() {
    let zoe = json!({ "id": "u-zoe", "email": "Zoe.Martin@EXAMPLE.com", "name": "Zoë Martin" });
    let rows = [
        stored(
            0,
            json!({ "actor": zoe, "context": { "ip": "10.9.8.7" },
                          "description": "Zoë Martin signed in" }),
        ),
        stored(
            1,
            json!({
                "actor": { "id": "bob", "name": "Bob Stone", "email": "bob@example.com" },
                "description": "Laptop assigned to Zoë Martin (zoe.martin@example.com.au kept)",
                "targets": [
                    { "type": "hardware", "id": "142", "name": "Laptop 142" },
                    { "type": "user", "id": "u-zoe", "name": "Zoë" },
                    { "type": "user", "id": "mail-7", "name": "zoe.martin@example.com" },
                    { "type": "user", "id": "u-zoe-2", "name": "Zoë Martin" },
                ],
                "changes": { "before": { "owner": null }, "after": { "owner": "zoë martin" } },
                "properties": { "Zoë Martin": "u-zoe", "note": "cc zoe.martin@example.com." },
                "context": { "request": { "path": "/users/u-zoe", "body": { "to": "Zoë Martin" } } },
            }),
        ),
        stored(
            2,
            json!({ "actor": { "id": "carol", "name": "Carol" }, "description": "Zoë" }),
        ),
    ];
    let p = plan("zoe.martin@example.com", &rows).unwrap_or_else(|e| panic!("{e}"));
    let x = p.pseudonym.clone();
    assert_eq!(
        opened(&rows[2], &p),
        None,
        "a first name alone is not the subject"
    );

    let (own, summary) = opened(&rows[0], &p).unwrap_or_else(|| panic!("own"));
    assert_eq!(own.description, format!("{x} signed in"));
    assert!(own.context.is_empty(), "{:?}", own.context);
    assert_eq!(summary.fields, ["actor", "context", "description"]);
    assert_eq!(summary.parts, Part::ALL);

    let (other, summary) = opened(&rows[1], &p).unwrap_or_else(|| panic!("mention"));
    assert_eq!(
        other.description,
        format!("Laptop assigned to {x} (zoe.martin@example.com.au kept)")
    );
    assert_eq!(other.actor.id.as_deref(), Some("bob"));
    assert_eq!(other.targets[0].id.as_deref(), Some("142"));
    for i in [1, 2] {
        assert_eq!(
            other.targets[i].id.as_deref(),
            Some(x.as_str()),
            "target {i}"
        );
        assert_eq!(other.targets[i].name.as_deref(), Some("Erased subject"));
        assert_eq!(other.targets[i].kind, "user");
    }
    assert_eq!(
        (
            other.targets[3].id.as_deref(),
            other.targets[3].name.as_deref()
        ),
        (Some("u-zoe-2"), Some(x.as_str())),
        "another target with her full name: only the name is text"
    );
    let after = other.changes.as_ref().and_then(|c| c.after.clone());
    assert_eq!(after, Some(json!({ "owner": x })));
    assert_eq!(
        other.properties.get(&x),
        Some(&json!("u-zoe")),
        "`u-zoe` is too short for text"
    );
    assert_eq!(
        other.properties.get("note"),
        Some(&json!(format!("cc {x}.")))
    );
    let request = other.context.request.clone().unwrap_or_default();
    assert_eq!(request.path.as_deref(), Some("/users/u-zoe"));
    assert_eq!(request.body, Some(json!({ "to": x })));
    assert_eq!(
        summary.fields,
        [
            "changes.after.owner".to_string(),
            "description".into(),
            format!("properties.{x}"),
            "properties.note".into(),
            "request.body.to".into(),
            "targets[1]".into(),
            "targets[2]".into(),
            "targets[3].name".into(),
        ]
    );
    assert_eq!(summary.parts, [Part::Payload]);
}

#[test]
fn a_subject_known_only_as_a_target_is_found_and_structure_survives() {
    let rows = [stored(
        0,
        json!({
            "actor": { "id": "admin", "name": "Admin" },
            "description": "Deleted user description",
            "targets": [{ "type": "user", "id": "description" }],
        }),
    )];
    let p = plan("description", &rows).unwrap_or_else(|e| panic!("{e}"));
    let (entry, summary) = opened(&rows[0], &p).unwrap_or_else(|| panic!("target"));
    assert_eq!(entry.targets[0].id.as_deref(), Some(p.pseudonym.as_str()));
    assert_eq!(
        entry.description,
        format!("Deleted user {}", p.pseudonym),
        "an 11-letter id is specific; the payload's own keys are never replaced"
    );
    assert_eq!(summary.fields, ["description", "targets[0]"]);
    assert!(matches!(
        plan("nobody@example.com", &rows),
        Err(StoreError::NotFound(_))
    ));
}

#[test]
fn chunks_stay_inside_the_kept_log() {
    assert_eq!(chunk(0, 10, 5_000), Some(10..2_010));
    assert_eq!(chunk(4_010, 10, 5_000), Some(4_010..5_000));
    assert_eq!(chunk(5_000, 10, 5_000), None);
    assert_eq!(like_literal(r"a_b%c\d"), r"a\_b\%c\\d");
    assert!(check_subject(" \t").is_err() && check_subject("u1").is_ok());
}

#[test]
fn outcomes_count_everything_and_list_up_to_the_limit() {
    let mut outcome = ErasureOutcome::empty("erased-x");
    for seq in 0..(ERASURE_LIST_LIMIT as u64 + 2) {
        outcome.record(ErasedEntry {
            id: uuid::Uuid::from_u128(u128::from(seq)),
            seq,
            parts: vec![Part::Payload],
            fields: vec!["description".into()],
        });
    }
    assert_eq!(outcome.entries_scrubbed, ERASURE_LIST_LIMIT as u64 + 2);
    assert_eq!(outcome.entries.len(), ERASURE_LIST_LIMIT);
    assert!(outcome.truncated);
    assert_eq!(
        outcome.fields.get("description"),
        Some(&(ERASURE_LIST_LIMIT as u64 + 2))
    );
}
