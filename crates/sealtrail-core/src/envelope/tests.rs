//! The envelope's tests: canonical bytes, commitments and leaf hashes, with property tests.

use super::*;
use proptest::prelude::*;
use serde_json::json;

fn sample() -> Entry {
    let id = Uuid::parse_str("0193a0b0-0000-7000-8000-000000000001").unwrap();
    Entry::from_new(
        sample_new(),
        id,
        41,
        Timestamp::parse_rfc3339("2026-11-23T09:00:01.250Z").unwrap(),
    )
}

fn sample_new() -> NewEntry {
    NewEntry {
        occurred_at: Some(Timestamp::parse_rfc3339("2026-11-23T09:00:00Z").unwrap()),
        channel: "hardware".into(),
        action: "hardware.updated".into(),
        event: "updated".into(),
        category: Some("Inventory".into()),
        description: "Laptop 142 assigned to Zoë Martin".into(),
        result: Outcome::Success,
        actor: Actor {
            kind: ActorType::User,
            id: Some("u_17".into()),
            name: Some("Ada Admin".into()),
            email: Some("ada@example.com".into()),
            via: None,
        },
        targets: vec![Target {
            kind: "hardware".into(),
            id: Some("142".into()),
            name: Some("Laptop 142".into()),
        }],
        context: Context {
            ip: Some("203.0.113.7".into()),
            user_agent: Some("curl/8".into()),
            location: None,
            request: None,
        },
        changes: Some(Changes {
            before: Some(json!({"owner": null})),
            after: Some(json!({"owner": "zoe"})),
        }),
        properties: json!({"z": 1, "a": {"y": true, "b": [3, 2]}})
            .as_object()
            .unwrap()
            .clone(),
        redacted: vec!["properties.password".into()],
        idempotency_key: Some("k1".into()),
    }
}

#[test]
fn presealing_gives_the_same_bytes_as_sealing_the_placed_entry() {
    let stored = sample();
    let presealed = Presealed::new(sample_new(), SALTS);
    assert_eq!(presealed.entry(), &sample_new());
    let (entry, sealed) = presealed.place(stored.id, stored.seq, stored.recorded_at, "log");
    assert_eq!(entry, stored);
    let expected = seal(&stored, "log", SALTS);
    assert_eq!(sealed.envelope, expected.envelope);
    assert_eq!(sealed.leaf_hash, expected.leaf_hash);
    assert_eq!(sealed.vault, expected.vault);
    let other = Presealed::new(sample_new(), [[9; 16], [2; 16], [3; 16]]);
    let (_, resealed) = other.place(stored.id, stored.seq, stored.recorded_at, "log");
    assert_ne!(
        resealed.envelope, expected.envelope,
        "the salts are committed to"
    );
}

const SALTS: [[u8; 16]; 3] = [[1; 16], [2; 16], [3; 16]];

#[test]
fn envelope_bytes_are_a_stable_format() {
    let sealed = seal(&sample(), "sealtrail.example/acme", SALTS);
    let text = String::from_utf8(sealed.envelope.clone()).unwrap();
    let expected = concat!(
        r#"{"action":"hardware.updated","actor_type":"user","category":"Inventory","channel":"hardware","#,
        r#""commitments":{"actor":"ACTOR","context":"CONTEXT","payload":"PAYLOAD"},"#,
        r#""event":"updated","id":"0193a0b0-0000-7000-8000-000000000001","log":"sealtrail.example/acme","#,
        r#""occurred_at":"2026-11-23T09:00:00.000Z","recorded_at":"2026-11-23T09:00:01.250Z","#,
        r#""redacted":["properties.password"],"result":"success","seq":41,"v":1}"#
    )
    .replace("ACTOR", &hex::encode(sealed.vault[0].commitment()))
    .replace("CONTEXT", &hex::encode(sealed.vault[1].commitment()))
    .replace("PAYLOAD", &hex::encode(sealed.vault[2].commitment()));
    assert_eq!(text, expected);
    assert_eq!(
        String::from_utf8(sealed.vault[0].value.clone()).unwrap(),
        r#"{"email":"ada@example.com","id":"u_17","name":"Ada Admin","via":null}"#
    );
    assert_eq!(sealed.leaf_hash, crate::merkle::leaf_hash(&sealed.envelope));
}

