//! Retraced publishing: the client's own hash vectors, the field map, every rule Retraced
//! refuses with, all-or-nothing bulk requests, and property tests of the canonical string.

use super::*;
use crate::entry::{ActorType, Outcome};
use proptest::prelude::*;
use serde_json::json;

const NOW: Timestamp = Timestamp(1_795_000_000_000);

fn one(event: &Value) -> Result<Publication, Refusal> {
    let bytes = serde_json::to_vec(event).unwrap();
    parse_publish(&bytes, &Limits::default(), NOW, false).map(|mut p| p.remove(0))
}

/// Hashing needs Retraced's own checks to pass, so the vectors without `crud` get one (the
/// client does not hash `crud`).
fn publishable(event: &str) -> Value {
    let mut value: Value = serde_json::from_str(event).unwrap();
    value
        .as_object_mut()
        .unwrap()
        .entry("crud")
        .or_insert(json!("c"));
    value
}

/// The vectors computed with the real `computeHash` of `@retracedhq/retraced` 0.7.23
/// (COMPAT-SPEC A.1.5).
#[test]
fn the_hash_matches_the_clients_vectors() {
    let vectors = [
        (
            r#"{"action":"user.login","actor":{"id":"u1"}}"#,
            "evt1",
            "evt1:user.login::u1:::0:0::",
            "c3146beb5e18dc74c2319360dce6c76d2249b7fb7525a1fe4ca73c54355b388a",
        ),
        (
            r#"{"action":"a","actor":{"id":"u"},"fields":{}}"#,
            "evt2",
            "evt2:a::u:::0:0:",
            "5902f0b9a59564468b70044f9453ad89e42b78e5a61e76247b0f960b590ac560",
        ),
        (
            r#"{"action":"a","actor":{"id":"u"},"fields":null}"#,
            "evt3",
            "evt3:a::u:::0:0::",
            "dd8052271ae439cfd656cc4b92c684f1f0b20d97076c7582678854fe0af67b47",
        ),
        (
            r#"{"action":"doc:read","actor":{"id":"50%:x"},"target":{"id":"t:1"},"group":{"id":"g%"},"source_ip":"::1","fields":{"k=1;":"v:=;%"}}"#,
            "id:4",
            "id%3A4:doc%3Aread:t%3A1:50%25%3Ax:g%25:%3A%3A1:0:0:k%3D1%3B=v%3A%3D%3B%25;",
            "8b3ab318da6a60aae873eefcc7860ae5682836f3029b2c18cc25272bfb29dae2",
        ),
        (
            r#"{"action":"login.failed","is_failure":true,"is_anonymous":true,"source_ip":"203.0.113.9"}"#,
            "evt5",
            "evt5:login.failed::::203.0.113.9:1:1::",
            "d5dda48e7fb2aef27a1148f4898435d34c50e60616374232dd1626af4a280db3",
        ),
        (
            r#"{"action":"a","actor":{"id":"u"},"external_id":"ext:9","metadata":{}}"#,
            "evt6",
            "evt6:a::u:::0:0:::ext%3A9:",
            "517c240dc25378058be7ce0a54029f976f76e871440f8cc758f89c4b9492569a",
        ),
        (
            r#"{"action":"a","actor":{"id":"u"},"metadata":{"b":"2","a":"1"}}"#,
            "evt7",
            "evt7:a::u:::0:0:::a=1;b=2;",
            "001e713aa5d71322c483151afd02a539062d9aedc862e536237400992f5e377a",
        ),
        (
            r#"{"action":"a","actor":{"id":"u"},"fields":{"～":"b","😀":"a","Z":"z","a":"y"}}"#,
            "evt8",
            "evt8:a::u:::0:0:Z=z;a=y;😀=a;～=b;",
            "e99d55f6f2d2850bd1dfe8069aa883e6fb6ff04f9c2097f0a42f7efd00737038",
        ),
        (
            r#"{"action":"a","actor":{"id":"u"},"source_ip":"","fields":{"k":""},"external_id":""}"#,
            "evt9",
            "evt9:a::u:::0:0:k=;",
            "1c7dca2bf73549c645acf058ef444e162e1ec9577aaf7332867cab298885860b",
        ),
        (
            r#"{"action":"some.record.created","crud":"c","group":{"id":"12345","name":"My Rad Customer"},"actor":{"id":"ultra.employee@customertowne.xyz","name":"Ultra"},"target":{"id":"rec_1","name":"R","type":"record"},"source_ip":"192.0.2.1","description":"d","fields":{"site":"Berlin"}}"#,
            "01a23ad9-7148-7731-9676-2f81c16db2dd",
            "01a23ad9-7148-7731-9676-2f81c16db2dd:some.record.created:rec_1:ultra.employee@customertowne.xyz:12345:192.0.2.1:0:0:site=Berlin;",
            "1d3ca94d8e1a18a4876ba736eb19b03195871d7a39cd821723c0f465ebe16af1",
        ),
    ];
    for (event, id, canonical, hash) in vectors {
        let fields_of = publishable(event);
        let map = fields_of.as_object().unwrap();
        let fields = RetracedFields::read(map).unwrap_or_else(|v| panic!("{event}: {v:?}"));
        let text = super::canonical(id, &fields.canonical_tail());
        assert_eq!(text, canonical, "{event}");
        assert_eq!(
            hex::encode(Sha256::digest(text.as_bytes())),
            hash,
            "{event}"
        );
    }
}

