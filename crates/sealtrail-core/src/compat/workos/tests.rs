//! WorkOS events: the field map, WorkOS's own rules with the path of the value at fault, and
//! Sealtrail's rules reported at the WorkOS path they came from.

use super::*;
use crate::entry::{ActorType, Outcome};
use proptest::prelude::*;

const NOW: Timestamp = Timestamp(1_795_000_000_000);

fn parse(body: &Value) -> Result<WorkosEvent, Invalid> {
    parse_event(&serde_json::to_vec(body).unwrap(), &Limits::default(), NOW)
}

fn event() -> Value {
    json!({
        "organization_id": "acme",
        "event": {
            "action": "user.signed_in",
            "version": 2,
            "occurred_at": "2026-11-10T10:00:00.000Z",
            "actor": {"id": "u_17", "type": "user", "name": "Ada", "metadata": {"role": "admin"}},
            "targets": [
                {"id": "doc_1", "type": "document", "name": "Plan", "metadata": {"size": 3}},
                {"id": "team_2", "type": "team"}
            ],
            "context": {"location": "203.0.113.7", "user_agent": "Chrome/104"},
            "metadata": {"site": "Berlin", "count": 2, "ok": true}
        }
    })
}

#[test]
fn every_workos_field_lands_in_the_entry() {
    let parsed = parse(&event()).unwrap();
    assert_eq!(parsed.organization_id, "acme");
    assert_eq!(parsed.version, Some(2));
    let e = parsed.entry;
    assert_eq!(e.action, "user.signed_in");
    assert_eq!(
        e.occurred_at,
        Some(Timestamp::parse_rfc3339("2026-11-10T10:00:00Z").unwrap())
    );
    assert_eq!(
        (e.actor.kind, e.actor.id.as_deref(), e.actor.name.as_deref()),
        (ActorType::User, Some("u_17"), Some("Ada"))
    );
    assert_eq!(e.targets.len(), 2);
    assert_eq!(
        (
            e.targets[0].kind.as_str(),
            e.targets[0].id.as_deref(),
            e.targets[0].name.as_deref()
        ),
        ("document", Some("doc_1"), Some("Plan"))
    );
    assert_eq!(e.context.ip.as_deref(), Some("203.0.113.7"));
    assert_eq!(e.context.user_agent.as_deref(), Some("Chrome/104"));
    assert_eq!(e.result, Outcome::Success);
    assert_eq!(e.properties["site"], "Berlin");
    assert_eq!(e.properties["count"], 2);
    assert_eq!(
        e.properties[PROPERTY],
        json!({"version": 2, "actor_metadata": {"role": "admin"}, "targets": [{"metadata": {"size": 3}}, {}]})
    );
}

#[test]
fn actor_types_and_locations_map_as_documented() {
    let mut body = event();
    body["event"]["actor"]["type"] = json!("service_account");
    body["event"]["context"]["location"] = json!("Berlin, DE");
    let e = parse(&body).unwrap().entry;
    assert_eq!(e.actor.kind, ActorType::User);
    assert_eq!(e.properties[PROPERTY]["actor_type"], "service_account");
    assert_eq!(e.context.location.as_deref(), Some("Berlin, DE"));
    assert_eq!(e.context.ip, None);
    for (given, kind) in [("api_key", ActorType::Api), ("system", ActorType::System)] {
        body["event"]["actor"]["type"] = json!(given);
        assert_eq!(parse(&body).unwrap().entry.actor.kind, kind);
    }
}

type Mutation = fn(&mut Value);