#[test]
fn personal_data_never_enters_the_envelope() {
    let sealed = seal(&sample(), "log", SALTS);
    let text = String::from_utf8(sealed.envelope).unwrap();
    for secret in [
        "ada@example.com",
        "Ada Admin",
        "u_17",
        "203.0.113.7",
        "Zoë",
        "Laptop 142",
        "curl/8",
    ] {
        assert!(!text.contains(secret), "{secret} leaked into {text}");
    }
}

#[test]
fn open_restores_every_field_but_the_idempotency_key() {
    let entry = sample();
    let sealed = seal(&entry, "log", random_salts());
    let slots: Vec<Slot> = sealed.vault.iter().cloned().map(Slot::Committed).collect();
    let opened = open(&sealed.envelope, &slots).unwrap();
    assert_eq!(
        opened,
        Entry {
            idempotency_key: None,
            ..entry
        }
    );
    assert!(mismatched_commitments(&sealed.envelope, &slots)
        .unwrap()
        .is_empty());
    let h = head(&sealed.envelope).unwrap();
    assert_eq!((h.log.as_str(), h.seq), ("log", 41));
}

#[test]
fn a_tampered_vault_value_is_detected_and_an_erased_one_is_not_a_failure() {
    let sealed = seal(&sample(), "log", SALTS);
    let mut slots: Vec<Slot> = sealed.vault.iter().cloned().map(Slot::Committed).collect();
    if let Slot::Committed(v) = &mut slots[2] {
        v.value = v
            .value
            .iter()
            .map(|b| if *b == b'Z' { b'X' } else { *b })
            .collect();
    }
    assert_eq!(
        mismatched_commitments(&sealed.envelope, &slots).unwrap(),
        vec![Part::Payload]
    );

    slots[2] = Slot::Committed(sealed.vault[2].clone());
    slots[0] = Slot::Erased {
        part: Part::Actor,
        replacement: br#"{"id":"erased-1a2b","name":"Erased user"}"#.to_vec(),
    };
    assert!(mismatched_commitments(&sealed.envelope, &slots)
        .unwrap()
        .is_empty());
    let opened = open(&sealed.envelope, &slots).unwrap();
    assert_eq!(opened.actor.id.as_deref(), Some("erased-1a2b"));
    assert_eq!(opened.actor.email, None);
    assert_eq!(opened.actor.kind, ActorType::User);
}