#[test]
fn every_retraced_field_lands_in_the_entry() {
    let p = one(&json!({
        "action": "document.updated",
        "crud": "u",
        "group": {"id": "org-7", "name": "Acme"},
        "displayTitle": "Updated",
        "created": "2026-11-10T10:00:00.000Z",
        "actor": {"id": "ada@example.com", "name": "Ada", "href": "https://app/u/1", "fields": {"dept": "ops"}},
        "target": {"id": "doc_1", "name": "Plan", "href": "https://app/d/1", "type": "document", "fields": {"size": "3"}},
        "source_ip": "203.0.113.7",
        "description": "Ada updated Plan",
        "is_failure": true,
        "is_anonymous": false,
        "fields": {"site": "Berlin"},
        "component": "billing",
        "version": "1.2",
        "external_id": "ext-1",
        "metadata": {"trace": "t-1"}
    }))
    .unwrap();
    let e = &p.entry;
    assert_eq!(e.action, "document.updated");
    assert_eq!(e.event, "updated");
    assert_eq!(e.description, "Ada updated Plan");
    assert_eq!(e.result, Outcome::Failure);
    assert_eq!(e.actor.kind, ActorType::User);
    assert_eq!(e.actor.id.as_deref(), Some("ada@example.com"));
    assert_eq!(e.actor.email.as_deref(), Some("ada@example.com"));
    assert_eq!(e.actor.name.as_deref(), Some("Ada"));
    assert_eq!(e.actor.via.as_deref(), Some("billing"));
    assert_eq!(e.targets.len(), 1);
    assert_eq!(
        (
            e.targets[0].kind.as_str(),
            e.targets[0].id.as_deref(),
            e.targets[0].name.as_deref()
        ),
        ("document", Some("doc_1"), Some("Plan"))
    );
    assert_eq!(e.context.ip.as_deref(), Some("203.0.113.7"));
    assert_eq!(
        e.occurred_at,
        Some(Timestamp::parse_rfc3339("2026-11-10T10:00:00Z").unwrap())
    );
    assert_eq!(e.properties.get("site"), Some(&json!("Berlin")));
    assert_eq!(e.properties.get(GROUP_PROPERTY), Some(&json!("org-7")));
    assert_eq!(
        e.properties.get(PROPERTY),
        Some(&json!({
            "group": {"id": "org-7", "name": "Acme"},
            "actor": {"href": "https://app/u/1", "fields": {"dept": "ops"}},
            "target": {"href": "https://app/d/1", "fields": {"size": "3"}},
            "metadata": {"trace": "t-1"},
            "external_id": "ext-1",
            "component": "billing",
            "version": "1.2",
            "display_title": "Updated"
        }))
    );
}