#[test]
fn each_refusal_names_the_value_at_fault() {
    let cases: Vec<(Mutation, &str)> = vec![
        (
            |b| {
                b["event"].as_object_mut().unwrap().remove("action");
            },
            "/event/action",
        ),
        (
            |b| {
                b["event"].as_object_mut().unwrap().remove("occurred_at");
            },
            "/event/occurred_at",
        ),
        (
            |b| b["event"]["actor"] = json!({"id": "u"}),
            "/event/actor/type",
        ),
        (
            |b| b["event"]["targets"] = json!([{"id": "t"}]),
            "/event/targets/0/type",
        ),
        (|b| b["event"]["targets"] = json!({}), "/event/targets"),
        (
            |b| b["event"]["context"] = json!({}),
            "/event/context/location",
        ),
        (|b| b["event"]["extra"] = json!(1), "/event/extra"),
        (
            |b| b["event"]["metadata"] = json!({"bad key": 1}),
            "/event/metadata/bad key",
        ),
        (
            |b| b["event"]["metadata"] = json!({"k": [1]}),
            "/event/metadata/k",
        ),
        (
            |b| b["event"]["metadata"] = json!({"k": "x".repeat(501)}),
            "/event/metadata/k",
        ),
        (
            |b| b["event"]["metadata"] = json!({"workos": "x"}),
            "/event/metadata/workos",
        ),
        (
            |b| b["event"]["targets"][1]["metadata"] = json!({"k": {}}),
            "/event/targets/1/metadata/k",
        ),
        (|b| b["event"]["version"] = json!("2"), "/event/version"),
        (|b| b["event"]["version"] = json!(0), "/event/version"),
        (
            |b| {
                b.as_object_mut().unwrap().remove("organization_id");
            },
            "/organization_id",
        ),
        // Sealtrail's own rules, at the WorkOS path.
        (
            |b| b["event"]["action"] = json!("user signed in"),
            "/event/action",
        ),
        (
            |b| b["event"]["occurred_at"] = json!("2099-01-01T00:00:00Z"),
            "/event/occurred_at",
        ),
        (
            |b| b["event"]["context"]["user_agent"] = json!("x".repeat(2000)),
            "/event/context/user_agent",
        ),
        (
            |b| b["event"]["targets"][0]["name"] = json!("n".repeat(300)),
            "/event/targets/0/name",
        ),
    ];
    for (mutate, path) in cases {
        let mut body = event();
        mutate(&mut body);
        let refusal = parse(&body).unwrap_err();
        assert_eq!(refusal.instance_path, path, "{body}");
    }
    let many: Map<String, Value> = (0..51).map(|i| (format!("k{i}"), json!(i))).collect();
    let mut body = event();
    body["event"]["metadata"] = Value::Object(many);
    assert_eq!(parse(&body).unwrap_err().instance_path, "/event/metadata");
}

/// A metadata key carrying a card number keeps its value; the number in the key is redacted
/// (and the redaction recorded) like a card number in any other text, since the key is
/// stored and exported as it is.
#[test]
fn a_card_number_in_a_metadata_key_is_redacted() {
    let mut body = event();
    body["event"]["metadata"] = json!({ "meta-330-80327-58322_": "", "plain": "" });
    let e = parse(&body).unwrap().entry;
    assert_eq!(e.properties.get("meta-[REDACTED]_"), Some(&json!("")));
    assert_eq!(e.properties.get("plain"), Some(&json!("")));
    assert!(!e.properties.contains_key("meta-330-80327-58322_"));
    assert!(!e.redacted.is_empty(), "{:?}", e.redacted);
}

proptest! {
    /// Any body is an event or a refusal naming a path, never a panic.
    #[test]
    fn any_body_is_parsed_or_refused(body in proptest::collection::vec(any::<u8>(), 0..96)) {
        if let Err(e) = parse_event(&body, &Limits::default(), NOW) {
            prop_assert!(e.instance_path.is_empty() || e.instance_path.starts_with('/'));
        }
    }

    /// Metadata WorkOS allows is stored as sent (keys that name no secret: redaction would
    /// rightly replace a `pw` value), keys redacted like any text.
    #[test]
    fn allowed_metadata_is_kept(
        metadata in proptest::collection::btree_map("meta[0-9_-]{1,36}", prop_oneof![
            "[a-z ]{0,20}".prop_map(Value::from),
            any::<i32>().prop_map(Value::from),
            any::<bool>().prop_map(Value::from),
        ], 0..8)
    ) {
        prop_assume!(!metadata.contains_key(PROPERTY));
        let mut body = event();
        body["event"]["metadata"] = json!(metadata);
        let e = parse(&body).unwrap().entry;
        for (k, v) in &metadata {
            // A key holding what reads as a card number (`meta-330-80327-58322_` is
            // Luhn-valid) is stored with that part redacted, like any text.
            let stored = crate::redact::redact_text(k).unwrap_or_else(|| k.clone());
            prop_assert_eq!(e.properties.get(&stored), Some(v));
        }
    }
}