#[test]
fn garbage_envelopes_are_errors_not_panics() {
    assert!(open(b"not json", &[]).is_err());
    assert!(head(br#"{"v":2}"#).is_err());
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "\\PC{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(("\\PC{0,8}", inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn reversed_keys(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .rev()
                .map(|(k, v)| (k.clone(), reversed_keys(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(reversed_keys).collect()),
        other => other.clone(),
    }
}

proptest! {
    #[test]
    fn canonical_json_is_order_independent_and_round_trips(v in arb_json()) {
        let bytes = canonical_json(&v);
        prop_assert_eq!(&bytes, &canonical_json(&reversed_keys(&v)));
        let back: Value = serde_json::from_slice(&bytes).unwrap();
        prop_assert_eq!(&back, &v);
        prop_assert_eq!(canonical_json(&back), bytes);
    }

    #[test]
    fn any_change_to_a_vault_value_breaks_its_commitment(v in arb_json(), salt: [u8; 16], pos: usize, bit in 0u8..8) {
        let bytes = canonical_json(&v);
        let c = commitment(&salt, &bytes);
        let mut flipped = bytes.clone();
        let i = pos % flipped.len();
        flipped[i] ^= 1 << bit;
        prop_assert_ne!(commitment(&salt, &flipped), c);
        let mut other_salt = salt;
        other_salt[pos % 16] ^= 1 << bit;
        prop_assert_ne!(commitment(&other_salt, &bytes), c);
    }
}

/// An entry built from generated text (escapes, quotes, control characters, any script) and
/// free-form JSON of any shape, with every optional field present or not.
fn arb_entry() -> impl Strategy<Value = Entry> {
    let text = "\\PC{0,10}|[\"\\\\\\u{0}-\\u{1f}é🚀]{0,6}";
    let opt = move || proptest::option::of(text);
    (
        (text, text, opt(), text, any::<bool>()),
        proptest::collection::vec((text, opt(), opt()), 0..3),
        (opt(), opt(), opt(), opt(), opt()),
        (
            opt(),
            opt(),
            opt(),
            proptest::option::of((
                opt(),
                opt(),
                proptest::option::of(arb_json()),
                proptest::option::of(arb_json()),
            )),
        ),
        arb_json(),
        proptest::option::of((
            proptest::option::of(arb_json()),
            proptest::option::of(arb_json()),
        )),
        (proptest::collection::vec(text, 0..2), opt()),
    )
        .prop_map(
            |(
                (channel, action, category, description, system),
                targets,
                (actor_id, name, email, via, _),
                (ip, agent, location, request),
                props,
                changes,
                (redacted, key),
            )| {
                let mut new = sample_new();
                new.channel = channel;
                new.action = action;
                new.category = category;
                new.description = description;
                new.targets = targets
                    .into_iter()
                    .map(|(kind, id, name)| Target { kind, id, name })
                    .collect();
                new.actor = Actor {
                    kind: if system {
                        ActorType::System
                    } else {
                        ActorType::User
                    },
                    id: actor_id,
                    name,
                    email,
                    via,
                };
                new.context = Context {
                    ip,
                    user_agent: agent,
                    location,
                    request: request.map(|(method, path, body, response)| RequestInfo {
                        method,
                        path,
                        body,
                        response,
                    }),
                };
                new.properties = match props {
                    Value::Object(map) => map,
                    other => [("value".to_string(), other)].into_iter().collect(),
                };
                new.changes = changes.map(|(before, after)| Changes { before, after });
                new.redacted = redacted;
                new.idempotency_key = key;
                let id = Uuid::parse_str("0193a0b0-0000-7000-8000-000000000001").unwrap();
                Entry::from_new(
                    new,
                    id,
                    7,
                    Timestamp::parse_rfc3339("2026-11-23T09:00:01.250Z").unwrap(),
                )
            },
        )
}

/// The JSON an entry's view writes.
fn json_of(view: &EntryView<'_>) -> String {
    serde_json::to_string(view).unwrap()
}

proptest! {
    /// What is read straight from the stored bytes writes the same JSON as the opened entry,
    /// and so does the view of the opened entry: an export or a page cannot depend on which
    /// way an entry was read.
    #[test]
    fn the_view_of_stored_bytes_writes_the_opened_entry(entry in arb_entry(), empty_props: bool) {
        let mut entry = entry;
        if empty_props {
            entry.properties.clear();
        }
        let sealed = seal(&entry, "log", SALTS);
        let slots: Vec<Slot> = sealed.vault.iter().cloned().map(Slot::Committed).collect();
        let mut opened = open(&sealed.envelope, &slots).unwrap();
        opened.idempotency_key = entry.idempotency_key.clone();
        let expected = serde_json::to_string(&opened).unwrap();
        let from_bytes = view(&sealed.envelope, &slots, entry.idempotency_key.as_deref()).unwrap();
        prop_assert_eq!(&json_of(&from_bytes), &expected);
        prop_assert_eq!(&json_of(&EntryView::of(&opened).unwrap()), &expected);
        prop_assert_eq!(
            from_bytes.properties_text(),
            if opened.properties.is_empty() { String::new() } else { serde_json::to_string(&opened.properties).unwrap() }
        );
        let changes = from_bytes.changes.as_ref().map(|c| c.parse().unwrap());
        prop_assert_eq!(changes, opened.changes);
    }
}

#[test]
fn the_view_of_an_entry_without_vault_values_is_its_opened_view() {
    let sealed = seal(&sample(), "log", SALTS);
    let opened = open(&sealed.envelope, &[]).unwrap();
    assert_eq!(
        json_of(&view(&sealed.envelope, &[], None).unwrap()),
        serde_json::to_string(&opened).unwrap()
    );
}