#[test]
fn an_anonymous_event_gets_a_stand_in_actor_and_a_typeless_target_is_an_object() {
    let p = one(&json!({
        "action": "login.failed", "crud": "r", "is_anonymous": true,
        "target": {"id": "t1"}
    }))
    .unwrap();
    assert_eq!(p.entry.actor.id.as_deref(), Some("anonymous"));
    assert_eq!(p.entry.targets[0].kind, "object");
    assert_eq!(p.entry.result, Outcome::Success);
    assert_eq!(
        p.entry.properties.get(PROPERTY),
        Some(&json!({"is_anonymous": true}))
    );
}

fn violations(event: Value) -> Vec<(String, String)> {
    let refusal = one(&event).unwrap_err();
    assert_eq!(refusal.invalid.len(), 1, "{refusal:?}");
    refusal.invalid[0]
        .violations
        .iter()
        .map(|v| (v.field.clone(), v.violation.clone()))
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn retraceds_rules_are_reported_all_at_once() {
    assert_eq!(
        violations(json!({"group": {"name": "x"}})),
        pairs(&[
            ("action", "missing"),
            ("crud", "missing"),
            ("group.id", "missing"),
            ("actor", "missing"),
        ])
    );
    assert_eq!(
        violations(json!({"action": "a", "crud": "x", "actor": {"id": 5, "role": "r"}})),
        pairs(&[
            ("crud", "invalid"),
            ("actor.role", "unknown"),
            ("actor.id", "invalid")
        ])
    );
    assert_eq!(
        violations(json!({"action": "a", "crud": "c", "actor": {"id": "u"},
            "fields": {"n": 1}, "metadata": {"m": true}, "is_failure": "yes", "extra": 1})),
        pairs(&[
            ("extra", "unknown"),
            ("is_failure", "invalid"),
            ("fields.n", "invalid"),
            ("metadata.m", "invalid"),
        ])
    );
    assert_eq!(
        violations(
            json!({"action": "a", "crud": "c", "actor": {"id": "u"}, "fields": {"retraced": "x"}})
        ),
        pairs(&[("fields.retraced", "reserved")])
    );
    assert_eq!(
        violations(
            json!({"action": "a", "crud": "c", "actor": {"id": "u"}, "fields": {"retraced_group": "x"}})
        ),
        pairs(&[("fields.retraced_group", "reserved")])
    );
}

#[test]
fn sealtraits_own_rules_name_the_retraced_field() {
    let cases = [
        (
            json!({"action": "user login", "crud": "c", "actor": {"id": "u"}}),
            "action",
        ),
        (
            json!({"action": "a", "crud": "c", "actor": {"id": "u"}, "source_ip": "10.0.0.999"}),
            "source_ip",
        ),
        (
            json!({"action": "a", "crud": "c", "actor": {"id": "u"}, "created": "yesterday"}),
            "created",
        ),
        (
            json!({"action": "a", "crud": "c", "actor": {"id": "u"}, "created": "2099-01-01T00:00:00Z"}),
            "created",
        ),
        (
            json!({"action": "a", "crud": "c", "actor": {"id": "u", "name": "n".repeat(300)}}),
            "actor.name",
        ),
        (
            json!({"action": "a", "crud": "c", "actor": {"id": "u"}, "target": {"id": "t", "type": "t".repeat(300)}}),
            "target.type",
        ),
    ];
    for (event, field) in cases {
        let found = violations(event.clone());
        assert_eq!(found.len(), 1, "{event}");
        assert_eq!(found[0].0, field, "{event}");
    }
}

#[test]
fn a_bulk_request_is_all_or_nothing_and_bounded() {
    let limits = Limits::default();
    let good = json!({"action": "a", "crud": "c", "actor": {"id": "u"}});
    let bad = json!({"action": "a", "actor": {"id": "u"}});
    let body = serde_json::to_vec(&json!({"events": [good, bad, good]})).unwrap();
    let refusal = parse_publish(&body, &limits, NOW, true).unwrap_err();
    assert!(refusal
        .message
        .starts_with("One or more invalid inputs, no events were logged"));
    assert_eq!(refusal.invalid.len(), 1);
    assert_eq!(refusal.invalid[0].index, 1);

    let body = serde_json::to_vec(&json!({"events": [good, good]})).unwrap();
    assert_eq!(parse_publish(&body, &limits, NOW, true).unwrap().len(), 2);

    let many: Vec<Value> = (0..=limits.max_batch).map(|_| good.clone()).collect();
    let body = serde_json::to_vec(&json!({ "events": many })).unwrap();
    let refusal = parse_publish(&body, &limits, NOW, true).unwrap_err();
    assert!(
        refusal.message.contains("A maximum of 1000 events"),
        "{refusal}"
    );

    for body in [
        &b"{\"events\": []}"[..],
        b"[]",
        b"{\"events\": {}}",
        b"{\"a\":1,\"a\":2}",
    ] {
        let refusal = parse_publish(body, &limits, NOW, true).unwrap_err();
        assert!(refusal.invalid.is_empty(), "{refusal:?}");
    }
}

#[test]
fn secrets_are_redacted_from_the_entry_but_hashed_as_received() {
    let event = json!({"action": "a", "crud": "c", "actor": {"id": "u"},
        "metadata": {"password": "hunter2"}});
    let p = one(&event).unwrap();
    let stored = serde_json::to_string(&p.entry.properties).unwrap();
    assert!(!stored.contains("hunter2"), "{stored}");
    assert!(canonical("x", &p.hash.tail).ends_with(":password=hunter2;"));
}

/// Strings drawn from the characters that matter to the canonical string: its separators,
/// the escape character, and characters on both sides of the UTF-16 / UTF-8 order split.
fn tricky() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just(':'),
            Just('%'),
            Just('='),
            Just(';'),
            Just('a'),
            Just('Z'),
            Just('\u{ff5e}'),
            Just('\u{1f600}'),
            Just('é')
        ],
        0..6,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

proptest! {
    /// Whatever the values hold, the only unescaped `:` are the string's own separators
    /// (seven, one more without `fields`, one more each for an external id and `metadata`),
    /// so no two different events can share a canonical string by moving a separator.
    #[test]
    fn values_never_forge_a_separator(
        action in tricky(), actor in tricky(), ip in tricky(),
        fields in proptest::option::of(proptest::collection::btree_map(tricky(), tricky(), 0..4)),
        external in tricky(),
        metadata in proptest::option::of(proptest::collection::btree_map(tricky(), tricky(), 0..4)),
    ) {
        let mut event = json!({"action": action, "crud": "c", "actor": {"id": actor},
            "source_ip": ip, "external_id": external});
        if let Some(f) = &fields { event["fields"] = json!(f); }
        if let Some(m) = &metadata { event["metadata"] = json!(m); }
        let map = event.as_object().unwrap();
        // Type-correct input always reads; ids that are empty only add violations.
        if let Ok(read) = RetracedFields::read(map) {
            let tail = read.canonical_tail();
            let expected = 7 + usize::from(fields.is_none()) + usize::from(!external.is_empty())
                + usize::from(metadata.is_some());
            prop_assert_eq!(tail.matches(':').count(), expected);
            let pairs: usize = [&fields, &metadata].into_iter().flatten().map(|p| p.len()).sum();
            // Ids may hold `=` (only pairs escape it); past the flags, each pair has one and
            // the external id keeps its own.
            let after_flags: String = tail.split(':').skip(7).collect();
            prop_assert_eq!(after_flags.matches('=').count(), pairs + external.matches('=').count());
        }
    }

    /// Any JSON body is answered with entries or a refusal, never a panic, and an accepted
    /// event's entry passed Sealtrail's own validation.
    #[test]
    fn any_body_is_parsed_or_refused(
        body in proptest::collection::vec(any::<u8>(), 0..64),
        action in "[a-z.]{0,12}", crud in "[cruxd]{0,2}", id in tricky(),
    ) {
        let _ = parse_publish(&body, &Limits::default(), NOW, false);
        let _ = parse_publish(&body, &Limits::default(), NOW, true);
        let event = json!({"action": action, "crud": crud, "actor": {"id": id}});
        if let Ok(p) = one(&event) {
            prop_assert_eq!(&p.entry.action, &action);
            prop_assert!(matches!(crud.as_str(), "c" | "r" | "u" | "d"));
        }
    }
}
